/* objlc — an object's own lifecycle as clients see it: the expiry a write asks for
 * (x-wos-delete-after-days, WOS-API.md §5.1) and the x-wos-expiration header that reads report
 * (§5.3, §7) for an object that will expire, on its own or by a bucket rule. */
#include <stdlib.h>
#include <string.h>

#include "s3/lifecycle.h"
#include "s3/s3_internal.h"
#include "util/timefmt.h"

s3_err s3_expiry_from_request(s3_req *q, int64_t *days)
{
    *days = -1;
    const char *v = s3_xhdr(q, "delete-after-days");
    if (!v) v = s3_xhdr(q, "expires");
    if (!v) return S3E_OK;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < 0 || n > 1000000 || (v[0] < '0' || v[0] > '9'))
        return s3_fail(q, S3E_InvalidArgument, "x-wos-delete-after-days must be a non-negative integer of days.");
    *days = n;
    return S3E_OK;
}

void s3_expiration_header(s3_req *q, const meta_object *o)
{
    int64_t at = 0;
    const char *rule_id = NULL;
    if (o->expire_ms > 0) at = o->expire_ms;
    /* A bucket's rules cost one primary-key read when there are none. */
    const char *doc;
    if (meta_lifecycle_get(q->cfg->meta, q->bucket, q->a, &doc) == META_OK) {
        lc_config c;
        const char *msg;
        int64_t rat;
        const lc_rule *r;
        if (lc_parse(q->a, doc, strlen(doc), &c, &msg) == S3E_OK &&
            (r = lc_expiry(&c, o->key, o->mtime_ms, q->cfg->day_ms, &rat)) && (!at || rat < at)) {
            at = rat;
            rule_id = r->id;
        }
    }
    if (!at) return;
    char date[30];
    /* Rounded up to a whole second: the header cannot say less, and must not say earlier. */
    time_fmt_http((at + 999) / 1000, date);
    const char *v = rule_id ? arena_printf(q->a, "expiry-date=\"%s\", rule-id=\"%s\"", date, rule_id)
                            : arena_printf(q->a, "expiry-date=\"%s\"", date);
    s3_resp_xhdr(q, "expiration", v);
}
