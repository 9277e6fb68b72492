/* blob — object bytes, stored whole under generated ids, in tiers.
 *
 * Tiers: one per storage class (Standard, IA, Archive), each its own directory — so colder
 * classes can live on cheaper disks. A blob is in exactly one tier, chosen when it is written;
 * reads, removal and the scan find it wherever it is, so ids stay all the metadata knows.
 *
 * The file driver (blob_fs.c) keeps blob <id> at T/blobs/<id[0..1]>/<id> of its tier T (DIR for
 * Standard; DIR/tiers/IA and DIR/tiers/Archive unless configured elsewhere, the configuration
 * remembered in DIR/tiers.conf). A writer streams
 * into a temporary file in DIR/tmp; commit makes it durable (fsync when asked), renames it into
 * place and fsyncs the directory, so a blob either exists whole or not at all. An object key is
 * never part of a path: ids are 32 random hex characters.
 *
 * A second driver (RADOS) fills the same functions. */
#ifndef WOSD_STORE_BLOB_H
#define WOSD_STORE_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/meta.h"

typedef struct blob_store blob_store;
typedef struct blob_writer blob_writer;

enum { BLOB_TIER_STANDARD = 0, BLOB_TIER_IA = 1, BLOB_TIER_ARCHIVE = 2, BLOB_TIERS = 3 };

/* Opens DIR (creating blobs/ and tmp/) and the other tiers, and empties each tmp/ of what a
 * crash left there. The tiers are where DIR/tiers.conf says, else DIR/tiers/IA and
 * DIR/tiers/Archive. */
int blob_open(const char *dir, bool durable, blob_store **out);
/* The same with tier directories given (NULL entries, and entry 0, mean "as blob_open"); a
 * change is recorded in DIR/tiers.conf. */
int blob_open_tiers(const char *dir, const char *const tier_dirs[BLOB_TIERS], bool durable,
                    blob_store **out);
void blob_close(blob_store *b);

/* 0 or -errno for each call. blob_writer_new writes into Standard, blob_writer_new_in into the
 * given tier. */
int blob_writer_new(blob_store *b, blob_writer **out);
int blob_writer_new_in(blob_store *b, int tier, blob_writer **out);
int blob_write(blob_writer *w, const void *p, size_t n);
uint64_t blob_writer_size(const blob_writer *w);
/* Makes the bytes durable and visible under a new id (written to id, 33 bytes); frees w. */
int blob_writer_commit(blob_writer *w, char id[META_BLOB_ID_LEN + 1]);
/* Throws the bytes away; frees w. Safe on NULL. */
void blob_writer_abort(blob_writer *w);

/* Opens a blob for reading: a file descriptor (the caller closes it) and its size. */
int blob_open_read(blob_store *b, const char *id, int *fd, uint64_t *size);
/* Copies blob id into a new blob of the given tier, made durable and visible like any commit
 * (new_id, 33 bytes). The source stays. */
int blob_copy(blob_store *b, const char *id, int tier, char new_id[META_BLOB_ID_LEN + 1]);
/* The tier the blob is in, or -ENOENT. */
int blob_tier_of(blob_store *b, const char *id);
/* Removes a blob; a missing blob is not an error. */
int blob_remove(blob_store *b, const char *id);
/* Calls fn for every stored blob whose file is older than before_sec (for the orphan scrub). */
typedef void (*blob_scan_fn)(void *cls, const char *id);
int blob_scan(blob_store *b, int64_t before_sec, blob_scan_fn fn, void *cls);

#endif
