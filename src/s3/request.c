/* request — the pipeline every S3/WOS request goes through.
 *
 *   begin:  request id → addressing (Host, path, query; the admin API's /wos-admin/ prefix)
 *           → authentication → operation choice → authorisation (authz.c) → the operation's
 *           own checks. A failure here is answered before the body is read.
 *   body:   the raw body is checked against the signed payload hash or decoded from
 *           aws-chunked, then handed to the operation.
 *   end:    payload checks complete, the operation runs and answers.
 * Errors from any step go through respond_error(), the one writer of error documents. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "s3/authz.h"
#include "s3/s3_internal.h"
#include "util/log.h"
#include "util/str.h"
#include "util/timefmt.h"

static const s3_config *cfg;

/* --- small helpers ----------------------------------------------------------------------- */

const char *s3_param_get(const s3_req *q, const char *name)
{
    for (size_t i = 0; i < q->nparams; i++)
        if (strcmp(q->params[i].name, name) == 0) return q->params[i].value;
    return NULL;
}

bool s3_param_has(const s3_req *q, const char *name)
{
    return s3_param_get(q, name) != NULL;
}

/* One pass over the headers, x-wos-SUFFIX winning over x-amz-SUFFIX (the first of each, as
 * http_header): an upload asks for a dozen of these, and two lookups each behind a snprintf
 * were a tenth of a small request's CPU. */
const char *s3_xhdr(const s3_req *q, const char *suffix)
{
    const char *amz = NULL;
    size_t n = http_header_count(q->http);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        http_header_at(q->http, i, &name, &value);
        if ((name[0] | 0x20) != 'x') continue;
        bool wos = str_has_prefix_ci(name, "x-wos-");
        if (!wos && (amz || !str_has_prefix_ci(name, "x-amz-"))) continue;
        if (strcasecmp(name + 6, suffix) != 0) continue;
        if (wos) return value;
        amz = value;
    }
    return amz;
}

void s3_resp_xhdr(s3_req *q, const char *suffix, const char *value)
{
    char name[128];
    size_t n = strlen(suffix);
    if (n > sizeof name - 7) n = sizeof name - 7;
    memcpy(name, q->dialect == DIALECT_AWS ? "x-amz-" : "x-wos-", 6);
    memcpy(name + 6, suffix, n);
    name[6 + n] = 0;
    http_resp_header(q->http, name, value);
}

const char *s3_ns(const s3_req *q)
{
    return q->dialect == DIALECT_AWS ? NS_S3 : NS_WOS;
}

void s3_xml_begin(const s3_req *q, xmlw *w, const char *root)
{
    xml_begin(w, root, s3_ns(q), q->dialect == DIALECT_WOS);
}

void s3_respond_xml(s3_req *q, int status, xmlw *w)
{
    size_t len;
    char *body = buf_steal(&w->b, &len);
    http_resp_status(q->http, status);
    http_resp_header(q->http, "Content-Type", "application/xml");
    http_resp_body_buf(q->http, body, len);
}

void s3_respond_empty(s3_req *q, int status)
{
    http_resp_status(q->http, status);
    http_resp_body_buf(q->http, NULL, 0);
}

s3_err s3_fail(s3_req *q, s3_err e, const char *message)
{
    q->err_message = message;
    return e;
}

s3_err s3_collect_body(s3_req *q, const char *data, size_t n)
{
    if (q->xml_body.len + n > S3_XML_BODY_MAX)
        return s3_fail(q, S3E_MaxMessageLengthExceeded, NULL);
    buf_append(&q->xml_body, data, n);
    return S3E_OK;
}

s3_err s3_check_body_md5(const s3_req *q)
{
    const char *cm = http_header(q->http, "Content-MD5");
    if (!cm) return S3E_OK;
    unsigned char want[16], got[16];
    base64_decode(cm, strlen(cm), want, 16);
    md5(q->xml_body.data ? q->xml_body.data : "", q->xml_body.len, got);
    if (memcmp(want, got, 16) == 0) return S3E_OK;
    /* The seed page: a Content-MD5 that does not match is a signature failure for WOS. */
    return q->dialect == DIALECT_WOS ? S3E_SignatureDoesNotMatch : S3E_BadDigest;
}

const char *s3_owner_id(const s3_req *q)
{
    if (q->who.root) return "root";
    return q->who.anonymous || !q->who.user[0] ? "anonymous" : q->who.user;
}

const char *s3_owner_display(const s3_req *q, const char *owner)
{
    if (!owner || !*owner) return "anonymous";
    return strcmp(owner, cfg->root_access_key) == 0 ? "root" : owner;
}

void s3_respond_json(s3_req *q, int status, char *body, size_t len)
{
    http_resp_status(q->http, status);
    http_resp_header(q->http, "Content-Type", "application/json");
    http_resp_body_buf(q->http, body, len);
}

bool s3_bucket_name_valid(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 63) return false;
    int dots = 0;
    bool all_digits_dots = true;
    for (size_t i = 0; i < len; i++) {
        char c = n[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
        if (!ok) return false;
        if (!((c >= '0' && c <= '9') || c == '.')) all_digits_dots = false;
        dots += c == '.';
        if (c == '.' && i + 1 < len && (n[i + 1] == '.' || n[i + 1] == '-')) return false;
        if (c == '-' && i + 1 < len && n[i + 1] == '.') return false;
    }
    if (!((n[0] >= 'a' && n[0] <= 'z') || (n[0] >= '0' && n[0] <= '9'))) return false;
    char last = n[len - 1];
    if (!((last >= 'a' && last <= 'z') || (last >= '0' && last <= '9'))) return false;
    if (all_digits_dots && dots == 3) return false;   /* formatted as an IP address */
    /* Prefixes and suffixes S3 reserves. */
    if (strncmp(n, "xn--", 4) == 0 || strncmp(n, "sthree-", 7) == 0) return false;
    if ((len > 8 && strcmp(n + len - 8, "-s3alias") == 0) || (len > 7 && strcmp(n + len - 7, "--ol-s3") == 0))
        return false;
    return true;
}

/* --- responses ---------------------------------------------------------------------------- */

static void common_headers(s3_req *q)
{
    http_resp_header(q->http, "x-wos-request-id", q->request_id);
    http_resp_header(q->http, "x-amz-request-id", q->request_id);
    http_resp_header(q->http, "Server", "wosd");
}

static void respond_error(s3_req *q, s3_err e)
{
    const char *msg = q->err_message ? q->err_message : s3_err_message(e);
    int status = s3_err_status(e);
    /* A warning is for the server's own failures (500, 503); a 501 or 505 is only a client
     * asking for what we do not do, an operation or HTTP/2. */
    if (e != S3E_OK && status >= 500 && status != 501 && status != 505)
        log_warn("request %s %s %s: %s (%s)", q->request_id, http_method(q->http),
                 http_path_raw(q->http), s3_err_code(e), msg);
    else
        log_debug("request %s: %s (%s)", q->request_id, s3_err_code(e), msg);
    http_req *r = q->http;
    if (status == 304) {   /* Not Modified carries no body */
        s3_respond_empty(q, 304);
        return;
    }
    if (q->admin) {   /* the admin API speaks JSON, errors included */
        json_t *doc = json_pack("{s:{s:s,s:s},s:s}", "error", "code", s3_err_code(e), "message", msg,
                                "request_id", q->request_id);
        char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        json_decref(doc);
        s3_respond_json(q, status, body, body ? strlen(body) : 0);
        return;
    }
    xmlw w = {0};
    xml_begin(&w, "Error", NULL, q->dialect == DIALECT_WOS);
    xml_elem(&w, "Code", s3_err_code(e));
    xml_elem(&w, "Message", msg);
    const char *resource = http_path_raw(r);
    if (*resource) xml_elem(&w, "Resource", resource);   /* "": a request line never read */
    xml_elem(&w, "RequestId", q->request_id);
    xml_elem(&w, "HostId", q->request_id);
    xml_end(&w, "Error");
    s3_respond_xml(q, status, &w);
}

/* --- addressing --------------------------------------------------------------------------- */

/* Splits Host into name (lower-case, without port). False when it cannot be parsed. */
static bool host_name(arena *a, const char *host, char **out)
{
    size_t n = strlen(host);
    if (n == 0 || n > 255) return false;
    const char *end = host + n;
    if (host[0] == '[') {   /* IPv6 literal */
        const char *close = strchr(host, ']');
        if (!close) return false;
        *out = arena_strndup(a, host, (size_t)(close - host + 1));
        return true;
    }
    const char *colon = strchr(host, ':');
    if (colon) {
        for (const char *p = colon + 1; p < end; p++)
            if (*p < '0' || *p > '9') return false;
        end = colon;
    }
    char *name = arena_strndup(a, host, (size_t)(end - host));
    for (char *p = name; *p; p++) {
        char c = *p;
        if (c >= 'A' && c <= 'Z') *p = (char)(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_'))
            return false;
    }
    *out = name;
    return true;
}

static s3_err parse_query(s3_req *q);

static s3_err route(s3_req *q)
{
    http_req *r = q->http;
    const char *host = http_header(r, "Host");
    const char *vbucket = NULL;
    if (host) {
        char *name;
        if (!host_name(q->a, host, &name)) return S3E_InvalidURI;
        size_t nl = strlen(name);
        for (int i = 0; i < cfg->ndomains; i++) {
            size_t dl = strlen(cfg->domains[i]);
            if (nl > dl + 1 && name[nl - dl - 1] == '.' && strcasecmp(name + nl - dl, cfg->domains[i]) == 0) {
                vbucket = arena_strndup(q->a, name, nl - dl - 1);
                break;
            }
        }
        if (vbucket && !s3_bucket_name_valid(vbucket)) return S3E_InvalidURI;
    }

    const char *path = http_path_raw(r);
    if (path[0] != '/') {   /* absolute-form: http://authority/path */
        const char *p = strstr(path, "://");
        if (!p) return S3E_InvalidURI;
        p = strchr(p + 3, '/');
        path = p ? p : "/";
    }
    const char *rest = path + 1;
    /* The admin API lives beside the buckets; "wos-admin" is a reserved bucket name. */
    if (!vbucket && strncmp(path, "/wos-admin/", 11) == 0) {
        q->admin = true;
        return parse_query(q);
    }
    if (vbucket) {
        q->vhost = true;
        q->bucket = vbucket;
    } else if (*rest) {
        const char *slash = strchr(rest, '/');
        size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
        size_t dlen;
        char *b = url_decode(q->a, rest, blen, false, &dlen);
        if (!b || dlen != strlen(b)) return S3E_InvalidURI;
        q->bucket = b;
        rest = slash ? slash + 1 : rest + blen;
    }
    if (q->bucket && *rest) {
        size_t klen;
        char *k = url_decode(q->a, rest, strlen(rest), false, &klen);
        if (!k || klen != strlen(k) || !utf8_valid(k, klen)) return S3E_InvalidURI;
        if (klen > S3_MAX_KEY) return S3E_KeyTooLongError;
        q->key = k;
    }
    return parse_query(q);
}

/* Query: name[=value] pairs, decoded ('+' is a space, as S3 reads it). */
static s3_err parse_query(s3_req *q)
{
    const char *qs = http_query_raw(q->http);
    size_t cap = 1;
    for (const char *p = qs; *p; p++) cap += *p == '&';
    q->params = arena_alloc(q->a, cap * sizeof *q->params);
    for (const char *p = qs; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t nlen = eq ? (size_t)(eq - p) : len;
            s3_param *pa = &q->params[q->nparams];
            pa->name = url_decode(q->a, p, nlen, true, NULL);
            pa->has_value = eq != NULL;
            pa->value = eq ? url_decode(q->a, eq + 1, len - nlen - 1, true, NULL) : "";
            if (!pa->name || !pa->value) return S3E_InvalidURI;
            q->nparams++;
        }
        p += len + (amp ? 1 : 0);
    }
    return S3E_OK;
}

/* The dialect a request speaks, before its signature is checked (for early errors). */
static s3_dialect guess_dialect(const http_req *r)
{
    const char *auth = http_header(r, "Authorization");
    if (auth && (strncmp(auth, "AWS4-HMAC-SHA256", 16) == 0 || strncmp(auth, "AWS ", 4) == 0))
        return DIALECT_AWS;
    if (strstr(http_query_raw(r), "X-Amz-Algorithm=")) return DIALECT_AWS;
    return DIALECT_WOS;
}

/* --- operation choice --------------------------------------------------------------------- */

/* Sub-resources of S3 that wosd does not have: answered 501 NotImplemented, never ignored. */
static const char *unsupported[] = {
    "website", "cors", "logging", "notification",
    "replication", "encryption", "requestPayment", "accelerate", "analytics", "inventory",
    "metrics", "intelligent-tiering", "ownershipControls", "publicAccessBlock", "object-lock",
    "legal-hold", "retention", "torrent", "select", "append", "avinfo", "metadata",
    "policyStatus", "attributes", "renameObject", NULL,
};

static const s3_op *choose_op(s3_req *q)
{
    const char *m = http_method(q->http);
    bool get = !strcmp(m, "GET"), head = !strcmp(m, "HEAD"), put = !strcmp(m, "PUT"),
         post = !strcmp(m, "POST"), del = !strcmp(m, "DELETE");
    if (q->admin) return &op_admin;
    /* Reading or deleting a configuration wosd does not have: there is none. */
    const s3_op *none = q->bucket ? s3_bucket_none_op(q, get, del) : NULL;
    if (none) return none;
    for (int i = 0; unsupported[i]; i++)
        if (s3_param_has(q, unsupported[i])) return &op_not_implemented;

    if (!q->bucket) {
        if (get || head) return &op_list_buckets;
        return NULL;
    }
    if (!q->key) {
        if (s3_param_has(q, "acl")) return get ? &op_get_acl : put ? &op_put_acl : NULL;
        if (s3_param_has(q, "policy"))
            return get ? &op_get_bucket_policy : put ? &op_put_bucket_policy : del ? &op_delete_bucket_policy : NULL;
        if (s3_param_has(q, "lifecycle"))
            return get ? &op_get_bucket_lifecycle : put ? &op_put_bucket_lifecycle
                   : del ? &op_delete_bucket_lifecycle : NULL;
        if (s3_param_has(q, "restore") || s3_param_has(q, "tagging")) return &op_not_implemented;
        if (s3_param_has(q, "location")) return get ? &op_get_bucket_location : NULL;
        if (s3_param_has(q, "versioning")) return get ? &op_get_bucket_versioning : put ? &op_not_implemented : NULL;
        if (s3_param_has(q, "versions")) return get ? &op_list_object_versions : NULL;
        if (s3_param_has(q, "uploads")) return get ? &op_list_uploads : NULL;
        if (s3_param_has(q, "delete")) return post ? &op_delete_objects : NULL;
        if (get) return &op_list_objects;
        if (head) return &op_head_bucket;
        if (put) return &op_create_bucket;
        if (del) return &op_delete_bucket;
        if (post) return &op_post_object;
        return NULL;
    }
    if (s3_param_has(q, "acl")) return get ? &op_get_acl : put ? &op_put_acl : NULL;
    if (s3_param_has(q, "policy") || s3_param_has(q, "lifecycle"))
        return &op_not_implemented;   /* objects have no policy or lifecycle */
    if (s3_param_has(q, "restore")) return post ? &op_restore_object : NULL;
    if (s3_param_has(q, "tagging"))
        return get ? &op_get_object_tagging : put ? &op_put_object_tagging : del ? &op_delete_object_tagging : NULL;
    bool upload_id = s3_param_has(q, "uploadId");
    if (s3_param_has(q, "uploads")) return post ? &op_initiate_upload : NULL;
    if (put && (upload_id || s3_param_has(q, "partNumber")))
        return s3_xhdr(q, "copy-source") ? &op_upload_part_copy : &op_upload_part;
    if (upload_id) {
        if (post) return &op_complete_upload;
        if (del) return &op_abort_upload;
        if (get) return &op_list_parts;
        return NULL;
    }
    if (put) return s3_xhdr(q, "copy-source") ? &op_copy_object : &op_put_object;
    if (get) return &op_get_object;
    if (head) return &op_head_object;
    if (del) return &op_delete_object;
    return NULL;
}

/* --- authentication ----------------------------------------------------------------------- */

int s3_lookup_secret(s3_req *q, const char *access_key, char *secret, size_t cap)
{
    return authz_lookup_key(q, access_key, secret, cap);
}

static int lookup_secret(void *cls, const char *access_key, char *secret, size_t cap)
{
    return authz_lookup_key(cls, access_key, secret, cap);
}

static s3_err authenticate(s3_req *q)
{
    auth_ctx c = {
        .region = cfg->region,
        .now = (int64_t)time(NULL),
        .vhost_bucket = q->vhost ? q->bucket : NULL,
        .lookup = lookup_secret,
        .lookup_cls = q,
    };
    const char *msg = NULL;
    s3_err e = auth_verify(q->http, &c, q->a, &q->auth, &msg);
    q->dialect = q->auth.dialect;
    if (e) return s3_fail(q, e, msg);
    if (q->auth.kind == AUTH_ANON) {
        memset(&q->who, 0, sizeof q->who);
        q->who.anonymous = true;
    }
    return S3E_OK;
}

/* Sets up what the body must satisfy: its signed SHA-256, or aws-chunked decoding. */
static s3_err payload_setup(s3_req *q)
{
    http_req *r = q->http;
    q->payload_len = http_content_length(r);
    switch (q->auth.payload) {
    case PAYLOAD_SHA256:
        q->payload_sha = hash_new(HASH_SHA256);
        break;
    case PAYLOAD_STREAMING_SIGNED:
    case PAYLOAD_STREAMING_SIGNED_TRAILER:
    case PAYLOAD_STREAMING_UNSIGNED_TRAILER: {
        const char *dl = s3_xhdr(q, "decoded-content-length");
        char *end;
        long long v = dl ? strtoll(dl, &end, 10) : -1;
        if (!dl || *end || v < 0) {
            if (http_content_length(r) >= 0 || !http_is_chunked(r))
                return s3_fail(q, S3E_MissingContentLength, NULL);
            v = -1;
        }
        q->payload_len = v;
        q->chunked = aws_chunked_new(q->a, &q->auth);
        break;
    }
    case PAYLOAD_UNSIGNED:
        break;
    }
    return S3E_OK;
}

/* An operation that collects its XML body in memory refuses one announced larger than the cap
 * now, before "100 Continue" invites the client to send it: the answer is the one it would get
 * once S3_XML_BODY_MAX bytes had been read (S3's MaxMessageLengthExceeded). A body of unknown
 * length (chunked) is still cut off by s3_collect_body as it arrives. */
static s3_err xml_body_fits(s3_req *q)
{
    if (q->op->body == s3_collect_body && q->payload_len > S3_XML_BODY_MAX)
        return S3E_MaxMessageLengthExceeded;
    return S3E_OK;
}

/* --- the store's health ------------------------------------------------------------------- */

static bool is_write(const http_req *r)
{
    const char *m = http_method(r);
    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0;
}

/* A write the store could not keep must not be acknowledged: with the data directory deleted,
 * SQLite can still commit to the unlinked meta.db, and the object is then lost at the next
 * start. Asked of the disk after the operation, before the answer (an fstat: 3 % of an
 * Initiate's CPU when begin asked it too); in begin only what is known already (a check or the
 * background poll found it gone), to refuse before reading the body. */
static bool store_intact(bool ask_disk)
{
    return !cfg->store_intact || cfg->store_intact(cfg->store_intact_cls, ask_disk);
}

static s3_err store_gone(s3_req *q)
{
    return s3_fail(q, S3E_InternalError, "The server's storage is unavailable.");
}

/* --- the handler -------------------------------------------------------------------------- */

static s3_req *req_of(http_req *r) { return http_ctx(r); }

/* Set on the group thread between group_open and group_close only: without a group thread,
 * grouped ends run on the workers one by one, each with its own store check. */
static _Thread_local bool in_group;
static _Thread_local bool group_store_gone;   /* why the last group was lost */

static http_step finish_with_error(s3_req *q, s3_err e)
{
    respond_error(q, e);
    common_headers(q);
    return HTTP_DONE;
}

static http_step on_begin(http_req *r)
{
    arena *a = http_arena(r);
    s3_req *q = arena_alloc(a, sizeof *q);
    q->http = r;
    q->a = a;
    q->cfg = cfg;
    q->payload_len = -1;
    /* Unique, not secret: nothing is granted by knowing a request id. */
    unique_hex_upper(16, q->request_id);
    http_set_ctx(r, q);
    q->dialect = guess_dialect(r);

    /* The request line is capped at 8 KiB (the request target carries most of it). */
    if (strlen(http_path_raw(r)) + strlen(http_query_raw(r)) > 8192 - 32)
        return finish_with_error(q, s3_fail(q, S3E_InvalidRequest, "The request line is longer than 8 KiB."));
    /* HTTP/1.1 framing: a body whose end is ambiguous is how requests get smuggled past a proxy
     * that frames it differently. Refuse it before reading it, and close the connection. */
    bool coding_unknown;
    const char *framing = http_framing_error(r, &coding_unknown);
    if (framing) {
        http_resp_close(r);
        return finish_with_error(q, s3_fail(q, coding_unknown ? S3E_NotImplemented : S3E_InvalidRequest, framing));
    }
    s3_err e = route(q);
    if (!e) e = authenticate(q);
    if (!e) {
        q->op = choose_op(q);
        if (!q->op) e = S3E_MethodNotAllowed;
    }
    /* Identity policies, the bucket policy and ACLs decide (authz.c). A browser POST carries
     * its signature in the form: that operation authorises once it has read it. */
    if (!e) e = authz_request(q);
    if (!e) e = payload_setup(q);
    if (!e) e = xml_body_fits(q);
    if (!e && is_write(r) && !store_intact(false)) e = store_gone(q);
    if (!e && q->op->begin) e = q->op->begin(q);
    if (e) return finish_with_error(q, e);
    /* Every method but GET and HEAD ends in a durable write: fsync and the metadata commit run
     * on a worker thread, never on the event thread (DESIGN.md). */
    if (is_write(r)) {
        if (q->grouped) http_defer_end_group(r);
        else http_defer_end(r);
    }
    return HTTP_CONTINUE;
}

static int sink(void *cls, const char *data, size_t n)
{
    s3_req *q = cls;
    if (q->failed) return 0;   /* drained; the error is answered at the end */
    if (q->op->body) q->failed = q->op->body(q, data, n);
    return 0;
}

/* After a failure the rest of the body is read and dropped, up to this much, so the client
 * reads the error instead of a connection reset; past it the connection is closed. */
#define DRAIN_MAX ((uint64_t)16 << 20)

static http_step on_body(http_req *r, const char *data, size_t n)
{
    s3_req *q = req_of(r);
    if (q->failed) {
        q->drained += n;
        return q->drained > DRAIN_MAX ? finish_with_error(q, q->failed) : HTTP_CONTINUE;
    }
    if (q->payload_sha) hash_update(q->payload_sha, data, n);
    if (q->chunked) {
        s3_err e = aws_chunked_feed(q->chunked, data, n, sink, q);
        if (e && !q->failed) q->failed = e;
    } else {
        sink(q, data, n);
    }
    return HTTP_CONTINUE;
}

static void on_end(http_req *r)
{
    s3_req *q = req_of(r);
    s3_err e = q->failed;
    if (!e && q->chunked) e = aws_chunked_finish(q->chunked);
    if (!e && q->payload_sha) {
        unsigned char got[32];
        hash_final(q->payload_sha, got);
        q->payload_sha = NULL;
        if (!ct_equal(got, q->auth.payload_sha256, 32)) e = S3E_XAmzContentSHA256Mismatch;
    }
    if (!e && q->op->end) e = q->op->end(q);
    /* An end inside a group is checked once for its whole group, after the commit
     * (on_group_close). */
    if (!e && is_write(r) && !in_group && !store_intact(true)) {
        http_resp_reset(r);   /* no ETag or other sign of success on the error */
        e = store_gone(q);
    }
    if (e) respond_error(q, e);
    q->end_failed = e != S3E_OK;
    common_headers(q);
}

static void on_cleanup(http_req *r)
{
    s3_req *q = req_of(r);
    if (!q) return;
    if (q->op && q->op->cleanup) q->op->cleanup(q);
    hash_discard(q->payload_sha);
    aws_chunked_discard(q->chunked);
    buf_free(&q->xml_body);
}

/* Grouped ends (s3_op.grouped): their changes share one metadata commit, on the group thread
 * (in_group, group_store_gone: above). */

static void on_group_open(void)
{
    in_group = true;
    meta_group_open(cfg->meta);
}

/* The store is asked once a group, after its commit: a commit into a data directory that went
 * meanwhile is not acknowledged (every request of the group gets a 500, as on a failed commit). */
static bool on_group_close(void)
{
    in_group = false;
    bool committed = meta_group_close(cfg->meta) == META_OK;
    group_store_gone = committed && !store_intact(true);
    return committed && !group_store_gone;
}

/* The group's commit failed, or the store went: nothing the group did can be acknowledged. A
 * request that answered an error on its own keeps that answer (it changed nothing either way). */
static void on_group_lost(http_req *r)
{
    s3_req *q = req_of(r);
    if (q->end_failed) return;
    http_resp_reset(r);
    respond_error(q, group_store_gone ? store_gone(q) : S3E_InternalError);
    common_headers(q);
}

/* The HTTP core refuses a message it could not read (http_core_err), answered with S3's error
 * document as S3 answers it: a head over the limit is its 400 RequestHeaderSectionTooLarge,
 * not HTTP's 431. Most come before on_begin, so without a request of ours: one is made here
 * for the answer alone (no arena needed), with a request id of its own. */
static void on_core_error(http_req *r, http_core_err why)
{
    static const struct {
        s3_err e;
        const char *message;   /* NULL: the table's */
    } answer[] = {
        [HTTP_CORE_HEAD_MALFORMED] = {S3E_BadRequest, NULL},
        [HTTP_CORE_VERSION] = {S3E_HTTPVersionNotSupported, NULL},
        [HTTP_CORE_LENGTH] = {S3E_BadRequest, "The Content-Length header is not a plain decimal number."},
        [HTTP_CORE_CHUNKED] = {S3E_IncompleteBody, "The chunked transfer coding of the request body is malformed."},
        [HTTP_CORE_HEAD_TOO_LARGE] = {S3E_RequestHeaderSectionTooLarge, NULL},
    };
    s3_req *q = req_of(r), bare;
    if (!q) {
        bare = (s3_req){.http = r, .cfg = cfg, .payload_len = -1, .dialect = guess_dialect(r)};
        unique_hex_upper(16, bare.request_id);
        q = &bare;
    }
    q->err_message = answer[why].message;
    respond_error(q, answer[why].e);
    common_headers(q);
}

static const http_handler handler = {
    .begin = on_begin,
    .body = on_body,
    .end = on_end,
    .cleanup = on_cleanup,
    .group_open = on_group_open,
    .group_close = on_group_close,
    .group_lost = on_group_lost,
    .core_error = on_core_error,
};

const http_handler *s3_handler(const s3_config *c)
{
    cfg = c;
    authz_init(c);
    return &handler;
}
