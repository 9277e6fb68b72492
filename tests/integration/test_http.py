"""HTTP/1.1 behaviour (issue 2 §2, §3, §5): keep-alive, pipelining, chunked bodies, Expect: 100-continue,
framing errors, header limits, addressing by Host, common response headers, stop and restart."""
import hashlib
import os
import signal
import socket
import threading
import time
import xml.etree.ElementTree as ET

import pytest

import wos_client as wc
from conftest import DOMAIN, payload
from helpers import assert_common_headers, assert_error, assert_ok, quoted_md5


def _conn(server, timeout=30):
    return wc.RawHTTP(server.host, server.port, timeout=timeout)


def _chunked(pieces):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"


# ------------------------------------------------------------------------------------ common headers


def test_common_headers_on_every_kind_of_response(server, s3, bucket):
    aws = server.client("aws4")
    wos = server.client("wos4")
    responses = [
        aws.put(bucket, "k", b"0123456789"),                                       # 200 PUT
        aws.get(bucket, "k"),                                                      # 200 GET
        wos.head(bucket, "k"),                                                     # 200 HEAD
        aws.get(bucket, "k", headers={"Range": "bytes=0-1"}),                      # 206
        aws.get(bucket, "k", headers={"If-None-Match": quoted_md5(b"0123456789")}),  # 304
        aws.get(bucket, "k", headers={"If-Match": '"00"'}),                        # 412
        aws.get(bucket, "k", headers={"Range": "bytes=100-"}),                     # 416
        aws.get(bucket, "missing"),                                                # 404
        aws.head(bucket, "missing"),                                               # 404 HEAD
        wos.delete(bucket, "k"),                                                   # 204
        server.client("anon").get(bucket),                                         # 403
        aws.request("PUT", "/" + bucket, "website", body=b"<WebsiteConfiguration/>"),  # 501
        aws.create_bucket("Bad_Name"),                                             # 400
        aws.request("GET", "/"),                                                   # ListBuckets
    ]
    assert [r.status for r in responses] == [200, 200, 200, 206, 304, 412, 416, 404, 404, 204, 403, 501, 400, 200]
    ids = [assert_common_headers(r) for r in responses]
    assert len(set(ids)) == len(ids), "request ids must be unique"


# ------------------------------------------------------------------------------------ keep-alive, pipelining


def test_keep_alive_many_requests_one_connection(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"keepalive")
    c = server.client("aws4")
    with _conn(server) as conn:
        for i in range(5):
            conn.send(c.build("GET", wc.key_path(bucket, "k")))
            st, h, body = conn.read_response()
            assert st == 200 and body == b"keepalive"
            assert h.get("connection", "").lower() != "close"
            conn.send(c.build("GET", wc.key_path(bucket, "missing-%d" % i)))  # an error keeps the connection
            st, h, body = conn.read_response()
            assert st == 404 and wc.error_code(body) == "NoSuchKey"
            conn.send(c.build("HEAD", wc.key_path(bucket, "k")))
            st, h, body = conn.read_response("HEAD")
            assert st == 200 and body == b"" and h["content-length"] == "9"
        assert not conn.closed_by_peer(0.2)


def test_pipelined_requests_answered_in_order(server, s3, bucket):
    c = server.client("aws4")
    for i in range(4):
        s3.put_object(Bucket=bucket, Key="p%d" % i, Body=b"body-%d" % i * (i + 1))
    reqs = [c.build("GET", wc.key_path(bucket, "p%d" % i)) for i in range(4)]
    reqs.insert(2, c.build("PUT", wc.key_path(bucket, "new"), body=b"pipelined put"))
    reqs.append(c.build("GET", wc.key_path(bucket, "new")))
    reqs.append(c.build("HEAD", wc.key_path(bucket, "p3")))
    with _conn(server) as conn:
        conn.send(b"".join(reqs))
        results = [conn.read_response() for _ in range(6)] + [conn.read_response("HEAD")]
    bodies = [r[2] for r in results]
    assert [r[0] for r in results] == [200] * 7
    assert bodies[0] == b"body-0" and bodies[1] == b"body-1" * 2
    assert results[2][1]["etag"] == quoted_md5(b"pipelined put")
    assert bodies[3] == b"body-2" * 3 and bodies[4] == b"body-3" * 4
    assert bodies[5] == b"pipelined put"
    assert results[6][1]["content-length"] == str(len(b"body-3" * 4))


def test_pipelined_after_refused_upload(server, s3, bucket):
    """A refused PUT's body is never taken for the next request: after the 403 the connection
    either carries on correctly or is closed."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"still fine")
    c = server.client("aws4")
    body = b"GET /not-a-request HTTP/1.1\r\nHost: x\r\n\r\n" + b"z" * 2000
    bad = c.build("PUT", wc.key_path(bucket, "refused"), body=body, payload="unsigned", sign={"sk": "wrong"})
    good = c.build("GET", wc.key_path(bucket, "k"))
    with _conn(server) as conn:
        conn.send(bad + good)
        st, _, b1 = conn.read_response()
        assert st == 403 and wc.error_code(b1) == "SignatureDoesNotMatch", (st, b1)
        try:
            st2, _, b2 = conn.read_response()
        except (ConnectionError, OSError):
            return  # closed after the refusal: fine
        assert (st2, b2) == (200, b"still fine"), (st2, b2[:200])
    assert server.client("aws4").head(bucket, "refused").status == 404


# ------------------------------------------------------------------------------------ chunked bodies


@pytest.mark.parametrize("payload_mode", ["unsigned", "hash"])
def test_chunked_put(server, s3, bucket, payload_mode):
    """Transfer-Encoding: chunked request body, no Content-Length (as ceph s3-tests expect)."""
    c = server.client("aws4")
    data = payload(300_000)
    pieces = [data[:1], data[1:70000], data[70000:70001], data[70001:]]
    pm = "unsigned" if payload_mode == "unsigned" else wc.sha256_hex(data)
    req = c.build("PUT", wc.key_path(bucket, "chunked"), headers=[("Transfer-Encoding", "chunked")],
                  body=_chunked(pieces), payload=pm)
    with _conn(server) as conn:
        conn.send(req)
        st, h, body = conn.read_response()
    assert st == 200, body
    assert h["etag"] == quoted_md5(data)
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == data


def test_chunked_put_pipelined_with_trailers(server, s3, bucket):
    """A chunked body with extensions and trailers, the next request in the same packet: the
    bytes after the body's end are the next request, whichever read they arrive in."""
    c = server.client("aws4")
    data = payload(70_000)
    body = b"%x;ext=1\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n" % (10, data[:10], len(data) - 10, data[10:])
    put = c.build("PUT", wc.key_path(bucket, "chunked-pipe"), headers=[("Transfer-Encoding", "chunked")],
                  body=body, payload="unsigned")
    get = c.build("GET", wc.key_path(bucket, "chunked-pipe"))
    with _conn(server) as conn:
        conn.send(put + get + get)
        st, h, _ = conn.read_response()
        assert st == 200 and h["etag"] == quoted_md5(data)
        for _ in range(2):
            st, h, got = conn.read_response()
            assert st == 200 and got == data
            assert h.get("connection", "").lower() == "keep-alive"


def test_chunked_delete_objects_body(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="a", Body=b"x")
    c = server.client("aws4")
    xml = b"<Delete><Object><Key>a</Key></Object></Delete>"
    req = c.build("POST", "/" + bucket, "delete", headers=[("Transfer-Encoding", "chunked"),
                                                            ("Content-MD5", wc.md5_b64(xml))],
                  body=_chunked([xml[:10], xml[10:]]), payload=wc.sha256_hex(xml))
    with _conn(server) as conn:
        conn.send(req)
        st, h, body = conn.read_response()
    assert st == 200, body
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_content_length_and_transfer_encoding_rejected(server, s3, bucket):
    c = server.client("aws4")
    good = c.build("PUT", wc.key_path(bucket, "te"), headers=[("Transfer-Encoding", "chunked")],
                   body=_chunked([b"hello"]), payload="unsigned")
    with _conn(server) as conn:
        conn.send(good)
        assert conn.read_response()[0] == 200
    bad = c.build("PUT", wc.key_path(bucket, "te2"), headers=[("Transfer-Encoding", "chunked"),
                                                               ("Content-Length", "5")],
                  body=_chunked([b"hello"]), payload="unsigned")
    with _conn(server) as conn:
        conn.send(bad)
        st, h, body = conn.read_response()
    assert st == 400, (st, body)
    assert server.client("aws4").head(bucket, "te2").status == 404


# ------------------------------------------------------------------------------------ Expect: 100-continue


def test_expect_100_continue_good(server, s3, bucket):
    c = server.client("aws4")
    data = payload(1 << 20)
    head = c.build("PUT", wc.key_path(bucket, "expect"), headers=[("Expect", "100-continue"),
                                                                   ("Content-Length", str(len(data)))],
                   payload="unsigned")
    with _conn(server) as conn:
        conn.send(head)
        st, _, _ = conn.read_response()
        assert st == 100
        conn.send(data)
        st, h, body = conn.read_response()
    assert st == 200 and h["etag"] == quoted_md5(data)


def test_expect_100_continue_empty_body_then_reuse(server, s3, bucket):
    """Expect: 100-continue on an empty PUT still gets its 100 first, and the connection serves
    the next request. (Was a hang with our own core: the 200 came without a 100, botocore took it
    for the answer to its expectation and then misread the next response on the connection, so
    `aws s3 sync` of an empty file followed by another file timed out.)"""
    c = server.client("aws4")
    empty = c.build("PUT", wc.key_path(bucket, "empty"), headers=[("Expect", "100-continue")], payload="unsigned")
    with _conn(server) as conn:
        conn.send(empty)
        st, _, _ = conn.read_response()
        assert st == 100
        st, h, _ = conn.read_response()
        assert st == 200 and h["etag"] == quoted_md5(b"")
        conn.send(c.build("GET", wc.key_path(bucket, "empty")))
        st, _, body = conn.read_response()
        assert (st, body) == (200, b"")
    # Refused instead of continued: the answer comes without a 100, and the connection closes.
    bad = c.build("PUT", wc.key_path(bucket, "refused"), headers=[("Expect", "100-continue")],
                  payload="unsigned", sign={"sk": "wrong"})
    with _conn(server) as conn:
        conn.send(bad)
        st, h, _ = conn.read_response()
        assert st == 403 and h.get("connection", "").lower() == "close"
        assert conn.closed_by_peer(3)


@pytest.mark.parametrize("case", ["bad-signature", "anonymous", "unknown-key"])
def test_expect_100_continue_refused_before_body(server, s3, bucket, case):
    """An authentication failure is answered without reading the (large) body."""
    c = server.client("anon" if case == "anonymous" else "aws4")
    sign = {"sk": "wrong-secret"} if case == "bad-signature" else {"ak": "WOSDUNKNOWNKEY000000"} \
        if case == "unknown-key" else None
    head = c.build("PUT", wc.key_path(bucket, "refused"),
                   headers=[("Expect", "100-continue"), ("Content-Length", str(1 << 30))],
                   payload="unsigned", sign=sign)
    with _conn(server, timeout=10) as conn:
        conn.send(head)
        st, h, body = conn.read_response()  # must come without any body sent
    expected = {"bad-signature": "SignatureDoesNotMatch", "anonymous": "AccessDenied",
                "unknown-key": "InvalidAccessKeyId"}[case]
    assert st == 403, (st, body)
    assert wc.error_code(body) == expected


# ------------------------------------------------------------------------------------ limits


def test_header_limits(server, s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    c = server.client("aws4")
    # good: 6 KiB of headers and a 2 KiB query string
    ok = c.build("GET", wc.key_path(bucket, "k"), "response-content-language=" + "a" * 2000,
                 headers=[("x-pad-%d" % i, "v" * 1000) for i in range(6)])
    with _conn(server) as conn:
        conn.send(ok)
        assert conn.read_response()[0] == 200
    # 70 KiB of headers
    big = c.build("GET", wc.key_path(bucket, "k"), headers=[("x-pad-%d" % i, "v" * 1000) for i in range(70)])
    with _conn(server) as conn:
        conn.send(big)
        st, h, body = conn.read_response()
        _assert_core_error(conn, st, h, body, 400, "RequestHeaderSectionTooLarge")
    # a 9 KiB request line
    long_line = c.build("GET", wc.key_path(bucket, "k"), "response-content-language=" + "a" * 9000)
    with _conn(server) as conn:
        conn.send(long_line)
        st, _, _ = conn.read_response()
    assert st in (400, 414, 431), st


def _assert_core_error(conn, st, h, body, status, code):
    """A refusal of the HTTP core's own is S3's error document like any other: status, Code, a
    RequestId that is the x-wos-request-id/x-amz-request-id of the response, a HostId; and the
    connection is closed after it. (These answers had an empty body and no request id.)"""
    assert (st, wc.error_code(body)) == (status, code), (st, h, body[:400])
    assert h.get("content-type") == "application/xml", h
    root = ET.fromstring(body)
    rid = wc.xtext(root, "RequestId")
    assert rid and len(rid) == 32, body
    assert h.get("x-wos-request-id") == h.get("x-amz-request-id") == rid, (h, rid)
    assert wc.xtext(root, "HostId"), body
    assert wc.xtext(root, "Message"), body
    assert h.get("connection", "").lower() == "close", h
    assert conn.closed_by_peer(3), "answered %s %s but the connection was left open" % (st, code)


def test_garbage_request_line(server):
    with _conn(server) as conn:
        conn.send(b"THIS IS NOT HTTP\r\n\r\n")
        st, h, body = conn.read_response()
        _assert_core_error(conn, st, h, body, 400, "BadRequest")


@pytest.mark.parametrize("raw,status,code", [
    (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTPVersionNotSupported"),
    (b"GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BadRequest"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nA: b\rc\r\n\r\n", 400, "BadRequest"),       # a lone CR: no head at all
    (b"GET / HTTP/1.1\r\nHost: x\r\nA: b\x00\r\n\r\n", 400, "BadRequest"),
    (b"GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "BadRequest"),
    (b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 0x5\r\n\r\nhello", 400, "BadRequest"),
    (b"PUT /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5\r\n\r\nhello", 400, "BadRequest"),
    # S3 answers a header section over its limit 400 RequestHeaderSectionTooLarge, not 431
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"p" * 40000 + b"\r\n\r\n", 400,
     "RequestHeaderSectionTooLarge"),
    (b"GET / HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: p\r\n" * 5000, 400, "RequestHeaderSectionTooLarge"),
], ids=["http2", "control-in-target", "lone-cr", "nul", "no-colon", "cl-hex", "cl-list", "one-long-header",
        "many-headers"])
def test_malformed_heads_refused_and_closed(server, raw, status, code):
    """What the core itself refuses: answered with S3's error document, then the connection is
    closed (nothing after a request the parser could not read can be trusted), and the server
    goes on serving."""
    with _conn(server, timeout=10) as conn:
        conn.send(raw + b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        st, h, body = conn.read_response()
        _assert_core_error(conn, st, h, body, status, code)
    assert server.alive()


def test_malformed_head_refused_in_xml_for_head_method(server):
    """HEAD gets the status and the request id, without a body (as any HEAD error)."""
    with _conn(server, timeout=10) as conn:
        conn.send(b"HEAD /b/k HTTP/1.1\r\nHost: x\r\nContent-Length: +0\r\n\r\n")
        st, h, body = conn.read_response(method="HEAD")
        assert st == 400 and body == b"" and int(h["content-length"]) > 0, (st, h, body)
        assert h.get("x-wos-request-id") and h.get("x-wos-request-id") == h.get("x-amz-request-id"), h
        assert conn.closed_by_peer(3)


@pytest.mark.parametrize("broken", [
    b"zz\r\nhello\r\n0\r\n\r\n",              # not a hex size
    b"5\r\nhelloXX0\r\n\r\n",                    # no CRLF after the data
    b"-5\r\nhello\r\n0\r\n\r\n",               # a sign
    b"10000000000000005\r\nhello\r\n0\r\n\r\n",  # 17 hex digits
    b"5;" + b"x" * 5000 + b"\r\nhello\r\n0\r\n\r\n",   # a size line over the limit
], ids=["not-hex", "no-crlf-after-data", "signed", "17-digits", "long-size-line"])
@pytest.mark.parametrize("scheme", ["aws4", "wos4"])
def test_broken_chunked_body_refused_in_xml(server, s3, bucket, broken, scheme):
    """A chunked body whose framing breaks after the request began: S3's 400 IncompleteBody with
    the request's own id, the connection closed, nothing stored."""
    c = server.client(scheme)
    req = c.build("PUT", wc.key_path(bucket, "broken-chunked"), headers=[("Transfer-Encoding", "chunked")],
                  body=broken, payload="unsigned")
    with _conn(server, timeout=10) as conn:
        conn.send(req + c.build("GET", wc.key_path(bucket, "broken-chunked")))
        st, h, body = conn.read_response()
        _assert_core_error(conn, st, h, body, 400, "IncompleteBody")
    assert c.head(bucket, "broken-chunked").status == 404
    assert server.alive()


# ------------------------------------------------------------------------------------ addressing


@pytest.mark.parametrize("host", ["other.example.com:{port}", "localhost:{port}", "127.0.0.1", "127.0.0.1:{port}",
                                  DOMAIN + ":{port}", DOMAIN, "[::1]:{port}"])
def test_path_style_for_any_non_vhost_host(server, s3, bucket, host):
    s3.put_object(Bucket=bucket, Key="dir/k", Body=b"path-style")
    h = host.format(port=server.port)
    for scheme in ("aws4", "wos4"):
        c = server.client(scheme)
        r = assert_ok(c.request("GET", wc.key_path(bucket, "dir/k"), headers=[("Host", h)]))
        assert r.body == b"path-style"
        r = assert_ok(c.request("GET", "/" + bucket, "prefix=dir%2F", headers=[("Host", h)]))
        assert wc.xtext(r.xml(), "Name") == bucket


@pytest.mark.parametrize("with_port", [True, False])
def test_virtual_host_style(server, s3, bucket, with_port):
    host = "%s.%s" % (bucket, DOMAIN) + (":%d" % server.port if with_port else "")
    c = server.client("aws4")
    assert_ok(c.request("PUT", "/vh/obj", headers=[("Host", host)], body=b"virtual"))
    assert s3.get_object(Bucket=bucket, Key="vh/obj")["Body"].read() == b"virtual"
    r = assert_ok(c.request("GET", "/vh/obj", headers=[("Host", host)]))
    assert r.body == b"virtual"
    r = assert_ok(c.request("GET", "/", "prefix=vh%2F", headers=[("Host", host)]))
    assert wc.xtext(r.xml(), "Name") == bucket
    assert [wc.xtext(e, "Key") for e in wc.xfindall(r.xml(), "Contents")] == ["vh/obj"]
    assert_ok(c.request("HEAD", "/", headers=[("Host", host)]))                   # HeadBucket
    r = assert_ok(server.client("aws2").request("GET", "/vh/obj", headers=[("Host", host)], vhost_bucket=bucket))
    assert r.body == b"virtual"
    p = server.client("aws4-presign")
    assert assert_ok(p.request("GET", "/vh/obj", headers=[("Host", host)], host=host)).body == b"virtual"
    assert c.request("DELETE", "/vh/obj", headers=[("Host", host)]).status == 204


def test_virtual_host_invalid_bucket_name(server, s3, bucket):
    c = server.client("aws4")
    assert_ok(c.request("GET", "/", headers=[("Host", "%s.%s:%d" % (bucket, DOMAIN, server.port))]))
    r = c.request("GET", "/", headers=[("Host", "bad_bucket.%s:%d" % (DOMAIN, server.port))])
    assert_error(r, 403, "InvalidURI", message="Couldn't parse the specified URI.")


def test_virtual_host_missing_bucket(server):
    c = server.client("aws4")
    r = c.request("GET", "/k", headers=[("Host", "no-such-bucket-xyz.%s:%d" % (DOMAIN, server.port))])
    assert_error(r, 404, "NoSuchBucket")


# ------------------------------------------------------------------------------------ stop and restart


def test_restart_keeps_buckets_and_objects(server_factory, bucket_name):
    srv = server_factory("restart")
    s3 = srv.boto()
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    objs = {"small": b"s" * 10, "medium": payload(200_000), "large": payload(3 << 20), "empty": b""}
    for k, v in objs.items():
        s3.put_object(Bucket=name, Key=k, Body=v, Metadata={"k": k})
    assert srv.stop() == 0, "SIGTERM should end wosd with status 0"
    srv.start(keep_port=True)
    s3 = srv.boto()
    for k, v in objs.items():
        g = s3.get_object(Bucket=name, Key=k)
        assert g["Body"].read() == v and g["Metadata"] == {"k": k}
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]) == sorted(objs)


def test_sigkill_keeps_acknowledged_writes(server_factory, bucket_name):
    """--fsync always (the default): a 200 means the object survives a crash."""
    srv = server_factory("crash")
    s3 = srv.boto()
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    objs = {"k%d" % i: payload(1000 * i + 1) for i in range(20)}
    for k, v in objs.items():
        s3.put_object(Bucket=name, Key=k, Body=v)
    srv.kill()
    srv.start(keep_port=True)
    s3 = srv.boto()
    for k, v in objs.items():
        assert s3.get_object(Bucket=name, Key=k)["Body"].read() == v


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_graceful_stop_finishes_in_flight_request(server_factory, bucket_name, sig):
    srv = server_factory("graceful")
    s3 = srv.boto()
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    data = payload(2 << 20)
    c = srv.client("aws4")
    req = c.build("PUT", wc.key_path(name, "inflight"), body=data, payload="unsigned")
    head_len = len(req) - len(data)
    with _conn(srv) as conn:
        conn.send(req[:head_len + (1 << 20)])
        time.sleep(0.3)
        srv.proc.send_signal(sig)
        time.sleep(0.3)
        conn.send(req[head_len + (1 << 20):])
        st, h, body = conn.read_response()
    assert st == 200, body
    assert h["etag"] == quoted_md5(data)
    srv.proc.wait(20)
    assert srv.proc.returncode == 0, "wosd should exit 0 after %s" % sig.name
    srv.start(keep_port=True)
    assert srv.boto().get_object(Bucket=name, Key="inflight")["Body"].read() == data


def test_many_concurrent_connections(server, s3, bucket):
    data = payload(50_000)
    s3.put_object(Bucket=bucket, Key="k", Body=data)
    c = server.client("aws4")
    errors = []

    def worker():
        try:
            for _ in range(10):
                r = c.get(bucket, "k")
                if r.status != 200 or r.body != data:
                    errors.append(r)
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]


# ------------------------------------------------------------------------------------ timeouts, connection limit


def test_idle_and_slow_clients_are_disconnected(server_factory, bucket_name):
    """--idle-timeout: an idle connection, a stalled header and a stalled body are all closed."""
    srv = server_factory("timeouts", extra_args=["--idle-timeout", "2"])
    s3 = srv.boto()
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    c = srv.client("aws4")
    with _conn(srv) as conn:  # a used, then idle keep-alive connection
        conn.send(c.build("GET", "/" + name))
        assert conn.read_response()[0] == 200
        t0 = time.time()
        assert conn.closed_by_peer(8), "idle connection still open after 8 s"
        assert time.time() - t0 >= 1.0
    with _conn(srv) as conn:  # slow loris: headers never finished
        conn.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert conn.closed_by_peer(8), "connection with unfinished headers still open after 8 s"
    req = c.build("PUT", wc.key_path(name, "stalled"), body=b"x" * 1000, payload="unsigned")
    with _conn(srv) as conn:  # a body that stops arriving
        conn.send(req[:-900])
        assert conn.closed_by_peer(8), "connection with a stalled body still open after 8 s"
    assert srv.client("aws4").get(name, "stalled").status == 404
    assert srv.alive()


def test_connection_limit(server_factory, bucket_name):
    srv = server_factory("connlimit", extra_args=["--max-connections", "4", "--threads", "1"])
    name = bucket_name()
    srv.boto().create_bucket(Bucket=name)
    c = srv.client("aws4")
    held = []
    try:
        for _ in range(4):
            conn = _conn(srv, timeout=5)
            conn.send(c.build("GET", "/" + name))
            assert conn.read_response()[0] == 200
            held.append(conn)
        served = True
        try:
            extra = _conn(srv, timeout=3)
            try:
                extra.send(c.build("GET", "/" + name))
                st, _, _ = extra.read_response()
                served = st == 200
            finally:
                extra.close()
        except (OSError, ConnectionError):
            served = False
        assert not served, "a 5th connection was served with --max-connections 4"
    finally:
        for conn in held:
            conn.close()
    time.sleep(0.5)
    assert_ok(c.get(name))  # capacity is back once the others closed


def test_help_describes_options():
    import subprocess
    from conftest import WOSD_BIN
    top = subprocess.run([WOSD_BIN, "--help"], capture_output=True, timeout=10)
    assert top.returncode == 0 and b"serve" in top.stdout + top.stderr
    serve = subprocess.run([WOSD_BIN, "serve", "--help"], capture_output=True, timeout=10)
    text = (serve.stdout + serve.stderr).decode()
    assert serve.returncode == 0
    for opt in ("--listen", "--data", "--domain", "--region", "--fsync", "WOSD_ROOT_ACCESS_KEY",
                "WOSD_ROOT_SECRET_KEY"):
        assert opt in text, opt


# ------------------------------------------------------------------------------------ slow clients


def _trickle(sock, data, limit_s):
    """Sends data a byte every 0.25 s; returns the seconds until the server cut the connection,
    or None when it had not within limit_s."""
    t0 = time.time()
    try:
        for i in range(len(data)):
            sock.sendall(data[i:i + 1])
            time.sleep(0.25)
            if time.time() - t0 > limit_s:
                return None
        return None
    except OSError:
        return time.time() - t0
    finally:
        sock.close()


def test_slow_headers_and_slow_body_are_cut(server_factory):
    # With --idle-timeout 2: headers must be complete within 4 s, and a body must average
    # 1 KiB/s after 2 s. A client that trickles bytes is never idle, so only this rule stops it.
    srv = server_factory("slow", extra_args=("--idle-timeout", "2"))
    s3 = srv.boto()
    s3.create_bucket(Bucket="slowb")
    s3.put_object(Bucket="slowb", Key="k", Body=b"x")   # a normal client is served

    sock = socket.create_connection((srv.host, srv.port), timeout=5)
    cut = _trickle(sock, b"GET /slowb/k HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 400 + b"\r\n\r\n", 20)
    assert cut is not None and cut < 12, cut

    body = b"z" * 5000
    req = srv.client("aws4").build("PUT", wc.key_path("slowb", "big"), "", None, body)
    sock = socket.create_connection((srv.host, srv.port), timeout=5)
    sock.sendall(req[:-len(body)])   # the signed head at once, then the body a byte at a time
    cut = _trickle(sock, body, 20)
    assert cut is not None and cut < 12, cut

    # Nothing of the cut upload was stored, and the server still serves.
    assert s3.get_object(Bucket="slowb", Key="k")["Body"].read() == b"x"
    with pytest.raises(Exception) as ei:
        s3.head_object(Bucket="slowb", Key="big")
    assert "404" in str(ei.value)
