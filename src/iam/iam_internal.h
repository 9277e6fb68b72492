/* iam_internal — the compiled form of a policy, shared by the compiler (policy.c), the evaluator
 * (iam_eval.c) and the name tables (iam_names.c). Nothing outside src/iam/ includes this.
 *
 * Everything a policy owns lives in its arena and is immutable once iam_policy_parse returns,
 * so evaluation can read it from any number of threads without locks. */
#ifndef WOSD_IAM_INTERNAL_H
#define WOSD_IAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iam/policy.h"
#include "util/arena.h"

/* --- patterns ------------------------------------------------------------------------------
 * A resource or a condition value, cut into tokens: literal text, '*', '?' and policy
 * variables. The common shapes get a fast path that needs no token walk. */
enum { TOK_LIT, TOK_STAR, TOK_ONE, TOK_VAR };

typedef struct iam_tok {
    uint8_t kind;
    uint8_t key;               /* TOK_VAR: an iam_key */
    uint32_t len;              /* TOK_LIT */
    const char *s;             /* TOK_LIT */
} iam_tok;

enum {
    PAT_EXACT,                 /* lit, len */
    PAT_PREFIX,                /* lit, len, then '*' */
    PAT_ALL,                   /* only '*': matches anything (and the service) */
    PAT_GLOB,                  /* the token list */
};

typedef struct iam_pat {
    uint8_t kind;
    uint32_t len;
    const char *lit;
    uint32_t ntok;
    const iam_tok *tok;
} iam_pat;

/* --- conditions ---------------------------------------------------------------------------- */
enum { COND_STRING, COND_NUMERIC, COND_DATE, COND_BOOL, COND_IP, COND_NULL };
enum { CMP_EQ, CMP_LT, CMP_LE, CMP_GT, CMP_GE };
enum { QUAL_NONE, QUAL_ANY, QUAL_ALL };

typedef struct iam_cidr {
    uint8_t addr[16];          /* IPv4 as ::ffff:a.b.c.d */
    uint8_t bits;
} iam_cidr;

typedef struct iam_cond {
    uint8_t type;              /* COND_* */
    uint8_t cmp;               /* CMP_*: numeric and date */
    uint8_t qual;              /* QUAL_* */
    uint8_t key;               /* iam_key */
    bool negate;               /* StringNotEquals, NotIpAddress, …: "matches none of" */
    bool if_exists;
    bool ci;                   /* …IgnoreCase */
    uint32_t n;                /* values, ≥ 1 */
    union {
        const iam_pat *pat;    /* COND_STRING */
        const double *num;     /* COND_NUMERIC */
        const int64_t *ms;     /* COND_DATE: milliseconds since the epoch */
        const bool *b;         /* COND_BOOL, COND_NULL */
        const iam_cidr *cidr;  /* COND_IP */
    } v;
} iam_cond;

/* --- principals ---------------------------------------------------------------------------- */
enum { PRIN_NONE, PRIN_ONLY, PRIN_NOT };   /* no Principal (identity), Principal, NotPrincipal */

typedef struct iam_principals {
    bool any;                  /* "*": everyone, anonymous included */
    bool account;              /* the account: every authenticated user */
    uint32_t nusers, nnames;
    const char *const *users;  /* from user ARNs: match the user name */
    const char *const *names;  /* bare strings: user name, user id or access key */
} iam_principals;

/* --- statements and policies --------------------------------------------------------------- */
typedef struct iam_stmt {
    uint64_t actions;          /* bit per iam_action, NotAction already inverted */
    bool deny;
    bool not_resource;
    uint8_t prin_mode;         /* PRIN_* */
    uint32_t nres, ncond;
    const iam_pat *res;
    const iam_cond *cond;
    iam_principals prin;
    const char *sid;
} iam_stmt;

/* --- the resource index ---------------------------------------------------------------------
 * Most statements name resources by a literal prefix ("photos/2024/", "logs"), and a request on
 * "bucket/key" can only match a statement one of whose prefixes begins "bucket/key". So each
 * policy keeps a hash table from literal prefix (its first IDX_MAX_LEN bytes) to the set of
 * statements having it, and the set of "wild" statements that must always be looked at
 * (NotResource, or a pattern beginning with a wildcard or a variable). Evaluation hashes the
 * request's prefixes incrementally, probes only the lengths the policy uses, and visits the
 * union in statement order. Policies of more than IDX_MAX_STMTS statements are scanned. */
enum { IDX_MAX_LEN = 64, IDX_WORDS = 4, IDX_MAX_STMTS = IDX_WORDS * 64 };

typedef struct iam_idx_entry {
    uint64_t hash;
    const char *s;
    uint32_t len;              /* 0: empty slot */
    uint64_t stmts[IDX_WORDS];
} iam_idx_entry;

#define IAM_FNV_OFFSET UINT64_C(14695981039346656037)
#define IAM_FNV_PRIME UINT64_C(1099511628211)

static inline uint64_t iam_fnv_step(uint64_t h, unsigned char c)
{
    return (h ^ c) * IAM_FNV_PRIME;
}

struct iam_policy {
    arena *a;                  /* owns everything below */
    iam_policy_kind kind;
    uint64_t allow_mask;       /* union of the Allow statements' actions */
    uint64_t deny_mask;        /* union of the Deny statements' actions */
    size_t nstmt;
    const iam_stmt *stmt;
    bool indexed;
    uint64_t lenmask;          /* bit L-1: some indexed prefix is L bytes long */
    uint32_t idx_mask;         /* table size - 1 */
    const iam_idx_entry *idx;
    uint64_t wild[IDX_WORDS];
};

#define IAM_ALL_ACTIONS ((IAM_ACT__COUNT >= 64) ? ~UINT64_C(0) : ((UINT64_C(1) << IAM_ACT__COUNT) - 1))
_Static_assert(IAM_ACT__COUNT <= 64, "an action mask is 64 bits");
_Static_assert(IAM_KEY__COUNT <= 255, "a key id is 8 bits");

/* iam_evaluate_why, with the resource index used or not: the two must always agree (decision
 * and deciding statement), which the fuzz target checks. */
iam_decision iam_evaluate_scan(const iam_policy *const *policies, size_t n, const iam_request *req, iam_why *why,
                               bool use_index);

/* --- shared helpers ------------------------------------------------------------------------ */

/* The mask of every action one pattern ("wos:Get*", "s3:ListBucket", "*") names. Returns 0 and
 * sets *mask; -1 when the syntax is wrong or the namespace is neither wos: nor s3:; -2 when a
 * wos: name without wildcards names no action. */
int iam_action_pattern(const char *pat, uint64_t *mask);
/* The key a condition-key name denotes (case-insensitive, aliases included), or -1. */
int iam_key_lookup(const char *name, size_t len);

/* ISO 8601 ("2024-05-01", "2024-05-01T12:00:00Z", "…T12:00:00.250+08:00", "20240501T120000Z"),
 * HTTP dates, or epoch seconds ("1714564800"), as milliseconds since the epoch. */
bool iam_date_parse(const char *s, int64_t *ms);
/* A plain decimal number ("10", "-2.5", "1e3"), finite: what a policy writes and what
 * s3:max-keys carries. */
bool iam_number_parse(const char *s, double *out);
/* An IPv4 or IPv6 address, optionally "/bits"; with_prefix false refuses the "/bits". IPv4
 * becomes ::ffff:a.b.c.d with bits + 96. */
bool iam_ip_parse(const char *s, bool with_prefix, iam_cidr *out);

#endif
