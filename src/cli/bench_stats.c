/* bench_stats — latency histograms, error counts, and the summary a run prints.
 *
 * Latencies go into a log-linear histogram (64 linear sub-buckets per power of two of
 * nanoseconds, so every reported value is within 1.6 % of the truth) instead of a list of
 * samples: recording is a shift and an increment, merging workers is an addition, and a run
 * of a hundred million requests needs the same 30 KiB as one of ten. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/bench_internal.h"

static const char *const op_names[BOP__N] = {
    [BOP_GET] = "GET",         [BOP_PUT] = "PUT",           [BOP_DELETE] = "DELETE",
    [BOP_STAT] = "HEAD",       [BOP_INITIATE] = "INITIATE", [BOP_PART] = "UPLOAD_PART",
    [BOP_COMPLETE] = "COMPLETE", [BOP_ABORT] = "ABORT",     [BOP_LIST] = "LIST",
    [BOP_MKBUCKET] = "CREATE_BUCKET", [BOP_RMBUCKET] = "DELETE_BUCKET", [BOP_PING] = "PING",
};

const char *bench_op_name(bench_op op) { return op < BOP__N ? op_names[op] : "?"; }

/* --- histogram -------------------------------------------------------------------------------- */

static unsigned hist_index(uint64_t v)
{
    const unsigned sub = 1u << BENCH_HIST_SUB_BITS;
    if (v < 2 * sub) return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);      /* ≥ SUB_BITS + 1 */
    unsigned shift = e - BENCH_HIST_SUB_BITS;
    return (e - BENCH_HIST_SUB_BITS + 1) * sub + (unsigned)((v >> shift) & (sub - 1));
}

/* The middle of bucket i. */
static uint64_t hist_value(unsigned i)
{
    const unsigned sub = 1u << BENCH_HIST_SUB_BITS;
    if (i < 2 * sub) return i;
    unsigned k = i / sub;                  /* ≥ 2 */
    unsigned shift = k - 1;                /* e - SUB_BITS */
    uint64_t lo = (uint64_t)(sub + i % sub) << shift;
    return lo + ((1ull << shift) >> 1);
}

void bench_hist_add(bench_hist *h, uint64_t ns)
{
    unsigned i = hist_index(ns);
    if (i >= BENCH_HIST_N) i = BENCH_HIST_N - 1;
    h->b[i]++;
    if (h->count == 0 || ns < h->min_ns) h->min_ns = ns;
    if (ns > h->max_ns) h->max_ns = ns;
    h->count++;
    h->sum_ns += ns;
}

void bench_hist_merge(bench_hist *into, const bench_hist *from)
{
    if (!from->count) return;
    for (unsigned i = 0; i < BENCH_HIST_N; i++) into->b[i] += from->b[i];
    if (into->count == 0 || from->min_ns < into->min_ns) into->min_ns = from->min_ns;
    if (from->max_ns > into->max_ns) into->max_ns = from->max_ns;
    into->count += from->count;
    into->sum_ns += from->sum_ns;
}

uint64_t bench_hist_pct(const bench_hist *h, double p)
{
    if (!h->count) return 0;
    uint64_t want = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (want < 1) want = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BENCH_HIST_N; i++) {
        seen += h->b[i];
        if (seen >= want) {
            uint64_t v = hist_value(i);
            if (v > h->max_ns) v = h->max_ns;
            if (v < h->min_ns) v = h->min_ns;
            return v;
        }
    }
    return h->max_ns;
}

/* --- errors ------------------------------------------------------------------------------------ */

void bench_errs_add(bench_errs *e, const char *code, uint64_t n)
{
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->e[i].code, code) == 0) {
            e->e[i].count += n;
            return;
        }
    if (e->n == BENCH_ERR_KINDS) {
        e->other += n;
        return;
    }
    snprintf(e->e[e->n].code, sizeof e->e[e->n].code, "%s", code);
    e->e[e->n].count = n;
    e->n++;
}

void bench_stats_reset(bench_stats *s) { memset(s, 0, sizeof *s); }

void bench_stats_merge(bench_stats *into, const bench_stats *from)
{
    bench_hist_merge(&into->ops, &from->ops);
    for (int i = 0; i < BOP__N; i++) bench_hist_merge(&into->req[i], &from->req[i]);
    into->bytes += from->bytes;
    into->errors += from->errors;
    into->keys_listed += from->keys_listed;
    for (int i = 0; i < from->errs.n; i++) bench_errs_add(&into->errs, from->errs.e[i].code, from->errs.e[i].count);
    into->errs.other += from->errs.other;
}

/* --- printing ----------------------------------------------------------------------------------- */

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void fmt_size(uint64_t n, char *out, size_t cap)
{
    static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int i = 0;
    double v = (double)n;
    while (i < 4 && n && n % 1024 == 0) {
        n /= 1024;
        i++;
    }
    if (n < 10000 || i == 4) {
        snprintf(out, cap, "%llu %s", (unsigned long long)n, u[i]);
        return;
    }
    for (i = 0; v >= 1024 && i < 4; i++) v /= 1024;
    snprintf(out, cap, "%.1f %s", v, u[i]);
}

static void size_desc(const bench_cfg *cfg, char *out, size_t cap)
{
    char a[32], b[32];
    fmt_size(cfg->size_lo, a, sizeof a);
    if (cfg->size_hi == cfg->size_lo) {
        snprintf(out, cap, "%s", a);
        return;
    }
    fmt_size(cfg->size_hi, b, sizeof b);
    snprintf(out, cap, "%s-%s", a, b);
}

static void print_lat(FILE *f, const bench_hist *h)
{
    fprintf(f, "p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f ms",
            ms(bench_hist_pct(h, 50)), ms(bench_hist_pct(h, 90)), ms(bench_hist_pct(h, 99)),
            ms(bench_hist_pct(h, 99.9)), ms(h->max_ns), h->count ? ms(h->sum_ns / h->count) : 0.0);
}

static double per_s(uint64_t n, double sec) { return sec > 0 ? (double)n / sec : 0; }

void bench_print_text(const bench_cfg *cfg, const bench_summary *s, const bench_summary *prep)
{
    FILE *f = stdout;
    char sz[80];
    size_desc(cfg, sz, sizeof sz);
    const bench_stats *st = s->st;
    fprintf(f, "wosd bench %s: %s, %d connection%s on %d thread%s, %s objects, %.2f s\n",
            cfg->workload_name, cfg->endpoint, s->connections, s->connections == 1 ? "" : "s",
            cfg->threads, cfg->threads == 1 ? "" : "s", sz, s->seconds);
    if (prep && prep->st) {
        fprintf(f, "  prepare     %llu objects in %.2f s (%.0f ops/s), %llu errors\n",
                (unsigned long long)prep->st->ops.count, prep->seconds, per_s(prep->st->ops.count, prep->seconds),
                (unsigned long long)prep->st->errors);
    }
    fprintf(f, "  operations  %llu   %.1f ops/s   %.2f MiB/s\n", (unsigned long long)st->ops.count,
            per_s(st->ops.count, s->seconds), per_s(st->bytes, s->seconds) / 1048576.0);
    fprintf(f, "  latency     ");
    print_lat(f, &st->ops);
    fputc('\n', f);
    for (int i = 0; i < BOP__N; i++) {
        const bench_hist *h = &st->req[i];
        if (!h->count) continue;
        fprintf(f, "  %-11s %llu  ", bench_op_name((bench_op)i), (unsigned long long)h->count);
        print_lat(f, h);
        fputc('\n', f);
    }
    if (st->keys_listed) fprintf(f, "  keys listed %llu\n", (unsigned long long)st->keys_listed);
    fprintf(f, "  errors      %llu\n", (unsigned long long)st->errors);
    for (int i = 0; i < st->errs.n; i++)
        fprintf(f, "              %-40s %llu\n", st->errs.e[i].code, (unsigned long long)st->errs.e[i].count);
    if (st->errs.other) fprintf(f, "              %-40s %llu\n", "(other)", (unsigned long long)st->errs.other);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
        else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
        else fputc(*p, f);
    }
    fputc('"', f);
}

static void json_lat(FILE *f, const bench_hist *h)
{
    fprintf(f, "{\"p50\": %.4f, \"p90\": %.4f, \"p99\": %.4f, \"p999\": %.4f, \"max\": %.4f, \"mean\": %.4f}",
            ms(bench_hist_pct(h, 50)), ms(bench_hist_pct(h, 90)), ms(bench_hist_pct(h, 99)),
            ms(bench_hist_pct(h, 99.9)), ms(h->max_ns), h->count ? ms(h->sum_ns / h->count) : 0.0);
}

static void json_phase(FILE *f, const bench_summary *s)
{
    const bench_stats *st = s->st;
    fprintf(f, "{\"seconds\": %.4f, \"connections\": %d, \"ops\": %llu, \"ops_per_s\": %.2f, \"bytes\": %llu, "
               "\"mib_per_s\": %.3f, \"latency_ms\": ",
            s->seconds, s->connections, (unsigned long long)st->ops.count, per_s(st->ops.count, s->seconds),
            (unsigned long long)st->bytes, per_s(st->bytes, s->seconds) / 1048576.0);
    json_lat(f, &st->ops);
    fprintf(f, ", \"requests\": {");
    bool first = true;
    for (int i = 0; i < BOP__N; i++) {
        const bench_hist *h = &st->req[i];
        if (!h->count) continue;
        fprintf(f, "%s\"%s\": {\"count\": %llu, \"latency_ms\": ", first ? "" : ", ", bench_op_name((bench_op)i),
                (unsigned long long)h->count);
        json_lat(f, h);
        fputc('}', f);
        first = false;
    }
    fprintf(f, "}, \"keys_listed\": %llu, \"errors\": %llu, \"errors_by_code\": {",
            (unsigned long long)st->keys_listed, (unsigned long long)st->errors);
    for (int i = 0; i < st->errs.n; i++) {
        if (i) fputs(", ", f);
        json_str(f, st->errs.e[i].code);
        fprintf(f, ": %llu", (unsigned long long)st->errs.e[i].count);
    }
    if (st->errs.other) fprintf(f, "%s\"(other)\": %llu", st->errs.n ? ", " : "", (unsigned long long)st->errs.other);
    fputs("}}", f);
}

void bench_print_json(const bench_cfg *cfg, const bench_summary *s, const bench_summary *prep,
                      const bench_summary *clean)
{
    FILE *f = stdout;
    static const char *const signs[] = {"v4", "wos", "none"};
    fprintf(f, "{\"workload\": ");
    json_str(f, cfg->workload_name);
    fprintf(f, ", \"endpoint\": ");
    json_str(f, cfg->endpoint);
    fprintf(f, ", \"bucket\": ");
    json_str(f, cfg->bucket);
    fprintf(f, ", \"sign\": \"%s\", \"threads\": %d, \"concurrency\": %d, \"size_min\": %llu, \"size_max\": %llu, "
               "\"part_size\": %llu, \"objects\": %llu, \"verify\": %s",
            signs[cfg->sign], cfg->threads, cfg->concurrency, (unsigned long long)cfg->size_lo,
            (unsigned long long)cfg->size_hi, (unsigned long long)cfg->part_size, (unsigned long long)cfg->objects,
            cfg->verify ? "true" : "false");
    if (s && s->st) {
        fprintf(f, ", \"run\": ");
        json_phase(f, s);
        /* the run's headline figures at the top level too, for scripts */
        const bench_stats *st = s->st;
        fprintf(f, ", \"seconds\": %.4f, \"ops\": %llu, \"ops_per_s\": %.2f, \"mib_per_s\": %.3f, \"errors\": %llu, "
                   "\"latency_ms\": ",
                s->seconds, (unsigned long long)st->ops.count, per_s(st->ops.count, s->seconds),
                per_s(st->bytes, s->seconds) / 1048576.0, (unsigned long long)st->errors);
        json_lat(f, &st->ops);
    }
    if (prep && prep->st) {
        fprintf(f, ", \"prepare\": ");
        json_phase(f, prep);
    }
    if (clean && clean->st) {
        fprintf(f, ", \"cleanup\": ");
        json_phase(f, clean);
    }
    fputs("}\n", f);
}
