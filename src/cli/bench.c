/* bench — `wosd bench`: a load generator for any S3 endpoint, ours or another server's.
 *
 * A run has phases, each executed by the same worker threads (bench_loop.c), each worker an
 * epoll loop over its share of the connections:
 *   1. create the bucket (unless --no-bucket-ops or --skip-prepare);
 *   2. prepare: PUT the objects the workload reads, lists or deletes (unless --skip-prepare);
 *      --prepare-only stops here and leaves them;
 *   3. run the workload for --duration (after --warmup) or --ops operations;
 *   4. clean up what the run created (unless --no-cleanup): abort uploads, delete keys, and the
 *      bucket if this run created it.
 * The main thread only starts phases, prints the progress line and the summary.
 *
 * `wosd bench startup … -- COMMAND` (bench_startup.c) times a server's start instead. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli/bench_internal.h"
#include "cli/cli.h"
#include "util/arena.h"
#include "util/str.h"

static const char usage[] =
    "Usage: wosd bench WORKLOAD [options]\n"
    "       wosd bench startup [options] -- COMMAND [ARGS...]   (wosd bench startup --help)\n"
    "\n"
    "Load-tests an S3 (or WOS, or plain HTTP) endpoint from one process: N keep-alive\n"
    "connections multiplexed on a few epoll threads, bodies generated in memory.\n"
    "\n"
    "Workloads:\n"
    "  put         PUT distinct keys (or cycle over --objects keys)\n"
    "  get         GET prepared objects at random; checks size, bytes and ETag\n"
    "  mixed       GET / PUT / DELETE / HEAD over prepared objects, shares from --mix\n"
    "  multipart   whole multipart uploads: initiate, parts of --part-size, complete\n"
    "  initiate    InitiateMultipartUpload alone (the uploads are aborted at cleanup)\n"
    "  list        ListObjectsV2 pages of --page-size keys, walking a bucket of --objects keys\n"
    "              from random start points (page counts are checked)\n"
    "  delete      DELETE prepared objects, each once\n"
    "  idle        open --concurrency connections, make one request on each, hold them open\n"
    "              for --duration (server memory per idle connection)\n"
    "\n"
    "Target:\n"
    "  --endpoint URL         http://HOST:PORT (default http://127.0.0.1:9000)\n"
    "  --access-key AK        default $WOSD_ROOT_ACCESS_KEY, else $AWS_ACCESS_KEY_ID\n"
    "  --secret-key SK        default $WOSD_ROOT_SECRET_KEY, else $AWS_SECRET_ACCESS_KEY\n"
    "  --region REGION        default us-east-1\n"
    "  --sign v4|wos|none     AWS SigV4 (default), WOS-HMAC-SHA256, or unsigned requests\n"
    "  --path-style           /BUCKET/KEY (default)\n"
    "  --virtual-host         Host: BUCKET.HOST, path /KEY\n"
    "  --connect HOST:PORT    connect here instead of the endpoint's address (the endpoint still\n"
    "                         names the Host header), e.g. for --virtual-host without DNS\n"
    "  --no-bucket-ops        a plain HTTP server (nginx with dav_methods PUT): no bucket\n"
    "                         create/delete, success is any 2xx, no ETag checks (size and bytes only)\n"
    "\n"
    "Data:\n"
    "  --bucket NAME          default wosd-bench\n"
    "  --prefix P             key prefix (default bench/); keys are P%08u\n"
    "  --size S               object size: 4KiB (default; list: 0), 64MiB, or a range 1KiB-1MiB\n"
    "  --part-size S          multipart part size (default 8MiB)\n"
    "  --objects N            keys prepared (get, mixed, list, delete; default 1000, fewer for\n"
    "                         large sizes), or the key cycle of put/multipart (default: distinct)\n"
    "  --page-size N          list: max-keys (default 1000)\n"
    "  --mix get=60,put=30,delete=5,stat=5   mixed: relative shares\n"
    "  --seed N               content seed (the same seed reads back what it wrote)\n"
    "\n"
    "Run:\n"
    "  --concurrency N        connections (default 16)\n"
    "  --threads N            event-loop threads (default 1)\n"
    "  --duration D           10s (default), 500ms, 2m; 0 = until --ops or the work runs out\n"
    "  --warmup D             run this long before measuring (default 0)\n"
    "  --ops N                stop after N operations\n"
    "  --prepare-only         create the bucket and objects, then stop (implies --no-cleanup)\n"
    "  --skip-prepare         the objects exist already (an earlier --prepare-only)\n"
    "  --no-cleanup           leave objects, uploads and the bucket\n"
    "  --no-verify            skip the ETag and content checks (sizes are always checked)\n"
    "  --json                 the summary as JSON on stdout\n"
    "  --quiet                no progress line\n"
    "\n"
    "The progress line goes to stderr (rewritten in place on a terminal, once a second\n"
    "otherwise). Exit status: 0, or 1 when any operation failed, 2 for a usage error.\n";

/* --- parsing --------------------------------------------------------------------------------- */

int bench_parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0) return -1;
    while (*end == ' ') end++;
    static const struct { const char *u; double m; } units[] = {
        {"", 1},          {"b", 1},          {"k", 1024.0},    {"kib", 1024.0}, {"kb", 1000.0},
        {"m", 1048576.0}, {"mib", 1048576.0}, {"mb", 1e6},     {"g", 1073741824.0}, {"gib", 1073741824.0},
        {"gb", 1e9},      {"t", 1099511627776.0}, {"tib", 1099511627776.0}, {"tb", 1e12},
    };
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcasecmp(end, units[i].u) == 0) {
            double r = v * units[i].m;
            if (r > 1e15) return -1;
            *out = (uint64_t)llround(r);
            return 0;
        }
    return -1;
}

int bench_parse_duration(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0) return -1;
    if (!*end || !strcmp(end, "s")) *out = v;
    else if (!strcmp(end, "ms")) *out = v / 1000;
    else if (!strcmp(end, "m") || !strcmp(end, "min")) *out = v * 60;
    else if (!strcmp(end, "h")) *out = v * 3600;
    else return -1;
    return 0;
}

static void copy(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

int bench_parse_endpoint(bench_cfg *cfg, const char *url, bool resolve)
{
    copy(cfg->endpoint, sizeof cfg->endpoint, url);
    const char *p = url;
    int port = 80;
    if (!strncasecmp(p, "http://", 7)) p += 7;
    else if (!strncasecmp(p, "https://", 8)) {
        fprintf(stderr, "wosd bench: https endpoints are not supported (use http://)\n");
        return -1;
    } else if (strstr(p, "://")) {
        return -1;
    }
    char host[256];
    const char *hend;
    if (*p == '[') {
        hend = strchr(p, ']');
        if (!hend) return -1;
        snprintf(host, sizeof host, "%.*s", (int)(hend - p - 1), p + 1);
        hend++;
    } else {
        hend = p + strcspn(p, ":/");
        snprintf(host, sizeof host, "%.*s", (int)(hend - p), p);
    }
    if (!host[0]) return -1;
    if (*hend == ':') {
        char *e;
        long v = strtol(hend + 1, &e, 10);
        if (e == hend + 1 || v <= 0 || v > 65535 || (*e && *e != '/')) return -1;
        port = (int)v;
        hend = e;
    }
    if (*hend && strcmp(hend, "/") != 0) {
        fprintf(stderr, "wosd bench: the endpoint must not have a path (%s)\n", url);
        return -1;
    }
    copy(cfg->host, sizeof cfg->host, host);
    cfg->port = port;
    bool v6 = strchr(host, ':') != NULL;
    char hp[300];
    if (port == 80) snprintf(hp, sizeof hp, v6 ? "[%s]" : "%s", host);
    else snprintf(hp, sizeof hp, v6 ? "[%s]:%d" : "%s:%d", host, port);
    copy(cfg->host_header, sizeof cfg->host_header, hp);
    if (!resolve) return 0;

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "wosd bench: cannot resolve %s: %s\n", host, gai_strerror(rc));
        return -1;
    }
    memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
    cfg->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int parse_mix(bench_cfg *cfg, const char *s)
{
    int mix[MIX__N] = {0};
    char tmp[256];
    copy(tmp, sizeof tmp, s);
    for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        if (!eq) return -1;
        *eq = 0;
        char *e;
        long v = strtol(eq + 1, &e, 10);
        if (*e || v < 0 || v > 1000000) return -1;
        if (!strcasecmp(t, "get")) mix[MIX_GET] = (int)v;
        else if (!strcasecmp(t, "put")) mix[MIX_PUT] = (int)v;
        else if (!strcasecmp(t, "delete")) mix[MIX_DELETE] = (int)v;
        else if (!strcasecmp(t, "stat") || !strcasecmp(t, "head")) mix[MIX_STAT] = (int)v;
        else return -1;
    }
    if (mix[0] + mix[1] + mix[2] + mix[3] <= 0) return -1;
    memcpy(cfg->mix, mix, sizeof mix);
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (e == s || *e || errno || s[0] == '-') return -1;
    *out = v;
    return 0;
}

enum {
    O_ENDPOINT = 256, O_AK, O_SK, O_REGION, O_SIGN, O_PATH, O_VHOST, O_NOBUCKET, O_BUCKET, O_PREFIX, O_SIZE,
    O_PART, O_OBJECTS, O_PAGE, O_MIX, O_SEED, O_CONC, O_THREADS, O_DUR, O_WARM, O_OPS, O_PREP, O_SKIP,
    O_NOCLEAN, O_NOVERIFY, O_JSON, O_QUIET, O_CONNECT,
};

static const struct option long_opts[] = {
    {"endpoint", required_argument, 0, O_ENDPOINT}, {"access-key", required_argument, 0, O_AK},
    {"secret-key", required_argument, 0, O_SK},     {"region", required_argument, 0, O_REGION},
    {"sign", required_argument, 0, O_SIGN},         {"path-style", no_argument, 0, O_PATH},
    {"virtual-host", no_argument, 0, O_VHOST},      {"no-bucket-ops", no_argument, 0, O_NOBUCKET},
    {"bucket", required_argument, 0, O_BUCKET},     {"prefix", required_argument, 0, O_PREFIX},
    {"size", required_argument, 0, O_SIZE},         {"part-size", required_argument, 0, O_PART},
    {"objects", required_argument, 0, O_OBJECTS},   {"page-size", required_argument, 0, O_PAGE},
    {"mix", required_argument, 0, O_MIX},           {"seed", required_argument, 0, O_SEED},
    {"concurrency", required_argument, 0, O_CONC},  {"threads", required_argument, 0, O_THREADS},
    {"duration", required_argument, 0, O_DUR},      {"warmup", required_argument, 0, O_WARM},
    {"ops", required_argument, 0, O_OPS},           {"prepare-only", no_argument, 0, O_PREP},
    {"skip-prepare", no_argument, 0, O_SKIP},       {"no-cleanup", no_argument, 0, O_NOCLEAN},
    {"no-verify", no_argument, 0, O_NOVERIFY},      {"json", no_argument, 0, O_JSON},
    {"quiet", no_argument, 0, O_QUIET},             {"connect", required_argument, 0, O_CONNECT},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static int bad(const char *opt, const char *val)
{
    fprintf(stderr, "wosd bench: bad value for --%s: '%s'\n", opt, val);
    return 2;
}

static int parse_args(bench_cfg *cfg, int argc, char **argv)
{
    static const struct { const char *name; bench_workload w; } wl[] = {
        {"put", BW_PUT}, {"get", BW_GET}, {"mixed", BW_MIXED}, {"multipart", BW_MULTIPART},
        {"initiate", BW_INITIATE}, {"list", BW_LIST}, {"delete", BW_DELETE}, {"idle", BW_IDLE},
    };
    memset(cfg, 0, sizeof *cfg);
    const char *ak = getenv("WOSD_ROOT_ACCESS_KEY"), *sk = getenv("WOSD_ROOT_SECRET_KEY");
    if (!ak || !*ak || !sk || !*sk) {
        ak = getenv("AWS_ACCESS_KEY_ID");
        sk = getenv("AWS_SECRET_ACCESS_KEY");
    }
    copy(cfg->access_key, sizeof cfg->access_key, ak);
    copy(cfg->secret_key, sizeof cfg->secret_key, sk);
    copy(cfg->region, sizeof cfg->region, "us-east-1");
    copy(cfg->bucket, sizeof cfg->bucket, "wosd-bench");
    copy(cfg->prefix, sizeof cfg->prefix, "bench/");
    const char *endpoint = "http://127.0.0.1:9000", *connect_to = NULL;
    bool size_set = false;
    cfg->part_size = 8 << 20;
    cfg->page_size = 1000;
    cfg->mix[MIX_GET] = 60, cfg->mix[MIX_PUT] = 30, cfg->mix[MIX_DELETE] = 5, cfg->mix[MIX_STAT] = 5;
    cfg->seed = 1;
    cfg->concurrency = 16;
    cfg->threads = 1;
    cfg->duration = 10;
    cfg->verify = true;
    cfg->cleanup = true;

    if (argc < 2 || argv[1][0] == '-') {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            fputs(usage, stdout);
            return 1;
        }
        fputs(usage, stderr);
        return 2;
    }
    bool known = false;
    for (size_t i = 0; i < sizeof wl / sizeof *wl; i++)
        if (!strcmp(argv[1], wl[i].name)) {
            cfg->workload = wl[i].w;
            cfg->workload_name = wl[i].name;
            known = true;
        }
    if (!known) {
        fprintf(stderr, "wosd bench: unknown workload '%s'\n%s", argv[1], usage);
        return 2;
    }
    optind = 0;   /* GNU getopt: start over (main may have used it) */
    int o;
    while ((o = getopt_long(argc - 1, argv + 1, "h", long_opts, NULL)) != -1) {
        const char *a = optarg;
        uint64_t u;
        switch (o) {
        case O_ENDPOINT: endpoint = a; break;
        case O_AK: copy(cfg->access_key, sizeof cfg->access_key, a); break;
        case O_SK: copy(cfg->secret_key, sizeof cfg->secret_key, a); break;
        case O_REGION: copy(cfg->region, sizeof cfg->region, a); break;
        case O_SIGN:
            if (!strcmp(a, "v4") || !strcmp(a, "aws")) cfg->sign = BSIGN_V4;
            else if (!strcmp(a, "wos")) cfg->sign = BSIGN_WOS;
            else if (!strcmp(a, "none")) cfg->sign = BSIGN_NONE;
            else return bad("sign", a);
            break;
        case O_PATH: cfg->virtual_host = false; break;
        case O_VHOST: cfg->virtual_host = true; break;
        case O_NOBUCKET: cfg->no_bucket_ops = true; break;
        case O_BUCKET:
            if (!*a || strlen(a) >= sizeof cfg->bucket || strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789.-_") != strlen(a))
                return bad("bucket", a);
            copy(cfg->bucket, sizeof cfg->bucket, a);
            break;
        case O_PREFIX:
            if (strlen(a) >= 200) return bad("prefix", a);
            copy(cfg->prefix, sizeof cfg->prefix, a);
            break;
        case O_SIZE: {
            const char *dash = strchr(a, '-');
            if (dash) {
                char lo[64];
                snprintf(lo, sizeof lo, "%.*s", (int)(dash - a), a);
                if (bench_parse_size(lo, &cfg->size_lo) || bench_parse_size(dash + 1, &cfg->size_hi) ||
                    cfg->size_hi < cfg->size_lo)
                    return bad("size", a);
            } else {
                if (bench_parse_size(a, &cfg->size_lo)) return bad("size", a);
                cfg->size_hi = cfg->size_lo;
            }
            size_set = true;
            break;
        }
        case O_PART:
            if (bench_parse_size(a, &cfg->part_size) || cfg->part_size == 0) return bad("part-size", a);
            break;
        case O_OBJECTS:
            if (parse_u64(a, &cfg->objects) || cfg->objects == 0 || cfg->objects > 100000000) return bad("objects", a);
            cfg->objects_set = true;
            break;
        case O_PAGE:
            if (parse_u64(a, &u) || u == 0 || u > 100000) return bad("page-size", a);
            cfg->page_size = (int)u;
            break;
        case O_MIX:
            if (parse_mix(cfg, a)) return bad("mix", a);
            break;
        case O_SEED:
            if (parse_u64(a, &cfg->seed)) return bad("seed", a);
            break;
        case O_CONC:
            if (parse_u64(a, &u) || u == 0 || u > 1000000) return bad("concurrency", a);
            cfg->concurrency = (int)u;
            break;
        case O_THREADS:
            if (parse_u64(a, &u) || u == 0 || u > 256) return bad("threads", a);
            cfg->threads = (int)u;
            break;
        case O_DUR:
            if (bench_parse_duration(a, &cfg->duration)) return bad("duration", a);
            break;
        case O_WARM:
            if (bench_parse_duration(a, &cfg->warmup)) return bad("warmup", a);
            break;
        case O_OPS:
            if (parse_u64(a, &cfg->max_ops) || cfg->max_ops == 0) return bad("ops", a);
            break;
        case O_PREP: cfg->prepare_only = true; break;
        case O_SKIP: cfg->skip_prepare = true; break;
        case O_NOCLEAN: cfg->cleanup = false; break;
        case O_NOVERIFY: cfg->verify = false; break;
        case O_JSON: cfg->json = true; break;
        case O_QUIET: cfg->quiet = true; break;
        case O_CONNECT: connect_to = a; break;
        case 'h': fputs(usage, stdout); return 1;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (optind < argc - 1) {
        fprintf(stderr, "wosd bench: unexpected argument '%s'\n", argv[optind + 1]);
        return 2;
    }
    if (bench_parse_endpoint(cfg, endpoint, connect_to == NULL) != 0) {
        fprintf(stderr, "wosd bench: bad endpoint '%s'\n", endpoint);
        return 2;
    }
    if (connect_to) {
        /* Only the address: the Host header stays the endpoint's. */
        bench_cfg tmp;
        char url[300];
        snprintf(url, sizeof url, "http://%s", connect_to);
        if (bench_parse_endpoint(&tmp, url, true) != 0) return bad("connect", connect_to);
        memcpy(&cfg->addr, &tmp.addr, sizeof tmp.addr);
        cfg->addrlen = tmp.addrlen;
    }
    if (cfg->sign != BSIGN_NONE && (!cfg->access_key[0] || !cfg->secret_key[0])) {
        fprintf(stderr, "wosd bench: no credentials: give --access-key/--secret-key, set WOSD_ROOT_ACCESS_KEY/"
                        "WOSD_ROOT_SECRET_KEY or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or use --sign none\n");
        return 2;
    }
    bench_workload w = cfg->workload;
    if (cfg->no_bucket_ops && (w == BW_MULTIPART || w == BW_INITIATE || w == BW_LIST)) {
        fprintf(stderr, "wosd bench: --no-bucket-ops (a plain HTTP server) allows put, get, mixed, delete, idle\n");
        return 2;
    }
    if (cfg->no_bucket_ops && cfg->virtual_host) {
        fprintf(stderr, "wosd bench: --virtual-host needs an S3 server\n");
        return 2;
    }
    if (!size_set) cfg->size_lo = cfg->size_hi = w == BW_LIST ? 0 : 4096;
    if (cfg->threads > cfg->concurrency) cfg->threads = cfg->concurrency;
    bool prepared = w == BW_GET || w == BW_MIXED || w == BW_LIST || w == BW_DELETE;
    if (prepared && !cfg->objects_set) {
        uint64_t n = w == BW_DELETE ? 10000 : 1000;
        uint64_t cap = (1ull << 30) / (cfg->size_hi ? cfg->size_hi : 1);
        if (n > cap) n = cap;
        if (n < (uint64_t)cfg->concurrency) n = (uint64_t)cfg->concurrency;
        cfg->objects = n;
    }
    if (w == BW_MIXED && cfg->objects < 2 * (uint64_t)cfg->concurrency) {
        /* every connection must find a key nobody else is using */
        cfg->objects = 2 * (uint64_t)cfg->concurrency;
    }
    if (cfg->prepare_only) {
        if (!prepared) {
            fprintf(stderr, "wosd bench: --prepare-only is for get, mixed, list and delete\n");
            return 2;
        }
        cfg->cleanup = false;
    }
    if (w == BW_MULTIPART && (cfg->size_hi + cfg->part_size - 1) / cfg->part_size > 10000) {
        fprintf(stderr, "wosd bench: more than 10,000 parts; raise --part-size\n");
        return 2;
    }
    if (cfg->duration == 0 && !cfg->max_ops && (w == BW_PUT || w == BW_MULTIPART || w == BW_INITIATE ||
                                                w == BW_GET || w == BW_MIXED || w == BW_LIST || w == BW_IDLE)) {
        fprintf(stderr, "wosd bench: --duration 0 needs --ops for this workload\n");
        return 2;
    }
    arena *a = arena_new(1024);
    copy(cfg->prefix_enc, sizeof cfg->prefix_enc, uri_encode(a, cfg->prefix, strlen(cfg->prefix), true));
    arena_free(a);
    if (cfg->virtual_host) snprintf(cfg->vhost_header, sizeof cfg->vhost_header, "%s.%s", cfg->bucket, cfg->host_header);
    return 0;
}

/* --- phases ---------------------------------------------------------------------------------- */

typedef struct run_state {
    bench_cfg *cfg;
    bench_ctx ctx;
    bench_phase *phases;         /* one per worker: the operation budgets differ */
    pthread_t *tids;
} run_state;

typedef struct phase_result {
    bench_stats st;
    double seconds;
    int conns;
    bool interrupted;
} phase_result;

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct thread_arg {
    bench_worker *w;
    const bench_phase *ph;
} thread_arg;

static void *worker_main(void *p)
{
    thread_arg *a = p;
    bench_worker_run(a->w, a->ph);
    return NULL;
}

static void progress_line(const run_state *rs, const char *label, double elapsed, uint64_t ops, uint64_t bytes,
                          uint64_t errs, double rate_ops, double rate_bytes, uint64_t conns, bool tty, bool final)
{
    const bench_cfg *cfg = rs->cfg;
    if (cfg->quiet) return;
    char line[256];
    if (cfg->workload == BW_IDLE && !strcmp(label, "run"))
        snprintf(line, sizeof line, "[%s %s] %5.1fs  %llu connections open  %llu errors", cfg->workload_name, label,
                 elapsed, (unsigned long long)conns, (unsigned long long)errs);
    else
        snprintf(line, sizeof line, "[%s %s] %5.1fs  %llu ops  %.0f ops/s  %.1f MiB/s  %llu errors",
                 cfg->workload_name, label, elapsed, (unsigned long long)ops, rate_ops, rate_bytes / 1048576.0,
                 (unsigned long long)errs);
    if (tty) fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

/* Runs a phase on every worker; the main thread reports progress until all are done. */
static void run_phase(run_state *rs, bench_phase_kind kind, const char *label, phase_result *res)
{
    bench_cfg *cfg = rs->cfg;
    int T = cfg->threads;
    double start = bench_now_s();
    double measure_from = start;
    for (int i = 0; i < T; i++) {
        bench_phase *ph = &rs->phases[i];
        memset(ph, 0, sizeof *ph);
        ph->kind = kind;
        ph->conns = rs->ctx.workers[i].nconns;
        if (kind == PH_RUN) {
            if (cfg->warmup > 0) ph->warmup_end = start + cfg->warmup;
            if (cfg->duration > 0) ph->deadline = start + cfg->warmup + cfg->duration;
            if (cfg->max_ops) {
                ph->max_ops = cfg->max_ops / (uint64_t)T + ((uint64_t)i < cfg->max_ops % (uint64_t)T);
                if (!ph->max_ops) ph->conns = 0;
            }
            ph->hold = cfg->workload == BW_IDLE;
        }
        bench_stats_reset(&rs->ctx.workers[i].st);
        atomic_store(&rs->ctx.workers[i].a_done, false);   /* before the thread exists */
    }
    if (kind == PH_RUN && cfg->warmup > 0) measure_from = start + cfg->warmup;
    thread_arg args[256];
    for (int i = 0; i < T; i++) {
        args[i] = (thread_arg){&rs->ctx.workers[i], &rs->phases[i]};
        if (pthread_create(&rs->tids[i], NULL, worker_main, &args[i]) != 0) {
            fprintf(stderr, "wosd bench: cannot start a thread\n");
            exit(1);
        }
    }
    bool show = kind == PH_RUN || kind == PH_PREPARE || kind == PH_CLEAN_KEYS;
    bool tty = isatty(2);
    double tick = tty ? 0.25 : 1.0, next = start + tick, last_t = start;
    uint64_t last_ops = 0, last_bytes = 0;
    double rate_ops = 0, rate_bytes = 0;
    bool printed = false;
    for (;;) {
        bool done = true;
        for (int i = 0; i < T; i++)
            if (!atomic_load(&rs->ctx.workers[i].a_done)) done = false;
        if (done) break;
        if (interrupted) {
            atomic_store(&rs->ctx.stop, true);
            res->interrupted = true;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
        double now = bench_now_s();
        if (show && now >= next) {
            uint64_t ops = 0, bytes = 0, errs = 0, conns = 0;
            for (int i = 0; i < T; i++) {
                bench_worker *w = &rs->ctx.workers[i];
                ops += atomic_load_explicit(&w->a_ops, memory_order_relaxed);
                bytes += atomic_load_explicit(&w->a_bytes, memory_order_relaxed);
                errs += atomic_load_explicit(&w->a_errs, memory_order_relaxed);
                conns += atomic_load_explicit(&w->a_conns, memory_order_relaxed);
            }
            double dt = now - last_t;
            /* a rate over the last second, smoothed on a terminal's quicker ticks */
            double ro = dt > 0 ? (double)(ops - last_ops) / dt : 0, rb = dt > 0 ? (double)(bytes - last_bytes) / dt : 0;
            rate_ops = tty && printed ? 0.7 * rate_ops + 0.3 * ro : ro;
            rate_bytes = tty && printed ? 0.7 * rate_bytes + 0.3 * rb : rb;
            progress_line(rs, label, now - start, ops, bytes, errs, rate_ops, rate_bytes, conns, tty, false);
            printed = true;
            last_t = now, last_ops = ops, last_bytes = bytes;
            next = now + tick;
        }
    }
    for (int i = 0; i < T; i++) pthread_join(rs->tids[i], NULL);
    atomic_store(&rs->ctx.stop, false);
    double end = bench_now_s();
    if (kind == PH_RUN && rs->phases[0].deadline > 0 && end > rs->phases[0].deadline) end = rs->phases[0].deadline;
    if (printed && tty) fputs("\r\033[K", stderr);
    memset(&res->st, 0, sizeof res->st);
    res->conns = 0;
    for (int i = 0; i < T; i++) {
        bench_stats_merge(&res->st, &rs->ctx.workers[i].st);
        res->conns += rs->phases[i].conns;
    }
    res->seconds = end - measure_from;
    if (res->seconds < 1e-6) res->seconds = 1e-6;
}

/* One request (create or delete the bucket) on worker 0; returns its HTTP status (0: none). */
static int run_one(run_state *rs, bench_op op, char *code, size_t codecap)
{
    bench_phase *ph = &rs->phases[0];
    memset(ph, 0, sizeof *ph);
    ph->kind = PH_ONE;
    ph->one_op = op;
    ph->conns = 1;
    bench_worker *w = &rs->ctx.workers[0];
    bench_stats_reset(&w->st);
    bench_worker_run(w, ph);
    if (code) copy(code, codecap, w->one_code);
    if (w->st.errors && w->st.errs.n && code) copy(code, codecap, w->st.errs.e[0].code);
    return w->one_status;
}

/* Expected MD5s of every object (and part) a fixed-size run can meet, computed before the
 * clock starts. */
static void precompute_md5(const bench_cfg *cfg, const bench_ctx *ctx, bench_md5_cache *c)
{
    bench_md5_cache_init(c, 1024);
    if (!cfg->verify || cfg->no_bucket_ops || cfg->size_lo != cfg->size_hi) return;
    bench_workload w = cfg->workload;
    for (uint64_t v = 0; v < ctx->nvariants; v++) {
        uint64_t base = v * (BENCH_POOL_PERIOD / BENCH_VARIANTS_MAX);
        if (w == BW_GET || w == BW_MIXED || w == BW_PUT) bench_md5_get(NULL, c, base, cfg->size_lo, (unsigned char[16]){0});
        if (w == BW_MULTIPART) {
            for (uint64_t off = 0; off < cfg->size_lo || off == 0; off += cfg->part_size) {
                uint64_t len = cfg->size_lo - off < cfg->part_size ? cfg->size_lo - off : cfg->part_size;
                bench_md5_get(NULL, c, base + off, len, (unsigned char[16]){0});
                if (cfg->size_lo == 0) break;
            }
        }
    }
}

int cli_bench(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "startup")) return bench_startup_main(argc - 1, argv + 1);
    bench_cfg cfg;
    int rc = parse_args(&cfg, argc, argv);
    if (rc) return rc == 1 ? 0 : rc;
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_sigint};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    bench_data_init(cfg.seed);
    run_state rs = {.cfg = &cfg};
    rs.ctx.cfg = &cfg;
    /* Few content variants for big objects, so their MD5s can be computed up front. */
    uint64_t nv = cfg.size_hi ? (256ull << 20) / cfg.size_hi : BENCH_VARIANTS_MAX;
    rs.ctx.nvariants = nv < 1 ? 1 : nv > BENCH_VARIANTS_MAX ? BENCH_VARIANTS_MAX : nv;
    rs.ctx.workers = calloc((size_t)cfg.threads, sizeof *rs.ctx.workers);
    rs.phases = calloc((size_t)cfg.threads, sizeof *rs.phases);
    rs.tids = calloc((size_t)cfg.threads, sizeof *rs.tids);
    if (!rs.ctx.workers || !rs.phases || !rs.tids) abort();   /* out of memory, as everywhere */
    for (int i = 0; i < cfg.threads; i++)
        if (bench_worker_init(&rs.ctx.workers[i], &rs.ctx, i) != 0) {
            fprintf(stderr, "wosd bench: cannot set up worker %d\n", i);
            return 1;
        }

    int status = 0;
    bool created = false;
    bench_workload w = cfg.workload;
    bool prepared = w == BW_GET || w == BW_MIXED || w == BW_LIST || w == BW_DELETE;
    phase_result prep = {0}, run = {0}, clean = {0};
    bench_md5_cache shared = {0};
    bool have_prep = false, have_run = false, have_clean = false;

    if (!cfg.no_bucket_ops && !cfg.skip_prepare && w != BW_IDLE) {
        char code[96] = "";
        int st = run_one(&rs, BOP_MKBUCKET, code, sizeof code);
        if (st != 200 && st != 409) {
            if (!code[0]) snprintf(code, sizeof code, "HTTP status %d", st);
            fprintf(stderr, "wosd bench: cannot create bucket %s at %s: %s\n", cfg.bucket, cfg.endpoint, code);
            status = 1;
            goto out;
        }
        created = st == 200;
    }
    if (prepared && !cfg.skip_prepare) {
        run_phase(&rs, PH_PREPARE, "prepare", &prep);
        have_prep = true;
        if (prep.st.errors || prep.interrupted) {
            fprintf(stderr, "wosd bench: preparing the objects failed (%llu errors%s)\n",
                    (unsigned long long)prep.st.errors, prep.interrupted ? ", interrupted" : "");
            for (int i = 0; i < prep.st.errs.n; i++)
                fprintf(stderr, "  %s: %llu\n", prep.st.errs.e[i].code, (unsigned long long)prep.st.errs.e[i].count);
            status = 1;
            goto cleanup;
        }
    }
    if (cfg.prepare_only) goto report;

    precompute_md5(&cfg, &rs.ctx, &shared);
    rs.ctx.md5_shared = &shared;
    if (w == BW_MIXED)
        for (int i = 0; i < cfg.threads; i++) {
            bench_worker *wk = &rs.ctx.workers[i];
            uint64_t own = cfg.objects > (uint64_t)i ? (cfg.objects - (uint64_t)i + (uint64_t)cfg.threads - 1) / (uint64_t)cfg.threads : 0;
            wk->kstate = malloc(own + 1);
            if (!wk->kstate) return 1;
            memset(wk->kstate, 1 /* present */, own + 1);
        }
    run_phase(&rs, PH_RUN, "run", &run);
    have_run = true;
    if (run.st.errors) status = 1;

cleanup:
    if (cfg.cleanup) {
        interrupted = 0;
        bool any_uploads = false;
        for (int i = 0; i < cfg.threads; i++)
            if (rs.ctx.workers[i].nuploads) any_uploads = true;
        if (any_uploads) run_phase(&rs, PH_CLEAN_UPLOADS, "cleanup", &clean);
        phase_result ck;
        run_phase(&rs, PH_CLEAN_KEYS, "cleanup", &ck);
        if (any_uploads) {
            bench_stats_merge(&clean.st, &ck.st);
            clean.seconds += ck.seconds;
        } else {
            clean = ck;
        }
        have_clean = true;
        if (created) {
            char code[96] = "";
            int st = run_one(&rs, BOP_RMBUCKET, code, sizeof code);
            if (st != 204 && st != 200 && !cfg.quiet)
                fprintf(stderr, "wosd bench: the bucket %s was left (%d %s)\n", cfg.bucket, st, code);
        }
    }

report: {
    bench_summary s_run = {"run", run.seconds, run.conns, have_run ? &run.st : NULL};
    bench_summary s_prep = {"prepare", prep.seconds, prep.conns, have_prep ? &prep.st : NULL};
    bench_summary s_clean = {"cleanup", clean.seconds, clean.conns, have_clean ? &clean.st : NULL};
    if (cfg.json) {
        bench_print_json(&cfg, have_run ? &s_run : NULL, &s_prep, &s_clean);
    } else if (have_run) {
        bench_print_text(&cfg, &s_run, have_prep ? &s_prep : NULL);
    } else if (have_prep) {
        printf("wosd bench %s: prepared %llu objects in bucket %s in %.2f s (%.0f objects/s)\n", cfg.workload_name,
               (unsigned long long)prep.st.ops.count, cfg.bucket, prep.seconds,
               prep.seconds > 0 ? (double)prep.st.ops.count / prep.seconds : 0.0);
    }
    if (have_clean && clean.st.errors && !cfg.quiet)
        fprintf(stderr, "wosd bench: %llu cleanup requests failed\n", (unsigned long long)clean.st.errors);
}
out:
    for (int i = 0; i < cfg.threads; i++) bench_worker_free(&rs.ctx.workers[i]);
    free(rs.ctx.workers);
    bench_md5_cache_free(&shared);
    free(rs.phases);
    free(rs.tids);
    return status;
}
