/* policy — reading a policy text (WOS or AWS language, see policy.h) into the compiled form of
 * iam_internal.h, and the built-in policies.
 *
 * The compiler does all the work evaluation must not: it lower-cases and resolves names (an
 * action list becomes a mask, a condition key an enum), splits patterns into the shapes the
 * matcher has fast paths for, and parses the numbers, dates and CIDRs a condition compares
 * against. Everything it keeps goes into one arena owned by the policy. It is strict: an
 * element it does not know, a key it cannot evaluate or a value it cannot read is an error
 * with a message, never something silently skipped, because a skipped Deny is an allow. */
#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iam/iam_internal.h"

typedef struct cc {
    arena *a;
    const iam_parse_opts *o;
    bool vars;                 /* Version 2012-10-17: ${…} are policy variables */
    char *err;
    size_t errcap;
    long si;                   /* statement being compiled (for messages), -1 outside */
    const char *sid;
} cc;

/* The message goes back to the client inside XML and into logs: one line of valid UTF-8.
 * Control bytes and bytes that do not form UTF-8 (including a sequence cut by truncation)
 * become '?'. */
static void sanitize(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p;) {
        size_t len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        bool ok = len > 0 && !(*p == 0xC0 || *p == 0xC1 || *p > 0xF4);
        for (size_t i = 1; ok && i < len; i++) ok = (p[i] & 0xC0) == 0x80;
        if (ok && len == 3) ok = !(p[0] == 0xE0 && p[1] < 0xA0) && !(p[0] == 0xED && p[1] >= 0xA0);
        if (ok && len == 4) ok = !(p[0] == 0xF0 && p[1] < 0x90) && !(p[0] == 0xF4 && p[1] >= 0x90);
        if (ok && len == 1 && (*p < 0x20 || *p == 0x7f)) ok = false;
        if (!ok) {
            *p++ = '?';
            continue;
        }
        p += len;
    }
}

__attribute__((format(printf, 2, 3))) static int fail(cc *c, const char *fmt, ...)
{
    if (!c->err || !c->errcap) return -1;
    size_t off = 0;
    if (c->si >= 0) {
        int k = c->sid ? snprintf(c->err, c->errcap, "Statement %ld (Sid \"%s\"): ", c->si + 1, c->sid)
                       : snprintf(c->err, c->errcap, "Statement %ld: ", c->si + 1);
        off = k < 0 ? 0 : ((size_t)k >= c->errcap ? c->errcap - 1 : (size_t)k);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err + off, c->errcap - off, fmt, ap);
    va_end(ap);
    sanitize(c->err);
    return -1;
}

/* Up to 60 bytes of s for a message, with "…" when cut. */
static const char *shown(cc *c, const char *s)
{
    size_t n = strlen(s);
    if (n <= 60) return s;
    return arena_printf(c->a, "%.60s...", s);
}

/* --- JSON shapes ------------------------------------------------------------------------------ */

/* The members of obj, matched case-insensitively against names[]; slots[i] gets the value of
 * names[i] or NULL. An unknown member or two spellings of one are errors. */
static int members(cc *c, json_t *obj, const char *what, const char *const *names, json_t **slots, size_t n)
{
    for (size_t i = 0; i < n; i++) slots[i] = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        size_t i = 0;
        while (i < n && strcasecmp(k, names[i]) != 0) i++;
        if (i == n) return fail(c, "unknown element \"%s\" in %s", shown(c, k), what);
        if (slots[i]) return fail(c, "element %s appears twice in %s", names[i], what);
        slots[i] = v;
    }
    return 0;
}

/* A scalar as a string: strings as they are, numbers and booleans as JSON writes them. */
static const char *scalar(cc *c, json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_value(v);
    case JSON_INTEGER: return arena_printf(c->a, "%lld", (long long)json_integer_value(v));
    case JSON_REAL: return arena_printf(c->a, "%.17g", json_real_value(v));
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return NULL;
    }
}

/* A string or a non-empty array of them (scalars too when allow_scalars). */
static int str_list(cc *c, json_t *v, const char *what, bool allow_scalars, const char ***out, size_t *n)
{
    bool arr = json_is_array(v);
    size_t cnt = arr ? json_array_size(v) : 1;
    if (cnt == 0) return fail(c, "%s is empty", what);
    const char **list = arena_alloc(c->a, cnt * sizeof *list);
    for (size_t i = 0; i < cnt; i++) {
        json_t *e = arr ? json_array_get(v, i) : v;
        const char *s = json_is_string(e) ? json_string_value(e) : (allow_scalars ? scalar(c, e) : NULL);
        if (!s) return fail(c, "%s must be a string or an array of strings", what);
        if (strlen(s) > IAM_MAX_PATTERN) return fail(c, "%s value over %d bytes", what, IAM_MAX_PATTERN);
        list[i] = arena_strdup(c->a, s);   /* the JSON tree is freed after compiling */
    }
    *out = list;
    *n = cnt;
    return 0;
}

/* --- patterns --------------------------------------------------------------------------------- */

/* Cuts s into tokens: '*' and '?' when glob, ${…} when the policy has variables, literal text
 * otherwise. The shape decides the matcher (iam_internal.h). */
static int compile_pattern(cc *c, const char *s, bool glob, const char *what, iam_pat *out)
{
    size_t n = strlen(s);
    char *lit = arena_alloc(c->a, n + 1);
    iam_tok *tok = malloc((n + 1) * sizeof *tok);
    if (!tok) abort();
    size_t nt = 0, nl = 0, lit_start = 0;
#define FLUSH()                                                                              \
    do {                                                                                     \
        if (nl > lit_start) {                                                                \
            tok[nt++] = (iam_tok){TOK_LIT, 0, (uint32_t)(nl - lit_start), lit + lit_start}; \
            lit_start = nl;                                                                  \
        }                                                                                    \
    } while (0)
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (glob && ch == '*') {
            FLUSH();
            if (nt == 0 || tok[nt - 1].kind != TOK_STAR) tok[nt++] = (iam_tok){TOK_STAR, 0, 0, NULL};
        } else if (glob && ch == '?') {
            FLUSH();
            tok[nt++] = (iam_tok){TOK_ONE, 0, 0, NULL};
        } else if (c->vars && ch == '$' && s[i + 1] == '{') {
            const char *end = strchr(s + i + 2, '}');
            if (!end) {
                free(tok);
                return fail(c, "%s \"%s\": unterminated policy variable", what, shown(c, s));
            }
            const char *name = s + i + 2;
            size_t len = (size_t)(end - name);
            if (len == 1 && (*name == '*' || *name == '?' || *name == '$')) {
                lit[nl++] = *name;   /* ${*} ${?} ${$}: the character itself */
            } else {
                int k = iam_key_lookup(name, len);
                if (k < 0) {
                    free(tok);
                    return fail(c, "%s \"%s\": unknown policy variable ${%.*s}", what, shown(c, s),
                                (int)(len > 60 ? 60 : len), name);
                }
                FLUSH();
                tok[nt++] = (iam_tok){TOK_VAR, (uint8_t)k, 0, NULL};
            }
            i = (size_t)(end - s);
        } else {
            lit[nl++] = ch;
        }
    }
    FLUSH();
#undef FLUSH
    *out = (iam_pat){0};
    if (nt == 0) {
        out->kind = PAT_EXACT;
        out->lit = lit;
    } else if (nt == 1 && tok[0].kind == TOK_STAR) {
        out->kind = PAT_ALL;
    } else if (nt == 1 && tok[0].kind == TOK_LIT) {
        out->kind = PAT_EXACT;
        out->lit = tok[0].s;
        out->len = tok[0].len;
    } else if (nt == 2 && tok[0].kind == TOK_LIT && tok[1].kind == TOK_STAR) {
        out->kind = PAT_PREFIX;
        out->lit = tok[0].s;
        out->len = tok[0].len;
    } else {
        out->kind = PAT_GLOB;
        out->ntok = (uint32_t)nt;
        out->tok = arena_memdup(c->a, tok, nt * sizeof *tok);
    }
    free(tok);
    return 0;
}

/* Splits s at its first n (≤ 5) colons: f[i] and l[i] are the fields, the result the rest
 * (NULL when there are fewer colons). */
static const char *split_fields(const char *s, int n, const char *f[5], size_t l[5])
{
    const char *p = s;
    for (int i = 0; i < n; i++) {
        const char *colon = strchr(p, ':');
        if (!colon) return NULL;
        f[i] = p;
        l[i] = (size_t)(colon - p);
        p = colon + 1;
    }
    return p;
}

static bool field_is(const char *f, size_t l, const char *want)
{
    return l == strlen(want) && strncasecmp(f, want, l) == 0;
}

/* The AWS partition: "aws", "aws-cn", "aws-us-gov", … */
static bool partition_ok(const char *f, size_t l)
{
    return field_is(f, l, "aws") || (l > 4 && strncasecmp(f, "aws-", 4) == 0);
}

/* "arn:aws:s3:::rest" or "wsc:wos:region:account:rest" → rest (NULL when neither). The region
 * and account fields are not compared (policy.h). */
static const char *resource_rest(const char *s)
{
    const char *f[5];
    size_t l[5];
    const char *rest = split_fields(s, 5, f, l);
    if (rest && field_is(f[0], l[0], "arn") && partition_ok(f[1], l[1]) && field_is(f[2], l[2], "s3")) return rest;
    rest = split_fields(s, 4, f, l);
    if (rest && field_is(f[0], l[0], "wsc") && field_is(f[1], l[1], "wos")) return rest;
    return NULL;
}

static int compile_resources(cc *c, json_t *v, bool negated, iam_stmt *st)
{
    const char *what = negated ? "NotResource" : "Resource";
    const char **list;
    size_t n;
    if (str_list(c, v, what, false, &list, &n) < 0) return -1;
    iam_pat *pats = arena_alloc(c->a, n * sizeof *pats);
    for (size_t i = 0; i < n; i++) {
        const char *rest = strcmp(list[i], "*") == 0 ? "*" : resource_rest(list[i]);
        if (!rest)
            return fail(c, "invalid %s \"%s\": expected \"*\", \"arn:aws:s3:::bucket[/key]\" or "
                           "\"wsc:wos:*:*:bucket[/key]\"", what, shown(c, list[i]));
        if (!*rest) return fail(c, "invalid %s \"%s\": no bucket", what, shown(c, list[i]));
        const char *b = c->o->bucket;
        if (b && !negated) {
            size_t bl = strlen(b);
            if (strncmp(rest, b, bl) != 0 || (rest[bl] != 0 && rest[bl] != '/'))
                return fail(c, "Resource \"%s\" is outside bucket %s", shown(c, list[i]), b);
        }
        if (compile_pattern(c, rest, true, what, &pats[i]) < 0) return -1;
    }
    st->res = pats;
    st->nres = (uint32_t)n;
    st->not_resource = negated;
    return 0;
}

/* --- actions ---------------------------------------------------------------------------------- */

static int compile_actions(cc *c, json_t *v, bool negated, iam_stmt *st)
{
    const char *what = negated ? "NotAction" : "Action";
    const char **list;
    size_t n;
    if (str_list(c, v, what, false, &list, &n) < 0) return -1;
    uint64_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t m;
        switch (iam_action_pattern(list[i], &m)) {
        case 0: break;
        case -2: return fail(c, "unknown %s \"%s\": wosd knows no such wos: action", what, shown(c, list[i]));
        default:
            return fail(c, "invalid %s \"%s\": expected \"*\", \"wos:Name\" or \"s3:Name\" (letters, "
                           "digits, * and ?)", what, shown(c, list[i]));
        }
        mask |= m;
    }
    st->actions = negated ? (~mask & IAM_ALL_ACTIONS) : mask;
    return 0;
}

/* --- principals ------------------------------------------------------------------------------- */

static int add_principal(cc *c, const char *s, iam_principals *p, const char **users, const char **names)
{
    if (strcmp(s, "*") == 0) {
        p->any = true;
        return 0;
    }
    if (!strchr(s, ':')) {
        if (strlen(s) == 12 && strspn(s, "0123456789") == 12) p->account = true;   /* an account id */
        else if (*s) names[p->nnames++] = s;
        else return fail(c, "empty principal");
        return 0;
    }
    /* arn:aws:iam::ACCOUNT:user/[path/]NAME or arn:aws:iam::ACCOUNT:root */
    const char *f[5];
    size_t l[5];
    const char *q = split_fields(s, 5, f, l);
    if (!q || !field_is(f[0], l[0], "arn") || !partition_ok(f[1], l[1]) || !field_is(f[2], l[2], "iam"))
        return fail(c, "unsupported principal \"%s\": expected \"*\", an IAM user ARN, an account or a name",
                    shown(c, s));
    if (strcmp(q, "root") == 0) {
        p->account = true;
    } else if (strncmp(q, "user/", 5) == 0 && q[strlen(q) - 1] != '/') {
        users[p->nusers++] = strrchr(q, '/') + 1;
    } else {
        return fail(c, "unsupported principal \"%s\": only users (…:user/NAME) and the account (…:root)",
                    shown(c, s));
    }
    return 0;
}

static int compile_principal(cc *c, json_t *v, bool negated, iam_stmt *st)
{
    const char *what = negated ? "NotPrincipal" : "Principal";
    iam_principals *p = &st->prin;
    st->prin_mode = negated ? PRIN_NOT : PRIN_ONLY;
    if (json_is_string(v)) {
        if (strcmp(json_string_value(v), "*") != 0)
            return fail(c, "%s must be \"*\" or an object such as {\"AWS\": [...]}", what);
        p->any = true;
        return 0;
    }
    if (!json_is_object(v) || json_object_size(v) == 0)
        return fail(c, "%s must be \"*\" or an object such as {\"AWS\": [...]}", what);
    size_t total = 0;
    const char *k;
    json_t *val;
    json_object_foreach(v, k, val) total += json_is_array(val) ? json_array_size(val) : 1;
    const char **users = arena_alloc(c->a, total * sizeof *users);
    const char **names = arena_alloc(c->a, total * sizeof *names);
    json_object_foreach(v, k, val) {
        if (strcasecmp(k, "AWS") != 0 && strcasecmp(k, "WOS") != 0 && strcasecmp(k, "CanonicalUser") != 0)
            return fail(c, "unsupported %s type \"%s\" (AWS, WOS or CanonicalUser)", what, shown(c, k));
        const char **list;
        size_t n;
        if (str_list(c, val, what, false, &list, &n) < 0) return -1;
        for (size_t i = 0; i < n; i++)
            if (add_principal(c, list[i], p, users, names) < 0) return -1;
    }
    p->users = users;
    p->names = names;
    return 0;
}

/* --- conditions ------------------------------------------------------------------------------- */

typedef struct op_row {
    const char *name;
    uint8_t type, cmp;
    bool negate, glob, ci;
} op_row;

static const op_row ops[] = {
    {"StringEquals", COND_STRING, 0, false, false, false},
    {"StringNotEquals", COND_STRING, 0, true, false, false},
    {"StringEqualsIgnoreCase", COND_STRING, 0, false, false, true},
    {"StringNotEqualsIgnoreCase", COND_STRING, 0, true, false, true},
    {"StringLike", COND_STRING, 0, false, true, false},
    {"StringNotLike", COND_STRING, 0, true, true, false},
    {"ArnEquals", COND_STRING, 0, false, true, false},
    {"ArnLike", COND_STRING, 0, false, true, false},
    {"ArnNotEquals", COND_STRING, 0, true, true, false},
    {"ArnNotLike", COND_STRING, 0, true, true, false},
    {"NumericEquals", COND_NUMERIC, CMP_EQ, false, false, false},
    {"NumericNotEquals", COND_NUMERIC, CMP_EQ, true, false, false},
    {"NumericLessThan", COND_NUMERIC, CMP_LT, false, false, false},
    {"NumericLessThanEquals", COND_NUMERIC, CMP_LE, false, false, false},
    {"NumericGreaterThan", COND_NUMERIC, CMP_GT, false, false, false},
    {"NumericGreaterThanEquals", COND_NUMERIC, CMP_GE, false, false, false},
    {"DateEquals", COND_DATE, CMP_EQ, false, false, false},
    {"DateNotEquals", COND_DATE, CMP_EQ, true, false, false},
    {"DateLessThan", COND_DATE, CMP_LT, false, false, false},
    {"DateLessThanEquals", COND_DATE, CMP_LE, false, false, false},
    {"DateGreaterThan", COND_DATE, CMP_GT, false, false, false},
    {"DateGreaterThanEquals", COND_DATE, CMP_GE, false, false, false},
    {"Bool", COND_BOOL, 0, false, false, false},
    {"IpAddress", COND_IP, 0, false, false, false},
    {"NotIpAddress", COND_IP, 0, true, false, false},
    {"Null", COND_NULL, 0, false, false, false},
};

static bool parse_bool(const char *s, bool *b)
{
    if (strcasecmp(s, "true") == 0) *b = true;
    else if (strcasecmp(s, "false") == 0) *b = false;
    else return false;
    return true;
}

static int compile_values(cc *c, const char *opname, const char *keyname, const char **vals, size_t n, iam_cond *cd,
                          bool glob)
{
    cd->n = (uint32_t)n;
    switch (cd->type) {
    case COND_STRING: {
        iam_pat *p = arena_alloc(c->a, n * sizeof *p);
        for (size_t i = 0; i < n; i++)
            if (compile_pattern(c, vals[i], glob, "condition value", &p[i]) < 0) return -1;
        cd->v.pat = p;
        return 0;
    }
    case COND_NUMERIC: {
        double *d = arena_alloc(c->a, n * sizeof *d);
        for (size_t i = 0; i < n; i++)
            if (!iam_number_parse(vals[i], &d[i]))
                return fail(c, "%s %s: \"%s\" is not a number", opname, keyname, shown(c, vals[i]));
        cd->v.num = d;
        return 0;
    }
    case COND_DATE: {
        int64_t *ms = arena_alloc(c->a, n * sizeof *ms);
        for (size_t i = 0; i < n; i++)
            if (!iam_date_parse(vals[i], &ms[i]))
                return fail(c, "%s %s: \"%s\" is not an ISO 8601 date or epoch seconds", opname, keyname,
                            shown(c, vals[i]));
        cd->v.ms = ms;
        return 0;
    }
    case COND_IP: {
        iam_cidr *ip = arena_alloc(c->a, n * sizeof *ip);
        for (size_t i = 0; i < n; i++)
            if (!iam_ip_parse(vals[i], true, &ip[i]))
                return fail(c, "%s %s: \"%s\" is not an IP address or CIDR", opname, keyname, shown(c, vals[i]));
        cd->v.cidr = ip;
        return 0;
    }
    default: {   /* COND_BOOL, COND_NULL */
        bool *b = arena_alloc(c->a, n * sizeof *b);
        for (size_t i = 0; i < n; i++)
            if (!parse_bool(vals[i], &b[i]))
                return fail(c, "%s %s: \"%s\" is not true or false", opname, keyname, shown(c, vals[i]));
        cd->v.b = b;
        return 0;
    }
    }
}

static int compile_conditions(cc *c, json_t *v, iam_stmt *st)
{
    if (!json_is_object(v)) return fail(c, "Condition must be an object");
    size_t total = 0;
    const char *opname;
    json_t *block;
    json_object_foreach(v, opname, block) {
        if (!json_is_object(block) || json_object_size(block) == 0)
            return fail(c, "Condition %s must be a non-empty object of keys", shown(c, opname));
        total += json_object_size(block);
    }
    iam_cond *conds = arena_alloc(c->a, (total ? total : 1) * sizeof *conds);
    size_t nc = 0;
    json_object_foreach(v, opname, block) {
        const char *base = opname;
        uint8_t qual = QUAL_NONE;
        if (strncasecmp(base, "ForAnyValue:", 12) == 0) qual = QUAL_ANY, base += 12;
        else if (strncasecmp(base, "ForAllValues:", 13) == 0) qual = QUAL_ALL, base += 13;
        size_t bl = strlen(base);
        bool if_exists = bl > 8 && strcasecmp(base + bl - 8, "IfExists") == 0;
        if (if_exists) bl -= 8;
        const op_row *op = NULL;
        for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
            if (strlen(ops[i].name) == bl && strncasecmp(ops[i].name, base, bl) == 0) op = &ops[i];
        if (!op) return fail(c, "unknown condition operator \"%s\"", shown(c, opname));
        if (op->type == COND_NULL && (if_exists || qual != QUAL_NONE))
            return fail(c, "condition operator \"%s\": Null takes neither IfExists nor a set qualifier",
                        shown(c, opname));
        const char *keyname;
        json_t *vals;
        json_object_foreach(block, keyname, vals) {
            int key = iam_key_lookup(keyname, strlen(keyname));
            if (key < 0) return fail(c, "unsupported condition key \"%s\"", shown(c, keyname));
            const char **list;
            size_t n;
            const char *what = arena_printf(c->a, "Condition %s %s", shown(c, opname), shown(c, keyname));
            if (str_list(c, vals, what, true, &list, &n) < 0) return -1;
            iam_cond *cd = &conds[nc++];
            *cd = (iam_cond){.type = op->type, .cmp = op->cmp, .qual = qual, .key = (uint8_t)key,
                             .negate = op->negate, .if_exists = if_exists, .ci = op->ci};
            if (compile_values(c, op->name, keyname, list, n, cd, op->glob) < 0) return -1;
        }
    }
    st->cond = conds;
    st->ncond = (uint32_t)nc;
    return 0;
}

/* --- statements and the policy ------------------------------------------------------------------ */

enum { S_SID, S_EFFECT, S_ACTION, S_NOTACTION, S_RESOURCE, S_NOTRESOURCE, S_PRINCIPAL, S_NOTPRINCIPAL, S_CONDITION, S__N };
static const char *const stmt_names[S__N] = {"Sid", "Effect", "Action", "NotAction", "Resource",
                                             "NotResource", "Principal", "NotPrincipal", "Condition"};

static int compile_statement(cc *c, json_t *js, iam_stmt *st)
{
    c->sid = NULL;
    if (!json_is_object(js)) return fail(c, "a statement must be an object");
    json_t *m[S__N];
    if (members(c, js, "a statement", stmt_names, m, S__N) < 0) return -1;
    if (m[S_SID]) {
        if (!json_is_string(m[S_SID])) return fail(c, "Sid must be a string");
        st->sid = arena_strdup(c->a, json_string_value(m[S_SID]));
        if (*st->sid) c->sid = shown(c, st->sid);
        else st->sid = NULL;
    }
    if (!m[S_EFFECT]) return fail(c, "Effect is missing");
    const char *eff = json_is_string(m[S_EFFECT]) ? json_string_value(m[S_EFFECT]) : "";
    if (strcasecmp(eff, "Allow") == 0) st->deny = false;
    else if (strcasecmp(eff, "Deny") == 0) st->deny = true;
    else return fail(c, "unknown Effect \"%s\" (expected Allow or Deny)", shown(c, eff));

    if (m[S_ACTION] && m[S_NOTACTION]) return fail(c, "Action and NotAction cannot both be given");
    if (!m[S_ACTION] && !m[S_NOTACTION]) return fail(c, "Action is missing");
    if (compile_actions(c, m[S_ACTION] ? m[S_ACTION] : m[S_NOTACTION], !m[S_ACTION], st) < 0) return -1;

    if (m[S_RESOURCE] && m[S_NOTRESOURCE]) return fail(c, "Resource and NotResource cannot both be given");
    if (!m[S_RESOURCE] && !m[S_NOTRESOURCE]) return fail(c, "Resource is missing");
    if (compile_resources(c, m[S_RESOURCE] ? m[S_RESOURCE] : m[S_NOTRESOURCE], !m[S_RESOURCE], st) < 0) return -1;

    json_t *prin = m[S_PRINCIPAL] ? m[S_PRINCIPAL] : m[S_NOTPRINCIPAL];
    if (c->o->kind == IAM_POLICY_IDENTITY) {
        if (prin) return fail(c, "%s is not allowed in a user policy", m[S_PRINCIPAL] ? "Principal" : "NotPrincipal");
    } else {
        if (m[S_PRINCIPAL] && m[S_NOTPRINCIPAL]) return fail(c, "Principal and NotPrincipal cannot both be given");
        if (!prin) return fail(c, "Principal is missing (a bucket policy names who it applies to)");
        if (compile_principal(c, prin, !m[S_PRINCIPAL], st) < 0) return -1;
    }
    if (m[S_CONDITION] && compile_conditions(c, m[S_CONDITION], st) < 0) return -1;
    return 0;
}

/* The literal text every subject a pattern matches begins with (iam_internal.h). */
static void literal_prefix(const iam_pat *pat, const char **s, size_t *len)
{
    *s = NULL;
    *len = 0;
    if (pat->kind == PAT_EXACT || pat->kind == PAT_PREFIX) {
        *s = pat->lit;
        *len = pat->len;
    } else if (pat->kind == PAT_GLOB && pat->tok[0].kind == TOK_LIT) {
        *s = pat->tok[0].s;
        *len = pat->tok[0].len;
    }
    if (*len > IDX_MAX_LEN) *len = IDX_MAX_LEN;
}

static void build_index(cc *c, iam_policy *p)
{
    if (p->nstmt > IDX_MAX_STMTS) return;
    size_t keys = 0;
    for (size_t i = 0; i < p->nstmt; i++) keys += p->stmt[i].nres;
    size_t size = 8;
    while (size < 2 * keys) size *= 2;
    iam_idx_entry *tab = arena_alloc(c->a, size * sizeof *tab);
    for (size_t i = 0; i < p->nstmt; i++) {
        const iam_stmt *st = &p->stmt[i];
        bool wild = st->not_resource;
        for (uint32_t r = 0; r < st->nres && !wild; r++) {
            const char *s;
            size_t len;
            literal_prefix(&st->res[r], &s, &len);
            wild = len == 0;
        }
        if (wild) {
            p->wild[i / 64] |= UINT64_C(1) << (i % 64);
            continue;
        }
        for (uint32_t r = 0; r < st->nres; r++) {
            const char *s;
            size_t len;
            literal_prefix(&st->res[r], &s, &len);
            uint64_t h = IAM_FNV_OFFSET;
            for (size_t k = 0; k < len; k++) h = iam_fnv_step(h, (unsigned char)s[k]);
            size_t slot = h & (size - 1);
            while (tab[slot].len && !(tab[slot].hash == h && tab[slot].len == len && memcmp(tab[slot].s, s, len) == 0))
                slot = (slot + 1) & (size - 1);
            tab[slot].hash = h;
            tab[slot].s = s;
            tab[slot].len = (uint32_t)len;
            tab[slot].stmts[i / 64] |= UINT64_C(1) << (i % 64);
            p->lenmask |= UINT64_C(1) << (len - 1);
        }
    }
    p->idx = tab;
    p->idx_mask = (uint32_t)(size - 1);
    p->indexed = true;
}

static int compile_policy(cc *c, json_t *root, iam_policy *p)
{
    static const char *const top_names[] = {"Version", "Id", "Statement"};
    json_t *m[3];
    if (!json_is_object(root)) return fail(c, "a policy must be a JSON object");
    if (members(c, root, "the policy", top_names, m, 3) < 0) return -1;
    if (m[0]) {
        const char *v = json_is_string(m[0]) ? json_string_value(m[0]) : "";
        if (strcmp(v, "2012-10-17") == 0) c->vars = true;
        else if (strcmp(v, "1") != 0 && strcmp(v, "2008-10-17") != 0)
            return fail(c, "unsupported Version \"%s\" (expected \"1\", \"2012-10-17\" or \"2008-10-17\")",
                        shown(c, v));
    }
    if (m[1] && !json_is_string(m[1])) return fail(c, "Id must be a string");
    json_t *stmts = m[2];
    if (!stmts) return fail(c, "Statement is missing");
    if (!json_is_array(stmts) && !json_is_object(stmts))
        return fail(c, "Statement must be an object or an array of objects");
    size_t n = json_is_array(stmts) ? json_array_size(stmts) : 1;
    if (n == 0) return fail(c, "Statement is empty");
    iam_stmt *st = arena_alloc(c->a, n * sizeof *st);
    for (size_t i = 0; i < n; i++) {
        c->si = (long)i;
        if (compile_statement(c, json_is_array(stmts) ? json_array_get(stmts, i) : stmts, &st[i]) < 0) return -1;
        for (size_t j = 0; j < i; j++)
            if (st[i].sid && st[j].sid && strcmp(st[i].sid, st[j].sid) == 0)
                return fail(c, "Sid \"%s\" is not unique", shown(c, st[i].sid));
        if (st[i].deny) p->deny_mask |= st[i].actions;
        else p->allow_mask |= st[i].actions;
    }
    c->si = -1;
    p->stmt = st;
    p->nstmt = n;
    build_index(c, p);
    return 0;
}

int iam_policy_parse(const char *json, size_t len, const iam_parse_opts *opts, iam_policy **out, char *err,
                     size_t errcap)
{
    static const iam_parse_opts defaults = {IAM_POLICY_IDENTITY, 0, NULL};
    const iam_parse_opts *o = opts ? opts : &defaults;
    *out = NULL;
    if (err && errcap) err[0] = 0;
    cc c = {.o = o, .err = err, .errcap = errcap, .si = -1};
    size_t cap = o->max_bytes ? o->max_bytes
                              : (o->kind == IAM_POLICY_BUCKET ? IAM_MAX_BUCKET_POLICY : IAM_MAX_IDENTITY_POLICY);
    if (len > cap) return fail(&c, "the policy is %zu bytes, over the limit of %zu", len, cap);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return fail(&c, "not valid JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
    iam_policy *p = calloc(1, sizeof *p);
    if (!p) abort();
    p->a = c.a = arena_new(len * 2 + 512);
    p->kind = o->kind;
    int rc = compile_policy(&c, root, p);
    json_decref(root);
    if (rc < 0) {
        iam_policy_free(p);
        return -1;
    }
    *out = p;
    return 0;
}

void iam_policy_free(iam_policy *p)
{
    if (!p) return;
    arena_free(p->a);
    free(p);
}

size_t iam_policy_statements(const iam_policy *p)
{
    return p->nstmt;
}

/* --- built-ins -------------------------------------------------------------------------------- */

typedef struct builtin {
    const char *name, *alias, *json;
} builtin;

static const builtin builtins[] = {
    {"WSCloudWOSReadOnlyAccess", "CDNWCloudWOSReadOnlyAccess",
     "{\"version\":\"1\",\"statement\":[{\"effect\":\"allow\","
     "\"action\":[\"wos:Get*\",\"wos:List*\",\"wos:HeadObject\"],\"resource\":[\"wsc:wos:*:*:*\"]}]}"},
    {"WSCloudWOSFullAccess", "CDNWCloudWOSFullAccess",
     "{\"version\":\"1\",\"statement\":[{\"effect\":\"allow\","
     "\"action\":[\"wos:*\"],\"resource\":[\"wsc:wos:*:*:*\"]}]}"},
    {"WSCloudWOSResourceCreatorAccess", "CDNWCloudWOSResourceCreatorAccess",
     "{\"version\":\"1\",\"statement\":[{\"effect\":\"allow\","
     "\"action\":[\"wos:GetService\",\"wos:PutBucket\"],\"resource\":[\"wsc:wos:*:*:*\"]}]}"},
};
enum { NBUILTIN = sizeof builtins / sizeof *builtins };

static iam_policy *compiled[NBUILTIN];
static pthread_once_t builtins_once = PTHREAD_ONCE_INIT;

static void compile_builtins(void)
{
    for (size_t i = 0; i < NBUILTIN; i++) {
        char err[256];
        /* A built-in that does not compile is a bug in this file, caught by the unit tests. */
        if (iam_policy_parse(builtins[i].json, strlen(builtins[i].json), NULL, &compiled[i], err, sizeof err) < 0) {
            fprintf(stderr, "iam: built-in %s: %s\n", builtins[i].name, err);
            abort();
        }
    }
}

static const builtin *find_builtin(const char *name, size_t *idx)
{
    for (size_t i = 0; i < NBUILTIN; i++)
        if (strcmp(name, builtins[i].name) == 0 || strcmp(name, builtins[i].alias) == 0) {
            *idx = i;
            return &builtins[i];
        }
    return NULL;
}

const iam_policy *iam_builtin(const char *name)
{
    size_t i;
    if (!name || !find_builtin(name, &i)) return NULL;
    pthread_once(&builtins_once, compile_builtins);
    return compiled[i];
}

const char *iam_builtin_json(const char *name)
{
    size_t i;
    const builtin *b = name ? find_builtin(name, &i) : NULL;
    return b ? b->json : NULL;
}

const char *iam_builtin_name(size_t i)
{
    return i < NBUILTIN ? builtins[i].name : NULL;
}
