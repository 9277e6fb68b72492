/* arena — per-request memory.
 *
 * Every allocation a request makes comes from its arena and is released at once when the request
 * ends, however it ends (finished, refused early, connection dropped). Nothing allocated here is
 * freed one by one. Allocation failure aborts: a server that cannot get a few KiB is already lost,
 * and checking every small allocation would bury the logic. */
#ifndef WOSD_UTIL_ARENA_H
#define WOSD_UTIL_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena;

arena *arena_new(size_t first_block);
void arena_free(arena *a);

/* Memory aligned for any type; zeroed. */
void *arena_alloc(arena *a, size_t n);
/* Copies: n bytes (or the string) and a NUL after them, aligned; nothing else is zeroed. */
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);
void *arena_memdup(arena *a, const void *p, size_t n);
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap);

#endif
