/* objlc — an object's own lifecycle as clients see it: the expiry a write asks for
 * (x-wos-delete-after-days, WOS-API.md §5.1) and the x-wos-expiration header that reads and writes
 * report (§5.3, §7) for an object that will expire, on its own or by a bucket rule. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3/lifecycle.h"
#include "s3/s3_internal.h"
#include "util/timefmt.h"

s3_err s3_expiry_from_request(s3_req *q, int64_t *days)
{
    *days = -1;
    const char *v = s3_xhdr(q, "delete-after-days");
    if (!v) v = s3_xhdr(q, "expires");
    if (!v) return S3E_OK;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < 0 || n > 1000000 || (v[0] < '0' || v[0] > '9'))
        return s3_fail(q, S3E_InvalidArgument, "x-wos-delete-after-days must be a non-negative integer of days.");
    *days = n;
    return S3E_OK;
}

/* --- the rules of a bucket, cached per thread ------------------------------------------------
 *
 * Every GET and HEAD asks for its bucket's rules. Each thread keeps the parsed rules (or their
 * absence) of its last few buckets, valid while neither the lifecycle generation (rules put or
 * deleted) nor the IAM generation (buckets created or deleted, taking their rules along) has
 * moved: a request then costs two atomic loads and a short scan, no SQL and no XML. */

enum { LC_CACHE_SLOTS = 16 };

typedef struct lc_slot {
    char bucket[64];
    uint64_t lc_gen, iam_gen;
    bool used, present;
    arena *a;            /* owns the parsed rules */
    lc_config rules;
} lc_slot;

typedef struct lc_cache {
    lc_slot slot[LC_CACHE_SLOTS];
    unsigned next;       /* round-robin replacement */
} lc_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *p)
{
    lc_cache *c = p;
    for (int i = 0; i < LC_CACHE_SLOTS; i++) arena_free(c->slot[i].a);
    free(c);
}

static void cache_init(void) { pthread_key_create(&cache_key, cache_free); }

/* The bucket's rules, or NULL when it has none (or they cannot be read: no header then). */
static const lc_config *bucket_rules(s3_req *q)
{
    pthread_once(&cache_once, cache_init);
    lc_cache *c = pthread_getspecific(cache_key);
    if (!c) {
        if (!(c = calloc(1, sizeof *c))) return NULL;
        pthread_setspecific(cache_key, c);
    }
    /* Read before the rules: a change in between leaves the slot older than its number says,
     * and the next request reloads it. */
    uint64_t lg = meta_lifecycle_generation(q->cfg->meta), ig = meta_iam_generation(q->cfg->meta);
    lc_slot *s = NULL;
    for (int i = 0; i < LC_CACHE_SLOTS && !s; i++)
        if (c->slot[i].used && !strcmp(c->slot[i].bucket, q->bucket)) s = &c->slot[i];
    if (s && s->lc_gen == lg && s->iam_gen == ig) return s->present ? &s->rules : NULL;
    if (!s) s = &c->slot[c->next++ % LC_CACHE_SLOTS];
    arena_free(s->a);
    memset(s, 0, sizeof *s);
    const char *doc;
    const char *msg;
    arena *a = arena_new(4096);
    meta_status st = meta_lifecycle_get(q->cfg->meta, q->bucket, a, &doc);
    if (st == META_OK && lc_parse(a, doc, strlen(doc), &s->rules, &msg) == S3E_OK) {
        s->present = true;
    } else if (st != META_NOT_FOUND) {
        arena_free(a);
        return NULL;   /* not cached: asked again next time */
    }
    snprintf(s->bucket, sizeof s->bucket, "%s", q->bucket);
    s->lc_gen = lg;
    s->iam_gen = ig;
    s->used = true;
    s->a = a;
    return s->present ? &s->rules : NULL;
}

void s3_expiration_header(s3_req *q, const meta_object *o)
{
    int64_t at = 0;
    const char *rule_id = NULL;
    if (o->expire_ms > 0) at = o->expire_ms;
    const lc_config *c = bucket_rules(q);
    int64_t rat;
    const lc_rule *r;
    /* The tags only when a rule asks (reads of a bucket without tag rules scan no headers). */
    const char *tags = c && o->headers && lc_needs_tags(c) ? s3_headers_find(q, o->headers, S3_TAGGING_HEADER) : NULL;
    if (c && (r = lc_expiry(c, o->key, o->size, tags, o->mtime_ms, q->cfg->day_ms, &rat)) && (!at || rat < at)) {
        at = rat;
        rule_id = r->id;
    }
    if (!at) return;
    char date[30];
    /* Rounded up to a whole second: the header cannot say less, and must not say earlier. */
    time_fmt_http((at + 999) / 1000, date);
    const char *v = rule_id ? arena_printf(q->a, "expiry-date=\"%s\", rule-id=\"%s\"", date, rule_id)
                            : arena_printf(q->a, "expiry-date=\"%s\"", date);
    s3_resp_xhdr(q, "expiration", v);
}

void s3_expiration_header_written(s3_req *q, const char *key, int64_t size, const char *headers, int64_t mtime_ms,
                                  int64_t days)
{
    meta_object o = {.key = key, .size = size, .headers = headers, .mtime_ms = mtime_ms,
                     .expire_ms = days >= 0 ? mtime_ms + days * q->cfg->day_ms : 0};
    s3_expiration_header(q, &o);
}
