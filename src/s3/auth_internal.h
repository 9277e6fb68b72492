/* auth_internal — what auth.c, auth_v4.c and auth_v2.c share, and nothing outside them sees.
 *
 * auth.c decides which scheme a request uses and hands it to auth_v4_* or auth_v2_*; they share
 * the parsed query string, a string builder on the request arena, the secret lookup and the
 * date rules. */
#ifndef WOSD_S3_AUTH_INTERNAL_H
#define WOSD_S3_AUTH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3/auth.h"

/* Allowed distance between the request's clock and ours (S3: 15 minutes). */
enum { AUTH_MAX_SKEW = 15 * 60, AUTH_SECRET_MAX = 256 };

/* One query parameter, split on the first '='. raw forms are exactly as received; key/val are
 * percent-decoded ('+' kept literal) or the raw bytes when the escape is malformed. */
typedef struct qparam {
    const char *kraw, *vraw;   /* NUL-terminated copies; vraw is "" when there is no '=' */
    const char *key, *val;
    size_t keylen, vallen;     /* decoded lengths (a %00 may hide inside) */
    bool has_eq;
} qparam;

typedef struct qlist {
    qparam *v;
    size_t n;
} qlist;

void auth_query_parse(arena *a, const char *raw, qlist *out);
/* Decoded value of the first parameter named key (case-sensitive), "" when it has no value,
 * NULL when absent. */
const char *auth_query_get(const qlist *q, const char *key);

/* Everything a scheme needs about the request being checked. */
typedef struct auth_req {
    const http_req *r;
    const auth_ctx *c;
    arena *a;
    const qlist *q;
    auth_result *out;
    const char **message;
} auth_req;

/* Sets *message (may be NULL for the table's default) and returns e. */
s3_err auth_fail(const auth_req *ar, s3_err e, const char *message);

/* Looks up the secret of ak through the context; fills out->access_key. Returns S3E_OK or
 * S3E_InvalidAccessKeyId. The caller wipes secret when done. */
s3_err auth_lookup_secret(const auth_req *ar, const char *ak, char secret[AUTH_SECRET_MAX]);

/* --- a string builder on the arena --------------------------------------------------------- */
typedef struct sbuf {
    arena *a;
    char *p;
    size_t len, cap;
} sbuf;

void sb_init(sbuf *s, arena *a, size_t cap);
void sb_putn(sbuf *s, const char *p, size_t n);
void sb_puts(sbuf *s, const char *p);
void sb_putc(sbuf *s, char c);

/* --- the schemes ----------------------------------------------------------------------------- */
/* params: the Authorization value after the algorithm token ("Credential=…, …"). */
s3_err auth_v4_header(const auth_req *ar, bool wos, const char *params);
/* prefix: "X-Amz-" or "X-Wos-", the spelling of the parameter names. */
s3_err auth_v4_query(const auth_req *ar, const char *prefix);
/* cred: the Authorization value after "AWS " / "WOS ". */
s3_err auth_v2_header(const auth_req *ar, bool wos, const char *cred);
s3_err auth_v2_query(const auth_req *ar);

#endif
