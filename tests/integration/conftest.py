"""Fixtures for the wosd integration tests: the server process, real clients, helpers.

The server under test is $WOSD_BIN (default: build/wosd of this repository), started as
    wosd serve --listen 127.0.0.1:PORT --data DIR --region us-east-1 --domain s3.local.test
with WOSD_ROOT_ACCESS_KEY / WOSD_ROOT_SECRET_KEY chosen here. Its stdout and stderr go to a
log file in the session's temporary directory; the tail is attached to every failure report.

Environment:
  WOSD_BIN              server binary
  WOSD_TEST_KEEP        set to keep the temporary directory (data, logs, client configs)
"""
import atexit
import os
import random
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import time
import http.client

import boto3
import pytest
from botocore.config import Config

sys.path.insert(0, os.path.dirname(__file__))
import wos_client as wc  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WOSD_BIN = os.path.abspath(os.environ.get("WOSD_BIN") or os.path.join(REPO, "build", "wosd"))
DOMAIN = "s3.local.test"
REGION = "us-east-1"
ROOT_AK = "WOSDTESTROOTKEY00001"
ROOT_SK = "".join(random.SystemRandom().choice(string.ascii_letters + string.digits + "/+") for _ in range(40))
AWS = "/usr/bin/aws"
S3CMD = "/usr/bin/s3cmd"
RCLONE = "/usr/bin/rclone"

_live_servers = []
_all_servers = []
_session_tmp = tempfile.mkdtemp(prefix="wosd-it-")


def _cleanup_tmp():
    for s in list(_live_servers):
        s.stop()
    if not os.environ.get("WOSD_TEST_KEEP"):
        shutil.rmtree(_session_tmp, ignore_errors=True)


atexit.register(_cleanup_tmp)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_sanitized_binary(path):
    """True for an ASan build (peak RSS limits do not apply to it)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        return b"AddressSanitizer" in data or b"__asan_init" in data
    except OSError:
        return False


class WosdServer:
    """One wosd process over one data directory."""

    def __init__(self, name, region=REGION, domains=(DOMAIN,), extra_args=(), data_dir=None,
                 access_key=ROOT_AK, secret_key=ROOT_SK, env=None):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=_session_tmp)
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, "wosd.log")
        self.region = region
        self.domains = tuple(domains)
        self.extra_args = tuple(extra_args)
        self.access_key = access_key
        self.secret_key = secret_key
        self.extra_env = dict(env or {})
        self.host = "127.0.0.1"
        self.port = None
        self.proc = None
        self.exit_codes = []
        self.crashes = 0

    # -- process ---------------------------------------------------------------------------------

    @property
    def endpoint(self):
        return "http://%s:%d" % (self.host, self.port)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def command(self):
        cmd = [WOSD_BIN, "serve", "--listen", "%s:%d" % (self.host, self.port), "--data", self.data_dir,
               "--region", self.region]
        for d in self.domains:
            cmd += ["--domain", d]
        return cmd + list(self.extra_args)

    def start(self, timeout=30, keep_port=False):
        if not os.path.exists(WOSD_BIN):
            raise RuntimeError("wosd binary not found at %s (run `make`, or set WOSD_BIN)" % WOSD_BIN)
        last = None
        for _attempt in range(3):
            if not (keep_port and self.port):
                self.port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("WOSD_ROOT_")}
            if self.access_key is not None:  # None: let wosd generate (or reuse) its root credentials
                env.update({"WOSD_ROOT_ACCESS_KEY": self.access_key, "WOSD_ROOT_SECRET_KEY": self.secret_key})
            env.update(self.extra_env)
            with open(self.log_path, "ab") as log:
                log.write(("\n==== %s: %s\n" % (time.strftime("%H:%M:%S"), " ".join(self.command()))).encode())
                log.flush()
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             env=env, cwd=self.dir)
            if self not in _live_servers:
                _live_servers.append(self)
            if self not in _all_servers:
                _all_servers.append(self)
            try:
                self.wait_ready(timeout)
                return self
            except RuntimeError as e:
                last = e
                self.stop()
                if keep_port:
                    time.sleep(0.5)
        raise RuntimeError("wosd did not start: %s\n--- log tail ---\n%s" % (last, self.log_tail()))

    def wait_ready(self, timeout=30):
        end = time.time() + timeout
        err = None
        while time.time() < end:
            if self.proc.poll() is not None:
                raise RuntimeError("wosd exited with status %s during start-up" % self.proc.returncode)
            try:
                c = http.client.HTTPConnection(self.host, self.port, timeout=2)
                c.request("GET", "/")
                r = c.getresponse()
                r.read()
                c.close()
                return
            except (OSError, http.client.HTTPException) as e:
                err = e
                time.sleep(0.05)
        raise RuntimeError("no HTTP answer on %s within %ss (%s)" % (self.endpoint, timeout, err))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=15):
        """SIGTERM, wait, then SIGKILL. Returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        rc = self.proc.returncode
        self.exit_codes.append(rc)
        if self in _live_servers:
            _live_servers.remove(self)
        return rc

    def kill(self):
        """SIGKILL (crash simulation)."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        if self in _live_servers:
            _live_servers.remove(self)

    def restart(self, keep_port=True):
        self.stop()
        return self.start(keep_port=keep_port)

    # -- observation -----------------------------------------------------------------------------

    def proc_status(self):
        out = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                out[k] = v.strip()
        return out

    def vmhwm_kib(self):
        return int(self.proc_status()["VmHWM"].split()[0])

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def sanitizer_reports(self):
        t = self.log_text()
        return [m.group(0) for m in re.finditer(r"(ERROR: AddressSanitizer.*|ERROR: LeakSanitizer.*|"
                                                r".*runtime error:.*)", t)]

    # -- clients ---------------------------------------------------------------------------------

    def boto(self, signature_version="s3v4", addressing_style="path", **cfg):
        config = Config(s3={"addressing_style": addressing_style}, signature_version=signature_version,
                        retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10,
                        read_timeout=300, region_name=self.region, **cfg)
        client = boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key, region_name=self.region, config=config)

        def after_call(http_response, model, **kw):
            wc.check_common_headers(model.name, "(boto3)", http_response.status_code, http_response.headers)

        client.meta.events.register("after-call.s3", after_call)
        return client

    def client(self, scheme="wos4", **kw):
        return wc.Client(self.host, self.port, self.access_key, self.secret_key, self.region, scheme, **kw)


# ------------------------------------------------------------------------------- pytest hooks


def pytest_configure(config):
    config.addinivalue_line("markers", "multipart: multipart upload tests")
    config.addinivalue_line("markers", "slow: long-running tests")
    config.addinivalue_line("markers", "clients: subprocess clients")

    def on_alarm(signum, frame):
        raise TimeoutError("test exceeded its time limit")

    signal.signal(signal.SIGALRM, on_alarm)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for s in _all_servers:
            # the servers of this test (still running) and any that died with an error status
            if s.proc is None or (not s.alive() and s.proc.returncode in (0, -signal.SIGKILL, -signal.SIGTERM)):
                continue
            state = "running" if s.alive() else "exited(%s)" % s.proc.returncode
            text = s.log_text()
            m = re.search(r"^.*(ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:).*$", text, re.M)
            if m:  # show the sanitizer report's head (the stack), not only the tail
                text = "\n".join(text[m.start():].splitlines()[:45]) + "\n[...]\n" + s.log_tail(10)
            else:
                text = s.log_tail(30)
            rep.sections.append(("wosd[%s] %s pid %s log (%s)" % (s.name, state, s.pid, s.log_path), text))


def pytest_sessionfinish(session, exitstatus):
    for s in list(_live_servers):
        s.stop()
    bad = []
    for s in _all_servers:
        for r in s.sanitizer_reports():
            bad.append("wosd[%s]: %s" % (s.name, r))
    if bad:
        sys.stderr.write("\n==== sanitizer reports in wosd logs ====\n" + "\n".join(bad[:50]) + "\n")
        session.exitstatus = 1


@pytest.fixture(autouse=True)
def _common_response_headers():
    """Fails a test during which any response lacked x-wos-request-id/x-amz-request-id/Date/Server."""
    del wc.HEADER_VIOLATIONS[:]
    yield
    if wc.HEADER_VIOLATIONS:
        v = list(wc.HEADER_VIOLATIONS)
        del wc.HEADER_VIOLATIONS[:]
        pytest.fail("responses without the common headers:\n  " + "\n  ".join(v[:10]), pytrace=False)


@pytest.fixture(autouse=True)
def _time_limit(request):
    limit = 900 if request.node.get_closest_marker("slow") else 180
    signal.alarm(limit)
    yield
    signal.alarm(0)


# ------------------------------------------------------------------------------- server fixtures


@pytest.fixture(scope="session")
def server():
    s = WosdServer("main")
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(autouse=True)
def _server_alive(request):
    """If the session server died in an earlier test, restart it so later tests are meaningful."""
    if "server" in request.fixturenames:
        s = request.getfixturevalue("server")
        if not s.alive():
            s.crashes += 1
            s.start(keep_port=True)
    yield


@pytest.fixture
def server_factory():
    """Starts extra servers with other options; all are stopped after the test."""
    started = []

    def make(name="extra", **kw):
        s = WosdServer(name, **kw)
        started.append(s)
        return s.start()

    try:
        yield make
    finally:
        for s in started:
            s.stop()


@pytest.fixture(scope="module")
def wos_server():
    """A WOS-flavoured server: region cn-south-1, domain s3-cn-south-1.wcsapi.com (module scope)."""
    s = WosdServer("wos", region="cn-south-1", domains=("s3-cn-south-1.wcsapi.com", DOMAIN))
    try:
        s.start()
        yield s
    finally:
        s.stop()


# ------------------------------------------------------------------------------- clients


@pytest.fixture(scope="session")
def s3(server):
    """boto3, SigV4, path style."""
    return server.boto("s3v4")


@pytest.fixture(scope="session")
def s3v2(server):
    """boto3, SigV2 (`AWS AK:sig`), path style."""
    return server.boto("s3")


@pytest.fixture(scope="session")
def wos(server):
    """WOS-HMAC-SHA256 header client."""
    return server.client("wos4")


@pytest.fixture(scope="session")
def raw(server):
    """raw(scheme) -> wos_client.Client for the session server."""
    return lambda scheme="wos4": server.client(scheme)


_bucket_counter = [0]


def make_bucket_name(hint="b"):
    _bucket_counter[0] += 1
    slug = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")[:30].strip("-") or "b"
    rnd = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))
    return "t%d-%s-%s" % (_bucket_counter[0], slug, rnd)


@pytest.fixture
def bucket_name(request):
    """Factory of unique, valid bucket names."""
    return lambda hint=None: make_bucket_name(hint or request.node.name.replace("test_", "", 1))


@pytest.fixture
def bucket(s3, bucket_name):
    """A fresh empty bucket created with boto3 (SigV4)."""
    name = bucket_name()
    s3.create_bucket(Bucket=name)
    return name


def payload(n, seed=None):
    return wc.random_bytes(n, seed)


@pytest.fixture
def make_payload():
    return payload


# ------------------------------------------------------------------------------- CLI tools


class CLI:
    def __init__(self, argv0, env, base_args=()):
        self.argv0 = argv0
        self.env = env
        self.base_args = list(base_args)

    def __call__(self, *args, check=True, timeout=300, input=None):
        cmd = [self.argv0] + self.base_args + [str(a) for a in args]
        p = subprocess.run(cmd, env=self.env, capture_output=True, timeout=timeout, input=input)
        if check and p.returncode != 0:
            raise AssertionError("command failed (%d): %s\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
                p.returncode, " ".join(cmd), p.stdout.decode(errors="replace")[-3000:],
                p.stderr.decode(errors="replace")[-3000:]))
        p.out = p.stdout.decode("utf-8", "replace")
        p.err = p.stderr.decode("utf-8", "replace")
        return p


@pytest.fixture(scope="session")
def cli_dir(server):
    d = os.path.join(_session_tmp, "cli")
    os.makedirs(d, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def aws_env(server, cli_dir):
    cfg = os.path.join(cli_dir, "aws-config")
    with open(cfg, "w") as f:
        f.write("[default]\nregion = %s\nmax_attempts = 1\nretry_mode = standard\n"
                "s3 =\n    addressing_style = path\n" % server.region)
    creds = os.path.join(cli_dir, "aws-credentials")
    open(creds, "w").close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": server.region,
        "AWS_CONFIG_FILE": cfg,
        "AWS_SHARED_CREDENTIALS_FILE": creds,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        "HOME": cli_dir,
    })
    return env


@pytest.fixture(scope="session")
def aws_cli(server, aws_env):
    """aws(*args): runs /usr/bin/aws --endpoint-url <server> args…"""
    return CLI(AWS, aws_env, ["--endpoint-url", server.endpoint])


def _s3cmd_config(server, path, v2):
    with open(path, "w") as f:
        f.write("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s:%d\nhost_bucket = %s:%d\n"
                "use_https = False\nsignature_v2 = %s\nbucket_location = %s\ncheck_ssl_certificate = False\n"
                "multipart_chunk_size_mb = 15\nsocket_timeout = 120\nprogress_meter = False\n" % (
                    server.access_key, server.secret_key, server.host, server.port, server.host, server.port,
                    "True" if v2 else "False", server.region))
    return path


@pytest.fixture(scope="session")
def s3cmd_configs(server, cli_dir):
    return {"v4": _s3cmd_config(server, os.path.join(cli_dir, "s3cfg-v4"), False),
            "v2": _s3cmd_config(server, os.path.join(cli_dir, "s3cfg-v2"), True)}


@pytest.fixture(scope="session")
def s3cmd(s3cmd_configs, cli_dir):
    """s3cmd(version) -> CLI runner with that signature version ('v4' or 'v2')."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["HOME"] = cli_dir
    return lambda version="v4": CLI(S3CMD, env, ["-c", s3cmd_configs[version], "--no-progress"])


@pytest.fixture(scope="session")
def rclone(server, cli_dir):
    """rclone(*args) with a remote named `wosd:`."""
    cfg = os.path.join(cli_dir, "rclone.conf")
    with open(cfg, "w") as f:
        f.write("[wosd]\ntype = s3\nprovider = Other\naccess_key_id = %s\nsecret_access_key = %s\n"
                "endpoint = %s\nregion = %s\nforce_path_style = true\n" % (
                    server.access_key, server.secret_key, server.endpoint, server.region))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RCLONE_"))}
    env["HOME"] = cli_dir
    return CLI(RCLONE, env, ["--config", cfg, "--retries", "1", "--low-level-retries", "1"])
