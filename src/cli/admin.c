/* admin — `wosd admin COMMAND`: operator commands that work on a data directory directly.
 *
 * These commands open the store themselves (meta.h, blob.h), never through a running server,
 * so they must never run beside one: each takes the data directory's lock first (see
 * admin_lock_data_dir) and refuses to start when a server, or another admin command, holds it. */
#include "cli/admin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli/admin_iam.h"
#include "cli/cli.h"

static const char usage_admin[] =
    "Usage: wosd admin COMMAND [options]\n"
    "\n"
    "Commands:\n"
    "  scrub --data DIR [--repair] [--deep] [--json]   (on a stopped server's data directory)\n"
    "        check every object, upload part and blob of DIR against each other: rows whose\n"
    "        bytes are missing (dangling), blobs of the wrong size, blobs nothing names\n"
    "        (orphans); --deep also reads every blob and checks its MD5 against the ETag.\n"
    "        --repair removes orphan blobs and deletes dangling object rows, saying so.\n"
    "        Exit status 0 when clean (after any repair), 1 when problems remain.\n"
    "        (wosd admin scrub --help for details)\n"
    "\n"
    "  wosd admin --help    this text\n";

int admin_lock_data_dir(const char *dir, char *err, size_t errcap)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, ADMIN_LOCK_FILE) >= (int)sizeof path) {
        snprintf(err, errcap, "data directory path too long");
        return -2;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 && (errno == EROFS || errno == EACCES))
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);   /* a read-only directory: still lockable */
    if (fd < 0) {
        snprintf(err, errcap, "cannot open %s: %s", path, strerror(errno));
        return -2;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK) {
            snprintf(err, errcap, "%s is in use: a wosd server (or another admin command) holds %s; "
                                  "stop it first", dir, path);
            return -1;
        }
        snprintf(err, errcap, "cannot lock %s: %s", path, strerror(e));
        return -2;
    }
    return fd;
}

int cli_admin(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_admin, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        fputs(usage_admin, stdout);
        fputs(admin_iam_usage, stdout);
        return 0;
    }
    if (!strcmp(cmd, "scrub")) return admin_scrub(argc - 1, argv + 1);
    if (!strcmp(cmd, "user") || !strcmp(cmd, "key") || !strcmp(cmd, "policy")) return admin_iam(argc - 1, argv + 1);
    fprintf(stderr, "wosd admin: unknown command '%s'\n%s", cmd, usage_admin);
    return 2;
}
