/* hash — digests, HMACs, encodings and random bytes, on OpenSSL.
 *
 * One place wraps OpenSSL so the rest of the server speaks in plain byte arrays. Streaming
 * hashers (hash_ctx) feed request bodies chunk by chunk; the one-shot helpers serve signatures. */
#ifndef WOSD_UTIL_HASH_H
#define WOSD_UTIL_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { MD5_LEN = 16, SHA1_LEN = 20, SHA256_LEN = 32 };

typedef enum { HASH_MD5, HASH_SHA1, HASH_SHA256 } hash_alg;

typedef struct hash_ctx hash_ctx;   /* opaque streaming hasher */
hash_ctx *hash_new(hash_alg alg);
void hash_update(hash_ctx *h, const void *p, size_t n);
/* Writes the digest (16, 20 or 32 bytes) and frees the context. */
void hash_final(hash_ctx *h, unsigned char *out);
void hash_discard(hash_ctx *h);

void md5(const void *p, size_t n, unsigned char out[MD5_LEN]);
void sha1(const void *p, size_t n, unsigned char out[SHA1_LEN]);
void sha256(const void *p, size_t n, unsigned char out[SHA256_LEN]);
void hmac_sha256(const void *key, size_t klen, const void *p, size_t n, unsigned char out[SHA256_LEN]);
void hmac_sha1(const void *key, size_t klen, const void *p, size_t n, unsigned char out[SHA1_LEN]);

/* Lower-case hex; out must hold 2n+1 bytes. */
void hex_encode(const unsigned char *p, size_t n, char *out);
/* Accepts either case; returns the number of bytes written, or -1 on a bad digit/odd length. */
int hex_decode(const char *s, size_t slen, unsigned char *out, size_t outcap);

/* Standard base64 with padding; out must hold 4*ceil(n/3)+1 bytes. Returns the length. */
size_t base64_encode(const unsigned char *p, size_t n, char *out);
/* Strict standard base64 (padding required). Returns bytes written or -1. */
int base64_decode(const char *s, size_t slen, unsigned char *out, size_t outcap);

/* Equality in time that depends only on n. */
bool ct_equal(const void *a, const void *b, size_t n);

/* Cryptographically random bytes; aborts if the system has none to give. Up to 64 bytes come
 * from a per-thread pool that RAND_bytes refills (each byte handed out once, wiped, and the pool
 * dropped in a forked child). */
void random_bytes(void *p, size_t n);
/* n random bytes as 2n upper-case hex characters, NUL-terminated (out holds 2n+1). */
void random_hex_upper(size_t n, char *out);
/* The same shape from a fast per-thread generator seeded from random_bytes: unique in practice
 * (request ids, log correlation) but predictable from earlier output, so never for anything a
 * client must not guess (upload ids, keys, blob names: random_hex_upper). About 20 ns for 16
 * bytes, against about 1 µs a call to RAND_bytes. */
void unique_hex_upper(size_t n, char *out);

#endif
