/* stub_route: the home proxy's routing decisions as pure functions of the binding store and
 * the responses seen, with no sockets and no nta, so each rule has a unit test: the target set
 * of an AOR, the next flow of an instance after a 430, the best final response of a fork, and
 * whether a URI names the stub itself. */
#ifndef IMSGW_STUB_ROUTE_H
#define IMSGW_STUB_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

#include "stub_bindings.h"

/* Most flows (reg-ids) of one instance tried for one request. */
#define STUB_ROUTE_MAX_FLOWS 8

/* One branch destination, copied out of the store (a binding may go away while the branch
 * runs, e.g. when its flow fails). */
struct stub_target {
    char *uri;      /* Request-URI of the branch: the registered contact URI */
    char *path;     /* stored Path vector as one header value, pushed as Route; NULL = none */
    char *instance; /* +sip.instance as registered, or NULL */
    long reg_id;    /* 0 when none */
};

/* RFC 5626 §7 target set of aor: one target per +sip.instance (its most recently refreshed
 * live flow) and one per binding without an instance, at most max. Strings are allocated on
 * home. Returns the number written to out. */
size_t stub_route_targets(su_home_t *home, struct stub_bindings *store, const char *aor,
                          int64_t now, struct stub_target *out, size_t max);

/* RFC 5626 §7: after a 430 or 408 on one flow of instance, another live flow of the same
 * instance whose reg-id is not among tried. 0 and out filled, or -1 when none is left. */
int stub_route_alternate(su_home_t *home, struct stub_bindings *store, const char *aor,
                         const char *instance, const long *tried, size_t ntried, int64_t now,
                         struct stub_target *out);

/* RFC 3261 §16.7 step 6 over the final responses of a fork that produced no 2xx: status[i] is
 * branch i's final status (0 = none, ignored). Returns the index of the winning branch and
 * sets *send to the status to send upstream, which differs from the branch's for 503 (500,
 * RFC 3261 §16.7) and 430 (480: a dead flow is the proxy's business, RFC 5626 §7); -1 when no
 * branch has a final status. */
int stub_route_best(const int *status, size_t n, int *send);

/* 1 when u names the same host and port (default 5060, 5061 for sips) as self. */
int stub_route_is_self(const url_t *self, const url_t *u);

#endif
