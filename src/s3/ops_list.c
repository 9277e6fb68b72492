/* ops_list — ListObjects (v1, the WOS GetBucket), ListObjectsV2 and ListObjectVersions.
 *
 * One page is one index scan in the store (meta_object_list), with common prefixes folded
 * there; this file turns parameters into a query and entries into the document. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/authz.h"
#include "s3/s3_internal.h"
#include "util/str.h"
#include "util/timefmt.h"

typedef enum { LIST_V1, LIST_V2, LIST_VERSIONS } list_kind;

typedef struct list_ctx {
    s3_req *q;
    xmlw *w;
    list_kind kind;
    bool url_encode;
    const char *owner;   /* NULL: no Owner elements */
    buf prefixes;   /* CommonPrefixes come after Contents in S3's documents */
    int keys, nprefixes;
} list_ctx;

static void text_elem(list_ctx *c, xmlw *w, const char *name, const char *v)
{
    if (c->url_encode) v = uri_encode(c->q->a, v, strlen(v), true);
    xml_elem(w, name, v);
}

static void on_entry(void *cls, const char *prefix, const meta_object *o)
{
    list_ctx *c = cls;
    xmlw *w = c->w;
    if (prefix) {
        xmlw pw = {c->prefixes};
        xml_open(&pw, "CommonPrefixes");
        text_elem(c, &pw, "Prefix", prefix);
        xml_close(&pw, "CommonPrefixes");
        c->prefixes = pw.b;
        c->nprefixes++;
        return;
    }
    c->keys++;
    const char *tag = c->kind == LIST_VERSIONS ? "Version" : "Contents";
    xml_open(w, tag);
    text_elem(c, w, "Key", o->key);
    if (c->kind == LIST_VERSIONS) {
        xml_elem(w, "VersionId", "null");
        xml_elem(w, "IsLatest", "true");
    }
    char ts[25];
    time_fmt_iso_ms(o->mtime_ms, ts);
    xml_elem(w, "LastModified", ts);
    xml_elem(w, "ETag", arena_printf(c->q->a, "\"%s\"", o->etag));
    xml_elem_i64(w, "Size", o->size);
    xml_elem(w, "StorageClass", o->storage_class);
    if (c->owner) xml_owner(w, "Owner", c->owner);
    xml_close(w, tag);
}

static s3_err parse_max(s3_req *q, const char *name, int *out)
{
    const char *v = s3_param_get(q, name);
    *out = 1000;
    if (!v) return S3E_OK;
    char *end;
    long n = strtol(v, &end, 10);
    if (!*v || *end || n < 0)
        return s3_fail(q, S3E_InvalidArgument, arena_printf(q->a, "Provided %s not an integer or within integer range", name));
    *out = n > 1000 ? 1000 : (int)n;
    return S3E_OK;
}

static s3_err parse_ms(s3_req *q, const char *name, int64_t *out)
{
    const char *v = s3_param_get(q, name);
    *out = 0;
    if (!v) return S3E_OK;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < 0) return s3_fail(q, S3E_InvalidArgument, arena_printf(q->a, "Invalid %s", name));
    *out = n;
    return S3E_OK;
}

static s3_err list_end_kind(s3_req *q, list_kind kind)
{
    meta_bucket b;
    if (!s3_bucket_name_valid(q->bucket)) return S3E_NoSuchBucket;
    meta_status bst = authz_bucket(q->bucket, &b);
    if (bst != META_OK) return bst == META_NOT_FOUND ? S3E_NoSuchBucket : S3E_InternalError;

    const char *prefix = s3_param_get(q, "prefix");
    const char *delim = s3_param_get(q, "delimiter");
    const char *enc = s3_param_get(q, "encoding-type");
    if (enc && strcmp(enc, "url") != 0) return s3_fail(q, S3E_InvalidArgument, "Invalid Encoding Method specified in Request");
    int max;
    s3_err e = parse_max(q, "max-keys", &max);
    if (e) return e;

    meta_list_query lq = {.prefix = prefix ? prefix : "", .delimiter = delim, .after = "", .max = max};
    if ((e = parse_ms(q, "start-time", &lq.start_ms)) || (e = parse_ms(q, "end-time", &lq.end_ms))) return e;
    const char *marker = NULL, *token = NULL, *start_after = NULL;
    if (kind == LIST_V1) {
        marker = s3_param_get(q, "marker");
        if (marker) lq.after = marker;
    } else if (kind == LIST_V2) {
        token = s3_param_get(q, "continuation-token");
        start_after = s3_param_get(q, "start-after");
        if (token) {
            /* The token is the base64 of the last key returned: opaque to clients, exact for us. */
            size_t tl = strlen(token);
            unsigned char *raw = arena_alloc(q->a, tl + 1);
            int n = base64_decode(token, tl, raw, tl);
            if (n < 0 || memchr(raw, 0, (size_t)n))
                return s3_fail(q, S3E_InvalidArgument, "The continuation token provided is incorrect");
            lq.after = (const char *)raw;
        } else if (start_after) {
            lq.after = start_after;
        }
    } else {
        marker = s3_param_get(q, "key-marker");
        if (marker) lq.after = marker;
    }

    xmlw w = {0};
    const char *root = kind == LIST_VERSIONS ? "ListVersionsResult" : "ListBucketResult";
    list_ctx c = {.q = q, .w = &w, .kind = kind, .url_encode = enc != NULL,
                  .owner = NULL};
    /* Objects belong to their bucket's owner (S3's default, "bucket owner enforced"), not to
     * whoever lists them. */
    const char *fetch = s3_param_get(q, "fetch-owner");
    if (kind != LIST_V2 || (fetch && !strcmp(fetch, "true"))) c.owner = s3_owner_display(q, b.owner);
    xmlw head = {0};
    bool truncated = false;
    const char *last = NULL;
    if (max > 0) {
        meta_status st = meta_object_list(q->cfg->meta, q->bucket, &lq, q->a, on_entry, &c, &truncated, &last);
        if (st != META_OK) {
            buf_free(&w.b);
            buf_free(&c.prefixes);
            return S3E_InternalError;
        }
    }

    s3_xml_begin(q, &head, root);
    xml_elem(&head, "Name", q->bucket);
    text_elem(&c, &head, "Prefix", lq.prefix);
    if (kind == LIST_V1) {
        text_elem(&c, &head, "Marker", marker ? marker : "");
        if (truncated && last) text_elem(&c, &head, "NextMarker", last);
    } else if (kind == LIST_V2) {
        if (token) xml_elem(&head, "ContinuationToken", token);
        if (start_after) text_elem(&c, &head, "StartAfter", start_after);
        xml_elem_i64(&head, "KeyCount", c.keys + c.nprefixes);
        if (truncated && last) {
            size_t ll = strlen(last);
            char *t = arena_alloc(q->a, 4 * (ll / 3 + 1) + 1);
            base64_encode((const unsigned char *)last, ll, t);
            xml_elem(&head, "NextContinuationToken", t);
        }
    } else {
        text_elem(&c, &head, "KeyMarker", marker ? marker : "");
        xml_elem(&head, "VersionIdMarker", s3_param_get(q, "version-id-marker") ? s3_param_get(q, "version-id-marker") : "");
        if (truncated && last) {
            text_elem(&c, &head, "NextKeyMarker", last);
            xml_elem(&head, "NextVersionIdMarker", "null");
        }
    }
    xml_elem_i64(&head, "MaxKeys", max);
    if (delim) text_elem(&c, &head, "Delimiter", delim);
    if (enc) xml_elem(&head, "EncodingType", enc);
    xml_elem_bool(&head, "IsTruncated", truncated);
    if (w.b.len) buf_append(&head.b, w.b.data, w.b.len);
    if (c.prefixes.len) buf_append(&head.b, c.prefixes.data, c.prefixes.len);
    buf_free(&w.b);
    buf_free(&c.prefixes);
    xml_end(&head, root);
    s3_respond_xml(q, 200, &head);
    return S3E_OK;
}

static s3_err list_end(s3_req *q)
{
    const char *lt = s3_param_get(q, "list-type");
    if (lt && strcmp(lt, "2") != 0) return s3_fail(q, S3E_InvalidArgument, "Invalid list type");
    return list_end_kind(q, lt ? LIST_V2 : LIST_V1);
}

static s3_err versions_end(s3_req *q) { return list_end_kind(q, LIST_VERSIONS); }

const s3_op op_list_objects = {"ListObjects", "wos:GetBucket", NULL, NULL, list_end, NULL};
const s3_op op_list_object_versions = {"ListObjectVersions", "wos:GetBucket", NULL, NULL, versions_end, NULL};
