/* proxy_in: requests from the IMS core towards a WebSocket flow. They reach us only through our
 * own URIs (the Path of the registration, or our Record-Route in a dialog), whose flow token
 * names the connection: tampered → 403, connection gone → 430 Flow Failed (RFC 5626 §5.3). */
#include "proxy.h"
#include "proxy_tx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta_tag.h>
#include <sofia-sip/su.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "dialog.h"
#include "gw.h"
#include "gw_tls.h"
#include "ims_peers.h"
#include "identity.h"
#include "sipmsg.h"
#include "log.h"
#include "recover.h"
#include "media.h"
#include "reg.h"
#include "rnd.h"
#include "route.h"
#include "ws_conn.h"

static nta_leg_t *proxy_leg;

/* Cancels, on the WebSocket, the INVITE we forwarded there (same Request-URI, Via branch, From,
 * To, Call-ID and CSeq number: RFC 3261 §9.1). */
static void in_send_cancel(struct proxy_tx *tx)
{
    struct gw_conn *c = ws_find(tx->conn_id);
    sip_t const *inv = sip_object(tx->req);
    if (!c)
        return;
    char buf[4096];
    char ruri[1024], from[1024], to[1024];
    if (sipmsg_url(ruri, sizeof(ruri), inv->sip_request->rq_url) < 0 ||
        sipmsg_header_text(from, sizeof(from), (sip_header_t const *)inv->sip_from) < 0 ||
        sipmsg_header_text(to, sizeof(to), (sip_header_t const *)inv->sip_to) < 0)
        return; /* cannot be expressed; the browser's own timers end its branch */
    int n = snprintf(buf, sizeof(buf),
                     "CANCEL %s SIP/2.0\r\nVia: SIP/2.0/%s %s;branch=%s\r\nMax-Forwards: 70\r\n"
                     "%s%sCall-ID: %s\r\nCSeq: %u CANCEL\r\nContent-Length: 0\r\n\r\n",
                     ruri, gw_tls_via_transport(), gw->cfg->sip_host, tx->branch, from, to,
                     inv->sip_call_id->i_id, inv->sip_cseq->cs_seq);
    if (n > 0 && (size_t)n < sizeof(buf))
        ws_send(c, buf, (size_t)n);
}

/* A CANCEL for an INVITE we forwarded to the flow (nta answered the CANCEL itself). */
static int in_on_cancel(nta_incoming_magic_t *magic, nta_incoming_t *irq, sip_t const *sip)
{
    struct proxy_tx *tx = (struct proxy_tx *)magic;
    if (sip && sip->sip_request->rq_method == sip_method_cancel && !tx->final)
        in_send_cancel(tx);
    return 0;
}

/* Timer C for INVITEs towards a browser that never answers finally. */
static gboolean in_timer_c(gpointer arg)
{
    struct proxy_tx *tx = arg;
    tx->timer_c = 0;
    if (!tx->final) {
        in_send_cancel(tx); /* the browser stops ringing */
        dialog_early_over(tx->conn_id, sip_object(tx->req)->sip_call_id->i_id);
        nta_incoming_treply(tx->irq, SIP_408_REQUEST_TIMEOUT, TAG_END());
        media_end(tx->conn_id, sip_object(tx->req)->sip_call_id->i_id);
        tx->final = 1;
        proxy_tx_free(tx);
    }
    return G_SOURCE_REMOVE;
}

/* A request from the core waiting for the media relay to rewrite its SDP. */
struct in_pending {
    uint64_t conn_id;
    nta_incoming_t *irq;
    char branch[64];
    int cancelled;
};

/* A CANCEL from the core for an INVITE still waiting for the relay (nta answered it 200): the
 * INVITE ends with 487 once the relay has answered, and never reaches the browser. */
static int in_pending_on_cancel(nta_incoming_magic_t *magic, nta_incoming_t *irq, sip_t const *sip)
{
    struct in_pending *p = (struct in_pending *)magic;
    (void)irq;
    if (sip && sip->sip_request->rq_method == sip_method_cancel)
        p->cancelled = 1;
    return 0;
}

static void in_media_done(void *arg, msg_t *fwd, int status, const char *phrase)
{
    struct in_pending *p = arg;
    struct gw_conn *c = status >= 0 ? ws_find(p->conn_id) : NULL;
    sip_t const *fs = sip_object(fwd);
    sip_method_t method = fs->sip_request->rq_method;
    if (p->cancelled && status >= 0) {
        nta_incoming_treply(p->irq, SIP_487_REQUEST_CANCELLED, TAG_END());
        media_end(p->conn_id, fs->sip_call_id->i_id);
        msg_destroy(fwd);
        nta_incoming_destroy(p->irq);
        free(p);
        return;
    }
    if (c && status == 0 && sipmsg_send(c, fwd) < 0)
        status = 500, phrase = "Server Internal Error";
    /* Only a BYE that came from the core and reached the flow ends the dialog. */
    if (c && status == 0 && method == sip_method_bye) {
        dialog_ended(c->id, fs);
        media_end(c->id, fs->sip_call_id->i_id);
    }
    struct proxy_tx *tx =
        c && status == 0 && method != sip_method_ack
            ? proxy_tx_add_in(c, p->irq, p->branch, fwd, method == sip_method_invite)
            : NULL;
    if (c && status == 0 && method != sip_method_ack && !tx)
        status = 503, phrase = "Service Unavailable";
    if (tx) {
        nta_incoming_bind(p->irq, in_on_cancel, (nta_incoming_magic_t *)tx);
        if (tx->invite)
            tx->timer_c = g_timeout_add_seconds((guint)gw->cfg->timer_c, in_timer_c, tx);
        free(p);
        return;
    }
    if (method != sip_method_ack && status != 0 && status >= 0) {
        if (status > 0)
            log_warn("proxy: %s from the IMS side answered %d: %s", fs->sip_request->rq_method_name,
                     status, phrase);
        nta_incoming_treply(p->irq, c ? status : 430, c ? phrase : "Flow Failed", TAG_END());
        if (!fs->sip_to->a_tag)
            media_end(p->conn_id, fs->sip_call_id->i_id);
    }
    msg_destroy(fwd);
    nta_incoming_destroy(p->irq);
    free(p);
}

static int in_on_request(nta_leg_magic_t *magic, nta_leg_t *leg, nta_incoming_t *irq,
                         sip_t const *sip)
{
    sip_method_t method = sip->sip_request->rq_method;
    if (method == sip_method_cancel)
        return 481; /* nta matches CANCELs to live transactions itself */
    msg_t *orig = nta_incoming_getrequest(irq);
    /* Requests on the IMS side are trusted only from the core (its P-Asserted-Identity
     * included): a party that learned our Record-Route must not reach a browser around the
     * S-CSCF. */
    if (!orig || !ims_peers_msg_allowed(orig)) {
        if (orig)
            msg_destroy(orig);
        log_info("proxy: %s from an address that is not the IMS core refused",
                 sip->sip_request->rq_method_name);
        if (method == sip_method_ack) {
            nta_incoming_destroy(irq);
            return 0;
        }
        nta_incoming_treply(irq, SIP_403_FORBIDDEN, TAG_END());
        nta_incoming_destroy(irq);
        return 0;
    }
    msg_t *fwd = msg_dup(orig);
    msg_destroy(orig);
    if (!fwd) {
        if (method != sip_method_ack)
            nta_incoming_treply(irq, SIP_503_SERVICE_UNAVAILABLE, TAG_END());
        nta_incoming_destroy(irq);
        return 0;
    }
    sip_t *fs = sip_object(fwd);
    struct flow_ref ref;
    enum route_flow found = route_pop_ours(fwd, fs, &ref);
    /* A recovered flow's old token still names it: its dialogs now live on the new flow. */
    uint64_t serving = found == ROUTE_TOKEN_OK ? recover_route(ref.conn_id) : 0;
    struct gw_conn *c =
        found == ROUTE_TOKEN_OK && flow_ref_ours(&ref, gw->worker) ? ws_find(serving) : NULL;
    if (c && serving != ref.conn_id)
        gw->metrics.recovery_routed_total++;
    int status = 0;
    if (found == ROUTE_TOKEN_BAD)
        status = 403; /* tampered flow token */
    else if (found == ROUTE_NO_TOKEN)
        status = method == sip_method_options ? 200 : 404;
    else if (!c)
        status = 430; /* the flow is gone */
    else if (fs->sip_max_forwards && fs->sip_max_forwards->mf_count == 0)
        status = 483;
    else if (c->ntx >= PROXY_MAX_TX_PER_FLOW && method != sip_method_ack)
        status = 503;
    if (status) {
        msg_destroy(fwd);
        if (method == sip_method_ack) {
            nta_incoming_destroy(irq); /* else the ACK transaction is never freed */
            return 0;
        }
        log_info("proxy: %s from the IMS side answered %d", sip->sip_request->rq_method_name,
                 status);
        if (status == 430)
            nta_incoming_treply(irq, 430, "Flow Failed", TAG_END());
        else
            nta_incoming_treply(irq, status, NULL, TAG_END());
        nta_incoming_destroy(irq);
        return 0;
    }
    /* RFC 3261 §16.6 step 3: a request without Max-Forwards leaves with 70. */
    int ok = 1;
    if (fs->sip_max_forwards)
        fs->sip_max_forwards->mf_count--;
    else
        ok = sip_add_tl(fwd, fs, SIPTAG_MAX_FORWARDS_STR("70"), TAG_END()) >= 0;
    char branch[64], via[400];
    char rnd[24];
    rnd_token(rnd, 12);
    snprintf(branch, sizeof(branch), "z9hG4bK-%s", rnd);
    snprintf(via, sizeof(via), "SIP/2.0/%s %s;branch=%s", gw_tls_via_transport(), gw->cfg->sip_host,
             branch);
    ok = ok && sip_add_tl(fwd, fs, SIPTAG_VIA_STR(via), TAG_END()) >= 0;
    if (ok && route_forms_dialog(fs) && !fs->sip_to->a_tag)
        ok = route_record_route(fwd, fs, c, 1) == 0;
    if (!ok) {
        msg_destroy(fwd);
        nta_incoming_treply(irq, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
        nta_incoming_destroy(irq);
        return 0;
    }
    if (method == sip_method_invite)
        nta_incoming_treply(irq, SIP_100_TRYING, TAG_END());
    struct in_pending *p = calloc(1, sizeof(*p));
    p->conn_id = c->id;
    p->irq = irq;
    snprintf(p->branch, sizeof(p->branch), "%s", branch);
    if (method == sip_method_invite)
        nta_incoming_bind(irq, in_pending_on_cancel, (nta_incoming_magic_t *)p);
    media_sdp(c->id, fwd, MEDIA_TO_WS, in_media_done, p);
    return 0;
}

/* The browser's response, its SDP anchored: relayed upstream through the server transaction,
 * if that still waits for it. A 2xx whose SDP the relay refused becomes a 5xx upstream. */
static void in_rsp_media_done(void *arg, msg_t *msg, int status, const char *phrase)
{
    char *branch = arg;
    struct proxy_tx *tx = status >= 0 ? proxy_tx_find_in(branch) : NULL;
    free(branch);
    int code = sip_object(msg)->sip_status->st_status;
    if (!tx || tx->final || (status > 0 && code < 200)) {
        msg_destroy(msg);
        return;
    }
    if (status == 0) {
        nta_incoming_mreply(tx->irq, msg);
    } else {
        msg_destroy(msg);
        nta_incoming_treply(tx->irq, status, phrase, TAG_END());
    }
    if (code >= 200) {
        tx->final = 1;
        proxy_tx_free(tx);
    }
}

void proxy_in_response(struct gw_conn *c, msg_t *msg)
{
    sip_t *sip = sip_object(msg);
    struct proxy_tx *tx = sip->sip_via ? proxy_tx_find_in(sip->sip_via->v_branch) : NULL;
    sip_t const *sent = tx ? sip_object(tx->req) : NULL;
    /* The answer to our CANCEL shares the INVITE's branch; nta already answered the core's
     * CANCEL, so it is dropped here like any stray or late response. */
    if (!tx || tx->conn_id != c->id || tx->final ||
        sip->sip_cseq->cs_method != sent->sip_cseq->cs_method) {
        msg_destroy(msg);
        return;
    }
    int status = sip->sip_status->st_status;
    if (tx->invite && !sent->sip_to->a_tag) {
        if (status < 300)
            dialog_learn(c->id, 0, sent, sip);
        else
            dialog_early_over(c->id, sent->sip_call_id->i_id);
    }
    sip_header_remove(msg, sip, (sip_header_t *)sip->sip_via);
    /* TS 24.229 §5.2.6.4: the callee's identity towards the core is the one its registration
     * proved; whatever P-headers the client put in its response are dropped. */
    if (status != 100 && identity_assert_on(msg, sip, c->reg) < 0) {
        msg_destroy(msg);
        if (status >= 200) { /* out of memory: an answer the core can act on all the same */
            nta_incoming_treply(tx->irq, SIP_500_INTERNAL_SERVER_ERROR, TAG_END());
            tx->final = 1;
            proxy_tx_free(tx);
        }
        return;
    }
    if (status == 100) {
        msg_destroy(msg);
        return;
    }
    if (status < 200 && tx->timer_c) { /* a provisional resets Timer C */
        g_source_remove(tx->timer_c);
        tx->timer_c = g_timeout_add_seconds((guint)gw->cfg->timer_c, in_timer_c, tx);
    }
    if (status >= 300 && tx->invite && !sent->sip_to->a_tag)
        media_end(c->id, sent->sip_call_id->i_id); /* declined, cancelled, failed */
    media_sdp(c->id, msg, MEDIA_TO_IMS, in_rsp_media_done, strdup(tx->branch));
}

int proxy_start(void)
{
    proxy_leg = nta_leg_tcreate(gw->agent, in_on_request, NULL, NTATAG_NO_DIALOG(1), TAG_END());
    return proxy_leg ? 0 : -1;
}

static void proxy_end_tx(struct proxy_tx *tx)
{
    if (tx->out) {
        /* Responses will find no flow; an INVITE still ringing is cancelled upstream. */
        if (tx->invite && !tx->final)
            proxy_tx_cancel_out(tx);
        return;
    }
    tx->final = 1;
    nta_incoming_treply(tx->irq, 430, "Flow Failed", TAG_END());
    proxy_tx_free(tx);
}

void proxy_flow_closed(struct gw_conn *c)
{
    proxy_tx_foreach_conn(c->id, proxy_end_tx);
    /* Held for flow recovery: its calls and their media end later unless the client comes back
     * (recover.c). */
    if (!recover_holds(c->id)) {
        dialog_flow_closed(c->id);
        media_flow_closed(c->id);
    }
}

void proxy_stop(void)
{
    proxy_tx_clear();
    dialog_clear();
    if (proxy_leg)
        nta_leg_destroy(proxy_leg);
    proxy_leg = NULL;
}
