/* fuzz_range — s3_range_parse() against object sizes taken from the input.
 *
 * Input: line 1 an object size (decimal; anything else means none), line 2 the Range value.
 * The value is checked against that size and against the sizes at the edges (0, 1, 2, the
 * largest int64). Invariants: the result is -1, 0 or 1; a 1 is a non-empty slice inside the
 * object (0 <= off, len >= 1, off + len <= size); a suffix range ends at the object's end;
 * an explicit start is kept; nothing overflows (UBSan). */
#include "fuzz.h"

#include <stdbool.h>

#include "s3/range.h"

static void check(const char *h, int64_t size)
{
    int64_t off = -7, len = -7;
    int r = s3_range_parse(h, size, &off, &len);
    FUZZ_CHECK(r == -1 || r == 0 || r == 1);
    if (r != 1) return;
    FUZZ_CHECK(off >= 0);
    FUZZ_CHECK(len >= 1);
    FUZZ_CHECK(off <= size - len);   /* off + len <= size, without overflowing */
    const char *spec = h + 6;        /* after "bytes=" */
    if (spec[0] == '-') {
        FUZZ_CHECK(off + len == size);
    } else {
        char *end;
        long long a = strtoll(spec, &end, 10);
        FUZZ_CHECK(off == a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_cursor cur = {data, data + size};
    char *first = fuzz_line(&cur);
    char *hdr = fuzz_line(&cur);
    if (!first || !hdr) {
        free(first);
        free(hdr);
        return 0;
    }
    char *end;
    long long sz = strtoll(first, &end, 10);
    bool have = *first && !*end && sz >= 0;   /* object sizes are never negative */
    static const int64_t edges[] = {0, 1, 2, 1000, INT64_MAX};
    if (have) check(hdr, sz);
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) check(hdr, edges[i]);
    (void)s3_range_parse(NULL, have ? sz : 0, &(int64_t){0}, &(int64_t){0});
    free(first);
    free(hdr);
    return 0;
}
