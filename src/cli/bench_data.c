/* bench_data — the bytes the benchmark writes, and what it expects to read back.
 *
 * Bodies are generated, never read from disk, and never allocated per request: one pool of
 * pseudo-random bytes (a fixed seed, so every run and every process agrees) is shared,
 * read-only, by all threads. An object's content is the pool read cyclically from an offset
 * its key chooses, so a reader can check every byte it receives with memcmp against the same
 * pool, and the expected MD5 of a (base, length) pair is computed once and cached. The pool's
 * period is deliberately not a power of two, so part boundaries and periods do not line up. */
#include <stdlib.h>
#include <string.h>

#include "cli/bench_internal.h"
#include "util/hash.h"

static unsigned char *pool;   /* 2 × BENCH_POOL_PERIOD bytes, the second copy equal to the first */

void bench_data_init(uint64_t seed)
{
    if (pool) return;
    pool = malloc(2 * (size_t)BENCH_POOL_PERIOD + 8);
    if (!pool) abort();
    uint64_t x = seed ? seed : 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < BENCH_POOL_PERIOD; i += 8) {
        /* splitmix64: fast, and good enough that no two windows look alike */
        x += 0x9E3779B97F4A7C15ull;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        z ^= z >> 31;
        memcpy(pool + i, &z, 8);
    }
    memcpy(pool + BENCH_POOL_PERIOD, pool, BENCH_POOL_PERIOD);
}

const unsigned char *bench_data_at(uint64_t base, uint64_t pos, uint64_t *n)
{
    uint64_t off = (base + pos) % BENCH_POOL_PERIOD;
    if (*n > BENCH_POOL_PERIOD) *n = BENCH_POOL_PERIOD;
    return pool + off;
}

bool bench_data_equal(uint64_t base, uint64_t pos, const unsigned char *data, size_t n, uint64_t *bad_at)
{
    while (n) {
        uint64_t k = n;
        const unsigned char *want = bench_data_at(base, pos, &k);
        if (memcmp(want, data, k) != 0) {
            for (uint64_t i = 0; i < k; i++)
                if (want[i] != data[i]) {
                    if (bad_at) *bad_at = pos + i;
                    break;
                }
            return false;
        }
        data += k;
        pos += k;
        n -= k;
    }
    return true;
}

void bench_data_md5(uint64_t base, uint64_t len, unsigned char out[16])
{
    hash_ctx *h = hash_new(HASH_MD5);
    for (uint64_t pos = 0; pos < len;) {
        uint64_t k = len - pos;
        const unsigned char *p = bench_data_at(base, pos, &k);
        hash_update(h, p, k);
        pos += k;
    }
    hash_final(h, out);
}

void bench_md5_cache_init(bench_md5_cache *c, size_t n)
{
    c->n = n;
    c->v = calloc(n, sizeof *c->v);
    if (!c->v) abort();
}

void bench_md5_cache_free(bench_md5_cache *c)
{
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

static size_t slot_of(const bench_md5_cache *c, uint64_t base, uint64_t len)
{
    uint64_t h = base * 0x9E3779B97F4A7C15ull ^ (len + 0x632BE59BD9B4E019ull) * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h >> 17) & (c->n - 1);
}

static const bench_md5_entry *lookup(const bench_md5_cache *c, uint64_t base, uint64_t len)
{
    if (!c || !c->n) return NULL;
    /* two probes: the shared table is filled once with few entries, the local one is a cache */
    size_t s = slot_of(c, base, len);
    for (int i = 0; i < 2; i++) {
        const bench_md5_entry *e = &c->v[(s + (size_t)i) & (c->n - 1)];
        if (e->valid && e->base == base && e->len == len) return e;
    }
    return NULL;
}

void bench_md5_get(const bench_md5_cache *shared, bench_md5_cache *local, uint64_t base, uint64_t len,
                   unsigned char out[16])
{
    const bench_md5_entry *e = lookup(shared, base, len);
    if (!e) e = lookup(local, base, len);
    if (e) {
        memcpy(out, e->md5, 16);
        return;
    }
    bench_data_md5(base, len, out);
    if (!local || !local->n) return;
    size_t s = slot_of(local, base, len);
    bench_md5_entry *slot = &local->v[s];
    if (slot->valid) {
        bench_md5_entry *alt = &local->v[(s + 1) & (local->n - 1)];
        if (!alt->valid) slot = alt;
    }
    slot->base = base;
    slot->len = len;
    memcpy(slot->md5, out, 16);
    slot->valid = true;
}
