/* Unit tests of src/server/http_req.c: the message-framing rules (RFC 9112 §5.1, §6.1, §6.3)
 * that refuse a request whose body's end is ambiguous, as libmicrohttpd hands its headers over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/http_req.h"

/* A request with these headers (name, value pairs, NULL-terminated); the framing verdict. */
static const char *framing(bool *unsupported, const char *const *hdrs)
{
    http_req *r = http_req_new("PUT", "/b/k");
    for (size_t i = 0; hdrs[i]; i += 2) http_req_add_header(r, hdrs[i], hdrs[i + 1]);
    const char *why = http_framing_error(r, unsupported);
    http_req_free(r);   /* the message is a static string: it outlives the request */
    return why;
}

#define VERDICT(unsup, ...) framing(unsup, (const char *const[]){__VA_ARGS__, NULL})

static void test_plain_framings_pass(void **state)
{
    (void)state;
    bool unsup;
    assert_null(VERDICT(&unsup, "Host", "h", "Content-Length", "5"));
    assert_null(VERDICT(&unsup, "Transfer-Encoding", "chunked"));
    assert_null(VERDICT(&unsup, "Transfer-Encoding", "Chunked"));
    assert_null(VERDICT(&unsup, "Host", "h"));
    /* Two equal lengths frame the body one way only (RFC 9110 §8.6 lets us accept them). */
    assert_null(VERDICT(&unsup, "Content-Length", "5", "Content-Length", "5"));
    /* Names that merely contain a framing header's name are other headers. */
    assert_null(VERDICT(&unsup, "X-Content-Length", "5", "x-amz-decoded-content-length", "5"));
}

static void test_ambiguous_framings_refused(void **state)
{
    (void)state;
    bool unsup;
    assert_non_null(VERDICT(&unsup, "Content-Length", "5", "Content-Length", "60"));
    assert_false(unsup);
    assert_non_null(VERDICT(&unsup, "Content-Length", "4", "Transfer-Encoding", "chunked"));
    assert_non_null(VERDICT(&unsup, "Content-Length ", "5"));                 /* space before ':' */
    assert_non_null(VERDICT(&unsup, "Transfer-Encoding\t", "chunked"));
    assert_non_null(VERDICT(&unsup, "Transfer-Encodingchunked", "", "Content-Length", "5"));   /* fold */
    assert_non_null(VERDICT(&unsup, "Content-Length5", ""));
    assert_non_null(VERDICT(&unsup, "", "x"));
    assert_non_null(VERDICT(&unsup, "Transfer-Encoding", "chunked", "Transfer-Encoding", "chunked"));
    assert_non_null(VERDICT(&unsup, "Transfer-Encoding", "chunked, identity"));
    assert_false(unsup);
    assert_non_null(VERDICT(&unsup, "Transfer-Encoding", "xchunked"));
    assert_false(unsup);
    assert_non_null(VERDICT(&unsup, "Transfer-Encoding", ""));
    assert_false(unsup);
}

static void test_unimplemented_codings(void **state)
{
    (void)state;
    bool unsup;
    assert_non_null(VERDICT(&unsup, "Transfer-Encoding", "gzip, chunked"));
    assert_true(unsup);
    assert_non_null(VERDICT(&unsup, "Transfer-Encoding", "chunked;ext=1"));
    assert_true(unsup);
}

static void test_body_length_follows_libmicrohttpd(void **state)
{
    (void)state;
    http_req *r = http_req_new("PUT", "/b/k");
    http_req_add_header(r, "Content-Length", "5");
    http_req_add_header(r, "Content-Length", "60");
    assert_int_equal(http_content_length(r), 5);   /* the first one, as libmicrohttpd frames it */
    http_req_free(r);
    r = http_req_new("PUT", "/b/k");
    http_req_add_header(r, "Transfer-Encoding", "xchunked");
    assert_false(http_is_chunked(r));
    http_req_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_framings_pass),
        cmocka_unit_test(test_ambiguous_framings_refused),
        cmocka_unit_test(test_unimplemented_codings),
        cmocka_unit_test(test_body_length_follows_libmicrohttpd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
