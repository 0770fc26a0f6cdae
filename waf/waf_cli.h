/* waf_cli: the operator subcommands "user add|list|del" and "token". */
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

#endif
