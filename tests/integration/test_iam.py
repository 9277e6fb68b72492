"""Identity and permission on every request (issue 4): users and access keys from the admin API,
identity policies in both languages, bucket policies, canned ACLs, anonymous access, and the
per-operation extras (CopyObject's source, DeleteObjects per key, ListBuckets filtering).

The matrix at the top runs (user with a given policy) × (operation) × (resource) and expects
allow (the operation's own success status) or deny (403 AccessDenied with the request id)."""
import json
import random
import re
import string
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

import wos_client as wc
from helpers import assert_error, assert_ok, expect_client_error


def _rnd(n=6):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


# ------------------------------------------------------------------------------------ admin helpers


class Admin:
    """The admin API (/wos-admin/v1/…), signed with SigV4 by the root credential."""

    def __init__(self, server):
        self.server = server
        self.c = server.client("aws4")

    def call(self, method, path, body=None, query="", expect=None):
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
        headers = {"Content-Type": "application/json"} if data else None
        r = self.c.request(method, "/wos-admin/v1" + path, query, headers, data)
        if expect is not None:
            assert r.status == expect, (method, path, r.status, r.body)
        return r

    def js(self, method, path, body=None, expect=200):
        r = self.call(method, path, body, expect=expect)
        return json.loads(r.body) if r.body else None

    def policy(self, doc, name=None):
        name = name or "p-" + _rnd(8)
        self.js("PUT", "/policies/" + name, json.dumps(doc).encode(), expect=201)
        return name

    def user(self, *policies, name=None):
        """A new user with the given policies (built-in names or policy documents) and one key."""
        name = name or "u-" + _rnd(8)
        self.js("POST", "/users", {"name": name}, expect=201)
        for p in policies:
            pname = p if isinstance(p, str) else self.policy(p)
            self.js("PUT", "/users/%s/policies/%s" % (name, pname))
        key = self.js("POST", "/users/%s/keys" % name, expect=201)["key"]
        return User(self.server, name, key["access_key"], key["secret_key"])


class User:
    def __init__(self, server, name, ak, sk):
        self.server, self.name, self.ak, self.sk = server, name, ak, sk

    def raw(self, scheme="aws4"):
        s = self.server
        return wc.Client(s.host, s.port, self.ak, self.sk, s.region, scheme)

    def boto(self):
        s = self.server
        cfg = Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                     retries={"total_max_attempts": 1, "mode": "standard"}, region_name=s.region)
        return boto3.session.Session().client("s3", endpoint_url=s.endpoint, aws_access_key_id=self.ak,
                                              aws_secret_access_key=self.sk, region_name=s.region, config=cfg)


@pytest.fixture(scope="module")
def admin(server):
    return Admin(server)


def aws_policy(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(action, resource, **extra):
    return dict({"Effect": "Allow", "Action": action, "Resource": resource}, **extra)


def deny(action, resource, **extra):
    return dict({"Effect": "Deny", "Action": action, "Resource": resource}, **extra)


def assert_denied(r):
    """403 AccessDenied whose RequestId is the response's request id (HEAD: no body)."""
    assert_error(r, 403, "AccessDenied" if r.body else None)
    rid = r.header("x-amz-request-id")
    assert rid
    if r.body:
        assert wc.xtext(r.xml(), "RequestId") == rid, r.body


# ------------------------------------------------------------------------------------ the matrix

# Buckets and objects the matrix works on (created by root once per module).
A_KEYS = ["top.txt", "public/p.txt", "home/bob/b.txt"]


@pytest.fixture(scope="module")
def world(server, admin):
    root = server.boto()
    a, b = "iam-a-" + _rnd(), "iam-b-" + _rnd()
    root.create_bucket(Bucket=a)
    root.create_bucket(Bucket=b)
    users = {}
    # alice: AWS language, prefix-limited to home/${aws:username}/ (policy variables)
    users["alice"] = admin.user(aws_policy(
        allow("s3:ListAllMyBuckets", "*"),
        allow("s3:ListBucket", "arn:aws:s3:::" + a,
              Condition={"StringLike": {"s3:prefix": ["home/${aws:username}/*", "home/${aws:username}/"]}}),
        allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], "arn:aws:s3:::%s/home/${aws:username}/*" % a)),
        name="alice-" + _rnd())
    # wosreader: WOS language, reads bucket a only
    users["wosreader"] = admin.user({"version": "1", "statement": [
        {"effect": "allow", "action": ["wos:Get*", "wos:HeadObject"],
         "resource": ["wsc:wos:*:*:%s" % a, "wsc:wos:*:*:%s/*" % a]}]})
    # denier: full access, but explicit denies win
    users["denier"] = admin.user("WSCloudWOSFullAccess", aws_policy(
        deny("s3:DeleteObject", "arn:aws:s3:::%s/*" % a),
        deny("s3:GetObject", "arn:aws:s3:::%s/home/bob/*" % a)))
    users["readonly"] = admin.user("WSCloudWOSReadOnlyAccess")
    users["full"] = admin.user("WSCloudWOSFullAccess")
    users["nobody"] = admin.user()
    alice = users["alice"].name
    for k in A_KEYS + ["home/%s/a.txt" % alice]:
        root.put_object(Bucket=a, Key=k, Body=b"content of " + k.encode())
    root.put_object(Bucket=b, Key="o.txt", Body=b"other")
    return {"a": a, "b": b, "users": users, "root": root, "alice": alice}


def _op(world, user, op, bucket, key):
    """Performs op as user; returns the raw response. Objects a write or delete needs are made
    by root first."""
    c = world["users"][user].raw()
    bkt = world[bucket] if bucket in ("a", "b") else bucket
    if key and "{alice}" in key:
        key = key.replace("{alice}", world["alice"])
    if op == "list_buckets":
        return c.request("GET", "/")
    if op == "list":
        return c.get(bkt, query="prefix=" + wc.uri_encode(key) if key is not None else "")
    if op == "get":
        return c.get(bkt, key)
    if op == "head":
        return c.head(bkt, key)
    if op == "put":
        return c.put(bkt, key, b"written by " + user.encode())
    if op == "delete":
        world["root"].put_object(Bucket=bkt, Key=key, Body=b"to delete")
        return c.delete(bkt, key)
    if op == "get_acl":
        return c.get(bkt, key, query="acl")
    if op == "put_acl":
        return c.request("PUT", wc.key_path(bkt, key), "acl", {"x-amz-acl": "private"})
    if op == "create_bucket":
        return c.create_bucket("iam-new-" + _rnd())
    raise ValueError(op)


ALLOW, DENY = True, False
MATRIX = [
    # prefix-limited user (AWS policy, s3:prefix condition, ${aws:username})
    ("alice", "list", "a", "home/{alice}/", ALLOW),
    ("alice", "list", "a", "home/bob/", DENY),
    ("alice", "list", "a", None, DENY),
    ("alice", "list", "a", "", DENY),
    ("alice", "get", "a", "home/{alice}/a.txt", ALLOW),
    ("alice", "head", "a", "home/{alice}/a.txt", ALLOW),
    ("alice", "get", "a", "home/bob/b.txt", DENY),
    ("alice", "get", "a", "top.txt", DENY),
    ("alice", "put", "a", "home/{alice}/new.txt", ALLOW),
    ("alice", "put", "a", "home/bob/evil.txt", DENY),
    ("alice", "put", "a", "home/{alice}", DENY),
    ("alice", "delete", "a", "home/{alice}/gone.txt", ALLOW),
    ("alice", "delete", "a", "public/gone.txt", DENY),
    ("alice", "get", "b", "o.txt", DENY),
    ("alice", "list_buckets", None, None, ALLOW),
    ("alice", "create_bucket", None, None, DENY),
    ("alice", "get_acl", "a", "home/{alice}/a.txt", DENY),
    # WOS policy language: wos:Get* and wos:HeadObject on one bucket
    ("wosreader", "get", "a", "top.txt", ALLOW),
    ("wosreader", "head", "a", "top.txt", ALLOW),
    ("wosreader", "list", "a", None, ALLOW),
    ("wosreader", "get_acl", "a", None, ALLOW),
    ("wosreader", "get_acl", "a", "top.txt", ALLOW),
    ("wosreader", "put", "a", "x.txt", DENY),
    ("wosreader", "delete", "a", "wos-gone.txt", DENY),
    ("wosreader", "get", "b", "o.txt", DENY),
    ("wosreader", "list", "b", None, DENY),
    ("wosreader", "list_buckets", None, None, DENY),   # GetService needs a '*' resource
    # explicit deny overrides allow
    ("denier", "get", "a", "top.txt", ALLOW),
    ("denier", "get", "a", "home/bob/b.txt", DENY),
    ("denier", "head", "a", "home/bob/b.txt", DENY),   # a Deny of GetObject denies HEAD
    ("denier", "put", "a", "denier.txt", ALLOW),
    ("denier", "delete", "a", "denier-gone.txt", DENY),
    ("denier", "delete", "b", "denier-gone.txt", ALLOW),
    ("denier", "get", "b", "o.txt", ALLOW),
    # built-in ReadOnly
    ("readonly", "list_buckets", None, None, ALLOW),
    ("readonly", "list", "a", None, ALLOW),
    ("readonly", "list", "b", "x", ALLOW),
    ("readonly", "get", "b", "o.txt", ALLOW),
    ("readonly", "head", "a", "top.txt", ALLOW),
    ("readonly", "get_acl", "a", None, ALLOW),
    ("readonly", "put", "a", "ro.txt", DENY),
    ("readonly", "delete", "a", "ro-gone.txt", DENY),
    ("readonly", "put_acl", "a", "top.txt", DENY),
    ("readonly", "create_bucket", None, None, DENY),
    # built-in FullAccess
    ("full", "list_buckets", None, None, ALLOW),
    ("full", "put", "a", "full.txt", ALLOW),
    ("full", "get", "b", "o.txt", ALLOW),
    ("full", "delete", "b", "full-gone.txt", ALLOW),
    ("full", "put_acl", "a", "top.txt", ALLOW),
    ("full", "create_bucket", None, None, ALLOW),
    # no policy at all
    ("nobody", "list_buckets", None, None, DENY),
    ("nobody", "list", "a", None, DENY),
    ("nobody", "get", "a", "top.txt", DENY),
    ("nobody", "head", "a", "top.txt", DENY),
    ("nobody", "put", "a", "nobody.txt", DENY),
]


@pytest.mark.parametrize("user,op,bucket,key,expected", MATRIX,
                         ids=["%s-%s-%s-%s-%s" % (u, o, b, k, "allow" if e else "deny") for u, o, b, k, e in MATRIX])
def test_matrix(world, user, op, bucket, key, expected):
    r = _op(world, user, op, bucket, key)
    if expected:
        assert r.status in (200, 204), (user, op, bucket, key, r)
    else:
        assert_denied(r)


def test_matrix_writes_happened_only_where_allowed(world):
    root = world["root"]
    keys = {o["Key"] for o in root.list_objects_v2(Bucket=world["a"]).get("Contents", [])}
    alice = world["alice"]
    assert "home/%s/new.txt" % alice in keys and "full.txt" in keys and "denier.txt" in keys
    assert not {"home/bob/evil.txt", "x.txt", "ro.txt", "nobody.txt", "home/%s" % alice} & keys
    # the denied deletes left their objects
    assert {"public/gone.txt", "wos-gone.txt", "denier-gone.txt", "ro-gone.txt"} <= keys


def _log_line(server, needle, timeout=5.0):
    end = time.time() + timeout
    while True:
        line = next((x for x in server.log_text().splitlines() if needle in x), None)
        if line or time.time() > end:
            return line
        time.sleep(0.05)


def test_denial_logged_without_secret(server, world):
    u = world["users"]["alice"]
    r = u.raw().get(world["b"], "o.txt")
    assert_denied(r)
    rid = r.header("x-amz-request-id")
    line = _log_line(server, rid)
    assert line, "no log line for request %s" % rid
    assert "access denied" in line and u.name in line and "wos:GetObject" in line
    assert "%s/o.txt" % world["b"] in line
    assert u.sk not in server.log_text() and server.secret_key not in server.log_text()


def test_denial_names_the_deciding_statement(server, world):
    u = world["users"]["denier"]
    r = u.raw().get(world["a"], "home/bob/b.txt")
    assert_denied(r)
    rid = r.header("x-amz-request-id")
    line = _log_line(server, rid)
    assert line and "denied by policy" in line and "statement 1" in line, line


def test_wos_dialect_denial(world):
    r = world["users"]["nobody"].raw("wos4").get(world["a"], "top.txt")
    assert_denied(r)
    assert r.body.startswith(wc.WOS_XML_DECL), r.body


# ------------------------------------------------------------------------------------ keys and users


def test_disabled_key_and_user(server, admin, bucket):
    u = admin.user("WSCloudWOSFullAccess")
    c = u.raw()
    assert_ok(c.put(bucket, "k", b"v"))
    admin.js("POST", "/keys/%s/disable" % u.ak)
    assert_error(c.get(bucket, "k"), 403, "InvalidAccessKeyId")
    assert_error(u.raw("wos4").get(bucket, "k"), 403, "InvalidAccessKeyId")
    admin.js("POST", "/keys/%s/enable" % u.ak)
    assert_ok(c.get(bucket, "k"))
    admin.js("POST", "/users/%s/disable" % u.name)
    assert_error(c.get(bucket, "k"), 403, "InvalidAccessKeyId")
    admin.js("POST", "/users/%s/enable" % u.name)
    assert_ok(c.get(bucket, "k"))
    admin.call("DELETE", "/keys/" + u.ak, expect=204)
    assert_error(c.get(bucket, "k"), 403, "InvalidAccessKeyId")


def test_deleted_user_loses_access(admin, bucket):
    u = admin.user("WSCloudWOSFullAccess")
    assert_ok(u.raw().put(bucket, "k", b"v"))
    admin.call("DELETE", "/users/" + u.name, expect=204)
    assert_error(u.raw().get(bucket, "k"), 403, "InvalidAccessKeyId")


def test_policy_change_takes_effect_at_once(admin, bucket):
    """Compiled policies are cached per IAM generation; a change must show on the next request."""
    pname = admin.policy(aws_policy(allow("s3:GetObject", "arn:aws:s3:::%s/a/*" % bucket)))
    u = admin.user(pname)
    boto = u.boto()
    boto3_root = u.server.boto()
    boto3_root.put_object(Bucket=bucket, Key="a/1", Body=b"1")
    boto3_root.put_object(Bucket=bucket, Key="b/1", Body=b"1")
    assert boto.get_object(Bucket=bucket, Key="a/1")["Body"].read() == b"1"
    expect_client_error(403, "AccessDenied", boto.get_object, Bucket=bucket, Key="b/1")
    admin.js("PUT", "/policies/" + pname, json.dumps(aws_policy(
        allow("s3:GetObject", "arn:aws:s3:::%s/b/*" % bucket))).encode())
    assert boto.get_object(Bucket=bucket, Key="b/1")["Body"].read() == b"1"
    expect_client_error(403, "AccessDenied", boto.get_object, Bucket=bucket, Key="a/1")
    admin.call("DELETE", "/users/%s/policies/%s" % (u.name, pname), expect=204)
    expect_client_error(403, "AccessDenied", boto.get_object, Bucket=bucket, Key="b/1")


@pytest.mark.parametrize("scheme", ["aws4", "wos4", "aws2", "wos2", "aws4-presign", "v2-presign"])
def test_user_keys_work_with_every_scheme(admin, bucket, server, scheme):
    u = admin.user("WSCloudWOSReadOnlyAccess")
    server.boto().put_object(Bucket=bucket, Key="k", Body=b"hello")
    r = u.raw(scheme).get(bucket, "k")
    assert_ok(r)
    assert r.body == b"hello"
    assert_denied(u.raw(scheme).put(bucket, "k2", b"x"))


def test_streaming_upload_by_user(admin, bucket):
    u = admin.user(aws_policy(allow("s3:PutObject", "arn:aws:s3:::%s/*" % bucket)))
    data = wc.random_bytes(200000, 7)
    assert_ok(u.raw().put_streaming_signed(wc.key_path(bucket, "s"), data))


# ------------------------------------------------------------------------------------ conditions


def test_source_ip_condition(server, admin, bucket):
    server.boto().put_object(Bucket=bucket, Key="k", Body=b"v")
    inside = admin.user(aws_policy(allow("s3:GetObject", "arn:aws:s3:::%s/*" % bucket,
                                         Condition={"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}})))
    outside = admin.user(aws_policy(allow("s3:GetObject", "arn:aws:s3:::%s/*" % bucket,
                                          Condition={"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}})))
    assert_ok(inside.raw().get(bucket, "k"))
    assert_denied(outside.raw().get(bucket, "k"))


def test_secure_transport_and_time_conditions(server, admin, bucket):
    server.boto().put_object(Bucket=bucket, Key="k", Body=b"v")
    tls_only = admin.user("WSCloudWOSFullAccess", aws_policy(
        deny("s3:*", "*", Condition={"Bool": {"aws:SecureTransport": "false"}})))
    assert_denied(tls_only.raw().get(bucket, "k"))
    expired = admin.user(aws_policy(allow("s3:GetObject", "*",
                                          Condition={"DateLessThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})))
    assert_denied(expired.raw().get(bucket, "k"))
    current = admin.user(aws_policy(allow("s3:GetObject", "*",
                                          Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})))
    assert_ok(current.raw().get(bucket, "k"))


def test_acl_condition_on_put(admin, bucket):
    """s3:x-amz-acl: a user may only write private objects."""
    u = admin.user(aws_policy(allow("s3:PutObject", "arn:aws:s3:::%s/*" % bucket),
                              deny("s3:PutObject", "arn:aws:s3:::%s/*" % bucket,
                                   Condition={"StringNotEquals": {"s3:x-amz-acl": "private"},
                                              "Null": {"s3:x-amz-acl": "false"}})))
    c = u.raw()
    assert_ok(c.put(bucket, "a", b"x"))
    assert_ok(c.put(bucket, "b", b"x", headers={"x-amz-acl": "private"}))
    assert_denied(c.put(bucket, "c", b"x", headers={"x-amz-acl": "public-read"}))


def test_head_object_action(server, admin, bucket):
    """HEAD is wos:HeadObject: granted by wos:HeadObject alone, which does not grant GET."""
    server.boto().put_object(Bucket=bucket, Key="k", Body=b"v")
    u = admin.user({"version": "1", "statement": [{"effect": "allow", "action": ["wos:HeadObject"],
                                                   "resource": ["wsc:wos:*:*:%s/*" % bucket]}]})
    assert_ok(u.raw().head(bucket, "k"))
    assert_denied(u.raw().get(bucket, "k"))


# ------------------------------------------------------------------------------------ per-operation extras


def test_copy_object_needs_source_read(server, admin, bucket_name):
    root = server.boto()
    src, dst = bucket_name("src"), bucket_name("dst")
    root.create_bucket(Bucket=src)
    root.create_bucket(Bucket=dst)
    root.put_object(Bucket=src, Key="secret", Body=b"classified")
    writer = admin.user(aws_policy(allow("s3:PutObject", "arn:aws:s3:::%s/*" % dst)))
    b = writer.boto()
    expect_client_error(403, "AccessDenied", b.copy_object, Bucket=dst, Key="stolen",
                        CopySource={"Bucket": src, "Key": "secret"})
    expect_client_error(404, "NoSuchKey", root.get_object, Bucket=dst, Key="stolen")
    # UploadPartCopy likewise
    up = b.create_multipart_upload(Bucket=dst, Key="mp")
    expect_client_error(403, "AccessDenied", b.upload_part_copy, Bucket=dst, Key="mp", PartNumber=1,
                        UploadId=up["UploadId"], CopySource={"Bucket": src, "Key": "secret"})
    reader = admin.user(aws_policy(allow("s3:PutObject", "arn:aws:s3:::%s/*" % dst),
                                   allow("s3:GetObject", "arn:aws:s3:::%s/secret" % src)))
    reader.boto().copy_object(Bucket=dst, Key="copied", CopySource={"Bucket": src, "Key": "secret"})
    assert root.get_object(Bucket=dst, Key="copied")["Body"].read() == b"classified"
    # and read permission without write permission on the destination is not enough
    only_read = admin.user(aws_policy(allow("s3:GetObject", "arn:aws:s3:::%s/*" % src)))
    expect_client_error(403, "AccessDenied", only_read.boto().copy_object, Bucket=dst, Key="x",
                        CopySource={"Bucket": src, "Key": "secret"})


def test_delete_objects_partly_denied(server, admin, bucket):
    root = server.boto()
    keys = ["mine/1", "mine/2", "theirs/1", "theirs/2"]
    for k in keys:
        root.put_object(Bucket=bucket, Key=k, Body=b"x")
    u = admin.user(aws_policy(allow("s3:DeleteObject", "arn:aws:s3:::%s/mine/*" % bucket)))
    r = u.boto().delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in r.get("Deleted", [])) == ["mine/1", "mine/2"]
    errors = {e["Key"]: e["Code"] for e in r.get("Errors", [])}
    assert errors == {"theirs/1": "AccessDenied", "theirs/2": "AccessDenied"}
    left = [o["Key"] for o in root.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert left == ["theirs/1", "theirs/2"]


def test_delete_objects_anonymous_all_denied(server, bucket):
    root = server.boto()
    root.put_object(Bucket=bucket, Key="k", Body=b"x")
    body = b'<Delete><Object><Key>k</Key></Object></Delete>'
    r = server.client("anon").post(bucket, query="delete", headers={"Content-MD5": wc.md5_b64(body)}, body=body)
    if r.status == 200:
        assert b"AccessDenied" in r.body and b"<Deleted>" not in r.body
    else:
        assert_denied(r)
    assert root.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_list_buckets_filtered(server, admin, bucket_name):
    root = server.boto()
    mine, other = bucket_name("mine"), bucket_name("other")
    root.create_bucket(Bucket=mine)
    root.create_bucket(Bucket=other)
    u = admin.user(aws_policy(allow("s3:ListAllMyBuckets", "*"), allow("s3:ListBucket", "arn:aws:s3:::" + mine)))
    names = [b["Name"] for b in u.boto().list_buckets()["Buckets"]]
    assert names == [mine]
    # allowed only under an s3:prefix condition: still listed (most favourable context)
    v = admin.user(aws_policy(allow("s3:ListAllMyBuckets", "*"),
                              allow("s3:ListBucket", "arn:aws:s3:::" + other,
                                    Condition={"StringEquals": {"s3:prefix": "docs/"}})))
    assert [b["Name"] for b in v.boto().list_buckets()["Buckets"]] == [other]
    # an unconditional Deny hides it
    w = admin.user("WSCloudWOSReadOnlyAccess", aws_policy(deny("s3:ListBucket", "arn:aws:s3:::" + other)))
    seen = {b["Name"] for b in w.boto().list_buckets()["Buckets"]}
    assert mine in seen and other not in seen
    # root sees all
    assert {mine, other} <= {b["Name"] for b in root.list_buckets()["Buckets"]}


def test_bucket_owner_has_full_control(server, admin, bucket_name):
    """A user who creates a bucket owns it: FULL_CONTROL without any policy on it, unless a
    policy explicitly denies."""
    creator = admin.user("WSCloudWOSResourceCreatorAccess")
    other = admin.user("WSCloudWOSResourceCreatorAccess")
    name = bucket_name("owned")
    b = creator.boto()
    b.create_bucket(Bucket=name)
    b.put_object(Bucket=name, Key="k", Body=b"mine")
    assert b.get_object(Bucket=name, Key="k")["Body"].read() == b"mine"
    assert [o["Key"] for o in b.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    acl = b.get_bucket_acl(Bucket=name)
    assert acl["Owner"]["ID"] == creator.name
    assert name in [x["Name"] for x in b.list_buckets()["Buckets"]]
    expect_client_error(409, "BucketAlreadyOwnedByYou", b.create_bucket, Bucket=name)
    ob = other.boto()
    expect_client_error(403, "AccessDenied", ob.get_object, Bucket=name, Key="k")
    expect_client_error(403, "AccessDenied", ob.put_object, Bucket=name, Key="x", Body=b"x")
    expect_client_error(409, "BucketAlreadyExists", ob.create_bucket, Bucket=name)
    assert name not in [x["Name"] for x in ob.list_buckets()["Buckets"]]
    # an explicit Deny in the bucket policy binds the owner too
    b.put_bucket_policy(Bucket=name, Policy=json.dumps(aws_policy(dict(
        deny("s3:DeleteObject", "arn:aws:s3:::%s/*" % name), Principal="*"))))
    expect_client_error(403, "AccessDenied", b.delete_object, Bucket=name, Key="k")
    b.delete_bucket_policy(Bucket=name)
    b.delete_object(Bucket=name, Key="k")
    b.delete_bucket(Bucket=name)


# ------------------------------------------------------------------------------------ anonymous access


def _public_policy(bucket, actions=("s3:GetObject",), list_too=True):
    st = [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": list(actions),
           "Resource": "arn:aws:s3:::%s/*" % bucket}]
    if list_too:
        st.append({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:ListBucket",
                   "Resource": "arn:aws:s3:::%s" % bucket})
    return aws_policy(*st)


def test_anonymous_read_by_bucket_policy(server, bucket_name):
    root = server.boto()
    pub, priv = bucket_name("pub"), bucket_name("priv")
    root.create_bucket(Bucket=pub)
    root.create_bucket(Bucket=priv)
    root.put_object(Bucket=pub, Key="hello.txt", Body=b"hello world")
    root.put_object(Bucket=priv, Key="hello.txt", Body=b"private")
    anon = server.client("anon")
    assert_denied(anon.get(pub, "hello.txt"))
    root.put_bucket_policy(Bucket=pub, Policy=json.dumps(_public_policy(pub)))
    r = assert_ok(anon.get(pub, "hello.txt"))
    assert r.body == b"hello world"
    assert_ok(anon.head(pub, "hello.txt"))
    lst = assert_ok(anon.get(pub))
    assert [wc.xtext(c, "Key") for c in wc.xfindall(lst.xml(), "Contents")] == ["hello.txt"]
    # and nothing else
    assert_denied(anon.put(pub, "new.txt", b"x"))
    assert_denied(anon.delete(pub, "hello.txt"))
    assert_denied(anon.get(pub, query="acl"))
    assert_denied(anon.get(priv, "hello.txt"))
    assert_denied(anon.get(priv))
    assert_denied(anon.request("GET", "/"))
    # plain requests, as a browser sends them
    assert requests.get("%s/%s/hello.txt" % (server.endpoint, pub), timeout=30).content == b"hello world"
    root.delete_bucket_policy(Bucket=pub)
    assert_denied(anon.get(pub, "hello.txt"))


def test_missing_bucket_is_no_such_bucket_to_anyone(server, admin):
    """As S3: a bucket that does not exist answers NoSuchBucket whoever asks (anonymous, or a
    user with no permission at all); only creating one is refused without permission."""
    name = "no-such-bucket-" + _rnd()
    anon = server.client("anon")
    guest = admin.user()
    for c in (anon, guest.raw()):
        for r in (c.get(name), c.get(name, "k"), c.put(name, "k", b"x"), c.delete(name, "k"),
                  c.get(name, query="acl")):
            assert r.status == 404 and wc.xtext(r.xml(), "Code") == "NoSuchBucket", (r.status, r.body[:300])
        assert c.head(name, "k").status == 404
    assert_denied(guest.raw().create_bucket(name))
    assert_denied(anon.create_bucket(name))
    assert server.client("aws4").head(name).status == 404


def test_listing_shows_the_bucket_owner_not_the_reader(server, admin, bucket):
    """Objects belong to the bucket's owner (S3's bucket-owner-enforced default): a reader who
    lists them sees that owner, not itself."""
    server.boto().put_object(Bucket=bucket, Key="owned", Body=b"x")
    reader = admin.user("WSCloudWOSReadOnlyAccess")
    v1 = reader.boto().list_objects(Bucket=bucket)["Contents"]
    v2 = reader.boto().list_objects_v2(Bucket=bucket, FetchOwner=True)["Contents"]
    acl = server.boto().get_object_acl(Bucket=bucket, Key="owned")["Owner"]["ID"]
    for entries in (v1, v2):
        owners = {e["Owner"]["ID"] for e in entries if e["Key"] == "owned"}
        assert owners == {acl} and acl != reader.name, (owners, acl)


def test_bucket_policy_principal_user(server, admin, bucket):
    """A bucket policy can grant a named user; Deny in it beats the user's own Allow."""
    root = server.boto()
    root.put_object(Bucket=bucket, Key="k", Body=b"v")
    guest = admin.user()
    full = admin.user("WSCloudWOSFullAccess")
    assert_denied(guest.raw().get(bucket, "k"))
    root.put_bucket_policy(Bucket=bucket, Policy=json.dumps(aws_policy(
        {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::000000000000:user/" + guest.name]},
         "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/*" % bucket},
        {"Effect": "Deny", "Principal": {"AWS": full.name}, "Action": "s3:*",
         "Resource": ["arn:aws:s3:::%s" % bucket, "arn:aws:s3:::%s/*" % bucket]})))
    assert_ok(guest.raw().get(bucket, "k"))
    assert_denied(guest.raw().put(bucket, "k", b"x"))
    assert_denied(full.raw().get(bucket, "k"))
    assert_denied(server.client("anon").get(bucket, "k"))


def test_anonymous_read_by_canned_acl(server, bucket_name):
    root = server.boto()
    name = bucket_name("aclpub")
    c = server.client("aws4")
    assert_ok(c.create_bucket(name, headers={"x-amz-acl": "public-read"}))
    root.put_object(Bucket=name, Key="private.txt", Body=b"p")
    root.put_object(Bucket=name, Key="public.txt", Body=b"hello", ACL="public-read")
    anon = server.client("anon")
    # a public-read bucket lists for everyone; its objects need their own READ grant (S3)
    lst = assert_ok(anon.get(name))
    assert len(wc.xfindall(lst.xml(), "Contents")) == 2
    assert assert_ok(anon.get(name, "public.txt")).body == b"hello"
    assert_denied(anon.get(name, "private.txt"))
    assert_denied(anon.put(name, "new.txt", b"x"))
    grants = root.get_bucket_acl(Bucket=name)["Grants"]
    assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"} in [g["Grantee"] for g in grants]
    assert sorted(g["Permission"] for g in grants) == ["FULL_CONTROL", "READ"]
    ogrants = root.get_object_acl(Bucket=name, Key="public.txt")["Grants"]
    assert sorted(g["Permission"] for g in ogrants) == ["FULL_CONTROL", "READ"]
    # PUT ?acl: the object private again, the bucket private
    root.put_object_acl(Bucket=name, Key="public.txt", ACL="private")
    assert_denied(anon.get(name, "public.txt"))
    assert root.get_object(Bucket=name, Key="public.txt")["Body"].read() == b"hello"
    root.put_object_acl(Bucket=name, Key="private.txt", ACL="public-read")
    assert_ok(anon.get(name, "private.txt"))
    root.put_bucket_acl(Bucket=name, ACL="private")
    assert_denied(anon.get(name))
    assert len(root.get_bucket_acl(Bucket=name)["Grants"]) == 1
    # and in the WOS dialect
    assert_ok(server.client("wos4").request("PUT", "/" + name, "acl", {"x-wos-acl": "public-read"}))
    assert_ok(anon.get(name))


def test_public_read_write_and_authenticated_read(server, admin, bucket_name):
    root = server.boto()
    name = bucket_name("prw")
    root.create_bucket(Bucket=name, ACL="public-read-write")
    anon = server.client("anon")
    assert_ok(anon.put(name, "by-anyone", b"x"))
    assert root.get_object(Bucket=name, Key="by-anyone")["Body"].read() == b"x"
    assert_ok(anon.delete(name, "by-anyone"), 204)
    grants = root.get_bucket_acl(Bucket=name)["Grants"]
    assert sorted(g["Permission"] for g in grants) == ["FULL_CONTROL", "READ", "WRITE"]
    # authenticated-read: any signed user may read, anonymous may not
    root.put_object(Bucket=name, Key="members", Body=b"m", ACL="authenticated-read")
    nobody = admin.user()
    assert_ok(nobody.raw().get(name, "members"))
    assert_denied(anon.get(name, "members"))
    g = root.get_object_acl(Bucket=name, Key="members")["Grants"]
    assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"} in \
        [x["Grantee"] for x in g]


def test_unsupported_canned_acl_is_501(server, bucket):
    c = server.client("aws4")
    assert_error(c.put(bucket, "k", b"x", headers={"x-amz-acl": "bucket-owner-full-control"}), 501, "NotImplemented")
    assert_error(c.put(bucket, "k", b"x", headers={"x-amz-grant-read": "uri=x"}), 501, "NotImplemented")
    assert_error(c.put(bucket, "k", b"x", headers={"X-Wos-Grant-Full-Control": "id=x"}), 501, "NotImplemented")
    assert_error(c.post(bucket, "k", query="uploads", headers={"x-amz-grant-write-acp": "id=x"}), 501,
                 "NotImplemented")
    assert_error(c.request("PUT", "/" + bucket, "acl", {"x-amz-acl": "log-delivery-write"}), 501, "NotImplemented")
    # Not a grant S3 knows: ignored, as S3 ignores x-amz headers it does not define.
    assert_ok(c.put(bucket, "k", b"x", headers={"x-amz-grant-everything": "id=x"}))


def test_wos_acl_header_wins_over_amz(server, bucket):
    """With both spellings, x-wos-acl decides (as for every x-wos-/x-amz- pair), whatever the order."""
    c = server.client("aws4")
    anon = server.client("anon")
    assert_ok(c.put(bucket, "k1", b"x", headers={"x-amz-acl": "private", "x-wos-acl": "public-read"}))
    assert_ok(anon.get(bucket, "k1"))
    assert_ok(c.put(bucket, "k2", b"x", headers={"x-wos-acl": "private", "x-amz-acl": "public-read"}))
    assert_denied(anon.get(bucket, "k2"))


def test_acl_write_back_document(server, bucket):
    """s3cmd-style: GET ?acl, add the AllUsers READ grant, PUT the document back."""
    root = server.boto()
    root.put_object(Bucket=bucket, Key="k", Body=b"v")
    c = server.client("aws4")
    doc = c.get(bucket, "k", query="acl").body.decode()
    grant = ('<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">'
             '<URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>READ</Permission></Grant>')
    doc2 = doc.replace("</AccessControlList>", grant + "</AccessControlList>")
    assert_ok(c.request("PUT", wc.key_path(bucket, "k"), "acl", None, doc2.encode()))
    assert_ok(server.client("anon").get(bucket, "k"))
    assert_ok(c.request("PUT", wc.key_path(bucket, "k"), "acl", None, doc.encode()))
    assert_denied(server.client("anon").get(bucket, "k"))
    bad = doc.replace("</AccessControlList>", grant.replace("AllUsers", "LogDelivery") + "</AccessControlList>")
    assert_error(c.request("PUT", wc.key_path(bucket, "k"), "acl", None, bad.encode()), 501, "NotImplemented")


def test_acl_travels_with_multipart_and_not_with_copy(server, bucket):
    root = server.boto()
    up = root.create_multipart_upload(Bucket=bucket, Key="mp", ACL="public-read")
    p = root.upload_part(Bucket=bucket, Key="mp", PartNumber=1, UploadId=up["UploadId"], Body=b"part")
    root.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"],
                                   MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    anon = server.client("anon")
    assert assert_ok(anon.get(bucket, "mp")).body == b"part"
    root.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "mp"})
    assert_denied(anon.get(bucket, "copy"))
    root.copy_object(Bucket=bucket, Key="copy2", CopySource={"Bucket": bucket, "Key": "mp"}, ACL="public-read")
    assert_ok(anon.get(bucket, "copy2"))
    # the internal ACL line never shows as a header
    r = server.client("aws4").head(bucket, "mp")
    assert not [h for h in r.headers if "wosd" in h.lower()], dict(r.headers)


def test_post_object_acl_and_anonymous_post(server, bucket_name):
    root = server.boto()
    name = bucket_name("postacl")
    root.create_bucket(Bucket=name)
    post = root.generate_presigned_post(name, "form.txt", Fields={"acl": "public-read"},
                                        Conditions=[{"acl": "public-read"}], ExpiresIn=600)
    r = requests.post("%s/%s" % (server.endpoint, name), data=post["fields"],
                      files={"file": ("f.txt", b"form body")}, timeout=60)
    assert r.status_code == 204, r.content
    assert assert_ok(server.client("anon").get(name, "form.txt")).body == b"form body"
    # an anonymous form (no policy, no signature): only where everyone may write
    r = requests.post("%s/%s" % (server.endpoint, name), data={"key": "anon.txt"},
                      files={"file": ("f.txt", b"anon")}, timeout=60)
    assert r.status_code == 403 and wc.error_code(r.content) == "AccessDenied", r.content
    root.put_bucket_acl(Bucket=name, ACL="public-read-write")
    r = requests.post("%s/%s" % (server.endpoint, name), data={"key": "anon.txt"},
                      files={"file": ("f.txt", b"anon")}, timeout=60)
    assert r.status_code == 204, r.content
    assert root.get_object(Bucket=name, Key="anon.txt")["Body"].read() == b"anon"


def test_post_object_by_user_is_authorised(server, admin, bucket):
    u = admin.user(aws_policy(allow("s3:PutObject", "arn:aws:s3:::%s/uploads/*" % bucket)))
    b = u.boto()
    ok = b.generate_presigned_post(bucket, "uploads/a.txt", ExpiresIn=600)
    r = requests.post("%s/%s" % (server.endpoint, bucket), data=ok["fields"], files={"file": ("a", b"a")}, timeout=60)
    assert r.status_code == 204, r.content
    bad = b.generate_presigned_post(bucket, "elsewhere/a.txt", ExpiresIn=600)
    r = requests.post("%s/%s" % (server.endpoint, bucket), data=bad["fields"], files={"file": ("a", b"a")}, timeout=60)
    assert r.status_code == 403 and wc.error_code(r.content) == "AccessDenied", r.content


# ------------------------------------------------------------------------------------ bucket policy CRUD


def test_bucket_policy_crud(server, bucket):
    root = server.boto()
    expect_client_error(404, "NoSuchBucketPolicy", root.get_bucket_policy, Bucket=bucket)
    text = json.dumps(_public_policy(bucket), indent=1)
    r = root.put_bucket_policy(Bucket=bucket, Policy=text)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert root.get_bucket_policy(Bucket=bucket)["Policy"] == text
    # replace
    text2 = json.dumps(_public_policy(bucket, list_too=False))
    root.put_bucket_policy(Bucket=bucket, Policy=text2)
    assert root.get_bucket_policy(Bucket=bucket)["Policy"] == text2
    r = root.delete_bucket_policy(Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    expect_client_error(404, "NoSuchBucketPolicy", root.get_bucket_policy, Bucket=bucket)
    root.delete_bucket_policy(Bucket=bucket)   # deleting nothing succeeds
    expect_client_error(404, "NoSuchBucket", root.get_bucket_policy, Bucket="no-such-bucket-" + _rnd())
    expect_client_error(404, "NoSuchBucket", root.put_bucket_policy, Bucket="no-such-bucket-" + _rnd(), Policy=text)


@pytest.mark.parametrize("case", ["not-json", "no-principal", "other-bucket", "bad-action", "bad-condition-key",
                                  "too-large", "empty"])
def test_malformed_bucket_policy(server, bucket, case):
    st = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::%s/*" % bucket}
    docs = {
        "not-json": "{not json",
        "no-principal": json.dumps(aws_policy({k: v for k, v in st.items() if k != "Principal"})),
        "other-bucket": json.dumps(aws_policy(dict(st, Resource="arn:aws:s3:::someone-else/*"))),
        "bad-action": json.dumps(aws_policy(dict(st, Action="wos:NoSuchThing"))),
        "bad-condition-key": json.dumps(aws_policy(dict(st, Condition={"StringEquals": {"s3:nonsense": "x"}}))),
        "too-large": json.dumps(aws_policy(*[dict(st, Sid="s%d" % i) for i in range(400)])),
        "empty": "",
    }
    c = server.client("aws4")
    r = c.request("PUT", "/" + bucket, "policy", None, docs[case].encode())
    assert_error(r, 400, "MalformedPolicy")
    assert r.message, r
    assert_error(c.get(bucket, query="policy"), 404, "NoSuchBucketPolicy")


def test_bucket_policy_needs_permission(server, admin, bucket):
    root = server.boto()
    root.put_bucket_policy(Bucket=bucket, Policy=json.dumps(_public_policy(bucket)))
    reader = admin.user("WSCloudWOSReadOnlyAccess")
    assert json.loads(reader.boto().get_bucket_policy(Bucket=bucket)["Policy"])
    expect_client_error(403, "AccessDenied", reader.boto().delete_bucket_policy, Bucket=bucket)
    expect_client_error(403, "AccessDenied", reader.boto().put_bucket_policy, Bucket=bucket,
                        Policy=json.dumps(_public_policy(bucket)))
    nobody = admin.user()
    expect_client_error(403, "AccessDenied", nobody.boto().get_bucket_policy, Bucket=bucket)


def test_object_policy_subresource_not_implemented(server, bucket):
    assert_error(server.client("aws4").get(bucket, "k", query="policy"), 501, "NotImplemented")


# ------------------------------------------------------------------------------------ admin API access


def test_admin_api_is_root_only(server, admin):
    full = admin.user("WSCloudWOSFullAccess")
    for r in (full.raw().request("GET", "/wos-admin/v1/users"), server.client("anon").request("GET", "/wos-admin/v1/users"),
              full.raw().request("POST", "/wos-admin/v1/users", body=b'{"name":"sneaky"}')):
        assert r.status == 403, r
        err = json.loads(r.body)
        assert err["error"]["code"] == "AccessDenied" and err["request_id"] == r.header("x-amz-request-id")
    r = server.client("aws4").request("GET", "/wos-admin/v1/users")
    assert_ok(r)
    assert r.header("Content-Type") == "application/json"
    assert any(u["name"] == full.name for u in json.loads(r.body)["users"])


def test_admin_api_errors(admin):
    r = admin.call("GET", "/users/no-such-user-" + _rnd())
    assert r.status == 404 and json.loads(r.body)["error"]["code"] == "NoSuchEntity"
    r = admin.call("POST", "/users", {"name": "root"})
    assert r.status == 400 and json.loads(r.body)["error"]["code"] == "InvalidInput"
    r = admin.call("POST", "/users", {"name": "bad/name"})
    assert r.status == 400
    r = admin.call("POST", "/users", {"name": "x" * 65})
    assert r.status == 400
    name = "dup-" + _rnd()
    admin.js("POST", "/users", {"name": name}, expect=201)
    r = admin.call("POST", "/users", {"name": name.upper()})
    assert r.status == 409 and json.loads(r.body)["error"]["code"] == "EntityAlreadyExists"
    r = admin.call("PUT", "/policies/WSCloudWOSFullAccess", b'{"Statement":[]}')
    assert r.status == 400
    r = admin.call("PUT", "/policies/broken-" + _rnd(), b'{"Statement":[{"Effect":"Allow"}]}')
    assert r.status == 400 and json.loads(r.body)["error"]["code"] == "MalformedPolicyDocument"
    assert json.loads(r.body)["error"]["message"]
    r = admin.call("PUT", "/policies/p-" + _rnd(), json.dumps(aws_policy(dict(
        allow("s3:GetObject", "*"), Principal="*"))).encode())
    assert r.status == 400   # a Principal has no place in an identity policy
    r = admin.call("GET", "/nothing-here")
    assert r.status == 404 and json.loads(r.body)["error"]["code"] == "NotFound"
    r = admin.call("DELETE", "/policies")
    assert r.status == 405
    r = admin.call("PUT", "/users/%s/policies/no-such-policy-%s" % (name, _rnd()))
    assert r.status == 404


def test_admin_key_format_and_user_id(admin):
    u = admin.user()
    assert re.fullmatch(r"[A-Z0-9]{20}", u.ak), u.ak
    assert re.fullmatch(r"[A-Za-z0-9+/]{40}", u.sk), u.sk
    info = admin.js("GET", "/users/" + u.name)
    assert re.fullmatch(r"[0-9a-f]{32}", info["user"]["id"])
    assert [k["access_key"] for k in info["keys"]] == [u.ak]
    assert "secret_key" not in info["keys"][0]
    assert "secret_key" not in admin.js("GET", "/keys/" + u.ak)["key"]


def test_wos_admin_is_a_reserved_bucket_name(server):
    assert_error(server.client("aws4").create_bucket("wos-admin"), 400, "InvalidBucketName")
    assert_error(server.client("wos4").create_bucket("wos-admin"), 400, "InvalidBucketName")
