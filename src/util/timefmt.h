/* timefmt — the date forms S3 and WOS use, parsed and written in UTC.
 *
 * Parsing accepts what real clients send in Date / x-amz-date / x-wos-date / If-*-Since:
 * RFC 1123 ("Sun, 06 Nov 1994 08:49:37 GMT", also a "+0000" zone and a one-digit day),
 * RFC 850, asctime, ISO 8601 basic ("19941106T084937Z") and extended ("1994-11-06T08:49:37Z",
 * optional fraction). */
#ifndef WOSD_UTIL_TIMEFMT_H
#define WOSD_UTIL_TIMEFMT_H

#include <stdbool.h>
#include <stdint.h>

/* Seconds since the epoch, or false when s is none of the forms above. */
bool time_parse(const char *s, int64_t *out_sec);
/* Strictly "yyyymmddThhmmssZ" (SigV4 and WOS-HMAC-SHA256 timestamps). */
bool time_parse_iso_basic(const char *s, int64_t *out_sec);

int64_t time_now_ms(void);

/* "Sun, 06 Nov 1994 08:49:37 GMT" (out: 30 bytes). */
void time_fmt_http(int64_t sec, char out[30]);
/* "1994-11-06T08:49:37.000Z" (out: 25 bytes), for XML. */
void time_fmt_iso_ms(int64_t ms, char out[25]);
/* "19941106T084937Z" (out: 17 bytes). */
void time_fmt_iso_basic(int64_t sec, char out[17]);

#endif
