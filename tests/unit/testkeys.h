/* The T19 test key pair (spec §11, TEST KEYS ONLY) as OpenSSL keys. */
#ifndef IMSGW_TESTKEYS_H
#define IMSGW_TESTKEYS_H

#include <openssl/evp.h>

EVP_PKEY *t19_public_key(void);
EVP_PKEY *t19_private_key(void);

#endif
