/* ops_post — PostObject: a browser form upload (POST /bucket, multipart/form-data).
 *
 * The form carries the key, the object's headers, a base64 policy and its signature, then the
 * file. Fields are collected until the file part starts; there the signature (WOS-HMAC-SHA256
 * x-wos-*, AWS SigV4 x-amz-*, or AWS SigV2 AWSAccessKeyId/signature) and every policy condition
 * but the size are checked, so a refused upload is answered without storing a byte. The file
 * then streams through the object writer; fields after it are ignored, as S3 does. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/authz.h"
#include "s3/form.h"
#include "s3/s3_internal.h"
#include "util/log.h"
#include "util/str.h"
#include "util/timefmt.h"

enum { FIELDS_MAX = 64, FIELD_MAX = 20 * 1024, FIELDS_TOTAL_MAX = 64 * 1024 };

typedef struct post_state {
    form_parser *form;
    const char *names[FIELDS_MAX];
    buf values[FIELDS_MAX];
    int nfields;
    size_t total;
    int cur;                 /* field being read, -1 none */
    bool in_file, file_done, file_seen;
    const char *filename, *file_ctype;
    objw *w;
    const char *key, *storage_class, *headers;
    int64_t min_len, max_len;   /* content-length-range; max -1 = none */
    s3_err err;
} post_state;

static const char *field(post_state *s, const char *name)
{
    for (int i = 0; i < s->nfields; i++)
        if (!strcasecmp(s->names[i], name)) return s->values[i].data ? s->values[i].data : "";
    return NULL;
}

/* --- policy --------------------------------------------------------------------------------- */

static s3_err policy_fail(s3_req *q, const char *why)
{
    return s3_fail(q, S3E_AccessDenied, arena_printf(q->a, "Invalid according to Policy: %s", why));
}

/* The value a policy condition names with "$name". */
static const char *cond_value(s3_req *q, post_state *s, const char *name)
{
    if (!strcasecmp(name, "bucket")) return q->bucket;
    const char *v = field(s, name);
    return v ? v : "";
}

static bool exempt_field(const char *n)
{
    static const char *exempt[] = {"policy", "signature", "x-amz-signature", "x-wos-signature", "file",
                                   "awsaccesskeyid", "wosaccesskeyid", "accesskeyid", NULL};
    for (int i = 0; exempt[i]; i++)
        if (!strcasecmp(n, exempt[i])) return true;
    return str_has_prefix_ci(n, "x-ignore-");
}

static s3_err check_policy(s3_req *q, post_state *s, const char *policy_b64)
{
    size_t pl = strlen(policy_b64);
    unsigned char *raw = arena_alloc(q->a, pl + 1);
    int n = base64_decode(policy_b64, pl, raw, pl);
    if (n < 0) return s3_fail(q, S3E_InvalidArgument, "Invalid Policy: Invalid Base64 encoding.");
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)raw, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        return s3_fail(q, S3E_InvalidArgument, "Invalid Policy: Invalid JSON.");
    }
    s3_err e = S3E_OK;
    const char *exp = json_string_value(json_object_get(doc, "expiration"));
    int64_t t;
    json_t *conds = json_object_get(doc, "conditions");
    bool *covered = arena_alloc(q->a, (size_t)(s->nfields + 1) * sizeof *covered);
    if (!exp || !time_parse(exp, &t)) {
        e = s3_fail(q, S3E_InvalidArgument, "Invalid Policy: Invalid 'expiration' value.");
    } else if (t < time_now_ms() / 1000) {
        e = policy_fail(q, "Policy expired.");
    } else if (!json_is_array(conds)) {
        e = s3_fail(q, S3E_InvalidArgument, "Invalid Policy: Invalid 'conditions' value.");
    }
    size_t i;
    json_t *c;
    if (!e) json_array_foreach(conds, i, c) {
        const char *name = NULL, *want = NULL, *op = "eq";
        if (json_is_object(c) && json_object_size(c) == 1) {
            const char *k;
            json_t *v;
            json_object_foreach(c, k, v) {
                name = k;
                want = json_string_value(v);
            }
            if (name && *name == '$') name++;
        } else if (json_is_array(c) && json_array_size(c) == 3) {
            op = json_string_value(json_array_get(c, 0));
            if (op && !strcasecmp(op, "content-length-range")) {
                json_t *lo = json_array_get(c, 1), *hi = json_array_get(c, 2);
                if (!json_is_integer(lo) || !json_is_integer(hi)) {
                    e = s3_fail(q, S3E_InvalidArgument, "Invalid Policy: Invalid content-length-range.");
                    break;
                }
                s->min_len = json_integer_value(lo);
                s->max_len = json_integer_value(hi);
                continue;
            }
            name = json_string_value(json_array_get(c, 1));
            want = json_string_value(json_array_get(c, 2));
            if (!name || *name != '$') name = NULL;
            else name++;
        }
        if (!name || !want || !op || (strcasecmp(op, "eq") != 0 && strcasecmp(op, "starts-with") != 0)) {
            e = s3_fail(q, S3E_InvalidArgument, "Invalid Policy: Invalid Simple-Condition.");
            break;
        }
        const char *have = cond_value(q, s, name);
        bool ok = !strcasecmp(op, "eq") ? !strcmp(have, want) : !strncmp(have, want, strlen(want));
        if (!ok) {
            e = policy_fail(q, arena_printf(q->a, "Policy Condition failed: [\"%s\", \"$%s\", \"%s\"]", op, name, want));
            break;
        }
        for (int f = 0; f < s->nfields; f++)
            if (!strcasecmp(s->names[f], name)) covered[f] = true;
    }
    if (!e)
        for (int f = 0; f < s->nfields; f++)
            if (!covered[f] && !exempt_field(s->names[f]) && strcasecmp(s->names[f], "bucket") != 0) {
                e = policy_fail(q, arena_printf(q->a, "Extra input fields: %s", s->names[f]));
                break;
            }
    json_decref(doc);
    return e;
}

/* --- signature ------------------------------------------------------------------------------ */

static s3_err check_signature(s3_req *q, post_state *s, const char *policy)
{
    char secret[256];
    const char *alg = field(s, "x-wos-algorithm");
    bool wos = alg != NULL;
    if (!alg) alg = field(s, "x-amz-algorithm");
    if (alg) {
        q->dialect = wos ? DIALECT_WOS : DIALECT_AWS;
        const char *px = wos ? "x-wos-" : "x-amz-";
        const char *cred = field(s, arena_printf(q->a, "%scredential", px));
        const char *date = field(s, arena_printf(q->a, "%sdate", px));
        const char *sig = field(s, arena_printf(q->a, "%ssignature", px));
        if (strcmp(alg, wos ? "WOS-HMAC-SHA256" : "AWS4-HMAC-SHA256") != 0)
            return s3_fail(q, S3E_InvalidArgument, "Only AWS4-HMAC-SHA256 is supported");
        if (!cred || !date || !sig)
            return s3_fail(q, S3E_InvalidArgument, arena_printf(q->a, "Bucket POST must contain fields %scredential, %sdate and %ssignature", px, px, px));
        /* credential: AK/yyyymmdd/region/service/terminator */
        char *parts[5] = {0};
        char *c = arena_strdup(q->a, cred);
        for (int i = 0; i < 5; i++) {
            parts[i] = c;
            c = strchr(c, '/');
            if (!c && i < 4) return s3_fail(q, S3E_InvalidArgument, "Invalid credential.");
            if (c) *c++ = 0;
        }
        if (c || strcmp(parts[3], wos ? "wos" : "s3") != 0 || strcmp(parts[4], wos ? "wos_request" : "aws4_request") != 0 ||
            strlen(parts[1]) != 8 || strncmp(date, parts[1], 8) != 0)
            return s3_fail(q, S3E_InvalidArgument, "Invalid credential.");
        if (strcmp(parts[2], q->cfg->region) != 0)
            return s3_fail(q, S3E_AuthorizationHeaderMalformed,
                           arena_printf(q->a, "The authorization header is malformed; the region '%s' is wrong; expecting '%s'",
                                        parts[2], q->cfg->region));
        if (s3_lookup_secret(q, parts[0], secret, sizeof secret)) return S3E_InvalidAccessKeyId;
        unsigned char key[32], mac[32];
        sigv4_signing_key(wos, secret, parts[1], parts[2], wos ? "wos" : "s3", key);
        hmac_sha256(key, 32, policy, strlen(policy), mac);
        char hex[65];
        hex_encode(mac, 32, hex);
        if (strlen(sig) != 64 || !ct_equal(hex, sig, 64)) return S3E_SignatureDoesNotMatch;
        snprintf(q->auth.access_key, sizeof q->auth.access_key, "%s", parts[0]);
        return S3E_OK;
    }
    const char *ak = field(s, "AWSAccessKeyId");
    if (!ak) ak = field(s, "WOSAccessKeyId");
    if (!ak) ak = field(s, "accesskeyid");
    const char *sig = field(s, "signature");
    if (!ak || !sig) return S3E_AccessDenied;   /* a policy nobody signed */
    if (s3_lookup_secret(q, ak, secret, sizeof secret)) return S3E_InvalidAccessKeyId;
    unsigned char mac[20];
    hmac_sha1(secret, strlen(secret), policy, strlen(policy), mac);
    char b64[32];
    size_t bl = base64_encode(mac, 20, b64);
    if (strlen(sig) != bl || !ct_equal(b64, sig, bl)) return S3E_SignatureDoesNotMatch;
    snprintf(q->auth.access_key, sizeof q->auth.access_key, "%s", ak);
    return S3E_OK;
}

/* --- the file part: everything is known, decide ---------------------------------------------- */

static s3_err start_file(s3_req *q, post_state *s)
{
    const char *policy = field(s, "policy");
    s3_err e = S3E_OK;
    if (!policy) {
        bool signed_form = field(s, "signature") || field(s, "x-amz-signature") || field(s, "x-wos-signature");
        if (signed_form) return s3_fail(q, S3E_InvalidArgument, "Bucket POST must contain a field named 'policy'.");
        /* Neither policy nor signature: an anonymous upload, for buckets whose policy or ACL
         * lets everyone write (authorised below). */
    } else {
        e = check_signature(q, s, policy);
        if (!e) e = check_policy(q, s, policy);
        if (e) return e;
    }

    const char *key = field(s, "key");
    if (!key || !*key) return s3_fail(q, S3E_InvalidArgument, "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.");
    /* ${filename} stands for the name of the uploaded file. */
    const char *fn = strstr(key, "${filename}");
    if (fn) {
        const char *base = s->filename ? s->filename : "";
        const char *slash = strrchr(base, '/');
        const char *bslash = strrchr(base, '\\');
        if (bslash > slash) slash = bslash;
        if (slash) base = slash + 1;
        key = arena_printf(q->a, "%.*s%s%s", (int)(fn - key), key, base, fn + 11);
    }
    size_t kl = strlen(key);
    if (kl > S3_MAX_KEY) return S3E_KeyTooLongError;
    if (!utf8_valid(key, kl)) return s3_fail(q, S3E_InvalidArgument, "The key must be UTF-8.");
    s->key = key;

    meta_bucket b;
    if (authz_bucket(q->bucket, &b) != META_OK) return S3E_NoSuchBucket;
    s->storage_class = arena_strdup(q->a, b.storage_class);
    const char *sc = field(s, "x-wos-storage-class");
    if (!sc) sc = field(s, "x-amz-storage-class");
    if (sc && !(s->storage_class = s3_storage_class_parse(sc))) return S3E_InvalidStorageClass;
    const char *acl = field(s, "acl");
    if (!acl) acl = field(s, "x-wos-acl");
    if (!acl) acl = field(s, "x-amz-acl");
    q->form_acl = acl;
    if (acl && !(acl = s3_canned_acl(acl)))
        return s3_fail(q, S3E_NotImplemented,
                       "Only the canned ACLs private, public-read, public-read-write and authenticated-read are supported.");
    /* Now the form has said who signed it: may that principal (or anyone) write this key? */
    if ((e = authz_check(q, IAM_ACT_PUT_OBJECT, q->bucket, key, ""))) return e;

    /* Stored headers: the form's own, with the file part's Content-Type as a fallback. */
    const char *names[FIELDS_MAX + 1], *values[FIELDS_MAX + 1];
    size_t n = 0;
    bool has_ct = false;
    for (int i = 0; i < s->nfields; i++) {
        names[n] = s->names[i];
        values[n] = s->values[i].data ? s->values[i].data : "";
        if (!strcasecmp(names[n], "content-type")) has_ct = true;
        n++;
    }
    if (!has_ct && s->file_ctype) {
        names[n] = "content-type";
        values[n++] = s->file_ctype;
    }
    if ((e = s3_headers_collect_pairs(q, n, names, values, &s->headers))) return e;
    s->headers = s3_headers_set_acl(q, s->headers, acl);
    /* S3's form field for tags is a Tagging document, not x-amz-tagging's query form. */
    const char *tagging = field(s, "tagging"), *tags = NULL;
    if (tagging) {
        if ((e = s3_tagging_from_document(q, tagging, strlen(tagging), &tags))) return e;
        s->headers = s3_headers_set_line(q, s->headers, S3_TAGGING_HEADER, *tags ? tags : NULL);
    }
    if ((e = s3_tagging_write_allowed(q, q->bucket, key, tags))) return e;
    return objw_new_for(q, -1, true, s->storage_class, &s->w);
}

/* --- form callbacks -------------------------------------------------------------------------- */

static int on_part_begin(void *cls, const char *name, const char *filename, const char *ctype)
{
    s3_req *q = cls;
    post_state *s = q->op_state;
    s->cur = -1;
    if (s->file_done) return 0;
    if (!strcasecmp(name, "file")) {
        if (s->file_seen) return 0;
        s->file_seen = s->in_file = true;
        s->filename = filename ? arena_strdup(q->a, filename) : NULL;
        s->file_ctype = ctype ? arena_strdup(q->a, ctype) : NULL;
        s->err = start_file(q, s);
        return s->err ? 1 : 0;
    }
    if (s->nfields == FIELDS_MAX) {
        s->err = s3_fail(q, S3E_MaxMessageLengthExceeded, "Too many form fields.");
        return 1;
    }
    s->cur = s->nfields++;
    s->names[s->cur] = arena_strdup(q->a, name);
    return 0;
}

static int on_part_data(void *cls, const char *data, size_t n)
{
    s3_req *q = cls;
    post_state *s = q->op_state;
    if (s->in_file) {
        s->err = objw_write(s->w, data, n);
        return s->err ? 1 : 0;
    }
    if (s->cur < 0) return 0;
    s->total += n;
    if (s->values[s->cur].len + n > FIELD_MAX || s->total > FIELDS_TOTAL_MAX) {
        s->err = s3_fail(q, S3E_MaxMessageLengthExceeded, "A form field is too large.");
        return 1;
    }
    buf_append(&s->values[s->cur], data, n);
    return 0;
}

static int on_part_end(void *cls)
{
    s3_req *q = cls;
    post_state *s = q->op_state;
    if (s->in_file) {
        s->in_file = false;
        s->file_done = true;
    }
    if (s->cur >= 0 && !s->values[s->cur].data) buf_append(&s->values[s->cur], "", 0);
    s->cur = -1;
    return 0;
}

static const form_callbacks callbacks = {on_part_begin, on_part_data, on_part_end};

/* --- the operation ----------------------------------------------------------------------------- */

static s3_err post_begin(s3_req *q)
{
    if (!s3_bucket_name_valid(q->bucket) || authz_bucket(q->bucket, &(meta_bucket){0}) != META_OK)
        return S3E_NoSuchBucket;
    post_state *s = arena_alloc(q->a, sizeof *s);
    s->cur = -1;
    s->max_len = -1;
    q->op_state = s;
    s->form = form_new(q->a, http_header(q->http, "Content-Type"));
    if (!s->form)
        return s3_fail(q, S3E_InvalidArgument, "POST requires multipart/form-data with a boundary; anything else is not supported.");
    return S3E_OK;
}

static s3_err post_body(s3_req *q, const char *data, size_t n)
{
    post_state *s = q->op_state;
    int rc = form_feed(s->form, data, n, &callbacks, q);
    if (rc == FORM_MALFORMED) return S3E_MalformedPOSTRequest;
    if (rc) return s->err ? s->err : S3E_MalformedPOSTRequest;
    return S3E_OK;
}

static s3_err post_end(s3_req *q)
{
    post_state *s = q->op_state;
    if (form_finish(s->form) != 0) return S3E_MalformedPOSTRequest;
    if (!s->file_seen) return s3_fail(q, S3E_InvalidArgument, "POST requires exactly one file upload per request.");
    objw_result res;
    s3_err e = objw_finish(s->w, &res);
    if (e) return e;
    if (res.size < s->min_len) return s3_fail(q, S3E_EntityTooSmall, "Your proposed upload is smaller than the minimum allowed size");
    if (s->max_len >= 0 && res.size > s->max_len) return s3_fail(q, S3E_EntityTooLarge, "Your proposed upload exceeds the maximum allowed size");

    if ((e = objw_commit_object(s->w, &res, s->key, NULL, s->storage_class, s->headers, NULL))) return e;

    const char *etag = arena_printf(q->a, "\"%s\"", res.etag);
    const char *host = http_header(q->http, "Host");
    const char *enc_key = uri_encode(q->a, s->key, strlen(s->key), true);
    const char *location = q->vhost ? arena_printf(q->a, "http://%s/%s", host ? host : "", enc_key)
                                    : arena_printf(q->a, "http://%s/%s/%s", host ? host : "", q->bucket, enc_key);
    http_resp_header(q->http, "ETag", etag);
    http_resp_header(q->http, "Location", location);
    const char *redirect = field(s, "success_action_redirect");
    if (!redirect) redirect = field(s, "redirect");
    if (redirect && *redirect) {
        const char *sep = strchr(redirect, '?') ? "&" : "?";
        http_resp_header_set(q->http, "Location",
                             arena_printf(q->a, "%s%sbucket=%s&key=%s&etag=%s", redirect, sep, q->bucket,
                                          uri_encode(q->a, s->key, strlen(s->key), false),
                                          uri_encode(q->a, etag, strlen(etag), false)));
        s3_respond_empty(q, 303);
        return S3E_OK;
    }
    const char *status = field(s, "success_action_status");
    if (status && !strcmp(status, "201")) {
        xmlw w = {0};
        s3_xml_begin(q, &w, "PostResponse");
        xml_elem(&w, "Location", location);
        xml_elem(&w, "Bucket", q->bucket);
        xml_elem(&w, "Key", s->key);
        xml_elem(&w, "ETag", etag);
        xml_end(&w, "PostResponse");
        s3_respond_xml(q, 201, &w);
        return S3E_OK;
    }
    s3_respond_empty(q, status && !strcmp(status, "200") ? 200 : 204);
    return S3E_OK;
}

static void post_cleanup(s3_req *q)
{
    post_state *s = q->op_state;
    if (!s) return;
    objw_abort(s->w);
    for (int i = 0; i < s->nfields; i++) buf_free(&s->values[i]);
}

const s3_op op_post_object = {"PostObject", "wos:PutObject", post_begin, post_body, post_end, post_cleanup};
