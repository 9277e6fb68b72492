/* md5 — MD5's compression function (RFC 1321), one stream at a time or eight at once.
 *
 * For md5mb.c, which hashes concurrent uploads together: an object's ETag is its MD5, and one
 * stream of MD5 is latency-bound at about 0.6 GB/s a core however wide the CPU. Eight
 * independent streams in the eight 32-bit lanes of AVX2 registers keep the same chain of
 * dependent steps busy with eight times the bytes. Everything else hashes through hash.h.
 *
 * The functions work on whole 64-byte blocks and a state the caller keeps; md5_finish pads the
 * tail and writes the digest. The results are bit-for-bit MD5 (tests/unit/test_md5.c checks
 * them against OpenSSL). */
#ifndef WOSD_UTIL_MD5_H
#define WOSD_UTIL_MD5_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { MD5_BLOCK = 64, MD5_LANES = 8 };

typedef struct md5_state {
    uint32_t h[4];
} md5_state;

void md5_init(md5_state *s);
/* Compresses n whole blocks of p into s. */
void md5_blocks(md5_state *s, const unsigned char *p, size_t n);
/* Compresses n whole blocks of each of the eight inputs p[i] into s[i]. Lanes with
 * p[i] == NULL are left untouched (their work is done and dropped). Only when md5x8_available()
 * says so. */
void md5x8_blocks(md5_state *s[MD5_LANES], const unsigned char *p[MD5_LANES], size_t n);
bool md5x8_available(void);
/* Finishes a stream of total bytes whose last tail (< 64) bytes are given: compresses the
 * padded tail and writes the digest. */
void md5_finish(md5_state *s, const unsigned char *tail, size_t tail_len, uint64_t total, unsigned char out[16]);

#endif
