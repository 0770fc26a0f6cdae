/* secretfile: a file that holds a secret (a signing key, a client secret, the WAF database, a
 * TLS key) must be a regular file owned by the user the daemon runs as, closed to group and
 * others (mode & 077 == 0). A daemon refuses to start otherwise, with the one-line reason this
 * module writes into err ("<what> <path>: <why>; <what to do>"). */
#ifndef IMSGW_SECRETFILE_H
#define IMSGW_SECRETFILE_H

#include <stddef.h>

/* Opens path read-only (no symlink) and checks the open file; the fd, or -1 with err. */
int secretfile_open(const char *what, const char *path, char *err, size_t errlen);
/* Checks an existing path without opening it (for files another library opens, e.g. SQLite);
 * a missing file is fine when missing_ok. 0, or -1 with err. */
int secretfile_check_path(const char *what, const char *path, int missing_ok, char *err,
                          size_t errlen);

#endif
