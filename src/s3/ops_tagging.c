/* ops_tagging — object tags, as S3 has them: GetObjectTagging, PutObjectTagging and
 * DeleteObjectTagging (`?tagging` on a key), and the tag set a write gives in x-amz-tagging
 * (PutObject, CreateMultipartUpload, CopyObject with x-amz-tagging-directive: REPLACE).
 *
 * A tag set is a stored header line, "x-wosd-tagging:<k>=<v>&…" with keys and values
 * percent-encoded, so that it travels wherever an object's headers do (an upload's headers
 * become its object's at Complete; a copy takes them or replaces them) and s3_headers_emit never
 * sends it. Changing the tags changes no byte, ETag or Last-Modified: only the headers column of
 * the version read. A bucket has no tags (ops_bucket_none.c: GET says none, PUT is 501). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/authz.h"
#include "s3/s3_internal.h"
#include "s3/xml_in.h"
#include "util/str.h"

enum { MAX_TAGS = 10, MAX_KEY = 128, MAX_VALUE = 256 };

typedef struct tag {
    const char *key, *value;
} tag;

/* Unicode characters in s (valid UTF-8: continuation bytes are not counted). */
static size_t chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* The code point starting at *p (valid UTF-8), advancing *p past it. */
static unsigned next_cp(const unsigned char **p)
{
    const unsigned char *s = *p;
    unsigned c = s[0];
    int n = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    if (n) c &= 0x3Fu >> n;
    for (int i = 1; i <= n; i++) c = (c << 6) | (s[i] & 0x3Fu);
    *p = s + n + 1;
    return c;
}

/* S3's pattern for a tag's key and value, ^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$: ASCII letters, digits,
 * space and those seven signs. Beyond ASCII there are no Unicode tables here: a character is
 * taken for a letter, separator or number unless it is a control (U+0080–U+009F), the BOM, or
 * in the blocks of pictographs and emoji (U+2190–U+2BFF, U+1F000–U+1FAFF), which S3 refuses. */
static bool tag_chars_ok(const char *s)
{
    if (!utf8_valid(s, strlen(s))) return false;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned c = next_cp(&p);
        if (c >= 0x80) {
            if ((c >= 0x80 && c <= 0x9F) || c == 0xFEFF || (c >= 0x2190 && c <= 0x2BFF) ||
                (c >= 0x1F000 && c <= 0x1FAFF))
                return false;
            continue;
        }
        if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) continue;
        if (!strchr(" _.:/=+-@", (int)c)) return false;
    }
    return true;
}

const char *s3_tag_pair(arena *a, const char *key, const char *value)
{
    return arena_printf(a, "%s=%s", uri_encode(a, key, strlen(key), false), uri_encode(a, value, strlen(value), false));
}

const char *s3_tag_key_problem(const char *key)
{
    if (!*key || !tag_chars_ok(key)) return "The TagKey you have provided is invalid";
    if (chars(key) > MAX_KEY) return "The TagKey you have provided is too long, max 128";
    if (!strncmp(key, "aws:", 4)) return "Your TagKey cannot be prefixed with aws:";
    return NULL;
}

const char *s3_tag_value_problem(const char *value)
{
    if (!tag_chars_ok(value)) return "The TagValue you have provided is invalid";
    if (chars(value) > MAX_VALUE) return "The TagValue you have provided is too long, max 256";
    return NULL;
}

/* The checks S3 makes of a tag set, in its order and words. dup_err: what a repeated key is
 * (InvalidTag in a Tagging document; the x-amz-tagging header's own InvalidArgument). */
static s3_err tags_check(s3_req *q, const tag *t, int n, s3_err dup_err, const char *dup_message)
{
    if (n > MAX_TAGS) return s3_fail(q, S3E_BadRequest, "Object tags cannot be greater than 10");
    for (int i = 0; i < n; i++) {
        const char *why = s3_tag_key_problem(t[i].key);
        if (!why) why = s3_tag_value_problem(t[i].value);
        if (why) return s3_fail(q, S3E_InvalidTag, why);
        for (int j = 0; j < i; j++)
            if (!strcmp(t[i].key, t[j].key)) return s3_fail(q, dup_err, dup_message);
    }
    return S3E_OK;
}

/* The stored form of a checked tag set ("" when empty). */
static const char *tags_encode(s3_req *q, const tag *t, int n)
{
    buf b = {0};
    for (int i = 0; i < n; i++) {
        if (i) buf_puts(&b, "&");
        buf_puts(&b, s3_tag_pair(q->a, t[i].key, t[i].value));
    }
    const char *out = b.data ? arena_strdup(q->a, b.data) : "";
    buf_free(&b);
    return out;
}

/* Splits "k=v&k2=v2" (percent-encoded, '+' a space as in any query) into at most cap tags;
 * returns how many there are (more than cap: cap + 1), or -1 when it is not such a string. A
 * pair without '=' is a key with an empty value. */
static int tags_decode(arena *a, const char *s, tag *t, int cap)
{
    int n = 0;
    while (*s) {
        const char *amp = strchr(s, '&');
        size_t len = amp ? (size_t)(amp - s) : strlen(s);
        if (len) {
            if (n == cap) return cap + 1;
            const char *eq = memchr(s, '=', len);
            size_t kl = eq ? (size_t)(eq - s) : len, dl;
            char *k = url_decode(a, s, kl, true, &dl);
            if (!k || strlen(k) != dl) return -1;
            char *v = arena_strdup(a, "");
            if (eq && (!(v = url_decode(a, eq + 1, len - kl - 1, true, &dl)) || strlen(v) != dl)) return -1;
            t[n++] = (tag){k, v};
        }
        s += len + (amp ? 1 : 0);
    }
    return n;
}

s3_err s3_tagging_from_header(s3_req *q, const char *value, const char **stored)
{
    tag t[MAX_TAGS + 1];
    int n = tags_decode(q->a, value, t, MAX_TAGS + 1);
    static const char bad[] = "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query "
                              "parameters without tag name duplicates.";
    if (n < 0) return s3_fail(q, S3E_InvalidArgument, bad);
    /* A pair without a key, or bytes that are not UTF-8 once decoded, are not that encoding. */
    for (int i = 0; i < n && i <= MAX_TAGS; i++)
        if (!*t[i].key || !utf8_valid(t[i].key, strlen(t[i].key)) || !utf8_valid(t[i].value, strlen(t[i].value)))
            return s3_fail(q, S3E_InvalidArgument, bad);
    s3_err e = tags_check(q, t, n, S3E_InvalidArgument, bad);
    if (e) return e;
    *stored = tags_encode(q, t, n);
    return S3E_OK;
}

s3_err s3_tagging_write_allowed(s3_req *q, const char *bucket, const char *key, const char *tags)
{
    if (!q->sets_tags && !(tags && *tags)) return S3E_OK;
    return authz_check(q, IAM_ACT_PUT_OBJECT_TAGGING, bucket, key, "");
}

int s3_tagging_count(const char *stored)
{
    if (!stored || !*stored) return 0;
    int n = 1;
    for (const char *p = stored; *p; p++) n += *p == '&';
    return n;
}

/* --- the operations ---------------------------------------------------------------------- */

/* The object the request names, or its error. */
static s3_err tagged_object(s3_req *q, meta_object *o)
{
    if (!s3_bucket_name_valid(q->bucket)) return S3E_NoSuchBucket;
    meta_bucket b;
    meta_status st = authz_bucket(q->bucket, &b);
    if (st != META_OK) return st == META_NOT_FOUND ? S3E_NoSuchBucket : S3E_InternalError;
    st = meta_object_get(q->cfg->meta, q->bucket, q->key, q->a, o);
    if (st == META_NOT_FOUND) return S3E_NoSuchKey;
    return st == META_OK ? S3E_OK : S3E_InternalError;
}

/* Replaces the object's tag set (value NULL: none). Only the headers of the version read
 * change: a write racing with us wins, and the tags go onto what it wrote. */
static s3_err set_tags(s3_req *q, meta_object *o, const char *value)
{
    for (int attempt = 0;; attempt++) {
        const char *h = s3_headers_set_line(q, o->headers, S3_TAGGING_HEADER, value);
        meta_status st = meta_object_set_headers(q->cfg->meta, q->bucket, q->key, o->etag, o->mtime_ms, h);
        if (st == META_OK) return S3E_OK;
        if (st != META_NOT_FOUND || attempt == 3) return S3E_InternalError;
        st = meta_object_get(q->cfg->meta, q->bucket, q->key, q->a, o);
        if (st == META_NOT_FOUND) return S3E_NoSuchKey;
        if (st != META_OK) return S3E_InternalError;
    }
}

static s3_err get_tagging_end(s3_req *q)
{
    meta_object o;
    s3_err e = tagged_object(q, &o);
    if (e) return e;
    const char *v = s3_headers_find(q, o.headers, S3_TAGGING_HEADER);
    tag t[MAX_TAGS + 1];
    int n = v ? tags_decode(q->a, v, t, MAX_TAGS) : 0;
    if (n < 0 || n > MAX_TAGS) return S3E_InternalError;   /* we wrote it: cannot be */
    xmlw w = {0};
    s3_xml_begin(q, &w, "Tagging");
    xml_open(&w, "TagSet");
    for (int i = 0; i < n; i++) {
        xml_open(&w, "Tag");
        xml_elem(&w, "Key", t[i].key);
        xml_elem(&w, "Value", t[i].value);
        xml_close(&w, "Tag");
    }
    xml_close(&w, "TagSet");
    xml_end(&w, "Tagging");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

/* S3's schema for a Tag: one Key and one Value, in that order or not, each of text only. */
static bool tag_shape_ok(xml_node *t)
{
    int keys = 0, values = 0;
    for (xml_node *c = xml_next_child(t, NULL); c; c = xml_next_child(t, c)) {
        if (xml_next_child(c, NULL)) return false;   /* an element inside */
        if (!strcmp(xml_name(c), "Key")) keys++;
        else if (!strcmp(xml_name(c), "Value")) values++;
        else return false;
    }
    return keys == 1 && values == 1;
}

/* A Tagging document: <Tagging><TagSet><Tag><Key/><Value/></Tag>…</TagSet></Tagging>. */
static s3_err tags_from_xml(s3_req *q, const char *data, size_t len, tag *t, int *n)
{
    xml_doc *d = xml_parse(data, len);
    xml_node *root = d ? xml_root(d, "Tagging") : NULL;
    xml_node *set = root ? xml_child(root, "TagSet") : NULL;
    s3_err e = set ? S3E_OK : S3E_MalformedXML;
    *n = 0;
    for (xml_node *c = set ? xml_next_child(set, NULL) : NULL; c && !e; c = xml_next_child(set, c)) {
        const char *k = NULL, *v = NULL;
        if (!strcmp(xml_name(c), "Tag") && tag_shape_ok(c)) {
            k = xml_child_text(q->a, c, "Key");
            v = xml_child_text(q->a, c, "Value");
        }
        if (!k || !v) e = S3E_MalformedXML;
        else if (*n == MAX_TAGS) e = s3_fail(q, S3E_BadRequest, "Object tags cannot be greater than 10");
        else t[(*n)++] = (tag){k, v};
    }
    xml_doc_free(d);
    return e;
}

s3_err s3_tagging_from_document(s3_req *q, const char *data, size_t len, const char **stored)
{
    tag t[MAX_TAGS];
    int n;
    s3_err e = tags_from_xml(q, data, len, t, &n);
    if (!e) e = tags_check(q, t, n, S3E_InvalidTag, "Cannot provide multiple Tags with the same key");
    if (!e) *stored = tags_encode(q, t, n);
    return e;
}

static s3_err put_tagging_end(s3_req *q)
{
    s3_err e = s3_check_body_md5(q);
    if (e) return e;
    meta_object o;
    if ((e = tagged_object(q, &o))) return e;
    const char *tags;
    if ((e = s3_tagging_from_document(q, q->xml_body.data, q->xml_body.len, &tags))) return e;
    if ((e = set_tags(q, &o, *tags ? tags : NULL))) return e;
    s3_respond_empty(q, 200);
    return S3E_OK;
}

static s3_err delete_tagging_end(s3_req *q)
{
    meta_object o;
    s3_err e = tagged_object(q, &o);
    if (e) return e;
    if (s3_headers_find(q, o.headers, S3_TAGGING_HEADER) && (e = set_tags(q, &o, NULL))) return e;
    s3_respond_empty(q, 204);
    return S3E_OK;
}

const s3_op op_get_object_tagging = {"GetObjectTagging", "wos:GetObjectTagging", NULL, NULL, get_tagging_end, NULL};
const s3_op op_put_object_tagging = {"PutObjectTagging", "wos:PutObjectTagging", NULL, s3_collect_body,
                                     put_tagging_end, NULL};
const s3_op op_delete_object_tagging = {"DeleteObjectTagging", "wos:DeleteObjectTagging", NULL, NULL,
                                        delete_tagging_end, NULL};
