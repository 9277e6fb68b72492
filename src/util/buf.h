/* buf — a growable byte buffer on the heap, for bodies that outlive the request arena
 * (a response handed to the HTTP layer) or whose size is not known in advance. */
#ifndef WOSD_UTIL_BUF_H
#define WOSD_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len, cap;
} buf;

void buf_append(buf *b, const void *p, size_t n);
void buf_puts(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Gives the bytes away: the caller frees them with free(). The buffer is empty afterwards. */
char *buf_steal(buf *b, size_t *len);
void buf_free(buf *b);

#endif
