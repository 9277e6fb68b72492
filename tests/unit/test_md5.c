/* test_md5 — our MD5 (scalar and eight-lane) and the multi-buffer streams of md5mb, checked
 * against RFC 1321's examples and OpenSSL's MD5 of the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/hash.h"
#include "util/md5.h"
#include "util/md5mb.h"

static void our_md5(const unsigned char *p, size_t n, unsigned char out[16])
{
    md5_state s;
    md5_init(&s);
    md5_blocks(&s, p, n / MD5_BLOCK);
    md5_finish(&s, p + n / MD5_BLOCK * MD5_BLOCK, n % MD5_BLOCK, n, out);
}

static unsigned char *random_data(size_t n, unsigned seed)
{
    unsigned char *p = malloc(n ? n : 1);
    uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
    return p;
}

static void test_rfc1321_examples(void **state)
{
    (void)state;
    static const char *const in[] = {"", "a", "abc", "message digest", "abcdefghijklmnopqrstuvwxyz",
                                     "12345678901234567890123456789012345678901234567890123456789012345678901234567890"};
    static const char *const want[] = {"d41d8cd98f00b204e9800998ecf8427e", "0cc175b9c0f1b6a831c399e269772661",
                                       "900150983cd24fb0d6963f7d28e17f72", "f96b697d7cb7938d525a2f31aaf161d0",
                                       "c3fcd3d76192e4007dfb496cca67e13b", "57edf4a22be3c955ac49da2e2107b67a"};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        unsigned char d[16];
        char hex[33];
        our_md5((const unsigned char *)in[i], strlen(in[i]), d);
        hex_encode(d, 16, hex);
        assert_string_equal(hex, want[i]);
    }
}

/* Every length around the padding boundaries (55/56/63/64 bytes) and a few large ones. */
static void test_scalar_matches_openssl(void **state)
{
    (void)state;
    unsigned char *p = random_data(70000, 1);
    for (size_t n = 0; n < 70000; n = n < 300 ? n + 1 : n * 3 + 17) {
        unsigned char a[16], b[16];
        our_md5(p, n, a);
        md5(p, n, b);
        assert_memory_equal(a, b, 16);
    }
    free(p);
}

static void test_eight_lanes_match_scalar(void **state)
{
    (void)state;
    if (!md5x8_available()) skip();
    enum { BLOCKS = 37 };
    unsigned char *data[MD5_LANES];
    md5_state st[MD5_LANES], *sp[MD5_LANES];
    const unsigned char *p[MD5_LANES];
    for (int l = 0; l < MD5_LANES; l++) {
        data[l] = random_data(BLOCKS * MD5_BLOCK, 10 + (unsigned)l);
        md5_init(&st[l]);
        sp[l] = &st[l];
        p[l] = data[l];
    }
    /* Lane 5 sits the first call out: it must come back untouched. */
    p[5] = NULL;
    md5x8_blocks(sp, p, 20);
    md5_state before5 = st[5];
    md5_state init;
    md5_init(&init);
    assert_memory_equal(&before5, &init, sizeof init);
    for (int l = 0; l < MD5_LANES; l++) p[l] = l == 5 ? data[5] : data[l] + 20 * MD5_BLOCK;
    md5x8_blocks(sp, p, 17);
    for (int l = 0; l < MD5_LANES; l++) {
        md5_state want;
        md5_init(&want);
        md5_blocks(&want, data[l], l == 5 ? 17 : BLOCKS);
        assert_memory_equal(&want, &st[l], sizeof want);
        free(data[l]);
    }
}

/* --- md5mb ------------------------------------------------------------------------------------ */

typedef struct feeder {
    int id;
    size_t size;
    int failures;
    int fallback;               /* streams that got NULL (the set was full) */
} feeder;

/* Streams of several sizes, fed in pieces of varying length, from several threads at once, with
 * some streams discarded halfway: every digest must be MD5 of its bytes. */
static void *feed(void *arg)
{
    feeder *f = arg;
    for (int round = 0; round < 3; round++) {
        size_t size = f->size + (size_t)round * 4099;
        unsigned char *p = random_data(size, 100 + (unsigned)(f->id * 7 + round));
        md5mb_stream *s = md5mb_new();
        if (!s) {
            f->fallback++;
            free(p);
            continue;
        }
        size_t off = 0, piece = 1 + (size_t)f->id * 997;
        while (off < size) {
            size_t k = size - off < piece ? size - off : piece;
            md5mb_update(s, p + off, k);
            off += k;
            piece = piece * 5 % 70001 + 1;
            if (round == 2 && f->id % 3 == 0 && off > size / 2) break;
        }
        if (off < size) {
            md5mb_discard(s);
        } else {
            unsigned char got[16], want[16];
            md5mb_final(s, got);
            md5(p, size, want);
            if (memcmp(got, want, 16) != 0) f->failures++;
        }
        free(p);
    }
    return NULL;
}

static void test_streams_match_openssl(void **state)
{
    (void)state;
    if (!md5x8_available()) skip();
    enum { N = 12 };
    pthread_t th[N];
    feeder f[N];
    static const size_t sizes[] = {0, 1, 63, 64, 65, 4000, 70000, 262144, 262145, 1000003, 3 << 20, 5 << 20};
    for (int i = 0; i < N; i++) {
        f[i] = (feeder){.id = i, .size = sizes[i]};
        assert_int_equal(pthread_create(&th[i], NULL, feed, &f[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(f[i].failures, 0);
        assert_int_equal(f[i].fallback, 0);
    }
}

/* Streams fed interleaved from one thread in the HTTP core's body reads (256 KiB) and in
 * pieces larger than the ring (which must wrap and make room inside one update), with streams
 * starting and ending at different times so that passes see every mix of ready and empty
 * lanes: every digest must still be MD5 of its bytes. */
static void test_interleaved_large_pieces(void **state)
{
    (void)state;
    if (!md5x8_available()) skip();
    enum { N = 9 };
    size_t size[N], off[N] = {0};
    unsigned char *data[N];
    md5mb_stream *s[N];
    for (int i = 0; i < N; i++) {
        size[i] = (size_t)(2 + i % 4) * MD5MB_BUFFER + (size_t)i * 4097;
        data[i] = random_data(size[i], 900 + (unsigned)i);
        assert_non_null(s[i] = md5mb_new());
    }
    for (int live = N, round = 0; live; round++) {
        live = 0;
        for (int i = 0; i < N; i++) {
            if (!s[i]) continue;
            if (round < i) {   /* stream i starts late */
                live++;
                continue;
            }
            size_t piece = (round + i) % 7 == 0 ? MD5MB_BUFFER + MD5MB_BUFFER / 2 + 13 : 256 * 1024 - (size_t)i;
            size_t k = size[i] - off[i] < piece ? size[i] - off[i] : piece;
            md5mb_update(s[i], data[i] + off[i], k);
            off[i] += k;
            if (off[i] == size[i]) {
                unsigned char got[16], want[16];
                md5mb_final(s[i], got);
                s[i] = NULL;
                md5(data[i], size[i], want);
                assert_memory_equal(got, want, 16);
            } else {
                live++;
            }
        }
    }
    for (int i = 0; i < N; i++) free(data[i]);
}

/* Beyond MD5MB_MAX_STREAMS open streams, md5mb_new says no (the caller hashes alone). */
static void test_stream_limit(void **state)
{
    (void)state;
    if (!md5x8_available()) skip();
    md5mb_stream *s[MD5MB_MAX_STREAMS];
    for (int i = 0; i < MD5MB_MAX_STREAMS; i++) assert_non_null(s[i] = md5mb_new());
    assert_null(md5mb_new());
    md5mb_discard(s[0]);
    assert_non_null(s[0] = md5mb_new());
    for (int i = 0; i < MD5MB_MAX_STREAMS; i++) md5mb_discard(s[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc1321_examples),
        cmocka_unit_test(test_scalar_matches_openssl),
        cmocka_unit_test(test_eight_lanes_match_scalar),
        cmocka_unit_test(test_streams_match_openssl),
        cmocka_unit_test(test_interleaved_large_pieces),
        cmocka_unit_test(test_stream_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
