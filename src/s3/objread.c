/* objread — getting an object's bytes out: from the metadata row (inline), one blob (sent with
 * sendfile), or the extents of a completed multipart upload walked in order; plus the
 * conditional-request and copy-source rules shared by GET, HEAD and the copies. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s3/s3_internal.h"
#include "util/log.h"
#include "util/str.h"
#include "util/timefmt.h"

/* --- multi-extent reader -------------------------------------------------------------------- */

typedef struct ext_reader {
    blob_store *blobs;
    int n;
    meta_extent *ext;          /* a private copy: the request arena may go first */
    int64_t *start;            /* object offset of each extent */
    int64_t off;               /* object offset of the body's first byte */
    int cur;                   /* extent whose fd is open, or -1 */
    int fd;
} ext_reader;

static void ext_reader_free(void *cls)
{
    ext_reader *r = cls;
    if (r->fd >= 0) close(r->fd);
    free(r->ext);
    free(r->start);
    free(r);
}

static long ext_reader_read(void *cls, uint64_t pos, char *out, size_t max)
{
    ext_reader *r = cls;
    int64_t at = r->off + (int64_t)pos;
    int i = 0;
    while (i < r->n && at >= r->start[i] + r->ext[i].size) i++;
    if (i == r->n) return 0;
    if (r->cur != i) {
        if (r->fd >= 0) close(r->fd);
        uint64_t size;
        r->fd = -1;
        if (blob_open_read(r->blobs, r->ext[i].blob_id, &r->fd, &size)) {
            log_error("blob %s missing or unreadable", r->ext[i].blob_id);
            return -1;
        }
        r->cur = i;
    }
    int64_t within = at - r->start[i];
    size_t want = max;
    if ((int64_t)want > r->ext[i].size - within) want = (size_t)(r->ext[i].size - within);
    ssize_t got;
    do got = pread(r->fd, out, want, within);
    while (got < 0 && errno == EINTR);
    if (got <= 0) {
        /* A short blob would mean wrong bytes: end the connection instead. */
        log_error("blob %s: short read at %lld", r->ext[i].blob_id, (long long)within);
        return -1;
    }
    return got;
}

s3_err s3_object_body(s3_req *q, const meta_object *o, int64_t off, int64_t len)
{
    if (o->nextents == 0) {
        char *b = malloc(len > 0 ? (size_t)len : 1);
        if (!b) return S3E_InternalError;
        if (len) memcpy(b, (const char *)o->inline_data + off, (size_t)len);
        http_resp_body_buf(q->http, b, (size_t)len);
        return S3E_OK;
    }
    if (o->nextents == 1) {
        int fd;
        uint64_t size;
        if (blob_open_read(q->cfg->blobs, o->extents[0].blob_id, &fd, &size)) {
            log_error("request %s: blob %s of %s/%s is missing", q->request_id, o->extents[0].blob_id,
                      q->bucket, o->key);
            return S3E_InternalError;
        }
        if ((int64_t)size != o->extents[0].size) {
            close(fd);
            log_error("request %s: blob %s has %llu bytes, metadata says %lld", q->request_id,
                      o->extents[0].blob_id, (unsigned long long)size, (long long)o->extents[0].size);
            return S3E_InternalError;
        }
        http_resp_body_fd(q->http, fd, (uint64_t)off, (uint64_t)len);
        return S3E_OK;
    }
    ext_reader *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->ext = malloc((size_t)o->nextents * sizeof *r->ext);
    r->start = malloc((size_t)o->nextents * sizeof *r->start);
    if (!r->ext || !r->start) abort();
    memcpy(r->ext, o->extents, (size_t)o->nextents * sizeof *r->ext);
    int64_t at = 0;
    for (int i = 0; i < o->nextents; i++) {
        r->start[i] = at;
        at += o->extents[i].size;
    }
    r->blobs = q->cfg->blobs;
    r->n = o->nextents;
    r->off = off;
    r->cur = -1;
    r->fd = -1;
    http_resp_body_reader(q->http, (uint64_t)len, ext_reader_read, r, ext_reader_free);
    return S3E_OK;
}

s3_err s3_object_copy_into(s3_req *q, const meta_object *o, int64_t off, int64_t len, objw *w)
{
    if (o->nextents == 0) return objw_write(w, (const char *)o->inline_data + off, (size_t)len);
    enum { CHUNK = 256 * 1024 };
    char *chunk = malloc(CHUNK);
    if (!chunk) return S3E_InternalError;
    s3_err e = S3E_OK;
    int64_t start = 0;
    for (int i = 0; i < o->nextents && len > 0; i++) {
        const meta_extent *x = &o->extents[i];
        int64_t end = start + x->size;
        if (off < end) {
            int fd;
            uint64_t size;
            if (blob_open_read(q->cfg->blobs, x->blob_id, &fd, &size)) {
                e = S3E_InternalError;
                break;
            }
            int64_t within = off - start;
            while (len > 0 && within < x->size) {
                size_t want = CHUNK;
                if ((int64_t)want > x->size - within) want = (size_t)(x->size - within);
                if ((int64_t)want > len) want = (size_t)len;
                ssize_t got = pread(fd, chunk, want, within);
                if (got < 0 && errno == EINTR) continue;
                if (got <= 0) {
                    e = S3E_InternalError;
                    break;
                }
                if ((e = objw_write(w, chunk, (size_t)got))) break;
                within += got;
                off += got;
                len -= got;
            }
            close(fd);
            if (e) break;
        }
        start = end;
    }
    free(chunk);
    return e;
}

/* --- conditions ----------------------------------------------------------------------------- */

/* Whether an If-Match / If-None-Match list names this ETag ("*" names any). */
static bool etag_listed(const char *list, const char *etag)
{
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && p[n - 1] == ' ') n--;
        if (n >= 2 && p[0] == 'W' && p[1] == '/') { p += 2; n -= 2; }
        if (n >= 2 && p[0] == '"' && p[n - 1] == '"') { p++; n -= 2; }
        if ((n == 1 && *p == '*') || (n == strlen(etag) && strncmp(p, etag, n) == 0)) return true;
        p = end ? end + 1 : p + n;
        if (!end) break;
    }
    return false;
}

s3_err s3_conditions(const char *if_match, const char *if_none_match, const char *if_modified_since,
                     const char *if_unmodified_since, const char *etag, int64_t mtime_ms)
{
    int64_t mtime = mtime_ms / 1000, t;
    if (if_match) {
        if (!etag_listed(if_match, etag)) return S3E_PreconditionFailed;
    } else if (if_unmodified_since && time_parse(if_unmodified_since, &t) && mtime > t) {
        return S3E_PreconditionFailed;
    }
    if (if_none_match) {
        if (etag_listed(if_none_match, etag)) return S3E_NotModified;
    } else if (if_modified_since && time_parse(if_modified_since, &t) && mtime <= t) {
        return S3E_NotModified;
    }
    return S3E_OK;
}

s3_err s3_write_conditions(s3_req *q, const meta_expect **x)
{
    if (x) *x = NULL;
    const char *inm = http_header(q->http, "If-None-Match");
    const char *im = http_header(q->http, "If-Match");
    if (!inm && !im) return S3E_OK;
    /* What S3 answers too, whether or not the object exists. */
    if (inm && strcmp(inm, "*") != 0) return s3_fail(q, S3E_NotImplemented, "If-None-Match accepts only '*' on writes.");
    meta_object o;
    meta_status st = meta_object_get(q->cfg->meta, q->bucket, q->key, q->a, &o);
    if (st != META_OK && st != META_NOT_FOUND) return S3E_InternalError;
    if (inm && st == META_OK) return S3E_PreconditionFailed;
    if (im) {
        if (st == META_NOT_FOUND) return S3E_NoSuchKey;
        if (s3_conditions(im, NULL, NULL, NULL, o.etag, o.mtime_ms)) return S3E_PreconditionFailed;
    }
    if (x) {
        meta_expect *e = arena_alloc(q->a, sizeof *e);
        e->absent = st == META_NOT_FOUND;
        e->etag = e->absent ? NULL : arena_strdup(q->a, o.etag);
        e->mtime_ms = o.mtime_ms;
        *x = e;
    }
    return S3E_OK;
}

s3_err s3_copy_source(s3_req *q, const char **bucket, const char **key)
{
    const char *src = s3_xhdr(q, "copy-source");
    if (!src) return S3E_InvalidArgument;
    size_t n = strlen(src);
    const char *qm = strchr(src, '?');
    if (qm) {
        /* Only the null version exists on an unversioned bucket. */
        if (strcmp(qm, "?versionId=null") != 0)
            return s3_fail(q, S3E_NotImplemented, "Versioning is not supported.");
        n = (size_t)(qm - src);
    }
    size_t dlen;
    char *dec = url_decode(q->a, src, n, false, &dlen);
    if (!dec || dlen != strlen(dec))
        return s3_fail(q, S3E_InvalidArgument, "Invalid copy source encoding.");
    if (*dec == '/') dec++;
    char *slash = strchr(dec, '/');
    if (!slash || slash == dec || !slash[1])
        return s3_fail(q, S3E_InvalidArgument, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey");
    *slash = 0;
    if (strlen(slash + 1) > S3_MAX_KEY) return S3E_KeyTooLongError;
    if (!utf8_valid(slash + 1, strlen(slash + 1)))
        return s3_fail(q, S3E_InvalidArgument, "Invalid copy source encoding.");
    *bucket = dec;
    *key = slash + 1;
    return S3E_OK;
}
