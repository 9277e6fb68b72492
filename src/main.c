/* main — the wosd command line: `wosd serve` runs the server; `wosd --help` explains.
 *
 * serve opens the data directory (metadata, blobs, root credentials), starts the HTTP core
 * with the S3/WOS handler and two background chores (removing blobs the metadata let go of,
 * and a one-time scrub of blobs a crash left unreferenced), then waits for SIGINT/SIGTERM and
 * stops gracefully. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/admin.h"
#include "cli/cli.h"
#include "s3/lc_worker.h"
#include "s3/s3.h"
#include "server/http.h"
#include "store/blob.h"
#include "store/datadir.h"
#include "store/meta.h"
#include "util/cpus.h"
#include "util/hash.h"
#include "util/log.h"

#define WOSD_VERSION "0.1.0"

static const char usage_main[] =
    "wosd " WOSD_VERSION " - an object storage server speaking the WOS and Amazon S3 APIs\n"
    "\n"
    "Usage:\n"
    "  wosd serve [options]     run the server (wosd serve --help for the options)\n"
    "  wosd bench [options]     load-test an S3 endpoint (wosd bench --help)\n"
    "  wosd admin COMMAND       operator commands: scrub (wosd admin --help)\n"
    "  wosd --version           print the version\n"
    "  wosd --help              this text\n";

static const char usage_serve[] =
    "Usage: wosd serve [options]\n"
    "\n"
    "  --listen ADDR:PORT     address to listen on (default 127.0.0.1:9000; [::1]:9000 for IPv6)\n"
    "  --data DIR             data directory: metadata, object bytes, root credentials\n"
    "                         (default ./data; created if missing)\n"
    "  --domain DOMAIN        a domain for virtual-host addressing: Host: BUCKET.DOMAIN names a\n"
    "                         bucket. Repeat for several. Any other Host is path style.\n"
    "  --region REGION        the region signatures must name (default us-east-1)\n"
    "  --fsync always|none    always (default): an acknowledged write is on disk;\n"
    "                         none: faster, but a power loss may lose recent writes\n"
    "  --threads N            HTTP event threads (default: one per CPU it may use: its\n"
    "                         affinity, bounded by a cgroup v2 CPU quota; at most 256)\n"
    "  --max-connections N    connection limit (default 10000)\n"
    "  --min-part-size BYTES  smallest part but the last that Complete accepts (default and\n"
    "                         maximum 5242880, as S3; smaller only for tests and benchmarks)\n"
    "  --idle-timeout SEC     close connections idle this long (default 60); headers must\n"
    "                         complete within twice that, bodies average >= 1 KiB/s\n"
    "  --tier CLASS=DIR       where the bytes of storage class IA or Archive live (default\n"
    "                         DIR/tiers/IA, DIR/tiers/Archive; remembered in DIR/tiers.conf)\n"
    "  --archive-restore-delay SEC\n"
    "                         how long RestoreObject takes before an Archive object can be\n"
    "                         read (default 3; decimals allowed)\n"
    "  --lifecycle-day-seconds N\n"
    "                         the length of a lifecycle day in seconds (default 86400): lifecycle\n"
    "                         rules' Days, x-wos-delete-after-days and restore Days count in\n"
    "                         these, so tests can watch transitions and expiry happen\n"
    "  --lifecycle-interval SEC\n"
    "                         how often the lifecycle worker walks each bucket with rules\n"
    "                         (default: a 24th of a lifecycle day, at most 3600)\n"
    "  --lifecycle-batch N    objects per step of the lifecycle worker, each page read alone\n"
    "                         and each action its own transaction (default 100)\n"
    "  --log-level LEVEL      debug, info (default), warn or error\n"
    "  --help                 this text\n"
    "\n"
    "Root credentials come from WOSD_ROOT_ACCESS_KEY and WOSD_ROOT_SECRET_KEY; without them they\n"
    "are generated on first start, kept in DIR/root.credentials (mode 0600) and printed.\n";

static atomic_bool stopping;

/* --- root credentials ------------------------------------------------------------------------- */

static void random_token(char *out, size_t n, const char *alphabet)
{
    size_t al = strlen(alphabet);
    unsigned char r[64];
    random_bytes(r, n);
    for (size_t i = 0; i < n; i++) out[i] = alphabet[r[i] % al];
    out[n] = 0;
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = 0;
}

static int root_credentials(const char *dir, char *ak, size_t akcap, char *sk, size_t skcap, bool *generated)
{
    const char *eak = getenv("WOSD_ROOT_ACCESS_KEY"), *esk = getenv("WOSD_ROOT_SECRET_KEY");
    *generated = false;
    if (eak && *eak && esk && *esk) {
        copy_str(ak, akcap, eak);
        copy_str(sk, skcap, esk);
        return 0;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/root.credentials", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        char line[512];
        ak[0] = sk[0] = 0;
        while (fgets(line, sizeof line, f)) {
            line[strcspn(line, "\r\n")] = 0;
            if (!strncmp(line, "access_key=", 11)) copy_str(ak, akcap, line + 11);
            if (!strncmp(line, "secret_key=", 11)) copy_str(sk, skcap, line + 11);
        }
        fclose(f);
        if (!ak[0] || !sk[0]) {
            log_error("%s is incomplete", path);
            return -1;
        }
        return 0;
    }
    random_token(ak, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
    random_token(sk, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        log_error("cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    char body[256];
    int n = snprintf(body, sizeof body, "access_key=%s\nsecret_key=%s\n", ak, sk);
    if (write(fd, body, (size_t)n) != n || fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        log_error("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    *generated = true;
    return 0;
}

/* --- background chores ------------------------------------------------------------------------ */

typedef struct chores {
    meta_store *meta;
    blob_store *blobs;
    datadir_watch *dir;
    int64_t started;
} chores;

static void scrub_one(void *cls, const char *id)
{
    chores *c = cls;
    if (!meta_blob_referenced(c->meta, id)) {
        log_info("scrub: removing unreferenced blob %s", id);
        blob_remove(c->blobs, id);
    }
}

static void *chores_main(void *arg)
{
    chores *c = arg;
    /* Blobs older than this start that nothing references were orphaned by a crash between
     * their rename and the metadata commit. Newer ones may belong to uploads in flight. */
    blob_scan(c->blobs, c->started, scrub_one, c);
    while (!atomic_load(&stopping)) {
        /* A data directory renamed away or replaced keeps meta.db linked, which the check on
         * every write cannot see; a path lookup a few times a second can. */
        datadir_poll(c->dir);
        char ids[256][META_BLOB_ID_LEN + 1];
        int n = meta_gc_take(c->meta, ids, 256);
        for (int i = 0; i < n; i++) blob_remove(c->blobs, ids[i]);
        if (n < 256) {
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return NULL;
}

/* --- serve ---------------------------------------------------------------------------------- */

static bool store_intact(void *cls, bool ask_disk)
{
    return ask_disk ? datadir_intact(cls) : datadir_known_intact(cls);
}

/* Every write lands in the data directory: refuse to start when it cannot take one, and say
 * why (a read-only file system, permissions) in words that name the directory. Left to itself,
 * SQLite would only report "unable to open database file". */
static int data_dir_writable(const char *dir)
{
    if (access(dir, W_OK | X_OK) == 0) return 0;
    log_error("data directory %s is not writable: %s", dir, strerror(errno));
    return -1;
}

/* One event thread per CPU the process may use (cpus_usable: its affinity, under taskset or a
 * cpuset, bounded by a cgroup CPU quota): a second event thread per CPU only adds switches
 * between them, and threads beyond a quota are throttled. */
static long default_threads(void)
{
    long n = cpus_usable();
    return n > 256 ? 256 : n;   /* --threads takes up to 256 */
}

static int serve(int argc, char **argv)
{
    const char *listen = "127.0.0.1:9000", *data = "./data", *region = "us-east-1", *fsync_mode = "always";
    const char *domains[S3_MAX_DOMAINS];
    int ndomains = 0;
    long threads = default_threads(), max_conn = 10000, idle = 60;
    long long min_part = S3_MIN_PART_SIZE;
    double restore_delay = 3, day_seconds = 86400, lc_interval = -1;
    long lc_batch = 100;
    const char *tier_dirs[BLOB_TIERS] = {0};
    static const struct option opts[] = {
        {"listen", required_argument, 0, 'l'}, {"data", required_argument, 0, 'd'},
        {"domain", required_argument, 0, 'D'}, {"region", required_argument, 0, 'r'},
        {"fsync", required_argument, 0, 'f'},  {"threads", required_argument, 0, 't'},
        {"max-connections", required_argument, 0, 'c'}, {"idle-timeout", required_argument, 0, 'i'},
        {"log-level", required_argument, 0, 'L'}, {"help", no_argument, 0, 'h'},
        {"min-part-size", required_argument, 0, 'P'},
        {"archive-restore-delay", required_argument, 0, 'R'}, {"lifecycle-day-seconds", required_argument, 0, 'Y'},
        {"lifecycle-interval", required_argument, 0, 'I'}, {"lifecycle-batch", required_argument, 0, 'B'},
        {"tier", required_argument, 0, 'T'},
        {0, 0, 0, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'l': listen = optarg; break;
        case 'd': data = optarg; break;
        case 'D':
            if (ndomains == S3_MAX_DOMAINS) {
                fprintf(stderr, "wosd: at most %d --domain options\n", S3_MAX_DOMAINS);
                return 2;
            }
            domains[ndomains++] = optarg;
            break;
        case 'r': region = optarg; break;
        case 'f': fsync_mode = optarg; break;
        case 't': threads = strtol(optarg, NULL, 10); break;
        case 'c': max_conn = strtol(optarg, NULL, 10); break;
        case 'i': idle = strtol(optarg, NULL, 10); break;
        case 'P': min_part = strtoll(optarg, NULL, 10); break;
        case 'R': restore_delay = strtod(optarg, NULL); break;
        case 'Y': day_seconds = strtod(optarg, NULL); break;
        case 'I': lc_interval = strtod(optarg, NULL); break;
        case 'B': lc_batch = strtol(optarg, NULL, 10); break;
        case 'T': {
            const char *eq = strchr(optarg, '=');
            int t = !eq ? -1 : (eq - optarg == 2 && !strncasecmp(optarg, "IA", 2)) ? BLOB_TIER_IA
                             : (eq - optarg == 7 && !strncasecmp(optarg, "Archive", 7)) ? BLOB_TIER_ARCHIVE : -1;
            if (t < 0 || eq[1] != '/') {
                fprintf(stderr, "wosd: --tier takes IA=/absolute/dir or Archive=/absolute/dir\n");
                return 2;
            }
            tier_dirs[t] = eq + 1;
            break;
        }
        case 'L':
            if (!strcmp(optarg, "debug")) log_set_level(LOG_DEBUG);
            else if (!strcmp(optarg, "info")) log_set_level(LOG_INFO);
            else if (!strcmp(optarg, "warn")) log_set_level(LOG_WARN);
            else if (!strcmp(optarg, "error")) log_set_level(LOG_ERROR);
            else { fprintf(stderr, "wosd: unknown log level '%s'\n", optarg); return 2; }
            break;
        case 'h': fputs(usage_serve, stdout); return 0;
        default: fputs(usage_serve, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "wosd: unexpected argument '%s'\n%s", argv[optind], usage_serve);
        return 2;
    }
    bool durable;
    if (!strcmp(fsync_mode, "always")) durable = true;
    else if (!strcmp(fsync_mode, "none")) durable = false;
    else { fprintf(stderr, "wosd: --fsync must be always or none\n"); return 2; }
    if (min_part < 1 || min_part > S3_MIN_PART_SIZE) {
        fprintf(stderr, "wosd: --min-part-size takes 1 to %lld bytes\n", (long long)S3_MIN_PART_SIZE);
        return 2;
    }
    if (threads < 1 || threads > 256 || max_conn < 1 || idle < 1) {
        fprintf(stderr, "wosd: --threads, --max-connections and --idle-timeout take positive numbers\n");
        return 2;
    }

    if (!(restore_delay >= 0 && restore_delay <= 365 * 86400.0) || !(day_seconds >= 0.001 && day_seconds <= 86400.0)) {
        fprintf(stderr, "wosd: --archive-restore-delay takes 0..31536000 seconds, --lifecycle-day-seconds 0.001..86400\n");
        return 2;
    }
    if (lc_interval < 0) lc_interval = day_seconds / 24 < 3600 ? day_seconds / 24 : 3600;
    if (!(lc_interval <= 86400) || lc_batch < 1 || lc_batch > 10000) {
        fprintf(stderr, "wosd: --lifecycle-interval takes 0..86400 seconds, --lifecycle-batch 1..10000\n");
        return 2;
    }

    if (mkdir(data, 0700) != 0 && errno != EEXIST) {
        log_error("cannot create data directory %s: %s", data, strerror(errno));
        return 1;
    }
    if (data_dir_writable(data)) return 1;
    /* One server per data directory, and no offline admin command beside it: the lock is held
     * until exit, and the kernel drops it however the process ends. */
    char lock_err[4400];
    int lock_fd = admin_lock_data_dir(data, lock_err, sizeof lock_err);
    if (lock_fd < 0) {
        log_error("%s", lock_err);
        return 1;
    }
    char ak[129], sk[129];
    bool generated;
    if (root_credentials(data, ak, sizeof ak, sk, sizeof sk, &generated)) return 1;

    meta_store *meta;
    meta_options mo = {.durable = durable};
    if (meta_open(data, &mo, &meta) != META_OK) {
        log_error("cannot open the metadata in %s", data);
        return 1;
    }
    blob_store *blobs;
    int rc = blob_open_tiers(data, tier_dirs, durable, &blobs);
    if (rc) {
        log_error("cannot open the blob store in %s: %s", data, strerror(-rc));
        meta_close(meta);
        return 1;
    }
    datadir_watch *dir;
    rc = datadir_watch_open(data, &dir);
    if (rc) {
        log_error("cannot watch %s/meta.db: %s", data, strerror(-rc));
        blob_close(blobs);
        meta_close(meta);
        return 1;
    }

    static s3_config cfg;
    cfg.meta = meta;
    cfg.blobs = blobs;
    cfg.region = region;
    for (int i = 0; i < ndomains; i++) cfg.domains[i] = domains[i];
    cfg.ndomains = ndomains;
    cfg.root_access_key = ak;
    cfg.root_secret_key = sk;
    cfg.min_part_size = min_part;
    cfg.store_intact = store_intact;
    cfg.store_intact_cls = dir;
    cfg.restore_delay_ms = (int64_t)(restore_delay * 1000);
    cfg.day_ms = (int64_t)(day_seconds * 1000);
    if (cfg.day_ms < 1) cfg.day_ms = 1;

    /* Signals are taken by sigwait below, never by a worker thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Descriptors: raise the soft limit as far as allowed, and keep connections below it with
     * room for blobs, the database and the workers, so the server refuses connections instead
     * of running out of descriptors (libmicrohttpd would spin waiting for one). */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
            getrlimit(RLIMIT_NOFILE, &rl);
        }
        long room = rl.rlim_cur == RLIM_INFINITY ? max_conn : (long)rl.rlim_cur - 128;
        if (room < 16) room = 16;
        if (max_conn > room) {
            log_warn("connection limit lowered to %ld: only %llu descriptors", room, (unsigned long long)rl.rlim_cur);
            max_conn = room;
        }
    }

    http_config hc = {
        .listen = listen,
        .threads = (unsigned)threads,
        .connection_limit = (unsigned)max_conn,
        .idle_timeout_s = (unsigned)idle,
        /* Durable commits share a flush, so the more writers wait together the better; without
         * flushes they only queue for the store's one writer, and fewer contend less. */
        .workers = durable ? HTTP_DEFAULT_WORKERS : 8,
        .handler = s3_handler(&cfg),
    };
    http_server *srv = http_start(&hc);
    if (!srv) {
        datadir_watch_close(dir);
        blob_close(blobs);
        meta_close(meta);
        return 1;
    }

    chores ch = {meta, blobs, dir, (int64_t)time(NULL)};
    pthread_t chores_thread;
    pthread_create(&chores_thread, NULL, chores_main, &ch);
    lc_worker_config lcc = {.meta = meta, .blobs = blobs, .day_ms = cfg.day_ms,
                            .interval_ms = (int64_t)(lc_interval * 1000), .batch = (int)lc_batch};
    lc_worker *lcw = lc_worker_start(&lcc);
    if (!lcw) log_warn("the lifecycle worker did not start: lifecycle rules will not be applied");

    const char *colon = strrchr(listen, ':');
    printf("wosd %s serving http://%.*s:%u (region %s, data %s, fsync %s)\n", WOSD_VERSION,
           (int)(colon - listen), listen, http_port(srv), region, data, fsync_mode);
    printf("root access key: %s\n", ak);
    if (generated || !getenv("WOSD_ROOT_SECRET_KEY"))
        printf("root secret key: %s%s\n", sk, generated ? "   (generated; kept in root.credentials)" : "");
    fflush(stdout);

    int sig;
    sigwait(&set, &sig);
    log_info("signal %d: stopping (requests in flight finish first)", sig);
    atomic_store(&stopping, true);
    http_stop(srv);
    lc_worker_stop(lcw);
    pthread_join(chores_thread, NULL);
    datadir_watch_close(dir);
    blob_close(blobs);
    meta_close(meta);
    log_info("stopped");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_main, stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage_main, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("wosd %s\n", WOSD_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "serve")) return serve(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench")) return cli_bench(argc - 1, argv + 1);
    if (!strcmp(argv[1], "admin")) return cli_admin(argc - 1, argv + 1);
    fprintf(stderr, "wosd: unknown command '%s'\n%s", argv[1], usage_main);
    return 2;
}
