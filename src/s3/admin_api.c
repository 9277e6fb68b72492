/* admin_api — the admin API: users, access keys, managed policies and attachments (the
 * endpoints are listed in admin_api.h), and op_admin, the operation that serves them over HTTP
 * under /wos-admin/v1/.
 *
 * admin_api_call is the whole behaviour, on meta.h alone, so the offline CLI (`wosd admin …
 * --data DIR`) runs exactly what the server runs. Every answer is a JSON document built with
 * jansson; names are validated here (the store validates none). */
#include "s3/admin_api.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iam/policy.h"
#include "s3/s3_internal.h"
#include "util/arena.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/str.h"
#include "util/timefmt.h"

#define PREFIX "/wos-admin/v1"

/* --- replies ---------------------------------------------------------------------------------- */

static void fail(admin_reply *out, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(admin_reply *out, int status, const char *code, const char *fmt, ...)
{
    free(out->body);
    out->body = NULL;
    out->len = 0;
    out->status = status;
    out->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
}

static void store_fail(admin_reply *out) { fail(out, 500, "InternalError", "The metadata store failed."); }

/* Sets the answer (takes doc). */
static void answer(admin_reply *out, int status, json_t *doc)
{
    out->status = status;
    out->code = NULL;
    free(out->body);
    out->body = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    out->len = out->body ? strlen(out->body) : 0;
    json_decref(doc);
    if (doc && !out->body) fail(out, 500, "InternalError", "Out of memory.");
}

static void no_content(admin_reply *out) { answer(out, 204, NULL); }

/* --- names and secrets ------------------------------------------------------------------------ */

static bool name_chars_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("+=,.@_-", c);
        if (!ok) return false;
    }
    return true;
}

static bool user_name_ok(const admin_call *c, const char *n, admin_reply *out)
{
    if (!name_chars_ok(n, 64)) {
        fail(out, 400, "InvalidInput", "A user name is 1 to 64 characters of A-Z a-z 0-9 + = , . @ _ -.");
        return false;
    }
    if (!strcasecmp(n, "root") || !strcasecmp(n, "anonymous") ||
        (c->root_access_key && !strcasecmp(n, c->root_access_key))) {
        fail(out, 400, "InvalidInput", "The user name %s is reserved.", n);
        return false;
    }
    return true;
}

/* The canonical name of the built-in policy n names in any case or spelling, or NULL. */
static const char *builtin_name(const char *n)
{
    for (size_t i = 0; iam_builtin_name(i); i++) {
        const char *canon = iam_builtin_name(i);
        if (!strcasecmp(n, canon)) return canon;
        /* The CDNetworks spelling: CDNWCloud… for WSCloud… */
        if (!strncmp(canon, "WS", 2) && !strncasecmp(n, "CDNW", 4) && !strcasecmp(n + 4, canon + 2)) return canon;
    }
    return NULL;
}

static bool policy_name_ok(const char *n, admin_reply *out)
{
    if (!name_chars_ok(n, 128)) {
        fail(out, 400, "InvalidInput", "A policy name is 1 to 128 characters of A-Z a-z 0-9 + = , . @ _ -.");
        return false;
    }
    return true;
}

/* n characters drawn uniformly from alphabet (of at most 256), by rejection sampling. */
static void random_chars(char *out, size_t n, const char *alphabet)
{
    size_t al = strlen(alphabet), limit = 256 - 256 % al, i = 0;
    unsigned char r[64];
    while (i < n) {
        random_bytes(r, sizeof r);
        for (size_t j = 0; j < sizeof r && i < n; j++)
            if (r[j] < limit) out[i++] = alphabet[r[j] % al];
    }
    out[n] = 0;
}

/* --- JSON shapes ------------------------------------------------------------------------------ */

static json_t *time_json(int64_t ms)
{
    char ts[25];
    time_fmt_iso_ms(ms, ts);
    return json_string(ts);
}

static json_t *user_json(const meta_user *u)
{
    return json_pack("{s:s,s:s,s:b,s:o}", "name", u->name, "id", u->id, "disabled", u->disabled, "created",
                     time_json(u->created_ms));
}

static json_t *key_json(const meta_key *k)
{
    return json_pack("{s:s,s:s,s:b,s:b,s:o}", "access_key", k->access_key, "user", k->user, "disabled", k->disabled,
                     "user_disabled", k->user_disabled, "created", time_json(k->created_ms));
}

static void add_key(void *cls, const meta_key *k) { json_array_append_new(cls, key_json(k)); }
static void add_user(void *cls, const meta_user *u) { json_array_append_new(cls, user_json(u)); }
static void add_name(void *cls, const char *n) { json_array_append_new(cls, json_string(n)); }

/* --- users ------------------------------------------------------------------------------------ */

static void user_create(meta_store *m, const admin_call *c, admin_reply *out)
{
    json_error_t jerr;
    json_t *doc = c->body_len ? json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
    const char *name = json_string_value(json_object_get(doc, "name"));
    if (!name) {
        json_decref(doc);
        fail(out, 400, "InvalidInput", "The body must be a JSON object with a \"name\".");
        return;
    }
    meta_user u = {0};
    if (user_name_ok(c, name, out)) {
        snprintf(u.name, sizeof u.name, "%s", name);
        unsigned char id[16];
        random_bytes(id, sizeof id);
        hex_encode(id, sizeof id, u.id);
        u.created_ms = time_now_ms();
        meta_status st = meta_user_create(m, &u);
        if (st == META_EXISTS) fail(out, 409, "EntityAlreadyExists", "The user %s already exists.", name);
        else if (st != META_OK) store_fail(out);
        else {
            log_info("admin: user %s created", u.name);
            answer(out, 201, json_pack("{s:o}", "user", user_json(&u)));
        }
    }
    json_decref(doc);
}

static bool user_read(meta_store *m, const char *name, meta_user *u, admin_reply *out)
{
    meta_status st = meta_user_get(m, name, u);
    if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The user %s does not exist.", name);
    else if (st != META_OK) store_fail(out);
    return st == META_OK;
}

static void user_info(meta_store *m, const char *name, admin_reply *out)
{
    meta_user u;
    if (!user_read(m, name, &u, out)) return;
    json_t *keys = json_array(), *pols = json_array();
    meta_status st = meta_key_list(m, u.name, add_key, keys);
    if (st == META_OK) st = meta_user_policies(m, u.name, add_name, pols);
    if (st != META_OK) {
        json_decref(keys);
        json_decref(pols);
        if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The user %s does not exist.", name);
        else store_fail(out);
        return;
    }
    answer(out, 200, json_pack("{s:o,s:o,s:o}", "user", user_json(&u), "keys", keys, "policies", pols));
}

static void user_set_disabled(meta_store *m, const char *name, bool disabled, admin_reply *out)
{
    meta_status st = meta_user_set_disabled(m, name, disabled);
    if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The user %s does not exist.", name);
    else if (st != META_OK) store_fail(out);
    meta_user u;
    if (st != META_OK || !user_read(m, name, &u, out)) return;
    log_info("admin: user %s %s", u.name, disabled ? "disabled" : "enabled");
    answer(out, 200, json_pack("{s:o}", "user", user_json(&u)));
}

static void user_delete(meta_store *m, const char *name, admin_reply *out)
{
    meta_status st = meta_user_delete(m, name);
    if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The user %s does not exist.", name);
    else if (st != META_OK) store_fail(out);
    else {
        log_info("admin: user %s deleted", name);
        no_content(out);
    }
}

/* --- keys ------------------------------------------------------------------------------------- */

static void key_create(meta_store *m, const char *user, admin_reply *out)
{
    meta_user u;
    if (!user_read(m, user, &u, out)) return;
    meta_key k = {0};
    snprintf(k.user, sizeof k.user, "%s", u.name);
    k.created_ms = time_now_ms();
    meta_status st = META_EXISTS;
    /* 36^20 keys: a collision is astronomically unlikely, but cheap to survive. */
    for (int attempt = 0; attempt < 5 && st == META_EXISTS; attempt++) {
        random_chars(k.access_key, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
        random_chars(k.secret, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
        st = meta_key_create(m, &k);
    }
    if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The user %s does not exist.", user);
    else if (st != META_OK) store_fail(out);
    else {
        log_info("admin: access key %s created for user %s", k.access_key, k.user);
        json_t *kj = key_json(&k);
        json_object_set_new(kj, "secret_key", json_string(k.secret));
        answer(out, 201, json_pack("{s:o}", "key", kj));
    }
    explicit_bzero(k.secret, sizeof k.secret);
}

static void key_list(meta_store *m, const char *user, admin_reply *out)
{
    json_t *keys = json_array();
    meta_status st = meta_key_list(m, user, add_key, keys);
    if (st != META_OK) {
        json_decref(keys);
        if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The user %s does not exist.", user);
        else store_fail(out);
        return;
    }
    answer(out, 200, json_pack("{s:o}", "keys", keys));
}

static bool key_read(meta_store *m, const char *ak, meta_key *k, admin_reply *out)
{
    meta_status st = meta_key_get(m, ak, k);
    explicit_bzero(k->secret, sizeof k->secret);
    if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The access key %s does not exist.", ak);
    else if (st != META_OK) store_fail(out);
    return st == META_OK;
}

static void key_info(meta_store *m, const char *ak, admin_reply *out)
{
    meta_key k;
    if (key_read(m, ak, &k, out)) answer(out, 200, json_pack("{s:o}", "key", key_json(&k)));
}

static void key_set_disabled(meta_store *m, const char *ak, bool disabled, admin_reply *out)
{
    meta_status st = meta_key_set_disabled(m, ak, disabled);
    if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The access key %s does not exist.", ak);
    else if (st != META_OK) store_fail(out);
    meta_key k;
    if (st != META_OK || !key_read(m, ak, &k, out)) return;
    log_info("admin: access key %s %s", ak, disabled ? "disabled" : "enabled");
    answer(out, 200, json_pack("{s:o}", "key", key_json(&k)));
}

static void key_delete(meta_store *m, const char *ak, admin_reply *out)
{
    meta_status st = meta_key_delete(m, ak);
    if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The access key %s does not exist.", ak);
    else if (st != META_OK) store_fail(out);
    else {
        log_info("admin: access key %s deleted", ak);
        no_content(out);
    }
}

/* --- policies --------------------------------------------------------------------------------- */

static void policy_list(meta_store *m, admin_reply *out)
{
    json_t *names = json_array(), *all = json_array();
    for (size_t i = 0; iam_builtin_name(i); i++)
        json_array_append_new(all, json_pack("{s:s,s:b}", "name", iam_builtin_name(i), "builtin", 1));
    if (meta_policy_list(m, add_name, names) != META_OK) {
        json_decref(names);
        json_decref(all);
        store_fail(out);
        return;
    }
    size_t i;
    json_t *n;
    json_array_foreach(names, i, n) json_array_append_new(all, json_pack("{s:O,s:b}", "name", n, "builtin", 0));
    json_decref(names);
    answer(out, 200, json_pack("{s:o}", "policies", all));
}

static json_t *document_json(const char *text)
{
    /* Shown as the JSON it is; kept as text should it not load (it was parsed when stored). */
    json_error_t jerr;
    json_t *d = json_loads(text, 0, &jerr);
    return d ? d : json_string(text);
}

static void policy_get(meta_store *m, const char *name, admin_reply *out)
{
    const char *b = builtin_name(name);
    if (b) {
        answer(out, 200, json_pack("{s:{s:s,s:b,s:o}}", "policy", "name", b, "builtin", 1, "document",
                                   document_json(iam_builtin_json(b))));
        return;
    }
    arena *a = arena_new(4096);
    const char *json;
    meta_status st = meta_policy_get(m, name, a, &json);
    if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The policy %s does not exist.", name);
    else if (st != META_OK) store_fail(out);
    else answer(out, 200, json_pack("{s:{s:s,s:b,s:o}}", "policy", "name", name, "builtin", 0, "document",
                                    document_json(json)));
    arena_free(a);
}

static void policy_put(meta_store *m, const admin_call *c, const char *name, admin_reply *out)
{
    if (!policy_name_ok(name, out)) return;
    if (builtin_name(name)) {
        fail(out, 400, "InvalidInput", "%s is the name of a built-in policy.", name);
        return;
    }
    if (c->body_len == 0 || memchr(c->body, 0, c->body_len)) {
        fail(out, 400, "MalformedPolicyDocument", "The body must be the policy document (JSON).");
        return;
    }
    iam_parse_opts o = {.kind = IAM_POLICY_IDENTITY};
    iam_policy *p;
    char err[400];
    if (iam_policy_parse(c->body, c->body_len, &o, &p, err, sizeof err) != 0) {
        fail(out, 400, "MalformedPolicyDocument", "%s", err);
        return;
    }
    size_t statements = iam_policy_statements(p);
    iam_policy_free(p);
    arena *a = arena_new(1024);
    const char *old;
    meta_status st = meta_policy_get(m, name, a, &old);
    bool created = st == META_NOT_FOUND;
    char *text = strndup(c->body, c->body_len);
    if (!text) abort();
    st = st == META_OK || st == META_NOT_FOUND ? meta_policy_put(m, name, text) : st;
    free(text);
    arena_free(a);
    if (st != META_OK) {
        store_fail(out);
        return;
    }
    log_info("admin: policy %s %s", name, created ? "created" : "replaced");
    answer(out, created ? 201 : 200,
           json_pack("{s:{s:s,s:b,s:I}}", "policy", "name", name, "builtin", 0, "statements", (json_int_t)statements));
}

static void policy_delete(meta_store *m, const char *name, admin_reply *out)
{
    if (builtin_name(name)) {
        fail(out, 400, "InvalidInput", "%s is a built-in policy; it cannot be deleted.", name);
        return;
    }
    meta_status st = meta_policy_delete(m, name);
    if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The policy %s does not exist.", name);
    else if (st == META_NOT_EMPTY)
        fail(out, 409, "DeleteConflict", "The policy %s is attached to a user; detach it first.", name);
    else if (st != META_OK) store_fail(out);
    else {
        log_info("admin: policy %s deleted", name);
        no_content(out);
    }
}

static void policy_attach(meta_store *m, const char *user, const char *policy, admin_reply *out)
{
    meta_user u;
    if (!user_read(m, user, &u, out)) return;
    const char *b = builtin_name(policy);
    meta_status st = meta_policy_attach(m, u.name, b ? b : policy, b != NULL);
    if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The policy %s does not exist.", policy);
    else if (st != META_OK) store_fail(out);
    else {
        log_info("admin: policy %s attached to user %s", b ? b : policy, u.name);
        answer(out, 200, json_pack("{s:s,s:s}", "user", u.name, "policy", b ? b : policy));
    }
}

static void policy_detach(meta_store *m, const char *user, const char *policy, admin_reply *out)
{
    const char *b = builtin_name(policy);
    meta_status st = meta_policy_detach(m, user, b ? b : policy);
    if (st == META_NOT_FOUND)
        fail(out, 404, "NoSuchEntity", "The policy %s is not attached to a user %s.", policy, user);
    else if (st != META_OK) store_fail(out);
    else {
        log_info("admin: policy %s detached from user %s", b ? b : policy, user);
        no_content(out);
    }
}

static void user_policies(meta_store *m, const char *user, admin_reply *out)
{
    json_t *names = json_array();
    meta_status st = meta_user_policies(m, user, add_name, names);
    if (st != META_OK) {
        json_decref(names);
        if (st == META_NOT_FOUND) fail(out, 404, "NoSuchEntity", "The user %s does not exist.", user);
        else store_fail(out);
        return;
    }
    answer(out, 200, json_pack("{s:o}", "policies", names));
}

/* --- dispatch --------------------------------------------------------------------------------- */

enum { MAX_SEGS = 6 };

/* The decoded segments of the path after PREFIX; -1 when it is not under PREFIX or a segment
 * does not decode to text. */
static int split_path(arena *a, const char *path, char **seg)
{
    size_t pl = strlen(PREFIX);
    if (strncmp(path, PREFIX, pl) != 0 || (path[pl] && path[pl] != '/')) return -1;
    const char *p = path + pl;
    int n = 0;
    while (*p == '/') {
        p++;
        if (!*p) break;   /* a trailing slash names the same resource */
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (n == MAX_SEGS || len == 0) return -1;
        size_t dl;
        char *d = url_decode(a, p, len, false, &dl);
        if (!d || dl != strlen(d) || !utf8_valid(d, dl)) return -1;
        seg[n++] = d;
        p += len;
    }
    return n;
}

/* The value of one query parameter, decoded (arena), or NULL. */
static const char *query_get(arena *a, const char *query, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = query ? query : ""; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > nl && p[nl] == '=' && !strncmp(p, name, nl)) return url_decode(a, p + nl + 1, len - nl - 1, true, NULL);
        p += len + (amp ? 1 : 0);
    }
    return NULL;
}

void admin_api_call(meta_store *m, const admin_call *c, admin_reply *out)
{
    memset(out, 0, sizeof *out);
    arena *a = arena_new(4096);
    char *seg[MAX_SEGS];
    int n = split_path(a, c->path, seg);
    const char *mt = c->method;
    bool get = !strcmp(mt, "GET"), post = !strcmp(mt, "POST"), put = !strcmp(mt, "PUT"), del = !strcmp(mt, "DELETE");
    bool found = true, allowed = true;
#define IS(i, s) (n > (i) && !strcmp(seg[i], s))

    if (n < 1) {
        found = false;
    } else if (IS(0, "users")) {
        if (n == 1) {
            if (get) {
                json_t *users = json_array();
                if (meta_user_list(m, add_user, users) != META_OK) {
                    json_decref(users);
                    store_fail(out);
                } else {
                    answer(out, 200, json_pack("{s:o}", "users", users));
                }
            } else if (post) user_create(m, c, out);
            else allowed = false;
        } else if (n == 2) {
            if (get) user_info(m, seg[1], out);
            else if (del) user_delete(m, seg[1], out);
            else allowed = false;
        } else if (n == 3 && (IS(2, "disable") || IS(2, "enable"))) {
            if (post) user_set_disabled(m, seg[1], IS(2, "disable"), out);
            else allowed = false;
        } else if (n == 3 && IS(2, "keys")) {
            if (get) key_list(m, seg[1], out);
            else if (post) key_create(m, seg[1], out);
            else allowed = false;
        } else if (n == 3 && IS(2, "policies")) {
            if (get) user_policies(m, seg[1], out);
            else allowed = false;
        } else if (n == 4 && IS(2, "policies")) {
            if (put) policy_attach(m, seg[1], seg[3], out);
            else if (del) policy_detach(m, seg[1], seg[3], out);
            else allowed = false;
        } else {
            found = false;
        }
    } else if (IS(0, "keys")) {
        if (n == 1) {
            if (get) key_list(m, query_get(a, c->query, "user"), out);
            else allowed = false;
        } else if (n == 2) {
            if (get) key_info(m, seg[1], out);
            else if (del) key_delete(m, seg[1], out);
            else allowed = false;
        } else if (n == 3 && (IS(2, "disable") || IS(2, "enable"))) {
            if (post) key_set_disabled(m, seg[1], IS(2, "disable"), out);
            else allowed = false;
        } else {
            found = false;
        }
    } else if (IS(0, "policies")) {
        if (n == 1) {
            if (get) policy_list(m, out);
            else allowed = false;
        } else if (n == 2) {
            if (get) policy_get(m, seg[1], out);
            else if (put) policy_put(m, c, seg[1], out);
            else if (del) policy_delete(m, seg[1], out);
            else allowed = false;
        } else {
            found = false;
        }
    } else {
        found = false;
    }
#undef IS
    if (!found) fail(out, 404, "NotFound", "No such admin endpoint: %s %s.", mt, c->path);
    else if (!allowed) fail(out, 405, "MethodNotAllowed", "%s is not allowed on %s.", mt, c->path);
    arena_free(a);
}

/* --- over HTTP: op_admin ------------------------------------------------------------------------ */

static s3_err admin_begin(s3_req *q)
{
    if (q->payload_len > ADMIN_MAX_BODY) return s3_fail(q, S3E_MaxMessageLengthExceeded, "The admin API takes bodies up to 64 KiB.");
    return S3E_OK;
}

static s3_err admin_body(s3_req *q, const char *data, size_t n)
{
    if (q->xml_body.len + n > ADMIN_MAX_BODY)
        return s3_fail(q, S3E_MaxMessageLengthExceeded, "The admin API takes bodies up to 64 KiB.");
    buf_append(&q->xml_body, data, n);
    return S3E_OK;
}

static s3_err admin_end(s3_req *q)
{
    admin_call c = {
        .method = http_method(q->http),
        .path = http_path_raw(q->http),
        .query = http_query_raw(q->http),
        .body = q->xml_body.data,
        .body_len = q->xml_body.len,
        .root_access_key = q->cfg->root_access_key,
    };
    admin_reply r;
    admin_api_call(q->cfg->meta, &c, &r);
    if (!r.code) {
        if (r.status == 204) s3_respond_empty(q, 204);
        else s3_respond_json(q, r.status, r.body, r.len);
        return S3E_OK;
    }
    json_t *doc = json_pack("{s:{s:s,s:s},s:s}", "error", "code", r.code, "message", r.message, "request_id",
                            q->request_id);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    s3_respond_json(q, r.status, body, body ? strlen(body) : 0);
    return S3E_OK;
}

/* The action is the admin API's own: authz.c lets the root credential alone through. */
const s3_op op_admin = {"Admin", "", admin_begin, admin_body, admin_end, NULL};
