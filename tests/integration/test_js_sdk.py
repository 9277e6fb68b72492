"""The AWS SDK for JavaScript v3 (tests/js), with its default flexible checksums: CRC32 on every
upload, aws-chunked bodies with x-amz-checksum-* trailers (STREAMING-UNSIGNED-PAYLOAD-TRAILER),
lib-storage multipart, and DeleteObjects protected by a checksum instead of Content-MD5.
Debian's aws-cli and boto3 predate all of that (DESIGN.md, "Testing with real clients")."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import REPO

JS_DIR = os.path.join(REPO, "tests", "js")


def _node_modules():
    if not os.path.isdir(os.path.join(JS_DIR, "node_modules", "@aws-sdk", "client-s3")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=JS_DIR, check=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)


@pytest.mark.clients
def test_aws_sdk_js_v3_defaults(server, s3, bucket):
    assert shutil.which("node") and shutil.which("npm"), "node and npm are installed by scripts/deps.sh --test"
    _node_modules()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "ENDPOINT": server.endpoint,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_REGION": server.region,
        "BUCKET": bucket,
        "HOME": os.path.join(JS_DIR, "node_modules"),
    })
    p = subprocess.run(["node", "sdk_test.mjs"], cwd=JS_DIR, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, out[-4000:]
    result = json.loads(out.strip().splitlines()[-1])
    assert result["ok"] and result["checks"] >= 15, result
