/* fuzz_chunked — the aws-chunked decoder, fed the same body whole and in pieces.
 *
 * Input: byte 0 picks the mode (mode % 6: signed, signed with trailer, unsigned with trailer,
 * with the AWS example's signing key and seed; then the same three with the WOS example's);
 * bytes 1..4 are the sizes of the pieces the body is fed in, cycled (0: all that is left);
 * the rest is the body. The corpus holds real bodies whose chunk and trailer signatures chain
 * from those seeds (tests/fuzz/gen_corpus.py), so the fuzzer starts past the signature checks.
 *
 * Invariants: the decoder promises that the split does not matter (chunked.h: "one byte at a
 * time works"), so the fed-whole and fed-in-pieces runs must agree on the outcome, the decoded
 * bytes and the trailers; errors are only the documented ones; the decoded length is what the
 * sink received and never more than the body; abandoning a body half-way (discard) leaks
 * nothing. */
#include "fuzz.h"

#include <stdbool.h>

#include "s3/chunked.h"
#include "util/arena.h"

#define WOS_SK "968d43bc594af8622923d0681ddc367b35a8b23b"
#define AWS_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static auth_result modes[6];
/* FUZZ_VERBOSE=1 prints each outcome: to see which seeds decode (build/fuzz/fuzz_chunked FILE...). */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    static const auth_payload payloads[3] = {PAYLOAD_STREAMING_SIGNED, PAYLOAD_STREAMING_SIGNED_TRAILER,
                                             PAYLOAD_STREAMING_UNSIGNED_TRAILER};
    for (int i = 0; i < 6; i++) {
        auth_result *m = &modes[i];
        bool wos = i >= 3;
        m->kind = AUTH_V4_HEADER;
        m->payload = payloads[i % 3];
        m->wos_flavor = wos;
        if (wos) {
            sigv4_signing_key(true, WOS_SK, "20201103", "cn-south-1", "wos", m->signing_key);
            strcpy(m->seed_signature, "b74bbfce8306f4f78587bdaf00bc659c00110c25259d9d79808a2e179339651f");
            strcpy(m->timestamp, "20201103T104419Z");
            strcpy(m->scope, "20201103/cn-south-1/wos/wos_request");
        } else {
            sigv4_signing_key(false, AWS_SK, "20130524", "us-east-1", "s3", m->signing_key);
            strcpy(m->seed_signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
            strcpy(m->timestamp, "20130524T000000Z");
            strcpy(m->scope, "20130524/us-east-1/s3/aws4_request");
        }
    }
    return 0;
}

typedef struct sink_buf {
    char *p;
    size_t len, cap;
} sink_buf;

static int sink(void *cls, const char *data, size_t n)
{
    sink_buf *b = cls;
    FUZZ_CHECK(n <= b->cap - b->len);   /* never more than the body holds */
    if (n) memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

static const char *const trailer_names[] = {"x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-sha1",
                                            "x-amz-checksum-sha256", "x-amz-checksum-crc64nvme",
                                            "x-wos-checksum-crc32", "X-Amz-Checksum-CRC32"};
enum { NTRAILERS = sizeof trailer_names / sizeof *trailer_names };

typedef struct outcome {
    s3_err err;
    sink_buf out;
    uint64_t decoded;
    char *trailers[NTRAILERS];   /* malloc'd copies; NULL when absent */
} outcome;

static bool documented(s3_err e)
{
    return e == S3E_OK || e == S3E_IncompleteBody || e == S3E_SignatureDoesNotMatch || e == S3E_InvalidRequest;
}

/* Decodes body fed in pieces of the given sizes (cycled; 0 = the rest). */
static void decode(const auth_result *auth, const uint8_t *body, size_t n, const uint8_t sizes[4], outcome *o)
{
    memset(o, 0, sizeof *o);
    o->out.cap = n;
    o->out.p = malloc(n ? n : 1);
    arena *a = arena_new(4096);
    aws_chunked *c = aws_chunked_new(a, auth);
    size_t off = 0;
    s3_err e = S3E_OK;
    for (int i = 0; off < n && e == S3E_OK; i++) {
        size_t k = sizes[i % 4] ? sizes[i % 4] : n - off;
        if (k > n - off) k = n - off;
        e = aws_chunked_feed(c, (const char *)body + off, k, sink, &o->out);
        FUZZ_CHECK(documented(e));
        off += k;
    }
    if (e == S3E_OK) e = aws_chunked_finish(c);
    FUZZ_CHECK(documented(e));
    /* Once failed, the decoder stays failed. */
    if (e != S3E_OK) FUZZ_CHECK(aws_chunked_finish(c) == e);
    o->err = e;
    o->decoded = aws_chunked_decoded_length(c);
    FUZZ_CHECK(o->decoded == o->out.len);
    for (int i = 0; i < NTRAILERS; i++) {
        const char *v = aws_chunked_trailer(c, trailer_names[i]);
        if (e != S3E_OK) FUZZ_CHECK(v == NULL);   /* trailers exist only once finished */
        o->trailers[i] = v ? strdup(v) : NULL;
    }
    /* No aws_chunked_discard(): after finish (or a failure) nothing may be left to release, and
     * LeakSanitizer checks exactly that. */
    arena_free(a);
}

static void outcome_free(outcome *o)
{
    free(o->out.p);
    for (int i = 0; i < NTRAILERS; i++) free(o->trailers[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 5) return 0;
    const auth_result *auth = &modes[data[0] % 6];
    const uint8_t *sizes = data + 1;
    const uint8_t *body = data + 5;
    size_t n = size - 5;

    static const uint8_t whole[4] = {0, 0, 0, 0};
    outcome a, b;
    decode(auth, body, n, whole, &a);
    decode(auth, body, n, sizes, &b);
    if (verbose)
        fprintf(stderr, "mode=%d -> %s decoded=%llu crc32=%s\n", data[0] % 6, a.err ? s3_err_code(a.err) : "OK",
                (unsigned long long)a.decoded, a.trailers[0] ? a.trailers[0] : a.trailers[5] ? a.trailers[5] : "-");
    FUZZ_CHECK(a.err == b.err);
    FUZZ_CHECK(a.decoded == b.decoded);
    FUZZ_CHECK(memcmp(a.out.p, b.out.p, a.out.len) == 0);
    for (int i = 0; i < NTRAILERS; i++) {
        FUZZ_CHECK(!a.trailers[i] == !b.trailers[i]);
        if (a.trailers[i]) FUZZ_CHECK(strcmp(a.trailers[i], b.trailers[i]) == 0);
    }
    outcome_free(&a);
    outcome_free(&b);

    /* The client goes away half-way through: the caller discards the decoder. */
    arena *ar = arena_new(4096);
    aws_chunked *c = aws_chunked_new(ar, auth);
    (void)aws_chunked_feed(c, (const char *)body, n / 2, NULL, NULL);
    aws_chunked_discard(c);
    aws_chunked_discard(c);   /* harmless twice */
    arena_free(ar);
    return 0;
}
