/* waf_user: a WAF user as the store and the tokens see it, and the syntax rules for its names.
 * Every value is checked here before it reaches SQLite, a token or a log line. */
#ifndef IMSGW_WAF_USER_H
#define IMSGW_WAF_USER_H

#include <stddef.h>
#include <stdint.h>

#define WAF_NAME_MAX 64  /* user names: [a-z0-9._-]{1,64} */
#define WAF_URI_MAX 256  /* IMPI and IMPU length bound */
#define WAF_IMPUS_MAX 16 /* public identities per user */
#define WAF_DOMAIN_MAX 253

struct waf_user {
    int64_t id; /* stable, never reused: the token's sub is derived from it */
    char name[WAF_NAME_MAX + 1];
    char impi[WAF_URI_MAX + 1];
    char impu[WAF_IMPUS_MAX][WAF_URI_MAX + 1]; /* impu[0] is the default identity */
    size_t n_impu;
    int64_t created_at;
};

/* 1 if name matches [a-z0-9._-]{1,64}. */
int waf_user_name_valid(const char *name);
/* 1 if impu starts with sip: or tel:, is at most 256 chars and has no space or control char. */
int waf_user_impu_valid(const char *impu);
/* 1 if impi looks like user@realm (at most 256 chars, no space or control char). */
int waf_user_impi_valid(const char *impi);
/* 1 if domain is a lowercase DNS name ([a-z0-9.-], at most 253 chars). */
int waf_user_domain_valid(const char *domain);
/* Checks a whole user (name, impi, 1..16 distinct valid IMPUs); 0 or -1 with err. */
int waf_user_check(const struct waf_user *u, char *err, size_t errlen);
/* Fills u from name, impi (NULL: name@home_domain) and the IMPU list; 0 or -1 with err. */
int waf_user_build(struct waf_user *u, const char *name, const char *impi, const char *home_domain,
                   const char *const *impus, size_t n_impu, char *err, size_t errlen);

#endif
