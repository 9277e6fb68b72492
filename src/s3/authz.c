/* authz — authorisation: the principal of a request (from its access key), the decision for
 * the operation's action, and the per-thread cache that keeps both cheap.
 *
 * The cache. IAM state changes rarely and every change moves meta_iam_generation(); each
 * thread keeps what it derived from the store — access keys with their secrets and owners,
 * each user's compiled policies, each bucket's owner, canned ACL and compiled policy — and
 * drops all of it when the generation it was filled under is no longer current. Per thread
 * because compiled policies are immutable but their owners are not shared: no lock, no
 * reference count, and a thread's cache dies with the thread (pthread key destructor). A
 * cache larger than CACHE_MAX entries is dropped too, so names an attacker makes up (unknown
 * buckets are cached as absent) cannot grow it without bound. */
#include "s3/authz.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/log.h"
#include "util/str.h"

static const s3_config *cfg;

/* --- operations and their actions -------------------------------------------------------- */

static const s3_op *const all_ops[] = {
    &op_list_buckets, &op_create_bucket, &op_head_bucket, &op_delete_bucket, &op_get_bucket_location,
    &op_get_bucket_versioning, &op_get_acl, &op_put_acl, &op_list_objects, &op_list_object_versions,
    &op_delete_objects, &op_put_object, &op_copy_object, &op_get_object, &op_head_object,
    &op_delete_object, &op_initiate_upload, &op_upload_part, &op_upload_part_copy, &op_complete_upload,
    &op_abort_upload, &op_list_parts, &op_list_uploads, &op_post_object, &op_get_bucket_policy,
    &op_put_bucket_policy, &op_delete_bucket_policy, &op_get_bucket_lifecycle, &op_put_bucket_lifecycle,
    &op_delete_bucket_lifecycle, &op_restore_object, &op_get_object_tagging, &op_put_object_tagging,
    &op_delete_object_tagging,
};
enum { NOPS = sizeof all_ops / sizeof *all_ops };
static iam_action op_action[NOPS];

static pthread_key_t cache_key;

static void cache_destroy(void *p);

void authz_init(const s3_config *c)
{
    cfg = c;
    for (size_t i = 0; i < NOPS; i++) {
        op_action[i] = iam_action_lookup(all_ops[i]->action);
        if (op_action[i] == IAM_ACT_INVALID) {
            log_error("authz: operation %s has the unknown action '%s'", all_ops[i]->name, all_ops[i]->action);
            abort();
        }
    }
    if (!s3_bucket_none_init()) abort();
    if (pthread_key_create(&cache_key, cache_destroy) != 0) {
        log_error("authz: pthread_key_create failed");
        abort();
    }
}

iam_action authz_action_of(const s3_req *q)
{
    if (q->op == &op_get_acl) return q->key ? IAM_ACT_GET_OBJECT_ACL : IAM_ACT_GET_BUCKET_ACL;
    if (q->op == &op_put_acl) return q->key ? IAM_ACT_PUT_OBJECT_ACL : IAM_ACT_PUT_BUCKET_ACL;
    for (size_t i = 0; i < NOPS; i++)
        if (all_ops[i] == q->op) return op_action[i];
    return s3_bucket_none_action(q->op);
}

/* --- the per-thread cache ------------------------------------------------------------------ */

enum { SLOTS = 256, CACHE_MAX = 4096 };

typedef struct c_key {
    struct c_key *next;
    char access_key[129];
    char secret[129];
    char user[65];
    char user_id[33];
    bool refused;             /* the key or its user is disabled */
} c_key;

typedef struct c_user {
    struct c_user *next;
    char name[65];
    size_t n;
    const iam_policy **pols;  /* n: built-ins and owned[] alike, for iam_evaluate */
    iam_policy **owned;       /* n: the managed policies compiled here (NULL for a built-in) */
    char **names;             /* n: the attached names, for the log */
    const char *broken;       /* an attached policy that cannot be used: everything is denied */
} c_user;

typedef struct c_bucket {
    struct c_bucket *next;
    char name[64];
    bool exists;
    meta_bucket mb;           /* the row, when it exists */
    iam_policy *policy;       /* NULL: none */
    bool broken;              /* the stored policy no longer parses: everything is denied */
} c_bucket;

typedef struct tcache {
    uint64_t gen;
    bool filled;
    size_t count;
    c_key *keys[SLOTS];
    c_user *users[SLOTS];
    c_bucket *buckets[SLOTS];
} tcache;

static unsigned slot_of(const char *s)
{
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h % SLOTS;
}

static void user_free(c_user *u)
{
    for (size_t i = 0; i < u->n; i++) {
        iam_policy_free(u->owned[i]);
        free(u->names[i]);
    }
    free(u->pols);
    free(u->owned);
    free(u->names);
    free(u);
}

static void cache_clear(tcache *c)
{
    for (int i = 0; i < SLOTS; i++) {
        for (c_key *k = c->keys[i], *nx; k; k = nx) {
            nx = k->next;
            explicit_bzero(k->secret, sizeof k->secret);
            free(k);
        }
        for (c_user *u = c->users[i], *nx; u; u = nx) {
            nx = u->next;
            user_free(u);
        }
        for (c_bucket *b = c->buckets[i], *nx; b; b = nx) {
            nx = b->next;
            iam_policy_free(b->policy);
            free(b);
        }
        c->keys[i] = NULL;
        c->users[i] = NULL;
        c->buckets[i] = NULL;
    }
    c->count = 0;
}

static void cache_destroy(void *p)
{
    if (!p) return;
    cache_clear(p);
    free(p);
}

/* This thread's cache, emptied when the IAM state has moved on since it was filled. */
static tcache *cache_get(void)
{
    tcache *c = pthread_getspecific(cache_key);
    if (!c) {
        c = calloc(1, sizeof *c);
        if (!c) abort();
        pthread_setspecific(cache_key, c);
    }
    uint64_t gen = meta_iam_generation(cfg->meta);
    if (!c->filled || c->gen != gen || c->count > CACHE_MAX) {
        cache_clear(c);
        c->gen = gen;
        c->filled = true;
    }
    return c;
}

/* The key, from the cache or the store; NULL when unknown (not cached) or on a store error. */
static c_key *key_get(tcache *c, const char *ak)
{
    unsigned s = slot_of(ak);
    for (c_key *k = c->keys[s]; k; k = k->next)
        if (strcmp(k->access_key, ak) == 0) return k;
    meta_key mk;
    if (meta_key_get(cfg->meta, ak, &mk) != META_OK) return NULL;
    c_key *k = calloc(1, sizeof *k);
    if (!k) abort();
    snprintf(k->access_key, sizeof k->access_key, "%s", mk.access_key);
    memcpy(k->secret, mk.secret, sizeof k->secret);
    snprintf(k->user, sizeof k->user, "%s", mk.user);
    snprintf(k->user_id, sizeof k->user_id, "%s", mk.user_id);
    k->refused = mk.disabled || mk.user_disabled;
    explicit_bzero(mk.secret, sizeof mk.secret);
    k->next = c->keys[s];
    c->keys[s] = k;
    c->count++;
    return k;
}

typedef struct name_list {
    char **v;
    size_t n, cap;
} name_list;

static void collect_name(void *cls, const char *name)
{
    name_list *l = cls;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
        if (!l->v) abort();
    }
    l->v[l->n] = strdup(name);
    if (!l->v[l->n]) abort();
    l->n++;
}

/* A user's attached policies, compiled; NULL on a store error. A user deleted meanwhile has
 * no policies (its key is gone from the next generation on). */
static c_user *user_get(tcache *c, const char *name)
{
    unsigned s = slot_of(name);
    for (c_user *u = c->users[s]; u; u = u->next)
        if (strcmp(u->name, name) == 0) return u;
    name_list l = {0};
    meta_status st = meta_user_policies(cfg->meta, name, collect_name, &l);
    if (st != META_OK && st != META_NOT_FOUND) {
        for (size_t i = 0; i < l.n; i++) free(l.v[i]);
        free(l.v);
        return NULL;
    }
    c_user *u = calloc(1, sizeof *u);
    if (!u) abort();
    snprintf(u->name, sizeof u->name, "%s", name);
    u->n = l.n;
    u->names = l.v;
    u->pols = calloc(l.n ? l.n : 1, sizeof *u->pols);
    u->owned = calloc(l.n ? l.n : 1, sizeof *u->owned);
    if (!u->pols || !u->owned) abort();
    arena *a = arena_new(4096);
    for (size_t i = 0; i < l.n; i++) {
        const iam_policy *b = iam_builtin(l.v[i]);
        if (b) {
            u->pols[i] = b;
            continue;
        }
        const char *json;
        char err[256];
        st = meta_policy_get(cfg->meta, l.v[i], a, &json);
        iam_parse_opts o = {.kind = IAM_POLICY_IDENTITY};
        if (st == META_OK && iam_policy_parse(json, strlen(json), &o, &u->owned[i], err, sizeof err) == 0) {
            u->pols[i] = u->owned[i];
        } else if (st == META_NOT_FOUND) {
            /* Detached between the two reads: the next generation will not list it. */
        } else {
            /* A stored policy that no longer compiles must not quietly drop its Denies. */
            log_error("authz: policy %s attached to user %s cannot be used: %s", l.v[i], name,
                      st == META_OK ? err : "store error");
            u->broken = u->names[i];
        }
    }
    arena_free(a);
    u->next = c->users[s];
    c->users[s] = u;
    c->count++;
    return u;
}

/* A bucket's permissions (exists = false when there is no such bucket); NULL on a store error. */
static c_bucket *bucket_get(tcache *c, const char *name)
{
    unsigned s = slot_of(name);
    static const c_bucket absent;
    if (strlen(name) >= sizeof absent.name) return (c_bucket *)&absent;   /* not a bucket name */
    for (c_bucket *b = c->buckets[s]; b; b = b->next)
        if (strcmp(b->name, name) == 0) return b;
    c_bucket *b = calloc(1, sizeof *b);
    if (!b) abort();
    snprintf(b->name, sizeof b->name, "%s", name);
    meta_bucket mb;
    meta_status st = meta_bucket_get(cfg->meta, name, &mb);
    if (st == META_OK) {
        b->exists = true;
        b->mb = mb;
        arena *a = arena_new(4096);
        const char *json;
        st = meta_bucket_policy_get(cfg->meta, name, a, &json);
        if (st == META_OK) {
            char err[256];
            iam_parse_opts o = {.kind = IAM_POLICY_BUCKET, .bucket = name};
            if (iam_policy_parse(json, strlen(json), &o, &b->policy, err, sizeof err) != 0) {
                log_error("authz: the policy of bucket %s cannot be used: %s", name, err);
                b->broken = true;
            }
        } else if (st != META_NOT_FOUND) {
            arena_free(a);
            free(b);
            return NULL;
        }
        arena_free(a);
    } else if (st != META_NOT_FOUND) {
        free(b);
        return NULL;
    }
    b->next = c->buckets[s];
    c->buckets[s] = b;
    c->count++;
    return b;
}

/* --- authentication's lookup ------------------------------------------------------------------ */

int authz_lookup_key(s3_req *q, const char *ak, char *secret, size_t cap)
{
    s3_principal *w = &q->who;
    if (strcmp(ak, cfg->root_access_key) == 0) {
        memset(w, 0, sizeof *w);
        w->root = true;
        snprintf(w->user, sizeof w->user, "root");
        snprintf(secret, cap, "%s", cfg->root_secret_key);
        return 0;
    }
    c_key *k = key_get(cache_get(), ak);
    if (!k || k->refused) return -1;
    memset(w, 0, sizeof *w);
    snprintf(w->user, sizeof w->user, "%s", k->user);
    snprintf(w->user_id, sizeof w->user_id, "%s", k->user_id);
    snprintf(secret, cap, "%s", k->secret);
    return 0;
}

/* --- deciding --------------------------------------------------------------------------------- */

bool authz_is_owner(const s3_req *q, const char *owner)
{
    if (q->who.anonymous || !owner || !*owner) return false;
    bool root_owned = strcmp(owner, "root") == 0 || strcmp(owner, cfg->root_access_key) == 0;
    if (q->who.root) return root_owned;
    return !root_owned && strcasecmp(owner, q->who.user) == 0;
}

static bool acl_reads(const char *acl, bool authenticated)
{
    return !strcmp(acl, "public-read") || !strcmp(acl, "public-read-write") ||
           (authenticated && !strcmp(acl, "authenticated-read"));
}

/* Whether the canned ACLs (and ownership) grant r's action. Ownership is FULL_CONTROL over the
 * bucket and everything in it. A bucket's READ lists it; its WRITE writes and deletes its
 * objects; an object's READ reads that object (a bucket's READ does not, as in S3). */
static int acl_allows(s3_req *q, const c_bucket *b, const iam_request *r, const char *obj_headers)
{
    if (authz_is_owner(q, b->mb.owner)) return 1;
    bool authed = !r->anonymous;
    switch (r->action) {
    case IAM_ACT_GET_BUCKET:
    case IAM_ACT_LIST_MULTIPART_UPLOADS:
        return acl_reads(b->mb.acl, authed);
    case IAM_ACT_PUT_OBJECT:
    case IAM_ACT_DELETE_OBJECT:
    case IAM_ACT_APPEND_OBJECT:
    case IAM_ACT_ABORT_MULTIPART_UPLOAD:
        return !strcmp(b->mb.acl, "public-read-write");
    case IAM_ACT_GET_OBJECT:
    case IAM_ACT_HEAD_OBJECT: {
        if (!obj_headers) {
            meta_object o;
            meta_status st = meta_object_get(cfg->meta, r->bucket, r->key, q->a, &o);
            if (st == META_NOT_FOUND) return 0;
            if (st != META_OK) return -1;
            obj_headers = o.headers;
        }
        return acl_reads(s3_headers_acl(q, obj_headers), authed);
    }
    default:
        return 0;
    }
}

/* A header in either dialect's spelling. */
static const char *xhdr(const s3_req *q, const char *wos, const char *amz)
{
    const char *v = http_header(q->http, wos);
    return v ? v : http_header(q->http, amz);
}

/* The condition context of one decision. */
static void request_init(s3_req *q, iam_request *r, iam_action a, const char *bucket, const char *key)
{
    memset(r, 0, sizeof *r);
    r->anonymous = q->who.anonymous;
    if (!r->anonymous) {
        r->user = q->who.user;
        r->user_id = q->who.user_id[0] ? q->who.user_id : NULL;
        r->access_key = q->auth.access_key[0] ? q->auth.access_key : NULL;
    }
    r->action = a;
    iam_level level = iam_action_level(a);
    r->bucket = level == IAM_LEVEL_SERVICE ? NULL : bucket;
    r->key = level == IAM_LEVEL_OBJECT ? key : NULL;
    r->now = (int64_t)time(NULL);
    const char **ctx = r->ctx;
    const char *ip = http_remote_addr(q->http);
    ctx[IAM_KEY_SOURCE_IP] = ip && *ip ? ip : NULL;
    ctx[IAM_KEY_SECURE_TRANSPORT] = "false";
    /* The header keys belong to the writes that carry them (as in AWS, where s3:x-amz-acl is a
     * key of PutObject, CreateBucket and the ACL writes only); reads skip the lookups. */
    switch (a) {
    case IAM_ACT_PUT_OBJECT:
        ctx[IAM_KEY_COPY_SOURCE] = xhdr(q, "x-wos-copy-source", "x-amz-copy-source");
        ctx[IAM_KEY_METADATA_DIRECTIVE] = xhdr(q, "x-wos-metadata-directive", "x-amz-metadata-directive");
        ctx[IAM_KEY_SSE] = xhdr(q, "x-wos-server-side-encryption", "x-amz-server-side-encryption");
        ctx[IAM_KEY_STORAGE_CLASS] = xhdr(q, "x-wos-storage-class", "x-amz-storage-class");
        /* fall through */
    case IAM_ACT_PUT_BUCKET:
    case IAM_ACT_PUT_BUCKET_ACL:
    case IAM_ACT_PUT_OBJECT_ACL:
        ctx[IAM_KEY_ACL] = q->form_acl ? q->form_acl : xhdr(q, "x-wos-acl", "x-amz-acl");
        break;
    default:
        break;
    }
    ctx[IAM_KEY_REFERER] = http_header(q->http, "Referer");
    ctx[IAM_KEY_USER_AGENT] = http_header(q->http, "User-Agent");
    switch (q->auth.kind) {
    case AUTH_V4_HEADER:
    case AUTH_V2_HEADER: ctx[IAM_KEY_AUTH_TYPE] = "REST-HEADER"; break;
    case AUTH_V4_QUERY:
    case AUTH_V2_QUERY: ctx[IAM_KEY_AUTH_TYPE] = "REST-QUERY-STRING"; break;
    case AUTH_ANON: break;
    }
    if (q->op == &op_post_object && !r->anonymous) ctx[IAM_KEY_AUTH_TYPE] = "POST";
    if (q->auth.kind == AUTH_V4_HEADER || q->auth.kind == AUTH_V4_QUERY)
        ctx[IAM_KEY_SIGNATURE_VERSION] = "AWS4-HMAC-SHA256";
    else if (q->auth.kind == AUTH_V2_HEADER || q->auth.kind == AUTH_V2_QUERY)
        ctx[IAM_KEY_SIGNATURE_VERSION] = "AWS";
    /* Listings: s3:prefix is "" when the request has none (AWS does so; policies rely on it). */
    if (q->op == &op_list_objects || q->op == &op_list_object_versions || q->op == &op_list_uploads) {
        const char *p = s3_param_get(q, "prefix");
        ctx[IAM_KEY_PREFIX] = p ? p : "";
        ctx[IAM_KEY_DELIMITER] = s3_param_get(q, "delimiter");
        ctx[IAM_KEY_MAX_KEYS] = s3_param_get(q, q->op == &op_list_uploads ? "max-uploads" : "max-keys");
    }
}

/* A printable, bounded rendering of a name for the log (keys may hold anything). */
static const char *loggable(s3_req *q, const char *s, size_t max)
{
    if (!s) return "-";
    size_t n = strlen(s);
    char *out = arena_alloc(q->a, (n < max ? n : max) * 4 + 8);
    char *o = out;
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || ch == '\\') o += sprintf(o, "\\x%02x", ch);
        else *o++ = (char)ch;
    }
    if (n > max) o += sprintf(o, "...");
    *o = 0;
    return out;
}

static void log_denial(s3_req *q, const iam_request *r, const char *why)
{
    const char *who = q->who.anonymous ? "anonymous" : loggable(q, q->who.user, 64);
    const char *res = !r->bucket ? "*"
                      : r->key   ? arena_printf(q->a, "%s/%s", r->bucket, loggable(q, r->key, 256))
                                 : r->bucket;
    log_info("access denied: request %s principal %s key %s action %s resource %s: %s", q->request_id, who,
             q->who.anonymous ? "-" : loggable(q, q->auth.access_key, 128), iam_action_name(r->action),
             res, why);
}

static const char *stmt_name(s3_req *q, const iam_why *w)
{
    return w->sid ? arena_printf(q->a, "statement %zu (Sid %s)", w->statement, loggable(q, w->sid, 64))
                  : arena_printf(q->a, "statement %zu", w->statement);
}

/* 1 allow, 0 deny (why set), -1 store error. optimistic: ListBuckets' filter. */
static int decide(s3_req *q, tcache *c, const iam_request *r, const char *obj_headers, bool optimistic,
                  const char **why)
{
    *why = "no policy or ACL allows it";
    c_user *u = NULL;
    if (!r->anonymous) {
        if (!(u = user_get(c, q->who.user))) return -1;
        if (u->broken) {
            *why = arena_printf(q->a, "attached policy %s cannot be used", u->broken);
            return 0;
        }
    }
    c_bucket *b = NULL;
    if (r->bucket && !(b = bucket_get(c, r->bucket))) return -1;

    iam_why w = {0};
    iam_decision id = IAM_NONE, bd = IAM_NONE;
    if (u && u->n)
        id = optimistic ? iam_evaluate_optimistic(u->pols, u->n, r) : iam_evaluate_why(u->pols, u->n, r, &w);
    if (id == IAM_DENY) {
        if (!optimistic)
            *why = arena_printf(q->a, "denied by policy %s %s", loggable(q, u->names[w.policy], 128), stmt_name(q, &w));
        return 0;
    }
    if (b && b->broken) {
        *why = "the bucket policy cannot be used";
        return 0;
    }
    if (b && b->policy) {
        const iam_policy *bp = b->policy;
        bd = optimistic ? iam_evaluate_optimistic(&bp, 1, r) : iam_evaluate_why(&bp, 1, r, &w);
        if (bd == IAM_DENY) {
            if (!optimistic) *why = arena_printf(q->a, "denied by the policy of bucket %s %s", b->name, stmt_name(q, &w));
            return 0;
        }
    }
    if (id == IAM_ALLOW || bd == IAM_ALLOW) return 1;
    if (b && b->exists) return acl_allows(q, b, r, obj_headers);
    return 0;
}

s3_err authz_check(s3_req *q, iam_action a, const char *bucket, const char *key, const char *obj_headers)
{
    if (q->who.root) return S3E_OK;
    iam_request r;
    request_init(q, &r, a, bucket, key);
    const char *why;
    tcache *c = cache_get();
    int v = decide(q, c, &r, obj_headers, false, &why);
    if (v < 0) return S3E_InternalError;
    if (v > 0) return S3E_OK;
    /* As S3: a bucket that does not exist is NoSuchBucket to anyone, signed or not (names are
     * global, existence is no secret); only creating it needs the permission. */
    if (r.bucket && a != IAM_ACT_PUT_BUCKET) {
        c_bucket *b = bucket_get(c, r.bucket);
        if (!b) return S3E_InternalError;
        if (!b->exists) return S3E_NoSuchBucket;
    }
    log_denial(q, &r, why);
    return S3E_AccessDenied;
}

meta_status authz_bucket(const char *name, meta_bucket *out)
{
    c_bucket *b = bucket_get(cache_get(), name);
    if (!b) return META_ERROR;
    if (!b->exists) return META_NOT_FOUND;
    if (out) *out = b->mb;
    return META_OK;
}

bool authz_allows(s3_req *q, iam_action a, const char *bucket, const char *key, const char *obj_headers)
{
    if (q->who.root) return true;
    iam_request r;
    request_init(q, &r, a, bucket, key);
    const char *why;
    return decide(q, cache_get(), &r, obj_headers, false, &why) > 0;
}

bool authz_may_list(s3_req *q, const meta_bucket *b)
{
    if (q->who.root) return true;
    iam_request r;
    request_init(q, &r, IAM_ACT_GET_BUCKET, b->name, NULL);
    const char *why;
    return decide(q, cache_get(), &r, NULL, true, &why) > 0;
}

s3_err authz_request(s3_req *q)
{
    if (q->op == &op_admin) {
        /* The admin API is the root user's alone. */
        if (q->who.root) return S3E_OK;
        log_info("access denied: request %s principal %s action admin %s %s: only root may use the admin API",
                 q->request_id, q->who.anonymous ? "anonymous" : loggable(q, q->who.user, 64),
                 http_method(q->http), loggable(q, http_path_raw(q->http), 256));
        return S3E_AccessDenied;
    }
    /* Unsupported operations answer 501 to anyone who may talk to the server at all. */
    if (q->op == &op_not_implemented) return q->who.anonymous ? S3E_AccessDenied : S3E_OK;
    /* Decided later: per key, and once the form says who signed it. */
    if (q->op == &op_delete_objects || q->op == &op_post_object) return S3E_OK;
    if (q->who.root) return S3E_OK;

    iam_action a = authz_action_of(q);
    if (a == IAM_ACT_INVALID) return S3E_AccessDenied;
    s3_err e = authz_check(q, a, q->bucket, q->key, NULL);
    if (e) return e;
    if (q->op == &op_copy_object || q->op == &op_upload_part_copy) {
        const char *sb, *sk;
        if ((e = s3_copy_source(q, &sb, &sk))) return e;
        if (!s3_bucket_name_valid(sb)) return S3E_NoSuchBucket;
        return authz_check(q, IAM_ACT_GET_OBJECT, sb, sk, NULL);
    }
    return S3E_OK;
}
