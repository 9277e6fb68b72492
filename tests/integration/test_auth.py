"""Authentication: every scheme of WOS-API.md §2 and every error of §8.2 / issue 2 §4.
Each error test first proves that the same request, correctly signed, succeeds."""
import datetime
import urllib.parse

import pytest

import wos_client as wc
from conftest import make_bucket_name, payload
from helpers import SDNM_MESSAGE, assert_error, assert_ok

HEADER_SCHEMES = ["wos4", "aws4", "wos2", "aws2"]
PRESIGN_SCHEMES = ["wos4-presign", "aws4-presign", "v2-presign", "wos-v2-presign"]
DATA = b"auth test object"


@pytest.fixture(scope="module")
def ab(server):
    """A bucket holding key 'obj' = DATA."""
    s3 = server.boto()
    name = make_bucket_name("auth")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="obj", Body=DATA)
    return name


def _get(c, ab, **kw):
    return c.request("GET", wc.key_path(ab, "obj"), **kw)


def _ago(**kw):
    return wc.utcnow() - datetime.timedelta(**kw)


# ------------------------------------------------------------------------------------ good requests


@pytest.mark.parametrize("scheme", HEADER_SCHEMES)
def test_header_schemes_crud(server, ab, scheme):
    c = server.client(scheme)
    key = "crud-" + scheme
    data = payload(3000)
    assert_ok(c.put(ab, key, data, headers={"Content-Type": "application/octet-stream"}))
    r = assert_ok(c.get(ab, key))
    assert r.body == data
    assert assert_ok(c.head(ab, key)).header("Content-Length") == str(len(data))
    assert_ok(c.get(ab, query="prefix=crud-"))
    assert c.delete(ab, key).status == 204
    assert_error(c.get(ab, key), 404, "NoSuchKey")


@pytest.mark.parametrize("scheme", PRESIGN_SCHEMES)
def test_presigned_get_put(server, ab, scheme):
    c = server.client(scheme)
    r = assert_ok(_get(c, ab))
    assert r.body == DATA
    key = "presigned-" + scheme
    assert_ok(c.put(ab, key, b"via presigned url"))
    assert server.client("aws4").get(ab, key).body == b"via presigned url"
    assert_ok(c.get(ab, query="prefix=presigned-"))  # bucket-level presigned request


def test_boto3_presigned_urls(server, s3, s3v2, ab):
    import requests
    url = s3.generate_presigned_url("get_object", Params={"Bucket": ab, "Key": "obj"}, ExpiresIn=300)
    assert "X-Amz-Signature=" in url
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content == DATA
    url2 = s3v2.generate_presigned_url("get_object", Params={"Bucket": ab, "Key": "obj"}, ExpiresIn=300)
    assert "AWSAccessKeyId=" in url2 and "Signature=" in url2
    r = requests.get(url2, timeout=30)
    assert r.status_code == 200 and r.content == DATA
    put = s3.generate_presigned_url("put_object", Params={"Bucket": ab, "Key": "pp"}, ExpiresIn=300)
    assert requests.put(put, data=b"presigned put", timeout=30).status_code == 200
    assert s3.get_object(Bucket=ab, Key="pp")["Body"].read() == b"presigned put"


def test_wos_presign_key_with_encoded_slash(server, s3, ab):
    """The WOS SDK presigns paths with '/' in the key as %2F (WOS-API.md §2.4)."""
    s3.put_object(Bucket=ab, Key="dir/a.txt", Body=b"slash")
    c = server.client("wos4-presign")
    r = assert_ok(c.request("GET", "/%s/dir%%2Fa.txt" % ab))
    assert r.body == b"slash"


def test_wos4_sdk_style(server, ab):
    """As the Java SDK signs: ISO date in the Date header, no spaces after commas, UNSIGNED-PAYLOAD,
    every header signed including content-length, User-Agent added after signing."""
    c = server.client("wos4")
    now = wc.utcnow()
    body = b"sdk style body"
    h = [("Date", wc.amz_date(now)), ("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
         ("x-wos-meta-sdk", "java")]
    target, hl = c.sign("PUT", wc.key_path(ab, "sdk"), "", h, body, date=now, payload="unsigned", comma=",",
                        signed_headers=["content-length", "content-type", "date", "host", "x-wos-content-sha256",
                                        "x-wos-meta-sdk"])
    assert ",SignedHeaders=" in dict(hl)["Authorization"]
    hl.append(("User-Agent", "wos-sdk-java/1.0.6"))
    assert_ok(c.send("PUT", target, hl, body))
    r = assert_ok(c.get(ab, "sdk"))
    assert r.body == body and r.header("x-wos-meta-sdk") == "java"


@pytest.mark.parametrize("scheme", ["wos4", "aws4"])
def test_v4_with_rfc1123_date_header(server, ab, scheme):
    c = server.client(scheme)
    now = wc.utcnow()
    assert_ok(_get(c, ab, headers={"Date": wc.http_date(now)}, date=now))


def test_wos4_unsigned_extra_header_and_hex_payload(server, ab):
    """The documented example: Range sent but not signed; x-wos-content-sha256 is the real hash."""
    c = server.client("wos4")
    r = c.request("GET", wc.key_path(ab, "obj"), headers={"Range": "bytes=0-3"},
                  signed_headers=["host", "x-wos-content-sha256", "x-wos-date"])
    assert r.status == 206 and r.body == DATA[:4]
    body = b"hashed"
    assert_ok(c.put(ab, "hashed", body, payload=wc.sha256_hex(body)))


@pytest.mark.parametrize("scheme", ["wos4", "aws4"])
def test_v4_unsigned_payload(server, ab, scheme):
    assert_ok(server.client(scheme).put(ab, "unsigned-" + scheme, b"u" * 100, payload="unsigned"))


@pytest.mark.parametrize("scheme", ["wos4", "aws4"])
def test_v4_payload_hash_mismatch(server, ab, scheme):
    c = server.client(scheme)
    body = b"the real body"
    assert_ok(c.put(ab, "h", body))  # hex hash of the real body
    r = c.put(ab, "h2", body, payload=wc.sha256_hex(b"another body"))
    assert_error(r, 400, "XAmzContentSHA256Mismatch")
    assert_error(c.get(ab, "h2"), 404, "NoSuchKey")


def test_aws4_streaming_signed_chunks(server, ab):
    c = server.client("aws4")
    data = payload(200_000)
    r = c.put_streaming_signed(wc.key_path(ab, "stream"), data, chunk_size=65536)
    assert_ok(r)
    assert r.header("ETag") == '"%s"' % wc.md5_hex(data)
    g = assert_ok(c.get(ab, "stream"))
    assert g.body == data
    assert (g.header("Content-Encoding") or "") != "aws-chunked"


def test_aws4_streaming_tampered_chunk(server, ab):
    c = server.client("aws4")
    data = payload(200_000)
    assert_ok(c.put_streaming_signed(wc.key_path(ab, "stream-ok"), data))
    r = c.put_streaming_signed(wc.key_path(ab, "stream-bad"), data, tamper_chunk=1)
    assert_error(r, 403, "SignatureDoesNotMatch")
    assert_error(c.get(ab, "stream-bad"), 404, "NoSuchKey")


def test_aws4_streaming_missing_final_chunk(server, ab):
    c = server.client("aws4")
    data = payload(100_000)
    assert_ok(c.put_streaming_signed(wc.key_path(ab, "stream-ok2"), data))
    r = c.put_streaming_signed(wc.key_path(ab, "stream-trunc"), data, drop_final=True)
    assert r.status in (400, 403), r
    assert_error(c.get(ab, "stream-trunc"), 404, "NoSuchKey")


@pytest.mark.parametrize("algo", ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"])
def test_unsigned_payload_trailer(server, ab, algo):
    c = server.client("aws4")
    data = payload(150_000)
    path = wc.key_path(ab, "trailer-" + algo)
    r = c.put_unsigned_trailer(path, data, algorithm=algo)
    assert_ok(r)
    assert r.header("ETag") == '"%s"' % wc.md5_hex(data)
    g = assert_ok(c.request("GET", path))
    assert g.body == data
    h = assert_ok(c.request("HEAD", path, headers={"x-amz-checksum-mode": "ENABLED"}))
    assert h.header("x-amz-checksum-" + algo) == wc.checksum_b64(algo, data)
    bad = c.put_unsigned_trailer(wc.key_path(ab, "trailer-bad-" + algo), data, algorithm=algo, bad_checksum=True)
    assert_error(bad, 400, "BadDigest")
    assert_error(c.get(ab, "trailer-bad-" + algo), 404, "NoSuchKey")


@pytest.mark.parametrize("scheme", ["aws4", "aws2"])
def test_header_value_whitespace_canonicalised(server, ab, scheme):
    """SigV4 trims and collapses runs of spaces in signed header values; SigV2 trims."""
    c = server.client(scheme)
    r = c.put(ab, "ws-" + scheme, b"x", headers={"x-amz-meta-spaced": "a   b    c", "Content-Type": "text/plain"})
    assert_ok(r)
    h = assert_ok(c.head(ab, "ws-" + scheme))
    assert h.header("x-amz-meta-spaced") in ("a   b    c", "a b c")


def test_v2_date_forms(server, ab):
    now = wc.utcnow()
    c = server.client("aws2")
    assert_ok(_get(c, ab, headers={"Date": now.strftime("%a, %d %b %Y %H:%M:%S +0000")}))
    assert_ok(_get(c, ab, headers={"x-amz-date": wc.http_date(now)}))  # empty Date line, x-amz-date signed
    w = server.client("wos2")
    assert_ok(_get(w, ab, headers={"Date": now.strftime("%a, %d %b %Y %H:%M:%S +0000")}))
    assert_ok(_get(w, ab, headers={"x-wos-date": wc.http_date(now)}))


def test_v2_subresources_signed(server, ab):
    """?acl is part of the V2 canonical resource; other params are not."""
    for scheme in ("aws2", "wos2"):
        c = server.client(scheme)
        assert_ok(c.get(ab, "obj", query="acl"))
        assert_ok(c.get(ab, query="prefix=o&max-keys=5"))
        r = c.get(ab, "obj", query="acl", sign={"resource": "/%s/obj" % ab})
        assert_error(r, 403, "SignatureDoesNotMatch")


# ------------------------------------------------------------------------------------ errors


def test_anonymous_denied(server, ab):
    assert_ok(_get(server.client("wos4"), ab))
    r = _get(server.client("anon"), ab)
    assert_error(r, 403, "AccessDenied", message="Access Denied")
    assert_error(server.client("anon").put(ab, "anon", b"x"), 403, "AccessDenied")
    assert_error(server.client("anon").get(ab), 403, "AccessDenied")


@pytest.mark.parametrize("scheme", ["wos2", "aws2"])
def test_v2_missing_date(server, ab, scheme):
    c = server.client(scheme)
    assert_ok(_get(c, ab))
    r = _get(c, ab, add_date=False)
    assert_error(r, 403, "AccessDenied")
    if scheme == "wos2":
        assert r.message == "Authentication requires a valid Date or x-wos-date header"


@pytest.mark.parametrize("scheme", ["wos2", "aws2"])
def test_v2_invalid_date(server, ab, scheme):
    c = server.client(scheme)
    assert_ok(_get(c, ab))
    r = _get(c, ab, headers={"Date": "yesterday at noon"})
    assert_error(r, 403, "AccessDenied")


def test_wos4_missing_date(server, ab):
    c = server.client("wos4")
    assert_ok(_get(c, ab))
    r = _get(c, ab, add_date=False, signed_headers=["host", "x-wos-content-sha256"])
    assert_error(r, 403, "AccessDenied", message="Authentication requires a valid Date or x-wos-date header")


@pytest.mark.parametrize("scheme", HEADER_SCHEMES)
def test_wrong_secret(server, ab, scheme):
    c = server.client(scheme)
    assert_ok(_get(c, ab))
    r = _get(c, ab, sign={"sk": server.secret_key + "x"})
    assert_error(r, 403, "SignatureDoesNotMatch", message=SDNM_MESSAGE)


@pytest.mark.parametrize("scheme", PRESIGN_SCHEMES)
def test_presign_wrong_secret(server, ab, scheme):
    c = server.client(scheme)
    assert_ok(_get(c, ab))
    assert_error(_get(c, ab, sign={"sk": "wrong"}), 403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("scheme", HEADER_SCHEMES)
def test_content_type_differs_from_signed(server, ab, scheme):
    c = server.client(scheme)
    assert_ok(c.put(ab, "ct", b"x", headers={"Content-Type": "text/plain"}))
    r = c.put(ab, "ct", b"x", headers={"Content-Type": "image/png"}, sign={"headers": {"Content-Type": "text/plain"}})
    assert_error(r, 403, "SignatureDoesNotMatch", message=SDNM_MESSAGE)


def test_v2_signed_date_but_request_uses_x_amz_date(server, ab):
    c = server.client("aws2")
    now = wc.utcnow()
    assert_ok(_get(c, ab, headers={"Date": wc.http_date(now)}))
    r = _get(c, ab, headers={"Date": wc.http_date(now), "x-amz-date": wc.http_date(now)},
             sign={"headers": {"x-amz-date": None}})
    assert_error(r, 403, "SignatureDoesNotMatch")


@pytest.mark.parametrize("scheme", ["wos4", "aws4", "wos2", "aws2"])
def test_signed_path_or_method_differs(server, ab, scheme):
    c = server.client(scheme)
    assert_ok(_get(c, ab))
    assert_error(_get(c, ab, sign={"path": "/%s/other" % ab}), 403, "SignatureDoesNotMatch")
    assert_error(_get(c, ab, sign={"method": "HEAD"}), 403, "SignatureDoesNotMatch")


def test_wos4_credential_date_differs_from_x_wos_date(server, ab):
    c = server.client("wos4")
    assert_ok(_get(c, ab))
    r = _get(c, ab, sign={"date": _ago(days=1)})
    assert_error(r, 400, "InvalidArgument", message="Invalid credential date. Date is not the same as x-wos-date.")


@pytest.mark.parametrize("scheme", ["wos4", "aws4"])
def test_wrong_region(server, ab, scheme):
    c = server.client(scheme)
    assert_ok(_get(c, ab))
    r = _get(c, ab, sign={"region": "eu-west-3"})
    assert_error(r, 400, "AuthorizationHeaderMalformed",
                 message_contains="the region 'eu-west-3' is wrong; expecting '%s'" % server.region)


def test_aws4_presign_wrong_region(server, ab):
    c = server.client("aws4-presign")
    assert_ok(_get(c, ab))
    r = _get(c, ab, sign={"region": "eu-west-3"})
    assert_error(r, 400, "AuthorizationQueryParametersError")


@pytest.mark.parametrize("scheme", ["wos4", "aws4"])
def test_empty_access_key(server, ab, scheme):
    c = server.client(scheme)
    assert_ok(_get(c, ab))
    r = _get(c, ab, sign={"ak": ""})
    assert_error(r, 400, "AuthorizationHeaderMalformed",
                 message_contains="a non-empty Access Key (AKID) must be provided in the credential.")


@pytest.mark.parametrize("scheme", HEADER_SCHEMES + PRESIGN_SCHEMES)
def test_unknown_access_key(server, ab, scheme):
    c = server.client(scheme)
    assert_ok(_get(c, ab))
    r = _get(c, ab, sign={"ak": "WOSDUNKNOWNKEY000000"})
    assert_error(r, 403, "InvalidAccessKeyId",
                 message="The Access Key Id you provided does not exist in our records.")


@pytest.mark.parametrize("word", ["WOS", "AWS"])
def test_v2_signature_part_missing(server, ab, word):
    c = server.client("wos2" if word == "WOS" else "aws2")
    assert_ok(_get(c, ab))
    target, hl = c.sign("GET", wc.key_path(ab, "obj"))
    hl = [(n, v) for n, v in hl if n != "Authorization"] + [("Authorization", "%s %s" % (word, server.access_key))]
    r = c.send("GET", target, hl)
    assert_error(r, 400, "InvalidArgument")
    if word == "WOS":
        assert r.message == "Authorization header is invalid. Expected AccessKeyId:signature"


@pytest.mark.parametrize("alg", ["wos-hmac-sha256", "WOS-HMAC-SHA1", "Wos-Hmac-Sha256", "AWS4-HMAC-SHA512"])
def test_unsupported_algorithm(server, ab, alg):
    c = server.client("wos4")
    assert_ok(_get(c, ab))
    r = _get(c, ab, sign={"algorithm": alg})
    assert_error(r, 400, "InvalidArgument")
    if alg.lower().startswith("wos"):
        assert r.message == "Only AWS4-HMAC-SHA256 is supported"


@pytest.mark.parametrize("value", ["Bearer abcdef", "garbage", "Basic dXNlcjpwYXNz"])
def test_malformed_authorization(server, ab, value):
    c = server.client("wos4")
    assert_ok(_get(c, ab))
    target, hl = c.sign("GET", wc.key_path(ab, "obj"))
    hl = [(n, v) for n, v in hl if n != "Authorization"] + [("Authorization", value)]
    assert_error(c.send("GET", target, hl), 403, "AccessDenied")


@pytest.mark.parametrize("scheme", HEADER_SCHEMES)
@pytest.mark.parametrize("minutes", [-20, 20])
def test_clock_skew(server, ab, scheme, minutes):
    c = server.client(scheme)
    assert_ok(_get(c, ab, date=wc.utcnow() + datetime.timedelta(minutes=10 if minutes > 0 else -10)))
    r = _get(c, ab, date=wc.utcnow() + datetime.timedelta(minutes=minutes))
    assert_error(r, 403, "RequestTimeTooSkewed")


@pytest.mark.parametrize("scheme", ["wos4-presign", "aws4-presign"])
def test_v4_presign_expired(server, ab, scheme):
    c = server.client(scheme)
    assert_ok(_get(c, ab, date=_ago(minutes=10), expires=3600))
    r = _get(c, ab, date=_ago(minutes=10), expires=60)
    assert_error(r, 403, "AccessDenied", message_contains="Request has expired")


@pytest.mark.parametrize("scheme", ["v2-presign", "wos-v2-presign"])
def test_v2_presign_expired(server, ab, scheme):
    c = server.client(scheme)
    now = int(wc.utcnow().timestamp())
    assert_ok(_get(c, ab, expires=now + 60))
    r = _get(c, ab, expires=now - 60)
    assert_error(r, 403, "AccessDenied", message_contains="Request has expired")


def test_aws4_presign_expires_too_long(server, ab):
    c = server.client("aws4-presign")
    assert_ok(_get(c, ab, expires=604800))
    assert_error(_get(c, ab, expires=604801), 400, "AuthorizationQueryParametersError")


def test_presign_query_tampered(server, ab):
    """A presigned URL whose signed parameters are edited afterwards does not verify."""
    c = server.client("aws4-presign")
    target, hl = c.sign("GET", wc.key_path(ab, "obj"), "response-content-type=text%2Fplain")
    assert_ok(c.send("GET", target, hl))
    assert_error(c.send("GET", target.replace("text%2Fplain", "text%2Fhtml"), hl), 403, "SignatureDoesNotMatch")
    v2 = server.client("v2-presign")
    target, hl = v2.sign("GET", wc.key_path(ab, "obj"), "", expires=300)
    assert_ok(v2.send("GET", target, hl))
    exp = [p for p in target.split("?")[1].split("&") if p.startswith("Expires=")][0]
    later = "Expires=%d" % (int(exp.split("=")[1]) + 100)
    assert_error(v2.send("GET", target.replace(exp, later), hl), 403, "SignatureDoesNotMatch")


def test_signature_in_url_and_header(server, ab):
    p = server.client("aws4-presign")
    target, hl = p.sign("GET", wc.key_path(ab, "obj"))
    assert_ok(p.send("GET", target, hl))
    _, hh = server.client("aws4").sign("GET", wc.key_path(ab, "obj"))
    both = hl + [(n, v) for n, v in hh if n.lower() in ("authorization", "x-amz-date", "x-amz-content-sha256")]
    assert_error(p.send("GET", target, both), 400, "InvalidArgument")


def test_error_body_shape(server, ab):
    """Error XML: Code, Message, Resource, RequestId (= the header), HostId."""
    c = server.client("aws4")
    r = c.get(ab, "no-such-key")
    assert_error(r, 404, "NoSuchKey")
    root = r.xml()
    assert wc.local(root.tag) == "Error"
    assert wc.xtext(root, "Message")
    assert wc.xtext(root, "Resource") in ("/%s/no-such-key" % ab, "no-such-key")
    assert wc.xtext(root, "RequestId") == r.header("x-wos-request-id") == r.header("x-amz-request-id")
    assert wc.xfind(root, "HostId") is not None
    assert r.header("Content-Type", "").startswith("application/xml")
