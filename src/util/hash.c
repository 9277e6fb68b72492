#include "util/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

struct hash_ctx {
    EVP_MD_CTX *md;
};

static const EVP_MD *md_of(hash_alg alg)
{
    switch (alg) {
    case HASH_MD5: return EVP_md5();
    case HASH_SHA1: return EVP_sha1();
    case HASH_SHA256: return EVP_sha256();
    }
    return EVP_sha256();
}

hash_ctx *hash_new(hash_alg alg)
{
    hash_ctx *h = malloc(sizeof *h);
    if (!h) abort();
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex(h->md, md_of(alg), NULL) != 1) abort();
    return h;
}

void hash_update(hash_ctx *h, const void *p, size_t n)
{
    if (n) EVP_DigestUpdate(h->md, p, n);
}

void hash_final(hash_ctx *h, unsigned char *out)
{
    unsigned int len = 0;
    EVP_DigestFinal_ex(h->md, out, &len);
    hash_discard(h);
}

void hash_discard(hash_ctx *h)
{
    if (!h) return;
    EVP_MD_CTX_free(h->md);
    free(h);
}

static void digest(const EVP_MD *md, const void *p, size_t n, unsigned char *out)
{
    unsigned int len = 0;
    EVP_Digest(p, n, out, &len, md, NULL);
}

void md5(const void *p, size_t n, unsigned char out[MD5_LEN]) { digest(EVP_md5(), p, n, out); }
void sha1(const void *p, size_t n, unsigned char out[SHA1_LEN]) { digest(EVP_sha1(), p, n, out); }
void sha256(const void *p, size_t n, unsigned char out[SHA256_LEN]) { digest(EVP_sha256(), p, n, out); }

void hmac_sha256(const void *key, size_t klen, const void *p, size_t n, unsigned char out[SHA256_LEN])
{
    unsigned int len = 0;
    HMAC(EVP_sha256(), key, (int)klen, p, n, out, &len);
}

void hmac_sha1(const void *key, size_t klen, const void *p, size_t n, unsigned char out[SHA1_LEN])
{
    unsigned int len = 0;
    HMAC(EVP_sha1(), key, (int)klen, p, n, out, &len);
}

void hex_encode(const unsigned char *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int hex_decode(const char *s, size_t slen, unsigned char *out, size_t outcap)
{
    if (slen % 2 || slen / 2 > outcap) return -1;
    for (size_t i = 0; i < slen / 2; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return (int)(slen / 2);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(const unsigned char *p, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        out[o++] = b64[v >> 18 & 63];
        out[o++] = b64[v >> 12 & 63];
        out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
        out[o++] = i + 2 < n ? b64[v & 63] : '=';
    }
    out[o] = 0;
    return o;
}

static int b64val(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

int base64_decode(const char *s, size_t slen, unsigned char *out, size_t outcap)
{
    if (slen % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < slen; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = s[i + k];
            if (c == '=' && i + 4 == slen && k >= 2) { v[k] = 0; pad++; continue; }
            if (pad) return -1;
            if ((v[k] = b64val(c)) < 0) return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        int bytes = 3 - pad;
        if (o + (size_t)bytes > outcap) return -1;
        out[o++] = (unsigned char)(w >> 16);
        if (bytes > 1) out[o++] = (unsigned char)(w >> 8);
        if (bytes > 2) out[o++] = (unsigned char)w;
    }
    return (int)o;
}

bool ct_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}

void random_bytes(void *p, size_t n)
{
    if (RAND_bytes(p, (int)n) != 1) abort();
}

void random_hex_upper(size_t n, char *out)
{
    static const char d[] = "0123456789ABCDEF";
    unsigned char tmp[64];
    while (n) {
        size_t k = n > sizeof tmp ? sizeof tmp : n;
        random_bytes(tmp, k);
        for (size_t i = 0; i < k; i++) {
            *out++ = d[tmp[i] >> 4];
            *out++ = d[tmp[i] & 15];
        }
        n -= k;
    }
    *out = 0;
}
