/* proxy_tx: every transaction is counted on its flow (bounded by PROXY_MAX_TX_PER_FLOW) and in
 * the gateway (a gauge on /metrics), so a test can check that nothing outlives its purpose. */
#include "proxy_tx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "gw.h"
#include "dialog.h"
#include "sipmsg.h"
#include "log.h"
#include "media.h"
#include "proxy.h"
#include "proxy_auth.h"
#include "ws_conn.h"

static GHashTable *proxy_txs; /* key → struct proxy_tx */

static GHashTable *proxy_table(void)
{
    if (!proxy_txs)
        proxy_txs = g_hash_table_new(g_str_hash, g_str_equal);
    return proxy_txs;
}

unsigned proxy_active(void)
{
    return proxy_txs ? g_hash_table_size(proxy_txs) : 0;
}

struct proxy_tx *proxy_tx_find_out(uint64_t conn_id, const char *branch)
{
    char key[128];
    snprintf(key, sizeof(key), "o/%llu/%.96s", (unsigned long long)conn_id, branch ? branch : "");
    return g_hash_table_lookup(proxy_table(), key);
}

struct proxy_tx *proxy_tx_find_in(const char *branch)
{
    char key[128];
    snprintf(key, sizeof(key), "i/%.96s", branch ? branch : "");
    return g_hash_table_lookup(proxy_table(), key);
}

static void proxy_tx_insert(struct gw_conn *c, struct proxy_tx *tx)
{
    g_hash_table_insert(proxy_table(), tx->key, tx);
    c->ntx++;
}

void proxy_tx_free(struct proxy_tx *tx)
{
    g_hash_table_remove(proxy_table(), tx->key);
    struct gw_conn *c = ws_find(tx->conn_id);
    if (c && c->ntx)
        c->ntx--;
    proxy_auth_forget(tx);
    if (tx->timer_c)
        g_source_remove(tx->timer_c);
    if (tx->linger)
        g_source_remove(tx->linger);
    if (tx->corq)
        nta_outgoing_destroy(tx->corq);
    if (tx->orq)
        nta_outgoing_destroy(tx->orq);
    if (tx->irq)
        nta_incoming_destroy(tx->irq);
    if (tx->req)
        msg_destroy(tx->req);
    free(tx);
}

static gboolean proxy_out_timer_c(gpointer arg);

static gboolean proxy_tx_linger_done(gpointer arg)
{
    struct proxy_tx *tx = arg;
    tx->linger = 0;
    proxy_tx_free(tx);
    return G_SOURCE_REMOVE;
}

/* A response whose SDP the relay could not anchor: a failed 18x is dropped, a failed 2xx becomes
 * a 5xx for the browser (the callee, never ACKed, ends its side). */
static void out_rsp_media_done(void *arg, msg_t *rsp, int status, const char *phrase)
{
    uint64_t conn_id = (uint64_t)(uintptr_t)arg;
    struct gw_conn *c = status >= 0 ? ws_find(conn_id) : NULL;
    sip_t *rs = sip_object(rsp);
    if (c && status == 0) {
        sipmsg_send(c, rsp);
    } else if (c && status > 0 && rs->sip_status->st_status >= 200) {
        su_home_t *home = msg_home(rsp);
        msg_header_replace(rsp, (msg_pub_t *)rs, (msg_header_t *)rs->sip_status,
                           (msg_header_t *)sip_status_create(home, status, phrase, NULL));
        if (rs->sip_payload)
            sip_header_remove(rsp, rs, (sip_header_t *)rs->sip_payload);
        if (rs->sip_content_type)
            sip_header_remove(rsp, rs, (sip_header_t *)rs->sip_content_type);
        if (rs->sip_content_length)
            sip_header_remove(rsp, rs, (sip_header_t *)rs->sip_content_length);
        msg_header_insert(rsp, (msg_pub_t *)rs, (msg_header_t *)sip_content_length_create(home, 0));
        sipmsg_send(c, rsp);
    }
    msg_destroy(rsp);
}

/* Responses from the IMS side: our Via off, charging headers off, to the flow. */
static int proxy_out_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip)
{
    struct proxy_tx *tx = (struct proxy_tx *)magic;
    int status = nta_outgoing_status(orq);
    struct gw_conn *c = ws_find(tx->conn_id);
    if (status == 100)
        return 0;                      /* the client already had our own 100 */
    if (status < 200 && tx->timer_c) { /* RFC 3261 §16.7 step 2: a provisional resets Timer C */
        g_source_remove(tx->timer_c);
        tx->timer_c = g_timeout_add_seconds((guint)gw->cfg->timer_c, proxy_out_timer_c, tx);
    }
    sip_t const *req = sip_object(tx->req);
    int refused = 0; /* the core challenged the answer to its own challenge */
    if (status == 407 && sip) {
        enum proxy_auth_verdict v = proxy_auth_challenged(tx, sip);
        if (v == PROXY_AUTH_HANDLED)
            return 0; /* tx is proxy_auth's now (and may be gone) */
        refused = v == PROXY_AUTH_REFUSE;
    }
    if (tx->invite && !req->sip_to->a_tag) {
        if (status < 300 && sip)
            dialog_learn(tx->conn_id, 1, req, sip);
        if (status >= 200 && status < 300 && sip && !c)
            dialog_orphan_answered(tx->conn_id, sip);
        else if (status >= 300) /* the core's answer or nta's own timeout */
            dialog_early_over(tx->conn_id, req->sip_call_id->i_id);
    }
    msg_t *rsp = c && sip && !refused ? nta_outgoing_getresponse(orq) : NULL;
    if (refused && c) {
        log_warn("proxy: the IMS core refused the Digest answer to its challenge of a %s on "
                 "flow %llu; 403, no retry",
                 req->sip_request->rq_method_name, (unsigned long long)tx->conn_id);
        sipmsg_reply(c, req, 403, "Forbidden (IMS credentials not accepted)", TAG_END());
    } else if (rsp) {
        sip_t *rs = sip_object(rsp);
        sip_header_remove(rsp, rs, (sip_header_t *)rs->sip_via);
        /* A request re-sent with credentials went up one CSeq higher: the client's number back */
        if (rs->sip_cseq && rs->sip_cseq->cs_seq != req->sip_cseq->cs_seq)
            sipmsg_set_cseq(rsp, rs, req->sip_cseq->cs_seq);
        sipmsg_strip_p_headers(rsp, rs, "P-Charging-");
        media_sdp(tx->conn_id, rsp, MEDIA_TO_WS, out_rsp_media_done,
                  (void *)(uintptr_t)tx->conn_id);
    } else if (c && status >= 200) {
        /* nta's own timeout or transport error: answer from the request we kept */
        sipmsg_reply(c, sip_object(tx->req), status, NULL, TAG_END());
    }
    if (status >= 200) {
        tx->final = 1;
        if (tx->invite && status >= 300 && !req->sip_to->a_tag)
            media_end(tx->conn_id, req->sip_call_id->i_id); /* CANCEL, Timer C, failure */
        /* A failed INVITE waits briefly for the client's ACK, which it then absorbs. */
        if (tx->invite && status >= 300 && c)
            tx->linger = g_timeout_add(PROXY_ACK_WAIT_MS, proxy_tx_linger_done, tx);
        else
            proxy_tx_free(tx);
    }
    return 0;
}

static int proxy_cancel_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq,
                                    sip_t const *sip)
{
    struct proxy_tx *tx = (struct proxy_tx *)magic;
    if (nta_outgoing_status(orq) >= 200 && tx->corq == orq) {
        nta_outgoing_destroy(orq);
        tx->corq = NULL;
    }
    return 0;
}

/* CANCEL built here rather than with nta_outgoing_cancel(), which on a reliable transport ends
 * the INVITE client transaction at once: the callee's 487 would then never reach the caller
 * (nor be acknowledged). Same Request-URI, top Via (branch), From, To, Call-ID and Route as the
 * INVITE (RFC 3261 §9.1); the INVITE transaction stays and receives the 487. */
void proxy_tx_cancel_out(struct proxy_tx *tx)
{
    if (tx->auth) {
        tx->cancelled = 1; /* nothing upstream to cancel yet: proxy_auth answers 487 */
        return;
    }
    if (tx->corq || tx->final || !tx->orq)
        return;
    msg_t *inv = nta_outgoing_getrequest(tx->orq);
    sip_t const *is = inv ? sip_object(inv) : NULL;
    if (!is || !is->sip_via) {
        if (inv)
            msg_destroy(inv);
        return;
    }
    msg_t *cm = nta_msg_create(gw->agent, 0);
    if (!cm) {
        msg_destroy(inv);
        log_warn("proxy: out of memory; no CANCEL upstream");
        return;
    }
    sip_t *cs = sip_object(cm);
    su_home_t *home = msg_home(cm);
    char *via = sip_header_as_string(home, (sip_header_t const *)is->sip_via);
    int ok =
        via &&
        sip_add_tl(cm, cs,
                   SIPTAG_REQUEST(sip_request_create(
                       home, SIP_METHOD_CANCEL, (url_string_t *)is->sip_request->rq_url, NULL)),
                   SIPTAG_VIA_STR(via), SIPTAG_MAX_FORWARDS_STR("70"), SIPTAG_FROM(is->sip_from),
                   SIPTAG_TO(is->sip_to), SIPTAG_CALL_ID(is->sip_call_id),
                   SIPTAG_CSEQ(sip_cseq_create(home, is->sip_cseq->cs_seq, SIP_METHOD_CANCEL)),
                   SIPTAG_ROUTE(is->sip_route), TAG_END()) >= 0;
    msg_destroy(inv);
    tx->corq =
        ok ? nta_outgoing_mcreate(gw->agent, proxy_cancel_on_response, (nta_outgoing_magic_t *)tx,
                                  tx->next, cm, NTATAG_USER_VIA(1), TAG_END())
           : NULL;
    if (!tx->corq) {
        log_warn("proxy: could not send CANCEL upstream");
        msg_destroy(cm);
    }
}

/* The CANCEL got no 487 within the transaction timeout (the trunk was lost, or the core forgot
 * the INVITE): RFC 3261 §9.1 lets the INVITE client transaction end; the client gets 408. */
static gboolean proxy_out_give_up(gpointer arg)
{
    struct proxy_tx *tx = arg;
    tx->timer_c = 0;
    if (tx->final)
        return G_SOURCE_REMOVE;
    log_warn("proxy: no final answer to a cancelled INVITE on flow %llu; 408 to the client",
             (unsigned long long)tx->conn_id);
    nta_outgoing_destroy(tx->orq); /* a late answer now finds no transaction */
    tx->orq = NULL;
    tx->final = 1;
    sip_t const *req = sip_object(tx->req);
    if (!req->sip_to->a_tag) /* an initial INVITE: its early dialogs end with it */
        dialog_early_over(tx->conn_id, req->sip_call_id->i_id);
    struct gw_conn *c = ws_find(tx->conn_id);
    if (c) {
        sipmsg_reply(c, req, 408, NULL, TAG_END());
        tx->linger = g_timeout_add(PROXY_ACK_WAIT_MS, proxy_tx_linger_done, tx);
    } else
        proxy_tx_free(tx);
    return G_SOURCE_REMOVE;
}

/* Timer C (RFC 3261 §16.6 step 11): an INVITE that got no final answer is cancelled. */
static gboolean proxy_out_timer_c(gpointer arg)
{
    struct proxy_tx *tx = arg;
    tx->timer_c = 0;
    if (!tx->final) {
        log_info("proxy: Timer C fired for an INVITE on flow %llu; cancelling",
                 (unsigned long long)tx->conn_id);
        proxy_tx_cancel_out(tx);
        tx->timer_c =
            g_timeout_add_seconds((guint)gw->cfg->sip_transaction_timeout, proxy_out_give_up, tx);
    }
    return G_SOURCE_REMOVE;
}

int proxy_tx_resend(struct proxy_tx *tx, msg_t *fwd)
{
    nta_outgoing_t *orq = nta_outgoing_mcreate(
        gw->agent, proxy_out_on_response, (nta_outgoing_magic_t *)tx, tx->next, fwd, TAG_END());
    if (!orq) {
        msg_destroy(fwd); /* nta leaves it to us when it fails */
        return -1;
    }
    if (tx->orq)
        nta_outgoing_destroy(tx->orq);
    tx->orq = orq;
    return 0;
}

void proxy_tx_end_local(struct proxy_tx *tx, int status, const char *phrase)
{
    struct gw_conn *c = ws_find(tx->conn_id);
    sip_t const *req = sip_object(tx->req);
    tx->final = 1;
    if (tx->orq) {
        nta_outgoing_destroy(tx->orq);
        tx->orq = NULL;
    }
    if (tx->invite && !req->sip_to->a_tag) {
        dialog_early_over(tx->conn_id, req->sip_call_id->i_id);
        media_end(tx->conn_id, req->sip_call_id->i_id);
    }
    if (c)
        sipmsg_reply(c, req, status, phrase, TAG_IF(status == 503, SIPTAG_RETRY_AFTER_STR("5")),
                     TAG_END());
    if (tx->invite && c)
        tx->linger = g_timeout_add(PROXY_ACK_WAIT_MS, proxy_tx_linger_done, tx);
    else
        proxy_tx_free(tx);
}

void proxy_tx_send_out(struct gw_conn *c, msg_t *req, msg_t *fwd, url_string_t const *next)
{
    sip_t const *sip = sip_object(req);
    if (sip->sip_request->rq_method == sip_method_ack) {
        /* ACK for a 2xx is its own end-to-end request: sent, never answered. */
        nta_outgoing_t *orq =
            nta_outgoing_mcreate(gw->agent, NULL, NULL, next, fwd, NTATAG_STATELESS(1), TAG_END());
        if (!orq)
            msg_destroy(fwd);
        else if (orq != (nta_outgoing_t *)-1)
            nta_outgoing_destroy(orq);
        msg_destroy(req);
        return;
    }
    struct proxy_tx *tx = calloc(1, sizeof(*tx));
    if (!tx) {
        sipmsg_reply(c, sip, 503, "Service Unavailable (out of memory)", TAG_END());
        msg_destroy(fwd);
        msg_destroy(req);
        return;
    }
    tx->out = 1;
    tx->conn_id = c->id;
    tx->req = req;
    tx->invite = sip->sip_request->rq_method == sip_method_invite;
    snprintf(tx->branch, sizeof(tx->branch), "%s", sip->sip_via->v_branch);
    snprintf(tx->key, sizeof(tx->key), "o/%llu/%.96s", (unsigned long long)c->id, tx->branch);
    struct proxy_tx *old = g_hash_table_lookup(proxy_table(), tx->key);
    if (old && old->final) {
        proxy_tx_free(old); /* a failed INVITE that waited for an ACK; the branch is free again */
    } else if (old) {
        /* Same branch, same request: a retransmission, which the transaction already covers.
         * Another request reusing a live branch could not be told apart from it: refused. */
        sip_t const *o = sip_object(old->req);
        if (strcmp(o->sip_call_id->i_id, sip->sip_call_id->i_id) != 0 ||
            o->sip_cseq->cs_seq != sip->sip_cseq->cs_seq)
            sipmsg_reply(c, sip, 400, "Bad Request (Via branch already in use)", TAG_END());
        msg_destroy(fwd);
        msg_destroy(req);
        free(tx);
        return;
    }
    tx->next = next;
    tx->orq = nta_outgoing_mcreate(gw->agent, proxy_out_on_response, (nta_outgoing_magic_t *)tx,
                                   next, fwd, TAG_END());
    if (!tx->orq) {
        msg_destroy(fwd); /* nta leaves it to us when it fails */
        log_warn("proxy: could not send %s upstream", sip->sip_request->rq_method_name);
        sipmsg_reply(c, sip, 500, "Server Internal Error", TAG_END());
        msg_destroy(req);
        free(tx);
        return;
    }
    proxy_tx_insert(c, tx);
    if (tx->invite)
        tx->timer_c = g_timeout_add_seconds((guint)gw->cfg->timer_c, proxy_out_timer_c, tx);
}

struct proxy_tx *proxy_tx_add_in(struct gw_conn *c, nta_incoming_t *irq, const char *branch,
                                 msg_t *sent, int invite)
{
    struct proxy_tx *tx = calloc(1, sizeof(*tx));
    if (!tx)
        return NULL;
    tx->conn_id = c->id;
    tx->irq = irq;
    tx->req = sent;
    tx->invite = invite;
    snprintf(tx->branch, sizeof(tx->branch), "%s", branch);
    snprintf(tx->key, sizeof(tx->key), "i/%.96s", branch);
    proxy_tx_insert(c, tx);
    return tx;
}

void proxy_tx_foreach_conn(uint64_t conn_id, void (*fn)(struct proxy_tx *tx))
{
    GPtrArray *hits = g_ptr_array_new();
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, proxy_table());
    while (g_hash_table_iter_next(&it, &k, &v))
        if (((struct proxy_tx *)v)->conn_id == conn_id)
            g_ptr_array_add(hits, v);
    for (guint i = 0; i < hits->len; i++)
        fn(g_ptr_array_index(hits, i));
    g_ptr_array_free(hits, TRUE);
}

void proxy_tx_clear(void)
{
    if (!proxy_txs)
        return;
    GList *all = g_hash_table_get_values(proxy_txs);
    for (GList *l = all; l; l = l->next)
        proxy_tx_free(l->data);
    g_list_free(all);
    g_hash_table_destroy(proxy_txs);
    proxy_txs = NULL;
}
