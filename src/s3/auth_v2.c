/* auth_v2 — Signature Version 2: "Authorization: AWS AK:sig", its WOS twin "WOS AK:sig"
 * (x-wos-* headers, WOS-API.md §2.6), and the V2 presigned URL (AWSAccessKeyId or
 * WOSAccessKeyId + Expires + Signature, §2.7).
 *
 *   StringToSign = VERB "\n" Content-MD5 "\n" Content-Type "\n" Date "\n"
 *                  CanonicalizedHeaders CanonicalizedResource
 *
 * V2 signs only the query parameters that name a sub-resource, and clients never agreed on
 * the list: botocore, aws-sdk-js and the AWS documentation each have their own, and botocore
 * decodes sub-resource values where aws-sdk-js does not. We build the string-to-sign for each
 * of those conventions and accept the request when one matches. Every convention includes the
 * sub-resources that select an operation (uploads, uploadId, partNumber, acl, …), so a URL
 * whose ?uploads the signature did not cover (or covered misspelt) never verifies — the seed
 * page's error table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/auth_internal.h"
#include "util/hash.h"
#include "util/str.h"
#include "util/timefmt.h"

/* Which client convention counts a name as a sub-resource. */
enum { SR_CORE = 1, SR_BOTO = 2, SR_JS = 4, SR_WOS = 8, SR_ALL = 15 };

static const struct {
    const char *name;
    unsigned set;
} subresources[] = {
    {"accelerate", SR_BOTO | SR_JS},
    {"acl", SR_CORE},
    {"analytics", SR_BOTO | SR_JS},
    {"append", SR_WOS},
    {"avinfo", SR_WOS},
    {"cors", SR_CORE},
    {"defaultObjectAcl", SR_BOTO},
    {"delete", SR_CORE},
    {"inventory", SR_BOTO | SR_JS},
    {"lifecycle", SR_CORE},
    {"list-type", SR_BOTO},   /* botocore signs the "?list-type=2" of its ListObjectsV2 URI */
    {"location", SR_CORE},
    {"logging", SR_CORE},
    {"metadata", SR_WOS},
    {"metrics", SR_BOTO | SR_JS},
    {"notification", SR_CORE},
    {"object-lock", SR_BOTO},
    {"partNumber", SR_CORE},
    {"persistentId", SR_WOS},
    {"policy", SR_CORE},
    {"position", SR_WOS},
    {"replication", SR_BOTO | SR_JS},
    {"requestPayment", SR_CORE},
    {"restore", SR_CORE},
    {"select", SR_BOTO},
    {"select-type", SR_BOTO},
    {"storageClass", SR_BOTO},
    {"symlink", SR_WOS},
    {"tagging", SR_CORE},
    {"torrent", SR_CORE},
    {"uploadId", SR_CORE},
    {"uploads", SR_CORE},
    {"versionId", SR_CORE},
    {"versioning", SR_CORE},
    {"versions", SR_CORE},
    {"website", SR_CORE},
    {"x-wos-process", SR_WOS},
};

/* The response-* overrides are sub-resources for every client, and always signed decoded. */
static bool is_response_override(const char *k)
{
    static const char *const names[] = {"response-cache-control", "response-content-disposition",
                                        "response-content-encoding", "response-content-language",
                                        "response-content-type", "response-expires"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(k, names[i]) == 0) return true;
    return false;
}

static bool is_subresource(const char *k, unsigned set)
{
    for (size_t i = 0; i < sizeof subresources / sizeof *subresources; i++)
        if (strcmp(k, subresources[i].name) == 0) return (subresources[i].set & set) != 0;
    return false;
}

/* One client convention for the string-to-sign. */
typedef struct v2_form {
    const char *prefix;   /* "x-amz-" or "x-wos-": the headers that are signed */
    unsigned set;         /* sub-resource names counted */
    bool raw_values;      /* sub-resource values as sent (aws-sdk-js) rather than decoded */
    bool bucket_slash;    /* "/bucket/" for a path-style "/bucket" (botocore signs it so) */
} v2_form;

typedef struct hdr {
    const char *name, *value;
    size_t order;
} hdr;

static int hdr_cmp(const void *a, const void *b)
{
    const hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

static const char *trim(arena *a, const char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    return arena_strndup(a, s, n);
}

/* "name:v1,v2\n" for every header with the prefix, sorted by lower-case name. */
static void put_prefixed_headers(const auth_req *ar, sbuf *s, const char *prefix)
{
    const http_req *r = ar->r;
    size_t nh = http_header_count(r), n = 0;
    hdr *v = arena_alloc(ar->a, (nh + 1) * sizeof *v);
    for (size_t i = 0; i < nh; i++) {
        const char *name, *value;
        http_header_at(r, i, &name, &value);
        if (!str_has_prefix_ci(name, prefix)) continue;
        char *lname = arena_strdup(ar->a, name);
        for (char *c = lname; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        v[n].name = lname;
        v[n].value = trim(ar->a, value);
        v[n].order = i;
        n++;
    }
    qsort(v, n, sizeof *v, hdr_cmp);
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp(v[i].name, v[i - 1].name) != 0) {
            if (i) sb_putc(s, '\n');
            sb_puts(s, v[i].name);
            sb_putc(s, ':');
        } else {
            sb_putc(s, ',');
        }
        sb_puts(s, v[i].value);
    }
    if (n) sb_putc(s, '\n');
}

typedef struct subres {
    const char *name, *value;   /* value NULL: "name" alone */
    size_t order;
} subres;

static int subres_cmp(const void *a, const void *b)
{
    const subres *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c) return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* "/bucket/key?sub&sub=v": the path as received, "/bucket" in front for virtual-host style. */
static void put_resource(const auth_req *ar, sbuf *s, const v2_form *f)
{
    const char *path = http_path_raw(ar->r);
    if (!path || !*path) path = "/";
    if (ar->c->vhost_bucket && *ar->c->vhost_bucket) {
        sb_putc(s, '/');
        sb_puts(s, ar->c->vhost_bucket);
    }
    sb_puts(s, path);
    if (f->bucket_slash && path[0] == '/' && path[1] && !strchr(path + 1, '/')) sb_putc(s, '/');

    const qlist *q = ar->q;
    subres *v = arena_alloc(ar->a, (q->n + 1) * sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < q->n; i++) {
        const qparam *p = &q->v[i];
        bool resp = is_response_override(p->key);
        if (!resp && !is_subresource(p->key, f->set)) continue;
        v[n].name = p->key;
        v[n].value = !p->has_eq ? NULL : (f->raw_values && !resp) ? p->vraw : p->val;
        v[n].order = i;
        n++;
    }
    qsort(v, n, sizeof *v, subres_cmp);
    for (size_t i = 0; i < n; i++) {
        sb_putc(s, i ? '&' : '?');
        sb_puts(s, v[i].name);
        if (v[i].value) {
            sb_putc(s, '=');
            sb_puts(s, v[i].value);
        }
    }
}

/* The string-to-sign of one form. expires: the Expires parameter (query form), else NULL.
 * An x-amz-date (x-wos-date) header empties the Date line and is signed among the x-*
 * headers (the AWS rule), so a signature over Date alone does not verify a request that
 * carries x-amz-date (WOS-API.md §8.2, "signature uses Date but request uses x-amz-date"). */
static const char *string_to_sign(const auth_req *ar, const v2_form *f, const char *expires)
{
    const http_req *r = ar->r;
    const char *md5 = http_header(r, "content-md5"), *ctype = http_header(r, "content-type");
    const char *date = http_header(r, "date");
    char xdate_name[16];
    snprintf(xdate_name, sizeof xdate_name, "%sdate", f->prefix);
    const char *date_line = expires ? expires : http_header(r, xdate_name) ? "" : date ? date : "";

    sbuf s;
    sb_init(&s, ar->a, 512);
    sb_puts(&s, http_method(r));
    sb_putc(&s, '\n');
    sb_puts(&s, md5 ? trim(ar->a, md5) : "");
    sb_putc(&s, '\n');
    sb_puts(&s, ctype ? trim(ar->a, ctype) : "");
    sb_putc(&s, '\n');
    sb_puts(&s, trim(ar->a, date_line));
    sb_putc(&s, '\n');
    put_prefixed_headers(ar, &s, f->prefix);
    put_resource(ar, &s, f);
    return s.p;
}

/* The sub-resource conventions, the most likely first for each flavour. */
static const struct {
    unsigned set;
    bool raw;
} aws_sets[] = {{SR_CORE | SR_BOTO | SR_JS, false}, {SR_CORE | SR_BOTO, false},
                {SR_CORE | SR_JS, true}, {SR_CORE, false}},
  wos_sets[] = {{SR_ALL, false}, {SR_CORE | SR_WOS, false}, {SR_ALL, true}, {SR_CORE | SR_WOS, true}};

enum { V2_MAX_FORMS = 16 };

/* Compares sig (base64 of HMAC-SHA1) with every distinct string-to-sign of the forms given by
 * prefixes × sub-resource conventions. */
static bool v2_matches(const auth_req *ar, const char *secret, const char *sig, const char *const *prefixes,
                       size_t nprefixes, bool wos_sets_first, const char *expires)
{
    unsigned char given[SHA1_LEN + 2];
    size_t sl = strlen(sig);
    if (base64_decode(sig, sl, given, sizeof given) != SHA1_LEN) return false;

    const char *seen[V2_MAX_FORMS];
    size_t nseen = 0;
    bool ok = false;
    bool bucket_only = !(ar->c->vhost_bucket && *ar->c->vhost_bucket) && http_path_raw(ar->r)[0] == '/' &&
                       http_path_raw(ar->r)[1] && !strchr(http_path_raw(ar->r) + 1, '/');
    for (int slash = 0; slash < (bucket_only ? 2 : 1) && !ok; slash++)
    for (size_t ip = 0; ip < nprefixes && !ok; ip++)
        for (int pass = 0; pass < 2 && !ok; pass++) {
            bool use_wos = (pass == 0) == wos_sets_first;
            size_t nsets = use_wos ? sizeof wos_sets / sizeof *wos_sets : sizeof aws_sets / sizeof *aws_sets;
            for (size_t is = 0; is < nsets && !ok; is++) {
                v2_form f = {.prefix = prefixes[ip],
                             .set = use_wos ? wos_sets[is].set : aws_sets[is].set,
                             .raw_values = use_wos ? wos_sets[is].raw : aws_sets[is].raw,
                             .bucket_slash = slash == 1};
                const char *sts = string_to_sign(ar, &f, expires);
                bool dup = false;
                for (size_t k = 0; k < nseen && !dup; k++) dup = strcmp(seen[k], sts) == 0;
                if (dup) continue;
                if (nseen < V2_MAX_FORMS) seen[nseen++] = sts;
                unsigned char mac[SHA1_LEN];
                hmac_sha1(secret, strlen(secret), sts, strlen(sts), mac);
                ok = ct_equal(mac, given, SHA1_LEN);
            }
        }
    return ok;
}

s3_err auth_v2_header(const auth_req *ar, bool wos, const char *cred)
{
    ar->out->dialect = wos ? DIALECT_WOS : DIALECT_AWS;
    const char *colon = strchr(cred, ':');
    const char *sig = colon ? colon + 1 : "";
    while (*sig == ' ') sig++;
    size_t aklen = colon ? (size_t)(colon - cred) : 0;
    while (aklen && (cred[aklen - 1] == ' ' || cred[aklen - 1] == '\t')) aklen--;
    char *sigc = arena_strdup(ar->a, sig);
    for (size_t n = strlen(sigc); n && (sigc[n - 1] == ' ' || sigc[n - 1] == '\t'); n--) sigc[n - 1] = 0;
    if (!colon || aklen == 0 || !*sigc)
        return auth_fail(ar, S3E_InvalidArgument,
                         "Authorization header is invalid. Expected AccessKeyId:signature");
    char *ak = arena_strndup(ar->a, cred, aklen);

    /* The x-*-date header wins over Date (WOS-API.md §2.3). */
    const char *d = http_header(ar->r, wos ? "x-wos-date" : "x-amz-date");
    if (!d) d = http_header(ar->r, "date");
    int64_t t;
    if (!d || !time_parse(d, &t))
        return auth_fail(ar, S3E_AccessDenied,
                         wos ? "Authentication requires a valid Date or x-wos-date header"
                             : "AWS authentication requires a valid Date or x-amz-date header");
    if (t > ar->c->now + AUTH_MAX_SKEW || t < ar->c->now - AUTH_MAX_SKEW)
        return auth_fail(ar, S3E_RequestTimeTooSkewed, NULL);

    char secret[AUTH_SECRET_MAX];
    s3_err e = auth_lookup_secret(ar, ak, secret);
    if (e != S3E_OK) return e;
    const char *prefix = wos ? "x-wos-" : "x-amz-";
    bool ok = v2_matches(ar, secret, sigc, &prefix, 1, wos, NULL);
    explicit_bzero(secret, sizeof secret);
    if (!ok) return auth_fail(ar, S3E_SignatureDoesNotMatch, NULL);
    ar->out->kind = AUTH_V2_HEADER;
    ar->out->payload = PAYLOAD_UNSIGNED;
    return S3E_OK;
}

s3_err auth_v2_query(const auth_req *ar)
{
    /* WOS documents V2 presigning as its own (WOS-API.md §2.7): the WOS dialect answers. */
    ar->out->dialect = DIALECT_WOS;
    const char *ak = auth_query_get(ar->q, "AWSAccessKeyId");
    bool wos_name = false;
    if (!ak) {
        ak = auth_query_get(ar->q, "WOSAccessKeyId");
        wos_name = ak != NULL;
    }
    const char *expires = auth_query_get(ar->q, "Expires");
    const char *sig = auth_query_get(ar->q, "Signature");
    if (!ak || !*ak || !expires || !sig || !*sig)
        return auth_fail(ar, S3E_AuthorizationQueryParametersError, NULL);
    size_t el = strlen(expires);
    if (el == 0 || el > 18 || strspn(expires, "0123456789") != el)
        return auth_fail(ar, S3E_AccessDenied,
                         arena_printf(ar->a, "Invalid date (should be seconds since epoch): %s", expires));
    /* Expiry is checked before the signature (WOS-API.md §2.7). */
    if (ar->c->now > strtoll(expires, NULL, 10)) return auth_fail(ar, S3E_AccessDenied, "Request has expired");

    char secret[AUTH_SECRET_MAX];
    s3_err e = auth_lookup_secret(ar, ak, secret);
    if (e != S3E_OK) return e;
    /* The parameter's spelling hints at the client, not at the headers it signed: try both. */
    const char *prefixes[2] = {wos_name ? "x-wos-" : "x-amz-", wos_name ? "x-amz-" : "x-wos-"};
    bool ok = v2_matches(ar, secret, sig, prefixes, 2, wos_name, expires);
    explicit_bzero(secret, sizeof secret);
    if (!ok) return auth_fail(ar, S3E_SignatureDoesNotMatch, NULL);
    ar->out->kind = AUTH_V2_QUERY;
    ar->out->payload = PAYLOAD_UNSIGNED;
    return S3E_OK;
}
