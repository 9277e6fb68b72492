/* test_lifecycle — lifecycle rules (src/s3/lifecycle.h): filters by object size as S3 has them.
 * Parsed and written back in the canonical form (stable under a second round), the shapes and
 * values S3 refuses with its codes and messages, and matching by size, whose bounds are
 * exclusive: an object of exactly a bound's size is not in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "s3/lifecycle.h"
#include "util/arena.h"

#define T0 ((int64_t)1700000000000)   /* an object's mtime */
#define DAY ((int64_t)1000)           /* shortened lifecycle days: exact, no rounding */

/* One rule around `filter` (the Filter element, or a legacy Prefix) and `actions`. */
static const char *doc(arena *a, const char *filter, const char *actions)
{
    return arena_printf(a, "<LifecycleConfiguration><Rule><ID>r</ID>%s<Status>Enabled</Status>%s</Rule>"
                           "</LifecycleConfiguration>", filter, actions);
}

static const char *EXP = "<Expiration><Days>1</Days></Expiration>";

static lc_config parse_ok(arena *a, const char *xml)
{
    lc_config c;
    const char *msg = NULL;
    s3_err e = lc_parse(a, xml, strlen(xml), &c, &msg);
    if (e) {
        print_error("refused (%s: %s):\n  %s\n", s3_err_code(e), msg ? msg : "", xml);
        fail();
    }
    return c;
}

/* The canonical form (checked stable: written, parsed and written again gives the same bytes),
 * without line breaks. */
static char *canonical(arena *a, const char *xml)
{
    lc_config c = parse_ok(a, xml);
    xmlw w1 = {0}, w2 = {0};
    lc_write(&w1, &c, NULL, false);
    char *one = arena_strndup(a, w1.b.data, w1.b.len);
    lc_config c2 = parse_ok(a, one);
    lc_write(&w2, &c2, NULL, false);
    assert_int_equal(w1.b.len, w2.b.len);
    assert_memory_equal(w1.b.data, w2.b.data, w1.b.len);
    buf_free(&w1.b);
    buf_free(&w2.b);
    /* without the writer's line breaks, for the cases to compare with */
    char *o = one;
    for (const char *s = one; *s; s++)
        if (*s != '\n') *o++ = *s;
    *o = 0;
    return one;
}

static void test_size_filters_written_canonically(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;   /* the rule's filter as sent, and as written back */
    } cases[] = {
        {"<Filter><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan></Filter>",
         "<Filter><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan></Filter>"},
        {"<Filter><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter>",
         "<Filter><ObjectSizeLessThan>5</ObjectSizeLessThan></Filter>"},
        {"<Filter><ObjectSizeGreaterThan>0</ObjectSizeGreaterThan></Filter>",
         "<Filter><ObjectSizeGreaterThan>0</ObjectSizeGreaterThan></Filter>"},
        {"<Filter><ObjectSizeLessThan>1099511627776000</ObjectSizeLessThan></Filter>",
         "<Filter><ObjectSizeLessThan>1099511627776000</ObjectSizeLessThan></Filter>"},
        {"<Filter><And><Prefix>a/</Prefix><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan>"
         "<ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter>",
         "<Filter><And><Prefix>a/</Prefix><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan>"
         "<ObjectSizeLessThan>10</ObjectSizeLessThan></And></Filter>"},
        /* any order in, one order out */
        {"<Filter><And><ObjectSizeLessThan>10</ObjectSizeLessThan><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan>"
         "</And></Filter>",
         "<Filter><And><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan>"
         "</And></Filter>"},
        {"<Filter><And><ObjectSizeLessThan>9</ObjectSizeLessThan><Prefix>p/</Prefix></And></Filter>",
         "<Filter><And><Prefix>p/</Prefix><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>"},
        /* an empty prefix is no condition: one left, so no And */
        {"<Filter><And><Prefix></Prefix><ObjectSizeGreaterThan>7</ObjectSizeGreaterThan></And></Filter>",
         "<Filter><ObjectSizeGreaterThan>7</ObjectSizeGreaterThan></Filter>"},
        {"<Filter><And><Prefix/><ObjectSizeGreaterThan>7</ObjectSizeGreaterThan>"
         "<ObjectSizeLessThan>8</ObjectSizeLessThan></And></Filter>",
         "<Filter><And><ObjectSizeGreaterThan>7</ObjectSizeGreaterThan><ObjectSizeLessThan>8</ObjectSizeLessThan>"
         "</And></Filter>"},
        {"<Filter><ObjectSizeGreaterThan>007</ObjectSizeGreaterThan></Filter>",
         "<Filter><ObjectSizeGreaterThan>7</ObjectSizeGreaterThan></Filter>"},
        /* tags: alone, or in And after the prefix and before the sizes, in the order given */
        {"<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>", "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"},
        {"<Filter><And><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan><Tag><Key>b</Key><Value>2</Value></Tag>"
         "<Prefix>p/</Prefix><Tag><Key>a b/c:d</Key><Value></Value></Tag></And></Filter>",
         "<Filter><And><Prefix>p/</Prefix><Tag><Key>b</Key><Value>2</Value></Tag><Tag><Key>a b/c:d</Key><Value></Value>"
         "</Tag><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></And></Filter>"},
        {"<Filter><And><Prefix></Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>",
         "<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>"},
        /* the prefix-only forms as before */
        {"<Filter><Prefix>p/</Prefix></Filter>", "<Filter><Prefix>p/</Prefix></Filter>"},
        {"<Prefix>old/</Prefix>", "<ID>r</ID><Prefix>old/</Prefix><Status>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        arena *a = arena_new(4096);
        char *out = canonical(a, doc(a, cases[i].in, EXP));
        if (!strstr(out, cases[i].out)) {
            print_error("case %zu: wanted %s\n  in %s\n", i, cases[i].out, out);
            fail();
        }
        arena_free(a);
    }
    /* the bounds parsed */
    arena *a = arena_new(4096);
    lc_config c = parse_ok(a, doc(a, "<Filter><And><Prefix>x</Prefix><ObjectSizeGreaterThan>3</ObjectSizeGreaterThan>"
                                     "<ObjectSizeLessThan>30</ObjectSizeLessThan></And></Filter>", EXP));
    assert_string_equal(c.rules[0].prefix, "x");
    assert_int_equal(c.rules[0].size_gt, 3);
    assert_int_equal(c.rules[0].size_lt, 30);
    c = parse_ok(a, doc(a, "<Filter><Prefix>x</Prefix></Filter>", EXP));
    assert_int_equal(c.rules[0].size_gt, -1);
    assert_int_equal(c.rules[0].size_lt, -1);
    c = parse_ok(a, doc(a, "<Prefix>x</Prefix>", EXP));
    assert_int_equal(c.rules[0].size_gt, -1);
    assert_int_equal(c.rules[0].size_lt, -1);
    arena_free(a);
}

static void test_size_filters_refused(void **state)
{
    (void)state;
    static const char *const ABORT = "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
                                     "</AbortIncompleteMultipartUpload>";
    static const char *const MARKER = "<Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker>"
                                      "</Expiration>";
    const char *const gt_range = "'ObjectSizeGreaterThan' should be between 0 and 1099511627776000.";
    const char *const lt_range = "'ObjectSizeLessThan' should be between 1 and 1099511627776000.";
    const char *const order = "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'.";
    const struct {
        const char *filter, *actions;
        s3_err code;
        const char *msg;   /* NULL: not checked */
    } cases[] = {
        /* a Filter holds one predicate; more need And (S3: MalformedXML) */
        {"<Filter><Prefix>a</Prefix><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan><ObjectSizeLessThan>9</ObjectSizeLessThan></Filter>",
         EXP, S3E_MalformedXML, NULL},
        {"<Filter><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan><ObjectSizeGreaterThan>2</ObjectSizeGreaterThan>"
         "</Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><Prefix>a</Prefix><And><Prefix>a</Prefix><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>",
         EXP, S3E_MalformedXML, NULL},
        {"<Filter><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><Colour>red</Colour></Filter>", EXP, S3E_MalformedXML, NULL},
        /* And holds two or more, each at most once */
        {"<Filter><And></And></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><And><Prefix>a</Prefix></And></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><And><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></And></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><And><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan><ObjectSizeGreaterThan>2</ObjectSizeGreaterThan>"
         "</And></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><And><Prefix>a</Prefix><Prefix>b</Prefix></And></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><And><Prefix>a</Prefix><And/></And></Filter>", EXP, S3E_MalformedXML, NULL},
        /* sizes are Longs: anything else does not fit the schema */
        {"<Filter><ObjectSizeGreaterThan>ten</ObjectSizeGreaterThan></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><ObjectSizeGreaterThan></ObjectSizeGreaterThan></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><ObjectSizeLessThan>1.5</ObjectSizeLessThan></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><ObjectSizeLessThan>-</ObjectSizeLessThan></Filter>", EXP, S3E_MalformedXML, NULL},
        /* ... and within S3's range */
        {"<Filter><ObjectSizeGreaterThan>-1</ObjectSizeGreaterThan></Filter>", EXP, S3E_InvalidRequest, gt_range},
        {"<Filter><ObjectSizeLessThan>0</ObjectSizeLessThan></Filter>", EXP, S3E_InvalidRequest, lt_range},
        {"<Filter><ObjectSizeLessThan>1099511627776001</ObjectSizeLessThan></Filter>", EXP, S3E_InvalidRequest, lt_range},
        {"<Filter><ObjectSizeGreaterThan>99999999999999999999999</ObjectSizeGreaterThan></Filter>", EXP,
         S3E_InvalidRequest, gt_range},
        {"<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>10</ObjectSizeLessThan>"
         "</And></Filter>", EXP, S3E_InvalidRequest, order},
        {"<Filter><And><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan><ObjectSizeLessThan>5</ObjectSizeLessThan>"
         "</And></Filter>", EXP, S3E_InvalidRequest, order},
        /* tags: a Key and a Value each, keys unique within a rule; two Tags need And */
        {"<Filter><Tag><Key>k</Key></Tag></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><Tag><Value>v</Value></Tag></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><Tag><Key>k</Key><Value>v</Value><Value>w</Value></Tag></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><Tag><Key>k</Key><Value>v</Value><Colour/></Tag></Filter>", EXP, S3E_MalformedXML, NULL},
        {"<Filter><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>j</Key><Value>v</Value></Tag></Filter>", EXP,
         S3E_MalformedXML, NULL},
        {"<Filter><Tag><Key></Key><Value>v</Value></Tag></Filter>", EXP, S3E_InvalidTag, NULL},
        {"<Filter><Tag><Key>a<b>c</b></Key><Value>v</Value></Tag></Filter>", EXP, S3E_MalformedXML, NULL},
        /* what no object can carry (ops_tagging's checks), no rule may ask for */
        {"<Filter><Tag><Key>aws:x</Key><Value>v</Value></Tag></Filter>", EXP, S3E_InvalidTag,
         "Your TagKey cannot be prefixed with aws:"},
        {"<Filter><Tag><Key>k</Key><Value>a,b</Value></Tag></Filter>", EXP, S3E_InvalidTag,
         "The TagValue you have provided is invalid"},
        {"<Filter><And><Tag><Key>k</Key><Value>v</Value></Tag><Tag><Key>k</Key><Value>w</Value></Tag></And></Filter>",
         EXP, S3E_InvalidRequest, "Duplicate Tag Keys are not allowed."},
        /* nor have uploads and delete markers tags */
        {"<Filter><Tag><Key>k</Key><Value>v</Value></Tag></Filter>", ABORT, S3E_InvalidRequest,
         "AbortIncompleteMultipartUpload cannot be specified with Tags."},
        {"<Filter><And><Prefix>a</Prefix><Tag><Key>k</Key><Value>v</Value></Tag></And></Filter>", MARKER,
         S3E_InvalidRequest, "ExpiredObjectDeleteMarker cannot be specified with Tags."},
        /* an upload has no size yet; delete markers are out of size filters */
        {"<Filter><ObjectSizeGreaterThan>1</ObjectSizeGreaterThan></Filter>", ABORT, S3E_InvalidRequest,
         "AbortIncompleteMultipartUpload cannot be specified with Object Size."},
        {"<Filter><And><Prefix>a</Prefix><ObjectSizeLessThan>9</ObjectSizeLessThan></And></Filter>",
         "<Expiration><Days>1</Days></Expiration><AbortIncompleteMultipartUpload><DaysAfterInitiation>1"
         "</DaysAfterInitiation></AbortIncompleteMultipartUpload>",
         S3E_InvalidRequest, "AbortIncompleteMultipartUpload cannot be specified with Object Size."},
        {"<Filter><ObjectSizeLessThan>9</ObjectSizeLessThan></Filter>", MARKER, S3E_InvalidRequest,
         "ExpiredObjectDeleteMarker cannot be specified with Object Size."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        arena *a = arena_new(4096);
        const char *xml = doc(a, cases[i].filter, cases[i].actions);
        lc_config c;
        const char *msg = NULL;
        s3_err e = lc_parse(a, xml, strlen(xml), &c, &msg);
        if (e != cases[i].code || (cases[i].msg && (!msg || strcmp(msg, cases[i].msg) != 0))) {
            print_error("case %zu: wanted %s (%s), got %s (%s)\n  in %s\n", i, s3_err_code(cases[i].code),
                        cases[i].msg ? cases[i].msg : "-", e ? s3_err_code(e) : "OK", msg ? msg : "-", xml);
            fail();
        }
        assert_int_equal(c.nrules, 0);
        arena_free(a);
    }
    /* what stays allowed: an abort beside a prefix filter, a marker beside none */
    arena *a = arena_new(4096);
    parse_ok(a, doc(a, "<Filter><Prefix>a</Prefix></Filter>", ABORT));
    parse_ok(a, doc(a, "<Filter/>", MARKER));
    arena_free(a);
}

static void test_matching_by_size(void **state)
{
    (void)state;
    arena *a = arena_new(4096);
    lc_config c = parse_ok(a, "<LifecycleConfiguration>"
        "<Rule><ID>mid</ID><Filter><And><Prefix>m/</Prefix><ObjectSizeGreaterThan>100</ObjectSizeGreaterThan>"
        "<ObjectSizeLessThan>1000</ObjectSizeLessThan></And></Filter><Status>Enabled</Status>"
        "<Expiration><Days>2</Days></Expiration></Rule>"
        "<Rule><ID>small</ID><Filter><ObjectSizeLessThan>10</ObjectSizeLessThan></Filter><Status>Enabled</Status>"
        "<Expiration><Days>1</Days></Expiration></Rule>"
        "<Rule><ID>big</ID><Filter><ObjectSizeGreaterThan>10</ObjectSizeGreaterThan></Filter><Status>Enabled</Status>"
        "<Expiration><Days>5</Days></Expiration></Rule>"
        "<Rule><ID>cold</ID><Filter><And><Prefix>t/</Prefix><ObjectSizeGreaterThan>50</ObjectSizeGreaterThan></And>"
        "</Filter><Status>Enabled</Status><Transition><Days>1</Days><StorageClass>Archive</StorageClass></Transition>"
        "</Rule>"
        "<Rule><ID>warm</ID><Filter><Prefix>t/</Prefix></Filter><Status>Enabled</Status>"
        "<Transition><Days>1</Days><StorageClass>IA</StorageClass></Transition></Rule>"
        "<Rule><ID>mpu</ID><Filter><Prefix>u/</Prefix></Filter><Status>Enabled</Status>"
        "<AbortIncompleteMultipartUpload><DaysAfterInitiation>1</DaysAfterInitiation>"
        "</AbortIncompleteMultipartUpload></Rule>"
        "</LifecycleConfiguration>");
    int64_t at = 0;
    /* the bounds are exclusive: exactly 10 bytes is neither small nor big */
    assert_null(lc_expiry(&c, "k", 10, NULL, T0, DAY, &at));
    assert_string_equal(lc_expiry(&c, "k", 9, NULL, T0, DAY, &at)->id, "small");
    assert_int_equal(at, T0 + DAY);
    assert_string_equal(lc_expiry(&c, "k", 0, NULL, T0, DAY, &at)->id, "small");
    assert_string_equal(lc_expiry(&c, "k", 11, NULL, T0, DAY, &at)->id, "big");
    assert_int_equal(at, T0 + 5 * DAY);
    /* the earliest applicable rule: mid (2 days) before big (5) inside its range and prefix */
    assert_string_equal(lc_expiry(&c, "m/k", 101, NULL, T0, DAY, &at)->id, "mid");
    assert_int_equal(at, T0 + 2 * DAY);
    assert_string_equal(lc_expiry(&c, "m/k", 999, NULL, T0, DAY, &at)->id, "mid");
    assert_string_equal(lc_expiry(&c, "m/k", 100, NULL, T0, DAY, &at)->id, "big");
    assert_string_equal(lc_expiry(&c, "m/k", 1000, NULL, T0, DAY, &at)->id, "big");
    assert_string_equal(lc_expiry(&c, "x/k", 500, NULL, T0, DAY, &at)->id, "big");

    /* actions now: expire when due, by the rule that fits the size */
    const char *to = NULL;
    const lc_rule *by = NULL;
    assert_int_equal(lc_object_action(&c, "k", 10, NULL, T0, "Standard", T0 + 100 * DAY, DAY, &to, &by), LC_KEEP);
    assert_int_equal(lc_object_action(&c, "k", 5, NULL, T0, "Standard", T0 + DAY, DAY, &to, &by), LC_EXPIRE);
    assert_string_equal(by->id, "small");
    assert_int_equal(lc_object_action(&c, "k", 50, NULL, T0, "Standard", T0 + DAY, DAY, &to, &by), LC_KEEP);
    /* transitions (t/ objects of 10 bytes or less expire by "small": give them room) */
    assert_int_equal(lc_object_action(&c, "t/k", 51, NULL, T0, "Standard", T0 + DAY, DAY, &to, &by), LC_TRANSITION);
    assert_string_equal(to, "Archive");
    assert_string_equal(by->id, "cold");
    assert_int_equal(lc_object_action(&c, "t/k", 50, NULL, T0, "Standard", T0 + DAY, DAY, &to, &by), LC_TRANSITION);
    assert_string_equal(to, "IA");
    assert_string_equal(by->id, "warm");
    assert_int_equal(lc_object_action(&c, "t/k", 50, NULL, T0, "IA", T0 + DAY, DAY, &to, &by), LC_KEEP);

    /* uploads: by prefix alone, as before */
    assert_true(lc_upload_expired(&c, "u/x", T0, T0 + DAY, DAY));
    assert_false(lc_upload_expired(&c, "u/x", T0, T0 + DAY - 1, DAY));
    assert_false(lc_upload_expired(&c, "k", T0, T0 + 100 * DAY, DAY));
    arena_free(a);
}

/* S3's default minimum size for transitions (TransitionDefaultMinimumObjectSize): under
 * all_storage_classes_128K nothing smaller than 128 KiB transitions unless its rule names a size;
 * expirations never look at it. */
static void test_default_minimum_size(void **state)
{
    (void)state;
    enum { K128 = 131072 };
    arena *a = arena_new(4096);
    lc_config c = parse_ok(a, "<LifecycleConfiguration>"
        "<Rule><ID>cold</ID><Filter><Prefix>t/</Prefix></Filter><Status>Enabled</Status>"
        "<Transition><Days>1</Days><StorageClass>IA</StorageClass></Transition>"
        "<Expiration><Days>5</Days></Expiration></Rule>"
        "<Rule><ID>sized</ID><Filter><And><Prefix>s/</Prefix><ObjectSizeGreaterThan>1000</ObjectSizeGreaterThan>"
        "</And></Filter><Status>Enabled</Status>"
        "<Transition><Days>1</Days><StorageClass>Archive</StorageClass></Transition></Rule>"
        "<Rule><ID>below</ID><Filter><And><Prefix>l/</Prefix><ObjectSizeLessThan>5000</ObjectSizeLessThan>"
        "</And></Filter><Status>Enabled</Status>"
        "<Transition><Days>1</Days><StorageClass>IA</StorageClass></Transition></Rule>"
        "</LifecycleConfiguration>");
    /* a document without the setting (a store from before it) keeps no minimum */
    assert_int_equal(c.min_size, LC_MIN_VARIES);
    const char *to = NULL;
    const lc_rule *by = NULL;
    int64_t now = T0 + DAY;
    assert_int_equal(lc_object_action(&c, "t/k", 10, NULL, T0, "Standard", now, DAY, &to, &by), LC_TRANSITION);
    assert_string_equal(to, "IA");

    /* what a PUT without the header stores: small objects stay where they are */
    c.min_size = LC_MIN_128K;
    to = NULL;
    assert_int_equal(lc_object_action(&c, "t/k", 10, NULL, T0, "Standard", now, DAY, &to, &by), LC_KEEP);
    assert_null(to);
    assert_int_equal(lc_object_action(&c, "t/k", K128 - 1, NULL, T0, "Standard", now, DAY, &to, &by), LC_KEEP);
    assert_int_equal(lc_object_action(&c, "t/k", 0, NULL, T0, "Standard", now, DAY, &to, &by), LC_KEEP);
    /* "smaller than 128 KB" are kept: exactly 128 KiB moves */
    assert_int_equal(lc_object_action(&c, "t/k", K128, NULL, T0, "Standard", now, DAY, &to, &by), LC_TRANSITION);
    assert_string_equal(to, "IA");
    assert_int_equal(lc_object_action(&c, "t/k", 200 * 1024, NULL, T0, "Standard", now, DAY, &to, &by), LC_TRANSITION);
    /* a rule's own size condition takes precedence, GreaterThan or LessThan */
    assert_int_equal(lc_object_action(&c, "s/k", 1001, NULL, T0, "Standard", now, DAY, &to, &by), LC_TRANSITION);
    assert_string_equal(to, "Archive");
    assert_string_equal(by->id, "sized");
    assert_int_equal(lc_object_action(&c, "s/k", 1000, NULL, T0, "Standard", now, DAY, &to, &by), LC_KEEP);
    assert_int_equal(lc_object_action(&c, "l/k", 10, NULL, T0, "Standard", now, DAY, &to, &by), LC_TRANSITION);
    assert_string_equal(by->id, "below");
    /* expiration is never held back */
    int64_t at = 0;
    assert_string_equal(lc_expiry(&c, "t/k", 10, NULL, T0, DAY, &at)->id, "cold");
    assert_int_equal(at, T0 + 5 * DAY);
    assert_int_equal(lc_object_action(&c, "t/k", 10, NULL, T0, "Standard", T0 + 5 * DAY, DAY, &to, &by), LC_EXPIRE);
    assert_string_equal(by->id, "cold");

    /* varies_by_storage_class: no default minimum for wosd's classes */
    c.min_size = LC_MIN_VARIES;
    assert_int_equal(lc_object_action(&c, "t/k", 10, NULL, T0, "Standard", now, DAY, &to, &by), LC_TRANSITION);

    /* the names, and only S3's */
    assert_int_equal(lc_min_size_parse("all_storage_classes_128K"), LC_MIN_128K);
    assert_int_equal(lc_min_size_parse("varies_by_storage_class"), LC_MIN_VARIES);
    assert_int_equal(lc_min_size_parse("all_storage_classes_128k"), -1);
    assert_int_equal(lc_min_size_parse(""), -1);
    assert_int_equal(lc_min_size_parse(NULL), -1);
    assert_string_equal(lc_min_size_name(LC_MIN_128K), "all_storage_classes_128K");
    assert_string_equal(lc_min_size_name(LC_MIN_VARIES), "varies_by_storage_class");
    arena_free(a);
}

/* The setting lives in the stored form (an attribute of the root, which lc_parse reads back) and
 * never in an answer's document, which names a namespace. */
static void test_default_minimum_size_stored(void **state)
{
    (void)state;
    for (int m = LC_MIN_VARIES; m <= LC_MIN_128K; m++) {
        arena *a = arena_new(4096);
        lc_config c = parse_ok(a, doc(a, "<Filter/>", EXP));
        c.min_size = (lc_min_size)m;
        xmlw w = {0};
        lc_write(&w, &c, NULL, false);
        char *stored = arena_strndup(a, w.b.data, w.b.len);
        buf_free(&w.b);
        assert_non_null(strstr(stored, arena_printf(a, "<LifecycleConfiguration TransitionDefaultMinimumObjectSize=\"%s\">",
                                                    lc_min_size_name(c.min_size))));
        lc_config back = parse_ok(a, stored);
        assert_int_equal(back.min_size, m);
        assert_string_equal(canonical(a, stored), canonical(a, canonical(a, stored)));
        lc_write(&w, &back, "http://s3.amazonaws.com/doc/2006-03-01/", false);
        char *answer = arena_strndup(a, w.b.data, w.b.len);
        buf_free(&w.b);
        assert_null(strstr(answer, "TransitionDefaultMinimumObjectSize"));
        assert_non_null(strstr(answer, "<LifecycleConfiguration xmlns="));
        arena_free(a);
    }
    /* an unknown value (only a client's body could hold one; PUT takes the header) is the default */
    arena *a = arena_new(4096);
    lc_config c = parse_ok(a, "<LifecycleConfiguration TransitionDefaultMinimumObjectSize=\"tiny\"><Rule><ID>r</ID>"
                              "<Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule>"
                              "</LifecycleConfiguration>");
    assert_int_equal(c.min_size, LC_MIN_VARIES);
    arena_free(a);
}

/* A tag filter asks for every one of its tags, key and value, in the object's stored tag set
 * (the percent-encoded "k=v&…" of ops_tagging.c). */
static void test_matching_by_tags(void **state)
{
    (void)state;
    arena *a = arena_new(4096);
    lc_config c = parse_ok(a, "<LifecycleConfiguration>"
        "<Rule><ID>one</ID><Filter><Tag><Key>temp</Key><Value>yes</Value></Tag></Filter><Status>Enabled</Status>"
        "<Expiration><Days>1</Days></Expiration></Rule>"
        "<Rule><ID>both</ID><Filter><And><Prefix>p/</Prefix><Tag><Key>a b</Key><Value>x+y</Value></Tag>"
        "<Tag><Key>n</Key><Value></Value></Tag></And></Filter><Status>Enabled</Status>"
        "<Transition><Days>1</Days><StorageClass>IA</StorageClass></Transition></Rule>"
        "</LifecycleConfiguration>");
    assert_true(lc_needs_tags(&c));
    int64_t at;
    assert_null(lc_expiry(&c, "k", 1, NULL, T0, DAY, &at));
    assert_null(lc_expiry(&c, "k", 1, "", T0, DAY, &at));
    assert_string_equal(lc_expiry(&c, "k", 1, "temp=yes", T0, DAY, &at)->id, "one");
    assert_string_equal(lc_expiry(&c, "k", 1, "a=1&temp=yes&z=2", T0, DAY, &at)->id, "one");
    assert_null(lc_expiry(&c, "k", 1, "temp=yes2", T0, DAY, &at));     /* a whole item, not a prefix */
    assert_null(lc_expiry(&c, "k", 1, "temp=ye", T0, DAY, &at));
    assert_null(lc_expiry(&c, "k", 1, "xtemp=yes", T0, DAY, &at));
    assert_null(lc_expiry(&c, "k", 1, "temp=no", T0, DAY, &at));
    const char *to = NULL;
    const lc_rule *r = NULL;
    /* both tags (the key and value percent-encoded as stored), and the prefix */
    assert_int_equal(lc_object_action(&c, "p/k", 1, "a%20b=x%2By&n=", T0, "Standard", T0 + 2 * DAY, DAY, &to, &r),
                     LC_TRANSITION);
    assert_string_equal(r->id, "both");
    assert_string_equal(to, "IA");
    assert_int_equal(lc_object_action(&c, "p/k", 1, "a%20b=x%2By", T0, "Standard", T0 + 2 * DAY, DAY, &to, &r), LC_KEEP);
    assert_int_equal(lc_object_action(&c, "q/k", 1, "a%20b=x%2By&n=", T0, "Standard", T0 + 2 * DAY, DAY, &to, &r),
                     LC_KEEP);
    lc_config none = parse_ok(a, doc(a, "<Filter><Prefix>p/</Prefix></Filter>", EXP));
    assert_false(lc_needs_tags(&none));
    arena_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_size_filters_written_canonically),
        cmocka_unit_test(test_size_filters_refused),
        cmocka_unit_test(test_matching_by_size),
        cmocka_unit_test(test_matching_by_tags),
        cmocka_unit_test(test_default_minimum_size),
        cmocka_unit_test(test_default_minimum_size_stored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
