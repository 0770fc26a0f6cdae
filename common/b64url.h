/* b64url: base64url without padding (RFC 4648 §5), as JOSE and flow tokens use it. */
#ifndef IMSGW_B64URL_H
#define IMSGW_B64URL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Length of the encoding of n bytes, without the NUL. */
#define B64URL_ENCODED_LEN(n) (((n)*4 + 2) / 3)

/* Encodes n bytes into out (needs B64URL_ENCODED_LEN(n) + 1); returns the length written. */
size_t b64url_encode(const uint8_t *in, size_t n, char *out);
/* Decodes len chars; refuses padding, whitespace, other alphabets and non-canonical trailing bits.
 * Returns the number of bytes written or -1 (also when out is too small). */
ssize_t b64url_decode(const char *in, size_t len, uint8_t *out, size_t outlen);

#endif
