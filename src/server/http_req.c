/* http_req — request accessors and response setters of http.h. */
#include "server/http_req.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

http_req *http_req_new(const char *method, const char *target)
{
    arena *a = arena_new(8192);
    http_req *r = arena_alloc(a, sizeof *r);
    r->arena = a;
    r->method = arena_strdup(a, method);
    const char *q = strchr(target, '?');
    if (q) {
        r->path = arena_strndup(a, target, (size_t)(q - target));
        r->query = arena_strdup(a, q + 1);
    } else {
        r->path = arena_strdup(a, target);
        r->query = "";
    }
    r->remote = "";
    r->content_length = -1;
    r->fd = -1;
    return r;
}

static void push(arena *a, http_hdr **v, size_t *n, size_t *cap, const char *name, const char *value)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        http_hdr *nv = arena_alloc(a, nc * sizeof *nv);
        if (*n) memcpy(nv, *v, *n * sizeof *nv);
        *v = nv;
        *cap = nc;
    }
    (*v)[*n].name = arena_strdup(a, name);
    (*v)[*n].value = arena_strdup(a, value);
    (*n)++;
}

void http_req_add_header(http_req *r, const char *name, const char *value)
{
    push(r->arena, &r->hdrs, &r->nhdrs, &r->caphdrs, name, value);
    if (strcasecmp(name, "content-length") == 0) {
        char *end;
        long long v = strtoll(value, &end, 10);
        r->content_length = (*value && !*end && v >= 0) ? v : -1;
    } else if (strcasecmp(name, "transfer-encoding") == 0 && strcasestr(value, "chunked")) {
        r->chunked = true;
    }
}

static void drop_body(http_req *r)
{
    free(r->buf);
    r->buf = NULL;
    if (r->fd >= 0) close(r->fd);
    r->fd = -1;
    if (r->free_cls && r->read_cls) r->free_cls(r->read_cls);
    r->read_cls = NULL;
    r->free_cls = NULL;
    r->body = BODY_NONE;
}

void http_req_free(http_req *r)
{
    if (!r) return;
    drop_body(r);
    arena_free(r->arena);
}

const char *http_method(const http_req *r) { return r->method; }
const char *http_path_raw(const http_req *r) { return r->path; }
const char *http_query_raw(const http_req *r) { return r->query; }
size_t http_header_count(const http_req *r) { return r->nhdrs; }
int64_t http_content_length(const http_req *r) { return r->content_length; }
bool http_is_chunked(const http_req *r) { return r->chunked; }
const char *http_remote_addr(const http_req *r) { return r->remote; }
arena *http_arena(http_req *r) { return r->arena; }
void http_set_ctx(http_req *r, void *ctx) { r->ctx = ctx; }
void http_defer_end(http_req *r) { r->defer_end = true; }
void *http_ctx(const http_req *r) { return r->ctx; }

const char *http_header(const http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nhdrs; i++)
        if (strcasecmp(r->hdrs[i].name, name) == 0) return r->hdrs[i].value;
    return NULL;
}

void http_header_at(const http_req *r, size_t i, const char **name, const char **value)
{
    *name = r->hdrs[i].name;
    *value = r->hdrs[i].value;
}

void http_resp_status(http_req *r, int status) { r->status = status; }

void http_resp_header(http_req *r, const char *name, const char *value)
{
    /* Header injection is impossible by construction: no CR or LF reaches the wire. */
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return;
    push(r->arena, &r->rhdrs, &r->nrhdrs, &r->caprhdrs, name, value);
}

void http_resp_header_set(http_req *r, const char *name, const char *value)
{
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n")) return;
    for (size_t i = 0; i < r->nrhdrs; i++)
        if (strcasecmp(r->rhdrs[i].name, name) == 0) {
            r->rhdrs[i].value = arena_strdup(r->arena, value);
            return;
        }
    http_resp_header(r, name, value);
}

const char *http_resp_header_get(const http_req *r, const char *name)
{
    for (size_t i = 0; i < r->nrhdrs; i++)
        if (strcasecmp(r->rhdrs[i].name, name) == 0) return r->rhdrs[i].value;
    return NULL;
}

void http_resp_body_buf(http_req *r, char *data, size_t len)
{
    drop_body(r);
    r->body = BODY_BUF;
    r->buf = data;
    r->buflen = len;
}

void http_resp_body_fd(http_req *r, int fd, uint64_t offset, uint64_t len)
{
    drop_body(r);
    r->body = BODY_FD;
    r->fd = fd;
    r->offset = offset;
    r->len = len;
}

void http_resp_body_reader(http_req *r, uint64_t len, http_read_fn read, void *cls, void (*free_cls)(void *))
{
    drop_body(r);
    r->body = BODY_READER;
    r->len = len;
    r->read = read;
    r->read_cls = cls;
    r->free_cls = free_cls;
}

void http_resp_body_length_only(http_req *r, uint64_t len)
{
    drop_body(r);
    r->body = BODY_LENGTH_ONLY;
    r->len = len;
}
