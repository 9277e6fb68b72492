#include "s3/xml.h"

#include <stdbool.h>
#include <string.h>

/* Bytes that cannot stand for themselves in XML text or attributes: the five markup
 * characters and the control characters XML 1.0 does not allow. A table, because every key
 * and name of every answer goes through here byte by byte (a test per byte was a fifth of
 * writing an InitiateMultipartUpload answer). */
static const bool escaped[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1, [0x07] = 1,
    [0x08] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1, [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1,
    [0x12] = 1, [0x13] = 1, [0x14] = 1, [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1,
    [0x1a] = 1, [0x1b] = 1, [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1,
    ['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1, ['\''] = 1,
};

void xml_escape(buf *b, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!escaped[c]) {
            run++;
            continue;
        }
        buf_append(b, s + i - run, run);
        run = 0;
        switch (c) {
        case '&': buf_append(b, "&amp;", 5); break;
        case '<': buf_append(b, "&lt;", 4); break;
        case '>': buf_append(b, "&gt;", 4); break;
        case '"': buf_append(b, "&quot;", 6); break;
        case '\'': buf_append(b, "&apos;", 6); break;
        default: {
            /* Not legal XML 1.0 text; a character reference keeps the key readable. */
            static const char d[] = "0123456789ABCDEF";
            char num[6] = {'&', '#', 'x', d[c >> 4], d[c & 15], ';'};
            buf_append(b, num, sizeof num);
        }
        }
    }
    buf_append(b, s + n - run, run);
}

/* Tags are copied, not formatted: a listing page writes thousands of elements, and printf
 * was most of its time. */
static void tag(buf *b, const char *open, const char *name, const char *close)
{
    size_t on = strlen(open), nn = strlen(name), cn = strlen(close);
    char stack[128];
    if (on + nn + cn <= sizeof stack) {
        memcpy(stack, open, on);
        memcpy(stack + on, name, nn);
        memcpy(stack + on + nn, close, cn);
        buf_append(b, stack, on + nn + cn);
    } else {
        buf_puts(b, open);
        buf_puts(b, name);
        buf_puts(b, close);
    }
}

void xml_begin(xmlw *w, const char *root, const char *ns, int standalone)
{
    buf_puts(&w->b, standalone ? "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                               : "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (ns) {
        tag(&w->b, "<", root, " xmlns=\"");
        tag(&w->b, "", ns, "\">\n");
    } else {
        tag(&w->b, "<", root, ">\n");
    }
}

void xml_open(xmlw *w, const char *name) { tag(&w->b, "<", name, ">"); }
void xml_close(xmlw *w, const char *name) { tag(&w->b, "</", name, ">\n"); }

void xml_elem_n(xmlw *w, const char *name, const char *text, size_t n)
{
    /* The name's length once for both tags, each written with one append. */
    size_t nn = strlen(name);
    char t[64];
    if (nn + 4 > sizeof t) {
        tag(&w->b, "<", name, ">");
        xml_escape(&w->b, text, n);
        tag(&w->b, "</", name, ">\n");
        return;
    }
    t[0] = '<';
    memcpy(t + 1, name, nn);
    t[nn + 1] = '>';
    buf_append(&w->b, t, nn + 2);
    xml_escape(&w->b, text, n);
    t[1] = '/';
    memcpy(t + 2, name, nn);
    t[nn + 2] = '>';
    t[nn + 3] = '\n';
    buf_append(&w->b, t, nn + 4);
}

void xml_elem(xmlw *w, const char *name, const char *text)
{
    xml_elem_n(w, name, text ? text : "", text ? strlen(text) : 0);
}

void xml_elem_i64(xmlw *w, const char *name, int64_t v)
{
    char d[24], *p = d + sizeof d;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0) *--p = '-';
    tag(&w->b, "<", name, ">");
    buf_append(&w->b, p, (size_t)(d + sizeof d - p));
    tag(&w->b, "</", name, ">\n");
}

void xml_elem_bool(xmlw *w, const char *name, int v)
{
    tag(&w->b, "<", name, ">");
    buf_puts(&w->b, v ? "true" : "false");
    tag(&w->b, "</", name, ">\n");
}

void xml_owner(xmlw *w, const char *tag, const char *id)
{
    xml_open(w, tag);
    xml_elem(w, "ID", id);
    xml_elem(w, "DisplayName", id);
    xml_close(w, tag);
}

void xml_end(xmlw *w, const char *root) { tag(&w->b, "</", root, ">"); }
