/* test_core_error — the s3 handler's answer to the HTTP core's own refusals (http_core_err):
 * S3's error document and request-id headers for a request that begin() never saw, so with no
 * s3 context (a request line that did not parse has no method, path or headers at all). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "s3/s3.h"
#include "server/http_req.h"

static const s3_config cfg = {.region = "us-east-1", .root_access_key = "AK", .root_secret_key = "SK"};
static const http_handler *handler;

static int setup(void **state)
{
    (void)state;
    handler = s3_handler(&cfg);
    return 0;
}

/* The text of <name> in the response body, copied into out ("" when absent). */
static const char *element(const http_req *r, const char *name, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", name);
    snprintf(close, sizeof close, "</%s>", name);
    out[0] = 0;
    const char *body = r->buf ? r->buf : "";
    const char *s = strstr(body, open), *e = s ? strstr(s, close) : NULL;
    if (!s || !e) return out;
    s += strlen(open);
    size_t n = (size_t)(e - s) < cap - 1 ? (size_t)(e - s) : cap - 1;
    memcpy(out, s, n);
    out[n] = 0;
    return out;
}

/* Asks the handler to answer r for why; checks what every such answer has in common. */
static void answer(http_req *r, http_core_err why, int status, const char *code)
{
    assert_non_null(handler->core_error);
    handler->core_error(r, why);
    char buf[256];
    assert_int_equal(r->status, status);
    assert_int_equal(r->body, BODY_BUF);
    assert_string_equal(http_resp_header_get(r, "Content-Type"), "application/xml");
    assert_string_equal(element(r, "Code", buf, sizeof buf), code);
    assert_true(strlen(element(r, "Message", buf, sizeof buf)) > 0);
    const char *rid = http_resp_header_get(r, "x-amz-request-id");
    assert_non_null(rid);
    assert_int_equal(strlen(rid), 32);
    assert_string_equal(http_resp_header_get(r, "x-wos-request-id"), rid);
    assert_string_equal(element(r, "RequestId", buf, sizeof buf), rid);
    assert_string_equal(element(r, "HostId", buf, sizeof buf), rid);
}

static void test_unread_heads(void **state)
{
    (void)state;
    static const struct {
        http_core_err why;
        int status;
        const char *code;
    } cases[] = {
        {HTTP_CORE_HEAD_MALFORMED, 400, "BadRequest"},
        {HTTP_CORE_VERSION, 505, "HTTPVersionNotSupported"},
        {HTTP_CORE_HEAD_TOO_LARGE, 400, "RequestHeaderSectionTooLarge"},   /* S3's, not 431 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        http_req *r = http_req_alloc();   /* as the core has it: nothing of the request read */
        answer(r, cases[i].why, cases[i].status, cases[i].code);
        assert_null(strstr(r->buf, "<Resource>"));   /* there is no resource to name */
        assert_null(http_ctx(r));
        http_req_free(r);
    }
}

static void test_bad_length_names_the_resource(void **state)
{
    (void)state;
    http_req *r = http_req_new("PUT", "/b/k");
    http_req_add_header(r, "Content-Length", "0x5");
    answer(r, HTTP_CORE_LENGTH, 400, "BadRequest");
    char buf[64];
    assert_string_equal(element(r, "Resource", buf, sizeof buf), "/b/k");
    http_req_free(r);
}

static void test_dialect_from_what_was_read(void **state)
{
    (void)state;
    /* An AWS-signed request's error document has no standalone declaration (a WOS one has). */
    http_req *r = http_req_new("PUT", "/b/k");
    http_req_add_header(r, "Authorization", "AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/s3/aws4_request");
    answer(r, HTTP_CORE_CHUNKED, 400, "IncompleteBody");
    assert_null(strstr(r->buf, "standalone"));
    http_req_free(r);
    r = http_req_new("PUT", "/b/k");
    answer(r, HTTP_CORE_CHUNKED, 400, "IncompleteBody");
    assert_non_null(strstr(r->buf, "standalone=\"yes\""));
    http_req_free(r);
}

static void test_request_ids_differ(void **state)
{
    (void)state;
    http_req *a = http_req_alloc(), *b = http_req_alloc();
    answer(a, HTTP_CORE_HEAD_MALFORMED, 400, "BadRequest");
    answer(b, HTTP_CORE_HEAD_MALFORMED, 400, "BadRequest");
    assert_string_not_equal(http_resp_header_get(a, "x-amz-request-id"), http_resp_header_get(b, "x-amz-request-id"));
    http_req_free(a);
    http_req_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unread_heads),
        cmocka_unit_test(test_bad_length_names_the_resource),
        cmocka_unit_test(test_dialect_from_what_was_read),
        cmocka_unit_test(test_request_ids_differ),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
