/* bench_work — what each workload asks, and what a right answer looks like.
 *
 * bench_work_next() fills a connection's next request from the worker's phase and workload;
 * bench_work_done() judges the answer (status, then — unless --no-verify — size, bytes and
 * ETag against the generated data), records the operation or its error, and carries the
 * state a workload keeps between requests (a multipart upload's parts, a listing's
 * continuation token).
 *
 * Keys are owned by workers: worker t of T owns key indexes t, t+T, t+2T, … so no two threads
 * ever touch one key, and the mixed workload can know exactly which of its keys exist. A key
 * index i names the key PREFIX + "%08u"; its size and content follow from i alone (and the
 * seed), so a later run — or another process — knows what every prepared object must hold. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/bench_internal.h"
#include "util/hash.h"

enum { KS_PRESENT = 1, KS_BUSY = 2 };

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rnd(bench_worker *w)
{
    w->rng = w->rng * 6364136223846793005ull + 1442695040888963407ull;
    return mix64(w->rng);
}

uint64_t bench_key_size(const bench_cfg *cfg, uint64_t key)
{
    if (cfg->size_hi == cfg->size_lo) return cfg->size_lo;
    return cfg->size_lo + mix64(key ^ cfg->seed) % (cfg->size_hi - cfg->size_lo + 1);
}

uint64_t bench_key_base(const bench_ctx *ctx, uint64_t key)
{
    uint64_t v = mix64(key * 31 + ctx->cfg->seed) % ctx->nvariants;
    return v * (BENCH_POOL_PERIOD / BENCH_VARIANTS_MAX);
}

/* --- small helpers --------------------------------------------------------------------------- */

/* RFC 3986 encoding of a query value (upload ids, continuation tokens). */
static bool qenc(const char *s, char *out, size_t cap)
{
    static const char d[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        bool keep = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                    ch == '_' || ch == '.' || ch == '~';
        if (o + 4 > cap) return false;
        if (keep) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = d[ch >> 4];
            out[o++] = d[ch & 15];
        }
    }
    out[o] = 0;
    return true;
}

/* The text of the first <name>…</name> in body, entities decoded. */
static bool xml_text(const char *body, const char *name, char *out, size_t cap)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", name);
    snprintf(close, sizeof close, "</%s>", name);
    const char *a = body ? strstr(body, open) : NULL;
    if (!a) return false;
    a += strlen(open);
    const char *b = strstr(a, close);
    if (!b) return false;
    size_t o = 0;
    for (const char *p = a; p < b; p++) {
        char ch = *p;
        if (ch == '&') {
            static const struct { const char *e; char c; } ents[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}, {"&#34;", '"'},
            };
            for (size_t i = 0; i < sizeof ents / sizeof *ents; i++) {
                size_t l = strlen(ents[i].e);
                if ((size_t)(b - p) >= l && strncmp(p, ents[i].e, l) == 0) {
                    ch = ents[i].c;
                    p += l - 1;
                    break;
                }
            }
        }
        if (o + 1 >= cap) return false;
        out[o++] = ch;
    }
    out[o] = 0;
    return true;
}

static uint64_t count_of(const char *body, size_t len, const char *needle)
{
    uint64_t n = 0;
    size_t nl = strlen(needle);
    const char *p = body, *end = body + len;
    while (p && p < end) {
        p = memmem(p, (size_t)(end - p), needle, nl);
        if (!p) break;
        n++;
        p += nl;
    }
    return n;
}

static bool etag_is(const char *etag, const unsigned char md5v[16], int parts)
{
    char want[48];
    hex_encode(md5v, 16, want);
    if (parts > 0) snprintf(want + 32, sizeof want - 32, "-%d", parts);
    return strcasecmp(etag, want) == 0;
}

static void expected_md5(bench_worker *w, uint64_t base, uint64_t len, unsigned char out[16])
{
    bench_md5_get(w->ctx->md5_shared, &w->md5, base, len, out);
}

static bool s3_target(const bench_worker *w) { return !w->ctx->cfg->no_bucket_ops; }

static uint64_t own_count(const bench_worker *w)
{
    const bench_cfg *cfg = w->ctx->cfg;
    uint64_t t = (uint64_t)w->id, T = (uint64_t)cfg->threads;
    return cfg->objects > t ? (cfg->objects - t + T - 1) / T : 0;
}

static uint64_t key_of(const bench_worker *w, uint64_t j)
{
    return (uint64_t)w->id + (uint64_t)w->ctx->cfg->threads * j;
}

/* Keys for writes in the run: distinct, or cycling over --objects when it was given. */
static bool run_key(bench_worker *w, uint64_t *idx)
{
    const bench_cfg *cfg = w->ctx->cfg;
    uint64_t j = w->seq_next++;
    if (cfg->objects_set) {
        uint64_t n = own_count(w);
        if (!n) return false;
        if (j + 1 > w->seq_written) w->seq_written = j + 1 < n ? j + 1 : n;
        j %= n;
    } else if (j + 1 > w->seq_written) {
        w->seq_written = j + 1;
    }
    *idx = key_of(w, j);
    return true;
}

static bool op_budget(bench_worker *w)
{
    if (w->ph->max_ops && w->ops_started >= w->ph->max_ops) return false;
    w->ops_started++;
    return true;
}

static void set_key(bench_req *rq, bench_op op, const char *method, uint64_t idx)
{
    rq->op = op;
    rq->method = method;
    rq->has_key = true;
    rq->key = idx;
}

static void req_put(bench_worker *w, bench_conn *c, uint64_t idx)
{
    set_key(&c->req, BOP_PUT, "PUT", idx);
    c->req.body_len = (int64_t)bench_key_size(w->ctx->cfg, idx);
    c->req.gen_base = bench_key_base(w->ctx, idx);
    c->key = idx;
}

static void req_get(bench_worker *w, bench_conn *c, uint64_t idx)
{
    set_key(&c->req, BOP_GET, "GET", idx);
    c->req.sink = w->ctx->cfg->verify ? SINK_VERIFY : SINK_DISCARD;
    c->req.expect_base = bench_key_base(w->ctx, idx);
    c->key = idx;
}

/* --- the multipart upload's steps ------------------------------------------------------------ */

static uint64_t mp_parts_of(const bench_cfg *cfg, uint64_t size)
{
    if (size == 0) return 1;
    return (size + cfg->part_size - 1) / cfg->part_size;
}

static bool mp_next(bench_worker *w, bench_conn *c)
{
    const bench_cfg *cfg = w->ctx->cfg;
    bench_req *rq = &c->req;
    if (!c->in_upload) {
        uint64_t idx;
        if (!op_budget(w) || !run_key(w, &idx)) return false;
        c->key = idx;
        c->mp_parts = (int)mp_parts_of(cfg, bench_key_size(cfg, idx));
        c->mp_part = 0;
        c->upload_id[0] = 0;
        c->in_upload = true;
        c->op_t0 = bench_now_ns();
        if (!c->mp_md5) {
            c->mp_md5 = calloc(mp_parts_of(cfg, cfg->size_hi), 16);
            if (!c->mp_md5) abort();
        }
        set_key(rq, BOP_INITIATE, "POST", idx);
        snprintf(rq->query, sizeof rq->query, "uploads");
        rq->sink = SINK_COLLECT;
        return true;
    }
    char id[3 * sizeof c->upload_id];
    if (!qenc(c->upload_id, id, sizeof id)) return false;
    uint64_t size = bench_key_size(cfg, c->key);
    if (c->mp_part < c->mp_parts) {
        uint64_t off = (uint64_t)c->mp_part * cfg->part_size;
        uint64_t len = size - off < cfg->part_size ? size - off : cfg->part_size;
        set_key(rq, BOP_PART, "PUT", c->key);
        snprintf(rq->query, sizeof rq->query, "partNumber=%d&uploadId=%s", c->mp_part + 1, id);
        rq->body_len = (int64_t)len;
        rq->gen_base = bench_key_base(w->ctx, c->key) + off;
        return true;
    }
    buf *x = &c->xml;
    x->len = 0;
    buf_puts(x, "<CompleteMultipartUpload>");
    for (int i = 0; i < c->mp_parts; i++) {
        char hex[33];
        hex_encode(c->mp_md5[i], 16, hex);
        buf_printf(x, "<Part><PartNumber>%d</PartNumber><ETag>\"%s\"</ETag></Part>", i + 1, hex);
    }
    buf_puts(x, "</CompleteMultipartUpload>");
    set_key(rq, BOP_COMPLETE, "POST", c->key);
    snprintf(rq->query, sizeof rq->query, "uploadId=%s", id);
    rq->body_len = (int64_t)x->len;
    rq->body_small = true;
    rq->sink = SINK_COLLECT;
    return true;
}

static void remember_upload(bench_worker *w, const char *id, uint64_t key)
{
    if (!id[0] || strlen(id) >= sizeof w->uploads->id) return;
    if (w->nuploads == w->capuploads) {
        size_t cap = w->capuploads ? w->capuploads * 2 : 1024;
        bench_upload *p = realloc(w->uploads, cap * sizeof *p);
        if (!p) return;
        w->uploads = p;
        w->capuploads = cap;
    }
    bench_upload *u = &w->uploads[w->nuploads++];
    snprintf(u->id, sizeof u->id, "%s", id);
    u->key = key;
}

/* --- list ------------------------------------------------------------------------------------ */

static bool list_next(bench_worker *w, bench_conn *c)
{
    const bench_cfg *cfg = w->ctx->cfg;
    bench_req *rq = &c->req;
    if (!c->list_walking) {
        if (!op_budget(w)) return false;
        /* A walk starts at a random key, so the pages cover the whole key space; never so near
         * the end that its first page is short (in a bucket of one page, every walk starts at
         * the beginning), so page costs compare between buckets of any size. */
        uint64_t span = cfg->objects > (uint64_t)cfg->page_size ? cfg->objects - (uint64_t)cfg->page_size + 1 : 1;
        uint64_t r = rnd(w) % span;
        free(c->token);
        c->token = NULL;
        c->list_walking = true;
        c->list_left = cfg->objects - r;
        c->key = r;   /* start after key r-1; r == 0: from the beginning */
    } else if (!op_budget(w)) {
        return false;
    }
    rq->op = BOP_LIST;
    rq->method = "GET";
    rq->sink = SINK_COLLECT;
    char pfx[sizeof cfg->prefix * 3];
    if (!qenc(cfg->prefix, pfx, sizeof pfx)) return false;
    if (c->token) {
        char tok[BENCH_QUERY_CAP / 2];
        if (!qenc(c->token, tok, sizeof tok)) return false;
        int n = snprintf(rq->query, sizeof rq->query, "continuation-token=%s&list-type=2&max-keys=%d%s%s", tok,
                         cfg->page_size, pfx[0] ? "&prefix=" : "", pfx);
        if (n < 0 || (size_t)n >= sizeof rq->query) return false;
    } else if (c->key == 0) {
        snprintf(rq->query, sizeof rq->query, "list-type=2&max-keys=%d%s%s", cfg->page_size, pfx[0] ? "&prefix=" : "",
                 pfx);
    } else {
        char k[BENCH_KEY_CAP], ke[3 * BENCH_KEY_CAP];
        bench_key(cfg, c->key - 1, false, k, sizeof k);
        if (!qenc(k, ke, sizeof ke)) return false;
        int n = snprintf(rq->query, sizeof rq->query, "list-type=2&max-keys=%d%s%s&start-after=%s", cfg->page_size,
                         pfx[0] ? "&prefix=" : "", pfx, ke);
        if (n < 0 || (size_t)n >= sizeof rq->query) return false;
    }
    return true;
}

/* --- mixed ----------------------------------------------------------------------------------- */

static bool mixed_pick(bench_worker *w, bool need_present, uint64_t *j_out)
{
    uint64_t n = own_count(w);
    if (!n) return false;
    for (int t = 0; t < 16; t++) {
        uint64_t j = rnd(w) % n;
        uint8_t s = w->kstate[j];
        if (!(s & KS_BUSY) && (!need_present || (s & KS_PRESENT))) {
            *j_out = j;
            return true;
        }
    }
    return false;
}

static bool mixed_next(bench_worker *w, bench_conn *c)
{
    const bench_cfg *cfg = w->ctx->cfg;
    if (!op_budget(w)) return false;
    int total = 0;
    for (int i = 0; i < MIX__N; i++) total += cfg->mix[i];
    int r = (int)(rnd(w) % (uint64_t)total), kind = 0;
    while (r >= cfg->mix[kind]) r -= cfg->mix[kind++];
    uint64_t j;
    bool found = mixed_pick(w, kind != MIX_PUT, &j);
    if (!found) {   /* nothing present and free: write something instead */
        kind = MIX_PUT;
        uint64_t n = own_count(w), s = n ? rnd(w) % n : 0;
        for (uint64_t k = 0; k < n && !found; k++)
            if (!(w->kstate[(s + k) % n] & KS_BUSY)) {
                j = (s + k) % n;
                found = true;
            }
        if (!found) return false;
    }
    w->kstate[j] |= KS_BUSY;
    uint64_t idx = key_of(w, j);
    switch (kind) {
    case MIX_GET: req_get(w, c, idx); break;
    case MIX_PUT: req_put(w, c, idx); break;
    case MIX_DELETE: set_key(&c->req, BOP_DELETE, "DELETE", idx); break;
    default: set_key(&c->req, BOP_STAT, "HEAD", idx); break;
    }
    c->key = idx;
    return true;
}

/* --- next ------------------------------------------------------------------------------------ */

bool bench_work_next(bench_worker *w, bench_conn *c)
{
    const bench_cfg *cfg = w->ctx->cfg;
    const bench_phase *ph = w->ph;
    bench_req *rq = &c->req;
    rq->query[0] = 0;
    rq->body_len = -1;
    rq->body_small = false;
    rq->has_key = false;
    rq->sink = SINK_DISCARD;
    switch (ph->kind) {
    case PH_ONE:
        if (w->one_done || w->id != 0 || c != &w->conns[0]) return false;
        w->one_done = true;
        rq->op = ph->one_op;
        rq->method = ph->one_op == BOP_MKBUCKET ? "PUT" : ph->one_op == BOP_RMBUCKET ? "DELETE" : "GET";
        rq->sink = SINK_COLLECT;
        return true;
    case PH_PREPARE: {
        uint64_t j = w->seq_next;
        if (j >= own_count(w)) return false;
        w->seq_next++;
        if (j + 1 > w->seq_written) w->seq_written = j + 1;
        req_put(w, c, key_of(w, j));
        return true;
    }
    case PH_CLEAN_KEYS: {
        uint64_t n = w->seq_written;
        if (cfg->workload != BW_PUT && cfg->workload != BW_MULTIPART && cfg->workload != BW_INITIATE &&
            own_count(w) > n)
            n = own_count(w);
        if (cfg->workload == BW_INITIATE) n = 0;   /* initiate writes no object */
        if (w->seq_next >= n) return false;
        set_key(rq, BOP_DELETE, "DELETE", key_of(w, w->seq_next++));
        return true;
    }
    case PH_CLEAN_UPLOADS: {
        if (w->upload_next >= w->nuploads) return false;
        const bench_upload *u = &w->uploads[w->upload_next++];
        char id[3 * sizeof u->id];
        if (!qenc(u->id, id, sizeof id)) return false;
        set_key(rq, BOP_ABORT, "DELETE", u->key);
        snprintf(rq->query, sizeof rq->query, "uploadId=%s", id);
        return true;
    }
    case PH_RUN:
        break;
    }

    uint64_t idx;
    switch (cfg->workload) {
    case BW_PUT:
        if (!op_budget(w) || !run_key(w, &idx)) return false;
        req_put(w, c, idx);
        return true;
    case BW_GET: {
        uint64_t n = own_count(w);
        if (!n || !op_budget(w)) return false;
        req_get(w, c, key_of(w, rnd(w) % n));
        return true;
    }
    case BW_MIXED:
        return mixed_next(w, c);
    case BW_MULTIPART:
        return mp_next(w, c);
    case BW_INITIATE:
        if (!op_budget(w) || !run_key(w, &idx)) return false;
        set_key(rq, BOP_INITIATE, "POST", idx);
        snprintf(rq->query, sizeof rq->query, "uploads");
        rq->sink = SINK_COLLECT;
        return true;
    case BW_LIST:
        return list_next(w, c);
    case BW_DELETE:
        if (w->seq_next >= own_count(w) || !op_budget(w)) return false;
        set_key(rq, BOP_DELETE, "DELETE", key_of(w, w->seq_next++));
        return true;
    case BW_IDLE:
        if (c->idle_done) return false;
        c->idle_done = true;
        rq->op = BOP_PING;
        rq->method = "GET";
        rq->sink = SINK_COLLECT;
        return true;
    }
    return false;
}

/* --- done ------------------------------------------------------------------------------------- */

static void op_ok(bench_worker *w, uint64_t t0)
{
    bench_hist_add(&w->st.ops, bench_now_ns() - t0);
    w->p_ops++;
    w->ops_done++;
}

static void op_err(bench_worker *w, const char *code)
{
    w->st.errors++;
    bench_errs_add(&w->st.errs, code, 1);
    w->p_errs++;
    w->p_ops++;
    w->ops_done++;
}

/* "404 NoSuchKey", or "404" when the body names no code. */
static void http_err(bench_worker *w, bench_conn *c)
{
    char code[64], msg[96];
    if (c->rb && c->rb_len && xml_text(c->rb, "Code", code, sizeof code))
        snprintf(msg, sizeof msg, "%s %d %s", bench_op_name(c->req.op), c->resp.status, code);
    else
        snprintf(msg, sizeof msg, "%s %d", bench_op_name(c->req.op), c->resp.status);
    op_err(w, msg);
}

static bool status_ok(const bench_worker *w, const bench_conn *c)
{
    int s = c->resp.status;
    switch (c->req.op) {
    case BOP_PUT: return s == 200 || (!s3_target(w) && (s == 201 || s == 204));
    case BOP_DELETE:
        if (w->ph->kind == PH_CLEAN_KEYS && s == 404) return true;
        return s == 204 || s == 200;
    case BOP_ABORT: return s == 204 || s == 200;   /* 204 in S3's dialect, 200 in WOS's */
    case BOP_MKBUCKET: return s == 200 || s == 409;
    case BOP_RMBUCKET: return s == 204 || s == 200;
    case BOP_PING: return s3_target(w) ? s == 200 : s > 0;
    default: return s == 200;
    }
}

static const char *verify_object(bench_worker *w, bench_conn *c, bool head)
{
    const bench_cfg *cfg = w->ctx->cfg;
    uint64_t size = bench_key_size(cfg, c->key);
    const bench_resp *r = &c->resp;
    if (r->content_length >= 0 && (uint64_t)r->content_length != size) return "verify: size";
    if (!head && r->body_bytes != size) return "verify: size";
    if (!cfg->verify) return NULL;
    if (!head && r->mismatch) return "verify: content";
    if (s3_target(w) && !strchr(r->etag, '-')) {
        unsigned char m[16];
        expected_md5(w, bench_key_base(w->ctx, c->key), size, m);
        if (!etag_is(r->etag, m, 0)) return "verify: etag";
    }
    return NULL;
}

static void mp_fail(bench_worker *w, bench_conn *c)
{
    if (c->in_upload) remember_upload(w, c->upload_id, c->key);
    c->in_upload = false;
}

static void mp_done(bench_worker *w, bench_conn *c)
{
    const bench_cfg *cfg = w->ctx->cfg;
    switch (c->req.op) {
    case BOP_INITIATE:
        if (!xml_text(c->rb, "UploadId", c->upload_id, sizeof c->upload_id) || !c->upload_id[0]) {
            op_err(w, "verify: no UploadId");
            c->in_upload = false;
        }
        return;
    case BOP_PART: {
        int i = c->mp_part;
        unsigned char got[16];
        if (strlen(c->resp.etag) != 32 || hex_decode(c->resp.etag, 32, got, 16) != 16) {
            op_err(w, "verify: part etag");
            mp_fail(w, c);
            return;
        }
        if (cfg->verify) {
            uint64_t size = bench_key_size(cfg, c->key), off = (uint64_t)i * cfg->part_size;
            uint64_t len = size - off < cfg->part_size ? size - off : cfg->part_size;
            unsigned char m[16];
            expected_md5(w, bench_key_base(w->ctx, c->key) + off, len, m);
            if (memcmp(m, got, 16) != 0) {
                op_err(w, "verify: part etag");
                mp_fail(w, c);
                return;
            }
        }
        memcpy(c->mp_md5[i], got, 16);
        c->mp_part++;
        return;
    }
    case BOP_COMPLETE: {
        char etag[128];
        if (!c->rb || strstr(c->rb, "<Error>") || !strstr(c->rb, "CompleteMultipartUploadResult") ||
            !xml_text(c->rb, "ETag", etag, sizeof etag)) {
            char code[64], msg[96];
            if (c->rb && xml_text(c->rb, "Code", code, sizeof code)) snprintf(msg, sizeof msg, "COMPLETE 200 %s", code);
            else snprintf(msg, sizeof msg, "verify: complete result");
            op_err(w, msg);
            mp_fail(w, c);
            return;
        }
        c->in_upload = false;
        if (cfg->verify) {
            unsigned char m[16];
            md5(c->mp_md5, (size_t)c->mp_parts * 16, m);
            const char *e = etag;
            size_t el = strlen(e);
            if (el >= 2 && e[0] == '"' && e[el - 1] == '"') {
                etag[el - 1] = 0;
                e++;
            }
            if (!etag_is(e, m, c->mp_parts)) {
                op_err(w, "verify: multipart etag");
                return;
            }
        }
        op_ok(w, c->op_t0);
        return;
    }
    default:
        return;
    }
}

static void list_done(bench_worker *w, bench_conn *c)
{
    const bench_cfg *cfg = w->ctx->cfg;
    uint64_t keys = count_of(c->rb, c->rb_len, "<Key>");
    w->st.keys_listed += keys;
    char trunc[16] = "", tok[BENCH_QUERY_CAP / 3];
    xml_text(c->rb, "IsTruncated", trunc, sizeof trunc);
    bool more = strcmp(trunc, "true") == 0;
    const char *bad = NULL;
    if (cfg->verify) {
        uint64_t want = c->list_left < (uint64_t)cfg->page_size ? c->list_left : (uint64_t)cfg->page_size;
        if (keys != want) bad = "verify: list page size";
        else if (more != (c->list_left > keys)) bad = "verify: list truncation";
    }
    c->list_left = c->list_left > keys ? c->list_left - keys : 0;
    free(c->token);
    c->token = NULL;
    if (more && xml_text(c->rb, "NextContinuationToken", tok, sizeof tok) && tok[0]) {
        c->token = strdup(tok);
    } else {
        if (more && !bad) bad = "verify: no continuation token";
        c->list_walking = false;
    }
    if (bad) {
        op_err(w, bad);
        c->list_walking = false;
        return;
    }
    op_ok(w, c->t0);
}

void bench_work_done(bench_worker *w, bench_conn *c)
{
    const bench_cfg *cfg = w->ctx->cfg;
    bench_op op = c->req.op;
    bool mixed = w->ph->kind == PH_RUN && cfg->workload == BW_MIXED;
    uint64_t j = (c->key - (uint64_t)w->id) / (uint64_t)cfg->threads;
    if (mixed && j < own_count(w)) w->kstate[j] &= (uint8_t)~KS_BUSY;

    if (w->ph->kind == PH_ONE) w->one_status = c->resp.status;
    if (c->resp.neterr || !status_ok(w, c)) {
        if (c->resp.neterr) {
            op_err(w, c->resp.neterr);
        } else {
            http_err(w, c);
        }
        if (op == BOP_INITIATE || op == BOP_PART || op == BOP_COMPLETE) mp_fail(w, c);
        if (op == BOP_LIST) c->list_walking = false;
        return;
    }
    if (w->ph->kind == PH_ONE) {
        w->one_status = c->resp.status;
        w->one_code[0] = 0;
        if (c->rb && c->rb_len) xml_text(c->rb, "Code", w->one_code, sizeof w->one_code);
        if (op == BOP_MKBUCKET && c->resp.status == 409 && strcmp(w->one_code, "BucketAlreadyOwnedByYou") != 0) {
            http_err(w, c);
            return;
        }
    }

    const char *bad = NULL;
    switch (op) {
    case BOP_GET: bad = verify_object(w, c, false); break;
    case BOP_STAT: bad = verify_object(w, c, true); break;
    case BOP_PUT:
        if (cfg->verify && s3_target(w)) {
            unsigned char m[16];
            expected_md5(w, bench_key_base(w->ctx, c->key), bench_key_size(cfg, c->key), m);
            if (!etag_is(c->resp.etag, m, 0)) bad = "verify: etag";
        }
        break;
    case BOP_INITIATE:
        if (cfg->workload == BW_MULTIPART && w->ph->kind == PH_RUN) {
            mp_done(w, c);
            return;
        }
        {
            char id[sizeof w->uploads->id];
            if (!xml_text(c->rb, "UploadId", id, sizeof id) || !id[0]) {
                bad = "verify: no UploadId";
                break;
            }
            remember_upload(w, id, c->req.key);
        }
        break;
    case BOP_PART:
    case BOP_COMPLETE:
        mp_done(w, c);
        return;
    case BOP_LIST:
        list_done(w, c);
        return;
    default:
        break;
    }
    if (bad) {
        op_err(w, bad);
        return;
    }
    if (mixed && j < own_count(w)) {
        if (op == BOP_PUT) w->kstate[j] |= KS_PRESENT;
        if (op == BOP_DELETE) w->kstate[j] &= (uint8_t)~KS_PRESENT;
    }
    op_ok(w, c->t0);
}

void bench_work_abandon(bench_worker *w, bench_conn *c)
{
    const bench_cfg *cfg = w->ctx->cfg;
    if (w->ph->kind == PH_RUN && cfg->workload == BW_MIXED) {
        uint64_t j = (c->key - (uint64_t)w->id) / (uint64_t)cfg->threads;
        if (j < own_count(w)) w->kstate[j] &= (uint8_t)~KS_BUSY;
    }
    if (c->req.op == BOP_INITIATE || c->req.op == BOP_PART || c->req.op == BOP_COMPLETE) mp_fail(w, c);
    c->list_walking = false;
}
