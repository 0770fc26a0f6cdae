#include "rnd.h"

#include <stdlib.h>

#include <openssl/rand.h>

#include "b64url.h"
#include "log.h"

void rnd_bytes(void *buf, size_t n)
{
    if (RAND_bytes(buf, (int)n) != 1) {
        log_error("the random number generator failed; stopping");
        abort();
    }
}

void rnd_token(char *out, size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof(raw))
        abort();
    rnd_bytes(raw, nbytes);
    b64url_encode(raw, nbytes, out);
}
