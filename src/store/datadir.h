/* datadir — notices that the data directory was deleted or replaced under a running server.
 *
 * The store keeps descriptors open: with DIR removed (rm -rf), a connection SQLite already has
 * open commits to the unlinked meta.db and the write is acknowledged, then lost at the next
 * start. A datadir watch keeps its own descriptor on DIR/meta.db and answers, before a write is
 * acknowledged, whether that file is still the one the store uses. Once it is not, it never is
 * again (until a restart): the store's open descriptors point at files nobody will find. */
#ifndef WOSD_STORE_DATADIR_H
#define WOSD_STORE_DATADIR_H

#include <stdbool.h>

typedef struct datadir_watch datadir_watch;

/* Opens a watch on DIR/meta.db (call it once the store is open); 0 or -errno. */
int datadir_watch_open(const char *dir, datadir_watch **out);
void datadir_watch_close(datadir_watch *w);

/* Whether DIR/meta.db is still linked: one fstat of an open descriptor, no path lookup, so it is
 * cheap enough for every write. Logs once when it first finds the file gone. */
bool datadir_intact(datadir_watch *w);

/* What the watch already knows, without a system call: false once a check (datadir_intact or
 * datadir_poll) has found the file gone. For refusing early (before a body is read), where
 * refusing late is no harm; never instead of datadir_intact before a write is acknowledged. */
bool datadir_known_intact(datadir_watch *w);

/* The thorough check, for a background thread: the path DIR/meta.db still names the file that
 * was opened (same device and inode). Catches a directory renamed away or replaced, where the
 * old file stays linked. */
void datadir_poll(datadir_watch *w);

#endif
