/* range — the Range header of GET and HEAD, as S3 reads it. */
#include <stdlib.h>
#include <string.h>

#include "s3/range.h"

int s3_range_parse(const char *h, int64_t size, int64_t *off, int64_t *len)
{
    if (!h || strncmp(h, "bytes=", 6) != 0) return 0;
    const char *p = h + 6;
    if (strchr(p, ',')) return 0;   /* several ranges: answered with the whole object, as S3 does */
    char *end;
    if (*p == '-') {
        long long n = strtoll(p + 1, &end, 10);
        if (end == p + 1 || *end || n < 0) return 0;
        if (n == 0 || size == 0) return -1;
        if (n > size) n = size;
        *off = size - n;
        *len = n;
        return 1;
    }
    if (*p < '0' || *p > '9') return 0;
    long long a = strtoll(p, &end, 10);
    if (*end != '-') return 0;
    const char *q = end + 1;
    long long b;
    if (!*q) {
        b = size - 1;
    } else {
        if (*q < '0' || *q > '9') return 0;
        b = strtoll(q, &end, 10);
        if (*end || b < a) return 0;
    }
    if (a >= size) return -1;
    if (b >= size) b = size - 1;
    *off = a;
    *len = b - a + 1;
    return 1;
}
