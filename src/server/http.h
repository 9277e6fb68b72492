/* http — the server's interface to the protocol layer.
 *
 * One http_req is one HTTP request and its response. The HTTP core owns it (http_epoll.c, our
 * own, by default; http_mhd.c on libmicrohttpd with `make HTTP_CORE=mhd`); the protocol layer
 * reads the request line and headers through the accessors below and describes the response
 * through the http_resp_* setters. No core's type crosses this header, so either core serves
 * s3/ unchanged.
 *
 * The life of a request, as the handler sees it (http_handler below):
 *   begin(req)            headers are complete; no body byte has been read. Returning a final
 *                         response here (http_resp_* then HTTP_DONE) refuses the request before
 *                         any "100 Continue" is sent.
 *   body(req, data, n)    zero or more times, in order, as body bytes arrive (chunked
 *                         transfer-encoding is already decoded).
 *   end(req)              the whole body has arrived; the handler sets the response.
 *   cleanup(req)          always, exactly once, however the request ended (also when the
 *                         client went away mid-body); release what begin() acquired.
 *   core_error(req, why)  the core refuses a message it cannot read (http_core_err); the
 *                         handler may describe the answer. It may come before begin() (then
 *                         no ctx is set and only the arena and what was parsed exist) or in
 *                         place of body()/end().
 */
#ifndef WOSD_SERVER_HTTP_H
#define WOSD_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

typedef struct http_req http_req;

/* --- the request ------------------------------------------------------------------------- */
const char *http_method(const http_req *r);
/* The request target's path exactly as the client sent it (still percent-encoded). */
const char *http_path_raw(const http_req *r);
/* The raw query string after '?', without the '?'; "" when there is none. */
const char *http_query_raw(const http_req *r);
/* The first value of a header (case-insensitive name), or NULL. */
const char *http_header(const http_req *r, const char *name);
/* Every header in arrival order, duplicates included; returns the count. */
size_t http_header_count(const http_req *r);
void http_header_at(const http_req *r, size_t i, const char **name, const char **value);
/* Content-Length when the client sent one, else -1 (chunked or no body). */
int64_t http_content_length(const http_req *r);
/* Transfer-Encoding: chunked (exactly that coding). */
bool http_is_chunked(const http_req *r);
/* Why the request's message framing is ambiguous (RFC 9112 §5.1, §6.1, §6.3), or NULL when it
 * is not: a header name that is not a token (whitespace before the colon), a Content-Length or
 * Transfer-Encoding header mangled by line folding, two different Content-Lengths, both
 * framings at once, a Transfer-Encoding other than "chunked". *unsupported is set when the
 * only problem is a transfer coding we do not implement (501 rather than 400). Such a request
 * must be refused and its connection closed: where its body ends is uncertain, so nothing
 * after it on the connection can be trusted. The core closes the connection after answering it
 * whatever the handler does. */
const char *http_framing_error(const http_req *r, bool *unsupported);
const char *http_remote_addr(const http_req *r);
/* Memory that lives exactly as long as the request. */
arena *http_arena(http_req *r);
/* Asks for end() to run on a worker thread, with the connection suspended meanwhile: for
 * requests whose end waits on the disk (fsync, a metadata commit), so that event threads never
 * do. Call it from begin(). */
void http_defer_end(http_req *r);
/* Like http_defer_end, for a request whose end() makes a change that can share its commit with
 * other requests' changes: end() runs on the one group thread, together with every other such
 * request waiting at the time, between the handler's group_open and group_close, and the
 * responses go out once group_close has returned. A commit (and its flush) then costs one
 * hand-over per group instead of several thread switches per request. Call it from begin(). */
void http_defer_end_group(http_req *r);
/* The protocol layer's own per-request state. */
void http_set_ctx(http_req *r, void *ctx);
void *http_ctx(const http_req *r);

/* --- the response ------------------------------------------------------------------------ */
void http_resp_status(http_req *r, int status);
/* Adds a header; name and value are copied. Values with CR or LF are refused (not added). */
void http_resp_header(http_req *r, const char *name, const char *value);
/* Sets a header, replacing any value it had. */
void http_resp_header_set(http_req *r, const char *name, const char *value);
/* Body from memory; takes ownership of data (malloc'd; freed with free()). */
void http_resp_body_buf(http_req *r, char *data, size_t len);
/* Body from a file descriptor (sent with sendfile where possible); takes ownership of fd.
 * For HEAD, only the length is used. */
void http_resp_body_fd(http_req *r, int fd, uint64_t offset, uint64_t len);
/* Body produced on demand: read(cls, pos, buf, max) returns bytes written (>0), 0 at the end,
 * or -1 on error (the connection is closed). free(cls) is called when the response is done. */
typedef long (*http_read_fn)(void *cls, uint64_t pos, char *buf, size_t max);
void http_resp_body_reader(http_req *r, uint64_t len, http_read_fn read, void *cls, void (*free_cls)(void *));
/* A body whose length is announced (HEAD of an object) but never sent. */
void http_resp_body_length_only(http_req *r, uint64_t len);
/* Forgets the response set so far (status, headers, body), to answer something else. */
void http_resp_reset(http_req *r);
/* Closes the connection once this response is sent (Connection: close). */
void http_resp_close(http_req *r);

/* --- the handler ------------------------------------------------------------------------- */
/* Why the core answers a request itself, with the status it answers unless the handler says
 * otherwise. The connection is closed after the answer whatever the handler sets: where the
 * next request would start cannot be known. For a head that was not parsed (malformed, wrong
 * version, too large) the request's method, path and headers are empty. */
typedef enum {
    HTTP_CORE_HEAD_MALFORMED, /* 400: a request line or header line that does not parse */
    HTTP_CORE_VERSION,        /* 505: an HTTP version other than 1.0 and 1.1 */
    HTTP_CORE_LENGTH,         /* 400: a Content-Length that is not plain decimal digits */
    HTTP_CORE_CHUNKED,        /* 400: a chunked body whose framing is broken */
    HTTP_CORE_HEAD_TOO_LARGE, /* 431: a head over the core's limit */
} http_core_err;

typedef enum {
    HTTP_CONTINUE, /* go on: read the body (begin, body) */
    HTTP_DONE,     /* the response is set; send it (the rest of the body is discarded) */
} http_step;

typedef struct http_handler {
    http_step (*begin)(http_req *r);
    http_step (*body)(http_req *r, const char *data, size_t len);
    void (*end)(http_req *r);
    void (*cleanup)(http_req *r);
    /* Around each group of end() calls (http_defer_end_group), on the group thread. When
     * group_close returns false the group's changes are lost: group_lost(r) then replaces the
     * response of each of its requests before any is sent. */
    void (*group_open)(void);
    bool (*group_close)(void);
    void (*group_lost)(http_req *r);
    /* Optional. The core's own refusal of r (see http_core_err), with its status already set:
     * the handler may replace status, headers and body through http_resp_*. A request that
     * began gets its cleanup() as usual; one that did not never sees begin() or cleanup(). */
    void (*core_error)(http_req *r, http_core_err why);
} http_handler;

/* Deferred end() calls block on the disk (fsync, the metadata commit), and the store commits
 * every change that is waiting at once: the more workers wait, the more requests share one
 * flush. Roughly one per connection a busy durable server has in flight; a sleeping worker
 * costs a stack's resident pages only. */
enum { HTTP_DEFAULT_WORKERS = 64 };

typedef struct http_config {
    const char *listen;          /* "ADDR:PORT" */
    unsigned threads;            /* event threads (one per core) */
    unsigned connection_limit;
    unsigned idle_timeout_s;     /* a connection idle this long is closed */
    unsigned workers;            /* threads that run deferred end() calls */
    const http_handler *handler;
} http_config;

typedef struct http_server http_server;
/* Binds and starts serving; returns NULL (and logs why) on failure. */
http_server *http_start(const http_config *cfg);
/* Stops accepting, lets requests in flight finish, then returns. */
void http_stop(http_server *s);
/* The port actually bound (useful with port 0). */
unsigned http_port(const http_server *s);

#endif
