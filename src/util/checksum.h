/* checksum — the additional checksums of S3 (x-amz-checksum-*): CRC32, CRC32C (ISA-L),
 * CRC64NVME (ours), SHA-1 and SHA-256 (OpenSSL), computed as a body streams and written as the
 * base64 of the big-endian value, as S3 does. */
#ifndef WOSD_UTIL_CHECKSUM_H
#define WOSD_UTIL_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CKS_NONE = 0, CKS_CRC32, CKS_CRC32C, CKS_CRC64NVME, CKS_SHA1, CKS_SHA256 } checksum_alg;

/* "CRC32", "crc32c", "CRC64NVME", "SHA1", "SHA256" (any case) → alg; CKS_NONE otherwise. */
checksum_alg checksum_alg_from_name(const char *name);
/* "CRC32" … (the x-amz-checksum-algorithm spelling). */
const char *checksum_alg_name(checksum_alg alg);
/* "x-amz-checksum-crc32" … */
const char *checksum_header(checksum_alg alg);

typedef struct checksum {
    checksum_alg alg;
    uint64_t crc;          /* CRC state */
    void *hash;            /* hash_ctx for SHA-1 / SHA-256 */
} checksum;

void checksum_init(checksum *c, checksum_alg alg);
void checksum_update(checksum *c, const void *p, size_t n);
/* Writes the base64 value (NUL-terminated; out holds 64 bytes) and releases the state. */
void checksum_final_b64(checksum *c, char out[64]);
void checksum_discard(checksum *c);

#endif
