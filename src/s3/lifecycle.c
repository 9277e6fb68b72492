/* lifecycle — the rule parser, the canonical writer and the matcher (lifecycle.h).
 *
 * Validation follows Amazon S3 where WOS says nothing (WOS-API.md §7): structural faults are
 * MalformedXML, bad values InvalidArgument, a rule without an action InvalidRequest. Checks that
 * S3 makes for its own billing (30 days before IA) are left out: they would only stop tests
 * from using short lifecycle days. */
#include "s3/lifecycle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_internal.h"
#include "s3/xml_in.h"
#include "util/hash.h"
#include "util/str.h"
#include "util/timefmt.h"

/* --- parsing ----------------------------------------------------------------------------- */

typedef struct pctx {
    arena *a;
    const char **msg;
} pctx;

static s3_err bad(pctx *p, s3_err e, const char *msg)
{
    *p->msg = msg;
    return e;
}

/* A non-negative decimal integer of at most 9 digits (days), or -1. */
static int64_t parse_count(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 9) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* An ISO 8601 date at midnight UTC, in seconds; -1 when it is not one. */
static int64_t parse_date(const char *s)
{
    int64_t sec;
    if (strlen(s) < 10 || !time_parse(s, &sec) || sec < 0 || sec % 86400 != 0) return -1;
    return sec;
}

static bool only_children(xml_node *n, const char *const *allowed)
{
    for (xml_node *c = xml_next_child(n, NULL); c; c = xml_next_child(n, c)) {
        bool ok = false;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(xml_name(c), allowed[i]);
        if (!ok) return false;
    }
    return true;
}

static int count_children(xml_node *n, const char *name)
{
    int k = 0;
    for (xml_node *c = xml_next_child(n, NULL); c; c = xml_next_child(n, c)) k += !strcmp(xml_name(c), name);
    return k;
}

/* Days (positive integer; zero too when zero_ok) from the element's child `name`. */
static s3_err days_of(pctx *p, xml_node *n, const char *name, bool zero_ok, const char *what, int64_t *out)
{
    if (count_children(n, name) > 1) return bad(p, S3E_MalformedXML, NULL);
    const char *t = xml_child_text(p->a, n, name);
    int64_t v = t ? parse_count(t) : -1;
    if (v < 0 || (v == 0 && !zero_ok))
        return bad(p, S3E_InvalidArgument,
                   arena_printf(p->a, "'%s' for %s action must be a %s integer", name, what,
                                zero_ok ? "nonnegative" : "positive"));
    *out = v;
    return S3E_OK;
}

static s3_err parse_transition(pctx *p, xml_node *n, bool noncurrent, lc_transition *t)
{
    static const char *const cur[] = {"Days", "Date", "StorageClass", NULL};
    static const char *const nc[] = {"NoncurrentDays", "StorageClass", "NewerNoncurrentVersions", NULL};
    if (!only_children(n, noncurrent ? nc : cur)) return bad(p, S3E_MalformedXML, NULL);
    memset(t, 0, sizeof *t);
    t->days = t->date_sec = -1;
    s3_err e;
    if (noncurrent) {
        if (!xml_child(n, "NoncurrentDays")) return bad(p, S3E_MalformedXML, NULL);
        if ((e = days_of(p, n, "NoncurrentDays", true, "NoncurrentVersionTransition", &t->days))) return e;
    } else {
        bool has_days = xml_child(n, "Days"), has_date = xml_child(n, "Date");
        if (has_days == has_date) return bad(p, S3E_MalformedXML, NULL);
        if (has_days && (e = days_of(p, n, "Days", true, "Transition", &t->days))) return e;
        if (has_date) {
            if (count_children(n, "Date") > 1) return bad(p, S3E_MalformedXML, NULL);
            if ((t->date_sec = parse_date(xml_child_text(p->a, n, "Date"))) < 0)
                return bad(p, S3E_InvalidArgument, "'Date' must be at midnight GMT");
        }
    }
    if (count_children(n, "StorageClass") != 1) return bad(p, S3E_MalformedXML, NULL);
    const char *sc = s3_storage_class_parse(xml_child_text(p->a, n, "StorageClass"));
    if (!sc) return bad(p, S3E_InvalidStorageClass, NULL);
    if (!strcmp(sc, "Standard"))
        return bad(p, S3E_InvalidArgument, "'StorageClass' of a transition must be IA or Archive");
    snprintf(t->storage_class, sizeof t->storage_class, "%s", sc);
    return S3E_OK;
}

/* A size bound of a filter. S3 types it Long: what is not an integer does not fit the schema
 * (MalformedXML); an integer outside S3's range is InvalidRequest with S3's message. */
static s3_err size_of(pctx *p, xml_node *n, int64_t min, int64_t *out)
{
    const char *name = xml_name(n), *s = xml_text(p->a, n);
    bool neg = *s == '-';
    const char *d = s + neg;
    if (!*d) return bad(p, S3E_MalformedXML, NULL);
    int64_t v = 0;
    bool big = false;   /* beyond S3's range, which is far inside int64 */
    for (; *d; d++) {
        if (*d < '0' || *d > '9') return bad(p, S3E_MalformedXML, NULL);
        if (!big && (v = v * 10 + (*d - '0')) > LC_MAX_SIZE) big = true;
    }
    if (neg && v) big = true;
    if (big || v < min)
        return bad(p, S3E_InvalidRequest,
                   arena_printf(p->a, "'%s' should be between %lld and %lld.", name, (long long)min,
                                (long long)LC_MAX_SIZE));
    *out = v;
    return S3E_OK;
}

/* A Tag of a filter: exactly one Key and one Value. Its pair is spelled as an object's stored
 * tag set spells it (ops_tagging.c: each side percent-encoded by uri_encode), so that matching
 * compares bytes. */
static s3_err parse_tag(pctx *p, lc_rule *r, xml_node *t)
{
    static const char *const kv[] = {"Key", "Value", NULL};
    if (!only_children(t, kv) || count_children(t, "Key") != 1 || count_children(t, "Value") != 1)
        return bad(p, S3E_MalformedXML, NULL);
    xml_node *kn = xml_child(t, "Key"), *vn = xml_child(t, "Value");
    if (xml_next_child(kn, NULL) || xml_next_child(vn, NULL)) return bad(p, S3E_MalformedXML, NULL);   /* text only */
    const char *k = xml_text(p->a, kn), *v = xml_text(p->a, vn);
    /* What no object can carry, no rule may ask for: the object tags' own checks. */
    const char *why = s3_tag_key_problem(k);
    if (!why) why = s3_tag_value_problem(v);
    if (why) return bad(p, S3E_InvalidTag, why);
    for (int i = 0; i < r->ntags; i++)
        if (!strcmp(r->tags[i].key, k)) return bad(p, S3E_InvalidRequest, "Duplicate Tag Keys are not allowed.");
    if (r->ntags == LC_MAX_TAGS) return bad(p, S3E_InvalidRequest, "A rule's filter has at most 50 tags.");
    if (!r->tags) r->tags = arena_alloc(p->a, LC_MAX_TAGS * sizeof *r->tags);
    r->tags[r->ntags++] = (lc_tag){k, v, s3_tag_pair(p->a, k, v)};
    return S3E_OK;
}

/* One predicate: Prefix, a Tag or a size bound. */
static s3_err parse_predicate(pctx *p, lc_rule *r, xml_node *c)
{
    const char *name = xml_name(c);
    if (!strcmp(name, "Prefix")) {
        r->prefix = xml_text(p->a, c);
        return S3E_OK;
    }
    if (!strcmp(name, "Tag")) return parse_tag(p, r, c);
    if (!strcmp(name, "ObjectSizeGreaterThan")) return size_of(p, c, 0, &r->size_gt);
    return size_of(p, c, 1, &r->size_lt);
}

/* S3: a Filter holds at most one predicate, and And two or more (an empty Prefix counts: S3
 * accepted And{Prefix "", ObjectSizeGreaterThan}); in And, Tag may repeat, nothing else. */
static s3_err parse_filter(pctx *p, lc_rule *r, xml_node *f)
{
    static const char *const one[] = {"Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan", "And", NULL};
    static const char *const in_and[] = {"Prefix", "Tag", "ObjectSizeGreaterThan", "ObjectSizeLessThan", NULL};
    static const char *const once[] = {"Prefix", "ObjectSizeGreaterThan", "ObjectSizeLessThan", NULL};
    r->prefix = "";
    if (!only_children(f, one)) return bad(p, S3E_MalformedXML, NULL);
    xml_node *c = xml_next_child(f, NULL);
    if (!c) return S3E_OK;   /* the whole bucket */
    if (xml_next_child(f, c)) return bad(p, S3E_MalformedXML, NULL);
    if (strcmp(xml_name(c), "And") != 0) return parse_predicate(p, r, c);
    int n = 0;
    for (xml_node *k = xml_next_child(c, NULL); k; k = xml_next_child(c, k)) n++;
    if (n < 2 || !only_children(c, in_and)) return bad(p, S3E_MalformedXML, NULL);
    for (int i = 0; once[i]; i++)
        if (count_children(c, once[i]) > 1) return bad(p, S3E_MalformedXML, NULL);
    s3_err e = S3E_OK;
    for (xml_node *k = xml_next_child(c, NULL); k && !e; k = xml_next_child(c, k)) e = parse_predicate(p, r, k);
    if (!e && r->size_gt >= 0 && r->size_lt >= 0 && r->size_lt <= r->size_gt)
        e = bad(p, S3E_InvalidRequest, "'ObjectSizeLessThan' has to be a value greater than 'ObjectSizeGreaterThan'.");
    return e;
}

static s3_err parse_rule(pctx *p, xml_node *n, lc_rule *r)
{
    static const char *const allowed[] = {"ID", "Filter", "Prefix", "Status", "Expiration", "Transition",
                                          "NoncurrentVersionExpiration", "NoncurrentVersionTransition",
                                          "AbortIncompleteMultipartUpload", NULL};
    if (!only_children(n, allowed)) return bad(p, S3E_MalformedXML, NULL);
    static const char *const once[] = {"ID", "Filter", "Prefix", "Status", "Expiration",
                                       "NoncurrentVersionExpiration", "AbortIncompleteMultipartUpload", NULL};
    for (int i = 0; once[i]; i++)
        if (count_children(n, once[i]) > 1) return bad(p, S3E_MalformedXML, NULL);
    memset(r, 0, sizeof *r);
    r->exp_days = r->exp_date_sec = r->nc_exp_days = r->abort_days = r->size_gt = r->size_lt = -1;

    const char *id = xml_child_text(p->a, n, "ID");
    if (id && strlen(id) > LC_MAX_ID)
        return bad(p, S3E_InvalidArgument, "ID length should not exceed allowed limit of 255");
    if (id && !utf8_valid(id, strlen(id))) return bad(p, S3E_InvalidArgument, "ID must be valid UTF-8");
    if (!id || !*id) {
        char hex[33];
        random_hex_upper(16, hex);
        id = arena_strdup(p->a, hex);
    }
    r->id = id;

    xml_node *filter = xml_child(n, "Filter");
    xml_node *prefix = xml_child(n, "Prefix");
    if (filter && prefix) return bad(p, S3E_MalformedXML, NULL);
    if (!filter && !prefix) return bad(p, S3E_MalformedXML, NULL);
    s3_err e;
    if (filter && (e = parse_filter(p, r, filter))) return e;
    if (prefix) {
        r->prefix = xml_text(p->a, prefix);
        r->legacy_prefix = true;
    }
    if (strlen(r->prefix) > S3_MAX_KEY) return bad(p, S3E_InvalidArgument, "The prefix is longer than 1024 bytes.");

    const char *status = xml_child_text(p->a, n, "Status");
    if (!status) return bad(p, S3E_MalformedXML, NULL);
    if (!strcmp(status, "Enabled")) r->enabled = true;
    else if (strcmp(status, "Disabled") != 0) return bad(p, S3E_MalformedXML, NULL);

    xml_node *exp = xml_child(n, "Expiration");
    if (exp) {
        static const char *const ex[] = {"Days", "Date", "ExpiredObjectDeleteMarker", NULL};
        if (!only_children(exp, ex)) return bad(p, S3E_MalformedXML, NULL);
        int k = !!xml_child(exp, "Days") + !!xml_child(exp, "Date") + !!xml_child(exp, "ExpiredObjectDeleteMarker");
        if (k != 1) return bad(p, S3E_MalformedXML, NULL);
        r->has_expiration = true;
        if (xml_child(exp, "Days") && (e = days_of(p, exp, "Days", false, "Expiration", &r->exp_days))) return e;
        if (xml_child(exp, "Date")) {
            if (count_children(exp, "Date") > 1) return bad(p, S3E_MalformedXML, NULL);
            if ((r->exp_date_sec = parse_date(xml_child_text(p->a, exp, "Date"))) < 0)
                return bad(p, S3E_InvalidArgument, "'Date' must be at midnight GMT");
        }
        if (xml_child(exp, "ExpiredObjectDeleteMarker")) {
            if (count_children(exp, "ExpiredObjectDeleteMarker") > 1) return bad(p, S3E_MalformedXML, NULL);
            const char *v = xml_child_text(p->a, exp, "ExpiredObjectDeleteMarker");
            if (!strcmp(v, "true")) r->exp_delete_marker = true;
            else if (strcmp(v, "false") != 0) return bad(p, S3E_MalformedXML, NULL);
        }
    }

    for (xml_node *c = xml_next_child(n, NULL); c; c = xml_next_child(n, c)) {
        bool cur = !strcmp(xml_name(c), "Transition"), nc = !strcmp(xml_name(c), "NoncurrentVersionTransition");
        if (!cur && !nc) continue;
        int *count = cur ? &r->ntrans : &r->nnctrans;
        if (*count == LC_MAX_TRANSITIONS)
            return bad(p, S3E_InvalidArgument, "A rule has at most 8 transitions of each kind.");
        lc_transition *t = cur ? &r->trans[*count] : &r->nctrans[*count];
        if ((e = parse_transition(p, c, nc, t))) return e;
        (*count)++;
    }
    /* Transitions of one rule: all by days or all by date, one per class, colder later. */
    for (int i = 0; i < r->ntrans; i++) {
        for (int j = 0; j < r->ntrans; j++) {
            if (i == j) continue;
            const lc_transition *a = &r->trans[i], *b = &r->trans[j];
            if ((a->days < 0) != (b->days < 0))
                return bad(p, S3E_InvalidRequest, "Found mixed 'Date' and 'Days' based Transition actions in lifecycle rule");
            if (!strcmp(a->storage_class, b->storage_class))
                return bad(p, S3E_InvalidRequest, "'StorageClass' must be different for 'Transition' actions in same 'Rule'");
            if (lc_class_rank(a->storage_class) < lc_class_rank(b->storage_class) &&
                (a->days >= 0 ? a->days >= b->days : a->date_sec >= b->date_sec))
                return bad(p, S3E_InvalidArgument, "A transition to a colder class must come later than one to IA");
        }
        const lc_transition *t = &r->trans[i];
        if (r->exp_days >= 0 && t->days >= 0 && r->exp_days <= t->days)
            return bad(p, S3E_InvalidArgument, "'Days' in the Expiration action must be greater than 'Days' in the Transition action");
        if (r->exp_date_sec >= 0 && t->date_sec >= 0 && r->exp_date_sec <= t->date_sec)
            return bad(p, S3E_InvalidArgument, "'Date' in the Expiration action must be later than 'Date' in the Transition action");
        if ((r->exp_days >= 0 && t->date_sec >= 0) || (r->exp_date_sec >= 0 && t->days >= 0))
            return bad(p, S3E_InvalidRequest, "Found mixed 'Date' and 'Days' based Expiration and Transition actions in lifecycle rule");
    }

    xml_node *nce = xml_child(n, "NoncurrentVersionExpiration");
    if (nce) {
        static const char *const ne[] = {"NoncurrentDays", "NewerNoncurrentVersions", NULL};
        if (!only_children(nce, ne) || !xml_child(nce, "NoncurrentDays")) return bad(p, S3E_MalformedXML, NULL);
        if ((e = days_of(p, nce, "NoncurrentDays", false, "NoncurrentVersionExpiration", &r->nc_exp_days))) return e;
    }
    xml_node *ab = xml_child(n, "AbortIncompleteMultipartUpload");
    if (ab) {
        static const char *const ae[] = {"DaysAfterInitiation", NULL};
        if (!only_children(ab, ae) || !xml_child(ab, "DaysAfterInitiation")) return bad(p, S3E_MalformedXML, NULL);
        if ((e = days_of(p, ab, "DaysAfterInitiation", false, "AbortIncompleteMultipartUpload", &r->abort_days)))
            return e;
    }
    /* An upload has no size yet, and S3 keeps delete markers out of size filters too. */
    bool sized = r->size_gt >= 0 || r->size_lt >= 0;
    if (sized && r->abort_days >= 0)
        return bad(p, S3E_InvalidRequest, "AbortIncompleteMultipartUpload cannot be specified with Object Size.");
    if (sized && exp && xml_child(exp, "ExpiredObjectDeleteMarker"))
        return bad(p, S3E_InvalidRequest, "ExpiredObjectDeleteMarker cannot be specified with Object Size.");
    /* Nor do uploads and delete markers have tags. */
    if (r->ntags && r->abort_days >= 0)
        return bad(p, S3E_InvalidRequest, "AbortIncompleteMultipartUpload cannot be specified with Tags.");
    if (r->ntags && exp && xml_child(exp, "ExpiredObjectDeleteMarker"))
        return bad(p, S3E_InvalidRequest, "ExpiredObjectDeleteMarker cannot be specified with Tags.");
    if (!r->has_expiration && r->ntrans == 0 && r->nnctrans == 0 && r->nc_exp_days < 0 && r->abort_days < 0)
        return bad(p, S3E_InvalidRequest, "At least one action needs to be specified in a rule");
    return S3E_OK;
}

s3_err lc_parse(arena *a, const char *xml, size_t len, lc_config *out, const char **msg)
{
    pctx p = {a, msg};
    *msg = NULL;
    memset(out, 0, sizeof *out);
    xml_doc *d = xml_parse(xml, len);
    xml_node *root = d ? xml_root(d, "LifecycleConfiguration") : NULL;
    s3_err e = S3E_OK;
    if (!root) e = S3E_MalformedXML;
    static const char *const top[] = {"Rule", NULL};
    if (!e && !only_children(root, top)) e = S3E_MalformedXML;
    int n = e ? 0 : count_children(root, "Rule");
    if (!e && n == 0) e = S3E_MalformedXML;
    if (!e && n > LC_MAX_RULES)
        e = bad(&p, S3E_InvalidArgument, "The lifecycle configuration has more than 1000 rules.");
    if (!e) {
        /* Only the stored form has it; an unknown value is left at the default, as PUT sets
         * the setting from its header whatever the body holds. */
        int m = lc_min_size_parse(xml_attr(a, root, "TransitionDefaultMinimumObjectSize"));
        out->min_size = m < 0 ? LC_MIN_VARIES : (lc_min_size)m;
        out->rules = arena_alloc(a, (size_t)n * sizeof *out->rules);
        for (xml_node *c = xml_next_child(root, NULL); c && !e; c = xml_next_child(root, c))
            e = parse_rule(&p, c, &out->rules[out->nrules++]);
        for (int i = 0; i < out->nrules; i++) out->has_tags |= out->rules[i].ntags > 0;
    }
    /* IDs are unique: rules are named by them in x-wos-expiration. Quadratic is fine at 1000. */
    for (int i = 0; !e && i < out->nrules; i++)
        for (int j = i + 1; !e && j < out->nrules; j++)
            if (!strcmp(out->rules[i].id, out->rules[j].id))
                e = bad(&p, S3E_InvalidArgument, "Rule ID must be unique. Found same ID for more than one rule");
    xml_doc_free(d);
    if (e) memset(out, 0, sizeof *out);
    return e;
}

/* --- writing ----------------------------------------------------------------------------- */

static void write_date(xmlw *w, const char *name, int64_t sec)
{
    char ts[25];
    time_fmt_iso_ms(sec * 1000, ts);
    xml_elem(w, name, ts);
}

static void write_transition(xmlw *w, const char *tag, const lc_transition *t, bool noncurrent)
{
    xml_open(w, tag);
    if (noncurrent) xml_elem_i64(w, "NoncurrentDays", t->days);
    else if (t->days >= 0) xml_elem_i64(w, "Days", t->days);
    else write_date(w, "Date", t->date_sec);
    xml_elem(w, "StorageClass", t->storage_class);
    xml_close(w, tag);
}

/* One condition stands alone in Filter; two or more go in And: Prefix, the Tags, the sizes, as
 * S3 writes them. An empty prefix is no condition, so And{Prefix "", ObjectSizeGreaterThan}
 * comes back as Filter{...GreaterThan}. */
static void write_filter(xmlw *w, const lc_rule *r)
{
    bool several = (*r->prefix != 0) + r->ntags + (r->size_gt >= 0) + (r->size_lt >= 0) > 1;
    xml_open(w, "Filter");
    if (several) xml_open(w, "And");
    if (*r->prefix) xml_elem(w, "Prefix", r->prefix);
    for (int i = 0; i < r->ntags; i++) {
        xml_open(w, "Tag");
        xml_elem(w, "Key", r->tags[i].key);
        xml_elem(w, "Value", r->tags[i].value);
        xml_close(w, "Tag");
    }
    if (r->size_gt >= 0) xml_elem_i64(w, "ObjectSizeGreaterThan", r->size_gt);
    if (r->size_lt >= 0) xml_elem_i64(w, "ObjectSizeLessThan", r->size_lt);
    if (several) xml_close(w, "And");
    xml_close(w, "Filter");
}

void lc_write(xmlw *w, const lc_config *c, const char *ns, bool standalone)
{
    /* The attribute rides in the root's name: the writer has no attributes, and the values
     * are fixed strings that need no escaping. */
    const char *root = "LifecycleConfiguration";
    if (!ns)
        root = c->min_size == LC_MIN_128K
                   ? "LifecycleConfiguration TransitionDefaultMinimumObjectSize=\"all_storage_classes_128K\""
                   : "LifecycleConfiguration TransitionDefaultMinimumObjectSize=\"varies_by_storage_class\"";
    xml_begin(w, root, ns, standalone);
    for (int i = 0; i < c->nrules; i++) {
        const lc_rule *r = &c->rules[i];
        xml_open(w, "Rule");
        xml_elem(w, "ID", r->id);
        if (r->legacy_prefix) {
            xml_elem(w, "Prefix", r->prefix);
        } else {
            write_filter(w, r);
        }
        xml_elem(w, "Status", r->enabled ? "Enabled" : "Disabled");
        for (int t = 0; t < r->ntrans; t++) write_transition(w, "Transition", &r->trans[t], false);
        if (r->has_expiration) {
            xml_open(w, "Expiration");
            if (r->exp_days >= 0) xml_elem_i64(w, "Days", r->exp_days);
            else if (r->exp_date_sec >= 0) write_date(w, "Date", r->exp_date_sec);
            else xml_elem(w, "ExpiredObjectDeleteMarker", r->exp_delete_marker ? "true" : "false");
            xml_close(w, "Expiration");
        }
        for (int t = 0; t < r->nnctrans; t++)
            write_transition(w, "NoncurrentVersionTransition", &r->nctrans[t], true);
        if (r->nc_exp_days >= 0) {
            xml_open(w, "NoncurrentVersionExpiration");
            xml_elem_i64(w, "NoncurrentDays", r->nc_exp_days);
            xml_close(w, "NoncurrentVersionExpiration");
        }
        if (r->abort_days >= 0) {
            xml_open(w, "AbortIncompleteMultipartUpload");
            xml_elem_i64(w, "DaysAfterInitiation", r->abort_days);
            xml_close(w, "AbortIncompleteMultipartUpload");
        }
        xml_close(w, "Rule");
    }
    xml_end(w, "LifecycleConfiguration");
}

/* --- the default minimum size of transitions ---------------------------------------------- */

int lc_min_size_parse(const char *v)
{
    if (!v) return -1;
    if (!strcmp(v, "all_storage_classes_128K")) return LC_MIN_128K;
    if (!strcmp(v, "varies_by_storage_class")) return LC_MIN_VARIES;
    return -1;
}

const char *lc_min_size_name(lc_min_size m)
{
    return m == LC_MIN_128K ? "all_storage_classes_128K" : "varies_by_storage_class";
}

/* S3 transitions nothing under 128 KiB by default; a rule that names a size chooses for itself. */
static bool transitions_size(const lc_config *c, const lc_rule *r, int64_t size)
{
    return c->min_size != LC_MIN_128K || size >= LC_MIN_TRANSITION_SIZE || r->size_gt >= 0 || r->size_lt >= 0;
}

/* --- matching ---------------------------------------------------------------------------- */

int lc_class_rank(const char *sc)
{
    if (!sc) return 0;
    if (!strcmp(sc, "IA")) return 1;
    if (!strcmp(sc, "Archive")) return 2;
    return 0;
}

static bool rule_covers_key(const lc_rule *r, const char *key)
{
    return r->enabled && strncmp(key, r->prefix, strlen(r->prefix)) == 0;
}

/* Whether the stored tag set ("k=v&k2=v2", canonical) holds the pair: a whole item of it. */
static bool has_pair(const char *tags, const char *pair)
{
    size_t n = strlen(pair);
    for (const char *p = tags; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len == n && !memcmp(p, pair, n)) return true;
        p += len + (amp ? 1 : 0);
    }
    return false;
}

/* S3's size bounds are exclusive: an object of exactly ObjectSizeGreaterThan bytes is not in.
 * Every tag of the filter must be the object's, with the same value. */
static bool rule_applies(const lc_rule *r, const char *key, int64_t size, const char *tags)
{
    if (!rule_covers_key(r, key) || (r->size_gt >= 0 && size <= r->size_gt) || (r->size_lt >= 0 && size >= r->size_lt))
        return false;
    for (int i = 0; i < r->ntags; i++)
        if (!has_pair(tags, r->tags[i].pair)) return false;
    return true;
}

bool lc_needs_tags(const lc_config *c) { return c->has_tags; }

/* The moment `days` lifecycle days after t_ms. With real days, S3 rounds up to the next
 * midnight UTC; shortened days are exact, so tests can predict them. */
static int64_t after_days(int64_t t_ms, int64_t days, int64_t day_ms)
{
    int64_t at = t_ms + days * day_ms;
    if (day_ms == LC_DAY_MS && at % LC_DAY_MS) at += LC_DAY_MS - at % LC_DAY_MS;
    return at;
}

static int64_t rule_expiry(const lc_rule *r, int64_t mtime_ms, int64_t day_ms)
{
    if (r->exp_days >= 0) return after_days(mtime_ms, r->exp_days, day_ms);
    if (r->exp_date_sec >= 0) return r->exp_date_sec * 1000;
    return -1;
}

const lc_rule *lc_expiry(const lc_config *c, const char *key, int64_t size, const char *tags, int64_t mtime_ms,
                         int64_t day_ms, int64_t *at_ms)
{
    const lc_rule *best = NULL;
    int64_t when = 0;
    for (int i = 0; i < c->nrules; i++) {
        const lc_rule *r = &c->rules[i];
        if (!rule_applies(r, key, size, tags)) continue;
        int64_t at = rule_expiry(r, mtime_ms, day_ms);
        if (at >= 0 && (!best || at < when)) {
            best = r;
            when = at;
        }
    }
    if (best && at_ms) *at_ms = when;
    return best;
}

lc_action lc_object_action(const lc_config *c, const char *key, int64_t size, const char *tags, int64_t mtime_ms,
                           const char *storage_class, int64_t now_ms, int64_t day_ms, const char **to_class,
                           const lc_rule **rule)
{
    int64_t at;
    const lc_rule *r = lc_expiry(c, key, size, tags, mtime_ms, day_ms, &at);
    if (r && at <= now_ms) {
        if (rule) *rule = r;
        return LC_EXPIRE;
    }
    /* Of the transitions that are due, the coldest wins: an object late for IA and due for
     * Archive goes straight to Archive. Never back to a warmer class. */
    int have = lc_class_rank(storage_class), best = have;
    const lc_rule *by = NULL;
    const char *cls = NULL;
    for (int i = 0; i < c->nrules; i++) {
        const lc_rule *ru = &c->rules[i];
        if (!rule_applies(ru, key, size, tags) || !transitions_size(c, ru, size)) continue;
        for (int t = 0; t < ru->ntrans; t++) {
            const lc_transition *tr = &ru->trans[t];
            int64_t due = tr->days >= 0 ? after_days(mtime_ms, tr->days, day_ms) : tr->date_sec * 1000;
            int rank = lc_class_rank(tr->storage_class);
            if (due <= now_ms && rank > best) {
                best = rank;
                by = ru;
                cls = tr->storage_class;
            }
        }
    }
    if (!cls) return LC_KEEP;
    *to_class = cls;
    if (rule) *rule = by;
    return LC_TRANSITION;
}

bool lc_upload_expired(const lc_config *c, const char *key, int64_t initiated_ms, int64_t now_ms, int64_t day_ms)
{
    for (int i = 0; i < c->nrules; i++) {
        const lc_rule *r = &c->rules[i];
        /* No size or tags to match: lc_parse refuses an abort in a rule with either. */
        if (rule_covers_key(r, key) && r->abort_days >= 0 && after_days(initiated_ms, r->abort_days, day_ms) <= now_ms)
            return true;
    }
    return false;
}
