/* auth_v4 — Signature Version 4 and its WOS clone, in the Authorization header and in the
 * query string (presigned URLs).
 *
 * AWS4-HMAC-SHA256 is AWS SigV4 for S3; WOS-HMAC-SHA256 is the same algorithm with "WOS" /
 * "wos" / "wos_request" and x-wos-* headers (WOS-API.md §2.2, §2.4).
 *
 * Clients do not all canonicalise the request the way AWS documents it: the WOS Java SDK signs
 * the raw path and raw query exactly as it sent them and writes one line per value of a
 * repeated header; AWS SDKs re-encode. The signature only says whether the bytes matched, so
 * when the first (documented) canonical form fails we also try the few other forms real
 * clients produce, all built from this same request. Every form covers the same method, path,
 * query, signed headers and payload hash, so accepting any of them grants nothing the signer
 * did not sign. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/auth_internal.h"
#include "util/hash.h"
#include "util/str.h"
#include "util/timefmt.h"

/* S3's limit on X-Amz-Expires: seven days. */
enum { V4_MAX_EXPIRES = 604800, MAX_CANDIDATES = 4 };

static const char EMPTY_SHA256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/* The signing key depends only on (flavour, secret, date, region, service): each thread keeps
 * the last one it derived, so a client's requests on one day cost one derivation, not four
 * HMACs each (the profile of small GETs showed them). */
static _Thread_local struct {
    bool valid, wos;
    char secret[AUTH_SECRET_MAX];
    char date8[9], region[64], service[8];
    unsigned char key[32];
} key_cache;

void sigv4_signing_key(bool flavor_wos, const char *secret, const char *date8, const char *region,
                       const char *service, unsigned char out[32])
{
    bool cacheable = strlen(secret) < sizeof key_cache.secret && strlen(date8) < sizeof key_cache.date8 &&
                     strlen(region) < sizeof key_cache.region && strlen(service) < sizeof key_cache.service;
    if (cacheable && key_cache.valid && key_cache.wos == flavor_wos && !strcmp(key_cache.secret, secret) &&
        !strcmp(key_cache.date8, date8) && !strcmp(key_cache.region, region) &&
        !strcmp(key_cache.service, service)) {
        memcpy(out, key_cache.key, 32);
        return;
    }
    char seed[AUTH_SECRET_MAX + 8];
    int n = snprintf(seed, sizeof seed, "%s%s", flavor_wos ? "WOS" : "AWS4", secret);
    if (n < 0 || (size_t)n >= sizeof seed) n = (int)strlen(seed);
    unsigned char k[32];
    hmac_sha256(seed, (size_t)n, date8, strlen(date8), k);
    hmac_sha256(k, 32, region, strlen(region), k);
    hmac_sha256(k, 32, service, strlen(service), k);
    const char *term = flavor_wos ? "wos_request" : "aws4_request";
    hmac_sha256(k, 32, term, strlen(term), out);
    explicit_bzero(seed, sizeof seed);
    explicit_bzero(k, sizeof k);
    if (cacheable) {
        key_cache.wos = flavor_wos;
        /* (cacheable: each fits, as checked above) */
        snprintf(key_cache.secret, sizeof key_cache.secret, "%s", secret);
        snprintf(key_cache.date8, sizeof key_cache.date8, "%s", date8);
        snprintf(key_cache.region, sizeof key_cache.region, "%s", region);
        snprintf(key_cache.service, sizeof key_cache.service, "%s", service);
        memcpy(key_cache.key, out, 32);
        key_cache.valid = true;
    }
}

/* One V4 check in progress. */
typedef struct v4 {
    const auth_req *ar;
    bool wos;              /* WOS-HMAC-SHA256: WOS names throughout */
    bool query;            /* presigned URL */
    const char *prefix;    /* query parameter spelling: "X-Amz-" or "X-Wos-" */
    const char *alg;       /* "AWS4-HMAC-SHA256" / "WOS-HMAC-SHA256" */
    const char *service, *terminator;
} v4;

/* --- errors: one function per kind, so every path answers in the dialect's words -------- */

/* The header (or query) cannot be parsed at all. WOS answers 403 AccessDenied (WOS-API.md §8.2),
 * AWS 400 AuthorizationHeaderMalformed. */
static s3_err syntax_error(const v4 *v, const char *detail)
{
    const auth_req *ar = v->ar;
    if (v->query) return auth_fail(ar, S3E_AuthorizationQueryParametersError, detail);
    if (v->wos) return auth_fail(ar, S3E_AccessDenied, NULL);
    return auth_fail(ar, S3E_AuthorizationHeaderMalformed,
                     arena_printf(ar->a, "The authorization header is malformed; %s", detail));
}

/* The credential scope names the wrong key, region, service or terminator. WOS documents the
 * same 400 AuthorizationHeaderMalformed as AWS for these. */
static s3_err cred_error(const v4 *v, const char *detail)
{
    const auth_req *ar = v->ar;
    if (v->query)
        return auth_fail(ar, S3E_AuthorizationQueryParametersError,
                         arena_printf(ar->a, "Error parsing the %sCredential parameter; %s", v->prefix,
                                      detail));
    return auth_fail(ar, S3E_AuthorizationHeaderMalformed,
                     arena_printf(ar->a, "The authorization header is malformed; %s", detail));
}

/* --- the request's timestamp and payload declaration ----------------------------------- */

/* Header form: x-wos-date / x-amz-date, else Date (the WOS SDK puts ISO basic in Date). */
static const char *header_date(const v4 *v)
{
    const http_req *r = v->ar->r;
    const char *d = NULL;
    if (v->wos) d = http_header(r, "x-wos-date");
    if (!d) d = http_header(r, "x-amz-date");
    if (!d) d = http_header(r, "date");
    return d;
}

static const char *payload_decl(const v4 *v)
{
    const auth_req *ar = v->ar;
    if (v->query) {
        char name[40];
        snprintf(name, sizeof name, "%sContent-Sha256", v->prefix);
        const char *p = auth_query_get(ar->q, name);
        if (!p) p = auth_query_get(ar->q, v->wos ? "x-wos-content-sha256" : "x-amz-content-sha256");
        return p;
    }
    const char *p = NULL;
    if (v->wos) p = http_header(ar->r, "x-wos-content-sha256");
    if (!p) p = http_header(ar->r, "x-amz-content-sha256");
    return p;
}

/* What the body must satisfy; false when the declaration is none of the known forms. */
static bool classify_payload(const char *decl, auth_result *out)
{
    if (!decl || strcmp(decl, "UNSIGNED-PAYLOAD") == 0) {
        out->payload = PAYLOAD_UNSIGNED;
        return true;
    }
    if (strlen(decl) == 64 && hex_decode(decl, 64, out->payload_sha256, 32) == 32) {
        out->payload = PAYLOAD_SHA256;
        return true;
    }
    static const struct {
        const char *name;
        auth_payload mode;
    } modes[] = {
        {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", PAYLOAD_STREAMING_SIGNED},
        {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", PAYLOAD_STREAMING_SIGNED_TRAILER},
        {"STREAMING-UNSIGNED-PAYLOAD-TRAILER", PAYLOAD_STREAMING_UNSIGNED_TRAILER},
        /* The WOS spelling, for a client that carries the renaming through. */
        {"STREAMING-WOS-HMAC-SHA256-PAYLOAD", PAYLOAD_STREAMING_SIGNED},
        {"STREAMING-WOS-HMAC-SHA256-PAYLOAD-TRAILER", PAYLOAD_STREAMING_SIGNED_TRAILER},
    };
    for (size_t i = 0; i < sizeof modes / sizeof *modes; i++)
        if (strcmp(decl, modes[i].name) == 0) {
            out->payload = modes[i].mode;
            return true;
        }
    return false;
}

/* --- canonical forms ------------------------------------------------------------------- */

static void add_candidate(const char **v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(v[i], s) == 0) return;
    if (*n < MAX_CANDIDATES) v[(*n)++] = s;
}

typedef struct kv {
    const char *k, *v;
} kv;

static int kv_cmp(const void *a, const void *b)
{
    const kv *x = a, *y = b;
    int c = strcmp(x->k, y->k);
    return c ? c : strcmp(x->v, y->v);
}

enum { CQ_AWS, CQ_RAW, CQ_PLUS };

/* The canonical query string. CQ_AWS: AWS's rule, decode then encode each name and value
 * (so an already-encoded value stays as it was). CQ_RAW: the bytes as received, sorted (WOS
 * SDK). CQ_PLUS: like CQ_AWS but '+' decodes to a space (form-encoding clients). */
static const char *canonical_query(const v4 *v, int mode, const char *skip)
{
    const auth_req *ar = v->ar;
    const qlist *q = ar->q;
    kv *items = arena_alloc(ar->a, (q->n + 1) * sizeof *items);
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++) {
        const qparam *p = &q->v[i];
        if (skip && strcmp(p->key, skip) == 0) continue;
        if (mode == CQ_RAW) {
            items[n].k = p->kraw;
            items[n].v = p->vraw;
        } else if (mode == CQ_AWS) {
            items[n].k = uri_encode(ar->a, p->key, p->keylen, false);
            items[n].v = uri_encode(ar->a, p->val, p->vallen, false);
        } else {
            size_t kl, vl;
            const char *k = url_decode(ar->a, p->kraw, strlen(p->kraw), true, &kl);
            const char *val = url_decode(ar->a, p->vraw, strlen(p->vraw), true, &vl);
            if (!k) k = p->kraw, kl = strlen(k);
            if (!val) val = p->vraw, vl = strlen(val);
            items[n].k = uri_encode(ar->a, k, kl, false);
            items[n].v = uri_encode(ar->a, val, vl, false);
        }
        n++;
    }
    qsort(items, n, sizeof *items, kv_cmp);
    sbuf s;
    sb_init(&s, ar->a, 256);
    for (size_t i = 0; i < n; i++) {
        if (i) sb_putc(&s, '&');
        sb_puts(&s, items[i].k);
        sb_putc(&s, '=');
        sb_puts(&s, items[i].v);
    }
    return s.p;
}

enum { CH_AWS, CH_LINES, CH_RAW_JOIN };

/* The canonical headers block for the signed header names. CH_AWS: values trimmed and inner
 * spaces folded, repeated headers joined with ','. CH_LINES: one "name:value" line per value,
 * untrimmed (WOS SDK, WOS-API.md §2.2 point 3). CH_RAW_JOIN: untrimmed, joined with ','. */
static const char *canonical_headers(const v4 *v, char **names, size_t nnames, int mode)
{
    const auth_req *ar = v->ar;
    const http_req *r = ar->r;
    sbuf s;
    sb_init(&s, ar->a, 512);
    size_t nh = http_header_count(r);
    for (size_t i = 0; i < nnames; i++) {
        bool first = true;
        if (mode != CH_LINES) {
            sb_puts(&s, names[i]);
            sb_putc(&s, ':');
        }
        for (size_t j = 0; j < nh; j++) {
            const char *hn, *hv;
            http_header_at(r, j, &hn, &hv);
            if (strcasecmp(hn, names[i]) != 0) continue;
            if (mode == CH_LINES) {
                sb_puts(&s, names[i]);
                sb_putc(&s, ':');
                sb_puts(&s, hv);
                sb_putc(&s, '\n');
            } else {
                if (!first) sb_putc(&s, ',');
                sb_puts(&s, mode == CH_AWS ? str_trim_fold(ar->a, hv) : hv);
            }
            first = false;
        }
        if (mode != CH_LINES) sb_putc(&s, '\n');
        else if (first) {   /* a signed header the request lacks still takes its line */
            sb_puts(&s, names[i]);
            sb_puts(&s, ":\n");
        }
    }
    return s.p;
}

/* Splits SignedHeaders into lower-case names; false when empty, has an empty name, or lacks
 * host (S3 requires host to be signed). */
static bool split_signed_headers(arena *a, const char *sh, char ***names, size_t *n)
{
    size_t cap = 1;
    for (const char *p = sh; *p; p++)
        if (*p == ';') cap++;
    char **v = arena_alloc(a, cap * sizeof *v);
    size_t k = 0;
    bool host = false;
    const char *p = sh;
    for (;;) {
        size_t len = strcspn(p, ";");
        if (len == 0) return false;
        char *name = arena_strndup(a, p, len);
        for (char *c = name; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        if (strcmp(name, "host") == 0) host = true;
        v[k++] = name;
        if (!p[len]) break;
        p += len + 1;
    }
    *names = v;
    *n = k;
    return host;
}

/* --- the check shared by header and query forms ---------------------------------------- */

typedef struct v4_parts {
    const char *credential, *signed_headers, *signature;
    const char *date;   /* X-Amz-Date (query form); header form reads the headers */
    int64_t expires;    /* query form */
} v4_parts;

static s3_err v4_check(const v4 *v, const v4_parts *pp)
{
    const auth_req *ar = v->ar;
    const auth_ctx *c = ar->c;
    auth_result *out = ar->out;

    /* Credential = AK/yyyymmdd/region/service/terminator */
    char *parts[5];
    size_t np = 0;
    char *cred = arena_strdup(ar->a, pp->credential);
    for (char *p = cred;;) {
        if (np == 5) {   /* a sixth part: too many */
            np++;
            break;
        }
        parts[np++] = p;
        char *slash = strchr(p, '/');
        if (!slash) break;
        *slash = 0;
        p = slash + 1;
    }
    if (np != 5)
        return cred_error(v, arena_printf(ar->a, "the Credential is mal-formed; expecting "
                                                 "\"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/%s\".",
                                          v->terminator));
    const char *ak = parts[0], *date8 = parts[1], *region = parts[2], *service = parts[3],
               *term = parts[4];
    if (!*ak) return cred_error(v, "a non-empty Access Key (AKID) must be provided in the credential.");

    /* The timestamp the string-to-sign carries. */
    int64_t t;
    if (v->query) {
        if (!time_parse_iso_basic(pp->date, &t))
            return auth_fail(ar, S3E_AuthorizationQueryParametersError,
                             arena_printf(ar->a, "%sDate must be in the ISO8601 Long Format "
                                                 "\"yyyyMMdd'T'HHmmss'Z'\"", v->prefix));
    } else {
        const char *d = header_date(v);
        if (!d || !time_parse(d, &t))
            return auth_fail(ar, S3E_AccessDenied,
                             v->wos ? "Authentication requires a valid Date or x-wos-date header"
                                    : "AWS authentication requires a valid Date or x-amz-date header");
    }
    char ts[17];
    time_fmt_iso_basic(t, ts);

    if (strlen(date8) != 8 || strncmp(date8, ts, 8) != 0) {
        if (v->wos)
            return auth_fail(ar, S3E_InvalidArgument,
                             "Invalid credential date. Date is not the same as x-wos-date.");
        if (v->query)
            return auth_fail(ar, S3E_AuthorizationQueryParametersError,
                             "Invalid credential date. Date is not the same as X-Amz-Date.");
        return auth_fail(ar, S3E_AuthorizationHeaderMalformed,
                         "The authorization header is malformed; Invalid credential date. Date is "
                         "not the same as X-Amz-Date.");
    }
    if (c->region && *c->region && strcmp(region, c->region) != 0)
        return cred_error(v, arena_printf(ar->a, "the region '%s' is wrong; expecting '%s'", region,
                                          c->region));
    if (strcmp(service, v->service) != 0)
        return cred_error(v, arena_printf(ar->a, "incorrect service \"%s\". This endpoint belongs to \"%s\".",
                                          service, v->service));
    if (strcmp(term, v->terminator) != 0)
        return cred_error(v, arena_printf(ar->a, "incorrect terminal \"%s\". This endpoint uses \"%s\".",
                                          term, v->terminator));

    char **names;
    size_t nnames;
    if (!split_signed_headers(ar->a, pp->signed_headers, &names, &nnames))
        return syntax_error(v, arena_printf(ar->a, "%sSignedHeaders must be a ';'-separated list "
                                                   "of header names that includes host",
                                            v->query ? v->prefix : ""));

    if (v->query) {
        if (c->now > t + pp->expires) return auth_fail(ar, S3E_AccessDenied, "Request has expired");
        if (t > c->now + AUTH_MAX_SKEW) return auth_fail(ar, S3E_AccessDenied, "Request is not valid yet");
    } else if (t > c->now + AUTH_MAX_SKEW || t < c->now - AUTH_MAX_SKEW) {
        return auth_fail(ar, S3E_RequestTimeTooSkewed, NULL);
    }

    const char *decl = payload_decl(v);
    /* S3 requires the header on header-signed requests; what WOS does is undocumented, so the
     * WOS flavour stays lenient and treats it as UNSIGNED-PAYLOAD (WOS-API.md §2.2). */
    if (!decl && !v->query && !v->wos)
        return auth_fail(ar, S3E_InvalidRequest,
                         "Missing required header for this request: x-amz-content-sha256");
    if (!classify_payload(decl, out))
        return auth_fail(ar, S3E_InvalidArgument,
                         arena_printf(ar->a, "%s must be UNSIGNED-PAYLOAD, "
                                             "STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
                                             "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, "
                                             "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid "
                                             "sha256 value.",
                                      v->query ? "X-Amz-Content-Sha256"
                                      : v->wos ? "x-wos-content-sha256"
                                               : "x-amz-content-sha256"));

    char secret[AUTH_SECRET_MAX];
    s3_err e = auth_lookup_secret(ar, ak, secret);
    if (e != S3E_OK) return e;
    unsigned char key[32];
    sigv4_signing_key(v->wos, secret, date8, region, service, key);
    explicit_bzero(secret, sizeof secret);

    /* date8/region/service/terminator: the credential after the key, exactly as sent. */
    const char *scope = pp->credential + strlen(ak) + 1;

    /* The candidate forms of each part, the documented one first. */
    const char *uris[MAX_CANDIDATES] = {0}, *queries[MAX_CANDIDATES] = {0}, *hdrs[MAX_CANDIDATES] = {0},
               *payloads[MAX_CANDIDATES] = {0};
    size_t nu = 0, nq = 0, nhd = 0, npl = 0;

    const char *path = http_path_raw(ar->r);
    if (!path || !*path) path = "/";
    add_candidate(uris, &nu, path);
    size_t dl;
    char *dec = url_decode(ar->a, path, strlen(path), false, &dl);
    if (dec) add_candidate(uris, &nu, uri_encode(ar->a, dec, dl, true));

    const char *skip = v->query ? arena_printf(ar->a, "%sSignature", v->prefix) : NULL;
    add_candidate(queries, &nq, canonical_query(v, CQ_AWS, skip));
    add_candidate(queries, &nq, canonical_query(v, CQ_RAW, skip));
    if (strchr(http_query_raw(ar->r), '+')) add_candidate(queries, &nq, canonical_query(v, CQ_PLUS, skip));

    add_candidate(hdrs, &nhd, canonical_headers(v, names, nnames, CH_AWS));
    if (v->wos) {
        add_candidate(hdrs, &nhd, canonical_headers(v, names, nnames, CH_LINES));
        add_candidate(hdrs, &nhd, canonical_headers(v, names, nnames, CH_RAW_JOIN));
    }

    add_candidate(payloads, &npl, decl ? decl : "UNSIGNED-PAYLOAD");
    /* A generic SigV4 signer without the payload header hashes the (empty) body itself. */
    bool empty_alt = !decl && !v->query && http_content_length(ar->r) <= 0 && !http_is_chunked(ar->r);
    if (empty_alt) add_candidate(payloads, &npl, EMPTY_SHA256);

    unsigned char given[32];
    bool given_ok = strlen(pp->signature) == 64 && hex_decode(pp->signature, 64, given, 32) == 32;

    const char *method = http_method(ar->r);
    bool matched = false;
    size_t matched_payload = 0;
    unsigned char mac[32];
    sbuf cr, sts;
    for (size_t iu = 0; iu < nu && !matched; iu++)
        for (size_t iq = 0; iq < nq && !matched; iq++)
            for (size_t ih = 0; ih < nhd && !matched; ih++)
                for (size_t ip = 0; ip < npl && !matched; ip++) {
                    sb_init(&cr, ar->a, 1024);
                    sb_puts(&cr, method);
                    sb_putc(&cr, '\n');
                    sb_puts(&cr, uris[iu]);
                    sb_putc(&cr, '\n');
                    sb_puts(&cr, queries[iq]);
                    sb_putc(&cr, '\n');
                    sb_puts(&cr, hdrs[ih]);
                    sb_putc(&cr, '\n');
                    sb_puts(&cr, pp->signed_headers);
                    sb_putc(&cr, '\n');
                    sb_puts(&cr, payloads[ip]);
                    unsigned char h[32];
                    char hh[65];
                    sha256(cr.p, cr.len, h);
                    hex_encode(h, 32, hh);
                    sb_init(&sts, ar->a, 256);
                    sb_puts(&sts, v->alg);
                    sb_putc(&sts, '\n');
                    sb_puts(&sts, ts);
                    sb_putc(&sts, '\n');
                    sb_puts(&sts, scope);
                    sb_putc(&sts, '\n');
                    sb_puts(&sts, hh);
                    hmac_sha256(key, 32, sts.p, sts.len, mac);
                    if (given_ok && ct_equal(mac, given, 32)) {
                        matched = true;
                        matched_payload = ip;
                    }
                }
    if (!matched) {
        explicit_bzero(key, sizeof key);
        return auth_fail(ar, S3E_SignatureDoesNotMatch, NULL);
    }
    if (matched_payload == 1 && empty_alt) {
        out->payload = PAYLOAD_SHA256;
        hex_decode(EMPTY_SHA256, 64, out->payload_sha256, 32);
    }

    out->kind = v->query ? AUTH_V4_QUERY : AUTH_V4_HEADER;
    memcpy(out->signing_key, key, 32);
    explicit_bzero(key, sizeof key);
    hex_encode(mac, 32, out->seed_signature);
    memcpy(out->timestamp, ts, sizeof out->timestamp);
    snprintf(out->scope, sizeof out->scope, "%s", scope);
    out->wos_flavor = v->wos;
    return S3E_OK;
}

/* --- Authorization header ---------------------------------------------------------------- */

/* "Credential=…, SignedHeaders=…, Signature=…", with or without spaces after the commas. */
static bool parse_header_params(arena *a, const char *s, v4_parts *pp)
{
    while (*s) {
        while (*s == ' ' || *s == '\t' || *s == ',') s++;
        if (!*s) break;
        size_t seg = strcspn(s, ",");
        const char *eq = memchr(s, '=', seg);
        if (!eq) return false;
        size_t klen = (size_t)(eq - s);
        while (klen && (s[klen - 1] == ' ' || s[klen - 1] == '\t')) klen--;
        const char *val = eq + 1;
        size_t vlen = seg - (size_t)(val - s);
        while (vlen && (*val == ' ' || *val == '\t')) val++, vlen--;
        while (vlen && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t')) vlen--;
        const char **slot = NULL;
        if (klen == 10 && strncmp(s, "Credential", 10) == 0) slot = &pp->credential;
        else if (klen == 13 && strncmp(s, "SignedHeaders", 13) == 0) slot = &pp->signed_headers;
        else if (klen == 9 && strncmp(s, "Signature", 9) == 0) slot = &pp->signature;
        if (slot) {
            if (*slot) return false;   /* a component given twice is ambiguous */
            *slot = arena_strndup(a, val, vlen);
        }
        s += seg;
    }
    return pp->credential && pp->signed_headers && pp->signature;
}

s3_err auth_v4_header(const auth_req *ar, bool wos, const char *params)
{
    v4 v = {.ar = ar,
            .wos = wos,
            .query = false,
            .prefix = wos ? "X-Wos-" : "X-Amz-",
            .alg = wos ? "WOS-HMAC-SHA256" : "AWS4-HMAC-SHA256",
            .service = wos ? "wos" : "s3",
            .terminator = wos ? "wos_request" : "aws4_request"};
    ar->out->dialect = wos ? DIALECT_WOS : DIALECT_AWS;
    v4_parts pp = {0};
    if (!parse_header_params(ar->a, params, &pp))
        return syntax_error(&v, "the authorization header requires three components: Credential, "
                                "SignedHeaders, and Signature.");
    return v4_check(&v, &pp);
}

/* --- presigned URL ----------------------------------------------------------------------- */

static const char *qget(const v4 *v, const char *name)
{
    char key[48];
    snprintf(key, sizeof key, "%s%s", v->prefix, name);
    return auth_query_get(v->ar->q, key);
}

s3_err auth_v4_query(const auth_req *ar, const char *prefix)
{
    v4 v = {.ar = ar, .query = true, .prefix = prefix};
    v4_parts pp = {0};
    const char *alg = qget(&v, "Algorithm");
    pp.credential = qget(&v, "Credential");
    pp.date = qget(&v, "Date");
    const char *expires = qget(&v, "Expires");
    pp.signed_headers = qget(&v, "SignedHeaders");
    pp.signature = qget(&v, "Signature");
    if (!alg || !pp.credential || !pp.date || !expires || !pp.signed_headers || !pp.signature)
        return auth_fail(ar, S3E_AuthorizationQueryParametersError,
                         arena_printf(ar->a,
                                      "Query-string authentication version 4 requires the "
                                      "%sAlgorithm, %sCredential, %sSignature, %sDate, "
                                      "%sSignedHeaders, and %sExpires parameters.",
                                      prefix, prefix, prefix, prefix, prefix, prefix));
    /* The algorithm, not the parameter spelling, decides the flavour. */
    if (strcmp(alg, "AWS4-HMAC-SHA256") == 0) v.wos = false;
    else if (strcmp(alg, "WOS-HMAC-SHA256") == 0) v.wos = true;
    else return auth_fail(ar, S3E_InvalidArgument, "Only AWS4-HMAC-SHA256 is supported");
    ar->out->dialect = v.wos ? DIALECT_WOS : DIALECT_AWS;
    v.alg = alg;
    v.service = v.wos ? "wos" : "s3";
    v.terminator = v.wos ? "wos_request" : "aws4_request";

    size_t el = strlen(expires);
    if (el == 0 || el > 10 || strspn(expires, "0123456789") != el)
        return auth_fail(ar, S3E_AuthorizationQueryParametersError,
                         arena_printf(ar->a, "%sExpires should be a number", prefix));
    pp.expires = strtoll(expires, NULL, 10);
    if (pp.expires > V4_MAX_EXPIRES)
        return auth_fail(ar, S3E_AuthorizationQueryParametersError,
                         arena_printf(ar->a, "%sExpires must be less than a week (in seconds) that "
                                             "is; the maximum expires is 604800 seconds",
                                      prefix));
    return v4_check(&v, &pp);
}
