/* admin_auth: the operator's credential (HTTP Basic, RFC 7617, user "operator" and the password
 * of admin-credential-file). Only its SHA-256 is kept; a presented credential is hashed and
 * compared in constant time. */
#ifndef IMSGW_ADMIN_AUTH_H
#define IMSGW_ADMIN_AUTH_H

#include <stddef.h>

#define ADMIN_USER "operator"
#define ADMIN_MIN_PASSWORD 16 /* characters: long enough that guessing over HTTP is hopeless */
#define ADMIN_MAX_PASSWORD 512

/* Reads the password from path (a secret file: owner-only). 0, or -1 with one line in err. */
int admin_auth_load(const char *path, char *err, size_t errlen);
/* 1 once a credential is loaded (the operator page exists). */
int admin_auth_enabled(void);
/* 1 when an Authorization header value is "Basic" with the operator's credential. */
int admin_auth_check(const char *authorization);

#endif
