/* objhdr — the headers an object keeps: which request headers are stored, how user metadata
 * from either dialect becomes one stored form, and how they come back in a response. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_internal.h"
#include "util/str.h"

static const char *system_headers[] = {
    "content-type", "cache-control", "content-disposition", "content-encoding",
    "content-language", "expires", NULL,
};

/* The canonical spelling S3 answers with. */
static const char *system_spelling[] = {
    "Content-Type", "Cache-Control", "Content-Disposition", "Content-Encoding",
    "Content-Language", "Expires", NULL,
};

s3_err s3_headers_collect(s3_req *q, const char **out)
{
    size_t n = http_header_count(q->http);
    const char **names = arena_alloc(q->a, (n + 1) * sizeof *names);
    const char **values = arena_alloc(q->a, (n + 1) * sizeof *values);
    for (size_t i = 0; i < n; i++) http_header_at(q->http, i, &names[i], &values[i]);
    return s3_headers_collect_pairs(q, n, names, values, out);
}

s3_err s3_headers_collect_pairs(s3_req *q, size_t n, const char **names, const char **values, const char **out)
{
    buf b = {0};
    size_t meta_size = 0;
    const char *wos_tags = NULL, *amz_tags = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *name = names[i], *value = values[i];
        /* What is kept starts with c (content-*, cache-control), e (expires) or x (metadata):
         * most of a request's headers (host, authorization, x-amz-date …) go by on one test. */
        char c0 = (char)(name[0] | 0x20);
        if (c0 != 'c' && c0 != 'e' && c0 != 'x') continue;
        const char *stored = NULL;
        for (int k = 0; system_headers[k]; k++)
            if (strcasecmp(name, system_headers[k]) == 0) stored = system_headers[k];
        bool is_meta = str_has_prefix_ci(name, "x-wos-meta-") || str_has_prefix_ci(name, "x-amz-meta-");
        if (!is_meta && !strcasecmp(name, "x-wos-tagging")) {
            if (!wos_tags) wos_tags = value;
            continue;
        }
        if (!is_meta && !strcasecmp(name, "x-amz-tagging")) {
            if (!amz_tags) amz_tags = value;
            continue;
        }
        /* One line per header: a line break in a stored name or value (possible in a POST form
         * field) would forge lines such as the ACL's. */
        if ((stored || is_meta) && (strpbrk(name, "\r\n") || strpbrk(value, "\r\n"))) {
            buf_free(&b);
            return s3_fail(q, S3E_InvalidArgument, "Header values must not contain line breaks.");
        }
        if (stored) {
            /* aws-chunked is a transfer detail, not the object's encoding. */
            if (strcmp(stored, "content-encoding") == 0) {
                const char *v = value;
                if (strcasecmp(v, "aws-chunked") == 0) continue;
                if (str_has_prefix_ci(v, "aws-chunked,")) value = v + 12;
                while (*value == ' ') value++;
            }
            buf_printf(&b, "%s:%s\n", stored, value);
            continue;
        }
        const char *mname = NULL;
        if (str_has_prefix_ci(name, "x-wos-meta-") || str_has_prefix_ci(name, "x-amz-meta-")) mname = name + 11;
        if (mname && *mname) {
            meta_size += strlen(mname) + strlen(value);
            buf_puts(&b, "x-meta-");
            for (const char *p = mname; *p; p++) {
                char c = (char)tolower((unsigned char)*p);
                buf_append(&b, &c, 1);
            }
            buf_printf(&b, ":%s\n", value);
        }
    }
    /* The tag set: x-wos-tagging's when given, else x-amz-tagging's (as s3_xhdr chooses). A
     * copy decides its tags itself (x-amz-tagging-directive), so it takes none here. */
    const char *tagging = wos_tags ? wos_tags : amz_tags;
    if (tagging && q->op != &op_copy_object) {
        const char *tags;
        s3_err e = s3_tagging_from_header(q, tagging, &tags);
        if (e) {
            buf_free(&b);
            return e;
        }
        if (*tags) {
            buf_printf(&b, "%s:%s\n", S3_TAGGING_HEADER, tags);
            q->sets_tags = true;
        }
    }
    if (meta_size > S3_MAX_USER_META) {
        buf_free(&b);
        return S3E_MetadataTooLarge;
    }
    *out = b.data ? arena_strdup(q->a, b.data) : "";
    buf_free(&b);
    return S3E_OK;
}

void s3_headers_emit(s3_req *q, const char *stored, bool with_checksums)
{
    const char *meta_prefix = q->dialect == DIALECT_AWS ? "x-amz-meta-" : "x-wos-meta-";
    for (const char *p = stored; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        const char *colon = memchr(p, ':', len);
        if (colon) {
            char *name = arena_strndup(q->a, p, (size_t)(colon - p));
            char *value = arena_strndup(q->a, colon + 1, len - (size_t)(colon - p) - 1);
            if (strncmp(name, "x-wosd-", 7) == 0) {
                /* internal bookkeeping (e.g. the upload an object was completed from) */
            } else if (strncmp(name, "x-meta-", 7) == 0) {
                http_resp_header(q->http, arena_printf(q->a, "%s%s", meta_prefix, name + 7), value);
            } else if (strncmp(name, "x-amz-checksum-", 15) == 0) {
                if (with_checksums) http_resp_header(q->http, name, value);
            } else {
                const char *spelled = name;
                for (int k = 0; system_headers[k]; k++)
                    if (strcmp(name, system_headers[k]) == 0) spelled = system_spelling[k];
                http_resp_header(q->http, spelled, value);
            }
        }
        p += len + (nl ? 1 : 0);
    }
}

const char *s3_headers_find_in(arena *a, const char *stored, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = stored; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && p[nl] == ':' && strncmp(p, name, nl) == 0)
            return arena_strndup(a, p + nl + 1, len - nl - 1);
        p += len + (end ? 1 : 0);
    }
    return NULL;
}

const char *s3_headers_find(s3_req *q, const char *stored, const char *name)
{
    return s3_headers_find_in(q->a, stored, name);
}

/* --- canned ACLs ------------------------------------------------------------------------------ */

const char *s3_canned_acl(const char *v)
{
    static const char *const known[] = {"private", "public-read", "public-read-write", "authenticated-read", NULL};
    if (!v) return NULL;
    for (int i = 0; known[i]; i++)
        if (strcasecmp(v, known[i]) == 0) return known[i];
    return NULL;
}

/* One pass over the headers (every write asks, and six s3_xhdr passes showed in a small
 * write's profile): a grant header refuses the request; the ACL is x-wos-acl's, else x-amz-acl's. */
s3_err s3_acl_from_request(s3_req *q, const char **acl)
{
    *acl = NULL;
    static const char *const grants[] = {"grant-read", "grant-write", "grant-read-acp", "grant-write-acp",
                                         "grant-full-control", NULL};
    const char *wos = NULL, *amz = NULL;
    size_t n = http_header_count(q->http);
    for (size_t i = 0; i < n; i++) {
        const char *name, *value;
        http_header_at(q->http, i, &name, &value);
        if ((name[0] | 0x20) != 'x') continue;
        bool is_wos = str_has_prefix_ci(name, "x-wos-");
        if (!is_wos && !str_has_prefix_ci(name, "x-amz-")) continue;
        const char *suffix = name + 6;
        if ((suffix[0] | 0x20) == 'g') {
            for (int k = 0; grants[k]; k++)
                if (strcasecmp(suffix, grants[k]) == 0)
                    return s3_fail(q, S3E_NotImplemented, "Only canned ACLs are supported, not x-amz-grant-* headers.");
        } else if (strcasecmp(suffix, "acl") == 0) {
            const char **first = is_wos ? &wos : &amz;
            if (!*first) *first = value;
        }
    }
    const char *v = wos ? wos : amz;
    if (!v) return S3E_OK;
    if (!(*acl = s3_canned_acl(v)))
        return s3_fail(q, S3E_NotImplemented,
                       "Only the canned ACLs private, public-read, public-read-write and authenticated-read are supported.");
    return S3E_OK;
}

const char *s3_headers_set_line(s3_req *q, const char *stored, const char *name, const char *value)
{
    size_t nl_name = strlen(name);
    buf b = {0};
    for (const char *p = stored; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (!(len > nl_name && p[nl_name] == ':' && strncmp(p, name, nl_name) == 0)) buf_append(&b, p, len);
        p += len;
    }
    if (b.len && b.data[b.len - 1] != '\n') buf_puts(&b, "\n");
    if (value) buf_printf(&b, "%s:%s\n", name, value);
    const char *out = b.data ? arena_strdup(q->a, b.data) : "";
    buf_free(&b);
    return out;
}

const char *s3_headers_set_acl(s3_req *q, const char *stored, const char *acl)
{
    return s3_headers_set_line(q, stored, S3_ACL_HEADER, acl && strcmp(acl, "private") != 0 ? acl : NULL);
}

const char *s3_headers_acl(s3_req *q, const char *stored)
{
    const char *v = s3_headers_find(q, stored, S3_ACL_HEADER);
    const char *acl = v ? s3_canned_acl(v) : NULL;
    return acl ? acl : "private";
}
