/* meta_sqlite — what the SQLite metadata driver shows beyond meta.h, for its own tests.
 *
 * The listing promise ("a page costs O(page) seeks, never a read of every key under a common
 * prefix") is a performance property that a correct-but-slow scan would also pass functionally,
 * so the tests need to see how many rows a listing actually stepped over. */
#ifndef WOSD_STORE_META_SQLITE_H
#define WOSD_STORE_META_SQLITE_H

#include <stdint.h>

/* Rows the calling thread's listings (objects and uploads) have read from the index so far. */
uint64_t meta_sqlite_scan_rows(void);

#endif
