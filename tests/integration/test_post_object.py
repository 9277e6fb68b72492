"""PostObject: browser form uploads with a policy, in the AWS V4 and V2 forms (boto3's
generate_presigned_post) and the WOS form (x-wos-* fields, WOS-API.md §2.5). Issue 2 §8."""
import base64
import datetime
import hashlib
import hmac
import json

import pytest
import requests

import wos_client as wc
from helpers import quoted_md5


def _expiration(minutes=10):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _post(server, bucket, fields, data=b"form data", filename="file.txt", content_type=None):
    files = {"file": (filename, data) if content_type is None else (filename, data, content_type)}
    return requests.post("%s/%s" % (server.endpoint, bucket), data=fields, files=files, timeout=60)


def _code(r):
    return wc.error_code(r.content)


def wos_form(server, bucket, key, conditions=(), extra_fields=None, expires_minutes=10, secret=None,
             date=None):
    now = date or wc.utcnow()
    stamp = wc.amz_date(now)
    cred = "%s/%s" % (server.access_key, wc.v4_scope(wc.WOS4, stamp[:8], server.region))
    policy = {"expiration": _expiration(expires_minutes), "conditions": [
        {"x-wos-algorithm": "WOS-HMAC-SHA256"}, {"x-wos-credential": cred}, {"x-wos-date": stamp},
        {"bucket": bucket}] + list(conditions)}
    b64 = base64.b64encode(json.dumps(policy).encode()).decode()
    key_ = wc.v4_signing_key(wc.WOS4, secret or server.secret_key, stamp[:8], server.region)
    sig = hmac.new(key_, b64.encode(), hashlib.sha256).hexdigest()
    fields = {"key": key, "policy": b64, "x-wos-algorithm": "WOS-HMAC-SHA256", "x-wos-credential": cred,
              "x-wos-date": stamp, "x-wos-signature": sig}
    fields.update(extra_fields or {})
    return fields


# ------------------------------------------------------------------------------------ AWS forms


@pytest.mark.parametrize("client", ["s3", "s3v2"])
def test_presigned_post_boto3(request, server, bucket, client):
    s3 = request.getfixturevalue(client)
    post = s3.generate_presigned_post(bucket, "uploads/${filename}", ExpiresIn=600,
                                      Fields={"Content-Type": "text/plain", "x-amz-meta-origin": "form"},
                                      Conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-origin": "form"},
                                                  ["content-length-range", 1, 1 << 20]])
    assert post["url"].rstrip("/").endswith(bucket)
    data = b"posted via a browser form"
    r = _post(server, bucket, post["fields"], data, filename="hello.txt")
    assert r.status_code == 204, r.content
    assert r.headers.get("ETag") == quoted_md5(data)
    assert r.headers.get("Location")
    h = s3.head_object(Bucket=bucket, Key="uploads/hello.txt")
    assert h["ContentType"] == "text/plain" and h["Metadata"] == {"origin": "form"}
    assert s3.get_object(Bucket=bucket, Key="uploads/hello.txt")["Body"].read() == data


def test_post_success_action_status(s3, server, bucket):
    for status in ("200", "201", "204"):
        post = s3.generate_presigned_post(bucket, "k" + status, Fields={"success_action_status": status},
                                          Conditions=[{"success_action_status": status}])
        r = _post(server, bucket, post["fields"])
        assert r.status_code == int(status), r.content
        if status == "201":
            root = wc.ET.fromstring(r.content)
            assert wc.local(root.tag) == "PostResponse"
            assert wc.xtext(root, "Bucket") == bucket and wc.xtext(root, "Key") == "k201"
            assert wc.xtext(root, "ETag") == quoted_md5(b"form data")
            assert wc.xtext(root, "Location")


def test_post_policy_conditions_enforced(s3, server, bucket):
    ok = s3.generate_presigned_post(bucket, "ok", Conditions=[["content-length-range", 5, 100]])
    assert _post(server, bucket, ok["fields"], b"just right").status_code == 204
    big = _post(server, bucket, ok["fields"], b"x" * 101)
    assert big.status_code == 400 and _code(big) == "EntityTooLarge", big.content
    small = _post(server, bucket, ok["fields"], b"x")
    assert small.status_code == 400 and _code(small) == "EntityTooSmall", small.content
    # the key must satisfy the policy
    f = dict(ok["fields"], key="other-key")
    r = _post(server, bucket, f)
    assert r.status_code == 403 and _code(r) == "AccessDenied", r.content
    # a field the policy does not mention
    f = dict(ok["fields"], **{"x-amz-meta-extra": "1"})
    r = _post(server, bucket, f, b"just right")
    assert r.status_code == 403 and _code(r) == "AccessDenied", r.content
    # a tampered policy no longer matches its signature
    pol = json.loads(base64.b64decode(ok["fields"]["policy"]))
    pol["conditions"] = [c for c in pol["conditions"] if not (isinstance(c, list) and c[0] == "content-length-range")]
    f = dict(ok["fields"], policy=base64.b64encode(json.dumps(pol).encode()).decode())
    r = _post(server, bucket, f, b"x" * 500)
    assert r.status_code == 403 and _code(r) == "SignatureDoesNotMatch", r.content
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["ok"]


def test_post_policy_expired(s3, server, bucket):
    post = s3.generate_presigned_post(bucket, "k", ExpiresIn=600)
    assert _post(server, bucket, post["fields"]).status_code == 204
    post = s3.generate_presigned_post(bucket, "k2", ExpiresIn=-60)
    r = _post(server, bucket, post["fields"])
    assert r.status_code == 403 and _code(r) == "AccessDenied", r.content


# ------------------------------------------------------------------------------------ WOS form


def test_post_wos_form(s3, server, bucket):
    fields = wos_form(server, bucket, "wos/${filename}",
                      conditions=[["starts-with", "$key", "wos/"], {"x-wos-acl": "private"},
                                  ["starts-with", "$Content-Type", "image/"], ["starts-with", "$x-wos-meta-tag", ""]],
                      extra_fields={"x-wos-acl": "private", "Content-Type": "image/png", "x-wos-meta-tag": "t1"})
    data = b"\x89PNG fake"
    r = _post(server, bucket, fields, data, filename="pic.png")
    assert r.status_code == 204, r.content
    assert r.headers.get("ETag") == quoted_md5(data)
    assert r.headers.get("x-wos-request-id")
    h = s3.head_object(Bucket=bucket, Key="wos/pic.png")
    assert h["ContentType"] == "image/png" and h["Metadata"] == {"tag": "t1"}


def test_post_wos_form_errors(server, bucket):
    good = wos_form(server, bucket, "wos/a", conditions=[["starts-with", "$key", "wos/"]])
    assert _post(server, bucket, good).status_code == 204
    r = _post(server, bucket, wos_form(server, bucket, "wos/a", conditions=[["starts-with", "$key", "wos/"]],
                                       secret="wrong"))
    assert r.status_code == 403 and _code(r) == "SignatureDoesNotMatch", r.content
    r = _post(server, bucket, dict(good, key="elsewhere/a"))
    assert r.status_code == 403 and _code(r) == "AccessDenied", r.content
    r = _post(server, bucket, wos_form(server, bucket, "wos/a", expires_minutes=-5))
    assert r.status_code == 403 and _code(r) == "AccessDenied", r.content
