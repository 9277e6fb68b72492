/* ops_bucket_none — bucket configurations wosd does not have (CORS, website, tags, default
 * encryption, logging, replication, Object Lock, notifications, public access block,
 * ownership controls, requester pays, transfer acceleration), answered as S3 answers for a
 * bucket that has none of them: GET says there is none (its 404, or the empty document S3
 * sends) and DELETE has nothing to delete (204). Setting one (PUT) stays 501 (request.c):
 * wosd cannot honour it, so it must not be accepted.
 *
 * Why answer at all: tools that manage buckets read every configuration back (Terraform's
 * aws_s3_bucket reads CORS, website, logging, replication, encryption, Object Lock,
 * acceleration, request payment and tags on each refresh) and stop at a 501; "none" is the
 * truth here. Each has its own IAM action, as in S3, so a policy can still deny the read. */
#include <pthread.h>
#include <string.h>

#include "iam/policy.h"
#include "s3/authz.h"
#include "s3/s3_internal.h"
#include "util/log.h"

typedef struct absent {
    const char *param;   /* the sub-resource */
    const char *get_name, *get_action;
    s3_err missing;      /* GET's 404; S3E_OK: the empty document below instead */
    const char *root;    /* the empty document's root element, and what it holds */
    const char *inner;
    const char *del_name, *del_action;   /* NULL: S3 has no DELETE for it */
} absent;

static const absent table[] = {
    {"cors", "GetBucketCors", "wos:GetBucketCors", S3E_NoSuchCORSConfiguration, NULL, NULL, "DeleteBucketCors",
     "wos:DeleteBucketCors"},
    {"website", "GetBucketWebsite", "wos:GetBucketWebsite", S3E_NoSuchWebsiteConfiguration, NULL, NULL,
     "DeleteBucketWebsite", "wos:DeleteBucketWebsite"},
    {"tagging", "GetBucketTagging", "wos:GetBucketTagging", S3E_NoSuchTagSet, NULL, NULL, "DeleteBucketTagging",
     "wos:DeleteBucketTagging"},
    {"encryption", "GetBucketEncryption", "wos:GetBucketEncryption",
     S3E_ServerSideEncryptionConfigurationNotFoundError, NULL, NULL, "DeleteBucketEncryption",
     "wos:DeleteBucketEncryption"},
    {"replication", "GetBucketReplication", "wos:GetBucketReplication", S3E_ReplicationConfigurationNotFoundError,
     NULL, NULL, "DeleteBucketReplication", "wos:DeleteBucketReplication"},
    {"object-lock", "GetObjectLockConfiguration", "wos:GetBucketObjectLockConfiguration",
     S3E_ObjectLockConfigurationNotFoundError, NULL, NULL, NULL, NULL},
    {"publicAccessBlock", "GetPublicAccessBlock", "wos:GetBucketPublicAccessBlock",
     S3E_NoSuchPublicAccessBlockConfiguration, NULL, NULL, "DeletePublicAccessBlock",
     "wos:DeleteBucketPublicAccessBlock"},
    {"ownershipControls", "GetBucketOwnershipControls", "wos:GetBucketOwnershipControls",
     S3E_OwnershipControlsNotFoundError, NULL, NULL, "DeleteBucketOwnershipControls",
     "wos:DeleteBucketOwnershipControls"},
    /* S3 answers these with a document, even when nothing was ever set. */
    {"logging", "GetBucketLogging", "wos:GetBucketLogging", S3E_OK, "BucketLoggingStatus", "", NULL, NULL},
    {"notification", "GetBucketNotificationConfiguration", "wos:GetBucketNotification", S3E_OK,
     "NotificationConfiguration", "", NULL, NULL},
    {"requestPayment", "GetBucketRequestPayment", "wos:GetBucketRequestPayment", S3E_OK,
     "RequestPaymentConfiguration", "<Payer>BucketOwner</Payer>\n", NULL, NULL},
    {"accelerate", "GetBucketAccelerateConfiguration", "wos:GetBucketAccelerateConfiguration", S3E_OK,
     "AccelerateConfiguration", "", NULL, NULL},
};
enum { N = sizeof table / sizeof *table };

static s3_err get_end(s3_req *q);
static s3_err delete_end(s3_req *q);

/* The operations, one GET and one DELETE a configuration (index as the table's). */
static s3_op get_ops[N], del_ops[N];
static pthread_once_t ops_once = PTHREAD_ONCE_INIT;

static void ops_make(void)
{
    for (int i = 0; i < N; i++) {
        get_ops[i] = (s3_op){table[i].get_name, table[i].get_action, NULL, NULL, get_end, NULL};
        if (table[i].del_name) del_ops[i] = (s3_op){table[i].del_name, table[i].del_action, NULL, NULL, delete_end, NULL};
    }
}

const s3_op *s3_bucket_none_op(const s3_req *q, bool get, bool del)
{
    if (q->key || (!get && !del) || !q->nparams) return NULL;   /* a plain listing asks nothing here */
    pthread_once(&ops_once, ops_make);
    for (int i = 0; i < N; i++)
        if (s3_param_has(q, table[i].param)) {
            if (get) return &get_ops[i];
            return table[i].del_name ? &del_ops[i] : NULL;
        }
    return NULL;
}

static bool action_known(const s3_op *op)
{
    if (iam_action_lookup(op->action) != IAM_ACT_INVALID) return true;
    log_error("authz: operation %s has the unknown action '%s'", op->name, op->action);
    return false;
}

bool s3_bucket_none_init(void)
{
    pthread_once(&ops_once, ops_make);
    bool ok = true;
    for (int i = 0; i < N; i++) {
        ok = action_known(&get_ops[i]) && ok;
        if (table[i].del_name) ok = action_known(&del_ops[i]) && ok;
    }
    return ok;
}

iam_action s3_bucket_none_action(const s3_op *op)
{
    for (int i = 0; i < N; i++)
        if (op == &get_ops[i] || (table[i].del_name && op == &del_ops[i])) return iam_action_lookup(op->action);
    return IAM_ACT_INVALID;
}

static s3_err bucket_there(s3_req *q)
{
    if (!s3_bucket_name_valid(q->bucket)) return S3E_NoSuchBucket;
    meta_status st = authz_bucket(q->bucket, NULL);
    return st == META_OK ? S3E_OK : st == META_NOT_FOUND ? S3E_NoSuchBucket : S3E_InternalError;
}

static s3_err get_end(s3_req *q)
{
    s3_err e = bucket_there(q);
    if (e) return e;
    int i = 0;
    while (i < N - 1 && q->op != &get_ops[i]) i++;
    const absent *a = &table[i];
    if (a->missing) return a->missing;
    xmlw w = {0};
    s3_xml_begin(q, &w, a->root);
    buf_puts(&w.b, a->inner);
    xml_end(&w, a->root);
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

static s3_err delete_end(s3_req *q)
{
    s3_err e = bucket_there(q);
    if (e) return e;
    s3_respond_empty(q, 204);
    return S3E_OK;
}
