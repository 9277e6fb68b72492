/* test_meta_iam — the SQLite metadata driver's identities and permissions against meta.h:
 * users, access keys, managed policies and attachments, bucket policies and ACLs, the IAM
 * generation, and the schema upgrade from version 1 that brought them.
 *
 * Each test gets a fresh store in a temporary directory with one bucket, "b". The upgrade
 * tests write a version-1 database with raw SQLite, as a wosd of that version left it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/meta.h"
#include "util/arena.h"

typedef struct fixture {
    char dir[64];
    char db[96];
    meta_store *m;
    arena *a;
} fixture;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    return remove(path);
}

static meta_status bucket_add(meta_store *m, const char *name, const char *acl)
{
    meta_bucket b = {.owner = "AK1", .region = "r1", .storage_class = "STANDARD",
                     .created_ms = 1000};
    snprintf(b.name, sizeof b.name, "%s", name);
    snprintf(b.acl, sizeof b.acl, "%s", acl);
    return meta_bucket_create(m, &b, NULL);
}

/* The directory only, for the upgrade tests that build the database themselves. */
static int setup_dir(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/wosd-test-meta-iam-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->db, sizeof f->db, "%s/meta.db", f->dir);
    f->a = arena_new(4096);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    if (setup_dir(state)) return -1;
    fixture *f = *state;
    meta_options opt = {.durable = false};
    if (meta_open(f->dir, &opt, &f->m) != META_OK) return -1;
    if (bucket_add(f->m, "b", "") != META_OK) return -1;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    meta_close(f->m);
    arena_free(f->a);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static meta_status user_add(meta_store *m, const char *name, const char *id)
{
    meta_user u = {.created_ms = 7};
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.id, sizeof u.id, "%s", id);
    return meta_user_create(m, &u);
}

static meta_status key_add(meta_store *m, const char *ak, const char *sk, const char *user)
{
    meta_key k = {.created_ms = 9};
    snprintf(k.access_key, sizeof k.access_key, "%s", ak);
    snprintf(k.secret, sizeof k.secret, "%s", sk);
    snprintf(k.user, sizeof k.user, "%s", user);
    return meta_key_create(m, &k);
}

/* Callbacks that append "a,b,c" to a 1 KiB buffer. */
typedef struct text {
    char s[1024];
} text;

static void add(text *t, const char *item)
{
    size_t n = strlen(t->s);
    snprintf(t->s + n, sizeof t->s - n, "%s%s", n ? "," : "", item);
}

static void on_name(void *cls, const char *name) { add(cls, name); }
static void on_user(void *cls, const meta_user *u)
{
    char item[128];
    snprintf(item, sizeof item, "%s%s", u->name, u->disabled ? "(off)" : "");
    add(cls, item);
}
static void on_key(void *cls, const meta_key *k)
{
    char item[512];
    snprintf(item, sizeof item, "%s:%s%s%s", k->access_key, k->user, k->disabled ? "(off)" : "",
             k->secret[0] ? "(SECRET)" : "");
    add(cls, item);
}

static const char *users(fixture *f)
{
    static text t;
    memset(&t, 0, sizeof t);
    assert_int_equal(meta_user_list(f->m, on_user, &t), META_OK);
    return t.s;
}

static const char *keys(fixture *f, const char *user)
{
    static text t;
    memset(&t, 0, sizeof t);
    assert_int_equal(meta_key_list(f->m, user, on_key, &t), META_OK);
    return t.s;
}

static const char *attached(fixture *f, const char *user)
{
    static text t;
    memset(&t, 0, sizeof t);
    assert_int_equal(meta_user_policies(f->m, user, on_name, &t), META_OK);
    return t.s;
}

static const char *policies(fixture *f)
{
    static text t;
    memset(&t, 0, sizeof t);
    assert_int_equal(meta_policy_list(f->m, on_name, &t), META_OK);
    return t.s;
}

/* --- users ------------------------------------------------------------------------------- */

static void test_user_crud(void **state)
{
    fixture *f = *state;
    assert_string_equal(users(f), "");
    assert_int_equal(user_add(f->m, "carol", "id-c"), META_OK);
    assert_int_equal(user_add(f->m, "Alice", "id-a"), META_OK);
    assert_int_equal(user_add(f->m, "bob", "id-b"), META_OK);

    meta_user u;
    memset(&u, 0, sizeof u);
    assert_int_equal(meta_user_get(f->m, "Alice", &u), META_OK);
    assert_string_equal(u.name, "Alice");
    assert_string_equal(u.id, "id-a");
    assert_false(u.disabled);
    assert_int_equal(u.created_ms, 7);
    /* Names ignore ASCII case, as AWS IAM's do; the spelling of creation comes back. */
    assert_int_equal(meta_user_get(f->m, "ALICE", &u), META_OK);
    assert_string_equal(u.name, "Alice");
    assert_int_equal(meta_user_get(f->m, "alice", NULL), META_OK);
    assert_int_equal(user_add(f->m, "alice", "id-x"), META_EXISTS);
    /* The id is unique too. */
    assert_int_equal(user_add(f->m, "dave", "id-a"), META_EXISTS);
    assert_int_equal(meta_user_get(f->m, "dave", &u), META_NOT_FOUND);
    assert_int_equal(meta_user_get(f->m, "", &u), META_NOT_FOUND);
    assert_int_equal(meta_user_get(f->m, NULL, &u), META_NOT_FOUND);

    /* Name order, case-insensitive. */
    assert_string_equal(users(f), "Alice,bob,carol");

    assert_int_equal(meta_user_set_disabled(f->m, "BOB", true), META_OK);
    assert_int_equal(meta_user_get(f->m, "bob", &u), META_OK);
    assert_true(u.disabled);
    assert_int_equal(meta_user_set_disabled(f->m, "bob", true), META_OK);   /* idempotent */
    assert_string_equal(users(f), "Alice,bob(off),carol");
    assert_int_equal(meta_user_set_disabled(f->m, "bob", false), META_OK);
    assert_int_equal(meta_user_get(f->m, "bob", &u), META_OK);
    assert_false(u.disabled);
    assert_int_equal(meta_user_set_disabled(f->m, "nobody", true), META_NOT_FOUND);

    /* Created disabled. */
    meta_user off = {.name = "eve", .id = "id-e", .disabled = true};
    assert_int_equal(meta_user_create(f->m, &off), META_OK);
    assert_int_equal(meta_user_get(f->m, "eve", &u), META_OK);
    assert_true(u.disabled);

    assert_int_equal(meta_user_delete(f->m, "CAROL"), META_OK);
    assert_int_equal(meta_user_get(f->m, "carol", &u), META_NOT_FOUND);
    assert_int_equal(meta_user_delete(f->m, "carol"), META_NOT_FOUND);
    assert_string_equal(users(f), "Alice,bob,eve(off)");
    /* A deleted user's name and id are free again. */
    assert_int_equal(user_add(f->m, "carol", "id-c"), META_OK);
}

/* --- access keys ------------------------------------------------------------------------- */

static void test_key_crud(void **state)
{
    fixture *f = *state;
    assert_int_equal(key_add(f->m, "AK-A1", "secret-a1", "alice"), META_NOT_FOUND);
    assert_int_equal(user_add(f->m, "Alice", "id-a"), META_OK);
    assert_int_equal(user_add(f->m, "bob", "id-b"), META_OK);
    /* The key records the user's name as created, whatever the spelling given. */
    assert_int_equal(key_add(f->m, "AK-A1", "secret-a1", "alice"), META_OK);
    assert_int_equal(key_add(f->m, "AK-A2", "secret-a2", "Alice"), META_OK);
    assert_int_equal(key_add(f->m, "AK-B1", "secret-b1", "bob"), META_OK);
    /* Taken, whoever asks; access keys compare exactly. */
    assert_int_equal(key_add(f->m, "AK-A1", "other", "bob"), META_EXISTS);
    assert_int_equal(key_add(f->m, "ak-a1", "lower", "bob"), META_OK);

    meta_key k;
    memset(&k, 0, sizeof k);
    assert_int_equal(meta_key_get(f->m, "AK-A1", &k), META_OK);
    assert_string_equal(k.access_key, "AK-A1");
    assert_string_equal(k.secret, "secret-a1");
    assert_string_equal(k.user, "Alice");
    assert_string_equal(k.user_id, "id-a");
    assert_false(k.disabled);
    assert_false(k.user_disabled);
    assert_int_equal(k.created_ms, 9);
    assert_int_equal(meta_key_get(f->m, "ak-a1", &k), META_OK);
    assert_string_equal(k.secret, "lower");
    assert_string_equal(k.user, "bob");
    assert_int_equal(meta_key_get(f->m, "AK-NONE", &k), META_NOT_FOUND);
    assert_int_equal(meta_key_get(f->m, "", &k), META_NOT_FOUND);

    /* A secret as long as the field holds comes back whole. */
    char ak[129], sk[129];
    memset(ak, 'K', 128);
    memset(sk, 'S', 128);
    ak[128] = sk[128] = 0;
    assert_int_equal(key_add(f->m, ak, sk, "bob"), META_OK);
    assert_int_equal(meta_key_get(f->m, ak, &k), META_OK);
    assert_string_equal(k.secret, sk);
    assert_int_equal(meta_key_delete(f->m, ak), META_OK);

    /* Disabled key, disabled user: returned, with the flags set. */
    assert_int_equal(meta_key_set_disabled(f->m, "AK-A2", true), META_OK);
    assert_int_equal(meta_key_get(f->m, "AK-A2", &k), META_OK);
    assert_true(k.disabled);
    assert_false(k.user_disabled);
    assert_int_equal(meta_user_set_disabled(f->m, "alice", true), META_OK);
    assert_int_equal(meta_key_get(f->m, "AK-A1", &k), META_OK);
    assert_false(k.disabled);
    assert_true(k.user_disabled);
    assert_int_equal(meta_user_set_disabled(f->m, "alice", false), META_OK);
    assert_int_equal(meta_key_get(f->m, "AK-A1", &k), META_OK);
    assert_false(k.user_disabled);
    assert_int_equal(meta_key_set_disabled(f->m, "AK-NONE", true), META_NOT_FOUND);

    /* Listings: access-key order, never a secret. */
    assert_string_equal(keys(f, NULL), "AK-A1:Alice,AK-A2:Alice(off),AK-B1:bob,ak-a1:bob");
    assert_string_equal(keys(f, "ALICE"), "AK-A1:Alice,AK-A2:Alice(off)");
    assert_string_equal(keys(f, "bob"), "AK-B1:bob,ak-a1:bob");
    text t = {{0}};
    assert_int_equal(meta_key_list(f->m, "nobody", on_key, &t), META_NOT_FOUND);
    assert_string_equal(t.s, "");

    assert_int_equal(meta_key_set_disabled(f->m, "AK-A2", false), META_OK);
    assert_int_equal(meta_key_delete(f->m, "AK-A2"), META_OK);
    assert_int_equal(meta_key_get(f->m, "AK-A2", &k), META_NOT_FOUND);
    assert_int_equal(meta_key_delete(f->m, "AK-A2"), META_NOT_FOUND);
    assert_string_equal(keys(f, "alice"), "AK-A1:Alice");
    assert_int_equal(user_add(f->m, "nokeys", "id-n"), META_OK);
    assert_string_equal(keys(f, "nokeys"), "");
}

/* --- managed policies and attachments ----------------------------------------------------- */

static const char *P1 = "{\"version\":\"1\",\"statement\":[{\"effect\":\"allow\","
                        "\"action\":[\"wos:Get*\"],\"resource\":[\"wsc:wos:*:*:b/*\"]}]}";
static const char *P2 = "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\","
                        "\"Action\":\"s3:*\",\"Resource\":\"*\"}]}";

static void test_policy_crud(void **state)
{
    fixture *f = *state;
    const char *json = NULL;
    assert_int_equal(meta_policy_get(f->m, "ReadB", f->a, &json), META_NOT_FOUND);
    assert_int_equal(meta_policy_put(f->m, "ReadB", P1), META_OK);
    assert_int_equal(meta_policy_put(f->m, "denyall", P2), META_OK);
    assert_int_equal(meta_policy_get(f->m, "ReadB", f->a, &json), META_OK);
    assert_string_equal(json, P1);
    assert_int_equal(meta_policy_get(f->m, "readb", f->a, &json), META_OK);
    assert_string_equal(json, P1);
    /* Replacing keeps the name's first spelling. */
    assert_int_equal(meta_policy_put(f->m, "READB", P2), META_OK);
    assert_int_equal(meta_policy_get(f->m, "ReadB", f->a, &json), META_OK);
    assert_string_equal(json, P2);
    assert_string_equal(policies(f), "denyall,ReadB");
    assert_int_equal(meta_policy_put(f->m, "ReadB", P1), META_OK);

    /* Built-ins are not stored: neither got nor listed. */
    assert_int_equal(meta_policy_get(f->m, "WSCloudWOSFullAccess", f->a, &json), META_NOT_FOUND);

    assert_int_equal(user_add(f->m, "alice", "id-a"), META_OK);
    assert_int_equal(user_add(f->m, "bob", "id-b"), META_OK);
    assert_int_equal(meta_policy_attach(f->m, "nobody", "ReadB", false), META_NOT_FOUND);
    assert_int_equal(meta_policy_attach(f->m, "nobody", "WSCloudWOSFullAccess", true),
                     META_NOT_FOUND);
    assert_int_equal(meta_policy_attach(f->m, "alice", "NoSuchPolicy", false), META_NOT_FOUND);
    /* A built-in attaches by name, without a stored policy. */
    assert_int_equal(meta_policy_attach(f->m, "alice", "WSCloudWOSReadOnlyAccess", true),
                     META_OK);
    assert_int_equal(meta_policy_attach(f->m, "alice", "readb", false), META_OK);
    /* Twice is fine, and is still one attachment, whatever the spelling. */
    assert_int_equal(meta_policy_attach(f->m, "ALICE", "ReadB", false), META_OK);
    assert_int_equal(meta_policy_attach(f->m, "alice", "WSCloudWOSReadOnlyAccess", true),
                     META_OK);
    assert_string_equal(attached(f, "alice"), "ReadB,WSCloudWOSReadOnlyAccess");
    assert_string_equal(attached(f, "Alice"), "ReadB,WSCloudWOSReadOnlyAccess");
    assert_string_equal(attached(f, "bob"), "");
    text t = {{0}};
    assert_int_equal(meta_user_policies(f->m, "nobody", on_name, &t), META_NOT_FOUND);
    assert_int_equal(meta_user_policies(f->m, NULL, on_name, &t), META_NOT_FOUND);
    assert_string_equal(t.s, "");

    /* Attached: cannot be deleted. */
    assert_int_equal(meta_policy_delete(f->m, "ReadB"), META_NOT_EMPTY);
    assert_int_equal(meta_policy_attach(f->m, "bob", "ReadB", false), META_OK);
    assert_int_equal(meta_policy_detach(f->m, "alice", "readb"), META_OK);
    assert_int_equal(meta_policy_delete(f->m, "ReadB"), META_NOT_EMPTY);   /* bob still */
    assert_int_equal(meta_policy_detach(f->m, "bob", "ReadB"), META_OK);
    assert_int_equal(meta_policy_detach(f->m, "bob", "ReadB"), META_NOT_FOUND);
    assert_int_equal(meta_policy_detach(f->m, "nobody", "ReadB"), META_NOT_FOUND);
    assert_int_equal(meta_policy_detach(f->m, "alice", "denyall"), META_NOT_FOUND);
    assert_int_equal(meta_policy_delete(f->m, "readb"), META_OK);
    assert_int_equal(meta_policy_delete(f->m, "ReadB"), META_NOT_FOUND);
    assert_int_equal(meta_policy_get(f->m, "ReadB", f->a, &json), META_NOT_FOUND);
    assert_string_equal(policies(f), "denyall");
    assert_string_equal(attached(f, "alice"), "WSCloudWOSReadOnlyAccess");
    assert_int_equal(meta_policy_detach(f->m, "alice", "WSCloudWOSReadOnlyAccess"), META_OK);
    assert_string_equal(attached(f, "alice"), "");

    /* A large text round-trips exactly. */
    size_t n = 20000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++) big[i] = (char)('a' + i % 26);
    big[n] = 0;
    assert_int_equal(meta_policy_put(f->m, "big", big), META_OK);
    assert_int_equal(meta_policy_get(f->m, "big", f->a, &json), META_OK);
    assert_string_equal(json, big);
    free(big);
}

static void test_user_delete_cascade(void **state)
{
    fixture *f = *state;
    assert_int_equal(user_add(f->m, "alice", "id-a"), META_OK);
    assert_int_equal(user_add(f->m, "bob", "id-b"), META_OK);
    assert_int_equal(meta_policy_put(f->m, "mine", P1), META_OK);
    assert_int_equal(meta_policy_put(f->m, "shared", P2), META_OK);
    assert_int_equal(key_add(f->m, "AK-A1", "s", "alice"), META_OK);
    assert_int_equal(key_add(f->m, "AK-A2", "s", "alice"), META_OK);
    assert_int_equal(key_add(f->m, "AK-B1", "s", "bob"), META_OK);
    assert_int_equal(meta_policy_attach(f->m, "alice", "mine", false), META_OK);
    assert_int_equal(meta_policy_attach(f->m, "alice", "shared", false), META_OK);
    assert_int_equal(meta_policy_attach(f->m, "alice", "WSCloudWOSFullAccess", true), META_OK);
    assert_int_equal(meta_policy_attach(f->m, "bob", "shared", false), META_OK);

    assert_int_equal(meta_user_delete(f->m, "Alice"), META_OK);
    meta_key k;
    assert_int_equal(meta_key_get(f->m, "AK-A1", &k), META_NOT_FOUND);
    assert_int_equal(meta_key_get(f->m, "AK-A2", &k), META_NOT_FOUND);
    assert_string_equal(keys(f, NULL), "AK-B1:bob");
    /* Alice's attachments went with her: "mine" is free to delete, "shared" is still bob's. */
    assert_int_equal(meta_policy_delete(f->m, "mine"), META_OK);
    assert_int_equal(meta_policy_delete(f->m, "shared"), META_NOT_EMPTY);
    assert_string_equal(attached(f, "bob"), "shared");
    assert_int_equal(meta_key_get(f->m, "AK-B1", &k), META_OK);

    /* A new user of the same name inherits nothing. */
    assert_int_equal(user_add(f->m, "alice", "id-a2"), META_OK);
    assert_string_equal(keys(f, "alice"), "");
    assert_string_equal(attached(f, "alice"), "");
    /* The old access keys are free again. */
    assert_int_equal(key_add(f->m, "AK-A1", "s2", "alice"), META_OK);
    assert_int_equal(meta_key_get(f->m, "AK-A1", &k), META_OK);
    assert_string_equal(k.user_id, "id-a2");
}

/* --- bucket policies and ACLs ------------------------------------------------------------ */

static void bucket_acls(void *cls, const meta_bucket *b)
{
    char item[128];
    snprintf(item, sizeof item, "%s=%s", b->name, b->acl);
    add(cls, item);
}

static void test_bucket_acl(void **state)
{
    fixture *f = *state;
    meta_bucket b;
    memset(&b, 0, sizeof b);
    assert_int_equal(meta_bucket_get(f->m, "b", &b), META_OK);
    assert_string_equal(b.acl, "private");   /* created with "" */
    assert_int_equal(bucket_add(f->m, "pub", "public-read"), META_OK);
    assert_int_equal(meta_bucket_get(f->m, "pub", &b), META_OK);
    assert_string_equal(b.acl, "public-read");

    assert_int_equal(meta_bucket_set_acl(f->m, "b", "authenticated-read"), META_OK);
    assert_int_equal(meta_bucket_get(f->m, "b", &b), META_OK);
    assert_string_equal(b.acl, "authenticated-read");
    assert_string_equal(b.owner, "AK1");   /* nothing else changed */
    assert_int_equal(meta_bucket_set_acl(f->m, "nope", "private"), META_NOT_FOUND);

    text t = {{0}};
    assert_int_equal(meta_bucket_list(f->m, bucket_acls, &t), META_OK);
    assert_string_equal(t.s, "b=authenticated-read,pub=public-read");

    /* The existing bucket comes back with its ACL. */
    meta_bucket again = {.name = "pub", .owner = "AK2"}, existing;
    memset(&existing, 0, sizeof existing);
    assert_int_equal(meta_bucket_create(f->m, &again, &existing), META_EXISTS);
    assert_string_equal(existing.acl, "public-read");

    assert_int_equal(meta_bucket_set_acl(f->m, "b", ""), META_OK);
    assert_int_equal(meta_bucket_get(f->m, "b", &b), META_OK);
    assert_string_equal(b.acl, "private");
    assert_int_equal(meta_bucket_set_acl(f->m, "b", NULL), META_OK);
    assert_int_equal(meta_bucket_get(f->m, "b", &b), META_OK);
    assert_string_equal(b.acl, "private");
}

static void test_bucket_policy(void **state)
{
    fixture *f = *state;
    const char *json = NULL;
    assert_int_equal(meta_bucket_policy_get(f->m, "b", f->a, &json), META_NOT_FOUND);
    assert_int_equal(meta_bucket_policy_put(f->m, "nope", P2), META_NOT_FOUND);
    assert_int_equal(meta_bucket_policy_get(f->m, "nope", f->a, &json), META_NOT_FOUND);
    assert_int_equal(meta_bucket_policy_put(f->m, "b", P1), META_OK);
    assert_int_equal(meta_bucket_policy_get(f->m, "b", f->a, &json), META_OK);
    assert_string_equal(json, P1);
    assert_int_equal(meta_bucket_policy_put(f->m, "b", P2), META_OK);
    assert_int_equal(meta_bucket_policy_get(f->m, "b", f->a, &json), META_OK);
    assert_string_equal(json, P2);
    assert_int_equal(meta_bucket_policy_delete(f->m, "b"), META_OK);
    assert_int_equal(meta_bucket_policy_get(f->m, "b", f->a, &json), META_NOT_FOUND);
    assert_int_equal(meta_bucket_policy_delete(f->m, "b"), META_NOT_FOUND);
    assert_int_equal(meta_bucket_policy_delete(f->m, "nope"), META_NOT_FOUND);
}

static meta_status put_object(meta_store *m, const char *bucket, const char *key)
{
    meta_object o = {.key = key, .size = 1, .inline_data = "x", .headers = ""};
    return meta_object_put(m, bucket, &o);
}

static void test_bucket_delete_cascade(void **state)
{
    fixture *f = *state;
    const char *json;
    assert_int_equal(bucket_add(f->m, "other", ""), META_OK);
    assert_int_equal(meta_bucket_policy_put(f->m, "b", P1), META_OK);
    assert_int_equal(meta_bucket_policy_put(f->m, "other", P2), META_OK);
    /* A bucket that cannot be deleted keeps its policy. */
    assert_int_equal(put_object(f->m, "b", "k"), META_OK);
    assert_int_equal(meta_bucket_delete(f->m, "b"), META_NOT_EMPTY);
    assert_int_equal(meta_bucket_policy_get(f->m, "b", f->a, &json), META_OK);
    assert_int_equal(meta_object_delete(f->m, "b", "k"), META_OK);

    assert_int_equal(meta_bucket_delete(f->m, "b"), META_OK);
    assert_int_equal(meta_bucket_policy_get(f->m, "b", f->a, &json), META_NOT_FOUND);
    /* Recreated, it starts without a policy and with the default ACL. */
    assert_int_equal(bucket_add(f->m, "b", ""), META_OK);
    assert_int_equal(meta_bucket_policy_get(f->m, "b", f->a, &json), META_NOT_FOUND);
    meta_bucket b;
    assert_int_equal(meta_bucket_get(f->m, "b", &b), META_OK);
    assert_string_equal(b.acl, "private");
    /* The other bucket's policy is untouched. */
    assert_int_equal(meta_bucket_policy_get(f->m, "other", f->a, &json), META_OK);
    assert_string_equal(json, P2);
}

/* --- generation -------------------------------------------------------------------------- */

/* Runs the expression and checks that the generation moved (moved = true) or did not. */
#define GEN_AFTER(f, moved, expr)                                                              \
    do {                                                                                       \
        uint64_t before_ = meta_iam_generation((f)->m);                                       \
        (void)(expr);                                                                          \
        uint64_t after_ = meta_iam_generation((f)->m);                                        \
        if (moved) assert_true(after_ > before_);                                             \
        else assert_true(after_ == before_);                                                   \
    } while (0)

static void on_nothing_user(void *cls, const meta_user *u) { (void)cls; (void)u; }
static void on_nothing_key(void *cls, const meta_key *k) { (void)cls; (void)k; }
static void on_nothing_name(void *cls, const char *n) { (void)cls; (void)n; }

static void test_generation(void **state)
{
    fixture *f = *state;
    meta_user u;
    meta_key k;
    meta_bucket b;
    const char *json;
    /* Every committed change moves it. */
    GEN_AFTER(f, true, user_add(f->m, "alice", "id-a"));
    GEN_AFTER(f, true, meta_user_set_disabled(f->m, "alice", true));
    GEN_AFTER(f, true, meta_user_set_disabled(f->m, "alice", false));
    GEN_AFTER(f, true, key_add(f->m, "AK1", "s", "alice"));
    GEN_AFTER(f, true, meta_key_set_disabled(f->m, "AK1", true));
    GEN_AFTER(f, true, meta_policy_put(f->m, "p", P1));
    GEN_AFTER(f, true, meta_policy_put(f->m, "p", P2));
    GEN_AFTER(f, true, meta_policy_attach(f->m, "alice", "p", false));
    GEN_AFTER(f, true, meta_policy_attach(f->m, "alice", "WSCloudWOSFullAccess", true));
    GEN_AFTER(f, true, meta_policy_detach(f->m, "alice", "p"));
    GEN_AFTER(f, true, meta_policy_delete(f->m, "p"));
    GEN_AFTER(f, true, meta_bucket_policy_put(f->m, "b", P1));
    GEN_AFTER(f, true, meta_bucket_policy_delete(f->m, "b"));
    GEN_AFTER(f, true, meta_bucket_set_acl(f->m, "b", "public-read"));
    GEN_AFTER(f, true, bucket_add(f->m, "c", "public-read"));
    GEN_AFTER(f, true, meta_bucket_delete(f->m, "c"));
    GEN_AFTER(f, true, meta_key_delete(f->m, "AK1"));
    GEN_AFTER(f, true, meta_user_delete(f->m, "alice"));

    /* Reads and refused changes do not. */
    GEN_AFTER(f, false, meta_user_get(f->m, "alice", &u));
    GEN_AFTER(f, false, meta_key_get(f->m, "AK1", &k));
    GEN_AFTER(f, false, meta_bucket_get(f->m, "b", &b));
    GEN_AFTER(f, false, meta_bucket_policy_get(f->m, "b", f->a, &json));
    GEN_AFTER(f, false, meta_policy_get(f->m, "p", f->a, &json));
    GEN_AFTER(f, false, meta_user_list(f->m, on_nothing_user, NULL));
    GEN_AFTER(f, false, meta_key_list(f->m, NULL, on_nothing_key, NULL));
    GEN_AFTER(f, false, meta_policy_list(f->m, on_nothing_name, NULL));
    GEN_AFTER(f, false, put_object(f->m, "b", "obj"));
    GEN_AFTER(f, false, meta_object_delete(f->m, "b", "obj"));
    assert_int_equal(user_add(f->m, "bob", "id-b"), META_OK);
    GEN_AFTER(f, false, user_add(f->m, "BOB", "x"));
    GEN_AFTER(f, false, meta_user_delete(f->m, "nobody"));
    GEN_AFTER(f, false, key_add(f->m, "AK2", "s", "nobody"));
    GEN_AFTER(f, false, meta_policy_attach(f->m, "bob", "missing", false));
    GEN_AFTER(f, false, meta_policy_detach(f->m, "bob", "missing"));
    GEN_AFTER(f, false, meta_bucket_set_acl(f->m, "nope", "private"));
    GEN_AFTER(f, false, meta_bucket_policy_put(f->m, "nope", P1));
    GEN_AFTER(f, false, meta_iam_refresh(f->m));   /* nothing from elsewhere */
}

/* Another handle on the same directory stands for another process (the offline admin CLI). */
static void test_generation_other_process(void **state)
{
    fixture *f = *state;
    meta_options opt = {.durable = false};
    meta_store *other;
    assert_int_equal(meta_open(f->dir, &opt, &other), META_OK);
    uint64_t g = meta_iam_generation(f->m);
    assert_int_equal(user_add(other, "alice", "id-a"), META_OK);
    assert_int_equal(meta_policy_attach(other, "alice", "WSCloudWOSFullAccess", true), META_OK);
    /* Unseen until asked for... */
    assert_true(meta_iam_generation(f->m) == g);
    assert_int_equal(meta_iam_refresh(f->m), META_OK);
    uint64_t g2 = meta_iam_generation(f->m);
    assert_true(g2 > g);
    assert_int_equal(meta_iam_refresh(f->m), META_OK);
    assert_true(meta_iam_generation(f->m) == g2);
    /* ...and the data is there. */
    assert_int_equal(meta_user_get(f->m, "alice", NULL), META_OK);

    /* This handle's own changes interleaved with the other's: each is seen. */
    assert_int_equal(meta_policy_put(f->m, "p", P1), META_OK);
    uint64_t g3 = meta_iam_generation(f->m);
    assert_true(g3 > g2);
    assert_int_equal(meta_policy_put(other, "q", P2), META_OK);
    assert_int_equal(meta_iam_refresh(f->m), META_OK);
    assert_true(meta_iam_generation(f->m) > g3);
    meta_close(other);

    /* A store opened after offline changes starts at a different generation than one opened
     * before them. */
    meta_close(f->m);
    f->m = NULL;
    assert_int_equal(meta_open(f->dir, &opt, &other), META_OK);
    uint64_t at_start = meta_iam_generation(other);
    meta_close(other);
    assert_int_equal(meta_open(f->dir, &opt, &other), META_OK);
    assert_int_equal(key_add(other, "AK9", "s", "alice"), META_OK);
    meta_close(other);
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    assert_true(meta_iam_generation(f->m) > at_start);
}

/* --- schema upgrade ---------------------------------------------------------------------- */

/* The version-1 schema exactly as wosd created it before identities existed. Frozen: it is
 * what old data directories hold. */
static const char V1_SCHEMA[] =
    "CREATE TABLE buckets("
    "  name TEXT PRIMARY KEY, owner TEXT NOT NULL, region TEXT NOT NULL,"
    "  storage_class TEXT NOT NULL, created_ms INTEGER NOT NULL) WITHOUT ROWID;"
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

/* Takes a store's uploads table from version 4 back to version 1's layout. */
static const char UPLOADS_TO_V1[] =
    "CREATE TABLE uploads_v1("
    "  upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key BLOB NOT NULL,"
    "  initiated_ms INTEGER NOT NULL, storage_class TEXT NOT NULL, owner TEXT NOT NULL,"
    "  headers TEXT NOT NULL);"
    "INSERT INTO uploads_v1 SELECT upload_id,bucket,key,initiated_ms,storage_class,owner,headers"
    "  FROM uploads;"
    "DROP TABLE uploads; ALTER TABLE uploads_v1 RENAME TO uploads;"
    "CREATE INDEX uploads_by_key ON uploads(bucket, key, initiated_ms, upload_id);";

/* Rows for check_old_uploads, in the columns every version has had. */
#define OLD_UPLOADS                                                                            \
    "INSERT INTO uploads(upload_id,bucket,key,initiated_ms,storage_class,owner,headers) "     \
    "VALUES('U1','old',CAST('k' AS BLOB),8,'STANDARD','AKOLD','h:1\n'),"                     \
    "      ('U2','old',CAST('k' AS BLOB),7,'STANDARD','AKOLD','');"                           \
    "INSERT INTO parts VALUES('U1',3,10,'e3','" "0000000000000000000000000000000A" "',9);"

static void sql(const char *db, const char *script)
{
    sqlite3 *h;
    assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec(h, script, NULL, NULL, &err);
    if (rc != SQLITE_OK) fail_msg("%s: %s", script, err ? err : "?");
    sqlite3_close(h);
}

static int sql_int(const char *db, const char *query)
{
    sqlite3 *h;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(h, query, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return v;
}

static void part_cb(void *cls, const meta_part *p) { (*(int *)cls) += p->number; }

static void upload_cb(void *cls, const char *cp, const meta_upload *u)
{
    char *s = cls;
    snprintf(s + strlen(s), 64 - strlen(s), "%s%s=%s", *s ? "," : "", u->key, u->upload_id);
}

/* Uploads (and their parts) made in an older version: found, listed, completed, aborted. The
 * store holds "old"/"k" uploads "U2" (started at 7) and "U1" (at 8) with part 3 of U1. */
static void check_old_uploads(fixture *f)
{
    meta_upload u;
    assert_int_equal(meta_upload_get(f->m, "old", "k", "U1", f->a, &u), META_OK);
    assert_int_equal(u.initiated_ms, 8);
    assert_string_equal(u.owner, "AKOLD");
    assert_string_equal(u.headers, "h:1\n");
    assert_int_equal(meta_upload_get(f->m, "old", "j", "U1", f->a, &u), META_NOT_FOUND);
    int sum = 0;
    assert_int_equal(meta_part_list(f->m, "old", "k", "U1", 0, 0, part_cb, &sum, NULL), META_OK);
    assert_int_equal(sum, 3);
    char ids[64] = "";
    meta_upload_query q = {.max = 10};
    assert_int_equal(meta_upload_list(f->m, "old", &q, f->a, upload_cb, ids, NULL), META_OK);
    assert_string_equal(ids, "k=U1,k=U2");
    /* A new upload's row lands beside them, and the old ones can still end. */
    meta_upload n = {.key = "k", .initiated_ms = 9, .storage_class = "STANDARD", .owner = "AK1",
                     .headers = ""};
    snprintf(n.upload_id, sizeof n.upload_id, "U3");
    assert_int_equal(meta_upload_create(f->m, "old", &n), META_OK);
    assert_int_equal(meta_upload_abort(f->m, "old", "k", "U2"), META_OK);
    assert_int_equal(meta_upload_abort(f->m, "old", "k", "U2"), META_NOT_FOUND);
    ids[0] = 0;
    assert_int_equal(meta_upload_list(f->m, "old", &q, f->a, upload_cb, ids, NULL), META_OK);
    assert_string_equal(ids, "k=U1,k=U3");
}

/* Everything versions 2 to 4 added works on an upgraded store, and version-1 data is intact. */
static void check_upgraded(fixture *f)
{
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), 4);
    meta_bucket b;
    memset(&b, 0, sizeof b);
    assert_int_equal(meta_bucket_get(f->m, "old", &b), META_OK);
    assert_string_equal(b.owner, "AKOLD");
    assert_string_equal(b.acl, "private");
    meta_object o;
    assert_int_equal(meta_object_get(f->m, "old", "k", f->a, &o), META_OK);
    assert_int_equal(o.size, 1);
    assert_memory_equal(o.inline_data, "x", 1);
    assert_int_equal(o.expire_ms, 0);
    assert_int_equal(o.restore_ready_ms, 0);
    check_old_uploads(f);
    assert_int_equal(meta_lifecycle_put(f->m, "old", "<rules/>"), META_OK);

    assert_int_equal(meta_bucket_set_acl(f->m, "old", "public-read"), META_OK);
    assert_int_equal(meta_bucket_policy_put(f->m, "old", P1), META_OK);
    assert_int_equal(user_add(f->m, "alice", "id-a"), META_OK);
    assert_int_equal(key_add(f->m, "AK", "SK", "alice"), META_OK);
    assert_int_equal(meta_policy_put(f->m, "p", P2), META_OK);
    assert_int_equal(meta_policy_attach(f->m, "alice", "p", false), META_OK);
    meta_key k;
    assert_int_equal(meta_key_get(f->m, "AK", &k), META_OK);
    assert_string_equal(k.secret, "SK");
    assert_string_equal(attached(f, "alice"), "p");

    /* Opening again finds nothing to do and keeps everything. */
    meta_close(f->m);
    meta_options opt = {.durable = false};
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), 4);
    assert_int_equal(meta_bucket_get(f->m, "old", &b), META_OK);
    const char *rules;
    assert_int_equal(meta_lifecycle_get(f->m, "old", f->a, &rules), META_OK);
    assert_string_equal(rules, "<rules/>");
    assert_string_equal(b.acl, "public-read");
    assert_int_equal(meta_key_get(f->m, "AK", &k), META_OK);
    const char *json;
    assert_int_equal(meta_bucket_policy_get(f->m, "old", f->a, &json), META_OK);
    assert_string_equal(json, P1);
}

static void test_upgrade_from_v1(void **state)
{
    fixture *f = *state;
    sql(f->db, V1_SCHEMA);
    sql(f->db, "INSERT INTO buckets VALUES('old','AKOLD','r1','STANDARD',5);"
               "INSERT INTO objects VALUES('old',CAST('k' AS BLOB),1,'e',6,'STANDARD',0,'',"
               "CAST('x' AS BLOB),NULL);"
               OLD_UPLOADS
               "PRAGMA user_version=1;");
    meta_options opt = {.durable = false};
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    check_upgraded(f);
}

/* The same, starting from a store this code made and then took back to version 1. */
static void test_upgrade_after_downgrade(void **state)
{
    fixture *f = *state;
    meta_options opt = {.durable = false};
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), 4);   /* fresh: the latest */
    assert_int_equal(bucket_add(f->m, "old", ""), META_OK);
    assert_int_equal(put_object(f->m, "old", "k"), META_OK);
    meta_close(f->m);
    f->m = NULL;
    sql(f->db, UPLOADS_TO_V1);
    sql(f->db, OLD_UPLOADS);
    sql(f->db, "DROP TRIGGER bucket_lifecycle_gone; DROP TABLE bucket_lifecycle; DROP INDEX objects_by_expiry;"
               "ALTER TABLE objects DROP COLUMN expire_ms; ALTER TABLE objects DROP COLUMN restore_ready_ms;"
               "ALTER TABLE objects DROP COLUMN restore_expiry_ms;"
               "DROP TABLE users; DROP TABLE access_keys; DROP TABLE policies;"
               "DROP TABLE user_policies; DROP TABLE bucket_policies; DROP TABLE counters;"
               "ALTER TABLE buckets DROP COLUMN acl; UPDATE buckets SET owner='AKOLD';"
               "PRAGMA user_version=1;");
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    check_upgraded(f);
}

/* Version 2 to 3 (lifecycle): a store this code made, taken back to version 2, upgrades with
 * its objects intact (the new columns read as "no expiry, never restored"). */
static void test_upgrade_from_v2(void **state)
{
    fixture *f = *state;
    meta_options opt = {.durable = false};
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    assert_int_equal(bucket_add(f->m, "old", ""), META_OK);
    assert_int_equal(put_object(f->m, "old", "k"), META_OK);
    assert_int_equal(user_add(f->m, "alice", "id-a"), META_OK);
    meta_close(f->m);
    f->m = NULL;
    sql(f->db, UPLOADS_TO_V1);
    sql(f->db, "DROP TRIGGER bucket_lifecycle_gone; DROP TABLE bucket_lifecycle; DROP INDEX objects_by_expiry;"
               "ALTER TABLE objects DROP COLUMN expire_ms; ALTER TABLE objects DROP COLUMN restore_ready_ms;"
               "ALTER TABLE objects DROP COLUMN restore_expiry_ms; PRAGMA user_version=2;");
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), 4);
    meta_object o;
    assert_int_equal(meta_object_get(f->m, "old", "k", f->a, &o), META_OK);
    assert_memory_equal(o.inline_data, "x", 1);
    assert_int_equal(o.expire_ms, 0);
    assert_int_equal(o.restore_expiry_ms, 0);
    assert_int_equal(meta_user_get(f->m, "alice", NULL), META_OK);
    assert_int_equal(meta_lifecycle_put(f->m, "old", "<r/>"), META_OK);
    assert_int_equal(meta_object_set_class(f->m, "old", "k", o.etag, o.mtime_ms, "IA", NULL, 0), META_OK);
    /* the trigger came with the upgrade: rules go with their bucket */
    assert_int_equal(meta_object_delete(f->m, "old", "k"), META_OK);
    assert_int_equal(meta_bucket_delete(f->m, "old"), META_OK);
    const char *rules;
    assert_int_equal(meta_lifecycle_get(f->m, "old", f->a, &rules), META_NOT_FOUND);
}

/* Version 3 to 4 (uploads in one b-tree): uploads and parts made before it are intact. */
static void test_upgrade_from_v3(void **state)
{
    fixture *f = *state;
    meta_options opt = {.durable = false};
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    assert_int_equal(bucket_add(f->m, "old", ""), META_OK);
    meta_close(f->m);
    f->m = NULL;
    sql(f->db, UPLOADS_TO_V1);
    sql(f->db, OLD_UPLOADS "PRAGMA user_version=3;");
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), 4);
    assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_schema WHERE name='uploads_by_key'"), 0);
    check_old_uploads(f);
}

static void test_newer_schema_refused(void **state)
{
    fixture *f = *state;
    meta_options opt = {.durable = false};
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_OK);
    meta_close(f->m);
    f->m = NULL;
    sql(f->db, "PRAGMA user_version=99;");
    assert_int_equal(meta_open(f->dir, &opt, &f->m), META_ERROR);
    assert_null(f->m);
    assert_int_equal(sql_int(f->db, "PRAGMA user_version"), 99);   /* left alone */
}

/* --- concurrency ------------------------------------------------------------------------- */

enum { THREADS = 4, PER_THREAD = 25 };

typedef struct worker {
    meta_store *m;
    int id;
    int failures;
    int shared_created, shared_exists;
} worker;

static pthread_barrier_t start;

static void *make_users(void *p)
{
    worker *w = p;
    pthread_barrier_wait(&start);
    /* All at once: one of them creates "shared", the others are told it exists. */
    meta_status s = user_add(w->m, "shared", "id-shared");
    if (s == META_OK) w->shared_created++;
    else if (s == META_EXISTS) w->shared_exists++;
    else w->failures++;
    char name[32], id[32], ak[32];
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(name, sizeof name, "u%d-%02d", w->id, i);
        snprintf(id, sizeof id, "id-%d-%02d", w->id, i);
        if (user_add(w->m, name, id) != META_OK) w->failures++;
        for (int j = 0; j < 2; j++) {
            snprintf(ak, sizeof ak, "AK%d%02d%d", w->id, i, j);
            if (key_add(w->m, ak, "secret", name) != META_OK) w->failures++;
        }
        /* Keys for the shared user too, and attachments that race with each other. */
        snprintf(ak, sizeof ak, "SH%d%02d", w->id, i);
        if (key_add(w->m, ak, "secret", "shared") != META_OK) w->failures++;
        if (meta_policy_attach(w->m, "shared", "WSCloudWOSFullAccess", true) != META_OK)
            w->failures++;
        meta_key k;
        if (meta_key_get(w->m, ak, &k) != META_OK || strcmp(k.user, "shared") != 0)
            w->failures++;
    }
    return NULL;
}

static void count_users(void *cls, const meta_user *u) { (void)u; (*(int *)cls)++; }
static void count_keys(void *cls, const meta_key *k) { (void)k; (*(int *)cls)++; }

static void test_concurrent_iam(void **state)
{
    fixture *f = *state;
    uint64_t g = meta_iam_generation(f->m);
    pthread_barrier_init(&start, NULL, THREADS);
    pthread_t th[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.m = f->m, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, make_users, &w[i]), 0);
    }
    int created = 0, exists = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
        created += w[i].shared_created;
        exists += w[i].shared_exists;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(created, 1);
    assert_int_equal(exists, THREADS - 1);

    int nusers = 0, nkeys = 0, nshared = 0;
    assert_int_equal(meta_user_list(f->m, count_users, &nusers), META_OK);
    assert_int_equal(nusers, THREADS * PER_THREAD + 1);
    assert_int_equal(meta_key_list(f->m, NULL, count_keys, &nkeys), META_OK);
    assert_int_equal(nkeys, THREADS * PER_THREAD * 3);
    assert_int_equal(meta_key_list(f->m, "shared", count_keys, &nshared), META_OK);
    assert_int_equal(nshared, THREADS * PER_THREAD);
    assert_string_equal(attached(f, "shared"), "WSCloudWOSFullAccess");
    /* At least one step per committed change. */
    uint64_t changes = 1 + (uint64_t)THREADS * PER_THREAD * 5;
    assert_true(meta_iam_generation(f->m) - g >= changes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_user_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_user_delete_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bucket_acl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bucket_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bucket_delete_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_generation_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_v1, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_after_downgrade, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_v2, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_v3, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup_dir, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_iam, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
