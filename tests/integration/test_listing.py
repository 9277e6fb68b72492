"""ListObjects v1 and v2 (issue 2 §8)."""
import concurrent.futures
import time
import urllib.parse

import pytest

import wos_client as wc
from conftest import make_bucket_name
from helpers import assert_error, assert_ok, expect_client_error, norm_class

KEYS = sorted(["a", "b/1", "b/2", "b/c/3", "b/c/4", "c", "d/e/f", "h h", "plus+key", "pct%20key", "é",
               "z~", "中文/键"])


@pytest.fixture(scope="module")
def lbucket(server):
    s3 = server.boto()
    name = make_bucket_name("listing")
    s3.create_bucket(Bucket=name)
    for k in KEYS:
        s3.put_object(Bucket=name, Key=k, Body=k.encode())
    return name


N_BIG = 2500


def _big_key(i):
    return "p%d/k%05d" % (i % 5, i)


@pytest.fixture(scope="module")
def big_bucket(server):
    s3 = server.boto(max_pool_connections=16)
    name = make_bucket_name("big-listing")
    s3.create_bucket(Bucket=name)
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        list(ex.map(lambda i: s3.put_object(Bucket=name, Key=_big_key(i), Body=b"%d" % i), range(N_BIG)))
    return name


# ------------------------------------------------------------------------------------ v1


def test_v1_all(s3, lbucket):
    r = s3.list_objects(Bucket=lbucket)
    assert [o["Key"] for o in r["Contents"]] == KEYS
    assert r["IsTruncated"] is False
    assert r["Name"] == lbucket
    assert r["MaxKeys"] == 1000
    for o in r["Contents"]:
        assert o["ETag"] == '"%s"' % wc.md5_hex(o["Key"].encode())
        assert o["Size"] == len(o["Key"].encode())
        assert norm_class(o["StorageClass"]) == "Standard"
        assert o["Owner"]["ID"]


def test_v1_prefix(s3, lbucket):
    r = s3.list_objects(Bucket=lbucket, Prefix="b/")
    assert [o["Key"] for o in r["Contents"]] == ["b/1", "b/2", "b/c/3", "b/c/4"]
    assert r["Prefix"] == "b/"
    r = s3.list_objects(Bucket=lbucket, Prefix="nothing-here")
    assert "Contents" not in r and "CommonPrefixes" not in r


def test_v1_delimiter(s3, lbucket):
    r = s3.list_objects(Bucket=lbucket, Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == [k for k in KEYS if "/" not in k]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/", "d/", "中文/"]
    assert r["Delimiter"] == "/"
    r = s3.list_objects(Bucket=lbucket, Delimiter="/", Prefix="b/")
    assert [o["Key"] for o in r["Contents"]] == ["b/1", "b/2"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["b/c/"]


def test_v1_other_delimiter(s3, bucket):
    for k in ["x-1", "x-2", "y", "z-a-b"]:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    r = s3.list_objects(Bucket=bucket, Delimiter="-")
    assert [o["Key"] for o in r["Contents"]] == ["y"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["x-", "z-"]


def test_v1_marker_and_max_keys(s3, lbucket):
    r = s3.list_objects(Bucket=lbucket, Marker="b/2")
    assert [o["Key"] for o in r["Contents"]] == [k for k in KEYS if k > "b/2"]
    assert r["Marker"] == "b/2"
    r = s3.list_objects(Bucket=lbucket, MaxKeys=3)
    assert [o["Key"] for o in r["Contents"]] == KEYS[:3]
    assert r["IsTruncated"] is True
    assert r["MaxKeys"] == 3
    r = s3.list_objects(Bucket=lbucket, MaxKeys=2, Delimiter="/")
    assert r["IsTruncated"] is True
    assert r["NextMarker"] == "b/"  # the last key or common prefix returned


def test_v1_pagination_with_delimiter_no_duplicates(s3, lbucket):
    keys, prefixes = [], []
    for page in s3.get_paginator("list_objects").paginate(Bucket=lbucket, Delimiter="/",
                                                          PaginationConfig={"PageSize": 1}):
        keys += [o["Key"] for o in page.get("Contents", [])]
        prefixes += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        assert len(page.get("Contents", [])) + len(page.get("CommonPrefixes", [])) <= 1
    assert keys == [k for k in KEYS if "/" not in k]
    assert prefixes == ["b/", "d/", "中文/"]


def test_v1_wos_dialect_xml(server, lbucket):
    r = assert_ok(server.client("wos4").get(lbucket, query="prefix=b%2F&max-keys=2"))
    root = r.xml()
    assert r.ns == wc.WOS_NS
    assert r.body.startswith(wc.WOS_XML_DECL), r.body[:100]
    assert wc.local(root.tag) == "ListBucketResult"
    assert wc.xtext(root, "Name") == lbucket
    assert wc.xtext(root, "Prefix") == "b/"
    assert wc.xtext(root, "MaxKeys") == "2"
    assert wc.xtext(root, "IsTruncated") == "true"
    contents = wc.xfindall(root, "Contents")
    assert [wc.xtext(c, "Key") for c in contents] == ["b/1", "b/2"]
    for c in contents:
        assert wc.xtext(c, "ETag").startswith('"')
        assert wc.xtext(c, "LastModified").endswith("Z")
        assert wc.xtext(c, "StorageClass") == "Standard"
        assert wc.xtext(c, "Size") == "3"


def test_v1_aws_dialect_namespace(server, lbucket):
    r = assert_ok(server.client("aws4").get(lbucket))
    assert r.ns == wc.S3_NS
    assert [wc.xtext(c, "Key") for c in wc.xfindall(r.xml(), "Contents")] == KEYS


# ------------------------------------------------------------------------------------ v2


def test_v2_basic_and_key_count(s3, lbucket):
    r = s3.list_objects_v2(Bucket=lbucket)
    assert [o["Key"] for o in r["Contents"]] == KEYS
    assert r["KeyCount"] == len(KEYS)
    assert r["IsTruncated"] is False
    assert "NextContinuationToken" not in r
    assert all("Owner" not in o for o in r["Contents"]), "v2 omits Owner unless fetch-owner=true"
    r = s3.list_objects_v2(Bucket=lbucket, FetchOwner=True)
    assert all(o["Owner"]["ID"] for o in r["Contents"])
    r = s3.list_objects_v2(Bucket=lbucket, Delimiter="/")
    assert r["KeyCount"] == len([k for k in KEYS if "/" not in k]) + 3


def test_v2_start_after_and_continuation(s3, lbucket):
    r = s3.list_objects_v2(Bucket=lbucket, StartAfter="c")
    assert [o["Key"] for o in r["Contents"]] == [k for k in KEYS if k > "c"]
    assert r["StartAfter"] == "c"
    seen = []
    token = None
    while True:
        kw = {"Bucket": lbucket, "MaxKeys": 4}
        if token:
            kw["ContinuationToken"] = token
        r = s3.list_objects_v2(**kw)
        seen += [o["Key"] for o in r.get("Contents", [])]
        assert r["KeyCount"] == len(r.get("Contents", []))
        if token:
            assert r["ContinuationToken"] == token
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            break
        token = r["NextContinuationToken"]
        assert token
    assert seen == KEYS


def test_v2_invalid_continuation_token(s3, lbucket):
    s3.list_objects_v2(Bucket=lbucket, MaxKeys=1)
    expect_client_error(400, "InvalidArgument", s3.list_objects_v2, Bucket=lbucket,
                        ContinuationToken="!!not-a-token!!")


def test_encoding_type_url_raw(server, lbucket):
    c = server.client("aws4")
    r = assert_ok(c.get(lbucket, query="encoding-type=url"))
    root = r.xml()
    assert wc.xtext(root, "EncodingType") == "url"
    raw_keys = [wc.xtext(e, "Key") for e in wc.xfindall(root, "Contents")]
    assert [urllib.parse.unquote_plus(k) for k in raw_keys] == KEYS
    assert "é" not in "".join(raw_keys) and "h h" not in raw_keys
    assert "plus+key" not in raw_keys  # '+' must be escaped or it would decode as a space
    r = assert_ok(c.get(lbucket, query="list-type=2&encoding-type=url&prefix=%E4%B8%AD&delimiter=%2F"))
    root = r.xml()
    assert [urllib.parse.unquote_plus(wc.xtext(p, "Prefix")) for p in wc.xfindall(root, "CommonPrefixes")] == \
        ["中文/"]
    # without encoding-type the keys are literal XML text
    r = assert_ok(c.get(lbucket, query="list-type=2"))
    assert [wc.xtext(e, "Key") for e in wc.xfindall(r.xml(), "Contents")] == KEYS


def test_boto3_listing_special_keys(s3, lbucket):
    # botocore asks for encoding-type=url and decodes; the keys must come back exactly
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=lbucket)["Contents"]] == KEYS
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=lbucket, Prefix="中文/")["Contents"]] == ["中文/键"]


def test_list_missing_bucket(s3, server):
    name = make_bucket_name("missing")
    expect_client_error(404, "NoSuchBucket", s3.list_objects_v2, Bucket=name)
    assert_error(server.client("wos4").get(name), 404, "NoSuchBucket")


def test_wos_start_time_end_time(server, bucket):
    c = server.client("wos4")
    assert_ok(c.put(bucket, "old", b"1"))
    time.sleep(1.2)
    mid = int(time.time() * 1000)
    time.sleep(1.2)
    assert_ok(c.put(bucket, "new", b"2"))

    def keys(q):
        r = assert_ok(c.get(bucket, query=q))
        return [wc.xtext(e, "Key") for e in wc.xfindall(r.xml(), "Contents")]

    assert keys("") == ["new", "old"]
    assert keys("start-time=%d" % mid) == ["new"]
    assert keys("end-time=%d" % mid) == ["old"]
    assert keys("start-time=%d&end-time=%d" % (mid - 100000, mid + 100000)) == ["new", "old"]


# ------------------------------------------------------------------------------------ 2500 keys


def test_paginate_2500_v1(s3, big_bucket):
    keys = []
    pages = 0
    for page in s3.get_paginator("list_objects").paginate(Bucket=big_bucket):
        pages += 1
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert pages == 3
    assert keys == sorted(_big_key(i) for i in range(N_BIG))


def test_paginate_2500_v2_page_size(s3, big_bucket):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=big_bucket,
                                                             PaginationConfig={"PageSize": 333}):
        assert page["KeyCount"] <= 333
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert keys == sorted(_big_key(i) for i in range(N_BIG))


def test_2500_delimiter_folds_prefixes(s3, big_bucket):
    r = s3.list_objects_v2(Bucket=big_bucket, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["p0/", "p1/", "p2/", "p3/", "p4/"]
    assert r["KeyCount"] == 5 and r["IsTruncated"] is False and "Contents" not in r
    r = s3.list_objects_v2(Bucket=big_bucket, Prefix="p3/", MaxKeys=1000)
    assert r["KeyCount"] == 500 and r["IsTruncated"] is False


def test_max_keys_capped_at_1000(s3, server, big_bucket):
    r = s3.list_objects_v2(Bucket=big_bucket, MaxKeys=5000)
    assert r["KeyCount"] == 1000 and r["IsTruncated"] is True
    r = s3.list_objects(Bucket=big_bucket, MaxKeys=5000)
    assert len(r["Contents"]) == 1000 and r["IsTruncated"] is True
    r = s3.list_objects_v2(Bucket=big_bucket, MaxKeys=0)
    assert r["KeyCount"] == 0 and "Contents" not in r
