/* meta_cache — recently read object rows, kept in memory and trusted only while nothing has
 * been committed since they were read.
 *
 * Why: a GET of a small object spends about a third of the server's time in SQLite finding a
 * row it found a moment ago (statement step, WAL read lock, pages copied out of the file). The
 * metadata driver puts each row it reads here and answers the next read of the same object
 * from here.
 *
 * Staleness: the cache does not know which rows a change touched. Instead a process-wide
 * generation moves whenever any metadata commit in this process begins and again once it is
 * visible (mcache_bump, called from the driver's commit hooks), and an entry is served only
 * when it carries the generation that stands now. The generation an entry carries is the one
 * read *before* the row was read, so a commit that lands between the two leaves the entry
 * already outdated. A request that starts after a write was acknowledged therefore never sees
 * a row from before that write. This holds for writers in this process only; the data
 * directory's lock (main.c) keeps every other process out while a server runs.
 *
 * Memory: one cache per store, shared by every thread (sharded locks), bounded in bytes (the
 * budget, and at most one entry per shard beyond it); rows larger than MCACHE_ENTRY_MAX are not
 * kept. Least recently used entries make room. */
#ifndef WOSD_STORE_META_CACHE_H
#define WOSD_STORE_META_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "store/meta.h"
#include "util/arena.h"

enum { MCACHE_ENTRY_MAX = 64 * 1024 };

typedef struct mcache mcache;

/* A cache that holds at most budget bytes of rows (entry overheads included). NULL when out of
 * memory; a NULL cache caches nothing. */
mcache *mcache_new(size_t budget);
void mcache_free(mcache *c);

/* The generation that stands now: read it before reading the row that mcache_put is given. */
uint64_t mcache_generation(void);
/* Moves the generation on: every entry cached so far is outdated. Any thread, lock-free. */
void mcache_bump(void);

/* The row of (bucket, key) if one was put with generation gen (pass mcache_generation() read
 * just now): *st is META_OK with *o filled from memory of a, or META_NOT_FOUND (cached
 * absence). false when there is nothing current to answer with. */
bool mcache_get(mcache *c, uint64_t gen, const char *bucket, const char *key, arena *a,
                meta_object *o, meta_status *st);
/* Keeps a row read after generation gen was read: st META_OK with o, or META_NOT_FOUND. */
void mcache_put(mcache *c, uint64_t gen, const char *bucket, const char *key, meta_status st,
                const meta_object *o);

/* Bytes held now (for tests). */
size_t mcache_bytes(const mcache *c);

#endif
