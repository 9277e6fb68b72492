/* fuzz_http_parse — the epoll core's request parser (server/http_parse.h): where a head ends,
 * how it splits into request line and headers, Content-Length values, and chunked bodies.
 *
 * The input is byte 0 (how to split the body into pieces), then the bytes a client sends: a
 * head, and what follows it is read as a chunked body. Invariants beyond "no crash, no leak, no
 * UB":
 *   - the head's end is found at the same place whether the bytes arrive at once or one at a
 *     time (the resumable scan loses nothing);
 *   - an accepted head has a token method, a target without spaces or control bytes, and
 *     headers whose values carry no CR, LF or edge whitespace and whose names have no colon
 *     (but a folded line, whose name starts with whitespace);
 *   - a chunked body decodes to the same bytes, the same verdict and the same end whether fed
 *     whole or in pieces, and never reports more data than it was given;
 *   - http_parse_length accepts digits only and agrees with strtoll on them. */
#include "fuzz.h"

#include <stdbool.h>

#include "server/http_parse.h"

static bool tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Decodes body[0..n) fed in pieces of `piece` bytes (0: whole). Returns the verdict; the
 * decoded bytes go to out (of capacity n), *outlen, and the bytes the body took to *end. */
static int decode(const char *body, size_t n, size_t piece, char *out, size_t *outlen, size_t *end)
{
    http_chunked d;
    http_chunked_init(&d);
    size_t pos = 0;
    *outlen = 0;
    int verdict = HTTP_CHUNK_MORE;
    while (pos < n) {
        size_t lim = piece ? (n - pos < piece ? n - pos : piece) : n - pos;
        size_t fed = 0;
        while (fed < lim) {
            size_t used;
            const char *data;
            size_t dlen;
            http_chunk_result res = http_chunked_feed(&d, body + pos + fed, lim - fed, &used, &data, &dlen);
            FUZZ_CHECK(used <= lim - fed);
            if (res == HTTP_CHUNK_DATA) {
                FUZZ_CHECK(dlen > 0 && data >= body + pos + fed && data + dlen <= body + pos + fed + used);
                FUZZ_CHECK(*outlen + dlen <= n);
                memcpy(out + *outlen, data, dlen);
                *outlen += dlen;
            }
            fed += used;
            if (res == HTTP_CHUNK_DONE || res == HTTP_CHUNK_ERROR) {
                *end = pos + fed;
                return res;
            }
            if (res == HTTP_CHUNK_MORE) {
                FUZZ_CHECK(fed == lim);
                break;
            }
        }
        pos += lim;
    }
    *end = pos;
    return verdict;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t piece = data[0] % 17;
    const char *buf = (const char *)data + 1;
    size_t len = size - 1;

    size_t sc = 0;
    long whole = http_head_end(buf, len, &sc);
    /* One byte more at a time, resuming each scan where the last stopped. */
    size_t sc2 = 0;
    long inc = 0;
    for (size_t i = 1; i <= len; i++) {
        inc = http_head_end(buf, i, &sc2);
        if (inc != 0) break;
    }
    FUZZ_CHECK(inc == whole);
    if (whole <= 0) return 0;

    arena *a = arena_new(1024);
    http_head h;
    int st = http_parse_head(a, buf, (size_t)whole, &h);
    FUZZ_CHECK(st == 0 || st == 400 || st == 505);
    if (st == 0) {
        FUZZ_CHECK(*h.method);
        for (const char *p = h.method; *p; p++) FUZZ_CHECK(tchar(*p));
        FUZZ_CHECK(*h.target);
        for (const char *p = h.target; *p; p++) FUZZ_CHECK((unsigned char)*p > 0x20 && *p != 0x7f);
        FUZZ_CHECK(h.minor >= 0 && h.minor <= 9);
        for (size_t i = 0; i < h.nhdrs; i++) {
            const char *n = h.hdrs[i].name, *v = h.hdrs[i].value;
            FUZZ_CHECK(!strpbrk(v, "\r\n"));
            size_t vl = strlen(v);
            if (vl) FUZZ_CHECK(v[0] != ' ' && v[0] != '\t' && v[vl - 1] != ' ' && v[vl - 1] != '\t');
            FUZZ_CHECK(*n);
            FUZZ_CHECK(!strpbrk(n, "\r\n"));
            if (n[0] != ' ' && n[0] != '\t') FUZZ_CHECK(!strchr(n, ':'));
            int64_t cl = http_parse_length(v);
            if (cl >= 0) {
                for (const char *p = v; *p; p++) FUZZ_CHECK(*p >= '0' && *p <= '9');
                FUZZ_CHECK(cl == strtoll(v, NULL, 10));
            }
        }
    }
    arena_free(a);

    const char *body = buf + whole;
    size_t blen = len - (size_t)whole;
    char *o1 = malloc(blen + 1), *o2 = malloc(blen + 1);
    if (!o1 || !o2) abort();
    size_t l1, l2, e1, e2;
    int v1 = decode(body, blen, 0, o1, &l1, &e1);
    int v2 = decode(body, blen, piece ? piece : 1, o2, &l2, &e2);
    FUZZ_CHECK(v1 == v2);
    FUZZ_CHECK(l1 == l2 && !memcmp(o1, o2, l1));
    if (v1 == HTTP_CHUNK_DONE) FUZZ_CHECK(e1 == e2 && l1 < e1);
    free(o1);
    free(o2);
    return 0;
}
