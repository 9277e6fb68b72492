/* lc_worker — the background lifecycle worker: applies every bucket's lifecycle rules and every
 * object's own expiry, on its own thread, a little at a time.
 *
 * Promises:
 * - Objects past an expiration (a rule's, or their own x-wos-delete-after-days) are deleted;
 *   objects due for a transition change class (only ever colder: Standard → IA → Archive), their
 *   bytes moved to the class's tier; uploads older than AbortIncompleteMultipartUpload allows are
 *   aborted and their parts reclaimed.
 * - Every action is its own small transaction and acts only on the version of the object the
 *   worker read (an object written since is left alone). A bucket is walked in pages of `batch`
 *   keys in key order, never in one transaction; the place reached is stored after each page, so
 *   a restart resumes the pass where it stopped.
 * - Each bucket is walked again `interval_ms` after its last pass began; objects expiring on
 *   their own are found through an index, whatever the buckets' rules.
 */
#ifndef WOSD_S3_LC_WORKER_H
#define WOSD_S3_LC_WORKER_H

#include <stdint.h>

#include "store/blob.h"
#include "store/meta.h"

typedef struct lc_worker_config {
    meta_store *meta;
    blob_store *blobs;
    int64_t day_ms;          /* the length of a lifecycle day */
    int64_t interval_ms;     /* between the starts of two passes over one bucket */
    int batch;               /* objects (or uploads) per step */
} lc_worker_config;

typedef struct lc_worker lc_worker;

/* Starts the thread; NULL when it cannot. */
lc_worker *lc_worker_start(const lc_worker_config *cfg);
/* Stops the thread (waiting for the step in progress) and frees w. Safe on NULL. */
void lc_worker_stop(lc_worker *w);

#endif
