"""Offline checks of the test client's signers against published and derived vectors.
No server needed: if these fail, every other test's verdict is suspect."""
import datetime

import pytest
from botocore.auth import HmacV1Auth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import wos_client as wc

WOS_AK = "2cd1baf7681435ce4a298e9df3eb36958e725394"
WOS_SK = "968d43bc594af8622923d0681ddc367b35a8b23b"
AWS_AK = "AKIAIOSFODNN7EXAMPLE"
AWS_SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def test_wos_v4_header_worked_example():
    """WOS-API.md §2.2: the documented worked example, signature 0243fe33…dc6a."""
    headers = [
        ("Host", "wcstest-r9-private.s3-cn-south-1.wcsapi.com"),
        ("Range", "0-9"),
        ("x-wos-content-sha256", wc.EMPTY_SHA256),
        ("x-wos-date", "20201103T104419Z"),
    ]
    signed = ["host", "x-wos-content-sha256", "x-wos-date"]
    creq = wc.v4_canonical_request("DELETE", "/mine-type.mp4", "", headers, signed, wc.EMPTY_SHA256)
    assert creq == (
        "DELETE\n/mine-type.mp4\n\n"
        "host:wcstest-r9-private.s3-cn-south-1.wcsapi.com\n"
        "x-wos-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
        "x-wos-date:20201103T104419Z\n\n"
        "host;x-wos-content-sha256;x-wos-date\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    sts = wc.v4_string_to_sign(wc.WOS4, "20201103T104419Z", "20201103/cn-south-1/wos/wos_request", creq)
    assert sts.endswith("55f35c488a08877ce1bec27b2d852b4d242a135df3e9bc3bd60be027df455216")
    sig = wc.v4_signature(wc.WOS4, WOS_SK, "cn-south-1", "20201103T104419Z", creq)
    assert sig == "0243fe336dc075f95add64c5fe980ae6fd0446b243e0f301e4ad75d32d96dc6a"


def test_wos_v4_header_via_client_sign():
    """The same example through Client.sign (what the integration tests use)."""
    c = wc.Client("127.0.0.1", 1, WOS_AK, WOS_SK, region="cn-south-1", scheme="wos4")
    dt = datetime.datetime(2020, 11, 3, 10, 44, 19, tzinfo=datetime.timezone.utc)
    target, hl = c.sign("DELETE", "/mine-type.mp4", "", [("Range", "0-9")], b"",
                        host="wcstest-r9-private.s3-cn-south-1.wcsapi.com", date=dt,
                        signed_headers=["host", "x-wos-content-sha256", "x-wos-date"])
    auth = dict(hl)["Authorization"]
    assert auth == ("WOS-HMAC-SHA256 Credential=%s/20201103/cn-south-1/wos/wos_request, "
                    "SignedHeaders=host;x-wos-content-sha256;x-wos-date, "
                    "Signature=0243fe336dc075f95add64c5fe980ae6fd0446b243e0f301e4ad75d32d96dc6a" % WOS_AK)
    assert target == "/mine-type.mp4"


def test_wos_v4_presign_derived_example():
    """WOS-API.md §2.4 derived example: X-Wos-Signature fc6306b7…3a58."""
    c = wc.Client("127.0.0.1", 1, WOS_AK, WOS_SK, region="cn-south-1", scheme="wos4-presign")
    dt = datetime.datetime(2020, 11, 3, 10, 44, 19, tzinfo=datetime.timezone.utc)
    target, _ = c.sign("GET", "/mine-type.mp4", "", None, b"",
                       host="wcstest-r9-private.s3-cn-south-1.wcsapi.com", date=dt, expires=300)
    assert target == (
        "/mine-type.mp4?X-Wos-Algorithm=WOS-HMAC-SHA256&X-Wos-Credential=2cd1baf7681435ce4a298e9df3eb3695"
        "8e725394%2F20201103%2Fcn-south-1%2Fwos%2Fwos_request&X-Wos-Date=20201103T104419Z&X-Wos-Expires=300"
        "&X-Wos-SignedHeaders=host"
        "&X-Wos-Signature=fc6306b74766f648783f601dbb2979eb82bfb3d2769cb38bcd9ee949653b3a58")


def test_wos_v2_seed_page_derived_example():
    """WOS-API.md §2.6: the seed page request signed with the V2 WOS scheme."""
    sts = wc.v2_string_to_sign("POST", [("Date", "Mon, 1 Apr 2017 20:34:56 GMT")],
                               wc.v2_canonical_resource("/objectkey", "uploads", vhost_bucket="bucket01"),
                               prefix="x-wos-")
    assert sts == "POST\n\n\nMon, 1 Apr 2017 20:34:56 GMT\n/bucket01/objectkey?uploads"
    assert wc.v2_signature(WOS_SK, sts) == "56eMLhjXYjJ7ksAX5BAXev4XU7c="
    c = wc.Client("127.0.0.1", 1, WOS_AK, WOS_SK, scheme="wos2")
    _, hl = c.sign("POST", "/objectkey", "uploads", [("Date", "Mon, 1 Apr 2017 20:34:56 GMT")],
                   host="bucket01.s3-cn-east-1.wcsapi.com", vhost_bucket="bucket01")
    assert dict(hl)["Authorization"] == "WOS %s:56eMLhjXYjJ7ksAX5BAXev4XU7c=" % WOS_AK


def test_wos_v2_put_with_headers_derived_example():
    headers = [("Content-Type", "text/plain"), ("Date", "Mon, 1 Apr 2017 20:34:56 GMT"),
               ("x-wos-storage-class", "IA"), ("X-Wos-Meta-A", "1"), ("x-amz-meta-ignored", "z")]
    sts = wc.v2_string_to_sign("PUT", headers, "/bucket01/dir/a.txt", prefix="x-wos-")
    assert sts == ("PUT\n\ntext/plain\nMon, 1 Apr 2017 20:34:56 GMT\nx-wos-meta-a:1\n"
                   "x-wos-storage-class:IA\n/bucket01/dir/a.txt")
    assert wc.v2_signature(WOS_SK, sts) == "qmJL40xg1E+mB0G2/hOjoU7TIYs="


def test_v2_presign_derived_example():
    """WOS-API.md §2.7: Signature=HzfspVysRz608YdD6SQ%2FTht%2BKfk%3D."""
    c = wc.Client("127.0.0.1", 1, WOS_AK, WOS_SK, scheme="v2-presign")
    target, _ = c.sign("GET", "/dir/a.txt", "", None, host="bucket01.s3-cn-east-1.wcsapi.com",
                       vhost_bucket="bucket01", expires=1639390003)
    assert target == ("/dir/a.txt?AWSAccessKeyId=%s&Expires=1639390003"
                      "&Signature=HzfspVysRz608YdD6SQ%%2FTht%%2BKfk%%3D" % WOS_AK)
    c2 = c.with_scheme("wos-v2-presign")
    target2, _ = c2.sign("GET", "/dir/a.txt", "", None, vhost_bucket="bucket01", expires=1639390003)
    assert "WOSAccessKeyId=%s&" % WOS_AK in target2 and target2.endswith("HzfspVysRz608YdD6SQ%2FTht%2BKfk%3D")


def test_aws_sigv4_published_get_object_example():
    """AWS S3 docs, 'Example: GET Object' (Signature Version 4, header)."""
    headers = [("Host", "examplebucket.s3.amazonaws.com"), ("Range", "bytes=0-9"),
               ("x-amz-content-sha256", wc.EMPTY_SHA256), ("x-amz-date", "20130524T000000Z")]
    creq = wc.v4_canonical_request("GET", "/test.txt", "", headers,
                                   ["host", "range", "x-amz-content-sha256", "x-amz-date"], wc.EMPTY_SHA256)
    assert wc.v4_signature(wc.AWS4, AWS_SK, "us-east-1", "20130524T000000Z", creq) == \
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"


def test_aws_sigv4_published_presign_example():
    """AWS S3 docs, presigned GET /test.txt, 86400 s: signature aeeed9bb…d404."""
    q = wc.v4_presign_query(wc.AWS4, AWS_AK, AWS_SK, "us-east-1", "GET", "/test.txt", "",
                            [("Host", "examplebucket.s3.amazonaws.com")], ["host"], 86400, "20130524T000000Z")
    assert q.endswith("X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")


def test_aws_streaming_chunk_signatures_published_example():
    """AWS 'Signature Calculations … in Multiple Chunks' example: chunk signatures."""
    headers = [("Host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"),
               ("x-amz-storage-class", "REDUCED_REDUNDANCY"), ("Content-Encoding", "aws-chunked"),
               ("Content-Length", "66824"), ("x-amz-content-sha256", wc.STREAMING_SIGNED),
               ("x-amz-decoded-content-length", "66560")]
    sn = sorted(n.lower() for n, _ in headers)
    creq = wc.v4_canonical_request("PUT", "/examplebucket/chunkObject.txt", "", headers, sn, wc.STREAMING_SIGNED)
    seed = wc.v4_signature(wc.AWS4, AWS_SK, "us-east-1", "20130524T000000Z", creq)
    assert seed == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    expected = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]
    prev = seed
    for chunk, exp in zip([b"a" * 65536, b"a" * 1024, b""], expected):
        prev = wc.v4_chunk_signature(AWS_SK, "us-east-1", "20130524T000000Z", prev, chunk)
        assert prev == exp


def test_aws_sigv2_published_example():
    """AWS S3 SigV2 docs, 'Object GET' (bucket awsexamplebucket1)."""
    sts = wc.v2_string_to_sign("GET", [("Date", "Tue, 27 Mar 2007 19:36:42 +0000")],
                               "/awsexamplebucket1/photos/puppy.jpg")
    assert wc.v2_signature(AWS_SK, sts) == "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="


@pytest.mark.parametrize("method,path,query,extra", [
    ("GET", "/bkt/a%20b/c%2Bd", "", {}),
    ("PUT", "/bkt/k", "partNumber=3&uploadId=ABC", {"Content-Type": "text/plain", "x-amz-meta-Foo": " b  a "}),
    ("GET", "/bkt", "list-type=2&prefix=a%2Fb&max-keys=3", {}),
    ("POST", "/bkt/k", "uploads=", {"x-amz-storage-class": "STANDARD_IA"}),
])
def test_sigv4_matches_botocore(method, path, query, extra):
    """Cross-check the generic SigV4 signer with botocore's on arbitrary requests."""
    dt = datetime.datetime(2024, 2, 29, 12, 0, 1, tzinfo=datetime.timezone.utc)
    url = "http://127.0.0.1:9000" + path + ("?" + query if query else "")
    req = AWSRequest(method=method, url=url, data=b"hello", headers=dict(extra))
    req.context["timestamp"] = wc.amz_date(dt)
    req.headers["x-amz-date"] = wc.amz_date(dt)
    req.headers["X-Amz-Content-SHA256"] = wc.sha256_hex(b"hello")
    auth = S3SigV4Auth(Credentials(AWS_AK, AWS_SK), "s3", "us-east-1")
    auth._timestamp = wc.amz_date(dt)
    import unittest.mock as um
    with um.patch("botocore.auth.datetime") as m:
        m.datetime.utcnow.return_value = dt.replace(tzinfo=None)
        auth.add_auth(req)
    expected = req.headers["Authorization"]
    c = wc.Client("127.0.0.1", 9000, AWS_AK, AWS_SK, scheme="aws4")
    hdrs = [(k, v) for k, v in extra.items()]
    _, hl = c.sign(method, path, query, hdrs, b"hello", date=dt,
                   signed_headers=[h for h in expected.split("SignedHeaders=")[1].split(",")[0].split(";")])
    assert dict(hl)["Authorization"] == expected


@pytest.mark.parametrize("method,path,query,extra", [
    ("GET", "/bkt/a%20b/c", "", {}),
    ("PUT", "/bkt/k", "partNumber=3&uploadId=ABC", {"Content-Type": "text/plain", "Content-MD5": "abc=",
                                                   "x-amz-meta-b": "2", "x-amz-meta-a": "1"}),
    ("GET", "/bkt/k", "response-content-type=text%2Fhtml&foo=bar", {}),
    ("GET", "/bkt/", "acl", {}),
])
def test_sigv2_matches_botocore(method, path, query, extra):
    date = "Thu, 29 Feb 2024 12:00:01 GMT"
    url = "http://127.0.0.1:9000" + path + ("?" + query if query else "")
    req = AWSRequest(method=method, url=url, data=b"", headers=dict(extra))
    auth = HmacV1Auth(Credentials(AWS_AK, AWS_SK))
    auth._get_date = lambda: date
    auth.add_auth(req)
    c = wc.Client("127.0.0.1", 9000, AWS_AK, AWS_SK, scheme="aws2")
    _, hl = c.sign(method, path, query, list(extra.items()) + [("Date", date)])
    assert dict(hl)["Authorization"] == req.headers["Authorization"]


def test_checksum_vectors():
    assert wc.crc32c(b"123456789") == 0xE3069283
    assert wc.crc64nvme(b"123456789") == 0xAE8B14860A799888
    assert wc.checksum_b64("crc32", b"") == "AAAAAA=="
    assert wc.multipart_etag([b"a", b"b"]) == wc.multipart_etag([wc.md5_hex(b"a"), wc.md5_hex(b"b")])
