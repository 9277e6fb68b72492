/* xml_in — reading request bodies (CreateBucket, Delete, CompleteMultipartUpload, …) safely.
 *
 * On libxml2 with no network, no DTD loading, no entity substitution; a document that declares
 * a DTD at all is refused, so no entity can expand. Element names are matched by local name:
 * clients send these bodies with the S3 namespace, the WOS one, or none. The caller caps the
 * body size before parsing (S3_XML_BODY_MAX). */
#ifndef WOSD_S3_XML_IN_H
#define WOSD_S3_XML_IN_H

#include <stdbool.h>
#include <stddef.h>

#include "util/arena.h"

typedef struct xml_node xml_node;   /* an element */
typedef struct xml_doc xml_doc;

/* NULL when the body is not well-formed XML, or declares a DTD. */
xml_doc *xml_parse(const char *data, size_t len);
void xml_doc_free(xml_doc *d);
/* The root element when its local name is root, else NULL. */
xml_node *xml_root(xml_doc *d, const char *root);
/* First child element with that local name, or NULL. */
xml_node *xml_child(xml_node *n, const char *name);
/* Iterates child elements: pass NULL to start; returns NULL at the end. */
xml_node *xml_next_child(xml_node *parent, xml_node *prev);
const char *xml_name(xml_node *n);
/* The element's text (arena copy; "" when empty). */
char *xml_text(arena *a, xml_node *n);
/* Text of the named child, or NULL when there is no such child. */
char *xml_child_text(arena *a, xml_node *n, const char *name);
/* The value of the element's attribute `name` (no namespace; arena copy), or NULL. */
char *xml_attr(arena *a, xml_node *n, const char *name);

#endif
