/* admin_iam — `wosd admin user|key|policy …`: the operator's commands for users, access keys
 * and policies.
 *
 * Each command is one admin API call (s3/admin_api.h): a method, a path under /wos-admin/v1/
 * and perhaps a body. Online, the call goes to a running server over a small blocking
 * HTTP/1.1 client below, signed with AWS SigV4 by the root credential; offline (--data DIR)
 * it runs admin_api_call on the store directly, holding the data directory's lock so that no
 * server runs beside it. Either way the answer is the same JSON, printed as it is (--json) or
 * as a table. */
#include "cli/admin_iam.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli/admin.h"
#include "s3/admin_api.h"
#include "s3/auth.h"
#include "store/meta.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/timefmt.h"

const char admin_iam_usage[] =
    "  user add NAME | list | info NAME | rm NAME | disable NAME | enable NAME\n"
    "        users: a user signs with its access keys and may do what its policies allow\n"
    "  key create USER | list [USER] | rm AK | disable AK | enable AK\n"
    "        access keys: create prints the secret, once\n"
    "  policy put NAME FILE|- | get NAME | list | rm NAME | attach NAME USER | detach NAME USER\n"
    "        managed policies (WOS or AWS policy language), and the built-ins\n"
    "        WSCloudWOSReadOnlyAccess, WSCloudWOSFullAccess, WSCloudWOSResourceCreatorAccess\n"
    "        Options: --endpoint URL (default $WOSD_ENDPOINT or http://127.0.0.1:9000),\n"
    "        --access-key/--secret-key (default $WOSD_ROOT_ACCESS_KEY/$WOSD_ROOT_SECRET_KEY: the\n"
    "        root credential), --region R (default $WOSD_REGION or us-east-1), --json (the API's\n"
    "        JSON instead of tables), --data DIR (work on a stopped server's data directory).\n";

static const char usage[] =
    "Usage: wosd admin user|key|policy COMMAND [ARGS] [options]\n"
    "\n"
    "%s";

typedef struct opts {
    const char *endpoint, *access_key, *secret_key, *region, *data;
    bool json;
} opts;

/* --- the call ------------------------------------------------------------------------------- */

typedef struct call {
    const char *method;
    char path[1024];
    char query[512];
    const char *body;
    size_t body_len;
} call;

/* Appends one path segment, percent-encoded as SigV4 canonical URIs want it. */
static void path_add(call *c, const char *seg)
{
    size_t n = strlen(c->path);
    if (n + 2 >= sizeof c->path) return;
    c->path[n++] = '/';
    for (const unsigned char *p = (const unsigned char *)seg; *p && n + 4 < sizeof c->path; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
            c->path[n++] = (char)*p;
        else n += (size_t)snprintf(c->path + n, sizeof c->path - n, "%%%02X", *p);
    }
    c->path[n] = 0;
}

static void call_init(call *c, const char *method, const char *a, const char *b, const char *d, const char *e)
{
    memset(c, 0, sizeof *c);
    c->method = method;
    snprintf(c->path, sizeof c->path, "/wos-admin/v1");
    const char *segs[] = {a, b, d, e};
    for (int i = 0; i < 4; i++)
        if (segs[i]) path_add(c, segs[i]);
}

/* --- HTTP ----------------------------------------------------------------------------------- */

typedef struct reply {
    int status;
    buf body;
} reply;

static int parse_endpoint(const char *ep, char *host, size_t hcap, char *port, size_t pcap)
{
    if (strncmp(ep, "http://", 7) != 0) {
        fprintf(stderr, "wosd admin: --endpoint must be http://HOST[:PORT] (got %s)\n", ep);
        return -1;
    }
    const char *h = ep + 7, *end = h + strcspn(h, "/");
    const char *colon = NULL;
    if (*h == '[') {   /* [IPv6]:port */
        const char *close = memchr(h, ']', (size_t)(end - h));
        if (!close) return -1;
        snprintf(host, hcap, "%.*s", (int)(close - h - 1), h + 1);
        colon = close + 1 < end && close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        snprintf(host, hcap, "%.*s", (int)((colon ? colon : end) - h), h);
    }
    if (colon) snprintf(port, pcap, "%.*s", (int)(end - colon - 1), colon + 1);
    else snprintf(port, pcap, "80");
    return host[0] ? 0 : -1;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Decodes a chunked body in place; returns its length or -1. */
static long dechunk(char *p, size_t n)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        if (in >= n) return -1;
        unsigned long len = strtoul(p + in, &end, 16);
        char *crlf = strstr(p + in, "\r\n");
        if (!crlf || end > crlf) return -1;
        in = (size_t)(crlf - p) + 2;
        if (len == 0) return (long)out;
        if (in + len > n) return -1;
        memmove(p + out, p + in, len);
        out += len;
        in += len + 2;
    }
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char d[32];
    sha256(p, n, d);
    hex_encode(d, 32, out);
}

/* One signed request over a fresh connection; 0 and *r filled, or -1 (message printed). */
static int http_call(const opts *o, const call *c, const char *region, reply *r)
{
    char host[256], port[16];
    if (parse_endpoint(o->endpoint, host, sizeof host, port, sizeof port)) {
        fprintf(stderr, "wosd admin: cannot read the endpoint %s\n", o->endpoint);
        return -1;
    }
    /* The Host header as SigV4 signs it. */
    char hosthdr[300];
    bool v6 = strchr(host, ':') != NULL;
    if (!strcmp(port, "80")) snprintf(hosthdr, sizeof hosthdr, v6 ? "[%s]" : "%s", host);
    else snprintf(hosthdr, sizeof hosthdr, v6 ? "[%s]:%s" : "%s:%s", host, port);

    char stamp[17], date8[9], payload[65];
    time_fmt_iso_basic((int64_t)time(NULL), stamp);
    memcpy(date8, stamp, 8);
    date8[8] = 0;
    sha256_hex(c->body ? c->body : "", c->body_len, payload);

    buf creq = {0};
    buf_printf(&creq, "%s\n%s\n%s\nhost:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n\n"
                      "host;x-amz-content-sha256;x-amz-date\n%s",
               c->method, c->path, c->query, hosthdr, payload, stamp, payload);
    char creq_hash[65];
    sha256_hex(creq.data, creq.len, creq_hash);
    buf_free(&creq);
    char scope[128];
    snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date8, region);
    buf sts = {0};
    buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", stamp, scope, creq_hash);
    unsigned char key[32], mac[32];
    sigv4_signing_key(false, o->secret_key, date8, region, "s3", key);
    hmac_sha256(key, 32, sts.data, sts.len, mac);
    explicit_bzero(key, sizeof key);
    buf_free(&sts);
    char sig[65];
    hex_encode(mac, 32, sig);

    buf req = {0};
    buf_printf(&req, "%s %s%s%s HTTP/1.1\r\nHost: %s\r\nx-amz-date: %s\r\nx-amz-content-sha256: %s\r\n"
                     "Authorization: AWS4-HMAC-SHA256 Credential=%s/%s, "
                     "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s\r\n"
                     "Content-Length: %zu\r\n%sConnection: close\r\nUser-Agent: wosd-admin\r\n\r\n",
               c->method, c->path, c->query[0] ? "?" : "", c->query, hosthdr, stamp, payload, o->access_key, scope,
               sig, c->body_len, c->body_len ? "Content-Type: application/json\r\n" : "");
    if (c->body_len) buf_append(&req, c->body, c->body_len);

    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc) {
        fprintf(stderr, "wosd admin: cannot resolve %s: %s\n", host, gai_strerror(rc));
        buf_free(&req);
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        struct timeval tv = {60, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        fprintf(stderr, "wosd admin: cannot connect to %s: %s (is the server running? use --data DIR for a "
                        "stopped one)\n", o->endpoint, strerror(errno));
        buf_free(&req);
        return -1;
    }
    int ok = send_all(fd, req.data, req.len);
    buf_free(&req);
    buf in = {0};
    char chunk[16384];
    for (ssize_t n; ok == 0 && (n = recv(fd, chunk, sizeof chunk, 0)) != 0;) {
        if (n < 0) {
            if (errno == EINTR) continue;
            ok = -1;
            break;
        }
        buf_append(&in, chunk, (size_t)n);
        if (in.len > (64u << 20)) ok = -1;
    }
    close(fd);
    char *hend = in.data ? strstr(in.data, "\r\n\r\n") : NULL;
    if (ok != 0 || !hend || sscanf(in.data, "HTTP/1.%*d %d", &r->status) != 1) {
        fprintf(stderr, "wosd admin: no valid HTTP answer from %s\n", o->endpoint);
        buf_free(&in);
        return -1;
    }
    *hend = 0;
    char *body = hend + 4;
    size_t blen = in.len - (size_t)(body - in.data);
    for (char *h = strstr(in.data, "\r\n"); h; h = strstr(h + 2, "\r\n")) {
        if (!strncasecmp(h + 2, "Transfer-Encoding:", 18) && strstr(h + 2, "chunked")) {
            long d = dechunk(body, blen);
            if (d < 0) {
                fprintf(stderr, "wosd admin: a malformed chunked answer from %s\n", o->endpoint);
                buf_free(&in);
                return -1;
            }
            blen = (size_t)d;
            break;
        }
    }
    memset(&r->body, 0, sizeof r->body);
    buf_append(&r->body, body, blen);
    buf_free(&in);
    return 0;
}

/* --- offline ------------------------------------------------------------------------------------ */

/* The root access key of DIR (no user may take it as a name): the environment's, else
 * DIR/root.credentials'. */
static void root_key_of(const char *dir, char *out, size_t cap)
{
    out[0] = 0;
    const char *env = getenv("WOSD_ROOT_ACCESS_KEY");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
        return;
    }
    char path[4200], line[512];
    snprintf(path, sizeof path, "%s/root.credentials", dir);
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!strncmp(line, "access_key=", 11)) {
            size_t n = strnlen(line + 11, cap - 1);
            memcpy(out, line + 11, n);
            out[n] = 0;
        }
    }
    fclose(f);
}

static int offline_call(const opts *o, const call *c, reply *r)
{
    char path[4200], err[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/meta.db", o->data);
    if (stat(path, &st) != 0) {
        fprintf(stderr, "wosd admin: %s is not a wosd data directory (no meta.db)\n", o->data);
        return -1;
    }
    int lock = admin_lock_data_dir(o->data, err, sizeof err);
    if (lock < 0) {
        fprintf(stderr, "wosd admin: %s\n", err);
        return -1;
    }
    meta_store *m;
    meta_options mo = {.durable = true};
    if (meta_open(o->data, &mo, &m) != META_OK) {
        fprintf(stderr, "wosd admin: cannot open the metadata in %s\n", o->data);
        close(lock);
        return -1;
    }
    char root_ak[129];
    root_key_of(o->data, root_ak, sizeof root_ak);
    admin_call ac = {
        .method = c->method, .path = c->path, .query = c->query, .body = c->body, .body_len = c->body_len,
        .root_access_key = root_ak[0] ? root_ak : NULL,
    };
    admin_reply ar;
    admin_api_call(m, &ac, &ar);
    meta_close(m);
    close(lock);
    r->status = ar.status;
    memset(&r->body, 0, sizeof r->body);
    if (ar.code) {
        json_t *doc = json_pack("{s:{s:s,s:s}}", "error", "code", ar.code, "message", ar.message);
        char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
        if (s) buf_puts(&r->body, s);
        free(s);
        json_decref(doc);
    } else if (ar.body) {
        buf_append(&r->body, ar.body, ar.len);
    }
    free(ar.body);
    return 0;
}

/* Runs the call online or offline; returns the parsed answer (NULL for an empty one) and sets
 * *status, or returns NULL with *status -1 after printing why. Errors the API answered are
 * printed here and give *status >= 400. */
static json_t *run(const opts *o, const call *c, int *status)
{
    reply r = {0};
    *status = -1;
    if (o->data) {
        if (offline_call(o, c, &r)) return NULL;
    } else {
        if (!o->access_key || !o->secret_key) {
            fprintf(stderr, "wosd admin: no credentials: set WOSD_ROOT_ACCESS_KEY and WOSD_ROOT_SECRET_KEY, or "
                            "pass --access-key and --secret-key (or --data DIR for a stopped server)\n");
            return NULL;
        }
        if (http_call(o, c, o->region, &r)) return NULL;
        /* A server of another region says which one it expects: ask again in that region. */
        if (r.status == 400 && r.body.data) {
            const char *x = strstr(r.body.data, "expecting '");
            char region[64];
            if (x && sscanf(x + 11, "%63[^']", region) == 1 && strcmp(region, o->region) != 0) {
                buf_free(&r.body);
                if (http_call(o, c, region, &r)) return NULL;
            }
        }
    }
    *status = r.status;
    json_t *doc = NULL;
    if (r.body.len) {
        json_error_t jerr;
        doc = json_loadb(r.body.data, r.body.len, 0, &jerr);
        if (!doc) {
            fprintf(stderr, "wosd admin: the answer (HTTP %d) is not JSON: %.200s\n", r.status, r.body.data);
            buf_free(&r.body);
            *status = -1;
            return NULL;
        }
    }
    buf_free(&r.body);
    if (r.status >= 400) {
        json_t *e = json_object_get(doc, "error");
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        fprintf(stderr, "wosd admin: %s: %s\n", code ? code : "error", msg ? msg : "(no message)");
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* --- output ------------------------------------------------------------------------------------- */

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static bool flag(json_t *o, const char *k) { return json_is_true(json_object_get(o, k)); }

/* A table: rows of ncol strings, the first row the heading; columns padded to their widest. */
typedef struct table {
    int ncol;
    const char **cells;
    size_t n, cap;
} table;

static void row(table *t, ...)
{
    va_list ap;
    va_start(ap, t);
    if (t->n + (size_t)t->ncol > t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        while (t->cap < t->n + (size_t)t->ncol) t->cap *= 2;
        t->cells = realloc(t->cells, t->cap * sizeof *t->cells);
        if (!t->cells) abort();
    }
    for (int i = 0; i < t->ncol; i++) t->cells[t->n++] = va_arg(ap, const char *);
    va_end(ap);
}

static void table_print(table *t)
{
    size_t w[8] = {0};
    for (size_t i = 0; i < t->n; i++) {
        size_t l = strlen(t->cells[i]);
        if (l > w[i % (size_t)t->ncol]) w[i % (size_t)t->ncol] = l;
    }
    for (size_t i = 0; i < t->n; i++) {
        int col = (int)(i % (size_t)t->ncol);
        if (col == t->ncol - 1) printf("%s\n", t->cells[i]);
        else printf("%-*s  ", (int)w[col], t->cells[i]);
    }
    free(t->cells);
}

static const char *key_status(json_t *k)
{
    return flag(k, "disabled") ? "disabled" : flag(k, "user_disabled") ? "user disabled" : "enabled";
}

static void print_keys(json_t *keys, bool with_user)
{
    table t = {.ncol = with_user ? 4 : 3};
    if (with_user) row(&t, "ACCESS KEY", "USER", "STATUS", "CREATED");
    else row(&t, "ACCESS KEY", "STATUS", "CREATED");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        if (with_user) row(&t, str(k, "access_key"), str(k, "user"), key_status(k), str(k, "created"));
        else row(&t, str(k, "access_key"), key_status(k), str(k, "created"));
    }
    table_print(&t);
}

static void print_json(json_t *doc)
{
    if (!doc) return;
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (s) puts(s);
    free(s);
}

/* --- commands ----------------------------------------------------------------------------------- */

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "wosd admin: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    fprintf(stderr, usage, admin_iam_usage);
    return 2;
}

/* Reads a policy document: a file, or standard input for "-". NULL (printed) on failure. */
static char *read_document(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "wosd admin: cannot read %s: %s\n", path, strerror(errno));
        return NULL;
    }
    buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= ADMIN_MAX_BODY) buf_append(&b, chunk, n);
    bool err = ferror(f);
    if (f != stdin) fclose(f);
    if (err || b.len > ADMIN_MAX_BODY || b.len == 0) {
        fprintf(stderr, "wosd admin: %s: %s\n", path, err ? strerror(errno) : b.len ? "too large" : "empty");
        buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.data;
}

static int cmd_user(const opts *o, const char *verb, int npos, char **pos)
{
    call c;
    int status;
    json_t *doc;
    if (!strcmp(verb, "list") && npos == 0) {
        call_init(&c, "GET", "users", NULL, NULL, NULL);
        if (!(doc = run(o, &c, &status))) return 1;
        if (o->json) print_json(doc);
        else {
            table t = {.ncol = 4};
            row(&t, "NAME", "ID", "STATUS", "CREATED");
            size_t i;
            json_t *u;
            json_array_foreach(json_object_get(doc, "users"), i, u)
                row(&t, str(u, "name"), str(u, "id"), flag(u, "disabled") ? "disabled" : "enabled", str(u, "created"));
            table_print(&t);
        }
        json_decref(doc);
        return 0;
    }
    if (npos != 1) return usage_error("user %s takes one user name", verb);
    const char *name = pos[0];
    char *body = NULL;
    if (!strcmp(verb, "add")) {
        call_init(&c, "POST", "users", NULL, NULL, NULL);
        json_t *b = json_pack("{s:s}", "name", name);
        body = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        c.body = body;
        c.body_len = body ? strlen(body) : 0;
    } else if (!strcmp(verb, "info")) {
        call_init(&c, "GET", "users", name, NULL, NULL);
    } else if (!strcmp(verb, "rm")) {
        call_init(&c, "DELETE", "users", name, NULL, NULL);
    } else if (!strcmp(verb, "disable") || !strcmp(verb, "enable")) {
        call_init(&c, "POST", "users", name, verb, NULL);
    } else {
        return usage_error("unknown command 'user %s'", verb);
    }
    doc = run(o, &c, &status);
    free(body);
    if (status < 0 || status >= 400) return 1;
    if (o->json) {
        print_json(doc);
    } else if (!strcmp(verb, "add")) {
        json_t *u = json_object_get(doc, "user");
        printf("created user %s (id %s)\n", str(u, "name"), str(u, "id"));
    } else if (!strcmp(verb, "info")) {
        json_t *u = json_object_get(doc, "user");
        printf("user:     %s\nid:       %s\nstatus:   %s\ncreated:  %s\n", str(u, "name"), str(u, "id"),
               flag(u, "disabled") ? "disabled" : "enabled", str(u, "created"));
        json_t *pols = json_object_get(doc, "policies");
        printf("policies:%s\n", json_array_size(pols) ? "" : " (none)");
        size_t i;
        json_t *p;
        json_array_foreach(pols, i, p) printf("  %s\n", json_string_value(p));
        json_t *keys = json_object_get(doc, "keys");
        printf("keys:%s\n", json_array_size(keys) ? "" : " (none)");
        if (json_array_size(keys)) print_keys(keys, false);
    } else if (!strcmp(verb, "rm")) {
        printf("removed user %s\n", name);
    } else {
        printf("user %s %sd\n", str(json_object_get(doc, "user"), "name"), verb);
    }
    json_decref(doc);
    return 0;
}

static int cmd_key(const opts *o, const char *verb, int npos, char **pos, const char *user_opt)
{
    call c;
    int status;
    if (!strcmp(verb, "list")) {
        if (npos > 1 || (npos == 1 && user_opt)) return usage_error("key list takes at most one user name%s", "");
        const char *user = npos ? pos[0] : user_opt;
        if (user) call_init(&c, "GET", "users", user, "keys", NULL);
        else call_init(&c, "GET", "keys", NULL, NULL, NULL);
    } else {
        if (npos != 1 && !(npos == 0 && user_opt && !strcmp(verb, "create")))
            return usage_error("key %s takes one argument", verb);
        const char *arg = npos ? pos[0] : user_opt;
        if (!strcmp(verb, "create")) call_init(&c, "POST", "users", arg, "keys", NULL);
        else if (!strcmp(verb, "rm")) call_init(&c, "DELETE", "keys", arg, NULL, NULL);
        else if (!strcmp(verb, "disable") || !strcmp(verb, "enable")) call_init(&c, "POST", "keys", arg, verb, NULL);
        else if (!strcmp(verb, "info")) call_init(&c, "GET", "keys", arg, NULL, NULL);
        else return usage_error("unknown command 'key %s'", verb);
    }
    json_t *doc = run(o, &c, &status);
    if (status < 0 || status >= 400) return 1;
    if (o->json) {
        print_json(doc);
    } else if (!strcmp(verb, "list")) {
        print_keys(json_object_get(doc, "keys"), true);
    } else if (!strcmp(verb, "create")) {
        json_t *k = json_object_get(doc, "key");
        printf("user:       %s\naccess key: %s\nsecret key: %s\n(the secret key is shown only this once)\n",
               str(k, "user"), str(k, "access_key"), str(k, "secret_key"));
    } else if (!strcmp(verb, "info")) {
        json_t *k = json_object_get(doc, "key");
        printf("access key: %s\nuser:       %s\nstatus:     %s\ncreated:    %s\n", str(k, "access_key"),
               str(k, "user"), key_status(k), str(k, "created"));
    } else if (!strcmp(verb, "rm")) {
        printf("removed access key %s\n", pos[0]);
    } else {
        printf("access key %s %sd\n", pos[0], verb);
    }
    json_decref(doc);
    return 0;
}

static int cmd_policy(const opts *o, const char *verb, int npos, char **pos, const char *user_opt)
{
    call c;
    int status;
    char *body = NULL;
    if (!strcmp(verb, "list")) {
        if (npos) return usage_error("policy list takes no argument%s", "");
        call_init(&c, "GET", "policies", NULL, NULL, NULL);
    } else if (!strcmp(verb, "attach") || !strcmp(verb, "detach")) {
        const char *user = npos == 2 ? pos[1] : user_opt;
        if (!(npos == 2 && !user_opt) && !(npos == 1 && user_opt))
            return usage_error("policy %s takes a policy name and a user name (policy attach NAME USER)", verb);
        call_init(&c, !strcmp(verb, "attach") ? "PUT" : "DELETE", "users", user, "policies", pos[0]);
    } else if (!strcmp(verb, "put")) {
        if (npos != 2) return usage_error("policy put takes a name and a file (- for standard input)%s", "");
        size_t len;
        if (!(body = read_document(pos[1], &len))) return 1;
        call_init(&c, "PUT", "policies", pos[0], NULL, NULL);
        c.body = body;
        c.body_len = len;
    } else if (!strcmp(verb, "get") || !strcmp(verb, "rm")) {
        if (npos != 1) return usage_error("policy %s takes one policy name", verb);
        call_init(&c, !strcmp(verb, "get") ? "GET" : "DELETE", "policies", pos[0], NULL, NULL);
    } else {
        return usage_error("unknown command 'policy %s'", verb);
    }
    json_t *doc = run(o, &c, &status);
    free(body);
    if (status < 0 || status >= 400) return 1;
    if (o->json) {
        print_json(doc);
    } else if (!strcmp(verb, "list")) {
        table t = {.ncol = 2};
        row(&t, "NAME", "TYPE");
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(doc, "policies"), i, p)
            row(&t, str(p, "name"), flag(p, "builtin") ? "built-in" : "managed");
        table_print(&t);
    } else if (!strcmp(verb, "get")) {
        print_json(json_object_get(json_object_get(doc, "policy"), "document"));
    } else if (!strcmp(verb, "put")) {
        json_t *p = json_object_get(doc, "policy");
        long long n = (long long)json_integer_value(json_object_get(p, "statements"));
        printf("%s policy %s (%lld statement%s)\n", status == 201 ? "created" : "replaced", str(p, "name"), n,
               n == 1 ? "" : "s");
    } else if (!strcmp(verb, "rm")) {
        printf("removed policy %s\n", pos[0]);
    } else if (!strcmp(verb, "attach")) {
        printf("attached policy %s to user %s\n", str(doc, "policy"), str(doc, "user"));
    } else {
        printf("detached policy %s from user %s\n", pos[0], npos == 2 ? pos[1] : user_opt);
    }
    json_decref(doc);
    return 0;
}

int admin_iam(int argc, char **argv)
{
    const char *group = argv[0];
    opts o = {
        .endpoint = getenv("WOSD_ENDPOINT") ? getenv("WOSD_ENDPOINT") : "http://127.0.0.1:9000",
        .access_key = getenv("WOSD_ROOT_ACCESS_KEY"),
        .secret_key = getenv("WOSD_ROOT_SECRET_KEY"),
        .region = getenv("WOSD_REGION") ? getenv("WOSD_REGION") : "us-east-1",
    };
    const char *user_opt = NULL;
    static const struct option lo[] = {
        {"endpoint", required_argument, 0, 'e'}, {"access-key", required_argument, 0, 'a'},
        {"secret-key", required_argument, 0, 's'}, {"region", required_argument, 0, 'r'},
        {"data", required_argument, 0, 'd'},      {"json", no_argument, 0, 'j'},
        {"user", required_argument, 0, 'u'},      {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'e': o.endpoint = optarg; break;
        case 'a': o.access_key = optarg; break;
        case 's': o.secret_key = optarg; break;
        case 'r': o.region = optarg; break;
        case 'd': o.data = optarg; break;
        case 'j': o.json = true; break;
        case 'u': user_opt = optarg; break;
        case 'h': printf(usage, admin_iam_usage); return 0;
        default: fprintf(stderr, usage, admin_iam_usage); return 2;
        }
    }
    if (optind >= argc) return usage_error("%s needs a command", group);
    const char *verb = argv[optind];
    int npos = argc - optind - 1;
    char **pos = argv + optind + 1;
    if (!strcmp(group, "user")) return cmd_user(&o, verb, npos, pos);
    if (!strcmp(group, "key")) return cmd_key(&o, verb, npos, pos, user_opt);
    if (!strcmp(group, "policy")) return cmd_policy(&o, verb, npos, pos, user_opt);
    return usage_error("unknown command group '%s'", group);
}
