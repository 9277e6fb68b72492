/* iam_eval — evaluating a request against compiled policies.
 *
 * This runs on every request, so it allocates nothing and decides as early as it can: a policy
 * whose statements cannot name the action is skipped on one AND of its masks, a statement on
 * another; once an Allow is found only Deny statements are still read. Resources are matched
 * as "bucket" + '/' + "key" without building that string. Values the policy compared against
 * (numbers, dates, CIDRs) were parsed at compile time; only the request's side is parsed here,
 * and only when a condition asks for it. */
#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iam/iam_internal.h"
#include "util/timefmt.h"

/* --- dates and addresses (also used by the compiler) ---------------------------------------- */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool iso_parse(const char *s, int64_t *ms)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (!digits(&p, 4, &y)) return false;
    bool ext = *p == '-';
    if (ext) p++;
    if (!digits(&p, 2, &mo) || (ext && *p++ != '-') || !digits(&p, 2, &d)) return false;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1]) return false;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return false;
    int64_t zone = 0;
    if (*p == 'T' || *p == 't') {
        p++;
        if (!digits(&p, 2, &h) || (ext && *p++ != ':') || !digits(&p, 2, &mi)) return false;
        if (*p == ':' || (!ext && isdigit((unsigned char)*p))) {
            if (ext) p++;
            if (!digits(&p, 2, &sec)) return false;
            if (*p == '.' || *p == ',') {
                p++;
                if (!isdigit((unsigned char)*p)) return false;
                for (int scale = 100; isdigit((unsigned char)*p); p++, scale /= 10) frac += (*p - '0') * scale;
            }
        }
        if (h > 23 || mi > 59 || sec > 60) return false;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, zh, zm = 0;
            if (!digits(&p, 2, &zh)) return false;
            if (*p == ':') p++;
            if (*p && !digits(&p, 2, &zm)) return false;
            if (zh > 23 || zm > 59) return false;
            zone = sign * (zh * 3600 + zm * 60);
        }
    }
    if (*p) return false;
    int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - zone;
    *ms = t * 1000 + frac;
    return true;
}

bool iam_date_parse(const char *s, int64_t *ms)
{
    const char *p = s;
    if (*p == '-') p++;
    size_t nd = strspn(p, "0123456789");
    if (nd > 0 && p[nd] == 0) {   /* epoch seconds, as AWS accepts */
        if (nd > 12) return false;
        *ms = strtoll(s, NULL, 10) * 1000;
        return true;
    }
    if (iso_parse(s, ms)) return true;
    /* HTTP dates begin with a day name; anything else that failed above is a bad ISO date,
     * which the lenient HTTP-date parser must not get a chance to normalise. */
    int64_t sec;
    if (isalpha((unsigned char)*s) && time_parse(s, &sec)) {
        *ms = sec * 1000;
        return true;
    }
    return false;
}

bool iam_ip_parse(const char *s, bool with_prefix, iam_cidr *out)
{
    char addr[64];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);
    if (n == 0 || n >= sizeof addr || (slash && !with_prefix)) return false;
    memcpy(addr, s, n);
    addr[n] = 0;
    int bits = -1;
    if (slash) {
        const char *b = slash + 1;
        size_t nb = strspn(b, "0123456789");
        if (nb == 0 || nb > 3 || b[nb]) return false;
        bits = atoi(b);
    }
    memset(out, 0, sizeof *out);
    unsigned char v4[4];
    if (inet_pton(AF_INET, addr, v4) == 1) {
        if (bits > 32) return false;
        out->addr[10] = out->addr[11] = 0xff;
        memcpy(out->addr + 12, v4, 4);
        out->bits = (uint8_t)((bits < 0 ? 32 : bits) + 96);
    } else if (inet_pton(AF_INET6, addr, out->addr) == 1) {
        if (bits > 128) return false;
        out->bits = (uint8_t)(bits < 0 ? 128 : bits);
    } else {
        return false;
    }
    return true;
}

static bool cidr_contains(const iam_cidr *net, const iam_cidr *ip)
{
    int full = net->bits / 8, rest = net->bits % 8;
    if (memcmp(net->addr, ip->addr, (size_t)full) != 0) return false;
    if (rest == 0) return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (net->addr[full] & mask) == (ip->addr[full] & mask);
}

/* --- the request's side ---------------------------------------------------------------------- */

/* A string to match, made of up to two parts joined by '/': "bucket" '/' "key" for resources,
 * one part for condition values. */
typedef struct subj {
    const char *a, *b;
    size_t na, nb;
    bool two;
} subj;

typedef struct evalctx {
    const iam_request *req;
    subj res;                  /* the request's resource (when bucket != NULL) */
    size_t res_len;
    size_t nhash;              /* hash[0..nhash) are computed */
    uint64_t hash[IDX_MAX_LEN + 1];   /* hash[L]: FNV-1a of the resource's first L bytes */
    bool optimistic;           /* iam_evaluate_optimistic */
    bool time_done;
    char curtime[32], epoch[24];
} evalctx;

static const char *derived(evalctx *e, int key)
{
    const iam_request *r = e->req;
    switch (key) {
    case IAM_KEY_USERNAME: return r->anonymous ? NULL : r->user;
    case IAM_KEY_USERID: return r->anonymous ? NULL : (r->user_id ? r->user_id : r->user);
    case IAM_KEY_PRINCIPAL_TYPE: return r->anonymous ? "Anonymous" : "User";
    case IAM_KEY_CURRENT_TIME:
    case IAM_KEY_EPOCH_TIME:
        if (r->now <= 0 || r->now > INT64_C(253402300799)) return NULL;   /* unknown, or past 9999 */
        if (!e->time_done) {
            time_fmt_iso_ms(r->now * 1000, e->curtime);
            snprintf(e->epoch, sizeof e->epoch, "%lld", (long long)r->now);
            e->time_done = true;
        }
        return key == IAM_KEY_CURRENT_TIME ? e->curtime : e->epoch;
    default: return NULL;
    }
}

/* The key's values: *list gets them (one_slot backs a single value); returns how many. */
static size_t values_of(evalctx *e, int key, const char *const **list, const char **one_slot)
{
    const char *const *m = e->req->ctx_multi[key];
    if (m) {
        size_t n = 0;
        while (m[n]) n++;
        *list = m;
        return n;
    }
    const char *v = e->req->ctx[key];
    if (!v) v = derived(e, key);
    *one_slot = v;
    *list = one_slot;
    return v ? 1 : 0;
}

static const char *first_value(evalctx *e, int key)
{
    const char *const *list, *one;
    return values_of(e, key, &list, &one) ? list[0] : NULL;
}

/* --- patterns --------------------------------------------------------------------------------- */

static inline size_t subj_len(const subj *s)
{
    return s->two ? s->na + 1 + s->nb : s->na;
}

static inline unsigned char subj_at(const subj *s, size_t i)
{
    if (i < s->na) return (unsigned char)s->a[i];
    if (i == s->na) return '/';
    /* i < subj_len(s), so past a and the slash there is a b (two is set). */
    return (unsigned char)s->b[i - s->na - 1];   // NOLINT(clang-analyzer-core.NullDereference)
}

static bool bytes_eq(const char *x, const char *y, size_t n, bool ci)
{
    if (!ci) return memcmp(x, y, n) == 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)x[i]) != tolower((unsigned char)y[i])) return false;
    return true;
}

/* subject[off, off+n) == lit; the caller has checked that off + n fits. */
static bool subj_eq(const subj *s, size_t off, const char *lit, size_t n, bool ci)
{
    if (off < s->na) {
        size_t k = s->na - off < n ? s->na - off : n;
        if (!bytes_eq(s->a + off, lit, k, ci)) return false;
        off += k;
        lit += k;
        n -= k;
    }
    if (n == 0) return true;
    if (off == s->na) {
        if (*lit != '/') return false;
        off++;
        lit++;
        n--;
    }
    return n == 0 || (s->two && bytes_eq(s->b + (off - s->na - 1), lit, n, ci));   /* (two: the caller's bound) */
}

/* Glob over tokens: the greedy walk with one backtrack point (the last '*'), which is exact for
 * '*' and fixed-width tokens. '?' takes one UTF-8 character. A variable with no value fails. */
static bool glob_match(evalctx *e, const iam_pat *p, const subj *s, bool ci)
{
    size_t n = subj_len(s), si = 0, ti = 0, star_ti = SIZE_MAX, star_si = 0;
    for (;;) {
        if (ti < p->ntok) {
            const iam_tok *t = &p->tok[ti];
            if (t->kind == TOK_STAR) {
                if (ti + 1 == p->ntok) return true;
                star_ti = ti++;
                star_si = si;
                continue;
            }
            if (t->kind == TOK_ONE) {
                if (si < n) {
                    si++;
                    while (si < n && (subj_at(s, si) & 0xC0) == 0x80) si++;
                    ti++;
                    continue;
                }
            } else {
                const char *lit = t->s;
                size_t len = t->len;
                if (t->kind == TOK_VAR) {
                    if (!(lit = first_value(e, t->key))) return false;
                    len = strlen(lit);
                }
                if (len <= n - si && subj_eq(s, si, lit, len, ci)) {
                    si += len;
                    ti++;
                    continue;
                }
            }
        } else if (si == n) {
            return true;
        }
        if (star_ti == SIZE_MAX || star_si >= n) return false;
        si = ++star_si;
        ti = star_ti + 1;
    }
}

static bool pat_match(evalctx *e, const iam_pat *p, const subj *s, bool ci)
{
    switch (p->kind) {
    case PAT_ALL: return true;
    case PAT_EXACT: return p->len == subj_len(s) && subj_eq(s, 0, p->lit, p->len, ci);
    case PAT_PREFIX: return p->len <= subj_len(s) && subj_eq(s, 0, p->lit, p->len, ci);
    default: return glob_match(e, p, s, ci);
    }
}

static bool resource_match(evalctx *e, const iam_pat *p)
{
    if (!e->req->bucket) return p->kind == PAT_ALL;   /* a service action has no resource */
    return pat_match(e, p, &e->res, false);
}

/* --- conditions ------------------------------------------------------------------------------- */

bool iam_number_parse(const char *s, double *out)
{
    const char *p = s;
    if (*p == '-' || *p == '+') p++;
    size_t nd = strspn(p, "0123456789");
    p += nd;
    if (*p == '.') {
        size_t nf = strspn(++p, "0123456789");
        if (nd == 0 && nf == 0) return false;
        p += nf;
    } else if (nd == 0) {
        return false;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '-' || *p == '+') p++;
        size_t ne = strspn(p, "0123456789");
        if (ne == 0) return false;
        p += ne;
    }
    if (*p) return false;
    *out = strtod(s, NULL);
    return isfinite(*out);
}

static bool compare(int cmp, double x, double y)
{
    switch (cmp) {
    case CMP_EQ: return x == y;
    case CMP_LT: return x < y;
    case CMP_LE: return x <= y;
    case CMP_GT: return x > y;
    default: return x >= y;
    }
}

static bool compare_ms(int cmp, int64_t x, int64_t y)
{
    switch (cmp) {
    case CMP_EQ: return x == y;
    case CMP_LT: return x < y;
    case CMP_LE: return x <= y;
    case CMP_GT: return x > y;
    default: return x >= y;
    }
}

/* Whether one request value matches any of the condition's values (the positive form). */
static bool value_match(evalctx *e, const iam_cond *c, const char *v)
{
    switch (c->type) {
    case COND_STRING: {
        subj s = {v, NULL, strlen(v), 0, false};
        for (uint32_t i = 0; i < c->n; i++)
            if (pat_match(e, &c->v.pat[i], &s, c->ci)) return true;
        return false;
    }
    case COND_NUMERIC: {
        double x;
        if (!iam_number_parse(v, &x)) return false;
        for (uint32_t i = 0; i < c->n; i++)
            if (compare(c->cmp, x, c->v.num[i])) return true;
        return false;
    }
    case COND_DATE: {
        int64_t ms;
        if (!iam_date_parse(v, &ms)) return false;
        for (uint32_t i = 0; i < c->n; i++)
            if (compare_ms(c->cmp, ms, c->v.ms[i])) return true;
        return false;
    }
    case COND_BOOL: {
        bool b;
        if (strcasecmp(v, "true") == 0) b = true;
        else if (strcasecmp(v, "false") == 0) b = false;
        else return false;
        for (uint32_t i = 0; i < c->n; i++)
            if (c->v.b[i] == b) return true;
        return false;
    }
    case COND_IP: {
        iam_cidr ip;
        if (!iam_ip_parse(v, false, &ip)) return false;
        for (uint32_t i = 0; i < c->n; i++)
            if (cidr_contains(&c->v.cidr[i], &ip)) return true;
        return false;
    }
    default: return false;
    }
}

static bool null_holds(const iam_cond *c, bool absent)
{
    for (uint32_t i = 0; i < c->n; i++)
        if (c->v.b[i] == absent) return true;
    return false;
}

static bool cond_holds(evalctx *e, const iam_cond *c)
{
    const char *const *vals, *one;
    size_t n = values_of(e, c->key, &vals, &one);
    if (c->type == COND_NULL) return null_holds(c, n == 0);
    if (n == 0) {
        if (c->if_exists || c->qual == QUAL_ALL) return true;
        if (c->qual == QUAL_ANY) return false;
        return c->negate;   /* AWS: a negated operator holds over an absent key */
    }
    switch (c->qual) {
    case QUAL_ALL:   /* every value matches (negated: matches none of the policy's values) */
        for (size_t i = 0; i < n; i++)
            if (value_match(e, c, vals[i]) == c->negate) return false;
        return true;
    case QUAL_ANY:   /* some value matches (negated: some value matches none) */
        for (size_t i = 0; i < n; i++)
            if (value_match(e, c, vals[i]) != c->negate) return true;
        return false;
    default: {
        bool any = false;
        for (size_t i = 0; i < n && !any; i++) any = value_match(e, c, vals[i]);
        return c->negate ? !any : any;
    }
    }
}

/* --- the resource index (iam_internal.h) ---------------------------------------------------- */

static uint64_t prefix_hash(evalctx *e, size_t len)
{
    if (e->nhash == 0) {
        e->hash[0] = IAM_FNV_OFFSET;
        e->nhash = 1;
    }
    while (e->nhash <= len) {
        e->hash[e->nhash] = iam_fnv_step(e->hash[e->nhash - 1], subj_at(&e->res, e->nhash - 1));
        e->nhash++;
    }
    return e->hash[len];
}

/* The statements of p that can apply to the request's resource: the wild ones, and those with a
 * literal prefix that begins the resource. */
static void candidates(evalctx *e, const iam_policy *p, uint64_t out[IDX_WORDS])
{
    memcpy(out, p->wild, sizeof p->wild);
    if (!e->req->bucket) return;   /* a service action: only wild statements can match */
    uint64_t lm = p->lenmask;
    if (e->res_len < 64) lm &= (UINT64_C(1) << e->res_len) - 1;
    while (lm) {
        size_t len = (size_t)__builtin_ctzll(lm) + 1;
        lm &= lm - 1;
        uint64_t h = prefix_hash(e, len);
        for (size_t slot = h & p->idx_mask; p->idx[slot].len; slot = (slot + 1) & p->idx_mask) {
            const iam_idx_entry *en = &p->idx[slot];
            if (en->hash == h && en->len == len && subj_eq(&e->res, 0, en->s, len, false)) {
                for (int w = 0; w < IDX_WORDS; w++) out[w] |= en->stmts[w];
                break;
            }
        }
    }
}

/* --- statements ------------------------------------------------------------------------------- */

static bool principal_match(const iam_principals *p, const iam_request *r)
{
    if (p->any) return true;
    if (r->anonymous) return false;
    if (p->account) return true;
    if (r->user)
        for (uint32_t i = 0; i < p->nusers; i++)
            if (strcmp(p->users[i], r->user) == 0) return true;
    for (uint32_t i = 0; i < p->nnames; i++) {
        const char *nm = p->names[i];
        if ((r->user && strcmp(nm, r->user) == 0) || (r->user_id && strcmp(nm, r->user_id) == 0) ||
            (r->access_key && strcmp(nm, r->access_key) == 0))
            return true;
    }
    return false;
}

static bool stmt_applies(evalctx *e, const iam_stmt *s)
{
    if (s->prin_mode != PRIN_NONE && principal_match(&s->prin, e->req) != (s->prin_mode == PRIN_ONLY))
        return false;
    bool hit = false;
    for (uint32_t i = 0; i < s->nres && !hit; i++) hit = resource_match(e, &s->res[i]);
    if (hit == s->not_resource) return false;
    if (e->optimistic && s->ncond) return !s->deny;   /* the most favourable context */
    for (uint32_t i = 0; i < s->ncond; i++)
        if (!cond_holds(e, &s->cond[i])) return false;
    return true;
}

/* Looks at statement si of policy pi: true when it is a Deny that applies. A matching Allow sets
 * *d; once *d is IAM_ALLOW, only Deny statements are still worth reading. */
static inline bool visit(evalctx *e, const iam_policy *p, size_t pi, size_t si, uint64_t bit, iam_decision *d,
                         iam_why *why)
{
    const iam_stmt *s = &p->stmt[si];
    if (!(s->actions & bit) || (!s->deny && *d == IAM_ALLOW)) return false;
    if (!stmt_applies(e, s)) return false;
    if (why) *why = (iam_why){pi, si, s->sid};
    if (s->deny) return true;
    *d = IAM_ALLOW;
    return false;
}

static iam_decision evaluate(const iam_policy *const *policies, size_t n, const iam_request *req, iam_why *why,
                             bool use_index, bool optimistic)
{
    if (!req || req->action < 0 || req->action >= IAM_ACT__COUNT) return IAM_NONE;
    uint64_t bit = UINT64_C(1) << req->action;
    evalctx e;   /* not zeroed as a whole: the hash array is filled on demand */
    e.req = req;
    e.res = (subj){NULL, NULL, 0, 0, false};
    e.nhash = 0;
    e.optimistic = optimistic;
    e.time_done = false;
    if (req->bucket) {
        e.res.a = req->bucket;
        e.res.na = strlen(req->bucket);
        if (req->key) {
            e.res.b = req->key;
            e.res.nb = strlen(req->key);
            e.res.two = true;
        }
    }
    e.res_len = subj_len(&e.res);
    iam_decision d = IAM_NONE;
    for (size_t pi = 0; pi < n; pi++) {
        const iam_policy *p = policies[pi];
        if (!p) continue;
        uint64_t wanted = d == IAM_ALLOW ? p->deny_mask : (p->deny_mask | p->allow_mask);
        if (!(wanted & bit)) continue;
        if (p->indexed && use_index) {
            uint64_t cand[IDX_WORDS];
            candidates(&e, p, cand);
            for (size_t w = 0; w < IDX_WORDS; w++)
                for (uint64_t m = cand[w]; m; m &= m - 1)
                    if (visit(&e, p, pi, w * 64 + (size_t)__builtin_ctzll(m), bit, &d, why)) return IAM_DENY;
        } else {
            for (size_t si = 0; si < p->nstmt; si++)
                if (visit(&e, p, pi, si, bit, &d, why)) return IAM_DENY;
        }
    }
    return d;
}

iam_decision iam_evaluate_scan(const iam_policy *const *policies, size_t n, const iam_request *req, iam_why *why,
                               bool use_index)
{
    return evaluate(policies, n, req, why, use_index, false);
}

iam_decision iam_evaluate_why(const iam_policy *const *policies, size_t n, const iam_request *req, iam_why *why)
{
    return evaluate(policies, n, req, why, true, false);
}

iam_decision iam_evaluate(const iam_policy *const *policies, size_t n, const iam_request *req)
{
    return evaluate(policies, n, req, NULL, true, false);
}

iam_decision iam_evaluate_optimistic(const iam_policy *const *policies, size_t n, const iam_request *req)
{
    return evaluate(policies, n, req, NULL, true, true);
}
