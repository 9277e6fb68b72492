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

/* Each thread keeps the blocks it freed, of up to CACHE_MAX bytes, for its next requests: a
 * request's 8, 16 and 32 KiB blocks, malloc'd and freed per request, otherwise sat at the top
 * of the thread's heap, which glibc trimmed (madvise) and the next request faulted back in —
 * 8 % of a small write's CPU. A thread may free many at once: an event thread resumes a whole
 * group commit's requests together (32 at a time under 64 InitiateMultipartUploads), so the
 * cache holds lists by size, up to CACHE_BYTES a thread, rather than a few slots (six slots
 * left 0.3 page faults an Initiate). Sanitizer builds skip the cache so that a use after free
 * stays visible. */
enum { CACHE_MIN_LOG = 8, CACHE_MAX_LOG = 16, CACHE_BYTES = 512 * 1024 };
enum { CACHE_CLASSES = CACHE_MAX_LOG - CACHE_MIN_LOG + 1, CACHE_MAX = 1 << CACHE_MAX_LOG };
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
static _Thread_local block *cache[CACHE_CLASSES];   /* chained through next */
static _Thread_local size_t cache_bytes;
static pthread_key_t cache_key;   /* its destructor frees a finished thread's cache */
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_drop(void *unused)
{
    (void)unused;
    for (int i = 0; i < CACHE_CLASSES; i++)
        for (block *b = cache[i], *n; b; b = n) {
            n = b->next;
            free(b);
        }
    memset(cache, 0, sizeof cache);
    cache_bytes = 0;
}

static void cache_key_make(void) { pthread_key_create(&cache_key, cache_drop); }

/* Only the sizes arenas grow by (powers of two from arena_new's first block on): a block made
 * to measure for one large allocation would hold a slot nothing else can reuse. Returns the
 * size's list, or -1. */
static int cache_class(size_t size)
{
    if (!ARENA_CACHE || size < (1u << CACHE_MIN_LOG) || size > CACHE_MAX || (size & (size - 1)) != 0)
        return -1;
    return __builtin_ctzll(size) - CACHE_MIN_LOG;
}

static block *block_new(size_t size)
{
    int k = cache_class(size);
    block *b = k >= 0 ? cache[k] : NULL;
    if (b) {
        cache[k] = b->next;
        cache_bytes -= size;
    } else {
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
    int k = cache_class(b->size);
    if (k < 0 || cache_bytes + b->size > CACHE_BYTES) {
        free(b);
        return;
    }
    pthread_once(&cache_once, cache_key_make);
    if (!pthread_getspecific(cache_key)) pthread_setspecific(cache_key, cache);
    b->next = cache[k];
    cache[k] = b;
    cache_bytes += b->size;
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
