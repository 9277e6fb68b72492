/* lc_worker — the lifecycle worker (lc_worker.h).
 *
 * One step does a bounded amount of work: the objects whose own expiry has come (an index read),
 * then one page of each bucket whose pass is under way or due. Each page is one read of `batch`
 * keys (meta_object_list, the listing's range scan), then one small transaction per action, then
 * the place reached stored with the bucket's rules (meta_lifecycle_set_cursor). Nothing holds a
 * transaction across pages, so requests never wait behind the worker for more than one action.
 *
 * The rules are read and parsed again at every page: a PUT ?lifecycle takes effect at the next
 * page (and restarts the pass), and nothing is cached to go stale. */
#include "s3/lc_worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "s3/lifecycle.h"
#include "s3/s3_internal.h"
#include "util/log.h"
#include "util/timefmt.h"

struct lc_worker {
    lc_worker_config cfg;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
};

enum { BUCKETS_PER_READ = 64 };

static bool stopping(lc_worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool s = w->stop;
    pthread_mutex_unlock(&w->mu);
    return s;
}

/* --- objects expiring on their own --------------------------------------------------------- */

typedef struct due_ctx {
    lc_worker *w;
    int done;
} due_ctx;

static void expire_due(void *cls, const char *bucket, const meta_object *o)
{
    due_ctx *d = cls;
    meta_status st = meta_object_delete_if(d->w->cfg.meta, bucket, o->key, o->etag, o->mtime_ms);
    if (st == META_OK) log_debug("lifecycle: %s/%s expired (x-wos-delete-after-days)", bucket, o->key);
    d->done++;
}

static int step_due(lc_worker *w)
{
    arena *a = arena_new(4096);
    due_ctx d = {w, 0};
    meta_object_due(w->cfg.meta, time_now_ms(), w->cfg.batch, a, expire_due, &d);
    arena_free(a);
    return d.done;
}

/* --- one page of a bucket -------------------------------------------------------------------- */

typedef struct page_ctx {
    lc_worker *w;
    const char *bucket;
    const lc_config *rules;
    int64_t now;
    int actions;
    bool needs_tags;   /* a rule filters by tag */
} page_ctx;

/* Moves the object (the version listed) to class `to`: each blob copied into the class's tier
 * and made durable, then one metadata commit switches the row to the new blobs and queues the
 * old ones for the gc. A crash before the commit leaves the old object whole (the copies are
 * orphans for the start-up scrub); after it, the new one. Inline objects have no blob to move. */
static meta_status transition(page_ctx *p, const meta_object *listed, const char *to)
{
    meta_store *m = p->w->cfg.meta;
    blob_store *bs = p->w->cfg.blobs;
    arena *a = arena_new(4096);
    meta_object o;
    meta_status st = meta_object_get(m, p->bucket, listed->key, a, &o);
    if (st == META_OK && (strcmp(o.etag, listed->etag) != 0 || o.mtime_ms != listed->mtime_ms)) st = META_NOT_FOUND;
    int tier = s3_class_tier(to);
    bool move = false;
    for (int i = 0; st == META_OK && i < o.nextents; i++) move |= blob_tier_of(bs, o.extents[i].blob_id) != tier;
    if (st == META_OK && !move) st = meta_object_set_class(m, p->bucket, o.key, o.etag, o.mtime_ms, to, NULL, 0);
    if (st != META_OK || !move) {
        arena_free(a);
        return st;
    }
    meta_extent *ne = arena_alloc(a, (size_t)o.nextents * sizeof *ne);
    int made = 0;
    for (; made < o.nextents; made++) {
        ne[made] = o.extents[made];
        int rc = blob_copy(bs, o.extents[made].blob_id, tier, ne[made].blob_id);
        if (rc) {
            log_error("lifecycle: %s/%s: copying blob %s to the %s tier: %s", p->bucket, o.key,
                      o.extents[made].blob_id, to, strerror(-rc));
            st = META_ERROR;
            break;
        }
    }
    if (st == META_OK) st = meta_object_set_class(m, p->bucket, o.key, o.etag, o.mtime_ms, to, ne, o.nextents);
    if (st != META_OK)
        for (int i = 0; i < made; i++) blob_remove(bs, ne[i].blob_id);   /* never referenced */
    arena_free(a);
    return st;
}

static void act_on_object(void *cls, const char *common_prefix, const meta_object *o)
{
    page_ctx *p = cls;
    if (!o) return;
    const char *to = NULL;
    const lc_rule *r = NULL;
    meta_store *m = p->w->cfg.meta;
    /* A listing row has no headers: an object's tags are read only for a bucket whose rules
     * filter by tag, one row read an object. The version read is the one acted on (etag, mtime). */
    meta_object full;
    arena *a = NULL;
    const char *tags = NULL;
    if (p->needs_tags) {
        a = arena_new(1024);
        if (meta_object_get(m, p->bucket, o->key, a, &full) != META_OK || full.mtime_ms != o->mtime_ms ||
            strcmp(full.etag, o->etag) != 0) {
            arena_free(a);
            return;   /* gone or changed since the listing: the next pass sees it */
        }
        tags = s3_headers_find_in(a, full.headers, S3_TAGGING_HEADER);
    }
    lc_action act = lc_object_action(p->rules, o->key, o->size, tags, o->mtime_ms, o->storage_class, p->now,
                                     p->w->cfg.day_ms, &to, &r);
    arena_free(a);
    switch (act) {
    case LC_EXPIRE:
        if (meta_object_delete_if(m, p->bucket, o->key, o->etag, o->mtime_ms) == META_OK) {
            log_debug("lifecycle: %s/%s expired by rule %s", p->bucket, o->key, r ? r->id : "?");
            p->actions++;
        }
        break;
    case LC_TRANSITION:
        if (transition(p, o, to) == META_OK) {
            log_debug("lifecycle: %s/%s moved to %s by rule %s", p->bucket, o->key, to, r ? r->id : "?");
            p->actions++;
        }
        break;
    case LC_KEEP:
        break;
    }
}

typedef struct up_ctx {
    page_ctx *p;
    const char *last_key, *last_id;
    int n;
} up_ctx;

typedef struct up_item {
    const char *key;
    char id[33];
} up_item;

typedef struct up_page {
    up_ctx *u;
    arena *a;
    up_item *items;
    int n;
} up_page;

static void collect_upload(void *cls, const char *common_prefix, const meta_upload *u)
{
    up_page *pg = cls;
    if (!u) return;
    page_ctx *p = pg->u->p;
    pg->u->last_key = arena_strdup(pg->a, u->key);
    pg->u->last_id = arena_strdup(pg->a, u->upload_id);
    pg->u->n++;
    if (!lc_upload_expired(p->rules, u->key, u->initiated_ms, p->now, p->w->cfg.day_ms)) return;
    up_item *it = &pg->items[pg->n++];
    it->key = arena_strdup(pg->a, u->key);
    memcpy(it->id, u->upload_id, sizeof it->id);
}

/* Aborts the bucket's stale uploads, a page at a time (the abort path queues the parts' blobs). */
static void abort_stale_uploads(page_ctx *p, arena *a)
{
    bool any = false;
    for (int i = 0; i < p->rules->nrules; i++) any |= p->rules->rules[i].enabled && p->rules->rules[i].abort_days >= 0;
    if (!any) return;
    up_ctx u = {p, "", "", 0};
    for (bool more = true; more && !stopping(p->w);) {
        up_page pg = {&u, a, arena_alloc(a, (size_t)p->w->cfg.batch * sizeof(up_item)), 0};
        meta_upload_query q = {.prefix = "", .key_marker = u.last_key, .upload_id_marker = u.last_id,
                               .max = p->w->cfg.batch};
        u.n = 0;
        if (meta_upload_list(p->w->cfg.meta, p->bucket, &q, a, collect_upload, &pg, &more) != META_OK) return;
        for (int i = 0; i < pg.n; i++) {
            if (meta_upload_abort(p->w->cfg.meta, p->bucket, pg.items[i].key, pg.items[i].id) == META_OK) {
                log_debug("lifecycle: %s/%s upload %s aborted", p->bucket, pg.items[i].key, pg.items[i].id);
                p->actions++;
            }
        }
        if (u.n == 0) break;
    }
}

/* Works on one bucket if its pass is under way or due; returns the actions taken, or -1 when
 * there was nothing to do in it. */
static int step_bucket(lc_worker *w, const meta_lifecycle *lc)
{
    int64_t now = time_now_ms();
    bool starting = !*lc->cursor;
    if (starting && lc->pass_started_ms && now - lc->pass_started_ms < w->cfg.interval_ms) return -1;
    arena *a = arena_new(16384);
    lc_config rules;
    const char *msg;
    if (lc_parse(a, lc->document, strlen(lc->document), &rules, &msg) != S3E_OK) {
        log_error("lifecycle: the stored rules of bucket %s do not parse; skipped", lc->bucket);
        arena_free(a);
        return -1;
    }
    int64_t started = starting ? now : lc->pass_started_ms;
    page_ctx p = {w, lc->bucket, &rules, now, 0, lc_needs_tags(&rules)};
    if (starting) abort_stale_uploads(&p, a);
    meta_list_query q = {.prefix = "", .after = lc->cursor, .max = w->cfg.batch};
    bool truncated = false;
    const char *last = "";
    meta_status st = meta_object_list(w->cfg.meta, lc->bucket, &q, a, act_on_object, &p, &truncated, &last);
    if (st == META_OK) {
        /* Finished: the cursor goes back to the start and the pass's start time stays, which
         * says when the next pass is due. */
        meta_lifecycle_set_cursor(w->cfg.meta, lc->bucket, truncated ? last : "", started);
    }
    arena_free(a);
    return p.actions;
}

typedef struct bucket_list {
    lc_worker *w;
    const char *last;
    int seen, worked;
    arena *a;
} bucket_list;

static void on_bucket(void *cls, const meta_lifecycle *lc)
{
    bucket_list *bl = cls;
    bl->last = arena_strdup(bl->a, lc->bucket);
    bl->seen++;
    if (stopping(bl->w)) return;
    if (step_bucket(bl->w, lc) >= 0) bl->worked++;
}

/* One round over every bucket with rules; returns how many had work under way. */
static int step_buckets(lc_worker *w)
{
    arena *a = arena_new(8192);
    bucket_list bl = {w, "", 0, 0, a};
    int worked = 0;
    do {
        bl.seen = 0;
        if (meta_lifecycle_list(w->cfg.meta, bl.last, BUCKETS_PER_READ, a, on_bucket, &bl) != META_OK) break;
    } while (bl.seen == BUCKETS_PER_READ && !stopping(w));
    worked = bl.worked;
    arena_free(a);
    return worked;
}

/* --- the thread ------------------------------------------------------------------------------ */

static void *worker_main(void *arg)
{
    lc_worker *w = arg;
    /* Idle polls are short when days are (tests), and at most a second otherwise. */
    int64_t idle_ms = w->cfg.interval_ms < 1000 ? w->cfg.interval_ms : 1000;
    if (idle_ms < 20) idle_ms = 20;
    while (!stopping(w)) {
        int due = step_due(w);
        int busy = step_buckets(w);
        /* Busy: go on at once with the next pages (a short pause lets requests have the write
         * lock in between). Idle: wait, or until stopped. */
        int64_t pause = (due >= w->cfg.batch || busy > 0) ? 5 : idle_ms;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += pause / 1000;
        ts.tv_nsec += (pause % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&w->mu);
        if (!w->stop) pthread_cond_timedwait(&w->cv, &w->mu, &ts);
        pthread_mutex_unlock(&w->mu);
    }
    return NULL;
}

lc_worker *lc_worker_start(const lc_worker_config *cfg)
{
    lc_worker *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->cfg = *cfg;
    if (w->cfg.batch < 1) w->cfg.batch = 1;
    if (w->cfg.day_ms < 1) w->cfg.day_ms = 1;
    if (w->cfg.interval_ms < 0) w->cfg.interval_ms = 0;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return NULL;
    }
    return w;
}

void lc_worker_stop(lc_worker *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
