/* objw — one object body on its way in: hashed (MD5 for the ETag, and the checksum the client
 * asked for) as it streams, kept in memory when small enough to live in the metadata row,
 * otherwise written to a blob. Memory stays bounded whatever the size. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_internal.h"
#include "util/checksum.h"
#include "util/md5mb.h"
#include "util/log.h"
#include "util/str.h"
#include "util/timefmt.h"

/* Bodies up to this size are stored inline in the metadata row: one transaction, no file. */
#define INLINE_MAX (32 * 1024)

/* Bodies from this size on hash their MD5 together with other uploads in flight (md5mb.h):
 * below it a body is mostly the tail a stream hashes alone anyway. */
#define MULTI_MD5_MIN (1024 * 1024)

struct objw {
    s3_req *q;
    hash_ctx *md5;
    md5mb_stream *mb;           /* instead of md5, for large bodies while the set has room */
    int64_t expected, size;
    bool inline_ok;
    buf mem;
    blob_writer *bw;
    bool committed;
    char blob_id[META_BLOB_ID_LEN + 1];
    bool has_content_md5;
    unsigned char content_md5[16];
    checksum cks;
    const char *cks_expected;   /* header value, or NULL (then maybe a trailer) */
    const char *cks_trailer;    /* trailer name announced in x-amz-trailer */
    char cks_value[64];
    int tier;                   /* the blob tier of the object's storage class (blob.h) */
    bool has_expiry;
    int64_t expiry_days;        /* x-wos-delete-after-days: the object expires this long after its write */
};

static s3_err io_error(objw *w, int err)
{
    log_error("request %s: blob write failed: %s", w->q->request_id, strerror(-err));
    return s3_fail(w->q, S3E_InternalError, err == -ENOSPC ? "No space left on the storage device." : NULL);
}

static s3_err want_checksums(objw *w)
{
    s3_req *q = w->q;
    checksum_alg alg = CKS_NONE;
    const char *name = http_header(q->http, "x-amz-checksum-algorithm");
    if (!name) name = http_header(q->http, "x-amz-sdk-checksum-algorithm");
    if (name) {
        alg = checksum_alg_from_name(name);
        if (alg == CKS_NONE)
            return s3_fail(q, S3E_InvalidRequest, "Value for x-amz-checksum-algorithm header is invalid.");
    }
    static const checksum_alg all[] = {CKS_CRC32, CKS_CRC32C, CKS_CRC64NVME, CKS_SHA1, CKS_SHA256};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *v = http_header(q->http, checksum_header(all[i]));
        if (!v) continue;
        if (alg != CKS_NONE && alg != all[i])
            return s3_fail(q, S3E_InvalidRequest, "Expecting a single x-amz-checksum- header.");
        alg = all[i];
        w->cks_expected = v;
    }
    const char *trailer = http_header(q->http, "x-amz-trailer");
    if (trailer) {
        checksum_alg t = CKS_NONE;
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
            if (strcasecmp(trailer, checksum_header(all[i])) == 0) t = all[i];
        if (t == CKS_NONE) return s3_fail(q, S3E_InvalidRequest, "The value specified in the x-amz-trailer header is not supported.");
        alg = t;
        w->cks_trailer = checksum_header(t);
    }
    if (alg != CKS_NONE) checksum_init(&w->cks, alg);
    return S3E_OK;
}

s3_err objw_new(s3_req *q, int64_t expected, bool inline_ok, objw **out)
{
    return objw_new_for(q, expected, inline_ok, "Standard", out);
}

s3_err objw_new_for(s3_req *q, int64_t expected, bool inline_ok, const char *storage_class, objw **out)
{
    objw *w = arena_alloc(q->a, sizeof *w);
    w->q = q;
    w->tier = s3_class_tier(storage_class);
    w->expected = expected;
    w->inline_ok = inline_ok;
    const char *cm = http_header(q->http, "Content-MD5");
    if (cm) {
        if (base64_decode(cm, strlen(cm), w->content_md5, 16) != 16) return S3E_InvalidDigest;
        w->has_content_md5 = true;
    }
    s3_err e = want_checksums(w);
    if (e) {
        checksum_discard(&w->cks);
        return e;
    }
    if (expected < 0 || expected >= MULTI_MD5_MIN) w->mb = md5mb_new();
    if (!w->mb) w->md5 = hash_new(HASH_MD5);
    if (!inline_ok || expected > INLINE_MAX) {
        int rc = blob_writer_new_in(q->cfg->blobs, w->tier, &w->bw);
        if (rc) {
            objw_abort(w);
            return io_error(w, rc);
        }
    }
    *out = w;
    return S3E_OK;
}

s3_err objw_write(objw *w, const char *data, size_t n)
{
    if (w->size + (int64_t)n > S3_MAX_OBJECT_PUT) return S3E_EntityTooLarge;
    if (w->expected >= 0 && w->size + (int64_t)n > w->expected) return S3E_IncompleteBody;
    if (w->mb) md5mb_update(w->mb, data, n);
    else hash_update(w->md5, data, n);
    if (w->cks.alg != CKS_NONE) checksum_update(&w->cks, data, n);
    w->size += (int64_t)n;
    if (!w->bw && w->mem.len + n > INLINE_MAX) {
        /* Outgrew the inline limit (length was not announced): move to a blob. */
        int rc = blob_writer_new_in(w->q->cfg->blobs, w->tier, &w->bw);
        if (!rc && w->mem.len) rc = blob_write(w->bw, w->mem.data, w->mem.len);
        buf_free(&w->mem);
        if (rc) return io_error(w, rc);
    }
    if (w->bw) {
        int rc = blob_write(w->bw, data, n);
        if (rc) return io_error(w, rc);
    } else {
        buf_append(&w->mem, data, n);
    }
    return S3E_OK;
}

s3_err objw_finish(objw *w, objw_result *res)
{
    memset(res, 0, sizeof *res);
    if (w->expected >= 0 && w->size != w->expected) return S3E_IncompleteBody;
    if (w->mb) md5mb_final(w->mb, res->md5);
    else hash_final(w->md5, res->md5);
    w->mb = NULL;
    w->md5 = NULL;
    hex_encode(res->md5, 16, res->etag);
    res->size = w->size;
    if (w->cks.alg != CKS_NONE) checksum_final_b64(&w->cks, w->cks_value);
    if (w->bw) {
        int rc = blob_writer_commit(w->bw, w->blob_id);
        w->bw = NULL;
        if (rc) return io_error(w, rc);
        w->committed = true;
        memcpy(res->blob_id, w->blob_id, sizeof res->blob_id);
    } else {
        res->inline_data = w->mem.data ? arena_memdup(w->q->a, w->mem.data, w->mem.len) : "";
        buf_free(&w->mem);
    }
    return S3E_OK;
}

const char *objw_checksum(objw *w, const char **header)
{
    if (!w->cks_value[0]) return NULL;
    *header = checksum_header(w->cks.alg);
    return w->cks_value;
}

s3_err objw_verify(objw *w, const objw_result *res)
{
    s3_req *q = w->q;
    if (w->has_content_md5 && memcmp(w->content_md5, res->md5, 16) != 0)
        /* WOS documents a Content-MD5 mismatch as a signature failure; S3 as BadDigest. */
        return q->dialect == DIALECT_WOS ? S3E_SignatureDoesNotMatch : S3E_BadDigest;
    if (w->cks_value[0]) {
        const char *expected = w->cks_expected;
        if (!expected && w->cks_trailer && q->chunked) expected = aws_chunked_trailer(q->chunked, w->cks_trailer);
        if (w->cks_trailer && !expected)
            return s3_fail(q, S3E_InvalidRequest, "The trailer announced in x-amz-trailer was not sent.");
        if (expected && strcmp(expected, w->cks_value) != 0)
            return s3_fail(q, S3E_BadDigest,
                           arena_printf(q->a, "The %s you specified did not match the calculated checksum.",
                                        checksum_alg_name(w->cks.alg)));
    }
    return S3E_OK;
}

void objw_abort(objw *w)
{
    if (!w) return;
    hash_discard(w->md5);
    w->md5 = NULL;
    md5mb_discard(w->mb);
    w->mb = NULL;
    checksum_discard(&w->cks);
    blob_writer_abort(w->bw);
    w->bw = NULL;
    if (w->committed) blob_remove(w->q->cfg->blobs, w->blob_id);
    w->committed = false;
    buf_free(&w->mem);
}

bool objw_is_inline(const objw *w)
{
    return !w->bw && w->expected >= 0 && w->expected <= INLINE_MAX;
}

void objw_set_expiry(objw *w, int64_t days)
{
    w->has_expiry = days >= 0;
    w->expiry_days = days;
}

void objw_keep(objw *w)
{
    if (w) w->committed = false;
}

static s3_err commit_as(objw *w, const objw_result *res, const char *key, const char *etag,
                        const char *storage_class, const char *headers, const meta_expect *x,
                        int64_t *mtime_ms)
{
    s3_req *q = w->q;
    meta_extent ext = {0};
    meta_object o = {.key = key, .size = res->size, .mtime_ms = time_now_ms(), .headers = headers};
    snprintf(o.etag, sizeof o.etag, "%s", etag ? etag : res->etag);
    snprintf(o.storage_class, sizeof o.storage_class, "%s", storage_class);
    if (w->has_expiry) o.expire_ms = o.mtime_ms + w->expiry_days * q->cfg->day_ms;
    if (res->inline_data) {
        o.inline_data = res->inline_data;
    } else {
        memcpy(ext.blob_id, res->blob_id, sizeof ext.blob_id);
        ext.size = res->size;
        memcpy(ext.etag, res->etag, sizeof ext.etag);
        o.nextents = 1;
        o.extents = &ext;
    }
    meta_status st = meta_object_put_if(q->cfg->meta, q->bucket, &o, x);
    if (st == META_NOT_FOUND) return S3E_NoSuchBucket;   /* deleted while the body arrived */
    if (st == META_STALE) return S3E_PreconditionFailed;   /* written meanwhile by another request */
    if (st != META_OK) return S3E_InternalError;
    objw_keep(w);
    if (mtime_ms) *mtime_ms = o.mtime_ms;
    return S3E_OK;
}

s3_err objw_commit_object(objw *w, const objw_result *res, const char *key, const char *etag,
                          const char *storage_class, const char *headers, int64_t *mtime_ms)
{
    return commit_as(w, res, key, etag, storage_class, headers, NULL, mtime_ms);
}

s3_err objw_commit_object_if(objw *w, const objw_result *res, const char *key, const char *etag,
                             const char *storage_class, const char *headers, int64_t *mtime_ms)
{
    for (int attempt = 0;; attempt++) {
        const meta_expect *x;
        s3_err e = s3_write_conditions(w->q, &x);
        if (!e) e = commit_as(w, res, key, etag, storage_class, headers, x, mtime_ms);
        /* Written meanwhile by another request: the conditions are asked again of what is there
         * now (an If-Match list may name the new version too; a deleted key is NoSuchKey). */
        if (e == S3E_PreconditionFailed && x && attempt < 2) continue;
        return e;
    }
}
