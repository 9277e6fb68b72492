/* meta — the metadata store: buckets, objects, multipart uploads and their parts.
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
    META_ERROR,       /* I/O or database failure (logged) */
} meta_status;

typedef struct meta_store meta_store;

typedef struct meta_options {
    bool durable;     /* fsync on commit (--fsync always) */
} meta_options;

/* Opens (creating if needed) the metadata in directory dir. */
meta_status meta_open(const char *dir, const meta_options *opt, meta_store **out);
void meta_close(meta_store *m);

/* --- buckets ----------------------------------------------------------------------------- */
typedef struct meta_bucket {
    char name[64];
    char owner[129];          /* the owner's access key or user id */
    char region[64];
    char storage_class[16];   /* default class for new objects */
    int64_t created_ms;
} meta_bucket;

/* META_EXISTS when the name is taken; *existing then holds the bucket (to tell
 * BucketAlreadyOwnedByYou from BucketAlreadyExists). existing may be NULL. */
meta_status meta_bucket_create(meta_store *m, const meta_bucket *b, meta_bucket *existing);
meta_status meta_bucket_get(meta_store *m, const char *name, meta_bucket *out);
/* META_NOT_EMPTY when it still holds objects or uploads in progress. */
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
} meta_object;

/* Creates or replaces the object; the replaced object's extents are queued for removal. */
meta_status meta_object_put(meta_store *m, const char *bucket, const meta_object *o);
/* Fills *o with memory from a (headers, inline data, extents). */
meta_status meta_object_get(meta_store *m, const char *bucket, const char *key, arena *a,
                            meta_object *o);
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
/* Parts with number > after, ascending, at most max (0 = all). */
typedef void (*meta_part_fn)(void *cls, const meta_part *p);
meta_status meta_part_list(meta_store *m, const char *upload_id, int after, int max,
                           meta_part_fn fn, void *cls, bool *truncated);

/* Completes an upload in one transaction: checks the upload exists and that each listed part
 * still has the blob id given (else META_CONFLICT: a part was re-uploaded meanwhile), writes the
 * object (o->extents are those parts, in order), queues the replaced object's blobs and every
 * part not listed, and deletes the upload. */
meta_status meta_upload_complete(meta_store *m, const char *bucket, const char *upload_id,
                                 const meta_object *o);
/* Deletes the upload and queues its parts' blobs. */
meta_status meta_upload_abort(meta_store *m, const char *bucket, const char *key,
                              const char *upload_id);

typedef struct meta_upload_query {
    const char *prefix, *delimiter;
    const char *key_marker, *upload_id_marker;
    int max;
} meta_upload_query;
typedef void (*meta_upload_fn)(void *cls, const char *common_prefix, const meta_upload *u);
/* Uploads ordered by key then initiation time (then id), after the markers, with delimiter
 * folding as in meta_object_list. */
meta_status meta_upload_list(meta_store *m, const char *bucket, const meta_upload_query *q,
                             arena *a, meta_upload_fn fn, void *cls, bool *truncated);

/* --- garbage ----------------------------------------------------------------------------- */
/* Hands out up to max queued blob ids and forgets them; returns how many (0 when none). The
 * caller removes the blobs; a crash before that leaves them for the start-up scrub. */
int meta_gc_take(meta_store *m, char (*ids)[META_BLOB_ID_LEN + 1], int max);
/* Whether any object, part or queue row references the blob (for the orphan scrub). */
bool meta_blob_referenced(meta_store *m, const char *blob_id);

#endif
