/* str — the string handling HTTP and S3 need: percent-decoding, RFC 3986 encoding,
 * UTF-8 validation, case-insensitive prefix tests. */
#ifndef WOSD_UTIL_STR_H
#define WOSD_UTIL_STR_H

#include <stdbool.h>
#include <stddef.h>

#include "util/arena.h"

/* Percent-decodes s[0..n). plus_is_space: '+' means ' ' (query strings). Returns NULL on a
 * malformed escape. *outlen gets the decoded length (the result may contain NUL bytes, and is
 * NUL-terminated). */
char *url_decode(arena *a, const char *s, size_t n, bool plus_is_space, size_t *outlen);

/* RFC 3986 encoding as AWS SigV4 defines it: unreserved A-Za-z0-9-_.~ are kept, every other
 * byte becomes %XX (upper-case); '/' is kept when keep_slash. */
char *uri_encode(arena *a, const char *s, size_t n, bool keep_slash);

bool utf8_valid(const char *s, size_t n);
bool str_has_prefix_ci(const char *s, const char *prefix);
bool str_eq_ci(const char *a, const char *b);
/* Trims leading/trailing spaces and tabs and folds inner runs of spaces into one (SigV4). */
char *str_trim_fold(arena *a, const char *s);

#endif
