"""The two dialects (DESIGN.md "Decisions that matter"): AWS-signed requests get S3 answers, every other
request (WOS-HMAC-SHA256, WOS V2 header, X-Wos-* and V2 query presigning, anonymous) gets WOS answers.
Runs against a WOS-flavoured server: region cn-south-1, --domain s3-cn-south-1.wcsapi.com."""
import datetime

import pytest

import wos_client as wc
from conftest import make_bucket_name, payload
from helpers import SDNM_MESSAGE, assert_common_headers, assert_error, assert_ok

WOS_DOMAIN = "s3-cn-south-1.wcsapi.com"
WOS_SCHEMES = ["wos4", "wos2", "wos4-presign", "v2-presign", "wos-v2-presign"]
AWS_SCHEMES = ["aws4", "aws2", "aws4-presign"]


@pytest.fixture(scope="module")
def wb(wos_server):
    """A bucket on the WOS server with 'obj' (IA, x-wos-meta-color: red)."""
    name = make_bucket_name("wos")
    c = wos_server.client("wos4")
    assert_ok(c.create_bucket(name))
    assert_ok(c.put(name, "obj", b"wos object", headers={"x-wos-storage-class": "IA", "x-wos-meta-color": "red",
                                                          "Content-Type": "text/plain"}))
    return name


def _expected_ns(scheme):
    return wc.S3_NS if scheme in AWS_SCHEMES else wc.WOS_NS


def test_documented_worked_example_shape(wos_server, wb):
    """DELETE /mine-type.mp4 on Host bucket.s3-cn-south-1.wcsapi.com with an unsigned Range header,
    signed exactly like the documented example (region cn-south-1, hashed empty body)."""
    c = wos_server.client("wos4")
    host = "%s.%s" % (wb, WOS_DOMAIN)
    assert_ok(c.put(wb, "mine-type.mp4", b"0123456789abcdef"))
    r = c.request("DELETE", "/mine-type.mp4", headers=[("Host", host), ("Range", "0-9")],
                  signed_headers=["host", "x-wos-content-sha256", "x-wos-date"], payload=wc.EMPTY_SHA256)
    assert r.status == 204, r
    assert_error(c.get(wb, "mine-type.mp4"), 404, "NoSuchKey")


def test_wos_virtual_host_requests(wos_server, wb):
    c = wos_server.client("wos4")
    host = "%s.%s" % (wb, WOS_DOMAIN)
    assert_ok(c.request("PUT", "/vh/key.txt", headers=[("Host", host)], body=b"vhost"))
    r = assert_ok(c.request("GET", "/vh/key.txt", headers=[("Host", host)]))
    assert r.body == b"vhost"
    r = assert_ok(c.request("GET", "/", "prefix=vh%2F", headers=[("Host", host)]))
    assert wc.xtext(r.xml(), "Name") == wb
    assert [wc.xtext(e, "Key") for e in wc.xfindall(r.xml(), "Contents")] == ["vh/key.txt"]
    # the second --domain works the same way
    r = assert_ok(c.request("GET", "/vh/key.txt", headers=[("Host", "%s.s3.local.test:%d" % (wb, wos_server.port))]))
    assert r.body == b"vhost"
    # the V2 header signs /bucket/key for a virtual-host request
    v2 = wos_server.client("wos2")
    r = assert_ok(v2.request("GET", "/vh/key.txt", headers=[("Host", host)], vhost_bucket=wb))
    assert r.body == b"vhost"
    # GetService on the region endpoint itself
    r = assert_ok(c.request("GET", "/", headers=[("Host", WOS_DOMAIN)]))
    assert wc.local(r.xml().tag) == "ListAllMyBucketsResult"
    assert wb in [wc.xtext(b, "Name") for b in wc.xfindall(r.xml(), "Buckets/Bucket")]


def test_wos_region_checked(wos_server, wb):
    c = wos_server.client("wos4")
    assert_ok(c.get(wb, "obj"))
    r = c.get(wb, "obj", sign={"region": "cn-east-1"})
    assert_error(r, 400, "AuthorizationHeaderMalformed",
                 message_contains="the region 'cn-east-1' is wrong; expecting 'cn-south-1'")


@pytest.mark.parametrize("scheme", WOS_SCHEMES + AWS_SCHEMES)
def test_list_objects_namespace_and_declaration(wos_server, wb, scheme):
    r = assert_ok(wos_server.client(scheme).get(wb))
    assert r.ns == _expected_ns(scheme), (scheme, r.body[:200])
    if scheme in WOS_SCHEMES:
        assert r.body.startswith(wc.WOS_XML_DECL), r.body[:100]
    else:
        assert r.body.startswith(b'<?xml version="1.0" encoding="UTF-8"'), r.body[:100]
    assert "obj" in [wc.xtext(e, "Key") for e in wc.xfindall(r.xml(), "Contents")]


@pytest.mark.parametrize("scheme", ["wos4", "wos2", "aws4", "aws2"])
def test_other_documents_namespace(wos_server, wb, scheme):
    c = wos_server.client(scheme)
    ns = _expected_ns(scheme)
    assert assert_ok(c.request("GET", "/")).ns == ns                       # ListAllMyBucketsResult
    assert assert_ok(c.get(wb, query="list-type=2")).ns == ns              # ListBucketResult v2
    assert assert_ok(c.get(wb, query="location")).ns == ns                 # LocationConstraint
    assert assert_ok(c.get(wb, query="acl")).ns == ns                      # AccessControlPolicy
    assert assert_ok(c.get(wb, query="versioning")).ns == ns               # VersioningConfiguration
    key = "copy-" + scheme
    prefix = "x-amz-" if scheme.startswith("aws") else "x-wos-"
    r = assert_ok(c.put(wb, key, b"", headers={prefix + "copy-source": "/%s/obj" % wb}))
    assert r.ns == ns and wc.local(r.xml().tag) == "CopyObjectResult"
    body = b"<Delete><Object><Key>%s</Key></Object></Delete>" % key.encode()
    r = assert_ok(c.post(wb, query="delete", body=body, headers={"Content-MD5": wc.md5_b64(body)}))
    assert r.ns == ns and wc.local(r.xml().tag) == "DeleteResult"


@pytest.mark.parametrize("scheme", WOS_SCHEMES + AWS_SCHEMES)
def test_head_headers_in_dialect(wos_server, wb, scheme):
    r = assert_ok(wos_server.client(scheme).head(wb, "obj"))
    assert_common_headers(r)
    if scheme in WOS_SCHEMES:
        assert r.header("x-wos-storage-class") == "IA"
        assert r.header("x-wos-meta-color") == "red"
        assert r.header("x-amz-meta-color") is None
    else:
        assert r.header("x-amz-meta-color") == "red"
        assert r.header("x-wos-meta-color") is None
        assert r.header("x-amz-storage-class") in ("IA", "STANDARD_IA")


@pytest.mark.parametrize("scheme", WOS_SCHEMES + AWS_SCHEMES)
def test_content_md5_mismatch_by_dialect(wos_server, wb, scheme):
    c = wos_server.client(scheme)
    data = payload(1000)
    assert_ok(c.put(wb, "md5-" + scheme, data, headers={"Content-MD5": wc.md5_b64(data)}))
    r = c.put(wb, "md5-bad-" + scheme, data, headers={"Content-MD5": wc.md5_b64(data + b"x")})
    if scheme in AWS_SCHEMES:
        assert_error(r, 400, "BadDigest")
    else:
        assert_error(r, 403, "SignatureDoesNotMatch", message=SDNM_MESSAGE)
    assert_error(wos_server.client("wos4").get(wb, "md5-bad-" + scheme), 404, "NoSuchKey")


@pytest.mark.parametrize("scheme", ["wos4", "aws4"])
def test_invalid_content_md5_is_invalid_digest_in_both(wos_server, wb, scheme):
    c = wos_server.client(scheme)
    assert_error(c.put(wb, "inv", b"abc", headers={"Content-MD5": "%%%"}), 400, "InvalidDigest")


def test_anonymous_gets_wos_error(wos_server, wb):
    r = wos_server.client("anon").get(wb, "obj")
    assert_error(r, 403, "AccessDenied")
    assert_common_headers(r)


def test_wos_storage_class_in_wos_listing(wos_server, wb):
    r = assert_ok(wos_server.client("wos4").get(wb, query="prefix=obj"))
    assert [wc.xtext(e, "StorageClass") for e in wc.xfindall(r.xml(), "Contents")] == ["IA"]


def test_boto3_on_wos_server(wos_server, wb):
    s3 = wos_server.boto()
    assert s3.get_object(Bucket=wb, Key="obj")["Body"].read() == b"wos object"
    assert s3.head_object(Bucket=wb, Key="obj")["Metadata"] == {"color": "red"}
