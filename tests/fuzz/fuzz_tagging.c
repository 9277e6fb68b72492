/* fuzz_tagging — the two ways a tag set arrives (ops_tagging.c): the x-amz-tagging header's
 * query form and a Tagging document (PutObjectTagging's body, PostObject's field).
 *
 * Input: byte 0 chooses (even: the header, odd: the document); the rest is the value.
 *
 * Invariants: an accepted set is stored in a form the header parser accepts again and writes
 * back unchanged (the stored form is canonical, whichever way the set came in), with at most
 * ten tags; a refusal always says why (an error message). */
#include "fuzz.h"

#include <libxml/parser.h>

#include "s3/s3_internal.h"
#include "util/arena.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    xmlInitParser();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    s3_req q;
    memset(&q, 0, sizeof q);
    q.a = arena_new(4096);
    char *v = arena_memdup(q.a, data + 1, size - 1);   /* NUL-terminated; a NUL inside ends it */
    const char *stored = NULL;
    s3_err e = data[0] % 2 == 0 ? s3_tagging_from_header(&q, v, &stored)
                                : s3_tagging_from_document(&q, v, size - 1, &stored);
    if (e == S3E_OK) {
        FUZZ_CHECK(stored != NULL);
        FUZZ_CHECK(s3_tagging_count(stored) <= 10);
        FUZZ_CHECK(!strchr(stored, '\n') && !strchr(stored, '\r'));   /* one stored line */
        const char *again = NULL;
        q.err_message = NULL;
        s3_err e2 = s3_tagging_from_header(&q, stored, &again);
        if (e2) fprintf(stderr, "stored form refused (%d: %s): %s\n", (int)e2, q.err_message ? q.err_message : "", stored);
        FUZZ_CHECK(e2 == S3E_OK && strcmp(again, stored) == 0);
    } else {
        FUZZ_CHECK(e == S3E_MalformedXML || q.err_message != NULL);
    }
    arena_free(q.a);
    return 0;
}
