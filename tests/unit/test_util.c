/* Unit tests of src/util and the small pure parts of src/s3: dates, encodings, XML escaping. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "s3/xml.h"
#include "s3/xml_in.h"
#include "util/arena.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/str.h"
#include "util/timefmt.h"

static void test_time_forms(void **state)
{
    (void)state;
    int64_t t;
    assert_true(time_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t));
    assert_int_equal(t, 784111777);
    assert_true(time_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t));
    assert_int_equal(t, 784111777);
    assert_true(time_parse("Sun Nov  6 08:49:37 1994", &t));
    assert_int_equal(t, 784111777);
    assert_true(time_parse("19941106T084937Z", &t));
    assert_int_equal(t, 784111777);
    assert_true(time_parse("1994-11-06T08:49:37.000Z", &t));
    assert_int_equal(t, 784111777);
    assert_true(time_parse("Mon, 1 Apr 2017 20:34:56 GMT", &t));   /* the seed page's one-digit day */
    assert_true(time_parse("Sat, 03 Dec 2011 08:28:02 +0000", &t));
    assert_false(time_parse("Sun, 06 Nov 1994 08:49:37 PST", &t));
    assert_false(time_parse("yesterday", &t));
    assert_false(time_parse("19941306T084937Z", &t));
    assert_false(time_parse("", &t));

    char out[30];
    time_fmt_http(784111777, out);
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    char iso[25];
    time_fmt_iso_ms(784111777123, iso);
    assert_string_equal(iso, "1994-11-06T08:49:37.123Z");
    char basic[17];
    time_fmt_iso_basic(784111777, basic);
    assert_string_equal(basic, "19941106T084937Z");
}

/* The arithmetic date writers agree with the C library at every second that matters (epoch,
 * leap days, century rules, the ends of the range) and at a spread of others. */
static void check_against_libc(int64_t sec, int ms)
{
    time_t tt = (time_t)sec;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char want[64], got[32];
    strftime(want, sizeof want, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    time_fmt_http(sec, got);
    assert_string_equal(got, want);
    strftime(want, sizeof want, "%Y%m%dT%H%M%SZ", &tm);
    time_fmt_iso_basic(sec, got);
    assert_string_equal(got, want);
    char frac[8];
    snprintf(frac, sizeof frac, ".%03dZ", ms);
    strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
    strcat(want, frac);
    time_fmt_iso_ms(sec * 1000 + ms, got);
    assert_string_equal(got, want);
}

static void test_time_writers(void **state)
{
    (void)state;
    static const int64_t fixed[] = {0, 59, 86399, 86400, 951782400 /* 2000-02-29 */,
                                    951868799, 4107542400 /* 2100-03-01 */, 4107455999,
                                    1709164800 /* 2024-02-29 */, 253402300799 /* 9999-12-31 */};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) check_against_libc(fixed[i], 0);
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        check_against_libc((int64_t)(x % 253402300800ull), (int)(x >> 40) % 1000);
    }
    /* Outside 0000..9999 the library path answers, as before. */
    char out[30];
    time_fmt_http(-86400, out);
    assert_string_equal(out, "Wed, 31 Dec 1969 00:00:00 GMT");
}

static void test_url_coding(void **state)
{
    (void)state;
    arena *a = arena_new(1024);
    size_t n;
    assert_string_equal(url_decode(a, "a%20b+c", 7, false, &n), "a b+c");
    assert_string_equal(url_decode(a, "a%20b+c", 7, true, &n), "a b c");
    assert_null(url_decode(a, "bad%2", 5, false, &n));
    assert_null(url_decode(a, "bad%zz", 6, false, &n));
    assert_null(url_decode(a, "%", 1, false, &n));
    char *z = url_decode(a, "a%00b", 5, false, &n);
    assert_int_equal(n, 3);
    assert_int_equal(z[1], 0);
    assert_string_equal(uri_encode(a, "a b/c~*", 7, true), "a%20b/c~%2A");
    assert_string_equal(uri_encode(a, "a b/c", 5, false), "a%20b%2Fc");
    assert_true(utf8_valid("h\xc3\xa9llo", 6));
    assert_false(utf8_valid("\xc0\xaf", 2));          /* overlong '/' */
    assert_false(utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
    assert_false(utf8_valid("\xe2\x82", 2));          /* truncated */
    assert_string_equal(str_trim_fold(a, "  a   b  c "), "a b c");
    arena_free(a);
}

static void test_base64_hex(void **state)
{
    (void)state;
    unsigned char out[32];
    char enc[64];
    base64_encode((const unsigned char *)"hello", 5, enc);
    assert_string_equal(enc, "aGVsbG8=");
    assert_int_equal(base64_decode("aGVsbG8=", 8, out, sizeof out), 5);
    assert_memory_equal(out, "hello", 5);
    assert_int_equal(base64_decode("aGVsbG8", 7, out, sizeof out), -1);
    assert_int_equal(base64_decode("aGV=bG8=", 8, out, sizeof out), -1);
    assert_int_equal(base64_decode("aGVsbG8=", 8, out, 4), -1);
    assert_int_equal(hex_decode("0aFf", 4, out, sizeof out), 2);
    assert_int_equal(out[0], 0x0a);
    assert_int_equal(out[1], 0xff);
    assert_int_equal(hex_decode("0g", 2, out, sizeof out), -1);
    char id[33];
    random_hex_upper(16, id);
    assert_int_equal(strlen(id), 32);
    for (int i = 0; i < 32; i++) assert_true((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'A' && id[i] <= 'F'));
    char u[3][34];
    unique_hex_upper(16, u[0]);
    unique_hex_upper(16, u[1]);
    unique_hex_upper(5, u[2]);
    assert_int_equal(strlen(u[0]), 32);
    assert_int_equal(strlen(u[2]), 10);
    assert_string_not_equal(u[0], u[1]);
    for (int i = 0; i < 32; i++)
        assert_true((u[0][i] >= '0' && u[0][i] <= '9') || (u[0][i] >= 'A' && u[0][i] <= 'F'));
}

static void hex_of(const unsigned char *p, size_t n, char *out) { hex_encode(p, n, out); }

/* RFC 4231 (HMAC-SHA256) and RFC 2202 (HMAC-SHA1) vectors, a key of exactly one block, a key
 * longer than a block (hashed first), and a key that aliases the output. */
static void test_digests_and_hmacs(void **state)
{
    (void)state;
    unsigned char k20[20], k131[131], k64[64], mac[32];
    char hex[65];
    memset(k20, 0x0b, sizeof k20);
    memset(k131, 0xaa, sizeof k131);
    memset(k64, 'k', sizeof k64);
    const char *big = "Test Using Larger Than Block-Size Key - Hash Key First";

    hmac_sha256(k20, 20, "Hi There", 8, mac);
    hex_of(mac, 32, hex);
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
    hex_of(mac, 32, hex);
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    hmac_sha256(k131, 131, big, strlen(big), mac);
    hex_of(mac, 32, hex);
    assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    hmac_sha256(k64, 64, "", 0, mac);
    hex_of(mac, 32, hex);
    assert_string_equal(hex, "83026a325aaee70e36cfe607536aa1054104ad1077c36134810d4ccded1ccd3b");
    hmac_sha256(k20, 20, "Hi There", 8, mac);
    hmac_sha256(mac, 32, "again", 5, mac);   /* as the SigV4 key derivation chains them */
    hex_of(mac, 32, hex);
    assert_string_equal(hex, "15bb30f4fc0262c7d1d34f6b264e90fea799090aaedeadb537eb2e440f81370d");

    hmac_sha1(k20, 20, "Hi There", 8, mac);
    hex_of(mac, 20, hex);
    assert_string_equal(hex, "b617318655057264e28bc0b6fb378c8ef146be00");
    hmac_sha1(k131, 80, big, strlen(big), mac);
    hex_of(mac, 20, hex);
    assert_string_equal(hex, "aa4ae5e15272d00e95705637ce8a3b55ed402112");

    sha256("abc", 3, mac);
    hex_of(mac, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    md5("abc", 3, mac);
    hex_of(mac, 16, hex);
    assert_string_equal(hex, "900150983cd24fb0d6963f7d28e17f72");
    sha1("abc", 3, mac);
    hex_of(mac, 20, hex);
    assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    hash_ctx *h = hash_new(HASH_SHA256);
    hash_update(h, "a", 1);
    hash_update(h, "bc", 2);
    hash_final(h, mac);
    hex_of(mac, 32, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Each thread has its own context for the one-shot helpers: threads hashing at once agree. */
static void *hmac_loop(void *arg)
{
    unsigned char mac[32];
    char hex[65];
    for (int i = 0; i < 2000; i++) {
        hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
        hex_of(mac, 32, hex);
        if (strcmp(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843") != 0)
            return arg;
    }
    return NULL;
}

static void test_hmac_threads(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, hmac_loop, t), 0);
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        assert_null(r);
    }
}

static void test_xml_writer(void **state)
{
    (void)state;
    xmlw w = {0};
    xml_begin(&w, "R", "https://www.wangsu.com/document", 1);
    xml_elem(&w, "K", "a<&>\"'\x01");
    xml_end(&w, "R");
    assert_string_equal(w.b.data, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                                  "<R xmlns=\"https://www.wangsu.com/document\">\n"
                                  "<K>a&lt;&amp;&gt;&quot;&apos;&#x01;</K>\n</R>");
    buf_free(&w.b);

    /* Numbers, booleans, nesting, a name longer than the writer's stack copy, no namespace. */
    char longname[200];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    xml_begin(&w, "L", NULL, 0);
    xml_open(&w, "O");
    xml_elem_i64(&w, "I", 0);
    xml_elem_i64(&w, "I", -9223372036854775807LL - 1);
    xml_elem_i64(&w, "I", 9223372036854775807LL);
    xml_elem_bool(&w, "B", 1);
    xml_elem_bool(&w, "B", 0);
    xml_close(&w, "O");
    xml_elem(&w, longname, "tab\tnl\nok");
    xml_elem(&w, "E", NULL);
    xml_end(&w, "L");
    char want[1024];
    snprintf(want, sizeof want,
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<L>\n<O><I>0</I>\n<I>-9223372036854775808</I>\n"
             "<I>9223372036854775807</I>\n<B>true</B>\n<B>false</B>\n</O>\n<%s>tab\tnl\nok</%s>\n<E></E>\n</L>",
             longname, longname);
    assert_string_equal(w.b.data, want);
    buf_free(&w.b);

    /* Every byte: the markup characters and the controls XML 1.0 forbids (all below 0x20 but
     * tab and newline) are written as references, everything else as itself. */
    for (int c = 0; c < 256; c++) {
        buf b = {0};
        char ch = (char)c;
        xml_escape(&b, &ch, 1);
        bool plain = !strchr("&<>\"'", c) && (c >= 0x20 || c == '\t' || c == '\n');
        assert_int_equal(b.len == 1 && (unsigned char)b.data[0] == c, plain);
        buf_free(&b);
    }
}

static void test_buf_printf(void **state)
{
    (void)state;
    buf b = {0};
    buf_printf(&b, "%s", "");
    assert_non_null(b.data);
    assert_int_equal(b.len, 0);
    /* Grows past its first capacity in one call and across calls. */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 5; i++) buf_printf(&b, "%d:%s|", i, big);
    assert_int_equal(b.len, 5 * (2 + 999 + 1));
    assert_int_equal(strlen(b.data), b.len);
    assert_memory_equal(b.data + 2 * 1002, "2:xxx", 5);
    assert_int_equal(b.data[b.len - 1], '|');
    buf_free(&b);
}

/* The pooled generator hands out every byte once: no two ids from it collide, in one thread
 * or across threads, and requests larger than the pool go to RAND_bytes directly. */
static void *draw_ids(void *arg)
{
    unsigned char (*ids)[10] = arg;
    for (int i = 0; i < 2000; i++) random_bytes(ids[i], 10);
    return NULL;
}

static int cmp10(const void *a, const void *b) { return memcmp(a, b, 10); }

static void test_random_bytes_pool(void **state)
{
    (void)state;
    static unsigned char ids[4][2000][10];
    pthread_t th[4];
    for (int t = 0; t < 4; t++) assert_int_equal(pthread_create(&th[t], NULL, draw_ids, ids[t]), 0);
    for (int t = 0; t < 4; t++) pthread_join(th[t], NULL);
    qsort(ids, 4 * 2000, 10, cmp10);
    const unsigned char *flat = &ids[0][0][0];
    for (int i = 1; i < 4 * 2000; i++) assert_true(memcmp(flat + (i - 1) * 10, flat + i * 10, 10) != 0);
    unsigned char large[4096] = {0}, zero[4096] = {0};
    random_bytes(large, sizeof large);
    assert_true(memcmp(large, zero, sizeof large) != 0);
    unsigned char one[1];
    for (int i = 0; i < 1000; i++) random_bytes(one, 1);   /* crosses many refills */
}

static void test_xml_reader(void **state)
{
    (void)state;
    arena *a = arena_new(1024);
    const char *doc = "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Object><Key>a&amp;b</Key></Object>"
                      "<Quiet>true</Quiet></Delete>";
    xml_doc *d = xml_parse(doc, strlen(doc));
    assert_non_null(d);
    xml_node *root = xml_root(d, "Delete");
    assert_non_null(root);
    assert_string_equal(xml_child_text(a, xml_child(root, "Object"), "Key"), "a&b");
    assert_string_equal(xml_child_text(a, root, "Quiet"), "true");
    assert_null(xml_root(d, "Other"));
    xml_doc_free(d);
    /* Not well-formed, empty, and any DTD (entity expansion) are refused. */
    assert_null(xml_parse("<a><b></a>", 10));
    assert_null(xml_parse("", 0));
    const char *bomb = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;\">]><l>&b;</l>";
    assert_null(xml_parse(bomb, strlen(bomb)));
    arena_free(a);
}

static void test_arena(void **state)
{
    (void)state;
    arena *a = arena_new(16);
    for (int i = 0; i < 1000; i++) {
        char *p = arena_alloc(a, (size_t)i + 1);
        assert_int_equal(p[i], 0);
        memset(p, 'x', (size_t)i + 1);
    }
    char *big = arena_alloc(a, 1 << 22);
    big[(1 << 22) - 1] = 1;
    assert_string_equal(arena_printf(a, "%d-%s", 7, "z"), "7-z");
    /* Copies end in a NUL even where the block held other bytes before. */
    arena *b = arena_new(256);
    memset(arena_alloc(b, 200), 'x', 200);
    arena_free(b);
    b = arena_new(256);
    char *m = arena_memdup(b, "abc", 3);
    assert_memory_equal(m, "abc", 4);
    assert_string_equal(arena_strndup(b, "hello", 2), "he");
    assert_string_equal(arena_strdup(b, ""), "");
    assert_int_equal(((uintptr_t)arena_memdup(b, "q", 1)) % _Alignof(max_align_t), 0);
    arena_free(b);
    arena_free(a);
}

/* Many arenas freed at once and made again (an event thread resuming a group commit's
 * requests): blocks that come back from the thread's cache start empty, zeroed where asked,
 * and no two live arenas share one. */
static void test_arena_reuse(void **state)
{
    (void)state;
    enum { N = 200 };
    for (int round = 0; round < 3; round++) {
        arena *as[N];
        unsigned char *ps[N][3];
        for (int i = 0; i < N; i++) {
            as[i] = arena_new(8192);
            /* The first block, then a grown one (16 KiB), then one made to measure. */
            size_t sizes[3] = {6000, 12000, (size_t)70000 + (size_t)i};
            for (int k = 0; k < 3; k++) {
                ps[i][k] = arena_alloc(as[i], sizes[k]);
                for (size_t j = 0; j < sizes[k]; j++) assert_int_equal(ps[i][k][j], 0);
                memset(ps[i][k], i & 0xff, sizes[k]);
            }
        }
        for (int i = 0; i < N; i++)
            for (int k = 0; k < 3; k++) {
                assert_int_equal(ps[i][k][0], i & 0xff);
                assert_int_equal(ps[i][k][5999], i & 0xff);
            }
        for (int i = 0; i < N; i++) arena_free(as[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_forms), cmocka_unit_test(test_time_writers), cmocka_unit_test(test_url_coding),
        cmocka_unit_test(test_base64_hex), cmocka_unit_test(test_xml_writer), cmocka_unit_test(test_buf_printf),
        cmocka_unit_test(test_random_bytes_pool),
        cmocka_unit_test(test_xml_reader), cmocka_unit_test(test_arena), cmocka_unit_test(test_arena_reuse),
        cmocka_unit_test(test_digests_and_hmacs), cmocka_unit_test(test_hmac_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
