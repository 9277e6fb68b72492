/* test_http_stop — the epoll core's shutdown closes every connection exactly once, also one
 * that a loop still running hands to a loop that has already exited.
 *
 * http_stop waits 1 s for every loop to take the listener out; a loop busy longer (here: held
 * inside the handler's core_error) misses that, and the server stops anyway once no request is
 * in flight. The other loop then exits while the busy one still has, in the batch of events it
 * is working through, the listener's: it accepts a connection and gives it to the loop with the
 * fewest connections — the one that exited, whose `adopted` list nobody reads any more. The
 * test builds exactly that order with a handler that blocks on demand, and checks that the
 * client of that connection sees it closed (EOF) once http_stop has returned. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "server/http.h"

/* A gate per event thread (http-0, http-1): a handler call that reaches it counts itself in
 * and waits until the test lets that many through. */
static pthread_mutex_t gate_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cv = PTHREAD_COND_INITIALIZER;
static int entered[2], released[2];
static int who[8];   /* the loop that served GET /who/N */

static bool foreign_thread;   /* a handler call on a thread not named http-0 or http-1 */

static int loop_index(void)
{
    char name[16] = "";
    pthread_getname_np(pthread_self(), name, sizeof name);
    if (strcmp(name, "http-0") != 0 && strcmp(name, "http-1") != 0) foreign_thread = true;
    return strcmp(name, "http-1") == 0;
}

static void gate(void)
{
    int i = loop_index();
    pthread_mutex_lock(&gate_mu);
    int ticket = ++entered[i];
    pthread_cond_broadcast(&gate_cv);
    while (released[i] < ticket) pthread_cond_wait(&gate_cv, &gate_mu);
    pthread_mutex_unlock(&gate_mu);
}

static void wait_entered(int i, int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&gate_mu);
    while (entered[i] < n && pthread_cond_timedwait(&gate_cv, &gate_mu, &until) == 0) {}
    int got = entered[i];
    pthread_mutex_unlock(&gate_mu);
    assert_true(got >= n);
}

static void release(int i)
{
    pthread_mutex_lock(&gate_mu);
    released[i]++;
    pthread_cond_broadcast(&gate_cv);
    pthread_mutex_unlock(&gate_mu);
}

static http_step on_begin(http_req *r)
{
    const char *path = http_path_raw(r);
    if (!strncmp(path, "/who/", 5)) who[path[5] - '0'] = loop_index();
    if (!strcmp(path, "/block")) gate();
    http_resp_status(r, 204);
    return HTTP_DONE;
}

static void on_end(http_req *r) { (void)r; }
static void on_cleanup(http_req *r) { (void)r; }
static void on_core_error(http_req *r, http_core_err why) { (void)r, (void)why; gate(); }

static const http_handler handler = {
    .begin = on_begin, .end = on_end, .cleanup = on_cleanup, .core_error = on_core_error,
};

static int dial(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void say(int fd, const char *s) { assert_int_equal(send(fd, s, strlen(s), 0), (ssize_t)strlen(s)); }

/* Reads one response head (a 204 has nothing after it). */
static void read_head(int fd)
{
    char buf[1024];
    size_t n = 0;
    while (n < sizeof buf - 1) {
        ssize_t k = recv(fd, buf + n, sizeof buf - 1 - n, 0);
        assert_true(k > 0);
        n += (size_t)k;
        buf[n] = 0;
        if (strstr(buf, "\r\n\r\n")) break;
    }
    assert_non_null(strstr(buf, " 204 "));
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000};
    nanosleep(&ts, NULL);
}

/* Is a thread of this process named name still there? */
static bool thread_alive(const char *name)
{
    DIR *d = opendir("/proc/self/task");
    assert_non_null(d);
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(comm, sizeof comm, f)) found = strncmp(comm, name, strlen(name)) == 0 && comm[strlen(name)] == '\n';
        fclose(f);
    }
    closedir(d);
    return found;
}

static void *stopper(void *srv)
{
    http_stop(srv);
    return NULL;
}

static void test_handed_to_an_exited_loop(void **state)
{
    (void)state;
    http_config hc = {.listen = "127.0.0.1:0", .threads = 2, .workers = 1, .handler = &handler};
    http_server *srv = http_start(&hc);
    assert_non_null(srv);
    unsigned port = http_port(srv);

    /* Four connections, two on each loop: each goes to the loop with the fewest. */
    int c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = dial(port);
        char req[64];
        snprintf(req, sizeof req, "GET /who/%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        say(c[i], req);
        read_head(c[i]);
    }
    if (foreign_thread) {   /* not the epoll core (make HTTP_CORE=mhd): its loops are not ours */
        http_stop(srv);
        skip();
    }
    int x = who[0], y = !x, x2 = -1, y1 = -1;
    for (int i = 1; i < 4; i++) {
        if (who[i] == x) x2 = i;
        else y1 = i;
    }
    assert_true(x2 > 0 && y1 > 0);

    /* Hold both loops: X in a request's begin, Y in a refusal. */
    say(c[0], "GET /block HTTP/1.1\r\nHost: x\r\n\r\n");
    wait_entered(x, 1);
    say(c[y1], "NONSENSE\r\n\r\n");
    wait_entered(y, 1);
    /* While both are held: a refusal for X to meet first in its next batch, then a new
     * connection for the listener's event after it. */
    say(c[x2], "NONSENSE\r\n\r\n");
    pause_ms(50);
    int late = dial(port);
    pause_ms(50);
    /* X finishes its request and takes the next batch: held again on the refusal, with the
     * listener's event still to come. */
    release(x);
    read_head(c[0]);
    wait_entered(x, 2);

    /* Stop: Y takes the listener out and exits once the 1 s for X has passed. */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stopper, srv), 0);
    pause_ms(300);
    release(y);
    char yname[8];
    snprintf(yname, sizeof yname, "http-%d", y);
    for (int i = 0; i < 1000 && thread_alive(yname); i++) pause_ms(10);
    assert_false(thread_alive(yname));
    /* X goes on with its batch: accepts `late` and gives it to Y, which has none left. */
    release(x);
    pthread_join(th, NULL);

    /* Everything is closed: the late client reads the end of its stream, not a reset (it was
     * accepted) and not silence (its descriptor kept open). */
    struct pollfd p = {.fd = late, .events = POLLIN};
    int ready = poll(&p, 1, 2000);
    char b;
    ssize_t n = ready == 1 ? recv(late, &b, 1, MSG_DONTWAIT) : -2;
    if (n != 0) print_error("late connection: poll %d, recv %zd (%s)\n", ready, n, n == -1 ? strerror(errno) : "-");
    assert_int_equal(n, 0);
    close(late);
    for (int i = 0; i < 4; i++) close(c[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handed_to_an_exited_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
