/* test_chunked — the aws-chunked decoder against AWS's published chunked-upload examples
 * (sigv4-streaming: 66560 bytes of 'a' in chunks of 65536, 1024 and 0; sigv4-streaming-trailers:
 * the same with an x-amz-checksum-crc32c trailer), fed whole, one byte at a time and in odd
 * pieces; and every way a body can be wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3/chunked.h"
#include "server/http_req.h"
#include "util/arena.h"
#include "util/checksum.h"
#include "util/hash.h"

#define AWS_AK "AKIAIOSFODNN7EXAMPLE"
#define AWS_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AWS_TS "20130524T000000Z"
#define AWS_SCOPE "20130524/us-east-1/s3/aws4_request"

#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

#define TSEED "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
#define TSIG1 "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2"
#define TSIG2 "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7"
#define TSIG3 "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"
#define TTRAILER_SIG "d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435"

/* --- fixtures ------------------------------------------------------------------------------ */

typedef struct body {
    char *p;
    size_t n, cap;
} body;

static void put(body *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void puts_(body *b, const char *s) { put(b, s, strlen(s)); }

static void put_chunk(body *b, size_t n, char fill, const char *sig)
{
    char h[128];
    if (sig) snprintf(h, sizeof h, "%zx;chunk-signature=%s\r\n", n, sig);
    else snprintf(h, sizeof h, "%zx\r\n", n);
    puts_(b, h);
    char *d = malloc(n + 1);
    memset(d, fill, n);
    put(b, d, n);
    free(d);
    if (n) puts_(b, "\r\n");
}

/* AWS's chunked-upload example body (its Content-Length is 66824). */
static body aws_example_body(const char *sig1)
{
    body b = {0};
    put_chunk(&b, 65536, 'a', sig1);
    put_chunk(&b, 1024, 'a', SIG2);
    put_chunk(&b, 0, 'a', SIG3);
    puts_(&b, "\r\n");
    return b;
}

static auth_result signed_auth(auth_payload mode, const char *seed, bool wos)
{
    auth_result a;
    memset(&a, 0, sizeof a);
    a.kind = AUTH_V4_HEADER;
    a.payload = mode;
    a.wos_flavor = wos;
    if (wos) {
        sigv4_signing_key(true, AWS_SK, "20130524", "us-east-1", "wos", a.signing_key);
        strcpy(a.scope, "20130524/us-east-1/wos/wos_request");
    } else {
        sigv4_signing_key(false, AWS_SK, "20130524", "us-east-1", "s3", a.signing_key);
        strcpy(a.scope, AWS_SCOPE);
    }
    strcpy(a.seed_signature, seed);
    strcpy(a.timestamp, AWS_TS);
    return a;
}

/* What the sink received. */
typedef struct sinkbuf {
    size_t n;
    size_t non_a;   /* bytes other than 'a' */
    checksum crc32c, crc32;
    int fail_after;   /* >0: refuse once this many calls have happened */
    int calls;
} sinkbuf;

static int sink(void *cls, const char *data, size_t n)
{
    sinkbuf *s = cls;
    if (s->fail_after && ++s->calls >= s->fail_after) return -1;
    for (size_t i = 0; i < n; i++)
        if (data[i] != 'a') s->non_a++;
    s->n += n;
    checksum_update(&s->crc32c, data, n);
    checksum_update(&s->crc32, data, n);
    return 0;
}

static void sink_init(sinkbuf *s)
{
    memset(s, 0, sizeof *s);
    checksum_init(&s->crc32c, CKS_CRC32C);
    checksum_init(&s->crc32, CKS_CRC32);
}

/* Feeds the body in pieces of the given size (0: all at once); returns the first error, or
 * finish()'s result. */
static s3_err feed_all(aws_chunked *c, const body *b, size_t piece, sinkbuf *s)
{
    size_t off = 0;
    while (off < b->n) {
        size_t k = piece ? piece : b->n;
        if (k > b->n - off) k = b->n - off;
        s3_err e = aws_chunked_feed(c, b->p + off, k, s ? sink : NULL, s);
        if (e != S3E_OK) return e;
        off += k;
    }
    return aws_chunked_finish(c);
}

/* A chunk signature computed here, independently of the decoder. */
static void chunk_sig(const auth_result *a, const char *prev, const char *data, size_t n, char out[65])
{
    char sts[512], dh[65];
    unsigned char d[32], mac[32];
    sha256(data, n, d);
    hex_encode(d, 32, dh);
    snprintf(sts, sizeof sts, "%s\n%s\n%s\n%s\n%s\n%s",
             a->wos_flavor ? "WOS-HMAC-SHA256-PAYLOAD" : "AWS4-HMAC-SHA256-PAYLOAD", a->timestamp, a->scope, prev,
             "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", dh);
    hmac_sha256(a->signing_key, 32, sts, strlen(sts), mac);
    hex_encode(mac, 32, out);
}

static void trailer_sig(const auth_result *a, const char *prev, const char *canon, char out[65])
{
    char sts[512], dh[65];
    unsigned char d[32], mac[32];
    sha256(canon, strlen(canon), d);
    hex_encode(d, 32, dh);
    snprintf(sts, sizeof sts, "%s\n%s\n%s\n%s\n%s",
             a->wos_flavor ? "WOS-HMAC-SHA256-TRAILER" : "AWS4-HMAC-SHA256-TRAILER", a->timestamp, a->scope, prev, dh);
    hmac_sha256(a->signing_key, 32, sts, strlen(sts), mac);
    hex_encode(mac, 32, out);
}

/* --- the published examples ---------------------------------------------------------------- */

static void run_aws_example(size_t piece)
{
    arena *ar = arena_new(4096);
    auth_result a = signed_auth(PAYLOAD_STREAMING_SIGNED, SEED, false);
    body b = aws_example_body(SIG1);
    assert_int_equal(b.n, 66824);
    aws_chunked *c = aws_chunked_new(ar, &a);
    sinkbuf s;
    sink_init(&s);
    assert_int_equal(feed_all(c, &b, piece, &s), S3E_OK);
    assert_int_equal(s.n, 66560);
    assert_int_equal(s.non_a, 0);
    assert_int_equal(aws_chunked_decoded_length(c), 66560);
    assert_null(aws_chunked_trailer(c, "x-amz-checksum-crc32"));
    checksum_discard(&s.crc32c);
    checksum_discard(&s.crc32);
    free(b.p);
    arena_free(ar);
}

static void test_aws_example_whole(void **state) { (void)state; run_aws_example(0); }
static void test_aws_example_bytewise(void **state) { (void)state; run_aws_example(1); }
static void test_aws_example_odd_pieces(void **state)
{
    (void)state;
    size_t pieces[] = {2, 3, 7, 64, 85, 86, 87, 1000, 65535, 65621};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) run_aws_example(pieces[i]);
}

static int lookup(void *cls, const char *ak, char *secret, size_t cap)
{
    (void)cls;
    if (strcmp(ak, AWS_AK) != 0 || strlen(AWS_SK) >= cap) return -1;
    strcpy(secret, AWS_SK);
    return 0;
}

/* The seed signature comes from auth_verify() on the example's headers: the chain links. */
static void test_aws_example_from_auth(void **state)
{
    (void)state;
    http_req *r = http_req_new("PUT", "/examplebucket/chunkObject.txt");
    http_req_add_header(r, "Host", "s3.amazonaws.com");
    http_req_add_header(r, "x-amz-date", AWS_TS);
    http_req_add_header(r, "x-amz-storage-class", "REDUCED_REDUNDANCY");
    http_req_add_header(r, "Authorization",
                        "AWS4-HMAC-SHA256 Credential=" AWS_AK "/" AWS_SCOPE ",SignedHeaders=content-encoding;"
                        "content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                        "x-amz-storage-class,Signature=" SEED);
    http_req_add_header(r, "x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD");
    http_req_add_header(r, "Content-Encoding", "aws-chunked");
    http_req_add_header(r, "x-amz-decoded-content-length", "66560");
    http_req_add_header(r, "Content-Length", "66824");
    auth_ctx ctx = {.region = "us-east-1", .now = 1369353600, .lookup = lookup};
    auth_result a;
    const char *msg = NULL;
    assert_int_equal(auth_verify(r, &ctx, http_arena(r), &a, &msg), S3E_OK);
    assert_int_equal(a.payload, PAYLOAD_STREAMING_SIGNED);

    aws_chunked *c = aws_chunked_new(http_arena(r), &a);
    body b = aws_example_body(SIG1);
    sinkbuf s;
    sink_init(&s);
    assert_int_equal(feed_all(c, &b, 4096, &s), S3E_OK);
    assert_int_equal(aws_chunked_decoded_length(c), 66560);
    checksum_discard(&s.crc32c);
    checksum_discard(&s.crc32);
    free(b.p);
    http_req_free(r);
}

static body aws_trailer_body(const char *crc, const char *sig)
{
    body b = {0};
    put_chunk(&b, 65536, 'a', TSIG1);
    put_chunk(&b, 1024, 'a', TSIG2);
    put_chunk(&b, 0, 'a', TSIG3);
    puts_(&b, "x-amz-checksum-crc32c:");
    puts_(&b, crc);
    puts_(&b, "\r\n");
    if (sig) {
        puts_(&b, "x-amz-trailer-signature:");
        puts_(&b, sig);
        puts_(&b, "\r\n");
    }
    puts_(&b, "\r\n");
    return b;
}

static void test_aws_trailer_example(void **state)
{
    (void)state;
    size_t pieces[] = {0, 1, 13, 8192};
    for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
        arena *ar = arena_new(4096);
        auth_result a = signed_auth(PAYLOAD_STREAMING_SIGNED_TRAILER, TSEED, false);
        aws_chunked *c = aws_chunked_new(ar, &a);
        body b = aws_trailer_body("sOO8/Q==", TTRAILER_SIG);
        sinkbuf s;
        sink_init(&s);
        assert_int_equal(feed_all(c, &b, pieces[i], &s), S3E_OK);
        assert_int_equal(aws_chunked_decoded_length(c), 66560);
        assert_string_equal(aws_chunked_trailer(c, "X-Amz-Checksum-CRC32C"), "sOO8/Q==");
        assert_null(aws_chunked_trailer(c, "x-amz-trailer-signature"));
        /* the trailer is the checksum of what the sink received */
        char crc[64];
        checksum_final_b64(&s.crc32c, crc);
        assert_string_equal(crc, "sOO8/Q==");
        checksum_discard(&s.crc32);
        free(b.p);
        arena_free(ar);
    }
}

static void test_aws_trailer_tampered(void **state)
{
    (void)state;
    arena *ar = arena_new(4096);
    auth_result a = signed_auth(PAYLOAD_STREAMING_SIGNED_TRAILER, TSEED, false);
    sinkbuf s;
    /* a different checksum value under the same signature */
    aws_chunked *c = aws_chunked_new(ar, &a);
    body b = aws_trailer_body("AAAAAA==", TTRAILER_SIG);
    sink_init(&s);
    assert_int_equal(feed_all(c, &b, 0, &s), S3E_SignatureDoesNotMatch);
    assert_null(aws_chunked_trailer(c, "x-amz-checksum-crc32c"));
    free(b.p);
    /* no trailer signature at all */
    c = aws_chunked_new(ar, &a);
    b = aws_trailer_body("sOO8/Q==", NULL);
    assert_int_equal(feed_all(c, &b, 0, &s), S3E_SignatureDoesNotMatch);
    free(b.p);
    /* a trailer after the signature is not covered by it */
    c = aws_chunked_new(ar, &a);
    b = aws_trailer_body("sOO8/Q==", TTRAILER_SIG);
    b.n -= 2;
    puts_(&b, "x-amz-meta-late:1\r\n\r\n");
    assert_int_equal(feed_all(c, &b, 0, &s), S3E_InvalidRequest);
    free(b.p);
    checksum_discard(&s.crc32c);
    checksum_discard(&s.crc32);
    arena_free(ar);
}

/* --- signed trailer with x-amz-checksum-crc32, signed here -------------------------------- */

static void test_signed_trailer_crc32(void **state)
{
    (void)state;
    arena *ar = arena_new(4096);
    const char *seed = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    auth_result a = signed_auth(PAYLOAD_STREAMING_SIGNED_TRAILER, seed, false);
    const char *data = "Hello world";
    char s1[65], s2[65], ts[65];
    chunk_sig(&a, seed, data, 11, s1);
    chunk_sig(&a, s1, "", 0, s2);
    checksum ck;
    checksum_init(&ck, CKS_CRC32);
    checksum_update(&ck, data, 11);
    char crc[64];
    checksum_final_b64(&ck, crc);
    assert_string_equal(crc, "i9aeUg==");
    char canon[128];
    snprintf(canon, sizeof canon, "x-amz-checksum-crc32:%s\n", crc);
    trailer_sig(&a, s2, canon, ts);

    body b = {0};
    char h[256];
    snprintf(h, sizeof h, "b;chunk-signature=%s\r\nHello world\r\n0;chunk-signature=%s\r\n", s1, s2);
    puts_(&b, h);
    /* spaces after the colon are not part of the value */
    snprintf(h, sizeof h, "x-amz-checksum-crc32: %s\r\nx-amz-trailer-signature:%s\r\n\r\n", crc, ts);
    puts_(&b, h);

    for (size_t piece = 0; piece < 3; piece++) {
        aws_chunked *c = aws_chunked_new(ar, &a);
        sinkbuf s;
        sink_init(&s);
        assert_int_equal(feed_all(c, &b, piece, &s), S3E_OK);
        assert_int_equal(aws_chunked_decoded_length(c), 11);
        assert_string_equal(aws_chunked_trailer(c, "x-amz-checksum-crc32"), crc);
        checksum_discard(&s.crc32c);
        checksum_discard(&s.crc32);
    }
    /* and without the final empty line, the body still ends complete */
    b.n -= 2;
    aws_chunked *c = aws_chunked_new(ar, &a);
    assert_int_equal(feed_all(c, &b, 0, NULL), S3E_OK);
    assert_string_equal(aws_chunked_trailer(c, "x-amz-checksum-crc32"), crc);
    free(b.p);
    arena_free(ar);
}

/* WOS flavour: the chunk string-to-sign says WOS-HMAC-SHA256-PAYLOAD. */
static void test_wos_flavour_chain(void **state)
{
    (void)state;
    arena *ar = arena_new(4096);
    const char *seed = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    auth_result a = signed_auth(PAYLOAD_STREAMING_SIGNED, seed, true);
    char s1[65], s2[65];
    chunk_sig(&a, seed, "abc", 3, s1);
    chunk_sig(&a, s1, "", 0, s2);
    body b = {0};
    char h[256];
    snprintf(h, sizeof h, "3;chunk-signature=%s\r\nabc\r\n0;chunk-signature=%s\r\n\r\n", s1, s2);
    puts_(&b, h);
    aws_chunked *c = aws_chunked_new(ar, &a);
    assert_int_equal(feed_all(c, &b, 1, NULL), S3E_OK);
    /* the same chain under the AWS names does not verify */
    a.wos_flavor = false;
    c = aws_chunked_new(ar, &a);
    assert_int_equal(feed_all(c, &b, 0, NULL), S3E_SignatureDoesNotMatch);
    free(b.p);
    arena_free(ar);
}

/* --- unsigned trailer mode (what current AWS SDKs send by default) ------------------------ */

static void test_unsigned_trailer(void **state)
{
    (void)state;
    arena *ar = arena_new(4096);
    auth_result a;
    memset(&a, 0, sizeof a);
    a.payload = PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    const char *wire = "5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
    body b = {0};
    puts_(&b, wire);
    for (size_t piece = 0; piece < 4; piece++) {
        aws_chunked *c = aws_chunked_new(ar, &a);
        sinkbuf s;
        sink_init(&s);
        assert_int_equal(feed_all(c, &b, piece, &s), S3E_OK);
        assert_int_equal(aws_chunked_decoded_length(c), 11);
        char crc[64];
        checksum_final_b64(&s.crc32, crc);
        assert_string_equal(crc, aws_chunked_trailer(c, "x-amz-checksum-crc32"));
        checksum_discard(&s.crc32c);
    }
    free(b.p);
    /* a stray chunk-signature in unsigned mode is ignored, not checked */
    aws_chunked *c = aws_chunked_new(ar, &a);
    const char *stray = "5;chunk-signature=abc\r\nhello\r\n0\r\n\r\n";
    assert_int_equal(aws_chunked_feed(c, stray, strlen(stray), NULL, NULL), S3E_OK);
    assert_int_equal(aws_chunked_finish(c), S3E_OK);
    assert_int_equal(aws_chunked_decoded_length(c), 5);
    arena_free(ar);
}

/* --- errors -------------------------------------------------------------------------------- */

static void test_bad_chunk_signature(void **state)
{
    (void)state;
    arena *ar = arena_new(4096);
    auth_result a = signed_auth(PAYLOAD_STREAMING_SIGNED, SEED, false);
    sinkbuf s;
    sink_init(&s);

    /* one digit off in the first chunk's signature: reported at that chunk's end */
    char bad[65];
    strcpy(bad, SIG1);
    bad[0] = 'b';
    body b = aws_example_body(bad);
    aws_chunked *c = aws_chunked_new(ar, &a);
    size_t hdr_len = (size_t)(strstr(b.p, "\r\n") + 2 - b.p);
    size_t first_end = hdr_len + 65536;
    assert_int_equal(aws_chunked_feed(c, b.p, first_end - 1, sink, &s), S3E_OK);
    assert_int_equal(aws_chunked_feed(c, b.p + first_end - 1, 1, sink, &s), S3E_SignatureDoesNotMatch);
    /* sticky */
    assert_int_equal(aws_chunked_feed(c, b.p + first_end, 2, sink, &s), S3E_SignatureDoesNotMatch);
    assert_int_equal(aws_chunked_finish(c), S3E_SignatureDoesNotMatch);
    free(b.p);

    /* one data byte changed */
    b = aws_example_body(SIG1);
    b.p[hdr_len + 100] = 'b';
    c = aws_chunked_new(ar, &a);
    assert_int_equal(feed_all(c, &b, 0, &s), S3E_SignatureDoesNotMatch);
    free(b.p);

    /* chunks swapped: the chain breaks */
    b = (body){0};
    put_chunk(&b, 1024, 'a', SIG2);
    put_chunk(&b, 65536, 'a', SIG1);
    put_chunk(&b, 0, 'a', SIG3);
    puts_(&b, "\r\n");
    c = aws_chunked_new(ar, &a);
    assert_int_equal(feed_all(c, &b, 0, &s), S3E_SignatureDoesNotMatch);
    free(b.p);

    /* the final chunk dropped: its signature is the last link */
    b = (body){0};
    put_chunk(&b, 65536, 'a', SIG1);
    put_chunk(&b, 1024, 'a', SIG2);
    put_chunk(&b, 0, 'a', SIG2);
    puts_(&b, "\r\n");
    c = aws_chunked_new(ar, &a);
    assert_int_equal(feed_all(c, &b, 0, &s), S3E_SignatureDoesNotMatch);
    free(b.p);

    /* a wrong seed */
    auth_result a2 = signed_auth(PAYLOAD_STREAMING_SIGNED, TSEED, false);
    b = aws_example_body(SIG1);
    c = aws_chunked_new(ar, &a2);
    assert_int_equal(feed_all(c, &b, 0, &s), S3E_SignatureDoesNotMatch);
    free(b.p);

    checksum_discard(&s.crc32c);
    checksum_discard(&s.crc32);
    arena_free(ar);
}

static void test_truncated(void **state)
{
    (void)state;
    arena *ar = arena_new(4096);
    auth_result a = signed_auth(PAYLOAD_STREAMING_SIGNED, SEED, false);
    body b = aws_example_body(SIG1);
    /* cut everywhere interesting: inside a header, inside data, before the CRLF after data,
     * between the CR and LF, before the final chunk */
    size_t first_hdr = (size_t)(strstr(b.p, "\r\n") + 2 - b.p);
    size_t cuts[] = {0, 1, 10, first_hdr - 1, first_hdr, first_hdr + 1, first_hdr + 65535, first_hdr + 65536,
                     first_hdr + 65537, first_hdr + 65538, b.n - 90, b.n - 80};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        aws_chunked *c = aws_chunked_new(ar, &a);
        assert_int_equal(aws_chunked_feed(c, b.p, cuts[i], NULL, NULL), S3E_OK);
        assert_int_equal(aws_chunked_finish(c), S3E_IncompleteBody);
        aws_chunked_discard(c);
    }
    /* without only the final empty line: complete (the last chunk was signed) */
    aws_chunked *c = aws_chunked_new(ar, &a);
    assert_int_equal(aws_chunked_feed(c, b.p, b.n - 2, NULL, NULL), S3E_OK);
    assert_int_equal(aws_chunked_finish(c), S3E_OK);
    free(b.p);
    arena_free(ar);
}

static s3_err feed_str(aws_chunked *c, const char *s)
{
    s3_err e = aws_chunked_feed(c, s, strlen(s), NULL, NULL);
    return e != S3E_OK ? e : aws_chunked_finish(c);
}

static void test_malformed(void **state)
{
    (void)state;
    arena *ar = arena_new(4096);
    auth_result un;
    memset(&un, 0, sizeof un);
    un.payload = PAYLOAD_STREAMING_UNSIGNED_TRAILER;
    auth_result sg = signed_auth(PAYLOAD_STREAMING_SIGNED, SEED, false);

    assert_int_equal(feed_str(aws_chunked_new(ar, &un), "zz\r\nhello\r\n0\r\n\r\n"), S3E_InvalidRequest);
    assert_int_equal(feed_str(aws_chunked_new(ar, &un), "\r\n"), S3E_InvalidRequest);
    assert_int_equal(feed_str(aws_chunked_new(ar, &un), "5 junk\r\nhello\r\n0\r\n\r\n"), S3E_InvalidRequest);
    assert_int_equal(feed_str(aws_chunked_new(ar, &un), "fffffffffffffffff\r\n"), S3E_InvalidRequest);
    /* no CRLF after the data */
    assert_int_equal(feed_str(aws_chunked_new(ar, &un), "5\r\nhelloX\r\n0\r\n\r\n"), S3E_IncompleteBody);
    assert_int_equal(feed_str(aws_chunked_new(ar, &un), "5\r\nhello\rX0\r\n\r\n"), S3E_IncompleteBody);
    /* bytes after the end */
    assert_int_equal(feed_str(aws_chunked_new(ar, &un), "5\r\nhello\r\n0\r\n\r\nmore"), S3E_IncompleteBody);
    /* a trailer line without a colon */
    assert_int_equal(feed_str(aws_chunked_new(ar, &un), "0\r\nnocolon\r\n\r\n"), S3E_InvalidRequest);
    /* signed mode: a chunk without its signature, a short signature, trailers where none belong */
    assert_int_equal(feed_str(aws_chunked_new(ar, &sg), "5\r\nhello\r\n"), S3E_InvalidRequest);
    assert_int_equal(feed_str(aws_chunked_new(ar, &sg), "5;chunk-signature=abc\r\nhello\r\n"),
                     S3E_SignatureDoesNotMatch);
    aws_chunked *c = aws_chunked_new(ar, &sg);
    char fin[128];
    char s0[65];
    chunk_sig(&sg, SEED, "", 0, s0);
    snprintf(fin, sizeof fin, "0;chunk-signature=%s\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n", s0);
    assert_int_equal(feed_str(c, fin), S3E_InvalidRequest);
    /* an empty signed body */
    snprintf(fin, sizeof fin, "0;chunk-signature=%s\r\n\r\n", s0);
    assert_int_equal(feed_str(aws_chunked_new(ar, &sg), fin), S3E_OK);

    /* an endless header line is cut off at the bound, whatever the feeding */
    char *junk = malloc(5000);
    memset(junk, '1', 5000);
    c = aws_chunked_new(ar, &un);
    assert_int_equal(aws_chunked_feed(c, junk, 5000, NULL, NULL), S3E_InvalidRequest);
    c = aws_chunked_new(ar, &un);
    s3_err e = S3E_OK;
    for (size_t i = 0; i < 5000 && e == S3E_OK; i++) e = aws_chunked_feed(c, junk + i, 1, NULL, NULL);
    assert_int_equal(e, S3E_InvalidRequest);
    free(junk);

    /* trailers beyond their bound */
    c = aws_chunked_new(ar, &un);
    assert_int_equal(aws_chunked_feed(c, "0\r\n", 3, NULL, NULL), S3E_OK);
    e = S3E_OK;
    for (int i = 0; i < 2000 && e == S3E_OK; i++) e = aws_chunked_feed(c, "x-amz-meta-a:0123456789\r\n", 25, NULL, NULL);
    assert_int_equal(e, S3E_InvalidRequest);
    /* few but long trailer lines hit the byte bound */
    char *line = malloc(4001);
    memcpy(line, "x-amz-meta-b:", 13);
    memset(line + 13, 'v', 3986);
    memcpy(line + 3999, "\r\n", 2);
    c = aws_chunked_new(ar, &un);
    assert_int_equal(aws_chunked_feed(c, "0\r\n", 3, NULL, NULL), S3E_OK);
    e = S3E_OK;
    int i = 0;
    for (; i < 10 && e == S3E_OK; i++) e = aws_chunked_feed(c, line, 4001, NULL, NULL);
    assert_int_equal(e, S3E_InvalidRequest);
    assert_int_equal(i, 5);
    free(line);
    arena_free(ar);
}

static void test_sink_refuses(void **state)
{
    (void)state;
    arena *ar = arena_new(4096);
    auth_result a = signed_auth(PAYLOAD_STREAMING_SIGNED, SEED, false);
    body b = aws_example_body(SIG1);
    aws_chunked *c = aws_chunked_new(ar, &a);
    sinkbuf s;
    sink_init(&s);
    s.fail_after = 3;
    assert_int_equal(feed_all(c, &b, 1000, &s), S3E_InternalError);
    checksum_discard(&s.crc32c);
    checksum_discard(&s.crc32);
    free(b.p);
    arena_free(ar);
}

/* Abandoned mid-chunk: discard releases the running hash (ASan checks the leak). */
static void test_discard_mid_chunk(void **state)
{
    (void)state;
    arena *ar = arena_new(4096);
    auth_result a = signed_auth(PAYLOAD_STREAMING_SIGNED, SEED, false);
    body b = aws_example_body(SIG1);
    aws_chunked *c = aws_chunked_new(ar, &a);
    assert_int_equal(aws_chunked_feed(c, b.p, 5000, NULL, NULL), S3E_OK);
    aws_chunked_discard(c);
    aws_chunked_discard(c);
    free(b.p);
    arena_free(ar);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aws_example_whole),
        cmocka_unit_test(test_aws_example_bytewise),
        cmocka_unit_test(test_aws_example_odd_pieces),
        cmocka_unit_test(test_aws_example_from_auth),
        cmocka_unit_test(test_aws_trailer_example),
        cmocka_unit_test(test_aws_trailer_tampered),
        cmocka_unit_test(test_signed_trailer_crc32),
        cmocka_unit_test(test_wos_flavour_chain),
        cmocka_unit_test(test_unsigned_trailer),
        cmocka_unit_test(test_bad_chunk_signature),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_sink_refuses),
        cmocka_unit_test(test_discard_mid_chunk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
