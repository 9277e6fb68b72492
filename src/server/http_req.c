/* http_req — request accessors and response setters of http.h. */
#include "server/http_req.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

http_req *http_req_alloc(void)
{
    arena *a = arena_new(8192);
    http_req *r = arena_alloc(a, sizeof *r);
    r->arena = a;
    r->method = r->path = r->query = r->remote = "";
    r->content_length = -1;
    r->fd = -1;
    return r;
}

http_req *http_req_new(const char *method, const char *target)
{
    http_req *r = http_req_alloc();
    arena *a = r->arena;
    r->method = arena_strdup(a, method);
    const char *q = strchr(target, '?');
    if (q) {
        r->path = arena_strndup(a, target, (size_t)(q - target));
        r->query = arena_strdup(a, q + 1);
    } else {
        r->path = arena_strdup(a, target);
    }
    return r;
}

static bool repeated_header(const http_req *r, const char *name);

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
    http_req_note_framing(r, name, value);
}

void http_req_note_framing(http_req *r, const char *name, const char *value)
{
    /* The first Content-Length frames the body, as libmicrohttpd reads it; a second one that
     * differs is refused (http_framing_error). Only exactly "chunked" is a chunked body. */
    if (strcasecmp(name, "content-length") == 0 && !repeated_header(r, name)) {
        char *end;
        long long v = strtoll(value, &end, 10);
        r->content_length = (*value && !*end && v >= 0) ? v : -1;
    } else if (strcasecmp(name, "transfer-encoding") == 0 && strcasecmp(value, "chunked") == 0) {
        r->chunked = true;
    }
}

/* --- message framing (RFC 9112 §5.1, §6.1, §6.3) ------------------------------------------ */

static bool repeated_header(const http_req *r, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < r->nhdrs; i++) n += strcasecmp(r->hdrs[i].name, name) == 0;
    return n > 1;
}

/* RFC 9110 §5.1: a field name is a token. libmicrohttpd keeps "Content-Length " (a space
 * before the colon) as a header of that name, which no one then takes for the framing; and it
 * merges a folded continuation line (obs-fold, RFC 9112 §5.2) into the *name*: "X-A: v\r\n w"
 * arrives as a name with a colon and spaces in it. */
static bool is_token(const char *s)
{
    if (!*s) return false;
    for (; *s; s++) {
        char c = *s;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !strchr("!#$%&'*+-.^_`|~", c)) return false;
    }
    return true;
}

/* libmicrohttpd 0.9.75 reads a folded "Transfer-Encoding:\r\n chunked" as one header named
 * "Transfer-Encodingchunked" with an empty value: a framing header that frames nothing. Such
 * a name can only come from a fold (no registered field starts with these names). */
static bool folded_framing_name(const char *name)
{
    static const char *const framing[] = {"content-length", "transfer-encoding"};
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(framing[i]);
        if (strncasecmp(name, framing[i], n) == 0 && name[n]) return true;
    }
    return false;
}

/* libmicrohttpd decodes a body as chunked only when Transfer-Encoding is exactly "chunked"; any
 * other value makes it read until the connection closes. So anything else is refused: with
 * chunked as the final coding it is a coding we do not implement (501); without, the body's
 * end cannot be known at all (400). */
static const char *transfer_coding_error(const char *value, bool *unsupported)
{
    if (strcasecmp(value, "chunked") == 0) return NULL;
    const char *last = strrchr(value, ',');
    last = last ? last + 1 : value;
    while (*last == ' ' || *last == '\t') last++;
    size_t n = strcspn(last, " \t;");
    if (n == 7 && strncasecmp(last, "chunked", 7) == 0) {
        *unsupported = true;
        return "Only the chunked transfer coding, alone, is implemented.";
    }
    return "The final transfer coding must be chunked: the length of the body cannot be determined.";
}

const char *http_framing_error(const http_req *r, bool *unsupported)
{
    *unsupported = false;
    const char *cl = NULL, *te = NULL;
    for (size_t i = 0; i < r->nhdrs; i++) {
        const char *name = r->hdrs[i].name, *value = r->hdrs[i].value;
        if (!is_token(name))
            return "A header field name must be a token: no whitespace before the colon, no folded lines.";
        if (strcasecmp(name, "content-length") == 0) {
            if (cl && strcmp(cl, value) != 0) return "Content-Length must not be sent twice with different values.";
            cl = value;
        } else if (strcasecmp(name, "transfer-encoding") == 0) {
            if (te) return "Transfer-Encoding must not be sent twice.";
            te = value;
        } else if (folded_framing_name(name)) {
            return "Content-Length and Transfer-Encoding must not be folded across lines.";
        }
    }
    if (cl && te) return "Content-Length and Transfer-Encoding must not both be present.";
    return te ? transfer_coding_error(te, unsupported) : NULL;
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
void http_defer_end_group(http_req *r) { r->defer_end = r->defer_group = true; }
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

void http_resp_reset(http_req *r)
{
    drop_body(r);
    r->status = 0;
    r->nrhdrs = 0;
}

void http_resp_close(http_req *r) { r->close = true; }
