/* md5mb — see md5mb.h.
 *
 * Each stream keeps the bytes it was given and not yet compressed in a ring of MD5MB_BUFFER
 * bytes: positions head..tail count bytes since the stream began, a byte lives at
 * buf[pos % MD5MB_BUFFER], and head only ever moves by whole blocks, so the run from head to
 * the ring's end is whole blocks too (nothing is moved to make room). A pass takes up to eight
 * streams (lanes) and compresses the same number of blocks from the front of each, in steps
 * that stop where a lane wraps around its ring. Two kinds of pass:
 *   - ready: every stream it takes holds at least PASS_MIN bytes, and it takes eight of them
 *     (or all there are, if at least LANES_WORTH): all lanes do useful work;
 *   - forced: a stream's ring is full. It is compressed together with every other stream that
 *     holds PASS_MIN bytes, if that makes LANES_WORTH lanes; otherwise a quarter of the ring
 *     goes through the scalar chain alone.
 * A step of the eight lanes costs about three scalar steps (md5.h: 2.4–3.1 GB/s for eight
 * streams against 0.6 GB/s for one), so a pass pays from three lanes on.
 *
 * Measured with eight 64 MiB uploads, their bodies read 256 KiB at a time: the earlier design
 * (a 256 KiB buffer, compacted by memmove, a forced pass only with lanes holding half a
 * buffer) hashed 78 % of the bytes in the scalar chain, because one read filled a buffer and
 * forced a pass before any other stream had as much.
 *
 * Everything happens under one mutex, on the thread whose update called for it. */
#include "util/md5mb.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/md5.h"

/* A ready pass compresses at least this much per lane: enough to be worth a pass, small
 * enough that rings stay far from full while streams wait for each other. */
enum { PASS_MIN = 16 * 1024, LANES_WORTH = 3 };

_Static_assert(MD5MB_BUFFER % MD5_BLOCK == 0, "the ring holds whole blocks");

struct md5mb_stream {
    md5_state st;
    unsigned char *buf;
    uint64_t head, tail;        /* pending bytes: positions [head, tail) */
    struct md5mb_stream *prev, *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static md5mb_stream *streams;   /* every open stream, guarded by mu */
static int nstreams;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool avx2;

static void detect(void) { avx2 = md5x8_available(); }

static size_t pending(const md5mb_stream *s) { return (size_t)(s->tail - s->head); }

/* Whole blocks readable at head without crossing the ring's end. */
static size_t run_blocks(const md5mb_stream *s)
{
    size_t at = (size_t)(s->head % MD5MB_BUFFER);
    size_t n = pending(s) < MD5MB_BUFFER - at ? pending(s) : MD5MB_BUFFER - at;
    return n / MD5_BLOCK;
}

static const unsigned char *at_head(const md5mb_stream *s) { return s->buf + s->head % MD5MB_BUFFER; }

/* Compresses n blocks from the front of each lane's pending bytes, n no more than any of them
 * holds contiguously. With mu held. */
static void compress_run(md5mb_stream **lane, int nl, size_t n)
{
    if (nl == 1) {
        md5_blocks(&lane[0]->st, at_head(lane[0]), n);
    } else {
        md5_state *st[MD5_LANES] = {0};
        const unsigned char *p[MD5_LANES] = {0};
        for (int i = 0; i < nl; i++) {
            st[i] = &lane[i]->st;
            p[i] = at_head(lane[i]);
        }
        md5x8_blocks(st, p, n);
    }
    for (int i = 0; i < nl; i++) lane[i]->head += (uint64_t)n * MD5_BLOCK;
}

/* Compresses n blocks of each lane (each holds at least n), in steps that stop where a lane's
 * bytes wrap around its ring's end. With mu held. */
static void compress(md5mb_stream **lane, int nl, size_t n)
{
    while (n) {
        size_t step = n;
        for (int i = 0; i < nl; i++)
            if (run_blocks(lane[i]) < step) step = run_blocks(lane[i]);
        compress_run(lane, nl, step);
        n -= step;
    }
}

static bool chosen(md5mb_stream *const *lane, int nl, const md5mb_stream *s)
{
    for (int i = 0; i < nl; i++)
        if (lane[i] == s) return true;
    return false;
}

/* Fills lane[] with `first` (when not NULL), then the streams with the most pending bytes, at
 * least PASS_MIN each, up to eight in all. Returns how many; *blocks is the fewest whole
 * pending blocks among them. With mu held. */
static int pick(md5mb_stream *first, md5mb_stream **lane, size_t *blocks)
{
    int nl = 0;
    size_t min = SIZE_MAX;
    if (first) {
        lane[nl++] = first;
        min = pending(first) / MD5_BLOCK;
    }
    while (nl < MD5_LANES) {
        md5mb_stream *best = NULL;
        size_t best_n = 0;
        for (md5mb_stream *s = streams; s; s = s->next) {
            size_t n = pending(s) / MD5_BLOCK;
            if (n >= PASS_MIN / MD5_BLOCK && n > best_n && !chosen(lane, nl, s)) {
                best = s;
                best_n = n;
            }
        }
        if (!best) break;
        lane[nl++] = best;
        if (best_n < min) min = best_n;
    }
    *blocks = nl ? min : 0;
    return nl;
}

static void ready_pass(void)
{
    md5mb_stream *lane[MD5_LANES];
    size_t n;
    int nl = pick(NULL, lane, &n);
    int want = nstreams < MD5_LANES ? nstreams : MD5_LANES;
    if (nl < want || nl < LANES_WORTH) return;   /* someone is not ready, or too few to pay */
    compress(lane, nl, n);
}

/* s's ring is full: make room. */
static void make_room(md5mb_stream *s)
{
    md5mb_stream *lane[MD5_LANES];
    size_t n;
    int nl = pick(s, lane, &n);
    if (nl >= LANES_WORTH && n > 0) {
        compress(lane, nl, n);
        return;
    }
    compress(&s, 1, MD5MB_BUFFER / 4 / MD5_BLOCK);
}

md5mb_stream *md5mb_new(void)
{
    pthread_once(&once, detect);
    if (!avx2) return NULL;
    md5mb_stream *s = calloc(1, sizeof *s);
    if (!s || !(s->buf = malloc(MD5MB_BUFFER))) {
        free(s);
        return NULL;
    }
    md5_init(&s->st);
    pthread_mutex_lock(&mu);
    bool room = nstreams < MD5MB_MAX_STREAMS;
    if (room) {
        s->next = streams;
        if (streams) streams->prev = s;
        streams = s;
        nstreams++;
    }
    pthread_mutex_unlock(&mu);
    if (room) return s;
    free(s->buf);
    free(s);
    return NULL;
}

void md5mb_update(md5mb_stream *s, const void *p, size_t n)
{
    const unsigned char *in = p;
    pthread_mutex_lock(&mu);
    while (n) {
        if (pending(s) == MD5MB_BUFFER) {
            make_room(s);
            continue;
        }
        /* Up to the room left and to the ring's end, whichever comes first. */
        size_t at = (size_t)(s->tail % MD5MB_BUFFER);
        size_t k = MD5MB_BUFFER - pending(s);
        if (k > MD5MB_BUFFER - at) k = MD5MB_BUFFER - at;
        if (k > n) k = n;
        memcpy(s->buf + at, in, k);
        s->tail += k;
        in += k;
        n -= k;
    }
    if (pending(s) >= PASS_MIN) ready_pass();
    pthread_mutex_unlock(&mu);
}

/* Takes s out of the set: no pass touches it from then on. */
static void unlink_stream(md5mb_stream *s)
{
    pthread_mutex_lock(&mu);
    if (s->prev) s->prev->next = s->next;
    else streams = s->next;
    if (s->next) s->next->prev = s->prev;
    nstreams--;
    pthread_mutex_unlock(&mu);
}

void md5mb_final(md5mb_stream *s, unsigned char out[16])
{
    unlink_stream(s);
    compress(&s, 1, pending(s) / MD5_BLOCK);
    /* Less than a block is left, from a block boundary: contiguous (the ring is whole blocks). */
    md5_finish(&s->st, at_head(s), pending(s), s->tail, out);
    free(s->buf);
    free(s);
}

void md5mb_discard(md5mb_stream *s)
{
    if (!s) return;
    unlink_stream(s);
    free(s->buf);
    free(s);
}
