/* s3 — the protocol layer: turns HTTP requests into S3/WOS operations on the store.
 *
 * main() fills an s3_config once and hands s3_handler() to the HTTP core. Every request then
 * flows: route (path or virtual-host style) → authenticate → choose the operation → stream
 * the body into it → answer (XML, object bytes, or an error from the one table). */
#ifndef WOSD_S3_S3_H
#define WOSD_S3_S3_H

#include <stdbool.h>
#include <stdint.h>

#include "server/http.h"
#include "store/blob.h"
#include "store/meta.h"

enum { S3_MAX_DOMAINS = 16 };

/* S3's smallest part (every part of a Complete but the last). */
#define S3_MIN_PART_SIZE ((int64_t)5 << 20)

typedef struct s3_config {
    meta_store *meta;
    blob_store *blobs;
    const char *region;
    const char *domains[S3_MAX_DOMAINS];   /* virtual-host suffixes */
    int ndomains;
    const char *root_access_key;
    const char *root_secret_key;
    int64_t min_part_size;   /* 0: S3_MIN_PART_SIZE; smaller for tests and benchmarks */
    /* Whether the store can still keep what it is given (its data directory is still there):
     * asked of the disk (ask_disk) before a write is acknowledged; before its body is read, what
     * is already known is enough (the answer may come late there, never wrong). NULL: always. */
    bool (*store_intact)(void *cls, bool ask_disk);
    void *store_intact_cls;
    /* Lifecycle: how long an Archive restore takes, and the length of a lifecycle day (ms; a
     * real day unless --lifecycle-day-seconds shortens it for tests). */
    int64_t restore_delay_ms;
    int64_t day_ms;
} s3_config;

/* Keeps cfg (which must outlive the server) and returns the handler for http_start. */
const http_handler *s3_handler(const s3_config *cfg);

#endif
