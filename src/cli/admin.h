/* admin — what the operator commands of `wosd admin` share (admin.c) and the commands
 * themselves (admin_*.c); main.c takes the same data-directory lock for `wosd serve`. */
#ifndef WOSD_CLI_ADMIN_H
#define WOSD_CLI_ADMIN_H

#include <stddef.h>

/* The data directory's lock file. `wosd serve` holds an exclusive flock(2) on DIR/lock for as
 * long as it runs; an admin command that opens the store directly takes the same lock without
 * waiting, so it never works under a live server. The kernel drops the lock when the holder
 * exits, however it exits (a SIGKILLed server leaves nothing to clean up). */
#define ADMIN_LOCK_FILE "lock"

/* Takes the exclusive lock on DIR/lock. Returns the descriptor that holds it (keep it open
 * until done), -1 when another process holds it, -2 on any other failure; err says why. */
int admin_lock_data_dir(const char *dir, char *err, size_t errcap);

/* wosd admin scrub (admin_scrub.c): argv[0] is "scrub". Returns the exit status. */
int admin_scrub(int argc, char **argv);

#endif
