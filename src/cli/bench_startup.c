/* bench_startup — `wosd bench startup -- COMMAND`: how long a server takes to be useful.
 *
 * Starts COMMAND (a server), and measures the time from just before exec to the first
 * successful request: a signed ListBuckets (GET /) answered 200, or any HTTP answer with
 * --sign none. It polls every --interval (1 ms by default) with a fresh connection, so a
 * refused connect costs microseconds and the figure is within about a millisecond. Then it
 * waits --idle and reads the server's memory (VmRSS and VmHWM from /proc/PID/status), and
 * stops it with SIGTERM — or, with --keep, leaves it running and reports its PID. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli/bench_internal.h"

static const char usage_startup[] =
    "Usage: wosd bench startup [options] -- COMMAND [ARGS...]\n"
    "\n"
    "Runs COMMAND (a server listening on --endpoint) and reports the time from its exec to the\n"
    "first successful request (a signed ListBuckets; with --sign none any HTTP answer), then\n"
    "its memory after --idle, then stops it (SIGTERM).\n"
    "\n"
    "  --endpoint URL        default http://127.0.0.1:9000\n"
    "  --access-key AK, --secret-key SK, --region R, --sign v4|wos|none   as for wosd bench\n"
    "  --timeout D           give up after D (default 60s)\n"
    "  --interval D          poll interval (default 1ms)\n"
    "  --idle D              wait D after ready before reading memory (default 1s)\n"
    "  --log FILE            COMMAND's stdout and stderr (default /dev/null)\n"
    "  --keep                leave COMMAND running (its PID is reported)\n"
    "  --json                the result as JSON\n";

/* One probe: connect, request, read the status. Returns the status, 0 when nothing answered. */
static int probe(const bench_cfg *cfg, bench_signer *sg)
{
    int fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int status = 0;
    if (connect(fd, (const struct sockaddr *)&cfg->addr, cfg->addrlen) == 0) {
        bench_req rq;
        memset(&rq, 0, sizeof rq);
        rq.op = BOP_PING;
        rq.method = "GET";
        rq.body_len = -1;
        char head[BENCH_HEAD_CAP];
        int n = bench_build_head(sg, &rq, head, sizeof head);
        if (n > 0 && send(fd, head, (size_t)n, MSG_NOSIGNAL) == n) {
            char resp[4096];
            size_t got = 0;
            while (got < sizeof resp - 1) {
                ssize_t r = recv(fd, resp + got, sizeof resp - 1 - got, 0);
                if (r <= 0) break;
                got += (size_t)r;
                resp[got] = 0;
                if (strstr(resp, "\r\n")) break;
            }
            if (got >= 12 && !strncmp(resp, "HTTP/1.", 7)) status = atoi(resp + 9);
        }
    }
    close(fd);
    return status;
}

static long proc_kib(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl) && line[fl] == ':') {
            v = strtol(line + fl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int stop_child(pid_t pid)
{
    int st = 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 1500; i++) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        sleep_s(0.01);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return 128 + SIGKILL;
}

int bench_startup_main(int argc, char **argv)
{
    bench_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *ak = getenv("WOSD_ROOT_ACCESS_KEY"), *sk = getenv("WOSD_ROOT_SECRET_KEY");
    if (!ak || !*ak || !sk || !*sk) {
        ak = getenv("AWS_ACCESS_KEY_ID");
        sk = getenv("AWS_SECRET_ACCESS_KEY");
    }
    snprintf(cfg.access_key, sizeof cfg.access_key, "%s", ak ? ak : "");
    snprintf(cfg.secret_key, sizeof cfg.secret_key, "%s", sk ? sk : "");
    snprintf(cfg.region, sizeof cfg.region, "us-east-1");
    const char *endpoint = "http://127.0.0.1:9000", *log = "/dev/null";
    double timeout = 60, interval = 0.001, idle = 1;
    bool keep = false, json = false;
    static const struct option opts[] = {
        {"endpoint", required_argument, 0, 'e'}, {"access-key", required_argument, 0, 'a'},
        {"secret-key", required_argument, 0, 's'}, {"region", required_argument, 0, 'r'},
        {"sign", required_argument, 0, 'S'},     {"timeout", required_argument, 0, 't'},
        {"interval", required_argument, 0, 'i'}, {"idle", required_argument, 0, 'I'},
        {"log", required_argument, 0, 'l'},      {"keep", no_argument, 0, 'k'},
        {"json", no_argument, 0, 'j'},           {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 0;
    int o;
    /* '+': stop at the first non-option, so COMMAND's own options stay its own */
    while ((o = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (o) {
        case 'e': endpoint = optarg; break;
        case 'a': snprintf(cfg.access_key, sizeof cfg.access_key, "%s", optarg); break;
        case 's': snprintf(cfg.secret_key, sizeof cfg.secret_key, "%s", optarg); break;
        case 'r': snprintf(cfg.region, sizeof cfg.region, "%s", optarg); break;
        case 'S':
            if (!strcmp(optarg, "v4")) cfg.sign = BSIGN_V4;
            else if (!strcmp(optarg, "wos")) cfg.sign = BSIGN_WOS;
            else if (!strcmp(optarg, "none")) cfg.sign = BSIGN_NONE;
            else goto usage;
            break;
        case 't': if (bench_parse_duration(optarg, &timeout)) goto usage; break;
        case 'i': if (bench_parse_duration(optarg, &interval)) goto usage; break;
        case 'I': if (bench_parse_duration(optarg, &idle)) goto usage; break;
        case 'l': log = optarg; break;
        case 'k': keep = true; break;
        case 'j': json = true; break;
        case 'h': fputs(usage_startup, stdout); return 0;
        default: goto usage;
        }
    }
    if (optind >= argc) goto usage;
    if (bench_parse_endpoint(&cfg, endpoint, true) != 0) goto usage;
    if (cfg.sign != BSIGN_NONE && (!cfg.access_key[0] || !cfg.secret_key[0])) {
        fprintf(stderr, "wosd bench startup: no credentials (or use --sign none)\n");
        return 2;
    }
    bench_signer sg;
    if (bench_signer_init(&sg, &cfg) != 0) return 1;

    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY), out = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in >= 0) dup2(in, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        execvp(argv[optind], argv + optind);
        _exit(127);
    }
    int attempts = 0, status = 0;
    double ready_ms = -1;
    for (;;) {
        attempts++;
        status = probe(&cfg, &sg);
        if (status == 200 || (cfg.sign == BSIGN_NONE && status > 0)) {
            ready_ms = (double)(bench_now_ns() - t0) / 1e6;
            break;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            fprintf(stderr, "wosd bench startup: %s exited (status %d) before answering\n", argv[optind],
                    WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
            bench_signer_free(&sg);
            return 1;
        }
        if ((double)(bench_now_ns() - t0) / 1e9 > timeout) {
            fprintf(stderr, "wosd bench startup: no successful answer within %.0f s (last status %d)\n", timeout, status);
            stop_child(pid);
            bench_signer_free(&sg);
            return 1;
        }
        sleep_s(interval);
    }
    bench_signer_free(&sg);
    long rss_ready = proc_kib(pid, "VmRSS");
    if (idle > 0) sleep_s(idle);
    long rss = proc_kib(pid, "VmRSS"), hwm = proc_kib(pid, "VmHWM");
    int exit_status = keep ? -1 : stop_child(pid);
    if (json) {
        printf("{\"ready_ms\": %.3f, \"attempts\": %d, \"pid\": %d, \"rss_ready_kib\": %ld, \"rss_idle_kib\": %ld, "
               "\"hwm_kib\": %ld, \"idle_s\": %.3f, \"kept\": %s, \"exit_status\": %d}\n",
               ready_ms, attempts, (int)pid, rss_ready, rss, hwm, idle, keep ? "true" : "false", exit_status);
    } else {
        printf("ready in %.1f ms (%d probes); RSS %ld KiB at ready, %ld KiB after %.1f s idle (peak %ld KiB); ",
               ready_ms, attempts, rss_ready, rss, idle, hwm);
        if (keep) printf("left running as PID %d\n", (int)pid);
        else printf("stopped (exit status %d)\n", exit_status);
    }
    return 0;
usage:
    fputs(usage_startup, stderr);
    return 2;
}
