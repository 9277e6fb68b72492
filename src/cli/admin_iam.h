/* admin_iam — `wosd admin user|key|policy …`: users, access keys and policies.
 *
 * Online (default) the commands call the admin API of a running server (s3/admin_api.h) over
 * HTTP, signed with SigV4 by the root credential; with --data DIR they work on a stopped
 * server's data directory, taking its lock, through the very same admin_api_call. */
#ifndef WOSD_CLI_ADMIN_IAM_H
#define WOSD_CLI_ADMIN_IAM_H

/* argv[0] is the group: "user", "key" or "policy". Returns the exit status: 0 success, 1 the
 * operation failed (the server's or the store's error is printed), 2 usage error. */
int admin_iam(int argc, char **argv);

/* The usage text of the three groups, for `wosd admin --help`. */
extern const char admin_iam_usage[];

#endif
