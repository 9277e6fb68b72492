/* http_parse — request heads and chunked bodies, strictly (see http_parse.h for the rules). */
#include "server/http_parse.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

long http_head_end(const char *buf, size_t len, size_t *scanned)
{
    /* *scanned is always the start of a line that has not ended yet. */
    size_t ls = *scanned;
    for (size_t i = ls; i < len; i++) {
        char c = buf[i];
        if (c == '\n') {
            size_t linelen = i - ls;
            if (linelen && buf[i - 1] == '\r') linelen--;
            if (linelen == 0) return (long)(i + 1);
            ls = i + 1;
            *scanned = ls;
        } else if (c == '\r') {
            if (i + 1 < len && buf[i + 1] != '\n') return -1;
        } else if (c == 0) {
            return -1;
        }
    }
    return 0;
}

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The next line of s (ending in LF, an optional CR before it): NUL-terminates it in place and
 * returns the start of the following line. */
static char *cut_line(char *s, char *end, size_t *linelen)
{
    char *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl) nl = end;   /* cannot happen for a head http_head_end measured */
    char *e = nl;
    if (e > s && e[-1] == '\r') e--;
    *e = 0;
    *linelen = (size_t)(e - s);
    return nl < end ? nl + 1 : end;
}

static int parse_request_line(char *line, size_t n, http_head *h)
{
    char *sp1 = memchr(line, ' ', n);
    if (!sp1 || sp1 == line) return 400;
    for (char *p = line; p < sp1; p++)
        if (!is_tchar((unsigned char)*p)) return 400;
    char *target = sp1 + 1;
    char *sp2 = memchr(target, ' ', (size_t)(line + n - target));
    if (!sp2 || sp2 == target) return 400;
    /* Any visible byte, and bytes above 0x7f (raw UTF-8 that some clients send unescaped);
     * never a control character. */
    for (char *p = target; p < sp2; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f) return 400;
    const char *ver = sp2 + 1;
    size_t vl = (size_t)(line + n - ver);
    if (vl != 8 || memcmp(ver, "HTTP/", 5) != 0 || ver[6] != '.' || ver[5] < '0' || ver[5] > '9' ||
        ver[7] < '0' || ver[7] > '9')
        return 400;
    if (ver[5] != '1') return 505;
    *sp1 = 0;
    *sp2 = 0;
    h->method = line;
    h->target = target;
    h->minor = ver[7] - '0';
    return 0;
}

int http_parse_head(arena *a, const char *buf, size_t len, http_head *h)
{
    memset(h, 0, sizeof *h);
    if (len < 2) return 400;
    char *s = arena_memdup(a, buf, len);
    char *end = s + len;
    size_t n;
    char *next = cut_line(s, end, &n);
    int st = parse_request_line(s, n, h);
    if (st) return st;

    /* Size the header array by counting the remaining lines: one pass, one allocation. */
    size_t lines = 0;
    for (char *p = next; p < end; p++) lines += *p == '\n';
    h->hdrs = arena_alloc(a, (lines ? lines : 1) * sizeof *h->hdrs);
    while (next < end) {
        char *line = next;
        next = cut_line(line, end, &n);
        if (n == 0) break;   /* the blank line */
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)line[i];
            /* A CR that survived (not before LF) or any other control but HT. */
            if ((c < 0x20 && c != '\t') || c == 0x7f) return 400;
        }
        http_hdr *x = &h->hdrs[h->nhdrs++];
        if (line[0] == ' ' || line[0] == '\t') {
            /* obs-fold: kept as a header named by the whole line, which is not a token, so
             * http_framing_error refuses the request and closes the connection. */
            x->name = line;
            x->value = "";
            continue;
        }
        char *colon = memchr(line, ':', n);
        if (!colon || colon == line) return 400;
        *colon = 0;   /* the name keeps any whitespace before the colon: not a token, refused */
        char *v = colon + 1, *ve = line + n;
        while (v < ve && (*v == ' ' || *v == '\t')) v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        *ve = 0;
        x->name = line;
        x->value = v;
    }
    return 0;
}

int64_t http_parse_length(const char *value)
{
    int64_t v = 0;
    size_t n = 0;
    for (; value[n]; n++) {
        if (value[n] < '0' || value[n] > '9' || n >= 18) return -1;
        v = v * 10 + (value[n] - '0');
    }
    return n ? v : -1;
}

bool http_has_token(const char *value, const char *token)
{
    size_t tl = strlen(token);
    const char *p = value;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *e = p;
        while (*e && *e != ',') e++;
        const char *te = e;
        while (te > p && (te[-1] == ' ' || te[-1] == '\t')) te--;
        if ((size_t)(te - p) == tl && strncasecmp(p, token, tl) == 0) return true;
        p = e;
    }
    return false;
}

bool http_parse_listen(const char *where, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[256];
    const char *colon = strrchr(where, ':');
    if (!colon || colon == where || (size_t)(colon - where) >= sizeof host) return false;
    memcpy(host, where, (size_t)(colon - where));
    host[colon - where] = 0;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || port < 0 || port > 65535) return false;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[') {
        size_t hl = strlen(host);
        if (hl < 3 || host[hl - 1] != ']') return false;
        host[hl - 1] = 0;
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        *len = sizeof *a;
        return inet_pton(AF_INET6, host + 1, &a->sin6_addr) == 1;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    *len = sizeof *a;
    if (!strcmp(host, "localhost")) return inet_pton(AF_INET, "127.0.0.1", &a->sin_addr) == 1;
    return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

/* --- chunked bodies ------------------------------------------------------------------------ */

enum {
    CH_SIZE,       /* hex digits of a chunk size */
    CH_BWS,        /* after the size: optional whitespace, then ';' or CR */
    CH_EXT,        /* a chunk extension, up to CR */
    CH_SIZE_LF,    /* CR seen after the size line, LF must follow */
    CH_DATA,
    CH_DATA_CR,    /* CRLF after the chunk's data */
    CH_DATA_LF,
    CH_TRAILER,    /* at the start of a trailer line (or of the final blank line) */
    CH_TRAILER_LINE,
    CH_TRAILER_LF,
    CH_END_LF,     /* CR of the final blank line seen */
    CH_DONE,
    CH_ERR,
};

void http_chunked_init(http_chunked *d) { memset(d, 0, sizeof *d); }

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

http_chunk_result http_chunked_feed(http_chunked *d, const char *p, size_t n, size_t *used, const char **data,
                                    size_t *dlen)
{
    size_t i = 0;
    *data = NULL;
    *dlen = 0;
    while (i < n) {
        char c = p[i];
        switch (d->st) {
        case CH_SIZE: {
            int h = hexval(c);
            if (h >= 0) {
                if (d->digits >= 16) goto fail;
                d->left = d->left << 4 | (uint64_t)h;
                d->digits++;
                i++;
                break;
            }
            if (!d->digits) goto fail;
            if ((d->left >> 62) != 0) goto fail;   /* keeps every length a valid int64 */
            d->st = CH_BWS;
            d->line = d->digits;
            break;   /* c is looked at again in CH_BWS */
        }
        case CH_BWS:
            if (c == ';') {
                d->st = CH_EXT;
            } else if (c == '\r') {
                d->st = CH_SIZE_LF;
            } else if ((c != ' ' && c != '\t') || ++d->line > HTTP_CHUNK_LINE_MAX) {
                goto fail;
            }
            i++;
            break;
        case CH_EXT:
            if (c == '\r') {
                d->st = CH_SIZE_LF;
            } else if (c == '\n' || c == 0 || ++d->line > HTTP_CHUNK_LINE_MAX) {
                goto fail;
            }
            i++;
            break;
        case CH_SIZE_LF:
            if (c != '\n') goto fail;
            i++;
            d->st = d->left ? CH_DATA : CH_TRAILER;
            d->digits = 0;
            d->line = 0;
            break;
        case CH_DATA: {
            size_t take = n - i;
            if (take > d->left) take = (size_t)d->left;
            *data = p + i;
            *dlen = take;
            d->left -= take;
            i += take;
            if (!d->left) d->st = CH_DATA_CR;
            *used = i;
            return HTTP_CHUNK_DATA;
        }
        case CH_DATA_CR:
            if (c != '\r') goto fail;
            d->st = CH_DATA_LF;
            i++;
            break;
        case CH_DATA_LF:
            if (c != '\n') goto fail;
            d->st = CH_SIZE;
            i++;
            break;
        case CH_TRAILER:
            if (c == '\r') {
                d->st = CH_END_LF;
                i++;
                break;
            }
            d->st = CH_TRAILER_LINE;
            d->line = 0;
            break;
        case CH_TRAILER_LINE:
            if (++d->trailers > HTTP_TRAILERS_MAX) goto fail;
            if (c == '\r') d->st = CH_TRAILER_LF;
            else if (c == '\n' || c == 0) goto fail;
            i++;
            break;
        case CH_TRAILER_LF:
            if (c != '\n') goto fail;
            d->st = CH_TRAILER;
            i++;
            break;
        case CH_END_LF:
            if (c != '\n') goto fail;
            d->st = CH_DONE;
            *used = i + 1;
            return HTTP_CHUNK_DONE;
        case CH_DONE:
            *used = i;
            return HTTP_CHUNK_DONE;
        default:
            goto fail;
        }
    }
    *used = i;
    return d->st == CH_DONE ? HTTP_CHUNK_DONE : HTTP_CHUNK_MORE;
fail:
    d->st = CH_ERR;
    *used = i;
    return HTTP_CHUNK_ERROR;
}
