/* fuzz_form — the multipart/form-data parser of PostObject, fed whole and in pieces.
 *
 * Input: bytes 0..3 are the sizes of the pieces the body is fed in, cycled (0: all that is
 * left); then one line, the Content-Type value; the rest is the body.
 *
 * Invariants: the parser promises that pieces of any size give the same parse (form.h), so
 * the fed-whole and fed-in-pieces runs must produce the same events (part starts with their
 * name, file name and content type; the data of each part; part ends) and the same result;
 * events nest (data and end only inside a part, a name on every part); the data is never more
 * than the body; a callback's non-zero return stops the parse and is what form_feed returns. */
#include "fuzz.h"

#include <stdbool.h>

#include "s3/form.h"
#include "util/arena.h"

/* The events of one parse, serialised: 'B' name \0 filename|\1 \0 type|\1 \0, 'D' data..., 'E'. */
typedef struct events {
    char *p;
    size_t len, cap;
    bool in_part, in_data;
    size_t data_total, body_len;
    int stop_at, count;   /* make the stop_at-th callback (1-based) return STOP; 0: never */
} events;

enum { STOP = 7 };

/* FUZZ_VERBOSE=1 prints each outcome: to see which seeds parse (build/fuzz/fuzz_form FILE...). */
static bool verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    verbose = getenv("FUZZ_VERBOSE") != NULL;
    return 0;
}

static void put(events *ev, const void *p, size_t n)
{
    if (ev->len + n > ev->cap) {
        size_t nc = ev->cap ? ev->cap : 256;
        while (nc < ev->len + n) nc *= 2;
        ev->p = realloc(ev->p, nc);
        if (!ev->p) abort();
        ev->cap = nc;
    }
    memcpy(ev->p + ev->len, p, n);
    ev->len += n;
}

static void put_str(events *ev, const char *s)
{
    if (s) put(ev, s, strlen(s) + 1);
    else put(ev, "\1", 2);
}

static int stop_here(events *ev)
{
    return ++ev->count == ev->stop_at ? STOP : 0;
}

static int on_begin(void *cls, const char *name, const char *filename, const char *ctype)
{
    events *ev = cls;
    FUZZ_CHECK(name != NULL);
    FUZZ_CHECK(!ev->in_part);
    ev->in_part = true;
    ev->in_data = false;
    put(ev, "B", 1);
    put_str(ev, name);
    put_str(ev, filename);
    put_str(ev, ctype);
    return stop_here(ev);
}

static int on_data(void *cls, const char *data, size_t n)
{
    events *ev = cls;
    FUZZ_CHECK(ev->in_part);
    ev->data_total += n;
    FUZZ_CHECK(ev->data_total <= ev->body_len);
    /* Consecutive data calls are one stream: how it is cut up is not part of the parse. */
    if (!ev->in_data) put(ev, "D", 1);
    ev->in_data = true;
    put(ev, data, n);
    return stop_here(ev);
}

static int on_end(void *cls)
{
    events *ev = cls;
    FUZZ_CHECK(ev->in_part);
    ev->in_part = false;
    ev->in_data = false;
    put(ev, "E", 1);
    return stop_here(ev);
}

static const form_callbacks callbacks = {on_begin, on_data, on_end};

/* Returns form_feed's first non-zero result, else form_finish's. */
static int parse(const char *ctype, const uint8_t *body, size_t n, const uint8_t sizes[4], events *ev)
{
    arena *a = arena_new(4096);
    form_parser *f = form_new(a, ctype);
    int rc = 0;
    if (!f) {
        rc = 1000;   /* refused content type */
    } else {
        size_t off = 0;
        for (int i = 0; off < n && rc == 0; i++) {
            size_t k = sizes[i % 4] ? sizes[i % 4] : n - off;
            if (k > n - off) k = n - off;
            rc = form_feed(f, (const char *)body + off, k, &callbacks, ev);
            off += k;
        }
        if (rc == 0) rc = form_finish(f);
    }
    FUZZ_CHECK(rc == 0 || rc == FORM_MALFORMED || rc == STOP || rc == 1000);
    if (rc != STOP) FUZZ_CHECK(ev->stop_at == 0 || ev->count < ev->stop_at);
    arena_free(a);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    const uint8_t *sizes = data;
    fuzz_cursor cur = {data + 4, data + size};
    char *ctype = fuzz_line(&cur);
    if (!ctype) return 0;
    const uint8_t *body = cur.p;
    size_t n = (size_t)(cur.end - cur.p);

    static const uint8_t whole[4] = {0, 0, 0, 0};
    events a = {.body_len = n}, b = {.body_len = n};
    int ra = parse(ctype, body, n, whole, &a);
    int rb = parse(ctype, body, n, sizes, &b);
    if (verbose) fprintf(stderr, "whole: rc=%d callbacks=%d; pieces: rc=%d callbacks=%d\n", ra, a.count, rb, b.count);
    FUZZ_CHECK(ra == rb);
    FUZZ_CHECK(a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0));

    /* Stop at one of the callbacks the full parse made. */
    if (a.count > 0) {
        events c = {.body_len = n, .stop_at = 1 + (int)(sizes[0] % (unsigned)a.count)};
        FUZZ_CHECK(parse(ctype, body, n, sizes, &c) == STOP);
        free(c.p);
    }
    free(a.p);
    free(b.p);
    free(ctype);
    return 0;
}
