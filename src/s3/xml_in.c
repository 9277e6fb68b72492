#include "s3/xml_in.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

xml_doc *xml_parse(const char *data, size_t len)
{
    if (len == 0 || len > (size_t)INT32_MAX) return NULL;
    xmlDocPtr d = xmlReadMemory(data, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d) return NULL;
    if (d->intSubset || d->extSubset || !xmlDocGetRootElement(d)) {
        xmlFreeDoc(d);
        return NULL;
    }
    return (xml_doc *)d;
}

void xml_doc_free(xml_doc *d)
{
    if (d) xmlFreeDoc((xmlDocPtr)d);
}

xml_node *xml_root(xml_doc *d, const char *root)
{
    xmlNodePtr n = xmlDocGetRootElement((xmlDocPtr)d);
    return n && strcmp((const char *)n->name, root) == 0 ? (xml_node *)n : NULL;
}

xml_node *xml_next_child(xml_node *parent, xml_node *prev)
{
    xmlNodePtr c = prev ? ((xmlNodePtr)prev)->next : ((xmlNodePtr)parent)->children;
    while (c && c->type != XML_ELEMENT_NODE) c = c->next;
    return (xml_node *)c;
}

xml_node *xml_child(xml_node *n, const char *name)
{
    for (xml_node *c = xml_next_child(n, NULL); c; c = xml_next_child(n, c))
        if (strcmp(xml_name(c), name) == 0) return c;
    return NULL;
}

const char *xml_name(xml_node *n) { return (const char *)((xmlNodePtr)n)->name; }

char *xml_text(arena *a, xml_node *n)
{
    xmlChar *t = xmlNodeGetContent((xmlNodePtr)n);
    char *s = arena_strdup(a, t ? (const char *)t : "");
    xmlFree(t);
    return s;
}

char *xml_child_text(arena *a, xml_node *n, const char *name)
{
    xml_node *c = xml_child(n, name);
    return c ? xml_text(a, c) : NULL;
}

char *xml_attr(arena *a, xml_node *n, const char *name)
{
    xmlChar *v = xmlGetNoNsProp((xmlNodePtr)n, (const xmlChar *)name);
    char *s = v ? arena_strdup(a, (const char *)v) : NULL;
    xmlFree(v);
    return s;
}
