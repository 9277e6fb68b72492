"""A small WOS / S3 client for the integration tests, built on http.client.

It implements, from ../../shared/WOS-API.md §2:
  * WOS-HMAC-SHA256 header signing and presigned URLs (X-Wos-*),
  * the legacy `WOS AK:Signature` V2 header and the V2 query presign
    (AWSAccessKeyId or WOSAccessKeyId + Expires + Signature),
  * AWS SigV4 (header, presigned, aws-chunked streaming with chunk signatures,
    unsigned streaming with checksum trailers) and AWS SigV2 (`AWS AK:sig`).

The point of writing our own: a test can sign one thing and send another (see
`sign=` in Client.request), and the exact path and query bytes go on the wire as
signed (http.client does not re-quote the request target).
"""
import base64
import datetime
import email.utils
import hashlib
import hmac
import http.client
import random
import re
import socket
import time
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

S3_NS = "http://s3.amazonaws.com/doc/2006-03-01/"
WOS_NS = "https://www.wangsu.com/document"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
WOS_XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'


# --------------------------------------------------------------------------- encoding


def uri_encode(s, safe="-_.~"):
    """RFC 3986 percent-encoding of the UTF-8 bytes of s (upper-case hex)."""
    if isinstance(s, str):
        s = s.encode("utf-8")
    return urllib.parse.quote_from_bytes(s, safe=safe)


def key_path(bucket, key=None):
    """Path-style request path with the key encoded as AWS SDKs do."""
    if key is None:
        return "/" + bucket if bucket else "/"
    return "/" + bucket + "/" + uri_encode(key, safe="/-_.~")


def canonical_query(raw_query):
    """SigV4 canonical query string from an already-encoded raw query."""
    if not raw_query:
        return ""
    pairs = []
    for part in raw_query.split("&"):
        if part == "":
            continue
        k, _, v = part.partition("=")
        pairs.append((k, v))
    pairs.sort()
    return "&".join(k + "=" + v for k, v in pairs)


def amz_date(dt):
    return dt.strftime("%Y%m%dT%H%M%SZ")


def http_date(dt):
    return email.utils.format_datetime(dt.astimezone(datetime.timezone.utc), usegmt=True)


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def sha256_hex(b):
    return hashlib.sha256(b).hexdigest()


def md5_b64(b):
    return base64.b64encode(hashlib.md5(b).digest()).decode()


def md5_hex(b):
    return hashlib.md5(b).hexdigest()


def multipart_etag(parts):
    """S3 multipart ETag (without quotes) from the list of part bodies or part md5 hex strings."""
    digests = b"".join(bytes.fromhex(p) if isinstance(p, str) else hashlib.md5(p).digest() for p in parts)
    return "%s-%d" % (hashlib.md5(digests).hexdigest(), len(parts))


# --------------------------------------------------------------------------- checksums


def _crc_table(poly, width):
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c & ((1 << width) - 1))
    return table


_CRC32C_TABLE = _crc_table(0x82F63B78, 32)
_CRC64NVME_TABLE = _crc_table(0x9A6C9329AC4BC9B5, 64)


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    t = _CRC32C_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc64nvme(data, crc=0):
    mask = 0xFFFFFFFFFFFFFFFF
    crc ^= mask
    t = _CRC64NVME_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ mask


def checksum_b64(algorithm, data):
    """Value of an x-amz-checksum-<algorithm> header for data."""
    a = algorithm.lower()
    if a == "crc32":
        raw = (zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")
    elif a == "crc32c":
        raw = crc32c(data).to_bytes(4, "big")
    elif a == "crc64nvme":
        raw = crc64nvme(data).to_bytes(8, "big")
    elif a == "sha1":
        raw = hashlib.sha1(data).digest()
    elif a == "sha256":
        raw = hashlib.sha256(data).digest()
    else:
        raise ValueError(algorithm)
    return base64.b64encode(raw).decode()


# --------------------------------------------------------------------------- SigV4 family


class V4Params:
    def __init__(self, algorithm, key_prefix, service, terminator, date_header, sha_header, query_prefix):
        self.algorithm = algorithm
        self.key_prefix = key_prefix
        self.service = service
        self.terminator = terminator
        self.date_header = date_header
        self.sha_header = sha_header
        self.query_prefix = query_prefix


AWS4 = V4Params("AWS4-HMAC-SHA256", "AWS4", "s3", "aws4_request", "x-amz-date", "x-amz-content-sha256", "X-Amz-")
WOS4 = V4Params("WOS-HMAC-SHA256", "WOS", "wos", "wos_request", "x-wos-date", "x-wos-content-sha256", "X-Wos-")


def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8") if isinstance(msg, str) else msg, hashlib.sha256).digest()


def v4_signing_key(p, secret, datestamp, region):
    k = _hmac((p.key_prefix + secret).encode("utf-8"), datestamp)
    k = _hmac(k, region)
    k = _hmac(k, p.service)
    return _hmac(k, p.terminator)


def v4_scope(p, datestamp, region):
    return "%s/%s/%s/%s" % (datestamp, region, p.service, p.terminator)


def v4_canonical_headers(headers, signed_names, trim=True, join_repeated=True):
    """headers: list of (name, value). Returns the canonical header block (each line + '\\n')."""
    out = []
    for name in signed_names:
        vals = [v for (n, v) in headers if n.lower() == name]
        if trim:
            vals = [re.sub(r"\s+", " ", v.strip()) for v in vals]
        if join_repeated:
            out.append("%s:%s\n" % (name, ",".join(vals)))
        else:
            out.extend("%s:%s\n" % (name, v) for v in vals)
    return "".join(out)


def v4_canonical_request(method, raw_path, raw_query, headers, signed_names, payload_hash, **kw):
    return "\n".join([
        method,
        raw_path,
        canonical_query(raw_query),
        v4_canonical_headers(headers, signed_names, **kw),
        ";".join(signed_names),
        payload_hash,
    ])


def v4_string_to_sign(p, stamp, scope, creq):
    return "\n".join([p.algorithm, stamp, scope, sha256_hex(creq.encode("utf-8"))])


def v4_signature(p, secret, region, stamp, creq):
    datestamp = stamp[:8]
    sts = v4_string_to_sign(p, stamp, v4_scope(p, datestamp, region), creq)
    return hmac.new(v4_signing_key(p, secret, datestamp, region), sts.encode("utf-8"), hashlib.sha256).hexdigest()


def v4_chunk_signature(secret, region, stamp, prev_sig, chunk, p=AWS4):
    datestamp = stamp[:8]
    sts = "\n".join([p.algorithm + "-PAYLOAD", stamp, v4_scope(p, datestamp, region), prev_sig,
                     EMPTY_SHA256, sha256_hex(chunk)])
    return hmac.new(v4_signing_key(p, secret, datestamp, region), sts.encode(), hashlib.sha256).hexdigest()


def v4_presign_query(p, ak, secret, region, method, raw_path, raw_query, headers, signed_names,
                     expires, stamp, payload_hash=UNSIGNED, credential_ak=None):
    """Returns the full raw query (original params + auth params + signature)."""
    datestamp = stamp[:8]
    cred = "%s/%s" % (ak if credential_ak is None else credential_ak, v4_scope(p, datestamp, region))
    q = p.query_prefix
    auth = [
        (q + "Algorithm", p.algorithm),
        (q + "Credential", cred),
        (q + "Date", stamp),
        (q + "Expires", str(expires)),
        (q + "SignedHeaders", ";".join(signed_names)),
    ]
    parts = [x for x in (raw_query or "").split("&") if x]
    parts += ["%s=%s" % (k, uri_encode(v)) for k, v in auth]
    full = "&".join(parts)
    creq = v4_canonical_request(method, raw_path, full, headers, signed_names, payload_hash)
    sig = v4_signature(p, secret, region, stamp, creq)
    return full + "&%sSignature=%s" % (q, sig)


# --------------------------------------------------------------------------- SigV2 family

V2_SUBRESOURCES = {
    "acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "partNumber",
    "policy", "requestPayment", "restore", "tagging", "torrent", "uploadId", "uploads", "versionId",
    "versioning", "versions", "website", "append", "position", "response-cache-control",
    "response-content-disposition", "response-content-encoding", "response-content-language",
    "response-content-type", "response-expires",
}


def v2_canonical_resource(raw_path, raw_query="", vhost_bucket=None):
    path = raw_path
    if vhost_bucket:
        path = "/" + vhost_bucket + raw_path
    subs = []
    for part in (raw_query or "").split("&"):
        if not part:
            continue
        k, eq, v = part.partition("=")
        if k in V2_SUBRESOURCES:
            subs.append((k, urllib.parse.unquote(v) if eq else None))
    if subs:
        subs.sort(key=lambda kv: kv[0])
        path += "?" + "&".join(k if v is None else "%s=%s" % (k, v) for k, v in subs)
    return path


def v2_string_to_sign(method, headers, resource, prefix="x-amz-", date_value=None):
    """headers: list of (name, value); date_value overrides the Date line (presign: Expires)."""
    def first(name):
        for n, v in headers:
            if n.lower() == name:
                return v.strip()
        return ""

    date = first("date") if date_value is None else date_value
    custom = {}
    for n, v in headers:
        ln = n.lower()
        if ln.startswith(prefix):
            custom.setdefault(ln, []).append(v.strip())
    lines = "".join("%s:%s\n" % (k, ",".join(custom[k])) for k in sorted(custom))
    return "%s\n%s\n%s\n%s\n%s%s" % (method, first("content-md5"), first("content-type"), date, lines, resource)


def v2_signature(secret, sts):
    return base64.b64encode(hmac.new(secret.encode(), sts.encode("utf-8"), hashlib.sha1).digest()).decode()


# --------------------------------------------------------------------------- responses


def local(tag):
    return tag.rsplit("}", 1)[-1]


def ns_of(elem):
    return elem.tag[1:].split("}", 1)[0] if elem.tag.startswith("{") else ""


def xfind(elem, path):
    """Find by local names ('A/B'), ignoring namespaces."""
    for name in path.split("/"):
        if elem is None:
            return None
        elem = next((c for c in elem if local(c.tag) == name), None)
    return elem


def xfindall(elem, path):
    *parents, last = path.split("/")
    if parents:
        elem = xfind(elem, "/".join(parents))
        if elem is None:
            return []
    return [c for c in elem if local(c.tag) == last]


def xtext(elem, path, default=None):
    e = xfind(elem, path)
    if e is None:
        return default
    return e.text or ""


class Response:
    def __init__(self, status, reason, headers, body, raw=None):
        self.status = status
        self.reason = reason
        self.headers = headers  # http.client.HTTPMessage (case-insensitive)
        self.body = body
        self.raw = raw  # the HTTPResponse when streamed
        self._xml = None

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def xml(self):
        if self._xml is None:
            self._xml = ET.fromstring(self.body)
        return self._xml

    @property
    def ns(self):
        return ns_of(self.xml())

    @property
    def code(self):
        """The <Code> of an error body, or None."""
        if not self.body:
            return None
        try:
            root = self.xml()
        except ET.ParseError:
            return None
        if local(root.tag) != "Error":
            return None
        return xtext(root, "Code")

    @property
    def message(self):
        try:
            return xtext(self.xml(), "Message")
        except ET.ParseError:
            return None

    def __repr__(self):
        body = self.body[:600] if isinstance(self.body, (bytes, bytearray)) else b"<stream>"
        return "<Response %s %s %r>" % (self.status, self.reason, body)


# --------------------------------------------------------------------------- the client

SCHEMES = ("wos4", "aws4", "wos2", "aws2", "anon", "wos4-presign", "aws4-presign", "v2-presign",
           "wos-v2-presign")
_NEVER_SIGNED = {"user-agent", "expect", "connection", "content-length", "transfer-encoding",
                 "authorization", "accept-encoding"}


class Client:
    """Signs and sends one request at a time over a fresh connection.

    scheme: wos4 | aws4 | wos2 | aws2 | anon | wos4-presign | aws4-presign |
            v2-presign (AWSAccessKeyId) | wos-v2-presign (WOSAccessKeyId)
    """

    def __init__(self, host, port, access_key, secret_key, region="us-east-1", scheme="wos4", timeout=120):
        self.host = host
        self.port = port
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.scheme = scheme
        self.timeout = timeout

    def with_scheme(self, scheme):
        return Client(self.host, self.port, self.access_key, self.secret_key, self.region, scheme, self.timeout)

    @property
    def dialect(self):
        return "aws" if self.scheme in ("aws4", "aws2", "aws4-presign") else "wos"

    # -- signing ---------------------------------------------------------------------------

    def sign(self, method, path, query="", headers=None, body=b"", *, scheme=None, host=None,
             payload=None, date=None, sign=None, signed_headers=None, vhost_bucket=None,
             expires=300, comma=", ", add_date=True, add_sha=True, join_repeated=True):
        """Returns (target, headers_list) ready to send. `sign` overrides what is signed:
        method, path, query, headers (dict: value or None to drop), resource (V2),
        date (datetime for the credential scope / V2 date line), region, ak, sk, stamp."""
        scheme = scheme or self.scheme
        sign = dict(sign or {})
        if isinstance(headers, dict):
            hl = list(headers.items())
        else:
            hl = list(headers or [])
        names = {n.lower() for n, _ in hl}
        if "host" not in names:
            hl.insert(0, ("Host", host or "%s:%s" % (self.host, self.port)))
        now = date or utcnow()
        ak = sign.get("ak", self.access_key)
        sk = sign.get("sk", self.secret_key)
        region = sign.get("region", self.region)
        query = query or ""

        def signing_view(hl_):
            view = [(n, v) for n, v in hl_]
            for n, v in (sign.get("headers") or {}).items():
                view = [(a, b) for a, b in view if a.lower() != n.lower()]
                if v is not None:
                    view.append((n, v))
            return view

        s_method = sign.get("method", method)
        s_path = sign.get("path", path)
        s_query = sign.get("query", query)

        if scheme in ("wos4", "aws4"):
            p = WOS4 if scheme == "wos4" else AWS4
            stamp = amz_date(now)
            if add_date and p.date_header not in names and "date" not in names:
                hl.append((p.date_header, stamp))
            if payload is None:
                payload = sha256_hex(body) if isinstance(body, (bytes, bytearray)) else UNSIGNED
            elif payload == "unsigned":
                payload = UNSIGNED
            if add_sha and p.sha_header not in names:
                hl.append((p.sha_header, payload))
            view = signing_view(hl)
            if signed_headers is None:
                sn = sorted({n.lower() for n, _ in view} - _NEVER_SIGNED)
            else:
                sn = sorted(h.lower() for h in signed_headers)
            s_stamp = sign.get("stamp", amz_date(sign["date"]) if "date" in sign else stamp)
            creq = v4_canonical_request(s_method, s_path, s_query, view, sn, sign.get("payload", payload),
                                        join_repeated=join_repeated)
            sig = sign.get("signature") or v4_signature(p, sk, region, s_stamp, creq)
            cred = "%s/%s" % (ak, v4_scope(p, s_stamp[:8], region))
            auth = "%s Credential=%s%sSignedHeaders=%s%sSignature=%s" % (
                sign.get("algorithm", p.algorithm), cred, comma, ";".join(sn), comma, sig)
            hl.append(("Authorization", auth))
            target = path + ("?" + query if query else "")
            return target, hl

        if scheme in ("wos2", "aws2"):
            prefix = "x-wos-" if scheme == "wos2" else "x-amz-"
            if add_date and "date" not in names and "x-amz-date" not in names and "x-wos-date" not in names:
                hl.append(("Date", http_date(now)))
            view = signing_view(hl)
            resource = sign.get("resource") or v2_canonical_resource(s_path, s_query, vhost_bucket)
            date_line = http_date(sign["date"]) if "date" in sign else None
            sts = v2_string_to_sign(s_method, view, resource, prefix=prefix, date_value=date_line)
            sig = sign.get("signature") or v2_signature(sk, sts)
            hl.append(("Authorization", "%s %s:%s" % ("WOS" if scheme == "wos2" else "AWS", ak, sig)))
            target = path + ("?" + query if query else "")
            return target, hl

        if scheme in ("wos4-presign", "aws4-presign"):
            p = WOS4 if scheme == "wos4-presign" else AWS4
            view = signing_view(hl)
            sn = sorted(h.lower() for h in (signed_headers or ["host"]))
            stamp = sign.get("stamp", amz_date(sign.get("date", now)))
            datestamp = stamp[:8]
            cred = "%s/%s" % (ak, v4_scope(p, datestamp, region))
            q = p.query_prefix
            auth = [(q + "Algorithm", sign.get("algorithm", p.algorithm)), (q + "Credential", cred),
                    (q + "Date", stamp), (q + "Expires", str(expires)), (q + "SignedHeaders", ";".join(sn))]
            sent = [x for x in query.split("&") if x] + ["%s=%s" % (k, uri_encode(v)) for k, v in auth]
            signed_q = [x for x in s_query.split("&") if x] + ["%s=%s" % (k, uri_encode(v)) for k, v in auth]
            creq = v4_canonical_request(s_method, s_path, "&".join(signed_q), view, sn,
                                        sign.get("payload", UNSIGNED))
            sig = sign.get("signature") or v4_signature(p, sk, region, stamp, creq)
            target = path + "?" + "&".join(sent) + "&%sSignature=%s" % (q, sig)
            return target, hl

        if scheme in ("v2-presign", "wos-v2-presign"):
            exp = str(int(expires)) if expires > 10**9 else str(int(now.timestamp()) + int(expires))
            view = signing_view(hl)
            resource = sign.get("resource") or v2_canonical_resource(s_path, s_query, vhost_bucket)
            prefix = "x-amz-" if scheme == "v2-presign" else "x-wos-"
            sts = v2_string_to_sign(s_method, view, resource, prefix=prefix, date_value=sign.get("expires", exp))
            sig = sign.get("signature") or v2_signature(sk, sts)
            akname = "AWSAccessKeyId" if scheme == "v2-presign" else "WOSAccessKeyId"
            parts = [x for x in query.split("&") if x]
            parts += ["%s=%s" % (akname, uri_encode(ak)), "Expires=" + exp, "Signature=" + uri_encode(sig)]
            return path + "?" + "&".join(parts), hl

        if scheme == "anon":
            return path + ("?" + query if query else ""), hl
        raise ValueError(scheme)

    # -- sending -----------------------------------------------------------------------------

    def request(self, method, path="/", query="", headers=None, body=b"", *, content_length="auto",
                chunked=False, stream=False, timeout=None, **kw):
        target, hl = self.sign(method, path, query, headers, body, **kw)
        return self.send(method, target, hl, body, content_length=content_length, chunked=chunked,
                         stream=stream, timeout=timeout)

    def send(self, method, target, hl, body=b"", *, content_length="auto", chunked=False, stream=False,
             timeout=None):
        names = {n.lower() for n, _ in hl}
        hl = list(hl)
        if chunked and "transfer-encoding" not in names:
            hl.append(("Transfer-Encoding", "chunked"))
        elif content_length == "auto" and "content-length" not in names and isinstance(body, (bytes, bytearray)):
            if body or method in ("PUT", "POST"):
                hl.append(("Content-Length", str(len(body))))
        elif isinstance(content_length, int) and "content-length" not in names:
            hl.append(("Content-Length", str(content_length)))
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout or self.timeout)
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for n, v in hl:
            conn.putheader(n, v)
        conn.endheaders()
        send_error = None
        try:
            if isinstance(body, (bytes, bytearray)):
                if chunked:
                    if body:
                        conn.send(b"%x\r\n%s\r\n" % (len(body), body))
                    conn.send(b"0\r\n\r\n")
                elif body:
                    conn.send(body)
            else:
                for piece in body:
                    if not piece:
                        continue
                    if chunked:
                        conn.send(b"%x\r\n" % len(piece) + piece + b"\r\n")
                    else:
                        conn.send(piece)
                if chunked:
                    conn.send(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError) as e:
            send_error = e  # the server answered early and closed: read its answer if there is one
        try:
            r = conn.getresponse()
        except (ConnectionError, http.client.HTTPException) as e:
            raise AssertionError("%s %s: connection closed without an HTTP response (%r; while sending: %r)"
                                 % (method, target[:200], e, send_error)) from None
        check_common_headers(method, target, r.status, r.headers)
        if stream:
            resp = Response(r.status, r.reason, r.headers, None, raw=r)
            resp.conn = conn
            return resp
        data = r.read()
        conn.close()
        return Response(r.status, r.reason, r.headers, data)

    def build(self, method, path="/", query="", headers=None, body=b"", *, content_length="auto", **kw):
        """The exact bytes of a signed request (for raw-socket tests: pipelining, Expect, …).
        body is appended as given (pass already chunk-encoded bytes for chunked requests)."""
        target, hl = self.sign(method, path, query, headers, body, **kw)
        names = {n.lower() for n, _ in hl}
        if content_length == "auto" and "content-length" not in names and "transfer-encoding" not in names:
            if body or method in ("PUT", "POST"):
                hl.append(("Content-Length", str(len(body))))
        head = "%s %s HTTP/1.1\r\n" % (method, target) + "".join("%s: %s\r\n" % (n, v) for n, v in hl) + "\r\n"
        return head.encode("utf-8") + (body or b"")

    # -- convenience -------------------------------------------------------------------------

    def put(self, bucket, key, body=b"", headers=None, **kw):
        return self.request("PUT", key_path(bucket, key), "", headers, body, **kw)

    def get(self, bucket, key=None, query="", headers=None, **kw):
        return self.request("GET", key_path(bucket, key), query, headers, b"", **kw)

    def head(self, bucket, key=None, query="", headers=None, **kw):
        return self.request("HEAD", key_path(bucket, key), query, headers, b"", **kw)

    def delete(self, bucket, key=None, query="", headers=None, **kw):
        return self.request("DELETE", key_path(bucket, key), query, headers, b"", **kw)

    def post(self, bucket, key=None, query="", headers=None, body=b"", **kw):
        return self.request("POST", key_path(bucket, key), query, headers, body, **kw)

    def create_bucket(self, bucket, headers=None, body=b"", **kw):
        return self.request("PUT", key_path(bucket), "", headers, body, **kw)

    # -- streaming uploads (aws-chunked) ----------------------------------------------------

    def put_streaming_signed(self, path, data, chunk_size=65536, headers=None, tamper_chunk=None,
                             date=None, drop_final=False, query=""):
        """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD: every chunk carries a signature.
        tamper_chunk=i flips a byte of chunk i after signing (so its signature is wrong)."""
        now = date or utcnow()
        stamp = amz_date(now)
        chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
        sig_len = 64
        enc_len = sum(len("%x" % len(c)) + len(";chunk-signature=") + sig_len + 2 + len(c) + 2 for c in chunks)
        if drop_final:
            last = chunks[-1]
            enc_len -= len("%x" % len(last)) + len(";chunk-signature=") + sig_len + 2 + len(last) + 2
        hl = [("Host", "%s:%s" % (self.host, self.port))] + list((headers or {}).items()) + [
            ("Content-Encoding", "aws-chunked"),
            ("Content-Length", str(enc_len)),
            ("x-amz-content-sha256", STREAMING_SIGNED),
            ("x-amz-date", stamp),
            ("x-amz-decoded-content-length", str(len(data))),
        ]
        sn = sorted({n.lower() for n, _ in hl} - (_NEVER_SIGNED - {"content-length"}))
        creq = v4_canonical_request("PUT", path, query, hl, sn, STREAMING_SIGNED)
        seed = v4_signature(AWS4, self.secret_key, self.region, stamp, creq)
        cred = "%s/%s" % (self.access_key, v4_scope(AWS4, stamp[:8], self.region))
        hl.append(("Authorization", "AWS4-HMAC-SHA256 Credential=%s, SignedHeaders=%s, Signature=%s"
                   % (cred, ";".join(sn), seed)))
        out = []
        prev = seed
        for i, c in enumerate(chunks):
            sig = v4_chunk_signature(self.secret_key, self.region, stamp, prev, c)
            prev = sig
            if tamper_chunk == i and c:
                c = bytes([c[0] ^ 1]) + c[1:]
            if drop_final and i == len(chunks) - 1:
                break
            out.append(b"%x;chunk-signature=%s\r\n%s\r\n" % (len(c), sig.encode(), c))
        return self.send("PUT", path + ("?" + query if query else ""), hl, b"".join(out), content_length=None)

    def put_unsigned_trailer(self, path, data, algorithm="crc32", chunk_size=65536, headers=None,
                             bad_checksum=False, scheme="aws4", query=""):
        """PUT with STREAMING-UNSIGNED-PAYLOAD-TRAILER and an x-amz-checksum-<algorithm> trailer,
        as current AWS SDKs send by default."""
        chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)]
        value = checksum_b64(algorithm, data + (b"x" if bad_checksum else b""))
        tname = "x-amz-checksum-" + algorithm.lower()
        body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in chunks)
        body += b"0\r\n%s:%s\r\n\r\n" % (tname.encode(), value.encode())
        h = list((headers or {}).items()) + [
            ("Content-Encoding", "aws-chunked"),
            ("x-amz-decoded-content-length", str(len(data))),
            ("x-amz-trailer", tname),
            ("x-amz-sdk-checksum-algorithm", algorithm.upper()),
        ]
        return self.request("PUT", path, query, h, body, scheme=scheme, payload=STREAMING_UNSIGNED_TRAILER)


# --------------------------------------------------------------------------- common headers

# Every response must carry x-wos-request-id == x-amz-request-id, Date and Server. Client.send and the
# boto3 clients of conftest record violations here; an autouse fixture fails the test that saw one.
HEADER_VIOLATIONS = []


def check_common_headers(method, target, status, headers):
    rid = headers.get("x-wos-request-id")
    problems = []
    if not rid:
        problems.append("no x-wos-request-id")
    if headers.get("x-amz-request-id") != rid:
        problems.append("x-amz-request-id %r != x-wos-request-id %r" % (headers.get("x-amz-request-id"), rid))
    if not headers.get("Date"):
        problems.append("no Date")
    if not headers.get("Server"):
        problems.append("no Server")
    if problems:
        HEADER_VIOLATIONS.append("%s %s -> %s: %s" % (method, str(target)[:120], status, ", ".join(problems)))


# --------------------------------------------------------------------------- raw sockets


class RawHTTP:
    """A raw keep-alive connection: send arbitrary bytes, read responses one by one."""

    def __init__(self, host, port, timeout=30):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise ConnectionError("connection closed by server")
        self.buf += d

    def _readline(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def closed_by_peer(self, wait=2.0):
        """True if the server closed the connection (EOF) within `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            while True:
                d = self.sock.recv(65536)
                if not d:
                    return True
                self.buf += d
        except (socket.timeout, TimeoutError):
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True

    def read_response(self, method="GET"):
        """Reads one response: returns (status, headers dict lower-case -> value, body)."""
        line = self._readline()
        parts = line.decode("latin-1").split(" ", 2)
        status = int(parts[1])
        headers = {}
        order = []
        while True:
            line = self._readline()
            if not line:
                break
            n, _, v = line.decode("latin-1").partition(":")
            headers.setdefault(n.strip().lower(), v.strip())
            order.append((n.strip(), v.strip()))
        if status < 200 and status != 101:
            return status, headers, b""
        body = b""
        if method == "HEAD" or status in (204, 304):
            pass
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int(self._readline().split(b";")[0], 16)
                if size == 0:
                    while self._readline():
                        pass
                    break
                body += self._read(size)
                self._read(2)
        elif "content-length" in headers:
            body = self._read(int(headers["content-length"]))
        else:
            try:
                while True:
                    self._fill()
            except ConnectionError:
                pass
            body, self.buf = self.buf, b""
        return status, headers, body


def error_code(body):
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    return xtext(root, "Code")


def random_bytes(n, seed=None):
    return random.Random(seed).randbytes(n) if seed is not None else random.randbytes(n)


def wait_until(pred, timeout=5.0, interval=0.05):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(interval)
    return pred()
