"""Faults below and beside the server (issue 6, "Faults"): a full disk, a read-only or vanished data
directory, a corrupted metadata database, a truncated blob, and clients that drop the connection
in the middle of a request. The promise under test: a write either succeeds whole or fails with an
S3 error and leaves nothing behind (no object, no temporary file, no descriptor); reads never
return wrong bytes; the log says what went wrong; the server recovers when the fault goes away.

Disk-level faults use file systems the test makes itself (we run as root in CI): a small tmpfs for
the data directory, read-only bind mounts. Where mounting is not permitted the test is skipped
with the reason."""
import concurrent.futures
import contextlib
import errno
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

import wos_client as wc
from conftest import WOSD_BIN, WosdServer, _session_tmp, is_sanitized_binary, payload

KiB = 1 << 10
MiB = 1 << 20
ASAN = is_sanitized_binary(WOSD_BIN)


# ------------------------------------------------------------------------------------------- helpers


def _mount(*args):
    return subprocess.run(["mount"] + list(args), capture_output=True, text=True, timeout=30)


def _umount(path):
    for _ in range(20):
        if subprocess.run(["umount", path], capture_output=True, timeout=30).returncode == 0:
            return
        time.sleep(0.1)
    subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


@contextlib.contextmanager
def tmpfs(size="64m"):
    """A fresh tmpfs of this size; skips the test when mounting is not permitted."""
    path = tempfile.mkdtemp(prefix="tmpfs-", dir=_session_tmp)
    r = _mount("-t", "tmpfs", "-o", "size=%s,mode=0700" % size, "tmpfs", path)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs (needs root / CAP_SYS_ADMIN): %s" % r.stderr.strip())
    try:
        yield path
    finally:
        _umount(path)
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def read_only_bind(path):
    """Makes `path` read-only by mounting a read-only bind of itself over it."""
    r = _mount("--bind", path, path)
    if r.returncode != 0:
        pytest.skip("cannot bind-mount (needs root / CAP_SYS_ADMIN): %s" % r.stderr.strip())
    r = _mount("-o", "remount,bind,ro", path)
    if r.returncode != 0:
        _umount(path)
        pytest.skip("cannot remount a bind mount read-only: %s" % r.stderr.strip())
    try:
        yield path
    finally:
        _umount(path)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def tmp_files(srv):
    try:
        return os.listdir(os.path.join(srv.data_dir, "tmp"))
    except FileNotFoundError:
        return []


def fds(srv):
    """The server's open descriptors: {fd: target}."""
    out = {}
    base = "/proc/%d/fd" % srv.pid
    for fd in os.listdir(base):
        try:
            out[int(fd)] = os.readlink(os.path.join(base, fd))
        except OSError:
            pass
    return out


def assert_s3_5xx(r, what):
    assert 500 <= r.status < 600, "%s: expected a 5xx S3 error, got %r" % (what, r)
    assert r.code in ("InternalError", "SlowDown", "ServiceUnavailable"), "%s: %r" % (what, r)
    assert r.header("x-amz-request-id"), r


def fill(path, leave=0):
    """Writes a ballast file in path until the file system is full (but for `leave` bytes)."""
    ballast = os.path.join(path, "ballast")
    chunk = b"\0" * MiB
    with open(ballast, "wb") as f:
        for size in (MiB, 64 * KiB, 4 * KiB):
            block = chunk[:size]
            while free_bytes(path) - size >= leave:
                try:
                    f.write(block)
                    f.flush()
                except OSError as e:
                    assert e.errno == errno.ENOSPC, e
                    break
    return ballast


def start_expecting_failure(srv, timeout=15):
    """Starts srv's process once; returns (exit status or None if it serves, log text)."""
    with contextlib.suppress(RuntimeError):
        srv.start(timeout=timeout)
    if srv.alive():
        return None, srv.log_text()
    return srv.proc.returncode, srv.log_text()


# ------------------------------------------------------------------------------------------- disk full


def test_disk_full(server_factory, bucket_name):
    with tmpfs("64m") as mnt:
        srv = server_factory("diskfull", data_dir=os.path.join(mnt, "data"))
        c = srv.client("aws4")
        b = bucket_name("full")
        assert c.create_bucket(b).status == 200
        keep = payload(4 * MiB, seed=1)
        small = payload(1000, seed=2)
        assert c.put(b, "keep", keep).status == 200
        assert c.put(b, "small", small).status == 200
        free0 = free_bytes(mnt)

        # 1. One PUT larger than the free space: a 5xx S3 error, and nothing of it stays.
        r = c.put(b, "too-big", payload(free0 + 8 * MiB, seed=3), payload="unsigned")
        assert_s3_5xx(r, "PUT larger than the free space")
        assert "space" in (r.message or "").lower(), r
        assert c.head(b, "too-big").status == 404
        assert wc.wait_until(lambda: not tmp_files(srv), 10), "tmp/ not emptied: %s" % tmp_files(srv)
        assert wc.wait_until(lambda: free_bytes(mnt) >= free0 - 1 * MiB, 10), (free_bytes(mnt), free0)
        assert "No space left on device" in srv.log_text(), "no log line names the cause"

        # 2. The disk really full (a ballast file beside the data): writes fail, reads work.
        ballast = fill(mnt)
        for key, size in (("blob", 1 * MiB), ("inline", 2 * KiB)):
            body = payload(size)
            r = c.put(b, key, body, payload="unsigned")
            if key == "blob":
                assert_s3_5xx(r, "PUT on a full disk")
            elif r.status == 200:   # a small row may still fit in a free database page
                assert c.get(b, key).body == body
            else:
                assert_s3_5xx(r, "inline PUT on a full disk")
        g = c.get(b, "keep")
        assert g.status == 200 and g.body == keep, "reads must keep working on a full disk"
        assert c.get(b, "small").body == small
        assert c.get(b, query="list-type=2").status == 200
        r = c.delete(b, "small")
        delete_when_full = r.status
        assert r.status == 204 or 500 <= r.status < 600, r
        assert wc.wait_until(lambda: not tmp_files(srv), 10), tmp_files(srv)
        assert srv.alive()

        # 3. Space freed: writes succeed again, with no restart.
        os.unlink(ballast)
        data = payload(8 * MiB, seed=4)
        r = c.put(b, "after", data, payload="unsigned")
        assert r.status == 200, r
        assert c.get(b, "after").body == data
        assert c.get(b, "keep").body == keep
        if delete_when_full != 204:
            assert c.delete(b, "small").status == 204
        assert c.head(b, "small").status == 404
        srv.stop()
        p = subprocess.run([WOSD_BIN, "admin", "scrub", "--data", srv.data_dir, "--deep"], capture_output=True,
                           timeout=120)
        assert b"dangling rows       0" in p.stdout and b"corrupt             0" in p.stdout, p.stdout.decode()


def test_disk_full_upload_part(server_factory, bucket_name):
    """A part that does not fit fails cleanly; the upload and its other parts are untouched."""
    with tmpfs("32m") as mnt:
        srv = server_factory("diskfull-mp", data_dir=os.path.join(mnt, "data"))
        s3 = srv.boto()
        b = bucket_name("fullmp")
        s3.create_bucket(Bucket=b)
        up = s3.create_multipart_upload(Bucket=b, Key="k")["UploadId"]
        p1 = payload(5 * MiB, seed=7)
        e1 = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=1, Body=p1)["ETag"]
        ballast = fill(mnt, leave=2 * MiB)
        c = srv.client("aws4")
        r = c.request("PUT", wc.key_path(b, "k"), "partNumber=2&uploadId=" + up, body=payload(5 * MiB),
                      payload="unsigned")
        assert_s3_5xx(r, "UploadPart on a full disk")
        assert wc.wait_until(lambda: not tmp_files(srv), 10), tmp_files(srv)
        parts = s3.list_parts(Bucket=b, Key="k", UploadId=up)["Parts"]
        assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, e1)]
        os.unlink(ballast)
        p2 = payload(1000, seed=8)
        e2 = s3.upload_part(Bucket=b, Key="k", UploadId=up, PartNumber=2, Body=p2)["ETag"]
        s3.complete_multipart_upload(Bucket=b, Key="k", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]})
        assert s3.get_object(Bucket=b, Key="k")["Body"].read() == p1 + p2


# ------------------------------------------------------------------------------------------- read-only


def test_read_only_data_dir_at_start(server_factory, bucket_name):
    """A data directory on a read-only file system: refuse to start with a clear log line, or serve
    reads and answer writes with errors. Never a crash, never a false 200 for a write."""
    with tmpfs("64m") as mnt:
        data_dir = os.path.join(mnt, "data")
        srv = server_factory("ro", data_dir=data_dir)
        c = srv.client("aws4")
        b = bucket_name("ro")
        assert c.create_bucket(b).status == 200
        big = payload(1 * MiB, seed=11)
        assert c.put(b, "big", big).status == 200
        assert c.put(b, "small", b"small").status == 200
        assert srv.stop() == 0
        r = _mount("-o", "remount,ro", mnt)
        if r.returncode != 0:
            pytest.skip("cannot remount the tmpfs read-only: %s" % r.stderr.strip())
        try:
            status, log = start_expecting_failure(srv)
            if status is not None:
                assert status != 0
                assert data_dir in log, "wosd refused to start but its log does not name the directory"
                # (Was a bug: the log said only 'unable to open database file' / 'cannot open the
                # metadata in DIR', not why.)
                assert "Read-only file system" in log, "wosd refused to start but its log does not say why:\n" + log
                return
            c = srv.client("aws4")
            g = c.get(b, "big")
            assert g.status == 200 and g.body == big
            for key, body in (("new-big", payload(1 * MiB)), ("new-small", b"x")):
                r = c.put(b, key, body)
                assert_s3_5xx(r, "PUT on a read-only data directory")
            assert "Read-only file system" in srv.log_text()
        finally:
            srv.stop()
            _mount("-o", "remount,rw", mnt)


@pytest.mark.parametrize("sub", ["tmp", "blobs"])
def test_read_only_blob_directory(server_factory, bucket_name, sub):
    """tmp/ (where blobs are written) or blobs/ (where they are renamed to) read-only: a PUT that
    needs a blob fails with a 5xx and a log line; nothing is left; reads work; after the fault
    goes (and a restart), writes work again."""
    srv = server_factory("ro-" + sub)
    c = srv.client("aws4")
    b = bucket_name("ro" + sub)
    assert c.create_bucket(b).status == 200
    old = payload(300 * KiB, seed=12)
    assert c.put(b, "old", old).status == 200
    assert srv.stop() == 0
    with read_only_bind(os.path.join(srv.data_dir, sub)):
        srv.start(keep_port=True)
        c = srv.client("aws4")
        r = c.put(b, "new", payload(300 * KiB), payload="unsigned")
        assert_s3_5xx(r, "PUT with %s/ read-only" % sub)
        r = c.put(b, "old", payload(300 * KiB), payload="unsigned")
        assert_s3_5xx(r, "overwrite with %s/ read-only" % sub)
        assert c.head(b, "new").status == 404
        assert c.get(b, "old").body == old, "a failed overwrite must leave the old object"
        assert "Read-only file system" in srv.log_text() or "Invalid cross-device link" in srv.log_text()
        assert srv.stop() == 0
    srv.start(keep_port=True)
    c = srv.client("aws4")
    assert not tmp_files(srv)
    data = payload(300 * KiB, seed=13)
    assert c.put(b, "new", data).status == 200
    assert c.get(b, "new").body == data


# ------------------------------------------------------------------------------------------- truncated blob


def _blob_of_size(srv, size):
    found = []
    for root, _, files in os.walk(os.path.join(srv.data_dir, "blobs")):
        found += [os.path.join(root, f) for f in files if os.path.getsize(os.path.join(root, f)) == size]
    assert len(found) == 1, "expected one blob of %d bytes, found %s" % (size, found)
    return found[0]


def _raw_get(srv, bucket, key, headers=None, timeout=30):
    """GET over a raw socket: (status, Content-Length, body bytes received before EOF).
    Raises TimeoutError when the body stalls (neither completed nor closed) for `timeout` s."""
    c = srv.client("aws4")
    req = c.build("GET", wc.key_path(bucket, key), headers=headers or [])
    s = socket.create_connection((srv.host, srv.port), timeout=timeout)
    try:
        s.sendall(req)
        buf = b""
        while b"\r\n\r\n" not in buf:
            d = s.recv(65536)
            if not d:
                raise AssertionError("connection closed before the response head: %r" % buf)
            buf += d
        head, body = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        hdr = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
        length = int(hdr.get("content-length", -1))
        while length < 0 or len(body) < length:
            try:
                d = s.recv(1 << 20)
            except ConnectionResetError:
                break
            except socket.timeout:
                raise TimeoutError("GET %s: %d of %d body bytes, then nothing for %s s (not closed)" % (
                    key, len(body), length, timeout)) from None
            if not d:
                break
            body += d
        return status, length, body
    finally:
        s.close()


def test_truncated_blob_never_serves_wrong_bytes(server_factory, bucket_name):
    srv = server_factory("truncated")
    s3 = srv.boto()
    b = bucket_name("trunc")
    s3.create_bucket(Bucket=b)
    single = payload(3 * MiB + 17, seed=21)
    s3.put_object(Bucket=b, Key="single", Body=single)
    p1, p2 = payload(5 * MiB, seed=22), payload(2 * MiB + 5, seed=23)
    up = s3.create_multipart_upload(Bucket=b, Key="multi")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=b, Key="multi", UploadId=up, PartNumber=n,
                                                       Body=body)["ETag"]} for n, body in ((1, p1), (2, p2))]
    s3.complete_multipart_upload(Bucket=b, Key="multi", UploadId=up, MultipartUpload={"Parts": parts})

    os.truncate(_blob_of_size(srv, len(single)), 1 * MiB)
    os.truncate(_blob_of_size(srv, len(p1)), 4 * MiB)   # the first part: the body breaks early

    # A single-blob object: the size check answers 500 before any byte.
    st, length, body = _raw_get(srv, b, "single")
    assert st == 500, (st, length, len(body))
    st, length, body = _raw_get(srv, b, "single", [("Range", "bytes=0-99")])
    assert st == 500, "a range inside the surviving bytes must not hide the damage: %s" % st
    # A multipart object: the status is sent before the damaged part is reached, so the failure
    # must show as a body cut short of its Content-Length (the connection closed).
    st, length, body = _raw_get(srv, b, "multi")
    if st == 200:
        assert length == len(p1) + len(p2)
        assert len(body) < length, "GET returned a full-length body from a truncated blob"
        assert body == (p1 + p2)[:len(body)], "the bytes before the cut must be the object's"
    else:
        assert 500 <= st < 600, st
    st, length, body = _raw_get(srv, b, "multi", [("Range", "bytes=%d-%d" % (1 * MiB, 6 * MiB))])
    if st == 206:
        assert len(body) < length, "ranged GET returned a full body from a truncated blob"
        assert body == (p1 + p2)[1 * MiB:1 * MiB + len(body)]
    else:
        assert 500 <= st < 600, st
    # boto3 sees a failure, never data.
    try:
        got = s3.get_object(Bucket=b, Key="multi")["Body"].read()
    except Exception:  # noqa: BLE001 - ClientError or a body cut short: either is a failure seen
        got = None
    assert got is None, "boto3 read %d bytes from a truncated object without an error" % len(got)
    assert "short read" in srv.log_text() or "metadata says" in srv.log_text()
    assert srv.alive()


def test_truncated_blob_range_from_the_missing_bytes_fails_fast(server_factory, bucket_name):
    """A ranged GET whose first byte lies past the end of a truncated part blob: the status line is
    out before the damage is found, so the connection must close at once, short of the length.
    (Was a bug: libmicrohttpd marked the connection closed when the first read failed but left
    the socket open until the idle timeout, so the client stalled.)"""
    srv = server_factory("truncated-range")
    s3 = srv.boto()
    b = bucket_name("truncr")
    s3.create_bucket(Bucket=b)
    p1, p2 = payload(5 * MiB, seed=24), payload(1000, seed=25)
    up = s3.create_multipart_upload(Bucket=b, Key="multi")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket=b, Key="multi", UploadId=up, PartNumber=n,
                                                       Body=body)["ETag"]} for n, body in ((1, p1), (2, p2))]
    s3.complete_multipart_upload(Bucket=b, Key="multi", UploadId=up, MultipartUpload={"Parts": parts})
    os.truncate(_blob_of_size(srv, len(p1)), 4 * MiB)
    st, length, body = _raw_get(srv, b, "multi", [("Range", "bytes=%d-" % (len(p1) - 10))], timeout=5)
    assert st >= 500 or len(body) < length


# ------------------------------------------------------------------------------------------- corrupted metadata


@pytest.mark.parametrize("where", ["header", "pages"])
def test_corrupted_meta_db(server_factory, bucket_name, where):
    srv = server_factory("corrupt-" + where)
    c = srv.client("aws4")
    b = bucket_name("corrupt")
    assert c.create_bucket(b).status == 200
    data = {"k%03d" % i: payload(100 + 10 * i, seed=i) for i in range(200)}
    for k, v in data.items():
        assert c.put(b, k, v).status == 200
    assert srv.stop() == 0
    db = os.path.join(srv.data_dir, "meta.db")
    assert not os.path.exists(db + "-wal") or os.path.getsize(db + "-wal") == 0
    size = os.path.getsize(db)
    rnd = random.Random(5)
    with open(db, "r+b") as f:
        if where == "header":
            f.write(rnd.randbytes(100))
        else:   # every page but the first (the schema) overwritten with garbage
            page = int.from_bytes(open(db, "rb").read(18)[16:18], "big") or 65536
            f.seek(page)
            f.write(rnd.randbytes(size - page))
    status, log = start_expecting_failure(srv)
    if status is not None:
        assert status != 0
        assert "meta" in log and ("not a database" in log or "malformed" in log or "corrupt" in log), \
            "wosd refused to start but its log does not say why:\n" + log[-2000:]
    else:
        c = srv.client("aws4")
        answers = [c.get(b, k) for k in list(data)[:20]] + [c.get(b, query="list-type=2"), c.get("")]
        for r in answers[:20]:
            assert r.status != 200 or r.body in data.values(), "wrong bytes served from a corrupt database"
        assert any(500 <= r.status < 600 for r in answers), [r.status for r in answers]
        assert all(r.status in (200, 404) or 500 <= r.status < 600 for r in answers)
        log = srv.log_text()
        assert "malformed" in log or "not a database" in log or "corrupt" in log, log[-2000:]
        assert srv.alive(), "a corrupt database must not crash the server"
        srv.stop()
    p = subprocess.run([WOSD_BIN, "admin", "scrub", "--data", srv.data_dir], capture_output=True, timeout=60)
    assert p.returncode == 1, "scrub must fail on a corrupt database: %r" % p


# ------------------------------------------------------------------------------------------- vanished


def test_data_dir_parent_missing_refuses_to_start(server_factory, tmp_path):
    srv = WosdServer("nodir", data_dir=str(tmp_path / "a"))
    srv.data_dir = str(tmp_path / "missing" / "deeper" / "data")
    status, log = start_expecting_failure(srv, timeout=10)
    srv.stop()
    assert status not in (None, 0), "wosd started without its data directory"
    assert "missing/deeper/data" in log, "the log must name the directory:\n" + log[-2000:]


def _warm_writers(srv, bucket, n=48):
    """Small PUTs from many connections at once, so that every worker thread holds an open
    metadata connection (the ones that keep writing to a deleted meta.db)."""
    def put(i):
        return srv.client("aws4").put(bucket, "warm-%d" % i, b"w").status
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        assert set(ex.map(put, range(n))) == {200}


def _small_writes(srv, bucket, tag, n=32):
    """Inline PUTs from many connections at once: their statuses."""
    def put(i):
        return srv.client("aws4").put(bucket, "%s-%d" % (tag, i), b"tiny").status
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        return list(ex.map(put, range(n)))


@pytest.mark.parametrize("fsync", ["always", "none"])
def test_data_dir_vanishes_while_running(server_factory, bucket_name, fsync):
    """Every write after the data directory is deleted fails with a 5xx, whatever the fsync mode.
    (Was a bug: an inline PUT was answered 200, its row committed to the unlinked meta.db and lost
    at the next start; with --fsync always it failed only because the WAL sync could not reopen
    the log by path.)"""
    srv = server_factory("vanish", extra_args=("--fsync", fsync))
    c = srv.client("aws4")
    b = bucket_name("vanish")
    assert c.create_bucket(b).status == 200
    big = payload(1 * MiB, seed=31)
    assert c.put(b, "big", big).status == 200
    assert c.put(b, "small", b"small").status == 200
    _warm_writers(srv, b)
    shutil.rmtree(srv.data_dir)
    g = c.get(b, "big")
    assert g.status != 200 or g.body == big, "wrong bytes"
    assert 500 <= g.status < 600, g
    r = c.put(b, "new-big", payload(1 * MiB))
    assert_s3_5xx(r, "PUT of a blob after the data directory vanished")
    r = c.put(b, "new-small", b"tiny")
    assert_s3_5xx(r, "inline PUT after the data directory vanished")
    assert [st for st in _small_writes(srv, b, "more") if not 500 <= st < 600] == [], \
        "inline PUTs acknowledged after the data directory vanished"
    assert_s3_5xx(c.delete(b, "small"), "DELETE after the data directory vanished")
    assert_s3_5xx(c.create_bucket(bucket_name("vanish2")), "CreateBucket after the data directory vanished")
    assert srv.alive()
    log = srv.log_text()
    assert "removed or replaced" in log, log[-2000:]


def test_data_dir_replaced_while_running(server_factory, bucket_name):
    """The data directory renamed away and an empty one put in its place: meta.db stays linked, so
    only the periodic check of the path sees it; from then on every write fails with a 5xx, never
    split between the old database (open connections) and a new one (new connections)."""
    srv = server_factory("replaced", extra_args=("--fsync", "none"))
    c = srv.client("aws4")
    b = bucket_name("replaced")
    assert c.create_bucket(b).status == 200
    _warm_writers(srv, b)
    os.rename(srv.data_dir, srv.data_dir + ".moved")
    os.mkdir(srv.data_dir)
    time.sleep(1.0)   # the chores thread looks a few times a second
    assert [st for st in _small_writes(srv, b, "after") if not 500 <= st < 600] == [], \
        "writes acknowledged after the data directory was replaced"
    assert srv.alive()
    assert "removed or replaced" in srv.log_text()


# ------------------------------------------------------------------------------------------- client faults


def _drop_after(srv, raw_request, keep_bytes):
    """Sends the first keep_bytes of a request, then closes the connection (RST)."""
    s = socket.create_connection((srv.host, srv.port), timeout=10)
    s.sendall(raw_request[:keep_bytes])
    time.sleep(0.2)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")   # abortive close
    s.close()


def _settled(srv, base_fds):
    """No temporary file, and no descriptor beyond those open before (sockets included)."""
    now = fds(srv)
    extra = {fd: t for fd, t in now.items() if fd not in base_fds or base_fds[fd] != t}
    return not tmp_files(srv) and not [t for t in extra.values()
                                       if t.startswith("socket:") or "/tmp/" in t or "(deleted)" in t]


def test_client_drops_mid_request(server_factory, bucket_name):
    """Connections dropped in the middle of a PUT, an UploadPart, a chunked and an aws-chunked
    body, and a Complete: no object, no temporary file, no leaked descriptor; the upload keeps
    its parts."""
    srv = server_factory("drops")
    s3 = srv.boto()
    b = bucket_name("drops")
    s3.create_bucket(Bucket=b)
    c = srv.client("aws4")
    # Warm every event thread's metadata connection so the baseline is stable.
    for _ in range(20):
        c.get(b, query="list-type=2")
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    p1 = payload(5 * MiB, seed=41)
    e1 = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=p1)["ETag"]
    time.sleep(0.3)
    base = fds(srv)

    body = payload(4 * MiB, seed=42)
    cases = {}
    req = c.build("PUT", wc.key_path(b, "put"), body=body, payload="unsigned")
    cases["put"] = (req, len(req) - len(body) // 2)
    req = c.build("PUT", wc.key_path(b, "mp"), "partNumber=2&uploadId=" + up, body=body, payload="unsigned")
    cases["upload-part"] = (req, len(req) - len(body) // 2)
    chunked = b"".join(b"%x\r\n%s\r\n" % (64 * KiB, body[i:i + 64 * KiB]) for i in range(0, len(body), 64 * KiB))
    req = c.build("PUT", wc.key_path(b, "chunked"), headers=[("Transfer-Encoding", "chunked")],
                  body=chunked + b"0\r\n\r\n", payload="unsigned")
    cases["chunked"] = (req, len(req) - len(chunked) // 2)
    xml = ("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag></Part>"
           "</CompleteMultipartUpload>" % e1).encode()
    req = c.build("POST", wc.key_path(b, "mp"), "uploadId=" + up, body=xml)
    cases["complete"] = (req, len(req) - len(xml) // 2)
    for name, (raw, keep) in cases.items():
        _drop_after(srv, raw, keep)
    # aws-chunked with chunk signatures: send half of what put_streaming_signed would.
    stream_req = _streaming_request(c, wc.key_path(b, "aws-chunked"), body)
    _drop_after(srv, stream_req, len(stream_req) // 2)

    assert wc.wait_until(lambda: _settled(srv, base), 15), "left behind: tmp=%s fds=%s" % (
        tmp_files(srv), {fd: t for fd, t in fds(srv).items() if base.get(fd) != t})
    for key in ("put", "chunked", "aws-chunked"):
        assert c.head(b, key).status == 404, key
    assert c.head(b, "mp").status == 404, "a dropped Complete must not create the object"
    parts = s3.list_parts(Bucket=b, Key="mp", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, e1)]
    assert srv.alive()
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    assert s3.get_object(Bucket=b, Key="mp")["Body"].read() == p1


def _streaming_request(c, path, data, chunk_size=64 * KiB):
    """The raw bytes of a STREAMING-AWS4-HMAC-SHA256-PAYLOAD PUT (as wos_client signs it)."""
    captured = {}
    orig = c.send

    def capture(method, target, hl, body=b"", **kw):
        captured["raw"] = ("%s %s HTTP/1.1\r\n" % (method, target)
                           + "".join("%s: %s\r\n" % (n, v) for n, v in hl) + "\r\n").encode() + body
        raise _Captured()

    c.send = capture
    try:
        c.put_streaming_signed(path, data, chunk_size=chunk_size)
    except _Captured:
        pass
    finally:
        c.send = orig
    return captured["raw"]


class _Captured(Exception):
    pass


# ------------------------------------------------------------------------------------------- failing fsync

# An LD_PRELOAD shim that makes fsync(2) / fdatasync(2) fail with EIO while a flag file says so:
# the flag file holds "fsync" (blob files), "fsync-dir" (directories: the blob rename), or
# "fdatasync" (the metadata log, synced by the group commit after COMMIT).
FSYNC_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int should_fail(int fd, const char *call)
{
    const char *flag = getenv("WOSD_FAULT_FLAG");
    if (!flag) return 0;
    int f = open(flag, O_RDONLY | O_CLOEXEC);
    if (f < 0) return 0;
    char mode[32] = {0};
    ssize_t n = read(f, mode, sizeof mode - 1);
    close(f);
    if (n <= 0) return 0;
    mode[strcspn(mode, "\n")] = 0;
    struct stat st;
    int is_dir = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    if (!strcmp(mode, "fsync-dir")) return is_dir;
    if (!strcmp(mode, "fsync")) return !is_dir && !strcmp(call, "fsync");
    return !strcmp(mode, call);
}

int fsync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (should_fail(fd, "fsync")) { errno = EIO; return -1; }
    return real(fd);
}

int fdatasync(int fd)
{
    static int (*real)(int);
    if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    if (should_fail(fd, "fdatasync")) { errno = EIO; return -1; }
    return real(fd);
}
"""


@pytest.fixture(scope="module")
def fsync_shim():
    d = tempfile.mkdtemp(prefix="shim-", dir=_session_tmp)
    src, lib = os.path.join(d, "shim.c"), os.path.join(d, "fsync_shim.so")
    with open(src, "w") as f:
        f.write(FSYNC_SHIM)
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        pytest.skip("no C compiler to build the fsync fault shim")
    r = subprocess.run([cc, "-shared", "-fPIC", "-O1", "-o", lib, src, "-ldl"], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot build the fsync fault shim: %s" % r.stderr[-500:])
    return lib


def _shim_server(server_factory, fsync_shim, name):
    flag = os.path.join(tempfile.mkdtemp(prefix="flag-", dir=_session_tmp), "fault")
    env = {"LD_PRELOAD": fsync_shim, "WOSD_FAULT_FLAG": flag,
           "ASAN_OPTIONS": (os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0").lstrip(":")}
    srv = server_factory(name, env=env)

    def fault(mode):
        if mode:
            with open(flag, "w") as f:
                f.write(mode)
        elif os.path.exists(flag):
            os.unlink(flag)
    return srv, fault


@pytest.mark.parametrize("mode", ["fsync", "fsync-dir"])
def test_blob_fsync_failure(server_factory, bucket_name, fsync_shim, mode):
    """The blob's fsync (or its directory's, after the rename) fails: the PUT fails with a 5xx,
    the object is not visible, the old one stays, nothing is left in tmp/ and the scrub finds at
    most an orphan blob, which --repair removes."""
    srv, fault = _shim_server(server_factory, fsync_shim, "fsync-" + mode)
    c = srv.client("aws4")
    b = bucket_name("fsync")
    assert c.create_bucket(b).status == 200
    old = payload(200 * KiB, seed=51)
    assert c.put(b, "k", old).status == 200
    fault(mode)
    try:
        r = c.put(b, "k", payload(300 * KiB), payload="unsigned")
        assert_s3_5xx(r, "PUT whose %s fails" % mode)
        r = c.put(b, "new", payload(300 * KiB), payload="unsigned")
        assert_s3_5xx(r, "PUT whose %s fails" % mode)
    finally:
        fault(None)
    assert c.get(b, "k").body == old, "a failed overwrite must leave the old object"
    assert c.head(b, "new").status == 404
    assert not tmp_files(srv)
    assert "Input/output error" in srv.log_text()
    data = payload(300 * KiB, seed=52)
    assert c.put(b, "new", data).status == 200 and c.get(b, "new").body == data
    assert srv.stop() == 0
    p = subprocess.run([WOSD_BIN, "admin", "scrub", "--data", srv.data_dir, "--repair"], capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p.stdout.decode()


@pytest.mark.parametrize("size", [1000, 200 * KiB], ids=["inline", "blob"])
def test_metadata_sync_failure_leaves_nothing_visible(server_factory, bucket_name, fsync_shim, size):
    """The metadata log's fdatasync fails: the PUT must fail, and then nothing of it may show."""
    srv, fault = _shim_server(server_factory, fsync_shim, "fdatasync")
    c = srv.client("aws4")
    b = bucket_name("fdatasync")
    assert c.create_bucket(b).status == 200
    old = payload(size, seed=61)
    assert c.put(b, "k", old).status == 200
    fault("fdatasync")
    try:
        r1 = c.put(b, "k", payload(size, seed=62), payload="unsigned")
        r2 = c.put(b, "new", payload(size, seed=63), payload="unsigned")
    finally:
        fault(None)
    assert_s3_5xx(r1, "overwrite whose metadata sync fails")
    assert_s3_5xx(r2, "PUT whose metadata sync fails")
    assert "Input/output error" in srv.log_text()
    seen = (c.get(b, "k").body == old, c.head(b, "new").status)
    assert seen == (True, 404), "after a 500, the write is visible: old object kept %s, new key HEAD %s" % seen
    assert srv.stop() == 0
    p = subprocess.run([WOSD_BIN, "admin", "scrub", "--data", srv.data_dir], capture_output=True, timeout=60)
    assert p.returncode == 0, p.stdout.decode()


def test_grouped_commit_failure_fails_every_request(server_factory, bucket_name, fsync_shim):
    """Initiates run in groups that share one metadata commit: when that commit's flush fails,
    every request of the group must get a 5xx (none may keep the 200 its change had before the
    commit), no upload may show, and the next group works again."""
    srv, fault = _shim_server(server_factory, fsync_shim, "fdatasync-group")
    b = bucket_name("group")
    assert srv.client("aws4").create_bucket(b).status == 200

    def initiate(i):
        return srv.client("aws4").post(b, "k%02d" % i, query="uploads")

    fault("fdatasync")
    try:
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            rs = list(ex.map(initiate, range(48)))
    finally:
        fault(None)
    for r in rs:
        assert_s3_5xx(r, "Initiate whose group commit fails")
    r = srv.client("aws4").get(b, query="uploads")
    assert r.status == 200 and b"<UploadId>" not in r.body, r.body
    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        rs = list(ex.map(initiate, range(48)))
    assert all(r.status == 200 for r in rs), [r for r in rs if r.status != 200][:3]
    r = srv.client("aws4").get(b, query="uploads")
    assert r.body.count(b"<UploadId>") == 48, r.body[:500]


# ------------------------------------------------------------------------------------------- one server per directory


def test_second_server_on_the_same_data_dir_refused(server_factory):
    """Two servers on one data directory would empty each other's tmp/ and scrub each other's
    new blobs: the second must refuse to start (DIR/lock, held by `wosd serve`)."""
    import fcntl
    first = server_factory("owner")
    with open(os.path.join(first.data_dir, "lock"), "a+b") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(f, fcntl.LOCK_UN)
            pytest.xfail("wosd serve does not hold DIR/lock yet: a second server on the same data directory "
                         "would start (see the lock snippet in docs/RELIABILITY.md)")
        except BlockingIOError:
            pass
    second = WosdServer("intruder", data_dir=first.data_dir)
    status, log = start_expecting_failure(second, timeout=10)
    second.stop()
    assert status not in (None, 0), "a second wosd started on a data directory in use"
    assert "lock" in log or "in use" in log, log[-2000:]
    assert first.alive() and first.client("aws4").get("").status == 200
