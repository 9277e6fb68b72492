/* http_req — the request object behind http.h, shared by the HTTP core and by tests.
 *
 * Only the HTTP cores (http_epoll.c, http_mhd.c) and unit tests include this header; the protocol layer sees
 * http_req through the accessors of http.h alone. */
#ifndef WOSD_SERVER_HTTP_REQ_H
#define WOSD_SERVER_HTTP_REQ_H

#include "server/http.h"

typedef struct http_hdr {
    const char *name, *value;
} http_hdr;

typedef enum { BODY_NONE, BODY_BUF, BODY_FD, BODY_READER, BODY_LENGTH_ONLY } http_body_kind;

struct http_req {
    arena *arena;
    const char *method, *path, *query, *remote;
    http_hdr *hdrs;
    size_t nhdrs, caphdrs;
    int64_t content_length;
    bool chunked;
    bool defer_end;
    bool defer_group;           /* ... to the group thread (implies defer_end) */
    bool close;                 /* Connection: close after the response */
    void *ctx;

    int status;
    http_hdr *rhdrs;
    size_t nrhdrs, caprhdrs;
    http_body_kind body;
    char *buf;
    size_t buflen;
    int fd;
    uint64_t offset, len;
    http_read_fn read;
    void *read_cls;
    void (*free_cls)(void *);
};

/* Creates an empty request (method, path, query and remote ""), with its arena. */
http_req *http_req_alloc(void);
/* Creates a request from a target ("/path?query"); the caller adds headers. */
http_req *http_req_new(const char *method, const char *target);
void http_req_add_header(http_req *r, const char *name, const char *value);
/* Updates content_length and chunked for a header that is already r->hdrs[r->nhdrs - 1] (the
 * core's parser fills hdrs itself, without copying). */
void http_req_note_framing(http_req *r, const char *name, const char *value);
/* Releases the request, its arena and any response body it still owns. */
void http_req_free(http_req *r);
/* A response header by name (case-insensitive), for the core and for tests. */
const char *http_resp_header_get(const http_req *r, const char *name);

#endif
