/* waf_cli: the operator subcommands "user add|list|del|passwd", "token", "client add|list|del"
 * and "keys rotate". */
#ifndef IMSGW_WAF_CLI_H
#define IMSGW_WAF_CLI_H

#include <stdio.h>

#include "waf_settings.h"

/* Exit statuses: 0 done, 1 the command failed, 2 bad usage or configuration. */
enum { WAF_EXIT_OK = 0, WAF_EXIT_FAIL = 1, WAF_EXIT_USAGE = 2 };

/* Runs the subcommand in argv[0..argc) with the daemon's settings; returns the exit status. */
int waf_cli_run(const struct waf_settings *s, int argc, char **argv);
/* Prints the subcommands' usage to out. */
void waf_cli_usage(FILE *out);
/* Prints "imsgw-waf: <message>" on stderr and returns status. */
int waf_cli_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The exit status for a waf_store_rc. */
int waf_cli_store_status(int rc);
/* "client add|list|del" (waf_cli_client.c). */
int waf_cli_client(const struct waf_settings *s, int argc, char **argv);
/* "keys rotate" (waf_cli_client.c). */
int waf_cli_keys(const struct waf_settings *s, int argc, char **argv);

#endif
