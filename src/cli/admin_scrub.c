/* admin_scrub — `wosd admin scrub`: checks a stopped server's data directory, metadata against
 * bytes and bytes against metadata, and optionally repairs what can be repaired safely.
 *
 * Three passes, all through the store interfaces (meta.h, blob.h), so the check means the same
 * for any driver:
 *   1. every object row: its extents add up to its size; each extent's blob exists (else the row
 *      is *dangling*) and has the extent's size; a multipart ETag is the MD5 of the part MD5s;
 *      with --deep, each blob's MD5 equals the extent's ETag (and an inline object's bytes hash
 *      to its ETag). Every blob id a row names goes into a set.
 *   2. every upload in progress and its parts: the same checks on each part's blob.
 *   3. every blob file: one that no row names is an *orphan* (a crash between the blob's rename
 *      and the metadata commit leaves one), unless the gc queue holds it (the server removes
 *      those itself).
 * --repair removes orphan blobs, empties the gc queue, and deletes dangling object rows with
 * meta_object_delete — each one reported, never silently. Rows whose blob has the wrong size or
 * the wrong MD5 are reported but kept: their bytes may still be partly recoverable, and deleting
 * an object is the operator's decision. Dangling upload parts are reported (meta.h has no call to
 * delete a single part row; aborting the upload is the operator's choice).
 *
 * The scrub takes the data directory's lock (admin.h) and so never runs beside a server: with
 * nobody writing, a blob nothing names is certainly garbage, whatever its age.
 */
#include "cli/admin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/meta.h"
#include "util/arena.h"
#include "util/hash.h"
#include "util/log.h"

static const char usage_scrub[] =
    "Usage: wosd admin scrub --data DIR [--repair] [--deep] [--json]\n"
    "\n"
    "Checks a stopped server's data directory (refuses while a server holds DIR/lock):\n"
    "  - every object row: each blob it names exists and has the size the row says; the\n"
    "    extents add up to the object's size; a multipart ETag matches its parts;\n"
    "  - every upload in progress: each part's blob exists and has the part's size;\n"
    "  - every blob file: some row names it (else it is an orphan), or the gc queue holds it.\n"
    "\n"
    "  --data DIR   the data directory (required)\n"
    "  --deep       also read every byte: the MD5 of each blob must equal its ETag\n"
    "  --repair     remove orphan blobs and the blobs the gc queue holds; delete object rows\n"
    "               whose blobs are missing (each one reported). Rows with wrong sizes or\n"
    "               checksums are reported, never deleted.\n"
    "  --json       print the summary (and up to 1000 problems) as one JSON object\n"
    "\n"
    "Exit status: 0 clean (after any repair), 1 problems remain or the check failed,\n"
    "2 usage error.\n";

enum { ID_BYTES = META_BLOB_ID_LEN / 2, READ_CHUNK = 1 << 20, PAGE = 1000, JSON_PROBLEMS_MAX = 1000 };

/* --- a set of blob ids ---------------------------------------------------------------------- */

/* What the rows say about one blob id. */
enum { ID_EMPTY = 0, ID_NAMED = 1, ID_SHARED = 2, ID_RELEASED = 3 };

typedef struct idset {
    unsigned char (*ids)[ID_BYTES];
    unsigned char *state;
    size_t cap, used;   /* cap is a power of two */
} idset;

static bool parse_id(const char *id, unsigned char out[ID_BYTES])
{
    for (int i = 0; i < META_BLOB_ID_LEN; i++) {
        char ch = id[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F'))) return false;
    }
    return id[META_BLOB_ID_LEN] == 0 && hex_decode(id, META_BLOB_ID_LEN, out, ID_BYTES) == ID_BYTES;
}

/* The slot holding id, or the empty slot where it would go. Ids are random: their first bytes
 * are as good a hash as any. */
static size_t idset_slot(const idset *s, const unsigned char id[ID_BYTES])
{
    uint64_t h;
    memcpy(&h, id, sizeof h);
    size_t i = (size_t)h & (s->cap - 1);
    while (s->state[i] != ID_EMPTY && memcmp(s->ids[i], id, ID_BYTES) != 0) i = (i + 1) & (s->cap - 1);
    return i;
}

static bool idset_grow(idset *s)
{
    idset n = {.cap = s->cap ? s->cap * 2 : 1 << 12};
    n.ids = malloc(n.cap * sizeof *n.ids);
    n.state = calloc(n.cap, 1);
    if (!n.ids || !n.state) {
        free(n.ids);
        free(n.state);
        return false;
    }
    for (size_t i = 0; i < s->cap; i++) {
        if (s->state[i] == ID_EMPTY) continue;
        size_t j = idset_slot(&n, s->ids[i]);
        memcpy(n.ids[j], s->ids[i], ID_BYTES);
        n.state[j] = s->state[i];
        n.used++;
    }
    free(s->ids);
    free(s->state);
    *s = n;
    return true;
}

/* Records that a row names id; returns the id's state before (ID_EMPTY the first time), or -1
 * when out of memory. */
static int idset_name(idset *s, const unsigned char id[ID_BYTES])
{
    if ((s->used + 1) * 4 > s->cap * 3 && !idset_grow(s)) return -1;
    size_t i = idset_slot(s, id);
    int before = s->state[i];
    if (before == ID_EMPTY) {
        memcpy(s->ids[i], id, ID_BYTES);
        s->used++;
        s->state[i] = ID_NAMED;
    } else {
        s->state[i] = before == ID_RELEASED ? ID_NAMED : ID_SHARED;
    }
    return before;
}

/* A row that named id is gone (repair deleted it). */
static void idset_release(idset *s, const unsigned char id[ID_BYTES])
{
    if (!s->cap) return;
    size_t i = idset_slot(s, id);
    if (s->state[i] == ID_NAMED) s->state[i] = ID_RELEASED;
    else if (s->state[i] == ID_SHARED) s->state[i] = ID_NAMED;
}

static bool idset_named(const idset *s, const unsigned char id[ID_BYTES])
{
    if (!s->cap) return false;
    int st = s->state[idset_slot(s, id)];
    return st == ID_NAMED || st == ID_SHARED;
}

/* --- the scrub ------------------------------------------------------------------------------ */

typedef struct counts {
    long long buckets, objects, inline_objects, multipart_objects, uploads, parts;
    long long blobs, bytes, named_blobs, tmp_files;
    long long dangling_rows, dangling_rows_deleted, dangling_parts, size_mismatches, corrupt;
    long long orphan_blobs, orphan_bytes, orphan_blobs_removed, queued_blobs, queued_removed;
    long long shared_blobs, stale_refs, errors;
    long long deep_bytes;
} counts;

typedef struct scrub {
    const char *dir;
    bool repair, deep, json;
    meta_store *meta;
    blob_store *blobs;
    idset named;
    counts n;
    json_t *problems;          /* --json: the first JSON_PROBLEMS_MAX problems */
    long long problems_seen;
    unsigned char *buf;        /* READ_CHUNK bytes for --deep */
} scrub;

/* A key (or any stored string) made safe to print: control bytes (C0, DEL, and C1 as UTF-8
 * U+0080..U+009F), backslash and — when ascii is set — every byte above 0x7e as \xNN, so a
 * hostile key can neither forge report lines nor drive a terminal. Long values are cut. Returns a
 * static buffer (one caller at a time). */
static const char *printable(const char *s, bool ascii)
{
    static char out[4 * 1100 + 16];
    size_t o = 0;
    for (size_t i = 0; s && s[i]; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (o > sizeof out - 12) {   /* room for one escape (8), "..." and the NUL */
            memcpy(out + o, "...", 4);
            return out;
        }
        bool c1 = ch == 0xc2 && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9f;
        if (c1) {
            o += (size_t)snprintf(out + o, 9, "\\x%02x\\x%02x", ch, (unsigned char)s[i + 1]);
            i++;
        } else if (ch < 0x20 || ch == 0x7f || ch == '\\' || (ascii && ch > 0x7e))
            o += (size_t)snprintf(out + o, 5, "\\x%02x", ch);
        else
            out[o++] = (char)ch;
    }
    out[o] = 0;
    return out;
}

static void json_set_str(json_t *obj, const char *name, const char *value)
{
    json_t *v = json_string(value);
    if (!v) v = json_string(printable(value, true));   /* not UTF-8: escape the high bytes */
    json_object_set_new(obj, name, v);
}

/* Reports one problem: a line on stdout, or an entry in the JSON document. kind is one word
 * (dangling, size, corrupt, orphan, …); where names the row (bucket/key, upload) or is NULL. */
static void problem(scrub *sc, const char *kind, const char *bucket, const char *key,
                    const char *upload_id, const char *blob_id, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static void problem(scrub *sc, const char *kind, const char *bucket, const char *key,
                    const char *upload_id, const char *blob_id, const char *fmt, ...)
{
    char detail[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    sc->problems_seen++;
    if (sc->json) {
        if (json_array_size(sc->problems) >= JSON_PROBLEMS_MAX) return;
        json_t *p = json_object();
        json_set_str(p, "kind", kind);
        if (bucket) json_set_str(p, "bucket", bucket);
        if (key) json_set_str(p, "key", key);
        if (upload_id) json_set_str(p, "upload_id", upload_id);
        if (blob_id) json_set_str(p, "blob", blob_id);
        json_set_str(p, "detail", detail);
        json_array_append_new(sc->problems, p);
        return;
    }
    printf("%-9s", kind);
    if (bucket) printf(" %s", printable(bucket, false));
    if (key) printf("/%s", printable(key, false));
    if (upload_id) printf(" upload %s", printable(upload_id, false));
    if (blob_id) printf(" blob %s", printable(blob_id, false));
    printf(": %s\n", detail);
}

/* The MD5 of a whole file, as lower-case hex. 0 or -errno. */
static int md5_fd(scrub *sc, int fd, char hex[33])
{
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    hash_ctx *h = hash_new(HASH_MD5);
    off_t at = 0;
    for (;;) {
        ssize_t k = pread(fd, sc->buf, READ_CHUNK, at);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            int e = -errno;
            hash_discard(h);
            return e;
        }
        if (k == 0) break;
        hash_update(h, sc->buf, (size_t)k);
        at += k;
        sc->n.deep_bytes += k;
    }
    unsigned char d[MD5_LEN];
    hash_final(h, d);
    hex_encode(d, MD5_LEN, hex);
    /* Done with these pages: a deep scrub of a large store should not evict the page cache. */
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    return 0;
}

static bool etag_is_md5(const char *etag)
{
    if (strlen(etag) != 32) return false;
    for (int i = 0; i < 32; i++)
        if (!((etag[i] >= '0' && etag[i] <= '9') || (etag[i] >= 'a' && etag[i] <= 'f') ||
              (etag[i] >= 'A' && etag[i] <= 'F')))
            return false;
    return true;
}

/* What checking one blob against a row found. */
typedef enum { BLOB_OK, BLOB_MISSING, BLOB_BAD } blob_verdict;

/* Checks the blob a row names: exists, size, and with --deep the MD5 against want_md5 (when
 * that is an MD5). where/what name the row for the report. */
static blob_verdict check_blob(scrub *sc, const char *bucket, const char *key, const char *upload_id,
                               const char *what, const char *blob_id, int64_t size, const char *want_md5)
{
    unsigned char bin[ID_BYTES];
    if (!parse_id(blob_id, bin)) {
        sc->n.corrupt++;
        problem(sc, "corrupt", bucket, key, upload_id, NULL, "%s names an invalid blob id '%s'", what,
                printable(blob_id, true));
        return BLOB_BAD;
    }
    int before = idset_name(&sc->named, bin);
    if (before < 0) {
        sc->n.errors++;
        problem(sc, "error", bucket, key, upload_id, blob_id, "out of memory");
        return BLOB_BAD;
    }
    if (before == ID_NAMED || before == ID_SHARED) {
        /* meta.h: blobs are never shared between rows; a second owner would lose its bytes
         * when the first is deleted. */
        sc->n.shared_blobs++;
        problem(sc, "shared", bucket, key, upload_id, blob_id, "%s names a blob another row names too", what);
    }
    int fd;
    uint64_t have;
    int rc = blob_open_read(sc->blobs, blob_id, &fd, &have);
    if (rc == -ENOENT) {
        problem(sc, "dangling", bucket, key, upload_id, blob_id, "%s: the blob is missing", what);
        return BLOB_MISSING;
    }
    if (rc != 0) {
        sc->n.errors++;
        problem(sc, "error", bucket, key, upload_id, blob_id, "%s: cannot open the blob: %s", what,
                strerror(-rc));
        return BLOB_BAD;
    }
    blob_verdict v = BLOB_OK;
    if ((int64_t)have != size) {
        sc->n.size_mismatches++;
        problem(sc, "size", bucket, key, upload_id, blob_id, "%s: the blob has %llu bytes, the row says %lld",
                what, (unsigned long long)have, (long long)size);
        v = BLOB_BAD;
    } else if (sc->deep && want_md5 && etag_is_md5(want_md5)) {
        char got[33];
        rc = md5_fd(sc, fd, got);
        if (rc != 0) {
            sc->n.errors++;
            problem(sc, "error", bucket, key, upload_id, blob_id, "%s: read failed: %s", what, strerror(-rc));
            v = BLOB_BAD;
        } else if (strcasecmp(got, want_md5) != 0) {
            sc->n.corrupt++;
            problem(sc, "corrupt", bucket, key, upload_id, blob_id, "%s: the bytes hash to MD5 %s, the row says %s",
                    what, got, want_md5);
            v = BLOB_BAD;
        }
    }
    close(fd);
    return v;
}

/* The S3 multipart ETag of these extents: MD5 of the binary part MD5s, "-N". false when a
 * part's etag is not an MD5. */
static bool multipart_etag(const meta_extent *e, int n, char out[48])
{
    hash_ctx *h = hash_new(HASH_MD5);
    for (int i = 0; i < n; i++) {
        unsigned char d[MD5_LEN];
        if (!etag_is_md5(e[i].etag) || hex_decode(e[i].etag, 32, d, sizeof d) != MD5_LEN) {
            hash_discard(h);
            return false;
        }
        hash_update(h, d, sizeof d);
    }
    unsigned char d[MD5_LEN];
    char hex[33];
    hash_final(h, d);
    hex_encode(d, MD5_LEN, hex);
    snprintf(out, 48, "%s-%d", hex, n);
    return true;
}

static void check_object(scrub *sc, const char *bucket, const char *key)
{
    arena *a = arena_new(4096);
    meta_object o;
    meta_status st = meta_object_get(sc->meta, bucket, key, a, &o);
    if (st != META_OK) {
        if (st != META_NOT_FOUND) {
            sc->n.errors++;
            problem(sc, "error", bucket, key, NULL, NULL, "cannot read the object row");
        }
        arena_free(a);
        return;
    }
    sc->n.objects++;
    if (o.parts_count > 0) sc->n.multipart_objects++;
    if (o.nextents == 0) {
        sc->n.inline_objects++;
        if (sc->deep && etag_is_md5(o.etag) && o.size >= 0) {
            unsigned char d[MD5_LEN];
            char hex[33];
            md5(o.inline_data ? o.inline_data : "", (size_t)o.size, d);
            hex_encode(d, MD5_LEN, hex);
            sc->n.deep_bytes += o.size;
            if (strcasecmp(hex, o.etag) != 0) {
                sc->n.corrupt++;
                problem(sc, "corrupt", bucket, key, NULL, NULL, "inline bytes hash to MD5 %s, the ETag is %s", hex,
                        o.etag);
            }
        }
        arena_free(a);
        return;
    }

    /* Problems found in a row that repair then deletes are resolved with it. */
    long long size_before = sc->n.size_mismatches, corrupt_before = sc->n.corrupt;
    int64_t sum = 0;
    for (int i = 0; i < o.nextents; i++) sum += o.extents[i].size;
    if (sum != o.size) {
        sc->n.corrupt++;
        problem(sc, "corrupt", bucket, key, NULL, NULL, "the extents add up to %lld bytes, the object has %lld",
                (long long)sum, (long long)o.size);
    }
    if (o.parts_count > 0) {
        char want[48];
        if (o.parts_count != o.nextents || !multipart_etag(o.extents, o.nextents, want) ||
            strcasecmp(want, o.etag) != 0) {
            sc->n.corrupt++;
            problem(sc, "corrupt", bucket, key, NULL, NULL,
                    "the multipart ETag %s does not match its %d part(s) (%d extents)", o.etag, o.parts_count,
                    o.nextents);
        }
    }

    int missing = 0;
    for (int i = 0; i < o.nextents; i++) {
        const meta_extent *x = &o.extents[i];
        /* A single-extent object's bytes hash to its ETag unless it was copied from a multipart
         * object (ETag "md5-N"); the extent's own etag is the blob's MD5 either way. */
        const char *want = x->etag[0] ? x->etag : (o.nextents == 1 ? o.etag : NULL);
        char what[64];
        if (o.nextents == 1) snprintf(what, sizeof what, "object");
        else snprintf(what, sizeof what, "part %d of %d", i + 1, o.nextents);
        if (check_blob(sc, bucket, key, NULL, what, x->blob_id, x->size, want) == BLOB_MISSING) missing++;
        else if (sc->deep && o.nextents == 1 && etag_is_md5(o.etag) && x->etag[0] &&
                 strcasecmp(o.etag, x->etag) != 0) {
            sc->n.corrupt++;
            problem(sc, "corrupt", bucket, key, NULL, x->blob_id, "the ETag %s differs from its blob's MD5 %s",
                    o.etag, x->etag);
        }
    }
    if (missing) {
        sc->n.dangling_rows++;
        if (sc->repair) {
            st = meta_object_delete(sc->meta, bucket, key);
            if (st == META_OK) {
                sc->n.dangling_rows_deleted++;
                sc->n.size_mismatches = size_before;
                sc->n.corrupt = corrupt_before;
                /* Its other blobs are in the gc queue now, no longer named. */
                for (int i = 0; i < o.nextents; i++) {
                    unsigned char bin[ID_BYTES];
                    if (parse_id(o.extents[i].blob_id, bin)) idset_release(&sc->named, bin);
                }
                problem(sc, "repaired", bucket, key, NULL, NULL,
                        "deleted the object row: %d of its %d blob(s) missing, its bytes are lost", missing,
                        o.nextents);
            } else {
                sc->n.errors++;
                problem(sc, "error", bucket, key, NULL, NULL, "could not delete the dangling row");
            }
        }
    }
    arena_free(a);
}

/* --- pass 1: objects ------------------------------------------------------------------------ */

typedef struct name_list {
    char **v;
    size_t n, cap;
    bool oom;
} name_list;

static void name_add(name_list *l, const char *s)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 64;
        char **g = realloc(l->v, ncap * sizeof *g);
        if (!g) {
            l->oom = true;
            return;
        }
        l->v = g;
        l->cap = ncap;
    }
    char *d = strdup(s);
    if (!d) {
        l->oom = true;
        return;
    }
    l->v[l->n++] = d;
}

static void name_list_free(name_list *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void on_bucket(void *cls, const meta_bucket *b) { name_add(cls, b->name); }

static void on_object(void *cls, const char *common_prefix, const meta_object *o)
{
    if (!common_prefix && o) name_add(cls, o->key);
}

static void scan_objects(scrub *sc, const char *bucket)
{
    char *after = strdup("");
    for (bool more = true; more && after;) {
        arena *a = arena_new(64 * 1024);
        name_list keys = {0};
        const char *last = NULL;
        meta_list_query q = {.prefix = "", .after = after, .max = PAGE};
        meta_status st = meta_object_list(sc->meta, bucket, &q, a, on_object, &keys, &more, &last);
        if (st != META_OK || keys.oom) {
            sc->n.errors++;
            problem(sc, "error", bucket, NULL, NULL, NULL, "cannot list the objects after '%s'",
                    printable(after, true));
            more = false;
        }
        for (size_t i = 0; i < keys.n; i++) check_object(sc, bucket, keys.v[i]);
        free(after);
        after = more ? strdup(last ? last : "") : NULL;
        if (more && keys.n == 0) more = false;   /* no progress: never loop */
        name_list_free(&keys);
        arena_free(a);
    }
    free(after);
}

/* --- pass 2: uploads and parts ---------------------------------------------------------------- */

typedef struct upload_ref {
    char *key;
    char id[33];
} upload_ref;

typedef struct upload_page {
    upload_ref *v;
    size_t n;
    bool oom;
} upload_page;

static void on_upload(void *cls, const char *common_prefix, const meta_upload *u)
{
    upload_page *p = cls;
    if (common_prefix || !u) return;
    upload_ref *g = realloc(p->v, (p->n + 1) * sizeof *g);
    char *k = strdup(u->key);
    if (!g || !k) {
        if (g) p->v = g;
        free(k);
        p->oom = true;
        return;
    }
    p->v = g;
    p->v[p->n].key = k;
    snprintf(p->v[p->n].id, sizeof p->v[p->n].id, "%s", u->upload_id);
    p->n++;
}

typedef struct part_list {
    meta_part *v;
    size_t n;
    bool oom;
} part_list;

static void on_part(void *cls, const meta_part *p)
{
    part_list *l = cls;
    meta_part *g = realloc(l->v, (l->n + 1) * sizeof *g);
    if (!g) {
        l->oom = true;
        return;
    }
    l->v = g;
    l->v[l->n++] = *p;
}

static void check_upload(scrub *sc, const char *bucket, const upload_ref *u)
{
    part_list parts = {0};
    meta_status st = meta_part_list(sc->meta, bucket, u->key, u->id, 0, 0, on_part, &parts, NULL);
    if (st == META_NOT_FOUND) {
        free(parts.v);
        return;
    }
    sc->n.uploads++;
    if (st != META_OK || parts.oom) {
        sc->n.errors++;
        problem(sc, "error", bucket, u->key, u->id, NULL, "cannot list the upload's parts");
    }
    for (size_t i = 0; i < parts.n; i++) {
        const meta_part *p = &parts.v[i];
        char what[32];
        snprintf(what, sizeof what, "part %d", p->number);
        sc->n.parts++;
        if (check_blob(sc, bucket, u->key, u->id, what, p->blob_id, p->size, p->etag) == BLOB_MISSING)
            sc->n.dangling_parts++;
    }
    free(parts.v);
}

static void scan_uploads(scrub *sc, const char *bucket)
{
    char *kmark = strdup(""), idmark[33] = "";
    for (bool more = true; more && kmark;) {
        arena *a = arena_new(16 * 1024);
        upload_page page = {0};
        meta_upload_query q = {.prefix = "", .key_marker = kmark, .upload_id_marker = idmark, .max = PAGE};
        meta_status st = meta_upload_list(sc->meta, bucket, &q, a, on_upload, &page, &more);
        if (st != META_OK || page.oom) {
            sc->n.errors++;
            problem(sc, "error", bucket, NULL, NULL, NULL, "cannot list the uploads in progress");
            more = false;
        }
        for (size_t i = 0; i < page.n; i++) check_upload(sc, bucket, &page.v[i]);
        free(kmark);
        kmark = NULL;
        if (more && page.n > 0) {
            kmark = strdup(page.v[page.n - 1].key);
            snprintf(idmark, sizeof idmark, "%s", page.v[page.n - 1].id);
        } else {
            more = false;
        }
        for (size_t i = 0; i < page.n; i++) free(page.v[i].key);
        free(page.v);
        arena_free(a);
    }
    free(kmark);
}

/* --- pass 3: blobs -------------------------------------------------------------------------- */

static void on_blob(void *cls, const char *id)
{
    scrub *sc = cls;
    unsigned char bin[ID_BYTES];
    if (!parse_id(id, bin)) return;   /* blob_scan reports only ids */
    int fd;
    uint64_t size = 0;
    if (blob_open_read(sc->blobs, id, &fd, &size) == 0) close(fd);
    sc->n.blobs++;
    sc->n.bytes += (long long)size;
    if (idset_named(&sc->named, bin)) return;
    if (meta_blob_referenced(sc->meta, id)) {
        if (sc->repair) {
            /* The gc queue was emptied before this pass: a reference that remains is a blob_refs
             * row without an owner, which would keep these bytes forever. */
            sc->n.stale_refs++;
            problem(sc, "stale", NULL, NULL, NULL, id, "the metadata holds a reference to this blob, but no "
                    "object or part names it (%llu bytes never reclaimed)", (unsigned long long)size);
        } else {
            sc->n.queued_blobs++;   /* the gc queue's; the server removes them */
        }
        return;
    }
    sc->n.orphan_blobs++;
    sc->n.orphan_bytes += (long long)size;
    if (sc->repair) {
        int rc = blob_remove(sc->blobs, id);
        if (rc == 0) {
            sc->n.orphan_blobs_removed++;
            sc->n.blobs--;
            sc->n.bytes -= (long long)size;
            problem(sc, "repaired", NULL, NULL, NULL, id, "removed the orphan blob (%llu bytes, named by no row)",
                    (unsigned long long)size);
        } else {
            sc->n.errors++;
            problem(sc, "error", NULL, NULL, NULL, id, "cannot remove the orphan blob: %s", strerror(-rc));
        }
    } else {
        problem(sc, "orphan", NULL, NULL, NULL, id, "%llu bytes named by no row (--repair removes it)",
                (unsigned long long)size);
    }
}

/* --repair: does what the server's gc chore would, for every blob the queue holds. */
static void drain_gc(scrub *sc)
{
    char ids[256][META_BLOB_ID_LEN + 1];
    int n;
    while ((n = meta_gc_take(sc->meta, ids, 256)) > 0) {
        for (int i = 0; i < n; i++) {
            unsigned char bin[ID_BYTES];
            if (parse_id(ids[i], bin) && idset_named(&sc->named, bin)) {
                /* meta.h promises no row names a queued blob; keep the bytes and say so. */
                sc->n.corrupt++;
                problem(sc, "corrupt", NULL, NULL, NULL, ids[i], "queued for removal but still named by a row; kept");
                continue;
            }
            int rc = blob_remove(sc->blobs, ids[i]);
            if (rc == 0) {
                sc->n.queued_removed++;
            } else {
                /* Out of the queue now: the next scrub finds it as an orphan. */
                sc->n.errors++;
                problem(sc, "error", NULL, NULL, NULL, ids[i], "cannot remove the queued blob: %s", strerror(-rc));
            }
        }
    }
}

/* Files a crash left in DIR/tmp (blob_open removes them). */
static long long count_tmp(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tmp", dir);
    DIR *d = opendir(path);
    if (!d) return 0;
    long long n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* --- report --------------------------------------------------------------------------------- */

static long long remaining(const counts *n)
{
    return (n->dangling_rows - n->dangling_rows_deleted) + n->dangling_parts + n->size_mismatches + n->corrupt +
           (n->orphan_blobs - n->orphan_blobs_removed) + n->shared_blobs + n->stale_refs + n->errors;
}

static void print_summary(const scrub *sc)
{
    const counts *n = &sc->n;
    printf("scrub of %s%s\n", printable(sc->dir, false),
           sc->deep && sc->repair ? " (deep, repair)" : sc->deep ? " (deep)" : sc->repair ? " (repair)" : "");
    printf("  buckets             %lld\n", n->buckets);
    printf("  objects             %lld (%lld inline, %lld multipart)\n", n->objects, n->inline_objects,
           n->multipart_objects);
    printf("  uploads             %lld (%lld parts)\n", n->uploads, n->parts);
    printf("  blobs               %lld (%lld bytes)\n", n->blobs, n->bytes);
    if (sc->deep) printf("  bytes hashed        %lld\n", n->deep_bytes);
    printf("  dangling rows       %lld", n->dangling_rows);
    if (sc->repair) printf(" (%lld deleted)", n->dangling_rows_deleted);
    printf("\n  dangling parts      %lld\n", n->dangling_parts);
    printf("  size mismatches     %lld\n", n->size_mismatches);
    printf("  corrupt             %lld\n", n->corrupt);
    printf("  orphan blobs        %lld (%lld bytes)", n->orphan_blobs, n->orphan_bytes);
    if (sc->repair) printf(" (%lld removed)", n->orphan_blobs_removed);
    printf("\n");
    if (sc->repair) printf("  gc queue emptied    %lld blob(s) removed\n", n->queued_removed);
    else printf("  queued for removal  %lld\n", n->queued_blobs);
    if (n->shared_blobs) printf("  shared blobs        %lld\n", n->shared_blobs);
    if (n->stale_refs) printf("  stale references    %lld\n", n->stale_refs);
    if (n->tmp_files) printf("  temporary files     %lld (removed)\n", n->tmp_files);
    if (n->errors) printf("  errors              %lld\n", n->errors);
    long long left = remaining(n);
    if (left) printf("result: %lld problem(s) remain\n", left);
    else printf("result: clean\n");
}

static void print_json(scrub *sc)
{
    const counts *n = &sc->n;
    json_t *j = json_object();
    json_set_str(j, "data", sc->dir);
    json_object_set_new(j, "deep", json_boolean(sc->deep));
    json_object_set_new(j, "repair", json_boolean(sc->repair));
#define NUM(field) json_object_set_new(j, #field, json_integer(n->field))
    NUM(buckets); NUM(objects); NUM(inline_objects); NUM(multipart_objects); NUM(uploads); NUM(parts);
    NUM(blobs); NUM(bytes); NUM(named_blobs); NUM(deep_bytes); NUM(tmp_files);
    NUM(dangling_rows); NUM(dangling_rows_deleted); NUM(dangling_parts); NUM(size_mismatches); NUM(corrupt);
    NUM(orphan_blobs); NUM(orphan_bytes); NUM(orphan_blobs_removed); NUM(queued_blobs); NUM(queued_removed);
    NUM(shared_blobs); NUM(stale_refs); NUM(errors);
#undef NUM
    long long left = remaining(n);
    json_object_set_new(j, "problems_remaining", json_integer(left));
    json_object_set_new(j, "clean", json_boolean(left == 0));
    json_object_set_new(j, "problems", sc->problems);
    json_object_set_new(j, "problems_truncated", json_boolean(sc->problems_seen > JSON_PROBLEMS_MAX));
    sc->problems = NULL;
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) puts(s);
    free(s);
    json_decref(j);
}

/* --- entry ---------------------------------------------------------------------------------- */

int admin_scrub(int argc, char **argv)
{
    scrub sc = {0};
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'}, {"repair", no_argument, 0, 'r'}, {"deep", no_argument, 0, 'D'},
        {"json", no_argument, 0, 'j'},       {"help", no_argument, 0, 'h'},   {0, 0, 0, 0},
    };
    optind = 1;
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'd': sc.dir = optarg; break;
        case 'r': sc.repair = true; break;
        case 'D': sc.deep = true; break;
        case 'j': sc.json = true; break;
        case 'h': fputs(usage_scrub, stdout); return 0;
        default: fputs(usage_scrub, stderr); return 2;
        }
    }
    if (optind < argc || !sc.dir || !*sc.dir) {
        if (optind < argc) fprintf(stderr, "wosd admin scrub: unexpected argument '%s'\n", argv[optind]);
        else fprintf(stderr, "wosd admin scrub: --data DIR is required\n");
        fputs(usage_scrub, stderr);
        return 2;
    }

    /* A directory that holds no metadata is not a data directory: say so instead of creating an
     * empty store in it (meta_open and blob_open create what is missing). */
    char path[4096];
    struct stat st;
    if (stat(sc.dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "wosd admin scrub: %s is not a directory\n", sc.dir);
        return 1;
    }
    snprintf(path, sizeof path, "%s/meta.db", sc.dir);
    if (stat(path, &st) != 0) {
        fprintf(stderr, "wosd admin scrub: %s holds no metadata (no meta.db): not a wosd data directory\n", sc.dir);
        return 1;
    }
    char err[4400];
    int lock = admin_lock_data_dir(sc.dir, err, sizeof err);
    if (lock < 0) {
        fprintf(stderr, "wosd admin scrub: %s\n", err);
        return 1;
    }
    sc.n.tmp_files = count_tmp(sc.dir);
    meta_options mo = {.durable = true};
    if (meta_open(sc.dir, &mo, &sc.meta) != META_OK) {
        fprintf(stderr, "wosd admin scrub: cannot open the metadata in %s (see the log line above)\n", sc.dir);
        close(lock);
        return 1;
    }
    int rc = blob_open(sc.dir, true, &sc.blobs);
    if (rc != 0) {
        fprintf(stderr, "wosd admin scrub: cannot open the blob store in %s: %s\n", sc.dir, strerror(-rc));
        meta_close(sc.meta);
        close(lock);
        return 1;
    }
    sc.buf = malloc(READ_CHUNK);
    sc.problems = json_array();
    if (!sc.buf || !sc.problems) {
        fprintf(stderr, "wosd admin scrub: out of memory\n");
        free(sc.buf);
        json_decref(sc.problems);
        blob_close(sc.blobs);
        meta_close(sc.meta);
        close(lock);
        return 1;
    }

    name_list buckets = {0};
    if (meta_bucket_list(sc.meta, on_bucket, &buckets) != META_OK || buckets.oom) {
        sc.n.errors++;
        problem(&sc, "error", NULL, NULL, NULL, NULL, "cannot list the buckets");
    }
    sc.n.buckets = (long long)buckets.n;
    for (size_t i = 0; i < buckets.n; i++) scan_objects(&sc, buckets.v[i]);
    for (size_t i = 0; i < buckets.n; i++) scan_uploads(&sc, buckets.v[i]);
    name_list_free(&buckets);
    sc.n.named_blobs = (long long)sc.named.used;

    if (sc.repair) drain_gc(&sc);
    /* Nobody writes while we hold the lock: every blob counts, whatever its age. */
    rc = blob_scan(sc.blobs, INT64_MAX, on_blob, &sc);
    if (rc != 0) {
        sc.n.errors++;
        problem(&sc, "error", NULL, NULL, NULL, NULL, "cannot scan the blobs: %s", strerror(-rc));
    }

    if (sc.json) print_json(&sc);
    else print_summary(&sc);
    fflush(stdout);

    long long left = remaining(&sc.n);
    json_decref(sc.problems);
    free(sc.buf);
    free(sc.named.ids);
    free(sc.named.state);
    blob_close(sc.blobs);
    meta_close(sc.meta);
    close(lock);
    return left ? 1 : 0;
}
