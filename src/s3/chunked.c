/* chunked — decoder of the aws-chunked content encoding (streaming SigV4 uploads).
 *
 * A byte-driven state machine: the body may arrive split anywhere, even one byte at a time.
 * Chunk data goes to the sink as it arrives and is hashed on the way, so a chunk of any size
 * costs no memory; its signature is checked when its last byte has passed. The caller cannot
 * take bytes back from the sink, so on a bad signature it must discard the whole upload —
 * which it does for any error from this decoder. Only the current chunk header line (bounded)
 * and the trailers (bounded) are held. */
#include "s3/chunked.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/hash.h"

enum {
    MAX_HEADER_LINE = 4096,     /* "hex-size;chunk-signature=<64 hex>" is ~90 bytes */
    MAX_TRAILER_BYTES = 16384,  /* all trailer lines together */
    MAX_TRAILERS = 64,
};

typedef enum {
    ST_SIZE,       /* reading a chunk header line */
    ST_DATA,       /* inside chunk data */
    ST_DATA_CR,    /* expecting the CR after chunk data */
    ST_DATA_LF,    /* expecting the LF after chunk data */
    ST_TRAILER,    /* reading trailer lines after the final chunk */
    ST_DONE,       /* the empty line after the trailers has been seen */
    ST_ERROR,
} state;

typedef struct trailer {
    char *name, *value;
} trailer;

struct aws_chunked {
    arena *a;
    state st;
    s3_err err;           /* sticky once in ST_ERROR */
    auth_payload mode;
    bool wos;
    unsigned char key[32];
    char prev_sig[65];    /* the chain: seed, then each chunk's signature */
    char timestamp[17];
    char scope[160];

    char line[MAX_HEADER_LINE];
    size_t line_len;

    uint64_t remaining;   /* bytes of the current chunk still to come */
    char chunk_sig[65];   /* the signature the current chunk's header announced */
    bool has_sig;
    hash_ctx *hash;       /* SHA-256 of the current chunk's data (signed modes) */
    uint64_t decoded;

    trailer trailers[MAX_TRAILERS];
    size_t ntrailers, trailer_bytes;
    char trailer_sig[65];
    bool has_trailer_sig;
};

static bool chunks_signed(const aws_chunked *c)
{
    return c->mode == PAYLOAD_STREAMING_SIGNED || c->mode == PAYLOAD_STREAMING_SIGNED_TRAILER;
}

static bool trailers_allowed(const aws_chunked *c)
{
    return c->mode == PAYLOAD_STREAMING_SIGNED_TRAILER || c->mode == PAYLOAD_STREAMING_UNSIGNED_TRAILER;
}

static s3_err fail(aws_chunked *c, s3_err e)
{
    if (c->hash) {
        hash_discard(c->hash);
        c->hash = NULL;
    }
    c->st = ST_ERROR;
    c->err = e;
    return e;
}

aws_chunked *aws_chunked_new(arena *a, const auth_result *auth)
{
    aws_chunked *c = arena_alloc(a, sizeof *c);
    c->a = a;
    c->st = ST_SIZE;
    c->mode = auth->payload;
    c->wos = auth->wos_flavor;
    memcpy(c->key, auth->signing_key, sizeof c->key);
    memcpy(c->prev_sig, auth->seed_signature, sizeof c->prev_sig);
    c->prev_sig[64] = 0;
    memcpy(c->timestamp, auth->timestamp, sizeof c->timestamp);
    c->timestamp[16] = 0;
    memcpy(c->scope, auth->scope, sizeof c->scope);
    c->scope[sizeof c->scope - 1] = 0;
    return c;
}

/* HMAC over "<alg>\n<ts>\n<scope>\n<prev-sig>\n<tail>", as lower-case hex. */
static void sign_link(const aws_chunked *c, const char *alg, const char *tail, char out[65])
{
    char sts[512];
    size_t n = 0;
    const char *parts[] = {alg, c->timestamp, c->scope, c->prev_sig, tail};
    for (size_t i = 0; i < 5; i++) {
        size_t l = strlen(parts[i]);
        if (n + l + 1 >= sizeof sts) l = sizeof sts - n - 2;   /* cannot happen: fields are bounded */
        memcpy(sts + n, parts[i], l);
        n += l;
        if (i < 4) sts[n++] = '\n';
    }
    unsigned char mac[32];
    hmac_sha256(c->key, sizeof c->key, sts, n, mac);
    hex_encode(mac, 32, out);
}

/* Checks the chunk whose data hash is in c->hash (NULL: empty chunk) against the announced
 * signature, and moves the chain on. */
static s3_err verify_chunk(aws_chunked *c)
{
    if (!chunks_signed(c)) return S3E_OK;
    unsigned char h[32];
    if (c->hash) {
        hash_final(c->hash, h);
        c->hash = NULL;
    } else {
        sha256("", 0, h);
    }
    char tail[64 + 1 + 64 + 1];
    static const char empty[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    memcpy(tail, empty, 64);
    tail[64] = '\n';
    hex_encode(h, 32, tail + 65);
    char expect[65];
    sign_link(c, c->wos ? "WOS-HMAC-SHA256-PAYLOAD" : "AWS4-HMAC-SHA256-PAYLOAD", tail, expect);
    if (!ct_equal(expect, c->chunk_sig, 64)) return fail(c, S3E_SignatureDoesNotMatch);
    memcpy(c->prev_sig, expect, sizeof c->prev_sig);
    return S3E_OK;
}

static int hexv(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* "hex-size[;chunk-signature=sig]" — the line without its CRLF. */
static s3_err chunk_header(aws_chunked *c)
{
    const char *p = c->line, *end = c->line + c->line_len;
    uint64_t size = 0;
    size_t digits = 0;
    for (; p < end && hexv(*p) >= 0; p++, digits++) {
        if (size >> 60) return fail(c, S3E_InvalidRequest);   /* would overflow */
        size = size << 4 | (uint64_t)hexv(*p);
    }
    if (digits == 0) return fail(c, S3E_InvalidRequest);
    while (p < end && *p == ' ') p++;
    c->has_sig = false;
    while (p < end && *p == ';') {
        p++;
        const char *ext = p;
        while (p < end && *p != ';') p++;
        size_t el = (size_t)(p - ext);
        static const char key[] = "chunk-signature=";
        /* Unsigned modes ignore extensions: a stray signature there proves nothing. */
        if (chunks_signed(c) && el >= sizeof key - 1 && memcmp(ext, key, sizeof key - 1) == 0) {
            const char *sig = ext + sizeof key - 1;
            size_t sl = el - (sizeof key - 1);
            while (sl && sig[sl - 1] == ' ') sl--;
            if (sl != 64) return fail(c, S3E_SignatureDoesNotMatch);
            memcpy(c->chunk_sig, sig, 64);
            c->chunk_sig[64] = 0;
            for (int i = 0; i < 64; i++)   /* signatures are compared as lower-case hex */
                if (c->chunk_sig[i] >= 'A' && c->chunk_sig[i] <= 'F') c->chunk_sig[i] = (char)(c->chunk_sig[i] + 32);
            c->has_sig = true;
        }
    }
    if (p != end) return fail(c, S3E_InvalidRequest);
    if (chunks_signed(c) && !c->has_sig) return fail(c, S3E_InvalidRequest);

    c->remaining = size;
    if (size == 0) {
        s3_err e = verify_chunk(c);
        if (e != S3E_OK) return e;
        c->st = ST_TRAILER;
        return S3E_OK;
    }
    if (chunks_signed(c)) c->hash = hash_new(HASH_SHA256);
    c->st = ST_DATA;
    return S3E_OK;
}

static int trailer_cmp(const void *a, const void *b)
{
    return strcmp(((const trailer *)a)->name, ((const trailer *)b)->name);
}

/* The trailer section is over: check its signature when the mode signs it. */
static s3_err trailers_end(aws_chunked *c)
{
    if (c->mode == PAYLOAD_STREAMING_SIGNED_TRAILER) {
        if (!c->has_trailer_sig) return fail(c, S3E_SignatureDoesNotMatch);
        /* Canonical trailers: "name:value\n" each, sorted by name (the SDKs sort them). */
        trailer *sorted = arena_alloc(c->a, (c->ntrailers + 1) * sizeof *sorted);
        memcpy(sorted, c->trailers, c->ntrailers * sizeof *sorted);
        qsort(sorted, c->ntrailers, sizeof *sorted, trailer_cmp);
        hash_ctx *h = hash_new(HASH_SHA256);
        for (size_t i = 0; i < c->ntrailers; i++) {
            hash_update(h, sorted[i].name, strlen(sorted[i].name));
            hash_update(h, ":", 1);
            hash_update(h, sorted[i].value, strlen(sorted[i].value));
            hash_update(h, "\n", 1);
        }
        unsigned char d[32];
        char tail[65], expect[65];
        hash_final(h, d);
        hex_encode(d, 32, tail);
        sign_link(c, c->wos ? "WOS-HMAC-SHA256-TRAILER" : "AWS4-HMAC-SHA256-TRAILER", tail, expect);
        if (!ct_equal(expect, c->trailer_sig, 64)) return fail(c, S3E_SignatureDoesNotMatch);
    }
    c->st = ST_DONE;
    return S3E_OK;
}

/* One trailer line without its CRLF; the empty line ends the section. */
static s3_err trailer_line(aws_chunked *c)
{
    if (c->line_len == 0) return trailers_end(c);
    if (!trailers_allowed(c)) return fail(c, S3E_InvalidRequest);
    c->trailer_bytes += c->line_len;
    if (c->trailer_bytes > MAX_TRAILER_BYTES) return fail(c, S3E_InvalidRequest);
    char *colon = memchr(c->line, ':', c->line_len);
    if (!colon || colon == c->line) return fail(c, S3E_InvalidRequest);
    size_t nl = (size_t)(colon - c->line);
    while (nl && (c->line[nl - 1] == ' ' || c->line[nl - 1] == '\t')) nl--;
    const char *v = colon + 1, *end = c->line + c->line_len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == ' ' || end[-1] == '\t')) end--;
    char *name = arena_strndup(c->a, c->line, nl);
    for (char *q = name; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
    if (strcmp(name, "x-amz-trailer-signature") == 0 || strcmp(name, "x-wos-trailer-signature") == 0) {
        if (c->has_trailer_sig || end - v != 64) return fail(c, S3E_SignatureDoesNotMatch);
        memcpy(c->trailer_sig, v, 64);
        c->trailer_sig[64] = 0;
        for (int i = 0; i < 64; i++)
            if (c->trailer_sig[i] >= 'A' && c->trailer_sig[i] <= 'F') c->trailer_sig[i] = (char)(c->trailer_sig[i] + 32);
        c->has_trailer_sig = true;
        return S3E_OK;
    }
    /* Nothing may follow the signature: it covers only what came before it. */
    if (c->has_trailer_sig || c->ntrailers == MAX_TRAILERS) return fail(c, S3E_InvalidRequest);
    c->trailers[c->ntrailers].name = name;
    c->trailers[c->ntrailers].value = arena_strndup(c->a, v, (size_t)(end - v));
    c->ntrailers++;
    return S3E_OK;
}

/* Accumulates a line of a header or trailer; returns true when it is complete (CRLF or a bare
 * LF, which some encoders emit in trailers), without the line ending. */
static bool take_line(aws_chunked *c, const char **data, size_t *n, s3_err *err)
{
    while (*n) {
        char ch = **data;
        (*data)++;
        (*n)--;
        if (ch == '\n') {
            if (c->line_len && c->line[c->line_len - 1] == '\r') c->line_len--;
            return true;
        }
        if (c->line_len == sizeof c->line - 1 ||
            (c->st == ST_TRAILER && c->trailer_bytes + c->line_len >= MAX_TRAILER_BYTES)) {
            *err = fail(c, S3E_InvalidRequest);
            return false;
        }
        c->line[c->line_len++] = ch;
    }
    return false;
}

s3_err aws_chunked_feed(aws_chunked *c, const char *data, size_t n, aws_chunked_sink sink, void *cls)
{
    while (n) {
        s3_err e = S3E_OK;
        switch (c->st) {
        case ST_ERROR:
            return c->err;
        case ST_SIZE:
        case ST_TRAILER:
            if (!take_line(c, &data, &n, &e)) {
                if (e != S3E_OK) return e;
                break;
            }
            e = c->st == ST_SIZE ? chunk_header(c) : trailer_line(c);
            c->line_len = 0;
            if (e != S3E_OK) return e;
            break;
        case ST_DATA: {
            size_t k = n < c->remaining ? n : (size_t)c->remaining;
            if (c->hash) hash_update(c->hash, data, k);
            if (sink && sink(cls, data, k) != 0) return fail(c, S3E_InternalError);
            c->decoded += k;
            c->remaining -= k;
            data += k;
            n -= k;
            if (c->remaining == 0) {
                e = verify_chunk(c);
                if (e != S3E_OK) return e;
                c->st = ST_DATA_CR;
            }
            break;
        }
        case ST_DATA_CR:
            if (*data != '\r') return fail(c, S3E_IncompleteBody);
            data++, n--;
            c->st = ST_DATA_LF;
            break;
        case ST_DATA_LF:
            if (*data != '\n') return fail(c, S3E_IncompleteBody);
            data++, n--;
            c->st = ST_SIZE;
            break;
        case ST_DONE:
            /* Bytes after the end: the framing lied about where the body ends. */
            return fail(c, S3E_IncompleteBody);
        }
    }
    return c->st == ST_ERROR ? c->err : S3E_OK;
}

s3_err aws_chunked_finish(aws_chunked *c)
{
    if (c->st == ST_ERROR) return c->err;
    if (c->st == ST_DONE) return S3E_OK;
    /* Some encoders end the body right after the last trailer line (or the final chunk's
     * header) without the empty line; the content is complete, so accept it. */
    if (c->st == ST_TRAILER && c->line_len == 0) return trailers_end(c);
    return fail(c, S3E_IncompleteBody);
}

void aws_chunked_discard(aws_chunked *c)
{
    if (c && c->hash) {
        hash_discard(c->hash);
        c->hash = NULL;
    }
}

uint64_t aws_chunked_decoded_length(const aws_chunked *c) { return c->decoded; }

const char *aws_chunked_trailer(const aws_chunked *c, const char *name)
{
    if (c->st != ST_DONE) return NULL;
    for (size_t i = 0; i < c->ntrailers; i++)
        if (strcasecmp(c->trailers[i].name, name) == 0) return c->trailers[i].value;
    return NULL;
}
