/* fuzz — what the libFuzzer targets share: an invariant check that fails loudly, and a cursor
 * that splits an input into lines.
 *
 * A violated invariant must stop the fuzzer with the input saved, exactly as a crash does:
 * FUZZ_CHECK prints the condition and aborts, which libFuzzer reports as a deadly signal and
 * writes out as crash-<sha1>. */
#ifndef WOSD_TESTS_FUZZ_H
#define WOSD_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                     \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: invariant violated: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                         \
        }                                                                                    \
    } while (0)

typedef struct fuzz_cursor {
    const uint8_t *p, *end;
} fuzz_cursor;

/* The next line (up to '\n', without it and without a '\r' before it) as a malloc'd C string;
 * a NUL inside the line ends the string there, as it would for any C consumer. NULL when the
 * input is used up. The caller frees. */
static inline char *fuzz_line(fuzz_cursor *c)
{
    if (c->p >= c->end) return NULL;
    const uint8_t *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const uint8_t *stop = nl ? nl : c->end;
    size_t n = (size_t)(stop - c->p);
    if (n && stop[-1] == '\r') n--;
    char *s = malloc(n + 1);
    if (!s) abort();
    memcpy(s, c->p, n);
    s[n] = 0;
    c->p = nl ? nl + 1 : c->end;
    return s;
}

/* A malloc'd, NUL-terminated copy of data[0..n). */
static inline char *fuzz_strndup(const uint8_t *data, size_t n)
{
    char *s = malloc(n + 1);
    if (!s) abort();
    if (n) memcpy(s, data, n);
    s[n] = 0;
    return s;
}

#endif
