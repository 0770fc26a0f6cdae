/* stub_server: nta does the transaction layer (retransmissions, To tags, Via matching); this
 * file only routes each new request to the module that owns its method. Call routing (a home
 * proxy module using the binding store) plugs into stub_server_request() later. */
#define NTA_LEG_MAGIC_T struct stub_server
#define NTA_AGENT_MAGIC_T struct stub_server
#define SU_TIMER_ARG_T struct stub_server

#include "stub_server.h"

#include <stdio.h>
#include <stdlib.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su.h>

#include "log.h"
#include "timeutil.h"

/* Largest SIP message accepted; a REGISTER from the gateway is far below this. */
#define STUB_MAX_MESSAGE 65536
/* How often expired bindings are dropped between REGISTERs (milliseconds). */
#define STUB_SWEEP_MS 10000
#define STUB_ALLOW "REGISTER, OPTIONS"

struct stub_server {
    const struct stub_registrar *reg;
    nta_agent_t *agent;
    nta_leg_t *leg;
    su_timer_t *sweep;
};

/* Messages no leg takes (stray responses): nothing to do with them. */
static int stub_server_stray(struct stub_server *srv, nta_agent_t *agent, msg_t *msg, sip_t *sip)
{
    nta_msg_discard(agent, msg);
    return 0;
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
    stub_register(srv->reg, sip, peer, time_now_s(), &r);
    nta_incoming_treply(irq, r.status, r.phrase, TAG_IF(r.headers, SIPTAG_HEADER_STR(r.headers)),
                        TAG_END());
    stub_reply_clear(&r);
    /* The reply is sent; returning its status tells nta the transaction is ours no more. */
    return r.status;
}

static int stub_server_request(struct stub_server *srv, nta_leg_t *leg, nta_incoming_t *irq,
                               const sip_t *sip)
{
    if (!irq) /* an ACK outside any transaction */
        return 0;
    nta_incoming_tag(irq, NULL);
    switch (sip->sip_request->rq_method) {
    case sip_method_register:
        return stub_server_register(srv, irq, sip);
    case sip_method_options:
        nta_incoming_treply(irq, SIP_200_OK, SIPTAG_ALLOW_STR(STUB_ALLOW), TAG_END());
        return 200;
    default:
        nta_incoming_treply(irq, SIP_501_NOT_IMPLEMENTED, SIPTAG_ALLOW_STR(STUB_ALLOW), TAG_END());
        return 501;
    }
}

static void stub_server_sweep(su_root_magic_t *magic, su_timer_t *t, struct stub_server *srv)
{
    size_t n = stub_bindings_expire(srv->reg->store, NULL, time_now_s());
    if (n)
        log_debug("bindings: %zu expired, %zu left", n, stub_bindings_count(srv->reg->store));
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
    srv->agent = nta_agent_create(root, URL_STRING_MAKE(listen), stub_server_stray, srv,
                                  NTATAG_MAXSIZE(STUB_MAX_MESSAGE), NTATAG_UA(0),
                                  NTATAG_SERVER_RPORT(1), TAG_END());
    if (!srv->agent) {
        snprintf(err, errlen, "cannot listen on %s (address in use or not local?)", listen);
        goto fail;
    }
    /* One default leg receives every request that is not part of a dialog. */
    srv->leg =
        nta_leg_tcreate(srv->agent, stub_server_request, srv, NTATAG_NO_DIALOG(1), TAG_END());
    srv->sweep = su_timer_create(su_root_task(root), STUB_SWEEP_MS);
    if (!srv->leg || !srv->sweep ||
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
    if (srv->leg)
        nta_leg_destroy(srv->leg);
    if (srv->agent)
        nta_agent_destroy(srv->agent);
    free(srv);
}
