/* fuzz_xml — xml_parse() and the walks the request-body readers make over its tree.
 *
 * The input is a request body. It is parsed once and read the way CompleteMultipartUpload
 * (Part/PartNumber/ETag), DeleteObjects (Object/Key/VersionId, Quiet, the WOS SDK's
 * percent-encoded keys), CreateBucket (LocationConstraint) and RestoreObject (Days) read
 * theirs, plus a bounded
 * walk of the whole tree. Invariants: nothing crashes or leaks (libxml2's memory included);
 * the lookups agree with each other (xml_child finds the
 * element xml_next_child reaches first, by the same name; xml_child_text is non-NULL exactly
 * when xml_child is). */
#include "fuzz.h"

#include <libxml/parser.h>
#include <stdbool.h>

#include "s3/xml_in.h"
#include "util/arena.h"
#include "util/str.h"

enum { MAX_DEPTH = 64 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    xmlInitParser();
    return 0;
}

/* What xml_child must return: the first child element by that name, found by iteration. */
static xml_node *first_named(xml_node *parent, const char *name)
{
    for (xml_node *c = xml_next_child(parent, NULL); c; c = xml_next_child(parent, c))
        if (strcmp(xml_name(c), name) == 0) return c;
    return NULL;
}

static char *child_text(arena *a, xml_node *n, const char *name)
{
    xml_node *c = xml_child(n, name);
    FUZZ_CHECK(c == first_named(n, name));
    if (c) FUZZ_CHECK(strcmp(xml_name(c), name) == 0);
    char *t = xml_child_text(a, n, name);
    FUZZ_CHECK(!t == !c);
    if (t) FUZZ_CHECK(strcmp(t, xml_text(a, c)) == 0);
    return t;
}

static void read_complete(arena *a, xml_node *root)
{
    int n = 0;
    for (xml_node *c = xml_next_child(root, NULL); c; c = xml_next_child(root, c)) {
        if (strcmp(xml_name(c), "Part") != 0) continue;
        n++;
        char *num = child_text(a, c, "PartNumber");
        char *etag = child_text(a, c, "ETag");
        if (num) {
            char *end;
            long v = strtol(num, &end, 10);
            (void)v;
        }
        if (etag) (void)strlen(etag);
    }
    (void)n;
}

static void read_delete(arena *a, xml_node *root)
{
    for (xml_node *c = xml_next_child(root, NULL); c; c = xml_next_child(root, c)) {
        if (!strcmp(xml_name(c), "Quiet")) {
            (void)strcasecmp(xml_text(a, c), "true");
            continue;
        }
        if (strcmp(xml_name(c), "Object") != 0) continue;
        char *key = child_text(a, c, "Key");
        (void)child_text(a, c, "VersionId");
        if (!key) continue;
        size_t klen = strlen(key);
        (void)utf8_valid(key, klen);
        if (strchr(key, '%')) {
            size_t dl;
            char *dec = url_decode(a, key, klen, false, &dl);
            if (dec) {
                FUZZ_CHECK(dl <= klen && dec[dl] == 0);
                (void)utf8_valid(dec, dl);
            }
        }
    }
}

static void walk(arena *a, xml_node *n, int depth)
{
    if (depth > MAX_DEPTH) return;
    (void)strlen(xml_name(n));
    (void)strlen(xml_text(a, n));
    for (xml_node *c = xml_next_child(n, NULL); c; c = xml_next_child(n, c)) walk(a, c, depth + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    xml_doc *d = xml_parse((const char *)data, size);
    if (!d) return 0;
    arena *a = arena_new(4096);
    xml_node *root;
    int roots = 0;
    if ((root = xml_root(d, "CompleteMultipartUpload")) != NULL) {
        roots++;
        read_complete(a, root);
    }
    if ((root = xml_root(d, "Delete")) != NULL) {
        roots++;
        read_delete(a, root);
    }
    if ((root = xml_root(d, "CreateBucketConfiguration")) != NULL) {
        roots++;
        (void)child_text(a, root, "LocationConstraint");
    }
    if ((root = xml_root(d, "RestoreRequest")) != NULL) {
        roots++;
        char *days = child_text(a, root, "Days");
        if (days) {
            char *end;
            long v = strtol(days, &end, 10);
            (void)v;
        }
    }
    FUZZ_CHECK(roots <= 1);
    FUZZ_CHECK(xml_root(d, "") == NULL);

    /* Any root: find its name by asking for the ones clients send, then walk it. */
    static const char *const any[] = {"CompleteMultipartUpload", "Delete", "CreateBucketConfiguration",
                                      "Tagging", "AccessControlPolicy", "LifecycleConfiguration", "RestoreRequest",
                                      "a"};
    for (size_t i = 0; i < sizeof any / sizeof *any; i++)
        if ((root = xml_root(d, any[i])) != NULL) walk(a, root, 0);

    arena_free(a);
    xml_doc_free(d);
    return 0;
}
