/* lifecycle — bucket lifecycle rules: parsed from the client's XML, written back in one
 * canonical form, and matched against objects and uploads.
 *
 * Promises:
 * - lc_parse accepts the WOS document (WOS-API.md §7) and Amazon S3's: Rule with ID, a Filter
 *   (or the legacy Rule/Prefix), Status Enabled|Disabled, Expiration Days|Date
 *   (|ExpiredObjectDeleteMarker), Transition Days|Date + StorageClass (several per rule),
 *   NoncurrentVersionExpiration/Transition (kept, never acted on: wosd has no versions) and
 *   AbortIncompleteMultipartUpload DaysAfterInitiation; at most LC_MAX_RULES rules. A Filter is
 *   empty or holds one of Prefix, ObjectSizeGreaterThan, ObjectSizeLessThan, And; And holds two
 *   or more of Prefix, ObjectSizeGreaterThan, ObjectSizeLessThan (each at most once). Sizes are
 *   bytes, 0 (1 for LessThan) to LC_MAX_SIZE, GreaterThan below LessThan. As in S3, a rule with
 *   a size condition may not abort uploads nor name ExpiredObjectDeleteMarker. Anything else is
 *   an error value with S3's code (MalformedXML, InvalidArgument, InvalidRequest,
 *   InvalidStorageClass; NotImplemented for tag filters, alone or in And) and a message.
 * - lc_write of a parsed configuration, parsed again, writes the same bytes (the stored form is
 *   lc_write without a namespace; GET writes it again in the request's dialect). A filter is
 *   written with its one condition alone, or with And{Prefix, ObjectSizeGreaterThan,
 *   ObjectSizeLessThan} (those present) when it has more; an empty prefix is no condition.
 *   Rules without an ID get a random one at parse time, as S3 does.
 * - Matching is pure: the object's size, the time and the length of a day are arguments, so
 *   tests may shorten days (--lifecycle-day-seconds) and a restart changes nothing. A rule
 *   applies to an object when its key has the prefix and its size is strictly between the
 *   bounds (S3: an object of exactly ObjectSizeGreaterThan bytes is not in).
 */
#ifndef WOSD_S3_LIFECYCLE_H
#define WOSD_S3_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3/errors.h"
#include "s3/xml.h"
#include "util/arena.h"

enum { LC_MAX_RULES = 1000, LC_MAX_TRANSITIONS = 8, LC_MAX_ID = 255 };
#define LC_DAY_MS ((int64_t)86400000)
/* The largest size a filter may name, 1000 TiB: S3 refuses a bound beyond it. */
#define LC_MAX_SIZE ((int64_t)1099511627776000)

typedef struct lc_transition {
    int64_t days;              /* -1 when date_sec is used */
    int64_t date_sec;          /* -1 when days is used; midnight UTC */
    char storage_class[16];    /* "IA" or "Archive" */
} lc_transition;

typedef struct lc_rule {
    const char *id;
    const char *prefix;        /* "" for the whole bucket */
    bool legacy_prefix;        /* written as Rule/Prefix instead of Filter/Prefix */
    int64_t size_gt, size_lt;  /* ObjectSizeGreaterThan/LessThan in bytes, -1 when absent */
    bool enabled;
    int64_t exp_days, exp_date_sec;   /* -1 when absent */
    bool exp_delete_marker;           /* ExpiredObjectDeleteMarker true */
    bool has_expiration;
    int ntrans;
    lc_transition trans[LC_MAX_TRANSITIONS];
    int64_t nc_exp_days;       /* NoncurrentVersionExpiration NoncurrentDays, -1 when absent */
    int nnctrans;
    lc_transition nctrans[LC_MAX_TRANSITIONS];   /* days = NoncurrentDays */
    int64_t abort_days;        /* AbortIncompleteMultipartUpload, -1 when absent */
} lc_rule;

typedef struct lc_config {
    int nrules;
    lc_rule *rules;
} lc_config;

/* Parses a request body (or a stored document) into *out (arena memory). On error *msg may be
 * set to a message for the client (arena memory or static). */
s3_err lc_parse(arena *a, const char *xml, size_t len, lc_config *out, const char **msg);
/* Writes the whole document: declaration, LifecycleConfiguration in namespace ns (NULL: none). */
void lc_write(xmlw *w, const lc_config *c, const char *ns, bool standalone);

/* When an enabled rule expires the object (key, size in bytes, mtime_ms): the earliest such
 * moment in ms and the rule, or NULL when none does. day_ms is the length of a lifecycle day:
 * with real days (LC_DAY_MS) the moment is rounded up to the next midnight UTC, as S3 does. */
const lc_rule *lc_expiry(const lc_config *c, const char *key, int64_t size, int64_t mtime_ms, int64_t day_ms,
                         int64_t *at_ms);

typedef enum { LC_KEEP, LC_EXPIRE, LC_TRANSITION } lc_action;
/* What the rules ask of the object now: expire it, move it to *to_class (only ever to a colder
 * class: Standard → IA → Archive), or nothing. *rule (may be NULL) is the deciding rule. */
lc_action lc_object_action(const lc_config *c, const char *key, int64_t size, int64_t mtime_ms,
                           const char *storage_class, int64_t now_ms, int64_t day_ms,
                           const char **to_class, const lc_rule **rule);
/* Whether an upload of key initiated at initiated_ms is to be aborted now. Sizes play no part:
 * no rule with a size condition aborts uploads. */
bool lc_upload_expired(const lc_config *c, const char *key, int64_t initiated_ms, int64_t now_ms,
                       int64_t day_ms);
/* Rank of a storage class for transitions: Standard 0, IA 1, Archive 2 (unknown: 0). */
int lc_class_rank(const char *storage_class);

#endif
