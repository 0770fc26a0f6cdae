/* proxy_out: requests from a WebSocket flow towards the IMS core. The flow must hold a live
 * registration; the identity asserted to the core is the registered one, never the client's
 * claim (RFC 3325, 24.229 §5.2.6); initial requests are routed by the stored Service-Route. */
#include "proxy.h"
#include "proxy_tx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "dialog.h"
#include "gw.h"
#include "identity.h"
#include "sipmsg.h"
#include "log.h"
#include "recover.h"
#include "media.h"
#include "reg.h"
#include "route.h"
#include "timeutil.h"
#include "ws_conn.h"

static uint64_t out_icid_counter;

/* The scope a request needs (the same in a dialog as outside one: a To-tag is no privilege).
 * MESSAGE needs ims:message; everything else ims:call, but an in-dialog ACK or BYE only
 * completes or ends what is already there and needs nothing more. */
static const char *out_needed_scope(sip_t const *sip)
{
    sip_method_t method = sip->sip_request->rq_method;
    if (method == sip_method_message)
        return "ims:message";
    if (sip->sip_to->a_tag && (method == sip_method_ack || method == sip_method_bye))
        return NULL;
    return "ims:call";
}

static int out_scope_has(const char *scope, const char *want)
{
    if (!want)
        return 1;
    size_t wl = strlen(want);
    for (const char *p = scope; p && (p = strstr(p, want)) != NULL; p += wl)
        if ((p == scope || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' '))
            return 1;
    return 0;
}

/* Rebuilds an initial request: trusted identity, Service-Route, Record-Route, charging. */
static int out_prepare_initial(struct gw_conn *c, msg_t *fwd, sip_t *fs)
{
    char pcv[400];
    if (identity_assert_on(fwd, fs, c->reg) < 0)
        return -1;
    while (fs->sip_route)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_route);
    if (c->reg->service_route &&
        sip_add_tl(fwd, fs, SIPTAG_ROUTE_STR(c->reg->service_route), TAG_END()) < 0)
        return -1;
    if (route_forms_dialog(fs) && route_record_route(fwd, fs, c, 0) < 0)
        return -1;
    snprintf(pcv, sizeof(pcv),
             "P-Charging-Vector: icid-value=\"gw-%" PRId64 "-o%" PRIu64
             "\";icid-generated-at=%s;orig-ioi=%s",
             time_now_s(), ++out_icid_counter, gw->cfg->sip_host, gw->cfg->visited_network_id);
    return sipmsg_add_unknown(fwd, fs, pcv);
}

/* A request waiting for the media relay to rewrite its SDP. An INVITE waiting so is also in
 * out_waiting (key "<flow id>/<Via branch>"): a CANCEL that arrives before it went upstream
 * is matched there, answered 200, and the INVITE then ends with 487 instead of going on
 * (RFC 3261 §9.2). */
struct out_pending {
    uint64_t conn_id;
    msg_t *req;
    url_string_t const *next;
    char *key; /* in out_waiting, or NULL */
    int cancelled;
};

static GHashTable *out_waiting; /* key → struct out_pending */

static char *out_waiting_key(uint64_t conn_id, const char *branch)
{
    return g_strdup_printf("%" PRIu64 "/%s", conn_id, branch);
}

static void out_media_done(void *arg, msg_t *fwd, int status, const char *phrase)
{
    struct out_pending *p = arg;
    struct gw_conn *c = status >= 0 ? ws_find(p->conn_id) : NULL;
    sip_t const *sip = sip_object(p->req);
    if (p->key) {
        g_hash_table_remove(out_waiting, p->key);
        g_free(p->key);
    }
    if (p->cancelled && status >= 0) {
        /* Cancelled while the relay worked: it never goes upstream; its session goes. */
        if (c)
            sipmsg_reply(c, sip, 487, "Request Terminated", TAG_END());
        media_end(p->conn_id, sip->sip_call_id->i_id);
        msg_destroy(fwd);
        msg_destroy(p->req);
    } else if (c && status == 0) {
        proxy_tx_send_out(c, p->req, fwd, p->next);
    } else {
        /* No half-set-up call: the request does not go on without its media. */
        if (c && sip->sip_request->rq_method != sip_method_ack)
            sipmsg_reply(c, sip, status, phrase, TAG_END());
        else if (status > 0)
            log_warn("proxy: %s dropped: %s", sip->sip_request->rq_method_name, phrase);
        if (status > 0 && !sip->sip_to->a_tag)
            media_end(p->conn_id, sip->sip_call_id->i_id);
        msg_destroy(fwd);
        msg_destroy(p->req);
    }
    free(p);
}

/* RFC 3261 §16.6 step 3: a request without Max-Forwards leaves with 70. */
static int out_decrement_max_forwards(msg_t *fwd, sip_t *fs)
{
    if (!fs->sip_max_forwards)
        return sip_add_tl(fwd, fs, SIPTAG_MAX_FORWARDS_STR("70"), TAG_END());
    fs->sip_max_forwards->mf_count--;
    return 0;
}

/* CANCEL from the client: answered here, and the matching INVITE cancelled upstream. */
static void out_cancel(struct gw_conn *c, msg_t *msg, sip_t const *sip)
{
    struct proxy_tx *tx = proxy_tx_find_out(c->id, sip->sip_via->v_branch);
    struct out_pending *waiting = NULL;
    if (!tx && out_waiting && sip->sip_via->v_branch) {
        char *key = out_waiting_key(c->id, sip->sip_via->v_branch);
        waiting = g_hash_table_lookup(out_waiting, key);
        g_free(key);
    }
    if (waiting) {
        sipmsg_reply(c, sip, 200, "OK", TAG_END());
        waiting->cancelled = 1; /* the 487 follows once the relay has answered */
    } else if (!tx || !tx->invite || tx->final) {
        sipmsg_reply(c, sip, 481, "Call/Transaction Does Not Exist", TAG_END());
    } else {
        sipmsg_reply(c, sip, 200, "OK", TAG_END());
        proxy_tx_cancel_out(tx);
    }
    msg_destroy(msg);
}

/* Refuses msg with status (no answer to an ACK); takes msg. */
static void out_refuse(struct gw_conn *c, msg_t *msg, int status, const char *phrase)
{
    sip_t const *sip = sip_object(msg);
    if (sip->sip_request->rq_method != sip_method_ack) {
        /* RFC 3261 §16.3 step 5: a 420 lists the option tags we do not support. */
        char *unsupported =
            status == 420 ? sipmsg_join_values((sip_header_t const *)sip->sip_proxy_require, NULL)
                          : NULL;
        sipmsg_reply(c, sip, status, phrase, TAG_IF(status == 503, SIPTAG_RETRY_AFTER_STR("5")),
                     TAG_IF(unsupported, SIPTAG_UNSUPPORTED_STR(unsupported)), TAG_END());
        free(unsupported);
    }
    msg_destroy(msg);
}

/* In dialog: the request travels along the route set the gateway stored for the dialog. The
 * client's Route must still start with our own Record-Route entry for this very flow (a
 * tampered token is refused), but beyond that it is ignored: taking it would let a client send
 * from our trusted address to any host. */
static int out_prepare_in_dialog(struct gw_conn *c, struct dialog *d, msg_t *fwd, sip_t *fs)
{
    struct flow_ref ref;
    /* After flow recovery the route set still names the old flow, now an alias of c. */
    if (route_pop_ours(fwd, fs, &ref) != ROUTE_TOKEN_OK || recover_route(ref.conn_id) != c->id ||
        !flow_ref_ours(&ref, gw->worker))
        return 403;
    while (fs->sip_route)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_route);
    const char *route = dialog_route(d);
    if (route && sip_add_tl(fwd, fs, SIPTAG_ROUTE_STR(route), TAG_END()) < 0)
        return 500;
    /* shifted by the requests of this dialog that proxy_auth re-sent with credentials */
    uint32_t seq = dialog_upstream_cseq(d, fs->sip_cseq->cs_seq);
    if (seq != fs->sip_cseq->cs_seq && (seq >= 0x80000000u || sipmsg_set_cseq(fwd, fs, seq) < 0))
        return 500;
    sipmsg_strip_p_headers(fwd, fs, NULL);
    return 0;
}

void proxy_out_request(struct gw_conn *c, msg_t *msg)
{
    sip_t *sip = sip_object(msg);
    sip_method_t method = sip->sip_request->rq_method;
    if (method == sip_method_cancel) {
        out_cancel(c, msg, sip);
        return;
    }
    /* ACK of a non-2xx final answer is hop-by-hop: nta already acknowledged it upstream, and
     * the INVITE transaction waited for it (RFC 3261 §16.7: a proxy absorbs it). */
    struct proxy_tx *inv =
        method == sip_method_ack ? proxy_tx_find_out(c->id, sip->sip_via->v_branch) : NULL;
    if (inv) {
        if (inv->final)
            proxy_tx_free(inv);
        msg_destroy(msg);
        return;
    }
    /* A registration (and the token under it) that lapsed authorises nothing any more. */
    if (c->reg && time_now_s() >= c->reg->expires_at)
        reg_flow_closed(c);
    int in_dialog = sip->sip_to->a_tag != NULL;
    struct dialog *d = in_dialog ? dialog_find_ws(c->id, sip) : NULL;
    const char *scope = out_needed_scope(sip);
    int status = 0;
    const char *phrase = NULL;
    if (!c->reg)
        status = 403, phrase = "Forbidden (not registered)";
    else if (sip->sip_max_forwards && sip->sip_max_forwards->mf_count == 0)
        status = 483, phrase = "Too Many Hops";
    else if (sip->sip_proxy_require)
        status = 420, phrase = "Bad Extension";
    else if (in_dialog && !d)
        status = 481, phrase = "Call/Transaction Does Not Exist";
    else if (!out_scope_has(c->reg->scope, scope))
        status = 403, phrase = "Forbidden (token scope does not allow this)";
    else if (c->ntx >= PROXY_MAX_TX_PER_FLOW && method != sip_method_ack)
        status = 503, phrase = "Service Unavailable (too many requests on this flow)";
    if (status) {
        out_refuse(c, msg, status, phrase);
        return;
    }

    msg_t *fwd = msg_dup(msg);
    sip_t *fs = fwd ? sip_object(fwd) : NULL;
    url_string_t const *next = gw->next_hop;
    status = fs && out_decrement_max_forwards(fwd, fs) == 0 ? 0 : 500;
    if (!status && d) {
        status = out_prepare_in_dialog(c, d, fwd, fs);
        next = fs->sip_route ? NULL : gw->next_hop;
    } else if (!status) {
        status = out_prepare_initial(c, fwd, fs) == 0 ? 0 : 500;
        /* Issue 11: along the Service-Route (TS 24.229 §5.2.6.3), so the S-CSCF gives it
         * originating treatment; next-hop serves REGISTER (and cores without Service-Route). */
        next = fs->sip_route ? NULL : gw->next_hop;
    }
    if (status) {
        if (fwd)
            msg_destroy(fwd);
        out_refuse(c, msg, status,
                   status == 403 ? "Forbidden (not a dialog of this connection)"
                                 : "Server Internal Error");
        return;
    }
    if (d) {
        dialog_seen_cseq(d, fs);
        if (method == sip_method_bye) {
            dialog_remove(d);
            media_end(c->id, sip->sip_call_id->i_id);
        }
    }
    if (method == sip_method_invite)
        sipmsg_reply(c, sip, 100, "Trying", TAG_END()); /* within 200 ms: at once */
    struct out_pending *p = calloc(1, sizeof(*p));
    *p = (struct out_pending){c->id, msg, next, NULL, 0};
    if (method == sip_method_invite && sip->sip_via->v_branch) {
        if (!out_waiting)
            out_waiting = g_hash_table_new(g_str_hash, g_str_equal);
        p->key = out_waiting_key(c->id, sip->sip_via->v_branch);
        if (g_hash_table_contains(out_waiting, p->key)) {
            g_free(p->key); /* a retransmission of an INVITE still waiting: absorbed */
            free(p);
            msg_destroy(fwd);
            msg_destroy(msg);
            return;
        }
        g_hash_table_insert(out_waiting, p->key, p);
    }
    media_sdp(c->id, fwd, MEDIA_TO_IMS, out_media_done, p);
}
