/* md5mb — MD5 of many concurrent streams, hashed eight at a time (multi-buffer).
 *
 * An upload's ETag is the MD5 of its body, and one MD5 stream runs at about 0.6 GB/s a core:
 * less than the network and the disk deliver. Uploads in flight at the same time are
 * independent streams, so their bytes can share the eight lanes of md5x8_blocks (md5.h) and
 * cost a fraction of a core each. Every stream's bytes are copied into its own ring buffer as
 * they arrive; whenever each of the streams (up to eight) holds enough, one pass compresses them
 * all. A stream whose ring fills runs a pass at once with whichever others have bytes (or alone),
 * so no stream waits for a slow neighbour. md5mb_final returns exactly MD5 of what was given.
 *
 * Thread-safe: one process-wide set of streams behind a mutex; a stream itself is used by one
 * thread at a time (its request's). At most MD5MB_MAX_STREAMS streams exist at once (each
 * holds a buffer of MD5MB_BUFFER bytes): md5mb_new returns NULL beyond that, or when the CPU
 * has no AVX2, and the caller hashes alone (hash.h). */
#ifndef WOSD_UTIL_MD5MB_H
#define WOSD_UTIL_MD5MB_H

#include <stddef.h>

/* The ring is four times the HTTP core's largest body read (256 KiB), so a stream takes several
 * reads before it must be hashed, while the others catch up. */
enum { MD5MB_MAX_STREAMS = 32, MD5MB_BUFFER = 1024 * 1024 };

typedef struct md5mb_stream md5mb_stream;

md5mb_stream *md5mb_new(void);
void md5mb_update(md5mb_stream *s, const void *p, size_t n);
/* Writes the digest and frees the stream. */
void md5mb_final(md5mb_stream *s, unsigned char out[16]);
/* Frees the stream without a digest. NULL is fine. */
void md5mb_discard(md5mb_stream *s);

#endif
