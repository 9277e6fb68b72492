/* meta_cache — recently read object rows, valid while the generation stands (meta_cache.h).
 *
 * Sixteen shards, each a mutex, chained hash buckets and a least-recently-used list, so that
 * threads reading different objects rarely meet on a lock; the byte count is one atomic for
 * the whole cache, and a shard that takes the cache over its budget evicts its own oldest
 * entries. An entry is one allocation: the header, then the extents (if any), the inline
 * bytes, and the bucket, key and headers strings. A hit copies the row into the caller's arena
 * under the shard's lock, so an entry is never seen by anyone once it is freed. */
#include "store/meta_cache.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum { SHARDS = 16, CHAINS = 512 };

typedef struct entry {
    struct entry *next;            /* hash chain */
    struct entry *older, *newer;   /* the shard's LRU list */
    uint64_t hash, gen;
    size_t bytes;                  /* what it counts against the budget */
    meta_status st;
    bool is_inline;
    size_t blen, klen, hlen;
    meta_object o;                 /* its pointers lead into mem; key left NULL */
    const char *bucket, *key;      /* into mem, NUL-terminated */
    uint64_t mem[];                /* 8-aligned, for the extents that come first */
} entry;

typedef struct shard {
    pthread_mutex_t mu;
    entry *newest, *oldest;
    entry *chain[CHAINS];
} shard;

struct mcache {
    size_t budget;
    _Atomic size_t bytes;
    shard shards[SHARDS];
};

/* Starts at 1 so that a zeroed entry can never look current. */
static _Atomic uint64_t generation = 1;

uint64_t mcache_generation(void) { return atomic_load(&generation); }

void mcache_bump(void) { atomic_fetch_add(&generation, 1); }

mcache *mcache_new(size_t budget)
{
    mcache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->budget = budget;
    for (int i = 0; i < SHARDS; i++) pthread_mutex_init(&c->shards[i].mu, NULL);
    return c;
}

void mcache_free(mcache *c)
{
    if (!c) return;
    for (int i = 0; i < SHARDS; i++) {
        for (entry *e = c->shards[i].oldest, *next; e; e = next) {
            next = e->newer;
            free(e);
        }
        pthread_mutex_destroy(&c->shards[i].mu);
    }
    free(c);
}

size_t mcache_bytes(const mcache *c) { return c ? atomic_load(&c->bytes) : 0; }

/* FNV-1a over bucket, a NUL and key, then a 64-bit finaliser (MurmurHash3's fmix64) so that
 * both the shard (high bits) and the chain (low bits) get well-mixed bits. */
static uint64_t key_hash(const char *bucket, size_t bl, const char *key, size_t kl)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i <= bl; i++) h = (h ^ (unsigned char)bucket[i]) * 0x100000001b3ull;
    for (size_t i = 0; i < kl; i++) h = (h ^ (unsigned char)key[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static shard *shard_of(mcache *c, uint64_t h) { return &c->shards[h >> 60]; }
static entry **chain_of(shard *s, uint64_t h) { return &s->chain[h % CHAINS]; }

static entry **find(shard *s, uint64_t h, const char *bucket, size_t bl, const char *key, size_t kl)
{
    entry **pp = chain_of(s, h);
    for (; *pp; pp = &(*pp)->next) {
        entry *e = *pp;
        if (e->hash == h && e->blen == bl && e->klen == kl && !memcmp(e->key, key, kl) &&
            !memcmp(e->bucket, bucket, bl))
            return pp;
    }
    return pp;
}

static void lru_unlink(shard *s, entry *e)
{
    if (e->older) e->older->newer = e->newer;
    else s->oldest = e->newer;
    if (e->newer) e->newer->older = e->older;
    else s->newest = e->older;
}

static void lru_push(shard *s, entry *e)
{
    e->newer = NULL;
    e->older = s->newest;
    if (s->newest) s->newest->newer = e;
    else s->oldest = e;
    s->newest = e;
}

/* The chain link that points at e, an entry of s (NULL if it is not there, which cannot be). */
static entry **link_of(shard *s, const entry *e)
{
    entry **pp = chain_of(s, e->hash);
    while (*pp && *pp != e) pp = &(*pp)->next;
    return *pp ? pp : NULL;
}

/* Unlinks *pp (an entry of s) from its chain and the LRU list, and frees it. */
static void drop(mcache *c, shard *s, entry **pp)
{
    entry *e = *pp;
    *pp = e->next;
    lru_unlink(s, e);
    atomic_fetch_sub(&c->bytes, e->bytes);
    free(e);
}

static void copy_out(const entry *e, const char *key, arena *a, meta_object *o)
{
    *o = e->o;
    o->key = arena_strdup(a, key);
    o->headers = arena_strndup(a, e->o.headers, e->hlen);
    if (e->is_inline) {
        o->inline_data = arena_memdup(a, e->o.inline_data, (size_t)e->o.size);
    } else if (e->o.nextents > 0) {
        size_t n = (size_t)e->o.nextents * sizeof *e->o.extents;
        meta_extent *x = arena_alloc(a, n);
        memcpy(x, e->o.extents, n);
        o->extents = x;
    }
}

bool mcache_get(mcache *c, uint64_t gen, const char *bucket, const char *key, arena *a,
                meta_object *o, meta_status *st)
{
    if (!c) return false;
    size_t bl = strlen(bucket), kl = strlen(key);
    uint64_t h = key_hash(bucket, bl, key, kl);
    shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    entry **pp = find(s, h, bucket, bl, key, kl), *e = *pp;
    bool hit = e && e->gen == gen;
    if (hit) {
        lru_unlink(s, e);
        lru_push(s, e);
        *st = e->st;
        if (e->st == META_OK) copy_out(e, key, a, o);
        else memset(o, 0, sizeof *o);   /* as the store leaves it for an absent row */
    } else if (e && e->gen < gen) {
        drop(c, s, pp);   /* generations only grow: it can never be current again */
    }
    pthread_mutex_unlock(&s->mu);
    return hit;
}

/* A new entry holding the row, or NULL when it is too large to keep or memory is short. */
static entry *entry_make(uint64_t h, uint64_t gen, const char *bucket, size_t bl, const char *key,
                         size_t kl, meta_status st, const meta_object *o)
{
    bool found = st == META_OK;
    bool is_inline = found && o->inline_data;
    size_t hl = found && o->headers ? strlen(o->headers) : 0;
    size_t nx = found && !is_inline && o->nextents > 0 ? (size_t)o->nextents : 0;
    size_t data = is_inline ? (size_t)o->size : 0;
    size_t mem = nx * sizeof(meta_extent) + data + bl + 1 + kl + 1 + hl + 1;
    size_t bytes = sizeof(entry) + mem;
    if (bytes > MCACHE_ENTRY_MAX || (is_inline && o->size < 0)) return NULL;
    entry *e = malloc(bytes);
    if (!e) return NULL;
    memset(e, 0, sizeof *e);
    e->hash = h;
    e->gen = gen;
    e->bytes = bytes;
    e->st = st;
    e->is_inline = is_inline;
    e->blen = bl;
    e->klen = kl;
    e->hlen = hl;
    char *p = (char *)e->mem;
    if (found) {
        e->o = *o;
        e->o.key = NULL;
        if (nx) {
            memcpy(p, o->extents, nx * sizeof(meta_extent));
            e->o.extents = (const meta_extent *)(const void *)p;
            p += nx * sizeof(meta_extent);
        } else {
            e->o.extents = NULL;
            e->o.nextents = 0;
        }
        if (is_inline) {
            if (data) memcpy(p, o->inline_data, data);
            e->o.inline_data = p;
            p += data;
        }
    }
    memcpy(p, bucket, bl + 1);
    e->bucket = p;
    p += bl + 1;
    memcpy(p, key, kl + 1);
    e->key = p;
    p += kl + 1;
    if (hl) memcpy(p, o->headers, hl);
    p[hl] = 0;
    e->o.headers = p;
    return e;
}

void mcache_put(mcache *c, uint64_t gen, const char *bucket, const char *key, meta_status st,
                const meta_object *o)
{
    if (!c || (st != META_OK && st != META_NOT_FOUND)) return;
    size_t bl = strlen(bucket), kl = strlen(key);
    uint64_t h = key_hash(bucket, bl, key, kl);
    entry *e = entry_make(h, gen, bucket, bl, key, kl, st, o);
    if (!e) return;
    shard *s = shard_of(c, h);
    pthread_mutex_lock(&s->mu);
    entry **pp = find(s, h, bucket, bl, key, kl);
    if (*pp && (*pp)->gen > gen) {
        /* Another thread already keeps a later reading. */
        pthread_mutex_unlock(&s->mu);
        free(e);
        return;
    }
    if (*pp) drop(c, s, pp);
    e->next = *chain_of(s, h);
    *chain_of(s, h) = e;
    lru_push(s, e);
    atomic_fetch_add(&c->bytes, e->bytes);
    /* Over budget: this shard gives up its least recently used rows, but keeps the new one
     * (so the cache may hold one entry per shard beyond the budget). */
    while (atomic_load(&c->bytes) > c->budget && s->oldest != e) {
        entry **old = link_of(s, s->oldest);
        if (!old) break;
        drop(c, s, old);
    }
    pthread_mutex_unlock(&s->mu);
}
