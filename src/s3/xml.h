/* xml — the streaming writer for response documents, and the one place that escapes text.
 *
 * Responses are small documents built top to bottom: declaration, a root element with the
 * dialect's namespace, elements with escaped text. Request bodies are parsed elsewhere
 * (xml_in.h, on libxml2). */
#ifndef WOSD_S3_XML_H
#define WOSD_S3_XML_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

typedef struct xmlw {
    buf b;
} xmlw;

/* Writes the declaration and opens root; ns NULL for none. standalone adds standalone="yes"
 * (the WOS form). */
void xml_begin(xmlw *w, const char *root, const char *ns, int standalone);
void xml_open(xmlw *w, const char *name);
void xml_close(xmlw *w, const char *name);
/* <name>escaped text</name> */
void xml_elem(xmlw *w, const char *name, const char *text);
void xml_elem_n(xmlw *w, const char *name, const char *text, size_t n);
void xml_elem_i64(xmlw *w, const char *name, int64_t v);
void xml_elem_bool(xmlw *w, const char *name, int v);
/* <tag><ID>id</ID><DisplayName>id</DisplayName></tag>: an Owner, Initiator or Grantee. */
void xml_owner(xmlw *w, const char *tag, const char *id);
/* Closes root; the document is in w->b. */
void xml_end(xmlw *w, const char *root);
/* Escapes text into b (& < > " ' and control characters). */
void xml_escape(buf *b, const char *text, size_t n);

#endif
