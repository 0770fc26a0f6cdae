/* stub_fwd: the edits a proxy makes to its copy of a request before sending it on (RFC 3261
 * §16.4 and §16.6, RFC 3327 §5.4), on a sofia-sip message and nothing else, so they are unit
 * tested on parsed text. */
#ifndef IMSGW_STUB_FWD_H
#define IMSGW_STUB_FWD_H

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/url.h>

/* The stub's own addresses, parsed once. */
struct stub_self {
    url_t *listen; /* where nta listens */
    url_t *orig;   /* the Service-Route URI (its user part marks originating requests) */
    url_t *rr;     /* the Record-Route URI */
};

/* 1 when u is one of the stub's own addresses (host and port). */
int stub_fwd_is_self(const struct stub_self *self, const url_t *u);

/* §16.4: undoes a strict-routing peer (Request-URI = our Record-Route → the last Route becomes
 * the Request-URI), then pops every top Route naming us. *orig is set when one of them was the
 * Service-Route URI (same user part), *popped counts them. -1 when memory ran out. */
int stub_fwd_preprocess(msg_t *m, sip_t *sip, const struct stub_self *self, int *orig, int *popped);

/* §16.6 step 3: Max-Forwards decremented, or 70 when absent. -1 when it was 0 (the caller
 * answers 483) or memory ran out (*oom set). */
int stub_fwd_max_forwards(msg_t *m, sip_t *sip, int *oom);

/* §16.6 step 4: our URI on top of Record-Route. -1 when it does not parse or memory ran out. */
int stub_fwd_record_route(msg_t *m, sip_t *sip, const char *rr);

/* §16.6 step 2 and RFC 3327 §5.4: Request-URI = uri, the Path vector (one header value, may
 * be NULL) pushed on top of Route in its order. -1 when something does not parse. */
int stub_fwd_target(msg_t *m, sip_t *sip, const char *uri, const char *path);

/* RFC 3261 §9.1: a CANCEL for the request sent (a copy; sent itself is untouched): same
 * Request-URI, Call-ID, From, To, CSeq number and Route, only the top Via, no body, no
 * Require/Proxy-Require, nothing dialog-forming. NULL when out of memory. */
msg_t *stub_fwd_cancel(msg_t *sent);

#endif
