/* test_blob — the file blob driver: write, commit, read, remove, scan, crash leftovers, and
 * that no id can name anything outside the blob directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/blob.h"

typedef struct fixture {
    char dir[64];
    blob_store *b;
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static int open_store(fixture *f, bool durable)
{
    return blob_open(f->dir, durable, &f->b);
}

static int setup_common(void **state, bool durable)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/wosd-test-blob-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    if (open_store(f, durable) != 0) return -1;
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_common(state, false); }
static int setup_durable(void **state) { return setup_common(state, true); }

static int teardown(void **state)
{
    fixture *f = *state;
    blob_close(f->b);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static int count_entries(const char *path)
{
    DIR *d = opendir(path);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Writes data in pieces of 7 bytes and commits it. */
static void put(fixture *f, const char *data, size_t n, char id[META_BLOB_ID_LEN + 1])
{
    blob_writer *w;
    assert_int_equal(blob_writer_new(f->b, &w), 0);
    for (size_t off = 0; off < n; off += 7)
        assert_int_equal(blob_write(w, data + off, n - off < 7 ? n - off : 7), 0);
    assert_int_equal(blob_writer_size(w), n);
    assert_int_equal(blob_writer_commit(w, id), 0);
}

static void read_back(fixture *f, const char *id, const char *want, size_t n)
{
    int fd;
    uint64_t size;
    assert_int_equal(blob_open_read(f->b, id, &fd, &size), 0);
    assert_int_equal(size, n);
    char *buf = malloc(n + 1);
    assert_int_equal(read(fd, buf, n + 1), (ssize_t)n);
    assert_memory_equal(buf, want, n);
    int flags = fcntl(fd, F_GETFD);
    assert_true(flags & FD_CLOEXEC);
    assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
    free(buf);
    close(fd);
}

static void test_commit_and_read(void **state)
{
    fixture *f = *state;
    const char data[] = "the quick brown fox jumps over the lazy dog";
    char id[META_BLOB_ID_LEN + 1];
    put(f, data, sizeof data - 1, id);
    assert_int_equal(strlen(id), 32);
    assert_int_equal(strspn(id, "0123456789ABCDEF"), 32);
    read_back(f, id, data, sizeof data - 1);

    /* Where the file lives, and that tmp/ is left empty. */
    char path[256];
    snprintf(path, sizeof path, "%s/blobs/%.2s/%s", f->dir, id, id);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/tmp", f->dir);
    assert_int_equal(count_entries(path), 0);

    /* Each commit gets its own id; an empty blob is a blob. */
    char id2[META_BLOB_ID_LEN + 1];
    put(f, "", 0, id2);
    assert_string_not_equal(id, id2);
    read_back(f, id2, "", 0);
}

static void test_durable_commit(void **state)
{
    fixture *f = *state;
    char big[100000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (char)(i * 31);
    char ids[20][META_BLOB_ID_LEN + 1];
    for (int i = 0; i < 20; i++) put(f, big, sizeof big - (size_t)i, ids[i]);
    for (int i = 0; i < 20; i++) read_back(f, ids[i], big, sizeof big - (size_t)i);
}

static void test_abort(void **state)
{
    fixture *f = *state;
    blob_writer *w;
    assert_int_equal(blob_writer_new(f->b, &w), 0);
    assert_int_equal(blob_write(w, "partial", 7), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/tmp", f->dir);
    assert_int_equal(count_entries(path), 1);
    blob_writer_abort(w);
    assert_int_equal(count_entries(path), 0);
    blob_writer_abort(NULL);
    int n = 0;
    snprintf(path, sizeof path, "%s/blobs", f->dir);
    DIR *d = opendir(path);
    struct dirent *de;
    char sub[512];
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        snprintf(sub, sizeof sub, "%s/%s", path, de->d_name);
        n += count_entries(sub);
    }
    closedir(d);
    assert_int_equal(n, 0);
}

static void test_remove(void **state)
{
    fixture *f = *state;
    char id[META_BLOB_ID_LEN + 1];
    put(f, "bytes", 5, id);
    assert_int_equal(blob_remove(f->b, id), 0);
    int fd;
    uint64_t size;
    assert_int_equal(blob_open_read(f->b, id, &fd, &size), -ENOENT);
    assert_int_equal(fd, -1);
    assert_int_equal(blob_remove(f->b, id), 0);   /* already gone: fine */
}

typedef struct seen {
    char ids[16][META_BLOB_ID_LEN + 1];
    int n;
} seen;

static void scan_cb(void *cls, const char *id)
{
    seen *s = cls;
    if (s->n < 16) snprintf(s->ids[s->n], sizeof s->ids[0], "%s", id);
    s->n++;
}

static bool seen_has(const seen *s, const char *id)
{
    for (int i = 0; i < s->n && i < 16; i++)
        if (!strcmp(s->ids[i], id)) return true;
    return false;
}

static void test_scan(void **state)
{
    fixture *f = *state;
    char ids[3][META_BLOB_ID_LEN + 1];
    for (int i = 0; i < 3; i++) put(f, "x", 1, ids[i]);
    /* Strays the scan must not report (so the scrub never removes them). */
    char path[512];
    snprintf(path, sizeof path, "%s/blobs/%.2s/junk", f->dir, ids[0]);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    snprintf(path, sizeof path, "%s/blobs/00", f->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/blobs/00/11111111111111111111111111111111", f->dir);
    fd = open(path, O_CREAT | O_WRONLY, 0600);   /* an id in the wrong fan-out directory */
    close(fd);
    snprintf(path, sizeof path, "%s/blobs/22", f->dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/blobs/22/22222222222222222222222222222222", f->dir);
    mkdir(path, 0700);   /* a directory where a blob could be */

    seen s = {0};
    time_t now = time(NULL);
    assert_int_equal(blob_scan(f->b, now + 10, scan_cb, &s), 0);
    assert_int_equal(s.n, 3);
    for (int i = 0; i < 3; i++) assert_true(seen_has(&s, ids[i]));

    /* Only files older than the cut-off: a blob written just now is not yet an orphan. */
    memset(&s, 0, sizeof s);
    assert_int_equal(blob_scan(f->b, now - 60, scan_cb, &s), 0);
    assert_int_equal(s.n, 0);
    snprintf(path, sizeof path, "%s/blobs/%.2s/%s", f->dir, ids[1], ids[1]);
    struct timespec old[2] = {{.tv_sec = now - 3600}, {.tv_sec = now - 3600}};
    assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
    assert_int_equal(blob_scan(f->b, now - 60, scan_cb, &s), 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.ids[0], ids[1]);
}

static void test_tmp_cleanup_on_open(void **state)
{
    fixture *f = *state;
    blob_writer *w;
    assert_int_equal(blob_writer_new(f->b, &w), 0);
    assert_int_equal(blob_write(w, "crash", 5), 0);
    char path[256];
    snprintf(path, sizeof path, "%s/tmp/leftover", f->dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    snprintf(path, sizeof path, "%s/tmp", f->dir);
    assert_int_equal(count_entries(path), 2);

    /* A "restart": the writer never committed; its file and the other leftover go. */
    char id[META_BLOB_ID_LEN + 1];
    put(f, "kept", 4, id);
    blob_store *old = f->b;
    assert_int_equal(open_store(f, false), 0);
    assert_int_equal(count_entries(path), 0);
    read_back(f, id, "kept", 4);
    blob_writer_abort(w);   /* its file is already gone: still fine */
    blob_close(old);
}

static void test_invalid_ids(void **state)
{
    fixture *f = *state;
    /* A file outside blobs/ that a path-walking id would reach. */
    char path[256];
    snprintf(path, sizeof path, "%s/secret", f->dir);
    int fd0 = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd0);
    const char *bad[] = {
        "../secret",
        "../../../../../../../etc/passwd",
        "0123456789abcdef0123456789abcdef",     /* lower case */
        "0123456789ABCDEF0123456789ABCDE",      /* 31 */
        "0123456789ABCDEF0123456789ABCDEF0",    /* 33 */
        "0123456789ABCDEF/123456789ABCDEF",
        "0123456789ABCDEF0123456789ABCDEG",
        "",
        NULL,
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int fd = 7;
        uint64_t size;
        assert_int_equal(blob_open_read(f->b, bad[i], &fd, &size), -EINVAL);
        assert_int_equal(fd, -1);
        assert_int_equal(blob_remove(f->b, bad[i]), -EINVAL);
    }
    struct stat st;
    assert_int_equal(stat(path, &st), 0);   /* untouched */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durable_commit, setup_durable, teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tmp_cleanup_on_open, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_ids, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
