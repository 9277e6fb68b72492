/* authz — the permission step of every request: may this principal perform this action on this
 * resource?
 *
 * Authentication (auth.c) says who signed; authz_lookup_key is its key lookup, so the
 * principal (q->who) is known once auth_verify returns: the root credential of s3_config, a
 * user through one of its access keys, or anonymous. After the operation is chosen,
 * authz_request decides for the operation's action the way iam/policy.h recommends:
 *
 *   root                                   allowed, nothing consulted
 *   identity = the user's attached policies (anonymous: none)
 *   bucket   = the bucket's policy, if it has one
 *   DENY if either denies; ALLOW if either allows; ALLOW if the bucket's canned ACL (or, for
 *   GetObject/HeadObject, the object's) grants the action to this principal, or the principal
 *   owns the bucket (FULL_CONTROL); otherwise DENY.
 *
 * Every denial answers 403 AccessDenied and is logged on one line: request id, principal,
 * action, resource and the statement that decided (never a secret).
 *
 * Cost. Access keys, each user's compiled policies and each bucket's owner, ACL and compiled
 * policy are cached per thread and kept until meta_iam_generation() moves (any change to
 * users, keys, policies, attachments, bucket policies, ACLs or the set of buckets), so a
 * request by a known user does no SQL and no parsing here: one atomic load, a few hash
 * lookups and iam_evaluate. */
#ifndef WOSD_S3_AUTHZ_H
#define WOSD_S3_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include "iam/policy.h"
#include "s3/s3_internal.h"

/* The bucket's row (out may be NULL), from this thread's cache: the set of buckets, their
 * owners and ACLs move the IAM generation, so a cached row is as fresh as a read. */
meta_status authz_bucket(const char *name, meta_bucket *out);

/* Start-up, before the first request: maps every operation's action string through
 * iam_action_lookup. An operation whose action does not map is a bug: logged, then abort(). */
void authz_init(const s3_config *cfg);

/* The secret of an access key for authentication, and the principal it names (q->who):
 * 0, or -1 when the key is unknown, disabled, or belongs to a disabled user. */
int authz_lookup_key(s3_req *q, const char *access_key, char *secret, size_t cap);

/* The request-level decision for q->op on q->bucket / q->key, with the operation's extras
 * (CopyObject and UploadPartCopy also need GetObject on the source). S3E_OK, S3E_AccessDenied
 * (logged), or an error reading the store. Operations that decide later (DeleteObjects per
 * key, PostObject once the form names its signer) pass here. */
s3_err authz_request(s3_req *q);

/* One decision for the principal of q: action a on bucket (NULL for the service) and key
 * (NULL for bucket actions). obj_headers: the object's stored headers when the caller has
 * them (its ACL), NULL to read them when needed. S3E_OK, S3E_AccessDenied (logged) or
 * S3E_InternalError. */
s3_err authz_check(s3_req *q, iam_action a, const char *bucket, const char *key, const char *obj_headers);

/* The same decision asked quietly (nothing logged): whether the principal may. For what an
 * answer shows only to those allowed (GetObject's tag count). */
bool authz_allows(s3_req *q, iam_action a, const char *bucket, const char *key, const char *obj_headers);

/* ListBuckets' filter: whether the principal may list bucket b (GetBucket allowed in the most
 * favourable condition context, by policy, ACL or ownership). */
bool authz_may_list(s3_req *q, const meta_bucket *b);

/* Whether the principal of q owns a bucket whose owner field is owner. */
bool authz_is_owner(const s3_req *q, const char *owner);

/* The operations of ops_bucket_none.c (built at authz_init, which aborts when one names an
 * unknown action), and the action one of them is evaluated under (IAM_ACT_INVALID for any
 * other operation). */
bool s3_bucket_none_init(void);
iam_action s3_bucket_none_action(const s3_op *op);

/* The IAM action the request is evaluated under (ACL operations depend on the key);
 * IAM_ACT_INVALID for operations without one. */
iam_action authz_action_of(const s3_req *q);

#endif
