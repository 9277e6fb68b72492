/* lifecycle — bucket lifecycle rules: parsed from the client's XML, written back in one
 * canonical form, and matched against objects and uploads.
 *
 * Promises:
 * - lc_parse accepts the WOS document (WOS-API.md §7) and Amazon S3's: Rule with ID, a Filter
 *   (or the legacy Rule/Prefix), Status Enabled|Disabled, Expiration Days|Date
 *   (|ExpiredObjectDeleteMarker), Transition Days|Date + StorageClass (several per rule),
 *   NoncurrentVersionExpiration/Transition (kept, never acted on: wosd has no versions) and
 *   AbortIncompleteMultipartUpload DaysAfterInitiation; at most LC_MAX_RULES rules. A Filter is
 *   empty or holds one of Prefix, Tag, ObjectSizeGreaterThan, ObjectSizeLessThan, And; And holds
 *   two or more of them, Tag repeated (up to LC_MAX_TAGS, keys unique), the others at most once.
 *   A Tag is one text-only Key and Value that an object tag could carry (ops_tagging's checks).
 *   Sizes are bytes, 0 (1 for LessThan) to LC_MAX_SIZE, GreaterThan below LessThan. As in S3, a
 *   rule with a size or a tag may not abort uploads nor name ExpiredObjectDeleteMarker. Anything
 *   else is an error value with S3's code (MalformedXML, InvalidArgument, InvalidRequest,
 *   InvalidStorageClass, InvalidTag) and a message.
 * - lc_write of a parsed configuration, parsed again, writes the same bytes (the stored form is
 *   lc_write without a namespace; GET writes it again in the request's dialect). A filter is
 *   written with its one condition alone, or with And{Prefix, Tags, ObjectSizeGreaterThan,
 *   ObjectSizeLessThan} (those present) when it has more; an empty prefix is no condition.
 *   Rules without an ID get a random one at parse time, as S3 does.
 * - Matching is pure: the object's size, its tags, the time and the length of a day are
 *   arguments, so tests may shorten days (--lifecycle-day-seconds) and a restart changes
 *   nothing. A rule applies to an object when its key has the prefix, its size is strictly
 *   between the bounds (S3: an object of exactly ObjectSizeGreaterThan bytes is not in) and its
 *   stored tag set holds every one of the rule's tags with the same value.
 * - The configuration's default minimum size for transitions (S3's TransitionDefaultMinimumObjectSize,
 *   sent as a request header, not in the body): under all_storage_classes_128K, what PUT takes
 *   when the header is absent, a Transition skips an object smaller than LC_MIN_TRANSITION_SIZE
 *   unless its rule's filter names a size (S3: a custom ObjectSizeGreaterThan/LessThan takes
 *   precedence over the default); expirations never look at it. The stored form keeps it as an
 *   attribute of the root, which lc_parse reads and older binaries pass over; a document without
 *   it (a client's body, or a store written before wosd knew the setting) is
 *   varies_by_storage_class, as S3 reports for configurations made before it had the setting.
 */
#ifndef WOSD_S3_LIFECYCLE_H
#define WOSD_S3_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "s3/errors.h"
#include "s3/xml.h"
#include "util/arena.h"

enum { LC_MAX_RULES = 1000, LC_MAX_TRANSITIONS = 8, LC_MAX_ID = 255, LC_MAX_TAGS = 50 };
#define LC_DAY_MS ((int64_t)86400000)
/* The largest size a filter may name, 1000 TiB: S3 refuses a bound beyond it. */
#define LC_MAX_SIZE ((int64_t)1099511627776000)

typedef struct lc_transition {
    int64_t days;              /* -1 when date_sec is used */
    int64_t date_sec;          /* -1 when days is used; midnight UTC */
    char storage_class[16];    /* "IA" or "Archive" */
} lc_transition;

/* A tag the filter asks for: key and value, and the pair as an object's stored tag set spells
 * it ("k=v", percent-encoded as ops_tagging.c writes it), which matching looks for. */
typedef struct lc_tag {
    const char *key, *value, *pair;
} lc_tag;

typedef struct lc_rule {
    const char *id;
    const char *prefix;        /* "" for the whole bucket */
    int ntags;                 /* Filter/Tag, or the Tags of And: the object must have them all */
    lc_tag *tags;
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

/* S3 transitions nothing smaller than 128 KiB by default (since September 2024). */
#define LC_MIN_TRANSITION_SIZE ((int64_t)131072)

/* TransitionDefaultMinimumObjectSize. S3's varies_by_storage_class keeps small objects out of
 * its IA classes and lets them into Glacier; wosd reads it as no default minimum for any of
 * its classes, which is what every configuration did before wosd had the setting, so stores
 * written then keep their behaviour. */
typedef enum { LC_MIN_VARIES, LC_MIN_128K } lc_min_size;

typedef struct lc_config {
    int nrules;
    lc_rule *rules;
    lc_min_size min_size;
    bool has_tags;   /* a rule filters by tag (lc_needs_tags) */
} lc_config;

/* The setting named by a header value, or -1 when the value is not one of S3's two. */
int lc_min_size_parse(const char *value);
/* S3's name of the setting: "all_storage_classes_128K" or "varies_by_storage_class". */
const char *lc_min_size_name(lc_min_size m);

/* Parses a request body (or a stored document) into *out (arena memory). On error *msg may be
 * set to a message for the client (arena memory or static). */
s3_err lc_parse(arena *a, const char *xml, size_t len, lc_config *out, const char **msg);
/* Writes the whole document: declaration, LifecycleConfiguration in namespace ns. ns NULL is the
 * stored form, whose root also carries min_size (TransitionDefaultMinimumObjectSize="…"): an
 * answer to a client names the namespace and keeps the setting for a header. */
void lc_write(xmlw *w, const lc_config *c, const char *ns, bool standalone);

/* When an enabled rule expires the object (key, size in bytes, tags — the value of its stored
 * tag set line, NULL when it has none —, mtime_ms): the earliest such moment in ms and the rule,
 * or NULL when none does. day_ms is the length of a lifecycle day: with real days (LC_DAY_MS)
 * the moment is rounded up to the next midnight UTC, as S3 does. */
const lc_rule *lc_expiry(const lc_config *c, const char *key, int64_t size, const char *tags, int64_t mtime_ms,
                         int64_t day_ms, int64_t *at_ms);
/* Whether a rule filters by tag: only then do the object's tags need reading. */
bool lc_needs_tags(const lc_config *c);

typedef enum { LC_KEEP, LC_EXPIRE, LC_TRANSITION } lc_action;
/* What the rules ask of the object now: expire it, move it to *to_class (only ever to a colder
 * class: Standard → IA → Archive; never an object under the default minimum size, see above),
 * or nothing. *rule (may be NULL) is the deciding rule. */
lc_action lc_object_action(const lc_config *c, const char *key, int64_t size, const char *tags, int64_t mtime_ms,
                           const char *storage_class, int64_t now_ms, int64_t day_ms,
                           const char **to_class, const lc_rule **rule);
/* Whether an upload of key initiated at initiated_ms is to be aborted now. Sizes play no part:
 * no rule with a size condition aborts uploads. */
bool lc_upload_expired(const lc_config *c, const char *key, int64_t initiated_ms, int64_t now_ms,
                       int64_t day_ms);
/* Rank of a storage class for transitions: Standard 0, IA 1, Archive 2 (unknown: 0). */
int lc_class_rank(const char *storage_class);

#endif
