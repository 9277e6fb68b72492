/* http_epoll — wosd's own HTTP/1.1 core: one epoll event loop per thread, behind http.h.
 *
 * It replaces libmicrohttpd (http_mhd.c, still built with `make HTTP_CORE=mhd`) for what the
 * measurements blamed on it (docs/PERFORMANCE.md): a 32 KiB pool zeroed per request and kept
 * per idle connection, printf-formatted headers, 128 KiB sendfile calls. Here:
 *   - a connection holds memory only while it has a request in progress or bytes of one: an
 *     idle keep-alive connection is the `conn` struct below and its socket;
 *   - a request's head is read into a 16 KiB input buffer (taken from a small per-loop free
 *     list, grown up to HTTP_HEAD_MAX), copied once into the request's arena and split there
 *     (http_parse.c); bodies are handed to the handler straight from the read buffer;
 *   - response headers are appended into one buffer and go out with the body in one sendmsg;
 *     files go out with sendfile, 2 MiB a call.
 *
 * Threads. Each event thread owns its connections outright: nothing but the thread touches a
 * conn, except a thread running a deferred end() on a connection that is parked in C_WORK (the
 * event thread does not look at it then) and handing it back through the loop's `resumed` list
 * and its eventfd (loop_resume). Two queues feed those threads: `jobs`, served by the worker
 * pool one request at a time (http_defer_end), and `groups`, served by one thread a whole group
 * at a time between the handler's group_open and group_close (http_defer_end_group).
 *
 * Accepting. One listening socket is in every loop's epoll set, level-triggered, and a new
 * connection wakes them all; whichever accepts it gives it to the loop with the fewest
 * connections (itself on a tie), through that loop's `adopted` list and eventfd (accept_some).
 * Leaving a connection for the others to take instead was not enough: on a busy machine the
 * loop that got the CPU first still took a whole burst of 64 in some runs. EPOLLEXCLUSIVE woke
 * the same thread for every sequential connection (40/0), so a lightly loaded server ran on one
 * thread; SO_REUSEPORT spreads by a hash of the address, cannot see load, and lets another
 * process of the same user bind the port unnoticed.
 *
 * Slow clients. Every loop sweeps its connections once a second: a connection idle (no request,
 * or a response the client does not read) for the idle timeout is closed; a request line and
 * headers must be complete within twice the idle timeout of their first byte; a body must keep
 * arriving and average at least BODY_MIN_RATE bytes/s once one idle timeout has passed. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "server/http_parse.h"
#include "server/http_req.h"
#include "util/log.h"

enum {
    IN_SIZE = 16 * 1024,          /* a connection's input buffer while a request is read */
    IN_FREE_MAX = 64,             /* input buffers a loop keeps for reuse */
    SCRATCH_SIZE = 256 * 1024,    /* a loop's buffer for body reads */
    READER_BUF = 256 * 1024,      /* a reader-callback response's buffer */
    SENDFILE_CHUNK = 2 * 1024 * 1024,
    IO_BUDGET = 8 * 1024 * 1024,  /* bytes one connection moves before the others get a turn */
    BODY_TURN = 256 * 1024,       /* of which request body: concurrent uploads then arrive at the
                                   * handler interleaved, which multi-buffer MD5 needs (md5mb.c:
                                   * with whole socket buffers per turn, 78 % of their bytes were
                                   * hashed one stream at a time) */
    REQUEST_COST = 128 * 1024,    /* what a request counts against the turn: 64 tiny pipelined
                                   * requests, then the others go */
    BODY_MIN_RATE = 1024,
    LINGER_MS = 2000,             /* reading what a closed request's client still sends */
    MAX_EVENTS = 256,
};

typedef enum {
    C_IDLE,   /* between requests; the input buffer may hold the start of the next one */
    C_HEAD,   /* part of a request head has arrived */
    C_BODY,   /* the handler has begun; reading the body */
    C_WORK,   /* end() runs on another thread; the event thread leaves the connection alone */
    C_SEND,   /* writing the response */
    C_LINGER, /* answered with Connection: close; write side shut, reading until EOF */
    C_DEAD,   /* closed; freed at the end of the loop's iteration */
} conn_state;

struct loop;

/* Per request: the body being read and the response being written. In the request's arena. */
typedef struct exch {
    http_req *r;
    bool begun;        /* begin() ran: cleanup() is owed */
    bool is_head;
    bool chunked;      /* reading a chunked body */
    bool unread_body;  /* the answer came before the body's end: close after it */
    uint64_t body_left;
    http_chunked ch;
    /* the response */
    char *hdr;
    size_t hlen, hoff;
    const char *bbuf;  /* BODY_BUF */
    size_t blen, boff;
    bool send_fd, send_reader, cut; /* cut: close right after the head (length-only GET) */
    uint64_t left, pos; /* fd / reader bytes still to send, and where */
    char *rbuf;
    size_t rlen, roff;
} exch;

typedef struct conn {
    struct loop *lp;
    struct conn *prev, *next;   /* the loop's connections */
    struct conn *next_job;      /* a work queue, the loop's resumed list or its dead list */
    struct conn *next_ready;
    exch *x;
    char *in;                   /* input buffer, NULL while idle with nothing buffered */
    uint32_t in_off, in_len, in_cap;
    uint32_t scanned;           /* head bytes from in_off already searched for the blank line */
    int fd;
    uint8_t st;
    bool ready;                 /* on the loop's ready list */
    bool rd_ready;              /* the socket may have bytes: no short read or EAGAIN since the
                                 * last EPOLLIN edge */
    bool v6;
    bool lost_input;            /* bytes after a body could not be kept (out of memory): close
                                 * once the current request is answered */
    uint8_t addr[16];
    int64_t since;              /* ms: start of the current phase */
    int64_t last_io;            /* ms: last byte moved */
    uint64_t body_bytes;        /* body bytes in the current request */
} conn;

typedef struct job_queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    conn *head, *tail;
    bool quit;
} job_queue;

typedef struct loop {
    struct http_server *s;
    pthread_t th;
    int ep, evfd;
    int64_t now;                /* ms, CLOCK_MONOTONIC_COARSE, once per iteration */
    int64_t last_sweep;
    int64_t listen_paused_until;  /* out of descriptors: accept nothing until then */
    bool listening;
    bool quiesced;              /* has taken the listener out for good (http_stop) */
    conn *conns;
    atomic_uint nconns;         /* its connections (others read it to choose where one goes) */
    conn *ready, *ready_tail;
    conn *dead;
    char **in_free;
    unsigned nin_free;
    char *scratch;
    size_t budget;
    size_t body_budget;         /* what is left of BODY_TURN in this connection's turn */
    time_t date_sec;
    char date[40];
    conn *grouped, *grouped_tail;  /* grouped ends of this iteration, queued at its end */
    pthread_mutex_t mu;         /* guards resumed and adopted */
    conn *resumed;
    conn *adopted;              /* accepted by another loop for this one (accept_some) */
} loop;

struct http_server {
    const http_handler *h;
    int lfd;
    unsigned port;
    unsigned idle_ms;
    unsigned conn_limit;
    atomic_uint nconns;
    atomic_int active;          /* requests between begin and cleanup */
    atomic_bool quiesce, quit, stopping;
    atomic_uint quiesced;
    loop *loops;
    unsigned nloops;
    job_queue jobs;             /* deferred end() calls, served by the workers */
    pthread_t *workers;
    unsigned nworkers;
    job_queue groups;           /* grouped end() calls (http_defer_end_group), one thread */
    pthread_t grouper;
    bool grouper_running;
};

static void conn_run(conn *c);
static void respond(conn *c);

/* --- small helpers ------------------------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void loop_wake(loop *lp)
{
    uint64_t one = 1;
    ssize_t n = write(lp->evfd, &one, sizeof one);
    (void)n;
}

static char *append(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define APPEND_LIT(p, lit) append((p), (lit), sizeof(lit) - 1)

static char *append_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

static const char *reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 400 ? "Redirect" : status < 500 ? "Client Error" : "Server Error";
    }
}

/* "Wed, 25 Nov 2026 04:34:27 GMT", formatted once a second per loop. */
static const char *http_date(loop *lp)
{
    time_t t = time(NULL);
    if (t != lp->date_sec) {
        static const char days[] = "SunMonTueWedThuFriSat", months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
        struct tm tm;
        gmtime_r(&t, &tm);
        char *p = lp->date;
        p = append(p, days + 3 * tm.tm_wday, 3);
        p = APPEND_LIT(p, ", ");
        *p++ = (char)('0' + tm.tm_mday / 10);
        *p++ = (char)('0' + tm.tm_mday % 10);
        *p++ = ' ';
        p = append(p, months + 3 * tm.tm_mon, 3);
        *p++ = ' ';
        p = append_u64(p, (uint64_t)tm.tm_year + 1900);
        *p++ = ' ';
        int hms[3] = {tm.tm_hour, tm.tm_min, tm.tm_sec};
        for (int i = 0; i < 3; i++) {
            *p++ = (char)('0' + hms[i] / 10);
            *p++ = (char)('0' + hms[i] % 10);
            *p++ = i < 2 ? ':' : ' ';
        }
        p = APPEND_LIT(p, "GMT");
        *p = 0;
        lp->date_sec = t;
    }
    return lp->date;
}

/* --- input buffers ------------------------------------------------------------------------- */

static bool in_reserve(conn *c)
{
    if (c->in) return true;
    loop *lp = c->lp;
    c->in = lp->nin_free ? lp->in_free[--lp->nin_free] : malloc(IN_SIZE);
    if (!c->in) return false;
    c->in_cap = IN_SIZE;
    c->in_off = c->in_len = c->scanned = 0;
    return true;
}

static void in_release(conn *c)
{
    if (!c->in) return;
    loop *lp = c->lp;
    if (c->in_cap == IN_SIZE && lp->nin_free < IN_FREE_MAX) lp->in_free[lp->nin_free++] = c->in;
    else free(c->in);
    c->in = NULL;
    c->in_off = c->in_len = c->in_cap = c->scanned = 0;
}

/* Moves the unconsumed bytes to the front of the buffer. */
static void in_compact(conn *c)
{
    if (!c->in_off) return;
    memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
    c->in_len -= c->in_off;
    c->in_off = 0;
}

/* Replaces the buffer by a larger one of cap bytes, keeping its unconsumed bytes. */
static bool in_grow(conn *c, size_t cap)
{
    in_compact(c);
    char *m = malloc(cap);
    if (!m) return false;
    memcpy(m, c->in, c->in_len);
    uint32_t len = c->in_len;
    in_release(c);
    c->in = m;
    c->in_len = len;
    c->in_cap = (uint32_t)cap;
    return true;
}

/* Keeps p[0..n) for later (bytes read past a chunked body: the next pipelined request). */
static bool in_stash(conn *c, const char *p, size_t n)
{
    if (!n) return true;
    if (!in_reserve(c)) return false;
    in_compact(c);
    if ((size_t)c->in_len + n > c->in_cap && !in_grow(c, (size_t)c->in_len + n)) return false;
    memcpy(c->in + c->in_len, p, n);
    c->in_len += (uint32_t)n;
    return true;
}

/* --- connections --------------------------------------------------------------------------- */

static void request_free(conn *c)
{
    exch *x = c->x;
    if (!x) return;
    struct http_server *s = c->lp->s;
    if (x->begun) {
        s->h->cleanup(x->r);
        atomic_fetch_sub(&s->active, 1);
    }
    free(x->rbuf);
    http_req_free(x->r);   /* x lives in the request's arena */
    c->x = NULL;
}

static void conn_close(conn *c)
{
    if (c->st == C_DEAD) return;
    loop *lp = c->lp;
    request_free(c);
    in_release(c);
    close(c->fd);   /* also removes it from the epoll set */
    c->fd = -1;
    if (c->prev) c->prev->next = c->next;
    else lp->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    c->st = C_DEAD;
    c->next_job = lp->dead;
    lp->dead = c;
    atomic_fetch_sub(&lp->s->nconns, 1);
    atomic_fetch_sub_explicit(&lp->nconns, 1, memory_order_relaxed);
}

static void make_ready(conn *c)
{
    loop *lp = c->lp;
    if (c->ready) return;
    c->ready = true;
    c->next_ready = NULL;
    if (lp->ready_tail) lp->ready_tail->next_ready = c;
    else lp->ready = c;
    lp->ready_tail = c;
}

/* Hands connections whose end() ran elsewhere back to their event thread, from any thread:
 * first..last, linked by next_job newest first, all of one loop. One lock and at most one
 * wake-up for the whole list. */
static void loop_resume_list(conn *first, conn *last)
{
    loop *lp = first->lp;
    pthread_mutex_lock(&lp->mu);
    bool was_empty = !lp->resumed;
    last->next_job = lp->resumed;
    lp->resumed = first;
    pthread_mutex_unlock(&lp->mu);
    if (was_empty) loop_wake(lp);
}

static void loop_resume(conn *c) { loop_resume_list(c, c); }

/* --- deferred end() ------------------------------------------------------------------------ */

/* Appends first..last (linked by next_job, in order) with one lock and one signal. */
static void queue_push_list(job_queue *q, conn *first, conn *last)
{
    pthread_mutex_lock(&q->mu);
    last->next_job = NULL;
    if (q->tail) q->tail->next_job = first;
    else q->head = first;
    q->tail = last;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void queue_push(job_queue *q, conn *c) { queue_push_list(q, c, c); }

/* Waits for work and takes up to max connections off the queue, in order, as a list linked
 * by next_job; NULL once the queue is told to quit and is empty. */
static conn *queue_pop(job_queue *q, unsigned max)
{
    pthread_mutex_lock(&q->mu);
    while (!q->head && !q->quit) pthread_cond_wait(&q->cv, &q->mu);
    conn *first = q->head, *last = first;
    if (first) {
        for (unsigned n = 1; n < max && last->next_job; n++) last = last->next_job;
        q->head = last->next_job;
        if (!q->head) q->tail = NULL;
        last->next_job = NULL;
    }
    pthread_mutex_unlock(&q->mu);
    return first;
}

static void queue_init(job_queue *q)
{
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
}

static void queue_quit(job_queue *q)
{
    pthread_mutex_lock(&q->mu);
    q->quit = true;
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static void queue_destroy(job_queue *q)
{
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv);
}

static void *worker_main(void *arg)
{
    struct http_server *s = arg;
    pthread_setname_np(pthread_self(), "http-worker");
    conn *c;
    while ((c = queue_pop(&s->jobs, 1)) != NULL) {
        s->h->end(c->x->r);
        loop_resume(c);
    }
    return NULL;
}

/* A group is every grouped request waiting when the thread looks, up to this many: enough to
 * share a flush among all connections of a busy server, few enough that the first of them
 * does not wait long for the last. */
enum { GROUP_MAX = 256 };

static void *grouper_main(void *arg)
{
    struct http_server *s = arg;
    pthread_setname_np(pthread_self(), "http-group");
    conn *group;
    while ((group = queue_pop(&s->groups, GROUP_MAX)) != NULL) {
        s->h->group_open();
        for (conn *c = group; c; c = c->next_job) s->h->end(c->x->r);
        if (!s->h->group_close())
            for (conn *c = group; c; c = c->next_job) s->h->group_lost(c->x->r);
        /* Only now may any answer go out: nothing is acknowledged before the group's commit.
         * Each loop gets its share as one list (newest first, as loop_resume_list wants), so
         * a group wakes a loop once, not once per connection: on a busy core every wake-up
         * can preempt this thread. */
        for (unsigned i = 0; i < s->nloops; i++) {
            loop *lp = &s->loops[i];
            conn *first = NULL, *last = NULL, **pp = &group;
            while (*pp) {
                conn *c = *pp;
                if (c->lp != lp) {
                    pp = &c->next_job;
                    continue;
                }
                *pp = c->next_job;
                c->next_job = first;
                first = c;
                if (!last) last = c;
            }
            if (first) loop_resume_list(first, last);
        }
    }
    return NULL;
}

/* --- responses ----------------------------------------------------------------------------- */

static bool status_has_body(int status) { return status >= 200 && status != 204 && status != 304; }

/* Assembles the status line and headers into one buffer of the request's arena and sets up
 * what follows them. */
static void respond(conn *c)
{
    exch *x = c->x;
    http_req *r = x->r;
    loop *lp = c->lp;
    if (x->unread_body || atomic_load(&lp->s->stopping)) r->close = true;
    int status = r->status ? r->status : 500;
    if (status < 100 || status > 999) status = 500;
    uint64_t blen = 0;
    switch (r->body) {
    case BODY_NONE: break;
    case BODY_BUF: blen = r->buflen; break;
    case BODY_FD:
    case BODY_READER:
    case BODY_LENGTH_ONLY: blen = r->len; break;
    }
    bool body_ok = status_has_body(status);

    const char *why = reason(status);
    size_t need = 64 + strlen(why) + 64 + 48;
    for (size_t i = 0; i < r->nrhdrs; i++) need += strlen(r->rhdrs[i].name) + strlen(r->rhdrs[i].value) + 4;
    char *h = arena_alloc(r->arena, need), *p = h;
    p = APPEND_LIT(p, "HTTP/1.1 ");
    p = append_u64(p, (uint64_t)status);
    *p++ = ' ';
    p = append(p, why, strlen(why));
    p = APPEND_LIT(p, "\r\nDate: ");
    const char *date = http_date(lp);
    p = append(p, date, strlen(date));
    p = r->close ? APPEND_LIT(p, "\r\nConnection: close") : APPEND_LIT(p, "\r\nConnection: keep-alive");
    if (body_ok) {
        p = APPEND_LIT(p, "\r\nContent-Length: ");
        p = append_u64(p, blen);
    }
    p = APPEND_LIT(p, "\r\n");
    for (size_t i = 0; i < r->nrhdrs; i++) {
        size_t nl = strlen(r->rhdrs[i].name), vl = strlen(r->rhdrs[i].value);
        p = append(p, r->rhdrs[i].name, nl);
        p = APPEND_LIT(p, ": ");
        p = append(p, r->rhdrs[i].value, vl);
        p = APPEND_LIT(p, "\r\n");
    }
    p = APPEND_LIT(p, "\r\n");
    x->hdr = h;
    x->hlen = (size_t)(p - h);
    x->hoff = 0;

    bool send_body = body_ok && !x->is_head && blen > 0;
    x->bbuf = NULL;
    x->blen = x->boff = 0;
    x->send_fd = x->send_reader = x->cut = false;
    x->left = x->pos = 0;
    if (send_body) {
        switch (r->body) {
        case BODY_BUF:
            x->bbuf = r->buf;
            x->blen = r->buflen;
            break;
        case BODY_FD:
            x->send_fd = true;
            x->left = r->len;
            x->pos = r->offset;
            break;
        case BODY_READER:
            x->send_reader = true;
            x->left = r->len;
            break;
        default:   /* a length announced for a GET but never sent: the client sees it cut short */
            x->cut = true;
            break;
        }
    }
    c->st = C_SEND;
    c->since = lp->now;
}

/* Writes what is pending. Returns 1 when the response is out, 0 to wait (EAGAIN or the
 * connection's turn is over), -1 to close the connection. */
static int send_response(conn *c)
{
    exch *x = c->x;
    http_req *r = x->r;
    loop *lp = c->lp;
    while (x->hoff < x->hlen || x->boff < x->blen) {
        struct iovec iov[2];
        int n = 0;
        if (x->hoff < x->hlen) iov[n++] = (struct iovec){x->hdr + x->hoff, x->hlen - x->hoff};
        if (x->boff < x->blen) iov[n++] = (struct iovec){(char *)x->bbuf + x->boff, x->blen - x->boff};
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        int flags = MSG_NOSIGNAL | ((x->send_fd || x->send_reader) ? MSG_MORE : 0);
        ssize_t w = sendmsg(c->fd, &mh, flags);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->last_io = lp->now;
        size_t got = (size_t)w;
        size_t hpart = x->hlen - x->hoff;
        if (got >= hpart) {
            x->hoff = x->hlen;
            x->boff += got - hpart;
        } else {
            x->hoff += got;
        }
    }
    if (x->cut) return -1;
    while (x->send_fd && x->left) {
        if (lp->budget == 0) {
            make_ready(c);
            return 0;
        }
        size_t chunk = x->left < SENDFILE_CHUNK ? (size_t)x->left : SENDFILE_CHUNK;
        off_t off = (off_t)x->pos;
        ssize_t w = sendfile(c->fd, r->fd, &off, chunk);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) return 0;
            return -1;
        }
        if (w == 0) {
            log_warn("a file response ended %llu bytes short: closing the connection", (unsigned long long)x->left);
            return -1;
        }
        c->last_io = lp->now;
        x->pos += (uint64_t)w;
        x->left -= (uint64_t)w;
        lp->budget = lp->budget > (size_t)w ? lp->budget - (size_t)w : 0;
    }
    while (x->send_reader && (x->left || x->roff < x->rlen)) {
        if (x->roff == x->rlen) {
            if (lp->budget == 0) {
                make_ready(c);
                return 0;
            }
            if (!x->rbuf && !(x->rbuf = malloc(READER_BUF))) return -1;
            size_t want = x->left < READER_BUF ? (size_t)x->left : READER_BUF;
            long n = r->read(r->read_cls, x->pos, x->rbuf, want);
            if (n <= 0 || (size_t)n > want) return -1;   /* the status line is out: close short */
            x->pos += (uint64_t)n;
            x->left -= (uint64_t)n;
            x->rlen = (size_t)n;
            x->roff = 0;
        }
        ssize_t w = send(c->fd, x->rbuf + x->roff, x->rlen - x->roff, MSG_NOSIGNAL | (x->left ? MSG_MORE : 0));
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->last_io = lp->now;
        x->roff += (size_t)w;
        lp->budget = lp->budget > (size_t)w ? lp->budget - (size_t)w : 0;
    }
    return 1;
}

/* The response is out: release the request, then close, linger or wait for the next one. */
static void finish_request(conn *c)
{
    loop *lp = c->lp;
    bool close_after = c->x->r->close || c->lost_input;
    request_free(c);
    lp->budget = lp->budget > REQUEST_COST ? lp->budget - REQUEST_COST : 0;
    c->since = c->last_io = lp->now;
    c->body_bytes = 0;
    if (close_after) {
        /* Shut the write side and read until the client closes: closing with its bytes unread
         * would reset the connection, and the reset can destroy the answer before it is read. */
        shutdown(c->fd, SHUT_WR);
        in_release(c);
        c->st = C_LINGER;
        return;
    }
    c->st = C_IDLE;
    if (c->in && c->in_off == c->in_len) in_release(c);
}

/* An answer of the core's own (a head it cannot parse, too large, a broken chunked body): the
 * status http.h gives for why, or what the handler's core_error makes of it. */
static void core_error(conn *c, http_core_err why)
{
    static const int status[] = {
        [HTTP_CORE_HEAD_MALFORMED] = 400, [HTTP_CORE_VERSION] = 505,        [HTTP_CORE_LENGTH] = 400,
        [HTTP_CORE_CHUNKED] = 400,        [HTTP_CORE_HEAD_TOO_LARGE] = 431,
    };
    exch *x = c->x;
    http_req *r = x->r;
    const http_handler *h = c->lp->s->h;
    if (x->begun) http_resp_reset(r);
    r->status = status[why];
    if (h->core_error) h->core_error(r, why);
    r->close = true;   /* after the handler: nothing on this connection can be read any more */
    x->unread_body = true;
    respond(c);
}

/* --- requests ------------------------------------------------------------------------------ */

static void end_phase(conn *c)
{
    exch *x = c->x;
    struct http_server *s = c->lp->s;
    if (x->r->defer_end) {
        c->st = C_WORK;
        if (x->r->defer_group && s->grouper_running) {
            /* Queued at the end of the loop's iteration with every other grouped end it
             * met (flush_grouped): one wake-up of the group thread per batch of events, so
             * a group holds what arrived together instead of the first request alone. */
            loop *lp = c->lp;
            c->next_job = NULL;
            if (lp->grouped_tail) lp->grouped_tail->next_job = c;
            else lp->grouped = c;
            lp->grouped_tail = c;
        } else {
            queue_push(&s->jobs, c);
        }
        return;
    }
    s->h->end(x->r);
    respond(c);
}

static void remote_addr(conn *c, http_req *r)
{
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->addr, buf, sizeof buf)) r->remote = arena_strdup(r->arena, buf);
}

/* A complete head is at c->in + c->in_off, hlen bytes long. */
static void start_request(conn *c, size_t hlen)
{
    loop *lp = c->lp;
    struct http_server *s = lp->s;
    http_req *r = http_req_alloc();
    exch *x = arena_alloc(r->arena, sizeof *x);
    x->r = r;
    c->x = x;
    http_head h;
    int st = http_parse_head(r->arena, c->in + c->in_off, hlen, &h);
    c->in_off += (uint32_t)hlen;
    c->scanned = 0;
    if (st) {
        core_error(c, st == 505 ? HTTP_CORE_VERSION : HTTP_CORE_HEAD_MALFORMED);
        return;
    }
    r->method = h.method;
    x->is_head = strcmp(h.method, "HEAD") == 0;
    const char *q = strchr(h.target, '?');
    if (q) {
        r->path = arena_strndup(r->arena, h.target, (size_t)(q - h.target));
        r->query = q + 1;
    } else {
        r->path = h.target;
    }
    r->hdrs = h.hdrs;
    r->caphdrs = h.nhdrs;
    bool keep_alive = h.minor >= 1, expect = false;
    for (size_t i = 0; i < h.nhdrs; i++) {
        const char *name = h.hdrs[i].name, *value = h.hdrs[i].value;
        r->nhdrs = i + 1;
        http_req_note_framing(r, name, value);
        if (!strcasecmp(name, "content-length") && http_parse_length(value) < 0) {
            core_error(c, HTTP_CORE_LENGTH);   /* "+5", "5, 60", "0x5": no reading of those is safe */
            return;
        } else if (!strcasecmp(name, "connection")) {
            if (http_has_token(value, "close")) keep_alive = false;
            else if (http_has_token(value, "keep-alive")) keep_alive = true;
        } else if (!strcasecmp(name, "expect")) {
            expect = !strcasecmp(value, "100-continue");
        }
    }
    r->nhdrs = h.nhdrs;
    if (!keep_alive) r->close = true;
    remote_addr(c, r);

    /* Nothing after an ambiguously framed request can be trusted: whatever the handler
     * answers, the connection closes after it, and its body is never read. */
    bool unsupported;
    bool framing_bad = http_framing_error(r, &unsupported) != NULL;
    bool has_body = !framing_bad && (r->chunked || r->content_length > 0);
    if (framing_bad) {
        r->close = true;
        x->unread_body = true;
    }
    x->chunked = r->chunked;
    x->body_left = r->content_length > 0 ? (uint64_t)r->content_length : 0;
    if (x->chunked) http_chunked_init(&x->ch);

    x->begun = true;
    atomic_fetch_add(&s->active, 1);
    c->st = C_BODY;
    c->since = lp->now;
    c->body_bytes = 0;
    /* A client that asked "Expect: 100-continue" waits for the 100 before it sends its body
     * (or before it reads on: botocore takes any answer in place of the 100 for the final one
     * and then misreads the next response on the connection, a hang seen with aws-cli). So
     * the 100 goes out whenever the request goes on, even with an empty body, and an answer
     * given instead of it closes the connection, as libmicrohttpd does. */
    bool want_100 = expect && h.minor >= 1 && c->in_off == c->in_len;
    if (s->h->begin(r) == HTTP_DONE) {
        if (has_body || want_100) x->unread_body = true;   /* refused before "100 Continue" */
        respond(c);
        return;
    }
    if (want_100) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        ssize_t w = send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
        if (w != (ssize_t)sizeof cont - 1) {
            conn_close(c);   /* an empty send buffer that cannot take 25 bytes: the peer is gone */
            return;
        }
    }
    if (!has_body) end_phase(c);
}

/* Gives body bytes to the handler; returns how many were used (bytes after the body's end are
 * the next request's). The state moves on when the body ends or the handler answers. */
static size_t feed_body(conn *c, const char *p, size_t n)
{
    exch *x = c->x;
    http_req *r = x->r;
    const http_handler *h = c->lp->s->h;
    size_t used = 0;
    while (c->st == C_BODY && used < n) {
        const char *data;
        size_t dlen, u;
        if (x->chunked) {
            http_chunk_result res = http_chunked_feed(&x->ch, p + used, n - used, &u, &data, &dlen);
            used += u;
            if (res == HTTP_CHUNK_ERROR) {
                core_error(c, HTTP_CORE_CHUNKED);
                return used;
            }
            if (res == HTTP_CHUNK_DONE) {
                end_phase(c);
                return used;
            }
            if (res == HTTP_CHUNK_MORE) return used;
        } else {
            data = p + used;
            dlen = n - used < x->body_left ? n - used : (size_t)x->body_left;
            used += dlen;
            x->body_left -= dlen;
        }
        c->body_bytes += dlen;
        if (dlen && h->body(r, data, dlen) == HTTP_DONE) {
            if (x->chunked || x->body_left) x->unread_body = true;
            respond(c);
            return used;
        }
        if (!x->chunked && !x->body_left) {
            end_phase(c);
            return used;
        }
    }
    return used;
}

/* Runs the request state machine over the bytes buffered in c->in, without reading. */
static void advance(conn *c)
{
    while (c->in && c->in_off < c->in_len) {
        if (c->st == C_IDLE || c->st == C_HEAD) {
            if (c->st == C_IDLE) {
                /* RFC 9112 §2.2: empty lines before a request line are ignored. */
                while (c->in_off < c->in_len && (c->in[c->in_off] == '\r' || c->in[c->in_off] == '\n')) c->in_off++;
                if (c->in_off == c->in_len) break;
                c->st = C_HEAD;
                c->since = c->lp->now;
                c->scanned = 0;
            }
            size_t sc = c->scanned;
            long end = http_head_end(c->in + c->in_off, c->in_len - c->in_off, &sc);
            c->scanned = (uint32_t)sc;
            if (end < 0 || (end == 0 && c->in_len - c->in_off > HTTP_HEAD_MAX) || end > HTTP_HEAD_MAX) {
                http_req *r = http_req_alloc();
                c->x = arena_alloc(r->arena, sizeof *c->x);
                c->x->r = r;
                core_error(c, end < 0 ? HTTP_CORE_HEAD_MALFORMED : HTTP_CORE_HEAD_TOO_LARGE);
                c->in_off = c->in_len;
                return;
            }
            if (end == 0) return;
            start_request(c, (size_t)end);
        } else if (c->st == C_BODY) {
            c->in_off += (uint32_t)feed_body(c, c->in + c->in_off, c->in_len - c->in_off);
        } else {
            return;
        }
    }
    if (c->in && c->in_off == c->in_len) {
        c->in_off = c->in_len = c->scanned = 0;
        if (c->st != C_HEAD && c->st != C_BODY) in_release(c);
    }
}

/* Reads what the current state wants. Returns 1 when bytes came in, 0 to wait, -1 to close. */
static int read_some(conn *c)
{
    loop *lp = c->lp;
    if (lp->budget == 0) {
        make_ready(c);
        return 0;
    }
    if (c->in && c->in_off < c->in_len && (c->st == C_IDLE || c->st == C_BODY)) {
        advance(c);   /* bytes already here first (a pipelined request, a body's start) */
        return 1;
    }
    /* Edge-triggered: a read shorter than asked emptied the socket, and any byte that comes
     * later raises a new edge. Waiting for it saves the recv that would only say EAGAIN. */
    if (!c->rd_ready) return 0;
    ssize_t n;
    size_t want;
    if (c->st == C_BODY) {
        /* Body bytes go straight from the socket to the handler through the loop's buffer; a
         * Content-Length body is read no further than its end. */
        if (lp->body_budget == 0) {
            make_ready(c);
            return 0;
        }
        exch *x = c->x;
        want = SCRATCH_SIZE < lp->body_budget ? SCRATCH_SIZE : lp->body_budget;
        if (!x->chunked && x->body_left < want) want = (size_t)x->body_left;
        n = recv(c->fd, lp->scratch, want, 0);
        if (n > 0) {
            if ((size_t)n < want) c->rd_ready = false;
            c->last_io = lp->now;
            lp->budget = lp->budget > (size_t)n ? lp->budget - (size_t)n : 0;
            lp->body_budget -= (size_t)n;
            size_t used = feed_body(c, lp->scratch, (size_t)n);
            if (used < (size_t)n && c->st != C_DEAD && !in_stash(c, lp->scratch + used, (size_t)n - used)) {
                /* A request whose end() was handed to another thread (C_WORK) is queued
                 * there: it must be resumed, not closed under that thread. */
                if (c->st != C_WORK) return -1;
                c->lost_input = true;
            }
            return 1;
        }
    } else if (c->st == C_LINGER) {
        n = recv(c->fd, lp->scratch, SCRATCH_SIZE, 0);
        if (n > 0) {
            if ((size_t)n < SCRATCH_SIZE) c->rd_ready = false;
            lp->budget = lp->budget > (size_t)n ? lp->budget - (size_t)n : 0;
            return 1;
        }
    } else {
        if (!in_reserve(c)) return -1;
        if (c->in_len == c->in_cap) in_compact(c);
        /* A head larger than the buffer: grow to the limit (and past it, to see it exceeded). */
        if (c->in_len == c->in_cap && !in_grow(c, HTTP_HEAD_MAX + 1024)) return -1;
        want = c->in_cap - c->in_len;
        n = recv(c->fd, c->in + c->in_len, want, 0);
        if (n > 0) {
            if ((size_t)n < want) c->rd_ready = false;
            c->last_io = lp->now;
            c->in_len += (uint32_t)n;
            lp->budget = lp->budget > (size_t)n ? lp->budget - (size_t)n : 0;
            advance(c);
            return 1;
        }
        if (c->in_len == 0) in_release(c);
    }
    if (n == 0) return -1;   /* the client closed (mid-request or not): nothing more to do */
    if (errno == EINTR) return 1;
    if (errno == EAGAIN) {
        c->rd_ready = false;
        return 0;
    }
    return -1;
}

/* Moves a connection as far as it can go without waiting. */
static void conn_run(conn *c)
{
    c->lp->budget = IO_BUDGET;
    c->lp->body_budget = BODY_TURN;
    for (;;) {
        switch (c->st) {
        case C_DEAD:
        case C_WORK:
            return;
        case C_SEND: {
            int w = send_response(c);
            if (w < 0) {
                conn_close(c);
                return;
            }
            if (w == 0) return;
            finish_request(c);   /* a pipelined request already buffered is read_some's */
            continue;
        }
        default: {
            int rd = read_some(c);
            if (rd < 0) {
                conn_close(c);
                return;
            }
            if (rd == 0) return;
            continue;
        }
        }
    }
}

/* --- accepting ----------------------------------------------------------------------------- */

static void listen_on(loop *lp, bool on)
{
    struct http_server *s = lp->s;
    if (on == lp->listening) return;
    if (on) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, s->lfd, &ev) == 0) lp->listening = true;
    } else {
        epoll_ctl(lp->ep, EPOLL_CTL_DEL, s->lfd, NULL);
        lp->listening = false;
    }
}

/* Where a new connection goes: the loop with the fewest, this one on a tie. Every loop wakes
 * for a new connection (the listener is in each set), but on a busy machine the one that gets
 * the CPU first takes the whole burst: measured with 64 connections opened at once, one loop
 * held all of them in some runs and the other none (its core's share of the server idle). A
 * connection accepted here and handed on costs one wake-up of the other loop, once. */
static loop *least_loaded(loop *lp)
{
    struct http_server *s = lp->s;
    loop *best = lp;
    unsigned least = atomic_load_explicit(&lp->nconns, memory_order_relaxed);
    for (unsigned i = 0; i < s->nloops; i++) {
        unsigned n = atomic_load_explicit(&s->loops[i].nconns, memory_order_relaxed);
        if (n < least) {
            least = n;
            best = &s->loops[i];
        }
    }
    return best;
}

/* Makes c (accepted for this loop, counted in its nconns) one of its connections. */
static void conn_adopt(conn *c)
{
    loop *lp = c->lp;
    c->next = lp->conns;
    c->prev = NULL;
    if (lp->conns) lp->conns->prev = c;
    lp->conns = c;
    c->since = c->last_io = lp->now;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) conn_close(c);
}

static void accept_some(loop *lp)
{
    struct http_server *s = lp->s;
    for (int i = 0; i < 16; i++) {
        struct sockaddr_storage ss = {0};
        socklen_t sl = sizeof ss;
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* Out of descriptors: the pending connection would wake us at once forever.
                 * Stop accepting for a moment instead of spinning. */
                log_warn("cannot accept a connection: %s; pausing accepts", strerror(errno));
                listen_on(lp, false);
                lp->listen_paused_until = lp->now + 200;
            }
            return;
        }
        if (atomic_fetch_add(&s->nconns, 1) >= s->conn_limit) {
            atomic_fetch_sub(&s->nconns, 1);
            close(fd);
            continue;
        }
        conn *c = calloc(1, sizeof *c);
        if (!c) {
            atomic_fetch_sub(&s->nconns, 1);
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        loop *to = least_loaded(lp);
        atomic_fetch_add_explicit(&to->nconns, 1, memory_order_relaxed);
        c->lp = to;
        c->fd = fd;
        c->st = C_IDLE;
        c->rd_ready = true;
        c->since = c->last_io = lp->now;
        if (ss.ss_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
            if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
                memcpy(c->addr, &a->sin6_addr.s6_addr[12], 4);
            } else {
                memcpy(c->addr, &a->sin6_addr, 16);
                c->v6 = true;
            }
        } else {
            memcpy(c->addr, &((const struct sockaddr_in *)&ss)->sin_addr, 4);
        }
        if (to == lp) {
            conn_adopt(c);
        } else {
            pthread_mutex_lock(&to->mu);
            bool was_empty = !to->resumed && !to->adopted;
            c->next_job = to->adopted;
            to->adopted = c;
            pthread_mutex_unlock(&to->mu);
            if (was_empty) loop_wake(to);
        }
    }
}

/* --- the loop ------------------------------------------------------------------------------ */

/* Once a second: the slow-client and idle rules of the file comment. */
static void sweep(loop *lp)
{
    struct http_server *s = lp->s;
    int64_t now = lp->now, idle = s->idle_ms;
    for (conn *c = lp->conns, *next; c; c = next) {
        next = c->next;
        int64_t quiet = now - c->last_io, age = now - c->since;
        const char *why = NULL;
        switch (c->st) {
        case C_IDLE:
            if (quiet > idle) why = "";
            break;
        case C_HEAD:
            if (quiet > idle || age > 2 * idle) why = "request line or headers";
            break;
        case C_BODY:
            if (quiet > idle || (age > idle && c->body_bytes * 1000 < (uint64_t)age * BODY_MIN_RATE)) why = "body";
            break;
        case C_SEND:
            if (quiet > idle) why = "";
            break;
        case C_LINGER:
            if (age > LINGER_MS) why = "";
            break;
        default:
            break;
        }
        if (!why) continue;
        if (*why) log_info("closing a connection that is too slow (%s)", why);
        conn_close(c);
    }
}

static void drain_resumed(loop *lp)
{
    uint64_t v;
    ssize_t n = read(lp->evfd, &v, sizeof v);
    (void)n;
    pthread_mutex_lock(&lp->mu);
    conn *list = lp->resumed, *adopted = lp->adopted;
    lp->resumed = lp->adopted = NULL;
    pthread_mutex_unlock(&lp->mu);
    while (adopted) {
        conn *c = adopted;
        adopted = c->next_job;
        c->next_job = NULL;
        conn_adopt(c);
    }
    /* Pushed newest first: answer in arrival order. */
    conn *rev = NULL;
    while (list) {
        conn *next = list->next_job;
        list->next_job = rev;
        rev = list;
        list = next;
    }
    while (rev) {
        conn *c = rev;
        rev = rev->next_job;
        c->next_job = NULL;
        respond(c);
        conn_run(c);
    }
}

static void flush_grouped(loop *lp)
{
    if (!lp->grouped) return;
    queue_push_list(&lp->s->groups, lp->grouped, lp->grouped_tail);
    lp->grouped = lp->grouped_tail = NULL;
}

static void free_dead(loop *lp)
{
    while (lp->dead) {
        conn *c = lp->dead;
        lp->dead = c->next_job;
        free(c);
    }
}

/* Closes every connection the loop holds, those handed to it and not yet adopted included,
 * but while parked_too is false those whose end() runs elsewhere (C_WORK): their thread
 * hands them back. A loop calls it as it exits (false); free_server again once every loop,
 * worker and the group thread has ended (true): by then nothing else can add a connection to
 * the loop, and another loop may have handed it one after it exited (an accept in a batch of
 * events begun before http_stop gave up waiting for every loop to take the listener out). */
static void loop_close_all(loop *lp, bool parked_too)
{
    pthread_mutex_lock(&lp->mu);
    conn *adopted = lp->adopted;
    lp->adopted = NULL;
    if (parked_too) lp->resumed = NULL;   /* handed back unanswered: C_WORK, still in conns */
    pthread_mutex_unlock(&lp->mu);
    for (conn *c = adopted, *next; c; c = next) {
        next = c->next_job;
        c->next_job = NULL;
        conn_adopt(c);
    }
    for (conn *c = lp->conns, *next; c; c = next) {
        next = c->next;
        if (parked_too || c->st != C_WORK) conn_close(c);
    }
    free_dead(lp);
}

static void *loop_main(void *arg)
{
    loop *lp = arg;
    struct http_server *s = lp->s;
    struct epoll_event evs[MAX_EVENTS];
    char name[16];
    snprintf(name, sizeof name, "http-%u", (unsigned)(lp - s->loops));
    pthread_setname_np(pthread_self(), name);
    lp->now = lp->last_sweep = mono_ms();
    listen_on(lp, true);
    for (;;) {
        int timeout = lp->ready ? 0 : lp->listening ? 1000 : 100;
        int n = epoll_wait(lp->ep, evs, MAX_EVENTS, timeout);
        lp->now = mono_ms();
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == NULL) {
                accept_some(lp);
            } else if (p == lp) {
                drain_resumed(lp);
            } else {
                conn *c = p;
                if (evs[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) c->rd_ready = true;
                conn_run(c);
            }
        }
        /* Connections that used up their turn go again, in order. */
        conn *rl = lp->ready;
        lp->ready = lp->ready_tail = NULL;
        while (rl) {
            conn *c = rl;
            rl = rl->next_ready;
            c->ready = false;
            conn_run(c);
        }
        flush_grouped(lp);
        if (atomic_load(&s->quiesce)) {
            if (!lp->quiesced) {
                listen_on(lp, false);
                lp->quiesced = true;
                atomic_fetch_add(&s->quiesced, 1);
            }
        } else if (!lp->listening && lp->now >= lp->listen_paused_until) {
            listen_on(lp, true);
        }
        if (lp->now - lp->last_sweep >= 1000) {
            lp->last_sweep = lp->now;
            sweep(lp);
        }
        free_dead(lp);
        if (atomic_load(&s->quit)) break;
    }
    loop_close_all(lp, false);
    return NULL;
}

/* --- start / stop -------------------------------------------------------------------------- */

static int open_listener(const char *where, unsigned *port)
{
    struct sockaddr_storage ss = {0};
    socklen_t sl = 0;
    if (!http_parse_listen(where, &ss, &sl)) {
        log_error("cannot parse listen address '%s' (expected ADDR:PORT)", where);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error("cannot listen on %s: %s", where, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 4096) != 0) {
        log_error("cannot listen on %s: %s", where, strerror(errno));
        close(fd);
        return -1;
    }
    /* The port actually bound (the address may say 0). */
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } got;
    memset(&got, 0, sizeof got);
    socklen_t gl = sizeof got;
    uint16_t net_port = 0;
    if (getsockname(fd, &got.sa, &gl) == 0) net_port = got.sa.sa_family == AF_INET6 ? got.in6.sin6_port : got.in4.sin_port;
    *port = ntohs(net_port);
    return fd;
}

static void free_server(http_server *s)
{
    for (unsigned i = 0; i < s->nloops; i++) {
        loop *lp = &s->loops[i];
        /* What is left was parked on a worker when the loop stopped, or handed to it after. */
        loop_close_all(lp, true);
        for (unsigned k = 0; k < lp->nin_free; k++) free(lp->in_free[k]);
        free(lp->in_free);
        free(lp->scratch);
        if (lp->ep >= 0) close(lp->ep);
        if (lp->evfd >= 0) close(lp->evfd);
        pthread_mutex_destroy(&lp->mu);
    }
    free(s->loops);
    free(s->workers);
    queue_destroy(&s->jobs);
    queue_destroy(&s->groups);
    if (s->lfd >= 0) close(s->lfd);
    free(s);
}

/* Workers and the group thread finish what is queued, then end. */
static void stop_workers(http_server *s)
{
    queue_quit(&s->jobs);
    queue_quit(&s->groups);
    for (unsigned i = 0; i < s->nworkers; i++) pthread_join(s->workers[i], NULL);
    s->nworkers = 0;
    if (s->grouper_running) pthread_join(s->grouper, NULL);
    s->grouper_running = false;
}

http_server *http_start(const http_config *cfg)
{
    http_server *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->h = cfg->handler;
    s->idle_ms = (cfg->idle_timeout_s ? cfg->idle_timeout_s : 60u) * 1000u;
    s->conn_limit = cfg->connection_limit ? cfg->connection_limit : 10000u;
    queue_init(&s->jobs);
    queue_init(&s->groups);
    s->lfd = open_listener(cfg->listen, &s->port);
    s->nloops = cfg->threads ? cfg->threads : 1u;
    s->loops = calloc(s->nloops, sizeof *s->loops);
    unsigned nworkers = cfg->workers ? cfg->workers : HTTP_DEFAULT_WORKERS;
    s->workers = calloc(nworkers, sizeof *s->workers);
    if (!s->loops || !s->workers) abort();
    for (unsigned i = 0; i < s->nloops; i++) {
        loop *lp = &s->loops[i];
        lp->s = s;
        lp->ep = lp->evfd = -1;
        pthread_mutex_init(&lp->mu, NULL);
    }
    if (s->lfd < 0) {
        free_server(s);
        return NULL;
    }
    for (unsigned i = 0; i < s->nloops; i++) {
        loop *lp = &s->loops[i];
        lp->ep = epoll_create1(EPOLL_CLOEXEC);
        lp->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        lp->scratch = malloc(SCRATCH_SIZE);
        lp->in_free = calloc(IN_FREE_MAX, sizeof *lp->in_free);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = lp};
        if (lp->ep < 0 || lp->evfd < 0 || !lp->scratch || !lp->in_free ||
            epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->evfd, &ev) != 0) {
            log_error("cannot set up an event loop: %s", strerror(errno));
            free_server(s);
            return NULL;
        }
    }
    for (unsigned i = 0; i < nworkers; i++)
        if (pthread_create(&s->workers[i], NULL, worker_main, s) == 0) s->nworkers++;
    /* Without group hooks (or without the thread) grouped ends run on the workers as any other. */
    if (s->h->group_open && s->h->group_close && s->h->group_lost)
        s->grouper_running = pthread_create(&s->grouper, NULL, grouper_main, s) == 0;
    for (unsigned i = 0; i < s->nloops; i++) {
        if (pthread_create(&s->loops[i].th, NULL, loop_main, &s->loops[i]) != 0) {
            log_error("cannot start an event thread");
            abort();
        }
    }
    return s;
}

unsigned http_port(const http_server *s) { return s->port; }

void http_stop(http_server *s)
{
    if (!s) return;
    /* Stop accepting (each loop takes the listener out of its own set), let requests in
     * flight finish for up to 30 s, then close everything. */
    atomic_store(&s->stopping, true);
    atomic_store(&s->quiesce, true);
    for (unsigned i = 0; i < s->nloops; i++) loop_wake(&s->loops[i]);
    for (int i = 0; i < 1000 && atomic_load(&s->quiesced) < s->nloops; i++) {
        struct timespec ts = {0, 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* No loop looks at the listener any more: close it, so that new clients are refused at
     * once rather than left in the backlog while requests in flight finish. */
    if (atomic_load(&s->quiesced) == s->nloops) {
        close(s->lfd);
        s->lfd = -1;
    }
    for (int i = 0; i < 3000 && atomic_load(&s->active) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&s->quit, true);
    for (unsigned i = 0; i < s->nloops; i++) loop_wake(&s->loops[i]);
    for (unsigned i = 0; i < s->nloops; i++) pthread_join(s->loops[i].th, NULL);
    stop_workers(s);
    free_server(s);
}
