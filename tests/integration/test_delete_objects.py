"""DeleteObjects, POST /?delete (issue 2 §8)."""
import xml.sax.saxutils as su

import pytest

import wos_client as wc
from helpers import assert_error, assert_ok, expect_client_error, SDNM_MESSAGE


def _body(keys, quiet=None, ns=True):
    x = '<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' if ns else "<Delete>"
    if quiet is not None:
        x += "<Quiet>%s</Quiet>" % ("true" if quiet else "false")
    x += "".join("<Object><Key>%s</Key></Object>" % su.escape(k) for k in keys)
    return (x + "</Delete>").encode()


def _remaining(s3, bucket):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_delete_objects_boto3(s3, bucket):
    for k in ["a", "b", "c/d", "keep"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ["a", "b", "c/d", "missing"]]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["a", "b", "c/d", "missing"]
    assert not r.get("Errors")
    assert _remaining(s3, bucket) == ["keep"]


def test_delete_objects_quiet(s3, bucket):
    for k in ["a", "b"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": True})
    assert not r.get("Deleted") and not r.get("Errors"), r
    assert _remaining(s3, bucket) == []


def test_delete_objects_1000_max(s3, bucket):
    keys = ["k%04d" % i for i in range(1001)]
    s3.put_object(Bucket=bucket, Key="k0000", Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys[:1000]], "Quiet": True})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert _remaining(s3, bucket) == []
    s3.put_object(Bucket=bucket, Key="k0000", Body=b"x")
    expect_client_error(400, "MalformedXML", s3.delete_objects, Bucket=bucket,
                        Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True})
    assert _remaining(s3, bucket) == ["k0000"], "an over-long request must delete nothing"


def test_delete_objects_content_md5_required(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    c = server.client("aws4")
    body = _body(["a"])
    r = assert_ok(c.post(bucket, query="delete", body=body, headers={"Content-MD5": wc.md5_b64(body)}))
    assert r.ns == wc.S3_NS
    assert [wc.xtext(d, "Key") for d in wc.xfindall(r.xml(), "Deleted")] == ["a"]
    assert_error(c.post(bucket, query="delete", body=body), 400, "InvalidRequest")
    assert_error(c.post(bucket, query="delete", body=body, headers={"Content-MD5": wc.md5_b64(b"x")}),
                 400, "BadDigest")


def test_delete_objects_md5_mismatch_wos_dialect(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    c = server.client("wos4")
    body = _body(["a"], ns=False)
    assert_ok(c.post(bucket, query="delete", body=body, headers={"Content-MD5": wc.md5_b64(body)}))
    assert_error(c.post(bucket, query="delete", body=body, headers={"Content-MD5": wc.md5_b64(b"x")}),
                 403, "SignatureDoesNotMatch")


def test_delete_objects_malformed_xml(server, bucket):
    c = server.client("aws4")
    good = _body(["x"])
    assert_ok(c.post(bucket, query="delete", body=good, headers={"Content-MD5": wc.md5_b64(good)}))
    for bad in (b"<Delete><Object><Key>x</Key></Object>", b"not xml at all", b"<Delete></Delete>",
                b"<Other><Object><Key>x</Key></Object></Other>"):
        r = c.post(bucket, query="delete", body=bad, headers={"Content-MD5": wc.md5_b64(bad)})
        assert_error(r, 400, "MalformedXML")


def test_delete_objects_per_key_errors(server, s3, bucket):
    """A key that is not valid gets an <Error> in the result; the others are deleted."""
    s3.put_object(Bucket=bucket, Key="good", Body=b"x")
    c = server.client("aws4")
    body = _body(["good", "k" * 1025])
    r = assert_ok(c.post(bucket, query="delete", body=body, headers={"Content-MD5": wc.md5_b64(body)}))
    root = r.xml()
    assert [wc.xtext(d, "Key") for d in wc.xfindall(root, "Deleted")] == ["good"]
    errs = wc.xfindall(root, "Error")
    assert len(errs) == 1, r.body
    assert wc.xtext(errs[0], "Key") == "k" * 1025
    assert wc.xtext(errs[0], "Code") in ("KeyTooLongError", "InvalidArgument")
    assert wc.xtext(errs[0], "Message")
    assert _remaining(s3, bucket) == []


def test_delete_objects_wos_sdk_url_encoded_keys(server, s3, bucket):
    """The WOS SDK URL-encodes each <Key> (WOS-API.md §5.5); the server finds the object anyway."""
    s3.put_object(Bucket=bucket, Key="dir/a b+c.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="中文.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="lit%20eral", Body=b"x")  # a key that really contains %20
    c = server.client("wos4")
    body = _body(["dir/a%20b%2Bc.txt", "%E4%B8%AD%E6%96%87.txt", "lit%20eral"], ns=False)
    r = assert_ok(c.post(bucket, query="delete", body=body,
                         headers={"Content-MD5": wc.md5_b64(body), "Content-Type": "application/xml"}))
    assert r.ns == wc.WOS_NS
    assert len(wc.xfindall(r.xml(), "Deleted")) == 3
    assert _remaining(s3, bucket) == []


def test_delete_objects_special_keys_boto3(s3, bucket):
    keys = ["a&b", "<lt>", "sp ace", "中文", "q\"uote", "x%2Fy"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"x")
    r = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in r["Deleted"]) == sorted(keys)
    assert _remaining(s3, bucket) == []


def test_delete_objects_missing_bucket(s3, bucket_name):
    expect_client_error(404, "NoSuchBucket", s3.delete_objects, Bucket=bucket_name(),
                        Delete={"Objects": [{"Key": "a"}]})
