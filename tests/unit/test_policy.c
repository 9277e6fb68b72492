/* test_policy — the IAM policy engine (src/iam/policy.h): both languages, every condition
 * operator, NotAction/NotResource/NotPrincipal, wildcards and variables, prefix-limited users,
 * explicit deny, malformed policies and their messages, the built-ins, the case rules, and the
 * cost of one evaluation (reported, not asserted). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "iam/iam_internal.h"   /* iam_evaluate_scan: the index must agree with a plain scan */
#include "iam/policy.h"

/* --- helpers ------------------------------------------------------------------------------ */

static iam_policy *parse_kind(const char *json, iam_policy_kind kind, const char *bucket)
{
    char err[512];
    iam_parse_opts o = {kind, 0, bucket};
    iam_policy *p = NULL;
    if (iam_policy_parse(json, strlen(json), &o, &p, err, sizeof err) != 0) {
        print_error("unexpected parse error: %s\n  in %s\n", err, json);
        fail();
    }
    assert_non_null(p);
    return p;
}

static iam_policy *P(const char *json)
{
    return parse_kind(json, IAM_POLICY_IDENTITY, NULL);
}

static iam_policy *BP(const char *json)
{
    return parse_kind(json, IAM_POLICY_BUCKET, NULL);
}

/* Parses expecting failure; returns the message (static buffer). */
static const char *perr_opts(const char *json, const iam_parse_opts *o)
{
    static char err[512];
    iam_policy *p = (iam_policy *)1;
    int rc = iam_policy_parse(json, strlen(json), o, &p, err, sizeof err);
    if (rc == 0) {
        print_error("expected a parse error for %s\n", json);
        iam_policy_free(p);
        fail();
    }
    assert_int_equal(rc, -1);
    assert_null(p);
    assert_true(err[0] != 0);
    return err;
}

static const char *perr(const char *json, iam_policy_kind kind)
{
    iam_parse_opts o = {kind, 0, NULL};
    return perr_opts(json, &o);
}

static iam_request req_for(const char *user, iam_action a, const char *bucket, const char *key)
{
    iam_request r;
    memset(&r, 0, sizeof r);
    r.user = user;
    r.access_key = user ? "AKEXAMPLE" : NULL;
    r.anonymous = user == NULL;
    r.action = a;
    r.bucket = bucket;
    r.key = key;
    return r;
}

static iam_decision ev1(const iam_policy *p, const iam_request *r)
{
    return iam_evaluate(&p, 1, r);
}

/* Decision of one policy for alice doing action on bucket[/key]. */
static iam_decision dec(const iam_policy *p, iam_action a, const char *bucket, const char *key)
{
    iam_request r = req_for("alice", a, bucket, key);
    return ev1(p, &r);
}

#define A(x) IAM_ACT_##x

/* --- the action table --------------------------------------------------------------------- */

static void test_action_table(void **state)
{
    (void)state;
    for (int a = 0; a < IAM_ACT__COUNT; a++) {
        const char *w = iam_action_name((iam_action)a), *s = iam_action_s3_name((iam_action)a);
        assert_non_null(w);
        assert_non_null(s);
        assert_int_equal(iam_action_lookup(w), a);
        /* The S3 name resolves to a row with the same S3 name (the first such row). */
        iam_action b = iam_action_lookup(s);
        assert_true(b >= 0 && b <= a);
        assert_string_equal(iam_action_s3_name(b), s);
    }
    assert_null(iam_action_name(IAM_ACT__COUNT));
    assert_null(iam_action_name(IAM_ACT_INVALID));

    /* Every action the s3_op table names today (src/s3/ops_*.c). */
    static const char *const ops[] = {"wos:GetService", "wos:PutBucket", "wos:GetBucket", "wos:DeleteBucket",
                                      "wos:GetBucketLocation", "wos:GetBucketVersioning", "wos:GetObjectAcl",
                                      "wos:PutObjectAcl", "wos:PutObject", "wos:GetObject", "wos:HeadObject",
                                      "wos:DeleteObject", "wos:AbortMultipartUpload", "wos:ListParts",
                                      "wos:ListMultipartUploads"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) assert_int_not_equal(iam_action_lookup(ops[i]), IAM_ACT_INVALID);

    /* The aliases the issue names. */
    assert_int_equal(iam_action_lookup("s3:ListBucket"), A(GET_BUCKET));
    assert_int_equal(iam_action_lookup("s3:ListAllMyBuckets"), A(GET_SERVICE));
    assert_int_equal(iam_action_lookup("s3:CreateBucket"), A(PUT_BUCKET));
    assert_int_equal(iam_action_lookup("s3:ListMultipartUploadParts"), A(LIST_PARTS));
    assert_int_equal(iam_action_lookup("s3:ListBucketMultipartUploads"), A(LIST_MULTIPART_UPLOADS));
    assert_int_equal(iam_action_lookup("s3:PutLifecycleConfiguration"), A(PUT_BUCKET_LIFECYCLE));
    assert_int_equal(iam_action_lookup("s3:GetLifecycleConfiguration"), A(GET_BUCKET_LIFECYCLE));
    assert_int_equal(iam_action_lookup("s3:GetObject"), A(GET_OBJECT));
    assert_int_equal(iam_action_lookup("GetObject"), A(GET_OBJECT));
    assert_int_equal(iam_action_lookup("WOS:getobject"), A(GET_OBJECT));
    assert_int_equal(iam_action_lookup("s3:Nope"), IAM_ACT_INVALID);
    assert_int_equal(iam_action_lookup("wos:Get*"), IAM_ACT_INVALID);

    assert_int_equal(iam_action_level(A(GET_SERVICE)), IAM_LEVEL_SERVICE);
    assert_int_equal(iam_action_level(A(GET_BUCKET)), IAM_LEVEL_BUCKET);
    assert_int_equal(iam_action_level(A(PUT_OBJECT)), IAM_LEVEL_OBJECT);
    assert_string_equal(iam_key_name(IAM_KEY_SOURCE_IP), "aws:SourceIp");
}

/* Either namespace names the same action; HEAD is granted by GetObject but not the reverse. */
static void test_action_namespaces_and_head(void **state)
{
    (void)state;
    iam_policy *s3 = P("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\","
                       "\"Action\":[\"s3:ListBucket\",\"s3:GetObject\"],\"Resource\":\"*\"}]}");
    assert_int_equal(dec(s3, A(GET_BUCKET), "b", NULL), IAM_ALLOW);
    assert_int_equal(dec(s3, A(GET_OBJECT), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(s3, A(HEAD_OBJECT), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(s3, A(PUT_OBJECT), "b", "k"), IAM_NONE);

    iam_policy *head = P("{\"version\":\"1\",\"statement\":[{\"effect\":\"allow\",\"action\":[\"wos:HeadObject\"],"
                         "\"resource\":[\"wsc:wos:*:*:*\"]}]}");
    assert_int_equal(dec(head, A(HEAD_OBJECT), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(head, A(GET_OBJECT), "b", "k"), IAM_NONE);

    iam_policy *wget = P("{\"version\":\"1\",\"statement\":[{\"effect\":\"allow\",\"action\":[\"wos:GetObject\"],"
                         "\"resource\":[\"wsc:wos:*:*:*\"]}]}");
    assert_int_equal(dec(wget, A(HEAD_OBJECT), "b", "k"), IAM_ALLOW);

    /* Deny of GetObject (either namespace) denies HEAD too; deny of HeadObject leaves GET. */
    iam_policy *deny = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
                         "{\"Effect\":\"Deny\",\"Action\":\"s3:GetObject\",\"Resource\":\"*\"}]}");
    assert_int_equal(dec(deny, A(HEAD_OBJECT), "b", "k"), IAM_DENY);
    assert_int_equal(dec(deny, A(GET_OBJECT), "b", "k"), IAM_DENY);
    assert_int_equal(dec(deny, A(PUT_OBJECT), "b", "k"), IAM_ALLOW);
    iam_policy *denyhead = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
                             "{\"Effect\":\"Deny\",\"Action\":\"wos:HeadObject\",\"Resource\":\"*\"}]}");
    assert_int_equal(dec(denyhead, A(HEAD_OBJECT), "b", "k"), IAM_DENY);
    assert_int_equal(dec(denyhead, A(GET_OBJECT), "b", "k"), IAM_ALLOW);

    /* DeleteBucketLifecycle is granted by s3:PutLifecycleConfiguration, as in AWS. */
    iam_policy *lc = P("{\"Statement\":{\"Effect\":\"Allow\",\"Action\":\"s3:PutLifecycleConfiguration\","
                       "\"Resource\":\"arn:aws:s3:::b\"}}");
    assert_int_equal(dec(lc, A(PUT_BUCKET_LIFECYCLE), "b", NULL), IAM_ALLOW);
    assert_int_equal(dec(lc, A(DELETE_BUCKET_LIFECYCLE), "b", NULL), IAM_ALLOW);
    assert_int_equal(dec(lc, A(GET_BUCKET_LIFECYCLE), "b", NULL), IAM_NONE);
    /* ... and by wos:PutBucketLifecycle, the WOS name of the same permission. */
    iam_policy *wlc = P("{\"version\":\"1\",\"statement\":[{\"effect\":\"allow\",\"action\":[\"wos:PutBucketLifecycle\"],"
                        "\"resource\":[\"*\"]}]}");
    assert_int_equal(dec(wlc, A(PUT_BUCKET_LIFECYCLE), "b", NULL), IAM_ALLOW);
    assert_int_equal(dec(wlc, A(DELETE_BUCKET_LIFECYCLE), "b", NULL), IAM_ALLOW);
    assert_int_equal(dec(wlc, A(GET_BUCKET_LIFECYCLE), "b", NULL), IAM_NONE);

    /* The WOS page's typo wos:GetGetService is read as GetService. */
    iam_policy *typo = P("{\"version\":\"1\",\"statement\":[{\"effect\":\"allow\",\"action\":[\"wos:GetGetService\"],"
                         "\"resource\":[\"*\"]}]}");
    assert_int_equal(dec(typo, A(GET_SERVICE), NULL, NULL), IAM_ALLOW);

    /* Unknown s3: names are accepted and match nothing; out-of-range actions are NONE. */
    iam_policy *unk = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObjectVersion\"],\"Resource\":\"*\"}]}");
    for (int a = 0; a < IAM_ACT__COUNT; a++) assert_int_equal(dec(unk, (iam_action)a, "b", "k"), IAM_NONE);
    assert_int_equal(dec(s3, IAM_ACT_INVALID, "b", "k"), IAM_NONE);
    assert_int_equal(dec(s3, IAM_ACT__COUNT, "b", "k"), IAM_NONE);

    iam_policy_free(s3);
    iam_policy_free(head);
    iam_policy_free(wget);
    iam_policy_free(deny);
    iam_policy_free(denyhead);
    iam_policy_free(lc);
    iam_policy_free(wlc);
    iam_policy_free(typo);
    iam_policy_free(unk);
}

/* --- languages ---------------------------------------------------------------------------- */

/* The WOS console's example shape: a sub-account limited to one bucket and a prefix. */
static void test_wos_language(void **state)
{
    (void)state;
    iam_policy *p = P("{\"version\":\"1\",\"statement\":["
                      "{\"effect\":\"allow\",\"action\":[\"wos:GetService\"],\"resource\":[\"wsc:wos:*:*:*\"]},"
                      "{\"effect\":\"allow\",\"action\":[\"wos:GetBucket\"],\"resource\":[\"wsc:wos:*:*:photos\"]},"
                      "{\"effect\":\"allow\",\"action\":[\"wos:PutObject\",\"wos:GetObject\",\"wos:DeleteObject\","
                      "\"wos:AbortMultipartUpload\",\"wos:ListParts\"],\"resource\":[\"wsc:wos:*:*:photos/2024/*\"]},"
                      "{\"effect\":\"deny\",\"action\":[\"wos:DeleteObject\"],\"resource\":[\"wsc:wos:*:*:photos/2024/keep*\"]}"
                      "]}");
    assert_int_equal(iam_policy_statements(p), 4);
    assert_int_equal(dec(p, A(GET_SERVICE), NULL, NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_BUCKET), "photos", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_BUCKET), "other", NULL), IAM_NONE);
    assert_int_equal(dec(p, A(PUT_OBJECT), "photos", "2024/a.jpg"), IAM_ALLOW);
    assert_int_equal(dec(p, A(PUT_OBJECT), "photos", "2023/a.jpg"), IAM_NONE);
    assert_int_equal(dec(p, A(LIST_PARTS), "photos", "2024/big.iso"), IAM_ALLOW);
    assert_int_equal(dec(p, A(DELETE_OBJECT), "photos", "2024/a.jpg"), IAM_ALLOW);
    assert_int_equal(dec(p, A(DELETE_OBJECT), "photos", "2024/keep/a.jpg"), IAM_DENY);
    assert_int_equal(dec(p, A(DELETE_BUCKET), "photos", NULL), IAM_NONE);
    /* The object pattern does not reach the bucket itself. */
    assert_int_equal(dec(p, A(PUT_OBJECT), "photos", NULL), IAM_NONE);
    iam_policy_free(p);
}

static void test_aws_language(void **state)
{
    (void)state;
    /* A single statement object, string Action and Resource, Sid, Id. */
    iam_policy *p = P("{\"Version\":\"2012-10-17\",\"Id\":\"x\",\"Statement\":{\"Sid\":\"ReadLogs\","
                      "\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::logs/*\"}}");
    assert_int_equal(iam_policy_statements(p), 1);
    assert_int_equal(dec(p, A(GET_OBJECT), "logs", "2024/01/01.gz"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_OBJECT), "logs2", "x"), IAM_NONE);
    iam_why why = {99, 99, NULL};
    iam_request r = req_for("alice", A(GET_OBJECT), "logs", "a");
    assert_int_equal(iam_evaluate_why((const iam_policy *const *)&p, 1, &r, &why), IAM_ALLOW);
    assert_int_equal(why.policy, 0);
    assert_int_equal(why.statement, 0);
    assert_string_equal(why.sid, "ReadLogs");
    iam_policy_free(p);

    /* The AWS docs' "bucket and its objects" pair, and the 2008 version. */
    p = P("{\"Version\":\"2008-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:*\"],"
          "\"Resource\":[\"arn:aws:s3:::data\",\"arn:aws:s3:::data/*\"]}]}");
    assert_int_equal(dec(p, A(GET_BUCKET), "data", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(DELETE_BUCKET), "data", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(PUT_OBJECT), "data", "x/y"), IAM_ALLOW);
    assert_int_equal(dec(p, A(PUT_OBJECT), "database", "x"), IAM_NONE);
    assert_int_equal(dec(p, A(GET_SERVICE), NULL, NULL), IAM_NONE);
    iam_policy_free(p);

    /* Either ARN form in either language; the WOS region/account fields are not compared. */
    p = P("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"wos:GetObject\","
          "\"Resource\":[\"wsc:wos:cn-south-1:12345:a/*\",\"arn:aws-cn:s3:::b/*\"]}]}");
    assert_int_equal(dec(p, A(GET_OBJECT), "a", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_OBJECT), "b", "k"), IAM_ALLOW);
    iam_policy_free(p);

    /* Numbers and booleans as condition values; arrays of one element; empty Sid. */
    p = P("{\"Statement\":[{\"Sid\":\"\",\"Effect\":\"Allow\",\"Action\":[\"s3:ListBucket\"],\"Resource\":[\"*\"],"
          "\"Condition\":{\"NumericLessThanEquals\":{\"s3:max-keys\":100},\"Bool\":{\"aws:SecureTransport\":true}}}]}");
    iam_request rq = req_for("alice", A(GET_BUCKET), "b", NULL);
    rq.ctx[IAM_KEY_MAX_KEYS] = "100";
    rq.ctx[IAM_KEY_SECURE_TRANSPORT] = "true";
    assert_int_equal(ev1(p, &rq), IAM_ALLOW);
    why.sid = "x";
    assert_int_equal(iam_evaluate_why((const iam_policy *const *)&p, 1, &rq, &why), IAM_ALLOW);
    assert_null(why.sid);
    rq.ctx[IAM_KEY_MAX_KEYS] = "101";
    assert_int_equal(ev1(p, &rq), IAM_NONE);
    iam_policy_free(p);
}

/* --- wildcards and case ------------------------------------------------------------------- */

static void test_wildcards(void **state)
{
    (void)state;
    iam_policy *p = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"wos:Get*\"],\"Resource\":\"*\"}]}");
    assert_int_equal(dec(p, A(GET_OBJECT), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_BUCKET), "b", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_SERVICE), NULL, NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_BUCKET_ACL), "b", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(HEAD_OBJECT), "b", "k"), IAM_ALLOW);   /* via its GetObject alias */
    assert_int_equal(dec(p, A(PUT_OBJECT), "b", "k"), IAM_NONE);
    assert_int_equal(dec(p, A(LIST_PARTS), "b", "k"), IAM_NONE);
    iam_policy_free(p);

    /* s3:Get* does not cover ListBucket (s3 name) though wos:Get* covers GetBucket. */
    p = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:Get*\",\"Resource\":\"*\"}]}");
    assert_int_equal(dec(p, A(GET_OBJECT), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_BUCKET), "b", NULL), IAM_NONE);
    assert_int_equal(dec(p, A(GET_BUCKET_LIFECYCLE), "b", NULL), IAM_ALLOW);
    iam_policy_free(p);

    p = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[\"s3:List*\",\"wos:?utObject\",\"wos:*Acl\"],"
          "\"Resource\":\"*\"}]}");
    assert_int_equal(dec(p, A(GET_BUCKET), "b", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_SERVICE), NULL, NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(LIST_PARTS), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(LIST_MULTIPART_UPLOADS), "b", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(PUT_OBJECT), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(PUT_OBJECT_ACL), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_BUCKET_ACL), "b", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_OBJECT), "b", "k"), IAM_NONE);
    iam_policy_free(p);

    /* Resource globs: *, ? (one UTF-8 character), several stars, bucket-name prefixes. */
    p = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\",\"Resource\":["
          "\"arn:aws:s3:::img/*.jpg\",\"arn:aws:s3:::img/a?c\",\"arn:aws:s3:::logs-*/*/error*\","
          "\"arn:aws:s3:::x/**\"]}]}");
    assert_int_equal(dec(p, A(GET_OBJECT), "img", "2024/cat.jpg"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_OBJECT), "img", "cat.jpg.png"), IAM_NONE);
    assert_int_equal(dec(p, A(GET_OBJECT), "img", "abc"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_OBJECT), "img", "a\xc3\xa9" "c"), IAM_ALLOW);   /* é is one character */
    assert_int_equal(dec(p, A(GET_OBJECT), "img", "ac"), IAM_NONE);
    assert_int_equal(dec(p, A(GET_OBJECT), "img", "abbc"), IAM_NONE);
    assert_int_equal(dec(p, A(GET_OBJECT), "logs-eu", "2024/x/error.log"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_OBJECT), "logs-eu", "error.log"), IAM_NONE);
    assert_int_equal(dec(p, A(GET_OBJECT), "x", "anything/at/all"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_OBJECT), "x", ""), IAM_ALLOW);
    iam_policy_free(p);

    /* A bucket-name prefix covers buckets and their objects alike. */
    p = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"arn:aws:s3:::team-*\"}]}");
    assert_int_equal(dec(p, A(GET_BUCKET), "team-a", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_OBJECT), "team-a", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_BUCKET), "team", NULL), IAM_NONE);
    assert_int_equal(dec(p, A(GET_SERVICE), NULL, NULL), IAM_NONE);
    iam_policy_free(p);
}

/* A reference glob (recursive, byte-wise), to check the compiled matcher on random inputs. */
static bool ref_glob(const char *p, const char *s)
{
    if (!*p) return !*s;
    if (*p == '*') return ref_glob(p + 1, s) || (*s && ref_glob(p, s + 1));
    if (!*s) return false;
    return (*p == '?' || *p == *s) && ref_glob(p + 1, s + 1);
}

static void test_glob_against_reference(void **state)
{
    (void)state;
    srand(12345);
    static const char pchars[] = "ab/*?";
    static const char schars[] = "ab/";
    for (int iter = 0; iter < 20000; iter++) {
        char pat[12], bucket[5], key[8], full[16];
        int pl = 1 + rand() % 10, bl = 1 + rand() % 4, kl = rand() % 7;
        for (int i = 0; i < pl; i++) pat[i] = pchars[rand() % 5];
        pat[pl] = 0;
        for (int i = 0; i < bl; i++) bucket[i] = "ab"[rand() % 2];
        bucket[bl] = 0;
        for (int i = 0; i < kl; i++) key[i] = schars[rand() % 3];
        key[kl] = 0;
        snprintf(full, sizeof full, "%s/%s", bucket, key);
        char json[128];
        snprintf(json, sizeof json, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"arn:aws:s3:::%s\"}]}",
                 pat);
        iam_policy *p = P(json);
        bool want_obj = ref_glob(pat, full), want_bkt = ref_glob(pat, bucket);
        if ((dec(p, A(GET_OBJECT), bucket, key) == IAM_ALLOW) != want_obj ||
            (dec(p, A(GET_BUCKET), bucket, NULL) == IAM_ALLOW) != want_bkt) {
            print_error("pattern %s bucket %s key %s: want obj %d bkt %d\n", pat, bucket, key, want_obj, want_bkt);
            fail();
        }
        iam_policy_free(p);
    }
}

/* Random policies of up to 20 statements against a model written from policy.h's rules (deny
 * wins, then allow; NotResource; service actions match only all-'*' patterns), and the indexed
 * evaluation against the plain scan, deciding statement included. */
static bool all_stars(const char *p)
{
    return strspn(p, "*") == strlen(p);
}

static void test_random_policies_against_model(void **state)
{
    (void)state;
    srand(777);
    static const char *const acts[] = {"*", "s3:GetObject", "s3:ListBucket", "wos:Get*", "s3:PutObject"};
    static const iam_action req_acts[] = {A(GET_OBJECT), A(GET_BUCKET), A(GET_SERVICE), A(PUT_OBJECT), A(HEAD_OBJECT)};
    /* Which request actions each statement action grants (bit i: req_acts[i]). */
    static const unsigned grants[] = {0x1f, 0x11, 0x02, 0x17, 0x08};
    static const char pchars[] = "ab/*?";
    for (int iter = 0; iter < 3000; iter++) {
        int ns = 1 + rand() % 20;
        char pats[20][3][8];
        int npat[20], act[20];
        bool deny[20], notres[20];
        char json[4096];
        size_t off = (size_t)snprintf(json, sizeof json, "{\"Statement\":[");
        for (int i = 0; i < ns; i++) {
            act[i] = rand() % 5;
            deny[i] = rand() % 4 == 0;
            notres[i] = rand() % 6 == 0;
            npat[i] = 1 + rand() % 3;
            off += (size_t)snprintf(json + off, sizeof json - off, "%s{\"Effect\":\"%s\",\"Action\":\"%s\",\"%s\":[",
                                    i ? "," : "", deny[i] ? "Deny" : "Allow", acts[act[i]],
                                    notres[i] ? "NotResource" : "Resource");
            for (int j = 0; j < npat[i]; j++) {
                int len = 1 + rand() % 6;
                for (int k = 0; k < len; k++) pats[i][j][k] = pchars[rand() % (k == 0 ? 3 : 5)];
                if (rand() % 8 == 0) pats[i][j][0] = '*';
                pats[i][j][len] = 0;
                off += (size_t)snprintf(json + off, sizeof json - off, "%s\"arn:aws:s3:::%s\"", j ? "," : "", pats[i][j]);
            }
            off += (size_t)snprintf(json + off, sizeof json - off, "]}");
        }
        snprintf(json + off, sizeof json - off, "]}");
        iam_policy *p = P(json);
        for (int q = 0; q < 20; q++) {
            int ra = rand() % 5;
            static const char *const buckets[] = {"a", "b", "ab", "ba", "a/b"};
            char key[8], full[16];
            int kl = rand() % 6;
            for (int k = 0; k < kl; k++) key[k] = "ab/"[rand() % 3];
            key[kl] = 0;
            const char *bucket = req_acts[ra] == A(GET_SERVICE) ? NULL : buckets[rand() % 5];
            const char *k = (req_acts[ra] == A(GET_BUCKET) || !bucket) ? NULL : key;
            if (bucket) snprintf(full, sizeof full, k ? "%s/%s" : "%s", bucket, key);
            iam_decision want = IAM_NONE;
            for (int i = 0; i < ns && want != IAM_DENY; i++) {
                if (!((grants[act[i]] >> ra) & 1)) continue;
                bool hit = false;
                for (int j = 0; j < npat[i]; j++)
                    hit |= bucket ? ref_glob(pats[i][j], full) : all_stars(pats[i][j]);
                if (hit == notres[i]) continue;
                want = deny[i] ? IAM_DENY : IAM_ALLOW;
            }
            iam_request r = req_for("alice", req_acts[ra], bucket, k);
            iam_why w1 = {0, 0, NULL}, w2 = {0, 0, NULL};
            iam_decision got = iam_evaluate_scan((const iam_policy *const *)&p, 1, &r, &w1, true);
            iam_decision scan = iam_evaluate_scan((const iam_policy *const *)&p, 1, &r, &w2, false);
            if (got != want || scan != want || w1.statement != w2.statement) {
                print_error("%s\n  %s on %s: want %d, indexed %d (stmt %zu), scan %d (stmt %zu)\n", json,
                            iam_action_name(req_acts[ra]), bucket ? full : "(service)", want, got, w1.statement, scan,
                            w2.statement);
                fail();
            }
        }
        iam_policy_free(p);
    }
}

static void test_case_rules(void **state)
{
    (void)state;
    /* Element names, Effect and action names are case-insensitive. */
    iam_policy *p = P("{\"VERSION\":\"2012-10-17\",\"statement\":[{\"EFFECT\":\"ALLOW\",\"action\":[\"S3:LISTBUCKET\","
                      "\"WOS:getobject\"],\"RESOURCE\":[\"ARN:AWS:S3:::Photos\",\"arn:aws:s3:::Photos/*\"]}]}");
    assert_int_equal(dec(p, A(GET_BUCKET), "Photos", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_OBJECT), "Photos", "Cat.JPG"), IAM_ALLOW);
    /* Resources are case-sensitive. */
    assert_int_equal(dec(p, A(GET_BUCKET), "photos", NULL), IAM_NONE);
    assert_int_equal(dec(p, A(GET_OBJECT), "photos", "Cat.JPG"), IAM_NONE);
    iam_policy_free(p);

    /* Condition keys and operators are case-insensitive; StringEquals values are not,
     * StringEqualsIgnoreCase values are. */
    p = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
          "\"Condition\":{\"stringequals\":{\"S3:PREFIX\":\"Home/\"}}},"
          "{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
          "\"Condition\":{\"StringEqualsIgnoreCase\":{\"s3:delimiter\":\"X\"}}}]}");
    iam_request r = req_for("alice", A(GET_BUCKET), "b", NULL);
    r.ctx[IAM_KEY_PREFIX] = "Home/";
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.ctx[IAM_KEY_PREFIX] = "home/";
    assert_int_equal(ev1(p, &r), IAM_NONE);
    r.ctx[IAM_KEY_DELIMITER] = "x";
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    iam_policy_free(p);
}

/* --- Not* ---------------------------------------------------------------------------------- */

static void test_not_action_not_resource(void **state)
{
    (void)state;
    /* Everything but deleting. */
    iam_policy *p = P("{\"Statement\":[{\"Effect\":\"Allow\",\"NotAction\":[\"s3:DeleteObject\",\"s3:DeleteBucket\"],"
                      "\"Resource\":\"*\"}]}");
    assert_int_equal(dec(p, A(GET_OBJECT), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_SERVICE), NULL, NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(DELETE_OBJECT), "b", "k"), IAM_NONE);
    assert_int_equal(dec(p, A(DELETE_BUCKET), "b", NULL), IAM_NONE);
    iam_policy_free(p);

    /* Deny everything outside one bucket (the classic guard-rail). */
    p = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
          "{\"Effect\":\"Deny\",\"Action\":\"*\",\"NotResource\":[\"arn:aws:s3:::mine\",\"arn:aws:s3:::mine/*\"]}]}");
    assert_int_equal(dec(p, A(PUT_OBJECT), "mine", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(GET_BUCKET), "mine", NULL), IAM_ALLOW);
    assert_int_equal(dec(p, A(PUT_OBJECT), "yours", "k"), IAM_DENY);
    /* The service resource is outside every bucket pattern, so NotResource denies it. */
    assert_int_equal(dec(p, A(GET_SERVICE), NULL, NULL), IAM_DENY);
    iam_policy_free(p);

    /* NotAction with a Deny: deny everything except reads. */
    p = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"wos:*\",\"Resource\":\"*\"},"
          "{\"Effect\":\"Deny\",\"NotAction\":[\"wos:Get*\",\"wos:HeadObject\"],\"Resource\":\"*\"}]}");
    assert_int_equal(dec(p, A(GET_OBJECT), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(HEAD_OBJECT), "b", "k"), IAM_ALLOW);
    assert_int_equal(dec(p, A(PUT_OBJECT), "b", "k"), IAM_DENY);
    iam_policy_free(p);
}

static void test_principals(void **state)
{
    (void)state;
    /* Public read: "*" and {"AWS":"*"} both include anonymous. */
    static const char *const pub[] = {
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\","
        "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::site/*\"}]}",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"*\"},"
        "\"Action\":[\"s3:GetObject\"],\"Resource\":[\"arn:aws:s3:::site/*\"]}]}",
    };
    for (size_t i = 0; i < 2; i++) {
        iam_policy *p = BP(pub[i]);
        iam_request anon = req_for(NULL, A(GET_OBJECT), "site", "index.html");
        assert_int_equal(ev1(p, &anon), IAM_ALLOW);
        anon.action = A(HEAD_OBJECT);
        assert_int_equal(ev1(p, &anon), IAM_ALLOW);
        anon.action = A(PUT_OBJECT);
        assert_int_equal(ev1(p, &anon), IAM_NONE);
        anon.action = A(GET_BUCKET);
        anon.key = NULL;
        assert_int_equal(ev1(p, &anon), IAM_NONE);
        assert_int_equal(dec(p, A(GET_OBJECT), "site", "x"), IAM_ALLOW);
        iam_policy_free(p);
    }

    /* Named users, access keys, the account. */
    iam_policy *p = BP("{\"Statement\":["
                       "{\"Sid\":\"u\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":[\"arn:aws:iam::123456789012:user/alice\","
                       "\"arn:aws:iam::123456789012:user/team/carol\",\"AKIDBOB\"]},\"Action\":\"s3:PutObject\","
                       "\"Resource\":\"arn:aws:s3:::b/*\"},"
                       "{\"Sid\":\"acct\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::123456789012:root\"},"
                       "\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::b\"}]}");
    iam_request r = req_for("alice", A(PUT_OBJECT), "b", "k");
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.user = "carol";
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.user = "bob";
    assert_int_equal(ev1(p, &r), IAM_NONE);
    r.access_key = "AKIDBOB";
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.anonymous = true;   /* anonymous ignores whatever else is set */
    r.user = NULL;
    assert_int_equal(ev1(p, &r), IAM_NONE);
    iam_request l = req_for("dave", A(GET_BUCKET), "b", NULL);
    assert_int_equal(ev1(p, &l), IAM_ALLOW);   /* account: any authenticated user */
    l.anonymous = true;
    assert_int_equal(ev1(p, &l), IAM_NONE);
    iam_policy_free(p);

    /* 12-digit account id and CanonicalUser / WOS keys; a bare name matches a user name or id. */
    p = BP("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"CanonicalUser\":\"u-7\",\"WOS\":[\"123456789012\"]},"
           "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/*\"}]}");
    iam_request c = req_for("x", A(GET_OBJECT), "b", "k");
    assert_int_equal(ev1(p, &c), IAM_ALLOW);
    c.anonymous = true;
    assert_int_equal(ev1(p, &c), IAM_NONE);
    iam_policy_free(p);
    p = BP("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"CanonicalUser\":\"u-7\"},"
           "\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/*\"}]}");
    c = req_for("x", A(GET_OBJECT), "b", "k");
    assert_int_equal(ev1(p, &c), IAM_NONE);
    c.user_id = "u-7";
    assert_int_equal(ev1(p, &c), IAM_ALLOW);
    iam_policy_free(p);

    /* NotPrincipal: deny everyone but the admin, anonymous included. */
    p = BP("{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::b/*\"},"
           "{\"Effect\":\"Deny\",\"NotPrincipal\":{\"AWS\":\"arn:aws:iam::1:user/admin\"},\"Action\":\"s3:DeleteObject\","
           "\"Resource\":\"arn:aws:s3:::b/*\"}]}");
    assert_int_equal(dec(p, A(DELETE_OBJECT), "b", "k"), IAM_DENY);
    iam_request adm = req_for("admin", A(DELETE_OBJECT), "b", "k");
    assert_int_equal(ev1(p, &adm), IAM_ALLOW);
    iam_request an = req_for(NULL, A(DELETE_OBJECT), "b", "k");
    assert_int_equal(ev1(p, &an), IAM_DENY);
    an.action = A(GET_OBJECT);
    assert_int_equal(ev1(p, &an), IAM_ALLOW);
    iam_policy_free(p);
}

/* --- deny wins, several policies ----------------------------------------------------------- */

static void test_explicit_deny(void **state)
{
    (void)state;
    iam_policy *allow = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}");
    iam_policy *deny = P("{\"Statement\":[{\"Sid\":\"keep\",\"Effect\":\"Deny\",\"Action\":[\"s3:DeleteObject\"],"
                         "\"Resource\":\"arn:aws:s3:::b/protected/*\"}]}");
    const iam_policy *both[] = {allow, NULL, deny};
    iam_request r = req_for("alice", A(DELETE_OBJECT), "b", "protected/x");
    iam_why why;
    assert_int_equal(iam_evaluate_why(both, 3, &r, &why), IAM_DENY);
    assert_int_equal(why.policy, 2);
    assert_int_equal(why.statement, 0);
    assert_string_equal(why.sid, "keep");
    /* Order does not matter. */
    const iam_policy *rev[] = {deny, allow};
    assert_int_equal(iam_evaluate(rev, 2, &r), IAM_DENY);
    r.key = "public/x";
    assert_int_equal(iam_evaluate(both, 3, &r), IAM_ALLOW);
    assert_int_equal(iam_evaluate(&rev[0], 1, &r), IAM_NONE);   /* a Deny alone allows nothing */
    assert_int_equal(iam_evaluate(both, 0, &r), IAM_NONE);
    /* Deny inside the same policy, after the allow. */
    iam_policy *one = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:*\",\"Resource\":\"*\"},"
                        "{\"Effect\":\"Deny\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::secret*\"}]}");
    assert_int_equal(dec(one, A(GET_OBJECT), "secret", "k"), IAM_DENY);
    assert_int_equal(dec(one, A(GET_BUCKET), "secrets", NULL), IAM_DENY);
    assert_int_equal(dec(one, A(GET_OBJECT), "open", "k"), IAM_ALLOW);
    /* Optimistic: a conditional Deny does not hide, an unconditional one does. */
    iam_policy *cd = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"*\","
                       "\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/8\"}}},"
                       "{\"Effect\":\"Deny\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::a\","
                       "\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}},"
                       "{\"Effect\":\"Deny\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::hidden\"}]}");
    iam_request o = req_for("alice", A(GET_BUCKET), "a", NULL);
    assert_int_equal(ev1(cd, &o), IAM_NONE);
    assert_int_equal(iam_evaluate_optimistic((const iam_policy *const *)&cd, 1, &o), IAM_ALLOW);
    o.bucket = "hidden";
    assert_int_equal(iam_evaluate_optimistic((const iam_policy *const *)&cd, 1, &o), IAM_DENY);
    iam_policy_free(cd);
    iam_policy_free(allow);
    iam_policy_free(deny);
    iam_policy_free(one);
}

/* --- the prefix-limited user --------------------------------------------------------------- */

static void check_home(const iam_policy *p, const char *user, const char *mine, const char *theirs)
{
    iam_request r = req_for(user, A(GET_BUCKET), "shared", NULL);
    r.ctx[IAM_KEY_PREFIX] = mine;
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.ctx[IAM_KEY_PREFIX] = theirs;
    assert_int_equal(ev1(p, &r), IAM_NONE);
    r.ctx[IAM_KEY_PREFIX] = NULL;   /* absent: StringLike is false */
    assert_int_equal(ev1(p, &r), IAM_NONE);
    char k1[64], k2[64];
    snprintf(k1, sizeof k1, "%sdocs/cv.pdf", mine);
    snprintf(k2, sizeof k2, "%sdocs/cv.pdf", theirs);
    static const iam_action obj[] = {A(GET_OBJECT), A(PUT_OBJECT), A(DELETE_OBJECT), A(HEAD_OBJECT)};
    for (size_t i = 0; i < 4; i++) {
        iam_request o = req_for(user, obj[i], "shared", k1);
        assert_int_equal(ev1(p, &o), IAM_ALLOW);
        o.key = k2;
        assert_int_equal(ev1(p, &o), IAM_NONE);
    }
    iam_request o = req_for(user, A(GET_OBJECT), "other", k1);
    assert_int_equal(ev1(p, &o), IAM_NONE);
}

static void test_prefix_limited_user(void **state)
{
    (void)state;
    /* Literal, as an operator writes it for one user. */
    iam_policy *p = P("{\"Version\":\"2012-10-17\",\"Statement\":["
                      "{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::shared\","
                      "\"Condition\":{\"StringLike\":{\"s3:prefix\":\"home/alice/*\"}}},"
                      "{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\",\"s3:DeleteObject\"],"
                      "\"Resource\":\"arn:aws:s3:::shared/home/alice/*\"}]}");
    check_home(p, "alice", "home/alice/", "home/bob/");
    iam_policy_free(p);

    /* With policy variables, one policy for everyone (AWS's published example), including the
     * console's listing of the root and of home/ (s3:prefix "" when the request has none). */
    p = P("{\"Version\":\"2012-10-17\",\"Statement\":["
          "{\"Sid\":\"Root\",\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::shared\","
          "\"Condition\":{\"StringEquals\":{\"s3:prefix\":[\"\",\"home/\"],\"s3:delimiter\":\"/\"}}},"
          "{\"Sid\":\"Home\",\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::shared\","
          "\"Condition\":{\"StringLike\":{\"s3:prefix\":\"home/${aws:username}/*\"}}},"
          "{\"Sid\":\"Objects\",\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\",\"s3:DeleteObject\"],"
          "\"Resource\":\"arn:aws:s3:::shared/home/${aws:username}/*\"}]}");
    check_home(p, "alice", "home/alice/", "home/bob/");
    check_home(p, "bob", "home/bob/", "home/alice/");
    iam_request r = req_for("alice", A(GET_BUCKET), "shared", NULL);
    r.ctx[IAM_KEY_PREFIX] = "";
    r.ctx[IAM_KEY_DELIMITER] = "/";
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.ctx[IAM_KEY_PREFIX] = "home/";
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.ctx[IAM_KEY_DELIMITER] = NULL;
    assert_int_equal(ev1(p, &r), IAM_NONE);
    /* ListBuckets' filter: the bucket is visible though listing it needs a prefix. */
    iam_request v = req_for("alice", A(GET_BUCKET), "shared", NULL);
    assert_int_equal(ev1(p, &v), IAM_NONE);
    assert_int_equal(iam_evaluate_optimistic((const iam_policy *const *)&p, 1, &v), IAM_ALLOW);
    v.bucket = "other";
    assert_int_equal(iam_evaluate_optimistic((const iam_policy *const *)&p, 1, &v), IAM_NONE);
    /* Anonymous has no aws:username: the variable pattern matches nothing. */
    iam_request a = req_for(NULL, A(GET_OBJECT), "shared", "home//x");
    assert_int_equal(ev1(p, &a), IAM_NONE);
    /* A user name with wildcard characters is literal text in the pattern. */
    iam_request w = req_for("*", A(GET_OBJECT), "shared", "home/bob/x");
    assert_int_equal(ev1(p, &w), IAM_NONE);
    w.key = "home/*/x";
    assert_int_equal(ev1(p, &w), IAM_ALLOW);
    iam_policy_free(p);

    /* Escapes, and no substitution under the 2008 version. */
    p = P("{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\","
          "\"Resource\":\"arn:aws:s3:::b/${*}${?}${$}/${aws:userid}\"}]}");
    iam_request e = req_for("alice", A(GET_OBJECT), "b", "*?$/alice");
    assert_int_equal(ev1(p, &e), IAM_ALLOW);
    e.key = "x?$/alice";
    assert_int_equal(ev1(p, &e), IAM_NONE);
    e.user_id = "AIDA1";
    e.key = "*?$/AIDA1";
    assert_int_equal(ev1(p, &e), IAM_ALLOW);
    iam_policy_free(p);
    p = P("{\"Version\":\"2008-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:GetObject\","
          "\"Resource\":\"arn:aws:s3:::b/${aws:username}/*\"}]}");
    iam_request l = req_for("alice", A(GET_OBJECT), "b", "alice/x");
    assert_int_equal(ev1(p, &l), IAM_NONE);
    l.key = "${aws:username}/x";
    assert_int_equal(ev1(p, &l), IAM_ALLOW);
    iam_policy_free(p);
}

/* --- conditions ----------------------------------------------------------------------------- */

/* A policy allowing GetBucket under one condition block. */
static iam_policy *cond_policy(const char *cond)
{
    char json[1024];
    snprintf(json, sizeof json,
             "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\","
             "\"Resource\":\"*\",\"Condition\":%s}]}", cond);
    return P(json);
}

static iam_decision with(const iam_policy *p, iam_key k, const char *v)
{
    iam_request r = req_for("alice", A(GET_BUCKET), "b", NULL);
    r.ctx[k] = v;
    return ev1(p, &r);
}

static iam_decision with_multi(const iam_policy *p, iam_key k, const char *const *v)
{
    iam_request r = req_for("alice", A(GET_BUCKET), "b", NULL);
    r.ctx_multi[k] = v;
    return ev1(p, &r);
}

static void test_string_conditions(void **state)
{
    (void)state;
    iam_policy *p = cond_policy("{\"StringEquals\":{\"s3:x-amz-acl\":[\"private\",\"public-read\"]}}");
    assert_int_equal(with(p, IAM_KEY_ACL, "private"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_ACL, "public-read"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_ACL, "public-read-write"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_ACL, NULL), IAM_NONE);
    iam_policy_free(p);

    p = cond_policy("{\"StringNotEquals\":{\"wos:x-wos-acl\":[\"public-read\",\"public-read-write\"]}}");
    assert_int_equal(with(p, IAM_KEY_ACL, "private"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_ACL, "public-read"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_ACL, NULL), IAM_ALLOW);   /* negated: absent key holds */
    iam_policy_free(p);

    p = cond_policy("{\"StringNotEqualsIgnoreCase\":{\"s3:x-amz-storage-class\":\"GLACIER\"}}");
    assert_int_equal(with(p, IAM_KEY_STORAGE_CLASS, "glacier"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_STORAGE_CLASS, "STANDARD"), IAM_ALLOW);
    iam_policy_free(p);

    p = cond_policy("{\"StringLike\":{\"s3:prefix\":[\"a*z\",\"b?\"]}}");
    assert_int_equal(with(p, IAM_KEY_PREFIX, "az"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_PREFIX, "a/b/c/z"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_PREFIX, "b1"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_PREFIX, "b"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_PREFIX, "AZ"), IAM_NONE);
    iam_policy_free(p);

    p = cond_policy("{\"StringNotLike\":{\"aws:UserAgent\":\"*curl*\"}}");
    assert_int_equal(with(p, IAM_KEY_USER_AGENT, "curl/8.0"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_USER_AGENT, "aws-cli/2"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_USER_AGENT, NULL), IAM_ALLOW);
    iam_policy_free(p);

    /* StringEquals treats * literally; ArnLike globs. */
    p = cond_policy("{\"StringEquals\":{\"aws:Referer\":\"http://x/*\"}}");
    assert_int_equal(with(p, IAM_KEY_REFERER, "http://x/a"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_REFERER, "http://x/*"), IAM_ALLOW);
    iam_policy_free(p);
    p = cond_policy("{\"ArnLike\":{\"s3:x-amz-copy-source\":\"src/*\"},\"ArnNotEquals\":{\"aws:Referer\":\"bad*\"}}");
    assert_int_equal(with(p, IAM_KEY_COPY_SOURCE, "src/a"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_COPY_SOURCE, "dst/a"), IAM_NONE);
    iam_policy_free(p);

    /* IfExists: an absent key holds; a present one must match. */
    p = cond_policy("{\"StringEqualsIfExists\":{\"s3:x-amz-server-side-encryption\":\"AES256\"}}");
    assert_int_equal(with(p, IAM_KEY_SSE, NULL), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_SSE, "AES256"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_SSE, "aws:kms"), IAM_NONE);
    iam_policy_free(p);

    /* Several keys in one operator, and several operators: all must hold. */
    p = cond_policy("{\"StringEquals\":{\"s3:prefix\":\"p/\",\"s3:delimiter\":\"/\"},\"NumericLessThan\":{\"s3:max-keys\":\"50\"}}");
    iam_request r = req_for("alice", A(GET_BUCKET), "b", NULL);
    r.ctx[IAM_KEY_PREFIX] = "p/";
    r.ctx[IAM_KEY_DELIMITER] = "/";
    r.ctx[IAM_KEY_MAX_KEYS] = "10";
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.ctx[IAM_KEY_MAX_KEYS] = "50";
    assert_int_equal(ev1(p, &r), IAM_NONE);
    r.ctx[IAM_KEY_MAX_KEYS] = "10";
    r.ctx[IAM_KEY_DELIMITER] = "|";
    assert_int_equal(ev1(p, &r), IAM_NONE);
    iam_policy_free(p);

    /* Derived keys: username, userid, PrincipalType. */
    p = cond_policy("{\"StringEquals\":{\"aws:username\":\"alice\",\"aws:PrincipalType\":\"User\"}}");
    assert_int_equal(with(p, IAM_KEY_PREFIX, NULL), IAM_ALLOW);
    iam_request b = req_for("bob", A(GET_BUCKET), "b", NULL);
    assert_int_equal(ev1(p, &b), IAM_NONE);
    iam_policy_free(p);
}

static void test_set_qualifiers(void **state)
{
    (void)state;
    static const char *const ab[] = {"a", "b", NULL}, *const ax[] = {"a", "x", NULL}, *const none[] = {NULL};
    iam_policy *any = cond_policy("{\"ForAnyValue:StringEquals\":{\"s3:prefix\":[\"a\",\"b\",\"c\"]}}");
    iam_policy *all = cond_policy("{\"ForAllValues:StringEquals\":{\"s3:prefix\":[\"a\",\"b\",\"c\"]}}");
    iam_policy *anyneg = cond_policy("{\"ForAnyValue:StringNotEquals\":{\"s3:prefix\":[\"a\",\"b\"]}}");
    iam_policy *allneg = cond_policy("{\"ForAllValues:StringNotLike\":{\"s3:prefix\":[\"x*\"]}}");
    iam_policy *plain = cond_policy("{\"StringEquals\":{\"s3:prefix\":\"x\"}}");
    iam_policy *plainneg = cond_policy("{\"StringNotEquals\":{\"s3:prefix\":\"x\"}}");

    assert_int_equal(with_multi(any, IAM_KEY_PREFIX, ab), IAM_ALLOW);
    assert_int_equal(with_multi(any, IAM_KEY_PREFIX, ax), IAM_ALLOW);
    assert_int_equal(with_multi(any, IAM_KEY_PREFIX, none), IAM_NONE);   /* absent: false */
    assert_int_equal(with(any, IAM_KEY_PREFIX, "c"), IAM_ALLOW);
    assert_int_equal(with_multi(all, IAM_KEY_PREFIX, ab), IAM_ALLOW);
    assert_int_equal(with_multi(all, IAM_KEY_PREFIX, ax), IAM_NONE);
    assert_int_equal(with_multi(all, IAM_KEY_PREFIX, none), IAM_ALLOW);   /* absent: true (AWS) */
    assert_int_equal(with(all, IAM_KEY_PREFIX, NULL), IAM_ALLOW);
    assert_int_equal(with_multi(anyneg, IAM_KEY_PREFIX, ab), IAM_NONE);
    assert_int_equal(with_multi(anyneg, IAM_KEY_PREFIX, ax), IAM_ALLOW);
    assert_int_equal(with_multi(allneg, IAM_KEY_PREFIX, ab), IAM_ALLOW);
    assert_int_equal(with_multi(allneg, IAM_KEY_PREFIX, ax), IAM_NONE);
    assert_int_equal(with_multi(plain, IAM_KEY_PREFIX, ax), IAM_ALLOW);   /* plain: any value */
    assert_int_equal(with_multi(plainneg, IAM_KEY_PREFIX, ax), IAM_NONE);   /* negated: none may match */
    assert_int_equal(with_multi(plainneg, IAM_KEY_PREFIX, ab), IAM_ALLOW);
    iam_policy_free(any);
    iam_policy_free(all);
    iam_policy_free(anyneg);
    iam_policy_free(allneg);
    iam_policy_free(plain);
    iam_policy_free(plainneg);
}

static void test_numeric_conditions(void **state)
{
    (void)state;
    static const struct {
        const char *op, *val;
        const char *req;
        iam_decision want;
    } t[] = {
        {"NumericEquals", "100", "100", IAM_ALLOW},        {"NumericEquals", "100", "100.0", IAM_ALLOW},
        {"NumericEquals", "100", "99", IAM_NONE},          {"NumericNotEquals", "100", "99", IAM_ALLOW},
        {"NumericNotEquals", "100", "100", IAM_NONE},      {"NumericNotEquals", "100", NULL, IAM_ALLOW},
        {"NumericLessThan", "100", "99", IAM_ALLOW},       {"NumericLessThan", "100", "100", IAM_NONE},
        {"NumericLessThanEquals", "100", "100", IAM_ALLOW}, {"NumericLessThanEquals", "100", "101", IAM_NONE},
        {"NumericGreaterThan", "10", "11", IAM_ALLOW},     {"NumericGreaterThan", "10", "10", IAM_NONE},
        {"NumericGreaterThanEquals", "10", "10", IAM_ALLOW}, {"NumericGreaterThanEquals", "-1.5", "-2", IAM_NONE},
        {"NumericLessThan", "1e3", "999", IAM_ALLOW},      {"NumericLessThan", "100", "abc", IAM_NONE},
        {"NumericLessThan", "100", "", IAM_NONE},          {"NumericLessThan", "100", NULL, IAM_NONE},
        {"NumericLessThanIfExists", "100", NULL, IAM_ALLOW}, {"NumericLessThanIfExists", "100", "200", IAM_NONE},
        {"NumericLessThan", "100", "0x10", IAM_NONE},      {"NumericLessThan", "100", "inf", IAM_NONE},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char cond[128];
        snprintf(cond, sizeof cond, "{\"%s\":{\"s3:max-keys\":\"%s\"}}", t[i].op, t[i].val);
        iam_policy *p = cond_policy(cond);
        if (with(p, IAM_KEY_MAX_KEYS, t[i].req) != t[i].want) {
            print_error("%s %s vs %s\n", t[i].op, t[i].val, t[i].req ? t[i].req : "(absent)");
            fail();
        }
        iam_policy_free(p);
    }
}

static void test_date_conditions(void **state)
{
    (void)state;
    /* 2025-06-01T00:00:00Z = 1748736000 */
    const int64_t june = 1748736000;
    static const struct {
        const char *op, *val;
        int64_t delta;   /* request time = june + delta */
        iam_decision want;
    } t[] = {
        {"DateLessThan", "2025-06-01T00:00:00Z", -1, IAM_ALLOW},
        {"DateLessThan", "2025-06-01T00:00:00Z", 0, IAM_NONE},
        {"DateLessThanEquals", "2025-06-01T00:00:00Z", 0, IAM_ALLOW},
        {"DateGreaterThan", "2025-06-01T00:00:00Z", 1, IAM_ALLOW},
        {"DateGreaterThan", "2025-06-01T00:00:00Z", 0, IAM_NONE},
        {"DateGreaterThanEquals", "2025-06-01", 0, IAM_ALLOW},
        {"DateEquals", "2025-06-01T08:00:00+08:00", 0, IAM_ALLOW},
        {"DateEquals", "2025-06-01T02:00:00+0200", 0, IAM_ALLOW},
        {"DateEquals", "2025-05-31T19:00:00-05:00", 0, IAM_ALLOW},
        {"DateEquals", "20250601T000000Z", 0, IAM_ALLOW},
        {"DateEquals", "1748736000", 0, IAM_ALLOW},
        {"DateNotEquals", "2025-06-01T00:00:00Z", 0, IAM_NONE},
        {"DateNotEquals", "2025-06-01T00:00:00Z", 5, IAM_ALLOW},
        {"DateLessThan", "2025-06-01T00:00:00.500Z", 0, IAM_ALLOW},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char cond[160];
        snprintf(cond, sizeof cond, "{\"%s\":{\"aws:CurrentTime\":\"%s\"}}", t[i].op, t[i].val);
        iam_policy *p = cond_policy(cond);
        iam_request r = req_for("alice", A(GET_BUCKET), "b", NULL);
        r.now = june + t[i].delta;
        if (ev1(p, &r) != t[i].want) {
            print_error("%s %s at june%+lld\n", t[i].op, t[i].val, (long long)t[i].delta);
            fail();
        }
        iam_policy_free(p);
    }
    /* An explicit context value wins over now; no clock and no value: absent. */
    iam_policy *p = cond_policy("{\"DateLessThan\":{\"wos:CurrentTime\":\"2030-01-01T00:00:00Z\"}}");
    assert_int_equal(with(p, IAM_KEY_CURRENT_TIME, "2029-12-31T23:59:59Z"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_CURRENT_TIME, "2030-01-01T00:00:00Z"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_CURRENT_TIME, "Tue, 01 Jan 2030 00:00:00 GMT"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_CURRENT_TIME, "not a date"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_CURRENT_TIME, NULL), IAM_NONE);
    iam_policy_free(p);
    /* aws:EpochTime from now, compared as a date and as a number. */
    p = cond_policy("{\"DateGreaterThan\":{\"aws:EpochTime\":\"2025-01-01T00:00:00Z\"},"
                    "\"NumericLessThan\":{\"aws:EpochTime\":\"1800000000\"}}");
    iam_request r = req_for("alice", A(GET_BUCKET), "b", NULL);
    r.now = june;
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.now = 1800000001;
    assert_int_equal(ev1(p, &r), IAM_NONE);
    iam_policy_free(p);
}

static void test_bool_and_null(void **state)
{
    (void)state;
    /* The usual "deny plain HTTP" guard. */
    iam_policy *p = P("{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
                      "{\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\","
                      "\"Condition\":{\"Bool\":{\"aws:SecureTransport\":false}}}]}");
    iam_request r = req_for("alice", A(GET_OBJECT), "b", "k");
    r.ctx[IAM_KEY_SECURE_TRANSPORT] = "false";
    assert_int_equal(ev1(p, &r), IAM_DENY);
    r.ctx[IAM_KEY_SECURE_TRANSPORT] = "true";
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.ctx[IAM_KEY_SECURE_TRANSPORT] = "TRUE";
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.ctx[IAM_KEY_SECURE_TRANSPORT] = NULL;   /* absent: Bool is false, the deny does not apply */
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    r.ctx[IAM_KEY_SECURE_TRANSPORT] = "maybe";
    assert_int_equal(ev1(p, &r), IAM_ALLOW);
    iam_policy_free(p);

    p = cond_policy("{\"BoolIfExists\":{\"aws:SecureTransport\":\"true\"}}");
    assert_int_equal(with(p, IAM_KEY_SECURE_TRANSPORT, NULL), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_SECURE_TRANSPORT, "false"), IAM_NONE);
    iam_policy_free(p);

    p = cond_policy("{\"Null\":{\"s3:x-amz-server-side-encryption\":\"true\"}}");
    assert_int_equal(with(p, IAM_KEY_SSE, NULL), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_SSE, "AES256"), IAM_NONE);
    iam_policy_free(p);
    p = cond_policy("{\"Null\":{\"s3:x-amz-server-side-encryption\":false}}");
    assert_int_equal(with(p, IAM_KEY_SSE, NULL), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_SSE, ""), IAM_ALLOW);
    iam_policy_free(p);
}

static void test_ip_conditions(void **state)
{
    (void)state;
    iam_policy *p = cond_policy("{\"IpAddress\":{\"aws:SourceIp\":[\"192.0.2.0/24\",\"203.0.113.7\","
                                "\"2001:db8:1234::/48\",\"::1\"]}}");
    static const struct {
        const char *ip;
        iam_decision want;
    } t[] = {
        {"192.0.2.0", IAM_ALLOW},       {"192.0.2.255", IAM_ALLOW},        {"192.0.3.1", IAM_NONE},
        {"203.0.113.7", IAM_ALLOW},     {"203.0.113.8", IAM_NONE},         {"::ffff:192.0.2.9", IAM_ALLOW},
        {"2001:db8:1234:5::1", IAM_ALLOW}, {"2001:DB8:1234:ffff::", IAM_ALLOW}, {"2001:db8:1235::1", IAM_NONE},
        {"::1", IAM_ALLOW},             {"::2", IAM_NONE},                 {"not-an-ip", IAM_NONE},
        {"192.0.2.1/32", IAM_NONE},     {"", IAM_NONE},                    {NULL, IAM_NONE},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (with(p, IAM_KEY_SOURCE_IP, t[i].ip) != t[i].want) {
            print_error("IpAddress %s\n", t[i].ip ? t[i].ip : "(absent)");
            fail();
        }
    iam_policy_free(p);

    p = cond_policy("{\"NotIpAddress\":{\"aws:SourceIp\":[\"10.0.0.0/8\",\"fd00::/8\"]}}");
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "10.1.2.3"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "fd12::1"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "11.0.0.1"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "fe80::1"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, NULL), IAM_ALLOW);
    iam_policy_free(p);

    /* /0 in both families; host bits in the policy are ignored; odd prefix lengths. */
    p = cond_policy("{\"IpAddress\":{\"aws:SourceIp\":[\"0.0.0.0/0\"]}}");
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "8.8.8.8"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "2001::1"), IAM_NONE);   /* IPv4 /0 is not IPv6 */
    iam_policy_free(p);
    p = cond_policy("{\"IpAddress\":{\"aws:SourceIp\":[\"::/0\"]}}");
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "8.8.8.8"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "2001::1"), IAM_ALLOW);
    iam_policy_free(p);
    p = cond_policy("{\"IpAddress\":{\"aws:SourceIp\":[\"10.1.2.3/13\",\"2001:db8::/33\"]}}");
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "10.7.255.255"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "10.8.0.0"), IAM_NONE);
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "2001:db8:7fff::1"), IAM_ALLOW);
    assert_int_equal(with(p, IAM_KEY_SOURCE_IP, "2001:db8:8000::1"), IAM_NONE);
    iam_policy_free(p);
}

/* --- malformed policies ------------------------------------------------------------------------ */

static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        iam_policy_kind kind;
        const char *json, *msg;
    } t[] = {
        {IAM_POLICY_IDENTITY, "", "not valid JSON"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[", "not valid JSON"},
        {IAM_POLICY_IDENTITY, "[]", "must be a JSON object"},
        {IAM_POLICY_IDENTITY, "{}", "Statement is missing"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[]}", "Statement is empty"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":\"x\"}", "Statement must be an object or an array"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[1]}", "Statement 1: a statement must be an object"},
        {IAM_POLICY_IDENTITY, "{\"Version\":\"2020-01-01\",\"Statement\":[]}", "unsupported Version \"2020-01-01\""},
        {IAM_POLICY_IDENTITY, "{\"Version\":1,\"Statement\":[]}", "unsupported Version"},
        {IAM_POLICY_IDENTITY, "{\"Statment\":[]}", "unknown element \"Statment\" in the policy"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[],\"statement\":[]}", "element Statement appears twice"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[],\"Statement\":[]}", "duplicate object key"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Action\":\"*\",\"Resource\":\"*\"}]}", "Statement 1: Effect is missing"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Permit\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
         "unknown Effect \"Permit\" (expected Allow or Deny)"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Sid\":\"s1\",\"Effect\":\"Allow\",\"Resource\":\"*\"}]}",
         "Statement 1 (Sid \"s1\"): Action is missing"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[],\"Resource\":\"*\"}]}", "Action is empty"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":[1],\"Resource\":\"*\"}]}",
         "Action must be a string or an array of strings"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"NotAction\":\"*\",\"Resource\":\"*\"}]}",
         "Action and NotAction cannot both be given"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"GetObject\",\"Resource\":\"*\"}]}",
         "invalid Action \"GetObject\""},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"ec2:RunInstances\",\"Resource\":\"*\"}]}",
         "invalid Action \"ec2:RunInstances\""},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"wos:Get Object\",\"Resource\":\"*\"}]}",
         "invalid Action"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"wos:DeleteObjet\",\"Resource\":\"*\"}]}",
         "unknown Action \"wos:DeleteObjet\""},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\"}]}", "Resource is missing"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"bucket/*\"}]}",
         "invalid Resource \"bucket/*\": expected"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"arn:aws:s3:bucket\"}]}",
         "invalid Resource \"arn:aws:s3:bucket\""},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"arn:aws:sqs:::q\"}]}",
         "invalid Resource"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"NotResource\":\"arn:aws:s3:::\"}]}",
         "invalid NotResource \"arn:aws:s3:::\": no bucket"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"NotResource\":\"*\"}]}",
         "Resource and NotResource cannot both be given"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Principal\":\"*\"}]}",
         "Principal is not allowed in a user policy"},
        {IAM_POLICY_BUCKET, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
         "Principal is missing"},
        {IAM_POLICY_BUCKET, "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"alice\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
         "Principal must be \"*\" or an object"},
        {IAM_POLICY_BUCKET, "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"x\"},\"Action\":\"*\",\"Resource\":\"*\"}]}",
         "unsupported Principal type \"Service\""},
        {IAM_POLICY_BUCKET, "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::1:role/r\"},"
                            "\"Action\":\"*\",\"Resource\":\"*\"}]}",
         "unsupported principal \"arn:aws:iam::1:role/r\""},
        {IAM_POLICY_BUCKET, "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:sts::1:x\"},"
                            "\"Action\":\"*\",\"Resource\":\"*\"}]}",
         "unsupported principal"},
        {IAM_POLICY_BUCKET, "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"NotPrincipal\":\"*\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
         "Principal and NotPrincipal cannot both be given"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"StringMatches\":{\"s3:prefix\":\"x\"}}}]}",
         "unknown condition operator \"StringMatches\""},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"BinaryEquals\":{\"s3:prefix\":\"x\"}}}]}",
         "unknown condition operator \"BinaryEquals\""},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"StringEquals\":{\"aws:SourceVpce\":\"x\"}}}]}",
         "unsupported condition key \"aws:SourceVpce\""},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"IpAddress\":{\"aws:SourceIp\":\"10.0.0.0/33\"}}}]}",
         "IpAddress aws:SourceIp: \"10.0.0.0/33\" is not an IP address or CIDR"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"NumericLessThan\":{\"s3:max-keys\":\"ten\"}}}]}",
         "\"ten\" is not a number"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"DateLessThan\":{\"aws:CurrentTime\":\"2025-02-30T00:00:00Z\"}}}]}",
         "is not an ISO 8601 date"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"yes\"}}}]}",
         "\"yes\" is not true or false"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"NullIfExists\":{\"s3:prefix\":\"true\"}}}]}",
         "Null takes neither IfExists"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"StringEquals\":{}}}]}",
         "Condition StringEquals must be a non-empty object"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"StringEquals\":{\"s3:prefix\":[]}}}]}",
         "Condition StringEquals s3:prefix is empty"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\","
                              "\"Condition\":{\"StringEquals\":{\"s3:prefix\":{\"a\":1}}}}]}",
         "must be a string or an array"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":[]}]}",
         "Condition must be an object"},
        {IAM_POLICY_IDENTITY, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
                              "\"Resource\":\"arn:aws:s3:::b/${aws:nope}\"}]}",
         "unknown policy variable ${aws:nope}"},
        {IAM_POLICY_IDENTITY, "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\","
                              "\"Resource\":\"arn:aws:s3:::b/${aws:username\"}]}",
         "unterminated policy variable"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Sid\":\"a\",\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},"
                              "{\"Sid\":\"a\",\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
         "Statement 2 (Sid \"a\"): Sid \"a\" is not unique"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Extra\":1}]}",
         "unknown element \"Extra\" in a statement"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\"}]}",
         "element Effect appears twice"},
        {IAM_POLICY_IDENTITY, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]} x",
         "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        const char *e = perr(t[i].json, t[i].kind);
        if (!strstr(e, t[i].msg)) {
            print_error("case %zu: got \"%s\", want \"%s\"\n", i, e, t[i].msg);
            fail();
        }
    }
    /* Messages are one line of valid UTF-8 whatever the input echoed into them. */
    const char *e = perr("{\"Sta\\ntement\\u00e9\":[]}", IAM_POLICY_IDENTITY);
    assert_string_equal(e, "unknown element \"Sta?tement\xc3\xa9\" in the policy");
    e = perr("{\"a\x01\xff\":1}", IAM_POLICY_IDENTITY);
    for (const char *c = e; *c; c++) assert_true((unsigned char)*c >= 0x20 && (unsigned char)*c < 0x80);
    /* NUL inside the text is not JSON; err may be NULL. */
    iam_policy *p = (iam_policy *)1;
    assert_int_equal(iam_policy_parse("{\"a\":\0}", 7, NULL, &p, NULL, 0), -1);
    assert_null(p);
    /* A tiny buffer still gets a terminated prefix of the message. */
    char small[8];
    assert_int_equal(iam_policy_parse("{}", 2, NULL, &p, small, sizeof small), -1);
    assert_int_equal(strlen(small), 7);
}

static void test_size_caps_and_bucket_scope(void **state)
{
    (void)state;
    /* Build a valid policy of about n bytes. */
    char *big = malloc(32768);
    assert_non_null(big);
    size_t off = (size_t)snprintf(big, 32768, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":[");
    for (int i = 0; off < 7000; i++) off += (size_t)snprintf(big + off, 32768 - off, "%s\"arn:aws:s3:::bucket-%04d/*\"", i ? "," : "", i);
    off += (size_t)snprintf(big + off, 32768 - off, "],\"Principal\":\"*\"}]}");
    iam_parse_opts id = {IAM_POLICY_IDENTITY, 0, NULL}, bk = {IAM_POLICY_BUCKET, 0, NULL};
    const char *e = perr_opts(big, &id);
    assert_non_null(strstr(e, "over the limit of 6144"));
    iam_policy *p = NULL;
    char err[256];
    if (iam_policy_parse(big, off, &bk, &p, err, sizeof err) != 0) {
        print_error("%s\n", err);
        fail();
    }
    assert_int_equal(dec(p, A(GET_OBJECT), "bucket-0100", "k"), IAM_ALLOW);
    iam_policy_free(p);
    iam_parse_opts tight = {IAM_POLICY_BUCKET, 1000, NULL};
    assert_non_null(strstr(perr_opts(big, &tight), "over the limit of 1000"));
    iam_parse_opts wide = {IAM_POLICY_IDENTITY, 65536, NULL};
    big[off - 19] = 0;   /* drop the Principal for an identity policy */
    strcat(big, "}]}");
    assert_int_equal(iam_policy_parse(big, strlen(big), &wide, &p, err, sizeof err), 0);
    iam_policy_free(p);

    /* A pattern over IAM_MAX_PATTERN bytes. */
    off = (size_t)snprintf(big, 32768, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"arn:aws:s3:::");
    memset(big + off, 'a', 2100);
    strcpy(big + off + 2100, "\"}]}");
    assert_non_null(strstr(perr_opts(big, &wide), "over 2048 bytes"));
    free(big);

    /* A bucket policy's resources must lie in its bucket. */
    iam_parse_opts scoped = {IAM_POLICY_BUCKET, 0, "site"};
    p = NULL;
    static const char ok[] = "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\","
                             "\"Resource\":[\"arn:aws:s3:::site\",\"arn:aws:s3:::site/*\",\"wsc:wos:*:*:site/a*\"]},"
                             "{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"NotResource\":\"arn:aws:s3:::site/pub/*\"}]}";
    assert_int_equal(iam_policy_parse(ok, strlen(ok), &scoped, &p, err, sizeof err), 0);
    iam_policy_free(p);
    static const char *const bad[] = {
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::other/*\"}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::site2/*\"}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::sit*\"}]}",
        "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"*\"}]}",
    };
    for (size_t i = 0; i < 4; i++) assert_non_null(strstr(perr_opts(bad[i], &scoped), "is outside bucket site"));
}

/* --- service-level resource ---------------------------------------------------------------- */

static void test_service_resource(void **state)
{
    (void)state;
    static const char *const yes[] = {"*", "arn:aws:s3:::*", "wsc:wos:*:*:*", "arn:aws:s3:::**"};
    static const char *const no[] = {"arn:aws:s3:::b", "arn:aws:s3:::*/*", "arn:aws:s3:::?*", "wsc:wos:*:*:b*"};
    char json[256];
    for (size_t i = 0; i < 4; i++) {
        snprintf(json, sizeof json, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:ListAllMyBuckets\",\"Resource\":\"%s\"}]}", yes[i]);
        iam_policy *p = P(json);
        assert_int_equal(dec(p, A(GET_SERVICE), NULL, NULL), IAM_ALLOW);
        iam_policy_free(p);
        snprintf(json, sizeof json, "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"s3:ListAllMyBuckets\",\"Resource\":\"%s\"}]}", no[i]);
        p = P(json);
        assert_int_equal(dec(p, A(GET_SERVICE), NULL, NULL), IAM_NONE);
        iam_policy_free(p);
    }
}

/* --- built-ins ----------------------------------------------------------------------------- */

static void test_builtins(void **state)
{
    (void)state;
    const iam_policy *ro = iam_builtin("WSCloudWOSReadOnlyAccess");
    const iam_policy *full = iam_builtin("WSCloudWOSFullAccess");
    const iam_policy *rc = iam_builtin("WSCloudWOSResourceCreatorAccess");
    assert_non_null(ro);
    assert_non_null(full);
    assert_non_null(rc);
    assert_ptr_equal(iam_builtin("CDNWCloudWOSReadOnlyAccess"), ro);
    assert_ptr_equal(iam_builtin("WSCloudWOSReadOnlyAccess"), ro);
    assert_null(iam_builtin("WSCloudWOSNope"));
    assert_null(iam_builtin(NULL));
    assert_non_null(strstr(iam_builtin_json("WSCloudWOSFullAccess"), "wos:*"));
    assert_null(iam_builtin_json("nope"));
    size_t n = 0;
    while (iam_builtin_name(n)) {
        assert_non_null(iam_builtin(iam_builtin_name(n)));
        n++;
    }
    assert_int_equal(n, 3);

    static const iam_action reads[] = {A(GET_SERVICE), A(GET_BUCKET), A(GET_OBJECT), A(HEAD_OBJECT), A(LIST_PARTS),
                                       A(LIST_MULTIPART_UPLOADS), A(GET_BUCKET_LOCATION), A(GET_BUCKET_VERSIONING),
                                       A(GET_BUCKET_ACL), A(GET_OBJECT_ACL), A(GET_BUCKET_LIFECYCLE),
                                       A(GET_BUCKET_POLICY), A(GET_BUCKET_CORS), A(GET_BUCKET_TAGGING),
                                       A(GET_OBJECT_TAGGING), A(GET_BUCKET_WEBSITE), A(GET_BUCKET_ENCRYPTION),
                                       A(GET_BUCKET_REPLICATION), A(GET_BUCKET_OBJECT_LOCK),
                                       A(GET_BUCKET_PUBLIC_ACCESS_BLOCK), A(GET_BUCKET_OWNERSHIP),
                                       A(GET_BUCKET_LOGGING), A(GET_BUCKET_NOTIFICATION),
                                       A(GET_BUCKET_REQUEST_PAYMENT), A(GET_BUCKET_ACCELERATE)};
    uint64_t readmask = 0;
    for (size_t i = 0; i < sizeof reads / sizeof *reads; i++) readmask |= UINT64_C(1) << reads[i];
    for (int a = 0; a < IAM_ACT__COUNT; a++) {
        const char *b = iam_action_level((iam_action)a) == IAM_LEVEL_SERVICE ? NULL : "b";
        const char *k = iam_action_level((iam_action)a) == IAM_LEVEL_OBJECT ? "k" : NULL;
        bool read = (readmask >> a) & 1;
        assert_int_equal(dec(ro, (iam_action)a, b, k), read ? IAM_ALLOW : IAM_NONE);
        assert_int_equal(dec(full, (iam_action)a, b, k), IAM_ALLOW);
        bool creator = a == A(GET_SERVICE) || a == A(PUT_BUCKET);
        assert_int_equal(dec(rc, (iam_action)a, b, k), creator ? IAM_ALLOW : IAM_NONE);
    }
    /* Built-ins combine with user policies like any other. */
    iam_policy *deny = P("{\"Statement\":[{\"Effect\":\"Deny\",\"Action\":\"s3:DeleteBucket\",\"Resource\":\"*\"}]}");
    const iam_policy *set[] = {full, deny};
    iam_request r = req_for("alice", A(DELETE_BUCKET), "b", NULL);
    assert_int_equal(iam_evaluate(set, 2, &r), IAM_DENY);
    r.action = A(DELETE_OBJECT);
    r.key = "k";
    assert_int_equal(iam_evaluate(set, 2, &r), IAM_ALLOW);
    iam_policy_free(deny);
}

/* --- cost ------------------------------------------------------------------------------------ */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double measure(const iam_policy *const *ps, size_t n, const iam_request *r, iam_decision want)
{
    enum { ITER = 200000 };
    volatile int sink = 0;
    assert_int_equal(iam_evaluate(ps, n, r), want);
    double best = 1e30;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        for (int i = 0; i < ITER; i++) sink += (int)iam_evaluate(ps, n, r);
        double per = (now_ns() - t0) / ITER;
        if (per < best) best = per;
    }
    (void)sink;
    return best;
}

/* The issue's budget case: a user holding 10 policies of 10 statements. The request is a GET
 * that only the last statement of the last policy allows, and every policy has a Deny for
 * GetObject elsewhere, so every statement is looked at. Reported, not asserted. */
static void test_eval_cost(void **state)
{
    (void)state;
    iam_policy *ps[10];
    char json[4096];
    for (int p = 0; p < 10; p++) {
        size_t off = (size_t)snprintf(json, sizeof json, "{\"Version\":\"2012-10-17\",\"Statement\":[");
        for (int s = 0; s < 10; s++) {
            const char *sep = s ? "," : "";
            if (s == 0)
                off += (size_t)snprintf(json + off, sizeof json - off,
                                        "%s{\"Effect\":\"Deny\",\"Action\":[\"s3:GetObject\",\"s3:DeleteObject\"],"
                                        "\"Resource\":\"arn:aws:s3:::archive-%d/locked/*\"}", sep, p);
            else if (s == 5)
                off += (size_t)snprintf(json + off, sizeof json - off,
                                        "%s{\"Effect\":\"Allow\",\"Action\":\"s3:ListBucket\",\"Resource\":\"arn:aws:s3:::data-%d\","
                                        "\"Condition\":{\"StringLike\":{\"s3:prefix\":\"home/${aws:username}/*\"}}}", sep, p);
            else if (p == 9 && s == 9)
                off += (size_t)snprintf(json + off, sizeof json - off,
                                        "%s{\"Effect\":\"Allow\",\"Action\":[\"s3:GetObject\",\"s3:PutObject\"],"
                                        "\"Resource\":\"arn:aws:s3:::media/photos/*\"}", sep);
            else
                off += (size_t)snprintf(json + off, sizeof json - off,
                                        "%s{\"Effect\":\"Allow\",\"Action\":[\"wos:GetObject\",\"wos:PutObject\",\"wos:ListParts\"],"
                                        "\"Resource\":[\"arn:aws:s3:::team-%d-%d/*\",\"arn:aws:s3:::media/p%d-%d/*.jpg\"]}",
                                        sep, p, s, p, s);
        }
        snprintf(json + off, sizeof json - off, "]}");
        ps[p] = P(json);
    }
    const iam_policy *const *set = (const iam_policy *const *)ps;
    iam_request r = req_for("alice", A(GET_OBJECT), "media", "photos/2024/06/IMG_0001.jpg");
    r.ctx[IAM_KEY_SOURCE_IP] = "192.0.2.10";
    double worst = measure(set, 10, &r, IAM_ALLOW);
    r.key = "elsewhere/x";
    double none = measure(set, 10, &r, IAM_NONE);
    r.action = A(DELETE_BUCKET);   /* no statement names it: skipped on the policy masks */
    double skipped = measure(set, 10, &r, IAM_NONE);
    const iam_policy *ro = iam_builtin("WSCloudWOSReadOnlyAccess");
    iam_request g = req_for("alice", A(GET_OBJECT), "media", "photos/x.jpg");
    double builtin = measure(&ro, 1, &g, IAM_ALLOW);
    print_message("iam_evaluate, 10 policies x 10 statements: %.0f ns (allowed by the last statement), "
                  "%.0f ns (no match), %.0f ns (action in no policy); built-in read-only: %.0f ns\n",
                  worst, none, skipped, builtin);
    for (int p = 0; p < 10; p++) iam_policy_free(ps[p]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_action_table),
        cmocka_unit_test(test_action_namespaces_and_head),
        cmocka_unit_test(test_wos_language),
        cmocka_unit_test(test_aws_language),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_glob_against_reference),
        cmocka_unit_test(test_random_policies_against_model),
        cmocka_unit_test(test_case_rules),
        cmocka_unit_test(test_not_action_not_resource),
        cmocka_unit_test(test_principals),
        cmocka_unit_test(test_explicit_deny),
        cmocka_unit_test(test_prefix_limited_user),
        cmocka_unit_test(test_string_conditions),
        cmocka_unit_test(test_set_qualifiers),
        cmocka_unit_test(test_numeric_conditions),
        cmocka_unit_test(test_date_conditions),
        cmocka_unit_test(test_bool_and_null),
        cmocka_unit_test(test_ip_conditions),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_size_caps_and_bucket_scope),
        cmocka_unit_test(test_service_resource),
        cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_eval_cost),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
