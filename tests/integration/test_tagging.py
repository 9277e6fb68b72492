"""Object tagging as S3 has it: Get/Put/DeleteObjectTagging, x-amz-tagging on PutObject,
CreateMultipartUpload and CopyObject (x-amz-tagging-directive), the "tagging" field of a POST form,
x-amz-tagging-count on GetObject and HeadObject (to those who may read the tags), the permissions
(a write that sets tags needs PutObjectTagging too), and S3's refusals. A bucket has no tags: reading them says so, setting them is 501."""
import pytest
import requests

import wos_client as wc
from conftest import make_bucket_name
from helpers import assert_error, assert_ok, expect_client_error
from test_iam import Admin, allow, aws_policy


def _tags(s3, bucket, key):
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]}


def test_put_get_delete_object_tagging(s3, bucket):
    r = s3.put_object(Bucket=bucket, Key="k", Body=b"tagged body")
    etag = r["ETag"]
    lm = s3.head_object(Bucket=bucket, Key="k")["LastModified"]
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")

    tagset = [{"Key": "project", "Value": "blue"}, {"Key": "a b/c:d", "Value": "x+y=z.@_-"}, {"Key": "empty", "Value": ""}]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tagset})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == tagset   # order kept
    g = s3.get_object(Bucket=bucket, Key="k")
    assert g["TagCount"] == 3 and g["Body"].read() == b"tagged body"
    # tags change neither the bytes, the ETag nor Last-Modified; HEAD tells the count too (S3)
    h = s3.head_object(Bucket=bucket, Key="k")
    assert h["ETag"] == etag and h["LastModified"] == lm
    assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "3"

    # a new set replaces the old one whole
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "only", "Value": "1"}]})
    assert _tags(s3, bucket, "k") == {"only": "1"}
    r = s3.delete_object_tagging(Bucket=bucket, Key="k")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.get_object(Bucket=bucket, Key="k")
    # deleting an absent set is fine; an empty TagSet clears
    s3.delete_object_tagging(Bucket=bucket, Key="k")
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "z", "Value": "1"}]})
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": []})
    assert _tags(s3, bucket, "k") == {}


def test_tags_survive_other_changes_and_overwrite_drops_them(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"1", Tagging="t=1")
    s3.put_object_acl(Bucket=bucket, Key="k", ACL="public-read")
    assert _tags(s3, bucket, "k") == {"t": "1"}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "t", "Value": "2"}]})
    assert s3.get_object_acl(Bucket=bucket, Key="k")["Grants"] != []
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in s3.get_object_acl(Bucket=bucket, Key="k")["Grants"])
    # a new PUT without x-amz-tagging is a new object without tags
    s3.put_object(Bucket=bucket, Key="k", Body=b"2")
    assert _tags(s3, bucket, "k") == {}


def test_put_object_with_tagging_header(s3, bucket, raw):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=b&c%20d=e%2Bf&flag")
    assert _tags(s3, bucket, "k") == {"a": "b", "c d": "e+f", "flag": ""}
    assert s3.get_object(Bucket=bucket, Key="k")["TagCount"] == 3
    # both dialects' headers: x-wos-tagging's wins, whatever the order (as every x-wos-/x-amz- pair)
    c = raw("aws4")
    for hdrs in ([("x-amz-tagging", "from=amz"), ("x-wos-tagging", "from=wos")],
                 [("x-wos-tagging", "from=wos"), ("x-amz-tagging", "from=amz")]):
        assert_ok(c.put(bucket, "both", b"y", headers=dict(hdrs)))
        assert _tags(s3, bucket, "both") == {"from": "wos"}


@pytest.mark.parametrize("header, code", [
    ("=", "InvalidArgument"), ("=v", "InvalidArgument"), ("a=1&a=2", "InvalidArgument"),
    ("k=%zz", "InvalidArgument"), ("k=%C3", "InvalidArgument"), ("k=%00", "InvalidArgument"),
    ("a%23=1", "InvalidTag"), ("aws%3Ax=1", "InvalidTag"), ("k=%F0%9F%98%80", "InvalidTag"),
    ("&".join("k%d=v" % i for i in range(11)), "BadRequest"),
])
def test_tagging_header_refusals(s3, bucket, header, code):
    expect_client_error(400, code, s3.put_object, Bucket=bucket, Key="k", Body=b"x", Tagging=header)
    expect_client_error(404, "404", s3.head_object, Bucket=bucket, Key="k")


def test_multipart_upload_takes_its_tags_to_the_object(s3, bucket):
    m = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="stage=raw&n=1")
    p = s3.upload_part(Bucket=bucket, Key="mp", UploadId=m["UploadId"], PartNumber=1, Body=b"y" * 100)
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=m["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    assert _tags(s3, bucket, "mp") == {"stage": "raw", "n": "1"}
    expect_client_error(400, "InvalidArgument", s3.create_multipart_upload, Bucket=bucket, Key="mp2",
                        Tagging="a=1&a=2")


def test_copy_tagging_directive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"src", Tagging="from=src", Metadata={"m": "1"})
    s3.copy_object(Bucket=bucket, Key="c1", CopySource={"Bucket": bucket, "Key": "src"})
    assert _tags(s3, bucket, "c1") == {"from": "src"}
    # COPY is the default whatever the metadata directive says, and ignores x-amz-tagging
    s3.copy_object(Bucket=bucket, Key="c2", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"m": "2"}, Tagging="ignored=1")
    assert _tags(s3, bucket, "c2") == {"from": "src"}
    assert s3.head_object(Bucket=bucket, Key="c2")["Metadata"] == {"m": "2"}
    s3.copy_object(Bucket=bucket, Key="c3", CopySource={"Bucket": bucket, "Key": "src"},
                   TaggingDirective="REPLACE", Tagging="new=1&other=2")
    assert _tags(s3, bucket, "c3") == {"new": "1", "other": "2"}
    assert s3.head_object(Bucket=bucket, Key="c3")["Metadata"] == {"m": "1"}
    s3.copy_object(Bucket=bucket, Key="c4", CopySource={"Bucket": bucket, "Key": "src"}, TaggingDirective="REPLACE")
    assert _tags(s3, bucket, "c4") == {}
    expect_client_error(400, "InvalidArgument", s3.copy_object, Bucket=bucket, Key="c5",
                        CopySource={"Bucket": bucket, "Key": "src"}, TaggingDirective="MERGE")
    # under COPY the request's x-amz-tagging is not read at all, valid or not, whatever the
    # metadata directive; under REPLACE it is checked
    s3.copy_object(Bucket=bucket, Key="c6", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Tagging="=bad")
    assert _tags(s3, bucket, "c6") == {"from": "src"}
    expect_client_error(400, "InvalidArgument", s3.copy_object, Bucket=bucket, Key="c7",
                        CopySource={"Bucket": bucket, "Key": "src"}, TaggingDirective="REPLACE", Tagging="=bad")
    s3.copy_object(Bucket=bucket, Key="c8", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", TaggingDirective="REPLACE", Tagging="both=replaced")
    assert _tags(s3, bucket, "c8") == {"both": "replaced"} and s3.head_object(Bucket=bucket, Key="c8")["Metadata"] == {}
    assert _tags(s3, bucket, "src") == {"from": "src"}


@pytest.mark.parametrize("tagset, code, message", [
    ([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}], "InvalidTag", "Cannot provide multiple Tags with the same key"),
    ([{"Key": "k%d" % i, "Value": "v"} for i in range(11)], "BadRequest", "Object tags cannot be greater than 10"),
    ([{"Key": "aws:owner", "Value": "1"}], "InvalidTag", "Your TagKey cannot be prefixed with aws:"),
    ([{"Key": "a", "Value": "x,y"}], "InvalidTag", "The TagValue you have provided is invalid"),
    ([{"Key": "a#", "Value": "1"}], "InvalidTag", "The TagKey you have provided is invalid"),
    ([{"Key": "a" * 129, "Value": "1"}], "InvalidTag", "The TagKey you have provided is too long, max 128"),
    ([{"Key": "a", "Value": "v" * 257}], "InvalidTag", "The TagValue you have provided is too long, max 256"),
])
def test_put_object_tagging_refusals(s3, bucket, tagset, code, message):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    e = expect_client_error(400, code, s3.put_object_tagging, Bucket=bucket, Key="k", Tagging={"TagSet": tagset})
    assert e.response["Error"]["Message"] == message
    assert _tags(s3, bucket, "k") == {"keep": "me"}


def test_limits_are_inclusive(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    tagset = [{"Key": "k%d" % i, "Value": "v"} for i in range(9)] + [{"Key": "é" * 128, "Value": "ü" * 256}]
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": tagset})
    assert _tags(s3, bucket, "k")["é" * 128] == "ü" * 256


def test_tagging_errors_of_missing_things(s3, bucket):
    expect_client_error(404, "NoSuchKey", s3.get_object_tagging, Bucket=bucket, Key="nope")
    expect_client_error(404, "NoSuchKey", s3.put_object_tagging, Bucket=bucket, Key="nope",
                        Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
    expect_client_error(404, "NoSuchKey", s3.delete_object_tagging, Bucket=bucket, Key="nope")
    expect_client_error(404, "NoSuchBucket", s3.get_object_tagging, Bucket=make_bucket_name("none"), Key="k")
    # bucket tagging is not something wosd has: a bucket has no tag set, and cannot be given one
    expect_client_error(404, "NoSuchTagSet", s3.get_bucket_tagging, Bucket=bucket)
    expect_client_error(501, "NotImplemented", s3.put_bucket_tagging, Bucket=bucket,
                        Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})


def test_malformed_tagging_documents(raw, bucket, s3):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    c = raw("aws4")
    for body in (b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>",   # no Value
                 b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value><Value>2</Value></Tag></TagSet></Tagging>",
                 b"<Tagging><TagSet><Tag><Key>a<b>x</b></Key><Value>1</Value></Tag></TagSet></Tagging>",
                 b"<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value><Extra/></Tag></TagSet></Tagging>",
                 b"<Tagging></Tagging>",                                            # no TagSet
                 b"<Tagging><TagSet><Other/></TagSet></Tagging>",
                 b"not xml at all"):
        assert_error(c.request("PUT", "/%s/k" % bucket, "tagging", None, body), 400, "MalformedXML")
    assert _tags(s3, bucket, "k") == {}


def test_wos_dialect_tagging(raw, bucket, s3):
    c = raw("wos4")
    assert_ok(c.put(bucket, "w", b"wos", headers={"x-wos-tagging": "color=red"}))
    r = assert_ok(c.get(bucket, "w"))
    assert r.header("x-wos-tagging-count") == "1" and r.header("x-amz-tagging-count") is None
    r = assert_ok(c.get(bucket, "w", query="tagging"))
    assert b"<Key>color</Key>" in r.body and wc.WOS_NS.encode() in r.body
    assert _tags(s3, bucket, "w") == {"color": "red"}
    assert_ok(c.delete(bucket, "w", query="tagging"), 204)
    assert _tags(s3, bucket, "w") == {}


def test_tagging_needs_its_own_permission(raw, s3, bucket_name):
    # a public-read-write bucket and a public-read object: anyone may read and write objects,
    # nobody but the owner their tags (S3: ACLs grant GetObject and PutObject, never tagging)
    bucket = bucket_name()
    s3.create_bucket(Bucket=bucket, ACL="public-read-write")
    try:
        _anonymous_and_tags(raw, s3, bucket)
    finally:
        # a public bucket shows in everyone's ListBuckets: not beyond this test
        s3.put_bucket_acl(Bucket=bucket, ACL="private")


def _anonymous_and_tags(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="pub", Body=b"x", ACL="public-read", Tagging="secret=1")
    anon = raw("anon")
    for r in (assert_ok(anon.get(bucket, "pub")), assert_ok(anon.head(bucket, "pub"))):
        assert r.header("x-amz-tagging-count") is None and r.header("x-wos-tagging-count") is None
    assert_error(anon.get(bucket, "pub", query="tagging"), 403, "AccessDenied")
    assert_error(anon.request("PUT", "/%s/pub" % bucket, "tagging", None, b"<Tagging><TagSet/></Tagging>"), 403,
                 "AccessDenied")
    assert_error(anon.delete(bucket, "pub", query="tagging"), 403, "AccessDenied")
    assert _tags(s3, bucket, "pub") == {"secret": "1"}
    # writing an object is allowed; writing it with tags is not
    assert_ok(anon.put(bucket, "anon", b"x"))
    assert_error(anon.put(bucket, "anon2", b"x", headers={"x-amz-tagging": "by=anon"}), 403, "AccessDenied")
    expect_client_error(404, "404", s3.head_object, Bucket=bucket, Key="anon2")


def test_tagging_permissions_of_users(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="a=1")
    arn = "arn:aws:s3:::%s/*" % bucket
    admin = Admin(server)
    plain = admin.user(aws_policy(allow(["s3:GetObject", "s3:PutObject"], arn))).boto()
    tagger = admin.user(aws_policy(allow(["s3:GetObject", "s3:PutObject", "s3:GetObjectTagging",
                                          "s3:PutObjectTagging", "s3:DeleteObjectTagging"], arn))).boto()
    # without the tagging actions: no tag operation, no count, no write that sets tags
    expect_client_error(403, "AccessDenied", plain.get_object_tagging, Bucket=bucket, Key="k")
    expect_client_error(403, "AccessDenied", plain.put_object_tagging, Bucket=bucket, Key="k",
                        Tagging={"TagSet": [{"Key": "b", "Value": "2"}]})
    expect_client_error(403, "AccessDenied", plain.delete_object_tagging, Bucket=bucket, Key="k")
    assert "TagCount" not in plain.get_object(Bucket=bucket, Key="k")
    plain.put_object(Bucket=bucket, Key="p1", Body=b"x")
    expect_client_error(403, "AccessDenied", plain.put_object, Bucket=bucket, Key="p2", Body=b"x", Tagging="b=2")
    expect_client_error(403, "AccessDenied", plain.create_multipart_upload, Bucket=bucket, Key="p3", Tagging="b=2")
    assert _tags(s3, bucket, "k") == {"a": "1"}
    # with them
    assert tagger.get_object(Bucket=bucket, Key="k")["TagCount"] == 1
    tagger.put_object(Bucket=bucket, Key="t1", Body=b"x", Tagging="b=2")
    tagger.put_object_tagging(Bucket=bucket, Key="k", Tagging={"TagSet": [{"Key": "c", "Value": "3"}]})
    assert tagger.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == [{"Key": "c", "Value": "3"}]
    tagger.delete_object_tagging(Bucket=bucket, Key="k")
    assert _tags(s3, bucket, "t1") == {"b": "2"} and _tags(s3, bucket, "k") == {}


def test_post_form_tagging_field(s3, server, bucket):
    doc = "<Tagging><TagSet><Tag><Key>via</Key><Value>form</Value></Tag></TagSet></Tagging>"
    post = s3.generate_presigned_post(bucket, "posted", ExpiresIn=600, Fields={"tagging": doc},
                                      Conditions=[{"tagging": doc}])
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f.txt", b"form body")}, timeout=60)
    assert r.status_code == 204, r.content
    assert _tags(s3, bucket, "posted") == {"via": "form"}
    bad = "<Tagging><TagSet><Tag><Key>a</Key><Value>1</Value></Tag><Tag><Key>a</Key><Value>2</Value></Tag></TagSet></Tagging>"
    post = s3.generate_presigned_post(bucket, "posted2", ExpiresIn=600, Fields={"tagging": bad},
                                      Conditions=[{"tagging": bad}])
    r = requests.post(post["url"], data=post["fields"], files={"file": ("f.txt", b"form body")}, timeout=60)
    assert r.status_code == 400 and wc.error_code(r.content) == "InvalidTag", r.content
    expect_client_error(404, "404", s3.head_object, Bucket=bucket, Key="posted2")
