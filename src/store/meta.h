/* meta — the metadata store: buckets, objects, multipart uploads and their parts; users, access
 * keys, policies and bucket permissions.
 *
 * This header is the whole contract between the protocol layer and metadata. The embedded
 * driver is meta_sqlite.c (SQLite in WAL mode); a shared-deployment driver (PostgreSQL) fills
 * the same functions. Nothing here knows HTTP; nothing in s3/ knows SQL.
 *
 * Promises:
 * - Every function that changes state does so in one transaction: after it returns META_OK the
 *   change is visible to every thread and (when opened with durable = true) on disk.
 * - Keys are opaque byte strings without NUL, compared bytewise (UTF-8 binary order, as S3
 *   lists them).
 * - Blobs an object or part stops referencing (overwrite, delete, abort, parts left out of a
 *   Complete) are queued in the same transaction for removal; meta_gc_take() hands them out.
 *   No row ever points at a blob that was queued.
 * - Safe to call from any thread; each thread uses its own connection internally.
 */
#ifndef WOSD_STORE_META_H
#define WOSD_STORE_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

typedef enum {
    META_OK = 0,
    META_NOT_FOUND,   /* no such bucket / object / upload / part */
    META_EXISTS,      /* bucket already exists */
    META_NOT_EMPTY,   /* bucket still has objects or uploads */
    META_CONFLICT,    /* a Complete saw parts change under it, or a condition failed */
    META_STALE,       /* a conditional write found another version than expected (meta_expect) */
    META_ERROR,       /* I/O or database failure (logged) */
} meta_status;

typedef struct meta_store meta_store;

typedef struct meta_options {
    bool durable;     /* fsync on commit (--fsync always) */
} meta_options;

/* Opens (creating if needed) the metadata in directory dir. */
meta_status meta_open(const char *dir, const meta_options *opt, meta_store **out);
void meta_close(meta_store *m);

/* --- groups of changes ---------------------------------------------------------------------
 *
 * A thread with many independent changes to make (the server's group thread, one change per
 * waiting request) opens a group, makes them, and closes it: every change of the group shares
 * one commit (and one flush), and no other thread's change runs in between. Inside a group a
 * function that changes state returns as soon as its change is made, before it is committed:
 * its META_OK is provisional, and becomes final only when meta_group_close returns META_OK.
 * When it returns anything else every change of the group is lost, whatever each returned;
 * after a failure inside the group the remaining changes fail at once (META_ERROR) rather than
 * commit without the ones before them. A later change of the group sees the earlier ones;
 * reads (meta_*_get, listings) see them once the group is closed. Only changes with nothing to do after their commit
 * belong in a group (their caller acts on a provisional answer). */
void meta_group_open(meta_store *m);
meta_status meta_group_close(meta_store *m);

/* --- buckets ----------------------------------------------------------------------------- */
typedef struct meta_bucket {
    char name[64];
    char owner[129];          /* the owner's access key or user id */
    char region[64];
    char storage_class[16];   /* default class for new objects */
    int64_t created_ms;
    char acl[32];             /* canned ACL: "private", "public-read", …; opaque to the store.
                               * meta_bucket_create stores "" as "private". */
} meta_bucket;

/* META_EXISTS when the name is taken; *existing then holds the bucket (to tell
 * BucketAlreadyOwnedByYou from BucketAlreadyExists). existing may be NULL. Creating and
 * deleting a bucket move meta_iam_generation() on (the bucket's ACL comes and goes). */
meta_status meta_bucket_create(meta_store *m, const meta_bucket *b, meta_bucket *existing);
meta_status meta_bucket_get(meta_store *m, const char *name, meta_bucket *out);
/* META_NOT_EMPTY when it still holds objects or uploads in progress. Deletes the bucket's
 * policy in the same transaction. */
meta_status meta_bucket_delete(meta_store *m, const char *name);
/* Every bucket in name order. */
typedef void (*meta_bucket_fn)(void *cls, const meta_bucket *b);
meta_status meta_bucket_list(meta_store *m, meta_bucket_fn fn, void *cls);

/* --- objects ----------------------------------------------------------------------------- */
enum { META_BLOB_ID_LEN = 32 };

/* One stored piece of an object: a whole blob. A plain object has one extent; a completed
 * multipart object has one per part, in order. */
typedef struct meta_extent {
    char blob_id[META_BLOB_ID_LEN + 1];
    int64_t size;
    char etag[33];            /* the part's MD5 hex (multipart), or the object's */
} meta_extent;

typedef struct meta_object {
    const char *key;
    int64_t size;
    char etag[48];            /* unquoted: md5 hex, or md5hex-N for multipart */
    int64_t mtime_ms;
    char storage_class[16];
    const char *headers;      /* opaque to the store: the protocol layer's stored headers */
    /* The bytes: inline (size bytes in inline_data, nextents == 0) or in extents. */
    const void *inline_data;
    int nextents;
    const meta_extent *extents;
    int parts_count;          /* 0 for a plain object, N for multipart */
    /* Lifecycle state. expire_ms: when this object expires on its own (x-wos-delete-after-days),
     * 0 for never; written by meta_object_put. restore_*: an Archive object's restored copy is
     * readable from restore_ready_ms until restore_expiry_ms (0: never restored); read only,
     * set by meta_object_set_restore, cleared by any rewrite of the object. */
    int64_t expire_ms;
    int64_t restore_ready_ms, restore_expiry_ms;
} meta_object;

/* Creates or replaces the object; the replaced object's extents are queued for removal. */
meta_status meta_object_put(meta_store *m, const char *bucket, const meta_object *o);

/* What a conditional write (If-None-Match: *, If-Match) expects to replace, checked inside the
 * write's transaction: of two writes that read the same version, only one lands. absent: no
 * object has the key; otherwise the version read (etag and mtime_ms). */
typedef struct meta_expect {
    bool absent;
    const char *etag;
    int64_t mtime_ms;
} meta_expect;

/* meta_object_put, provided the key still holds what x says (x NULL: unconditional); META_STALE,
 * and no change, when it does not. */
meta_status meta_object_put_if(meta_store *m, const char *bucket, const meta_object *o,
                               const meta_expect *x);
/* Fills *o with memory from a (headers, inline data, extents). */
meta_status meta_object_get(meta_store *m, const char *bucket, const char *key, arena *a,
                            meta_object *o);
/* Replaces the stored headers of the object (its ACL line, …) and nothing else, provided it is
 * still the version the caller read: same etag and mtime_ms. META_NOT_FOUND when the object is
 * gone or was replaced meanwhile (read it again to tell which). Its bytes are not touched. */
meta_status meta_object_set_headers(meta_store *m, const char *bucket, const char *key, const char *etag,
                                    int64_t mtime_ms, const char *headers);
/* META_NOT_FOUND when there was nothing to delete. */
meta_status meta_object_delete(meta_store *m, const char *bucket, const char *key);

typedef struct meta_list_query {
    const char *prefix;       /* "" for all */
    const char *delimiter;    /* NULL or "" for none */
    const char *after;        /* list keys strictly after this ("" for the start) */
    int max;                  /* entries (objects + common prefixes), 1..1000 */
    int64_t start_ms, end_ms; /* WOS start-time/end-time filter on mtime; 0 = none */
} meta_list_query;

/* One listing entry: a common prefix (o == NULL) or an object (headers and data not filled). */
typedef void (*meta_list_fn)(void *cls, const char *common_prefix, const meta_object *o);
/* Lists in key order, folding keys that share prefix+...+delimiter into one common prefix
 * within the index scan (seeking past each one). *truncated tells whether more entries
 * follow; *last (arena memory) is the last key or common prefix returned, the marker to
 * continue from. */
meta_status meta_object_list(meta_store *m, const char *bucket, const meta_list_query *q,
                             arena *a, meta_list_fn fn, void *cls, bool *truncated,
                             const char **last);

/* --- multipart uploads ------------------------------------------------------------------- */
typedef struct meta_upload {
    char upload_id[33];
    const char *key;
    int64_t initiated_ms;
    char storage_class[16];
    char owner[129];
    const char *headers;      /* stored headers for the object Complete creates */
} meta_upload;

/* META_NOT_FOUND without the bucket; META_EXISTS when bucket and key have an upload of that id.
 * The caller makes ids unique across the store (a part is found by its upload's id alone): the
 * s3 layer's carry 80 random bits after the time. */
meta_status meta_upload_create(meta_store *m, const char *bucket, const meta_upload *u);
/* META_NOT_FOUND unless the upload exists for this bucket and key. */
meta_status meta_upload_get(meta_store *m, const char *bucket, const char *key,
                            const char *upload_id, arena *a, meta_upload *u);

typedef struct meta_part {
    int number;
    int64_t size;
    char etag[33];            /* MD5 hex */
    char blob_id[META_BLOB_ID_LEN + 1];
    int64_t mtime_ms;
} meta_part;

/* Records a part, replacing (and queueing the blob of) a previous part with the same number.
 * META_NOT_FOUND when the upload no longer exists (the caller then removes its blob). */
meta_status meta_part_put(meta_store *m, const char *bucket, const char *key,
                          const char *upload_id, const meta_part *p);
/* The parts of bucket/key's upload with number > after, ascending, at most max (0 = all);
 * META_NOT_FOUND when there is no such upload. */
typedef void (*meta_part_fn)(void *cls, const meta_part *p);
meta_status meta_part_list(meta_store *m, const char *bucket, const char *key,
                           const char *upload_id, int after, int max, meta_part_fn fn, void *cls,
                           bool *truncated);

/* Completes an upload in one transaction: checks the upload exists (for bucket and o->key, which
 * is required) and that each listed part
 * still has the blob id given (else META_CONFLICT: a part was re-uploaded meanwhile), and that
 * the key holds what x says (NULL: anything; else META_STALE), writes the object (o->extents are
 * those parts, in order), queues the replaced object's blobs and every part not listed, and
 * deletes the upload. */
meta_status meta_upload_complete(meta_store *m, const char *bucket, const char *upload_id,
                                 const meta_object *o, const meta_expect *x);
/* Deletes the upload and queues its parts' blobs. */
meta_status meta_upload_abort(meta_store *m, const char *bucket, const char *key,
                              const char *upload_id);

typedef struct meta_upload_query {
    const char *prefix, *delimiter;
    const char *key_marker, *upload_id_marker;
    int max;
} meta_upload_query;
typedef void (*meta_upload_fn)(void *cls, const char *common_prefix, const meta_upload *u);
/* Uploads ordered by key then upload id, after the markers, with delimiter folding as in
 * meta_object_list. (The s3 layer's ids begin with the initiation time: within a key, id
 * order is initiation order.) */
meta_status meta_upload_list(meta_store *m, const char *bucket, const meta_upload_query *q,
                             arena *a, meta_upload_fn fn, void *cls, bool *truncated);

/* --- identities and permissions (IAM) ------------------------------------------------------
 *
 * Users, their access keys, managed policies and their attachments to users, bucket policies
 * and bucket canned ACLs. The store keeps names and texts: it parses no policy and knows no
 * built-in one (iam/policy.h does both), and it validates no name (the admin API does).
 *
 * Names. User and managed-policy names are unique whatever their ASCII case, as in AWS IAM:
 * "Alice" and "alice" are one user, found by either spelling, and reads return the spelling it
 * was created with. Access keys, user ids and bucket names are compared exactly.
 *
 * Attachments are stored by policy name, and a name resolves when a request is evaluated: to
 * the built-in of that name when iam_builtin() knows it, else to the managed policy stored
 * under it. Built-ins have no row here, so the caller says, when attaching, that the name is
 * a built-in (it has asked iam_builtin()); the store then records the attachment without
 * looking for a policy. Callers keep the two namespaces apart by refusing meta_policy_put of a
 * built-in's name.
 *
 * Secrets are stored as given — signatures need the plain secret — and are never logged.
 *
 * Generation. Every function here that changes something (and bucket create and delete)
 * commits and then moves meta_iam_generation() on, so a caller may cache what it derives from
 * this state (compiled policies, key lookups) keyed on that number. */

typedef struct meta_user {
    char name[65];
    char id[33];              /* a stable id the caller chose at creation (hex) */
    bool disabled;
    int64_t created_ms;
} meta_user;

/* Creates the user as given. META_EXISTS when the name (in any case) or the id is taken. */
meta_status meta_user_create(meta_store *m, const meta_user *u);
/* Reads the user. META_NOT_FOUND when there is none by that name. out may be NULL. */
meta_status meta_user_get(meta_store *m, const char *name, meta_user *out);
/* Marks the user disabled or enabled; its keys, attachments and buckets stay. META_NOT_FOUND
 * when there is no such user. */
meta_status meta_user_set_disabled(meta_store *m, const char *name, bool disabled);
/* Deletes the user, its access keys and its policy attachments in one transaction. Buckets it
 * owns are left as they are (the caller decides what to do with them). META_NOT_FOUND when
 * there is no such user. */
meta_status meta_user_delete(meta_store *m, const char *name);
typedef void (*meta_user_fn)(void *cls, const meta_user *u);
/* Every user in name order (case-insensitive). fn runs after the read has finished, so it may
 * call the store. */
meta_status meta_user_list(meta_store *m, meta_user_fn fn, void *cls);

typedef struct meta_key {
    char access_key[129];
    char secret[129];         /* as given; never log it */
    char user[65];            /* the owner's name */
    bool disabled;
    int64_t created_ms;
    /* Filled by reads, ignored by meta_key_create: the owner's state, so that authenticating a
     * request takes one call. */
    bool user_disabled;
    char user_id[33];
} meta_key;

/* Creates the key for k->user (the key records the user's name as the user was created).
 * META_EXISTS when the access key is taken, by any user; META_NOT_FOUND when the user does not
 * exist. */
meta_status meta_key_create(meta_store *m, const meta_key *k);
/* The key with its secret and its owner's state: one primary-key lookup (joined to the user's
 * row) on a cached statement, without a transaction — this is every signed request's call.
 * META_NOT_FOUND when there is no such key. Disabled keys and keys of disabled users are
 * returned with the flags set: refusing them is the caller's decision. */
meta_status meta_key_get(meta_store *m, const char *access_key, meta_key *out);
/* META_NOT_FOUND when there is no such key. */
meta_status meta_key_set_disabled(meta_store *m, const char *access_key, bool disabled);
/* META_NOT_FOUND when there is no such key. */
meta_status meta_key_delete(meta_store *m, const char *access_key);
typedef void (*meta_key_fn)(void *cls, const meta_key *k);
/* Keys in access-key order: all of them (user NULL) or one user's (META_NOT_FOUND when that
 * user does not exist). Listings never carry secrets: secret is "" (meta_key_get is the one way
 * to read a secret). fn runs after the read has finished. */
meta_status meta_key_list(meta_store *m, const char *user, meta_key_fn fn, void *cls);

typedef void (*meta_name_fn)(void *cls, const char *name);

/* Creates the managed policy, or replaces its text (keeping its name's spelling and its
 * attachments). json is stored as given: the caller has parsed it. */
meta_status meta_policy_put(meta_store *m, const char *name, const char *json);
/* *json is the policy's text, copied into a. META_NOT_FOUND when no managed policy has that
 * name (built-ins are not stored). */
meta_status meta_policy_get(meta_store *m, const char *name, arena *a, const char **json);
/* META_NOT_FOUND when there is no such managed policy; META_NOT_EMPTY while it is attached to
 * any user. */
meta_status meta_policy_delete(meta_store *m, const char *name);
/* Every managed policy's name in order (case-insensitive); built-ins are not listed. fn runs
 * after the read has finished. */
meta_status meta_policy_list(meta_store *m, meta_name_fn fn, void *cls);
/* Attaches the policy to the user. builtin: the caller has checked that policy names a
 * built-in (iam_builtin()), and the name is recorded as given without a stored policy;
 * otherwise a managed policy of that name must exist. META_NOT_FOUND when the user, or (not
 * builtin) the managed policy, does not exist. Attaching an attached policy again is META_OK. */
meta_status meta_policy_attach(meta_store *m, const char *user, const char *policy, bool builtin);
/* META_NOT_FOUND when the policy is not attached to the user (or there is no such user). */
meta_status meta_policy_detach(meta_store *m, const char *user, const char *policy);
/* The names of the policies attached to the user, in order (case-insensitive), built-ins and
 * managed alike. META_NOT_FOUND when there is no such user. fn runs after the read. */
meta_status meta_user_policies(meta_store *m, const char *user, meta_name_fn fn, void *cls);

/* Creates or replaces the bucket's policy (json as given). META_NOT_FOUND when there is no
 * such bucket. */
meta_status meta_bucket_policy_put(meta_store *m, const char *bucket, const char *json);
/* *json is the bucket's policy, copied into a. META_NOT_FOUND when the bucket has none (or
 * does not exist: ask meta_bucket_get to tell NoSuchBucket from NoSuchBucketPolicy). */
meta_status meta_bucket_policy_get(meta_store *m, const char *bucket, arena *a,
                                   const char **json);
/* META_NOT_FOUND when the bucket had no policy (S3 answers that with success all the same). */
meta_status meta_bucket_policy_delete(meta_store *m, const char *bucket);
/* Sets the bucket's canned ACL ("" is "private"). META_NOT_FOUND when there is no such bucket. */
meta_status meta_bucket_set_acl(meta_store *m, const char *bucket, const char *acl);

/* A number that changes after every committed change to users, keys, policies, attachments,
 * bucket policies, bucket ACLs and the set of buckets, made through this handle; it changes
 * once the change is visible, so a cache filled after reading it is stale at most until the
 * next read of it. Only comparisons between values of one handle mean anything. Lock-free: one
 * atomic load. Changes made by another process (the offline admin CLI) are counted in the
 * database too, so they show from the next meta_open, or sooner through meta_iam_refresh. */
uint64_t meta_iam_generation(meta_store *m);
/* Looks for changes other processes sharing the database have committed (one primary-key
 * read) and moves the generation on if there are any. For servers that share their metadata,
 * to call now and then; never needed for this process's own changes. */
meta_status meta_iam_refresh(meta_store *m);

/* --- lifecycle ---------------------------------------------------------------------------
 *
 * A bucket's lifecycle rules are a document the store keeps without reading it (the protocol
 * layer parses it), beside the background worker's place in the bucket: the key its current
 * pass has reached (cursor, "" at the start) and when that pass began. Deleting the bucket
 * deletes its rules in the same transaction. */

/* Creates or replaces the rules; a replacement restarts the worker's pass. META_NOT_FOUND when
 * there is no such bucket. */
meta_status meta_lifecycle_put(meta_store *m, const char *bucket, const char *document);
/* *document (arena). META_NOT_FOUND when the bucket has no rules (or does not exist). */
meta_status meta_lifecycle_get(meta_store *m, const char *bucket, arena *a, const char **document);
/* META_NOT_FOUND when there were no rules. */
meta_status meta_lifecycle_delete(meta_store *m, const char *bucket);
/* A number that moves after every meta_lifecycle_put / meta_lifecycle_delete through this
 * handle (lock-free). Rules also go when their bucket is deleted, which moves
 * meta_iam_generation(): a cache of rules is valid while neither number has moved. */
uint64_t meta_lifecycle_generation(meta_store *m);

typedef struct meta_lifecycle {
    const char *bucket, *document;
    const char *cursor;       /* the last key the current pass handled; "" at its start */
    int64_t pass_started_ms;  /* 0 before the first pass */
} meta_lifecycle;
typedef void (*meta_lifecycle_fn)(void *cls, const meta_lifecycle *lc);
/* Up to max buckets with rules, in name order after `after` ("" for the first); fn runs after
 * the read has finished (arena memory), so it may call the store. */
meta_status meta_lifecycle_list(meta_store *m, const char *after, int max, arena *a,
                                meta_lifecycle_fn fn, void *cls);
/* Records the worker's place. META_NOT_FOUND when the bucket has no rules any more. */
meta_status meta_lifecycle_set_cursor(meta_store *m, const char *bucket, const char *cursor,
                                      int64_t pass_started_ms);

/* The conditional changes below act only on the version of the object the caller read (same
 * etag and mtime_ms), so a lifecycle action never hits an object written since; META_NOT_FOUND
 * when that version is gone (deleted, replaced) or, for restore, the condition failed. */

/* Deletes the object, queueing its blobs. */
meta_status meta_object_delete_if(meta_store *m, const char *bucket, const char *key, const char *etag,
                                  int64_t mtime_ms);
/* Sets an Archive object's restore window, provided its restore_ready_ms is still old_ready_ms
 * (two restores racing: one wins). */
meta_status meta_object_set_restore(meta_store *m, const char *bucket, const char *key, const char *etag,
                                    int64_t mtime_ms, int64_t old_ready_ms, int64_t ready_ms,
                                    int64_t expiry_ms);
/* Changes the object's storage class and forgets any restore. With extents (n == the object's
 * extent count), the bytes moved: the new extents replace the old, whose blobs are queued; the
 * caller removes its new blobs on META_NOT_FOUND. Without (ext NULL), the bytes stay. */
meta_status meta_object_set_class(meta_store *m, const char *bucket, const char *key, const char *etag,
                                  int64_t mtime_ms, const char *storage_class, const meta_extent *ext,
                                  int n);
/* Up to max objects whose own expiry (expire_ms) is at or before now_ms, earliest first, any
 * bucket (an index range read: objects without an expiry are never visited). fn gets bucket,
 * and o with key, etag, mtime_ms, expire_ms; it runs after the read. */
typedef void (*meta_due_fn)(void *cls, const char *bucket, const meta_object *o);
meta_status meta_object_due(meta_store *m, int64_t now_ms, int max, arena *a, meta_due_fn fn, void *cls);

/* --- garbage ----------------------------------------------------------------------------- */
/* Hands out up to max queued blob ids and forgets them; returns how many (0 when none). The
 * caller removes the blobs; a crash before that leaves them for the start-up scrub. */
int meta_gc_take(meta_store *m, char (*ids)[META_BLOB_ID_LEN + 1], int max);
/* Whether any object, part or queue row references the blob (for the orphan scrub). */
bool meta_blob_referenced(meta_store *m, const char *blob_id);

#endif
