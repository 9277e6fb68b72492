/* cli — the subcommands of wosd beside `serve`.
 *
 * Each takes the arguments after its own name (argv[0] is the subcommand) and returns the
 * process exit status: 0 success, 1 failure, 2 usage error. */
#ifndef WOSD_CLI_CLI_H
#define WOSD_CLI_CLI_H

/* wosd bench: a load generator for any S3 endpoint (bench.c). */
int cli_bench(int argc, char **argv);
/* wosd admin: operator commands such as scrub (admin.c). */
int cli_admin(int argc, char **argv);

#endif
