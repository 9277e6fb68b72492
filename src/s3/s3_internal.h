/* s3_internal — what the request pipeline (request.c) shares with the operations (ops_*.c).
 *
 * An operation is a small vtable: begin() validates the request before any body byte is read
 * (so a refusal can beat "100 Continue"), body() receives the decoded payload, end() performs
 * the operation and sets the response, cleanup() releases what begin() took. Errors are
 * returned as s3_err; the pipeline alone writes them. */
#ifndef WOSD_S3_INTERNAL_H
#define WOSD_S3_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "s3/auth.h"
#include "s3/chunked.h"
#include "s3/errors.h"
#include "s3/s3.h"
#include "s3/xml.h"
#include "util/buf.h"
#include "util/hash.h"

#define NS_WOS "https://www.wangsu.com/document"
#define NS_S3 "http://s3.amazonaws.com/doc/2006-03-01/"

enum {
    S3_MAX_KEY = 1024,
    S3_MAX_USER_META = 2048,
    S3_XML_BODY_MAX = 4 << 20,            /* request XML bodies are refused past this */
};
#define S3_MAX_OBJECT_PUT ((int64_t)5 << 30)   /* 5 GiB single PUT / part */

typedef struct s3_req s3_req;

typedef struct s3_op {
    const char *name;      /* "PutObject" — for logs and docs */
    const char *action;    /* "wos:PutObject" — the IAM action */
    s3_err (*begin)(s3_req *q);
    s3_err (*body)(s3_req *q, const char *data, size_t n);   /* NULL: body is discarded */
    s3_err (*end)(s3_req *q);
    void (*cleanup)(s3_req *q);
} s3_op;

/* Who sent the request, once authentication has run (authz.c fills it). */
typedef struct s3_principal {
    bool root;                  /* the root credential of s3_config: allowed everything */
    bool anonymous;             /* no credential at all */
    char user[65];              /* the user's name as it was created; "root"; "" anonymous */
    char user_id[33];           /* the user's stable id; "" for root and anonymous */
} s3_principal;

typedef struct s3_param {
    const char *name, *value;   /* decoded; value "" when absent */
    bool has_value;
} s3_param;

struct s3_req {
    http_req *http;
    arena *a;
    const s3_config *cfg;
    char request_id[33];
    const s3_op *op;
    s3_dialect dialect;
    auth_result auth;
    s3_principal who;
    bool admin;                 /* the path is under /wos-admin/: the admin API (admin_api.c) */
    const char *form_acl;       /* PostObject: the form's acl field (the s3:x-amz-acl condition) */
    const char *bucket;         /* decoded; NULL for the service */
    const char *key;            /* decoded; NULL for a bucket */
    bool vhost;
    s3_param *params;
    size_t nparams;
    int64_t payload_len;        /* decoded body length when known, else -1 */
    hash_ctx *payload_sha;      /* checks x-amz-content-sha256 */
    aws_chunked *chunked;       /* decodes aws-chunked bodies */
    buf xml_body;               /* collected request XML (ops that take one) */
    void *op_state;
    /* Set by an op's begin: its end makes metadata changes only, with nothing to do after
     * their commit, so it may share the commit with other requests' (a group, meta.h). */
    bool grouped;
    bool end_failed;              /* end() answered an error (a lost group leaves that answer) */
    bool sets_tags;               /* the headers collected give a tag set (s3_tagging_write_allowed) */
    const char *err_message;    /* replaces the table message in the error response */
    s3_err failed;              /* first error seen while streaming the body */
    uint64_t drained;           /* body bytes dropped after that error */
};

/* --- request helpers (request.c) --------------------------------------------------------- */
const char *s3_param_get(const s3_req *q, const char *name);   /* NULL when absent */
bool s3_param_has(const s3_req *q, const char *name);
/* A dialect header: "x-wos-<suffix>" or "x-amz-<suffix>" (either is accepted). */
const char *s3_xhdr(const s3_req *q, const char *suffix);
/* Adds "x-wos-<suffix>" or "x-amz-<suffix>" to the response, in the request's dialect. */
void s3_resp_xhdr(s3_req *q, const char *suffix, const char *value);
const char *s3_ns(const s3_req *q);
/* Starts a response document in the request's dialect (namespace, declaration). */
void s3_xml_begin(const s3_req *q, xmlw *w, const char *root);
/* Sends w's document with status. */
void s3_respond_xml(s3_req *q, int status, xmlw *w);
void s3_respond_empty(s3_req *q, int status);
s3_err s3_fail(s3_req *q, s3_err e, const char *message);   /* sets err_message, returns e */
/* Collects the body for an op that parses XML (body callback for the op vtable). */
s3_err s3_collect_body(s3_req *q, const char *data, size_t n);
/* The collected body against its Content-MD5, when sent (its form was checked in begin):
 * S3E_OK, or BadDigest (SignatureDoesNotMatch for WOS-dialect requests, as the seed page says). */
s3_err s3_check_body_md5(const s3_req *q);
bool s3_bucket_name_valid(const char *name);
/* The requester's id/display name, shown in ListBuckets and as the initiator of uploads:
 * "root", the user's name, or "anonymous". */
const char *s3_owner_id(const s3_req *q);
/* How a bucket's stored owner is shown (ID and DisplayName): "root" for the root user (whose
 * buckets from before users existed record its access key), else the user's name. */
const char *s3_owner_display(const s3_req *q, const char *owner);
/* The secret of an access key (0), or -1 when the key is unknown or disabled; sets q->who to
 * the principal the key names. For signatures checked outside auth_verify (PostObject). */
int s3_lookup_secret(s3_req *q, const char *access_key, char *secret, size_t cap);
/* Answers a JSON document (admin API). Takes ownership of body (malloc'd). */
void s3_respond_json(s3_req *q, int status, char *body, size_t len);

/* --- canned ACLs (objhdr.c) ----------------------------------------------------------------
 * A bucket's ACL is meta_bucket.acl; an object's is a stored header line "x-wosd-acl:<acl>"
 * (absent: private), which s3_headers_emit never sends. */
#define S3_ACL_HEADER "x-wosd-acl"

/* --- bucket configurations wosd does not have (ops_bucket_none.c) -------------------------
 * GET and DELETE of ?cors, ?website, ?tagging, ?encryption, ?replication, ?object-lock,
 * ?publicAccessBlock, ?ownershipControls, ?logging, ?notification, ?requestPayment,
 * ?accelerate on a bucket: the operation (answering as S3 does for a bucket without that
 * configuration), or NULL when the request is none of those. */
const s3_op *s3_bucket_none_op(const s3_req *q, bool get, bool del);

/* --- object tags (ops_tagging.c) ------------------------------------------------------------
 * An object's tag set is the stored line "x-wosd-tagging:k=v&…" (percent-encoded; absent: no
 * tags). */
#define S3_TAGGING_HEADER "x-wosd-tagging"
/* An x-amz-tagging / x-wos-tagging header's value checked as S3 checks it; *stored is the line's
 * value ("" for an empty set). */
s3_err s3_tagging_from_header(s3_req *q, const char *value, const char **stored);
/* The same for a Tagging document (PutObjectTagging's body, PostObject's "tagging" field). */
s3_err s3_tagging_from_document(s3_req *q, const char *data, size_t len, const char **stored);
/* A write that gives tags (q->sets_tags, or tags non-NULL and non-empty) needs
 * wos:PutObjectTagging on the key besides its own action, as S3 asks s3:PutObjectTagging:
 * S3E_OK or the refusal. */
s3_err s3_tagging_write_allowed(s3_req *q, const char *bucket, const char *key, const char *tags);
/* One tag as a stored tag set spells it, "k=v" with both percent-encoded (lifecycle filters
 * match objects by these bytes). */
const char *s3_tag_pair(arena *a, const char *key, const char *value);
/* What S3 says of a tag key or value it refuses (InvalidTag's message), or NULL when fine. */
const char *s3_tag_key_problem(const char *key);
const char *s3_tag_value_problem(const char *value);
/* The number of tags in a stored line's value (NULL or "": 0). */
int s3_tagging_count(const char *stored);
/* The canonical canned ACL v names ("private", "public-read", "public-read-write",
 * "authenticated-read", case-insensitively), or NULL. */
const char *s3_canned_acl(const char *v);
/* The x-wos-acl / x-amz-acl header of the request: *acl is its canonical name, or NULL when
 * absent. S3E_NotImplemented for any other canned ACL and for x-*-grant-* headers. */
s3_err s3_acl_from_request(s3_req *q, const char **acl);
/* stored with any line of that name removed, then "<name>:<value>" added unless value is NULL
 * (arena memory). */
const char *s3_headers_set_line(s3_req *q, const char *stored, const char *name, const char *value);
/* stored with any ACL line removed, then "x-wosd-acl:<acl>" added unless acl is NULL or
 * "private" (arena memory). */
const char *s3_headers_set_acl(s3_req *q, const char *stored, const char *acl);
/* The object's canned ACL from its stored headers ("private" when none). */
const char *s3_headers_acl(s3_req *q, const char *stored);

/* --- object-level helpers shared by ops (ops_object.c) ----------------------------------- */
/* Storage class from a header value (case-insensitive, with AWS aliases); NULL if invalid. */
const char *s3_storage_class_parse(const char *v);

/* --- operations --------------------------------------------------------------------------- */
extern const s3_op op_list_buckets, op_create_bucket, op_head_bucket, op_delete_bucket,
    op_get_bucket_location, op_get_bucket_versioning, op_get_acl, op_put_acl, op_list_objects,
    op_list_object_versions, op_delete_objects, op_put_object, op_copy_object, op_get_object,
    op_head_object, op_delete_object, op_initiate_upload, op_upload_part, op_upload_part_copy,
    op_complete_upload, op_abort_upload, op_list_parts, op_list_uploads, op_post_object, op_not_implemented,
    op_get_bucket_policy, op_put_bucket_policy, op_delete_bucket_policy, op_admin,
    op_get_bucket_lifecycle, op_put_bucket_lifecycle, op_delete_bucket_lifecycle, op_restore_object,
    op_get_object_tagging, op_put_object_tagging, op_delete_object_tagging;

/* --- Archive objects (ops_restore.c) ------------------------------------------------------ */
/* Whether the object's bytes may be read now: any class but Archive, or an Archive object
 * whose restored copy is available. */
bool s3_object_readable(const s3_req *q, const meta_object *o);
/* Adds x-wos-restore / x-amz-restore for an Archive object with a restore in progress or
 * available (WOS-API.md §6: the WOS dialect gets both spellings, the AWS one x-amz-restore). */
void s3_restore_headers(s3_req *q, const meta_object *o);

/* --- per-object lifecycle (objlc.c) -------------------------------------------------------- */
/* x-wos-delete-after-days (or x-wos-expires, the WOS SDK's name for it) of a write: *days, or -1
 * when absent; S3E_InvalidArgument when it is not a non-negative integer. */
s3_err s3_expiry_from_request(s3_req *q, int64_t *days);
/* Adds x-wos-expiration / x-amz-expiration (expiry-date="…"[, rule-id="…"]) when the object
 * expires on its own or by one of its bucket's lifecycle rules. */
void s3_expiration_header(s3_req *q, const meta_object *o);
/* The same for an object a write (PUT, CopyObject) has just committed at mtime_ms, with its
 * stored headers (its tags may matter) and x-wos-delete-after-days (days < 0: none): S3 tells a
 * write when its object will expire. */
void s3_expiration_header_written(s3_req *q, const char *key, int64_t size, const char *headers, int64_t mtime_ms,
                                  int64_t days);


/* --- stored headers (objhdr.c) -------------------------------------------------------------
 * An object's headers are stored as "name:value\n" lines: the system headers (content-type,
 * cache-control, content-disposition, content-encoding, content-language, expires), user
 * metadata as "x-meta-<name>" (dialect-neutral: x-wos-meta-* and x-amz-meta-* are one thing),
 * and checksums as "x-amz-checksum-<alg>". */
/* Collects the storable headers of this request; S3E_MetadataTooLarge past 2 KiB of user
 * metadata. */
s3_err s3_headers_collect(s3_req *q, const char **out);
/* The same from name/value pairs (the fields of a POST form). */
s3_err s3_headers_collect_pairs(s3_req *q, size_t n, const char **names, const char **values, const char **out);
/* Writes stored headers into the response in the request's dialect; checksums only when
 * with_checksums. */
void s3_headers_emit(s3_req *q, const char *stored, bool with_checksums);
/* The value of one stored header line, or NULL (arena memory). */
const char *s3_headers_find(s3_req *q, const char *stored, const char *name);
/* The same into arena a, for code that holds no request (the lifecycle worker). */
const char *s3_headers_find_in(arena *a, const char *stored, const char *name);

/* --- object writer (objw.c): a body streamed into an inline buffer or a blob, hashed --------- */
typedef struct objw objw;
/* expected: the payload length when known (-1 otherwise); inline_ok: small bodies may stay in
 * memory to be stored in the metadata row. */
/* Also parses Content-MD5 (S3E_InvalidDigest when malformed) and the checksum headers. */
s3_err objw_new(s3_req *q, int64_t expected, bool inline_ok, objw **out);
/* The same for an object of the given storage class: its blob goes to that class's tier. */
s3_err objw_new_for(s3_req *q, int64_t expected, bool inline_ok, const char *storage_class, objw **out);
/* The blob tier (blob.h) holding a storage class's bytes: Standard, IA, Archive. */
int s3_class_tier(const char *storage_class);
s3_err objw_write(objw *w, const char *data, size_t n);
/* Finishes: etag (md5 hex), size, and either inline data or a committed blob id. */
typedef struct objw_result {
    unsigned char md5[16];
    char etag[33];
    int64_t size;
    const void *inline_data;   /* NULL when the bytes went to a blob */
    char blob_id[META_BLOB_ID_LEN + 1];
} objw_result;
s3_err objw_finish(objw *w, objw_result *res);
/* The checksum it computed (when the request asked for one): header name and base64 value. */
const char *objw_checksum(objw *w, const char **header);
/* Drops whatever was written (blob temp file, or the committed blob when finish succeeded but
 * the metadata commit did not). Safe to call more than once and on NULL. */
void objw_abort(objw *w);
/* The object committed expires `days` lifecycle days after its write (0: at once); days < 0:
 * never (the default). */
void objw_set_expiry(objw *w, int64_t days);
/* The body's length is known and small enough to be stored in the metadata row: finishing
 * it touches no file. */
bool objw_is_inline(const objw *w);
/* The metadata now references the blob: abort no longer removes it. */
void objw_keep(objw *w);
/* Makes the finished body the object `key` of the request's bucket in one metadata commit,
 * then keeps its blob. etag NULL means the body's MD5. Sets *mtime_ms (may be NULL). */
s3_err objw_commit_object(objw *w, const objw_result *res, const char *key, const char *etag,
                          const char *storage_class, const char *headers, int64_t *mtime_ms);
/* The same under the request's If-None-Match / If-Match (s3_write_conditions), checked against
 * the object now and again inside the commit: of two writers racing on the key one wins. */
s3_err objw_commit_object_if(objw *w, const objw_result *res, const char *key, const char *etag,
                             const char *storage_class, const char *headers, int64_t *mtime_ms);
/* Checks the Content-MD5 and checksum the client gave against what arrived. */
s3_err objw_verify(objw *w, const objw_result *res);

/* --- reading objects (objread.c) ------------------------------------------------------------ */
/* Sets the response body to bytes [off, off+len) of the object. */
s3_err s3_object_body(s3_req *q, const meta_object *o, int64_t off, int64_t len);
/* Copies bytes [off, off+len) of o into w. */
s3_err s3_object_copy_into(s3_req *q, const meta_object *o, int64_t off, int64_t len, objw *w);
/* Evaluates If-Match / If-None-Match / If-Modified-Since / If-Unmodified-Since (given values,
 * any NULL) against an object: S3E_OK, S3E_PreconditionFailed or S3E_NotModified. */
/* If-None-Match: * and If-Match on a write (PutObject, CopyObject, CompleteMultipartUpload),
 * against the object as it is now. When both pass and x is not NULL, *x (request memory; NULL
 * without conditions) names the version the write may replace, for the store to check again
 * inside the write's own commit (meta_expect): two racing writes cannot both pass. */
s3_err s3_write_conditions(s3_req *q, const meta_expect **x);
s3_err s3_conditions(const char *if_match, const char *if_none_match, const char *if_modified_since,
                     const char *if_unmodified_since, const char *etag, int64_t mtime_ms);
/* Parses "/bucket/key" or "bucket/key" (URL-encoded, optional ?versionId=null) of a copy
 * source. */
s3_err s3_copy_source(s3_req *q, const char **bucket, const char **key);

#endif
