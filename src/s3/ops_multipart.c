/* ops_multipart — InitiateMultipartUpload (the seed page), UploadPart, UploadPartCopy,
 * CompleteMultipartUpload, AbortMultipartUpload, ListParts and ListMultipartUploads.
 *
 * Parts are blobs of their own. Complete copies no bytes: it checks the part list against
 * what was uploaded and writes the object as the ordered list of those blobs (a manifest) in
 * one metadata transaction; parts left out are queued for removal in the same transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "s3/authz.h"
#include "s3/s3_internal.h"
#include "s3/xml_in.h"
#include "util/log.h"
#include "util/str.h"
#include "util/timefmt.h"

#define UPLOAD_ID_HEADER "x-wosd-upload-id"
/* x-wos-delete-after-days given at Initiate, kept with the upload until Complete (never emitted). */
#define EXPIRY_DAYS_HEADER "x-wosd-delete-after-days"

static s3_err need_bucket(s3_req *q, meta_bucket *b)
{
    if (!s3_bucket_name_valid(q->bucket)) return S3E_NoSuchBucket;
    meta_status st = authz_bucket(q->bucket, b);
    return st == META_OK ? S3E_OK : st == META_NOT_FOUND ? S3E_NoSuchBucket : S3E_InternalError;
}

static s3_err need_upload(s3_req *q, meta_upload *u)
{
    s3_err e = need_bucket(q, &(meta_bucket){0});
    if (e) return e;
    const char *id = s3_param_get(q, "uploadId");
    if (!id || !*id) return S3E_NoSuchUpload;
    meta_status st = meta_upload_get(q->cfg->meta, q->bucket, q->key, id, q->a, u);
    return st == META_OK ? S3E_OK : st == META_NOT_FOUND ? S3E_NoSuchUpload : S3E_InternalError;
}

/* --- Initiate ------------------------------------------------------------------------------ */

/* Everything the headers decide is worked out in begin, on the event thread, so that end()
 * only names and records the upload. The errors keep the order they have always had: the ACL
 * and a malformed Content-MD5 are answered before the body is read; the body's digests are
 * checked before a bad storage class, metadata or expiry header is reported (`late`). */
typedef struct initiate_state {
    meta_upload u;
    s3_err late;
    const char *late_message;
} initiate_state;

static s3_err initiate_settle(s3_req *q, const meta_bucket *b, const char *acl, meta_upload *u)
{
    u->key = q->key;
    const char *sc = s3_xhdr(q, "storage-class");
    const char *cls = b->storage_class;
    if (sc && !(cls = s3_storage_class_parse(sc))) return S3E_InvalidStorageClass;
    snprintf(u->storage_class, sizeof u->storage_class, "%s", cls);
    snprintf(u->owner, sizeof u->owner, "%s", s3_owner_id(q));
    s3_err e = s3_headers_collect(q, &u->headers);
    if (e) return e;
    if ((e = s3_tagging_write_allowed(q, q->bucket, q->key, NULL))) return e;
    /* The ACL travels with the upload and becomes the object's at Complete. */
    u->headers = s3_headers_set_acl(q, u->headers, acl);
    int64_t expiry_days;
    if ((e = s3_expiry_from_request(q, &expiry_days))) return e;
    if (expiry_days >= 0)
        u->headers = arena_printf(q->a, "%s%s:%lld\n", u->headers, EXPIRY_DAYS_HEADER, (long long)expiry_days);
    return S3E_OK;
}

static s3_err initiate_begin(s3_req *q)
{
    meta_bucket b;
    s3_err e = need_bucket(q, &b);
    if (e) return e;
    const char *acl;
    if ((e = s3_acl_from_request(q, &acl))) return e;
    const char *cm = http_header(q->http, "Content-MD5");
    unsigned char md[16];
    if (cm && base64_decode(cm, strlen(cm), md, 16) != 16) return S3E_InvalidDigest;
    initiate_state *st = arena_alloc(q->a, sizeof *st);
    q->op_state = st;
    if ((st->late = initiate_settle(q, &b, acl, &st->u))) {
        st->late_message = q->err_message;
        q->err_message = NULL;
    }
    q->grouped = true;   /* one row, nothing to do after its commit */
    return S3E_OK;
}

static s3_err initiate_end(s3_req *q)
{
    s3_err e = s3_check_body_md5(q);   /* over the (empty) body, as the page says */
    if (e) return e;
    const initiate_state *is = q->op_state;
    if (is->late) return s3_fail(q, is->late, is->late_message);
    meta_upload u = is->u;
    u.initiated_ms = time_now_ms();
    /* The time in milliseconds, then 80 random bits: unguessable, unique across restarts
     * without coordination, and in creation order, so a new row lands at the end of its key's
     * uploads and its parts at the end of the parts table, instead of dirtying a page of
     * their own; and ListMultipartUploads' id order is initiation order (to the millisecond,
     * while the clock does not step back). */
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 11, t = 0; i >= 0; i--, t += 4) u.upload_id[i] = hex[(u.initiated_ms >> t) & 15];
    random_hex_upper(10, u.upload_id + 12);
    meta_status st = meta_upload_create(q->cfg->meta, q->bucket, &u);
    if (st != META_OK) return st == META_NOT_FOUND ? S3E_NoSuchBucket : S3E_InternalError;

    xmlw w = {0};
    s3_xml_begin(q, &w, "InitiateMultipartUploadResult");
    xml_elem(&w, "Bucket", q->bucket);
    xml_elem(&w, "Key", q->key);
    xml_elem(&w, "UploadId", u.upload_id);
    xml_end(&w, "InitiateMultipartUploadResult");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

const s3_op op_initiate_upload = {"InitiateMultipartUpload", "wos:PutObject", initiate_begin, s3_collect_body,
                                  initiate_end, NULL};

/* --- UploadPart / UploadPartCopy --------------------------------------------------------------- */

typedef struct part_state {
    objw *w;
    int number;
    meta_upload u;
} part_state;

static s3_err part_number(s3_req *q, int *out)
{
    const char *pn = s3_param_get(q, "partNumber");
    const char *id = s3_param_get(q, "uploadId");
    if (!pn || !id) return s3_fail(q, S3E_InvalidArgument, "Invalid Argument");
    char *end;
    long n = strtol(pn, &end, 10);
    if (!*pn || *end || n < 1 || n > 10000)
        return s3_fail(q, S3E_InvalidArgument, "Part number must be an integer between 1 and 10000");
    *out = (int)n;
    return S3E_OK;
}

static s3_err part_begin(s3_req *q)
{
    part_state *s = arena_alloc(q->a, sizeof *s);
    q->op_state = s;
    s3_err e = part_number(q, &s->number);
    if (e) return e;
    if ((e = need_upload(q, &s->u))) return e;
    if (q->payload_len < 0 && !http_is_chunked(q->http)) return S3E_MissingContentLength;
    if (q->payload_len >= S3_MAX_OBJECT_PUT) return S3E_EntityTooLarge;
    return objw_new_for(q, q->payload_len, false, s->u.storage_class, &s->w);
}

static s3_err part_body(s3_req *q, const char *data, size_t n)
{
    part_state *s = q->op_state;
    return objw_write(s->w, data, n);
}

/* Records the finished part; the blob is removed again when the upload vanished meanwhile. */
static s3_err part_commit(s3_req *q, part_state *s, objw_result *res)
{
    meta_part p = {.number = s->number, .size = res->size, .mtime_ms = time_now_ms()};
    memcpy(p.etag, res->etag, sizeof p.etag);
    memcpy(p.blob_id, res->blob_id, sizeof p.blob_id);
    meta_status st = meta_part_put(q->cfg->meta, q->bucket, q->key, s->u.upload_id, &p);
    if (st == META_NOT_FOUND) return S3E_NoSuchUpload;
    if (st != META_OK) return S3E_InternalError;
    objw_keep(s->w);
    return S3E_OK;
}

static s3_err part_end(s3_req *q)
{
    part_state *s = q->op_state;
    objw_result res;
    s3_err e = objw_finish(s->w, &res);
    if (!e) e = objw_verify(s->w, &res);
    if (!e && res.size >= S3_MAX_OBJECT_PUT) e = S3E_EntityTooLarge;
    if (!e) e = part_commit(q, s, &res);
    if (e) return e;
    http_resp_header(q->http, "ETag", arena_printf(q->a, "\"%s\"", res.etag));
    const char *ckh, *ck = objw_checksum(s->w, &ckh);
    if (ck) http_resp_header(q->http, ckh, ck);
    s3_respond_empty(q, 200);
    return S3E_OK;
}

static void part_cleanup(s3_req *q)
{
    part_state *s = q->op_state;
    if (s) objw_abort(s->w);
}

const s3_op op_upload_part = {"UploadPart", "wos:PutObject", part_begin, part_body, part_end, part_cleanup};

static s3_err part_copy_begin(s3_req *q)
{
    part_state *s = arena_alloc(q->a, sizeof *s);
    q->op_state = s;
    s3_err e = part_number(q, &s->number);
    if (!e) e = need_upload(q, &s->u);
    return e;
}

static s3_err part_copy_end(s3_req *q)
{
    part_state *s = q->op_state;
    const char *sbucket, *skey;
    s3_err e = s3_copy_source(q, &sbucket, &skey);
    if (e) return e;
    if (!s3_bucket_name_valid(sbucket) || authz_bucket(sbucket, &(meta_bucket){0}) != META_OK)
        return S3E_NoSuchBucket;
    meta_object src;
    meta_status st = meta_object_get(q->cfg->meta, sbucket, skey, q->a, &src);
    if (st != META_OK) return st == META_NOT_FOUND ? S3E_NoSuchKey : S3E_InternalError;
    if (!s3_object_readable(q, &src))
        return s3_fail(q, S3E_InvalidObjectState, "The source object of the COPY action is not in the active tier and is only stored in Archive.");
    if (s3_conditions(s3_xhdr(q, "copy-source-if-match"), s3_xhdr(q, "copy-source-if-none-match"),
                      s3_xhdr(q, "copy-source-if-modified-since"), s3_xhdr(q, "copy-source-if-unmodified-since"),
                      src.etag, src.mtime_ms))
        return S3E_PreconditionFailed;

    int64_t off = 0, len = src.size;
    const char *range = s3_xhdr(q, "copy-source-range");
    if (range) {
        long long a, b;
        char tail;
        if (sscanf(range, "bytes=%lld-%lld%c", &a, &b, &tail) != 2 || a < 0 || b < a)
            return s3_fail(q, S3E_InvalidArgument, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy");
        if (b >= src.size)
            return s3_fail(q, S3E_InvalidRange, "The requested range is not satisfiable");
        off = a;
        len = b - a + 1;
    }
    if (len >= S3_MAX_OBJECT_PUT) return S3E_EntityTooLarge;
    if ((e = objw_new_for(q, len, false, s->u.storage_class, &s->w))) return e;
    if ((e = s3_object_copy_into(q, &src, off, len, s->w))) return e;
    objw_result res;
    if ((e = objw_finish(s->w, &res))) return e;
    if ((e = part_commit(q, s, &res))) return e;

    xmlw w = {0};
    s3_xml_begin(q, &w, "CopyPartResult");
    char ts[25];
    time_fmt_iso_ms(time_now_ms(), ts);
    xml_elem(&w, "LastModified", ts);
    xml_elem(&w, "ETag", arena_printf(q->a, "\"%s\"", res.etag));
    xml_end(&w, "CopyPartResult");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

const s3_op op_upload_part_copy = {"UploadPartCopy", "wos:PutObject", part_copy_begin, NULL, part_copy_end,
                                   part_cleanup};

/* --- Complete ------------------------------------------------------------------------------ */

typedef struct part_table {
    meta_part *by_number;   /* index = part number; number 0 = absent */
} part_table;

static void collect_part(void *cls, const meta_part *p)
{
    part_table *t = cls;
    if (p->number >= 1 && p->number <= 10000) t->by_number[p->number] = *p;
}

/* Strips quotes (and whitespace) around an ETag from the request body. */
static char *bare_etag(char *e)
{
    while (*e == ' ' || *e == '\n' || *e == '\t' || *e == '\r') e++;
    size_t n = strlen(e);
    while (n && (e[n - 1] == ' ' || e[n - 1] == '\n' || e[n - 1] == '\t' || e[n - 1] == '\r')) e[--n] = 0;
    if (n >= 2 && e[0] == '"' && e[n - 1] == '"') {
        e[n - 1] = 0;
        e++;
    }
    return e;
}

/* The answer for the object o an upload became (just now, or by an earlier Complete retried). */
static s3_err respond_complete(s3_req *q, const meta_object *o)
{
    const char *host = http_header(q->http, "Host");
    const char *loc = q->vhost ? arena_printf(q->a, "http://%s/%s", host ? host : "", uri_encode(q->a, q->key, strlen(q->key), true))
                               : arena_printf(q->a, "http://%s/%s/%s", host ? host : "", q->bucket,
                                              uri_encode(q->a, q->key, strlen(q->key), true));
    xmlw w = {0};
    s3_xml_begin(q, &w, "CompleteMultipartUploadResult");
    xml_elem(&w, "Location", loc);
    xml_elem(&w, "Bucket", q->bucket);
    xml_elem(&w, "Key", q->key);
    xml_elem(&w, "ETag", arena_printf(q->a, "\"%s\"", o->etag));
    xml_end(&w, "CompleteMultipartUploadResult");
    http_resp_header(q->http, "ETag", arena_printf(q->a, "\"%s\"", o->etag));
    /* As for PutObject: S3 tells the write when its object will expire, by the parts' total size. */
    s3_expiration_header(q, o);
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

/* A retried Complete of an upload that already became the current object succeeds again. */
static s3_err complete_again(s3_req *q, const char *upload_id)
{
    meta_object o;
    if (meta_object_get(q->cfg->meta, q->bucket, q->key, q->a, &o) == META_OK) {
        const char *id = s3_headers_find(q, o.headers, UPLOAD_ID_HEADER);
        if (id && !strcmp(id, upload_id)) return respond_complete(q, &o);
    }
    return S3E_NoSuchUpload;
}

typedef struct listed_part {
    int number;
    char *etag;
} listed_part;

static s3_err parse_part_list(s3_req *q, listed_part **out, int *count)
{
    if (q->xml_body.len == 0) return s3_fail(q, S3E_InvalidRequest, "You must specify at least one part");
    xml_doc *d = xml_parse(q->xml_body.data, q->xml_body.len);
    xml_node *root = d ? xml_root(d, "CompleteMultipartUpload") : NULL;
    if (!root) {
        xml_doc_free(d);
        return S3E_MalformedXML;
    }
    int n = 0;
    for (xml_node *c = xml_next_child(root, NULL); c; c = xml_next_child(root, c))
        if (!strcmp(xml_name(c), "Part")) n++;
    if (n > 10000) {
        xml_doc_free(d);
        return S3E_MalformedXML;
    }
    listed_part *parts = arena_alloc(q->a, (size_t)(n ? n : 1) * sizeof *parts);
    int i = 0;
    s3_err e = S3E_OK;
    for (xml_node *c = xml_next_child(root, NULL); c && !e; c = xml_next_child(root, c)) {
        if (strcmp(xml_name(c), "Part") != 0) continue;
        char *num = xml_child_text(q->a, c, "PartNumber");
        char *etag = xml_child_text(q->a, c, "ETag");
        char *end;
        long v = num ? strtol(num, &end, 10) : 0;
        if (!num || !etag || !*num || *end) {
            e = S3E_MalformedXML;
            break;
        }
        if (v < 1 || v > 10000) {
            e = s3_fail(q, S3E_InvalidArgument, "Part number must be an integer between 1 and 10000");
            break;
        }
        parts[i].number = (int)v;
        parts[i].etag = bare_etag(etag);
        i++;
    }
    xml_doc_free(d);
    if (e) return e;
    if (n == 0) return s3_fail(q, S3E_InvalidRequest, "You must specify at least one part");
    *out = parts;
    *count = n;
    return S3E_OK;
}

static s3_err complete_begin(s3_req *q)
{
    /* The upload may be gone because it completed: a retry then succeeds again, which only
     * the part list can tell (complete_again). */
    meta_upload u;
    s3_err e = need_upload(q, &u);
    if (e == S3E_NoSuchUpload && s3_param_get(q, "uploadId")) return S3E_OK;
    return e;
}

static s3_err complete_end(s3_req *q)
{
    const char *upload_id = s3_param_get(q, "uploadId");
    if (!upload_id || !*upload_id) return S3E_NoSuchUpload;
    listed_part *listed = NULL;
    int n = 0;
    s3_err e = parse_part_list(q, &listed, &n);
    if (e) return e;
    for (int i = 1; i < n; i++)
        if (listed[i].number <= listed[i - 1].number) return S3E_InvalidPartOrder;

    part_table t = {calloc(10001, sizeof(meta_part))};
    if (!t.by_number) return S3E_InternalError;
    int64_t min_part = q->cfg->min_part_size > 0 ? q->cfg->min_part_size : S3_MIN_PART_SIZE;
    /* A part re-uploaded between our read and the commit makes the commit fail with
     * META_CONFLICT; reading again gives a consistent view. */
    int attempt;
    for (attempt = 0; attempt < 3; attempt++) {
        meta_upload u;
        meta_status st = meta_upload_get(q->cfg->meta, q->bucket, q->key, upload_id, q->a, &u);
        if (st == META_NOT_FOUND) {
            e = complete_again(q, upload_id);
            break;
        }
        if (st != META_OK) { e = S3E_InternalError; break; }
        memset(t.by_number, 0, 10001 * sizeof(meta_part));
        bool truncated;
        st = meta_part_list(q->cfg->meta, q->bucket, q->key, upload_id, 0, 0, collect_part, &t, &truncated);
        if (st == META_NOT_FOUND) {   /* aborted or completed since the read above */
            e = complete_again(q, upload_id);
            break;
        }
        if (st != META_OK) {
            e = S3E_InternalError;
            break;
        }
        meta_extent *ext = arena_alloc(q->a, (size_t)n * sizeof *ext);
        hash_ctx *h = hash_new(HASH_MD5);
        int64_t size = 0;
        e = S3E_OK;
        for (int i = 0; i < n && !e; i++) {
            meta_part *p = &t.by_number[listed[i].number];
            if (p->number == 0 || strcasecmp(p->etag, listed[i].etag) != 0) e = S3E_InvalidPart;
            else if (i < n - 1 && p->size < min_part) e = S3E_EntityTooSmall;
            if (e) break;
            memcpy(ext[i].blob_id, p->blob_id, sizeof ext[i].blob_id);
            memcpy(ext[i].etag, p->etag, sizeof ext[i].etag);
            ext[i].size = p->size;
            size += p->size;
            unsigned char bin[16];
            hex_decode(p->etag, 32, bin, 16);
            hash_update(h, bin, 16);
        }
        unsigned char digest[16];
        hash_final(h, digest);
        if (e) break;
        char hex[33];
        hex_encode(digest, 16, hex);

        /* Conditional completion, as for PutObject: checked here, and again in the commit. */
        const meta_expect *x;
        if ((e = s3_write_conditions(q, &x))) break;

        meta_object o = {
            .key = q->key,
            .size = size,
            .mtime_ms = time_now_ms(),
            .headers = arena_printf(q->a, "%s%s:%s\n", u.headers ? u.headers : "", UPLOAD_ID_HEADER, upload_id),
            .nextents = n,
            .extents = ext,
            .parts_count = n,
        };
        snprintf(o.etag, sizeof o.etag, "%s-%d", hex, n);
        snprintf(o.storage_class, sizeof o.storage_class, "%s", u.storage_class);
        const char *days = s3_headers_find(q, u.headers, EXPIRY_DAYS_HEADER);
        if (days) o.expire_ms = o.mtime_ms + strtoll(days, NULL, 10) * q->cfg->day_ms;
        st = meta_upload_complete(q->cfg->meta, q->bucket, upload_id, &o, x);
        /* A part re-uploaded, or the object written by another request (the conditions are
         * asked again of what is there now): read again. */
        if (st == META_CONFLICT || st == META_STALE) continue;
        if (st == META_NOT_FOUND) e = complete_again(q, upload_id);
        else if (st != META_OK) e = S3E_InternalError;
        else e = respond_complete(q, &o);
        break;
    }
    if (attempt == 3) e = s3_fail(q, S3E_InternalError, "The upload's parts or its object kept changing; try again.");
    free(t.by_number);
    return e;
}

const s3_op op_complete_upload = {"CompleteMultipartUpload", "wos:PutObject", complete_begin, s3_collect_body,
                                  complete_end, NULL};

/* --- Abort --------------------------------------------------------------------------------- */

static s3_err abort_end(s3_req *q)
{
    meta_upload u;
    s3_err e = need_upload(q, &u);
    if (e) return e;
    meta_status st = meta_upload_abort(q->cfg->meta, q->bucket, q->key, u.upload_id);
    if (st == META_NOT_FOUND) return S3E_NoSuchUpload;
    if (st != META_OK) return S3E_InternalError;
    /* WOS documents 200 for Abort; S3 answers 204. */
    s3_respond_empty(q, q->dialect == DIALECT_WOS ? 200 : 204);
    return S3E_OK;
}

const s3_op op_abort_upload = {"AbortMultipartUpload", "wos:AbortMultipartUpload", NULL, NULL, abort_end, NULL};

/* --- ListParts ----------------------------------------------------------------------------- */

typedef struct parts_ctx {
    s3_req *q;
    xmlw *w;
    int last;
} parts_ctx;

static void part_entry(void *cls, const meta_part *p)
{
    parts_ctx *c = cls;
    xml_open(c->w, "Part");
    xml_elem_i64(c->w, "PartNumber", p->number);
    char ts[25];
    time_fmt_iso_ms(p->mtime_ms, ts);
    xml_elem(c->w, "LastModified", ts);
    xml_elem(c->w, "ETag", arena_printf(c->q->a, "\"%s\"", p->etag));
    xml_elem_i64(c->w, "Size", p->size);
    xml_close(c->w, "Part");
    c->last = p->number;
}

static s3_err list_parts_end(s3_req *q)
{
    meta_upload u;
    s3_err e = need_upload(q, &u);
    if (e) return e;
    int max = 1000, marker = 0;
    const char *mp = s3_param_get(q, "max-parts"), *pm = s3_param_get(q, "part-number-marker");
    char *end;
    if (mp) {
        long v = strtol(mp, &end, 10);
        if (!*mp || *end) return s3_fail(q, S3E_InvalidArgument, "Provided maxParts not an integer or within integer range.");
        if (v < 0 || v > 1000) return s3_fail(q, S3E_InvalidArgument, "Argument maxParts must be an integer between 0 and 1000");
        max = (int)v;
    }
    if (pm) {
        long v = strtol(pm, &end, 10);
        if (!*pm || *end || v < 0 || v > 10000) return s3_fail(q, S3E_InvalidArgument, "Provided part-number-marker not an integer");
        marker = (int)v;
    }
    xmlw body = {0};
    parts_ctx c = {q, &body, 0};
    bool truncated = false;
    meta_status st = max > 0 ? meta_part_list(q->cfg->meta, q->bucket, q->key, u.upload_id, marker, max, part_entry, &c,
                                                   &truncated)
                             : META_OK;
    if (st != META_OK) {
        buf_free(&body.b);
        return st == META_NOT_FOUND ? S3E_NoSuchUpload : S3E_InternalError;
    }
    xmlw w = {0};
    s3_xml_begin(q, &w, "ListPartsResult");
    xml_elem(&w, "Bucket", q->bucket);
    xml_elem(&w, "Key", q->key);
    xml_elem(&w, "UploadId", u.upload_id);
    xml_owner(&w, "Initiator", u.owner);
    xml_owner(&w, "Owner", u.owner);
    xml_elem(&w, "StorageClass", u.storage_class);
    xml_elem_i64(&w, "PartNumberMarker", marker);
    xml_elem_i64(&w, "NextPartNumberMarker", c.last);
    xml_elem_i64(&w, "MaxParts", max);
    xml_elem_bool(&w, "IsTruncated", truncated);
    if (body.b.len) buf_append(&w.b, body.b.data, body.b.len);
    buf_free(&body.b);
    xml_end(&w, "ListPartsResult");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

const s3_op op_list_parts = {"ListParts", "wos:ListParts", NULL, NULL, list_parts_end, NULL};

/* --- ListMultipartUploads ---------------------------------------------------------------------- */

typedef struct uploads_ctx {
    s3_req *q;
    xmlw *w;
    buf prefixes;
    const char *last_key, *last_id;
} uploads_ctx;

static void upload_entry(void *cls, const char *prefix, const meta_upload *u)
{
    uploads_ctx *c = cls;
    if (prefix) {
        xmlw pw = {c->prefixes};
        xml_open(&pw, "CommonPrefixes");
        xml_elem(&pw, "Prefix", prefix);
        xml_close(&pw, "CommonPrefixes");
        c->prefixes = pw.b;
        c->last_key = arena_strdup(c->q->a, prefix);
        c->last_id = "";
        return;
    }
    xml_open(c->w, "Upload");
    xml_elem(c->w, "Key", u->key);
    xml_elem(c->w, "UploadId", u->upload_id);
    xml_owner(c->w, "Initiator", u->owner);
    xml_owner(c->w, "Owner", u->owner);
    xml_elem(c->w, "StorageClass", u->storage_class);
    char ts[25];
    time_fmt_iso_ms(u->initiated_ms, ts);
    xml_elem(c->w, "Initiated", ts);
    xml_close(c->w, "Upload");
    c->last_key = arena_strdup(c->q->a, u->key);
    c->last_id = arena_strdup(c->q->a, u->upload_id);
}

static s3_err list_uploads_end(s3_req *q)
{
    s3_err e = need_bucket(q, &(meta_bucket){0});
    if (e) return e;
    meta_upload_query uq = {
        .prefix = s3_param_get(q, "prefix") ? s3_param_get(q, "prefix") : "",
        .delimiter = s3_param_get(q, "delimiter"),
        .key_marker = s3_param_get(q, "key-marker"),
        .upload_id_marker = s3_param_get(q, "upload-id-marker"),
        .max = 1000,
    };
    const char *mu = s3_param_get(q, "max-uploads");
    if (mu) {
        char *end;
        long v = strtol(mu, &end, 10);
        if (!*mu || *end || v < 0)
            return s3_fail(q, S3E_InvalidArgument, "Provided max-uploads not an integer or within integer range");
        uq.max = v > 1000 ? 1000 : (int)v;
    }
    xmlw body = {0};
    uploads_ctx c = {.q = q, .w = &body};
    bool truncated = false;
    if (uq.max > 0 && meta_upload_list(q->cfg->meta, q->bucket, &uq, q->a, upload_entry, &c, &truncated) != META_OK) {
        buf_free(&body.b);
        buf_free(&c.prefixes);
        return S3E_InternalError;
    }
    xmlw w = {0};
    s3_xml_begin(q, &w, "ListMultipartUploadsResult");
    xml_elem(&w, "Bucket", q->bucket);
    xml_elem(&w, "KeyMarker", uq.key_marker ? uq.key_marker : "");
    xml_elem(&w, "UploadIdMarker", uq.upload_id_marker ? uq.upload_id_marker : "");
    if (truncated) {
        xml_elem(&w, "NextKeyMarker", c.last_key ? c.last_key : "");
        xml_elem(&w, "NextUploadIdMarker", c.last_id ? c.last_id : "");
    }
    xml_elem_i64(&w, "MaxUploads", uq.max);
    xml_elem_bool(&w, "IsTruncated", truncated);
    xml_elem(&w, "Prefix", uq.prefix);
    if (uq.delimiter) xml_elem(&w, "Delimiter", uq.delimiter);
    if (body.b.len) buf_append(&w.b, body.b.data, body.b.len);
    if (c.prefixes.len) buf_append(&w.b, c.prefixes.data, c.prefixes.len);
    buf_free(&body.b);
    buf_free(&c.prefixes);
    xml_end(&w, "ListMultipartUploadsResult");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

const s3_op op_list_uploads = {"ListMultipartUploads", "wos:ListMultipartUploads", NULL, NULL, list_uploads_end, NULL};
