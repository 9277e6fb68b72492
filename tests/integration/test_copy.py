"""CopyObject (issue 2 §8)."""
import datetime

import pytest

import wos_client as wc
from conftest import payload
from helpers import (assert_error, assert_ok, expect_client_error, norm_class, parse_http_date, quoted_md5)


def _src(s3, bucket, key="src", data=None, **kw):
    data = payload(10_000) if data is None else data
    s3.put_object(Bucket=bucket, Key=key, Body=data, **kw)
    return data


def test_copy_default_directive_copies_metadata(s3, bucket):
    data = _src(s3, bucket, ContentType="text/x-src", Metadata={"a": "1"}, CacheControl="no-cache",
                ContentDisposition="inline", ContentLanguage="en")
    r = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert r["CopyObjectResult"]["ETag"] == quoted_md5(data)
    lm = r["CopyObjectResult"]["LastModified"]
    assert abs((lm - datetime.datetime.now(datetime.timezone.utc)).total_seconds()) < 300
    h = s3.head_object(Bucket=bucket, Key="dst")
    assert h["ContentType"] == "text/x-src"
    assert h["Metadata"] == {"a": "1"}
    assert h["CacheControl"] == "no-cache"
    assert h["ContentDisposition"] == "inline"
    assert h["ContentLanguage"] == "en"
    assert h["ETag"] == quoted_md5(data)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == data
    # the source is untouched
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == data


def test_copy_replace_directive(s3, bucket):
    data = _src(s3, bucket, ContentType="text/x-src", Metadata={"a": "1"}, CacheControl="no-cache")
    s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="text/x-new")
    h = s3.head_object(Bucket=bucket, Key="dst")
    assert h["Metadata"] == {"b": "2"}
    assert h["ContentType"] == "text/x-new"
    assert "CacheControl" not in h
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == data


def test_copy_onto_itself(s3, bucket):
    data = _src(s3, bucket, Metadata={"a": "1"})
    expect_client_error(400, "InvalidRequest", s3.copy_object, Bucket=bucket, Key="src",
                        CopySource={"Bucket": bucket, "Key": "src"})
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"},
                   MetadataDirective="REPLACE", Metadata={"a": "2", "new": "x"})
    h = s3.head_object(Bucket=bucket, Key="src")
    assert h["Metadata"] == {"a": "2", "new": "x"}
    assert h["ETag"] == quoted_md5(data)
    s3.copy_object(Bucket=bucket, Key="src", CopySource={"Bucket": bucket, "Key": "src"},
                   StorageClass="STANDARD_IA")
    h = s3.head_object(Bucket=bucket, Key="src")
    assert norm_class(h.get("StorageClass")) == "IA"
    assert s3.get_object(Bucket=bucket, Key="src")["Body"].read() == data


def test_copy_onto_itself_wos_replace_changes_class(server, bucket):
    c = server.client("wos4")
    assert_ok(c.put(bucket, "k", b"payload", headers={"x-wos-meta-v": "1"}))
    r = assert_ok(c.put(bucket, "k", b"", headers={"x-wos-copy-source": "/%s/k" % bucket,
                                                   "x-wos-metadata-directive": "REPLACE",
                                                   "x-wos-meta-v": "2", "x-wos-storage-class": "Archive"}))
    assert r.ns == wc.WOS_NS
    assert wc.local(r.xml().tag) == "CopyObjectResult"
    assert wc.xtext(r.xml(), "ETag") == quoted_md5(b"payload")
    h = assert_ok(c.head(bucket, "k"))
    assert h.header("x-wos-meta-v") == "2"
    assert h.header("x-wos-storage-class") == "Archive"


@pytest.mark.parametrize("form", ["leading-slash", "no-slash"])
@pytest.mark.parametrize("key", ["plain", "with space/and 中文", "plus+and%percent"])
def test_copy_source_forms(server, s3, bucket, form, key):
    data = _src(s3, bucket, key=key)
    enc = wc.uri_encode(key, safe="/")
    src = ("/" if form == "leading-slash" else "") + bucket + "/" + enc
    r = assert_ok(server.client("aws4").put(bucket, "dst", b"", headers={"x-amz-copy-source": src}))
    assert r.ns == wc.S3_NS
    assert wc.xtext(r.xml(), "ETag") == quoted_md5(data)
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == data


def test_copy_wos_sdk_style_header(server, s3, bucket):
    """The WOS SDK sends x-wos-copy-source without the leading slash, each part URL-encoded."""
    data = _src(s3, bucket, key="dir/a b.txt")
    r = assert_ok(server.client("wos4").put(bucket, "copy", b"",
                                            headers={"x-wos-copy-source": "%s/dir/a%%20b.txt" % bucket}))
    assert wc.xtext(r.xml(), "ETag") == quoted_md5(data)
    assert r.ns == wc.WOS_NS


def test_copy_across_buckets_and_zero_bytes(s3, bucket, bucket_name):
    other = bucket_name()
    s3.create_bucket(Bucket=other)
    _src(s3, bucket, key="empty", data=b"")
    s3.copy_object(Bucket=other, Key="e", CopySource={"Bucket": bucket, "Key": "empty"})
    g = s3.get_object(Bucket=other, Key="e")
    assert g["Body"].read() == b"" and g["ContentLength"] == 0
    data = _src(s3, bucket, key="big", data=payload(6 << 20))
    s3.copy_object(Bucket=other, Key="b", CopySource={"Bucket": bucket, "Key": "big"})
    assert s3.get_object(Bucket=other, Key="b")["Body"].read() == data


def test_copy_missing_source(s3, bucket, bucket_name):
    _src(s3, bucket)
    s3.copy_object(Bucket=bucket, Key="ok", CopySource={"Bucket": bucket, "Key": "src"})
    expect_client_error(404, "NoSuchKey", s3.copy_object, Bucket=bucket, Key="dst",
                        CopySource={"Bucket": bucket, "Key": "missing"})
    expect_client_error(404, "NoSuchBucket", s3.copy_object, Bucket=bucket, Key="dst",
                        CopySource={"Bucket": bucket_name(), "Key": "src"})


def test_copy_source_without_key_is_invalid(server, s3, bucket):
    _src(s3, bucket)
    c = server.client("aws4")
    assert_ok(c.put(bucket, "dst", b"", headers={"x-amz-copy-source": "/%s/src" % bucket}))
    assert_error(c.put(bucket, "dst", b"", headers={"x-amz-copy-source": bucket}), 400, "InvalidArgument")


def test_copy_source_conditions(server, s3, bucket):
    data = _src(s3, bucket)
    c = server.client("aws4")
    h = assert_ok(c.head(bucket, "src"))
    etag = h.header("ETag")
    lm = parse_http_date(h.header("Last-Modified"))
    before = wc.http_date(lm - datetime.timedelta(hours=1))
    after = wc.http_date(lm + datetime.timedelta(hours=1))
    src = {"x-amz-copy-source": "/%s/src" % bucket}
    cases = [
        ({"x-amz-copy-source-if-match": etag}, 200),
        ({"x-amz-copy-source-if-match": '"0000"'}, 412),
        ({"x-amz-copy-source-if-none-match": '"0000"'}, 200),
        ({"x-amz-copy-source-if-none-match": etag}, 412),
        ({"x-amz-copy-source-if-unmodified-since": after}, 200),
        ({"x-amz-copy-source-if-unmodified-since": before}, 412),
        ({"x-amz-copy-source-if-modified-since": before}, 200),
    ]
    for extra, expected in cases:
        r = c.put(bucket, "dst", b"", headers=dict(src, **extra))
        if expected == 200:
            assert_ok(r)
        else:
            assert_error(r, 412, "PreconditionFailed")
    # WOS spelling of the same conditions
    w = server.client("wos4")
    wsrc = {"x-wos-copy-source": "/%s/src" % bucket}
    assert_ok(w.put(bucket, "dst", b"", headers=dict(wsrc, **{"x-wos-copy-source-if-match": etag})))
    assert_error(w.put(bucket, "dst", b"", headers=dict(wsrc, **{"x-wos-copy-source-if-match": '"00"'})),
                 412, "PreconditionFailed")
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == data


def test_copy_with_sigv2_boto(s3v2, bucket):
    s3v2.put_object(Bucket=bucket, Key="src", Body=b"v2data", Metadata={"m": "1"})
    s3v2.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert s3v2.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"v2data"
    assert s3v2.head_object(Bucket=bucket, Key="dst")["Metadata"] == {"m": "1"}
