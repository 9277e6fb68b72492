/* datadir — is the data directory the server opened still there? (see datadir.h) */
#include "store/datadir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

struct datadir_watch {
    char *path;           /* DIR/meta.db */
    int fd;               /* that file, as opened at start */
    dev_t dev;
    ino_t ino;
    atomic_bool gone;     /* sticky: set once, never cleared */
};

int datadir_watch_open(const char *dir, datadir_watch **out)
{
    datadir_watch *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    size_t n = strlen(dir) + sizeof "/meta.db";
    w->path = malloc(n);
    if (!w->path) {
        free(w);
        return -ENOMEM;
    }
    snprintf(w->path, n, "%s/meta.db", dir);
    /* O_PATH: a reference to the inode, no read access needed, no I/O. */
    w->fd = open(w->path, O_PATH | O_CLOEXEC);
    struct stat st;
    if (w->fd < 0 || fstat(w->fd, &st) != 0) {
        int e = errno;
        datadir_watch_close(w);
        return -e;
    }
    w->dev = st.st_dev;
    w->ino = st.st_ino;
    *out = w;
    return 0;
}

void datadir_watch_close(datadir_watch *w)
{
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    free(w->path);
    free(w);
}

static void mark_gone(datadir_watch *w, const char *why)
{
    if (!atomic_exchange(&w->gone, true))
        log_error("%s %s: the data directory was removed or replaced under the server; every write "
                  "fails from now on (restart the server on a data directory that exists)", w->path, why);
}

bool datadir_known_intact(datadir_watch *w) { return !atomic_load_explicit(&w->gone, memory_order_relaxed); }

bool datadir_intact(datadir_watch *w)
{
    if (atomic_load_explicit(&w->gone, memory_order_relaxed)) return false;
    struct stat st;
    if (fstat(w->fd, &st) != 0) {
        mark_gone(w, strerror(errno));
        return false;
    }
    if (st.st_nlink == 0) {
        mark_gone(w, "was deleted");
        return false;
    }
    return true;
}

void datadir_poll(datadir_watch *w)
{
    if (!datadir_intact(w)) return;
    struct stat st;
    if (stat(w->path, &st) != 0) {
        /* Only a missing path means the directory went; EACCES, EIO… are not proof of it. */
        if (errno == ENOENT || errno == ENOTDIR) mark_gone(w, "is missing");
        return;
    }
    if (st.st_dev != w->dev || st.st_ino != w->ino) mark_gone(w, "is another file than the one opened");
}
