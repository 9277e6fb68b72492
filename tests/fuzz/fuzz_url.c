/* fuzz_url — url_decode(), uri_encode(), utf8_valid() and str_trim_fold() on arbitrary bytes.
 *
 * Invariants:
 *   - uri_encode writes only unreserved bytes, '/' when asked to keep it, and %XX with
 *     upper-case hex; decoding that gives the input back, byte for byte (NULs included), with
 *     or without '+' meaning space;
 *   - url_decode fails exactly when a '%' is not followed by two hex digits; otherwise its
 *     output is no longer than its input and NUL-terminated at the reported length;
 *   - utf8_valid agrees with an independent validator written from the Unicode standard's
 *     table of well-formed byte sequences (Table 3-7);
 *   - str_trim_fold leaves no leading, trailing, doubled space and no tab, and changes nothing
 *     but whitespace. */
#include "fuzz.h"

#include <stdbool.h>

#include "util/arena.h"
#include "util/str.h"

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

static bool hexdigit(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Unicode 15, Table 3-7: the well-formed UTF-8 byte sequences. */
static bool utf8_reference(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        unsigned char lo = 0x80, hi = 0xBF;
        size_t len;
        if (c <= 0x7F) { i++; continue; }
        else if (c >= 0xC2 && c <= 0xDF) len = 2;
        else if (c == 0xE0) { len = 3; lo = 0xA0; }
        else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) len = 3;
        else if (c == 0xED) { len = 3; hi = 0x9F; }
        else if (c == 0xF0) { len = 4; lo = 0x90; }
        else if (c >= 0xF1 && c <= 0xF3) len = 4;
        else if (c == 0xF4) { len = 4; hi = 0x8F; }
        else return false;
        if (n - i < len) return false;
        if (s[i + 1] < lo || s[i + 1] > hi) return false;
        for (size_t k = 2; k < len; k++)
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) return false;
        i += len;
    }
    return true;
}

static bool escapes_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '%') {
            if (n - i < 3 || !hexdigit(s[i + 1]) || !hexdigit(s[i + 2])) return false;
            i += 2;
        }
    return true;
}

static void check_encode(arena *a, const char *s, size_t n, bool keep_slash)
{
    char *enc = uri_encode(a, s, n, keep_slash);
    size_t el = strlen(enc), want = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        want += unreserved(c) || (c == '/' && keep_slash) ? 1 : 3;
    }
    FUZZ_CHECK(el == want);
    for (size_t i = 0; i < el; i++) {
        unsigned char c = (unsigned char)enc[i];
        if (c == '%') {
            FUZZ_CHECK(i + 2 < el);
            for (int k = 1; k <= 2; k++) {
                unsigned char h = (unsigned char)enc[i + k];
                FUZZ_CHECK((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'));
            }
            i += 2;
        } else {
            FUZZ_CHECK(unreserved(c) || (c == '/' && keep_slash));
        }
    }
    for (int plus = 0; plus < 2; plus++) {
        size_t dl = (size_t)-1;
        char *dec = url_decode(a, enc, el, plus, &dl);
        FUZZ_CHECK(dec != NULL);
        FUZZ_CHECK(dl == n);
        FUZZ_CHECK(memcmp(dec, s, n) == 0);
        FUZZ_CHECK(dec[dl] == 0);
    }
}

static void check_decode(arena *a, const char *s, size_t n, bool plus)
{
    size_t dl = (size_t)-1;
    char *dec = url_decode(a, s, n, plus, &dl);
    FUZZ_CHECK(!dec == !escapes_ok((const unsigned char *)s, n));
    if (!dec) return;
    FUZZ_CHECK(dl <= n);
    FUZZ_CHECK(dec[dl] == 0);
    if (!memchr(s, '%', n)) {
        FUZZ_CHECK(dl == n);
        for (size_t i = 0; i < n; i++) FUZZ_CHECK(dec[i] == (plus && s[i] == '+' ? ' ' : s[i]));
    }
    check_encode(a, dec, dl, false);
}

static void check_trim_fold(arena *a, const char *s)
{
    char *t = str_trim_fold(a, s);
    size_t tl = strlen(t);
    if (tl) FUZZ_CHECK(t[0] != ' ' && t[tl - 1] != ' ');
    FUZZ_CHECK(!strchr(t, '\t') && !strstr(t, "  "));
    /* Only whitespace changed: both sides agree once spaces and tabs are dropped. */
    const char *p = s, *q = t;
    for (;;) {
        while (*p == ' ' || *p == '\t') p++;
        while (*q == ' ') q++;
        FUZZ_CHECK(*p == *q);
        if (!*p) break;
        p++, q++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    arena *a = arena_new(4096);
    check_encode(a, s, size, false);
    check_encode(a, s, size, true);
    check_decode(a, s, size, false);
    check_decode(a, s, size, true);
    FUZZ_CHECK(utf8_valid(s, size) == utf8_reference(data, size));
    char *z = fuzz_strndup(data, size);
    check_trim_fold(a, z);
    free(z);
    arena_free(a);
    return 0;
}
