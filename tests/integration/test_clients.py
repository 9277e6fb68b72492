"""Real command-line clients as users run them: aws-cli (s3 and s3api), s3cmd (V4 and V2), rclone."""
import filecmp
import json
import os

import pytest

import wos_client as wc
from conftest import payload
from helpers import quoted_md5

pytestmark = pytest.mark.clients


def _tree(root, files):
    for rel, data in files.items():
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)


def _same_tree(a, b):
    cmp = filecmp.dircmp(a, b)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files, (
        cmp.left_only, cmp.right_only, cmp.diff_files)
    for sub in cmp.common_dirs:
        _same_tree(os.path.join(a, sub), os.path.join(b, sub))


TREE = {"a.txt": b"alpha\n", "dir/b.bin": payload(300_000, seed=1), "dir/sub/c with space.txt": b"gamma",
        "中文.txt": "unicode".encode(), "empty": b""}


# ------------------------------------------------------------------------------------ aws-cli


def test_aws_s3_cp_ls_rm(aws_cli, s3, bucket_name, tmp_path):
    b = bucket_name()
    aws_cli("s3", "mb", "s3://%s" % b)
    src = tmp_path / "file.bin"
    data = payload(2_000_000)
    src.write_bytes(data)
    aws_cli("s3", "cp", str(src), "s3://%s/dir/file.bin" % b)
    assert s3.head_object(Bucket=b, Key="dir/file.bin")["ETag"] == quoted_md5(data)
    out = aws_cli("s3", "ls", "s3://%s/" % b).out
    assert "PRE dir/" in out
    out = aws_cli("s3", "ls", "s3://%s/dir/" % b).out
    assert "file.bin" in out and str(len(data)) in out
    dst = tmp_path / "back.bin"
    aws_cli("s3", "cp", "s3://%s/dir/file.bin" % b, str(dst))
    assert dst.read_bytes() == data
    assert b in aws_cli("s3", "ls").out
    aws_cli("s3", "rm", "s3://%s/dir/file.bin" % b)
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
    aws_cli("s3", "rb", "s3://%s" % b)
    assert b not in [x["Name"] for x in s3.list_buckets()["Buckets"]]


def test_aws_s3_sync_both_ways(aws_cli, s3, bucket, tmp_path):
    local = tmp_path / "up"
    _tree(str(local), TREE)
    aws_cli("s3", "sync", str(local), "s3://%s/tree/" % bucket)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == sorted("tree/" + k for k in TREE)
    # a second sync uploads nothing
    out = aws_cli("s3", "sync", str(local), "s3://%s/tree/" % bucket).out
    assert "upload:" not in out
    down = tmp_path / "down"
    aws_cli("s3", "sync", "s3://%s/tree/" % bucket, str(down))
    _same_tree(str(local), str(down))
    aws_cli("s3", "rm", "--recursive", "s3://%s/tree/" % bucket)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_aws_s3api(aws_cli, bucket_name, tmp_path):
    b = bucket_name()
    aws_cli("s3api", "create-bucket", "--bucket", b)
    body = tmp_path / "body"
    body.write_bytes(b"s3api body")
    out = json.loads(aws_cli("s3api", "put-object", "--bucket", b, "--key", "k", "--body", str(body),
                             "--metadata", "color=blue", "--content-type", "text/x-cli",
                             "--storage-class", "STANDARD_IA").out)
    assert out["ETag"] == quoted_md5(b"s3api body")
    head = json.loads(aws_cli("s3api", "head-object", "--bucket", b, "--key", "k").out)
    assert head["Metadata"] == {"color": "blue"}
    assert head["ContentType"] == "text/x-cli"
    assert head["ContentLength"] == 10
    lst = json.loads(aws_cli("s3api", "list-objects-v2", "--bucket", b).out)
    assert [o["Key"] for o in lst["Contents"]] == ["k"]
    aws_cli("s3api", "copy-object", "--bucket", b, "--key", "k2", "--copy-source", "%s/k" % b)
    out = tmp_path / "out"
    aws_cli("s3api", "get-object", "--bucket", b, "--key", "k2", str(out))
    assert out.read_bytes() == b"s3api body"
    res = json.loads(aws_cli("s3api", "delete-objects", "--bucket", b, "--delete",
                             json.dumps({"Objects": [{"Key": "k"}, {"Key": "k2"}]})).out)
    assert sorted(d["Key"] for d in res["Deleted"]) == ["k", "k2"]
    err = aws_cli("s3api", "head-bucket", "--bucket", b + "-missing", check=False)
    assert err.returncode != 0 and "404" in err.err
    loc = json.loads(aws_cli("s3api", "get-bucket-location", "--bucket", b).out)
    assert loc.get("LocationConstraint") in (None, "us-east-1")
    assert b in [x["Name"] for x in json.loads(aws_cli("s3api", "list-buckets").out)["Buckets"]]
    aws_cli("s3api", "delete-bucket", "--bucket", b)


def test_aws_s3_presign(aws_cli, s3, bucket):
    import requests
    s3.put_object(Bucket=bucket, Key="p", Body=b"presigned by cli")
    url = aws_cli("s3", "presign", "s3://%s/p" % bucket, "--expires-in", "300").out.strip()
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == b"presigned by cli"


# ------------------------------------------------------------------------------------ s3cmd


@pytest.mark.parametrize("version", ["v4", "v2"])
def test_s3cmd(s3cmd, s3, bucket_name, tmp_path, version):
    run = s3cmd(version)
    b = bucket_name()
    run("mb", "s3://%s" % b)
    src = tmp_path / "s3cmd.bin"
    data = payload(1_000_000)
    src.write_bytes(data)
    run("put", str(src), "s3://%s/dir/s3cmd.bin" % b)
    run("put", str(src), "s3://%s/dir/other name.bin" % b)
    assert s3.get_object(Bucket=b, Key="dir/s3cmd.bin")["Body"].read() == data
    out = run("ls", "s3://%s/dir/" % b).out
    assert "s3://%s/dir/s3cmd.bin" % b in out and "other name.bin" in out
    assert "s3://%s" % b in run("ls").out
    info = run("info", "s3://%s/dir/s3cmd.bin" % b).out
    assert wc.md5_hex(data) in info
    dst = tmp_path / "got.bin"
    run("get", "--force", "s3://%s/dir/s3cmd.bin" % b, str(dst))
    assert dst.read_bytes() == data
    run("cp", "s3://%s/dir/s3cmd.bin" % b, "s3://%s/copy.bin" % b)
    assert s3.head_object(Bucket=b, Key="copy.bin")["ETag"] == quoted_md5(data)
    local = tmp_path / "tree"
    _tree(str(local), TREE)
    run("sync", str(local) + "/", "s3://%s/sync/" % b)
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b, Prefix="sync/")["Contents"]) == \
        sorted("sync/" + k for k in TREE)
    run("del", "s3://%s/dir/s3cmd.bin" % b)
    run("del", "--recursive", "--force", "s3://%s/" % b)
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
    run("rb", "s3://%s" % b)


# ------------------------------------------------------------------------------------ rclone


def test_rclone(rclone, s3, bucket_name, tmp_path):
    b = bucket_name()
    rclone("mkdir", "wosd:%s" % b)
    local = tmp_path / "src"
    _tree(str(local), TREE)
    rclone("copy", str(local), "wosd:%s/data" % b)
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]) == sorted("data/" + k for k in TREE)
    out = rclone("ls", "wosd:%s" % b).out
    listed = dict(reversed(line.split(None, 1)) for line in out.splitlines() if line.strip())
    assert listed == {"data/" + k: str(len(v)) for k, v in TREE.items()}
    assert rclone("cat", "wosd:%s/data/a.txt" % b).stdout == TREE["a.txt"]
    rclone("check", str(local), "wosd:%s/data" % b)                  # sizes and MD5s match
    ls = json.loads(rclone("lsjson", "-R", "--hash", "wosd:%s/data" % b).out)
    files = {e["Path"]: e for e in ls if not e["IsDir"]}
    assert files["dir/b.bin"]["Hashes"]["md5"] == wc.md5_hex(TREE["dir/b.bin"])
    down = tmp_path / "down"
    rclone("copy", "wosd:%s/data" % b, str(down))
    _same_tree(str(local), str(down))
    rclone("deletefile", "wosd:%s/data/a.txt" % b)
    assert "data/a.txt" not in [o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]]
    rclone("delete", "wosd:%s" % b)
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 0
    rclone("rmdir", "wosd:%s" % b)
    assert b not in [x["Name"] for x in s3.list_buckets()["Buckets"]]
