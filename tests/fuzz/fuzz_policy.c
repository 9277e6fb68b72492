/* fuzz_policy — iam_policy_parse() and iam_evaluate() (iam/policy.h).
 *
 * The input is a policy text. It is parsed three ways: as a user policy, as a bucket policy, and
 * as a bucket policy scoped to bucket "b". Each policy that compiles is evaluated against a fixed
 * set of requests chosen to reach every matcher: objects, buckets and the service, anonymous and
 * named principals, keys with wildcard characters and UTF-8, an invalid bucket name containing
 * '/', and a condition context with IPv4/IPv6 addresses, dates, numbers, booleans and a
 * multi-valued key. Invariants beyond "no crash, no leak, no UB":
 *   - parse returns 0 with a policy of ≥ 1 statement and an untouched (empty) message, or -1
 *     with no policy and a message that is one line of valid UTF-8 without control characters;
 *   - every decision is NONE, ALLOW or DENY, and the indexed evaluation agrees with a plain scan
 *     of every statement, down to the deciding statement;
 *   - the optimistic evaluation allows whatever the real one allows, and denies only what it
 *     denies;
 *   - the deciding statement exists; [p, p] decides as [p]; combined with WSCloudWOSFullAccess a
 *     user policy gives DENY exactly when it denies alone, ALLOW otherwise (deny wins, allows
 *     add up);
 *   - a policy scoped to "b" never allows or denies anything on another bucket through a
 *     Resource (only NotResource statements can reach there). */
#include "fuzz.h"

#include <stdbool.h>

#include "iam/iam_internal.h"
#include "iam/policy.h"
#include "util/str.h"

static void check_message(int rc, const iam_policy *p, const char *err, size_t cap)
{
    FUZZ_CHECK(rc == 0 || rc == -1);
    if (rc == 0) {
        FUZZ_CHECK(p != NULL);
        FUZZ_CHECK(iam_policy_statements(p) >= 1);
        FUZZ_CHECK(err[0] == 0);
        return;
    }
    FUZZ_CHECK(p == NULL);
    size_t n = strnlen(err, cap);
    FUZZ_CHECK(n > 0 && n < cap);
    FUZZ_CHECK(utf8_valid(err, n));
    for (size_t i = 0; i < n; i++) FUZZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f);
}

static iam_decision eval_checked(const iam_policy *const *ps, size_t n, const iam_request *r)
{
    iam_why w1 = {0, 0, NULL}, w2 = {0, 0, NULL};
    iam_decision d = iam_evaluate_scan(ps, n, r, &w1, true);
    iam_decision s = iam_evaluate_scan(ps, n, r, &w2, false);
    FUZZ_CHECK(d == IAM_NONE || d == IAM_ALLOW || d == IAM_DENY);
    FUZZ_CHECK(d == s);
    FUZZ_CHECK(d == iam_evaluate(ps, n, r));
    if (d != IAM_NONE) {
        FUZZ_CHECK(w1.policy == w2.policy && w1.statement == w2.statement && w1.sid == w2.sid);
        FUZZ_CHECK(w1.policy < n && ps[w1.policy]);
        FUZZ_CHECK(w1.statement < iam_policy_statements(ps[w1.policy]));
    }
    return d;
}

static const char *const multi_prefix[] = {"home/alice/", "home/", "", NULL};

/* The requests every compiled policy is asked about; *n gets how many. */
static void make_requests(iam_request *r, size_t *n)
{
    size_t i = 0;
    memset(r, 0, 10 * sizeof *r);
    /* 0: a signed GET over TLS, with a clock. */
    r[i] = (iam_request){.user = "alice", .access_key = "AKIDALICE", .action = IAM_ACT_GET_OBJECT, .bucket = "b",
                         .key = "home/alice/docs/cv.pdf", .now = 1748736000};
    r[i].ctx[IAM_KEY_SOURCE_IP] = "192.0.2.10";
    r[i].ctx[IAM_KEY_SECURE_TRANSPORT] = "true";
    i++;
    /* 1: a listing with prefix, delimiter and max-keys. */
    r[i] = (iam_request){.user = "alice", .user_id = "u-1", .action = IAM_ACT_GET_BUCKET, .bucket = "b"};
    r[i].ctx[IAM_KEY_PREFIX] = "home/alice/";
    r[i].ctx[IAM_KEY_DELIMITER] = "/";
    r[i].ctx[IAM_KEY_MAX_KEYS] = "100";
    i++;
    /* 2: anonymous from IPv6. */
    r[i] = (iam_request){.anonymous = true, .action = IAM_ACT_GET_OBJECT, .bucket = "site", .key = "index.html"};
    r[i].ctx[IAM_KEY_SOURCE_IP] = "2001:db8::1";
    r[i].ctx[IAM_KEY_SECURE_TRANSPORT] = "false";
    i++;
    /* 3: a PUT with an ACL header, a storage class and an explicit time. */
    r[i] = (iam_request){.user = "bob", .user_id = "AIDABOB", .access_key = "AKIDBOB", .action = IAM_ACT_PUT_OBJECT,
                         .bucket = "photos", .key = "2024/06/IMG_0001.jpg"};
    r[i].ctx[IAM_KEY_ACL] = "public-read";
    r[i].ctx[IAM_KEY_STORAGE_CLASS] = "STANDARD";
    r[i].ctx[IAM_KEY_CURRENT_TIME] = "2025-01-01T00:00:00Z";
    r[i].ctx[IAM_KEY_EPOCH_TIME] = "abc";
    i++;
    /* 4: the service. */
    r[i] = (iam_request){.user = "alice", .action = IAM_ACT_GET_SERVICE, .now = 1};
    i++;
    /* 5: a key full of pattern characters and UTF-8; IPv4-mapped address. */
    r[i] = (iam_request){.user = "${aws:username}", .action = IAM_ACT_HEAD_OBJECT, .bucket = "b",
                         .key = "a\xc3\xa9/?*${*}/\xe4\xb8\xad"};
    r[i].ctx[IAM_KEY_SOURCE_IP] = "::ffff:10.1.2.3";
    i++;
    /* 6: an empty key; a multi-valued prefix. */
    r[i] = (iam_request){.user = "alice", .action = IAM_ACT_DELETE_OBJECT, .bucket = "b", .key = ""};
    r[i].ctx_multi[IAM_KEY_PREFIX] = multi_prefix;
    i++;
    /* 7: a bucket name no router would pass, and a user named "*". */
    r[i] = (iam_request){.user = "*", .access_key = "*", .action = IAM_ACT_GET_BUCKET, .bucket = "a/b"};
    i++;
    /* 8: a long key, past the index's prefix length. */
    r[i] = (iam_request){.user = "carol", .action = IAM_ACT_LIST_PARTS, .bucket = "b",
                         .key = "very/long/prefix/that/goes/on/and/on/past/sixty/four/bytes/of/key/text/file.bin",
                         .now = 4102444800};
    r[i].ctx[IAM_KEY_USER_AGENT] = "aws-cli/2.9";
    r[i].ctx[IAM_KEY_REFERER] = "https://example.com/";
    i++;
    /* 9: anonymous service request. */
    r[i] = (iam_request){.anonymous = true, .action = IAM_ACT_GET_SERVICE};
    i++;
    *n = i;
}

static void exercise(const iam_policy *p, bool identity, bool scoped)
{
    iam_request reqs[10];
    size_t nreq;
    make_requests(reqs, &nreq);
    const iam_policy *full = iam_builtin("WSCloudWOSFullAccess");
    for (size_t i = 0; i < nreq; i++) {
        /* Every action for the first requests, the request's own for the rest. */
        int from = i < 3 ? 0 : reqs[i].action, to = i < 3 ? IAM_ACT__COUNT : reqs[i].action + 1;
        for (int a = from; a < to; a++) {
            iam_request r = reqs[i];
            r.action = (iam_action)a;
            const iam_policy *one[1] = {p}, *two[2] = {p, p}, *withfull[2] = {full, p};
            iam_decision d = eval_checked(one, 1, &r);
            FUZZ_CHECK(eval_checked(two, 2, &r) == d);
            iam_decision opt = iam_evaluate_optimistic(one, 1, &r);
            FUZZ_CHECK(d != IAM_ALLOW || opt == IAM_ALLOW);
            FUZZ_CHECK(opt != IAM_DENY || d == IAM_DENY);
            if (identity) FUZZ_CHECK(eval_checked(withfull, 2, &r) == (d == IAM_DENY ? IAM_DENY : IAM_ALLOW));
            if (scoped && r.bucket && strcmp(r.bucket, "b") != 0) {
                /* Only NotResource statements can apply outside the bucket. */
                iam_why w;
                if (iam_evaluate_why(one, 1, &r, &w) != IAM_NONE) FUZZ_CHECK(p->stmt[w.statement].not_resource);
            }
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const iam_parse_opts kinds[3] = {
        {IAM_POLICY_IDENTITY, 1 << 20, NULL},
        {IAM_POLICY_BUCKET, 1 << 20, NULL},
        {IAM_POLICY_BUCKET, 1 << 20, "b"},
    };
    for (int k = 0; k < 3; k++) {
        char err[200];
        memset(err, 'x', sizeof err);
        iam_policy *p = (iam_policy *)&err;   /* must be overwritten */
        int rc = iam_policy_parse((const char *)data, size, &kinds[k], &p, err, sizeof err);
        check_message(rc, p, err, sizeof err);
        if (rc == 0) {
            exercise(p, k == 0, k == 2);
            iam_policy_free(p);
        }
    }
    /* The size cap refuses before parsing. */
    if (size > 16) {
        iam_parse_opts tiny = {IAM_POLICY_IDENTITY, 16, NULL};
        iam_policy *p;
        char err[64];
        FUZZ_CHECK(iam_policy_parse((const char *)data, size, &tiny, &p, err, sizeof err) == -1 && !p);
        FUZZ_CHECK(strstr(err, "over the limit of 16") != NULL);
    }
    return 0;
}
