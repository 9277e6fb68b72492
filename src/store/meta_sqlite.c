/* meta_sqlite — the embedded metadata driver: meta.h on one SQLite database, DIR/meta.db.
 *
 * Concurrency: every thread reads on its own connection (opened lazily, kept in a pthread key so
 * it is closed when the thread exits, and in a registry so meta_close can close the rest). The
 * database runs in WAL mode, so readers never wait for the writer.
 *
 * Writes share one connection, the writer, and commit in batches (group commit). A writing
 * thread waits for its turn on the writer (first come, first served), runs its change inside a
 * savepoint of the batch transaction, and then, if other threads are waiting for a turn, hands
 * the writer on and sleeps until the batch commits; the last one in commits for everybody. In
 * durable mode the writer runs synchronous=FULL, so the commit includes the fsync of the log and
 * nothing of a batch is visible to readers before it is on disk: a failed flush fails the whole
 * batch and shows none of it. While one batch is flushing, the threads that arrive queue for the
 * turn and make up the next, so the number of requests that share one flush grows with the
 * load. A change that fails rolls back its own savepoint only, but still waits for the batch:
 * what it saw (a name taken, a bucket not empty) may be another change of the same batch.
 *
 * Blob bookkeeping: every blob id a row points at (object extents and parts) is also a row of
 * blob_refs, maintained in the same transactions, so "is this blob referenced?" — asked once
 * per file by the orphan scrub — is two primary-key lookups instead of a scan of every
 * manifest. A blob leaves blob_refs exactly when it enters the gc queue. Blobs are never shared
 * between rows: each object or part owns the blobs it names.
 *
 * Listing is a range scan of the (bucket, key) primary key with the delimiter folded in: on a
 * key that belongs to a common prefix the scan emits the prefix and re-seeks past every key that
 * shares it, so a page costs about one row per entry however many keys a prefix hides.
 *
 * Schema versions: PRAGMA user_version says which of MIGRATIONS have run. Opening runs the
 * missing ones in order, in one transaction, so a new database and an upgraded one are built
 * by the same statements and cannot differ. A step, once released, is never edited.
 *
 * IAM state (users, keys, policies, attachments, bucket policies and ACLs) changes rarely and
 * is read on every request, so callers cache what they derive from it keyed on a generation
 * number. Each change bumps a counter row in its own transaction (so other processes' changes
 * are seen: at open, or through meta_iam_refresh) and, once committed, the in-memory
 * generation that meta_iam_generation reads without a lock.
 */
#include "store/meta.h"
#include "store/meta_cache.h"
#include "store/meta_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"

enum { BUSY_TIMEOUT_MS = 10000 };

/* Object rows kept in memory for repeated reads (meta_cache.h): enough for a couple of thousand
 * small inline objects. WAL_CHECKPOINT_PAGES is SQLite's own automatic checkpoint threshold,
 * which the commit-done hook takes over and hands to the checkpointer thread (commit_done). */
enum { OBJECT_CACHE_BYTES = 8 << 20, WAL_CHECKPOINT_PAGES = 1000 };

/* An object's extents column: fixed records of blob id, size (little endian) and etag. */
enum { EXT_ID = 0, EXT_SIZE = 32, EXT_ETAG = 40, EXT_REC = 72 };

/* Version 1: buckets, objects, multipart uploads, blob bookkeeping. */
static const char SCHEMA_V1[] =
    "CREATE TABLE buckets("
    "  name TEXT PRIMARY KEY, owner TEXT NOT NULL, region TEXT NOT NULL,"
    "  storage_class TEXT NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;"
    /* key is a BLOB so that comparisons are memcmp, whatever the collation. The small columns
     * come first: a listing reads up to parts_count and never touches the overflow pages that
     * headers and inline data may spill into. */
    "CREATE TABLE objects("
    "  bucket TEXT NOT NULL, key BLOB NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,"
    "  mtime_ms INTEGER NOT NULL, storage_class TEXT NOT NULL, parts_count INTEGER NOT NULL,"
    "  headers TEXT NOT NULL, inline_data BLOB, extents BLOB,"
    "  PRIMARY KEY(bucket, key)) WITHOUT ROWID;"
    "CREATE TABLE uploads("
    "  upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL,"
    "  initiated_ms INTEGER NOT NULL, storage_class TEXT NOT NULL, owner TEXT NOT NULL,"
    "  headers TEXT NOT NULL);"
    "CREATE INDEX uploads_by_key ON uploads(bucket, key, initiated_ms, upload_id);"
    "CREATE TABLE parts("
    "  upload_id TEXT NOT NULL, number INTEGER NOT NULL, size INTEGER NOT NULL,"
    "  etag TEXT NOT NULL, blob_id TEXT NOT NULL, mtime_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(upload_id, number)) WITHOUT ROWID;"
    "CREATE TABLE blob_refs(blob_id TEXT PRIMARY KEY) WITHOUT ROWID;"
    "CREATE TABLE gc(blob_id TEXT PRIMARY KEY) WITHOUT ROWID;";

/* Version 2: identities and permissions. User and policy names compare without ASCII case (as
 * AWS IAM's do) through their columns' collation, so every statement that names them — child
 * tables included — matches either spelling. No column is called "user": PostgreSQL reserves
 * it, and the schema is meant to be the same there. */
static const char SCHEMA_V2[] =
    "ALTER TABLE buckets ADD COLUMN acl TEXT NOT NULL DEFAULT 'private';"
    "CREATE TABLE users("
    "  name TEXT NOT NULL COLLATE NOCASE PRIMARY KEY, id TEXT NOT NULL UNIQUE,"
    "  disabled INTEGER NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE access_keys("
    "  access_key TEXT PRIMARY KEY, secret TEXT NOT NULL,"
    "  user_name TEXT NOT NULL COLLATE NOCASE, disabled INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX access_keys_by_user ON access_keys(user_name, access_key);"
    "CREATE TABLE policies("
    "  name TEXT NOT NULL COLLATE NOCASE PRIMARY KEY, document TEXT NOT NULL) WITHOUT ROWID;"
    /* By name: a built-in policy has no row in policies. */
    "CREATE TABLE user_policies("
    "  user_name TEXT NOT NULL COLLATE NOCASE, policy TEXT NOT NULL COLLATE NOCASE,"
    "  PRIMARY KEY(user_name, policy)) WITHOUT ROWID;"
    "CREATE INDEX user_policies_by_policy ON user_policies(policy);"
    "CREATE TABLE bucket_policies("
    "  bucket TEXT PRIMARY KEY, document TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "INSERT INTO counters(name, value) VALUES('iam', 0);";

/* Version 3: lifecycle. A bucket's rules (the canonical document) and the background worker's
 * place in the bucket (so a restart resumes the pass); per-object expiry (x-wos-delete-after-
 * days) with a partial index, so finding what is due never scans objects that have none; an
 * Archive object's restore (readable from ready until expiry). The trigger removes the rules
 * with their bucket in the same transaction. */
static const char SCHEMA_V3[] =
    "CREATE TABLE bucket_lifecycle("
    "  bucket TEXT PRIMARY KEY, document TEXT NOT NULL, cursor BLOB NOT NULL DEFAULT x'',"
    "  pass_started_ms INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;"
    "CREATE TRIGGER bucket_lifecycle_gone AFTER DELETE ON buckets BEGIN"
    "  DELETE FROM bucket_lifecycle WHERE bucket=old.name; END;"
    "ALTER TABLE objects ADD COLUMN expire_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE objects ADD COLUMN restore_ready_ms INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE objects ADD COLUMN restore_expiry_ms INTEGER NOT NULL DEFAULT 0;"
    "CREATE INDEX objects_by_expiry ON objects(expire_ms) WHERE expire_ms>0;";

/* Version 4: an upload is one row of one b-tree, keyed the way every statement finds it:
 * (bucket, key, upload_id). Version 1 had a rowid table, its upload_id index and a listing
 * index — three b-trees written per Initiate, in three places of the log. Within a key the
 * listing is now in upload id order, which S3's upload-id-marker is defined by; the ids the
 * s3 layer has issued since commit 1dfa6b4 begin with the initiation time, so for them it is also
 * initiation order (older, random ids list in id order within their key). */
static const char SCHEMA_V4[] =
    "CREATE TABLE uploads_v4("
    "  bucket TEXT NOT NULL, key BLOB NOT NULL, upload_id TEXT NOT NULL,"
    "  initiated_ms INTEGER NOT NULL, storage_class TEXT NOT NULL, owner TEXT NOT NULL,"
    "  headers TEXT NOT NULL, PRIMARY KEY(bucket, key, upload_id)) WITHOUT ROWID;"
    "INSERT INTO uploads_v4 SELECT bucket,key,upload_id,initiated_ms,storage_class,owner,headers"
    "  FROM uploads;"
    "DROP TABLE uploads;"
    "ALTER TABLE uploads_v4 RENAME TO uploads;";

/* MIGRATIONS[v] takes a database from version v to v + 1. */
static const char *const MIGRATIONS[] = {SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4};
enum { SCHEMA_VERSION = sizeof MIGRATIONS / sizeof MIGRATIONS[0] };

#define BUCKET_COLS "SELECT name,owner,region,storage_class,created_ms,acl FROM buckets "
/* A key with its owner's state; listings read '' instead of the secret. */
#define KEY_COLS(secret)                                                                       \
    "SELECT k.access_key," secret ",k.user_name,k.disabled,k.created_ms,u.disabled,u.id "     \
    "FROM access_keys k JOIN users u ON u.name=k.user_name "
#define OBJ_LIST_COLS "SELECT key,size,etag,mtime_ms,storage_class,parts_count FROM objects "
#define OBJ_LIST_TIME "AND (?4=0 OR mtime_ms>=?4) AND (?5=0 OR mtime_ms<?5) "
#define UP_LIST_COLS "SELECT key,upload_id,initiated_ms,storage_class,owner FROM uploads "

/* Every statement the driver runs, prepared once per connection on first use. */
#define STATEMENTS(X)                                                                          \
    X(BEGIN_WRITE, "BEGIN IMMEDIATE")                                                          \
    X(BEGIN_READ, "BEGIN")                                                                     \
    X(COMMIT, "COMMIT")                                                                        \
    X(ROLLBACK, "ROLLBACK")                                                                    \
    X(SAVEPOINT, "SAVEPOINT job")                                                              \
    X(SP_RELEASE, "RELEASE job")                                                               \
    X(SP_ROLLBACK, "ROLLBACK TO job")                                                          \
    X(BUCKET_GET, BUCKET_COLS "WHERE name=?1")                                                 \
    X(BUCKET_INSERT,                                                                           \
      "INSERT INTO buckets(name,owner,region,storage_class,created_ms,acl) "                   \
      "VALUES(?1,?2,?3,?4,?5,?6)")                                                             \
    X(BUCKET_LIST, BUCKET_COLS "ORDER BY name")                                                \
    X(BUCKET_SET_ACL, "UPDATE buckets SET acl=?2 WHERE name=?1")                               \
    X(BUCKET_HAS_OBJECTS, "SELECT 1 FROM objects WHERE bucket=?1 LIMIT 1")                     \
    X(BUCKET_HAS_UPLOADS, "SELECT 1 FROM uploads WHERE bucket=?1 LIMIT 1")                     \
    X(BUCKET_DELETE, "DELETE FROM buckets WHERE name=?1")                                      \
    X(OBJ_EXTENTS, "SELECT extents FROM objects WHERE bucket=?1 AND key=?2")                   \
    X(OBJ_PUT,                                                                                 \
      "INSERT OR REPLACE INTO objects(bucket,key,size,etag,mtime_ms,storage_class,parts_count," \
      "headers,inline_data,extents,expire_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)")      \
    X(OBJ_GET,                                                                                 \
      "SELECT size,etag,mtime_ms,storage_class,parts_count,headers,inline_data,extents,"       \
      "expire_ms,restore_ready_ms,restore_expiry_ms FROM objects WHERE bucket=?1 AND key=?2")  \
    X(OBJ_DELETE, "DELETE FROM objects WHERE bucket=?1 AND key=?2")                            \
    X(OBJ_SET_HEADERS,                                                                         \
      "UPDATE objects SET headers=?5 WHERE bucket=?1 AND key=?2 AND etag=?3 AND mtime_ms=?4")   \
    X(OBJ_LIST_OPEN, OBJ_LIST_COLS "WHERE bucket=?1 AND key>=?2 " OBJ_LIST_TIME "ORDER BY key") \
    X(OBJ_LIST_RANGE,                                                                          \
      OBJ_LIST_COLS "WHERE bucket=?1 AND key>=?2 AND key<?3 " OBJ_LIST_TIME "ORDER BY key")    \
    X(REF_ADD, "INSERT OR IGNORE INTO blob_refs(blob_id) VALUES(?1)")                          \
    X(REF_DROP, "DELETE FROM blob_refs WHERE blob_id=?1")                                      \
    X(GC_ADD, "INSERT OR IGNORE INTO gc(blob_id) VALUES(?1)")                                  \
    X(GC_PEEK, "SELECT blob_id FROM gc LIMIT ?1")                                              \
    X(GC_DELETE, "DELETE FROM gc WHERE blob_id=?1")                                            \
    X(REFERENCED,                                                                              \
      "SELECT EXISTS(SELECT 1 FROM blob_refs WHERE blob_id=?1) "                               \
      "OR EXISTS(SELECT 1 FROM gc WHERE blob_id=?1)")                                          \
    X(UP_INSERT,                                                                               \
      "INSERT INTO uploads(bucket,key,upload_id,initiated_ms,storage_class,owner,headers) "    \
      "VALUES(?1,?2,?3,?4,?5,?6,?7)")                                                          \
    X(UP_GET,                                                                                  \
      "SELECT initiated_ms,storage_class,owner,headers FROM uploads "                          \
      "WHERE bucket=?1 AND key=?2 AND upload_id=?3")                                           \
    X(UP_DELETE, "DELETE FROM uploads WHERE bucket=?1 AND key=?2 AND upload_id=?3")           \
    X(UP_LIST_OPEN, UP_LIST_COLS "WHERE bucket=?1 AND key>=?2 ORDER BY key,upload_id")        \
    X(UP_LIST_RANGE,                                                                           \
      UP_LIST_COLS "WHERE bucket=?1 AND key>=?2 AND key<?3 ORDER BY key,upload_id")            \
    X(UP_LIST_SAME_KEY,                                                                        \
      UP_LIST_COLS "WHERE bucket=?1 AND key=?2 AND upload_id>?3 ORDER BY upload_id")           \
    X(PART_BLOB, "SELECT blob_id FROM parts WHERE upload_id=?1 AND number=?2")                 \
    X(PART_PUT,                                                                                \
      "INSERT OR REPLACE INTO parts(upload_id,number,size,etag,blob_id,mtime_ms) "             \
      "VALUES(?1,?2,?3,?4,?5,?6)")                                                             \
    X(PART_LIST,                                                                               \
      "SELECT number,size,etag,blob_id,mtime_ms FROM parts WHERE upload_id=?1 AND number>?2 "  \
      "ORDER BY number LIMIT ?3")                                                              \
    X(PART_BLOBS, "SELECT blob_id FROM parts WHERE upload_id=?1")                              \
    X(PART_DELETE_ALL, "DELETE FROM parts WHERE upload_id=?1")                                \
    X(USER_INSERT, "INSERT INTO users(name,id,disabled,created_ms) VALUES(?1,?2,?3,?4)")       \
    X(USER_GET, "SELECT name,id,disabled,created_ms FROM users WHERE name=?1")                 \
    X(USER_SET_DISABLED, "UPDATE users SET disabled=?2 WHERE name=?1")                         \
    X(USER_DELETE, "DELETE FROM users WHERE name=?1")                                          \
    X(USER_LIST, "SELECT name,id,disabled,created_ms FROM users ORDER BY name")                \
    X(USER_KEYS_DELETE, "DELETE FROM access_keys WHERE user_name=?1")                          \
    X(USER_DETACH_ALL, "DELETE FROM user_policies WHERE user_name=?1")                         \
    X(KEY_INSERT,                                                                              \
      "INSERT INTO access_keys(access_key,secret,user_name,disabled,created_ms) "              \
      "VALUES(?1,?2,?3,?4,?5)")                                                                \
    X(KEY_GET, KEY_COLS("k.secret") "WHERE k.access_key=?1")                                   \
    X(KEY_SET_DISABLED, "UPDATE access_keys SET disabled=?2 WHERE access_key=?1")              \
    X(KEY_DELETE, "DELETE FROM access_keys WHERE access_key=?1")                               \
    X(KEY_LIST, KEY_COLS("''") "ORDER BY k.access_key")                                        \
    X(KEY_LIST_USER, KEY_COLS("''") "WHERE k.user_name=?1 ORDER BY k.access_key")              \
    X(POLICY_PUT,                                                                              \
      "INSERT INTO policies(name,document) VALUES(?1,?2) "                                     \
      "ON CONFLICT(name) DO UPDATE SET document=excluded.document")                            \
    X(POLICY_GET, "SELECT name,document FROM policies WHERE name=?1")                          \
    X(POLICY_DELETE, "DELETE FROM policies WHERE name=?1")                                     \
    X(POLICY_LIST, "SELECT name FROM policies ORDER BY name")                                  \
    X(POLICY_ATTACHED, "SELECT 1 FROM user_policies WHERE policy=?1 LIMIT 1")                  \
    X(ATTACH,                                                                                  \
      "INSERT INTO user_policies(user_name,policy) VALUES(?1,?2) ON CONFLICT DO NOTHING")      \
    X(DETACH, "DELETE FROM user_policies WHERE user_name=?1 AND policy=?2")                    \
    X(USER_POLICIES, "SELECT policy FROM user_policies WHERE user_name=?1 ORDER BY policy")    \
    X(BPOLICY_PUT,                                                                             \
      "INSERT INTO bucket_policies(bucket,document) VALUES(?1,?2) "                            \
      "ON CONFLICT(bucket) DO UPDATE SET document=excluded.document")                          \
    X(BPOLICY_GET, "SELECT document FROM bucket_policies WHERE bucket=?1")                     \
    X(BPOLICY_DELETE, "DELETE FROM bucket_policies WHERE bucket=?1")                           \
    X(IAM_BUMP, "UPDATE counters SET value=value+1 WHERE name='iam' RETURNING value")          \
    X(IAM_READ, "SELECT value FROM counters WHERE name='iam'")                                 \
    X(LC_PUT,                                                                                  \
      "INSERT INTO bucket_lifecycle(bucket,document) VALUES(?1,?2) ON CONFLICT(bucket) DO "    \
      "UPDATE SET document=excluded.document, cursor=x'', pass_started_ms=0")                  \
    X(LC_GET, "SELECT document FROM bucket_lifecycle WHERE bucket=?1")                         \
    X(LC_DELETE, "DELETE FROM bucket_lifecycle WHERE bucket=?1")                               \
    X(LC_LIST,                                                                                 \
      "SELECT bucket,document,cursor,pass_started_ms FROM bucket_lifecycle WHERE bucket>?1 "   \
      "ORDER BY bucket LIMIT ?2")                                                              \
    X(LC_SET_CURSOR,                                                                           \
      "UPDATE bucket_lifecycle SET cursor=?2, pass_started_ms=?3 WHERE bucket=?1")             \
    X(OBJ_VERSION, "SELECT etag,mtime_ms FROM objects WHERE bucket=?1 AND key=?2")             \
    X(OBJ_SET_RESTORE,                                                                         \
      "UPDATE objects SET restore_ready_ms=?6, restore_expiry_ms=?7 WHERE bucket=?1 AND key=?2 " \
      "AND etag=?3 AND mtime_ms=?4 AND restore_ready_ms=?5 AND storage_class='Archive'")       \
    X(OBJ_SET_CLASS,                                                                           \
      "UPDATE objects SET storage_class=?5, restore_ready_ms=0, restore_expiry_ms=0 "          \
      "WHERE bucket=?1 AND key=?2 AND etag=?3 AND mtime_ms=?4")                                \
    X(OBJ_SET_CLASS_EXT,                                                                       \
      "UPDATE objects SET storage_class=?5, extents=?6, restore_ready_ms=0, "                  \
      "restore_expiry_ms=0 WHERE bucket=?1 AND key=?2 AND etag=?3 AND mtime_ms=?4")            \
    X(OBJ_DUE,                                                                                 \
      "SELECT bucket,key,etag,mtime_ms,expire_ms FROM objects WHERE expire_ms>0 "              \
      "AND expire_ms<=?1 ORDER BY expire_ms LIMIT ?2")

enum {
#define X(name, sql) ST_##name,
    STATEMENTS(X)
#undef X
    ST_COUNT
};

static const char *const statement_sql[ST_COUNT] = {
#define X(name, sql) sql,
    STATEMENTS(X)
#undef X
};

typedef struct conn {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    uint64_t in_use[(ST_COUNT + 63) / 64];   /* statements handed out since the last release */
    int64_t changes_seen;       /* sqlite3_total_changes64 at the last commit (commit_begins) */
    struct meta_store *m;
    struct conn *prev, *next;   /* the store's registry */
} conn;

/* A thread waiting for the writer's turn (on its own stack), in the FIFO of m->w_queue. */
typedef struct wwait {
    sem_t go;                   /* posted when the turn is handed to this thread */
    struct wwait *next;
} wwait;

/* A change waiting for its batch to commit (on the stack of the thread that made it). */
typedef struct wjob {
    meta_status s;
    sem_t done;                 /* posted once s is final: each waiter wakes alone, no herd */
    struct wjob *next;
} wjob;

/* A batch commits once it has this many changes even if more are waiting: nobody waits for an
 * unbounded queue of others. */
enum { BATCH_MAX = 1024 };

struct meta_store {
    char *path;
    bool durable;
    pthread_key_t key;          /* this thread's conn */
    bool key_ok;
    pthread_mutex_t mu;         /* guards conns */
    conn *conns;
    /* The writer. w_busy says some thread holds the turn: only that thread uses w, w_open,
     * w_sp and w_bucket. The rest is guarded by w_mu. */
    conn *w;
    pthread_mutex_t w_mu;
    bool w_busy;                /* some thread holds the turn */
    wwait *w_queue, *w_queue_tail;   /* threads waiting for it, oldest first */
    int w_waiting;              /* their number */
    bool w_open;                /* the batch transaction is open */
    bool w_sp;                  /* the current change runs in a savepoint of its own */
    /* A bucket this batch transaction has seen exist (bucket_known): a change that needs its
     * bucket asks once per batch, not once per change. Forgotten when a bucket is deleted, a
     * change is rolled back, or the transaction ends. */
    char w_bucket[64];
    wjob *w_batch;              /* changes done in it, waiting for its commit */
    int w_nbatch;
    bool w_group_failed;        /* a change of the open group failed the batch (holder only) */
    /* IAM generation: gen is what callers read; gen_db is the highest value of the database's
     * counter this handle has seen committed (its own changes and meta_iam_refresh). */
    _Atomic uint64_t gen;
    pthread_mutex_t gen_mu;     /* guards gen_db and orders the bumps that go with it */
    uint64_t gen_db;
    /* Lifecycle generation: moves after every change of a bucket's rules made through this
     * handle, so readers may cache parsed rules (meta_lifecycle_generation). */
    _Atomic uint64_t lc_gen;
    mcache *objects;            /* rows meta_object_get read lately */
    /* The checkpointer: copies the log into the database on its own thread and connection,
     * so that no commit waits for a checkpoint (SQLite's automatic one runs inside the commit
     * that crosses the threshold, with its fsyncs). Guarded by ck_mu. */
    pthread_mutex_t ck_mu;
    pthread_cond_t ck_cv;
    bool ck_due, ck_quit, ck_running;
    int ck_mark;                /* the log's length (frames) when a checkpoint was last asked for */
    atomic_bool ck_tail;        /* a checkpoint left the log's newest frames: the writer copies them */
    pthread_t ck_thread;
};

static _Thread_local uint64_t scan_rows;

/* The store whose group this thread has open (meta_group_open), if any: it holds the turn. */
static _Thread_local meta_store *tl_group;

uint64_t meta_sqlite_scan_rows(void) { return scan_rows; }

/* --- connections ------------------------------------------------------------------------- */

static void conn_close(conn *c)
{
    for (int i = 0; i < ST_COUNT; i++) sqlite3_finalize(c->st[i]);
    sqlite3_close(c->db);
    free(c);
}

static void registry_add(meta_store *m, conn *c)
{
    pthread_mutex_lock(&m->mu);
    c->prev = NULL;
    c->next = m->conns;
    if (m->conns) m->conns->prev = c;
    m->conns = c;
    pthread_mutex_unlock(&m->mu);
}

static void registry_remove(meta_store *m, conn *c)
{
    pthread_mutex_lock(&m->mu);
    if (c->prev) c->prev->next = c->next;
    else m->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&m->mu);
}

/* pthread key destructor: a thread that used the store has exited. */
static void conn_thread_exit(void *p)
{
    conn *c = p;
    registry_remove(c->m, c);
    conn_close(c);
}

/* The object cache's rule (meta_cache.h): every commit moves its generation once it is
 * visible (commit_done), which is what keeps a read after an acknowledged write from seeing an
 * older row. Moving it also just before a commit that changed rows narrows what a read
 * concurrent with the commit may be served: nothing cached before the commit began. (A
 * transaction that changed nothing — the gc queue polled empty — moves nothing, or the chores
 * thread would empty the cache a few times a second.) Both hooks sit on every connection, so
 * no commit can slip past whichever connection makes it. */
static int commit_begins(void *p)
{
    conn *c = p;
    int64_t n = sqlite3_total_changes64(c->db);
    if (n != c->changes_seen) mcache_bump();
    c->changes_seen = n;
    return 0;   /* go ahead */
}

static void checkpoint_due(meta_store *m, sqlite3 *db, const char *name, int pages);
static void checkpoint_tail(sqlite3 *db, const char *name);

/* SQLite calls this after a commit in WAL mode, with the write lock released and the log's
 * length in frames. Setting it replaces SQLite's automatic checkpoint (itself a WAL hook). */
static int commit_done(void *cls, sqlite3 *db, const char *name, int pages)
{
    meta_store *m = cls;
    mcache_bump();
    if (atomic_exchange(&m->ck_tail, false)) checkpoint_tail(db, name);
    else if (pages >= WAL_CHECKPOINT_PAGES) checkpoint_due(m, db, name, pages);
    return SQLITE_OK;
}

static conn *conn_open(meta_store *m, bool writer)
{
    conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->m = m;
    int rc = sqlite3_open_v2(m->path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        log_error("meta: open %s: %s", m->path, c->db ? sqlite3_errmsg(c->db) : "out of memory");
        conn_close(c);
        return NULL;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    /* WAL: readers see a snapshot and never block the writer. synchronous=NORMAL keeps the
     * database consistent across a crash (checkpoints sync the log first); FULL adds the fsync
     * of the log to every commit, before the commit is visible — what a durable store's writer
     * needs. Only the writer commits, so only its setting matters. */
    const char *pragmas = writer && m->durable
                              ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                              : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
    char *err = NULL;
    if (sqlite3_exec(c->db, pragmas, NULL, NULL, &err) != SQLITE_OK) {
        log_error("meta: %s: %s", pragmas, err ? err : "?");
        sqlite3_free(err);
        conn_close(c);
        return NULL;
    }
    sqlite3_commit_hook(c->db, commit_begins, c);
    sqlite3_wal_hook(c->db, commit_done, m);
    return c;
}

/* This thread's connection to m, opened on first use. */
static conn *conn_get(meta_store *m)
{
    conn *c = pthread_getspecific(m->key);
    if (c) return c;
    c = conn_open(m, false);
    if (!c) return NULL;
    if (pthread_setspecific(m->key, c) != 0) {
        conn_close(c);
        return NULL;
    }
    registry_add(m, c);
    return c;
}

static meta_status db_fail(conn *c, const char *what)
{
    log_error("meta: %s: %s", what, sqlite3_errmsg(c->db));
    return META_ERROR;
}

/* SQLite's own log: its message for a failed system call names the call and the file, which
 * "disk I/O error" alone does not. It logs right after the call, so errno is still the call's
 * (Debian's build leaves the text of it out of the message). Constraint and schema notices are
 * expected and not logged. */
static void sqlite_log(void *unused, int code, const char *msg)
{
    int e = errno;
    switch (code & 0xff) {
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
        if (e) log_error("sqlite: %s [%s]", msg, strerror(e));
        else log_error("sqlite: %s", msg);
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        log_error("sqlite: %s", msg);
        break;
    case SQLITE_NOTICE:
    case SQLITE_WARNING:
        log_warn("sqlite: %s", msg);
        break;
    default:
        break;
    }
}

static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_LOG, sqlite_log, NULL);
    /* Memory statistics take a global mutex on every allocation, which dozens of threads then
     * queue on; nothing here reads them. */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* A cached statement, reset and ready for new bindings; NULL when it cannot be prepared. */
static sqlite3_stmt *stmt(conn *c, int id)
{
    sqlite3_stmt *st = c->st[id];
    if (!st) {
        if (sqlite3_prepare_v3(c->db, statement_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st,
                               NULL) != SQLITE_OK) {
            db_fail(c, statement_sql[id]);
            return NULL;
        }
        c->st[id] = st;
    } else {
        sqlite3_reset(st);
    }
    c->in_use[id / 64] |= 1ull << (id % 64);
    return st;
}

/* Resets every statement handed out, so no finished read keeps a snapshot (and with it the WAL)
 * pinned after a call returns. */
static void release(conn *c)
{
    for (int w = 0; w < (ST_COUNT + 63) / 64; w++) {
        for (int b = 0; c->in_use[w]; b++) {
            if (c->in_use[w] & (1ull << b)) {
                sqlite3_reset(c->st[w * 64 + b]);
                /* No pointer into a caller's memory outlives the call. */
                sqlite3_clear_bindings(c->st[w * 64 + b]);
                c->in_use[w] &= ~(1ull << b);
            }
        }
    }
}

/* No transaction and no statement handed out on c since the last release: a statement run now
 * reads the latest commit, not a snapshot some earlier statement holds open. */
static bool conn_idle(const conn *c)
{
    for (int w = 0; w < (ST_COUNT + 63) / 64; w++)
        if (c->in_use[w]) return false;
    return sqlite3_get_autocommit(c->db);
}

/* Steps a statement that returns no rows. */
static meta_status run(conn *c, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    meta_status s = rc == SQLITE_DONE ? META_OK : db_fail(c, what);
    sqlite3_reset(st);
    return s;
}

static meta_status run_id(conn *c, int id)
{
    sqlite3_stmt *st = stmt(c, id);
    return st ? run(c, st, statement_sql[id]) : META_ERROR;
}

/* A transaction on a thread's own connection: reads, and the schema set-up at open. */
static meta_status tx_begin(conn *c, bool write)
{
    return run_id(c, write ? ST_BEGIN_WRITE : ST_BEGIN_READ);
}

/* Ends the transaction: commits when s is META_OK, else rolls back. Returns the outcome. */
static meta_status tx_end(conn *c, meta_status s)
{
    release(c);
    if (s == META_OK) {
        s = run_id(c, ST_COMMIT);
        if (s == META_OK) return s;
    }
    if (!sqlite3_get_autocommit(c->db)) run_id(c, ST_ROLLBACK);
    release(c);
    return s;
}

/* --- the writer: changes in batches ------------------------------------------------------- */

/* Ends the batch: commits it and tells every change in it how it went — its own answer when the
 * commit succeeds, META_ERROR when it does not (even a "not found" was read from changes that
 * are now gone). Called by the holder of the turn, with w_mu held; returns with it held. */
static meta_status batch_finish(meta_store *m)
{
    conn *c = m->w;
    meta_status s = META_OK;
    if (m->w_open) {
        pthread_mutex_unlock(&m->w_mu);
        s = run_id(c, ST_COMMIT);
        if (!sqlite3_get_autocommit(c->db)) run_id(c, ST_ROLLBACK);
        release(c);
        pthread_mutex_lock(&m->w_mu);
        m->w_open = false;
    }
    for (wjob *j = m->w_batch, *next; j; j = next) {
        next = j->next;   /* j is gone once posted */
        if (s != META_OK) j->s = META_ERROR;
        sem_post(&j->done);
    }
    m->w_batch = NULL;
    m->w_nbatch = 0;
    return s;
}

/* The batch transaction is gone (SQLite rolled it back after an I/O error or a full disk):
 * every change in it is lost. With w_mu held. */
static void batch_lost(meta_store *m)
{
    m->w_open = false;
    for (wjob *j = m->w_batch; j; j = j->next) j->s = META_ERROR;
    batch_finish(m);
}

/* Gives the turn to the longest-waiting thread, or frees it. With w_mu held. The turn passes
 * straight to one thread (FIFO): nobody can overtake a waiter, and only that one wakes. */
static void turn_pass(meta_store *m)
{
    wwait *next = m->w_queue;
    if (!next) {
        m->w_busy = false;
        return;
    }
    m->w_queue = next->next;
    if (!m->w_queue) m->w_queue_tail = NULL;
    m->w_waiting--;
    sem_post(&next->go);   /* w_busy stays true: the turn is theirs */
}

/* Takes the writer's turn and opens a savepoint for one change in the batch transaction
 * (opening the batch if none is open). On success *out is the writer, to be handed back with
 * w_end; on failure the turn is already given up. */
static void turn_take(meta_store *m)
{
    pthread_mutex_lock(&m->w_mu);
    if (!m->w_busy) {
        m->w_busy = true;
        pthread_mutex_unlock(&m->w_mu);
    } else {
        /* On this stack until turn_pass has unlinked it and posted go: the queue never holds
         * it past this function. */
        wwait me = {.next = NULL};
        sem_init(&me.go, 0, 0);
        if (m->w_queue_tail) m->w_queue_tail->next = &me;
        else m->w_queue = &me;   // cppcheck-suppress autoVariables
        m->w_queue_tail = &me;   // cppcheck-suppress autoVariables
        m->w_waiting++;
        pthread_mutex_unlock(&m->w_mu);
        while (sem_wait(&me.go) != 0) continue;   /* EINTR */
        sem_destroy(&me.go);
    }
}

/* Takes the writer's turn for one change (w_begin) or for one that is a single statement
 * (w_begin_one): SQLite undoes a failed statement by itself, so that one needs no savepoint of
 * its own — two statements fewer for every such change. */
static meta_status w_begin_as(meta_store *m, conn **out, bool savepoint)
{
    bool grouped = tl_group == m;
    if (!grouped) turn_take(m);
    else if (m->w_group_failed) return META_ERROR;

    conn *c = m->w;
    meta_status s = META_OK;
    if (!m->w_open) {
        /* A transaction left open by a failed rollback would refuse every BEGIN from now on. */
        if (!sqlite3_get_autocommit(c->db)) run_id(c, ST_ROLLBACK);
        s = run_id(c, ST_BEGIN_WRITE);
        m->w_open = s == META_OK;
        m->w_bucket[0] = 0;
    }
    m->w_sp = savepoint;
    if (s == META_OK && savepoint) s = run_id(c, ST_SAVEPOINT);
    if (s == META_OK) {
        *out = c;
        return s;
    }
    release(c);
    pthread_mutex_lock(&m->w_mu);
    if (grouped) {
        /* The group keeps the turn; a lost batch took the group's earlier changes with it. */
        if (m->w_open && sqlite3_get_autocommit(c->db)) {
            batch_lost(m);
            m->w_group_failed = true;
        }
    } else {
        if (m->w_open && sqlite3_get_autocommit(c->db)) batch_lost(m);
        else if (m->w_open && m->w_waiting == 0) batch_finish(m);
        turn_pass(m);
    }
    pthread_mutex_unlock(&m->w_mu);
    return s;
}

static meta_status w_begin(meta_store *m, conn **out) { return w_begin_as(m, out, true); }
static meta_status w_begin_one(meta_store *m, conn **out) { return w_begin_as(m, out, false); }

/* Ends one change: keeps it (s is META_OK) or rolls it back, then either hands the writer to a
 * waiting thread or commits the batch, and returns once the batch's fate is known. A change
 * that failed waits too: what it read (a row that exists, a bucket not empty) may have been
 * another change of the batch, and holds only if the batch commits. */
static meta_status w_end(conn *c, meta_status s)
{
    meta_store *m = c->m;
    release(c);
    if (!sqlite3_get_autocommit(c->db) && m->w_sp) {
        bool keep = s == META_OK && run_id(c, ST_SP_RELEASE) == META_OK;
        if (!keep) {
            if (s == META_OK) s = META_ERROR;   /* its RELEASE failed */
            m->w_bucket[0] = 0;   /* what it saw may have been its own */
            /* Undo this change alone; if even that fails the batch cannot be trusted. */
            if (run_id(c, ST_SP_ROLLBACK) != META_OK || run_id(c, ST_SP_RELEASE) != META_OK)
                if (!sqlite3_get_autocommit(c->db)) run_id(c, ST_ROLLBACK);
        }
    }
    release(c);
    if (tl_group == m) {
        /* In a group the answer is provisional; meta_group_close commits. */
        if (sqlite3_get_autocommit(c->db)) {
            if (s == META_OK) s = META_ERROR;
            pthread_mutex_lock(&m->w_mu);
            batch_lost(m);
            m->w_group_failed = true;
            pthread_mutex_unlock(&m->w_mu);
        }
        return s;
    }
    wjob me = {.s = s};
    sem_init(&me.done, 0, 0);
    bool joined = false;
    pthread_mutex_lock(&m->w_mu);
    if (sqlite3_get_autocommit(c->db)) {
        if (me.s == META_OK) me.s = META_ERROR;
        batch_lost(m);
    } else {
        me.next = m->w_batch;
        m->w_batch = &me;
        m->w_nbatch++;
        joined = true;
    }
    /* Without a flush a commit costs little more than a change, and handing the batch on
     * costs two thread switches: batching pays only when a flush is shared. */
    if (!(m->durable && m->w_waiting > 0 && m->w_nbatch < BATCH_MAX)) batch_finish(m);
    turn_pass(m);   /* to the next change: of this batch, or of the next */
    pthread_mutex_unlock(&m->w_mu);
    if (joined)
        while (sem_wait(&me.done) != 0) continue;   /* EINTR */
    sem_destroy(&me.done);
    return me.s;
}

void meta_group_open(meta_store *m)
{
    turn_take(m);
    tl_group = m;
    m->w_group_failed = false;
}

meta_status meta_group_close(meta_store *m)
{
    pthread_mutex_lock(&m->w_mu);
    /* The batch may also hold changes of threads that handed the turn to this one; they learn
     * the outcome from the same commit. */
    meta_status s = batch_finish(m);
    if (m->w_group_failed) s = META_ERROR;
    m->w_group_failed = false;
    tl_group = NULL;
    turn_pass(m);
    pthread_mutex_unlock(&m->w_mu);
    return s;
}

/* --- small helpers ----------------------------------------------------------------------- */

static void bind_key(sqlite3_stmt *st, int i, const char *key)
{
    /* A non-NULL pointer so that "" is an empty blob, not NULL. */
    sqlite3_bind_blob(st, i, key ? key : "", key ? (int)strlen(key) : 0, SQLITE_STATIC);
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

static void copy_col(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", s ? s : "");
}

static char *arena_col(arena *a, sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_blob(st, i);
    return arena_strndup(a, s ? s : "", (size_t)sqlite3_column_bytes(st, i));
}

static int bytes_cmp(const void *a, size_t al, const void *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int r = n ? memcmp(a, b, n) : 0;
    if (r) return r;
    return (al > bl) - (al < bl);
}

/* Turns s[0..n) into the smallest byte string greater than every string that starts with it:
 * the last byte that is not 0xFF incremented, what follows dropped. Returns the new length, 0
 * when no such string exists (s empty or all 0xFF). */
static size_t successor(unsigned char *s, size_t n)
{
    while (n > 0 && s[n - 1] == 0xFF) n--;
    if (n > 0) s[n - 1]++;
    return n;
}

/* Where the delimiter ends in key[0..n), searching after the first plen bytes: the length of
 * the common prefix the key folds into, or 0 when it does not fold. */
static size_t fold_len(const void *key, size_t n, size_t plen, const char *delim, size_t dlen)
{
    if (dlen == 0 || n <= plen) return 0;
    const char *d = memmem((const char *)key + plen, n - plen, delim, dlen);
    return d ? (size_t)(d - (const char *)key) + dlen : 0;
}

/* --- blob references --------------------------------------------------------------------- */

static meta_status ref_add(conn *c, const char *id)
{
    sqlite3_stmt *st = stmt(c, ST_REF_ADD);
    if (!st) return META_ERROR;
    bind_text(st, 1, id);
    return run(c, st, "add blob ref");
}

/* The blob is no longer named by any row: move it from blob_refs to the gc queue. */
static meta_status queue_blob(conn *c, const char *id)
{
    sqlite3_stmt *st = stmt(c, ST_REF_DROP);
    if (!st) return META_ERROR;
    bind_text(st, 1, id);
    if (run(c, st, "drop blob ref") != META_OK) return META_ERROR;
    if (!(st = stmt(c, ST_GC_ADD))) return META_ERROR;
    bind_text(st, 1, id);
    return run(c, st, "queue blob");
}

typedef char blob_id_t[META_BLOB_ID_LEN + 1];

static int id_cmp(const void *a, const void *b) { return strcmp(a, b); }

/* The blob ids of n extents, sorted for id_find; malloc'd (NULL when n == 0 or out of memory,
 * which *fail tells apart). */
static blob_id_t *ids_sorted(const meta_extent *e, int n, bool *fail)
{
    *fail = false;
    if (n <= 0) return NULL;
    blob_id_t *ids = malloc((size_t)n * sizeof *ids);
    if (!ids) {
        *fail = true;
        return NULL;
    }
    for (int i = 0; i < n; i++) snprintf(ids[i], sizeof ids[i], "%s", e[i].blob_id);
    qsort(ids, (size_t)n, sizeof *ids, id_cmp);
    return ids;
}

static bool id_find(blob_id_t *ids, int n, const char *id)
{
    return n > 0 && bsearch(id, ids, (size_t)n, sizeof *ids, id_cmp) != NULL;
}

static void extents_encode(const meta_extent *e, int n, unsigned char *out)
{
    for (int i = 0; i < n; i++, out += EXT_REC) {
        memset(out, 0, EXT_REC);
        memcpy(out + EXT_ID, e[i].blob_id, strnlen(e[i].blob_id, META_BLOB_ID_LEN));
        uint64_t v = (uint64_t)e[i].size;
        for (int b = 0; b < 8; b++) out[EXT_SIZE + b] = (unsigned char)(v >> (8 * b));
        memcpy(out + EXT_ETAG, e[i].etag, strnlen(e[i].etag, sizeof e[i].etag - 1));
    }
}

static void extent_decode(const unsigned char *rec, meta_extent *e)
{
    memcpy(e->blob_id, rec + EXT_ID, META_BLOB_ID_LEN);
    e->blob_id[META_BLOB_ID_LEN] = 0;
    uint64_t v = 0;
    for (int b = 0; b < 8; b++) v |= (uint64_t)rec[EXT_SIZE + b] << (8 * b);
    e->size = (int64_t)v;
    memcpy(e->etag, rec + EXT_ETAG, sizeof e->etag - 1);
    e->etag[sizeof e->etag - 1] = 0;
}

/* Queues the blobs of the object at (bucket, key), except those in keep (the object replacing
 * it may legitimately name the same blobs, e.g. a retried write). *found tells whether there
 * was an object. The object row itself is left for the caller to replace or delete. */
static meta_status object_release_blobs(conn *c, const char *bucket, const char *key,
                                        blob_id_t *keep, int nkeep, bool *found)
{
    sqlite3_stmt *st = stmt(c, ST_OBJ_EXTENTS);
    if (!st) return META_ERROR;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    bind_key(st, 2, key);
    int rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (rc == SQLITE_DONE) return META_OK;
    if (rc != SQLITE_ROW) return db_fail(c, "read object extents");
    size_t n = (size_t)sqlite3_column_bytes(st, 0);
    if (n == 0) return META_OK;   /* inline or empty */
    if (n % EXT_REC) {
        log_error("meta: corrupt extents for an object of bucket %s", bucket);
        return META_ERROR;
    }
    /* Copied: queueing runs other statements, and the row's memory lives only until then. */
    unsigned char *raw = malloc(n);
    if (!raw) return META_ERROR;
    memcpy(raw, sqlite3_column_blob(st, 0), n);
    sqlite3_reset(st);
    meta_status s = META_OK;
    for (size_t off = 0; off < n && s == META_OK; off += EXT_REC) {
        meta_extent e;
        extent_decode(raw + off, &e);
        if (!id_find(keep, nkeep, e.blob_id)) s = queue_blob(c, e.blob_id);
    }
    free(raw);
    return s;
}

static meta_status bucket_exists(conn *c, const char *bucket)
{
    sqlite3_stmt *st = stmt(c, ST_BUCKET_GET);
    if (!st) return META_ERROR;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc == SQLITE_ROW) return META_OK;
    if (rc == SQLITE_DONE) return META_NOT_FOUND;
    return db_fail(c, "read bucket");
}

/* bucket_exists for a change on the writer: a bucket seen in this batch transaction exists
 * until a change deletes it (meta_bucket_delete forgets it) or is rolled back (w_end). */
static meta_status bucket_known(conn *c, const char *bucket)
{
    meta_store *m = c->m;
    if (m->w_bucket[0] && strcmp(m->w_bucket, bucket) == 0) return META_OK;
    meta_status s = bucket_exists(c, bucket);
    size_t n = strlen(bucket);
    if (s == META_OK && n < sizeof m->w_bucket) memcpy(m->w_bucket, bucket, n + 1);
    return s;
}

/* Writes o as (bucket, o->key), queueing the blobs of the object it replaces. Runs inside the
 * caller's transaction. */
static meta_status object_write(conn *c, const char *bucket, const meta_object *o)
{
    if (!o->key || o->nextents < 0 || (o->nextents > 0 && !o->extents) ||
        (o->nextents == 0 && !o->inline_data && o->size != 0))
        return META_ERROR;
    bool fail, found;
    blob_id_t *keep = ids_sorted(o->extents, o->nextents, &fail);
    if (fail) return META_ERROR;
    meta_status s = object_release_blobs(c, bucket, o->key, keep, o->nextents, &found);
    free(keep);
    if (s != META_OK) return s;

    unsigned char *ext = NULL;
    if (o->nextents > 0) {
        ext = malloc((size_t)o->nextents * EXT_REC);
        if (!ext) return META_ERROR;
        extents_encode(o->extents, o->nextents, ext);
    }
    sqlite3_stmt *st = stmt(c, ST_OBJ_PUT);
    if (!st) {
        free(ext);
        return META_ERROR;
    }
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    bind_key(st, 2, o->key);
    sqlite3_bind_int64(st, 3, o->size);
    bind_text(st, 4, o->etag);
    sqlite3_bind_int64(st, 5, o->mtime_ms);
    bind_text(st, 6, o->storage_class);
    sqlite3_bind_int(st, 7, o->parts_count);
    bind_text(st, 8, o->headers);
    sqlite3_bind_int64(st, 11, o->expire_ms);
    if (o->nextents > 0) {
        sqlite3_bind_null(st, 9);
        sqlite3_bind_blob(st, 10, ext, o->nextents * EXT_REC, SQLITE_STATIC);
    } else {
        /* Inline, possibly empty: a zero-length blob, never NULL (NULL means "in extents"). */
        sqlite3_bind_blob64(st, 9, o->inline_data ? o->inline_data : "",
                            o->inline_data ? (sqlite3_uint64)o->size : 0, SQLITE_STATIC);
        sqlite3_bind_null(st, 10);
    }
    s = run(c, st, "write object");
    free(ext);
    for (int i = 0; i < o->nextents && s == META_OK; i++) s = ref_add(c, o->extents[i].blob_id);
    return s;
}

/* --- IAM generation ---------------------------------------------------------------------- */

/* Moves the generation on after a change: committed (persisted is the database counter's new
 * value) or perhaps committed (persisted 0: the commit or its flush failed, and a needless bump
 * costs only a refill of the callers' caches). */
static void generation_advance(meta_store *m, uint64_t persisted)
{
    pthread_mutex_lock(&m->gen_mu);
    if (persisted > m->gen_db) m->gen_db = persisted;
    atomic_fetch_add(&m->gen, 1);
    pthread_mutex_unlock(&m->gen_mu);
}

/* Ends a write transaction that changed IAM state: when s is META_OK, bumps the database's
 * counter inside it and commits, then moves the generation on; otherwise rolls back. */
static meta_status iam_commit(conn *c, meta_status s)
{
    uint64_t v = 0;
    if (s == META_OK) {
        sqlite3_stmt *st = stmt(c, ST_IAM_BUMP);
        if (!st || sqlite3_step(st) != SQLITE_ROW) s = st ? db_fail(c, "bump iam counter")
                                                          : META_ERROR;
        else v = (uint64_t)sqlite3_column_int64(st, 0);
    }
    bool tried = s == META_OK;
    s = w_end(c, s);
    if (tried) generation_advance(c->m, s == META_OK ? v : 0);
    return s;
}

uint64_t meta_iam_generation(meta_store *m) { return atomic_load(&m->gen); }

meta_status meta_iam_refresh(meta_store *m)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    sqlite3_stmt *st = stmt(c, ST_IAM_READ);
    if (!st) return META_ERROR;
    meta_status s = META_OK;
    uint64_t v = 0;
    if (sqlite3_step(st) == SQLITE_ROW) v = (uint64_t)sqlite3_column_int64(st, 0);
    else s = db_fail(c, "read iam generation");
    release(c);
    if (s != META_OK) return s;
    /* The counter only grows, and this handle has bumped the generation after every value up
     * to gen_db; a larger one is someone else's change. */
    pthread_mutex_lock(&m->gen_mu);
    if (v > m->gen_db) {
        m->gen_db = v;
        atomic_fetch_add(&m->gen, 1);
    }
    pthread_mutex_unlock(&m->gen_mu);
    return META_OK;
}

/* --- open / close ------------------------------------------------------------------------ */

static meta_status schema_init(conn *c)
{
    meta_status s = tx_begin(c, true);
    if (s != META_OK) return s;
    sqlite3_stmt *st;
    int version = -1;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    if (version < 0) {
        s = db_fail(c, "read schema version");
    } else if (version > SCHEMA_VERSION) {
        log_error("meta: %s has schema version %d; this wosd knows up to %d", c->m->path,
                  version, SCHEMA_VERSION);
        s = META_ERROR;
    } else if (version < SCHEMA_VERSION) {
        char *err = NULL;
        for (int v = version; v < SCHEMA_VERSION && s == META_OK; v++) {
            if (sqlite3_exec(c->db, MIGRATIONS[v], NULL, NULL, &err) != SQLITE_OK) {
                log_error("meta: %s: schema version %d to %d: %s", c->m->path, v, v + 1,
                          err ? err : "?");
                s = META_ERROR;
            }
            sqlite3_free(err);
            err = NULL;
        }
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA user_version=%d", SCHEMA_VERSION);
        if (s == META_OK && sqlite3_exec(c->db, sql, NULL, NULL, &err) != SQLITE_OK) {
            log_error("meta: %s: %s", sql, err ? err : "?");
            s = META_ERROR;
        }
        sqlite3_free(err);
        if (s == META_OK && version > 0)
            log_info("meta: %s upgraded from schema version %d to %d", c->m->path, version,
                     SCHEMA_VERSION);
    }
    /* The generation starts where the database's counter stands. */
    sqlite3_stmt *gst = NULL;
    if (s == META_OK && !(gst = stmt(c, ST_IAM_READ))) s = META_ERROR;
    if (s == META_OK) {
        if (sqlite3_step(gst) == SQLITE_ROW) {
            c->m->gen_db = (uint64_t)sqlite3_column_int64(gst, 0);
            atomic_store(&c->m->gen, c->m->gen_db);
        } else {
            s = db_fail(c, "read iam generation");
        }
    }
    return tx_end(c, s);
}

/* --- the checkpointer ----------------------------------------------------------------------- */

/* After a commit that left the log at WAL_CHECKPOINT_PAGES or more (commit_done): asks for a
 * checkpoint once the log has grown by that much since the last one was asked for. Under a
 * steady stream of commits the log seldom starts again from its beginning (that needs a
 * checkpoint to have copied every frame before the next commit), so its length alone would ask
 * for one after every commit: a checkpoint a few frames long, two fsyncs each, hundreds a
 * second, racing the commits' own flushes. Paced by growth, each copies the newest version of
 * ~WAL_CHECKPOINT_PAGES frames' pages once. Before the thread runs (the schema's set-up at
 * open) the committing connection checkpoints itself. */
static void checkpoint_due(meta_store *m, sqlite3 *db, const char *name, int pages)
{
    pthread_mutex_lock(&m->ck_mu);
    if (pages < m->ck_mark) m->ck_mark = 0;   /* the log started again */
    bool grown = pages - m->ck_mark >= WAL_CHECKPOINT_PAGES;
    bool running = m->ck_running;
    if (grown) m->ck_mark = pages;
    if (grown && running && !m->ck_due) {
        m->ck_due = true;
        pthread_cond_signal(&m->ck_cv);
    }
    pthread_mutex_unlock(&m->ck_mu);
    if (grown && !running) sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

/* The log starts again from its beginning only when the writer begins a transaction with every
 * frame copied, which a checkpoint running beside the commits seldom leaves: what was committed
 * while it ran is still to copy. Left to grow, the log is appended to, and on this ext4 an
 * fdatasync that must allocate costs twice the time and CPU of one that overwrites (475 against
 * 222 µs for 32 KiB, measured 2026-11-25): every commit pays. So after each of the
 * checkpointer's passes the writer copies that remainder itself, right after its next commit
 * (commit_done, on the writer's connection: no other commit can slip in between), and the next
 * transaction reuses the log from its start. The remainder is what a few commits wrote; the
 * writer waits for it once a pass. */
static void checkpoint_tail(sqlite3 *db, const char *name)
{
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
}

static void *checkpointer_main(void *arg)
{
    meta_store *m = arg;
    conn *c = conn_open(m, false);
    pthread_mutex_lock(&m->ck_mu);
    for (;;) {
        while (!m->ck_due && !m->ck_quit) pthread_cond_wait(&m->ck_cv, &m->ck_mu);
        if (m->ck_quit) break;
        m->ck_due = false;
        pthread_mutex_unlock(&m->ck_mu);
        /* PASSIVE: copies what no reader still needs and never blocks readers or the writer;
         * what it leaves is copied next time. The log restarts from its beginning once a
         * checkpoint has copied all of it. */
        int log = 0, copied = 0;
        int rc = c ? sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, &log, &copied) : SQLITE_ERROR;
        if (rc != SQLITE_OK && rc != SQLITE_BUSY) log_warn("meta: checkpoint: %s", c ? sqlite3_errmsg(c->db) : "no connection");
        /* Only after a pass that copied the whole log as it found it: then the remainder is
         * what was committed during the pass. A pass held back by a reader leaves more, which
         * the writer must not copy inside a commit. */
        if (rc == SQLITE_OK && copied >= log) atomic_store(&m->ck_tail, true);
        pthread_mutex_lock(&m->ck_mu);
    }
    pthread_mutex_unlock(&m->ck_mu);
    if (c) conn_close(c);
    return NULL;
}

static void checkpointer_start(meta_store *m)
{
    pthread_mutex_lock(&m->ck_mu);
    m->ck_running = pthread_create(&m->ck_thread, NULL, checkpointer_main, m) == 0;
    pthread_mutex_unlock(&m->ck_mu);
}

static void checkpointer_stop(meta_store *m)
{
    pthread_mutex_lock(&m->ck_mu);
    bool running = m->ck_running;
    m->ck_quit = true;
    m->ck_running = false;
    pthread_cond_signal(&m->ck_cv);
    pthread_mutex_unlock(&m->ck_mu);
    if (running) pthread_join(m->ck_thread, NULL);
}

meta_status meta_open(const char *dir, const meta_options *opt, meta_store **out)
{
    *out = NULL;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        log_error("meta: mkdir %s: %s", dir, strerror(errno));
        return META_ERROR;
    }
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    meta_store *m = calloc(1, sizeof *m);
    if (!m) return META_ERROR;
    size_t n = strlen(dir) + sizeof "/meta.db";
    m->path = malloc(n);
    if (!m->path) {
        free(m);
        return META_ERROR;
    }
    snprintf(m->path, n, "%s/meta.db", dir);
    m->durable = opt && opt->durable;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->gen_mu, NULL);
    pthread_mutex_init(&m->w_mu, NULL);
    pthread_mutex_init(&m->ck_mu, NULL);
    pthread_cond_init(&m->ck_cv, NULL);
    if (pthread_key_create(&m->key, conn_thread_exit) != 0) {
        m->key_ok = false;
        meta_close(m);
        return META_ERROR;
    }
    m->key_ok = true;
    m->objects = mcache_new(OBJECT_CACHE_BYTES);
    /* The writer sets the schema up: a new database's first transaction is a write. */
    m->w = conn_open(m, true);
    if (!m->w || schema_init(m->w) != META_OK) {
        meta_close(m);
        return META_ERROR;
    }
    checkpointer_start(m);
    *out = m;
    return META_OK;
}

void meta_close(meta_store *m)
{
    if (!m) return;
    /* Deleting the key first means no exiting thread runs its destructor from here on; every
     * connection left is in the registry, and no other thread may be using the store. */
    checkpointer_stop(m);
    if (m->key_ok) pthread_key_delete(m->key);
    for (conn *c = m->conns, *next; c; c = next) {
        next = c->next;
        conn_close(c);
    }
    if (m->w) conn_close(m->w);
    mcache_free(m->objects);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->gen_mu);
    pthread_mutex_destroy(&m->w_mu);
    pthread_mutex_destroy(&m->ck_mu);
    pthread_cond_destroy(&m->ck_cv);
    free(m->path);
    free(m);
}

/* --- buckets ----------------------------------------------------------------------------- */

static void bucket_from_row(sqlite3_stmt *st, meta_bucket *b)
{
    copy_col(st, 0, b->name, sizeof b->name);
    copy_col(st, 1, b->owner, sizeof b->owner);
    copy_col(st, 2, b->region, sizeof b->region);
    copy_col(st, 3, b->storage_class, sizeof b->storage_class);
    b->created_ms = sqlite3_column_int64(st, 4);
    copy_col(st, 5, b->acl, sizeof b->acl);
}

/* The canned ACL to store: "" means the default. */
static const char *acl_or_default(const char *acl) { return acl && *acl ? acl : "private"; }

static meta_status bucket_read(conn *c, const char *name, meta_bucket *out)
{
    sqlite3_stmt *st = stmt(c, ST_BUCKET_GET);
    if (!st) return META_ERROR;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    meta_status s = META_OK;
    if (rc == SQLITE_ROW) {
        if (out) bucket_from_row(st, out);
    } else if (rc == SQLITE_DONE) {
        s = META_NOT_FOUND;
    } else {
        s = db_fail(c, "read bucket");
    }
    sqlite3_reset(st);
    return s;
}

meta_status meta_bucket_create(meta_store *m, const meta_bucket *b, meta_bucket *existing)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    meta_bucket old;
    s = bucket_read(c, b->name, &old);
    if (s == META_OK) {
        if (existing) *existing = old;
        s = META_EXISTS;
    } else if (s == META_NOT_FOUND) {
        sqlite3_stmt *st = stmt(c, ST_BUCKET_INSERT);
        if (!st) {
            s = META_ERROR;
        } else {
            bind_text(st, 1, b->name);
            bind_text(st, 2, b->owner);
            bind_text(st, 3, b->region);
            bind_text(st, 4, b->storage_class);
            sqlite3_bind_int64(st, 5, b->created_ms);
            bind_text(st, 6, acl_or_default(b->acl));
            s = run(c, st, "create bucket");
        }
    }
    return iam_commit(c, s);
}

meta_status meta_bucket_get(meta_store *m, const char *name, meta_bucket *out)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    meta_status s = bucket_read(c, name, out);
    release(c);
    return s;
}

/* Whether the statement (taking a name as ?1) returns a row. */
static meta_status has_row(conn *c, int id, const char *name, bool *has)
{
    sqlite3_stmt *st = stmt(c, id);
    if (!st) return META_ERROR;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_fail(c, statement_sql[id]);
    *has = rc == SQLITE_ROW;
    return META_OK;
}

meta_status meta_bucket_delete(meta_store *m, const char *name)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    bool objects = false, uploads = false;
    s = bucket_read(c, name, NULL);
    if (s == META_OK) s = has_row(c, ST_BUCKET_HAS_OBJECTS, name, &objects);
    if (s == META_OK) s = has_row(c, ST_BUCKET_HAS_UPLOADS, name, &uploads);
    if (s == META_OK && (objects || uploads)) s = META_NOT_EMPTY;
    sqlite3_stmt *st = NULL;
    if (s == META_OK && !(st = stmt(c, ST_BPOLICY_DELETE))) s = META_ERROR;
    if (s == META_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        s = run(c, st, "delete bucket policy");
    }
    if (s == META_OK && !(st = stmt(c, ST_BUCKET_DELETE))) s = META_ERROR;
    if (s == META_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        s = run(c, st, "delete bucket");
    }
    m->w_bucket[0] = 0;
    return iam_commit(c, s);
}

meta_status meta_bucket_list(meta_store *m, meta_bucket_fn fn, void *cls)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    sqlite3_stmt *st = stmt(c, ST_BUCKET_LIST);
    if (!st) return META_ERROR;
    /* Collected first, so the callback runs with no statement open and may call back in. */
    meta_bucket *all = NULL;
    size_t n = 0, cap = 0;
    meta_status s = META_OK;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            meta_bucket *grown = realloc(all, ncap * sizeof *all);
            if (!grown) {
                s = META_ERROR;
                break;
            }
            all = grown;
            cap = ncap;
        }
        bucket_from_row(st, &all[n++]);
    }
    if (s == META_OK && rc != SQLITE_DONE) s = db_fail(c, "list buckets");
    release(c);
    if (s == META_OK)
        for (size_t i = 0; i < n; i++) fn(cls, &all[i]);
    free(all);
    return s;
}

/* --- objects ----------------------------------------------------------------------------- */

static meta_status object_is_version(conn *c, const char *bucket, const char *key, const char *etag,
                                     int64_t mtime_ms);

/* Whether (bucket, key) holds what x expects, read inside the caller's transaction: META_OK,
 * META_STALE, or an error. */
static meta_status object_expected(conn *c, const char *bucket, const char *key, const meta_expect *x)
{
    if (!x) return META_OK;
    meta_status s = object_is_version(c, bucket, key, x->absent ? NULL : x->etag, x->mtime_ms);
    if (x->absent) return s == META_NOT_FOUND ? META_OK : s == META_OK ? META_STALE : s;
    return s == META_NOT_FOUND ? META_STALE : s;
}

meta_status meta_object_put_if(meta_store *m, const char *bucket, const meta_object *o,
                               const meta_expect *x)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    /* Checked inside the transaction so a concurrent bucket delete cannot strand the row. */
    s = bucket_exists(c, bucket);
    if (s == META_OK && o->key) s = object_expected(c, bucket, o->key, x);
    if (s == META_OK) s = object_write(c, bucket, o);
    return w_end(c, s);
}

meta_status meta_object_put(meta_store *m, const char *bucket, const meta_object *o)
{
    return meta_object_put_if(m, bucket, o, NULL);
}

meta_status meta_object_get(meta_store *m, const char *bucket, const char *key, arena *a,
                            meta_object *o)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    meta_status s = META_OK;
    uint64_t gen = mcache_generation();   /* before the row is read: see meta_cache.h */
    if (mcache_get(m->objects, gen, bucket, key, a, o, &s)) return s;
    bool fresh = conn_idle(c);
    sqlite3_stmt *st = stmt(c, ST_OBJ_GET);
    if (!st) return META_ERROR;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    bind_key(st, 2, key);
    int rc = sqlite3_step(st);
    memset(o, 0, sizeof *o);
    if (rc == SQLITE_DONE) {
        s = META_NOT_FOUND;
    } else if (rc != SQLITE_ROW) {
        s = db_fail(c, "read object");
    } else {
        o->key = arena_strdup(a, key);
        o->size = sqlite3_column_int64(st, 0);
        copy_col(st, 1, o->etag, sizeof o->etag);
        o->mtime_ms = sqlite3_column_int64(st, 2);
        copy_col(st, 3, o->storage_class, sizeof o->storage_class);
        o->parts_count = sqlite3_column_int(st, 4);
        o->headers = arena_col(a, st, 5);
        o->expire_ms = sqlite3_column_int64(st, 8);
        o->restore_ready_ms = sqlite3_column_int64(st, 9);
        o->restore_expiry_ms = sqlite3_column_int64(st, 10);
        if (sqlite3_column_type(st, 6) != SQLITE_NULL) {
            o->inline_data = arena_memdup(a, sqlite3_column_blob(st, 6),
                                          (size_t)sqlite3_column_bytes(st, 6));
        } else {
            size_t n = (size_t)sqlite3_column_bytes(st, 7);
            const unsigned char *raw = sqlite3_column_blob(st, 7);
            if (n == 0 || n % EXT_REC) {
                log_error("meta: corrupt extents for %s in bucket %s", key, bucket);
                s = META_ERROR;
            } else {
                meta_extent *e = arena_alloc(a, n / EXT_REC * sizeof *e);
                for (size_t i = 0; i < n / EXT_REC; i++) extent_decode(raw + i * EXT_REC, &e[i]);
                o->extents = e;
                o->nextents = (int)(n / EXT_REC);
            }
        }
    }
    if (fresh) mcache_put(m->objects, gen, bucket, key, s, o);
    release(c);
    return s;
}

static meta_status run_one(conn *c, sqlite3_stmt *st, const char *what);

meta_status meta_object_set_headers(meta_store *m, const char *bucket, const char *key, const char *etag,
                                    int64_t mtime_ms, const char *headers)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    sqlite3_stmt *st = stmt(c, ST_OBJ_SET_HEADERS);
    if (!st) s = META_ERROR;
    else {
        sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
        bind_key(st, 2, key);
        bind_text(st, 3, etag);
        sqlite3_bind_int64(st, 4, mtime_ms);
        bind_text(st, 5, headers);
        s = run_one(c, st, "set object headers");
    }
    return w_end(c, s);
}

meta_status meta_object_delete(meta_store *m, const char *bucket, const char *key)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    bool found;
    s = object_release_blobs(c, bucket, key, NULL, 0, &found);
    if (s == META_OK && !found) s = META_NOT_FOUND;
    if (s == META_OK) {
        sqlite3_stmt *st = stmt(c, ST_OBJ_DELETE);
        if (!st) s = META_ERROR;
        else {
            sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
            bind_key(st, 2, key);
            s = run(c, st, "delete object");
        }
    }
    return w_end(c, s);
}

/* --- listing ----------------------------------------------------------------------------- */

/* A key-ordered scan over one bucket's range [lo, successor(prefix)) that folds keys into
 * common prefixes, re-seeking past each. Column 0 of the statement is the key. */
typedef struct scan {
    sqlite3_stmt *st;
    const char *prefix, *delim;
    size_t plen, dlen;
    bool done;
} scan;

enum { SCAN_END, SCAN_ROW, SCAN_PREFIX, SCAN_ERR };

/* The lower bound of a listing: the larger of the prefix and "just after `after`" (after+"\0"
 * is the least byte string greater than after). When after lies inside a common prefix, that
 * whole prefix has been listed, so the bound moves past it. Returns false when nothing can
 * follow. *lo is malloc'd; *in_prefix tells whether after was inside a common prefix. */
static bool list_lower_bound(const char *prefix, const char *delim, const char *after,
                             unsigned char **lo, size_t *lolen, bool *in_prefix)
{
    size_t plen = strlen(prefix), dlen = strlen(delim), alen = strlen(after);
    *in_prefix = false;
    size_t cl = alen >= plen && memcmp(after, prefix, plen) == 0
                    ? fold_len(after, alen, plen, delim, dlen)
                    : 0;
    unsigned char *b = malloc(alen + plen + 1);
    if (!b) return false;
    if (cl) {
        *in_prefix = true;
        memcpy(b, after, cl);
        *lolen = successor(b, cl);
        if (*lolen == 0) {
            free(b);
            return false;
        }
    } else if (alen && bytes_cmp(after, alen + 1, prefix, plen) > 0) {
        memcpy(b, after, alen + 1);   /* with its NUL: after + "\0" */
        *lolen = alen + 1;
    } else {
        memcpy(b, prefix, plen);
        *lolen = plen;
    }
    *lo = b;
    return true;
}

/* Starts the scan at lo: binds ?1 bucket, ?2 lo and, when the prefix has a successor, ?3 as the
 * exclusive upper bound (choosing the statement that has it). Other parameters are the
 * caller's to bind afterwards. */
static sqlite3_stmt *scan_start(conn *c, scan *s, int id_open, int id_range, const char *bucket,
                                const char *prefix, const char *delim, const unsigned char *lo,
                                size_t lolen, unsigned char **hi_out)
{
    memset(s, 0, sizeof *s);
    s->prefix = prefix;
    s->delim = delim;
    s->plen = strlen(prefix);
    s->dlen = strlen(delim);
    unsigned char *hi = malloc(s->plen + 1);
    if (!hi) return NULL;
    memcpy(hi, prefix, s->plen);
    size_t hilen = successor(hi, s->plen);
    s->st = stmt(c, hilen ? id_range : id_open);
    if (!s->st) {
        free(hi);
        return NULL;
    }
    sqlite3_bind_text(s->st, 1, bucket, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s->st, 2, lo, (int)lolen, SQLITE_TRANSIENT);
    if (hilen) sqlite3_bind_blob(s->st, 3, hi, (int)hilen, SQLITE_STATIC);
    *hi_out = hi;   /* bound SQLITE_STATIC: the caller frees it after the scan */
    return s->st;
}

/* The next row or common prefix. On SCAN_PREFIX, *cp (arena) is the prefix and the scan has
 * already moved past every key under it; on SCAN_ROW the statement sits on the row. */
static int scan_next(conn *c, scan *s, arena *a, const char **cp)
{
    if (s->done) return SCAN_END;
    int rc = sqlite3_step(s->st);
    if (rc == SQLITE_DONE) {
        s->done = true;
        return SCAN_END;
    }
    if (rc != SQLITE_ROW) {
        db_fail(c, "list");
        return SCAN_ERR;
    }
    scan_rows++;
    const void *k = sqlite3_column_blob(s->st, 0);
    size_t kl = (size_t)sqlite3_column_bytes(s->st, 0);
    if (kl < s->plen || (s->plen && memcmp(k, s->prefix, s->plen) != 0)) {
        s->done = true;   /* past the prefix (only reachable when it has no successor) */
        return SCAN_END;
    }
    size_t cl = fold_len(k, kl, s->plen, s->delim, s->dlen);
    if (!cl) return SCAN_ROW;
    char *p = arena_strndup(a, k, cl);
    *cp = p;
    unsigned char *next = malloc(cl);
    if (!next) return SCAN_ERR;
    memcpy(next, p, cl);
    size_t nl = successor(next, cl);
    sqlite3_reset(s->st);
    if (nl == 0) s->done = true;
    else sqlite3_bind_blob(s->st, 2, next, (int)nl, SQLITE_TRANSIENT);
    free(next);
    return SCAN_PREFIX;
}

typedef struct obj_entry {
    const char *cp;
    meta_object o;
} obj_entry;

/* Grows an arena array of entries (the old copy stays in the arena; pages are small). */
static void *grow(arena *a, void *old, int n, int *cap, size_t size)
{
    if (n < *cap) return old;
    int ncap = *cap ? *cap * 2 : 32;
    void *p = arena_alloc(a, (size_t)ncap * size);
    if (n) memcpy(p, old, (size_t)n * size);
    *cap = ncap;
    return p;
}

meta_status meta_object_list(meta_store *m, const char *bucket, const meta_list_query *q,
                             arena *a, meta_list_fn fn, void *cls, bool *truncated,
                             const char **last)
{
    const char *prefix = q->prefix ? q->prefix : "";
    const char *delim = q->delimiter ? q->delimiter : "";
    const char *after = q->after ? q->after : "";
    if (truncated) *truncated = false;
    if (last) *last = "";
    conn *c = conn_get(m);
    if (!c) return META_ERROR;

    unsigned char *lo = NULL, *hi = NULL;
    size_t lolen;
    bool in_prefix;
    if (q->max <= 0 || !list_lower_bound(prefix, delim, after, &lo, &lolen, &in_prefix))
        return META_OK;

    /* One read transaction: every re-seek sees the same snapshot. */
    meta_status s = tx_begin(c, false);
    scan sc;
    obj_entry *ent = NULL;
    int n = 0, cap = 0;
    bool more = false;
    if (s == META_OK &&
        !scan_start(c, &sc, ST_OBJ_LIST_OPEN, ST_OBJ_LIST_RANGE, bucket, prefix, delim, lo,
                    lolen, &hi))
        s = META_ERROR;
    if (s == META_OK) {
        sqlite3_bind_int64(sc.st, 4, q->start_ms);
        sqlite3_bind_int64(sc.st, 5, q->end_ms);
    }
    while (s == META_OK) {
        const char *cp = NULL;
        int r = scan_next(c, &sc, a, &cp);
        if (r == SCAN_END) break;
        if (r == SCAN_ERR) {
            s = META_ERROR;
            break;
        }
        if (n == q->max) {   /* one entry beyond the page: the listing is truncated */
            more = true;
            break;
        }
        ent = grow(a, ent, n, &cap, sizeof *ent);
        obj_entry *e = &ent[n++];
        if (r == SCAN_PREFIX) {
            e->cp = cp;
            continue;
        }
        e->o.key = arena_col(a, sc.st, 0);
        e->o.size = sqlite3_column_int64(sc.st, 1);
        copy_col(sc.st, 2, e->o.etag, sizeof e->o.etag);
        e->o.mtime_ms = sqlite3_column_int64(sc.st, 3);
        copy_col(sc.st, 4, e->o.storage_class, sizeof e->o.storage_class);
        e->o.parts_count = sqlite3_column_int(sc.st, 5);
    }
    s = tx_end(c, s);
    free(lo);
    free(hi);
    if (s != META_OK) return s;
    for (int i = 0; i < n; i++) fn(cls, ent[i].cp, ent[i].cp ? NULL : &ent[i].o);
    if (truncated) *truncated = more;
    if (last && n > 0) *last = ent[n - 1].cp ? ent[n - 1].cp : ent[n - 1].o.key;
    return META_OK;
}

/* --- multipart uploads ------------------------------------------------------------------- */

meta_status meta_upload_create(meta_store *m, const char *bucket, const meta_upload *u)
{
    conn *c;
    meta_status s = w_begin_one(m, &c);   /* the INSERT is the only change */
    if (s != META_OK) return s;
    s = bucket_known(c, bucket);
    if (s == META_OK) {
        sqlite3_stmt *st = stmt(c, ST_UP_INSERT);
        if (!st) {
            s = META_ERROR;
        } else {
            sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
            bind_key(st, 2, u->key);
            bind_text(st, 3, u->upload_id);
            sqlite3_bind_int64(st, 4, u->initiated_ms);
            bind_text(st, 5, u->storage_class);
            bind_text(st, 6, u->owner);
            bind_text(st, 7, u->headers);
            int rc = sqlite3_step(st);
            if (rc == SQLITE_CONSTRAINT) s = META_EXISTS;
            else if (rc != SQLITE_DONE) s = db_fail(c, "create upload");
            sqlite3_reset(st);
        }
    }
    return w_end(c, s);
}

/* Reads the upload of bucket and key with this id: META_NOT_FOUND when there is none. Fills
 * u (strings from a) when u is not NULL. */
static meta_status upload_read(conn *c, const char *bucket, const char *key,
                               const char *upload_id, arena *a, meta_upload *u)
{
    sqlite3_stmt *st = stmt(c, ST_UP_GET);
    if (!st) return META_ERROR;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    bind_key(st, 2, key);
    bind_text(st, 3, upload_id);
    int rc = sqlite3_step(st);
    meta_status s = META_OK;
    if (rc == SQLITE_DONE) {
        s = META_NOT_FOUND;
    } else if (rc != SQLITE_ROW) {
        s = db_fail(c, "read upload");
    } else if (u) {
        memset(u, 0, sizeof *u);
        snprintf(u->upload_id, sizeof u->upload_id, "%s", upload_id);
        u->key = arena_strdup(a, key);
        u->initiated_ms = sqlite3_column_int64(st, 0);
        copy_col(st, 1, u->storage_class, sizeof u->storage_class);
        copy_col(st, 2, u->owner, sizeof u->owner);
        u->headers = arena_col(a, st, 3);
    }
    sqlite3_reset(st);
    return s;
}

meta_status meta_upload_get(meta_store *m, const char *bucket, const char *key,
                            const char *upload_id, arena *a, meta_upload *u)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    meta_status s = upload_read(c, bucket, key, upload_id, a, u);
    release(c);
    return s;
}

meta_status meta_part_put(meta_store *m, const char *bucket, const char *key,
                          const char *upload_id, const meta_part *p)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    s = upload_read(c, bucket, key, upload_id, NULL, NULL);
    sqlite3_stmt *st = NULL;
    if (s == META_OK && !(st = stmt(c, ST_PART_BLOB))) s = META_ERROR;
    if (s == META_OK) {
        bind_text(st, 1, upload_id);
        sqlite3_bind_int(st, 2, p->number);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            blob_id_t old;
            copy_col(st, 0, old, sizeof old);
            sqlite3_reset(st);
            if (strcmp(old, p->blob_id) != 0) s = queue_blob(c, old);
        } else if (rc != SQLITE_DONE) {
            s = db_fail(c, "read part");
        }
    }
    if (s == META_OK && !(st = stmt(c, ST_PART_PUT))) s = META_ERROR;
    if (s == META_OK) {
        bind_text(st, 1, upload_id);
        sqlite3_bind_int(st, 2, p->number);
        sqlite3_bind_int64(st, 3, p->size);
        bind_text(st, 4, p->etag);
        bind_text(st, 5, p->blob_id);
        sqlite3_bind_int64(st, 6, p->mtime_ms);
        s = run(c, st, "write part");
    }
    if (s == META_OK) s = ref_add(c, p->blob_id);
    return w_end(c, s);
}

meta_status meta_part_list(meta_store *m, const char *bucket, const char *key,
                           const char *upload_id, int after, int max, meta_part_fn fn, void *cls,
                           bool *truncated)
{
    if (truncated) *truncated = false;
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    meta_status s = tx_begin(c, false);
    if (s != META_OK) return s;
    s = upload_read(c, bucket, key, upload_id, NULL, NULL);
    sqlite3_stmt *st = NULL;
    int rc;
    meta_part *parts = NULL;
    int n = 0, cap = 0;
    if (s == META_OK && !(st = stmt(c, ST_PART_LIST))) s = META_ERROR;
    if (s == META_OK) {
        bind_text(st, 1, upload_id);
        sqlite3_bind_int(st, 2, after);
        sqlite3_bind_int64(st, 3, max > 0 ? (int64_t)max + 1 : -1);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (max > 0 && n == max) {
                if (truncated) *truncated = true;
                break;
            }
            if (n == cap) {
                int ncap = cap ? cap * 2 : 64;
                meta_part *grown = realloc(parts, (size_t)ncap * sizeof *parts);
                if (!grown) {
                    s = META_ERROR;
                    break;
                }
                parts = grown;
                cap = ncap;
            }
            meta_part *p = &parts[n++];
            p->number = sqlite3_column_int(st, 0);
            p->size = sqlite3_column_int64(st, 1);
            copy_col(st, 2, p->etag, sizeof p->etag);
            copy_col(st, 3, p->blob_id, sizeof p->blob_id);
            p->mtime_ms = sqlite3_column_int64(st, 4);
        }
        if (s == META_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) s = db_fail(c, "list parts");
    }
    s = tx_end(c, s);
    if (s == META_OK)
        for (int i = 0; i < n; i++) fn(cls, &parts[i]);
    else if (truncated)
        *truncated = false;
    free(parts);
    return s;
}

/* The blob ids of every part of an upload (malloc'd into *out; *n of them). */
static meta_status upload_part_blobs(conn *c, const char *upload_id, blob_id_t **out, int *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = stmt(c, ST_PART_BLOBS);
    if (!st) return META_ERROR;
    bind_text(st, 1, upload_id);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            blob_id_t *grown = realloc(*out, (size_t)cap * sizeof **out);
            if (!grown) {
                sqlite3_reset(st);
                return META_ERROR;
            }
            *out = grown;
        }
        copy_col(st, 0, (*out)[(*n)++], sizeof **out);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? META_OK : db_fail(c, "read parts");
}

/* Deletes the upload's rows (the caller has dealt with the parts' blobs). */
static meta_status upload_delete_rows(conn *c, const char *bucket, const char *key,
                                      const char *upload_id)
{
    sqlite3_stmt *st = stmt(c, ST_PART_DELETE_ALL);
    if (!st) return META_ERROR;
    bind_text(st, 1, upload_id);
    meta_status s = run(c, st, "delete parts");
    if (s == META_OK && !(st = stmt(c, ST_UP_DELETE))) s = META_ERROR;
    if (s == META_OK) {
        sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
        bind_key(st, 2, key);
        bind_text(st, 3, upload_id);
        s = run(c, st, "delete upload");
    }
    return s;
}

meta_status meta_upload_complete(meta_store *m, const char *bucket, const char *upload_id,
                                 const meta_object *o, const meta_expect *x)
{
    conn *c;
    arena *a = arena_new(512);
    meta_status s = w_begin(m, &c);
    if (s != META_OK) {
        arena_free(a);
        return s;
    }
    meta_upload u;
    blob_id_t *parts = NULL, *used = NULL;
    int nparts = 0;
    bool fail = false;
    s = upload_read(c, bucket, o->key, upload_id, a, &u);
    if (s == META_OK) s = upload_part_blobs(c, upload_id, &parts, &nparts);
    if (s == META_OK) {
        if (nparts > 0) qsort(parts, (size_t)nparts, sizeof *parts, id_cmp);
        /* Each extent must still be a part of this upload: a part re-uploaded since the caller
         * read the list has a new blob id, and completing with the old one would name a blob
         * already queued for removal. */
        for (int i = 0; i < o->nextents && s == META_OK; i++)
            if (!id_find(parts, nparts, o->extents[i].blob_id)) s = META_CONFLICT;
    }
    if (s == META_OK) {
        used = ids_sorted(o->extents, o->nextents, &fail);
        if (fail) s = META_ERROR;
    }
    for (int i = 0; i < nparts && s == META_OK; i++)
        if (!id_find(used, o->nextents, parts[i])) s = queue_blob(c, parts[i]);
    if (s == META_OK) s = object_expected(c, bucket, u.key, x);
    if (s == META_OK) s = upload_delete_rows(c, bucket, o->key, upload_id);
    if (s == META_OK) {
        meta_object obj = *o;
        s = object_write(c, bucket, &obj);
    }
    s = w_end(c, s);
    free(parts);
    free(used);
    arena_free(a);
    return s;
}

meta_status meta_upload_abort(meta_store *m, const char *bucket, const char *key,
                              const char *upload_id)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    blob_id_t *parts = NULL;
    int nparts = 0;
    s = upload_read(c, bucket, key, upload_id, NULL, NULL);
    if (s == META_OK) s = upload_part_blobs(c, upload_id, &parts, &nparts);
    for (int i = 0; i < nparts && s == META_OK; i++) s = queue_blob(c, parts[i]);
    if (s == META_OK) s = upload_delete_rows(c, bucket, key, upload_id);
    free(parts);
    return w_end(c, s);
}

typedef struct up_entry {
    const char *cp;
    meta_upload u;
} up_entry;

static void upload_from_row(arena *a, sqlite3_stmt *st, meta_upload *u)
{
    u->key = arena_col(a, st, 0);
    copy_col(st, 1, u->upload_id, sizeof u->upload_id);
    u->initiated_ms = sqlite3_column_int64(st, 2);
    copy_col(st, 3, u->storage_class, sizeof u->storage_class);
    copy_col(st, 4, u->owner, sizeof u->owner);
}

/* Uploads of key_marker itself whose ids come after upload_id_marker (as strings, as S3
 * defines it), appended to the page. The marker upload need not exist: a client that aborts
 * each page's uploads before asking for the next names one that is gone, and the key's later
 * uploads must still come. */
static meta_status upload_list_same_key(conn *c, const char *bucket, const char *key,
                                        const char *id_marker, int max, arena *a,
                                        up_entry **ent, int *n, int *cap, bool *more)
{
    meta_status s = META_OK;
    sqlite3_stmt *st = stmt(c, ST_UP_LIST_SAME_KEY);
    if (!st) return META_ERROR;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    bind_key(st, 2, key);
    bind_text(st, 3, id_marker);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        scan_rows++;
        if (*n == max) {
            *more = true;
            break;
        }
        *ent = grow(a, *ent, *n, cap, sizeof **ent);
        upload_from_row(a, st, &(*ent)[(*n)++].u);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = db_fail(c, "list uploads");
    sqlite3_reset(st);
    return s;
}

meta_status meta_upload_list(meta_store *m, const char *bucket, const meta_upload_query *q,
                             arena *a, meta_upload_fn fn, void *cls, bool *truncated)
{
    const char *prefix = q->prefix ? q->prefix : "";
    const char *delim = q->delimiter ? q->delimiter : "";
    const char *kmark = q->key_marker ? q->key_marker : "";
    const char *idmark = q->upload_id_marker ? q->upload_id_marker : "";
    if (truncated) *truncated = false;
    conn *c = conn_get(m);
    if (!c) return META_ERROR;

    unsigned char *lo = NULL, *hi = NULL;
    size_t lolen;
    bool in_prefix;
    if (q->max <= 0 || !list_lower_bound(prefix, delim, kmark, &lo, &lolen, &in_prefix))
        return META_OK;

    meta_status s = tx_begin(c, false);
    up_entry *ent = NULL;
    int n = 0, cap = 0;
    bool more = false;
    size_t plen = strlen(prefix);
    /* With both markers, the marker key's later uploads come first — unless that key folds
     * into a common prefix, which the previous page has already returned whole. */
    if (s == META_OK && *kmark && *idmark && !in_prefix && strncmp(kmark, prefix, plen) == 0)
        s = upload_list_same_key(c, bucket, kmark, idmark, q->max, a, &ent, &n, &cap, &more);
    scan sc;
    if (s == META_OK && !more &&
        !scan_start(c, &sc, ST_UP_LIST_OPEN, ST_UP_LIST_RANGE, bucket, prefix, delim, lo, lolen,
                    &hi))
        s = META_ERROR;
    while (s == META_OK && !more) {
        const char *cp = NULL;
        int r = scan_next(c, &sc, a, &cp);
        if (r == SCAN_END) break;
        if (r == SCAN_ERR) {
            s = META_ERROR;
            break;
        }
        if (n == q->max) {
            more = true;
            break;
        }
        ent = grow(a, ent, n, &cap, sizeof *ent);
        up_entry *e = &ent[n++];
        if (r == SCAN_PREFIX) e->cp = cp;
        else upload_from_row(a, sc.st, &e->u);
    }
    s = tx_end(c, s);
    free(lo);
    free(hi);
    if (s != META_OK) return s;
    for (int i = 0; i < n; i++) fn(cls, ent[i].cp, ent[i].cp ? NULL : &ent[i].u);
    if (truncated) *truncated = more;
    return META_OK;
}

/* --- identities and permissions (IAM) ---------------------------------------------------- */

/* Steps an insert: META_EXISTS when a uniqueness constraint refuses the row. */
static meta_status run_insert(conn *c, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    meta_status s = rc == SQLITE_DONE         ? META_OK
                    : rc == SQLITE_CONSTRAINT ? META_EXISTS
                                              : db_fail(c, what);
    sqlite3_reset(st);
    return s;
}

/* Steps an update or delete of one row: META_NOT_FOUND when there was no row to change. */
static meta_status run_one(conn *c, sqlite3_stmt *st, const char *what)
{
    meta_status s = run(c, st, what);
    if (s == META_OK && sqlite3_changes(c->db) == 0) s = META_NOT_FOUND;
    return s;
}

/* Runs statement id with ?1 = a and (when b is not NULL) ?2 = b, expecting no rows. */
static meta_status run_text(conn *c, int id, const char *a, const char *b)
{
    sqlite3_stmt *st = stmt(c, id);
    if (!st) return META_ERROR;
    bind_text(st, 1, a);
    if (b) bind_text(st, 2, b);
    return run(c, st, statement_sql[id]);
}

/* Runs statement id (an update or delete of one row) with ?1 = key and ?2 = flag. */
static meta_status run_flag(conn *c, int id, const char *key, bool flag)
{
    sqlite3_stmt *st = stmt(c, id);
    if (!st) return META_ERROR;
    bind_text(st, 1, key);
    sqlite3_bind_int(st, 2, flag);
    return run_one(c, st, statement_sql[id]);
}

/* A change of one row by key and flag, in its own transaction. */
static meta_status iam_set_flag(meta_store *m, int id, const char *key, bool flag)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    return iam_commit(c, run_flag(c, id, key, flag));
}

/* A delete of one row by key, in its own transaction. */
static meta_status iam_delete_one(meta_store *m, int id, const char *key)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    sqlite3_stmt *st = stmt(c, id);
    if (!st) s = META_ERROR;
    else {
        bind_text(st, 1, key);
        s = run_one(c, st, statement_sql[id]);
    }
    return iam_commit(c, s);
}

/* Every row's column 0 of the statement (bound by the caller), as arena strings. */
static meta_status read_names(conn *c, sqlite3_stmt *st, arena *a, const char ***out, int *n)
{
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *out = grow(a, *out, *n, &cap, sizeof **out);
        (*out)[(*n)++] = arena_col(a, st, 0);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? META_OK : db_fail(c, "list names");
}

static void user_from_row(sqlite3_stmt *st, meta_user *u)
{
    copy_col(st, 0, u->name, sizeof u->name);
    copy_col(st, 1, u->id, sizeof u->id);
    u->disabled = sqlite3_column_int(st, 2) != 0;
    u->created_ms = sqlite3_column_int64(st, 3);
}

/* Reads the user (out may be NULL): the name as it was created comes back in out->name. */
static meta_status user_read(conn *c, const char *name, meta_user *out)
{
    sqlite3_stmt *st = stmt(c, ST_USER_GET);
    if (!st) return META_ERROR;
    bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    meta_status s = META_OK;
    if (rc == SQLITE_ROW) {
        if (out) user_from_row(st, out);
    } else {
        s = rc == SQLITE_DONE ? META_NOT_FOUND : db_fail(c, "read user");
    }
    sqlite3_reset(st);
    return s;
}

meta_status meta_user_create(meta_store *m, const meta_user *u)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    sqlite3_stmt *st = stmt(c, ST_USER_INSERT);
    if (!st) s = META_ERROR;
    else {
        bind_text(st, 1, u->name);
        bind_text(st, 2, u->id);
        sqlite3_bind_int(st, 3, u->disabled);
        sqlite3_bind_int64(st, 4, u->created_ms);
        s = run_insert(c, st, "create user");
    }
    return iam_commit(c, s);
}

meta_status meta_user_get(meta_store *m, const char *name, meta_user *out)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    meta_status s = user_read(c, name, out);
    release(c);
    return s;
}

meta_status meta_user_set_disabled(meta_store *m, const char *name, bool disabled)
{
    return iam_set_flag(m, ST_USER_SET_DISABLED, name, disabled);
}

meta_status meta_user_delete(meta_store *m, const char *name)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    meta_user u;
    s = user_read(c, name, &u);
    if (s == META_OK) s = run_text(c, ST_USER_KEYS_DELETE, u.name, NULL);
    if (s == META_OK) s = run_text(c, ST_USER_DETACH_ALL, u.name, NULL);
    if (s == META_OK) s = run_text(c, ST_USER_DELETE, u.name, NULL);
    return iam_commit(c, s);
}

meta_status meta_user_list(meta_store *m, meta_user_fn fn, void *cls)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    sqlite3_stmt *st = stmt(c, ST_USER_LIST);
    if (!st) return META_ERROR;
    /* Collected first, so the callback runs with no statement open and may call back in. */
    arena *a = arena_new(4096);
    meta_user *all = NULL;
    int n = 0, cap = 0, rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        all = grow(a, all, n, &cap, sizeof *all);
        user_from_row(st, &all[n++]);
    }
    meta_status s = rc == SQLITE_DONE ? META_OK : db_fail(c, "list users");
    release(c);
    if (s == META_OK)
        for (int i = 0; i < n; i++) fn(cls, &all[i]);
    arena_free(a);
    return s;
}

/* A row of KEY_COLS. */
static void key_from_row(sqlite3_stmt *st, meta_key *k)
{
    copy_col(st, 0, k->access_key, sizeof k->access_key);
    copy_col(st, 1, k->secret, sizeof k->secret);
    copy_col(st, 2, k->user, sizeof k->user);
    k->disabled = sqlite3_column_int(st, 3) != 0;
    k->created_ms = sqlite3_column_int64(st, 4);
    k->user_disabled = sqlite3_column_int(st, 5) != 0;
    copy_col(st, 6, k->user_id, sizeof k->user_id);
}

meta_status meta_key_create(meta_store *m, const meta_key *k)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    meta_user u;
    s = user_read(c, k->user, &u);
    sqlite3_stmt *st = NULL;
    if (s == META_OK && !(st = stmt(c, ST_KEY_INSERT))) s = META_ERROR;
    if (s == META_OK) {
        bind_text(st, 1, k->access_key);
        bind_text(st, 2, k->secret);
        bind_text(st, 3, u.name);
        sqlite3_bind_int(st, 4, k->disabled);
        sqlite3_bind_int64(st, 5, k->created_ms);
        s = run_insert(c, st, "create access key");
    }
    return iam_commit(c, s);
}

meta_status meta_key_get(meta_store *m, const char *access_key, meta_key *out)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    sqlite3_stmt *st = stmt(c, ST_KEY_GET);
    if (!st) return META_ERROR;
    bind_text(st, 1, access_key);
    int rc = sqlite3_step(st);
    meta_status s = META_OK;
    if (rc == SQLITE_ROW) key_from_row(st, out);
    else s = rc == SQLITE_DONE ? META_NOT_FOUND : db_fail(c, "read access key");
    release(c);
    return s;
}

meta_status meta_key_set_disabled(meta_store *m, const char *access_key, bool disabled)
{
    return iam_set_flag(m, ST_KEY_SET_DISABLED, access_key, disabled);
}

meta_status meta_key_delete(meta_store *m, const char *access_key)
{
    return iam_delete_one(m, ST_KEY_DELETE, access_key);
}

meta_status meta_key_list(meta_store *m, const char *user, meta_key_fn fn, void *cls)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    /* One snapshot for "the user exists" and its keys. */
    meta_status s = tx_begin(c, false);
    if (s != META_OK) return s;
    if (user) s = user_read(c, user, NULL);
    sqlite3_stmt *st = NULL;
    if (s == META_OK && !(st = stmt(c, user ? ST_KEY_LIST_USER : ST_KEY_LIST))) s = META_ERROR;
    arena *a = arena_new(4096);
    meta_key *all = NULL;
    int n = 0, cap = 0;
    if (s == META_OK) {
        if (user) bind_text(st, 1, user);
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            all = grow(a, all, n, &cap, sizeof *all);
            key_from_row(st, &all[n++]);
        }
        if (rc != SQLITE_DONE) s = db_fail(c, "list access keys");
    }
    s = tx_end(c, s);
    if (s == META_OK)
        for (int i = 0; i < n; i++) fn(cls, &all[i]);
    arena_free(a);
    return s;
}

/* Reads the managed policy: its name as created into *canon and its text into *json (either
 * may be NULL; both arena strings). */
static meta_status policy_read(conn *c, const char *name, arena *a, const char **canon,
                               const char **json)
{
    sqlite3_stmt *st = stmt(c, ST_POLICY_GET);
    if (!st) return META_ERROR;
    bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    meta_status s = META_OK;
    if (rc == SQLITE_ROW) {
        if (canon) *canon = arena_col(a, st, 0);
        if (json) *json = arena_col(a, st, 1);
    } else {
        s = rc == SQLITE_DONE ? META_NOT_FOUND : db_fail(c, "read policy");
    }
    sqlite3_reset(st);
    return s;
}

meta_status meta_policy_put(meta_store *m, const char *name, const char *json)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    return iam_commit(c, run_text(c, ST_POLICY_PUT, name, json ? json : ""));
}

meta_status meta_policy_get(meta_store *m, const char *name, arena *a, const char **json)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    meta_status s = policy_read(c, name, a, NULL, json);
    release(c);
    return s;
}

meta_status meta_policy_delete(meta_store *m, const char *name)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    s = policy_read(c, name, NULL, NULL, NULL);
    bool attached = false;
    if (s == META_OK) s = has_row(c, ST_POLICY_ATTACHED, name, &attached);
    if (s == META_OK && attached) s = META_NOT_EMPTY;
    if (s == META_OK) s = run_text(c, ST_POLICY_DELETE, name, NULL);
    return iam_commit(c, s);
}

/* Calls fn with every name statement id returns (?1 bound to arg when not NULL) after the read
 * has finished; with a user to check first (in the same snapshot) when user is not NULL. */
static meta_status list_names(meta_store *m, int id, const char *user, meta_name_fn fn,
                              void *cls)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    meta_status s = tx_begin(c, false);
    if (s != META_OK) return s;
    if (user) s = user_read(c, user, NULL);
    sqlite3_stmt *st = NULL;
    if (s == META_OK && !(st = stmt(c, id))) s = META_ERROR;
    arena *a = arena_new(1024);
    const char **names = NULL;
    int n = 0;
    if (s == META_OK) {
        if (user) bind_text(st, 1, user);
        s = read_names(c, st, a, &names, &n);
    }
    s = tx_end(c, s);
    if (s == META_OK)
        for (int i = 0; i < n; i++) fn(cls, names[i]);
    arena_free(a);
    return s;
}

meta_status meta_policy_list(meta_store *m, meta_name_fn fn, void *cls)
{
    return list_names(m, ST_POLICY_LIST, NULL, fn, cls);
}

meta_status meta_user_policies(meta_store *m, const char *user, meta_name_fn fn, void *cls)
{
    return list_names(m, ST_USER_POLICIES, user ? user : "", fn, cls);
}

meta_status meta_policy_attach(meta_store *m, const char *user, const char *policy, bool builtin)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    arena *a = arena_new(256);
    meta_user u;
    const char *name = policy ? policy : "";
    s = user_read(c, user, &u);
    /* Recorded under the names as created, so listings show one spelling. */
    if (s == META_OK && !builtin) s = policy_read(c, policy, a, &name, NULL);
    if (s == META_OK) s = run_text(c, ST_ATTACH, u.name, name);
    s = iam_commit(c, s);
    arena_free(a);
    return s;
}

meta_status meta_policy_detach(meta_store *m, const char *user, const char *policy)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    sqlite3_stmt *st = stmt(c, ST_DETACH);
    if (!st) s = META_ERROR;
    else {
        bind_text(st, 1, user);
        bind_text(st, 2, policy);
        s = run_one(c, st, "detach policy");
    }
    return iam_commit(c, s);
}

meta_status meta_bucket_policy_put(meta_store *m, const char *bucket, const char *json)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    /* Checked inside the transaction so a concurrent bucket delete cannot strand the row. */
    s = bucket_exists(c, bucket);
    if (s == META_OK) s = run_text(c, ST_BPOLICY_PUT, bucket, json ? json : "");
    return iam_commit(c, s);
}

meta_status meta_bucket_policy_get(meta_store *m, const char *bucket, arena *a,
                                   const char **json)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    sqlite3_stmt *st = stmt(c, ST_BPOLICY_GET);
    if (!st) return META_ERROR;
    bind_text(st, 1, bucket);
    int rc = sqlite3_step(st);
    meta_status s = META_OK;
    if (rc == SQLITE_ROW) *json = arena_col(a, st, 0);
    else s = rc == SQLITE_DONE ? META_NOT_FOUND : db_fail(c, "read bucket policy");
    release(c);
    return s;
}

meta_status meta_bucket_policy_delete(meta_store *m, const char *bucket)
{
    return iam_delete_one(m, ST_BPOLICY_DELETE, bucket);
}

meta_status meta_bucket_set_acl(meta_store *m, const char *bucket, const char *acl)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    sqlite3_stmt *st = stmt(c, ST_BUCKET_SET_ACL);
    if (!st) s = META_ERROR;
    else {
        bind_text(st, 1, bucket);
        bind_text(st, 2, acl_or_default(acl));
        s = run_one(c, st, "set bucket acl");
    }
    return iam_commit(c, s);
}

/* --- lifecycle -------------------------------------------------------------------------- */

meta_status meta_lifecycle_put(meta_store *m, const char *bucket, const char *document)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    /* Checked inside the transaction so a concurrent bucket delete cannot strand the row. */
    s = bucket_exists(c, bucket);
    if (s == META_OK) s = run_text(c, ST_LC_PUT, bucket, document ? document : "");
    s = w_end(c, s);
    atomic_fetch_add(&m->lc_gen, 1);
    return s;
}

uint64_t meta_lifecycle_generation(meta_store *m) { return atomic_load(&m->lc_gen); }

meta_status meta_lifecycle_get(meta_store *m, const char *bucket, arena *a, const char **document)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    sqlite3_stmt *st = stmt(c, ST_LC_GET);
    if (!st) return META_ERROR;
    bind_text(st, 1, bucket);
    int rc = sqlite3_step(st);
    meta_status s = META_OK;
    if (rc == SQLITE_ROW) *document = arena_col(a, st, 0);
    else s = rc == SQLITE_DONE ? META_NOT_FOUND : db_fail(c, "read lifecycle");
    release(c);
    return s;
}

meta_status meta_lifecycle_delete(meta_store *m, const char *bucket)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    sqlite3_stmt *st = stmt(c, ST_LC_DELETE);
    if (!st) s = META_ERROR;
    else {
        bind_text(st, 1, bucket);
        s = run_one(c, st, "delete lifecycle");
    }
    s = w_end(c, s);
    atomic_fetch_add(&m->lc_gen, 1);
    return s;
}

meta_status meta_lifecycle_list(meta_store *m, const char *after, int max, arena *a, meta_lifecycle_fn fn,
                                void *cls)
{
    conn *c = conn_get(m);
    if (!c) return META_ERROR;
    sqlite3_stmt *st = stmt(c, ST_LC_LIST);
    if (!st) return META_ERROR;
    bind_text(st, 1, after);
    sqlite3_bind_int(st, 2, max);
    meta_lifecycle *all = arena_alloc(a, (size_t)(max > 0 ? max : 1) * sizeof *all);
    int n = 0, rc = SQLITE_DONE;
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        meta_lifecycle *l = &all[n++];
        l->bucket = arena_col(a, st, 0);
        l->document = arena_col(a, st, 1);
        l->cursor = arena_col(a, st, 2);
        l->pass_started_ms = sqlite3_column_int64(st, 3);
    }
    meta_status s = META_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = db_fail(c, "list lifecycle");
    release(c);
    if (s == META_OK)
        for (int i = 0; i < n; i++) fn(cls, &all[i]);
    return s;
}

meta_status meta_lifecycle_set_cursor(meta_store *m, const char *bucket, const char *cursor,
                                      int64_t pass_started_ms)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    sqlite3_stmt *st = stmt(c, ST_LC_SET_CURSOR);
    if (!st) s = META_ERROR;
    else {
        bind_text(st, 1, bucket);
        bind_key(st, 2, cursor);
        sqlite3_bind_int64(st, 3, pass_started_ms);
        s = run_one(c, st, "set lifecycle cursor");
    }
    return w_end(c, s);
}

/* META_OK when (bucket, key) is still the version (etag, mtime_ms) — any version when etag is
 * NULL — else META_NOT_FOUND. */
static meta_status object_is_version(conn *c, const char *bucket, const char *key, const char *etag,
                                     int64_t mtime_ms)
{
    sqlite3_stmt *st = stmt(c, ST_OBJ_VERSION);
    if (!st) return META_ERROR;
    sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
    bind_key(st, 2, key);
    int rc = sqlite3_step(st);
    meta_status s;
    if (rc == SQLITE_ROW) {
        const char *e = (const char *)sqlite3_column_text(st, 0);
        s = !etag || (e && !strcmp(e, etag) && sqlite3_column_int64(st, 1) == mtime_ms) ? META_OK : META_NOT_FOUND;
    } else {
        s = rc == SQLITE_DONE ? META_NOT_FOUND : db_fail(c, "read object version");
    }
    sqlite3_reset(st);
    return s;
}

meta_status meta_object_delete_if(meta_store *m, const char *bucket, const char *key, const char *etag,
                                  int64_t mtime_ms)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    bool found;
    s = object_is_version(c, bucket, key, etag, mtime_ms);
    if (s == META_OK) s = object_release_blobs(c, bucket, key, NULL, 0, &found);
    if (s == META_OK) {
        sqlite3_stmt *st = stmt(c, ST_OBJ_DELETE);
        if (!st) s = META_ERROR;
        else {
            sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
            bind_key(st, 2, key);
            s = run(c, st, "delete object");
        }
    }
    return w_end(c, s);
}

meta_status meta_object_set_restore(meta_store *m, const char *bucket, const char *key, const char *etag,
                                    int64_t mtime_ms, int64_t old_ready_ms, int64_t ready_ms, int64_t expiry_ms)
{
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    sqlite3_stmt *st = stmt(c, ST_OBJ_SET_RESTORE);
    if (!st) s = META_ERROR;
    else {
        sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
        bind_key(st, 2, key);
        bind_text(st, 3, etag);
        sqlite3_bind_int64(st, 4, mtime_ms);
        sqlite3_bind_int64(st, 5, old_ready_ms);
        sqlite3_bind_int64(st, 6, ready_ms);
        sqlite3_bind_int64(st, 7, expiry_ms);
        s = run_one(c, st, "set object restore");
    }
    return w_end(c, s);
}

meta_status meta_object_set_class(meta_store *m, const char *bucket, const char *key, const char *etag,
                                  int64_t mtime_ms, const char *storage_class, const meta_extent *ext, int n)
{
    if (ext && n <= 0) return META_ERROR;
    conn *c;
    meta_status s = w_begin(m, &c);
    if (s != META_OK) return s;
    unsigned char *raw = NULL;
    s = object_is_version(c, bucket, key, etag, mtime_ms);
    if (s == META_OK && ext) {
        bool fail, found;
        blob_id_t *keep = ids_sorted(ext, n, &fail);
        s = fail ? META_ERROR : object_release_blobs(c, bucket, key, keep, n, &found);
        free(keep);
        if (s == META_OK && !(raw = malloc((size_t)n * EXT_REC))) s = META_ERROR;
        if (s == META_OK) extents_encode(ext, n, raw);
    }
    sqlite3_stmt *st = NULL;
    if (s == META_OK && !(st = stmt(c, ext ? ST_OBJ_SET_CLASS_EXT : ST_OBJ_SET_CLASS))) s = META_ERROR;
    if (s == META_OK) {
        sqlite3_bind_text(st, 1, bucket, -1, SQLITE_STATIC);
        bind_key(st, 2, key);
        bind_text(st, 3, etag);
        sqlite3_bind_int64(st, 4, mtime_ms);
        bind_text(st, 5, storage_class);
        if (ext) sqlite3_bind_blob(st, 6, raw, n * EXT_REC, SQLITE_STATIC);
        s = run_one(c, st, "set object class");
    }
    for (int i = 0; ext && i < n && s == META_OK; i++) s = ref_add(c, ext[i].blob_id);
    s = w_end(c, s);
    free(raw);
    return s;
}

typedef struct due_entry {
    const char *bucket;
    meta_object o;
} due_entry;

meta_status meta_object_due(meta_store *m, int64_t now_ms, int max, arena *a, meta_due_fn fn, void *cls)
{
    conn *c = conn_get(m);
    if (!c || max <= 0) return c ? META_OK : META_ERROR;
    sqlite3_stmt *st = stmt(c, ST_OBJ_DUE);
    if (!st) return META_ERROR;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int(st, 2, max);
    due_entry *all = arena_alloc(a, (size_t)max * sizeof *all);
    int n = 0, rc = SQLITE_DONE;
    while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        due_entry *d = &all[n++];
        d->bucket = arena_col(a, st, 0);
        d->o.key = arena_col(a, st, 1);
        copy_col(st, 2, d->o.etag, sizeof d->o.etag);
        d->o.mtime_ms = sqlite3_column_int64(st, 3);
        d->o.expire_ms = sqlite3_column_int64(st, 4);
    }
    meta_status s = META_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = db_fail(c, "read due objects");
    release(c);
    if (s == META_OK)
        for (int i = 0; i < n; i++) fn(cls, all[i].bucket, &all[i].o);
    return s;
}

/* --- garbage ----------------------------------------------------------------------------- */

int meta_gc_take(meta_store *m, char (*ids)[META_BLOB_ID_LEN + 1], int max)
{
    conn *c;
    if (max <= 0 || w_begin(m, &c) != META_OK) return 0;
    sqlite3_stmt *st = stmt(c, ST_GC_PEEK);
    meta_status s = st ? META_OK : META_ERROR;
    int n = 0, rc = SQLITE_DONE;
    if (st) {
        sqlite3_bind_int(st, 1, max);
        while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW)
            copy_col(st, 0, ids[n++], sizeof ids[0]);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) s = db_fail(c, "read gc queue");
        sqlite3_reset(st);
    }
    for (int i = 0; i < n && s == META_OK; i++) {
        if (!(st = stmt(c, ST_GC_DELETE))) s = META_ERROR;
        else {
            bind_text(st, 1, ids[i]);
            s = run(c, st, "take from gc queue");
        }
    }
    return w_end(c, s) == META_OK ? n : 0;
}

bool meta_blob_referenced(meta_store *m, const char *blob_id)
{
    conn *c = conn_get(m);
    if (!c) return true;   /* when in doubt, keep the bytes */
    sqlite3_stmt *st = stmt(c, ST_REFERENCED);
    if (!st) return true;
    bind_text(st, 1, blob_id);
    int rc = sqlite3_step(st);
    bool ref = rc != SQLITE_ROW || sqlite3_column_int(st, 0) != 0;
    if (rc != SQLITE_ROW) db_fail(c, "check blob reference");
    release(c);
    return ref;
}
