/* policy — IAM policies: parse the WOS and the AWS policy languages into one compiled form, and
 * evaluate requests against them. Pure: no I/O, no clock, no HTTP, no SQL. `store/` keeps the
 * policy texts and the attachments; `s3/` builds an iam_request per operation and combines the
 * decisions (see "Combining decisions" below).
 *
 * Languages. One grammar reads both; element names and Effect are case-insensitive:
 *   WOS  {"version":"1","statement":[{"effect":"allow","action":["wos:Get*"],
 *         "resource":["wsc:wos:*:*:bucket/prefix*"]}]}
 *   AWS  {"Version":"2012-10-17","Statement":[{"Sid":"…","Effect":"Allow",
 *         "Action"|"NotAction":…, "Resource"|"NotResource":…, "Principal"|"NotPrincipal":…,
 *         "Condition":{…}}]}     (Statement may be one object; a string may stand for an array)
 *   Version is "1", "2012-10-17", "2008-10-17" or absent. Policy variables (${aws:username},
 *   any known condition key, and the escapes ${*} ${?} ${$}) are substituted in Resource and in
 *   condition values only under "2012-10-17", as AWS does; elsewhere "${" is literal text.
 *
 * Actions. "wos:<Name>", "s3:<Name>" or "*", with * and ? wildcards, case-insensitive; both
 *   namespaces name the rows of iam_actions.def (s3:ListBucket ≡ wos:GetBucket, …). A request
 *   names one canonical action. HEAD: a wos:HeadObject request is granted by wos:HeadObject,
 *   wos:GetObject or s3:GetObject (S3 authorises HEAD as s3:GetObject); a Deny of any of these
 *   denies HEAD. An unknown wos: name without wildcards is an error (it is our catalogue); an
 *   unknown s3: name is accepted and matches nothing (AWS's catalogue is larger than ours and
 *   policies written for AWS carry actions wosd never performs); other namespaces are errors.
 *
 * Resources. "*", "arn:aws:s3:::<rest>" or "wsc:wos:<region>:<account>:<rest>" in either
 *   language, where <rest> is "bucket", "bucket/key-pattern" or a pattern with * and ?
 *   (? matches one UTF-8 character). The region and account fields are not compared: one
 *   server is one region and one account. <rest> is case-sensitive. A request's resource is
 *   "bucket" (bucket actions) or "bucket/key" (object actions); a service action (ListBuckets)
 *   has no resource and is matched only by patterns made of '*' alone ("*", "arn:aws:s3:::*",
 *   "wsc:wos:*:*:*"). The objects pattern "bucket/" "*" does not match the bucket itself (AWS).
 *
 * Principals (bucket policies only; required there, refused in identity policies).
 *   "*" or {"AWS":"*"}: everyone, anonymous included. {"AWS": [...]} (also "WOS" or
 *   "CanonicalUser" as the map key) with entries: "arn:aws:iam::<acct>:user/[path/]NAME" — that
 *   user (the account field is not compared); "arn:aws:iam::<acct>:root" or a 12-digit account
 *   id — every authenticated user of this server; any other string without ':' — the user
 *   with that name, user id or access key. NotPrincipal: everyone except those.
 *
 * Conditions. Operators (case-insensitive): StringEquals, StringNotEquals,
 *   StringEqualsIgnoreCase, StringNotEqualsIgnoreCase, StringLike, StringNotLike (* and ?),
 *   ArnEquals, ArnLike, ArnNotEquals, ArnNotLike (globs, as in AWS), NumericEquals,
 *   NumericNotEquals, NumericLessThan[Equals], NumericGreaterThan[Equals], DateEquals,
 *   DateNotEquals, DateLessThan[Equals], DateGreaterThan[Equals] (ISO 8601 with optional
 *   fraction and zone, a date alone, or epoch seconds), Bool, IpAddress, NotIpAddress (IPv4 and
 *   IPv6, CIDR or single address; IPv4-mapped IPv6 matches IPv4 ranges), Null; each but Null
 *   may end in "IfExists" and be prefixed "ForAnyValue:" or "ForAllValues:". Keys are those of
 *   iam_keys.def (case-insensitive; wos:-prefixed forms accepted); any other key is an error.
 *   Semantics are AWS's: operators and keys are ANDed, a key's values ORed; a key absent from
 *   the request makes a positive operator false and a negated one (…Not…, NotIpAddress) true;
 *   IfExists makes an absent key true; ForAllValues is true over an absent key, ForAnyValue
 *   false; Null:"true" holds when the key is absent.
 *
 * Evaluation. Every statement whose action, resource, principal and conditions all match takes
 *   part: one matching Deny makes the answer IAM_DENY; otherwise a matching Allow makes it
 *   IAM_ALLOW; otherwise IAM_NONE (implicit deny), so that a caller can combine identity
 *   policies, a bucket policy and ACLs as S3 does. A pattern whose policy variable has no value
 *   in the request does not match.
 *
 * Cost. Patterns are compiled at parse time: an action list becomes a 64-bit mask, resources
 *   become exact / prefix / glob matchers, condition values are pre-parsed (numbers, dates,
 *   CIDRs), and each policy indexes its statements by the literal prefix of their resources, so
 *   a request visits only the statements that could name its "bucket/key". Evaluation
 *   allocates nothing, takes no lock and never fails. Measured (test_policy, -O2): about
 *   0.2 µs for 10 policies of 10 statements, about 20 ns for one built-in.
 *
 * Combining decisions (what the request path should do, as S3 does within one account):
 *   root user → allowed (policies are not consulted).
 *   id  = anonymous ? IAM_NONE : iam_evaluate(user's attached policies, req)
 *   bkt = bucket has a policy ? iam_evaluate(&bucket_policy, 1, req) : IAM_NONE
 *   DENY if id or bkt is IAM_DENY; ALLOW if id or bkt is IAM_ALLOW; ALLOW if the bucket's or
 *   object's ACL grants the action to this principal (AllUsers, AuthenticatedUsers, owner);
 *   otherwise DENY (403 AccessDenied).
 * Per operation: CopyObject and UploadPartCopy are also evaluated as IAM_ACT_GET_OBJECT on the
 *   source bucket/key (with the source bucket's policy); DeleteObjects is evaluated per key as
 *   IAM_ACT_DELETE_OBJECT (a denied key is reported AccessDenied in the result, the others are
 *   deleted); ListBuckets needs IAM_ACT_GET_SERVICE and lists the buckets for which
 *   IAM_ACT_GET_BUCKET on the bucket is allowed by iam_evaluate_optimistic (combined as above); ?acl is IAM_ACT_GET/PUT_BUCKET_ACL without a
 *   key and IAM_ACT_GET/PUT_OBJECT_ACL with one. */
#ifndef WOSD_IAM_POLICY_H
#define WOSD_IAM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- actions ------------------------------------------------------------------------------ */

typedef enum iam_action {
    IAM_ACT_INVALID = -1,
#define IAM_ACTION(id, wos, also, s3, level) IAM_ACT_##id,
#include "iam/iam_actions.def"
#undef IAM_ACTION
    IAM_ACT__COUNT
} iam_action;

typedef enum iam_level { IAM_LEVEL_SERVICE, IAM_LEVEL_BUCKET, IAM_LEVEL_OBJECT } iam_level;

/* The action a name denotes: "wos:GetObject", "s3:ListBucket", "GetObject" (no prefix: a WOS
 * name), case-insensitive, no wildcards. An S3 name several actions share gives the first row
 * of iam_actions.def (s3:GetObject → IAM_ACT_GET_OBJECT, s3:PutLifecycleConfiguration →
 * IAM_ACT_PUT_BUCKET_LIFECYCLE). IAM_ACT_INVALID when unknown. Meant for start-up (mapping the
 * s3_op table), not for every request. */
iam_action iam_action_lookup(const char *name);
/* "wos:GetObject" — the canonical name, for logs and docs. NULL when out of range. */
const char *iam_action_name(iam_action a);
/* "s3:GetObject" — the S3 name that grants it. NULL when out of range. */
const char *iam_action_s3_name(iam_action a);
/* Whether the action's resource is none, a bucket, or an object. */
iam_level iam_action_level(iam_action a);

/* --- condition keys ----------------------------------------------------------------------- */

typedef enum iam_key {
#define IAM_KEY(id, name, alias1, alias2) IAM_KEY_##id,
#include "iam/iam_keys.def"
#undef IAM_KEY
    IAM_KEY__COUNT
} iam_key;

/* "aws:SourceIp" for IAM_KEY_SOURCE_IP; NULL when out of range. */
const char *iam_key_name(iam_key k);

/* --- requests ----------------------------------------------------------------------------- */

/* One request as the policy sees it. Zero-initialise, then fill what is known; nothing is copied
 * and nothing is kept after iam_evaluate returns.
 *
 * Condition context: ctx[k] is key k's value (NULL: absent); ctx_multi[k], when non-NULL, is a
 * NULL-terminated list of values that replaces ctx[k] (multi-valued keys, for ForAnyValue /
 * ForAllValues). What the request path should set:
 *   IAM_KEY_PREFIX, _DELIMITER, _MAX_KEYS    on ListObjects(V2)/ListObjectVersions/
 *                                            ListMultipartUploads; s3:prefix is "" when the
 *                                            request has no prefix (AWS does so, and policies
 *                                            rely on it: StringEquals s3:prefix ["", "home/"])
 *   IAM_KEY_SOURCE_IP                        the client address ("192.0.2.7", "2001:db8::1")
 *   IAM_KEY_SECURE_TRANSPORT                 "true" over TLS, "false" otherwise
 *   IAM_KEY_ACL, _COPY_SOURCE, _SSE, …       the request's x-amz-/x-wos- header when sent
 *   IAM_KEY_AUTH_TYPE                        "REST-HEADER", "REST-QUERY-STRING" or "POST"
 *   IAM_KEY_SIGNATURE_VERSION                "AWS4-HMAC-SHA256", "AWS" (V2), …
 * Filled in by iam_evaluate when left NULL: USERNAME (from user), USERID (user_id, else user),
 * PRINCIPAL_TYPE ("Anonymous" or "User"), CURRENT_TIME and EPOCH_TIME (from now, when > 0). */
typedef struct iam_request {
    bool anonymous;            /* no credentials: user, user_id and access_key are ignored */
    const char *user;          /* user name ("alice"); NULL when anonymous */
    const char *user_id;       /* stable user id, if the store has one; else NULL */
    const char *access_key;    /* the key that signed the request */
    iam_action action;
    const char *bucket;        /* NULL for service actions */
    const char *key;           /* NULL for bucket actions */
    int64_t now;               /* seconds since the epoch, for aws:CurrentTime; 0: unknown */
    const char *ctx[IAM_KEY__COUNT];
    const char *const *ctx_multi[IAM_KEY__COUNT];
} iam_request;

/* --- policies ----------------------------------------------------------------------------- */

typedef struct iam_policy iam_policy;

typedef enum iam_policy_kind {
    IAM_POLICY_IDENTITY,       /* attached to a user: no Principal */
    IAM_POLICY_BUCKET,         /* a bucket policy: every statement names a (Not)Principal */
} iam_policy_kind;

enum {
    IAM_MAX_IDENTITY_POLICY = 6144,    /* bytes, AWS's managed-policy limit */
    IAM_MAX_BUCKET_POLICY = 20480,     /* bytes, AWS's bucket-policy limit */
    IAM_MAX_PATTERN = 2048,            /* bytes of one resource or condition value */
};

typedef struct iam_parse_opts {
    iam_policy_kind kind;
    size_t max_bytes;          /* 0: IAM_MAX_IDENTITY_POLICY or IAM_MAX_BUCKET_POLICY by kind */
    const char *bucket;        /* bucket policies: every Resource must lie in this bucket
                                * ("bucket" or "bucket/…"); NULL: not checked */
} iam_parse_opts;

/* Parses and compiles a policy text (len bytes, no NUL needed). On success returns 0 and sets
 * *out to a policy the caller owns (iam_policy_free). On any error returns -1, leaves *out NULL
 * and writes a message naming the element at fault into err: one line of valid UTF-8 without
 * control characters, NUL-terminated, cut to errcap bytes (err may be NULL) — the text to send back as MalformedPolicy. Errors: over the
 * size cap, not JSON, duplicate or unknown element, bad Version, missing or empty Statement,
 * unknown Effect, missing or empty Action/Resource, both Action and NotAction (likewise
 * Resource, Principal), bad action name, bad ARN, a resource outside opts->bucket, Principal
 * in an identity policy or missing in a bucket policy, unsupported principal, unknown condition
 * operator or key, a value the operator cannot read (number, date, CIDR, bool), duplicate Sid,
 * a pattern over IAM_MAX_PATTERN bytes. Thread-safe; the result is immutable and may be shared
 * by any number of threads evaluating concurrently. */
int iam_policy_parse(const char *json, size_t len, const iam_parse_opts *opts, iam_policy **out,
                     char *err, size_t errcap);

/* Releases a policy from iam_policy_parse. NULL is ignored. Never call it on a built-in. */
void iam_policy_free(iam_policy *p);

/* How many statements the policy holds (≥ 1). */
size_t iam_policy_statements(const iam_policy *p);

/* --- evaluation --------------------------------------------------------------------------- */

typedef enum iam_decision {
    IAM_NONE = 0,              /* no statement applies: implicit deny */
    IAM_ALLOW = 1,             /* an Allow applies and no Deny does */
    IAM_DENY = 2,              /* an explicit Deny applies */
} iam_decision;

/* Which statement decided, for the access log. */
typedef struct iam_why {
    size_t policy;             /* index into the policies array */
    size_t statement;          /* index into that policy's statements */
    const char *sid;           /* its Sid, or NULL; valid as long as the policy is */
} iam_why;

/* The decision of n policies (NULL entries are skipped) for one request: IAM_DENY if any
 * matching statement denies, else IAM_ALLOW if one allows, else IAM_NONE. An action out of
 * range gives IAM_NONE. Allocates nothing, never fails, and reads req only. */
iam_decision iam_evaluate(const iam_policy *const *policies, size_t n, const iam_request *req);

/* The same, and when the answer is not IAM_NONE, *why (if non-NULL) names the deciding
 * statement: the first Deny that applies, or else the first Allow. */
iam_decision iam_evaluate_why(const iam_policy *const *policies, size_t n, const iam_request *req,
                              iam_why *why);

/* The decision in the most favourable condition context: an Allow's conditions are taken to
 * hold, and a Deny with conditions is taken not to apply (only unconditional Denies deny);
 * action, resource and principal are matched as usual. For ListBuckets' filter: a user whose
 * ListBucket is allowed only under an s3:prefix condition still sees the bucket. Allocates
 * nothing, never fails. */
iam_decision iam_evaluate_optimistic(const iam_policy *const *policies, size_t n, const iam_request *req);

/* --- built-in policies -------------------------------------------------------------------- */

/* The built-in (system) policies, attachable by name like WOS's, identity policies all:
 *   WSCloudWOSReadOnlyAccess        Allow wos:Get*, wos:List*, wos:HeadObject on every
 *                                   resource: list buckets, list and read objects and uploads,
 *                                   read every bucket and object sub-resource (ACL, policy,
 *                                   lifecycle, location, versioning, CORS, tagging). Nothing
 *                                   that writes.
 *   WSCloudWOSFullAccess            Allow wos:* on every resource.
 *   WSCloudWOSResourceCreatorAccess Allow wos:GetService and wos:PutBucket on every resource:
 *                                   list buckets and create new ones, nothing else. Access to a
 *                                   bucket so created comes from its owner's ACL grant
 *                                   (FULL_CONTROL), which the request path must honour.
 * The CDNetworks spellings (CDNWCloudWOS…) name the same policies.
 * Returns the compiled policy, or NULL for an unknown name. The result is static, immutable,
 * shared, and must not be freed; the first call compiles all of them (thread-safe). */
const iam_policy *iam_builtin(const char *name);

/* The JSON text of a built-in (what GET of the policy shows), or NULL for an unknown name. */
const char *iam_builtin_json(const char *name);

/* The i-th built-in's canonical name, for listings; NULL past the end. */
const char *iam_builtin_name(size_t i);

#endif
