/* urlcheck: validation of configured https URLs (issuer, JWKS, WAF endpoints). */
#ifndef IMSGW_URLCHECK_H
#define IMSGW_URLCHECK_H

#include <stddef.h>

#define URL_CHECK_MAX 200 /* an issuer is repeated in every token and in the metadata */

/* 0 if url is an https URL (plain http only on 127.0.0.1, localhost or [::1]) of at most
 * URL_CHECK_MAX characters, without userinfo, query, fragment or trailing '/'; else -1 with a
 * one-line reason naming the setting in err. */
int url_check_https_or_loopback(const char *name, const char *url, char *err, size_t errlen);

#endif
