/* ops_object — PutObject, GetObject, HeadObject, DeleteObject, CopyObject and DeleteObjects.
 *
 * Write order (DESIGN.md, crash safety): bytes stream into a temporary blob (or stay in memory
 * when small), are made durable and renamed into place, and only then does one metadata
 * transaction make the object visible. A failure at any step removes what was written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/s3_internal.h"
#include "s3/authz.h"
#include "s3/range.h"
#include "s3/xml_in.h"
#include "util/log.h"
#include "util/str.h"
#include "util/timefmt.h"

int s3_class_tier(const char *storage_class)
{
    if (storage_class && !strcmp(storage_class, "IA")) return BLOB_TIER_IA;
    if (storage_class && !strcmp(storage_class, "Archive")) return BLOB_TIER_ARCHIVE;
    return BLOB_TIER_STANDARD;
}

const char *s3_storage_class_parse(const char *v)
{
    if (!strcasecmp(v, "Standard")) return "Standard";
    if (!strcasecmp(v, "IA") || !strcasecmp(v, "STANDARD_IA")) return "IA";
    if (!strcasecmp(v, "Archive") || !strcasecmp(v, "GLACIER")) return "Archive";
    return NULL;
}

static s3_err bucket_exists(s3_req *q, meta_bucket *b)
{
    if (!s3_bucket_name_valid(q->bucket)) return S3E_NoSuchBucket;
    meta_status st = authz_bucket(q->bucket, b);
    return st == META_OK ? S3E_OK : st == META_NOT_FOUND ? S3E_NoSuchBucket : S3E_InternalError;
}

static s3_err get_object(s3_req *q, const char *bucket, const char *key, meta_object *o)
{
    meta_status st = meta_object_get(q->cfg->meta, bucket, key, q->a, o);
    return st == META_OK ? S3E_OK : st == META_NOT_FOUND ? S3E_NoSuchKey : S3E_InternalError;
}

static const char *quoted(s3_req *q, const char *etag)
{
    size_t n = strlen(etag);
    char *s = arena_alloc(q->a, n + 3);   /* zeroed: the NUL is there */
    s[0] = '"';
    memcpy(s + 1, etag, n);
    s[n + 1] = '"';
    return s;
}

/* A written object's ACL is the request's canned ACL (private when none): a stored line. */
static s3_err acl_header_ok(s3_req *q)
{
    const char *acl;
    return s3_acl_from_request(q, &acl);
}

static s3_err headers_with_request_acl(s3_req *q, const char *stored, const char **out)
{
    const char *acl;
    s3_err e = s3_acl_from_request(q, &acl);
    if (!e) *out = s3_headers_set_acl(q, stored, acl);
    return e;
}

/* --- PutObject ---------------------------------------------------------------------------- */

typedef struct put_state {
    objw *w;
    const char *headers;
    const char *storage_class;
    int64_t expiry_days;
} put_state;

static s3_err put_begin(s3_req *q)
{
    meta_bucket b;
    s3_err e = bucket_exists(q, &b);
    if (e) return e;
    if (q->payload_len < 0 && !http_is_chunked(q->http)) return S3E_MissingContentLength;
    if (q->payload_len > S3_MAX_OBJECT_PUT) return S3E_EntityTooLarge;
    if ((e = acl_header_ok(q))) return e;
    put_state *s = arena_alloc(q->a, sizeof *s);
    q->op_state = s;
    s->storage_class = arena_strdup(q->a, b.storage_class);
    const char *sc = s3_xhdr(q, "storage-class");
    if (sc && !(s->storage_class = s3_storage_class_parse(sc))) return S3E_InvalidStorageClass;
    if ((e = s3_headers_collect(q, &s->headers))) return e;
    if ((e = s3_tagging_write_allowed(q, q->bucket, q->key, NULL))) return e;
    if ((e = headers_with_request_acl(q, s->headers, &s->headers))) return e;
    /* Early, before the body: the answer at the end is the one that counts. */
    if ((e = s3_write_conditions(q, NULL))) return e;
    if ((e = s3_expiry_from_request(q, &s->expiry_days))) return e;
    if ((e = objw_new_for(q, q->payload_len, true, s->storage_class, &s->w))) return e;
    objw_set_expiry(s->w, s->expiry_days);
    /* A small object is one metadata row. Its commit may be shared with other requests'; a
     * conditional one commits alone (it could join now that its condition is checked inside
     * the change, but its pre-check reads committed rows and would retry in vain). */
    q->grouped = objw_is_inline(s->w) && !http_header(q->http, "If-None-Match") && !http_header(q->http, "If-Match");
    return S3E_OK;
}

static s3_err put_body(s3_req *q, const char *data, size_t n)
{
    put_state *s = q->op_state;
    return objw_write(s->w, data, n);
}

static s3_err put_end(s3_req *q)
{
    put_state *s = q->op_state;
    objw_result res;
    s3_err e = objw_finish(s->w, &res);
    if (!e) e = objw_verify(s->w, &res);
    if (e) return e;

    const char *ck_header, *ck = objw_checksum(s->w, &ck_header);
    const char *headers = ck ? arena_printf(q->a, "%s%s:%s\n", s->headers, ck_header, ck) : s->headers;
    int64_t mtime;
    if ((e = objw_commit_object_if(s->w, &res, q->key, NULL, s->storage_class, headers, &mtime))) return e;
    http_resp_header(q->http, "ETag", quoted(q, res.etag));
    s3_expiration_header_written(q, q->key, res.size, headers, mtime, s->expiry_days);
    if (ck) http_resp_header(q->http, ck_header, ck);
    s3_respond_empty(q, 200);
    return S3E_OK;
}

static void put_cleanup(s3_req *q)
{
    put_state *s = q->op_state;
    if (s) objw_abort(s->w);
}

const s3_op op_put_object = {"PutObject", "wos:PutObject", put_begin, put_body, put_end, put_cleanup};

/* --- GetObject / HeadObject --------------------------------------------------------------- */

static s3_err read_object(s3_req *q, bool head)
{
    meta_bucket b;
    s3_err e = bucket_exists(q, &b);
    if (e) return e;
    meta_object o;
    if ((e = get_object(q, q->bucket, q->key, &o))) return e;
    /* HEAD shows an Archive object (class, restore state); only a restored one can be read. */
    if (!head && !s3_object_readable(q, &o))
        return s3_fail(q, S3E_InvalidObjectState, "The operation is not valid for the object's storage class");

    char lm[30];
    time_fmt_http(o.mtime_ms / 1000, lm);
    const char *etag = quoted(q, o.etag);
    e = s3_conditions(http_header(q->http, "If-Match"), http_header(q->http, "If-None-Match"),
                      http_header(q->http, "If-Modified-Since"), http_header(q->http, "If-Unmodified-Since"),
                      o.etag, o.mtime_ms);
    if (e == S3E_NotModified) {
        /* 304 still names the representation. */
        http_resp_header(q->http, "ETag", etag);
        http_resp_header(q->http, "Last-Modified", lm);
        return e;
    }
    if (e) return e;

    int64_t off = 0, len = o.size;
    int status = 200;
    const char *pn = s3_param_get(q, "partNumber");
    if (pn) {
        char *end;
        long n = strtol(pn, &end, 10);
        if (!*pn || *end || n < 1 || n > 10000)
            return s3_fail(q, S3E_InvalidArgument, "Part number must be an integer between 1 and 10000, inclusive");
        int count = o.parts_count ? o.parts_count : 1;
        if (n > count) return S3E_InvalidRange;
        if (o.parts_count) {
            for (int i = 0; i < n - 1; i++) off += o.extents[i].size;
            len = o.extents[n - 1].size;
            status = 206;
        }
        http_resp_header(q->http, "x-amz-mp-parts-count", arena_printf(q->a, "%d", count));
    } else {
        int r = s3_range_parse(http_header(q->http, "Range"), o.size, &off, &len);
        if (r < 0) {
            http_resp_header(q->http, "Content-Range", arena_printf(q->a, "bytes */%lld", (long long)o.size));
            return S3E_InvalidRange;
        }
        if (r > 0) status = 206;
    }
    if (status == 206)
        http_resp_header(q->http, "Content-Range",
                         arena_printf(q->a, "bytes %lld-%lld/%lld", (long long)off, (long long)(off + len - 1),
                                      (long long)o.size));

    const char *ck_mode = http_header(q->http, "x-amz-checksum-mode");
    bool with_ck = ck_mode && !strcasecmp(ck_mode, "ENABLED") && status == 200;
    s3_headers_emit(q, o.headers, with_ck);
    if (!s3_headers_find(q, o.headers, "content-type"))
        http_resp_header(q->http, "Content-Type", "binary/octet-stream");
    http_resp_header(q->http, "ETag", etag);
    http_resp_header(q->http, "Last-Modified", lm);
    http_resp_header(q->http, "Accept-Ranges", "bytes");
    s3_resp_xhdr(q, "storage-class", o.storage_class);
    /* How many tags the object has, to those who may read them (S3, on GET and HEAD). */
    int ntags = s3_tagging_count(s3_headers_find(q, o.headers, S3_TAGGING_HEADER));
    if (ntags && authz_allows(q, IAM_ACT_GET_OBJECT_TAGGING, q->bucket, q->key, o.headers))
        s3_resp_xhdr(q, "tagging-count", arena_printf(q->a, "%d", ntags));
    s3_restore_headers(q, &o);
    s3_expiration_header(q, &o);
    /* response-* overrides replace the stored values in this answer only. */
    static const char *overrides[][2] = {
        {"response-content-type", "Content-Type"},
        {"response-content-language", "Content-Language"},
        {"response-expires", "Expires"},
        {"response-cache-control", "Cache-Control"},
        {"response-content-disposition", "Content-Disposition"},
        {"response-content-encoding", "Content-Encoding"},
    };
    for (size_t i = 0; i < sizeof overrides / sizeof overrides[0]; i++) {
        const char *v = s3_param_get(q, overrides[i][0]);
        if (v) http_resp_header_set(q->http, overrides[i][1], v);
    }
    http_resp_status(q->http, status);
    if (head) {
        http_resp_body_length_only(q->http, (uint64_t)len);
        return S3E_OK;
    }
    return s3_object_body(q, &o, off, len);
}

static s3_err get_end(s3_req *q) { return read_object(q, false); }
static s3_err head_end(s3_req *q) { return read_object(q, true); }

const s3_op op_get_object = {"GetObject", "wos:GetObject", NULL, NULL, get_end, NULL};
const s3_op op_head_object = {"HeadObject", "wos:HeadObject", NULL, NULL, head_end, NULL};

/* --- DeleteObject ------------------------------------------------------------------------- */

static s3_err delete_end(s3_req *q)
{
    s3_err e = bucket_exists(q, &(meta_bucket){0});
    if (e) return e;
    meta_status st = meta_object_delete(q->cfg->meta, q->bucket, q->key);
    if (st != META_OK && st != META_NOT_FOUND) return S3E_InternalError;
    s3_respond_empty(q, 204);
    return S3E_OK;
}

const s3_op op_delete_object = {"DeleteObject", "wos:DeleteObject", NULL, NULL, delete_end, NULL};

/* --- CopyObject --------------------------------------------------------------------------- */

typedef struct copy_state {
    objw *w;
} copy_state;

static s3_err copy_source_conditions(s3_req *q, const meta_object *src)
{
    s3_err e = s3_conditions(s3_xhdr(q, "copy-source-if-match"), s3_xhdr(q, "copy-source-if-none-match"),
                             s3_xhdr(q, "copy-source-if-modified-since"),
                             s3_xhdr(q, "copy-source-if-unmodified-since"), src->etag, src->mtime_ms);
    return e ? S3E_PreconditionFailed : S3E_OK;
}

static s3_err copy_begin(s3_req *q)
{
    s3_err e = acl_header_ok(q);
    if (e) return e;
    return bucket_exists(q, &(meta_bucket){0});
}

static s3_err copy_end(s3_req *q)
{
    meta_bucket b;
    s3_err e = bucket_exists(q, &b);
    if (e) return e;
    const char *sbucket, *skey;
    if ((e = s3_copy_source(q, &sbucket, &skey))) return e;
    meta_bucket sb;
    if (!s3_bucket_name_valid(sbucket) || authz_bucket(sbucket, &sb) != META_OK)
        return S3E_NoSuchBucket;
    meta_object src;
    if ((e = get_object(q, sbucket, skey, &src))) return e;
    if (!s3_object_readable(q, &src))
        return s3_fail(q, S3E_InvalidObjectState, "The source object of the COPY action is not in the active tier and is only stored in Archive.");
    if ((e = copy_source_conditions(q, &src))) return e;
    /* Early, before the bytes are copied: the answer at the commit is the one that counts. */
    if ((e = s3_write_conditions(q, NULL))) return e;

    const char *directive = s3_xhdr(q, "metadata-directive");
    bool replace = directive && !strcasecmp(directive, "REPLACE");
    if (directive && !replace && strcasecmp(directive, "COPY") != 0)
        return s3_fail(q, S3E_InvalidArgument, "Unknown metadata directive.");
    const char *sc = s3_xhdr(q, "storage-class");
    const char *storage_class = src.storage_class;
    if (sc && !(storage_class = s3_storage_class_parse(sc))) return S3E_InvalidStorageClass;
    bool same = !strcmp(sbucket, q->bucket) && !strcmp(skey, q->key);
    if (same && !replace && !sc)
        return s3_fail(q, S3E_InvalidRequest,
                       "This copy request is illegal because it is trying to copy an object to itself without "
                       "changing the object's metadata, storage class, website redirect location or encryption "
                       "attributes.");
    const char *tdir = s3_xhdr(q, "tagging-directive");
    bool replace_tags = tdir && !strcasecmp(tdir, "REPLACE");
    if (tdir && !replace_tags && strcasecmp(tdir, "COPY") != 0)
        return s3_fail(q, S3E_InvalidArgument, "Unknown tagging directive.");
    const char *headers = src.headers;
    if (replace) {
        if ((e = s3_headers_collect(q, &headers))) return e;
    }
    /* The tags follow their own directive: the source's (COPY, the default) or the request's
     * x-amz-tagging (REPLACE), whichever way the metadata went. */
    const char *tags = s3_headers_find(q, src.headers, S3_TAGGING_HEADER);
    if (replace_tags) {
        const char *req = s3_xhdr(q, "tagging");
        tags = NULL;
        if (req && (e = s3_tagging_from_header(q, req, &tags))) return e;
        if (tags && !*tags) tags = NULL;
        if ((e = s3_tagging_write_allowed(q, q->bucket, q->key, tags))) return e;
    }
    headers = s3_headers_set_line(q, headers, S3_TAGGING_HEADER, tags);
    /* A copy does not inherit the source's ACL (S3): it takes the request's. */
    if ((e = headers_with_request_acl(q, headers, &headers))) return e;

    /* The bytes are copied: blobs belong to exactly one object (see meta.h on garbage). */
    int64_t expiry_days;
    if ((e = s3_expiry_from_request(q, &expiry_days))) return e;
    copy_state *s = arena_alloc(q->a, sizeof *s);
    q->op_state = s;
    /* Also how a class changes (a copy onto itself): the new bytes go to the new class's tier,
     * the old blob to the gc queue in the same commit. */
    if ((e = objw_new_for(q, src.size, true, storage_class, &s->w))) return e;
    objw_set_expiry(s->w, expiry_days);
    if ((e = s3_object_copy_into(q, &src, 0, src.size, s->w))) return e;
    objw_result res;
    if ((e = objw_finish(s->w, &res))) return e;

    /* A copy keeps the source's ETag: the bytes are the same (one blob now, even for a multipart
     * source), and clients compare ETags along a chain of copies. */
    const char *etag = src.etag;
    int64_t mtime;
    if ((e = objw_commit_object_if(s->w, &res, q->key, etag, storage_class, headers, &mtime))) return e;

    s3_expiration_header_written(q, q->key, res.size, headers, mtime, expiry_days);
    xmlw w = {0};
    s3_xml_begin(q, &w, "CopyObjectResult");
    char ts[25];
    time_fmt_iso_ms(mtime, ts);
    xml_elem(&w, "LastModified", ts);
    xml_elem(&w, "ETag", quoted(q, etag));
    xml_end(&w, "CopyObjectResult");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

static void copy_cleanup(s3_req *q)
{
    copy_state *s = q->op_state;
    if (s) objw_abort(s->w);
}

const s3_op op_copy_object = {"CopyObject", "wos:PutObject", copy_begin, NULL, copy_end, copy_cleanup};

/* --- DeleteObjects ------------------------------------------------------------------------ */

static s3_err delete_objects_begin(s3_req *q)
{
    s3_err e = bucket_exists(q, &(meta_bucket){0});
    if (e) return e;
    /* S3 requires an integrity check on this body: Content-MD5 or an x-amz-checksum-*. */
    bool has_ck = http_header(q->http, "Content-MD5") || http_header(q->http, "x-amz-checksum-crc32") ||
                  http_header(q->http, "x-amz-checksum-crc32c") || http_header(q->http, "x-amz-checksum-sha1") ||
                  http_header(q->http, "x-amz-checksum-sha256") || http_header(q->http, "x-amz-checksum-crc64nvme") ||
                  http_header(q->http, "x-amz-trailer");
    if (!has_ck) return s3_fail(q, S3E_InvalidRequest, "Missing required header for this request: Content-MD5");
    const char *cm = http_header(q->http, "Content-MD5");
    unsigned char md[16];
    if (cm && base64_decode(cm, strlen(cm), md, 16) != 16) return S3E_InvalidDigest;
    return S3E_OK;
}

static s3_err delete_objects_end(s3_req *q)
{
    s3_err e = s3_check_body_md5(q);
    if (e) return e;
    xml_doc *d = xml_parse(q->xml_body.data, q->xml_body.len);
    xml_node *root = d ? xml_root(d, "Delete") : NULL;
    if (!root) {
        xml_doc_free(d);
        return S3E_MalformedXML;
    }
    bool quiet = false;
    int count = 0;
    for (xml_node *c = xml_next_child(root, NULL); c; c = xml_next_child(root, c)) {
        if (!strcmp(xml_name(c), "Object")) {
            count++;
            if (!xml_child(c, "Key")) count = 100000;   /* an Object needs a Key */
        } else if (!strcmp(xml_name(c), "Quiet")) {
            quiet = !strcasecmp(xml_text(q->a, c), "true");
        }
    }
    if (count == 0 || count > 1000) {
        xml_doc_free(d);
        return S3E_MalformedXML;
    }

    xmlw w = {0};
    s3_xml_begin(q, &w, "DeleteResult");
    for (xml_node *c = xml_next_child(root, NULL); c; c = xml_next_child(root, c)) {
        if (strcmp(xml_name(c), "Object") != 0) continue;
        char *key = xml_child_text(q->a, c, "Key");
        const char *vid = xml_child_text(q->a, c, "VersionId");
        const char *code = NULL, *msg = NULL;
        size_t klen = strlen(key);
        if (klen == 0 || klen > S3_MAX_KEY || !utf8_valid(key, klen)) {
            code = "InvalidArgument";
            msg = "Invalid key.";
        } else if (vid && strcmp(vid, "null") != 0) {
            code = "NoSuchVersion";
            msg = "The specified version does not exist.";
        } else {
            /* Each key needs DeleteObject on itself; a denied key is reported, the others go. */
            s3_err az = authz_check(q, IAM_ACT_DELETE_OBJECT, q->bucket, key, "");
            meta_status st = az ? META_NOT_FOUND : meta_object_delete(q->cfg->meta, q->bucket, key);
            /* The WOS SDK URL-encodes keys in this body (WOS-API.md §5.5): when the literal key
             * was absent (or not ours to delete), the decoded one is what the client meant. */
            if (st == META_NOT_FOUND && q->dialect == DIALECT_WOS && strchr(key, '%')) {
                size_t dl;
                char *dec = url_decode(q->a, key, klen, false, &dl);
                if (dec && dl == strlen(dec) && utf8_valid(dec, dl)) {
                    s3_err dz = authz_check(q, IAM_ACT_DELETE_OBJECT, q->bucket, dec, "");
                    if (!dz) st = meta_object_delete(q->cfg->meta, q->bucket, dec);
                    if (az && !dz) az = S3E_OK;
                }
            }
            if (az) {
                code = az == S3E_AccessDenied ? "AccessDenied" : "InternalError";
                msg = s3_err_message(az);
            } else if (st != META_OK && st != META_NOT_FOUND) {
                code = "InternalError";
                msg = s3_err_message(S3E_InternalError);
            }
        }
        if (code) {
            xml_open(&w, "Error");
            xml_elem(&w, "Key", key);
            xml_elem(&w, "Code", code);
            xml_elem(&w, "Message", msg);
            xml_close(&w, "Error");
        } else if (!quiet) {
            xml_open(&w, "Deleted");
            xml_elem(&w, "Key", key);
            xml_close(&w, "Deleted");
        }
    }
    xml_doc_free(d);
    xml_end(&w, "DeleteResult");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

const s3_op op_delete_objects = {"DeleteObjects", "wos:DeleteObject", delete_objects_begin, s3_collect_body,
                                 delete_objects_end, NULL};
