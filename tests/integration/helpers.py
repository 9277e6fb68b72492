"""Assertions shared by the integration tests."""
import datetime
import email.utils
import re

import pytest
from botocore.exceptions import ClientError

import wos_client as wc

SDNM_MESSAGE = ("The request signature we calculated does not match the signature you provided. "
                "Check your key and signing method.")

CLASS_ALIASES = {
    "standard": "Standard", "ia": "IA", "standard_ia": "IA", "archive": "Archive", "glacier": "Archive",
}


def norm_class(value):
    """Canonical WOS storage class of a header/listing value (None/'' → Standard as S3 omits it)."""
    if not value:
        return "Standard"
    return CLASS_ALIASES.get(value.lower(), "?" + value)


def assert_error(resp, status, code, message=None, message_contains=None):
    """A raw Response is an error with this status and XML Code (and message, when given)."""
    assert resp.status == status, "expected %s %s, got %r" % (status, code, resp)
    if code is None:
        return
    assert resp.body, "expected an XML error body with Code %s, got an empty body (%r)" % (code, resp)
    assert resp.code == code, "expected Code %s, got %r" % (code, resp)
    if message is not None:
        assert resp.message == message, resp
    if message_contains is not None:
        assert message_contains in (resp.message or ""), resp


def assert_ok(resp, status=200):
    assert resp.status == status, "expected %s, got %r" % (status, resp)
    return resp


def client_error(fn, *args, **kw):
    """Runs a boto3 call that must fail; returns (HTTP status, error code, ClientError)."""
    with pytest.raises(ClientError) as ei:
        fn(*args, **kw)
    r = ei.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"].get("Code"), ei.value


def expect_client_error(status, code, fn, *args, **kw):
    st, cd, e = client_error(fn, *args, **kw)
    assert (st, cd) == (status, code), "expected %s %s, got %s %s: %s" % (status, code, st, cd, e.response)
    return e


def quoted_md5(data):
    return '"%s"' % wc.md5_hex(data)


def parse_http_date(value):
    return email.utils.parsedate_to_datetime(value)


def assert_http_date(value):
    assert value, "missing date"
    assert re.match(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$", value), value
    return parse_http_date(value)


def assert_common_headers(resp):
    """Every response: x-wos-request-id == x-amz-request-id (non-empty), Date, Server."""
    h = resp.headers
    rid = h.get("x-wos-request-id")
    assert rid, "no x-wos-request-id in %r / %s" % (resp, dict(h))
    assert h.get("x-amz-request-id") == rid, "x-amz-request-id %r != x-wos-request-id %r" % (
        h.get("x-amz-request-id"), rid)
    assert_http_date(h.get("Date"))
    assert h.get("Server"), "no Server header"
    return rid


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
