/* rnd: secrets from OpenSSL's CSPRNG. */
#ifndef IMSGW_RND_H
#define IMSGW_RND_H

#include <stddef.h>

/* Fills buf with n random bytes; aborts if the CSPRNG fails (nothing safe can follow). */
void rnd_bytes(void *buf, size_t n);
/* Writes the base64url of nbytes random bytes into out (needs 4*nbytes/3 + 2). */
void rnd_token(char *out, size_t nbytes);

#endif
