/* peer: who a request comes from. The client address behind configured trusted proxies
 * (X-Forwarded-For), and the key per-source limits count under (IPv4 address, IPv6 /64). */
#ifndef IMSGW_PEER_H
#define IMSGW_PEER_H

#include <stddef.h>

#define PEER_ADDR_MAX 64 /* room for any textual address or source key */

/* 1 if addr (textual IPv4/IPv6) matches an entry of list: an address or a CIDR prefix
 * ("10.0.0.0/8", "2001:db8::/32"). IPv4-mapped IPv6 addresses match as IPv4. */
int peer_in_list(const char *addr, char *const *list);
/* 1 if every entry of list is an address or a CIDR prefix; else 0 with the bad one in err. */
int peer_list_valid(char *const *list, char *err, size_t errlen);
/* The client address: peer itself unless peer is a trusted proxy; then the rightmost
 * X-Forwarded-For entry that is not a trusted proxy (a malformed entry stops the walk at the
 * proxy that added it). IPv4-mapped IPv6 comes out as IPv4. Writes at most len bytes of out. */
void peer_client(const char *peer, const char *xff, char *const *trusted, char *out, size_t len);
/* The per-source key of addr: the IPv4 address, or the IPv6 /64 ("2001:db8:1:2::/64"). An
 * unparsable addr is its own key. */
void peer_source_key(const char *addr, char *out, size_t len);

#endif
