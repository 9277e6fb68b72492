/* http_parse — the HTTP/1.1 request parser of the epoll core: pure functions over bytes.
 *
 * Nothing here touches a socket, a clock or a thread; everything is fed bytes and says what it
 * found, so the unit tests and the fuzz target (tests/fuzz/fuzz_http_parse.c) exercise exactly
 * what the server runs. Three pieces (and the --listen address, which both cores parse):
 *   - http_head_end finds where a request's head (request line and headers) ends, resuming
 *     where its last call stopped so that a head arriving a byte at a time costs linear time;
 *   - http_parse_head splits a complete head into method, target and headers, copying it once
 *     into the request's arena (no allocation per header);
 *   - http_chunked decodes a chunked request body (RFC 9112 §7.1) incrementally, handing out
 *     the data in place and skipping chunk extensions and trailers.
 * The rules are strict where laxness is how requests get smuggled: chunk lines end in CRLF, a
 * chunk size is 1–16 hex digits, a lone CR anywhere in the head is an error, and a
 * Content-Length is digits only. Ambiguity between headers (two lengths, both framings, folded
 * lines, whitespace before a colon) is left to http_framing_error (http_req.c), which sees the
 * headers as sent: a folded line arrives as a header whose name starts with whitespace. */
#ifndef WOSD_SERVER_HTTP_PARSE_H
#define WOSD_SERVER_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server/http_req.h"
#include "util/arena.h"

/* The largest request head (request line and headers) accepted; larger is refused
 * (HTTP_CORE_HEAD_TOO_LARGE, 431 unless the handler answers otherwise). */
enum { HTTP_HEAD_MAX = 32 * 1024 };

/* Looks for the blank line that ends a head in buf[0..len). *scanned is where the previous
 * call on the same (grown) buffer stopped; start it at 0. Returns the head's length including
 * the blank line, 0 when it is not complete yet, or -1 when the bytes cannot be a head (a NUL,
 * a CR not followed by LF). Lines end in CRLF or LF. */
long http_head_end(const char *buf, size_t len, size_t *scanned);

typedef struct http_head {
    const char *method, *target; /* NUL-terminated, in the arena */
    int minor;                   /* HTTP/1.minor */
    http_hdr *hdrs;              /* names and values in the arena; values trimmed of SP/HT */
    size_t nhdrs;
} http_head;

/* Parses a complete head of len bytes (as http_head_end measured it) into h, copying the bytes
 * once into a. Returns 0, or the HTTP status to refuse it with: 400 for a malformed request
 * line or header line, 505 for a version other than HTTP/1.0 and 1.1. */
int http_parse_head(arena *a, const char *buf, size_t len, http_head *h);

/* A Content-Length value: 1–18 decimal digits and nothing else (no sign, no list, no
 * whitespace; the parser trimmed the edges). Returns the length, or -1. */
int64_t http_parse_length(const char *value);

/* Whether a comma-separated header value holds token (case-insensitive), as in
 * "Connection: keep-alive, close". */
bool http_has_token(const char *value, const char *token);

/* "ADDR:PORT" (IPv4, "localhost" or "[IPv6]") into a socket address and its length; false
 * when it is none of those. */
bool http_parse_listen(const char *where, struct sockaddr_storage *ss, socklen_t *len);

/* --- chunked bodies ------------------------------------------------------------------------ */

enum { HTTP_CHUNK_LINE_MAX = 4096, HTTP_TRAILERS_MAX = 16 * 1024 };

typedef struct http_chunked {
    uint8_t st;
    uint8_t digits;
    uint16_t line;      /* bytes of the current size line or trailer line so far */
    uint32_t trailers;  /* trailer bytes so far */
    uint64_t left;      /* data bytes left in the current chunk */
} http_chunked;

typedef enum {
    HTTP_CHUNK_MORE = 0, /* everything given was consumed; feed more */
    HTTP_CHUNK_DATA = 1, /* data and dlen: body data (inside the input); call again with the rest */
    HTTP_CHUNK_DONE = 2, /* the last chunk and the trailers are complete */
    HTTP_CHUNK_ERROR = -1,
} http_chunk_result;

void http_chunked_init(http_chunked *d);
/* Consumes bytes of p[0..n) and sets *used to how many (always, whatever the result). Stops
 * at the first data span, at the end of the body or at an error; bytes after the end of the
 * body are not consumed (they belong to the next request). */
http_chunk_result http_chunked_feed(http_chunked *d, const char *p, size_t n, size_t *used, const char **data,
                                    size_t *dlen);

#endif
