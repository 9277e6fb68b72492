/* test_meta — the SQLite metadata driver against the promises of meta.h.
 *
 * Each test gets a fresh store in a temporary directory with one bucket, "b". Blob ids are
 * made up (the metadata store never touches bytes); what matters is which ids the gc queue
 * receives and when. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/meta.h"
#include "store/meta_sqlite.h"
#include "util/arena.h"

typedef struct fixture {
    char dir[64];
    meta_store *m;
    arena *a;
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/wosd-test-meta-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    meta_options opt = {.durable = false};
    if (meta_open(f->dir, &opt, &f->m) != META_OK) return -1;
    meta_bucket b = {.name = "b", .owner = "AK1", .region = "r1", .storage_class = "STANDARD",
                     .created_ms = 1000};
    if (meta_bucket_create(f->m, &b, NULL) != META_OK) return -1;
    f->a = arena_new(4096);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    meta_close(f->m);
    arena_free(f->a);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* A blob id from a small number, so tests can name them. */
static void bid(int n, char out[META_BLOB_ID_LEN + 1])
{
    snprintf(out, META_BLOB_ID_LEN + 1, "%032X", n);
}

static meta_status put_inline(meta_store *m, const char *key, const char *data, int64_t mtime)
{
    meta_object o = {.key = key, .size = (int64_t)strlen(data), .mtime_ms = mtime,
                     .headers = "content-type: text/plain\n", .inline_data = data};
    snprintf(o.etag, sizeof o.etag, "etag-%s", key);
    snprintf(o.storage_class, sizeof o.storage_class, "STANDARD");
    return meta_object_put(m, "b", &o);
}

/* An object of n extents with blob ids first, first+1, … */
static meta_status put_extents(meta_store *m, const char *key, int first, int n)
{
    meta_extent e[8];
    for (int i = 0; i < n; i++) {
        bid(first + i, e[i].blob_id);
        e[i].size = 100 + i;
        snprintf(e[i].etag, sizeof e[i].etag, "%032x", first + i);
    }
    meta_object o = {.key = key, .size = 0, .mtime_ms = 5, .headers = "",
                     .nextents = n, .extents = e, .parts_count = n > 1 ? n : 0};
    for (int i = 0; i < n; i++) o.size += e[i].size;
    snprintf(o.etag, sizeof o.etag, "x");
    return meta_object_put(m, "b", &o);
}

/* Everything in the gc queue, as "n,n,…" of the numbers given to bid(), sorted. */
static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static char *gc_all(fixture *f)
{
    char ids[64][META_BLOB_ID_LEN + 1];
    int nums[64];
    int n = meta_gc_take(f->m, ids, 64);
    for (int i = 0; i < n; i++) nums[i] = (int)strtol(ids[i], NULL, 16);
    qsort(nums, (size_t)n, sizeof *nums, cmp_int);
    char *s = arena_alloc(f->a, 1024);
    for (int i = 0; i < n; i++)
        snprintf(s + strlen(s), 1024 - strlen(s), "%s%d", i ? "," : "", nums[i]);
    return s;
}

/* Listing results as "key,prefix/,…" (prefixes are recognisable by the trailing delimiter in
 * these tests; "P:" marks them when it matters). */
typedef struct listing {
    char out[8192];
    int n;
} listing;

static void list_cb(void *cls, const char *cp, const meta_object *o)
{
    listing *l = cls;
    size_t len = strlen(l->out);
    snprintf(l->out + len, sizeof l->out - len, "%s%s%s", l->n ? "," : "", cp ? "P:" : "",
             cp ? cp : o->key);
    l->n++;
}

static const char *list(fixture *f, const char *prefix, const char *delim, const char *after,
                        int max, bool *truncated, const char **last)
{
    static listing l;
    memset(&l, 0, sizeof l);
    meta_list_query q = {.prefix = prefix, .delimiter = delim, .after = after, .max = max};
    bool t;
    const char *lst;
    assert_int_equal(meta_object_list(f->m, "b", &q, f->a, list_cb, &l, &t, &lst), META_OK);
    if (truncated) *truncated = t;
    if (last) *last = lst;
    return l.out;
}

/* --- buckets ----------------------------------------------------------------------------- */

static void bucket_names(void *cls, const meta_bucket *b)
{
    char *s = cls;
    snprintf(s + strlen(s), 256 - strlen(s), "%s%s", *s ? "," : "", b->name);
}

static void test_bucket_crud(void **state)
{
    fixture *f = *state;
    meta_bucket b = {.name = "zeta", .owner = "AK2", .region = "r2", .storage_class = "IA",
                     .created_ms = 42};
    assert_int_equal(meta_bucket_create(f->m, &b, NULL), META_OK);
    snprintf(b.name, sizeof b.name, "alpha");
    assert_int_equal(meta_bucket_create(f->m, &b, NULL), META_OK);

    meta_bucket got;
    assert_int_equal(meta_bucket_get(f->m, "zeta", &got), META_OK);
    assert_string_equal(got.owner, "AK2");
    assert_string_equal(got.region, "r2");
    assert_string_equal(got.storage_class, "IA");
    assert_int_equal(got.created_ms, 42);
    assert_int_equal(meta_bucket_get(f->m, "nope", &got), META_NOT_FOUND);

    /* Taken: the existing bucket comes back so the caller can tell who owns it. */
    meta_bucket again = {.name = "b", .owner = "AK9"}, existing;
    memset(&existing, 0, sizeof existing);
    assert_int_equal(meta_bucket_create(f->m, &again, &existing), META_EXISTS);
    assert_string_equal(existing.owner, "AK1");
    assert_int_equal(meta_bucket_create(f->m, &again, NULL), META_EXISTS);

    char names[256] = "";
    assert_int_equal(meta_bucket_list(f->m, bucket_names, names), META_OK);
    assert_string_equal(names, "alpha,b,zeta");

    assert_int_equal(meta_bucket_delete(f->m, "zeta"), META_OK);
    assert_int_equal(meta_bucket_get(f->m, "zeta", &got), META_NOT_FOUND);
    assert_int_equal(meta_bucket_delete(f->m, "zeta"), META_NOT_FOUND);
    names[0] = 0;
    assert_int_equal(meta_bucket_list(f->m, bucket_names, names), META_OK);
    assert_string_equal(names, "alpha,b");
}

static void test_bucket_not_empty(void **state)
{
    fixture *f = *state;
    assert_int_equal(put_inline(f->m, "k", "v", 1), META_OK);
    assert_int_equal(meta_bucket_delete(f->m, "b"), META_NOT_EMPTY);
    assert_int_equal(meta_object_delete(f->m, "b", "k"), META_OK);

    meta_upload u = {.upload_id = "U1", .key = "k", .initiated_ms = 1, .headers = ""};
    assert_int_equal(meta_upload_create(f->m, "b", &u), META_OK);
    assert_int_equal(meta_bucket_delete(f->m, "b"), META_NOT_EMPTY);
    assert_int_equal(meta_upload_abort(f->m, "b", "k", "U1"), META_OK);

    assert_int_equal(meta_bucket_delete(f->m, "b"), META_OK);
    assert_int_equal(meta_bucket_get(f->m, "b", NULL), META_NOT_FOUND);
    /* Nothing can be written into a bucket that is gone. */
    assert_int_equal(put_inline(f->m, "k", "v", 1), META_NOT_FOUND);
    assert_int_equal(meta_upload_create(f->m, "b", &u), META_NOT_FOUND);
}

/* --- objects ----------------------------------------------------------------------------- */

static void test_object_inline(void **state)
{
    fixture *f = *state;
    assert_int_equal(put_inline(f->m, "dir/hello.txt", "hello world", 1234), META_OK);
    meta_object o;
    assert_int_equal(meta_object_get(f->m, "b", "dir/hello.txt", f->a, &o), META_OK);
    assert_string_equal(o.key, "dir/hello.txt");
    assert_int_equal(o.size, 11);
    assert_string_equal(o.etag, "etag-dir/hello.txt");
    assert_int_equal(o.mtime_ms, 1234);
    assert_string_equal(o.storage_class, "STANDARD");
    assert_string_equal(o.headers, "content-type: text/plain\n");
    assert_int_equal(o.nextents, 0);
    assert_int_equal(o.parts_count, 0);
    assert_memory_equal(o.inline_data, "hello world", 11);

    /* Binary data with NULs, and the empty object. */
    const char bin[5] = {0, 1, 0, (char)0xFF, 2};
    meta_object p = {.key = "bin", .size = 5, .inline_data = bin, .headers = NULL};
    assert_int_equal(meta_object_put(f->m, "b", &p), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "bin", f->a, &o), META_OK);
    assert_int_equal(o.size, 5);
    assert_memory_equal(o.inline_data, bin, 5);
    assert_string_equal(o.headers, "");
    meta_object e = {.key = "empty", .size = 0};
    assert_int_equal(meta_object_put(f->m, "b", &e), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "empty", f->a, &o), META_OK);
    assert_int_equal(o.size, 0);
    assert_int_equal(o.nextents, 0);
    assert_non_null(o.inline_data);

    assert_int_equal(meta_object_get(f->m, "b", "nope", f->a, &o), META_NOT_FOUND);
    assert_int_equal(meta_object_get(f->m, "other", "bin", f->a, &o), META_NOT_FOUND);
    assert_string_equal(gc_all(f), "");
}

static void test_object_extents(void **state)
{
    fixture *f = *state;
    assert_int_equal(put_extents(f->m, "big", 10, 3), META_OK);
    meta_object o;
    assert_int_equal(meta_object_get(f->m, "b", "big", f->a, &o), META_OK);
    assert_int_equal(o.nextents, 3);
    assert_null(o.inline_data);
    assert_int_equal(o.size, 100 + 101 + 102);
    assert_int_equal(o.parts_count, 3);
    for (int i = 0; i < 3; i++) {
        char id[META_BLOB_ID_LEN + 1], etag[33];
        bid(10 + i, id);
        snprintf(etag, sizeof etag, "%032x", 10 + i);
        assert_string_equal(o.extents[i].blob_id, id);
        assert_int_equal(o.extents[i].size, 100 + i);
        assert_string_equal(o.extents[i].etag, etag);
        assert_true(meta_blob_referenced(f->m, id));
    }
    char other[META_BLOB_ID_LEN + 1];
    bid(99, other);
    assert_false(meta_blob_referenced(f->m, other));
}

static void test_object_overwrite_and_delete(void **state)
{
    fixture *f = *state;
    char id1[META_BLOB_ID_LEN + 1];
    bid(1, id1);
    assert_int_equal(put_extents(f->m, "k", 1, 1), META_OK);
    assert_string_equal(gc_all(f), "");
    /* Overwrite: the old blob is queued, the new one referenced. */
    assert_int_equal(put_extents(f->m, "k", 2, 2), META_OK);
    assert_true(meta_blob_referenced(f->m, id1));   /* queued counts as referenced */
    assert_string_equal(gc_all(f), "1");
    assert_false(meta_blob_referenced(f->m, id1));  /* handed out: the scrub may take it */
    /* Rewriting with the same blobs (a retry) must not queue what is still in use. */
    assert_int_equal(put_extents(f->m, "k", 2, 2), META_OK);
    assert_string_equal(gc_all(f), "");
    /* Replaced by an inline object: both blobs go. */
    assert_int_equal(put_inline(f->m, "k", "small", 9), META_OK);
    assert_string_equal(gc_all(f), "2,3");
    meta_object o;
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_int_equal(o.nextents, 0);
    assert_memory_equal(o.inline_data, "small", 5);

    assert_int_equal(meta_object_delete(f->m, "b", "k"), META_OK);
    assert_string_equal(gc_all(f), "");   /* inline: nothing to remove */
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_NOT_FOUND);
    assert_int_equal(meta_object_delete(f->m, "b", "k"), META_NOT_FOUND);

    assert_int_equal(put_extents(f->m, "k2", 7, 1), META_OK);
    assert_int_equal(meta_object_delete(f->m, "b", "k2"), META_OK);
    assert_string_equal(gc_all(f), "7");
}

/* --- listing ----------------------------------------------------------------------------- */

static void test_list_prefix(void **state)
{
    fixture *f = *state;
    const char *keys[] = {"a", "ab", "abc", "abd/x", "b", "ba"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_int_equal(put_inline(f->m, keys[i], "x", 1), META_OK);
    bool t;
    const char *last;
    assert_string_equal(list(f, "", NULL, "", 1000, &t, &last), "a,ab,abc,abd/x,b,ba");
    assert_false(t);
    assert_string_equal(last, "ba");
    assert_string_equal(list(f, "ab", NULL, NULL, 1000, &t, NULL), "ab,abc,abd/x");
    assert_string_equal(list(f, "ab", "", "ab", 1000, &t, NULL), "abc,abd/x");
    assert_string_equal(list(f, "b", NULL, "", 1000, &t, NULL), "b,ba");
    assert_string_equal(list(f, "c", NULL, "", 1000, &t, NULL), "");
    /* An after-marker before the prefix changes nothing; one past it ends the listing. */
    assert_string_equal(list(f, "ab", NULL, "a", 1000, &t, NULL), "ab,abc,abd/x");
    assert_string_equal(list(f, "ab", NULL, "b", 1000, &t, &last), "");
    assert_string_equal(last, "");
    assert_false(t);
    /* An empty bucket, and a bucket that does not exist. */
    meta_list_query q = {.prefix = "", .max = 10};
    listing l = {0};
    assert_int_equal(meta_object_list(f->m, "none", &q, f->a, list_cb, &l, &t, &last), META_OK);
    assert_int_equal(l.n, 0);
}

static void test_list_delimiter_folding(void **state)
{
    fixture *f = *state;
    char key[64];
    assert_int_equal(put_inline(f->m, "a.txt", "x", 1), META_OK);
    assert_int_equal(put_inline(f->m, "dir/", "x", 1), META_OK);
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "dir/%05d", i);
        assert_int_equal(put_inline(f->m, key, "x", 1), META_OK);
    }
    assert_int_equal(put_inline(f->m, "dir/sub/x", "x", 1), META_OK);
    assert_int_equal(put_inline(f->m, "dis", "x", 1), META_OK);
    assert_int_equal(put_inline(f->m, "e/1", "x", 1), META_OK);
    assert_int_equal(put_inline(f->m, "e/2", "x", 1), META_OK);
    assert_int_equal(put_inline(f->m, "z", "x", 1), META_OK);

    bool t;
    const char *last;
    uint64_t rows = meta_sqlite_scan_rows();
    assert_string_equal(list(f, "", "/", "", 1000, &t, &last), "a.txt,P:dir/,dis,P:e/,z");
    /* One row per entry: the 5002 keys under dir/ cost one row, not 5002. */
    assert_true(meta_sqlite_scan_rows() - rows <= 5);
    assert_false(t);
    assert_string_equal(last, "z");

    /* Page by page, the marker being a common prefix. */
    assert_string_equal(list(f, "", "/", "", 2, &t, &last), "a.txt,P:dir/");
    assert_true(t);
    assert_string_equal(last, "dir/");
    rows = meta_sqlite_scan_rows();
    assert_string_equal(list(f, "", "/", last, 2, &t, &last), "dis,P:e/");
    assert_true(meta_sqlite_scan_rows() - rows <= 4);
    assert_true(t);
    assert_string_equal(last, "e/");
    assert_string_equal(list(f, "", "/", last, 2, &t, &last), "z");
    assert_false(t);

    /* Inside the prefix: "dir/" itself is an object there, and dir/sub/ folds. */
    assert_string_equal(list(f, "dir/", "/", "", 3, &t, &last), "dir/,dir/00000,dir/00001");
    assert_true(t);
    assert_string_equal(list(f, "dir/", "/", "dir/04998", 3, &t, &last),
                        "dir/04999,P:dir/sub/");
    assert_false(t);
    assert_string_equal(last, "dir/sub/");

    /* A multi-byte delimiter. */
    assert_string_equal(list(f, "", "r/0", "", 10, &t, NULL),
                        "a.txt,dir/,P:dir/0,dir/sub/x,dis,e/1,e/2,z");
}

static void test_list_after_inside_prefix(void **state)
{
    fixture *f = *state;
    const char *keys[] = {"a/1", "a/2", "a/b/c", "ab", "b/1", "c"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_int_equal(put_inline(f->m, keys[i], "x", 1), META_OK);
    bool t;
    /* A marker inside a common prefix skips the whole prefix (it has been returned). */
    assert_string_equal(list(f, "", "/", "a/1", 10, &t, NULL), "ab,P:b/,c");
    assert_string_equal(list(f, "", "/", "a/", 10, &t, NULL), "ab,P:b/,c");
    assert_string_equal(list(f, "", "/", "a", 10, &t, NULL), "P:a/,ab,P:b/,c");
    assert_string_equal(list(f, "a/", "/", "a/1", 10, &t, NULL), "a/2,P:a/b/");
    assert_string_equal(list(f, "a/", "/", "a/b/", 10, &t, NULL), "");
    /* Without a delimiter the same marker is just a key. */
    assert_string_equal(list(f, "", NULL, "a/1", 10, &t, NULL), "a/2,a/b/c,ab,b/1,c");
}

static void test_list_max_and_truncation(void **state)
{
    fixture *f = *state;
    char key[16];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(put_inline(f->m, key, "x", 1), META_OK);
    }
    bool t;
    const char *last = "";
    char all[256] = "";
    int pages = 0;
    do {
        const char *page = list(f, "", NULL, last, 3, &t, &last);
        snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", *all ? "," : "", page);
        pages++;
        assert_int_equal(t, pages < 4);
    } while (t);
    assert_int_equal(pages, 4);
    assert_string_equal(all, "k0,k1,k2,k3,k4,k5,k6,k7,k8,k9");
    /* Exactly max entries left: not truncated. */
    assert_string_equal(list(f, "", NULL, "k4", 5, &t, &last), "k5,k6,k7,k8,k9");
    assert_false(t);
    assert_string_equal(list(f, "", NULL, "", 1, &t, &last), "k0");
    assert_true(t);
    /* A common prefix as the entry beyond the page also means truncated. */
    assert_int_equal(put_inline(f->m, "k9/x", "x", 1), META_OK);
    assert_string_equal(list(f, "", "/", "k7", 2, &t, &last), "k8,k9");
    assert_true(t);
    assert_string_equal(list(f, "", "/", last, 2, &t, &last), "P:k9/");
    assert_false(t);
}

static void test_list_bytewise_utf8(void **state)
{
    fixture *f = *state;
    /* Inserted shuffled; listed in byte order (UTF-8 binary), not by any collation. */
    const char *keys[] = {"\xC3\xBC", "z", "B", "\xF0\x9F\x98\x80", "a", "\xE4\xB8\xAD",
                          "\x7F", "\xC3\xA9", "a b", "A", "\xFF\xFF", "\xFF\xFF\x61", "\xFF"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_int_equal(put_inline(f->m, keys[i], "x", 1), META_OK);
    bool t;
    assert_string_equal(list(f, "", NULL, "", 100, &t, NULL),
                        "A,B,a,a b,z,\x7F,\xC3\xA9,\xC3\xBC,\xE4\xB8\xAD,\xF0\x9F\x98\x80,"
                        "\xFF,\xFF\xFF,\xFF\xFF" "a");
    /* Prefix bounds computed on bytes, including a prefix with no successor. */
    assert_string_equal(list(f, "\xC3", NULL, "", 100, &t, NULL), "\xC3\xA9,\xC3\xBC");
    assert_string_equal(list(f, "\xFF\xFF", NULL, "", 100, &t, NULL), "\xFF\xFF,\xFF\xFF" "a");
    assert_string_equal(list(f, "\xFF", "\xFF", "", 100, &t, NULL), "\xFF,P:\xFF\xFF");
    assert_string_equal(list(f, "", "\xFF", "\xFF\xFF", 100, &t, NULL), "");
    /* A multi-byte UTF-8 delimiter folds on whole characters. */
    assert_int_equal(put_inline(f->m, "x\xC3\xA9y", "x", 1), META_OK);
    assert_int_equal(put_inline(f->m, "x\xC3\xBCy", "x", 1), META_OK);
    assert_string_equal(list(f, "x", "\xC3\xA9", "", 100, &t, NULL), "P:x\xC3\xA9,x\xC3\xBCy");
}

static void test_list_time_filter(void **state)
{
    fixture *f = *state;
    assert_int_equal(put_inline(f->m, "t1", "x", 1000), META_OK);
    assert_int_equal(put_inline(f->m, "t2", "x", 2000), META_OK);
    assert_int_equal(put_inline(f->m, "t3", "x", 3000), META_OK);
    assert_int_equal(put_inline(f->m, "u/old", "x", 1000), META_OK);
    listing l;
    bool t;
    const char *last;
    struct { int64_t start, end; const char *want; } cases[] = {
        {0, 0, "t1,t2,t3,P:u/"},
        {2000, 0, "t2,t3"},      /* start inclusive */
        {0, 3000, "t1,t2,P:u/"}, /* end exclusive */
        {2000, 3000, "t2"},
        {5000, 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(&l, 0, sizeof l);
        meta_list_query q = {.prefix = "", .delimiter = "/", .after = "", .max = 100,
                             .start_ms = cases[i].start, .end_ms = cases[i].end};
        assert_int_equal(meta_object_list(f->m, "b", &q, f->a, list_cb, &l, &t, &last), META_OK);
        assert_string_equal(l.out, cases[i].want);
    }
}

/* --- multipart uploads ------------------------------------------------------------------- */

static meta_status part(fixture *f, const char *key, const char *upload, int number, int blob)
{
    meta_part p = {.number = number, .size = 1000 + number, .mtime_ms = 77};
    bid(blob, p.blob_id);
    snprintf(p.etag, sizeof p.etag, "%032x", blob);
    return meta_part_put(f->m, "b", key, upload, &p);
}

static void parts_cb(void *cls, const meta_part *p)
{
    char *s = cls;
    snprintf(s + strlen(s), 256 - strlen(s), "%s%d:%ld", *s ? "," : "", p->number,
             strtol(p->blob_id, NULL, 16));
}

static const char *parts(fixture *f, const char *key, const char *upload, int after, int max,
                         bool *t)
{
    static char s[256];
    s[0] = 0;
    assert_int_equal(meta_part_list(f->m, "b", key, upload, after, max, parts_cb, s, t), META_OK);
    return s;
}

static meta_status complete(fixture *f, const char *key, const char *upload, const int *blobs,
                            int n)
{
    meta_extent e[16];
    meta_object o = {.key = key, .mtime_ms = 88, .headers = "h", .nextents = n,
                     .extents = e, .parts_count = n};
    for (int i = 0; i < n; i++) {
        bid(blobs[i], e[i].blob_id);
        e[i].size = 10;
        snprintf(e[i].etag, sizeof e[i].etag, "%032x", blobs[i]);
        o.size += 10;
    }
    snprintf(o.etag, sizeof o.etag, "abc-%d", n);
    return meta_upload_complete(f->m, "b", upload, &o, NULL);
}

static void create_upload(fixture *f, const char *key, const char *id, int64_t t)
{
    meta_upload u = {.key = key, .initiated_ms = t, .storage_class = "STANDARD",
                     .owner = "AK1", .headers = "x-amz-meta-a: 1\n"};
    snprintf(u.upload_id, sizeof u.upload_id, "%s", id);
    assert_int_equal(meta_upload_create(f->m, "b", &u), META_OK);
}

static void test_upload_lifecycle(void **state)
{
    fixture *f = *state;
    create_upload(f, "big", "U1", 500);
    meta_upload u;
    assert_int_equal(meta_upload_get(f->m, "b", "big", "U1", f->a, &u), META_OK);
    assert_string_equal(u.upload_id, "U1");
    assert_string_equal(u.key, "big");
    assert_int_equal(u.initiated_ms, 500);
    assert_string_equal(u.owner, "AK1");
    assert_string_equal(u.storage_class, "STANDARD");
    assert_string_equal(u.headers, "x-amz-meta-a: 1\n");
    assert_int_equal(meta_upload_get(f->m, "b", "other", "U1", f->a, &u), META_NOT_FOUND);
    assert_int_equal(meta_upload_get(f->m, "c", "big", "U1", f->a, &u), META_NOT_FOUND);
    assert_int_equal(meta_upload_get(f->m, "b", "big", "U2", f->a, &u), META_NOT_FOUND);
    meta_upload dup = u;
    assert_int_equal(meta_upload_create(f->m, "b", &dup), META_EXISTS);

    assert_int_equal(part(f, "big", "U1", 1, 101), META_OK);
    assert_int_equal(part(f, "big", "U1", 2, 102), META_OK);
    assert_int_equal(part(f, "big", "U1", 3, 103), META_OK);
    assert_int_equal(part(f, "other", "U1", 4, 104), META_NOT_FOUND);
    /* Re-uploading a part queues the blob it replaces. */
    assert_int_equal(part(f, "big", "U1", 2, 112), META_OK);
    assert_string_equal(gc_all(f), "102");
    /* The same blob again (a retried record) queues nothing. */
    assert_int_equal(part(f, "big", "U1", 2, 112), META_OK);
    assert_string_equal(gc_all(f), "");

    bool t;
    assert_string_equal(parts(f, "big", "U1", 0, 0, &t), "1:101,2:112,3:103");
    assert_false(t);
    assert_string_equal(parts(f, "big", "U1", 1, 1, &t), "2:112");
    assert_true(t);
    assert_string_equal(parts(f, "big", "U1", 1, 2, &t), "2:112,3:103");
    assert_false(t);
    assert_string_equal(parts(f, "big", "U1", 3, 5, &t), "");
    assert_false(t);
    char s[8];
    assert_int_equal(meta_part_list(f->m, "b", "big", "nope", 0, 0, parts_cb, s, &t), META_NOT_FOUND);
    /* An upload is known by its bucket and key too. */
    assert_int_equal(meta_part_list(f->m, "b", "other", "U1", 0, 0, parts_cb, s, &t), META_NOT_FOUND);
    assert_int_equal(meta_part_list(f->m, "c", "big", "U1", 0, 0, parts_cb, s, &t), META_NOT_FOUND);

    /* Complete with parts 1 and 2: part 3 was not listed and is queued. */
    char id[META_BLOB_ID_LEN + 1];
    bid(103, id);
    assert_true(meta_blob_referenced(f->m, id));
    int use[] = {101, 112};
    assert_int_equal(complete(f, "big", "U1", use, 2), META_OK);
    assert_string_equal(gc_all(f), "103");
    assert_false(meta_blob_referenced(f->m, id));
    bid(112, id);
    assert_true(meta_blob_referenced(f->m, id));

    meta_object o;
    assert_int_equal(meta_object_get(f->m, "b", "big", f->a, &o), META_OK);
    assert_int_equal(o.nextents, 2);
    assert_int_equal(o.parts_count, 2);
    assert_string_equal(o.etag, "abc-2");
    assert_string_equal(o.extents[1].blob_id, id);
    assert_int_equal(meta_upload_get(f->m, "b", "big", "U1", f->a, &u), META_NOT_FOUND);

    /* A part arriving after the upload is gone is refused and not recorded. */
    assert_int_equal(part(f, "big", "U1", 4, 120), META_NOT_FOUND);
    bid(120, id);
    assert_false(meta_blob_referenced(f->m, id));
    assert_string_equal(gc_all(f), "");
    assert_int_equal(complete(f, "big", "U1", use, 2), META_NOT_FOUND);
}

static void test_upload_complete_conflict(void **state)
{
    fixture *f = *state;
    assert_int_equal(put_extents(f->m, "obj", 50, 1), META_OK);   /* to be replaced */
    create_upload(f, "obj", "U1", 1);
    assert_int_equal(part(f, "obj", "U1", 1, 1), META_OK);
    assert_int_equal(part(f, "obj", "U1", 2, 2), META_OK);
    /* Part 2 is re-uploaded after the client listed it: completing with the old blob fails. */
    assert_int_equal(part(f, "obj", "U1", 2, 22), META_OK);
    assert_string_equal(gc_all(f), "2");
    int stale[] = {1, 2};
    assert_int_equal(complete(f, "obj", "U1", stale, 2), META_CONFLICT);
    /* Nothing changed: the upload and its parts are intact, the old object still there. */
    bool t;
    assert_string_equal(parts(f, "obj", "U1", 0, 0, &t), "1:1,2:22");
    meta_object o;
    assert_int_equal(meta_object_get(f->m, "b", "obj", f->a, &o), META_OK);
    assert_int_equal(o.nextents, 1);
    assert_string_equal(gc_all(f), "");
    /* The wrong bucket or key is no upload at all. */
    int fresh[] = {1, 22};
    assert_int_equal(complete(f, "other", "U1", fresh, 2), META_NOT_FOUND);

    assert_int_equal(complete(f, "obj", "U1", fresh, 2), META_OK);
    assert_string_equal(gc_all(f), "50");   /* the replaced object's blob */
    assert_int_equal(meta_object_get(f->m, "b", "obj", f->a, &o), META_OK);
    assert_int_equal(o.nextents, 2);
}

static void test_upload_abort(void **state)
{
    fixture *f = *state;
    create_upload(f, "k", "U1", 1);
    create_upload(f, "k", "U2", 2);
    assert_int_equal(part(f, "k", "U1", 1, 1), META_OK);
    assert_int_equal(part(f, "k", "U1", 2, 2), META_OK);
    assert_int_equal(part(f, "k", "U2", 1, 3), META_OK);
    assert_int_equal(meta_upload_abort(f->m, "b", "other", "U1"), META_NOT_FOUND);
    assert_int_equal(meta_upload_abort(f->m, "b", "k", "U1"), META_OK);
    assert_string_equal(gc_all(f), "1,2");
    assert_int_equal(meta_upload_abort(f->m, "b", "k", "U1"), META_NOT_FOUND);
    meta_upload u;
    assert_int_equal(meta_upload_get(f->m, "b", "k", "U1", f->a, &u), META_NOT_FOUND);
    assert_int_equal(meta_upload_get(f->m, "b", "k", "U2", f->a, &u), META_OK);
    assert_int_equal(part(f, "k", "U1", 3, 4), META_NOT_FOUND);
    assert_string_equal(gc_all(f), "");
}

static void uploads_cb(void *cls, const char *cp, const meta_upload *u)
{
    listing *l = cls;
    size_t len = strlen(l->out);
    if (cp)
        snprintf(l->out + len, sizeof l->out - len, "%sP:%s", l->n ? "," : "", cp);
    else
        snprintf(l->out + len, sizeof l->out - len, "%s%s=%s", l->n ? "," : "", u->key,
                 u->upload_id);
    l->n++;
}

static const char *uploads(fixture *f, const char *prefix, const char *delim, const char *km,
                           const char *um, int max, bool *t)
{
    static listing l;
    memset(&l, 0, sizeof l);
    meta_upload_query q = {.prefix = prefix, .delimiter = delim, .key_marker = km,
                           .upload_id_marker = um, .max = max};
    assert_int_equal(meta_upload_list(f->m, "b", &q, f->a, uploads_cb, &l, t), META_OK);
    return l.out;
}

static void test_upload_list(void **state)
{
    fixture *f = *state;
    /* Within a key, uploads list in id order, whatever their times (the s3 layer's ids begin
     * with the time): Z9 was started first and lists last. */
    create_upload(f, "a", "Z9", 100);
    create_upload(f, "a", "A1", 200);
    create_upload(f, "a", "A2", 200);
    create_upload(f, "b", "B1", 50);
    create_upload(f, "c/1", "C1", 1);
    create_upload(f, "c/2", "C2", 1);
    create_upload(f, "d", "D1", 1);
    bool t;
    assert_string_equal(uploads(f, NULL, NULL, NULL, NULL, 100, &t),
                        "a=A1,a=A2,a=Z9,b=B1,c/1=C1,c/2=C2,d=D1");
    assert_false(t);
    assert_string_equal(uploads(f, "", "/", "", "", 100, &t), "a=A1,a=A2,a=Z9,b=B1,P:c/,d=D1");
    assert_string_equal(uploads(f, "c/", "/", "", "", 100, &t), "c/1=C1,c/2=C2");

    /* Pages of two, continuing from the last key and upload id as S3 clients do. */
    assert_string_equal(uploads(f, "", NULL, "", "", 2, &t), "a=A1,a=A2");
    assert_true(t);
    assert_string_equal(uploads(f, "", NULL, "a", "A2", 2, &t), "a=Z9,b=B1");
    assert_true(t);
    assert_string_equal(uploads(f, "", NULL, "b", "B1", 2, &t), "c/1=C1,c/2=C2");
    assert_true(t);
    assert_string_equal(uploads(f, "", NULL, "c/2", "C2", 2, &t), "d=D1");
    assert_false(t);
    assert_string_equal(uploads(f, "", NULL, "a", "A1", 10, &t),
                        "a=A2,a=Z9,b=B1,c/1=C1,c/2=C2,d=D1");
    assert_string_equal(uploads(f, "", NULL, "a", "Z9", 1, &t), "b=B1");
    assert_true(t);
    /* The marker upload's key ends a page exactly: truncated is still right. */
    assert_string_equal(uploads(f, "", NULL, "a", "A1", 2, &t), "a=A2,a=Z9");
    assert_true(t);
    /* A key marker alone: keys after it. An upload id marker that names no upload still
     * compares as a string (S3): the key's uploads with greater ids, then the next keys. */
    assert_string_equal(uploads(f, "", NULL, "a", "", 100, &t), "b=B1,c/1=C1,c/2=C2,d=D1");
    assert_string_equal(uploads(f, "", NULL, "a", "NOPE", 100, &t), "a=Z9,b=B1,c/1=C1,c/2=C2,d=D1");
    /* A page's last upload aborted before the next page is asked for (what lifecycle and
     * clients cleaning up do): the key's later uploads are not skipped. */
    assert_int_equal(meta_upload_abort(f->m, "b", "a", "A1"), META_OK);
    assert_string_equal(uploads(f, "", NULL, "a", "A1", 100, &t), "a=A2,a=Z9,b=B1,c/1=C1,c/2=C2,d=D1");
    /* Markers inside a common prefix skip it whole. */
    assert_string_equal(uploads(f, "", "/", "c/", "", 100, &t), "d=D1");
    assert_string_equal(uploads(f, "", "/", "c/1", "C1", 100, &t), "d=D1");
    assert_string_equal(uploads(f, "", "/", "b", "B1", 1, &t), "P:c/");
    assert_true(t);
}

/* --- garbage and concurrency ------------------------------------------------------------- */

static void test_gc_take(void **state)
{
    fixture *f = *state;
    char ids[8][META_BLOB_ID_LEN + 1];
    assert_int_equal(meta_gc_take(f->m, ids, 8), 0);
    assert_int_equal(put_extents(f->m, "k", 1, 5), META_OK);
    assert_int_equal(meta_object_delete(f->m, "b", "k"), META_OK);
    assert_int_equal(meta_gc_take(f->m, ids, 2), 2);
    assert_int_equal(meta_gc_take(f->m, ids, 8), 3);
    assert_int_equal(meta_gc_take(f->m, ids, 8), 0);
}

typedef struct worker {
    meta_store *m;
    int id;
    int failures;
} worker;

static void *put_many(void *p)
{
    worker *w = p;
    char key[32];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof key, "t%d/%04d", w->id, i);
        if (put_inline(w->m, key, "data", i) != META_OK) w->failures++;
    }
    return NULL;
}

static void count_cb(void *cls, const char *cp, const meta_object *o)
{
    (void)cp; (void)o;
    (*(int *)cls)++;
}

static void test_concurrent_puts(void **state)
{
    fixture *f = *state;
    pthread_t th[4];
    worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker){.m = f->m, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, put_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    int n = 0;
    bool t;
    const char *last;
    meta_list_query q = {.prefix = "", .after = "", .max = 1000};
    assert_int_equal(meta_object_list(f->m, "b", &q, f->a, count_cb, &n, &t, &last), META_OK);
    assert_int_equal(n, 800);
    assert_false(t);
}

/* Changes that fail, mixed with changes that succeed, from many threads at once: the writer
 * batches them, and each must get its own answer and leave its own effect only. */
static void *mixed_many(void *p)
{
    worker *w = p;
    char key[32];
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof key, "m%d/%04d", w->id, i);
        meta_object o = {.key = key, .size = 1, .mtime_ms = i, .headers = "", .inline_data = "x"};
        snprintf(o.storage_class, sizeof o.storage_class, "STANDARD");
        if (meta_object_put(w->m, "b", &o) != META_OK) w->failures++;
        if (meta_object_put(w->m, "no-such-bucket", &o) != META_NOT_FOUND) w->failures++;
        if (meta_object_delete(w->m, "b", "never-written") != META_NOT_FOUND) w->failures++;
        if (i % 2 && meta_object_delete(w->m, "b", key) != META_OK) w->failures++;
    }
    return NULL;
}

static void test_concurrent_mixed_outcomes(void **state)
{
    fixture *f = *state;
    enum { N = 16 };
    pthread_t th[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){.m = f->m, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, mixed_many, &w[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    int n = 0;
    bool t;
    const char *last;
    meta_list_query q = {.prefix = "m", .after = "", .max = 1000};
    assert_int_equal(meta_object_list(f->m, "b", &q, f->a, count_cb, &n, &t, &last), META_OK);
    assert_int_equal(n, N * 50);
    assert_false(t);
    meta_bucket b;
    assert_int_equal(meta_bucket_get(f->m, "no-such-bucket", &b), META_NOT_FOUND);
}

/* Changes that fail keep arriving: a change that succeeded must still see its batch commit
 * (a failing change counts toward the batch and waits for it too). Liveness, not speed: the
 * bound is generous. */
static atomic_bool spam_stop;
static void *spam_failing_deletes(void *p)
{
    worker *w = p;
    while (!atomic_load(&spam_stop))
        if (meta_object_delete(w->m, "b", "never-written") != META_NOT_FOUND) w->failures++;
    return NULL;
}

static void *put_twenty(void *p)
{
    worker *w = p;
    char key[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "live/%02d", i);
        if (put_inline(w->m, key, "d", i) != META_OK) w->failures++;
    }
    return NULL;
}

static void test_failing_changes_do_not_starve_a_commit(void **state)
{
    fixture *f = *state;
    meta_close(f->m);
    meta_options opt = {.durable = true};   /* batches form only when a flush is shared */
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    enum { N = 8 };
    pthread_t th[N], putter;
    worker w[N], pw = {.m = f->m};
    atomic_store(&spam_stop, false);
    for (int i = 0; i < N; i++) {
        w[i] = (worker){.m = f->m, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, spam_failing_deletes, &w[i]), 0);
    }
    assert_int_equal(pthread_create(&putter, NULL, put_twenty, &pw), 0);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 60;
    int joined = pthread_timedjoin_np(putter, NULL, &deadline);
    atomic_store(&spam_stop, true);
    for (int i = 0; i < N; i++) pthread_join(th[i], NULL);
    if (joined != 0) pthread_join(putter, NULL);
    assert_int_equal(joined, 0);
    assert_int_equal(pw.failures, 0);
    for (int i = 0; i < N; i++) assert_int_equal(w[i].failures, 0);
}

/* Threads that stay alive while the store closes: meta_close closes their connections. */
static pthread_barrier_t barrier;
static void *put_and_wait(void *p)
{
    worker *w = p;
    if (put_inline(w->m, w->id ? "x1" : "x0", "d", 1) != META_OK) w->failures++;
    pthread_barrier_wait(&barrier);   /* the store is used */
    pthread_barrier_wait(&barrier);   /* the store is closed */
    return NULL;
}

static void test_close_with_live_threads(void **state)
{
    fixture *f = *state;
    pthread_barrier_init(&barrier, NULL, 3);
    pthread_t th[2];
    worker w[2] = {{.m = f->m, .id = 0}, {.m = f->m, .id = 1}};
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, put_and_wait, &w[i]), 0);
    pthread_barrier_wait(&barrier);
    meta_close(f->m);
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    assert_int_equal(w[0].failures + w[1].failures, 0);
    /* Reopened, the data is there; teardown closes this one. */
    meta_options opt = {.durable = true};
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    meta_object o;
    assert_int_equal(meta_object_get(f->m, "b", "x1", f->a, &o), META_OK);
    assert_memory_equal(o.inline_data, "d", 1);
}

/* --- groups ------------------------------------------------------------------------------ */

static void reopen_durable(fixture *f)
{
    meta_close(f->m);
    meta_options opt = {.durable = true};
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
}

/* A group's changes answer at once and become visible together, at its close; a change that
 * fails inside it fails alone. */
static void test_group_changes_share_a_commit(void **state)
{
    fixture *f = *state;
    reopen_durable(f);
    meta_object o;
    meta_group_open(f->m);
    assert_int_equal(put_inline(f->m, "g1", "one", 1), META_OK);
    assert_int_equal(meta_object_put(f->m, "no-such-bucket", &(meta_object){.key = "x", .headers = ""}),
                     META_NOT_FOUND);
    assert_int_equal(put_inline(f->m, "g2", "two", 2), META_OK);
    /* A later change of the group sees the earlier ones (g1 is replaced: its row is there). */
    assert_int_equal(put_inline(f->m, "g1", "uno", 3), META_OK);
    /* Reads do not, until the commit. */
    assert_int_equal(meta_object_get(f->m, "b", "g1", f->a, &o), META_NOT_FOUND);
    assert_int_equal(meta_group_close(f->m), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "g1", f->a, &o), META_OK);
    assert_memory_equal(o.inline_data, "uno", 3);
    assert_int_equal(meta_object_get(f->m, "b", "g2", f->a, &o), META_OK);
    assert_memory_equal(o.inline_data, "two", 3);
    assert_int_equal(meta_object_get(f->m, "b", "x", f->a, &o), META_NOT_FOUND);
    /* An empty group commits nothing and is fine. */
    meta_group_open(f->m);
    assert_int_equal(meta_group_close(f->m), META_OK);
}

/* Uploads created in one transaction ask for their bucket once; a bucket deleted, or a bucket
 * whose creation was rolled back, in the same transaction is not taken for one that exists. */
static void test_group_uploads_see_their_bucket_go(void **state)
{
    fixture *f = *state;
    meta_bucket g = {.name = "g", .owner = "AK1", .region = "r1", .storage_class = "STANDARD"};
    assert_int_equal(meta_bucket_create(f->m, &g, NULL), META_OK);
    meta_upload u = {.key = "k", .initiated_ms = 1, .storage_class = "STANDARD", .owner = "AK1", .headers = ""};
    meta_group_open(f->m);
    strcpy(u.upload_id, "G1");
    assert_int_equal(meta_upload_create(f->m, "g", &u), META_OK);
    strcpy(u.upload_id, "G2");
    assert_int_equal(meta_upload_create(f->m, "g", &u), META_OK);
    assert_int_equal(meta_upload_abort(f->m, "g", "k", "G1"), META_OK);
    assert_int_equal(meta_upload_abort(f->m, "g", "k", "G2"), META_OK);
    assert_int_equal(meta_bucket_delete(f->m, "g"), META_OK);
    strcpy(u.upload_id, "G3");
    assert_int_equal(meta_upload_create(f->m, "g", &u), META_NOT_FOUND);
    /* the same upload id twice: the second INSERT fails alone, and the batch goes on */
    strcpy(u.upload_id, "B1");
    assert_int_equal(meta_upload_create(f->m, "b", &u), META_OK);
    assert_int_equal(meta_upload_create(f->m, "b", &u), META_EXISTS);
    strcpy(u.upload_id, "B2");
    assert_int_equal(meta_upload_create(f->m, "b", &u), META_OK);
    assert_int_equal(meta_group_close(f->m), META_OK);
    meta_upload got;
    assert_int_equal(meta_upload_get(f->m, "g", "k", "G3", f->a, &got), META_NOT_FOUND);
    assert_int_equal(meta_bucket_get(f->m, "g", &g), META_NOT_FOUND);
    assert_int_equal(meta_upload_get(f->m, "b", "k", "B1", f->a, &got), META_OK);
    assert_int_equal(meta_upload_get(f->m, "b", "k", "B2", f->a, &got), META_OK);
}

/* Groups on one thread while other threads write alone: the turn passes between them (a
 * thread may hand it, with its change still uncommitted, to the group, whose close then
 * commits for both), nobody waits forever, and every change lands once. */
static void test_groups_among_single_writers(void **state)
{
    fixture *f = *state;
    reopen_durable(f);
    enum { N = 8 };
    pthread_t th[N];
    worker w[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker){.m = f->m, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, put_many, &w[i]), 0);
    }
    char key[32];
    int failures = 0;
    for (int g = 0; g < 40; g++) {
        meta_group_open(f->m);
        for (int i = 0; i < 5; i++) {
            snprintf(key, sizeof key, "g/%02d/%d", g, i);
            if (put_inline(f->m, key, "d", g) != META_OK) failures++;
        }
        if (meta_group_close(f->m) != META_OK) failures++;
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    assert_int_equal(failures, 0);
    int n = 0;
    bool t;
    const char *last;
    meta_list_query q = {.prefix = "", .after = "", .max = 5000};
    assert_int_equal(meta_object_list(f->m, "b", &q, f->a, count_cb, &n, &t, &last), META_OK);
    assert_int_equal(n, N * 200 + 40 * 5);
}

/* The checkpointer copies the log into the database file in the background: after a few MiB of
 * changes the database file holds them, without any reader or writer asking. */
static void test_checkpointer_copies_the_log(void **state)
{
    fixture *f = *state;
    static char data[4001];
    memset(data, 'c', sizeof data - 1);
    char key[32], path[128];
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof key, "ck/%04d", i);
        assert_int_equal(put_inline(f->m, key, data, i), META_OK);
    }
    snprintf(path, sizeof path, "%s/meta.db", f->dir);
    struct stat st = {0};
    for (int i = 0; i < 1000 && (stat(path, &st) != 0 || st.st_size < 4 << 20); i++) usleep(10 * 1000);
    assert_true(st.st_size >= 4 << 20);
}

/* Under commits that never pause the log must still start again from its beginning: a
 * checkpoint running beside them always leaves what was committed meanwhile, and without the
 * writer copying that remainder the log grew for as long as the load lasted (to 175 MB here;
 * 11-15 MB with it). */
static void test_log_starts_over_under_steady_commits(void **state)
{
    fixture *f = *state;
    static char data[4001];
    memset(data, 'l', sizeof data - 1);
    char key[32], path[128];
    snprintf(path, sizeof path, "%s/meta.db-wal", f->dir);
    struct stat st = {0};
    for (int i = 0; i < 12000; i++) {
        snprintf(key, sizeof key, "log/%05d", i % 3000);
        assert_int_equal(put_inline(f->m, key, data, i), META_OK);
    }
    assert_int_equal(stat(path, &st), 0);
    /* restarted after every ~1000 frames (and what came in while they were copied) */
    assert_true(st.st_size < 8000 * 4120);
}

/* --- lifecycle (schema v3) ------------------------------------------------------------------- */

static void lc_names(void *cls, const meta_lifecycle *lc)
{
    char *s = cls;
    snprintf(s + strlen(s), 256 - strlen(s), "%s%s=%s@%lld", *s ? "," : "", lc->bucket, lc->cursor,
             (long long)lc->pass_started_ms);
}

static void test_lifecycle_rules(void **state)
{
    fixture *f = *state;
    const char *doc;
    assert_int_equal(meta_lifecycle_get(f->m, "b", f->a, &doc), META_NOT_FOUND);
    assert_int_equal(meta_lifecycle_put(f->m, "nope", "<x/>"), META_NOT_FOUND);
    assert_int_equal(meta_lifecycle_put(f->m, "b", "<a/>"), META_OK);
    assert_int_equal(meta_lifecycle_get(f->m, "b", f->a, &doc), META_OK);
    assert_string_equal(doc, "<a/>");
    assert_int_equal(meta_lifecycle_set_cursor(f->m, "b", "k/5", 77), META_OK);
    char s[256] = "";
    assert_int_equal(meta_lifecycle_list(f->m, "", 10, f->a, lc_names, s), META_OK);
    assert_string_equal(s, "b=k/5@77");
    /* replacing the rules restarts the pass */
    assert_int_equal(meta_lifecycle_put(f->m, "b", "<b/>"), META_OK);
    s[0] = 0;
    assert_int_equal(meta_lifecycle_list(f->m, "", 10, f->a, lc_names, s), META_OK);
    assert_string_equal(s, "b=@0");
    s[0] = 0;
    assert_int_equal(meta_lifecycle_list(f->m, "b", 10, f->a, lc_names, s), META_OK);
    assert_string_equal(s, "");
    /* the rules go with their bucket (trigger) */
    assert_int_equal(meta_bucket_delete(f->m, "b"), META_OK);
    assert_int_equal(meta_lifecycle_get(f->m, "b", f->a, &doc), META_NOT_FOUND);
    assert_int_equal(meta_lifecycle_set_cursor(f->m, "b", "", 1), META_NOT_FOUND);
    assert_int_equal(meta_lifecycle_delete(f->m, "b"), META_NOT_FOUND);
}

/* Conditional writes check the version they read inside their own transaction: of two that
 * read the same version only the first lands; the other changes nothing (META_STALE). */
static void test_object_put_if(void **state)
{
    fixture *f = *state;
    meta_object o = {.key = "c", .size = 1, .mtime_ms = 10, .headers = "", .inline_data = "1",
                     .storage_class = "STANDARD"};
    strcpy(o.etag, "e1");
    const meta_expect absent = {.absent = true}, v1 = {.etag = "e1", .mtime_ms = 10};
    assert_int_equal(meta_object_put_if(f->m, "b", &o, &v1), META_STALE);   /* nothing there yet */
    assert_int_equal(meta_object_put_if(f->m, "b", &o, &absent), META_OK);
    o.inline_data = "2";
    o.mtime_ms = 11;
    strcpy(o.etag, "e2");
    assert_int_equal(meta_object_put_if(f->m, "b", &o, &absent), META_STALE);
    assert_int_equal(meta_object_put_if(f->m, "b", &o, &(meta_expect){.etag = "e1", .mtime_ms = 9}), META_STALE);
    assert_int_equal(meta_object_put_if(f->m, "b", &o, &v1), META_OK);
    o.inline_data = "3";
    assert_int_equal(meta_object_put_if(f->m, "b", &o, &v1), META_STALE);   /* v1 is gone */
    meta_object got;
    assert_int_equal(meta_object_get(f->m, "b", "c", f->a, &got), META_OK);
    assert_string_equal(got.etag, "e2");
    assert_memory_equal(got.inline_data, "2", 1);
    assert_int_equal(meta_object_put_if(f->m, "nope", &o, &absent), META_NOT_FOUND);
    /* a Complete under the same rule */
    create_upload(f, "c", "U1", 1);
    assert_int_equal(part(f, "c", "U1", 1, 7), META_OK);
    meta_extent ext = {.size = 1};
    bid(7, ext.blob_id);
    meta_object m = {.key = "c", .size = 1, .mtime_ms = 12, .headers = "", .nextents = 1, .extents = &ext,
                     .parts_count = 1, .storage_class = "STANDARD"};
    strcpy(m.etag, "m-1");
    assert_int_equal(meta_upload_complete(f->m, "b", "U1", &m, &absent), META_STALE);
    assert_int_equal(meta_upload_complete(f->m, "b", "U1", &m, &(meta_expect){.etag = "e2", .mtime_ms = 11}), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "c", f->a, &got), META_OK);
    assert_string_equal(got.etag, "m-1");
}

static void test_object_conditional_changes(void **state)
{
    fixture *f = *state;
    assert_int_equal(put_extents(f->m, "k", 1, 2), META_OK);
    meta_object o;
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_int_equal(o.expire_ms, 0);
    assert_int_equal(o.restore_ready_ms, 0);
    /* a stale version is left alone */
    assert_int_equal(meta_object_delete_if(f->m, "b", "k", "x", 6), META_NOT_FOUND);
    assert_int_equal(meta_object_set_class(f->m, "b", "k", "other", 5, "IA", NULL, 0), META_NOT_FOUND);
    /* class only: the bytes stay */
    assert_int_equal(meta_object_set_class(f->m, "b", "k", "x", 5, "IA", NULL, 0), META_OK);
    assert_string_equal(gc_all(f), "");
    /* with new extents: old blobs queued, new ones referenced */
    meta_extent ne[2];
    for (int i = 0; i < 2; i++) {
        ne[i] = o.extents[i];
        bid(10 + i, ne[i].blob_id);
    }
    assert_int_equal(meta_object_set_class(f->m, "b", "k", "x", 5, "Archive", ne, 2), META_OK);
    assert_string_equal(gc_all(f), "1,2");
    assert_true(meta_blob_referenced(f->m, ne[0].blob_id));
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_string_equal(o.storage_class, "Archive");
    assert_int_equal(o.nextents, 2);
    assert_string_equal(o.extents[1].blob_id, ne[1].blob_id);
    assert_int_equal(o.extents[1].size, 101);
    /* restore: compare-and-set on the old ready time, Archive only */
    assert_int_equal(meta_object_set_restore(f->m, "b", "k", "x", 5, 0, 100, 200), META_OK);
    assert_int_equal(meta_object_set_restore(f->m, "b", "k", "x", 5, 0, 300, 400), META_NOT_FOUND);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_int_equal(o.restore_ready_ms, 100);
    assert_int_equal(o.restore_expiry_ms, 200);
    /* a class change forgets the restore */
    assert_int_equal(meta_object_set_class(f->m, "b", "k", "x", 5, "Archive", NULL, 0), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_int_equal(o.restore_ready_ms, 0);
    assert_int_equal(put_inline(f->m, "i", "d", 9), META_OK);
    assert_int_equal(meta_object_set_restore(f->m, "b", "i", "etag-i", 9, 0, 1, 2), META_NOT_FOUND);
    /* the conditional delete queues the blobs */
    assert_int_equal(meta_object_delete_if(f->m, "b", "k", "x", 5), META_OK);
    assert_string_equal(gc_all(f), "10,11");
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_NOT_FOUND);
}

static void due_names(void *cls, const char *bucket, const meta_object *o)
{
    char *s = cls;
    snprintf(s + strlen(s), 256 - strlen(s), "%s%s/%s", *s ? "," : "", bucket, o->key);
}

static void test_object_due(void **state)
{
    fixture *f = *state;
    meta_object o = {.key = "late", .size = 1, .mtime_ms = 5, .headers = "", .inline_data = "x", .expire_ms = 500};
    snprintf(o.etag, sizeof o.etag, "e");
    snprintf(o.storage_class, sizeof o.storage_class, "Standard");
    assert_int_equal(meta_object_put(f->m, "b", &o), META_OK);
    o.key = "soon";
    o.expire_ms = 100;
    assert_int_equal(meta_object_put(f->m, "b", &o), META_OK);
    assert_int_equal(put_inline(f->m, "never", "d", 9), META_OK);
    char s[256] = "";
    assert_int_equal(meta_object_due(f->m, 99, 10, f->a, due_names, s), META_OK);
    assert_string_equal(s, "");
    assert_int_equal(meta_object_due(f->m, 1000, 10, f->a, due_names, s), META_OK);
    assert_string_equal(s, "b/soon,b/late");
    s[0] = 0;
    assert_int_equal(meta_object_due(f->m, 1000, 1, f->a, due_names, s), META_OK);
    assert_string_equal(s, "b/soon");
    /* an overwrite without an expiry clears it */
    assert_int_equal(put_inline(f->m, "soon", "d", 9), META_OK);
    s[0] = 0;
    assert_int_equal(meta_object_due(f->m, 1000, 10, f->a, due_names, s), META_OK);
    assert_string_equal(s, "b/late");
}

/* --- reads after changes: the row cache never hides one ------------------------------------ */

/* Each kind of change, made right after the object was read (and so cached), is seen by the
 * very next read. */
static void test_object_reads_never_stale(void **state)
{
    fixture *f = *state;
    meta_object o;
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_NOT_FOUND);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_NOT_FOUND);   /* cached absence */
    assert_int_equal(put_inline(f->m, "k", "one", 10), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_memory_equal(o.inline_data, "one", 3);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_int_equal(put_inline(f->m, "k", "two!", 11), META_OK);           /* overwrite */
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_int_equal(o.size, 4);
    assert_memory_equal(o.inline_data, "two!", 4);
    assert_int_equal(o.mtime_ms, 11);
    assert_int_equal(meta_object_set_headers(f->m, "b", "k", "etag-k", 11, "x-new: 1\n"), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_string_equal(o.headers, "x-new: 1\n");
    assert_int_equal(meta_object_set_class(f->m, "b", "k", "etag-k", 11, "Archive", NULL, 0), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_string_equal(o.storage_class, "Archive");
    assert_int_equal(meta_object_set_restore(f->m, "b", "k", "etag-k", 11, 0, 100, 200), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_int_equal(o.restore_ready_ms, 100);
    assert_int_equal(meta_object_delete(f->m, "b", "k"), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_NOT_FOUND);
    assert_int_equal(put_extents(f->m, "k", 1, 2), META_OK);                /* back, in blobs */
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_int_equal(o.nextents, 2);
    assert_null(o.inline_data);
    assert_int_equal(meta_object_delete_if(f->m, "b", "k", "x", 5), META_OK);  /* lifecycle expiry */
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_NOT_FOUND);
    /* A multipart Complete onto a key whose absence was just read. */
    create_upload(f, "k", "U9", 1);
    assert_int_equal(part(f, "k", "U9", 1, 51), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_NOT_FOUND);
    int blobs[] = {51};
    assert_int_equal(complete(f, "k", "U9", blobs, 1), META_OK);
    assert_int_equal(meta_object_get(f->m, "b", "k", f->a, &o), META_OK);
    assert_int_equal(o.parts_count, 1);
    assert_string_equal(o.etag, "abc-1");
    gc_all(f);
}

/* A writer changes two objects step by step and publishes each step once its call returned;
 * readers on other threads check that no read made after a step was acknowledged shows a row
 * from before it. "k" is rewritten every step; "d" is written on two steps of three and
 * deleted on the third, so both stale rows and stale absences would show. */
typedef struct stale_race {
    meta_store *m;
    _Atomic int acked;
    _Atomic bool stop;
    int bad;
} stale_race;

enum { RACE_STEPS = 600 };

static void *race_writer(void *p)
{
    stale_race *r = p;
    char data[16];
    for (int s = 1; s <= RACE_STEPS; s++) {
        snprintf(data, sizeof data, "%05d", s);
        if (put_inline(r->m, "k", data, s) != META_OK) r->bad++;
        meta_status st = s % 3 == 0 ? meta_object_delete(r->m, "b", "d") : put_inline(r->m, "d", data, s);
        if (st != META_OK) r->bad++;
        atomic_store(&r->acked, s);
    }
    atomic_store(&r->stop, true);
    return NULL;
}

static int row_step(const meta_object *o) { return o->size == 5 ? atoi((const char *)o->inline_data) : -1; }

static void *race_reader(void *p)
{
    stale_race *r = p;
    arena *a = arena_new(4096);
    for (int i = 0; !atomic_load(&r->stop); i++) {
        meta_object o;
        int before = atomic_load(&r->acked);
        meta_status sk = meta_object_get(r->m, "b", "k", a, &o);
        if (before > 0 && (sk != META_OK || row_step(&o) < before)) r->bad++;
        before = atomic_load(&r->acked);
        meta_status sd = meta_object_get(r->m, "b", "d", a, &o);
        int after = atomic_load(&r->acked);
        if (sd == META_OK && row_step(&o) < before) r->bad++;
        if (sd == META_NOT_FOUND && before > 0) {
            /* Absent is right only if a delete was acknowledged or under way meanwhile. */
            bool deleted = false;
            for (int s = before; s <= after + 1; s++) deleted |= s % 3 == 0;
            if (!deleted) r->bad++;
        }
        if (sd != META_OK && sd != META_NOT_FOUND) r->bad++;
        if (i % 256 == 0) {
            arena_free(a);
            a = arena_new(4096);
        }
    }
    arena_free(a);
    return NULL;
}

static void stale_race_run(meta_store *m)
{
    stale_race r = {.m = m};
    pthread_t w, rd[4];
    assert_int_equal(pthread_create(&w, NULL, race_writer, &r), 0);
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&rd[i], NULL, race_reader, &r), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 4; i++) pthread_join(rd[i], NULL);
    assert_int_equal(r.bad, 0);
}

static void test_object_reads_never_stale_concurrent(void **state)
{
    fixture *f = *state;
    stale_race_run(f->m);
    /* Again on a durable store, where changes commit in batches. */
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/wosd-test-meta-XXXXXX");
    assert_non_null(mkdtemp(dir));
    meta_options opt = {.durable = true};
    meta_store *d;
    assert_int_equal(meta_open(dir, &opt, &d), META_OK);
    meta_bucket b = {.name = "b", .owner = "AK1", .region = "r1", .storage_class = "STANDARD"};
    assert_int_equal(meta_bucket_create(d, &b, NULL), META_OK);
    stale_race_run(d);
    meta_close(d);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bucket_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bucket_not_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_inline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_extents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_overwrite_and_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_delimiter_folding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_after_inside_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_max_and_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_bytewise_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_time_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_lifecycle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_complete_conflict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upload_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gc_take, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifecycle_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_put_if, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_conditional_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_due, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_reads_never_stale, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_reads_never_stale_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_puts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_mixed_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failing_changes_do_not_starve_a_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_live_threads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_changes_share_a_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_uploads_see_their_bucket_go, setup, teardown),
        cmocka_unit_test_setup_teardown(test_groups_among_single_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpointer_copies_the_log, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_starts_over_under_steady_commits, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
