/* md5mb — see md5mb.h.
 *
 * Each stream keeps the bytes it was given and not yet compressed in buf[off, len). A pass
 * takes up to eight streams (lanes), compresses the same number of whole blocks from the front
 * of each, and moves their off on. Two kinds of pass:
 *   - ready: every stream it takes holds at least PASS_MIN bytes, and it takes eight of them
 *     (or all there are): all lanes do useful work. Streams whose bytes arrive at similar rates
 *     settle into staggered fill levels and pass PASS_MIN at a time.
 *   - forced: a stream's buffer is full of pending bytes; half of them are compressed now, with
 *     the lanes of every other stream that has as many (or alone).
 * Everything happens under one mutex, on the thread whose update called for it; a pass is a
 * few tens of microseconds. */
#include "util/md5mb.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/md5.h"

/* A ready pass compresses at least this much per lane: enough to be worth a pass, small
 * enough that buffers stay far from full while streams wait for each other. */
enum { PASS_MIN = 16 * 1024 };

struct md5mb_stream {
    md5_state st;
    unsigned char *buf;
    size_t off, len;            /* pending bytes: buf[off, len) */
    uint64_t total;             /* bytes given so far */
    struct md5mb_stream *prev, *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static md5mb_stream *streams;   /* every open stream, guarded by mu */
static int nstreams;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool avx2;

static void detect(void) { avx2 = md5x8_available(); }

static size_t pending(const md5mb_stream *s) { return s->len - s->off; }

/* Compresses n blocks from the front of each lane's pending bytes. With mu held. */
static void compress(md5mb_stream **lane, int nl, size_t n)
{
    if (nl == 1) {
        /* One stream alone goes faster through the scalar chain than in one of eight lanes. */
        md5_blocks(&lane[0]->st, lane[0]->buf + lane[0]->off, n);
    } else {
        md5_state *st[MD5_LANES] = {0};
        const unsigned char *p[MD5_LANES] = {0};
        for (int i = 0; i < nl; i++) {
            st[i] = &lane[i]->st;
            p[i] = lane[i]->buf + lane[i]->off;
        }
        md5x8_blocks(st, p, n);
    }
    for (int i = 0; i < nl; i++) lane[i]->off += n * MD5_BLOCK;
}

static bool chosen(md5mb_stream *const *lane, int nl, const md5mb_stream *s)
{
    for (int i = 0; i < nl; i++)
        if (lane[i] == s) return true;
    return false;
}

/* Fills lane[] with `first` (when not NULL), then the streams with the most pending bytes, at
 * least min each, up to eight in all. Returns how many. With mu held. */
static int pick(md5mb_stream *first, size_t min, md5mb_stream **lane)
{
    int nl = 0;
    if (first) lane[nl++] = first;
    while (nl < MD5_LANES) {
        md5mb_stream *best = NULL;
        for (md5mb_stream *s = streams; s; s = s->next)
            if (pending(s) >= min && !chosen(lane, nl, s) && (!best || pending(s) > pending(best))) best = s;
        if (!best) break;
        lane[nl++] = best;
    }
    return nl;
}

static void ready_pass(void)
{
    md5mb_stream *lane[MD5_LANES];
    int nl = pick(NULL, PASS_MIN, lane);
    if (nl == 0 || nl < (nstreams < MD5_LANES ? nstreams : MD5_LANES)) return;   /* someone is not ready */
    size_t min = pending(lane[0]);
    for (int i = 1; i < nl; i++)
        if (pending(lane[i]) < min) min = pending(lane[i]);
    compress(lane, nl, min / MD5_BLOCK);
}

/* s's buffer is full: make room. */
static void make_room(md5mb_stream *s)
{
    if (s->off >= MD5MB_BUFFER / 2 || pending(s) < MD5_BLOCK) {
        /* Enough was compressed (or only a partial block is left): move the rest to the front. */
        memmove(s->buf, s->buf + s->off, pending(s));
        s->len -= s->off;
        s->off = 0;
        return;
    }
    size_t n = pending(s) / 2 / MD5_BLOCK;
    md5mb_stream *lane[MD5_LANES];
    int nl = pick(s, n * MD5_BLOCK, lane);
    compress(lane, nl, n);
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
    s->total += n;
    pthread_mutex_lock(&mu);
    while (n) {
        if (s->len == MD5MB_BUFFER) {
            make_room(s);
            continue;
        }
        size_t k = MD5MB_BUFFER - s->len < n ? MD5MB_BUFFER - s->len : n;
        memcpy(s->buf + s->len, in, k);
        s->len += k;
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
    size_t n = pending(s) / MD5_BLOCK;
    md5_blocks(&s->st, s->buf + s->off, n);
    s->off += n * MD5_BLOCK;
    md5_finish(&s->st, s->buf + s->off, pending(s), s->total, out);
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
