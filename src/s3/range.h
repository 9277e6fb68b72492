/* range — parsing "Range: bytes=…" against an object's size.
 *
 * One range of the forms bytes=a-b, bytes=a- and bytes=-n. Several ranges, another unit or a
 * malformed value are ignored (the whole object is answered, as S3 does); a range that starts
 * past the end, or a zero-length suffix, is unsatisfiable (416). */
#ifndef WOSD_S3_RANGE_H
#define WOSD_S3_RANGE_H

#include <stdint.h>

/* 0: no usable range (answer the whole object); 1: [*off, *off + *len) of the object;
 * -1: unsatisfiable. */
int s3_range_parse(const char *header, int64_t size, int64_t *off, int64_t *len);

#endif
