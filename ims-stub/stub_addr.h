/* stub_addr: the few address forms the stub compares and prints: canonical AORs, name-addr
 * header values and IP addresses. */
#ifndef IMSGW_STUB_ADDR_H
#define IMSGW_STUB_ADDR_H

#include <sofia-sip/msg_types.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

/* The AOR of a sip:, sips: or tel: URI ("sip:user@host[:port]", "tel:number"), host in lower
 * case, parameters dropped; NULL for any other URI. Allocated on home. */
char *stub_aor(su_home_t *home, const url_t *url);
/* The same for a URI given as text; NULL when it does not parse, is not sip/sips/tel, or holds
 * a character that could not go between <> in a header (space, control, <, >, ", comma). */
char *stub_aor_text(su_home_t *home, const char *text);
/* Encodes [display] <url>;params, leaving out the parameter named skip (may be NULL). */
char *stub_nameaddr(su_home_t *home, const char *display, const url_t *url,
                    const msg_param_t *params, const char *skip);
/* 1 when text is an IPv4 or IPv6 address. */
int stub_ip_valid(const char *text);
/* 1 when ip equals one of the NULL-terminated list (IPv4 also matches its ::ffff: form). */
int stub_ip_in_list(const char *ip, char *const *list);

#endif
