/* arena — bump allocator over a chain of blocks. */
#include "util/arena.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct block {
    struct block *next;
    size_t size, used;
    max_align_t data[];
} block;

struct arena {
    block *head;
    size_t next_size;
};

/* Each thread keeps a few freed blocks of up to CACHE_MAX bytes for its next requests: a
 * request's 8, 16 and 32 KiB blocks, malloc'd and freed per request, otherwise sat at the top
 * of the thread's heap, which glibc trimmed (madvise) and the next request faulted back in —
 * 8 % of a small write's CPU. Sanitizer builds skip the cache so that a use after free stays
 * visible. */
enum { CACHE_SLOTS = 6, CACHE_MAX = 64 * 1024 };
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define ARENA_NO_CACHE 1   /* clang says so this way, not by __SANITIZE_ADDRESS__ */
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || defined(ARENA_NO_CACHE)
#define ARENA_CACHE 0
#else
#define ARENA_CACHE 1
#endif
static _Thread_local block *cache[CACHE_SLOTS];
static pthread_key_t cache_key;   /* its destructor frees a finished thread's cache */
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_drop(void *unused)
{
    (void)unused;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        free(cache[i]);
        cache[i] = NULL;
    }
}

static void cache_key_make(void) { pthread_key_create(&cache_key, cache_drop); }

/* Only the sizes arenas grow by (powers of two from arena_new's first block on): a block made
 * to measure for one large allocation would hold a slot nothing else can reuse. */
static bool cacheable(size_t size) { return ARENA_CACHE && size <= CACHE_MAX && (size & (size - 1)) == 0; }

static block *block_new(size_t size)
{
    block *b = NULL;
    if (cacheable(size))
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (cache[i] && cache[i]->size == size) {
                b = cache[i];
                cache[i] = NULL;
                break;
            }
    if (!b) {
        b = malloc(sizeof(block) + size);
        if (!b) abort();
        b->size = size;
    }
    b->next = NULL;
    b->used = 0;
    return b;
}

static void block_free(block *b)
{
    if (cacheable(b->size))
        for (int i = 0; i < CACHE_SLOTS; i++)
            if (!cache[i]) {
                pthread_once(&cache_once, cache_key_make);
                if (!pthread_getspecific(cache_key)) pthread_setspecific(cache_key, cache);
                cache[i] = b;
                return;
            }
    free(b);
}

arena *arena_new(size_t first_block)
{
    arena *a = malloc(sizeof *a);
    if (!a) abort();
    if (first_block < 256) first_block = 256;
    a->head = block_new(first_block);
    a->next_size = first_block * 2;
    return a;
}

void arena_free(arena *a)
{
    if (!a) return;
    for (block *b = a->head, *n; b; b = n) {
        n = b->next;
        block_free(b);
    }
    free(a);
}

/* n bytes, aligned, not zeroed: for copies, which overwrite them anyway (a GET's object bytes
 * are copied a few KiB at a time; zeroing them first doubled the cost). */
static void *take(arena *a, size_t n)
{
    const size_t align = sizeof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0) n = align;
    block *b = a->head;
    if (b->size - b->used < n) {
        size_t size = a->next_size;
        if (size < n) size = n;
        if (a->next_size < (1u << 20)) a->next_size *= 2;
        b = block_new(size);
        b->next = a->head;
        a->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

void *arena_alloc(arena *a, size_t n)
{
    void *p = take(a, n);
    memset(p, 0, n);
    return p;
}

void *arena_memdup(arena *a, const void *p, size_t n)
{
    char *d = take(a, n + 1);
    if (n) memcpy(d, p, n);
    d[n] = 0;
    return d;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    return arena_memdup(a, s, n);
}

char *arena_strdup(arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0) n = 0;
    char *s = arena_alloc(a, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}
