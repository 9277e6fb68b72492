/* iam_names — the action and condition-key catalogues (iam_actions.def, iam_keys.def) and the
 * lookups over them. An action pattern is turned into a mask here, once, when a policy is
 * compiled; evaluation never looks at a name. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "iam/iam_internal.h"

typedef struct action_row {
    const char *wos, *also, *s3;   /* without namespace */
    const char *full, *s3_full;    /* "wos:GetObject", "s3:GetObject" */
    iam_level level;
} action_row;

static const action_row actions[IAM_ACT__COUNT] = {
#define IAM_ACTION(id, wos, also, s3, level) \
    {wos, also, s3, "wos:" wos, "s3:" s3, IAM_LEVEL_##level},
#include "iam/iam_actions.def"
#undef IAM_ACTION
};

typedef struct key_row {
    const char *names[3];
} key_row;

static const key_row keys[IAM_KEY__COUNT] = {
#define IAM_KEY(id, name, alias1, alias2) {{name, alias1, alias2}},
#include "iam/iam_keys.def"
#undef IAM_KEY
};

const char *iam_action_name(iam_action a)
{
    return (a >= 0 && a < IAM_ACT__COUNT) ? actions[a].full : NULL;
}

const char *iam_action_s3_name(iam_action a)
{
    return (a >= 0 && a < IAM_ACT__COUNT) ? actions[a].s3_full : NULL;
}

iam_level iam_action_level(iam_action a)
{
    return (a >= 0 && a < IAM_ACT__COUNT) ? actions[a].level : IAM_LEVEL_SERVICE;
}

const char *iam_key_name(iam_key k)
{
    return ((unsigned)k < IAM_KEY__COUNT) ? keys[k].names[0] : NULL;
}

int iam_key_lookup(const char *name, size_t len)
{
    for (int k = 0; k < IAM_KEY__COUNT; k++)
        for (int i = 0; i < 3 && keys[k].names[i]; i++)
            if (strlen(keys[k].names[i]) == len && strncasecmp(keys[k].names[i], name, len) == 0)
                return k;
    return -1;
}

/* Case-insensitive glob of a short action name: '*' any run, '?' one character. The classic
 * greedy walk with one backtrack point, linear in practice. */
static bool name_glob(const char *p, const char *s)
{
    const char *star = NULL, *retry = NULL;
    while (*s) {
        if (*p == '*') {
            star = ++p;
            retry = s;
        } else if (*p && (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
            p++;
            s++;
        } else if (star) {
            p = star;
            s = ++retry;
        } else {
            return false;
        }
    }
    while (*p == '*') p++;
    return *p == 0;
}

/* Splits "ns:name"; the namespace is returned in ns (lower-cased, NUL-terminated). */
static bool split_ns(const char *pat, char ns[8], const char **name)
{
    const char *colon = strchr(pat, ':');
    if (!colon || colon == pat || (size_t)(colon - pat) >= 8) return false;
    size_t n = (size_t)(colon - pat);
    for (size_t i = 0; i < n; i++) ns[i] = (char)tolower((unsigned char)pat[i]);
    ns[n] = 0;
    *name = colon + 1;
    return true;
}

int iam_action_pattern(const char *pat, uint64_t *mask)
{
    *mask = 0;
    if (strcmp(pat, "*") == 0) {
        *mask = IAM_ALL_ACTIONS;
        return 0;
    }
    char ns[8];
    const char *name;
    if (!split_ns(pat, ns, &name) || !*name) return -1;
    bool wild = false;
    for (const char *c = name; *c; c++) {
        if (*c == '*' || *c == '?') wild = true;
        else if (!isalnum((unsigned char)*c)) return -1;
    }
    bool wos = strcmp(ns, "wos") == 0, s3 = strcmp(ns, "s3") == 0;
    if (!wos && !s3) return -1;
    for (int a = 0; a < IAM_ACT__COUNT; a++) {
        const action_row *r = &actions[a];
        bool hit = wos ? (name_glob(name, r->wos) || (r->also && name_glob(name, r->also)))
                       : name_glob(name, r->s3);
        if (hit) *mask |= UINT64_C(1) << a;
    }
    /* Our own catalogue is complete: a plain wos: name that names nothing is a typo, and a typo
     * in a Deny would silently deny nothing. AWS's is not ours to police (see policy.h). */
    if (wos && !wild && *mask == 0) return -2;
    return 0;
}

iam_action iam_action_lookup(const char *name)
{
    const char *n = name;
    bool s3 = false;
    if (strncasecmp(n, "wos:", 4) == 0) n += 4;
    else if (strncasecmp(n, "s3:", 3) == 0) n += 3, s3 = true;
    for (int a = 0; a < IAM_ACT__COUNT; a++)
        if (strcasecmp(n, s3 ? actions[a].s3 : actions[a].wos) == 0) return (iam_action)a;
    return IAM_ACT_INVALID;
}
