#!/usr/bin/env python3
"""gen_corpus — writes the seed corpora of tests/fuzz/corpus/<target>/.

The seeds are checked in; this script says where each one comes from and recomputes the ones
that need arithmetic (aws-chunked chunk and trailer signatures, a SigV4 signature over a
streaming-trailer request). It first reproduces the chunk signatures of AWS's published
aws-chunked example, so the signer used for the other seeds is known to be right.

    python3 tests/fuzz/gen_corpus.py        # rewrites its seeds in tests/fuzz/corpus/
"""
import base64
import hashlib
import hmac
import os
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

# WOS-API.md §2.2 example and AWS's published SigV4 examples (also in tests/unit/test_auth.c).
WOS_AK = "2cd1baf7681435ce4a298e9df3eb36958e725394"
WOS_SK = "968d43bc594af8622923d0681ddc367b35a8b23b"
WOS_HOST = "wcstest-r9-private.s3-cn-south-1.wcsapi.com"
WOS_TS = "20201103T104419Z"
WOS_SCOPE = "20201103/cn-south-1/wos/wos_request"
WOS_SEED = "b74bbfce8306f4f78587bdaf00bc659c00110c25259d9d79808a2e179339651f"
AWS_AK = "AKIAIOSFODNN7EXAMPLE"
AWS_SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_TS = "20130524T000000Z"
AWS_SCOPE = "20130524/us-east-1/s3/aws4_request"
AWS_SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
EMPTY_SHA = hashlib.sha256(b"").hexdigest()
SEED_DATE = "Mon, 1 Apr 2017 20:34:56 GMT"


def hm(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


def signing_key(wos, secret, date8, region, service):
    k = hm((("WOS" if wos else "AWS4") + secret).encode(), date8)
    k = hm(k, region)
    k = hm(k, service)
    return hm(k, "wos_request" if wos else "aws4_request")


AWS_KEY = signing_key(False, AWS_SK, "20130524", "us-east-1", "s3")
WOS_KEY = signing_key(True, WOS_SK, "20201103", "cn-south-1", "wos")


class Signer:
    """The chunk-signature chain of one streaming upload."""

    def __init__(self, wos):
        self.wos = wos
        self.key, self.ts, self.scope, self.prev = (
            (WOS_KEY, WOS_TS, WOS_SCOPE, WOS_SEED) if wos else (AWS_KEY, AWS_TS, AWS_SCOPE, AWS_SEED))

    def _sign(self, alg, tail):
        sts = "\n".join([alg, self.ts, self.scope, self.prev, tail])
        return hm(self.key, sts).hex()

    def chunk(self, data):
        alg = "WOS-HMAC-SHA256-PAYLOAD" if self.wos else "AWS4-HMAC-SHA256-PAYLOAD"
        self.prev = self._sign(alg, EMPTY_SHA + "\n" + hashlib.sha256(data).hexdigest())
        return self.prev

    def trailer(self, trailers):
        alg = "WOS-HMAC-SHA256-TRAILER" if self.wos else "AWS4-HMAC-SHA256-TRAILER"
        canon = "".join("%s:%s\n" % (n, v) for n, v in sorted(trailers))
        return self._sign(alg, hashlib.sha256(canon.encode()).hexdigest())


def signed_body(wos, chunks, trailers=None):
    s = Signer(wos)
    out = b""
    for data in list(chunks) + [b""]:
        out += b"%x;chunk-signature=%s\r\n" % (len(data), s.chunk(data).encode())
        if data:
            out += data + b"\r\n"
    if trailers is not None:
        for n, v in trailers:
            out += ("%s:%s\r\n" % (n, v)).encode()
        name = "x-wos-trailer-signature" if wos else "x-amz-trailer-signature"
        out += ("%s:%s\r\n" % (name, s.trailer(trailers))).encode()
    return out + b"\r\n"


def unsigned_body(chunks, trailers):
    out = b""
    for data in chunks:
        out += b"%x\r\n" % len(data) + data + b"\r\n"
    out += b"0\r\n"
    for n, v in trailers:
        out += ("%s:%s\r\n" % (n, v)).encode()
    return out + b"\r\n"


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def self_check():
    # AWS "Signature calculation: transfer payload in multiple chunks" — 65536 + 1024 bytes of 'a'.
    s = Signer(False)
    got = [s.chunk(b"a" * 65536), s.chunk(b"a" * 1024), s.chunk(b"")]
    want = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
            "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
            "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]
    assert got == want, got


# --- SigV4 header signing, for seeds the published examples do not cover -------------------
def sigv4_request(method, path, headers, wos=False):
    """headers: [(name, value)], must include host and the date header. Returns the request
    text of fuzz_auth's format with an Authorization header appended."""
    names = sorted({n.lower() for n, _ in headers})
    vals = {}
    for n, v in headers:
        vals.setdefault(n.lower(), []).append(v.strip())
    canon_hdrs = "".join("%s:%s\n" % (n, ",".join(vals[n])) for n in names)
    signed = ";".join(names)
    payload = vals.get("x-wos-content-sha256" if wos else "x-amz-content-sha256", ["UNSIGNED-PAYLOAD"])[0]
    creq = "\n".join([method, path, "", canon_hdrs, signed, payload])
    ts, scope, key, alg = ((WOS_TS, WOS_SCOPE, WOS_KEY, "WOS-HMAC-SHA256") if wos else
                           (AWS_TS, AWS_SCOPE, AWS_KEY, "AWS4-HMAC-SHA256"))
    sts = "\n".join([alg, ts, scope, hashlib.sha256(creq.encode()).hexdigest()])
    sig = hm(key, sts).hex()
    ak = WOS_AK if wos else AWS_AK
    authz = "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (alg, ak, scope, signed, sig)
    return request(method, path, headers + [("Authorization", authz)])


def request(method, target, headers):
    return "%s\n%s\n%s" % (method, target, "".join("%s: %s\n" % (n, v) for n, v in headers))


def wos_v4(sh, sig):
    return ("WOS-HMAC-SHA256 Credential=%s/20201103/cn-south-1/wos/wos_request, SignedHeaders=%s, "
            "Signature=%s" % (WOS_AK, sh, sig))


def aws_v4(sh, sig):
    return ("AWS4-HMAC-SHA256 Credential=%s/20130524/us-east-1/s3/aws4_request,SignedHeaders=%s,"
            "Signature=%s" % (AWS_AK, sh, sig))


WOS_PRESIGN_Q = ("X-Wos-Algorithm=WOS-HMAC-SHA256&X-Wos-Credential=" + WOS_AK +
                 "%2F20201103%2Fcn-south-1%2Fwos%2Fwos_request&X-Wos-Date=20201103T104419Z"
                 "&X-Wos-Expires=300&X-Wos-SignedHeaders=host")


def auth_seeds():
    v2b = "bucket01.s3-cn-east-1.wcsapi.com"
    jh = "johnsmith.s3.amazonaws.com"
    ex = "examplebucket.s3.amazonaws.com"
    seeds = {
        # WOS-API.md §2.2: WOS-HMAC-SHA256 header
        "wos_v4_header": request("DELETE", "/mine-type.mp4", [
            ("Host", WOS_HOST), ("Range", "0-9"), ("x-wos-content-sha256", EMPTY_SHA), ("x-wos-date", WOS_TS),
            ("Authorization", wos_v4("host;x-wos-content-sha256;x-wos-date",
                                     "0243fe336dc075f95add64c5fe980ae6fd0446b243e0f301e4ad75d32d96dc6a"))]),
        "wos_v4_sdk_date": request("GET", "/dir/a.txt", [
            ("Host", WOS_HOST), ("Date", WOS_TS), ("x-wos-content-sha256", "UNSIGNED-PAYLOAD"),
            ("User-Agent", "wos-sdk-java"),
            ("Authorization", "WOS-HMAC-SHA256 Credential=%s/20201103/cn-south-1/wos/wos_request,SignedHeaders="
             "date;host;x-wos-content-sha256,Signature=0c7fb80adc6861d0a7777ef41a9e7259b566553414369d16009bfff547dede12"
             % WOS_AK)]),
        "wos_v4_repeated_header": request("PUT", "/dir/a.txt", [
            ("Host", WOS_HOST), ("Date", WOS_TS), ("x-wos-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-wos-meta-a", "1"), ("x-wos-meta-a", "2"),
            ("Authorization", wos_v4("date;host;x-wos-content-sha256;x-wos-meta-a",
                                     "46a8c06557593fd3d15ff371f878b6b61c51641eb996185ce347688100239e68"))]),
        "wos_v4_raw_path_query": request("GET", "/a*b%7Ec.txt?uploads&prefix=a+b", [
            ("Host", WOS_HOST), ("Date", WOS_TS), ("x-wos-content-sha256", "UNSIGNED-PAYLOAD"),
            ("Authorization", wos_v4("date;host;x-wos-content-sha256",
                                     "56723cdd314eaac26bfc04021a9a29929ba4a1c8463d18630f0a879cdea86303"))]),
        "wos_v4_streaming": request("PUT", "/obj", [
            ("Host", WOS_HOST), ("x-wos-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), ("x-wos-date", WOS_TS),
            ("Authorization", wos_v4("host;x-wos-content-sha256;x-wos-date", WOS_SEED))]),
        # §2.4: X-Wos-* presigned URL
        "wos_presigned": request("GET", "/mine-type.mp4?" + WOS_PRESIGN_Q +
                                 "&X-Wos-Signature=fc6306b74766f648783f601dbb2979eb82bfb3d2769cb38bcd9ee949653b3a58",
                                 [("Host", WOS_HOST)]),
        "wos_presigned_slash": request("GET", "/dir%2Fa.txt?" + WOS_PRESIGN_Q +
                                       "&X-Wos-Signature=7531d70639f8bfb90148b9f131a2b15890c129638fdce4d3ce759941dcde7904",
                                       [("Host", WOS_HOST)]),
        # §2.6 and the seed page: WOS AK:sig
        "wos_v2_uploads": request("POST", "/objectkey?uploads", [
            ("Host", v2b), ("Date", SEED_DATE), ("Authorization", "WOS %s:56eMLhjXYjJ7ksAX5BAXev4XU7c=" % WOS_AK)]),
        "wos_v2_put_headers": request("PUT", "/dir/a.txt", [
            ("Host", v2b), ("Date", SEED_DATE), ("Content-Type", "text/plain"), ("x-wos-meta-a", "1"),
            ("X-Wos-Storage-Class", "IA"), ("x-amz-meta-b", "ignored"),
            ("Authorization", "WOS %s:qmJL40xg1E+mB0G2/hOjoU7TIYs=" % WOS_AK)]),
        "wos_v2_part": request("PUT", "/objectkey?partNumber=2&uploadId=ABC", [
            ("Host", v2b), ("Date", SEED_DATE), ("Authorization", "WOS %s:RH+0dq+dQo9RzRKZtVfSdlN6llc=" % WOS_AK)]),
        "wos_v2_append": request("GET", "/objectkey?position=10&append&unrelated=x", [
            ("Host", v2b), ("x-wos-date", SEED_DATE), ("Authorization", "WOS %s:Cc9vOVM5O4Hmc0GVD6FawcSqV18=" % WOS_AK)]),
        "wos_v2_path_style": request("GET", "/bucket01/objectkey?response-content-type=text%2Fplain", [
            ("Host", "h"), ("Date", SEED_DATE), ("Authorization", "WOS %s:oPLlv3oP8QkdcqOcTBpQpOBlpWc=" % WOS_AK)]),
        # §2.7: V2 presigned query
        "wos_v2_query": request("GET", "/dir/a.txt?Signature=HzfspVysRz608YdD6SQ%2FTht%2BKfk%3D&AWSAccessKeyId=" +
                                WOS_AK + "&Expires=1639390003", [("Host", v2b)]),
        "wos_v2_query_wos_name": request("GET", "/dir/a.txt?WOSAccessKeyId=" + WOS_AK +
                                         "&Expires=1639390003&Signature=HzfspVysRz608YdD6SQ%2FTht%2BKfk%3D",
                                         [("Host", v2b)]),
        # AWS "Query string request authentication" (SigV2)
        "aws_v2_query": request("GET", "/photos/puppy.jpg?AWSAccessKeyId=" + AWS_AK +
                                "&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620", [("Host", jh)]),
        # AWS "Signing and authenticating REST requests" (SigV2)
        "aws_v2_get": request("GET", "/photos/puppy.jpg", [
            ("Host", jh), ("Date", "Tue, 27 Mar 2007 19:36:42 +0000"),
            ("Authorization", "AWS %s:bWq2s1WEIj+Ydj0vQ697zp+IXMU=" % AWS_AK)]),
        "aws_v2_put": request("PUT", "/photos/puppy.jpg", [
            ("Content-Type", "image/jpeg"), ("Content-Length", "94328"), ("Host", jh),
            ("Date", "Tue, 27 Mar 2007 21:15:45 +0000"), ("Authorization", "AWS %s:MyyxeRY7whkBe+bq8fHCL/2kKUg=" % AWS_AK)]),
        "aws_v2_list": request("GET", "/?prefix=photos&max-keys=50&marker=puppy", [
            ("User-Agent", "Mozilla/5.0"), ("Host", jh), ("Date", "Tue, 27 Mar 2007 19:42:41 +0000"),
            ("Authorization", "AWS %s:htDYFYduRNen8P9ZfE/s9SuKy0U=" % AWS_AK)]),
        "aws_v2_acl": request("GET", "/?acl", [
            ("Host", jh), ("Date", "Tue, 27 Mar 2007 19:44:46 +0000"),
            ("Authorization", "AWS %s:c2WLPFtWHVgbEmeEG93a4cG37dM=" % AWS_AK)]),
        "aws_v2_delete_amz_date": request("DELETE", "/johnsmith/photos/puppy.jpg", [
            ("User-Agent", "dotnet"), ("Host", "s3.amazonaws.com"), ("Date", "Tue, 27 Mar 2007 21:20:27 +0000"),
            ("x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"),
            ("Authorization", "AWS %s:R4dJ53KECjStyBO5iTBJZ4XVOaI=" % AWS_AK)]),
        "aws_v2_upload_cname": request("PUT", "/db-backup.dat.gz", [
            ("User-Agent", "curl/7.15.5"), ("Host", "static.johnsmith.net:8080"),
            ("Date", "Tue, 27 Mar 2007 21:06:08 +0000"), ("x-amz-acl", "public-read"),
            ("content-type", "application/x-download"), ("Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="),
            ("X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"), ("X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"),
            ("X-Amz-Meta-FileChecksum", "0x02661779"), ("X-Amz-Meta-ChecksumAlgorithm", "crc32"),
            ("Content-Disposition", "attachment; filename=database.dat"), ("Content-Encoding", "gzip"),
            ("Content-Length", "5913339"), ("Authorization", "AWS %s:ilyl83RwaSoYIEdixDQcA4OnAnc=" % AWS_AK)]),
        "aws_v2_unicode": request("GET", "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re", [
            ("Host", "s3.amazonaws.com"), ("Date", "Wed, 28 Mar 2007 01:49:49 +0000"),
            ("Authorization", "AWS %s:DNEZGsoieTZ92F3bUfSPQcbGmlM=" % AWS_AK)]),
        # AWS "Examples of signature calculation" (SigV4)
        "aws_v4_get_object": request("GET", "/test.txt", [
            ("Host", ex), ("Range", "bytes=0-9"), ("x-amz-content-sha256", EMPTY_SHA), ("x-amz-date", AWS_TS),
            ("Authorization", aws_v4("host;range;x-amz-content-sha256;x-amz-date",
                                     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))]),
        "aws_v4_put_object": request("PUT", "/test$file.text", [
            ("Host", ex), ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-date", AWS_TS),
            ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
            ("Authorization", aws_v4("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                                     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))]),
        "aws_v4_lifecycle": request("GET", "/?lifecycle", [
            ("Host", ex), ("x-amz-date", AWS_TS), ("x-amz-content-sha256", EMPTY_SHA),
            ("Authorization", aws_v4("host;x-amz-content-sha256;x-amz-date",
                                     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))]),
        "aws_v4_list": request("GET", "/?prefix=J&max-keys=2", [
            ("Host", ex), ("x-amz-date", AWS_TS), ("x-amz-content-sha256", EMPTY_SHA),
            ("Authorization", aws_v4("host;x-amz-content-sha256;x-amz-date",
                                     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))]),
        "aws_v4_no_payload_header": request("GET", "/test.txt", [
            ("Host", ex), ("x-amz-date", AWS_TS),
            ("Authorization", aws_v4("host;x-amz-date",
                                     "c56d82b267bdb6e445b1471d255de6c82ea88b19c83e16370232146fdcd628ec"))]),
        "aws_v4_presigned": request("GET", "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + AWS_AK +
                                    "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z"
                                    "&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
                                    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404",
                                    [("Host", ex)]),
        "aws_v4_streaming_seed": request("PUT", "/examplebucket/chunkObject.txt", [
            ("Host", "s3.amazonaws.com"), ("x-amz-date", AWS_TS), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
            ("Authorization", aws_v4("content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                                     "x-amz-decoded-content-length;x-amz-storage-class", AWS_SEED)),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"), ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "66560"), ("Content-Length", "66824")]),
        # What the AWS SDKs send since 2025 (flexible checksums), signed here.
        "aws_v4_unsigned_trailer": sigv4_request("PUT", "/bucket/key.txt", [
            ("Host", "localhost:9000"), ("x-amz-date", AWS_TS),
            ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "11"), ("x-amz-trailer", "x-amz-checksum-crc32"),
            ("x-amz-sdk-checksum-algorithm", "CRC32")]),
        "aws_v4_signed_trailer": sigv4_request("PUT", "/bucket/key.txt", [
            ("Host", "localhost:9000"), ("x-amz-date", AWS_TS),
            ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), ("content-encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", "11"), ("x-amz-trailer", "x-amz-checksum-crc32")]),
        "anonymous_get": request("GET", "/bucket/photos/2006/February/sample.jpg", [
            ("Host", "localhost:9000"), ("User-Agent", "curl/7.88.1"), ("Accept", "*/*")]),
        "two_mechanisms": request("GET", "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&Signature=x", [
            ("Host", ex), ("Authorization", "AWS %s:bWq2s1WEIj+Ydj0vQ697zp+IXMU=" % AWS_AK)]),
    }
    return {k: v.encode() for k, v in seeds.items()}


# --- fuzz_chunked: one header byte of mode, four of piece sizes, then the body -------------
# mode % 6: 0 signed, 1 signed+trailer, 2 unsigned+trailer (AWS key); 3, 4, 5 the same (WOS key).
def chunked_seeds():
    hello = b"hello world"
    tr = [("x-amz-checksum-crc32", crc32_b64(hello))]
    wtr = [("x-wos-checksum-crc32", crc32_b64(hello))]
    seeds = {
        "aws_signed": (0, signed_body(False, [b"a" * 64, b"a" * 16])),
        "aws_signed_one_chunk": (0, signed_body(False, [b"Welcome to Amazon S3."])),
        "aws_signed_empty": (0, signed_body(False, [])),
        "aws_signed_trailer": (1, signed_body(False, [hello], tr)),
        "aws_signed_two_trailers": (1, signed_body(False, [b"abc", b"defgh"], tr + [
            ("x-amz-checksum-sha256", base64.b64encode(hashlib.sha256(b"abcdefgh").digest()).decode())])),
        "aws_unsigned_trailer": (2, unsigned_body([hello], tr)),      # AWS SDK for JavaScript v3
        "aws_unsigned_trailer_two_chunks": (2, unsigned_body([b"hello ", b"world"], tr)),
        "aws_unsigned_no_final_crlf": (2, unsigned_body([hello], tr)[:-2]),
        "wos_signed": (3, signed_body(True, [b"0123456789abcdef" * 3])),
        "wos_signed_trailer": (4, signed_body(True, [hello], wtr)),
        "wos_unsigned_trailer": (5, unsigned_body([hello], wtr)),
    }
    out = {}
    for name, (mode, body) in seeds.items():
        out[name] = bytes([mode, 0, 0, 0, 0]) + body               # fed at once
        out[name + "_bytewise"] = bytes([mode, 1, 1, 1, 1]) + body  # one byte at a time
        out[name + "_odd"] = bytes([mode, 7, 3, 61, 2]) + body
    return out


def xml_seeds():
    ns_s3 = ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
    ns_wos = ' xmlns="https://www.wangsu.com/document"'
    return {k: v.encode() for k, v in {
        "complete_wos": '<CompleteMultipartUpload>\n'
                        '  <Part><PartNumber>1</PartNumber><ETag>"a54357aff0632cce46d942af68356b38"</ETag></Part>\n'
                        '  <Part><PartNumber>2</PartNumber><ETag>"0c78aef83f66abc1fa1e8477f296d394"</ETag></Part>\n'
                        '</CompleteMultipartUpload>\n',
        "complete_s3_ns": '<?xml version="1.0" encoding="UTF-8"?>\n<CompleteMultipartUpload%s>'
                          '<Part><ETag>&quot;7778aef83f66abc1fa1e8477f296d394&quot;</ETag><PartNumber>1</PartNumber>'
                          '<ChecksumCRC32>DUoRhQ==</ChecksumCRC32></Part>'
                          '<Part><ETag>"aaaa18db4cc2f85cedef654fccc4a4x8"</ETag><PartNumber>3</PartNumber></Part>'
                          '</CompleteMultipartUpload>' % ns_s3,
        "complete_bad_number": '<CompleteMultipartUpload%s><Part><PartNumber>0x1</PartNumber><ETag>e</ETag></Part>'
                               '<Part><PartNumber>10001</PartNumber></Part></CompleteMultipartUpload>' % ns_wos,
        "delete_quiet": '<?xml version="1.0" encoding="UTF-8"?>\n<Delete%s><Quiet>true</Quiet>'
                        '<Object><Key>sample1.txt</Key></Object>'
                        '<Object><Key>sample2.txt</Key><VersionId>null</VersionId></Object></Delete>' % ns_s3,
        "delete_wos_encoded_keys": '<Delete><Object><Key>dir/%E4%B8%AD%E6%96%87.txt</Key></Object>'
                                   '<Object><Key>a%20b+c</Key></Object><Object><Key>%zz</Key></Object>'
                                   '<Quiet>false</Quiet></Delete>',
        "delete_odd_keys": '<Delete%s><Object><Key><![CDATA[a<b>&c]]></Key></Object>'
                           '<Object><Key>&#x4e2d;&#25991;</Key><VersionId>3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY</VersionId>'
                           '</Object><Object></Object><Object><Key></Key></Object></Delete>' % ns_wos,
        "create_bucket": '<CreateBucketConfiguration%s><LocationConstraint>cn-south-1</LocationConstraint>'
                         '</CreateBucketConfiguration>' % ns_wos,
        "create_bucket_s3": '<?xml version="1.0" encoding="UTF-8"?>\n<CreateBucketConfiguration%s>\n'
                            '   <LocationConstraint>eu-west-1</LocationConstraint>\n</CreateBucketConfiguration>' % ns_s3,
        "create_bucket_prefixed_ns": '<s3:CreateBucketConfiguration xmlns:s3="http://s3.amazonaws.com/doc/2006-03-01/">'
                                     '<s3:LocationConstraint/></s3:CreateBucketConfiguration>',
        "dtd_refused": '<?xml version="1.0"?>\n<!DOCTYPE Delete [<!ENTITY x "y">]>\n'
                       '<Delete><Object><Key>&x;</Key></Object></Delete>',
        "comments_pi": '<!-- c --><?pi x?><Delete><!-- k --><Object><Key>k<!-- x -->ey</Key></Object></Delete>',
    }.items()}


# --- fuzz_form: four bytes of piece sizes, the Content-Type line, then the body -------------
def form_seeds():
    def form(boundary, fields, file_field=None, file_name="photo.jpg", file_type="image/jpeg", data=b""):
        out = b""
        for name, value in fields:
            out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                    % (boundary, name, value)).encode()
        if file_field:
            out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                    "Content-Type: %s\r\n\r\n" % (boundary, file_field, file_name, file_type)).encode()
            out += data + b"\r\n"
        return out + ("--%s--\r\n" % boundary).encode()

    policy = base64.b64encode(b'{"expiration":"2030-01-01T00:00:00.000Z","conditions":[{"bucket":"bucket01"},'
                              b'["starts-with","$key","user/"]]}').decode()
    wos = form("----WebKitFormBoundary7MA4YWxkTrZu0gW", [
        ("key", "user/${filename}"), ("policy", policy), ("x-wos-algorithm", "WOS-HMAC-SHA256"),
        ("x-wos-credential", WOS_AK + "/20201103/cn-south-1/wos/wos_request"), ("x-wos-date", WOS_TS),
        ("x-wos-signature", "0" * 64), ("x-wos-acl", "private"), ("content-type", "text/plain")],
        "file", "hello.txt", "text/plain", b"hello world")
    aws_v2 = form("9431149156168", [
        ("key", "user/eric/MyPicture.jpg"), ("acl", "public-read"),
        ("success_action_redirect", "https://awsexamplebucket1.s3.us-west-1.amazonaws.com/successful_upload.html"),
        ("Content-Type", "image/jpeg"), ("x-amz-meta-uuid", "14365123651274"), ("AWSAccessKeyId", AWS_AK),
        ("Policy", policy), ("Signature", "0RavWzkygo6QX9caELEqKi9kDbU=")],
        "file", "MyFilename.jpg", "image/jpeg", bytes(range(256)) + b"\r\n--943114915616 (almost a boundary)")
    curl = form("------------------------d74496d66958873e", [("key", "a.txt")], "file", "a.txt",
                "application/octet-stream", b"")
    seeds = {
        "wos_post_policy": ("multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW", wos),
        "aws_v2_post": ('multipart/form-data; boundary="9431149156168"', aws_v2),
        "curl_empty_file": ("multipart/form-data; boundary=------------------------d74496d66958873e", curl),
        "preamble_epilogue": ("Multipart/Form-Data; charset=utf-8; boundary=b", b"preamble\r\n" +
                              form("b", [("key", "k")]) + b"epilogue"),
    }
    out = {}
    for name, (ctype, body) in seeds.items():
        head = ctype.encode() + b"\n" + body
        out[name] = bytes([0, 0, 0, 0]) + head
        out[name + "_bytewise"] = bytes([1, 1, 1, 1]) + head
        out[name + "_odd"] = bytes([5, 17, 2, 64]) + head
    return out


def time_seeds():
    forms = ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994",
             "19941106T084937Z", "1994-11-06T08:49:37Z", "1994-11-06T08:49:37.123Z", "2020-11-03T10:44:19+00:00",
             "Tue, 27 Mar 2007 19:36:42 +0000", SEED_DATE, WOS_TS, "Fri, 24 May 2013 00:00:00 UTC",
             "Thu, 31 Dec 9999 23:59:60 GMT", "Thu, 01 Jan 1970 00:00:00 GMT", "20201103T104419"]
    return {"t%02d" % i: f.encode() for i, f in enumerate(forms)}


def range_seeds():
    forms = ["1000\nbytes=0-9", "1000\nbytes=-100", "1000\nbytes=900-", "1000\nbytes=0-", "0\nbytes=0-",
             "0\nbytes=-1", "5\nbytes=10-20", "100\nbytes=0-9,20-29", "100\nbytes=5-3", "100\nitems=0-1",
             "9223372036854775807\nbytes=9223372036854775806-", "100\nbytes=0-99999999999999999999",
             "100\nbytes=-0", "100\nbytes= 1-2"]
    return {"r%02d" % i: f.encode() for i, f in enumerate(forms)}


def url_seeds():
    forms = [b"photos/2006/January/sample.jpg", b"a b/c?d=e&f", b"%E4%B8%AD%E6%96%87", b"fran%C3%A7ais/pr%c3%a9f",
             "中文/キー.txt".encode(), b"+%2B+%20", b"%zz%4", b"a%00b", b"\xc0\xaf", b"\xed\xa0\x80",
             b"\xf4\x90\x80\x80", b"\xf0\x9f\x98\x80 ok", b"  Credential=AK/x,\t SignedHeaders=host  ",
             b"~-_.*'()!$"]
    return {"u%02d" % i: f for i, f in enumerate(forms)}


def http_parse_seeds():
    """Byte 0 splits the body; then a request head as clients send it, and a chunked body."""
    sig = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=host;x-amz-content-sha256;x-amz-date, "
           "Signature=%s" % (AWS_AK, AWS_SCOPE, "0" * 64))
    get = ("GET /examplebucket/test.txt?response-content-type=text%%2Fplain HTTP/1.1\r\nHost: s3.amazonaws.com\r\n"
           "x-amz-date: %s\r\nx-amz-content-sha256: %s\r\nAuthorization: %s\r\n\r\n" % (AWS_TS, EMPTY_SHA, sig))
    put = ("PUT /b/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n"
           "Authorization: %s\r\n\r\n" % sig)
    bodies = [b"5\r\nhello\r\n0\r\n\r\n", b"3;ext=1\r\nabc\r\nA\r\n0123456789\r\n0\r\nx-amz-checksum-crc32: AAAAAA==\r\n\r\n",
              b"10000000000000005\r\nhello\r\n0\r\n\r\n", b"-5\r\nhello\r\n0\r\n\r\n", b"5\nhello\n0\n\n",
              b"0\r\n\r\nGET / HTTP/1.1\r\n\r\n"]
    heads = [get.encode(), put.encode(), b"GET / HTTP/1.0\n\n", b"HEAD /b/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             b"PUT /b/k HTTP/1.1\r\nContent-Length : 5\r\nX-A: v\r\n folded\r\n\r\n",
             b"GET /\xe4\xb8\xad HTTP/2.0\r\n\r\n", b"BAD LINE\r\n\r\n", b"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n"]
    out = {}
    for i, h in enumerate(heads):
        out["h%02d" % i] = bytes([i % 17]) + h + bodies[i % len(bodies)]
    for i, b in enumerate(bodies):
        out["b%02d" % i] = bytes([3 + i]) + put.encode() + b
    return out


def main():
    self_check()
    sets = {"fuzz_auth": auth_seeds(), "fuzz_chunked": chunked_seeds(), "fuzz_form": form_seeds(), "fuzz_xml": xml_seeds(),
            "fuzz_time": time_seeds(), "fuzz_range": range_seeds(), "fuzz_url": url_seeds(),
            "fuzz_http_parse": http_parse_seeds()}
    for target, seeds in sets.items():
        d = os.path.join(OUT, target)
        os.makedirs(d, exist_ok=True)
        # Only this script's seeds are rewritten: the directories also hold seeds kept by hand
        # (inputs that once found a bug, from other targets' formats), which stay.
        kept = sorted(set(os.listdir(d)) - set(seeds))
        for name, data in seeds.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        print("%-16s %3d seeds written, %3d other files kept" % (target, len(seeds), len(kept)))


if __name__ == "__main__":
    main()
