/* fuzz_lifecycle — lc_parse (s3/lifecycle.h), the canonical writer and the matchers.
 *
 * The input is a PutBucketLifecycle body. Invariants: nothing crashes or leaks; an accepted
 * configuration written out is accepted again and written out byte for byte the same (the stored
 * form is stable: GET gives back what PUT stored, whatever the client sent); every rule has an
 * ID of at most 255 bytes; size bounds are in range and ordered, and never beside an abort; the
 * matchers answer within their contracts (the deciding rule applies to the key and the size; a
 * transition only ever goes to a colder class). */
#include "fuzz.h"

#include <libxml/parser.h>

#include "s3/lifecycle.h"
#include "util/arena.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    xmlInitParser();
    return 0;
}

/* Whether the rule may act on the object: its prefix and its size bounds (exclusive); the
 * objects checked have no tags, so a rule asking for any never may. */
static bool covers(const lc_rule *r, const char *key, int64_t size)
{
    return r->enabled && strncmp(key, r->prefix, strlen(r->prefix)) == 0 && (r->size_gt < 0 || size > r->size_gt) &&
           (r->size_lt < 0 || size < r->size_lt) && r->ntags == 0;
}

static void check_matchers(const lc_config *c)
{
    static const char *const keys[] = {"", "p/", "photos/a.jpg", "logs/x", "data/1", "old/2", "a"};
    static const char *const classes[] = {"Standard", "IA", "Archive"};
    static const int64_t days[] = {1000, LC_DAY_MS};
    static const int64_t sizes[] = {0, 1, 1000, 1 << 20};
    for (size_t i = 0; i < (size_t)c->nrules; i++) {
        const lc_rule *r = &c->rules[i];
        FUZZ_CHECK(r->size_gt >= -1 && r->size_gt <= LC_MAX_SIZE && r->size_lt >= -1 && r->size_lt <= LC_MAX_SIZE);
        FUZZ_CHECK(r->size_gt < 0 || r->size_lt < 0 || r->size_gt < r->size_lt);
        if (r->size_gt >= 0 || r->size_lt >= 0) FUZZ_CHECK(r->abort_days < 0 && !r->legacy_prefix);
        FUZZ_CHECK(r->ntags >= 0 && r->ntags <= LC_MAX_TAGS);
        if (r->ntags) FUZZ_CHECK(r->abort_days < 0 && !r->legacy_prefix && !r->exp_delete_marker);
        for (int t = 0; t < r->ntags; t++) FUZZ_CHECK(*r->tags[t].key && strchr(r->tags[t].pair, '='));
    }
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
        for (size_t d = 0; d < 2; d++) {
            for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
                int64_t at;
                const lc_rule *r = lc_expiry(c, keys[k], sizes[z], NULL, 1700000000000, days[d], &at);
                if (r) FUZZ_CHECK(covers(r, keys[k], sizes[z]));
                for (size_t s = 0; s < 3; s++) {
                    const char *to = NULL;
                    const lc_rule *by = NULL;
                    lc_action a = lc_object_action(c, keys[k], sizes[z], NULL, 1700000000000, classes[s], 1900000000000,
                                                   days[d], &to, &by);
                    if (a == LC_TRANSITION)
                        FUZZ_CHECK(to && lc_class_rank(to) > lc_class_rank(classes[s]) && by && covers(by, keys[k], sizes[z]));
                    if (a == LC_EXPIRE) FUZZ_CHECK(by != NULL && covers(by, keys[k], sizes[z]));
                }
            }
            (void)lc_upload_expired(c, keys[k], 1700000000000, 1900000000000, days[d]);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    arena *a = arena_new(4096);
    lc_config c;
    const char *msg;
    if (lc_parse(a, (const char *)data, size, &c, &msg) == S3E_OK) {
        FUZZ_CHECK(c.nrules >= 1 && c.nrules <= LC_MAX_RULES);
        for (int i = 0; i < c.nrules; i++) FUZZ_CHECK(c.rules[i].id && *c.rules[i].id && strlen(c.rules[i].id) <= LC_MAX_ID);
        check_matchers(&c);
        xmlw w1 = {0}, w2 = {0};
        lc_write(&w1, &c, NULL, false);
        lc_config c2;
        s3_err e = lc_parse(a, w1.b.data, w1.b.len, &c2, &msg);
        if (e) fprintf(stderr, "rewritten document refused (%d: %s):\n%.*s\n", (int)e, msg ? msg : "", (int)w1.b.len, w1.b.data);
        FUZZ_CHECK(e == S3E_OK);
        FUZZ_CHECK(c2.nrules == c.nrules);
        lc_write(&w2, &c2, NULL, false);
        FUZZ_CHECK(w1.b.len == w2.b.len && memcmp(w1.b.data, w2.b.data, w1.b.len) == 0);
        buf_free(&w1.b);
        buf_free(&w2.b);
    }
    arena_free(a);
    return 0;
}
