"""Bucket operations (issue 2 §7, §8 ACL/versioning/NotImplemented)."""
import datetime
import random
import string

import pytest

import wos_client as wc
from helpers import assert_error, assert_ok, client_error, expect_client_error, now_utc


def _rnd(n=6):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def test_create_head_list_delete(s3, bucket_name):
    name = bucket_name()
    r = s3.create_bucket(Bucket=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    lb = s3.list_buckets()
    entry = [b for b in lb["Buckets"] if b["Name"] == name]
    assert len(entry) == 1
    created = entry[0]["CreationDate"]
    assert abs((created - now_utc()).total_seconds()) < 300, created
    assert lb["Owner"]["ID"], lb["Owner"]
    assert "DisplayName" in lb["Owner"], lb["Owner"]
    assert s3.delete_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 204
    st, code, _ = client_error(s3.head_bucket, Bucket=name)
    assert st == 404
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_list_buckets_sorted_and_complete(s3, bucket_name):
    names = [bucket_name("lb-%d" % i) for i in range(3)]
    for n in reversed(names):
        s3.create_bucket(Bucket=n)
    listed = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert set(names) <= set(listed)
    assert listed == sorted(listed), "ListBuckets should be in name order"


def test_create_bucket_twice_is_already_owned_by_you(s3, bucket_name):
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    expect_client_error(409, "BucketAlreadyOwnedByYou", s3.create_bucket, Bucket=name)


def test_create_bucket_with_canned_acl_private(s3, raw, bucket_name):
    name = bucket_name()
    assert s3.create_bucket(Bucket=name, ACL="private")["ResponseMetadata"]["HTTPStatusCode"] == 200
    name2 = bucket_name()
    assert_ok(raw("wos4").create_bucket(name2, headers={"x-wos-acl": "private"}))
    s3.head_bucket(Bucket=name2)


@pytest.mark.parametrize("make", [
    lambda: _rnd(3),                                   # shortest
    lambda: "a" * 57 + _rnd(6),                        # longest (63)
    lambda: "my.bucket." + _rnd(),                     # dots
    lambda: "a-b--c-" + _rnd(),                        # hyphens, even doubled
    lambda: "0123" + "".join(random.choice(string.digits) for _ in range(6)),  # digits only
], ids=["len3", "len63", "dots", "hyphens", "digits"])
def test_valid_bucket_names(raw, make):
    assert_ok(raw("aws4").create_bucket(make()))


@pytest.mark.parametrize("bad", [
    "ab",                      # too short
    "a" * 64,                  # too long
    "Upper" + "case",          # upper case
    "under_score",             # underscore
    "192.168.5.4",             # IP address form
    "-leading-hyphen",
    "trailing-hyphen-",
    "double..dot",
    "dot.-hyphen",
    ".leading-dot",
    "trailing-dot.",
    "xn--punycode-prefix",
    "bucket-s3alias",
])
def test_invalid_bucket_name(raw, bad):
    c = raw("aws4")
    assert_ok(c.create_bucket("ok-" + _rnd(8)))  # the good request first
    assert_error(c.create_bucket(bad), 400, "InvalidBucketName")


def test_head_and_delete_missing_bucket(s3, raw, bucket_name):
    name = bucket_name()
    st, _, _ = client_error(s3.head_bucket, Bucket=name)
    assert st == 404
    expect_client_error(404, "NoSuchBucket", s3.delete_bucket, Bucket=name)
    expect_client_error(404, "NoSuchBucket", s3.list_objects, Bucket=name)
    assert_error(raw("wos4").get(name), 404, "NoSuchBucket")


def test_delete_bucket_not_empty(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    expect_client_error(409, "BucketNotEmpty", s3.delete_bucket, Bucket=bucket)
    s3.delete_object(Bucket=bucket, Key="k")
    assert s3.delete_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_get_bucket_location_default_region(s3, bucket):
    loc = s3.get_bucket_location(Bucket=bucket)
    # us-east-1: S3 answers an empty LocationConstraint (boto3 gives None)
    assert loc.get("LocationConstraint") in (None, "us-east-1"), loc


def test_location_constraint_on_regional_server(wos_server, bucket_name):
    s3r = wos_server.boto()
    name = bucket_name()
    s3r.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "cn-south-1"})
    assert s3r.get_bucket_location(Bucket=name)["LocationConstraint"] == "cn-south-1"
    name2 = bucket_name()
    s3r.create_bucket(Bucket=name2)  # no body: the server's region
    assert s3r.get_bucket_location(Bucket=name2)["LocationConstraint"] == "cn-south-1"
    expect_client_error(400, "IllegalLocationConstraintException", s3r.create_bucket, Bucket=bucket_name(),
                        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})


def test_create_bucket_malformed_body(raw, bucket_name):
    c = raw("aws4")
    good = (b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b"</CreateBucketConfiguration>")
    assert_ok(c.request("PUT", "/" + bucket_name(), body=good))
    assert_error(c.request("PUT", "/" + bucket_name(), body=b"<CreateBucketConfiguration><Loc"), 400,
                 "MalformedXML")


def test_list_buckets_wos_dialect(server, s3, bucket):
    r = assert_ok(server.client("wos4").request("GET", "/"))
    root = r.xml()
    assert r.ns == wc.WOS_NS, r.body[:300]
    assert wc.local(root.tag) == "ListAllMyBucketsResult"
    assert wc.xtext(root, "Owner/ID")
    names = [wc.xtext(b, "Name") for b in wc.xfindall(root, "Buckets/Bucket")]
    assert bucket in names
    for b in wc.xfindall(root, "Buckets/Bucket"):
        assert wc.xtext(b, "CreationDate").endswith("Z")


def test_list_buckets_aws_dialect_namespace(server, bucket):
    r = assert_ok(server.client("aws4").request("GET", "/"))
    assert r.ns == wc.S3_NS
    assert bucket in [wc.xtext(b, "Name") for b in wc.xfindall(r.xml(), "Buckets/Bucket")]


def test_anonymous_list_buckets_denied(server, s3, bucket):
    assert_ok(server.client("aws4").request("GET", "/"))
    assert_error(server.client("anon").request("GET", "/"), 403, "AccessDenied")


def test_get_bucket_versioning_unversioned(s3, bucket):
    r = s3.get_bucket_versioning(Bucket=bucket)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Status" not in r and "MFADelete" not in r, r


def test_list_object_versions_unversioned(s3, bucket):
    keys = ["a", "b/c", "d"]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    s3.put_object(Bucket=bucket, Key="a", Body=b"again")  # overwrite: still one version
    r = s3.list_object_versions(Bucket=bucket)
    versions = r.get("Versions", [])
    assert [v["Key"] for v in versions] == keys
    for v in versions:
        assert v["VersionId"] == "null"
        assert v["IsLatest"] is True
        assert v["ETag"].startswith('"')
    assert not r.get("DeleteMarkers")
    assert versions[0]["ETag"] == '"%s"' % wc.md5_hex(b"again")
    r2 = s3.list_object_versions(Bucket=bucket, Prefix="b/")
    assert [v["Key"] for v in r2.get("Versions", [])] == ["b/c"]


def _check_owner_full_control(acl):
    owner = acl["Owner"]["ID"]
    assert owner
    grants = acl["Grants"]
    assert len(grants) == 1, grants
    g = grants[0]
    assert g["Permission"] == "FULL_CONTROL"
    assert g["Grantee"]["Type"] == "CanonicalUser"
    assert g["Grantee"]["ID"] == owner


def test_get_bucket_and_object_acl(s3, bucket):
    _check_owner_full_control(s3.get_bucket_acl(Bucket=bucket))
    s3.put_object(Bucket=bucket, Key="k", Body=b"v", ACL="private")
    _check_owner_full_control(s3.get_object_acl(Bucket=bucket, Key="k"))
    expect_client_error(404, "NoSuchKey", s3.get_object_acl, Bucket=bucket, Key="missing")


def test_put_object_with_wos_acl_header(server, s3, bucket):
    c = server.client("wos4")
    assert_ok(c.put(bucket, "k", b"v", headers={"x-wos-acl": "private"}))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v"


def test_unimplemented_operation_is_501(server, s3, bucket):
    c = server.client("aws4")
    assert_ok(c.get(bucket, query="location"))
    cfg = (b'<WebsiteConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IndexDocument>'
           b"<Suffix>index.html</Suffix></IndexDocument></WebsiteConfiguration>")
    assert_error(c.request("PUT", "/" + bucket, "website", body=cfg), 501, "NotImplemented")
    # and nothing was changed: there is still no website configuration, the bucket still lists
    assert_error(c.get(bucket, query="website"), 404, "NoSuchWebsiteConfiguration")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


# What wosd does not have, a bucket does not have: reading it says so as S3 does for a bucket
# without it (404 or S3's empty document), deleting it deletes nothing (204), setting it is 501.
NONE_404 = [
    ("get_bucket_cors", "NoSuchCORSConfiguration"),
    ("get_bucket_website", "NoSuchWebsiteConfiguration"),
    ("get_bucket_tagging", "NoSuchTagSet"),
    ("get_bucket_encryption", "ServerSideEncryptionConfigurationNotFoundError"),
    ("get_bucket_replication", "ReplicationConfigurationNotFoundError"),
    ("get_object_lock_configuration", "ObjectLockConfigurationNotFoundError"),
    ("get_public_access_block", "NoSuchPublicAccessBlockConfiguration"),
    ("get_bucket_ownership_controls", "OwnershipControlsNotFoundError"),
]
NONE_EMPTY = [
    ("get_bucket_logging", {}),
    ("get_bucket_notification_configuration", {}),
    ("get_bucket_request_payment", {"Payer": "BucketOwner"}),
    ("get_bucket_accelerate_configuration", {}),
]
NONE_DELETE = ["delete_bucket_cors", "delete_bucket_website", "delete_bucket_tagging", "delete_bucket_encryption",
               "delete_bucket_replication", "delete_public_access_block", "delete_bucket_ownership_controls"]


def test_configurations_wosd_does_not_have(s3, bucket, bucket_name):
    for fn, code in NONE_404:
        expect_client_error(404, code, getattr(s3, fn), Bucket=bucket)
        expect_client_error(404, "NoSuchBucket", getattr(s3, fn), Bucket=bucket_name("none"))
    for fn, want in NONE_EMPTY:
        r = getattr(s3, fn)(Bucket=bucket)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200, fn
        r.pop("ResponseMetadata")
        assert r == want, (fn, r)
    for fn in NONE_DELETE:
        assert getattr(s3, fn)(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204, fn
    # setting one is refused, and leaves none behind
    for fn, kw in (("put_bucket_cors", {"CORSConfiguration": {"CORSRules": [{"AllowedMethods": ["GET"],
                                                                            "AllowedOrigins": ["*"]}]}}),
                   ("put_bucket_tagging", {"Tagging": {"TagSet": [{"Key": "a", "Value": "1"}]}}),
                   ("put_bucket_encryption", {"ServerSideEncryptionConfiguration": {"Rules": [
                       {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}}),
                   ("put_public_access_block", {"PublicAccessBlockConfiguration": {"BlockPublicAcls": True}})):
        expect_client_error(501, "NotImplemented", getattr(s3, fn), Bucket=bucket, **kw)
    expect_client_error(404, "NoSuchCORSConfiguration", s3.get_bucket_cors, Bucket=bucket)
    expect_client_error(404, "NoSuchTagSet", s3.get_bucket_tagging, Bucket=bucket)


def test_other_requests_on_those_sub_resources_stay_501(server, s3, bucket):
    """Only GET and DELETE of a bucket's configuration are answered: DELETE of one S3 has no
    DELETE for must not fall through to DeleteBucket, and an object's ?cors is nothing."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    c = server.client("aws4")
    for sub in ("logging", "notification", "requestPayment", "accelerate", "object-lock"):
        assert_error(c.delete(bucket, query=sub), 501, "NotImplemented")
    for sub in ("cors", "website", "encryption", "logging"):
        assert_error(c.get(bucket, "k", query=sub), 501, "NotImplemented")
        assert_error(c.request("PUT", "/" + bucket, sub, body=b"<x/>"), 501, "NotImplemented")
    assert_error(c.head(bucket, query="cors"), 501, None)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"   # the bucket is still there


def test_configurations_wosd_does_not_have_in_wos_dialect_and_by_permission(server, bucket):
    from test_iam import Admin, allow, aws_policy
    r = assert_ok(server.client("wos4").get(bucket, query="requestPayment"))
    assert wc.WOS_NS.encode() in r.body and b"<Payer>BucketOwner</Payer>" in r.body
    assert_error(server.client("wos4").get(bucket, query="cors"), 404, "NoSuchCORSConfiguration")
    # each has its own action: anonymous and a user without it are refused, one with it is not
    assert_error(server.client("anon").get(bucket, query="cors"), 403, "AccessDenied")
    admin = Admin(server)
    reader = admin.user(aws_policy(allow("s3:GetObject", "arn:aws:s3:::%s/*" % bucket))).raw()
    assert_error(reader.get(bucket, query="cors"), 403, "AccessDenied")
    assert_error(reader.delete(bucket, query="cors"), 403, "AccessDenied")
    cors = admin.user(aws_policy(allow(["s3:GetBucketCORS", "s3:PutBucketCORS"], "arn:aws:s3:::" + bucket))).raw()
    assert_error(cors.get(bucket, query="cors"), 404, "NoSuchCORSConfiguration")
    assert_ok(cors.delete(bucket, query="cors"), 204)
    assert_error(cors.get(bucket, query="website"), 403, "AccessDenied")
