#include "s3/xml.h"

#include <inttypes.h>
#include <string.h>

void xml_escape(buf *b, const char *s, size_t n)
{
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = NULL;
        char num[8];
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n') {
                /* Not legal XML 1.0 text; a character reference keeps the key readable. */
                static const char d[] = "0123456789ABCDEF";
                num[0] = '&'; num[1] = '#'; num[2] = 'x'; num[3] = d[c >> 4]; num[4] = d[c & 15];
                num[5] = ';'; num[6] = 0;
                rep = num;
            }
        }
        if (rep) {
            buf_append(b, s + i - run, run);
            run = 0;
            buf_puts(b, rep);
        } else {
            run++;
        }
    }
    buf_append(b, s + n - run, run);
}

void xml_begin(xmlw *w, const char *root, const char *ns, int standalone)
{
    buf_puts(&w->b, standalone ? "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                               : "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    if (ns)
        buf_printf(&w->b, "<%s xmlns=\"%s\">\n", root, ns);
    else
        buf_printf(&w->b, "<%s>\n", root);
}

void xml_open(xmlw *w, const char *name) { buf_printf(&w->b, "<%s>", name); }
void xml_close(xmlw *w, const char *name) { buf_printf(&w->b, "</%s>\n", name); }

void xml_elem_n(xmlw *w, const char *name, const char *text, size_t n)
{
    buf_printf(&w->b, "<%s>", name);
    xml_escape(&w->b, text, n);
    buf_printf(&w->b, "</%s>\n", name);
}

void xml_elem(xmlw *w, const char *name, const char *text)
{
    xml_elem_n(w, name, text ? text : "", text ? strlen(text) : 0);
}

void xml_elem_i64(xmlw *w, const char *name, int64_t v)
{
    buf_printf(&w->b, "<%s>%" PRId64 "</%s>\n", name, v, name);
}

void xml_elem_bool(xmlw *w, const char *name, int v)
{
    buf_printf(&w->b, "<%s>%s</%s>\n", name, v ? "true" : "false", name);
}

void xml_owner(xmlw *w, const char *tag, const char *id)
{
    xml_open(w, tag);
    xml_elem(w, "ID", id);
    xml_elem(w, "DisplayName", id);
    xml_close(w, tag);
}

void xml_end(xmlw *w, const char *root) { buf_printf(&w->b, "</%s>", root); }
