/* fuzz_auth — auth_verify() on arbitrary requests.
 *
 * Input, as text:
 *   line 1      method
 *   line 2      request target ("/path?query", sent to http_req_new as is)
 *   lines 3..   headers "Name: value" (value trimmed as the HTTP core trims it), until an
 *               empty line or the end; a line without ':' is not a header and is skipped
 *
 * Each request is checked under every server region the seeds are signed for, path style and
 * virtual-host style, at a "now" taken from the request's own date (x-amz-date, x-wos-date,
 * Date, X-*-Date or Expires in the query) so that the published examples in the corpus verify
 * and the fuzzer starts from requests that reach the signature comparison and beyond.
 *
 * Invariants: nothing crashes or leaks; a success names a key the lookup knows (or none for
 * anonymous); V4 successes carry a complete chunk-signature seed; V2 never asks for a
 * streaming body. */
#include "fuzz.h"

#include <stdbool.h>

#include "s3/auth.h"
#include "server/http_req.h"
#include "util/timefmt.h"

#define WOS_AK "2cd1baf7681435ce4a298e9df3eb36958e725394"
#define WOS_SK "968d43bc594af8622923d0681ddc367b35a8b23b"
#define AWS_AK "AKIAIOSFODNN7EXAMPLE"
#define AWS_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

enum { MAX_HEADERS = 64, FIXED_NOW = 1639390000 };

/* FUZZ_VERBOSE=1 prints each outcome: to see which seeds verify (build/fuzz/fuzz_auth FILE...). */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    return 0;
}

static int lookup(void *cls, const char *ak, char *secret, size_t cap)
{
    (void)cls;
    const char *sk = NULL;
    if (strcmp(ak, WOS_AK) == 0) sk = WOS_SK;
    else if (strcmp(ak, AWS_AK) == 0) sk = AWS_SK;
    if (!sk || strlen(sk) >= cap) return -1;
    strcpy(secret, sk);
    return 0;
}

/* The value of query parameter name (exact, at the start or after '&'), copied to out. */
static bool query_param(const char *q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            const char *v = p + nl + 1;
            size_t vl = strcspn(v, "&");
            if (vl >= cap) vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return true;
        }
    }
    return false;
}

static int64_t pick_now(const http_req *r)
{
    int64_t t;
    static const char *const hdrs[] = {"x-amz-date", "x-wos-date", "date"};
    for (size_t i = 0; i < sizeof hdrs / sizeof *hdrs; i++) {
        const char *v = http_header(r, hdrs[i]);
        if (v && time_parse(v, &t)) return t;
    }
    char v[64];
    const char *q = http_query_raw(r);
    if ((query_param(q, "X-Amz-Date", v, sizeof v) || query_param(q, "X-Wos-Date", v, sizeof v)) &&
        time_parse_iso_basic(v, &t))
        return t;
    if (query_param(q, "Expires", v, sizeof v)) {
        char *end;
        long long e = strtoll(v, &end, 10);
        if (*v && !*end && e > 0) return e - 1;
    }
    return FIXED_NOW;
}

static void check_result(s3_err e, const auth_result *res, const char *msg)
{
    FUZZ_CHECK(e >= S3E_OK && e < S3E__COUNT);
    FUZZ_CHECK(res->dialect == DIALECT_WOS || res->dialect == DIALECT_AWS);
    if (msg) (void)strlen(msg);   /* must be a readable string in the arena */
    if (e != S3E_OK) return;

    FUZZ_CHECK(memchr(res->access_key, 0, sizeof res->access_key));
    FUZZ_CHECK(memchr(res->scope, 0, sizeof res->scope));
    switch (res->kind) {
    case AUTH_ANON:
        FUZZ_CHECK(res->access_key[0] == 0);
        FUZZ_CHECK(res->payload == PAYLOAD_UNSIGNED);
        break;
    case AUTH_V4_HEADER:
    case AUTH_V4_QUERY:
        FUZZ_CHECK(!strcmp(res->access_key, WOS_AK) || !strcmp(res->access_key, AWS_AK));
        FUZZ_CHECK(strnlen(res->seed_signature, sizeof res->seed_signature) == 64);
        FUZZ_CHECK(strnlen(res->timestamp, sizeof res->timestamp) == 16);
        break;
    case AUTH_V2_HEADER:
    case AUTH_V2_QUERY:
        FUZZ_CHECK(!strcmp(res->access_key, WOS_AK) || !strcmp(res->access_key, AWS_AK));
        FUZZ_CHECK(res->payload == PAYLOAD_UNSIGNED);
        break;
    default:
        FUZZ_CHECK(!"unknown auth kind");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor cur = {data, data + size};
    char *method = fuzz_line(&cur);
    char *target = fuzz_line(&cur);
    if (!method || !target) {
        free(method);
        free(target);
        return 0;
    }
    http_req *r = http_req_new(method, target);
    free(method);
    free(target);

    char *line;
    for (int n = 0; n < MAX_HEADERS && (line = fuzz_line(&cur)) != NULL; free(line)) {
        if (!*line) {
            free(line);
            break;
        }
        char *colon = strchr(line, ':');
        if (!colon || colon == line) continue;
        *colon = 0;
        char *v = colon + 1, *e = v + strlen(v);
        while (*v == ' ' || *v == '\t') v++;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
        http_req_add_header(r, line, v);
        n++;
    }

    /* Virtual-host style: the bucket is the first label of Host, or (a CNAME) the whole name. */
    char vhosts[2][128];
    int nv = 0;
    const char *host = http_header(r, "host");
    if (host) {
        size_t l = strcspn(host, ".:");
        if (host[l] == '.' && l > 0 && l < sizeof vhosts[0]) {
            memcpy(vhosts[nv], host, l);
            vhosts[nv++][l] = 0;
            size_t hl = strcspn(host, ":");
            if (hl < sizeof vhosts[0]) {
                memcpy(vhosts[nv], host, hl);
                vhosts[nv++][hl] = 0;
            }
        }
    }

    static const char *const regions[] = {"cn-south-1", "us-east-1", "cn-east-1"};
    int64_t now = pick_now(r);
    for (size_t i = 0; i < sizeof regions / sizeof *regions; i++) {
        for (int vh = -1; vh < nv; vh++) {
            auth_ctx c = {.region = regions[i], .now = now, .vhost_bucket = vh >= 0 ? vhosts[vh] : NULL,
                          .lookup = lookup, .lookup_cls = NULL};
            auth_result res;
            const char *msg = NULL;
            s3_err e = auth_verify(r, &c, http_arena(r), &res, &msg);
            if (verbose)
                fprintf(stderr, "region=%s vhost=%s now=%lld -> %s kind=%d payload=%d%s%s\n", c.region,
                        c.vhost_bucket ? c.vhost_bucket : "-", (long long)now, e ? s3_err_code(e) : "OK",
                        (int)res.kind, (int)res.payload, msg ? " msg=" : "", msg ? msg : "");
            check_result(e, &res, msg);
        }
    }
    http_req_free(r);
    return 0;
}
