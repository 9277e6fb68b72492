"""The embedded store seen from outside (issue 2 §6): crash safety by ordering, and the start-up scrub
that removes unreferenced blobs. Each test runs its own server over its own data directory."""
import os
import time

import wos_client as wc
from conftest import payload

MiB = 1 << 20


def _dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def test_crash_during_overwrite_keeps_old_object_and_scrubs_partial_blob(server_factory, bucket_name):
    srv = server_factory("crash-put")
    s3 = srv.boto()
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    old = payload(1 * MiB, seed=1)
    s3.put_object(Bucket=name, Key="k", Body=old)
    baseline = _dir_bytes(srv.data_dir)
    new = payload(24 * MiB, seed=2)
    c = srv.client("aws4")
    req = c.build("PUT", wc.key_path(name, "k"), body=new, payload="unsigned")
    with wc.RawHTTP(srv.host, srv.port) as conn:
        conn.send(req[:len(req) - len(new) + 12 * MiB])  # headers and half of the body
        deadline = time.time() + 10
        while _dir_bytes(srv.data_dir) < baseline + 4 * MiB and time.time() < deadline:
            time.sleep(0.05)  # let some of the partial body reach the disk
        srv.kill()
    srv.start(keep_port=True)
    s3 = srv.boto()
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == old, "the old object must survive intact"
    assert wc.wait_until(lambda: _dir_bytes(srv.data_dir) < baseline + 2 * MiB, timeout=10), \
        "partial upload not scrubbed: %d bytes over baseline" % (_dir_bytes(srv.data_dir) - baseline)


def test_deleted_and_overwritten_bytes_reclaimed(server_factory, bucket_name):
    srv = server_factory("reclaim")
    s3 = srv.boto()
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    baseline = _dir_bytes(srv.data_dir)
    for k in ("a", "b", "c"):
        s3.put_object(Bucket=name, Key=k, Body=payload(5 * MiB))
    assert _dir_bytes(srv.data_dir) >= baseline + 15 * MiB
    s3.delete_object(Bucket=name, Key="a")
    s3.delete_objects(Bucket=name, Delete={"Objects": [{"Key": "b"}]})
    s3.put_object(Bucket=name, Key="c", Body=b"small now")
    assert srv.stop() == 0
    srv.start(keep_port=True)
    assert wc.wait_until(lambda: _dir_bytes(srv.data_dir) < baseline + 2 * MiB, timeout=10), \
        "unreferenced blobs left: %d bytes over baseline" % (_dir_bytes(srv.data_dir) - baseline)
    assert srv.boto().get_object(Bucket=name, Key="c")["Body"].read() == b"small now"


def test_fsync_none_option_works(server_factory, bucket_name):
    srv = server_factory("nofsync", extra_args=["--fsync", "none"])
    s3 = srv.boto()
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    data = payload(3 * MiB)
    s3.put_object(Bucket=name, Key="k", Body=data)
    assert srv.stop() == 0
    srv.start(keep_port=True)
    assert srv.boto().get_object(Bucket=name, Key="k")["Body"].read() == data


def _mode_600_files(root_dir):
    out = {}
    for root, _, names in os.walk(root_dir):
        for n in names:
            p = os.path.join(root, n)
            if (os.stat(p).st_mode & 0o777) == 0o600 and os.path.getsize(p) < 4096:
                with open(p, "rb") as f:
                    out[p] = f.read()
    return out


def test_credentials_generated_when_not_given(server_factory):
    """Without WOSD_ROOT_* the server generates root credentials, keeps them in the data directory
    (mode 0600), prints them, and reuses them on the next start."""
    srv = server_factory("gencreds", access_key=None, secret_key=None)
    log = srv.log_text().lower()
    assert "access key" in log or "access_key" in log, log[-2000:]
    assert srv.stop() == 0
    files = _mode_600_files(srv.data_dir)
    assert files, "no small 0600 file holding the generated credentials in the data directory"
    srv.start(keep_port=True)
    assert _mode_600_files(srv.data_dir) == files, "credentials must be kept across restarts"


def test_overwrite_and_delete_during_streaming_get(server, s3, bucket):
    """A GET in progress keeps reading the object it started with, whatever happens to the key."""
    old = payload(24 * MiB, seed=5)
    c = server.client("aws4")
    for action in ("overwrite", "delete"):
        s3.put_object(Bucket=bucket, Key="k", Body=old)
        g = c.request("GET", wc.key_path(bucket, "k"), stream=True)
        assert g.status == 200
        first = g.raw.read(1 * MiB)
        if action == "overwrite":
            s3.put_object(Bucket=bucket, Key="k", Body=b"new and small")
        else:
            s3.delete_object(Bucket=bucket, Key="k")
        rest = g.raw.read()
        g.conn.close()
        got = first + rest
        assert len(got) == len(old) and got == old, "%s during GET: body changed/truncated (%d bytes)" % (
            action, len(got))


def test_concurrent_overwrites_leave_one_intact_object(server, s3, bucket):
    import concurrent.futures
    bodies = [payload(2 * MiB + i, seed=100 + i) for i in range(8)]
    c = server.client("aws4")
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        rs = list(ex.map(lambda b: c.put(bucket, "contended", b), bodies))
    assert all(r.status == 200 for r in rs), rs
    g = c.get(bucket, "contended")
    assert g.body in bodies, "the object is not one of the bodies written"
    assert g.header("ETag") == '"%s"' % wc.md5_hex(g.body)
    assert int(g.header("Content-Length")) == len(g.body)
