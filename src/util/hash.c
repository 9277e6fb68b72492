/* hash — digests, HMACs, encodings and random bytes, on OpenSSL (hash.h says what it promises).
 *
 * Cost matters here: every signed request hashes its canonical request and MACs its string to
 * sign. OpenSSL 3's convenience paths — EVP_sha256() passed to EVP_Digest, and HMAC(), which is
 * EVP_Q_mac — look the algorithm up in the provider store and build a fresh context on every
 * call (about 3 µs a signature check in the profile of a small GET). So the algorithms are
 * fetched once for the process, each thread keeps one digest context for the one-shot helpers
 * (freed when the thread exits), and the HMACs are RFC 2104 written over that context. */
#include "util/hash.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct hash_ctx {
    EVP_MD_CTX *md;
};

/* The block size of MD5, SHA-1 and SHA-256 alike: what an HMAC key is padded to. */
enum { HMAC_BLOCK = 64 };

static EVP_MD *fetched[3];                /* by hash_alg; fetched once, kept for the process */
static pthread_key_t ctx_key;             /* this thread's EVP_MD_CTX for the one-shot helpers */
static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *p) { EVP_MD_CTX_free(p); }

static void setup(void)
{
    fetched[HASH_MD5] = EVP_MD_fetch(NULL, "MD5", NULL);
    fetched[HASH_SHA1] = EVP_MD_fetch(NULL, "SHA1", NULL);
    fetched[HASH_SHA256] = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!fetched[HASH_MD5] || !fetched[HASH_SHA1] || !fetched[HASH_SHA256]) abort();
    if (pthread_key_create(&ctx_key, ctx_free) != 0) abort();
}

static const EVP_MD *md_of(hash_alg alg)
{
    pthread_once(&setup_once, setup);
    return fetched[alg == HASH_MD5 || alg == HASH_SHA1 ? alg : HASH_SHA256];
}

static EVP_MD_CTX *thread_ctx(void)
{
    pthread_once(&setup_once, setup);
    EVP_MD_CTX *c = pthread_getspecific(ctx_key);
    if (c) return c;
    if (!(c = EVP_MD_CTX_new()) || pthread_setspecific(ctx_key, c) != 0) abort();
    return c;
}

hash_ctx *hash_new(hash_alg alg)
{
    hash_ctx *h = malloc(sizeof *h);
    if (!h) abort();
    h->md = EVP_MD_CTX_new();
    if (!h->md || EVP_DigestInit_ex2(h->md, md_of(alg), NULL) != 1) abort();
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

/* Two pieces in, one digest out, on this thread's context. */
static void digest2(hash_alg alg, const void *a, size_t an, const void *b, size_t bn,
                    unsigned char *out)
{
    EVP_MD_CTX *c = thread_ctx();
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(c, md_of(alg), NULL) != 1) abort();
    if (an) EVP_DigestUpdate(c, a, an);
    if (bn) EVP_DigestUpdate(c, b, bn);
    EVP_DigestFinal_ex(c, out, &len);
}

void md5(const void *p, size_t n, unsigned char out[MD5_LEN]) { digest2(HASH_MD5, p, n, NULL, 0, out); }
void sha1(const void *p, size_t n, unsigned char out[SHA1_LEN]) { digest2(HASH_SHA1, p, n, NULL, 0, out); }
void sha256(const void *p, size_t n, unsigned char out[SHA256_LEN])
{
    digest2(HASH_SHA256, p, n, NULL, 0, out);
}

/* RFC 2104: H((K ^ opad) || H((K ^ ipad) || text)), K hashed first when longer than a block. */
static void hmac(hash_alg alg, size_t dlen, const void *key, size_t klen, const void *p, size_t n,
                 unsigned char *out)
{
    unsigned char k[HMAC_BLOCK] = {0}, pad[HMAC_BLOCK], inner[SHA256_LEN];
    if (klen > HMAC_BLOCK) digest2(alg, key, klen, NULL, 0, k);
    else if (klen) memcpy(k, key, klen);
    for (int i = 0; i < HMAC_BLOCK; i++) pad[i] = k[i] ^ 0x36;
    digest2(alg, pad, sizeof pad, p, n, inner);
    for (int i = 0; i < HMAC_BLOCK; i++) pad[i] = k[i] ^ 0x5c;
    digest2(alg, pad, sizeof pad, inner, dlen, out);
    explicit_bzero(k, sizeof k);
    explicit_bzero(pad, sizeof pad);
}

void hmac_sha256(const void *key, size_t klen, const void *p, size_t n, unsigned char out[SHA256_LEN])
{
    hmac(HASH_SHA256, SHA256_LEN, key, klen, p, n, out);
}

void hmac_sha1(const void *key, size_t klen, const void *p, size_t n, unsigned char out[SHA1_LEN])
{
    hmac(HASH_SHA1, SHA1_LEN, key, klen, p, n, out);
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

/* Small requests are served from a per-thread pool filled by RAND_bytes 512 bytes at a time:
 * each RAND_bytes call costs about 1 µs of locking and DRBG set-up whatever its size, and an
 * upload or blob id needs 10–16 bytes. Served bytes are wiped from the pool. A fork would
 * copy the pool into the child, which would then hand out the parent's next bytes: the
 * generation a child bumps (pthread_atfork) empties every pool first. */
enum { POOL = 512, POOL_MAX_TAKE = 64 };
static _Thread_local unsigned char pool[POOL];
static _Thread_local size_t pool_left;
static _Thread_local unsigned pool_gen;
static atomic_uint fork_gen = 1;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void after_fork_child(void) { atomic_fetch_add(&fork_gen, 1); }
static void register_atfork(void) { pthread_atfork(NULL, NULL, after_fork_child); }

void random_bytes(void *p, size_t n)
{
    if (n > POOL_MAX_TAKE) {
        if (RAND_bytes(p, (int)n) != 1) abort();
        return;
    }
    unsigned gen = atomic_load_explicit(&fork_gen, memory_order_relaxed);
    if (pool_gen != gen || pool_left < n) {
        pthread_once(&atfork_once, register_atfork);
        if (RAND_bytes(pool, POOL) != 1) abort();
        pool_left = POOL;
        pool_gen = gen;
    }
    unsigned char *src = pool + POOL - pool_left;
    memcpy(p, src, n);
    OPENSSL_cleanse(src, n);
    pool_left -= n;
}

static void hex_upper(const unsigned char *p, size_t k, char *out)
{
    static const char d[] = "0123456789ABCDEF";
    for (size_t i = 0; i < k; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
}

void random_hex_upper(size_t n, char *out)
{
    unsigned char tmp[64];
    while (n) {
        size_t k = n > sizeof tmp ? sizeof tmp : n;
        random_bytes(tmp, k);
        hex_upper(tmp, k, out);
        out += 2 * k;
        n -= k;
    }
    *out = 0;
}

/* xoshiro256** (Blackman and Vigna), one state a thread, seeded from RAND_bytes on the thread's
 * first call. Its 2^256 period and independent 256-bit seeds make two threads (or two
 * restarts) repeat a 128-bit value with odds nobody will meet; what it does not give is
 * unpredictability — its output reveals its state — hence the separate name. */
static _Thread_local uint64_t xo[4];
static _Thread_local bool xo_seeded;

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t xo_next(void)
{
    if (!xo_seeded) {
        do random_bytes(xo, sizeof xo);
        while (!(xo[0] | xo[1] | xo[2] | xo[3]));   /* the one state it cannot leave */
        xo_seeded = true;
    }
    uint64_t r = rotl(xo[1] * 5, 7) * 9, t = xo[1] << 17;
    xo[2] ^= xo[0];
    xo[3] ^= xo[1];
    xo[1] ^= xo[2];
    xo[0] ^= xo[3];
    xo[2] ^= t;
    xo[3] = rotl(xo[3], 45);
    return r;
}

void unique_hex_upper(size_t n, char *out)
{
    while (n) {
        uint64_t v = xo_next();
        size_t k = n > sizeof v ? sizeof v : n;
        unsigned char b[sizeof v];
        memcpy(b, &v, sizeof v);
        hex_upper(b, k, out);
        out += 2 * k;
        n -= k;
    }
    *out = 0;
}
