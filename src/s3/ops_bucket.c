/* ops_bucket — the service and bucket operations: ListBuckets (GetService), CreateBucket,
 * HeadBucket, DeleteBucket, GetBucketLocation, GetBucketVersioning, and GET/PUT ?acl for
 * buckets and objects with the canned ACLs (private, public-read, public-read-write,
 * authenticated-read). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "s3/authz.h"
#include "s3/s3_internal.h"
#include "s3/xml_in.h"
#include "util/log.h"
#include "util/timefmt.h"

static s3_err meta_err(meta_status st)
{
    switch (st) {
    case META_OK: return S3E_OK;
    case META_NOT_FOUND: return S3E_NoSuchBucket;
    case META_NOT_EMPTY: return S3E_BucketNotEmpty;
    default: return S3E_InternalError;
    }
}

/* Every bucket operation but CreateBucket needs the bucket to exist. */
static s3_err need_bucket(s3_req *q, meta_bucket *b)
{
    if (!s3_bucket_name_valid(q->bucket)) return S3E_NoSuchBucket;
    meta_bucket tmp;
    return meta_err(authz_bucket(q->bucket, b ? b : &tmp));
}

/* --- ListBuckets -------------------------------------------------------------------------- */

static void list_one(void *cls, const meta_bucket *b)
{
    xmlw *w = ((void **)cls)[0];
    s3_req *q = ((void **)cls)[1];
    /* A user sees the buckets it may list (GetService itself was checked before). */
    if (!authz_may_list(q, b)) return;
    xml_open(w, "Bucket");
    xml_elem(w, "Name", b->name);
    char ts[25];
    time_fmt_iso_ms(b->created_ms, ts);
    xml_elem(w, "CreationDate", ts);
    xml_close(w, "Bucket");
}

static s3_err list_buckets_end(s3_req *q)
{
    xmlw w = {0};
    s3_xml_begin(q, &w, "ListAllMyBucketsResult");
    xml_owner(&w, "Owner", s3_owner_id(q));
    xml_open(&w, "Buckets");
    void *cls[2] = {&w, q};
    if (meta_bucket_list(q->cfg->meta, list_one, cls) != META_OK) {
        buf_free(&w.b);
        return S3E_InternalError;
    }
    xml_close(&w, "Buckets");
    xml_end(&w, "ListAllMyBucketsResult");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

const s3_op op_list_buckets = {"ListBuckets", "wos:GetService", NULL, NULL, list_buckets_end, NULL};

/* --- CreateBucket ------------------------------------------------------------------------- */

static s3_err create_bucket_begin(s3_req *q)
{
    if (!s3_bucket_name_valid(q->bucket)) return S3E_InvalidBucketName;
    /* Path-style /wos-admin/… is the admin API (request.c): no bucket may take its name. */
    if (strcmp(q->bucket, "wos-admin") == 0)
        return s3_fail(q, S3E_InvalidBucketName, "The bucket name wos-admin is reserved.");
    const char *acl;
    return s3_acl_from_request(q, &acl);
}

static s3_err create_bucket_end(s3_req *q)
{
    meta_bucket b = {0};
    snprintf(b.name, sizeof b.name, "%s", q->bucket);
    snprintf(b.owner, sizeof b.owner, "%s", s3_owner_id(q));
    snprintf(b.region, sizeof b.region, "%s", q->cfg->region);
    snprintf(b.storage_class, sizeof b.storage_class, "Standard");
    b.created_ms = time_now_ms();
    const char *acl;
    s3_err e = s3_acl_from_request(q, &acl);
    if (e) return e;
    snprintf(b.acl, sizeof b.acl, "%s", acl ? acl : "private");

    const char *sc = s3_xhdr(q, "storage-class");
    if (sc) {
        const char *parsed = s3_storage_class_parse(sc);
        if (!parsed) return S3E_InvalidStorageClass;
        snprintf(b.storage_class, sizeof b.storage_class, "%s", parsed);
    }

    if (q->xml_body.len) {
        xml_doc *d = xml_parse(q->xml_body.data, q->xml_body.len);
        xml_node *root = d ? xml_root(d, "CreateBucketConfiguration") : NULL;
        if (!root) {
            xml_doc_free(d);
            return S3E_MalformedXML;
        }
        char *loc = xml_child_text(q->a, root, "LocationConstraint");
        xml_doc_free(d);
        if (loc && *loc && strcmp(loc, q->cfg->region) != 0)
            return s3_fail(q, strcmp(q->cfg->region, "us-east-1") == 0 ? S3E_InvalidLocationConstraint
                                                                        : S3E_IllegalLocationConstraintException,
                           NULL);
    }

    meta_bucket existing;
    meta_status st = meta_bucket_create(q->cfg->meta, &b, &existing);
    if (st == META_EXISTS)
        return authz_is_owner(q, existing.owner) ? S3E_BucketAlreadyOwnedByYou : S3E_BucketAlreadyExists;
    if (st != META_OK) return S3E_InternalError;
    http_resp_header(q->http, "Location", q->vhost ? "/" : http_path_raw(q->http));
    s3_respond_empty(q, 200);
    return S3E_OK;
}

const s3_op op_create_bucket = {"CreateBucket", "wos:PutBucket", create_bucket_begin, s3_collect_body,
                                create_bucket_end, NULL};

/* --- HeadBucket / DeleteBucket / location / versioning ------------------------------------ */

static s3_err head_bucket_end(s3_req *q)
{
    meta_bucket b;
    s3_err e = need_bucket(q, &b);
    if (e) return e;
    s3_resp_xhdr(q, "bucket-region", b.region);
    s3_respond_empty(q, 200);
    return S3E_OK;
}

const s3_op op_head_bucket = {"HeadBucket", "wos:GetBucket", NULL, NULL, head_bucket_end, NULL};

static s3_err delete_bucket_end(s3_req *q)
{
    s3_err e = need_bucket(q, NULL);
    if (e) return e;
    e = meta_err(meta_bucket_delete(q->cfg->meta, q->bucket));
    if (e) return e;
    s3_respond_empty(q, 204);
    return S3E_OK;
}

const s3_op op_delete_bucket = {"DeleteBucket", "wos:DeleteBucket", NULL, NULL, delete_bucket_end, NULL};

static s3_err location_end(s3_req *q)
{
    meta_bucket b;
    s3_err e = need_bucket(q, &b);
    if (e) return e;
    /* The region is the root element's text; S3 leaves it empty for us-east-1. */
    xmlw w = {0};
    buf_puts(&w.b, q->dialect == DIALECT_WOS ? "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
                                             : "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    buf_printf(&w.b, "<LocationConstraint xmlns=\"%s\">", s3_ns(q));
    if (!(q->dialect == DIALECT_AWS && strcmp(b.region, "us-east-1") == 0))
        xml_escape(&w.b, b.region, strlen(b.region));
    buf_puts(&w.b, "</LocationConstraint>");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

const s3_op op_get_bucket_location = {"GetBucketLocation", "wos:GetBucketLocation", NULL, NULL, location_end, NULL};

static s3_err versioning_end(s3_req *q)
{
    s3_err e = need_bucket(q, NULL);
    if (e) return e;
    xmlw w = {0};
    s3_xml_begin(q, &w, "VersioningConfiguration");
    xml_end(&w, "VersioningConfiguration");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

const s3_op op_get_bucket_versioning = {"GetBucketVersioning", "wos:GetBucketVersioning", NULL, NULL,
                                        versioning_end, NULL};

/* --- ACLs: the owner's FULL_CONTROL and the canned grants ---------------------------------- */

#define ALL_USERS "http://acs.amazonaws.com/groups/global/AllUsers"
#define AUTHENTICATED_USERS "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"

/* The bucket, and the object when the request names one. */
typedef struct acl_target {
    meta_bucket b;
    meta_object o;
} acl_target;

static s3_err acl_target_get(s3_req *q, acl_target *t)
{
    s3_err e = need_bucket(q, &t->b);
    if (e || !q->key) return e;
    meta_status st = meta_object_get(q->cfg->meta, q->bucket, q->key, q->a, &t->o);
    return st == META_OK ? S3E_OK : st == META_NOT_FOUND ? S3E_NoSuchKey : S3E_InternalError;
}

static void group_grant(xmlw *w, const char *uri, const char *perm)
{
    buf_puts(&w->b, "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"Group\">");
    xml_elem(w, "URI", uri);
    buf_puts(&w->b, "</Grantee>");
    xml_elem(w, "Permission", perm);
    xml_close(w, "Grant");
}

static s3_err get_acl_end(s3_req *q)
{
    acl_target t;
    s3_err e = acl_target_get(q, &t);
    if (e) return e;
    /* Objects have no owner of their own here: the bucket's owner owns what is in it. */
    const char *owner = s3_owner_display(q, t.b.owner);
    const char *acl = q->key ? s3_headers_acl(q, t.o.headers) : s3_canned_acl(t.b.acl);
    if (!acl) acl = "private";
    xmlw w = {0};
    s3_xml_begin(q, &w, "AccessControlPolicy");
    xml_owner(&w, "Owner", owner);
    xml_open(&w, "AccessControlList");
    buf_puts(&w.b, "<Grant><Grantee xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"CanonicalUser\">");
    xml_elem(&w, "ID", owner);
    xml_elem(&w, "DisplayName", owner);
    buf_puts(&w.b, "</Grantee>");
    xml_elem(&w, "Permission", "FULL_CONTROL");
    xml_close(&w, "Grant");
    if (!strcmp(acl, "public-read") || !strcmp(acl, "public-read-write")) group_grant(&w, ALL_USERS, "READ");
    if (!strcmp(acl, "public-read-write")) group_grant(&w, ALL_USERS, "WRITE");
    if (!strcmp(acl, "authenticated-read")) group_grant(&w, AUTHENTICATED_USERS, "READ");
    xml_close(&w, "AccessControlList");
    xml_end(&w, "AccessControlPolicy");
    s3_respond_xml(q, 200, &w);
    return S3E_OK;
}

const s3_op op_get_acl = {"GetAcl", "wos:GetObjectAcl", NULL, NULL, get_acl_end, NULL};

/* The canned ACL an AccessControlPolicy body amounts to (clients such as s3cmd read the
 * document GET ?acl gave them, add or remove a group grant, and write it back), or NULL when
 * it says something no canned ACL says. */
static const char *acl_from_body(s3_req *q, const char *owner)
{
    xml_doc *d = xml_parse(q->xml_body.data, q->xml_body.len);
    xml_node *root = d ? xml_root(d, "AccessControlPolicy") : NULL;
    xml_node *list = root ? xml_child(root, "AccessControlList") : NULL;
    bool ok = list != NULL, all_read = false, all_write = false, auth_read = false;
    for (xml_node *g = list ? xml_next_child(list, NULL) : NULL; g && ok; g = xml_next_child(list, g)) {
        xml_node *grantee = xml_child(g, "Grantee");
        const char *id = grantee ? xml_child_text(q->a, grantee, "ID") : NULL;
        const char *uri = grantee ? xml_child_text(q->a, grantee, "URI") : NULL;
        const char *perm = xml_child_text(q->a, g, "Permission");
        if (!perm) ok = false;
        else if (id) ok = (!strcmp(id, owner) || authz_is_owner(q, id)) && !strcmp(perm, "FULL_CONTROL");
        else if (uri && !strcmp(uri, ALL_USERS) && !strcmp(perm, "READ")) all_read = true;
        else if (uri && !strcmp(uri, ALL_USERS) && !strcmp(perm, "WRITE")) all_write = true;
        else if (uri && !strcmp(uri, AUTHENTICATED_USERS) && !strcmp(perm, "READ")) auth_read = true;
        else ok = false;
    }
    xml_doc_free(d);
    if (!ok) return NULL;
    if (!all_read && !all_write && !auth_read) return "private";
    if (all_read && !all_write && !auth_read) return "public-read";
    if (all_read && all_write && !auth_read) return "public-read-write";
    if (!all_read && !all_write && auth_read) return "authenticated-read";
    return NULL;
}

static s3_err put_acl_end(s3_req *q)
{
    acl_target t;
    s3_err e = acl_target_get(q, &t);
    if (e) return e;
    const char *acl;
    if ((e = s3_acl_from_request(q, &acl))) return e;
    if (acl && q->xml_body.len)
        return s3_fail(q, S3E_InvalidRequest, "Specify either a canned ACL header or an AccessControlPolicy body, not both.");
    if (!acl && q->xml_body.len && !(acl = acl_from_body(q, s3_owner_display(q, t.b.owner))))
        return s3_fail(q, S3E_NotImplemented,
                       "Only the grants of the canned ACLs private, public-read, public-read-write and "
                       "authenticated-read are supported.");
    if (!acl) return s3_fail(q, S3E_MissingSecurityHeader, "Your request was missing a required header: x-amz-acl");

    if (!q->key) {
        meta_status st = meta_bucket_set_acl(q->cfg->meta, q->bucket, acl);
        if (st != META_OK) return st == META_NOT_FOUND ? S3E_NoSuchBucket : S3E_InternalError;
    } else {
        /* Only the headers change, and only on the version read: a PUT racing with us wins
         * and we apply the ACL to what it wrote. */
        for (int attempt = 0;; attempt++) {
            const char *h = s3_headers_set_acl(q, t.o.headers, acl);
            meta_status st = meta_object_set_headers(q->cfg->meta, q->bucket, q->key, t.o.etag, t.o.mtime_ms, h);
            if (st == META_OK) break;
            if (st != META_NOT_FOUND || attempt == 3) return S3E_InternalError;
            st = meta_object_get(q->cfg->meta, q->bucket, q->key, q->a, &t.o);
            if (st == META_NOT_FOUND) return S3E_NoSuchKey;
            if (st != META_OK) return S3E_InternalError;
        }
    }
    s3_respond_empty(q, 200);
    return S3E_OK;
}

const s3_op op_put_acl = {"PutAcl", "wos:PutObjectAcl", NULL, s3_collect_body, put_acl_end, NULL};

/* --- what wosd does not have ---------------------------------------------------------------- */

static s3_err not_implemented_begin(s3_req *q) { return S3E_NotImplemented; }

const s3_op op_not_implemented = {"NotImplemented", "", not_implemented_begin, NULL, NULL, NULL};
