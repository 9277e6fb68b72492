"""Multipart upload (issue 3), starting with the seed page: Initiate Multipart Upload.

Marked `multipart` (select them with -m multipart)."""
import concurrent.futures
import os
import re
import threading
import time

import pytest

import wos_client as wc
from conftest import make_bucket_name, payload
from helpers import (SDNM_MESSAGE, assert_common_headers, assert_error, assert_ok, client_error,
                     expect_client_error, norm_class, quoted_md5)

pytestmark = pytest.mark.multipart

MiB = 1 << 20
UPLOAD_ID_RE = re.compile(r"^[0-9A-F]{32}$")

SEED_HEADERS = {
    "Cache-Control": "no-cache, max-age=0",
    "Content-Disposition": 'attachment; filename="seed object.bin"',
    "Content-Encoding": "identity",
    "Content-Language": "zh-CN",
    "Content-Type": "application/x-seed",
    "Expires": "Wed, 21 Oct 2037 07:28:00 GMT",
    "Content-MD5": wc.md5_b64(b""),
    "x-wos-storage-class": "IA",
    "x-wos-meta-project": "wosd",
    "x-wos-meta-seed": "000_474a478e6cad1535",
}
RETURNED = [h for h in SEED_HEADERS if h != "Content-MD5"]


# ------------------------------------------------------------------------------------ helpers


def initiate(c, bucket, key, headers=None, **kw):
    r = c.post(bucket, key, query="uploads", headers=headers, **kw)
    assert r.status == 200, r
    uid = wc.xtext(r.xml(), "UploadId")
    assert uid
    return uid, r


def upload_part(c, bucket, key, uid, n, data, headers=None):
    r = c.request("PUT", wc.key_path(bucket, key), "partNumber=%d&uploadId=%s" % (n, uid), headers, data)
    assert r.status == 200, r
    etag = r.header("ETag")
    assert etag == quoted_md5(data), (etag, r)
    return etag


def complete_xml(parts, ns=wc.S3_NS, quote=True, pretty=False):
    nl = "\n  " if pretty else ""
    x = '<CompleteMultipartUpload%s>' % (' xmlns="%s"' % ns if ns else "")
    for n, etag in parts:
        e = etag if quote else etag.strip('"')
        x += "%s<Part>%s<PartNumber>%d</PartNumber>%s<ETag>%s</ETag>%s</Part>" % (nl, nl, n, nl, e, nl)
    return (x + nl + "</CompleteMultipartUpload>").encode()


def complete(c, bucket, key, uid, parts, headers=None, **kw):
    return c.post(bucket, key, query="uploadId=" + uid, body=complete_xml(parts, **kw), headers=headers)


def _parts_data(sizes, seed=0):
    return [payload(s, seed=seed * 100 + i) for i, s in enumerate(sizes)]


# ------------------------------------------------------------------------------------ the seed page


def test_seed_initiate_wos_v2_header_every_header(server, bucket):
    c = server.client("wos2")
    r = c.post(bucket, "objectkey", query="uploads", headers=SEED_HEADERS)
    assert r.status == 200, r
    assert r.body.startswith(wc.WOS_XML_DECL), r.body[:120]
    root = r.xml()
    assert root.tag == "{%s}InitiateMultipartUploadResult" % wc.WOS_NS
    assert [wc.local(e.tag) for e in root] == ["Bucket", "Key", "UploadId"]
    assert wc.xtext(root, "Bucket") == bucket
    assert wc.xtext(root, "Key") == "objectkey"
    assert UPLOAD_ID_RE.match(wc.xtext(root, "UploadId")), wc.xtext(root, "UploadId")
    assert_common_headers(r)
    assert r.header("Content-Length") == str(len(r.body))
    assert (r.header("Connection") or "").lower() in ("keep-alive", "close"), dict(r.headers)


def test_seed_initiate_virtual_host(server, bucket):
    """The page's request: POST /objectkey?uploads with Host: bucket.<endpoint>."""
    c = server.client("wos2")
    host = "%s.s3.local.test:%d" % (bucket, server.port)
    r = c.request("POST", "/objectkey", "uploads", headers=[("Host", host)], vhost_bucket=bucket)
    assert r.status == 200, r
    assert wc.xtext(r.xml(), "Bucket") == bucket and wc.xtext(r.xml(), "Key") == "objectkey"
    assert r.ns == wc.WOS_NS


def test_seed_complete_then_head_returns_every_header(server, bucket):
    c2 = server.client("wos2")
    uid, _ = initiate(c2, bucket, "seeded", SEED_HEADERS)
    c4 = server.client("wos4")
    parts = _parts_data([5 * MiB, 1234])
    etags = [upload_part(c4, bucket, "seeded", uid, i + 1, d) for i, d in enumerate(parts)]
    r = complete(c2, bucket, "seeded", uid, list(zip([1, 2], etags)), ns=None)
    assert r.status == 200, r
    assert r.ns == wc.WOS_NS and wc.local(r.xml().tag) == "CompleteMultipartUploadResult"
    assert wc.xtext(r.xml(), "ETag").strip('"') == wc.multipart_etag(parts)
    assert wc.xtext(r.xml(), "Bucket") == bucket and wc.xtext(r.xml(), "Key") == "seeded"
    assert wc.xtext(r.xml(), "Location")
    for client in (c2, c4):
        for method in ("HEAD", "GET"):
            h = assert_ok(client.request(method, wc.key_path(bucket, "seeded")))
            for name in RETURNED:
                assert h.header(name) == SEED_HEADERS[name], (method, name, h.header(name))
            assert h.header("ETag") == '"%s"' % wc.multipart_etag(parts)
            assert h.header("Content-Length") == str(5 * MiB + 1234)
            if method == "GET":
                assert h.body == b"".join(parts)


def test_upload_ids_unique(server, bucket):
    c = server.client("wos4")
    ids = [initiate(c, bucket, "same-key")[0] for _ in range(50)]
    assert len(set(ids)) == 50
    assert all(UPLOAD_ID_RE.match(i) for i in ids)
    r = assert_ok(c.get(bucket, query="uploads"))
    listed = [wc.xtext(u, "UploadId") for u in wc.xfindall(r.xml(), "Upload")]
    assert sorted(listed) == sorted(ids)


def test_upload_ids_unique_across_restart(server_factory, bucket_name):
    srv = server_factory("mp-restart")
    name = bucket_name()
    s3 = srv.boto()
    s3.create_bucket(Bucket=name)
    first = [s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"] for _ in range(20)]
    assert srv.stop() == 0
    srv.start(keep_port=True)
    s3 = srv.boto()
    second = [s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"] for _ in range(20)]
    assert len(set(first + second)) == 40
    listed = [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=name)["Uploads"]]
    assert sorted(listed) == sorted(first + second)


def test_upload_ids_unique_unguessable_and_in_creation_order(server, bucket):
    """Upload ids are 32 hex digits: the creation time in milliseconds (so new rows append to the
    indexes keyed by them) and 80 random bits. Distinct even within one millisecond, ordered by
    creation across milliseconds."""
    c = server.client("aws4")
    ids = [initiate(c, bucket, "order/%02d" % i)[0] for i in range(40)]
    assert all(re.fullmatch(r"[0-9A-F]{32}", u) for u in ids), ids[:3]
    assert len(set(ids)) == len(ids)
    assert len({u[12:] for u in ids}) == len(ids), "the random part repeats"
    stamps = [int(u[:12], 16) for u in ids]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] - time.time() * 1000) < 600_000
    for i, u in enumerate(ids):
        assert c.delete(bucket, "order/%02d" % i, query="uploadId=" + u).status == 204


def test_initiate_content_md5(server, bucket):
    w = server.client("wos4")
    initiate(w, bucket, "k", {"Content-MD5": wc.md5_b64(b"")})
    assert_error(w.post(bucket, "k", query="uploads", headers={"Content-MD5": wc.md5_b64(b"x")}),
                 403, "SignatureDoesNotMatch", message=SDNM_MESSAGE)
    a = server.client("aws4")
    initiate(a, bucket, "k", {"Content-MD5": wc.md5_b64(b"")})
    assert_error(a.post(bucket, "k", query="uploads", headers={"Content-MD5": wc.md5_b64(b"x")}),
                 400, "BadDigest")


def test_initiate_invalid_storage_class_and_metadata(server, bucket):
    c = server.client("wos4")
    initiate(c, bucket, "k", {"x-wos-storage-class": "Archive", "x-wos-meta-a": "v" * 1000})
    assert_error(c.post(bucket, "k", query="uploads", headers={"x-wos-storage-class": "Cold"}),
                 400, "InvalidStorageClass")
    assert_error(c.post(bucket, "k", query="uploads", headers={"x-wos-meta-a": "v" * 1500, "x-wos-meta-b": "w" * 700}),
                 400, "MetadataTooLarge")


def test_initiate_error_precedence(server, bucket):
    """With several things wrong, Initiate names the same one it always has: a grant header and
    a malformed Content-MD5 before the storage class; the body's digest before the storage
    class and the metadata; the storage class before the metadata."""
    c = server.client("aws4")
    bad_class = {"x-amz-storage-class": "Cold"}
    assert_error(c.post(bucket, "k", query="uploads", headers={**bad_class, "x-amz-grant-read": "id=x"}),
                 501, "NotImplemented")
    assert_error(c.post(bucket, "k", query="uploads", headers={**bad_class, "Content-MD5": "not base64"}),
                 400, "InvalidDigest")
    assert_error(c.post(bucket, "k", query="uploads", headers={**bad_class, "Content-MD5": wc.md5_b64(b"x")}),
                 400, "BadDigest")
    too_much = {"x-amz-meta-a": "v" * 1500, "x-amz-meta-b": "w" * 700}
    assert_error(c.post(bucket, "k", query="uploads", headers={**bad_class, **too_much}), 400, "InvalidStorageClass")
    assert_error(c.post(bucket, "k", query="uploads", headers={**too_much, "Content-MD5": wc.md5_b64(b"x")}),
                 400, "BadDigest")
    r = c.request("GET", "/" + bucket, "uploads")
    assert r.status == 200 and b"<UploadId>" not in r.body, r


def test_upload_part_streaming_uploads(server, s3, bucket):
    """UploadPart with the bodies current SDKs send: aws-chunked with chunk signatures, and
    unsigned with a checksum trailer."""
    c = server.client("aws4")
    uid, _ = initiate(c, bucket, "k")
    p1 = payload(5 * MiB, seed=11)
    p2 = payload(70_000, seed=12)
    r1 = c.put_streaming_signed(wc.key_path(bucket, "k"), p1, query="partNumber=1&uploadId=" + uid)
    assert r1.status == 200 and r1.header("ETag") == quoted_md5(p1), r1
    r2 = c.put_unsigned_trailer(wc.key_path(bucket, "k"), p2, algorithm="crc32c", query="partNumber=2&uploadId=" + uid)
    assert r2.status == 200 and r2.header("ETag") == quoted_md5(p2), r2
    bad = c.put_unsigned_trailer(wc.key_path(bucket, "k"), p2, algorithm="crc32", bad_checksum=True,
                                 query="partNumber=3&uploadId=" + uid)
    assert_error(bad, 400, "BadDigest")
    assert_ok(complete(c, bucket, "k", uid, [(1, quoted_md5(p1)), (2, quoted_md5(p2))]))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == p1 + p2


def test_initiate_aws_dialect_namespace(server, bucket):
    uid, r = initiate(server.client("aws4"), bucket, "k")
    assert r.ns == wc.S3_NS
    assert UPLOAD_ID_RE.match(uid)


SIG_SCHEMES = ["wos2", "aws2", "wos4", "aws4", "wos4-presign", "aws4-presign", "v2-presign"]


def _table_case(c, bucket, sent_query, signed_query, signed_resource=None):
    sign = {"query": signed_query}
    if signed_resource is not None and c.scheme in ("wos2", "aws2", "v2-presign"):
        sign["resource"] = signed_resource
    return c.request("POST", wc.key_path(bucket, "objectkey"), sent_query, sign=sign)


@pytest.mark.parametrize("scheme", SIG_SCHEMES)
@pytest.mark.parametrize("row,sent,signed,resource", [
    ("1: signed with uploads, URL without", "", "uploads", None),
    ("1: URL with uploads, signature without", "uploads", "", None),
    ("2: signed uploads, URL misspelt", "uplaods", "uploads", None),
    ("2: URL uploads, signature misspelt", "uploads", "uplaods", "/{b}/objectkey?uplaods"),
    ("2: URL uploads, signature wrong case", "uploads", "Uploads", "/{b}/objectkey?Uploads"),
    ("3: both misspelt, differently", "uplaods", "upolads", "/{b}/objectkey?upolads"),
])
def test_seed_signature_error_table(server, bucket, scheme, row, sent, signed, resource):
    c = server.client(scheme)
    r = c.request("POST", wc.key_path(bucket, "objectkey"), "uploads")  # the good request
    assert r.status == 200, r
    r = _table_case(c, bucket, sent, signed, resource.format(b=bucket) if resource else None)
    assert_error(r, 403, "SignatureDoesNotMatch")
    assert r.message.startswith("The request signature we calculated does not match the signature"), r


# ------------------------------------------------------------------------------------ boto3 flow


def test_boto3_full_flow(s3, bucket):
    cm = s3.create_multipart_upload(Bucket=bucket, Key="mp/obj", Metadata={"m": "1"}, ContentType="text/x-mp",
                                    CacheControl="max-age=5", StorageClass="STANDARD_IA")
    uid = cm["UploadId"]
    assert UPLOAD_ID_RE.match(uid)
    parts = _parts_data([5 * MiB, 5 * MiB, 1234], seed=1)
    etags = {}

    def up(n):
        etags[n] = s3.upload_part(Bucket=bucket, Key="mp/obj", UploadId=uid, PartNumber=n, Body=parts[n - 1])["ETag"]

    with concurrent.futures.ThreadPoolExecutor(3) as ex:   # in parallel and in any order
        list(ex.map(up, [3, 1, 2]))
    for n in (1, 2, 3):
        assert etags[n] == quoted_md5(parts[n - 1])
    lp = s3.list_parts(Bucket=bucket, Key="mp/obj", UploadId=uid)
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in lp["Parts"]] == \
        [(n, etags[n], len(parts[n - 1])) for n in (1, 2, 3)]
    assert lp["IsTruncated"] is False
    assert lp["Initiator"]["ID"] and lp["Owner"]["ID"]
    assert norm_class(lp["StorageClass"]) == "IA"
    ups = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in ups] == [("mp/obj", uid)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="mp/obj", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": n, "ETag": etags[n]} for n in (1, 2, 3)]})
    assert done["ETag"] == '"%s"' % wc.multipart_etag(parts)
    assert done["Bucket"] == bucket and done["Key"] == "mp/obj" and done["Location"]
    h = s3.head_object(Bucket=bucket, Key="mp/obj")
    assert h["ContentLength"] == 10 * MiB + 1234
    assert h["Metadata"] == {"m": "1"} and h["ContentType"] == "text/x-mp" and h["CacheControl"] == "max-age=5"
    assert norm_class(h.get("StorageClass")) == "IA"
    assert h["ETag"] == done["ETag"]
    whole = b"".join(parts)
    assert s3.get_object(Bucket=bucket, Key="mp/obj")["Body"].read() == whole
    g = s3.get_object(Bucket=bucket, Key="mp/obj", Range="bytes=%d-%d" % (5 * MiB - 10, 10 * MiB + 9))
    assert g["Body"].read() == whole[5 * MiB - 10:10 * MiB + 10]
    assert g["ContentRange"] == "bytes %d-%d/%d" % (5 * MiB - 10, 10 * MiB + 9, len(whole))
    g = s3.get_object(Bucket=bucket, Key="mp/obj", PartNumber=2)
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["PartsCount"] == 3
    assert g["Body"].read() == parts[1]
    h = s3.head_object(Bucket=bucket, Key="mp/obj", PartNumber=3)
    assert h["ContentLength"] == 1234 and h["PartsCount"] == 3
    assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")
    expect_client_error(404, "NoSuchUpload", s3.list_parts, Bucket=bucket, Key="mp/obj", UploadId=uid)


def test_many_uploads_same_key_independent(s3, bucket):
    a = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    b = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    ea = s3.upload_part(Bucket=bucket, Key="k", UploadId=a, PartNumber=1, Body=b"AAAA")["ETag"]
    eb = s3.upload_part(Bucket=bucket, Key="k", UploadId=b, PartNumber=1, Body=b"BB")["ETag"]
    assert [p["Size"] for p in s3.list_parts(Bucket=bucket, Key="k", UploadId=a)["Parts"]] == [4]
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=a)
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=b,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": eb}]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"BB"
    assert ea != eb


def test_reupload_part_replaces_it(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"old contents")
    e = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"new")["ETag"]
    parts = s3.list_parts(Bucket=bucket, Key="k", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [(1, e, 3)]
    s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"new"


def test_unlisted_parts_discarded(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    parts = _parts_data([5 * MiB, 5 * MiB, 100], seed=2)
    et = [s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=i + 1, Body=d)["ETag"]
          for i, d in enumerate(parts)]
    done = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": et[0]}, {"PartNumber": 3, "ETag": et[2]}]})
    assert done["ETag"] == '"%s"' % wc.multipart_etag([parts[0], parts[2]])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == parts[0] + parts[2]


def test_complete_retried_same_success(server, s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    e = s3.upload_part(Bucket=bucket, Key="k", UploadId=uid, PartNumber=1, Body=b"only")["ETag"]
    mp = {"Parts": [{"PartNumber": 1, "ETag": e}]}
    first = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload=mp)
    again = s3.complete_multipart_upload(Bucket=bucket, Key="k", UploadId=uid, MultipartUpload=mp)
    assert again["ETag"] == first["ETag"]
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"only"


@pytest.mark.parametrize("style", ["no-namespace", "s3-namespace", "wos-namespace", "pretty", "unquoted"])
def test_complete_xml_parsed_robustly(server, s3, bucket, style):
    c = server.client("aws4")
    uid, _ = initiate(c, bucket, "k")
    parts = _parts_data([5 * MiB, 10])
    etags = [upload_part(c, bucket, "k", uid, i + 1, d) for i, d in enumerate(parts)]
    kw = {"no-namespace": {"ns": None}, "s3-namespace": {}, "wos-namespace": {"ns": wc.WOS_NS},
          "pretty": {"pretty": True}, "unquoted": {"quote": False}}[style]
    r = complete(c, bucket, "k", uid, list(zip([1, 2], etags)), **kw)
    assert r.status == 200, r
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"".join(parts)


# ------------------------------------------------------------------------------------ abort


@pytest.mark.parametrize("scheme,status", [("wos4", 200), ("wos2", 200), ("aws4", 204), ("aws2", 204)])
def test_abort_status_by_dialect(server, bucket, scheme, status):
    c = server.client(scheme)
    uid, _ = initiate(c, bucket, "k")
    upload_part(c, bucket, "k", uid, 1, b"part")
    r = c.delete(bucket, "k", query="uploadId=" + uid)
    assert r.status == status, r
    assert r.body == b""
    for again in (c.delete(bucket, "k", query="uploadId=" + uid),
                  c.get(bucket, "k", query="uploadId=" + uid),
                  c.request("PUT", wc.key_path(bucket, "k"), "partNumber=2&uploadId=" + uid, body=b"x"),
                  complete(c, bucket, "k", uid, [(1, quoted_md5(b"part"))])):
        assert_error(again, 404, "NoSuchUpload",
                     message="The specified upload does not exist. The upload ID may be invalid, "
                             "or the upload may have been aborted or completed.")


def _dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def test_abort_reclaims_part_bytes(server_factory, bucket_name):
    srv = server_factory("mp-abort")
    s3 = srv.boto()
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    before = _dir_bytes(srv.data_dir)
    uid = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    for n in (1, 2, 3):
        s3.upload_part(Bucket=name, Key="k", UploadId=uid, PartNumber=n, Body=payload(5 * MiB))
    assert _dir_bytes(srv.data_dir) > before + 14 * MiB
    s3.abort_multipart_upload(Bucket=name, Key="k", UploadId=uid)
    assert wc.wait_until(lambda: _dir_bytes(srv.data_dir) < before + 2 * MiB, timeout=10), \
        "part bytes not reclaimed: %d bytes" % (_dir_bytes(srv.data_dir) - before)


# ------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("bad", ["0", "10001", "-1", "abc"])
def test_part_number_out_of_range(server, bucket, bad):
    c = server.client("wos4")
    uid, _ = initiate(c, bucket, "k")
    upload_part(c, bucket, "k", uid, 10000, b"last possible")
    r = c.request("PUT", wc.key_path(bucket, "k"), "partNumber=%s&uploadId=%s" % (bad, uid), body=b"x")
    assert_error(r, 400, "InvalidArgument")
    if bad in ("0", "10001"):
        assert r.message == "Part number must be an integer between 1 and 10000"


def test_upload_id_without_part_number_and_reverse(server, bucket):
    c = server.client("wos4")
    uid, _ = initiate(c, bucket, "k")
    upload_part(c, bucket, "k", uid, 1, b"x")
    assert_error(c.request("PUT", wc.key_path(bucket, "k"), "uploadId=" + uid, body=b"x"), 400, "InvalidArgument")
    assert_error(c.request("PUT", wc.key_path(bucket, "k"), "partNumber=1", body=b"x"), 400, "InvalidArgument")


def test_unknown_upload_id(server, s3, bucket):
    c = server.client("wos4")
    uid, _ = initiate(c, bucket, "k")
    upload_part(c, bucket, "k", uid, 1, b"x")
    other, _ = initiate(c, bucket, "other-key")
    fake = "0123456789ABCDEF0123456789ABCDEF"
    for u, key in ((fake, "k"), (other, "k"), ("not-an-id", "k")):
        assert_error(c.request("PUT", wc.key_path(bucket, key), "partNumber=1&uploadId=" + u, body=b"x"),
                     404, "NoSuchUpload")
        assert_error(c.get(bucket, key, query="uploadId=" + u), 404, "NoSuchUpload")
        assert_error(complete(c, bucket, key, u, [(1, quoted_md5(b"x"))]), 404, "NoSuchUpload")
        assert_error(c.delete(bucket, key, query="uploadId=" + u), 404, "NoSuchUpload")


def test_part_too_large_refused_early(server, bucket):
    c = server.client("aws4")
    uid, _ = initiate(c, bucket, "k")
    head = c.build("PUT", wc.key_path(bucket, "k"), "partNumber=1&uploadId=" + uid,
                   headers=[("Expect", "100-continue"), ("Content-Length", str(5 << 30))], payload="unsigned")
    with wc.RawHTTP(server.host, server.port, timeout=20) as conn:
        conn.send(head)
        st, _, body = conn.read_response()
    assert st == 400 and wc.error_code(body) == "EntityTooLarge", (st, body)


@pytest.mark.parametrize("scheme,status,code", [("wos4", 403, "SignatureDoesNotMatch"), ("aws4", 400, "BadDigest")])
def test_upload_part_content_md5(server, bucket, scheme, status, code):
    c = server.client(scheme)
    uid, _ = initiate(c, bucket, "k")
    upload_part(c, bucket, "k", uid, 1, b"data", headers={"Content-MD5": wc.md5_b64(b"data")})
    r = c.request("PUT", wc.key_path(bucket, "k"), "partNumber=2&uploadId=" + uid,
                  {"Content-MD5": wc.md5_b64(b"other")}, b"data")
    assert_error(r, status, code)


def _two_part_upload(c, bucket, key, small_first=False):
    uid, _ = initiate(c, bucket, key)
    parts = _parts_data([1024 if small_first else 5 * MiB, 100], seed=3)
    etags = [upload_part(c, bucket, key, uid, i + 1, d) for i, d in enumerate(parts)]
    return uid, parts, etags


def test_complete_errors(server, s3, bucket):
    c = server.client("aws4")
    uid, parts, et = _two_part_upload(c, bucket, "k")
    cases = [
        ([(1, et[0]), (2, quoted_md5(b"wrong"))], 400, "InvalidPart"),
        ([(1, et[0]), (3, et[1])], 400, "InvalidPart"),
        ([(2, et[1]), (1, et[0])], 400, "InvalidPartOrder"),
        ([(1, et[0]), (1, et[0]), (2, et[1])], 400, "InvalidPartOrder"),
    ]
    for plist, status, code in cases:
        assert_error(complete(c, bucket, "k", uid, plist), status, code)
    for body in (b"<CompleteMultipartUpload><Part><ETag>x</ETag></Part>", b"garbage",
                 b"<CompleteMultipartUpload><Part><ETag>%s</ETag></Part></CompleteMultipartUpload>" % et[0].encode()):
        assert_error(c.post(bucket, "k", query="uploadId=" + uid, body=body), 400, "MalformedXML")
    r = c.post(bucket, "k", query="uploadId=" + uid, body=b"<CompleteMultipartUpload></CompleteMultipartUpload>")
    assert_error(r, 400, "InvalidRequest")
    assert_error(c.post(bucket, "k", query="uploadId=" + uid, body=b""), 400, "InvalidRequest")
    # none of the failures consumed the upload
    assert_ok(complete(c, bucket, "k", uid, [(1, et[0]), (2, et[1])]))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"".join(parts)


def test_complete_entity_too_small(server, s3, bucket):
    c = server.client("aws4")
    uid, parts, et = _two_part_upload(c, bucket, "k", small_first=True)
    assert_error(complete(c, bucket, "k", uid, [(1, et[0]), (2, et[1])]), 400, "EntityTooSmall")
    assert_ok(complete(c, bucket, "k", uid, [(2, et[1])]))  # a single small part is fine


def test_complete_conditional(server, s3, bucket):
    c = server.client("aws4")
    uid, parts, et = _two_part_upload(c, bucket, "k")
    assert_ok(c.put(bucket, "k", b"existing"))
    plist = [(1, et[0]), (2, et[1])]
    assert_error(complete(c, bucket, "k", uid, plist, headers={"If-None-Match": "*"}), 412, "PreconditionFailed")
    assert_error(complete(c, bucket, "k", uid, plist, headers={"If-Match": '"00"'}), 412, "PreconditionFailed")
    assert_ok(complete(c, bucket, "k", uid, plist, headers={"If-Match": quoted_md5(b"existing")}))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"".join(parts)


# ------------------------------------------------------------------------------------ ListParts


def test_list_parts_paging_and_errors(server, bucket):
    c = server.client("wos4")
    uid, _ = initiate(c, bucket, "k")
    for n in (1, 2, 3):
        upload_part(c, bucket, "k", uid, n, b"p%d" % n)
    r = assert_ok(c.get(bucket, "k", query="uploadId=%s&max-parts=2" % uid))
    root = r.xml()
    assert r.ns == wc.WOS_NS and wc.local(root.tag) == "ListPartsResult"
    assert [wc.xtext(p, "PartNumber") for p in wc.xfindall(root, "Part")] == ["1", "2"]
    assert wc.xtext(root, "IsTruncated") == "true"
    assert wc.xtext(root, "NextPartNumberMarker") == "2"
    assert wc.xtext(root, "MaxParts") == "2"
    assert wc.xtext(root, "UploadId") == uid
    for p in wc.xfindall(root, "Part"):
        assert wc.xtext(p, "LastModified") and wc.xtext(p, "ETag").startswith('"') and wc.xtext(p, "Size") == "2"
    r = assert_ok(c.get(bucket, "k", query="uploadId=%s&part-number-marker=2" % uid))
    assert [wc.xtext(p, "PartNumber") for p in wc.xfindall(r.xml(), "Part")] == ["3"]
    assert wc.xtext(r.xml(), "IsTruncated") == "false"
    assert wc.xtext(r.xml(), "PartNumberMarker") == "2"
    errors = [
        ("max-parts=1001", "Argument maxParts must be an integer between 0 and 1000"),
        ("max-parts=-1", "Argument maxParts must be an integer between 0 and 1000"),
        ("max-parts=abc", "Provided maxParts not an integer or within integer range."),
        ("part-number-marker=abc", "Provided part-number-marker not an integer"),
    ]
    for q, msg in errors:
        assert_error(c.get(bucket, "k", query="uploadId=%s&%s" % (uid, q)), 400, "InvalidArgument", message=msg)


# ------------------------------------------------------------------------------------ ListMultipartUploads


def test_list_multipart_uploads(s3, bucket):
    ids = {}
    for key in ["a/1", "a/2", "b", "b", "c"]:
        ids.setdefault(key, []).append(s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"])
        time.sleep(0.01)
    r = s3.list_multipart_uploads(Bucket=bucket)
    got = [(u["Key"], u["UploadId"]) for u in r["Uploads"]]
    assert got == [("a/1", ids["a/1"][0]), ("a/2", ids["a/2"][0]), ("b", ids["b"][0]), ("b", ids["b"][1]),
                   ("c", ids["c"][0])], "ordered by key, then initiation time"
    for u in r["Uploads"]:
        assert u["Initiated"] and u["Owner"]["ID"] and u["Initiator"]["ID"]
        assert norm_class(u["StorageClass"]) == "Standard"
    r = s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")
    assert [u["Key"] for u in r["Uploads"]] == ["a/1", "a/2"]
    r = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert [u["Key"] for u in r["Uploads"]] == ["b", "b", "c"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/"]
    r = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=3)
    assert r["IsTruncated"] is True and len(r["Uploads"]) == 3
    assert r["NextKeyMarker"] == "b" and r["NextUploadIdMarker"] == ids["b"][0]
    r2 = s3.list_multipart_uploads(Bucket=bucket, KeyMarker=r["NextKeyMarker"],
                                   UploadIdMarker=r["NextUploadIdMarker"])
    assert [(u["Key"], u["UploadId"]) for u in r2["Uploads"]] == [("b", ids["b"][1]), ("c", ids["c"][0])]
    r3 = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="b")
    assert [u["Key"] for u in r3["Uploads"]] == ["c"]
    # A client that aborts each page's uploads before asking for the next names a marker that
    # is gone: the key's later uploads still come (S3 compares the marker as a string).
    page = s3.list_multipart_uploads(Bucket=bucket, MaxUploads=3)
    last = page["Uploads"][-1]
    assert (last["Key"], last["UploadId"]) == ("b", ids["b"][0])
    s3.abort_multipart_upload(Bucket=bucket, Key="b", UploadId=ids["b"][0])
    r4 = s3.list_multipart_uploads(Bucket=bucket, KeyMarker=page["NextKeyMarker"],
                                   UploadIdMarker=page["NextUploadIdMarker"])
    assert [(u["Key"], u["UploadId"]) for u in r4["Uploads"]] == [("b", ids["b"][1]), ("c", ids["c"][0])]
    ids["b"].pop(0)
    allu = []
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket,
                                                                   PaginationConfig={"PageSize": 2}):
        allu += [u["UploadId"] for u in page.get("Uploads", [])]
    assert sorted(allu) == sorted(sum(ids.values(), []))


def test_list_multipart_uploads_wos_namespace(server, bucket):
    c = server.client("wos4")
    initiate(c, bucket, "k")
    r = assert_ok(c.get(bucket, query="uploads"))
    assert r.ns == wc.WOS_NS and wc.local(r.xml().tag) == "ListMultipartUploadsResult"


def test_delete_bucket_with_uploads_in_progress(s3, bucket):
    uid = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    expect_client_error(409, "BucketNotEmpty", s3.delete_bucket, Bucket=bucket)
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=uid)
    s3.delete_bucket(Bucket=bucket)


# ------------------------------------------------------------------------------------ UploadPartCopy


def test_upload_part_copy(server, s3, bucket):
    src = payload(12 * MiB, seed=9)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dst")["UploadId"]
    r1 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=1,
                             CopySource={"Bucket": bucket, "Key": "src"}, CopySourceRange="bytes=0-%d" % (6 * MiB - 1))
    assert r1["CopyPartResult"]["ETag"] == quoted_md5(src[:6 * MiB])
    assert r1["CopyPartResult"]["LastModified"]
    r2 = s3.upload_part_copy(Bucket=bucket, Key="dst", UploadId=uid, PartNumber=2,
                             CopySource={"Bucket": bucket, "Key": "src"},
                             CopySourceRange="bytes=%d-%d" % (6 * MiB, 12 * MiB - 1))
    # WOS spelling for a third part: the whole small object
    s3.put_object(Bucket=bucket, Key="tail", Body=b"tail")
    w = server.client("wos4")
    r3 = assert_ok(w.request("PUT", wc.key_path(bucket, "dst"), "partNumber=3&uploadId=" + uid,
                             {"x-wos-copy-source": "%s/tail" % bucket}))
    assert r3.ns == wc.WOS_NS and wc.local(r3.xml().tag) == "CopyPartResult"
    expect_client_error(412, "PreconditionFailed", s3.upload_part_copy, Bucket=bucket, Key="dst", UploadId=uid,
                        PartNumber=4, CopySource={"Bucket": bucket, "Key": "src"}, CopySourceIfMatch='"00"')
    s3.complete_multipart_upload(Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": r1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": r2["CopyPartResult"]["ETag"]},
        {"PartNumber": 3, "ETag": wc.xtext(r3.xml(), "ETag")}]})
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == src + b"tail"


# ------------------------------------------------------------------------------------ clients


@pytest.mark.clients
def test_aws_cli_cp_200mib_uses_multipart(aws_cli, s3, bucket, tmp_path):
    f = tmp_path / "big.bin"
    with open(f, "wb") as out:
        for i in range(200):
            out.write(payload(MiB, seed=i))
    aws_cli("s3", "cp", str(f), "s3://%s/big.bin" % bucket)
    h = s3.head_object(Bucket=bucket, Key="big.bin")
    assert h["ContentLength"] == 200 * MiB
    assert re.match(r'^"[0-9a-f]{32}-\d+"$', h["ETag"]), h["ETag"]
    back = tmp_path / "back.bin"
    aws_cli("s3", "cp", "s3://%s/big.bin" % bucket, str(back))
    assert wc.md5_hex(back.read_bytes()) == wc.md5_hex(f.read_bytes())


@pytest.mark.clients
def test_rclone_multipart(rclone, s3, bucket, tmp_path):
    f = tmp_path / "rc.bin"
    data = payload(12 * MiB)
    f.write_bytes(data)
    rclone("copyto", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", str(f), "wosd:%s/rc.bin" % bucket)
    h = s3.head_object(Bucket=bucket, Key="rc.bin")
    assert h["ETag"].endswith('-3"'), h["ETag"]
    assert s3.get_object(Bucket=bucket, Key="rc.bin")["Body"].read() == data


@pytest.mark.clients
@pytest.mark.parametrize("version", ["v4", "v2"])
def test_s3cmd_multipart(s3cmd, s3, bucket, tmp_path, version):
    f = tmp_path / "s3cmd-mp.bin"
    data = payload(12 * MiB)
    f.write_bytes(data)
    s3cmd(version)("put", "--multipart-chunk-size-mb=5", str(f), "s3://%s/mp.bin" % bucket)
    h = s3.head_object(Bucket=bucket, Key="mp.bin")
    assert h["ETag"].endswith('-3"'), h["ETag"]
    assert s3.get_object(Bucket=bucket, Key="mp.bin")["Body"].read() == data


# ------------------------------------------------------------------------------------ races and crashes


def test_concurrent_completes(server, s3, bucket):
    c = server.client("aws4")
    for round_ in range(8):
        key = "race-%d" % round_
        uid, parts, et = _two_part_upload(c, bucket, key)
        plist = [(1, et[0]), (2, et[1])]
        with concurrent.futures.ThreadPoolExecutor(4) as ex:
            rs = list(ex.map(lambda _: complete(c, bucket, key, uid, plist), range(4)))
        statuses = sorted(r.status for r in rs)
        assert statuses[0] == 200, rs
        for r in rs:
            if r.status != 200:
                assert_error(r, 404, "NoSuchUpload")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"".join(parts)


def test_complete_racing_abort(server, s3, bucket):
    c = server.client("aws4")
    for round_ in range(5):
        key = "ca-%d" % round_
        uid, parts, et = _two_part_upload(c, bucket, key)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            fc = ex.submit(complete, c, bucket, key, uid, [(1, et[0]), (2, et[1])])
            fa = ex.submit(c.delete, bucket, key, query="uploadId=" + uid)
            rc, ra = fc.result(), fa.result()
        assert rc.status in (200, 404) and ra.status in (204, 404), (rc, ra)
        assert (rc.status == 200) != (ra.status == 204), "exactly one of complete/abort wins: %r %r" % (rc, ra)
        g = c.get(bucket, key)
        if rc.status == 200:
            assert g.status == 200 and g.body == b"".join(parts)
        else:
            assert_error(g, 404, "NoSuchKey")


def test_complete_racing_part_reupload(server, s3, bucket):
    c = server.client("aws4")
    for round_ in range(5):
        key = "cr-%d" % round_
        uid, parts, et = _two_part_upload(c, bucket, key)
        new1 = payload(5 * MiB, seed=1000 + round_)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            fc = ex.submit(complete, c, bucket, key, uid, [(1, et[0]), (2, et[1])])
            fu = ex.submit(c.request, "PUT", wc.key_path(bucket, key), "partNumber=1&uploadId=" + uid, None, new1)
            rc, ru = fc.result(), fu.result()
        if rc.status == 200:
            g = c.get(bucket, key)
            assert g.body == b"".join(parts), "completed object must be exactly the listed parts"
            assert g.header("ETag") == '"%s"' % wc.multipart_etag(parts)
        else:
            assert_error(rc, 400, "InvalidPart")  # the listed ETag no longer matches part 1


def test_sigkill_during_complete(server_factory, bucket_name):
    srv = server_factory("mp-crash")
    name = bucket_name()
    srv.boto().create_bucket(Bucket=name)
    for delay in (0.0, 0.002, 0.01, 0.05):
        c = srv.client("aws4")
        key = "crash-%s" % delay
        uid, _ = initiate(c, name, key)
        parts = _parts_data([5 * MiB, 5 * MiB, 77], seed=int(delay * 1000))
        et = [upload_part(c, name, key, uid, i + 1, d) for i, d in enumerate(parts)]
        t = threading.Thread(target=lambda: _quiet(complete, c, name, key, uid, list(zip([1, 2, 3], et))))
        t.start()
        time.sleep(delay)
        srv.kill()
        t.join(30)
        srv.start(keep_port=True)
        c = srv.client("aws4")
        g = c.get(name, key)
        if g.status == 200:
            assert g.body == b"".join(parts)
            assert g.header("ETag") == '"%s"' % wc.multipart_etag(parts)
        else:
            assert_error(g, 404, "NoSuchKey")
            lp = assert_ok(c.get(name, key, query="uploadId=" + uid))
            assert [wc.xtext(p, "ETag") for p in wc.xfindall(lp.xml(), "Part")] == et
            assert_ok(complete(c, name, key, uid, list(zip([1, 2, 3], et))))
            assert c.get(name, key).body == b"".join(parts)


def _quiet(fn, *a):
    try:
        fn(*a)
    except Exception:  # noqa: BLE001 - the server is being killed
        pass


# ------------------------------------------------------------------------------------ 10,000 parts


def test_ten_thousand_parts(server_factory):
    """The most parts S3 allows, each tiny: a server started with --min-part-size 1024 (a test
    and benchmark knob, as Ceph RGW's rgw_multipart_min_part_size) accepts them, Complete
    writes one manifest of 10,000 extents, and reads walk it exactly. The Complete's time is
    printed (the figure issue 3 asks for is in docs/PERFORMANCE.md), never asserted."""
    srv = server_factory("tenk", extra_args=("--min-part-size", "1024"))
    s3 = srv.boto()
    b = make_bucket_name("tenk")
    s3.create_bucket(Bucket=b)
    uid = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
    n = 10000
    data = payload(n * 1024, seed=77)

    def put(i):
        return s3.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=i + 1,
                              Body=data[i * 1024:(i + 1) * 1024])["ETag"]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        etags = list(ex.map(put, range(n)))
    parts = [{"PartNumber": i + 1, "ETag": etags[i]} for i in range(n)]
    # below the configured minimum is still refused
    s3.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=2, Body=data[1024:2047])
    expect_client_error(400, "InvalidPart", s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                        MultipartUpload={"Parts": parts})
    small = s3.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=2, Body=data[1024:2047])["ETag"]
    parts[1]["ETag"] = small
    expect_client_error(400, "EntityTooSmall", s3.complete_multipart_upload, Bucket=b, Key="k", UploadId=uid,
                        MultipartUpload={"Parts": parts})
    parts[1]["ETag"] = s3.upload_part(Bucket=b, Key="k", UploadId=uid, PartNumber=2,
                                      Body=data[1024:2048])["ETag"]
    t0 = time.monotonic()
    r = s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=uid, MultipartUpload={"Parts": parts})
    print("Complete of %d parts: %.3f s (client-side)" % (n, time.monotonic() - t0))
    import hashlib
    want = hashlib.md5(b"".join(bytes.fromhex(e.strip('"')) for e in [p["ETag"] for p in parts])).hexdigest()
    assert r["ETag"] == '"%s-%d"' % (want, n)
    h = s3.head_object(Bucket=b, Key="k")
    assert h["ContentLength"] == len(data)
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == data
    rng = s3.get_object(Bucket=b, Key="k", Range="bytes=1000-5000")["Body"].read()
    assert rng == data[1000:5001]
    p = s3.get_object(Bucket=b, Key="k", PartNumber=n)
    assert p["PartsCount"] == n and p["Body"].read() == data[-1024:]


@pytest.mark.parametrize("value", ["0", "5242881", "x"])
def test_min_part_size_option_checked(value):
    import subprocess
    from conftest import WOSD_BIN
    r = subprocess.run([WOSD_BIN, "serve", "--min-part-size", value, "--data", "/nonexistent/never"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "--min-part-size" in r.stderr, (r.returncode, r.stderr)
