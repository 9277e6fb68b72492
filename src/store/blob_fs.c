/* blob_fs — the file driver of blob.h: blob <id> is the file T/blobs/<id[0..1]>/<id> of one tier
 * T: DIR itself for Standard, DIR/tiers/IA and DIR/tiers/Archive (or the directories given) for
 * the others. Each tier has its own tmp/, so a commit is a rename within one file system.
 *
 * A writer streams into a fresh file in DIR/tmp; commit fsyncs it (when durable), renames it
 * under a new random id and fsyncs the fan-out directory, so a blob is either there whole or
 * not at all and a crash leaves at most a stray temporary file, which blob_open removes.
 * The 256 fan-out directories keep any one directory small; their descriptors are opened once
 * and cached, so a commit costs no extra path walk.
 *
 * Every function that takes an id checks it is exactly 32 upper-case hex characters before it
 * builds a name from it: whatever reaches this module, it can only ever name a blob.
 */
#include "store/blob.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zstd.h>

#include "util/hash.h"
#include "util/log.h"

enum { FAN_OUT = 256, TMP_NAME_HEX = 12 };

/* Archive compression. A blob copied into the Archive tier (a lifecycle transition) is stored
 * as a zstd frame, file <id>.zst, when that saves at least a tenth; reading it decompresses the
 * whole blob into an unnamed temporary file, so every reader (sendfile, ranges, the scrub) sees
 * plain bytes. Only blobs up to ZST_MAX are compressed, which bounds that one-off cost on a
 * read (Archive objects are read only once restored, and rarely). */
#define ZST_SUFFIX ".zst"
enum { ZST_MIN = 4096, ZST_MAX = 64 << 20, ZST_LEVEL = 3, ZST_CHUNK = 128 << 10 };

typedef struct tier {
    int blobs_fd, tmp_fd;              /* T/blobs and T/tmp */
    bool durable;
    _Atomic int fan_fd[FAN_OUT];       /* T/blobs/XX, opened on first use; -1 until then */
} tier;

struct blob_store {
    tier t[BLOB_TIERS];
    bool durable;
};

struct blob_writer {
    tier *b;
    const char *suffix;        /* "" or ZST_SUFFIX: the file name after the id */
    int fd;
    uint64_t size;
    char tmp_name[2 * TMP_NAME_HEX + sizeof ".tmp"];
};

static bool is_upper_hex(char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'F'); }

static bool valid_id(const char *id)
{
    if (!id) return false;
    for (int i = 0; i < META_BLOB_ID_LEN; i++)
        if (!is_upper_hex(id[i])) return false;   /* also stops at a NUL */
    return id[META_BLOB_ID_LEN] == 0;
}

/* A compressed blob's file name: an id followed by ZST_SUFFIX. */
static bool valid_zst_name(const char *name)
{
    for (int i = 0; i < META_BLOB_ID_LEN; i++)
        if (!is_upper_hex(name[i])) return false;
    return strcmp(name + META_BLOB_ID_LEN, ZST_SUFFIX) == 0;
}

static int hex_val(char ch) { return ch <= '9' ? ch - '0' : ch - 'A' + 10; }

/* The fan-out directory an id lives in, as an index 0..255. */
static int fan_index(const char *id) { return hex_val(id[0]) * 16 + hex_val(id[1]); }

/* "XX/<id>", relative to blobs/. */
static void blob_rel_path(const char *id, char out[3 + META_BLOB_ID_LEN + 1])
{
    snprintf(out, 3 + META_BLOB_ID_LEN + 1, "%.2s/%s", id, id);
}

enum { REL_Z_LEN = 3 + META_BLOB_ID_LEN + sizeof ZST_SUFFIX };

/* "XX/<id>.zst", relative to blobs/. */
static void blob_rel_path_z(const char *id, char out[REL_Z_LEN])
{
    snprintf(out, REL_Z_LEN, "%.2s/%.32s" ZST_SUFFIX, id, id);
}

/* The failed call's error as a negative errno; never 0, so that a failure can never read as
 * success (a call that fails without setting errno is reported as EIO). */
static int err_no(void) { return errno > 0 ? -errno : -EIO; }

static int fsync_fd(int fd) { return fsync(fd) == 0 ? 0 : err_no(); }

static int open_dir_at(int at, const char *name, int *out)
{
    if (mkdirat(at, name, 0700) != 0 && errno != EEXIST) return err_no();
    int fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return err_no();
    *out = fd;
    return 0;
}

/* Removes what a crash left in tmp/: writers that never committed. */
static int empty_tmp(tier *b)
{
    int fd = dup(b->tmp_fd);
    if (fd < 0) return err_no();
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = err_no();
        close(fd);
        return e;
    }
    int rc = 0, removed = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        if (unlinkat(b->tmp_fd, de->d_name, 0) == 0) removed++;
        else if (errno != ENOENT) rc = err_no();
    }
    closedir(d);
    if (removed) log_info("blob: removed %d unfinished temporary file(s)", removed);
    return rc;
}

static void tier_close(tier *t)
{
    for (int i = 0; i < FAN_OUT; i++) {
        int fd = atomic_load(&t->fan_fd[i]);
        if (fd >= 0) close(fd);
    }
    if (t->blobs_fd >= 0) close(t->blobs_fd);
    if (t->tmp_fd >= 0) close(t->tmp_fd);
}

/* mkdir -p for the tier directories (DIR/tiers/IA and the like). */
static int mkdir_p(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) return -ENAMETOOLONG;
    memcpy(buf, path, n + 1);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) return err_no();
        *p = '/';
    }
    if (mkdir(buf, 0700) != 0 && errno != EEXIST) return err_no();
    return 0;
}

static int tier_open(tier *t, const char *dir, bool durable)
{
    t->durable = durable;
    t->blobs_fd = t->tmp_fd = -1;
    for (int i = 0; i < FAN_OUT; i++) atomic_init(&t->fan_fd[i], -1);
    int rc = mkdir_p(dir);
    if (rc) return rc;
    int root = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) return err_no();
    rc = open_dir_at(root, "blobs", &t->blobs_fd);
    if (rc == 0) rc = open_dir_at(root, "tmp", &t->tmp_fd);
    if (rc == 0 && durable) rc = fsync_fd(root);   /* blobs/ and tmp/ may be new */
    close(root);
    if (rc == 0) rc = empty_tmp(t);
    return rc;
}

static const char *const default_tier_dirs[BLOB_TIERS] = {"", "tiers/IA", "tiers/Archive"};

/* DIR/tiers.conf: where the tiers were when they were last configured, one "N=/path" line each,
 * so a restart without --tier, or an offline scrub, finds the bytes where they are. */
static void read_tiers_conf(const char *dir, char (*paths)[4096])
{
    char name[4200];
    snprintf(name, sizeof name, "%s/tiers.conf", dir);
    FILE *f = fopen(name, "r");
    if (!f) return;
    char line[4200];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        int t = line[0] - '0';
        size_t n = strlen(line);
        if (t >= 1 && t < BLOB_TIERS && line[1] == '=' && line[2] == '/' && n - 2 < sizeof paths[t])
            memcpy(paths[t], line + 2, n - 1);
    }
    fclose(f);
}

static int write_tiers_conf(const char *dir, char (*paths)[4096])
{
    char name[4200], tmp[4300];
    snprintf(name, sizeof name, "%s/tiers.conf", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    FILE *f = fopen(tmp, "w");
    if (!f) return err_no();
    for (int t = 1; t < BLOB_TIERS; t++)
        if (paths[t][0]) fprintf(f, "%d=%s\n", t, paths[t]);
    int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : err_no();
    if (fclose(f) != 0 && rc == 0) rc = err_no();
    if (rc == 0 && rename(tmp, name) != 0) rc = err_no();
    return rc;
}

int blob_open_tiers(const char *dir, const char *const tier_dirs[BLOB_TIERS], bool durable, blob_store **out)
{
    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return err_no();
    blob_store *b = calloc(1, sizeof *b);
    if (!b) return -ENOMEM;
    b->durable = durable;
    for (int t = 0; t < BLOB_TIERS; t++) b->t[t].blobs_fd = b->t[t].tmp_fd = -1;
    char (*paths)[4096] = calloc(BLOB_TIERS, sizeof *paths);
    if (!paths) {
        free(b);
        return -ENOMEM;
    }
    read_tiers_conf(dir, paths);
    bool changed = false;
    for (int t = 1; t < BLOB_TIERS; t++) {
        if (tier_dirs && tier_dirs[t] && tier_dirs[t][0] && strcmp(tier_dirs[t], paths[t]) != 0) {
            if (strlen(tier_dirs[t]) >= sizeof paths[t] || tier_dirs[t][0] != '/') {
                log_error("blob: tier directory %s must be an absolute path under 4096 bytes", tier_dirs[t]);
                free(paths);
                free(b);
                return -EINVAL;
            }
            if (paths[t][0]) log_warn("blob: tier %d moves from %s to %s", t, paths[t], tier_dirs[t]);
            memcpy(paths[t], tier_dirs[t], strlen(tier_dirs[t]) + 1);
            changed = true;
        }
    }
    int rc = 0;
    for (int t = 0; t < BLOB_TIERS && rc == 0; t++) {
        char *path = t == 0 ? strdup(dir) : paths[t][0] ? strdup(paths[t]) : NULL;
        if (t > 0 && !paths[t][0] && asprintf(&path, "%s/%s", dir, default_tier_dirs[t]) < 0) path = NULL;
        rc = path ? tier_open(&b->t[t], path, durable) : -ENOMEM;
        if (rc) log_error("blob: open tier %d at %s: %s", t, path ? path : "?", strerror(-rc));
        free(path);
    }
    if (rc == 0 && changed) rc = write_tiers_conf(dir, paths);
    free(paths);
    if (rc != 0) {
        log_error("blob: open %s: %s", dir, strerror(-rc));
        blob_close(b);
        return rc;
    }
    *out = b;
    return 0;
}

int blob_open(const char *dir, bool durable, blob_store **out)
{
    return blob_open_tiers(dir, NULL, durable, out);
}

void blob_close(blob_store *b)
{
    if (!b) return;
    for (int t = 0; t < BLOB_TIERS; t++) tier_close(&b->t[t]);
    free(b);
}

/* The fan-out directory for an id, created and opened on first use. */
static int fan_dir(tier *b, const char *id, int *out)
{
    int i = fan_index(id);
    int fd = atomic_load(&b->fan_fd[i]);
    if (fd >= 0) {
        *out = fd;
        return 0;
    }
    char name[3] = {id[0], id[1], 0};
    int rc = open_dir_at(b->blobs_fd, name, &fd);
    if (rc != 0) return rc;
    /* Make the directory's entry durable before any blob is renamed into it. Done by whoever
     * first caches the descriptor, even when another thread created the directory: that thread
     * may not have synced it yet, and a rename into an entry that a crash undoes is lost. */
    if (b->durable && (rc = fsync_fd(b->blobs_fd)) != 0) {
        close(fd);
        return rc;
    }
    int expected = -1;
    if (!atomic_compare_exchange_strong(&b->fan_fd[i], &expected, fd)) {
        close(fd);   /* another thread cached one first */
        fd = expected;
    }
    *out = fd;
    return 0;
}

int blob_writer_new(blob_store *bs, blob_writer **out)
{
    return blob_writer_new_in(bs, BLOB_TIER_STANDARD, out);
}

int blob_writer_new_in(blob_store *bs, int t, blob_writer **out)
{
    *out = NULL;
    if (t < 0 || t >= BLOB_TIERS) return -EINVAL;
    tier *b = &bs->t[t];
    blob_writer *w = calloc(1, sizeof *w);
    if (!w) return -ENOMEM;
    w->b = b;
    w->suffix = "";
    for (int tries = 0;; tries++) {
        char hex[2 * TMP_NAME_HEX + 1];
        random_hex_upper(TMP_NAME_HEX, hex);
        snprintf(w->tmp_name, sizeof w->tmp_name, "%s.tmp", hex);
        /* O_EXCL: never write into a file some other writer (or anything else) owns. */
        w->fd = openat(b->tmp_fd, w->tmp_name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (w->fd >= 0) break;
        if (errno != EEXIST || tries == 8) {
            int e = err_no();
            free(w);
            return e;
        }
    }
    *out = w;
    return 0;
}

int blob_write(blob_writer *w, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(w->fd, c, n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return err_no();
        }
        if (k == 0) return -EIO;   /* a regular file that takes nothing: give up, don't spin */
        c += k;
        n -= (size_t)k;
        w->size += (uint64_t)k;
    }
    return 0;
}

uint64_t blob_writer_size(const blob_writer *w) { return w->size; }

/* Renames the temporary file to a fresh id; RENAME_NOREPLACE so that an id collision, however
 * unlikely, can never replace someone else's blob. */
static int rename_into_place(blob_writer *w, char id[META_BLOB_ID_LEN + 1], int *dir_fd)
{
    for (int tries = 0;; tries++) {
        random_hex_upper(META_BLOB_ID_LEN / 2, id);
        int rc = fan_dir(w->b, id, dir_fd);
        if (rc != 0) return rc;
        char name[META_BLOB_ID_LEN + sizeof ZST_SUFFIX];
        snprintf(name, sizeof name, "%s%s", id, w->suffix);
        if (renameat2(w->b->tmp_fd, w->tmp_name, *dir_fd, name, RENAME_NOREPLACE) == 0) return 0;
        if (errno == EINVAL || errno == ENOSYS) {
            /* A file system without RENAME_NOREPLACE: a 128-bit random id is unique enough. */
            if (renameat(w->b->tmp_fd, w->tmp_name, *dir_fd, name) == 0) return 0;
            return err_no();
        }
        if (errno != EEXIST || tries == 8) return err_no();
    }
}

int blob_writer_commit(blob_writer *w, char id[META_BLOB_ID_LEN + 1])
{
    int rc = 0, dir_fd = -1;
    if (w->b->durable) rc = fsync_fd(w->fd);
    /* close can report a deferred write error (NFS and the like); it closes the fd either way. */
    if (close(w->fd) != 0 && rc == 0 && errno != EINTR) rc = err_no();
    w->fd = -1;
    if (rc == 0) rc = rename_into_place(w, id, &dir_fd);
    if (rc == 0 && w->b->durable) rc = fsync_fd(dir_fd);
    if (rc != 0) {
        /* Not visible under any id: the temporary file goes. If the rename happened and only
         * the directory sync failed, the blob file stays for the orphan scrub. */
        unlinkat(w->b->tmp_fd, w->tmp_name, 0);
        id[0] = 0;
        log_error("blob: commit: %s", strerror(-rc));
    }
    free(w);
    return rc;
}

void blob_writer_abort(blob_writer *w)
{
    if (!w) return;
    if (w->fd >= 0) close(w->fd);
    unlinkat(w->b->tmp_fd, w->tmp_name, 0);
    free(w);
}

/* An unnamed temporary file in the tier's tmp/ (gone when closed), or err_no(). */
static int tmp_unnamed(tier *t)
{
    int f = openat(t->tmp_fd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (f >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return f >= 0 ? f : err_no();
    /* No O_TMPFILE here: a named file, unlinked at once. */
    char name[2 * TMP_NAME_HEX + sizeof ".ztmp"];
    char hex[2 * TMP_NAME_HEX + 1];
    random_hex_upper(TMP_NAME_HEX, hex);
    snprintf(name, sizeof name, "%s.ztmp", hex);
    f = openat(t->tmp_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f < 0) return err_no();
    unlinkat(t->tmp_fd, name, 0);
    return f;
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return k < 0 ? err_no() : -EIO;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Decompresses the zstd blob in zf (closed here) into an unnamed file of tier t: *fd, *size.
 * A truncated or damaged frame (the frame carries a checksum) is -EIO, never wrong bytes. */
static int zst_open(tier *t, int zf, int *fd, uint64_t *size)
{
    int out = tmp_unnamed(t);
    if (out < 0) {
        close(zf);
        return out;
    }
    ZSTD_DStream *ds = ZSTD_createDStream();
    char *in = malloc(ZST_CHUNK), *buf = malloc(ZST_CHUNK);
    int rc = ds && in && buf ? 0 : -ENOMEM;
    size_t last = 1;   /* 0 once a frame has ended */
    uint64_t total = 0;
    if (rc == 0) ZSTD_initDStream(ds);
    while (rc == 0) {
        ssize_t n = read(zf, in, ZST_CHUNK);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            rc = err_no();
            break;
        }
        if (n == 0) break;
        ZSTD_inBuffer ib = {in, (size_t)n, 0};
        while (rc == 0 && ib.pos < ib.size) {
            ZSTD_outBuffer ob = {buf, ZST_CHUNK, 0};
            last = ZSTD_decompressStream(ds, &ob, &ib);
            if (ZSTD_isError(last)) rc = -EIO;
            else if (ob.pos) rc = write_all(out, buf, ob.pos), total += ob.pos;
        }
    }
    /* Whatever the frame still holds in the decoder once the input has ended. */
    while (rc == 0 && last != 0) {
        ZSTD_inBuffer ib = {in, 0, 0};
        ZSTD_outBuffer ob = {buf, ZST_CHUNK, 0};
        last = ZSTD_decompressStream(ds, &ob, &ib);
        if (ZSTD_isError(last)) rc = -EIO;
        else if (ob.pos) rc = write_all(out, buf, ob.pos), total += ob.pos;
        else if (last != 0) rc = -EIO;   /* the frame is cut short */
    }
    ZSTD_freeDStream(ds);
    free(in);
    free(buf);
    close(zf);
    if (rc) {
        close(out);
        return rc;
    }
    *fd = out;
    *size = total;
    return 0;
}

/* A blob is in exactly one tier; Standard is looked at first (most reads), then the others. */
int blob_open_read(blob_store *b, const char *id, int *fd, uint64_t *size)
{
    *fd = -1;
    if (!valid_id(id)) return -EINVAL;
    char rel[3 + META_BLOB_ID_LEN + 1];
    blob_rel_path(id, rel);
    int f = -1;
    for (int t = 0; t < BLOB_TIERS && f < 0; t++) {
        f = openat(b->t[t].blobs_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (f < 0 && errno != ENOENT) return err_no();
    }
    if (f < 0) {
        char relz[REL_Z_LEN];
        blob_rel_path_z(id, relz);
        tier *at = &b->t[BLOB_TIER_ARCHIVE];
        int zf = openat(at->blobs_fd, relz, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (zf < 0) return errno == ENOENT ? -ENOENT : err_no();
        return zst_open(at, zf, fd, size);
    }
    struct stat st;
    int e = fstat(f, &st) != 0 ? err_no() : !S_ISREG(st.st_mode) ? -EINVAL : 0;
    if (e != 0) {
        close(f);
        return e;
    }
    *fd = f;
    *size = (uint64_t)st.st_size;
    return 0;
}

int blob_tier_of(blob_store *b, const char *id)
{
    if (!valid_id(id)) return -EINVAL;
    char rel[3 + META_BLOB_ID_LEN + 1];
    blob_rel_path(id, rel);
    struct stat st;
    for (int t = 0; t < BLOB_TIERS; t++)
        if (fstatat(b->t[t].blobs_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0) return t;
    char relz[REL_Z_LEN];
    blob_rel_path_z(id, relz);
    if (fstatat(b->t[BLOB_TIER_ARCHIVE].blobs_fd, relz, &st, AT_SYMLINK_NOFOLLOW) == 0) return BLOB_TIER_ARCHIVE;
    return -ENOENT;
}

int blob_remove(blob_store *b, const char *id)
{
    if (!valid_id(id)) return -EINVAL;
    char rel[3 + META_BLOB_ID_LEN + 1];
    blob_rel_path(id, rel);
    for (int t = 0; t < BLOB_TIERS; t++)
        if (unlinkat(b->t[t].blobs_fd, rel, 0) != 0 && errno != ENOENT) return err_no();
    char relz[REL_Z_LEN];
    blob_rel_path_z(id, relz);
    if (unlinkat(b->t[BLOB_TIER_ARCHIVE].blobs_fd, relz, 0) != 0 && errno != ENOENT) return err_no();
    return 0;
}

/* Compresses size bytes of fd `in` into w (a writer of the Archive tier). 1 when the result
 * is worth keeping (a tenth smaller), 0 when not, or err_no(). */
static int zst_compress(int in, uint64_t size, blob_writer *w)
{
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    char *ibuf = malloc(ZST_CHUNK), *obuf = malloc(ZSTD_CStreamOutSize());
    int rc = cc && ibuf && obuf ? 0 : -ENOMEM;
    size_t ocap = ZSTD_CStreamOutSize();
    if (rc == 0) {
        ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, ZST_LEVEL);
        ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);   /* damage is detected on read */
        ZSTD_CCtx_setPledgedSrcSize(cc, size);
    }
    uint64_t done = 0;
    bool finished = false;
    while (rc == 0 && !finished) {
        ssize_t n = 0;
        if (done < size) {
            n = pread(in, ibuf, ZST_CHUNK, (off_t)done);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                rc = n < 0 ? err_no() : -EIO;   /* shorter than it was: never a short copy */
                break;
            }
            done += (uint64_t)n;
        }
        ZSTD_EndDirective mode = done < size ? ZSTD_e_continue : ZSTD_e_end;
        ZSTD_inBuffer ib = {ibuf, (size_t)n, 0};
        for (;;) {
            ZSTD_outBuffer ob = {obuf, ocap, 0};
            size_t left = ZSTD_compressStream2(cc, &ob, &ib, mode);
            if (ZSTD_isError(left)) {
                rc = -EIO;
                break;
            }
            if (ob.pos && (rc = blob_write(w, obuf, ob.pos)) != 0) break;
            if (mode == ZSTD_e_end ? left == 0 : ib.pos == ib.size) break;
        }
        if (mode == ZSTD_e_end) finished = true;
    }
    ZSTD_freeCCtx(cc);
    free(ibuf);
    free(obuf);
    if (rc) return rc;
    return blob_writer_size(w) < size - size / 10 ? 1 : 0;
}

int blob_copy(blob_store *b, const char *id, int t, char new_id[META_BLOB_ID_LEN + 1])
{
    new_id[0] = 0;
    int in = -1;
    uint64_t size = 0;
    int rc = blob_open_read(b, id, &in, &size);
    if (rc) return rc;
    blob_writer *w;
    if (t == BLOB_TIER_ARCHIVE && size >= ZST_MIN && size <= ZST_MAX) {
        if ((rc = blob_writer_new_in(b, t, &w)) || !w) {   /* !w: for the analyzer */
            close(in);
            return rc ? rc : -ENOMEM;
        }
        rc = zst_compress(in, size, w);
        if (rc == 1) {
            close(in);
            w->suffix = ZST_SUFFIX;
            return blob_writer_commit(w, new_id);
        }
        blob_writer_abort(w);   /* not worth it (or failed): a plain copy */
        if (rc < 0) {
            close(in);
            return rc;
        }
    }
    if ((rc = blob_writer_new_in(b, t, &w)) || !w) {
        close(in);
        return rc ? rc : -ENOMEM;
    }
    /* copy_file_range lets the kernel (or the file system, by reflink) move the bytes; a plain
     * read/write loop where it cannot (another file system: EXDEV on older kernels). */
    off_t off_in = 0;
    uint64_t done = 0;
    bool plain = false;
    while (done < size && rc == 0) {
        ssize_t k = -1;
        if (!plain) {
            k = copy_file_range(in, &off_in, w->fd, NULL, (size_t)(size - done), 0);
            if (k < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
                plain = true;
                continue;
            }
        } else {
            char buf[65536];
            k = pread(in, buf, sizeof buf, (off_t)done);
            if (k > 0) {
                int wr = blob_write(w, buf, (size_t)k);
                if (wr) rc = wr;
            }
            off_in = (off_t)(done + (k > 0 ? (uint64_t)k : 0));
        }
        if (k < 0) {
            if (errno == EINTR) continue;
            rc = err_no();
        } else if (k == 0) {
            rc = -EIO;   /* the source is shorter than it was: never commit a short copy */
        } else {
            done += (uint64_t)k;
            if (!plain) w->size += (uint64_t)k;
        }
    }
    close(in);
    if (rc) {
        blob_writer_abort(w);
        return rc;
    }
    return blob_writer_commit(w, new_id);
}

/* Reports the old enough blobs of one fan-out directory. */
static int scan_fan(tier *b, const char *fan, int64_t before_sec, blob_scan_fn fn,
                    void *cls)
{
    int fd = openat(b->blobs_fd, fan, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errno == ENOENT ? 0 : err_no();
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = err_no();
        close(fd);
        return e;
    }
    struct dirent *de;
    struct stat st;
    while ((de = readdir(d))) {
        /* Only names that are blob ids and belong in this directory; anything else is not ours
         * to report (and so never removed by the scrub). */
        bool plain = valid_id(de->d_name), z = !plain && valid_zst_name(de->d_name);
        if ((!plain && !z) || de->d_name[0] != fan[0] || de->d_name[1] != fan[1]) continue;
        if (fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;   /* gone */
        if (!S_ISREG(st.st_mode) || (int64_t)st.st_mtime >= before_sec) continue;
        char id[META_BLOB_ID_LEN + 1];
        memcpy(id, de->d_name, META_BLOB_ID_LEN);
        id[META_BLOB_ID_LEN] = 0;
        fn(cls, id);   /* a compressed blob is reported by its id */
    }
    closedir(d);
    return 0;
}

int blob_scan(blob_store *b, int64_t before_sec, blob_scan_fn fn, void *cls)
{
    /* The fan-out names are known, so no need to read blobs/ itself. */
    static const char hex[] = "0123456789ABCDEF";
    for (int t = 0; t < BLOB_TIERS; t++) {
        for (int i = 0; i < FAN_OUT; i++) {
            char fan[3] = {hex[i >> 4], hex[i & 15], 0};
            int rc = scan_fan(&b->t[t], fan, before_sec, fn, cls);
            if (rc != 0) return rc;
        }
    }
    return 0;
}
