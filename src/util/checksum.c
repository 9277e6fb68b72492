/* checksum — the x-amz-checksum-* algorithms over a streaming body.
 *
 * CRC32 and CRC32C come from ISA-L (PCLMUL/SSE4.2 accelerated). ISA-L has no CRC64/NVME, so
 * that one is ours: a slicing-by-8 table implementation of the reflected polynomial
 * 0x9a6c9329ac4bc9b5 with all-ones init and xorout, checked against its published check value
 * (tests/unit/test_checksum.c). */
#include "util/checksum.h"

#include <isa-l/crc.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "util/hash.h"

static const struct {
    checksum_alg alg;
    const char *name, *header;
} algs[] = {
    {CKS_CRC32, "CRC32", "x-amz-checksum-crc32"},
    {CKS_CRC32C, "CRC32C", "x-amz-checksum-crc32c"},
    {CKS_CRC64NVME, "CRC64NVME", "x-amz-checksum-crc64nvme"},
    {CKS_SHA1, "SHA1", "x-amz-checksum-sha1"},
    {CKS_SHA256, "SHA256", "x-amz-checksum-sha256"},
};

checksum_alg checksum_alg_from_name(const char *name)
{
    if (!name) return CKS_NONE;
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++)
        if (strcasecmp(name, algs[i].name) == 0) return algs[i].alg;
    return CKS_NONE;
}

const char *checksum_alg_name(checksum_alg alg)
{
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++)
        if (algs[i].alg == alg) return algs[i].name;
    return NULL;
}

const char *checksum_header(checksum_alg alg)
{
    for (size_t i = 0; i < sizeof algs / sizeof *algs; i++)
        if (algs[i].alg == alg) return algs[i].header;
    return NULL;
}

/* --- CRC64/NVME ---------------------------------------------------------------------------- */

#define CRC64NVME_POLY 0x9a6c9329ac4bc9b5ULL

static uint64_t crc64_table[8][256];
static pthread_once_t crc64_once = PTHREAD_ONCE_INIT;

static void crc64_init_tables(void)
{
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ CRC64NVME_POLY : c >> 1;
        crc64_table[0][i] = c;
    }
    for (unsigned i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc64_table[t][i] = (crc64_table[t - 1][i] >> 8) ^ crc64_table[0][crc64_table[t - 1][i] & 0xff];
}

/* Reflected CRC update on the raw (un-inverted) register. */
static uint64_t crc64_update(uint64_t crc, const unsigned char *p, size_t n)
{
    while (n >= 8) {
        /* Byte-wise assembly keeps this independent of alignment and endianness. */
        uint64_t w = crc ^ ((uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 |
                            (uint64_t)p[3] << 24 | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
                            (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56);
        crc = crc64_table[7][w & 0xff] ^ crc64_table[6][(w >> 8) & 0xff] ^
              crc64_table[5][(w >> 16) & 0xff] ^ crc64_table[4][(w >> 24) & 0xff] ^
              crc64_table[3][(w >> 32) & 0xff] ^ crc64_table[2][(w >> 40) & 0xff] ^
              crc64_table[1][(w >> 48) & 0xff] ^ crc64_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n--) crc = (crc >> 8) ^ crc64_table[0][(crc ^ *p++) & 0xff];
    return crc;
}

/* --- the streaming interface --------------------------------------------------------------- */

void checksum_init(checksum *c, checksum_alg alg)
{
    c->alg = alg;
    c->hash = NULL;
    switch (alg) {
    case CKS_CRC32:
        c->crc = 0;   /* crc32_gzip_refl inverts on entry and exit: chaining starts at 0 */
        break;
    case CKS_CRC32C:
        c->crc = 0xffffffffu;   /* crc32_iscsi does not invert: we keep the raw register */
        break;
    case CKS_CRC64NVME:
        pthread_once(&crc64_once, crc64_init_tables);
        c->crc = ~0ULL;
        break;
    case CKS_SHA1:
        c->hash = hash_new(HASH_SHA1);
        break;
    case CKS_SHA256:
        c->hash = hash_new(HASH_SHA256);
        break;
    case CKS_NONE:
        break;
    }
}

void checksum_update(checksum *c, const void *p, size_t n)
{
    const unsigned char *b = p;
    switch (c->alg) {
    case CKS_CRC32:
        c->crc = crc32_gzip_refl((uint32_t)c->crc, b, n);
        break;
    case CKS_CRC32C:
        /* crc32_iscsi takes an int length and a non-const buffer it does not write. */
        while (n) {
            size_t k = n > (size_t)INT_MAX ? (size_t)INT_MAX : n;
            c->crc = crc32_iscsi((unsigned char *)(uintptr_t)b, (int)k, (unsigned int)c->crc);
            b += k;
            n -= k;
        }
        break;
    case CKS_CRC64NVME:
        c->crc = crc64_update(c->crc, b, n);
        break;
    case CKS_SHA1:
    case CKS_SHA256:
        if (c->hash) hash_update(c->hash, p, n);
        break;
    case CKS_NONE:
        break;
    }
}

void checksum_final_b64(checksum *c, char out[64])
{
    unsigned char v[SHA256_LEN];
    size_t n = 0;
    switch (c->alg) {
    case CKS_CRC32:
    case CKS_CRC32C: {
        uint32_t x = (uint32_t)c->crc;
        if (c->alg == CKS_CRC32C) x = ~x;
        v[0] = (unsigned char)(x >> 24);
        v[1] = (unsigned char)(x >> 16);
        v[2] = (unsigned char)(x >> 8);
        v[3] = (unsigned char)x;
        n = 4;
        break;
    }
    case CKS_CRC64NVME: {
        uint64_t x = ~c->crc;
        for (int i = 0; i < 8; i++) v[i] = (unsigned char)(x >> (56 - 8 * i));
        n = 8;
        break;
    }
    case CKS_SHA1:
    case CKS_SHA256:
        n = c->alg == CKS_SHA1 ? SHA1_LEN : SHA256_LEN;
        if (c->hash) hash_final(c->hash, v);
        else memset(v, 0, n);
        c->hash = NULL;
        break;
    case CKS_NONE:
        break;
    }
    base64_encode(v, n, out);
}

void checksum_discard(checksum *c)
{
    if (c->hash) hash_discard(c->hash);
    c->hash = NULL;
}
