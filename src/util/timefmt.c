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

void time_fmt_http(int64_t sec, char out[30])
{
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    char t64[64];
    snprintf(t64, sizeof t64, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, t64, 29);
    out[29] = 0;
}

void time_fmt_iso_ms(int64_t ms, char out[25])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char t64[64];
    snprintf(t64, sizeof t64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    memcpy(out, t64, 24);
    out[24] = 0;
}

void time_fmt_iso_basic(int64_t sec, char out[17])
{
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    char t64[64];
    snprintf(t64, sizeof t64, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, t64, 16);
    out[16] = 0;
}
