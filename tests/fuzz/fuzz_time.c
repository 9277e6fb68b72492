/* fuzz_time — time_parse() and time_parse_iso_basic() on arbitrary strings.
 *
 * Invariants: nothing crashes; whatever parses lies in the supported years (1970..9999);
 * time_parse accepts everything time_parse_iso_basic does, with the same value; and a parsed
 * time survives formatting and parsing again (HTTP date and ISO basic), so what we write in
 * Last-Modified or x-amz-date is something we read back as the same second. */
#include "fuzz.h"

#include "util/timefmt.h"

enum { MAX_INPUT = 256 };
#define T_MIN INT64_C(0)                 /* 1970-01-01T00:00:00Z */
#define T_MAX INT64_C(253402300799)      /* 9999-12-31T23:59:59Z */
#define T_MAX_LEAP (T_MAX + 1)           /* ...:60 of the last day rolls into year 10000 */

static void round_trip(int64_t t)
{
    if (t > T_MAX) return;   /* a leap second at the very end has no year-9999 spelling */
    char http[30], basic[17];
    int64_t back;
    time_fmt_http(t, http);
    FUZZ_CHECK(time_parse(http, &back) && back == t);
    time_fmt_iso_basic(t, basic);
    FUZZ_CHECK(time_parse_iso_basic(basic, &back) && back == t);
    FUZZ_CHECK(time_parse(basic, &back) && back == t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT) return 0;
    char *s = fuzz_strndup(data, size);
    int64_t a = 0, b = 0;
    bool basic = time_parse_iso_basic(s, &a);
    bool any = time_parse(s, &b);
    if (basic) {
        FUZZ_CHECK(a >= T_MIN && a <= T_MAX_LEAP);
        FUZZ_CHECK(any && a == b);
        round_trip(a);
    }
    if (any) {
        FUZZ_CHECK(b >= T_MIN && b <= T_MAX_LEAP);
        round_trip(b);
    }
    free(s);
    return 0;
}
