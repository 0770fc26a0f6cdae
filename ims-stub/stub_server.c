/* stub_server: nta does the transaction layer (retransmissions, To tags, Via matching); this
 * file only hands each new request to the module that owns it: REGISTER to the registrar,
 * OPTIONS addressed to the stub answered here, everything else to the home proxy. */
#define NTA_LEG_MAGIC_T struct stub_server
#define NTA_AGENT_MAGIC_T struct stub_server
#define SU_TIMER_ARG_T struct stub_server

#include "stub_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/tport_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su.h>

#include "log.h"
#include "stub_addr.h"
#include "stub_proxy.h"
#include "stub_regevent.h"
#include "timeutil.h"

/* Largest SIP message accepted; a REGISTER from the gateway is far below this. */
/* sofia applies this to what one stream connection has buffered, not to one message: a trunk
 * from the gateway that pipelines a thousand REGISTERs needs room beyond 64 KiB. */
#define STUB_MAX_MESSAGE (4 * 1024 * 1024)
/* How often expired bindings are dropped between REGISTERs (milliseconds). */
#define STUB_SWEEP_MS 10000
#define STUB_ALLOW                                                                                 \
    "REGISTER, OPTIONS, INVITE, ACK, BYE, CANCEL, UPDATE, INFO, PRACK, MESSAGE, SUBSCRIBE, "       \
    "NOTIFY, REFER"
/* nta's own Timer C (it ends an INVITE branch without waiting for the 487) stays behind
 * ours and behind our cleanup bound (stub_proxy), which end every branch first. */
#define STUB_NTA_TIMER_C_EXTRA_MS 50000

struct stub_server {
    const struct stub_registrar *reg;
    nta_agent_t *agent;
    nta_leg_t *leg;
    su_timer_t *sweep;
    struct stub_proxy *proxy;
    struct stub_regevent *regevent;
    size_t last_active, last_bindings; /* what the last stats line said */
};

/* Messages no transaction takes: 2xx retransmissions go on statelessly, the rest is dropped. */
static int stub_server_stray(struct stub_server *srv, nta_agent_t *agent, msg_t *msg, sip_t *sip)
{
    if (!srv->proxy) {
        nta_msg_discard(agent, msg);
        return 0;
    }
    return stub_proxy_stray(srv->proxy, msg, sip);
}

/* The peer's IP address as text; "-" when unknown. */
static void stub_server_peer(nta_incoming_t *irq, char *out, size_t outlen)
{
    snprintf(out, outlen, "-");
    msg_t *msg = nta_incoming_getrequest(irq);
    su_addrinfo_t *ai = msg ? msg_addrinfo(msg) : NULL;
    if (ai && ai->ai_addr)
        su_inet_ntop(ai->ai_family, SU_ADDR((su_sockaddr_t *)ai->ai_addr), out, outlen);
    msg_destroy(msg);
}

static int stub_server_register(struct stub_server *srv, nta_incoming_t *irq, const sip_t *sip)
{
    char peer[64];
    struct stub_reply r;
    stub_server_peer(irq, peer, sizeof(peer));
    nta_incoming_tag(irq, NULL);
    stub_register(srv->reg, sip, peer, time_now_s(), &r);
    nta_incoming_treply(irq, r.status, r.phrase, TAG_IF(r.headers, SIPTAG_HEADER_STR(r.headers)),
                        TAG_END());
    stub_reply_clear(&r);
    /* The reply is sent; returning its status tells nta the transaction is ours no more. */
    return r.status;
}

/* Test hooks: "OPTIONS sip:<stub>" from a loopback address with "X-Stub-Deregister: <AOR>" is a
 * network-initiated de-registration of that user (TS 24.229 §5.4.1.5), with "X-Stub-Shorten:
 * <AOR>" and "X-Stub-Expires: <seconds>" a shortened registration; both told by reg-event. */
static int stub_server_admin(struct stub_server *srv, nta_incoming_t *irq, const sip_t *sip)
{
    const sip_header_t *dereg = NULL, *shorten = NULL, *secs = NULL;
    for (const sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next)
        if (strcasecmp(u->un_name, "X-Stub-Deregister") == 0)
            dereg = (const sip_header_t *)u;
        else if (strcasecmp(u->un_name, "X-Stub-Shorten") == 0)
            shorten = (const sip_header_t *)u;
        else if (strcasecmp(u->un_name, "X-Stub-Expires") == 0)
            secs = (const sip_header_t *)u;
    const sip_header_t *h = dereg ? dereg : shorten;
    char peer[64];
    stub_server_peer(irq, peer, sizeof(peer));
    if (!h || strncmp(peer, "127.", 4) != 0)
        return 0;
    su_home_t home[1] = {SU_HOME_INIT(home)};
    url_t *url = url_make(home, h->sh_unknown->un_value);
    char *aor = url ? stub_aor(home, url) : NULL;
    long seconds = secs ? strtol(secs->sh_unknown->un_value, NULL, 10) : 0;
    int n = -1;
    if (aor && dereg)
        n = stub_regevent_deregister(srv->regevent, aor);
    else if (aor && seconds > 0 && seconds <= 86400)
        n = stub_regevent_shorten(srv->regevent, aor, seconds);
    char changed[32];
    snprintf(changed, sizeof(changed), "%s: %d", dereg ? "X-Removed" : "X-Shortened", n);
    nta_incoming_treply(irq, SIP_200_OK, SIPTAG_HEADER_STR(changed), TAG_END());
    su_home_deinit(home);
    return 1;
}

static int stub_server_request(struct stub_server *srv, nta_leg_t *leg, nta_incoming_t *irq,
                               const sip_t *sip)
{
    if (!irq)
        return 0;
    sip_method_t method = sip->sip_request->rq_method;
    if (method == sip_method_register)
        return stub_server_register(srv, irq, sip);
    if (method == sip_method_subscribe && sip->sip_event && sip->sip_event->o_type &&
        strcasecmp(sip->sip_event->o_type, "reg") == 0 && !sip->sip_to->a_tag)
        return stub_regevent_subscribe(srv->regevent, irq, sip);
    if (!stub_proxy_for_me(srv->proxy, sip) || method == sip_method_ack ||
        method == sip_method_cancel)
        return stub_proxy_request(srv->proxy, irq, sip);
    /* Addressed to the stub itself: an OPTIONS ping gets 200, anything else 405. */
    nta_incoming_tag(irq, NULL);
    if (method == sip_method_options && stub_server_admin(srv, irq, sip))
        return 200;
    if (method == sip_method_options) {
        nta_incoming_treply(irq, SIP_200_OK, SIPTAG_ALLOW_STR(STUB_ALLOW), TAG_END());
        return 200;
    }
    nta_incoming_treply(irq, SIP_405_METHOD_NOT_ALLOWED, SIPTAG_ALLOW_STR("REGISTER, OPTIONS"),
                        TAG_END());
    return 405;
}

/* The counters tests and operators read: one line whenever they changed since the last one
 * (checked at each sweep), and always at stop. */
static void stub_server_stats(struct stub_server *srv, int force)
{
    size_t active = srv->proxy ? stub_proxy_active(srv->proxy) : 0;
    size_t bindings = stub_bindings_count(srv->reg->store);
    if (!force && active == srv->last_active && bindings == srv->last_bindings)
        return;
    srv->last_active = active;
    srv->last_bindings = bindings;
    log_info("stats transactions=%zu bindings=%zu", active, bindings);
}

static void stub_server_sweep(su_root_magic_t *magic, su_timer_t *t, struct stub_server *srv)
{
    size_t n = stub_bindings_expire(srv->reg->store, NULL, time_now_s());
    if (n)
        log_debug("bindings: %zu expired, %zu left", n, stub_bindings_count(srv->reg->store));
    stub_server_stats(srv, 0);
}

struct stub_server *stub_server_create(su_root_t *root, const struct stub_registrar *reg,
                                       const char *listen, char *err, size_t errlen)
{
    struct stub_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->reg = reg;
    srv->agent = nta_agent_create(
        root, URL_STRING_MAKE(listen), stub_server_stray, srv, NTATAG_MAXSIZE(STUB_MAX_MESSAGE),
        NTATAG_UA(0), NTATAG_SERVER_RPORT(1),
        NTATAG_TIMER_C((unsigned)reg->set->timer_c_ms + STUB_NTA_TIMER_C_EXTRA_MS), TAG_END());
    if (!srv->agent) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not local?)", listen);
        goto fail;
    }
    if (reg->set->tls_listen && *reg->set->tls_listen &&
        nta_agent_add_tport(srv->agent, URL_STRING_MAKE(reg->set->tls_listen),
                            TPTAG_CERTIFICATE(reg->set->tls_dir), TAG_END()) < 0) {
        snprintf(err, errlen, "cannot listen for SIP over TLS on %s (certificates in %s)",
                 reg->set->tls_listen, reg->set->tls_dir);
        goto fail;
    }
    /* One default leg receives every request that is not part of a dialog. */
    srv->leg =
        nta_leg_tcreate(srv->agent, stub_server_request, srv, NTATAG_NO_DIALOG(1), TAG_END());
    srv->sweep = su_timer_create(su_root_task(root), STUB_SWEEP_MS);
    srv->proxy = stub_proxy_create(srv->agent, root, reg);
    srv->regevent = stub_regevent_create(srv->agent, reg);
    if (!srv->leg || !srv->sweep || !srv->proxy || !srv->regevent ||
        su_timer_set_interval(srv->sweep, stub_server_sweep, srv, STUB_SWEEP_MS) < 0) {
        snprintf(err, errlen, "cannot set up the SIP agent");
        goto fail;
    }
    return srv;
fail:
    stub_server_destroy(srv);
    return NULL;
}

void stub_server_destroy(struct stub_server *srv)
{
    if (!srv)
        return;
    su_timer_destroy(srv->sweep);
    if (srv->proxy) {
        stub_server_stats(srv, 1);
        stub_proxy_destroy(srv->proxy);
    }
    stub_regevent_destroy(srv->regevent);
    if (srv->leg)
        nta_leg_destroy(srv->leg);
    if (srv->agent)
        nta_agent_destroy(srv->agent);
    free(srv);
}
