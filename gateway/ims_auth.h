/* ims_auth: how the gateway's REGISTER proves the user to the IMS core, chosen once at start by
 * the ims-auth setting:
 *   tna     trusted-node authentication (TS 33.203 Annex U): integrity-protected="auth-done";
 *           a challenge from the core is a configuration error.
 *   digest  MD5 Digest on behalf of the user (RFC 2617/7616, TS 33.203 Annex N): the first
 *           REGISTER names algorithm=MD5; the core's 401/407 is answered once with a response the
 *           WAF computes from the user's IMS credential, which never reaches the gateway. */
#ifndef IMSGW_IMS_AUTH_H
#define IMSGW_IMS_AUTH_H

#include <stddef.h>

#include <sofia-sip/sip.h>

#define IMS_AUTH_HEADER_MAX 1536

/* outcome of answering a challenge: header (Authorization or Proxy-Authorization value) set, or
 * refused (the user's credentials are missing or were not accepted: 403), or unavailable (the
 * WAF did not answer: 503). why: plain words for the log, never a secret. */
struct ims_auth_answer {
    int ok, refused, unavailable;
    const char *header_name; /* "Authorization" or "Proxy-Authorization" */
    const char *header;
    const char *why;
};
typedef void (*ims_auth_done_fn)(void *arg, const struct ims_auth_answer *a);

struct ims_auth_ops {
    const char *name;
    /* The Authorization value of a REGISTER before any challenge. */
    void (*initial)(char *out, size_t outlen, const char *impi, const char *realm, const char *uri);
    /* The core challenged a request (rsp: its 401/407): done() runs once, later. Returns -1
     * (done never runs) when this mode does not answer challenges. */
    int (*answer)(sip_t const *rsp, const char *impi, const char *method, const char *uri,
                  ims_auth_done_fn done, void *arg);
    /* Upstream CSeq numbers per client CSeq: room for the challenged attempt and its answer in
     * the same Call-ID (RFC 3261 §10.2.4 wants them increasing). */
    unsigned cseq_scale;
};

/* The mode chosen by ims-auth; valid after ims_auth_select(). */
extern const struct ims_auth_ops *ims_auth;
/* Selects by name; -1 when unknown. */
int ims_auth_select(const char *name);

extern const struct ims_auth_ops ims_auth_tna, ims_auth_digest;

#endif
