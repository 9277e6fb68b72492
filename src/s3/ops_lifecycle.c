/* ops_lifecycle — bucket lifecycle rules: PUT, GET and DELETE /bucket?lifecycle.
 *
 * The rules are parsed and checked (lifecycle.c) before they are stored, and stored in their
 * canonical form without a namespace, so GET answers the same document in either dialect and
 * the background worker (lc_worker.c) reads exactly what was accepted. The header
 * x-amz-/x-wos-transition-default-minimum-object-size is stored with them (lifecycle.h) and
 * answered on PUT and GET, as S3 does. */
#include <stdlib.h>
#include <string.h>

#include "s3/lifecycle.h"
#include "s3/s3_internal.h"

static s3_err bucket_exists(s3_req *q)
{
    if (!s3_bucket_name_valid(q->bucket)) return S3E_NoSuchBucket;
    meta_bucket b;
    meta_status st = meta_bucket_get(q->cfg->meta, q->bucket, &b);
    return st == META_OK ? S3E_OK : st == META_NOT_FOUND ? S3E_NoSuchBucket : S3E_InternalError;
}

/* --- PUT ?lifecycle ---------------------------------------------------------------------- */

static bool has_checksum_header(s3_req *q)
{
    static const char *const names[] = {"x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-sha1",
                                        "x-amz-checksum-sha256", "x-amz-checksum-crc64nvme", "x-amz-trailer", NULL};
    for (int i = 0; names[i]; i++)
        if (http_header(q->http, names[i])) return true;
    return false;
}

/* TransitionDefaultMinimumObjectSize, a header beside the rules (x-wos- in the WOS dialect):
 * all_storage_classes_128K when absent, as in S3 since September 2024; -1 when not S3's. */
static int min_size_header(s3_req *q)
{
    const char *v = s3_xhdr(q, "transition-default-minimum-object-size");
    return v ? lc_min_size_parse(v) : LC_MIN_128K;
}

static s3_err put_lifecycle_begin(s3_req *q)
{
    s3_err e = bucket_exists(q);
    if (e) return e;
    if (min_size_header(q) < 0)
        return s3_fail(q, S3E_InvalidRequest,
                       "TransitionDefaultMinimumObjectSize must be all_storage_classes_128K or varies_by_storage_class");
    const char *cm = http_header(q->http, "Content-MD5");
    /* S3 insists on an integrity check of this body (boto3 and the AWS CLI always send one);
     * WOS documents none, so its clients are checked only when they send Content-MD5. */
    if (!cm && q->dialect == DIALECT_AWS && !has_checksum_header(q))
        return s3_fail(q, S3E_InvalidRequest, "Missing required header for this request: Content-MD5");
    unsigned char md[16];
    if (cm && base64_decode(cm, strlen(cm), md, 16) != 16) return S3E_InvalidDigest;
    return S3E_OK;
}

static s3_err put_lifecycle_end(s3_req *q)
{
    s3_err e = bucket_exists(q);
    if (e) return e;
    const char *body = q->xml_body.data ? q->xml_body.data : "";
    if ((e = s3_check_body_md5(q))) return e;
    lc_config c;
    const char *msg;
    if ((e = lc_parse(q->a, body, q->xml_body.len, &c, &msg))) return s3_fail(q, e, msg);
    c.min_size = (lc_min_size)min_size_header(q);   /* checked at begin */
    xmlw w = {0};
    lc_write(&w, &c, NULL, false);
    buf_append(&w.b, "", 1);   /* NUL-terminated for the store */
    meta_status st = meta_lifecycle_put(q->cfg->meta, q->bucket, w.b.data);
    buf_free(&w.b);
    if (st == META_NOT_FOUND) return S3E_NoSuchBucket;
    if (st != META_OK) return S3E_InternalError;
    s3_resp_xhdr(q, "transition-default-minimum-object-size", lc_min_size_name(c.min_size));
    s3_respond_empty(q, 200);
    return S3E_OK;
}

const s3_op op_put_bucket_lifecycle = {"PutBucketLifecycle", "wos:PutBucketLifecycle", put_lifecycle_begin,
                                       s3_collect_body, put_lifecycle_end, NULL};

/* --- GET ?lifecycle ---------------------------------------------------------------------- */

static s3_err get_lifecycle_end(s3_req *q)
{
    s3_err e = bucket_exists(q);
    if (e) return e;
    const char *doc;
    meta_status st = meta_lifecycle_get(q->cfg->meta, q->bucket, q->a, &doc);
    if (st == META_NOT_FOUND) return S3E_NoSuchLifecycleConfiguration;
    if (st != META_OK) return S3E_InternalError;
    lc_config c;
    const char *msg;
    if (lc_parse(q->a, doc, strlen(doc), &c, &msg)) return S3E_InternalError;   /* stored, so accepted once */
    xmlw w = {0};
    lc_write(&w, &c, s3_ns(q), q->dialect == DIALECT_WOS);
    s3_resp_xhdr(q, "transition-default-minimum-object-size", lc_min_size_name(c.min_size));
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

const s3_op op_get_bucket_lifecycle = {"GetBucketLifecycle", "wos:GetBucketLifecycle", NULL, NULL,
                                       get_lifecycle_end, NULL};

/* --- DELETE ?lifecycle ------------------------------------------------------------------- */

static s3_err delete_lifecycle_end(s3_req *q)
{
    s3_err e = bucket_exists(q);
    if (e) return e;
    /* Deleting rules that are not there succeeds, as in S3. */
    meta_status st = meta_lifecycle_delete(q->cfg->meta, q->bucket);
    if (st != META_OK && st != META_NOT_FOUND) return S3E_InternalError;
    s3_respond_empty(q, 204);
    return S3E_OK;
}

/* wos:DeleteBucketLifecycle, which wos:PutBucketLifecycle grants too (iam_actions.def), as
 * s3:PutLifecycleConfiguration grants it in S3. */
const s3_op op_delete_bucket_lifecycle = {"DeleteBucketLifecycle", "wos:DeleteBucketLifecycle", NULL, NULL,
                                          delete_lifecycle_end, NULL};
