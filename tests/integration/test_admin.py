"""`wosd admin user|key|policy …` end to end (issue 4, Administration): against a running server
through the admin API, and offline on a stopped server's data directory (--data DIR)."""
import json
import os
import random
import re
import string
import subprocess

import boto3
import pytest
from botocore.config import Config

from conftest import WOSD_BIN
from helpers import expect_client_error


def _rnd(n=6):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


class AdminCLI:
    """Runs `wosd admin ARGS` against one server (online) or one data directory (offline)."""

    def __init__(self, server=None, data=None, access_key=None, secret_key=None, env=None):
        self.server = server
        self.data = data
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WOSD_")}
        if server is not None:
            self.env["WOSD_ROOT_ACCESS_KEY"] = access_key or server.access_key
            self.env["WOSD_ROOT_SECRET_KEY"] = secret_key or server.secret_key
        self.env.update(env or {})

    def __call__(self, *args, check=0, input=None):
        cmd = [WOSD_BIN, "admin"] + [str(a) for a in args]
        if self.data is not None:
            cmd += ["--data", self.data]
        elif self.server is not None:
            cmd += ["--endpoint", self.server.endpoint]
        p = subprocess.run(cmd, env=self.env, capture_output=True, timeout=60, input=input)
        p.out = p.stdout.decode("utf-8", "replace")
        p.err = p.stderr.decode("utf-8", "replace")
        if check is not None:
            assert p.returncode == check, "exit %d (expected %d): %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
                p.returncode, check, " ".join(cmd), p.out, p.err)
        return p

    def json(self, *args):
        return json.loads(self(*args, "--json").out)


def boto_for(server, ak, sk):
    cfg = Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                 retries={"total_max_attempts": 1, "mode": "standard"}, region_name=server.region)
    return boto3.session.Session().client("s3", endpoint_url=server.endpoint, aws_access_key_id=ak,
                                          aws_secret_access_key=sk, region_name=server.region, config=cfg)


def _created_key(out):
    ak = re.search(r"^access key: (\S+)$", out, re.M).group(1)
    sk = re.search(r"^secret key: (\S+)$", out, re.M).group(1)
    return ak, sk


@pytest.fixture
def cli(server):
    return AdminCLI(server)


def test_cli_end_to_end(server, cli, bucket, tmp_path):
    user = "cli-" + _rnd()
    pol = "cli-pol-" + _rnd()
    p = cli("user", "add", user)
    assert "created user %s" % user in p.out
    assert user in cli("user", "list").out
    p = cli("key", "create", user)
    ak, sk = _created_key(p.out)
    assert re.fullmatch(r"[A-Z0-9]{20}", ak) and re.fullmatch(r"[A-Za-z0-9+/]{40}", sk)
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:GetObject"], "Resource": "arn:aws:s3:::%s/cli/*" % bucket},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::%s" % bucket}]}
    f = tmp_path / "policy.json"
    f.write_text(json.dumps(doc))
    assert "created policy %s (2 statements)" % pol in cli("policy", "put", pol, f).out
    assert pol in cli("policy", "list").out and "WSCloudWOSFullAccess" in cli("policy", "list").out
    assert json.loads(cli("policy", "get", pol).out) == doc
    assert "attached policy %s to user %s" % (pol, user) in cli("policy", "attach", pol, user).out
    info = cli("user", "info", user).out
    assert pol in info and ak in info and "enabled" in info
    assert sk not in info

    # the key works, within its policy
    s3 = boto_for(server, ak, sk)
    s3.put_object(Bucket=bucket, Key="cli/one", Body=b"1")
    assert s3.get_object(Bucket=bucket, Key="cli/one")["Body"].read() == b"1"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["cli/one"]
    expect_client_error(403, "AccessDenied", s3.put_object, Bucket=bucket, Key="elsewhere", Body=b"x")
    expect_client_error(403, "AccessDenied", s3.delete_object, Bucket=bucket, Key="cli/one")

    # disable and enable: the user, then the key
    assert "user %s disabled" % user in cli("user", "disable", user).out
    expect_client_error(403, "InvalidAccessKeyId", s3.get_object, Bucket=bucket, Key="cli/one")
    assert "disabled" in cli("user", "info", user).out
    cli("user", "enable", user)
    assert s3.get_object(Bucket=bucket, Key="cli/one")["Body"].read() == b"1"
    cli("key", "disable", ak)
    expect_client_error(403, "InvalidAccessKeyId", s3.get_object, Bucket=bucket, Key="cli/one")
    keys = cli.json("key", "list", user)["keys"]
    assert [(k["access_key"], k["disabled"]) for k in keys] == [(ak, True)]
    cli("key", "enable", ak)
    assert s3.get_object(Bucket=bucket, Key="cli/one")["Body"].read() == b"1"

    # a policy attached cannot be removed; detached it can, and the access goes with it
    p = cli("policy", "rm", pol, check=1)
    assert "DeleteConflict" in p.err
    cli("policy", "detach", pol, user)
    expect_client_error(403, "AccessDenied", s3.get_object, Bucket=bucket, Key="cli/one")
    assert "removed policy" in cli("policy", "rm", pol).out
    assert "NoSuchEntity" in cli("policy", "get", pol, check=1).err

    # a built-in
    cli("policy", "attach", "WSCloudWOSReadOnlyAccess", user)
    assert s3.get_object(Bucket=bucket, Key="cli/one")["Body"].read() == b"1"
    assert "wos:Get*" in cli("policy", "get", "WSCloudWOSReadOnlyAccess").out

    # keys and users go away
    p2 = cli("key", "create", user)
    ak2, _ = _created_key(p2.out)
    assert "removed access key %s" % ak in cli("key", "rm", ak).out
    expect_client_error(403, "InvalidAccessKeyId", s3.get_object, Bucket=bucket, Key="cli/one")
    assert [k["access_key"] for k in cli.json("key", "list", "--user", user)["keys"]] == [ak2]
    assert "removed user %s" % user in cli("user", "rm", user).out
    assert user not in cli("user", "list").out
    assert ak2 not in cli("key", "list").out
    assert "NoSuchEntity" in cli("user", "info", user, check=1).err


def test_cli_json_output(cli):
    user = "json-" + _rnd()
    created = cli.json("user", "add", user)["user"]
    assert created["name"] == user and re.fullmatch(r"[0-9a-f]{32}", created["id"]) and created["disabled"] is False
    key = cli.json("key", "create", user)["key"]
    assert key["user"] == user and key["secret_key"]
    users = cli.json("user", "list")["users"]
    assert any(u["name"] == user for u in users)
    info = cli.json("user", "info", user)
    assert info["user"]["id"] == created["id"] and [k["access_key"] for k in info["keys"]] == [key["access_key"]]
    assert "secret_key" not in info["keys"][0]
    pols = cli.json("policy", "list")["policies"]
    assert {"name": "WSCloudWOSReadOnlyAccess", "builtin": True} in pols
    assert cli.json("user", "disable", user)["user"]["disabled"] is True
    assert cli.json("key", "disable", key["access_key"])["key"]["disabled"] is True
    cli("user", "rm", user)


def test_cli_policy_from_stdin_and_wos_language(cli):
    name = "stdin-" + _rnd()
    doc = {"version": "1", "statement": [{"effect": "allow", "action": ["wos:Get*"], "resource": ["wsc:wos:*:*:*"]}]}
    p = cli("policy", "put", name, "-", input=json.dumps(doc).encode())
    assert "created policy %s (1 statement)" % name in p.out
    p = cli("policy", "put", name, "-", input=json.dumps(doc).encode())
    assert "replaced policy" in p.out
    assert json.loads(cli("policy", "get", name).out) == doc
    cli("policy", "rm", name)


def test_cli_errors(server, cli, tmp_path):
    p = cli("user", "info", "nobody-" + _rnd(), check=1)
    assert "NoSuchEntity" in p.err
    p = cli("user", "add", "root", check=1)
    assert "reserved" in p.err
    bad = tmp_path / "bad.json"
    bad.write_text('{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}')
    p = cli("policy", "put", "bad-" + _rnd(), bad, check=1)
    assert "MalformedPolicyDocument" in p.err and "Resource" in p.err
    p = cli("policy", "put", "x-" + _rnd(), tmp_path / "missing.json", check=1)
    assert "cannot read" in p.err
    # wrong credentials, a non-root user, no credentials
    p = AdminCLI(server, secret_key="not-the-secret")("user", "list", check=1)
    assert "SignatureDoesNotMatch" in p.err
    user = "plain-" + _rnd()
    cli("user", "add", user)
    cli("policy", "attach", "WSCloudWOSFullAccess", user)
    ak, sk = _created_key(cli("key", "create", user).out)
    p = AdminCLI(server, access_key=ak, secret_key=sk)("user", "list", check=1)
    assert "AccessDenied" in p.err
    nocreds = AdminCLI(server)
    del nocreds.env["WOSD_ROOT_ACCESS_KEY"]
    assert "no credentials" in nocreds("user", "list", check=1).err
    # no server there
    gone = AdminCLI(server)
    p = subprocess.run([WOSD_BIN, "admin", "user", "list", "--endpoint", "http://127.0.0.1:1"], env=gone.env,
                       capture_output=True, timeout=30)
    assert p.returncode == 1 and b"cannot connect" in p.stderr
    # usage errors
    assert cli("user", "frobnicate", "x", check=2).returncode == 2
    assert cli("user", "add", check=2).returncode == 2
    assert cli("policy", "attach", "only-one", check=2).returncode == 2
    assert "user add NAME" in cli("user", "--help", check=0).out


def test_cli_finds_the_region(server_factory):
    """A server of another region: the CLI learns the region from the first answer."""
    s = server_factory("region", region="cn-south-1")
    c = AdminCLI(s)
    user = "reg-" + _rnd()
    assert "created user" in c("user", "add", user).out
    assert "created user" in c("user", "add", user + "x", "--region", "cn-south-1").out


def test_offline_on_a_stopped_server(server_factory):
    s = server_factory("offline")
    online = AdminCLI(s)
    online("user", "add", "before")
    s.stop()
    off = AdminCLI(data=s.data_dir)
    assert "before" in off("user", "list").out
    assert "created user carol" in off("user", "add", "carol").out
    ak, sk = _created_key(off("key", "create", "carol").out)
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    p = off("policy", "put", "everything", "-", input=json.dumps(policy).encode())
    assert "created policy everything" in p.out
    off("policy", "attach", "everything", "carol")
    info = off.json("user", "info", "carol")
    assert info["policies"] == ["everything"] and info["keys"][0]["access_key"] == ak
    assert "NoSuchEntity" in off("user", "info", "nobody", check=1).err

    s.start()
    b = boto_for(s, ak, sk)
    b.create_bucket(Bucket="carols-bucket")
    b.put_object(Bucket="carols-bucket", Key="k", Body=b"offline works")
    assert b.get_object(Bucket="carols-bucket", Key="k")["Body"].read() == b"offline works"
    # while the server runs, the offline commands refuse to touch its data
    p = off("user", "list", check=1)
    assert "in use" in p.err
    # and changes made online show offline once it stops
    online("key", "disable", ak)
    s.stop()
    assert off.json("key", "list")["keys"][0]["disabled"] is True
    s.start()
    expect_client_error(403, "InvalidAccessKeyId", boto_for(s, ak, sk).list_buckets)


def test_offline_needs_a_data_directory(tmp_path):
    p = AdminCLI(data=str(tmp_path / "nothing"))("user", "list", check=1)
    assert "not a wosd data directory" in p.err
