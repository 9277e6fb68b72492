/* ops_restore — Archive objects: RestoreObject (POST /bucket/key?restore) and the rules that
 * keep an unrestored Archive object's bytes from being read.
 *
 * A restore is two moments stored in the object's row (meta.h): when the restored copy becomes
 * readable (now + --archive-restore-delay) and when it stops being readable (that plus Days
 * lifecycle days). Everything else follows from the clock: in progress before the first,
 * available until the second, archived again after it. Nothing has to run when a restore
 * finishes or expires, and a restart loses nothing. Any rewrite of the object (overwrite,
 * class change) forgets the restore. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_internal.h"
#include "s3/xml_in.h"
#include "util/timefmt.h"

bool s3_object_readable(const s3_req *q, const meta_object *o)
{
    if (strcmp(o->storage_class, "Archive") != 0) return true;
    int64_t now = time_now_ms();
    return o->restore_ready_ms && now >= o->restore_ready_ms && now < o->restore_expiry_ms;
}

void s3_restore_headers(s3_req *q, const meta_object *o)
{
    if (strcmp(o->storage_class, "Archive") != 0 || !o->restore_ready_ms) return;
    int64_t now = time_now_ms();
    const char *v;
    if (now < o->restore_ready_ms) {
        v = "ongoing-request=\"true\"";
    } else if (now < o->restore_expiry_ms) {
        char date[30];
        time_fmt_http(o->restore_expiry_ms / 1000, date);
        v = arena_printf(q->a, "ongoing-request=\"false\", expiry-date=\"%s\"", date);
    } else {
        return;   /* expired: archived again */
    }
    s3_resp_xhdr(q, "restore", v);
    if (q->dialect == DIALECT_WOS) http_resp_header(q->http, "x-amz-restore", v);
}

/* --- RestoreObject ------------------------------------------------------------------------ */

static s3_err restore_begin(s3_req *q)
{
    if (!s3_bucket_name_valid(q->bucket)) return S3E_NoSuchBucket;
    meta_status st = meta_bucket_get(q->cfg->meta, q->bucket, &(meta_bucket){0});
    if (st != META_OK) return st == META_NOT_FOUND ? S3E_NoSuchBucket : S3E_InternalError;
    const char *cm = http_header(q->http, "Content-MD5");
    unsigned char md[16];
    if (cm && base64_decode(cm, strlen(cm), md, 16) != 16) return S3E_InvalidDigest;
    return S3E_OK;
}

/* Days from <RestoreRequest><Days>N</Days>…</RestoreRequest>. Other children (S3's
 * GlacierJobParameters/Tier, the OBS-style Tier of the WOS SDK) choose retrieval speeds that
 * wosd does not have, and are ignored. */
static s3_err restore_days(s3_req *q, int64_t *days)
{
    xml_doc *d = xml_parse(q->xml_body.data, q->xml_body.len);
    xml_node *root = d ? xml_root(d, "RestoreRequest") : NULL;
    const char *t = root ? xml_child_text(q->a, root, "Days") : NULL;
    xml_doc_free(d);
    if (!t) return S3E_MalformedXML;
    char *end;
    long long v = strtoll(t, &end, 10);
    if (!*t || *end || v < 1 || v > 1000000)
        return s3_fail(q, S3E_InvalidArgument, "Days must be a positive integer.");
    *days = v;
    return S3E_OK;
}

static s3_err restore_end(s3_req *q)
{
    s3_err e = s3_check_body_md5(q);
    if (e) return e;
    int64_t days = 0;
    if ((e = restore_days(q, &days))) return e;
    /* Compare-and-set on the restore state: two restores racing see one start and one find it
     * in progress. A few rounds cover an object rewritten meanwhile. */
    for (int round = 0; round < 4; round++) {
        meta_object o;
        meta_status st = meta_object_get(q->cfg->meta, q->bucket, q->key, q->a, &o);
        if (st == META_NOT_FOUND) return S3E_NoSuchKey;
        if (st != META_OK) return S3E_InternalError;
        if (strcmp(o.storage_class, "Archive") != 0)
            return s3_fail(q, S3E_InvalidObjectState, "Restore is not allowed for the object's current storage class.");
        int64_t now = time_now_ms(), ready, expiry;
        int status;
        if (o.restore_ready_ms && now < o.restore_ready_ms) return S3E_RestoreAlreadyInProgress;
        if (o.restore_ready_ms && now < o.restore_expiry_ms) {
            /* Available: a new request sets how long it stays so, from now (as S3 does). */
            ready = o.restore_ready_ms;
            expiry = now + days * q->cfg->day_ms;
            status = 200;
        } else {
            ready = now + q->cfg->restore_delay_ms;
            expiry = ready + days * q->cfg->day_ms;
            status = 202;
        }
        st = meta_object_set_restore(q->cfg->meta, q->bucket, q->key, o.etag, o.mtime_ms, o.restore_ready_ms,
                                     ready, expiry);
        if (st == META_OK) {
            s3_respond_empty(q, status);
            return S3E_OK;
        }
        if (st != META_NOT_FOUND) return S3E_InternalError;
    }
    return S3E_RestoreAlreadyInProgress;
}

const s3_op op_restore_object = {"RestoreObject", "wos:RestoreObject", restore_begin, s3_collect_body, restore_end,
                                 NULL};
