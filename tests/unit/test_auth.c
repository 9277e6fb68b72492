/* test_auth — every signature scheme of WOS-API.md §2 against published and derived examples,
 * and every error the checker can answer.
 *
 * Published: the WOS header example (§2.2); the AWS SigV4 S3 examples ("Examples of signature
 * calculation": GET object, PUT object, GET lifecycle, list objects, presigned URL, streaming
 * seed); the AWS SigV2 examples ("Signing and authenticating REST requests").
 * Derived (WOS-API.md and tests/ reference values computed independently in Python): the WOS
 * presigned URL (§2.4), the WOS V2 examples (§2.6, §2.7) and WOS SDK canonicalisation variants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "s3/auth.h"
#include "server/http_req.h"
#include "util/hash.h"
#include "util/timefmt.h"

#define WOS_AK "2cd1baf7681435ce4a298e9df3eb36958e725394"
#define WOS_SK "968d43bc594af8622923d0681ddc367b35a8b23b"
#define WOS_HOST "wcstest-r9-private.s3-cn-south-1.wcsapi.com"
#define WOS_TS "20201103T104419Z"
#define AWS_AK "AKIAIOSFODNN7EXAMPLE"
#define AWS_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define AWS_TS "20130524T000000Z"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SEED_DATE "Mon, 1 Apr 2017 20:34:56 GMT"

/* --- fixtures ------------------------------------------------------------------------------ */

static int lookup(void *cls, const char *ak, char *secret, size_t cap)
{
    (void)cls;
    const char *sk = NULL;
    if (strcmp(ak, WOS_AK) == 0) sk = WOS_SK;
    else if (strcmp(ak, AWS_AK) == 0) sk = AWS_SK;
    if (!sk || strlen(sk) >= cap) return -1;
    strcpy(secret, sk);
    return 0;
}

static int64_t iso(const char *s)
{
    int64_t t = 0;
    assert_true(time_parse_iso_basic(s, &t));
    return t;
}

static int64_t httpdate(const char *s)
{
    int64_t t = 0;
    assert_true(time_parse(s, &t));
    return t;
}

static auth_ctx ctx(const char *region, int64_t now, const char *vhost)
{
    auth_ctx c = {.region = region, .now = now, .vhost_bucket = vhost, .lookup = lookup, .lookup_cls = NULL};
    return c;
}

/* mk("GET", "/path?q", "Name", "value", ..., NULL) */
static http_req *mk(const char *method, const char *target, ...)
{
    http_req *r = http_req_new(method, target);
    va_list ap;
    va_start(ap, target);
    for (;;) {
        const char *n = va_arg(ap, const char *);
        if (!n) break;
        const char *v = va_arg(ap, const char *);
        http_req_add_header(r, n, v);
    }
    va_end(ap);
    return r;
}

typedef struct outcome {
    s3_err err;
    auth_result res;
    const char *msg;
} outcome;

/* Verifies and frees the request; the message is copied out of its arena. */
static char msgbuf[1024];
static outcome check(http_req *r, auth_ctx c)
{
    outcome o;
    o.msg = NULL;
    o.err = auth_verify(r, &c, http_arena(r), &o.res, &o.msg);
    if (o.msg) {
        strncpy(msgbuf, o.msg, sizeof msgbuf - 1);
        msgbuf[sizeof msgbuf - 1] = 0;
        o.msg = msgbuf;
    }
    http_req_free(r);
    return o;
}

#define WOS_AUTH(sh, sig) \
    "WOS-HMAC-SHA256 Credential=" WOS_AK "/20201103/cn-south-1/wos/wos_request, SignedHeaders=" sh ", Signature=" sig
#define AWS_AUTH(sh, sig) \
    "AWS4-HMAC-SHA256 Credential=" AWS_AK "/20130524/us-east-1/s3/aws4_request,SignedHeaders=" sh ",Signature=" sig

#define WOS_EXAMPLE_SIG "0243fe336dc075f95add64c5fe980ae6fd0446b243e0f301e4ad75d32d96dc6a"

/* The §2.2 request with a given Authorization value. */
static http_req *wos_example(const char *authz)
{
    return mk("DELETE", "/mine-type.mp4", "Host", WOS_HOST, "Range", "0-9", "x-wos-content-sha256", EMPTY_SHA,
              "x-wos-date", WOS_TS, "Authorization", authz, NULL);
}

/* --- scheme A: WOS-HMAC-SHA256 header ---------------------------------------------------- */

static void test_wos_header_example(void **state)
{
    (void)state;
    outcome o = check(wos_example(WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG)),
                      ctx("cn-south-1", iso(WOS_TS), "wcstest-r9-private"));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.kind, AUTH_V4_HEADER);
    assert_int_equal(o.res.dialect, DIALECT_WOS);
    assert_string_equal(o.res.access_key, WOS_AK);
    assert_int_equal(o.res.payload, PAYLOAD_SHA256);
    unsigned char empty[32];
    sha256("", 0, empty);
    assert_memory_equal(o.res.payload_sha256, empty, 32);
    assert_true(o.res.wos_flavor);
    assert_string_equal(o.res.scope, "20201103/cn-south-1/wos/wos_request");
    assert_string_equal(o.res.timestamp, WOS_TS);
}

static void test_wos_header_no_spaces(void **state)
{
    (void)state;
    /* The SDK writes no spaces after the commas. */
    const char *authz = "WOS-HMAC-SHA256 Credential=" WOS_AK "/20201103/cn-south-1/wos/wos_request,"
                        "SignedHeaders=host;x-wos-content-sha256;x-wos-date,Signature=" WOS_EXAMPLE_SIG;
    outcome o = check(wos_example(authz), ctx("cn-south-1", iso(WOS_TS), NULL));
    assert_int_equal(o.err, S3E_OK);
    /* Upper-case hex is the same signature. */
    o = check(wos_example(WOS_AUTH("host;x-wos-content-sha256;x-wos-date",
                                   "0243FE336DC075F95ADD64C5FE980AE6FD0446B243E0F301E4AD75D32D96DC6A")),
              ctx("cn-south-1", iso(WOS_TS), NULL));
    assert_int_equal(o.err, S3E_OK);
}

static void test_wos_header_tampered(void **state)
{
    (void)state;
    auth_ctx c = ctx("cn-south-1", iso(WOS_TS), NULL);
    /* a different path */
    http_req *r = mk("DELETE", "/mine-type.mp5", "Host", WOS_HOST, "x-wos-content-sha256", EMPTY_SHA, "x-wos-date",
                     WOS_TS, "Authorization", WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG), NULL);
    outcome o = check(r, c);
    assert_int_equal(o.err, S3E_SignatureDoesNotMatch);
    assert_int_equal(o.res.dialect, DIALECT_WOS);
    /* a different host */
    r = mk("DELETE", "/mine-type.mp4", "Host", "other.example", "x-wos-content-sha256", EMPTY_SHA, "x-wos-date",
           WOS_TS, "Authorization", WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG), NULL);
    assert_int_equal(check(r, c).err, S3E_SignatureDoesNotMatch);
    /* an added query parameter */
    r = mk("DELETE", "/mine-type.mp4?acl", "Host", WOS_HOST, "x-wos-content-sha256", EMPTY_SHA, "x-wos-date",
           WOS_TS, "Authorization", WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG), NULL);
    assert_int_equal(check(r, c).err, S3E_SignatureDoesNotMatch);
    /* one hex digit off */
    r = wos_example(WOS_AUTH("host;x-wos-content-sha256;x-wos-date",
                             "0243fe336dc075f95add64c5fe980ae6fd0446b243e0f301e4ad75d32d96dc6b"));
    assert_int_equal(check(r, c).err, S3E_SignatureDoesNotMatch);
    /* too short */
    r = wos_example(WOS_AUTH("host;x-wos-content-sha256;x-wos-date", "0243fe"));
    assert_int_equal(check(r, c).err, S3E_SignatureDoesNotMatch);
}

/* What the WOS Java SDK sends: ISO basic timestamp in Date (signed as "date"),
 * x-wos-content-sha256: UNSIGNED-PAYLOAD. */
static void test_wos_sdk_date_header(void **state)
{
    (void)state;
    http_req *r = mk("GET", "/dir/a.txt", "Host", WOS_HOST, "Date", WOS_TS, "x-wos-content-sha256", "UNSIGNED-PAYLOAD",
                     "User-Agent", "wos-sdk-java",
                     "Authorization",
                     "WOS-HMAC-SHA256 Credential=" WOS_AK "/20201103/cn-south-1/wos/wos_request,SignedHeaders=date;host;"
                     "x-wos-content-sha256,Signature=0c7fb80adc6861d0a7777ef41a9e7259b566553414369d16009bfff547dede12",
                     NULL);
    outcome o = check(r, ctx("cn-south-1", iso(WOS_TS) + 60, NULL));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.payload, PAYLOAD_UNSIGNED);
}

/* A repeated header: the SDK writes one line per value; AWS joins with commas. Both verify. */
static void test_wos_repeated_header(void **state)
{
    (void)state;
    const char *sigs[] = {"46a8c06557593fd3d15ff371f878b6b61c51641eb996185ce347688100239e68",   /* lines */
                          "29055c840c528529c9f1fea51183ebd2f2d229fef6d822474a7e4afdaa7af86c"};  /* commas */
    for (int i = 0; i < 2; i++) {
        char authz[512];
        snprintf(authz, sizeof authz, WOS_AUTH("date;host;x-wos-content-sha256;x-wos-meta-a", "%s"), sigs[i]);
        http_req *r = mk("PUT", "/dir/a.txt", "Host", WOS_HOST, "Date", WOS_TS, "x-wos-content-sha256",
                         "UNSIGNED-PAYLOAD", "x-wos-meta-a", "1", "x-wos-meta-a", "2", "Authorization", authz, NULL);
        outcome o = check(r, ctx("cn-south-1", iso(WOS_TS), NULL));
        assert_int_equal(o.err, S3E_OK);
    }
}

/* The SDK signs the raw path (literal '*', encoded '~') and the raw query ('+' as sent). */
static void test_wos_raw_path_and_query(void **state)
{
    (void)state;
    http_req *r = mk("GET", "/a*b%7Ec.txt?uploads&prefix=a+b", "Host", WOS_HOST, "Date", WOS_TS,
                     "x-wos-content-sha256", "UNSIGNED-PAYLOAD", "Authorization",
                     WOS_AUTH("date;host;x-wos-content-sha256",
                              "56723cdd314eaac26bfc04021a9a29929ba4a1c8463d18630f0a879cdea86303"),
                     NULL);
    assert_int_equal(check(r, ctx("cn-south-1", iso(WOS_TS), NULL)).err, S3E_OK);
}

/* --- scheme B: X-Wos-* presigned URL (§2.4) --------------------------------------------- */

#define WOS_PRESIGN_Q                                                                                  \
    "X-Wos-Algorithm=WOS-HMAC-SHA256&X-Wos-Credential=" WOS_AK "%2F20201103%2Fcn-south-1%2Fwos%2Fwos_request" \
    "&X-Wos-Date=20201103T104419Z&X-Wos-Expires=300&X-Wos-SignedHeaders=host"

static void test_wos_presigned_example(void **state)
{
    (void)state;
    const char *t = "/mine-type.mp4?" WOS_PRESIGN_Q
                    "&X-Wos-Signature=fc6306b74766f648783f601dbb2979eb82bfb3d2769cb38bcd9ee949653b3a58";
    outcome o = check(mk("GET", t, "Host", WOS_HOST, NULL), ctx("cn-south-1", iso(WOS_TS) + 100, NULL));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.kind, AUTH_V4_QUERY);
    assert_int_equal(o.res.dialect, DIALECT_WOS);
    assert_int_equal(o.res.payload, PAYLOAD_UNSIGNED);
    assert_string_equal(o.res.access_key, WOS_AK);

    /* valid through date + expires, expired one second later */
    assert_int_equal(check(mk("GET", t, "Host", WOS_HOST, NULL), ctx("cn-south-1", iso(WOS_TS) + 300, NULL)).err,
                     S3E_OK);
    o = check(mk("GET", t, "Host", WOS_HOST, NULL), ctx("cn-south-1", iso(WOS_TS) + 301, NULL));
    assert_int_equal(o.err, S3E_AccessDenied);
    assert_string_equal(o.msg, "Request has expired");

    /* stretching the expiry breaks the signature */
    const char *t2 = "/mine-type.mp4?X-Wos-Algorithm=WOS-HMAC-SHA256&X-Wos-Credential=" WOS_AK
                     "%2F20201103%2Fcn-south-1%2Fwos%2Fwos_request&X-Wos-Date=20201103T104419Z&X-Wos-Expires=3000"
                     "&X-Wos-SignedHeaders=host&X-Wos-Signature="
                     "fc6306b74766f648783f601dbb2979eb82bfb3d2769cb38bcd9ee949653b3a58";
    assert_int_equal(check(mk("GET", t2, "Host", WOS_HOST, NULL), ctx("cn-south-1", iso(WOS_TS), NULL)).err,
                     S3E_SignatureDoesNotMatch);
}

/* Presigned object keys arrive with '/' as %2F, signed over the raw path. */
static void test_wos_presigned_encoded_slash(void **state)
{
    (void)state;
    const char *t = "/dir%2Fa.txt?" WOS_PRESIGN_Q
                    "&X-Wos-Signature=7531d70639f8bfb90148b9f131a2b15890c129638fdce4d3ce759941dcde7904";
    assert_int_equal(check(mk("GET", t, "Host", WOS_HOST, NULL), ctx("cn-south-1", iso(WOS_TS), NULL)).err, S3E_OK);
}

/* --- scheme F: WOS AK:sig (§2.6) and the seed page's error table ------------------------ */

static http_req *seed_req(const char *target, const char *sig)
{
    char authz[256];
    snprintf(authz, sizeof authz, "WOS " WOS_AK ":%s", sig);
    return mk("POST", target, "Host", "bucket01.s3-cn-east-1.wcsapi.com", "Date", SEED_DATE, "Authorization", authz,
              NULL);
}

#define SIG_UPLOADS "56eMLhjXYjJ7ksAX5BAXev4XU7c="   /* signed "/bucket01/objectkey?uploads" */
#define SIG_NO_UPLOADS "g1mQadf11nS6M7F3/Trg3mKG02g=" /* signed "/bucket01/objectkey" */
#define SIG_UPLOAD "bxVxAPad5qi46OY1iPGjhUtohm4="    /* signed "/bucket01/objectkey?upload" */

static void test_wos_v2_seed_example(void **state)
{
    (void)state;
    auth_ctx c = ctx("cn-east-1", httpdate(SEED_DATE), "bucket01");
    outcome o = check(seed_req("/objectkey?uploads", SIG_UPLOADS), c);
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.kind, AUTH_V2_HEADER);
    assert_int_equal(o.res.dialect, DIALECT_WOS);
    assert_string_equal(o.res.access_key, WOS_AK);
    assert_int_equal(o.res.payload, PAYLOAD_UNSIGNED);
    /* sanity: without uploads on both sides it verifies too */
    assert_int_equal(check(seed_req("/objectkey", SIG_NO_UPLOADS), c).err, S3E_OK);
}

static void test_wos_v2_seed_error_table(void **state)
{
    (void)state;
    auth_ctx c = ctx("cn-east-1", httpdate(SEED_DATE), "bucket01");
    /* signature with uploads, URL without */
    assert_int_equal(check(seed_req("/objectkey", SIG_UPLOADS), c).err, S3E_SignatureDoesNotMatch);
    /* URL with uploads, signature without */
    outcome o = check(seed_req("/objectkey?uploads", SIG_NO_UPLOADS), c);
    assert_int_equal(o.err, S3E_SignatureDoesNotMatch);
    assert_int_equal(o.res.dialect, DIALECT_WOS);
    /* signature with uploads, URL's misspelt */
    assert_int_equal(check(seed_req("/objectkey?upload", SIG_UPLOADS), c).err, S3E_SignatureDoesNotMatch);
    assert_int_equal(check(seed_req("/objectkey?uplaods", SIG_UPLOADS), c).err, S3E_SignatureDoesNotMatch);
    /* URL with uploads, signature's misspelt */
    assert_int_equal(check(seed_req("/objectkey?uploads", SIG_UPLOAD), c).err, S3E_SignatureDoesNotMatch);
    /* both misspelt, inconsistently */
    assert_int_equal(check(seed_req("/objectkey?uplods", SIG_UPLOAD), c).err, S3E_SignatureDoesNotMatch);
    /* uploads with a value is another resource */
    assert_int_equal(check(seed_req("/objectkey?uploads=1", SIG_UPLOADS), c).err, S3E_SignatureDoesNotMatch);
}

static void test_wos_v2_put_with_headers(void **state)
{
    (void)state;
    http_req *r = mk("PUT", "/dir/a.txt", "Host", "bucket01.s3-cn-east-1.wcsapi.com", "Date", SEED_DATE,
                     "Content-Type", "text/plain", "x-wos-meta-a", "1", "X-Wos-Storage-Class", "IA",
                     "x-amz-meta-b", "ignored", "Authorization", "WOS " WOS_AK ":qmJL40xg1E+mB0G2/hOjoU7TIYs=", NULL);
    outcome o = check(r, ctx("cn-east-1", httpdate(SEED_DATE) - 600, "bucket01"));
    assert_int_equal(o.err, S3E_OK);
    /* a changed x-wos header is signed */
    r = mk("PUT", "/dir/a.txt", "Host", "b", "Date", SEED_DATE, "Content-Type", "text/plain", "x-wos-meta-a", "2",
           "x-wos-storage-class", "IA", "Authorization", "WOS " WOS_AK ":qmJL40xg1E+mB0G2/hOjoU7TIYs=", NULL);
    assert_int_equal(check(r, ctx("cn-east-1", httpdate(SEED_DATE), "bucket01")).err, S3E_SignatureDoesNotMatch);
    /* so is Content-Type */
    r = mk("PUT", "/dir/a.txt", "Host", "b", "Date", SEED_DATE, "Content-Type", "text/html", "x-wos-meta-a", "1",
           "x-wos-storage-class", "IA", "Authorization", "WOS " WOS_AK ":qmJL40xg1E+mB0G2/hOjoU7TIYs=", NULL);
    assert_int_equal(check(r, ctx("cn-east-1", httpdate(SEED_DATE), "bucket01")).err, S3E_SignatureDoesNotMatch);
}

/* WOS sub-resources (append, position), x-wos-date emptying the Date line, path style,
 * a response-* override signed decoded. */
static void test_wos_v2_variants(void **state)
{
    (void)state;
    http_req *r = mk("PUT", "/objectkey?partNumber=2&uploadId=ABC", "Host", "h", "Date", SEED_DATE, "Authorization",
                     "WOS " WOS_AK ":RH+0dq+dQo9RzRKZtVfSdlN6llc=", NULL);
    assert_int_equal(check(r, ctx("cn-east-1", httpdate(SEED_DATE), "bucket01")).err, S3E_OK);
    /* a different part number is a different resource */
    r = mk("PUT", "/objectkey?partNumber=3&uploadId=ABC", "Host", "h", "Date", SEED_DATE, "Authorization",
           "WOS " WOS_AK ":RH+0dq+dQo9RzRKZtVfSdlN6llc=", NULL);
    assert_int_equal(check(r, ctx("cn-east-1", httpdate(SEED_DATE), "bucket01")).err, S3E_SignatureDoesNotMatch);

    r = mk("GET", "/objectkey?position=10&append&unrelated=x", "Host", "h", "x-wos-date", SEED_DATE, "Authorization",
           "WOS " WOS_AK ":Cc9vOVM5O4Hmc0GVD6FawcSqV18=", NULL);
    assert_int_equal(check(r, ctx("cn-east-1", httpdate(SEED_DATE), "bucket01")).err, S3E_OK);

    r = mk("GET", "/bucket01/objectkey?response-content-type=text%2Fplain", "Host", "h", "Date", SEED_DATE,
           "Authorization", "WOS " WOS_AK ":oPLlv3oP8QkdcqOcTBpQpOBlpWc=", NULL);
    assert_int_equal(check(r, ctx("cn-east-1", httpdate(SEED_DATE), NULL)).err, S3E_OK);
}

/* --- schemes E/H: V2 presigned URL (§2.7) ----------------------------------------------- */

static void test_v2_query_wos_example(void **state)
{
    (void)state;
    const char *t = "/dir/a.txt?Signature=HzfspVysRz608YdD6SQ%2FTht%2BKfk%3D&AWSAccessKeyId=" WOS_AK "&Expires=1639390003";
    outcome o = check(mk("GET", t, "Host", "bucket01.s3-cn-east-1.wcsapi.com", NULL), ctx("cn-east-1", 1639390000, "bucket01"));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.kind, AUTH_V2_QUERY);
    assert_int_equal(o.res.dialect, DIALECT_WOS);
    assert_string_equal(o.res.access_key, WOS_AK);
    /* the WOS spelling of the key parameter */
    t = "/dir/a.txt?WOSAccessKeyId=" WOS_AK "&Expires=1639390003&Signature=HzfspVysRz608YdD6SQ%2FTht%2BKfk%3D";
    assert_int_equal(check(mk("GET", t, "Host", "x", NULL), ctx("cn-east-1", 1639390003, "bucket01")).err, S3E_OK);
    /* expired: checked before the signature */
    o = check(mk("GET", t, "Host", "x", NULL), ctx("cn-east-1", 1639390004, "bucket01"));
    assert_int_equal(o.err, S3E_AccessDenied);
    assert_string_equal(o.msg, "Request has expired");
    /* a later Expires is not what was signed */
    t = "/dir/a.txt?WOSAccessKeyId=" WOS_AK "&Expires=1639399999&Signature=HzfspVysRz608YdD6SQ%2FTht%2BKfk%3D";
    assert_int_equal(check(mk("GET", t, "Host", "x", NULL), ctx("cn-east-1", 1639390000, "bucket01")).err,
                     S3E_SignatureDoesNotMatch);
    /* missing a part */
    t = "/dir/a.txt?AWSAccessKeyId=" WOS_AK "&Signature=HzfspVysRz608YdD6SQ%2FTht%2BKfk%3D";
    assert_int_equal(check(mk("GET", t, "Host", "x", NULL), ctx("cn-east-1", 1639390000, "bucket01")).err,
                     S3E_AuthorizationQueryParametersError);
    t = "/dir/a.txt?AWSAccessKeyId=" WOS_AK "&Expires=soon&Signature=x";
    assert_int_equal(check(mk("GET", t, "Host", "x", NULL), ctx("cn-east-1", 1639390000, "bucket01")).err,
                     S3E_AccessDenied);
}

/* AWS "Query string request authentication" example. */
static void test_v2_query_aws_example(void **state)
{
    (void)state;
    const char *t = "/photos/puppy.jpg?AWSAccessKeyId=" AWS_AK
                    "&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires=1175139620";
    outcome o = check(mk("GET", t, "Host", "johnsmith.s3.amazonaws.com", NULL), ctx("us-east-1", 1175139000, "johnsmith"));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.kind, AUTH_V2_QUERY);
}

/* --- scheme D: AWS SigV4 published examples ------------------------------------------------ */

static auth_ctx aws_ctx(void) { return ctx("us-east-1", iso(AWS_TS), "examplebucket"); }

static void test_aws_v4_get_object(void **state)
{
    (void)state;
    http_req *r = mk("GET", "/test.txt", "Host", "examplebucket.s3.amazonaws.com", "Range", "bytes=0-9",
                     "x-amz-content-sha256", EMPTY_SHA, "x-amz-date", AWS_TS, "Authorization",
                     AWS_AUTH("host;range;x-amz-content-sha256;x-amz-date",
                              "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
                     NULL);
    outcome o = check(r, aws_ctx());
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.kind, AUTH_V4_HEADER);
    assert_int_equal(o.res.dialect, DIALECT_AWS);
    assert_false(o.res.wos_flavor);
    assert_string_equal(o.res.access_key, AWS_AK);
    assert_int_equal(o.res.payload, PAYLOAD_SHA256);
    /* the Range value is signed */
    r = mk("GET", "/test.txt", "Host", "examplebucket.s3.amazonaws.com", "Range", "bytes=0-10", "x-amz-content-sha256",
           EMPTY_SHA, "x-amz-date", AWS_TS, "Authorization",
           AWS_AUTH("host;range;x-amz-content-sha256;x-amz-date",
                    "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
           NULL);
    o = check(r, aws_ctx());
    assert_int_equal(o.err, S3E_SignatureDoesNotMatch);
    assert_int_equal(o.res.dialect, DIALECT_AWS);
}

/* The path arrives as "/test$file.text"; AWS signs "/test%24file.text" (the re-encoding). */
static void test_aws_v4_put_object(void **state)
{
    (void)state;
    http_req *r = mk("PUT", "/test$file.text", "Host", "examplebucket.s3.amazonaws.com", "Date",
                     "Fri, 24 May 2013 00:00:00 GMT", "x-amz-date", AWS_TS, "x-amz-storage-class", "REDUCED_REDUNDANCY",
                     "x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
                     "Authorization",
                     AWS_AUTH("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                              "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
                     NULL);
    outcome o = check(r, aws_ctx());
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.payload, PAYLOAD_SHA256);
    unsigned char want[32];
    sha256("Welcome to Amazon S3.", 21, want);
    assert_memory_equal(o.res.payload_sha256, want, 32);
    /* the same request with the path already encoded verifies as well */
    r = mk("PUT", "/test%24file.text", "Host", "examplebucket.s3.amazonaws.com", "Date", "Fri, 24 May 2013 00:00:00 GMT",
           "x-amz-date", AWS_TS, "x-amz-storage-class", "REDUCED_REDUNDANCY", "x-amz-content-sha256",
           "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", "Authorization",
           AWS_AUTH("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"),
           NULL);
    assert_int_equal(check(r, aws_ctx()).err, S3E_OK);
}

static void test_aws_v4_get_lifecycle(void **state)
{
    (void)state;
    http_req *r = mk("GET", "/?lifecycle", "Host", "examplebucket.s3.amazonaws.com", "x-amz-date", AWS_TS,
                     "x-amz-content-sha256", EMPTY_SHA, "Authorization",
                     AWS_AUTH("host;x-amz-content-sha256;x-amz-date",
                              "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
                     NULL);
    assert_int_equal(check(r, aws_ctx()).err, S3E_OK);
}

static void test_aws_v4_list_objects(void **state)
{
    (void)state;
    /* parameters in any order: the canonical query sorts them */
    http_req *r = mk("GET", "/?prefix=J&max-keys=2", "Host", "examplebucket.s3.amazonaws.com", "x-amz-date", AWS_TS,
                     "x-amz-content-sha256", EMPTY_SHA, "Authorization",
                     AWS_AUTH("host;x-amz-content-sha256;x-amz-date",
                              "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
                     NULL);
    assert_int_equal(check(r, aws_ctx()).err, S3E_OK);
}

static void test_aws_v4_presigned(void **state)
{
    (void)state;
    const char *t = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AWS_AK
                    "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
                    "&X-Amz-SignedHeaders=host&X-Amz-Signature="
                    "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    auth_ctx c = ctx("us-east-1", iso(AWS_TS) + 3600, NULL);
    outcome o = check(mk("GET", t, "Host", "examplebucket.s3.amazonaws.com", NULL), c);
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.kind, AUTH_V4_QUERY);
    assert_int_equal(o.res.dialect, DIALECT_AWS);
    assert_int_equal(o.res.payload, PAYLOAD_UNSIGNED);
    /* a day later it has expired */
    c.now = iso(AWS_TS) + 86401;
    o = check(mk("GET", t, "Host", "examplebucket.s3.amazonaws.com", NULL), c);
    assert_int_equal(o.err, S3E_AccessDenied);
    assert_string_equal(o.msg, "Request has expired");
    /* not yet valid, long before its date */
    c.now = iso(AWS_TS) - 3600;
    assert_int_equal(check(mk("GET", t, "Host", "examplebucket.s3.amazonaws.com", NULL), c).err, S3E_AccessDenied);
}

/* The seed request of AWS's chunked-upload example. */
static http_req *aws_streaming_req(const char *sig)
{
    char authz[512];
    snprintf(authz, sizeof authz,
             AWS_AUTH("content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
                      "x-amz-decoded-content-length;x-amz-storage-class", "%s"),
             sig);
    return mk("PUT", "/examplebucket/chunkObject.txt", "Host", "s3.amazonaws.com", "x-amz-date", AWS_TS,
              "x-amz-storage-class", "REDUCED_REDUNDANCY", "Authorization", authz, "x-amz-content-sha256",
              "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "Content-Encoding", "aws-chunked",
              "x-amz-decoded-content-length", "66560", "Content-Length", "66824", NULL);
}

static void test_aws_v4_streaming_seed(void **state)
{
    (void)state;
    outcome o = check(aws_streaming_req("4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"),
                      ctx("us-east-1", iso(AWS_TS), NULL));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.payload, PAYLOAD_STREAMING_SIGNED);
    assert_string_equal(o.res.seed_signature, "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9");
    assert_string_equal(o.res.timestamp, AWS_TS);
    assert_string_equal(o.res.scope, "20130524/us-east-1/s3/aws4_request");
    assert_false(o.res.wos_flavor);
    unsigned char key[32];
    sigv4_signing_key(false, AWS_SK, "20130524", "us-east-1", "s3", key);
    assert_memory_equal(o.res.signing_key, key, 32);
}

static void test_wos_streaming_seed(void **state)
{
    (void)state;
    http_req *r = mk("PUT", "/obj", "Host", WOS_HOST, "x-wos-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                     "x-wos-date", WOS_TS, "Authorization",
                     WOS_AUTH("host;x-wos-content-sha256;x-wos-date",
                              "b74bbfce8306f4f78587bdaf00bc659c00110c25259d9d79808a2e179339651f"),
                     NULL);
    outcome o = check(r, ctx("cn-south-1", iso(WOS_TS), NULL));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.payload, PAYLOAD_STREAMING_SIGNED);
    assert_true(o.res.wos_flavor);
    assert_string_equal(o.res.scope, "20201103/cn-south-1/wos/wos_request");
    unsigned char key[32];
    sigv4_signing_key(true, WOS_SK, "20201103", "cn-south-1", "wos", key);
    assert_memory_equal(o.res.signing_key, key, 32);
}

/* Without the payload header: S3 refuses a header-signed request (400 InvalidRequest); the WOS
 * flavour is lenient, accepting UNSIGNED-PAYLOAD or a generic signer's hash of the empty body. */
static void test_v4_no_payload_header(void **state)
{
    (void)state;
    http_req *r = mk("GET", "/test.txt", "Host", "examplebucket.s3.amazonaws.com", "x-amz-date", AWS_TS,
                     "Authorization",
                     AWS_AUTH("host;x-amz-date", "c56d82b267bdb6e445b1471d255de6c82ea88b19c83e16370232146fdcd628ec"),
                     NULL);
    outcome o = check(r, aws_ctx());
    assert_int_equal(o.err, S3E_InvalidRequest);
    assert_string_equal(o.msg, "Missing required header for this request: x-amz-content-sha256");
    assert_int_equal(o.res.dialect, DIALECT_AWS);

    r = mk("GET", "/dir/a.txt", "Host", WOS_HOST, "x-wos-date", WOS_TS, "Authorization",
           WOS_AUTH("host;x-wos-date", "a1eeecc7c645944713e1ce9252f59e8f3684638d3820f84a40b9b0c9a6f79f84"), NULL);
    o = check(r, ctx("cn-south-1", iso(WOS_TS), NULL));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.payload, PAYLOAD_SHA256);   /* the body must then be empty */
    r = mk("GET", "/dir/a.txt", "Host", WOS_HOST, "x-wos-date", WOS_TS, "Authorization",
           WOS_AUTH("host;x-wos-date", "dfce760746fe8f919e84129126d43eb28ba0ab912d8d74a4e8e92f8e2d18497f"), NULL);
    o = check(r, ctx("cn-south-1", iso(WOS_TS), NULL));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.payload, PAYLOAD_UNSIGNED);
}

/* --- scheme G: AWS SigV2 header examples ------------------------------------------------ */

static void test_aws_v2_examples(void **state)
{
    (void)state;
    /* Object GET */
    http_req *r = mk("GET", "/photos/puppy.jpg", "Host", "johnsmith.s3.amazonaws.com", "Date",
                     "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization", "AWS " AWS_AK ":bWq2s1WEIj+Ydj0vQ697zp+IXMU=", NULL);
    outcome o = check(r, ctx("us-east-1", httpdate("Tue, 27 Mar 2007 19:36:42 +0000"), "johnsmith"));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.kind, AUTH_V2_HEADER);
    assert_int_equal(o.res.dialect, DIALECT_AWS);
    assert_string_equal(o.res.access_key, AWS_AK);

    /* Object PUT */
    r = mk("PUT", "/photos/puppy.jpg", "Content-Type", "image/jpeg", "Content-Length", "94328", "Host",
           "johnsmith.s3.amazonaws.com", "Date", "Tue, 27 Mar 2007 21:15:45 +0000", "Authorization",
           "AWS " AWS_AK ":MyyxeRY7whkBe+bq8fHCL/2kKUg=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", httpdate("Tue, 27 Mar 2007 21:15:45 +0000"), "johnsmith")).err, S3E_OK);

    /* List: query parameters that are not sub-resources are not signed */
    r = mk("GET", "/?prefix=photos&max-keys=50&marker=puppy", "User-Agent", "Mozilla/5.0", "Host",
           "johnsmith.s3.amazonaws.com", "Date", "Tue, 27 Mar 2007 19:42:41 +0000", "Authorization",
           "AWS " AWS_AK ":htDYFYduRNen8P9ZfE/s9SuKy0U=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", httpdate("Tue, 27 Mar 2007 19:42:41 +0000"), "johnsmith")).err, S3E_OK);

    /* Fetch ACL */
    r = mk("GET", "/?acl", "Host", "johnsmith.s3.amazonaws.com", "Date", "Tue, 27 Mar 2007 19:44:46 +0000",
           "Authorization", "AWS " AWS_AK ":c2WLPFtWHVgbEmeEG93a4cG37dM=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", httpdate("Tue, 27 Mar 2007 19:44:46 +0000"), "johnsmith")).err, S3E_OK);

    /* Delete, path style, x-amz-date: an empty Date line and x-amz-date among the signed
     * headers (the AWS rule). The AWS document prints lx3byBScXR6KzyMaifNkardMwNk= for this
     * request, which is the signature of x-amz-date's value in the Date line with no x-amz-date
     * header line — contrary to its own rule, and exactly the "signature uses Date but the
     * request uses x-amz-date" case WOS answers with SignatureDoesNotMatch. */
    r = mk("DELETE", "/johnsmith/photos/puppy.jpg", "User-Agent", "dotnet", "Host", "s3.amazonaws.com", "Date",
           "Tue, 27 Mar 2007 21:20:27 +0000", "x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000", "Authorization",
           "AWS " AWS_AK ":R4dJ53KECjStyBO5iTBJZ4XVOaI=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", httpdate("Tue, 27 Mar 2007 21:20:26 +0000"), NULL)).err, S3E_OK);
    r = mk("DELETE", "/johnsmith/photos/puppy.jpg", "User-Agent", "dotnet", "Host", "s3.amazonaws.com", "Date",
           "Tue, 27 Mar 2007 21:20:27 +0000", "x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000", "Authorization",
           "AWS " AWS_AK ":lx3byBScXR6KzyMaifNkardMwNk=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", httpdate("Tue, 27 Mar 2007 21:20:26 +0000"), NULL)).err,
                     S3E_SignatureDoesNotMatch);
    /* signed over Date, sent with x-amz-date as well */
    r = mk("GET", "/photos/puppy.jpg", "Host", "johnsmith.s3.amazonaws.com", "Date", "Tue, 27 Mar 2007 19:36:42 +0000",
           "x-amz-date", "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization",
           "AWS " AWS_AK ":bWq2s1WEIj+Ydj0vQ697zp+IXMU=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", httpdate("Tue, 27 Mar 2007 19:36:42 +0000"), "johnsmith")).err,
                     S3E_SignatureDoesNotMatch);

    /* Upload: CNAME bucket, repeated x-amz-meta header joined with ',' */
    r = mk("PUT", "/db-backup.dat.gz", "User-Agent", "curl/7.15.5", "Host", "static.johnsmith.net:8080", "Date",
           "Tue, 27 Mar 2007 21:06:08 +0000", "x-amz-acl", "public-read", "content-type", "application/x-download",
           "Content-MD5", "4gJE4saaMU4BqNR0kLY+lw==", "X-Amz-Meta-ReviewedBy", "joe@johnsmith.net",
           "X-Amz-Meta-ReviewedBy", "jane@johnsmith.net", "X-Amz-Meta-FileChecksum", "0x02661779",
           "X-Amz-Meta-ChecksumAlgorithm", "crc32", "Content-Disposition", "attachment; filename=database.dat",
           "Content-Encoding", "gzip", "Content-Length", "5913339", "Authorization",
           "AWS " AWS_AK ":ilyl83RwaSoYIEdixDQcA4OnAnc=", NULL);
    assert_int_equal(
        check(r, ctx("us-east-1", httpdate("Tue, 27 Mar 2007 21:06:08 +0000"), "static.johnsmith.net")).err, S3E_OK);

    /* List all my buckets */
    r = mk("GET", "/", "Host", "s3.amazonaws.com", "Date", "Wed, 28 Mar 2007 01:29:59 +0000", "Authorization",
           "AWS " AWS_AK ":qGdzdERIC03wnaRNKh6OqZehG9s=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", httpdate("Wed, 28 Mar 2007 01:29:59 +0000"), NULL)).err, S3E_OK);

    /* Unicode keys: the path is signed as sent (mixed-case escapes) */
    r = mk("GET", "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re", "Host", "s3.amazonaws.com", "Date",
           "Wed, 28 Mar 2007 01:49:49 +0000", "Authorization", "AWS " AWS_AK ":DNEZGsoieTZ92F3bUfSPQcbGmlM=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", httpdate("Wed, 28 Mar 2007 01:49:49 +0000"), NULL)).err, S3E_OK);
}

static void test_aws_v2_mismatch_and_skew(void **state)
{
    (void)state;
    int64_t t = httpdate("Tue, 27 Mar 2007 19:36:42 +0000");
    /* with no x-* headers the WOS scheme signs the same string as the AWS one */
    http_req *r = mk("GET", "/photos/puppy.jpg", "Host", "h", "Date", "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization",
                     "WOS " AWS_AK ":bWq2s1WEIj+Ydj0vQ697zp+IXMU=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", t, "johnsmith")).err, S3E_OK);
    r = mk("GET", "/photos/puppy.jpg", "Host", "h", "Date", "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization",
           "AWS " AWS_AK ":bWq2s1WEIj+Ydj0vQ697zp+IXMU=", NULL);
    outcome o = check(r, ctx("us-east-1", t + 901, "johnsmith"));
    assert_int_equal(o.err, S3E_RequestTimeTooSkewed);
    assert_int_equal(o.res.dialect, DIALECT_AWS);
    r = mk("GET", "/photos/puppy.jpg", "Host", "h", "Date", "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization",
           "AWS " AWS_AK ":bWq2s1WEIj+Ydj0vQ697zp+IXMU=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", t - 900, "johnsmith")).err, S3E_OK);
    r = mk("GET", "/photos/kitten.jpg", "Host", "h", "Date", "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization",
           "AWS " AWS_AK ":bWq2s1WEIj+Ydj0vQ697zp+IXMU=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", t, "johnsmith")).err, S3E_SignatureDoesNotMatch);
    r = mk("GET", "/photos/puppy.jpg", "Host", "h", "Date", "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization",
           "AWS " AWS_AK ":not base64!", NULL);
    assert_int_equal(check(r, ctx("us-east-1", t, "johnsmith")).err, S3E_SignatureDoesNotMatch);
    r = mk("GET", "/photos/puppy.jpg", "Host", "h", "Date", "Tue, 27 Mar 2007 19:36:42 +0000", "Authorization",
           "AWS AKIDUNKNOWN:bWq2s1WEIj+Ydj0vQ697zp+IXMU=", NULL);
    assert_int_equal(check(r, ctx("us-east-1", t, "johnsmith")).err, S3E_InvalidAccessKeyId);
}

/* --- errors ---------------------------------------------------------------------------- */

static void test_err_algorithm(void **state)
{
    (void)state;
    auth_ctx c = ctx("cn-south-1", iso(WOS_TS), NULL);
    /* V4-shaped, another algorithm name (the name is case-sensitive) */
    const char *bad[] = {
        "wos-hmac-sha256 Credential=" WOS_AK "/20201103/cn-south-1/wos/wos_request, SignedHeaders=host, Signature=00",
        "Wos-Hmac-Sha256 Credential=" WOS_AK "/20201103/cn-south-1/wos/wos_request, SignedHeaders=host, Signature=00",
        "WOS-HMAC-SHA1 Credential=" WOS_AK "/20201103/cn-south-1/wos/wos_request, SignedHeaders=host, Signature=00",
        "AWS4-HMAC-SHA512 Credential=x/20201103/cn-south-1/s3/aws4_request, SignedHeaders=host, Signature=00",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        outcome o = check(wos_example(bad[i]), c);
        assert_int_equal(o.err, S3E_InvalidArgument);
        assert_string_equal(o.msg, "Only AWS4-HMAC-SHA256 is supported");
        assert_int_equal(o.res.dialect, i == 3 ? DIALECT_AWS : DIALECT_WOS);
    }
    /* not a signature at all: a malformed header, 403 AccessDenied (WOS-API.md §8.2) */
    const char *junk[] = {"Bearer abcdef", "garbage", "Basic dXNlcjpwYXNz", "", "   "};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        outcome o = check(wos_example(junk[i]), c);
        assert_int_equal(o.err, S3E_AccessDenied);
        assert_int_equal(o.res.dialect, DIALECT_WOS);
    }
    /* an AWS-looking one answers as AWS does */
    outcome o = check(wos_example("AWS4-ECDSA-P256-SHA256 whatever"), c);
    assert_int_equal(o.err, S3E_InvalidArgument);
    assert_int_equal(o.res.dialect, DIALECT_AWS);
}

static void test_err_v2_missing_signature(void **state)
{
    (void)state;
    auth_ctx c = ctx("cn-east-1", httpdate(SEED_DATE), "bucket01");
    const char *bad[] = {"WOS " WOS_AK, "WOS " WOS_AK ":", "AWS " AWS_AK, "WOS :abc", "WOS"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        http_req *r = mk("POST", "/objectkey?uploads", "Host", "h", "Date", SEED_DATE, "Authorization", bad[i], NULL);
        outcome o = check(r, c);
        assert_int_equal(o.err, S3E_InvalidArgument);
        assert_string_equal(o.msg, "Authorization header is invalid. Expected AccessKeyId:signature");
    }
}

static void test_err_date(void **state)
{
    (void)state;
    auth_ctx c = ctx("cn-south-1", iso(WOS_TS), NULL);
    /* V4 WOS without any date */
    http_req *r = mk("DELETE", "/mine-type.mp4", "Host", WOS_HOST, "x-wos-content-sha256", EMPTY_SHA, "Authorization",
                     WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG), NULL);
    outcome o = check(r, c);
    assert_int_equal(o.err, S3E_AccessDenied);
    assert_string_equal(o.msg, "Authentication requires a valid Date or x-wos-date header");
    /* unparseable */
    r = mk("DELETE", "/mine-type.mp4", "Host", WOS_HOST, "x-wos-date", "yesterday", "Authorization",
           WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG), NULL);
    assert_int_equal(check(r, c).err, S3E_AccessDenied);
    /* V4 AWS */
    r = mk("GET", "/test.txt", "Host", "examplebucket.s3.amazonaws.com", "Authorization",
           AWS_AUTH("host", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"), NULL);
    o = check(r, aws_ctx());
    assert_int_equal(o.err, S3E_AccessDenied);
    assert_string_equal(o.msg, "AWS authentication requires a valid Date or x-amz-date header");
    assert_int_equal(o.res.dialect, DIALECT_AWS);
    /* V2 WOS */
    r = mk("POST", "/objectkey?uploads", "Host", "h", "Authorization", "WOS " WOS_AK ":" SIG_UPLOADS, NULL);
    o = check(r, ctx("cn-east-1", httpdate(SEED_DATE), "bucket01"));
    assert_int_equal(o.err, S3E_AccessDenied);
    assert_string_equal(o.msg, "Authentication requires a valid Date or x-wos-date header");
}

static void test_err_credential_date(void **state)
{
    (void)state;
    auth_ctx c = ctx("cn-south-1", iso("20201104T000000Z"), NULL);
    http_req *r = mk("DELETE", "/mine-type.mp4", "Host", WOS_HOST, "x-wos-content-sha256", EMPTY_SHA, "x-wos-date",
                     "20201104T000000Z", "Authorization",
                     WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG), NULL);
    outcome o = check(r, c);
    assert_int_equal(o.err, S3E_InvalidArgument);
    assert_string_equal(o.msg, "Invalid credential date. Date is not the same as x-wos-date.");

    r = mk("GET", "/test.txt", "Host", "examplebucket.s3.amazonaws.com", "x-amz-date", "20130525T000000Z",
           "Authorization", AWS_AUTH("host;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"),
           NULL);
    o = check(r, ctx("us-east-1", iso("20130525T000000Z"), NULL));
    assert_int_equal(o.err, S3E_AuthorizationHeaderMalformed);
}

static void test_err_region_service_ak(void **state)
{
    (void)state;
    auth_ctx c = ctx("cn-south-1", iso(WOS_TS), NULL);
    http_req *r = wos_example("WOS-HMAC-SHA256 Credential=" WOS_AK "/20201103/cn-east-1/wos/wos_request, "
                              "SignedHeaders=host;x-wos-content-sha256;x-wos-date, Signature=" WOS_EXAMPLE_SIG);
    outcome o = check(r, c);
    assert_int_equal(o.err, S3E_AuthorizationHeaderMalformed);
    assert_string_equal(o.msg, "The authorization header is malformed; the region 'cn-east-1' is wrong; "
                               "expecting 'cn-south-1'");

    r = wos_example("WOS-HMAC-SHA256 Credential=/20201103/cn-south-1/wos/wos_request, "
                    "SignedHeaders=host;x-wos-content-sha256;x-wos-date, Signature=" WOS_EXAMPLE_SIG);
    o = check(r, c);
    assert_int_equal(o.err, S3E_AuthorizationHeaderMalformed);
    assert_string_equal(o.msg, "The authorization header is malformed; a non-empty Access Key (AKID) must be "
                               "provided in the credential.");

    r = wos_example("WOS-HMAC-SHA256 Credential=" WOS_AK "/20201103/cn-south-1/s3/wos_request, "
                    "SignedHeaders=host;x-wos-content-sha256;x-wos-date, Signature=" WOS_EXAMPLE_SIG);
    assert_int_equal(check(r, c).err, S3E_AuthorizationHeaderMalformed);
    r = wos_example("WOS-HMAC-SHA256 Credential=" WOS_AK "/20201103/cn-south-1/wos/aws4_request, "
                    "SignedHeaders=host;x-wos-content-sha256;x-wos-date, Signature=" WOS_EXAMPLE_SIG);
    assert_int_equal(check(r, c).err, S3E_AuthorizationHeaderMalformed);
    /* AWS service in an AWS header must be s3 */
    r = mk("GET", "/test.txt", "Host", "h", "x-amz-date", AWS_TS, "Authorization",
           "AWS4-HMAC-SHA256 Credential=" AWS_AK "/20130524/us-east-1/wos/aws4_request,SignedHeaders=host,Signature=00",
           NULL);
    assert_int_equal(check(r, aws_ctx()).err, S3E_AuthorizationHeaderMalformed);

    r = wos_example("WOS-HMAC-SHA256 Credential=AKUNKNOWN/20201103/cn-south-1/wos/wos_request, "
                    "SignedHeaders=host;x-wos-content-sha256;x-wos-date, Signature=" WOS_EXAMPLE_SIG);
    assert_int_equal(check(r, c).err, S3E_InvalidAccessKeyId);
    /* wrong number of credential parts */
    r = wos_example("WOS-HMAC-SHA256 Credential=" WOS_AK "/20201103/cn-south-1/wos, "
                    "SignedHeaders=host;x-wos-content-sha256;x-wos-date, Signature=" WOS_EXAMPLE_SIG);
    assert_int_equal(check(r, c).err, S3E_AuthorizationHeaderMalformed);
    /* no region configured: any region is accepted */
    r = wos_example(WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG));
    assert_int_equal(check(r, ctx(NULL, iso(WOS_TS), NULL)).err, S3E_OK);
}

static void test_err_skew(void **state)
{
    (void)state;
    const char *a = WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG);
    assert_int_equal(check(wos_example(a), ctx("cn-south-1", iso(WOS_TS) + 900, NULL)).err, S3E_OK);
    assert_int_equal(check(wos_example(a), ctx("cn-south-1", iso(WOS_TS) - 900, NULL)).err, S3E_OK);
    assert_int_equal(check(wos_example(a), ctx("cn-south-1", iso(WOS_TS) + 901, NULL)).err, S3E_RequestTimeTooSkewed);
    assert_int_equal(check(wos_example(a), ctx("cn-south-1", iso(WOS_TS) - 901, NULL)).err, S3E_RequestTimeTooSkewed);
}

static void test_err_malformed_header(void **state)
{
    (void)state;
    auth_ctx c = ctx("cn-south-1", iso(WOS_TS), NULL);
    /* WOS: 403 AccessDenied (WOS-API.md §8.2) */
    const char *bad[] = {
        "WOS-HMAC-SHA256 garbage",
        "WOS-HMAC-SHA256 Credential=" WOS_AK "/20201103/cn-south-1/wos/wos_request, SignedHeaders=host",
        "WOS-HMAC-SHA256 Credential=a/b, Credential=c/d, SignedHeaders=host, Signature=00",
        "WOS-HMAC-SHA256",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        outcome o = check(wos_example(bad[i]), c);
        assert_int_equal(o.err, S3E_AccessDenied);
        assert_int_equal(o.res.dialect, DIALECT_WOS);
    }
    /* AWS: 400 AuthorizationHeaderMalformed */
    outcome o = check(wos_example("AWS4-HMAC-SHA256 Credential=x"), c);
    assert_int_equal(o.err, S3E_AuthorizationHeaderMalformed);
    assert_int_equal(o.res.dialect, DIALECT_AWS);
    /* host must be signed */
    o = check(wos_example(WOS_AUTH("x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG)), c);
    assert_int_equal(o.err, S3E_AccessDenied);
    o = check(wos_example(WOS_AUTH("host;;x-wos-date", WOS_EXAMPLE_SIG)), c);
    assert_int_equal(o.err, S3E_AccessDenied);
}

static void test_err_payload_value(void **state)
{
    (void)state;
    http_req *r = mk("DELETE", "/mine-type.mp4", "Host", WOS_HOST, "x-wos-content-sha256", "not-a-hash", "x-wos-date",
                     WOS_TS, "Authorization", WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG), NULL);
    outcome o = check(r, ctx("cn-south-1", iso(WOS_TS), NULL));
    assert_int_equal(o.err, S3E_InvalidArgument);
    /* 63 hex digits */
    r = mk("DELETE", "/mine-type.mp4", "Host", WOS_HOST, "x-wos-content-sha256",
           "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85", "x-wos-date", WOS_TS, "Authorization",
           WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG), NULL);
    assert_int_equal(check(r, ctx("cn-south-1", iso(WOS_TS), NULL)).err, S3E_InvalidArgument);
}

static void test_err_query(void **state)
{
    (void)state;
    auth_ctx c = ctx("us-east-1", iso(AWS_TS), NULL);
    /* X-Amz-Expires over a week */
    const char *t = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AWS_AK
                    "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=604801"
                    "&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
    outcome o = check(mk("GET", t, "Host", "h", NULL), c);
    assert_int_equal(o.err, S3E_AuthorizationQueryParametersError);
    assert_int_equal(o.res.dialect, DIALECT_AWS);
    /* a week exactly is allowed (the signature is what fails then) */
    t = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AWS_AK
        "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=604800"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
    assert_int_equal(check(mk("GET", t, "Host", "h", NULL), c).err, S3E_SignatureDoesNotMatch);
    /* a missing parameter */
    t = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AWS_AK
        "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=00";
    assert_int_equal(check(mk("GET", t, "Host", "h", NULL), c).err, S3E_AuthorizationQueryParametersError);
    /* a bad algorithm */
    t = "/test.txt?X-Amz-Algorithm=HMAC&X-Amz-Credential=" AWS_AK
        "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
    o = check(mk("GET", t, "Host", "h", NULL), c);
    assert_int_equal(o.err, S3E_InvalidArgument);
    assert_string_equal(o.msg, "Only AWS4-HMAC-SHA256 is supported");
    /* a wrong region in a presigned URL */
    t = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" AWS_AK
        "%2F20130524%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
    assert_int_equal(check(mk("GET", t, "Host", "h", NULL), c).err, S3E_AuthorizationQueryParametersError);
    /* an unknown key */
    t = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKNOPE"
        "%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=60"
        "&X-Amz-SignedHeaders=host&X-Amz-Signature=00";
    assert_int_equal(check(mk("GET", t, "Host", "h", NULL), c).err, S3E_InvalidAccessKeyId);
}

static void test_err_both_header_and_query(void **state)
{
    (void)state;
    const char *t = "/mine-type.mp4?" WOS_PRESIGN_Q
                    "&X-Wos-Signature=fc6306b74766f648783f601dbb2979eb82bfb3d2769cb38bcd9ee949653b3a58";
    http_req *r = mk("GET", t, "Host", WOS_HOST, "Authorization",
                     WOS_AUTH("host;x-wos-content-sha256;x-wos-date", WOS_EXAMPLE_SIG), NULL);
    assert_int_equal(check(r, ctx("cn-south-1", iso(WOS_TS), NULL)).err, S3E_InvalidArgument);
    r = mk("GET", "/a?Signature=x&AWSAccessKeyId=y&Expires=1", "Host", "h", "Authorization", "WOS a:b", NULL);
    assert_int_equal(check(r, ctx("cn-south-1", iso(WOS_TS), NULL)).err, S3E_InvalidArgument);
}

static void test_anonymous(void **state)
{
    (void)state;
    outcome o = check(mk("GET", "/bucket/key?acl", "Host", "h", NULL), ctx("cn-south-1", 0, NULL));
    assert_int_equal(o.err, S3E_OK);
    assert_int_equal(o.res.kind, AUTH_ANON);
    assert_int_equal(o.res.dialect, DIALECT_WOS);
    assert_string_equal(o.res.access_key, "");
}

static void test_signing_key(void **state)
{
    (void)state;
    /* AWS's published signing-key example (SigV4 docs: iam, us-east-1, 20150830). */
    unsigned char k[32];
    char hex[65];
    sigv4_signing_key(false, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam", k);
    hex_encode(k, 32, hex);
    assert_string_equal(hex, "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wos_header_example),
        cmocka_unit_test(test_wos_header_no_spaces),
        cmocka_unit_test(test_wos_header_tampered),
        cmocka_unit_test(test_wos_sdk_date_header),
        cmocka_unit_test(test_wos_repeated_header),
        cmocka_unit_test(test_wos_raw_path_and_query),
        cmocka_unit_test(test_wos_presigned_example),
        cmocka_unit_test(test_wos_presigned_encoded_slash),
        cmocka_unit_test(test_wos_v2_seed_example),
        cmocka_unit_test(test_wos_v2_seed_error_table),
        cmocka_unit_test(test_wos_v2_put_with_headers),
        cmocka_unit_test(test_wos_v2_variants),
        cmocka_unit_test(test_v2_query_wos_example),
        cmocka_unit_test(test_v2_query_aws_example),
        cmocka_unit_test(test_aws_v4_get_object),
        cmocka_unit_test(test_aws_v4_put_object),
        cmocka_unit_test(test_aws_v4_get_lifecycle),
        cmocka_unit_test(test_aws_v4_list_objects),
        cmocka_unit_test(test_aws_v4_presigned),
        cmocka_unit_test(test_aws_v4_streaming_seed),
        cmocka_unit_test(test_wos_streaming_seed),
        cmocka_unit_test(test_v4_no_payload_header),
        cmocka_unit_test(test_aws_v2_examples),
        cmocka_unit_test(test_aws_v2_mismatch_and_skew),
        cmocka_unit_test(test_err_algorithm),
        cmocka_unit_test(test_err_v2_missing_signature),
        cmocka_unit_test(test_err_date),
        cmocka_unit_test(test_err_credential_date),
        cmocka_unit_test(test_err_region_service_ak),
        cmocka_unit_test(test_err_skew),
        cmocka_unit_test(test_err_malformed_header),
        cmocka_unit_test(test_err_payload_value),
        cmocka_unit_test(test_err_query),
        cmocka_unit_test(test_err_both_header_and_query),
        cmocka_unit_test(test_anonymous),
        cmocka_unit_test(test_signing_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
