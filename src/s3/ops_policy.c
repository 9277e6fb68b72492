/* ops_policy — bucket policies: PUT, GET and DELETE /bucket?policy.
 *
 * A policy is checked by the policy engine (iam/policy.h, kind BUCKET, every Resource inside
 * this bucket) before it is stored, and stored as the client wrote it, so GET gives back the
 * same text. The request path compiles it again when it next decides for the bucket: every
 * change moves meta_iam_generation(), which empties the decision caches (authz.c). */
#include <stdlib.h>
#include <string.h>

#include "iam/policy.h"
#include "s3/authz.h"
#include "s3/s3_internal.h"

static s3_err bucket_exists(s3_req *q)
{
    if (!s3_bucket_name_valid(q->bucket)) return S3E_NoSuchBucket;
    meta_bucket b;
    meta_status st = authz_bucket(q->bucket, &b);
    return st == META_OK ? S3E_OK : st == META_NOT_FOUND ? S3E_NoSuchBucket : S3E_InternalError;
}

/* --- PUT ?policy ------------------------------------------------------------------------------- */

static s3_err put_policy_begin(s3_req *q)
{
    s3_err e = bucket_exists(q);
    if (e) return e;
    if (q->payload_len > (int64_t)IAM_MAX_BUCKET_POLICY)
        return s3_fail(q, S3E_MalformedPolicy, "Policy exceeds the maximum allowed document size.");
    return S3E_OK;
}

static s3_err put_policy_body(s3_req *q, const char *data, size_t n)
{
    /* One byte past the limit is enough for the parser to say the document is too large. */
    if (q->xml_body.len + n > (size_t)IAM_MAX_BUCKET_POLICY + 1)
        return s3_fail(q, S3E_MalformedPolicy, "Policy exceeds the maximum allowed document size.");
    buf_append(&q->xml_body, data, n);
    return S3E_OK;
}

static s3_err put_policy_end(s3_req *q)
{
    s3_err e = bucket_exists(q);
    if (e) return e;
    const char *text = q->xml_body.data ? q->xml_body.data : "";
    size_t len = q->xml_body.len;
    if (len == 0) return s3_fail(q, S3E_MalformedPolicy, "Policies must be valid JSON and the first byte must be '{'");
    if (memchr(text, 0, len)) return s3_fail(q, S3E_MalformedPolicy, "The policy contains a NUL byte.");
    iam_parse_opts o = {.kind = IAM_POLICY_BUCKET, .bucket = q->bucket};
    iam_policy *p;
    char err[512];
    if (iam_policy_parse(text, len, &o, &p, err, sizeof err) != 0)
        return s3_fail(q, S3E_MalformedPolicy, arena_strdup(q->a, err));
    iam_policy_free(p);
    meta_status st = meta_bucket_policy_put(q->cfg->meta, q->bucket, text);
    if (st == META_NOT_FOUND) return S3E_NoSuchBucket;
    if (st != META_OK) return S3E_InternalError;
    s3_respond_empty(q, 204);
    return S3E_OK;
}

const s3_op op_put_bucket_policy = {"PutBucketPolicy", "wos:PutBucketPolicy", put_policy_begin, put_policy_body,
                                    put_policy_end, NULL};

/* --- GET ?policy -------------------------------------------------------------------------------- */

static s3_err get_policy_end(s3_req *q)
{
    s3_err e = bucket_exists(q);
    if (e) return e;
    const char *json;
    meta_status st = meta_bucket_policy_get(q->cfg->meta, q->bucket, q->a, &json);
    if (st == META_NOT_FOUND) return S3E_NoSuchBucketPolicy;
    if (st != META_OK) return S3E_InternalError;
    size_t len = strlen(json);
    char *body = malloc(len + 1);
    if (!body) return S3E_InternalError;
    memcpy(body, json, len + 1);
    s3_respond_json(q, 200, body, len);
    return S3E_OK;
}

const s3_op op_get_bucket_policy = {"GetBucketPolicy", "wos:GetBucketPolicy", NULL, NULL, get_policy_end, NULL};

/* --- DELETE ?policy ------------------------------------------------------------------------------ */

static s3_err delete_policy_end(s3_req *q)
{
    s3_err e = bucket_exists(q);
    if (e) return e;
    /* Deleting a policy that is not there succeeds, as in S3. */
    meta_status st = meta_bucket_policy_delete(q->cfg->meta, q->bucket);
    if (st != META_OK && st != META_NOT_FOUND) return S3E_InternalError;
    s3_respond_empty(q, 204);
    return S3E_OK;
}

const s3_op op_delete_bucket_policy = {"DeleteBucketPolicy", "wos:DeleteBucketPolicy", NULL, NULL,
                                       delete_policy_end, NULL};
