/* test_checksum — the x-amz-checksum-* algorithms against their published check values, and
 * streaming (split input) against one-shot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/checksum.h"
#include "util/hash.h"

static void one_shot(checksum_alg alg, const void *p, size_t n, char out[64])
{
    checksum c;
    checksum_init(&c, alg);
    checksum_update(&c, p, n);
    checksum_final_b64(&c, out);
}

/* The check values: CRC of "123456789" (CRC catalogue), digests of the same string. */
static void test_check_values(void **state)
{
    (void)state;
    char out[64];
    one_shot(CKS_CRC32, "123456789", 9, out);
    assert_string_equal(out, "y/Q5Jg==");   /* 0xCBF43926 */
    one_shot(CKS_CRC32C, "123456789", 9, out);
    assert_string_equal(out, "4waSgw==");   /* 0xE3069283 */
    one_shot(CKS_CRC64NVME, "123456789", 9, out);
    assert_string_equal(out, "rosUhgp5mIg="); /* 0xAE8B14860A799888 */
    one_shot(CKS_SHA1, "123456789", 9, out);
    assert_string_equal(out, "98O8HYCOBHMq32eZZczDTKeuNEE=");
    one_shot(CKS_SHA256, "123456789", 9, out);
    assert_string_equal(out, "FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU=");
}

static void test_empty(void **state)
{
    (void)state;
    char out[64];
    one_shot(CKS_CRC32, "", 0, out);
    assert_string_equal(out, "AAAAAA==");
    one_shot(CKS_CRC32C, "", 0, out);
    assert_string_equal(out, "AAAAAA==");
    one_shot(CKS_CRC64NVME, "", 0, out);
    assert_string_equal(out, "AAAAAAAAAAA=");
    one_shot(CKS_SHA256, "", 0, out);
    assert_string_equal(out, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

/* The AWS trailing-checksum example (sigv4-streaming-trailers): 66560 bytes of 'a' carry
 * x-amz-checksum-crc32c:sOO8/Q== */
static void test_aws_trailer_example(void **state)
{
    (void)state;
    size_t n = 66560;
    char *p = malloc(n);
    memset(p, 'a', n);
    char out[64];
    one_shot(CKS_CRC32C, p, n, out);
    assert_string_equal(out, "sOO8/Q==");
    one_shot(CKS_CRC32, p, n, out);
    assert_string_equal(out, "sK4Y7A==");
    free(p);
}

/* Bit-at-a-time CRC-64/NVME, the definition the table code must agree with. */
static uint64_t crc64nvme_ref(const unsigned char *p, size_t n)
{
    uint64_t c = ~0ULL;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x9a6c9329ac4bc9b5ULL : c >> 1;
    }
    return ~c;
}

/* Split anywhere, the result is the same as in one piece (exercises every alignment of the
 * slicing-by-8 path and ISA-L's chaining). */
static void test_streaming_equals_one_shot(void **state)
{
    (void)state;
    size_t n = 10007;
    unsigned char *p = malloc(n);
    uint32_t x = 12345;
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245 + 12345;
        p[i] = (unsigned char)(x >> 16);
    }
    checksum_alg all[] = {CKS_CRC32, CKS_CRC32C, CKS_CRC64NVME, CKS_SHA1, CKS_SHA256};
    for (size_t a = 0; a < sizeof all / sizeof *all; a++) {
        char whole[64], parts[64];
        one_shot(all[a], p, n, whole);
        checksum c;
        checksum_init(&c, all[a]);
        size_t off = 0, step = 1;
        while (off < n) {
            size_t k = step < n - off ? step : n - off;
            checksum_update(&c, p + off, k);
            off += k;
            step = step * 3 % 97 + 1;
        }
        checksum_final_b64(&c, parts);
        assert_string_equal(whole, parts);
    }
    /* and the table code agrees with the bitwise definition */
    uint64_t ref = crc64nvme_ref(p, n);
    unsigned char be[8];
    for (int i = 0; i < 8; i++) be[i] = (unsigned char)(ref >> (56 - 8 * i));
    char out[64];
    one_shot(CKS_CRC64NVME, p, n, out);
    checksum c;
    checksum_init(&c, CKS_CRC64NVME);
    checksum_update(&c, p, 3);
    checksum_update(&c, p + 3, n - 3);
    char out2[64];
    checksum_final_b64(&c, out2);
    assert_string_equal(out, out2);
    char exp[16];
    base64_encode(be, 8, exp);
    assert_string_equal(out, exp);
    free(p);
}

static void test_names(void **state)
{
    (void)state;
    assert_int_equal(checksum_alg_from_name("crc32"), CKS_CRC32);
    assert_int_equal(checksum_alg_from_name("CRC32C"), CKS_CRC32C);
    assert_int_equal(checksum_alg_from_name("Crc64Nvme"), CKS_CRC64NVME);
    assert_int_equal(checksum_alg_from_name("sha1"), CKS_SHA1);
    assert_int_equal(checksum_alg_from_name("SHA256"), CKS_SHA256);
    assert_int_equal(checksum_alg_from_name("MD5"), CKS_NONE);
    assert_int_equal(checksum_alg_from_name(NULL), CKS_NONE);
    assert_string_equal(checksum_alg_name(CKS_CRC64NVME), "CRC64NVME");
    assert_string_equal(checksum_header(CKS_CRC32), "x-amz-checksum-crc32");
    assert_string_equal(checksum_header(CKS_SHA256), "x-amz-checksum-sha256");
    assert_null(checksum_header(CKS_NONE));
}

static void test_discard(void **state)
{
    (void)state;
    checksum c;
    checksum_init(&c, CKS_SHA256);
    checksum_update(&c, "abc", 3);
    checksum_discard(&c);   /* no leak under ASan */
    checksum_discard(&c);   /* twice is harmless */
    checksum_init(&c, CKS_CRC32);
    checksum_discard(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_values),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_aws_trailer_example),
        cmocka_unit_test(test_streaming_equals_one_shot),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_discard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
