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
#include "sipmsg.h"
#include "log.h"
#include "reg.h"
#include "route.h"
#include "timeutil.h"
#include "ws_conn.h"

static uint64_t out_icid_counter;

/* The scope a request needs: messages need ims:message, everything else ims:call. In-dialog
 * requests ride on a dialog the scope already allowed. */
static const char *out_needed_scope(sip_t const *sip)
{
    if (sip->sip_to && sip->sip_to->a_tag)
        return NULL;
    return sip->sip_request->rq_method == sip_method_message ? "ims:message" : "ims:call";
}

static int out_scope_has(const char *scope, const char *want)
{
    size_t wl = strlen(want);
    for (const char *p = scope; p && (p = strstr(p, want)) != NULL; p += wl)
        if ((p == scope || p[-1] == ' ') && (p[wl] == '\0' || p[wl] == ' '))
            return 1;
    return 0;
}

/* P-Asserted-Identity: P-Preferred-Identity when it is one of the P-Associated-URIs, else the
 * default (first associated) identity, else the registered IMPU. */
static void out_asserted_identity(const struct reg_state *r, sip_t const *sip, char *out,
                                  size_t outlen)
{
    const sip_header_t *ppi = sipmsg_find_unknown(sip, "P-Preferred-Identity");
    const char *assoc = r->associated_uris ? r->associated_uris : "";
    if (ppi) {
        char want[300];
        const char *v = ppi->sh_unknown->un_value;
        snprintf(want, sizeof(want), "%.*s", (int)strcspn(v, ","), v);
        char *lt = strchr(want, '<'), *gt = strchr(want, '>');
        if (lt && gt && gt > lt && strstr(assoc, want) && !strpbrk(want, "\r\n")) {
            snprintf(out, outlen, "%.*s", (int)(gt - lt + 1), lt);
            return;
        }
    }
    const char *lt = strchr(assoc, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        snprintf(out, outlen, "%.*s", (int)(gt - lt + 1), lt);
    else
        snprintf(out, outlen, "<%s>", r->impu);
}

/* Rebuilds an initial request: trusted identity, Service-Route, Record-Route, charging. */
static int out_prepare_initial(struct gw_conn *c, msg_t *fwd, sip_t *fs)
{
    char pai[400], pcv[400];
    out_asserted_identity(c->reg, fs, pai, sizeof(pai));
    sipmsg_strip_p_headers(fwd, fs, NULL);
    while (fs->sip_route)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_route);
    if (c->reg->service_route &&
        sip_add_tl(fwd, fs, SIPTAG_ROUTE_STR(c->reg->service_route), TAG_END()) < 0)
        return -1;
    if (route_forms_dialog(fs) && route_record_route(fwd, fs, c->id, 0) < 0)
        return -1;
    char pai_hdr[440];
    snprintf(pai_hdr, sizeof(pai_hdr), "P-Asserted-Identity: %s", pai);
    snprintf(pcv, sizeof(pcv),
             "P-Charging-Vector: icid-value=\"gw-%" PRId64 "-o%" PRIu64
             "\";icid-generated-at=%s;orig-ioi=%s",
             time_now_s(), ++out_icid_counter, gw->cfg->sip_host, gw->cfg->visited_network_id);
    return sip_add_tl(fwd, fs, SIPTAG_HEADER_STR(pai_hdr), SIPTAG_HEADER_STR(pcv), TAG_END());
}

static int out_decrement_max_forwards(msg_t *fwd, sip_t *fs)
{
    if (!fs->sip_max_forwards)
        return sip_add_tl(fwd, fs, SIPTAG_MAX_FORWARDS_STR("69"), TAG_END());
    fs->sip_max_forwards->mf_count--;
    return 0;
}

/* CANCEL from the client: answered here, and the matching INVITE cancelled upstream. */
static void out_cancel(struct gw_conn *c, msg_t *msg, sip_t const *sip)
{
    struct proxy_tx *tx = proxy_tx_find_out(c->id, sip->sip_via->v_branch);
    if (!tx || !tx->invite || tx->final) {
        sipmsg_reply(c, sip, 481, "Call/Transaction Does Not Exist", TAG_END());
    } else {
        sipmsg_reply(c, sip, 200, "OK", TAG_END());
        proxy_tx_cancel_out(tx);
    }
    msg_destroy(msg);
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
    const char *scope = out_needed_scope(sip);
    int status = 0;
    const char *phrase = NULL;
    if (!c->reg) {
        status = 403, phrase = "Forbidden (not registered)";
    } else if (sip->sip_max_forwards && sip->sip_max_forwards->mf_count == 0) {
        status = 483, phrase = "Too Many Hops";
    } else if (sip->sip_proxy_require) {
        status = 420, phrase = "Bad Extension";
    } else if (scope && !out_scope_has(c->reg->scope, scope)) {
        status = 403, phrase = "Forbidden (token scope does not allow this)";
    } else if (c->ntx >= PROXY_MAX_TX_PER_FLOW && method != sip_method_ack) {
        status = 503, phrase = "Service Unavailable (too many requests on this flow)";
    }
    if (status) {
        if (method != sip_method_ack)
            sipmsg_reply(c, sip, status, phrase, TAG_IF(status == 503, SIPTAG_RETRY_AFTER_STR("5")),
                         TAG_END());
        msg_destroy(msg);
        return;
    }

    msg_t *fwd = msg_dup(msg);
    sip_t *fs = sip_object(fwd);
    url_string_t const *next = gw->next_hop;
    int ok = out_decrement_max_forwards(fwd, fs) == 0;
    if (!sip->sip_to->a_tag) {
        ok = ok && out_prepare_initial(c, fwd, fs) == 0;
        /* Issue 11: along the Service-Route (TS 24.229 §5.2.6.3), so the S-CSCF gives it
         * originating treatment; next-hop serves REGISTER (and cores without Service-Route). */
        next = fs->sip_route ? NULL : gw->next_hop;
    } else {
        struct flow_ref ref;
        /* In dialog: the route set must start with our own Record-Route entry for this very
         * flow; anything else would let a client send from our trusted address to any host. */
        if (route_pop_ours(fwd, fs, &ref) != ROUTE_TOKEN_OK || ref.conn_id != c->id ||
            ref.worker != gw->worker) {
            if (method != sip_method_ack)
                sipmsg_reply(c, sip, 403, "Forbidden (not a dialog of this connection)", TAG_END());
            msg_destroy(fwd);
            msg_destroy(msg);
            return;
        }
        sipmsg_strip_p_headers(fwd, fs, NULL);
        next = fs->sip_route ? NULL : gw->next_hop;
    }
    if (!ok) {
        sipmsg_reply(c, sip, 500, "Server Internal Error", TAG_END());
        msg_destroy(fwd);
        msg_destroy(msg);
        return;
    }
    if (sip->sip_to->a_tag)
        dialog_seen_cseq(sip);
    if (method == sip_method_bye)
        dialog_ended(sip);
    if (method == sip_method_invite)
        sipmsg_reply(c, sip, 100, "Trying", TAG_END()); /* within 200 ms: at once */
    proxy_tx_send_out(c, msg, fwd, next);
}
