/* Unit tests of src/server/http_parse.c: where a request head ends, how it is split, Content-Length
 * values, Connection tokens and chunked bodies (RFC 9112 §2–§7). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/http_parse.h"

static long head_end(const char *s)
{
    size_t sc = 0;
    return http_head_end(s, strlen(s), &sc);
}

static void test_head_end(void **state)
{
    (void)state;
    assert_int_equal(head_end("GET / HTTP/1.1\r\nHost: a\r\n\r\nrest"), 27);
    assert_int_equal(head_end("GET / HTTP/1.1\nHost: a\n\nrest"), 24);
    assert_int_equal(head_end("GET / HTTP/1.1\r\nHost: a\r\n"), 0);
    assert_int_equal(head_end("GET / HTTP/1.1\r\nHost: a\r\n\r"), 0);
    assert_int_equal(head_end("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), -1);   /* a lone CR */
    char nul[] = "GET / HTTP/1.1\r\nA: \0b\r\n\r\n";
    size_t sc = 0;
    assert_int_equal(http_head_end(nul, sizeof nul - 1, &sc), -1);
}

static void test_head_end_resumes(void **state)
{
    (void)state;
    const char *s = "PUT /b/k HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    size_t sc = 0, n = strlen(s);
    long got = 0;
    size_t i;
    for (i = 1; i <= n && got == 0; i++) got = http_head_end(s, i, &sc);
    assert_int_equal(got, n - 5);
    assert_int_equal(i - 1, n - 5);   /* found as soon as the blank line was complete */
}

static int parse(arena *a, const char *s, http_head *h) { return http_parse_head(a, s, strlen(s), h); }

static void test_parse_head(void **state)
{
    (void)state;
    arena *a = arena_new(1024);
    http_head h;
    assert_int_equal(parse(a, "PUT /b/k%20x?uploads&x=1 HTTP/1.1\r\nHost:  h:9000 \r\nX-Empty:\r\n"
                              "x-amz-meta-a: one\ttwo\r\n\r\n", &h), 0);
    assert_string_equal(h.method, "PUT");
    assert_string_equal(h.target, "/b/k%20x?uploads&x=1");
    assert_int_equal(h.minor, 1);
    assert_int_equal(h.nhdrs, 3);
    assert_string_equal(h.hdrs[0].name, "Host");
    assert_string_equal(h.hdrs[0].value, "h:9000");
    assert_string_equal(h.hdrs[1].name, "X-Empty");
    assert_string_equal(h.hdrs[1].value, "");
    assert_string_equal(h.hdrs[2].value, "one\ttwo");
    assert_int_equal(parse(a, "GET / HTTP/1.0\n\n", &h), 0);
    assert_int_equal(h.minor, 0);
    assert_int_equal(h.nhdrs, 0);
    arena_free(a);
}

static void test_parse_head_refusals(void **state)
{
    (void)state;
    arena *a = arena_new(1024);
    http_head h;
    assert_int_equal(parse(a, "THIS IS NOT HTTP\r\n\r\n", &h), 400);
    assert_int_equal(parse(a, "GET /\r\n\r\n", &h), 400);
    assert_int_equal(parse(a, "GET  / HTTP/1.1\r\n\r\n", &h), 400);
    assert_int_equal(parse(a, "G(T / HTTP/1.1\r\n\r\n", &h), 400);
    assert_int_equal(parse(a, "GET / HTTP/1.1 \r\n\r\n", &h), 400);
    assert_int_equal(parse(a, "GET / http/1.1\r\n\r\n", &h), 400);
    assert_int_equal(parse(a, "GET / HTTP/2.0\r\n\r\n", &h), 505);
    assert_int_equal(parse(a, "GET / HTTP/1.1\r\nno colon\r\n\r\n", &h), 400);
    assert_int_equal(parse(a, "GET / HTTP/1.1\r\n: empty name\r\n\r\n", &h), 400);
    assert_int_equal(parse(a, "GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", &h), 400);
    arena_free(a);
}

/* Whitespace before the colon and folded lines reach http_framing_error as non-token names. */
static void test_parse_head_keeps_ambiguity_visible(void **state)
{
    (void)state;
    arena *a = arena_new(1024);
    http_head h;
    assert_int_equal(parse(a, "PUT / HTTP/1.1\r\nContent-Length : 5\r\nX-A: v\r\n folded: on\r\n\r\n", &h), 0);
    assert_int_equal(h.nhdrs, 3);
    assert_string_equal(h.hdrs[0].name, "Content-Length ");
    assert_string_equal(h.hdrs[2].name, " folded: on");
    http_req *r = http_req_new("PUT", "/");
    for (size_t i = 0; i < h.nhdrs; i++) http_req_add_header(r, h.hdrs[i].name, h.hdrs[i].value);
    bool unsupported;
    assert_non_null(http_framing_error(r, &unsupported));
    http_req_free(r);
    arena_free(a);
}

static void test_content_length(void **state)
{
    (void)state;
    assert_int_equal(http_parse_length("0"), 0);
    assert_int_equal(http_parse_length("1234567"), 1234567);
    assert_int_equal(http_parse_length("999999999999999999"), 999999999999999999LL);
    assert_int_equal(http_parse_length("9999999999999999999"), -1);
    assert_int_equal(http_parse_length(""), -1);
    assert_int_equal(http_parse_length("+5"), -1);
    assert_int_equal(http_parse_length("-5"), -1);
    assert_int_equal(http_parse_length("0x5"), -1);
    assert_int_equal(http_parse_length("5, 60"), -1);
    assert_int_equal(http_parse_length("5 "), -1);
}

static void test_has_token(void **state)
{
    (void)state;
    assert_true(http_has_token("close", "close"));
    assert_true(http_has_token("Keep-Alive, TE", "keep-alive"));
    assert_true(http_has_token("te ,  close  ", "close"));
    assert_false(http_has_token("closed", "close"));
    assert_false(http_has_token("", "close"));
}

/* Decodes s fed in pieces of `piece` bytes; returns the verdict, the data in out. */
static int dechunk(const char *s, size_t n, size_t piece, char *out, size_t *outlen, size_t *end)
{
    http_chunked d;
    http_chunked_init(&d);
    *outlen = 0;
    size_t pos = 0;
    while (pos < n) {
        size_t lim = n - pos < piece ? n - pos : piece, fed = 0;
        while (fed < lim) {
            size_t used, dlen;
            const char *data;
            http_chunk_result res = http_chunked_feed(&d, s + pos + fed, lim - fed, &used, &data, &dlen);
            if (res == HTTP_CHUNK_DATA) {
                memcpy(out + *outlen, data, dlen);
                *outlen += dlen;
            }
            fed += used;
            if (res == HTTP_CHUNK_DONE || res == HTTP_CHUNK_ERROR) {
                *end = pos + fed;
                return res;
            }
            if (res == HTTP_CHUNK_MORE) break;
        }
        pos += lim;
    }
    *end = pos;
    return HTTP_CHUNK_MORE;
}

static void test_chunked(void **state)
{
    (void)state;
    const char *s = "5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nx-amz-checksum-crc32: AAAAAA==\r\nX-B: c\r\n\r\nNEXT";
    size_t n = strlen(s);
    for (size_t piece = 1; piece <= n; piece++) {
        char out[64];
        size_t len, end;
        assert_int_equal(dechunk(s, n, piece, out, &len, &end), HTTP_CHUNK_DONE);
        assert_int_equal(len, 11);
        assert_memory_equal(out, "hello world", 11);
        assert_int_equal(end, n - 4);   /* "NEXT" belongs to the next request */
    }
}

static void test_chunked_refusals(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "10000000000000005\r\nhello\r\n0\r\n\r\n",   /* 17 digits */
        "-5\r\nhello\r\n0\r\n\r\n",
        "5\nhello\n0\n\n",                           /* bare LF */
        "5\r\nhelloX\r\n0\r\n\r\n",                  /* data longer than its size */
        "\r\n",                                      /* no size */
        "5 x\r\nhello\r\n",                          /* an extension starts with ';' */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char out[64];
        size_t len, end;
        assert_int_equal(dechunk(bad[i], strlen(bad[i]), 64, out, &len, &end), HTTP_CHUNK_ERROR);
    }
    /* An endless size line or trailer section is cut off. */
    char big[HTTP_TRAILERS_MAX + 64];
    memcpy(big, "0\r\n", 3);
    memset(big + 3, 'a', sizeof big - 3);
    char out[8];
    size_t len, end;
    assert_int_equal(dechunk(big, sizeof big, 4096, out, &len, &end), HTTP_CHUNK_ERROR);
    char ext[HTTP_CHUNK_LINE_MAX + 64];
    memcpy(ext, "1;", 2);
    memset(ext + 2, 'e', sizeof ext - 2);
    assert_int_equal(dechunk(ext, sizeof ext, 4096, out, &len, &end), HTTP_CHUNK_ERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_end),
        cmocka_unit_test(test_head_end_resumes),
        cmocka_unit_test(test_parse_head),
        cmocka_unit_test(test_parse_head_refusals),
        cmocka_unit_test(test_parse_head_keeps_ambiguity_visible),
        cmocka_unit_test(test_content_length),
        cmocka_unit_test(test_has_token),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_chunked_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
