#include "util/timefmt.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char *wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 1..12). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool make_time(int y, int mon, int d, int h, int mi, int s, int64_t *out)
{
    if (y < 1970 || y > 9999 || mon < 1 || mon > 12 || d < 1 || d > 31 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || s < 0 || s > 60)
        return false;
    *out = days_from_civil(y, (unsigned)mon, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
    return true;
}

static int month_of(const char *m)
{
    for (int i = 0; i < 12; i++)
        if (strncasecmp(m, months[i], 3) == 0) return i + 1;
    return 0;
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool time_parse_iso_basic(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') return false;
    if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d) ||
        !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &se))
        return false;
    return make_time(y, mo, d, h, mi, se, out);
}

static bool parse_iso_ext(const char *s, int64_t *out)
{
    int y, mo, d, h, mi, se;
    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
        s[13] != ':' || s[16] != ':')
        return false;
    if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
        !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &se))
        return false;
    const char *p = s + 19;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++) {}
    if (strcmp(p, "Z") != 0 && strcmp(p, "+00:00") != 0 && strcmp(p, "z") != 0) return false;
    return make_time(y, mo, d, h, mi, se, out);
}

static bool zone_ok(const char *z)
{
    while (*z == ' ') z++;
    return strcmp(z, "GMT") == 0 || strcmp(z, "UTC") == 0 || strcmp(z, "+0000") == 0 ||
           strcmp(z, "Z") == 0;
}

bool time_parse(const char *s, int64_t *out)
{
    if (!s) return false;
    while (*s == ' ') s++;
    if (time_parse_iso_basic(s, out) || parse_iso_ext(s, out)) return true;

    char wd[16], mon[8], zone[16];
    int d, y, h, mi, se, n = 0;
    /* RFC 1123: "Sun, 06 Nov 1994 08:49:37 GMT" (day may be one digit). */
    if (sscanf(s, "%15[A-Za-z], %d %3s %d %d:%d:%d %15[^\n]%n", wd, &d, mon, &y, &h, &mi, &se, zone, &n) == 8 &&
        s[n] == 0 && zone_ok(zone))
        return make_time(y, month_of(mon), d, h, mi, se, out);
    /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". */
    if (sscanf(s, "%15[A-Za-z], %d-%3s-%d %d:%d:%d %15[^\n]%n", wd, &d, mon, &y, &h, &mi, &se, zone, &n) == 8 &&
        s[n] == 0 && zone_ok(zone))
        return make_time(y < 70 ? y + 2000 : y < 100 ? y + 1900 : y, month_of(mon), d, h, mi, se, out);
    /* asctime: "Sun Nov  6 08:49:37 1994". */
    if (sscanf(s, "%15s %3s %d %d:%d:%d %d%n", wd, mon, &d, &h, &mi, &se, &y, &n) == 7 && s[n] == 0)
        return make_time(y, month_of(mon), d, h, mi, se, out);
    return false;
}

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writing dates is on every request's path (the signature's timestamp, Last-Modified), so it
 * is arithmetic, not gmtime_r and snprintf: glibc's gmtime_r takes the time-zone lock on each
 * call, and snprintf parses its format every time. Years outside 0000..9999 (which the
 * fixed-width forms cannot hold anyway) keep the library path, so their output is unchanged. */
typedef struct utc {
    int year, mon, mday, hour, min, sec, wday;   /* mon 1..12, wday 0 = Sunday */
} utc;

static const int64_t SEC_YEAR_10000 = 253402300800;   /* 10000-01-01T00:00:00Z */

static bool utc_of(int64_t t, utc *u)
{
    if (t < 0 || t >= SEC_YEAR_10000) return false;
    int64_t days = t / 86400, rem = t % 86400;
    u->hour = (int)(rem / 3600);
    u->min = (int)(rem / 60 % 60);
    u->sec = (int)(rem % 60);
    u->wday = (int)((days + 4) % 7);   /* 1970-01-01 was a Thursday */
    /* civil_from_days (H. Hinnant), the inverse of days_from_civil above. */
    const int64_t z = days + 719468, era = z / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    u->mday = (int)(doy - (153 * mp + 2) / 5 + 1);
    u->mon = (int)(mp < 10 ? mp + 3 : mp - 9);
    u->year = (int)(yoe + era * 400 + (u->mon <= 2));
    return true;
}

static char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static char *put4(char *p, int v)
{
    p = put2(p, v / 100);
    return put2(p, v % 100);
}

/* "hh:mm:ss" (sep ':') or "hhmmss" (sep 0); "yyyy-mm-dd" or "yyyymmdd" alike. */
static char *put_triple(char *p, int a, int b, int c, bool four, char sep)
{
    p = four ? put4(p, a) : put2(p, a);
    if (sep) *p++ = sep;
    p = put2(p, b);
    if (sep) *p++ = sep;
    return put2(p, c);
}

static char *put3(char *p, const char *s)
{
    memcpy(p, s, 3);
    return p + 3;
}

enum { FMT_HTTP, FMT_ISO_MS, FMT_ISO_BASIC };

/* The C library's answer, for times utc_of does not take: what these functions always wrote. */
static void fmt_libc(int64_t sec, int ms, int form, char *out)
{
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    char t64[64];
    size_t n;
    if (form == FMT_HTTP) {
        snprintf(t64, sizeof t64, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
                 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        n = 29;
    } else if (form == FMT_ISO_MS) {
        snprintf(t64, sizeof t64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
        n = 24;
    } else {
        snprintf(t64, sizeof t64, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        n = 16;
    }
    memcpy(out, t64, n);
    out[n] = 0;
}

void time_fmt_http(int64_t sec, char out[30])
{
    utc u;
    if (utc_of(sec, &u)) {
        char *p = put3(out, wdays[u.wday]);
        *p++ = ',';
        *p++ = ' ';
        p = put2(p, u.mday);
        *p++ = ' ';
        p = put3(p, months[u.mon - 1]);
        *p++ = ' ';
        p = put4(p, u.year);
        *p++ = ' ';
        p = put_triple(p, u.hour, u.min, u.sec, false, ':');
        memcpy(p, " GMT", 5);
        return;
    }
    fmt_libc(sec, 0, FMT_HTTP, out);
}

void time_fmt_iso_ms(int64_t ms, char out[25])
{
    utc u;
    if (ms >= 0 && utc_of(ms / 1000, &u)) {
        char *p = put_triple(out, u.year, u.mon, u.mday, true, '-');
        *p++ = 'T';
        p = put_triple(p, u.hour, u.min, u.sec, false, ':');
        *p++ = '.';
        int f = (int)(ms % 1000);
        *p++ = (char)('0' + f / 100);
        p = put2(p, f % 100);
        memcpy(p, "Z", 2);
        return;
    }
    fmt_libc(ms / 1000, (int)(ms % 1000), FMT_ISO_MS, out);
}

void time_fmt_iso_basic(int64_t sec, char out[17])
{
    utc u;
    if (utc_of(sec, &u)) {
        char *p = put_triple(out, u.year, u.mon, u.mday, true, 0);
        *p++ = 'T';
        p = put_triple(p, u.hour, u.min, u.sec, false, 0);
        memcpy(p, "Z", 2);
        return;
    }
    fmt_libc(sec, 0, FMT_ISO_BASIC, out);
}
