/* auth — which scheme a request is signed with, and the pieces the schemes share.
 *
 * auth_verify() looks at the Authorization header and the query string, refuses requests that
 * carry a signature in both, and hands the request to the V4 (auth_v4.c) or V2 (auth_v2.c)
 * checker. A request with neither is anonymous; whether that is enough is the caller's (IAM's)
 * decision, not ours. */
#include "s3/auth.h"

#include <stdio.h>
#include <string.h>

#include "s3/auth_internal.h"
#include "util/str.h"

/* --- query string ------------------------------------------------------------------------- */

void auth_query_parse(arena *a, const char *raw, qlist *out)
{
    out->n = 0;
    out->v = NULL;
    if (!raw || !*raw) return;
    size_t cap = 1;
    for (const char *p = raw; *p; p++)
        if (*p == '&') cap++;
    out->v = arena_alloc(a, cap * sizeof *out->v);
    const char *p = raw;
    for (;;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len) {   /* "a&&b" and a trailing '&' carry no parameter */
            qparam *qp = &out->v[out->n++];
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            qp->kraw = arena_strndup(a, p, klen);
            qp->has_eq = eq != NULL;
            qp->vraw = eq ? arena_strndup(a, eq + 1, len - klen - 1) : "";
            /* A malformed escape is kept as it came: it can still be signed byte for byte. */
            qp->key = url_decode(a, qp->kraw, strlen(qp->kraw), false, &qp->keylen);
            if (!qp->key) {
                qp->key = qp->kraw;
                qp->keylen = strlen(qp->kraw);
            }
            qp->val = url_decode(a, qp->vraw, strlen(qp->vraw), false, &qp->vallen);
            if (!qp->val) {
                qp->val = qp->vraw;
                qp->vallen = strlen(qp->vraw);
            }
        }
        if (!amp) break;
        p = amp + 1;
    }
}

const char *auth_query_get(const qlist *q, const char *key)
{
    /* The first occurrence wins (WOS-API.md §2.7). */
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->v[i].key, key) == 0) return q->v[i].val;
    return NULL;
}

/* --- shared helpers ----------------------------------------------------------------------- */

s3_err auth_fail(const auth_req *ar, s3_err e, const char *message)
{
    *ar->message = message;
    return e;
}

s3_err auth_lookup_secret(const auth_req *ar, const char *ak, char secret[AUTH_SECRET_MAX])
{
    size_t n = strlen(ak);
    if (n == 0 || n >= sizeof ar->out->access_key || !ar->c->lookup ||
        ar->c->lookup(ar->c->lookup_cls, ak, secret, AUTH_SECRET_MAX) != 0)
        return auth_fail(ar, S3E_InvalidAccessKeyId, NULL);
    secret[AUTH_SECRET_MAX - 1] = 0;
    memcpy(ar->out->access_key, ak, n + 1);
    return S3E_OK;
}

void sb_init(sbuf *s, arena *a, size_t cap)
{
    s->a = a;
    s->cap = cap < 64 ? 64 : cap;
    s->p = arena_alloc(a, s->cap);
    s->len = 0;
}

void sb_putn(sbuf *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t nc = s->cap * 2;
        while (nc < s->len + n + 1) nc *= 2;
        char *np = arena_alloc(s->a, nc);
        memcpy(np, s->p, s->len);
        s->p = np;
        s->cap = nc;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = 0;
}

void sb_puts(sbuf *s, const char *p) { sb_putn(s, p, strlen(p)); }
void sb_putc(sbuf *s, char c) { sb_putn(s, &c, 1); }

/* --- dispatch ----------------------------------------------------------------------------- */

static bool has_param(const qlist *q, const char *key) { return auth_query_get(q, key) != NULL; }

/* Whether the query has prefix + Algorithm, Credential or Signature: matched in place, since
 * every request asks twice (building the three names cost six snprintf calls a request). */
static bool has_v4_query(const qlist *q, const char *prefix)
{
    static const char *const names[] = {"Algorithm", "Credential", "Signature"};
    size_t pl = strlen(prefix);
    for (size_t i = 0; i < q->n; i++) {
        const char *k = q->v[i].key;
        if (strncmp(k, prefix, pl) != 0) continue;
        for (size_t j = 0; j < sizeof names / sizeof *names; j++)
            if (strcmp(k + pl, names[j]) == 0) return true;
    }
    return false;
}

s3_err auth_verify(const http_req *r, const auth_ctx *c, arena *a, auth_result *out,
                   const char **message)
{
    const char *dummy;
    if (!message) message = &dummy;
    *message = NULL;
    memset(out, 0, sizeof *out);
    out->dialect = DIALECT_WOS;

    qlist q;
    auth_query_parse(a, http_query_raw(r), &q);
    auth_req ar = {.r = r, .c = c, .a = a, .q = &q, .out = out, .message = message};

    bool q_amz = has_v4_query(&q, "X-Amz-");
    bool q_wos = has_v4_query(&q, "X-Wos-");
    bool q_v2 = has_param(&q, "AWSAccessKeyId") || has_param(&q, "WOSAccessKeyId") ||
                has_param(&q, "Signature");
    const char *authz = http_header(r, "authorization");

    if (authz) {
        while (*authz == ' ' || *authz == '\t') authz++;
        size_t tok = strcspn(authz, " \t");
        const char *rest = authz + tok;
        while (*rest == ' ' || *rest == '\t') rest++;
        bool aws = tok >= 3 && strncmp(authz, "AWS", 3) == 0;
        out->dialect = aws ? DIALECT_AWS : DIALECT_WOS;
        if (q_amz || q_wos || q_v2)
            return auth_fail(&ar, S3E_InvalidArgument,
                             "Only one auth mechanism allowed; only the X-Amz-Algorithm query "
                             "parameter, Signature query string parameter or the Authorization "
                             "header should be specified");
        /* The algorithm is case-sensitive (WOS-API.md §2.2). */
        if (tok == 16 && strncmp(authz, "AWS4-HMAC-SHA256", 16) == 0)
            return auth_v4_header(&ar, false, rest);
        if (tok == 15 && strncmp(authz, "WOS-HMAC-SHA256", 15) == 0)
            return auth_v4_header(&ar, true, rest);
        if (tok == 3 && strncmp(authz, "AWS", 3) == 0) return auth_v2_header(&ar, false, rest);
        if (tok == 3 && strncmp(authz, "WOS", 3) == 0) return auth_v2_header(&ar, true, rest);
        /* A V4-shaped header under another algorithm name (wos-hmac-sha256, …-SHA512) is an
         * unsupported algorithm (400, WOS-API.md §2.2); anything else ("Bearer …", garbage)
         * is a malformed header: 403 AccessDenied for WOS (§8.2), AWS's 400 otherwise. */
        if (strstr(rest, "Credential=") || strstr(rest, "Signature="))
            return auth_fail(&ar, S3E_InvalidArgument, "Only AWS4-HMAC-SHA256 is supported");
        if (aws) return auth_fail(&ar, S3E_InvalidArgument, "Unsupported Authorization Type");
        return auth_fail(&ar, S3E_AccessDenied, NULL);
    }
    if (q_amz) {
        out->dialect = DIALECT_AWS;
        return auth_v4_query(&ar, "X-Amz-");
    }
    if (q_wos) return auth_v4_query(&ar, "X-Wos-");
    if (q_v2) return auth_v2_query(&ar);

    out->kind = AUTH_ANON;
    return S3E_OK;
}
