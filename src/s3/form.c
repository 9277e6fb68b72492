/* form — multipart/form-data, RFC 7578, as browsers send it.
 *
 * The body is scanned in a fixed window: bytes that cannot be the start of the next boundary
 * ("\r\n--" boundary) are handed on, the rest is kept until more arrives. */
#include "s3/form.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "util/str.h"

enum { WINDOW = 64 * 1024, HEADERS_MAX = 8 * 1024 };

typedef enum { ST_PREAMBLE, ST_HEADERS, ST_DATA, ST_AFTER_DELIM, ST_END } form_state;

struct form_parser {
    arena *a;
    char *delim;        /* "\r\n--" boundary */
    size_t dlen;
    form_state st;
    char *win;          /* WINDOW + dlen bytes */
    size_t wlen;
    bool in_part;
};

form_parser *form_new(arena *a, const char *ct)
{
    if (!ct || !str_has_prefix_ci(ct, "multipart/form-data")) return NULL;
    const char *b = strcasestr(ct, "boundary=");
    if (!b) return NULL;
    b += 9;
    size_t n;
    if (*b == '"') {
        b++;
        const char *e = strchr(b, '"');
        if (!e) return NULL;
        n = (size_t)(e - b);
    } else {
        n = strcspn(b, "; \t");
    }
    if (n == 0 || n > 70) return NULL;   /* RFC 2046: 1 to 70 characters */
    form_parser *f = arena_alloc(a, sizeof *f);
    f->a = a;
    /* The first boundary has no CRLF before it: start the window with one. */
    f->delim = arena_printf(a, "\r\n--%.*s", (int)n, b);
    f->dlen = n + 4;
    f->win = arena_alloc(a, WINDOW + f->dlen + 2);
    f->win[0] = '\r';
    f->win[1] = '\n';
    f->wlen = 2;
    f->st = ST_PREAMBLE;
    return f;
}

/* Reads name="…" / filename="…" from a Content-Disposition value. */
static char *disposition_param(arena *a, const char *v, const char *param)
{
    size_t pl = strlen(param);
    for (const char *p = v; (p = strcasestr(p, param)) != NULL; p += pl) {
        if (p != v && p[-1] != ' ' && p[-1] != ';' && p[-1] != '\t') continue;
        const char *q = p + pl;
        if (*q != '=') continue;
        q++;
        if (*q == '"') {
            q++;
            const char *e = strchr(q, '"');
            if (!e) return NULL;
            return arena_strndup(a, q, (size_t)(e - q));
        }
        return arena_strndup(a, q, strcspn(q, "; \t"));
    }
    return NULL;
}

static int parse_headers(form_parser *f, const char *h, size_t n, const form_callbacks *cb, void *cls)
{
    char *name = NULL, *filename = NULL, *ctype = NULL;
    const char *end = h + n;
    for (const char *line = h; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
        char *l = arena_strndup(f->a, line, len);
        if (len && l[len - 1] == '\r') l[len - 1] = 0;
        if (str_has_prefix_ci(l, "content-disposition:")) {
            const char *v = l + 20;
            while (*v == ' ') v++;
            if (!str_has_prefix_ci(v, "form-data")) return FORM_MALFORMED;
            name = disposition_param(f->a, v, "name");
            filename = disposition_param(f->a, v, "filename");
        } else if (str_has_prefix_ci(l, "content-type:")) {
            const char *v = l + 13;
            while (*v == ' ') v++;
            ctype = arena_strdup(f->a, v);
        }
        line += len + (nl ? 1 : 0);
    }
    if (!name) return FORM_MALFORMED;
    f->in_part = true;
    return cb->part_begin ? cb->part_begin(cls, name, filename, ctype) : 0;
}

/* Consumes what the window holds, as far as it can decide. */
static int drain(form_parser *f, const form_callbacks *cb, void *cls, bool final)
{
    for (;;) {
        switch (f->st) {
        case ST_END:
            f->wlen = 0;
            return 0;
        case ST_PREAMBLE:
        case ST_DATA: {
            char *hit = memmem(f->win, f->wlen, f->delim, f->dlen);
            size_t emit = hit ? (size_t)(hit - f->win) : (f->wlen >= f->dlen ? f->wlen - (f->dlen - 1) : 0);
            if (final && !hit) emit = 0;
            if (emit && f->st == ST_DATA && cb->part_data) {
                int rc = cb->part_data(cls, f->win, emit);
                if (rc) return rc;
            }
            if (!hit) {
                memmove(f->win, f->win + emit, f->wlen - emit);
                f->wlen -= emit;
                return 0;
            }
            if (f->st == ST_DATA && cb->part_end) {
                int rc = cb->part_end(cls);
                if (rc) return rc;
            }
            f->in_part = false;
            size_t used = emit + f->dlen;
            memmove(f->win, f->win + used, f->wlen - used);
            f->wlen -= used;
            f->st = ST_AFTER_DELIM;
            break;
        }
        case ST_AFTER_DELIM: {
            /* After a boundary: "--" ends the body; otherwise optional spaces then CRLF. */
            if (f->wlen < 2) return 0;
            if (f->win[0] == '-' && f->win[1] == '-') {
                f->st = ST_END;
                break;
            }
            /* The limits hold however the body was split: checked on what is found, too. */
            char *crlf = memmem(f->win, f->wlen, "\r\n", 2);
            if (!crlf) return f->wlen > 256 ? FORM_MALFORMED : 0;
            if (crlf - f->win > 256) return FORM_MALFORMED;
            for (char *p = f->win; p < crlf; p++)
                if (*p != ' ' && *p != '\t') return FORM_MALFORMED;
            size_t used = (size_t)(crlf - f->win) + 2;
            memmove(f->win, f->win + used, f->wlen - used);
            f->wlen -= used;
            f->st = ST_HEADERS;
            break;
        }
        case ST_HEADERS: {
            char *end = memmem(f->win, f->wlen, "\r\n\r\n", 4);
            if (!end) return f->wlen > HEADERS_MAX ? FORM_MALFORMED : 0;
            size_t hlen = (size_t)(end - f->win);
            if (hlen > HEADERS_MAX) return FORM_MALFORMED;
            int rc = parse_headers(f, f->win, hlen, cb, cls);
            if (rc) return rc;
            size_t used = hlen + 4;
            memmove(f->win, f->win + used, f->wlen - used);
            f->wlen -= used;
            /* The data runs up to the next "\r\n--boundary". */
            f->st = ST_DATA;
            break;
        }
        }
    }
}

int form_feed(form_parser *f, const char *data, size_t n, const form_callbacks *cb, void *cls)
{
    while (n) {
        if (f->st == ST_END) return 0;
        size_t room = WINDOW + f->dlen - f->wlen;
        size_t take = n < room ? n : room;
        memcpy(f->win + f->wlen, data, take);
        f->wlen += take;
        data += take;
        n -= take;
        int rc = drain(f, cb, cls, false);
        if (rc) return rc;
    }
    return 0;
}

int form_finish(form_parser *f)
{
    return f->st == ST_END ? 0 : FORM_MALFORMED;
}
