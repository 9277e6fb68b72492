/* http_mhd — the HTTP/1.1 core on libmicrohttpd (DESIGN.md, "The HTTP foundation").
 *
 * An epoll thread pool (one event thread per core) parses requests, streams bodies and sends
 * responses (files with sendfile). This file translates between libmicrohttpd's callbacks and
 * the http.h handler: the raw request target comes from the URI log callback (before
 * libmicrohttpd decodes it), and responses are queued on the handler's second call — queueing
 * on the first makes libmicrohttpd close the connection — except to refuse a body early. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "server/http_parse.h"
#include "server/http_req.h"
#include "util/log.h"

typedef enum { PH_NEW, PH_BODY, PH_WORKING, PH_ANSWERED, PH_QUEUED } phase;

/* --- slow clients ----------------------------------------------------------------------------
 * libmicrohttpd's timeout only closes connections that are completely idle; a client that
 * trickles a byte now and then would hold a connection (and its memory) forever. A watchdog
 * thread enforces progress instead, per connection:
 *   - a request line and headers must arrive within twice the idle timeout of the connection
 *     becoming ready for a request (accepted, or the previous response sent);
 *   - a request body must average at least BODY_MIN_RATE bytes/s once one idle timeout has
 *     passed.
 * A connection that falls behind is shut down (the socket stays libmicrohttpd's to close). */
enum { BODY_MIN_RATE = 1024 };

typedef enum { W_WAITING, W_BODY, W_OTHER } watch_state;

typedef struct watched {
    int fd;
    watch_state st;
    int64_t since;              /* ms: when the current state began */
    uint64_t body_bytes;
    struct watched *prev, *next;
} watched;

typedef struct conn_req {
    http_req *r;
    _Atomic phase ph;
    bool begun;
    struct MHD_Connection *conn;
    struct conn_req *next_job;
} conn_req;

struct http_server {
    struct MHD_Daemon *d;
    const http_handler *h;
    unsigned port;
    atomic_int active;   /* requests between begin and completion */
    atomic_bool stopping;
    /* Deferred end() calls: a queue served by worker threads. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    conn_req *jobs_head, *jobs_tail;
    bool quit;
    pthread_t *workers;
    unsigned nworkers;
    /* Grouped ends: a second queue, served by one thread a whole group at a time. */
    pthread_cond_t gcv;
    conn_req *gjobs_head, *gjobs_tail;
    pthread_t grouper;
    bool grouper_running;
    /* The watchdog's list of open connections. */
    pthread_mutex_t watch_mu;
    watched *watch;
    pthread_t watchdog;
    bool watchdog_running;
    unsigned idle_timeout_s;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static watched *watched_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void watch_set(struct http_server *s, struct MHD_Connection *c, watch_state st)
{
    watched *w = watched_of(c);
    if (!w) return;
    pthread_mutex_lock(&s->watch_mu);
    w->st = st;
    w->since = mono_ms();
    w->body_bytes = 0;
    pthread_mutex_unlock(&s->watch_mu);
}

static void watch_body(struct MHD_Connection *c, size_t n)
{
    watched *w = watched_of(c);
    if (w) __atomic_add_fetch(&w->body_bytes, n, __ATOMIC_RELAXED);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        watched *w = calloc(1, sizeof *w);
        if (!w || !ci) {
            free(w);
            return;
        }
        w->fd = ci->connect_fd;
        w->st = W_WAITING;
        w->since = mono_ms();
        pthread_mutex_lock(&s->watch_mu);
        w->next = s->watch;
        if (s->watch) s->watch->prev = w;
        s->watch = w;
        pthread_mutex_unlock(&s->watch_mu);
        *socket_context = w;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        /* Called before libmicrohttpd closes the socket: once unlinked, the watchdog can no
         * longer touch a descriptor number that may be reused. */
        watched *w = *socket_context;
        if (!w) return;
        pthread_mutex_lock(&s->watch_mu);
        if (w->prev) w->prev->next = w->next;
        else s->watch = w->next;
        if (w->next) w->next->prev = w->prev;
        pthread_mutex_unlock(&s->watch_mu);
        free(w);
        *socket_context = NULL;
    }
}

static void *watchdog_main(void *arg)
{
    struct http_server *s = arg;
    while (!atomic_load(&s->stopping)) {
        struct timespec ts = {1, 0};
        nanosleep(&ts, NULL);
        int64_t now = mono_ms();
        pthread_mutex_lock(&s->watch_mu);
        for (watched *w = s->watch; w; w = w->next) {
            int64_t age = now - w->since;
            bool slow = false;
            /* Waiting: an idle keep-alive connection is libmicrohttpd's to time out; this
             * catches the one that keeps sending a request that never completes. */
            int64_t idle_ms = (int64_t)s->idle_timeout_s * 1000;
            if (w->st == W_WAITING && age > 2 * idle_ms) slow = true;
            if (w->st == W_BODY && age > idle_ms &&
                __atomic_load_n(&w->body_bytes, __ATOMIC_RELAXED) * 1000 < (uint64_t)age * BODY_MIN_RATE)
                slow = true;
            if (slow) {
                log_info("closing a connection that is too slow (%s)", w->st == W_BODY ? "body" : "request line or headers");
                shutdown(w->fd, SHUT_RDWR);
                w->st = W_OTHER;
            }
        }
        pthread_mutex_unlock(&s->watch_mu);
    }
    return NULL;
}

static void *worker_main(void *arg)
{
    struct http_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->jobs_head && !s->quit) pthread_cond_wait(&s->cv, &s->mu);
        conn_req *cr = s->jobs_head;
        if (!cr) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        s->jobs_head = cr->next_job;
        if (!s->jobs_head) s->jobs_tail = NULL;
        pthread_mutex_unlock(&s->mu);
        s->h->end(cr->r);
        atomic_store(&cr->ph, PH_ANSWERED);
        MHD_resume_connection(cr->conn);   /* the event thread then queues the response */
    }
}

/* A group is every grouped request waiting when the thread looks, up to this many: enough to
 * share a flush among all connections of a busy server, few enough that the first of them
 * does not wait long for the last. */
enum { GROUP_MAX = 256 };

static void *grouper_main(void *arg)
{
    struct http_server *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (!s->gjobs_head && !s->quit) pthread_cond_wait(&s->gcv, &s->mu);
        conn_req *group = s->gjobs_head, *last = group;
        if (!group) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        for (int n = 1; n < GROUP_MAX && last->next_job; n++) last = last->next_job;
        s->gjobs_head = last->next_job;
        if (!s->gjobs_head) s->gjobs_tail = NULL;
        last->next_job = NULL;
        pthread_mutex_unlock(&s->mu);

        s->h->group_open();
        for (conn_req *cr = group; cr; cr = cr->next_job) s->h->end(cr->r);
        if (!s->h->group_close())
            for (conn_req *cr = group; cr; cr = cr->next_job) s->h->group_lost(cr->r);
        for (conn_req *cr = group, *next; cr; cr = next) {
            next = cr->next_job;   /* cr may be freed once its connection resumes */
            atomic_store(&cr->ph, PH_ANSWERED);
            MHD_resume_connection(cr->conn);
        }
    }
}

static void submit(struct http_server *s, conn_req *cr)
{
    bool grouped = cr->r->defer_group && s->grouper_running;
    conn_req **head = grouped ? &s->gjobs_head : &s->jobs_head, **tail = grouped ? &s->gjobs_tail : &s->jobs_tail;
    pthread_mutex_lock(&s->mu);
    cr->next_job = NULL;
    if (*tail) (*tail)->next_job = cr;
    else *head = cr;
    *tail = cr;
    pthread_cond_signal(grouped ? &s->gcv : &s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    conn_req *cr = calloc(1, sizeof *cr);
    if (!cr) abort();
    cr->r = http_req_new("", uri ? uri : "/");
    return cr;
}

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    http_req_add_header(cls, key, value ? value : "");
    return MHD_YES;
}

/* --- responses ---------------------------------------------------------------------------- */

typedef struct reader_cls {
    http_read_fn read;
    void *cls;
    void (*free_cls)(void *);
    int sock;                   /* the connection's socket, -1 until queued */
} reader_cls;

/* A body that fails after its status line went out can only be reported by closing the
 * connection short of its Content-Length. libmicrohttpd (0.9.75, epoll) marks the connection
 * closed on MHD_CONTENT_READER_END_WITH_ERROR and logs "Closing connection", but when the very
 * first read fails — right after the headers were sent — nothing wakes the connection again to
 * release it: the socket stays open until the idle timeout and the client stalls. Shutting the
 * socket down ourselves tells the client at once and raises the event that makes
 * libmicrohttpd clean up; the descriptor stays libmicrohttpd's to close. */
static ssize_t reader_fail(reader_cls *rc)
{
    if (rc->sock >= 0) shutdown(rc->sock, SHUT_RDWR);
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

static ssize_t reader_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
    reader_cls *rc = cls;
    if (!rc->read) return reader_fail(rc);
    long n = rc->read(rc->cls, pos, buf, max);
    if (n > 0) return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : reader_fail(rc);
}

static void reader_free(void *cls)
{
    reader_cls *rc = cls;
    if (rc->free_cls && rc->cls) rc->free_cls(rc->cls);
    free(rc);
}

static struct MHD_Response *make_response(http_req *r, int sock)
{
    struct MHD_Response *resp = NULL;
    switch (r->body) {
    case BODY_NONE:
        resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        break;
    case BODY_BUF:
        resp = MHD_create_response_from_buffer(r->buflen, r->buf ? r->buf : (void *)"",
                                               r->buf ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (resp) r->buf = NULL;
        break;
    case BODY_FD:
        resp = MHD_create_response_from_fd_at_offset64(r->len, r->fd, r->offset);
        if (resp) r->fd = -1;   /* libmicrohttpd closes it */
        break;
    case BODY_READER:
    case BODY_LENGTH_ONLY: {
        reader_cls *rc = calloc(1, sizeof *rc);
        if (!rc) abort();
        rc->sock = sock;
        if (r->body == BODY_READER) {
            rc->read = r->read;
            rc->cls = r->read_cls;
            rc->free_cls = r->free_cls;
        }
        resp = MHD_create_response_from_callback(r->len, 256 * 1024, reader_cb, rc, reader_free);
        if (resp) {
            r->read_cls = NULL;
            r->free_cls = NULL;
        } else {
            free(rc);
        }
        break;
    }
    }
    if (!resp) return NULL;
    /* WOS lists Connection among the public response headers: say keep-alive explicitly
     * (libmicrohttpd says close itself when it closes). */
    MHD_set_response_options(resp, MHD_RF_SEND_KEEP_ALIVE_HEADER, MHD_RO_END);
    for (size_t i = 0; i < r->nrhdrs; i++) MHD_add_response_header(resp, r->rhdrs[i].name, r->rhdrs[i].value);
    if (r->close) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    return resp;
}

static enum MHD_Result queue(struct MHD_Connection *c, conn_req *cr)
{
    http_req *r = cr->r;
    cr->ph = PH_QUEUED;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct MHD_Response *resp = make_response(r, ci ? ci->connect_fd : -1);
    if (!resp) {
        log_error("could not build a response");
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)(r->status ? r->status : 500), resp);
    MHD_destroy_response(resp);
    return ret;
}

/* --- the access handler --------------------------------------------------------------------- */

static bool expects_body(const http_req *r)
{
    return r->chunked || r->content_length > 0;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls)
{
    struct http_server *s = cls;
    (void)version;
    conn_req *cr = *con_cls;
    if (!cr) {
        cr = on_uri(NULL, url, c);
        *con_cls = cr;
    }
    http_req *r = cr->r;

    if (cr->ph == PH_NEW) {
        r->method = arena_strdup(r->arena, method);
        MHD_get_connection_values(c, MHD_HEADER_KIND, add_header, r);
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr) {
            char addr[INET6_ADDRSTRLEN] = "";
            const struct sockaddr *sa = ci->client_addr;
            if (sa->sa_family == AF_INET)
                inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr, sizeof addr);
            else if (sa->sa_family == AF_INET6)
                inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof addr);
            r->remote = arena_strdup(r->arena, addr);
        }
        /* Nothing after an ambiguously framed request can be trusted: whatever the handler
         * answers, the connection closes after it. */
        bool unsupported;
        if (http_framing_error(r, &unsupported)) r->close = true;
        cr->begun = true;
        atomic_fetch_add(&s->active, 1);
        watch_set(s, c, expects_body(r) ? W_BODY : W_OTHER);
        if (s->h->begin(r) == HTTP_DONE) {
            cr->ph = PH_ANSWERED;
            /* Refuse before "100 Continue" and before reading a body; a request without a body
             * is answered on the next call (two-call idiom). A badly framed request may have
             * a body libmicrohttpd would read until the connection closes: answer it now too. */
            if (expects_body(r) || r->close) return queue(c, cr);
        } else {
            cr->ph = PH_BODY;
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        watch_body(c, n);
        if (cr->ph == PH_BODY && s->h->body(r, upload_data, n) == HTTP_DONE) {
            cr->ph = PH_ANSWERED;
            return queue(c, cr);
        }
        return MHD_YES;
    }

    if (cr->ph == PH_BODY) {
        watch_set(s, c, W_OTHER);
        if (r->defer_end) {
            cr->ph = PH_WORKING;
            cr->conn = c;
            MHD_suspend_connection(c);
            submit(s, cr);
            return MHD_YES;
        }
        s->h->end(r);
        cr->ph = PH_ANSWERED;
    }
    if (cr->ph == PH_ANSWERED) return queue(c, cr);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    (void)toe;
    watch_set(s, c, W_WAITING);   /* ready for the next request on this connection */
    conn_req *cr = *con_cls;
    if (!cr) return;
    if (cr->begun) {
        s->h->cleanup(cr->r);
        atomic_fetch_sub(&s->active, 1);
    }
    http_req_free(cr->r);
    free(cr);
    *con_cls = NULL;
}

/* --- start / stop --------------------------------------------------------------------------- */

static void stop_workers(http_server *s)
{
    pthread_mutex_lock(&s->mu);
    s->quit = true;
    pthread_cond_broadcast(&s->cv);
    pthread_cond_broadcast(&s->gcv);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < s->nworkers; i++) pthread_join(s->workers[i], NULL);
    if (s->grouper_running) pthread_join(s->grouper, NULL);
    free(s->workers);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_cond_destroy(&s->gcv);
    pthread_mutex_destroy(&s->watch_mu);
    free(s);
}

http_server *http_start(const http_config *cfg)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (!http_parse_listen(cfg->listen, &ss, &sl)) {
        log_error("cannot parse listen address '%s' (expected ADDR:PORT)", cfg->listen);
        return NULL;
    }
    http_server *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->h = cfg->handler;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pthread_mutex_init(&s->watch_mu, NULL);
    s->idle_timeout_s = cfg->idle_timeout_s ? cfg->idle_timeout_s : 60u;
    s->nworkers = cfg->workers ? cfg->workers : HTTP_DEFAULT_WORKERS;
    s->workers = calloc(s->nworkers, sizeof *s->workers);
    if (!s->workers) abort();
    for (unsigned i = 0; i < s->nworkers; i++) pthread_create(&s->workers[i], NULL, worker_main, s);
    /* Without group hooks (or without the thread) grouped ends run on the workers as any other. */
    pthread_cond_init(&s->gcv, NULL);
    if (s->h->group_open && s->h->group_close && s->h->group_lost)
        s->grouper_running = pthread_create(&s->grouper, NULL, grouper_main, s) == 0;
    bool v6 = ss.ss_family == AF_INET6;
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_TURBO | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME |
                     (v6 ? MHD_USE_IPv6 : 0);
    s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s,
                            MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, cfg->threads ? cfg->threads : 1u,
                            MHD_OPTION_CONNECTION_LIMIT, cfg->connection_limit ? cfg->connection_limit : 10000u,
                            MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout_s ? cfg->idle_timeout_s : 60u,
                            MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                            MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                            MHD_OPTION_END);
    if (!s->d) {
        log_error("cannot listen on %s", cfg->listen);
        stop_workers(s);
        return NULL;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : 0;
    s->watchdog_running = pthread_create(&s->watchdog, NULL, watchdog_main, s) == 0;
    return s;
}

unsigned http_port(const http_server *s) { return s->port; }

void http_stop(http_server *s)
{
    if (!s) return;
    /* Stop accepting, give requests in flight up to 30 s to finish, then close everything. */
    MHD_quiesce_daemon(s->d);
    for (int i = 0; i < 3000 && atomic_load(&s->active) > 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&s->stopping, true);
    if (s->watchdog_running) pthread_join(s->watchdog, NULL);
    MHD_stop_daemon(s->d);
    stop_workers(s);
}
