/* bench_sign — the request line and headers of every benchmark request, signed.
 *
 * Three ways to sign: AWS SigV4 (`AWS4-HMAC-SHA256`, service s3), its WOS clone
 * (`WOS-HMAC-SHA256`, service wos, x-wos-* headers; WOS-API.md §2.2), or not at all, for plain
 * HTTP servers such as nginx. Bodies are sent as UNSIGNED-PAYLOAD, so signing costs the same
 * for 4 KiB as for 1 GiB.
 *
 * Signing runs once per request on the generator's cores, which the server under test shares,
 * so it is kept cheap: the timestamp strings change once a second, the signing key once a day,
 * and the HMAC over the string-to-sign starts from two SHA-256 states pre-keyed with the
 * signing key (ipad/opad), on a SHA-256 implementation fetched once. That is about 0.75 µs a
 * request, against 3.7 µs through util/hash.h's one-shot helpers (which fetch the algorithm and
 * build an HMAC context on every call; fine for a server checking one signature, wasteful for a
 * generator making forty thousand a second). The key derivation itself uses s3/auth.h's
 * sigv4_signing_key, the same code the server checks with. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/bench_internal.h"
#include "s3/auth.h"
#include "util/hash.h"
#include "util/timefmt.h"

static const char UNSIGNED[] = "UNSIGNED-PAYLOAD";

int bench_signer_init(bench_signer *s, const bench_cfg *cfg)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->sec = -1;
    s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    s->work = EVP_MD_CTX_new();
    s->inner = EVP_MD_CTX_new();
    s->outer = EVP_MD_CTX_new();
    if (!s->sha256 || !s->work || !s->inner || !s->outer) {
        bench_signer_free(s);
        return -1;
    }
    return 0;
}

void bench_signer_free(bench_signer *s)
{
    EVP_MD_CTX_free(s->work);
    EVP_MD_CTX_free(s->inner);
    EVP_MD_CTX_free(s->outer);
    EVP_MD_free(s->sha256);
    memset(s, 0, sizeof *s);
}

/* Timestamp strings for this second; a new signing key (and HMAC states) when the day turns. */
static void signer_refresh(bench_signer *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if ((int64_t)ts.tv_sec == s->sec) return;
    char old_date[9];
    memcpy(old_date, s->date8, sizeof old_date);
    s->sec = (int64_t)ts.tv_sec;
    time_fmt_iso_basic(s->sec, s->ts);
    memcpy(s->date8, s->ts, 8);
    s->date8[8] = 0;
    if (s->cfg->sign == BSIGN_NONE || strcmp(old_date, s->date8) == 0) return;

    bool wos = s->cfg->sign == BSIGN_WOS;
    snprintf(s->scope, sizeof s->scope, "%s/%s/%s/%s", s->date8, s->cfg->region, wos ? "wos" : "s3",
             wos ? "wos_request" : "aws4_request");
    unsigned char key[32], pad[64];
    sigv4_signing_key(wos, s->cfg->secret_key, s->date8, s->cfg->region, wos ? "wos" : "s3", key);
    memset(pad, 0x36, sizeof pad);
    for (int i = 0; i < 32; i++) pad[i] ^= key[i];
    EVP_DigestInit_ex(s->inner, s->sha256, NULL);
    EVP_DigestUpdate(s->inner, pad, sizeof pad);
    memset(pad, 0x5c, sizeof pad);
    for (int i = 0; i < 32; i++) pad[i] ^= key[i];
    EVP_DigestInit_ex(s->outer, s->sha256, NULL);
    EVP_DigestUpdate(s->outer, pad, sizeof pad);
}

/* A bounded appender: once anything fails to fit, the whole head is refused. */
typedef struct out {
    char *p, *end;
    bool over;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->over || (size_t)(o->end - o->p) < n + 1) {
        o->over = true;
        return;
    }
    memcpy(o->p, s, n);
    o->p += n;
}

static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static void put_u64(out *o, uint64_t v)
{
    char d[24];
    int n = snprintf(d, sizeof d, "%llu", (unsigned long long)v);
    put(o, d, (size_t)n);
}

int bench_key(const bench_cfg *cfg, uint64_t i, bool enc, char *dst, size_t cap)
{
    int n = snprintf(dst, cap, "%s%08llu", enc ? cfg->prefix_enc : cfg->prefix, (unsigned long long)i);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* The path as sent, which is also SigV4's canonical URI: every piece is already encoded. */
static void put_path(const bench_signer *s, const bench_req *rq, out *o)
{
    const bench_cfg *cfg = s->cfg;
    if (rq->op == BOP_PING) {
        puts_(o, "/");
        return;
    }
    if (!cfg->virtual_host) {
        puts_(o, "/");
        puts_(o, cfg->bucket);
    }
    if (rq->has_key) {
        char key[BENCH_KEY_CAP];
        int n = bench_key(cfg, rq->key, true, key, sizeof key);
        if (n < 0) {
            o->over = true;
            return;
        }
        puts_(o, "/");
        put(o, key, (size_t)n);
    } else if (cfg->virtual_host) {
        puts_(o, "/");
    }
}

static void sign(bench_signer *s, const char *method, const char *path, size_t pathlen, const char *query,
                 const char *host, char sig_hex[65])
{
    bool wos = s->cfg->sign == BSIGN_WOS;
    const char *pfx = wos ? "x-wos-" : "x-amz-";
    char creq[BENCH_KEY_CAP + BENCH_QUERY_CAP + 1024];
    out c = {creq, creq + sizeof creq, false};
    puts_(&c, method);
    puts_(&c, "\n");
    put(&c, path, pathlen);
    puts_(&c, "\n");
    /* The query is sent sorted and encoded; canonically a bare name ("uploads") gets its '='. */
    for (const char *q = query; *q;) {
        const char *amp = strchr(q, '&');
        size_t n = amp ? (size_t)(amp - q) : strlen(q);
        put(&c, q, n);
        if (!memchr(q, '=', n)) puts_(&c, "=");
        if (!amp) break;
        puts_(&c, "&");
        q = amp + 1;
    }
    puts_(&c, "\nhost:");
    puts_(&c, host);
    puts_(&c, "\n");
    puts_(&c, pfx);
    puts_(&c, "content-sha256:UNSIGNED-PAYLOAD\n");
    puts_(&c, pfx);
    puts_(&c, "date:");
    puts_(&c, s->ts);
    puts_(&c, "\n\nhost;");
    puts_(&c, pfx);
    puts_(&c, "content-sha256;");
    puts_(&c, pfx);
    puts_(&c, "date\nUNSIGNED-PAYLOAD");

    unsigned char h[32];
    unsigned int hl = 0;
    EVP_DigestInit_ex(s->work, s->sha256, NULL);
    EVP_DigestUpdate(s->work, creq, (size_t)(c.p - creq));
    EVP_DigestFinal_ex(s->work, h, &hl);
    char hhex[65];
    hex_encode(h, 32, hhex);

    char sts[400];
    int n = snprintf(sts, sizeof sts, "%s\n%s\n%s\n%s", wos ? "WOS-HMAC-SHA256" : "AWS4-HMAC-SHA256", s->ts,
                     s->scope, hhex);
    if (n < 0 || (size_t)n >= sizeof sts) n = (int)strlen(sts);
    EVP_MD_CTX_copy_ex(s->work, s->inner);
    EVP_DigestUpdate(s->work, sts, (size_t)n);
    EVP_DigestFinal_ex(s->work, h, &hl);
    EVP_MD_CTX_copy_ex(s->work, s->outer);
    EVP_DigestUpdate(s->work, h, 32);
    EVP_DigestFinal_ex(s->work, h, &hl);
    hex_encode(h, 32, sig_hex);
}

int bench_build_head(bench_signer *s, const bench_req *rq, char *dst, size_t cap)
{
    const bench_cfg *cfg = s->cfg;
    signer_refresh(s);
    out o = {dst, dst + cap, false};
    puts_(&o, rq->method);
    puts_(&o, " ");
    char *path = o.p;
    put_path(s, rq, &o);
    size_t pathlen = (size_t)(o.p - path);
    if (rq->query[0]) {
        puts_(&o, "?");
        puts_(&o, rq->query);
    }
    const char *host = cfg->virtual_host && rq->op != BOP_PING ? cfg->vhost_header : cfg->host_header;
    puts_(&o, " HTTP/1.1\r\nHost: ");
    puts_(&o, host);
    puts_(&o, "\r\n");
    if (cfg->sign != BSIGN_NONE && !o.over) {
        bool wos = cfg->sign == BSIGN_WOS;
        char sig[65];
        sign(s, rq->method, path, pathlen, rq->query, host, sig);
        puts_(&o, wos ? "x-wos-date: " : "x-amz-date: ");
        puts_(&o, s->ts);
        puts_(&o, wos ? "\r\nx-wos-content-sha256: " : "\r\nx-amz-content-sha256: ");
        puts_(&o, UNSIGNED);
        puts_(&o, wos ? "\r\nAuthorization: WOS-HMAC-SHA256 Credential=" : "\r\nAuthorization: AWS4-HMAC-SHA256 Credential=");
        puts_(&o, cfg->access_key);
        puts_(&o, "/");
        puts_(&o, s->scope);
        puts_(&o, wos ? ", SignedHeaders=host;x-wos-content-sha256;x-wos-date, Signature="
                      : ", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=");
        put(&o, sig, 64);
        puts_(&o, "\r\n");
    }
    if (rq->body_len >= 0) {
        puts_(&o, "Content-Length: ");
        put_u64(&o, (uint64_t)rq->body_len);
        puts_(&o, "\r\n");
    }
    puts_(&o, "\r\n");
    if (o.over) return -1;
    return (int)(o.p - dst);
}
