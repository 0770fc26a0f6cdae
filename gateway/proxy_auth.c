/* proxy_auth: one job per challenged request, linked both ways with its transaction so that
 * either may end first. The re-sent request is a copy of the one nta sent (our Via off, so nta
 * adds a new one with a new branch), never rebuilt from the client's. */
#include "proxy_auth.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "dialog.h"
#include "gw.h"
#include "ims_auth.h"
#include "log.h"
#include "proxy_tx.h"
#include "reg.h"
#include "sipmsg.h"
#include "ws_conn.h"

#define PROXY_AUTH_URI_MAX 512

struct proxy_auth_job {
    struct proxy_tx *tx; /* NULL once the transaction is gone */
    msg_t *fwd;          /* the request as sent, our Via removed */
};

static void pauth_free(struct proxy_auth_job *j)
{
    if (j->fwd)
        msg_destroy(j->fwd);
    free(j);
}

void proxy_auth_forget(struct proxy_tx *tx)
{
    if (tx->auth) {
        tx->auth->tx = NULL;
        tx->auth = NULL;
    }
}

/* The answer in hand: the request again, one CSeq up, with the header; 0 or -1. */
static int pauth_resend(struct proxy_tx *tx, msg_t *fwd, const struct ims_auth_answer *a)
{
    sip_t *fs = sip_object(fwd);
    uint32_t seq = fs->sip_cseq->cs_seq + 1;
    char hdr[IMS_AUTH_HEADER_MAX + 32];
    snprintf(hdr, sizeof(hdr), "%s: %s", a->header_name, a->header);
    while (fs->sip_proxy_authorization)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_proxy_authorization);
    int rc = seq < 0x80000000u && sipmsg_set_cseq(fwd, fs, seq) == 0 &&
                     sip_add_tl(fwd, fs, SIPTAG_HEADER_STR(hdr), TAG_END()) >= 0
                 ? 0
                 : -1;
    OPENSSL_cleanse(hdr, sizeof(hdr));
    if (rc < 0) {
        msg_destroy(fwd);
        return -1;
    }
    sip_t const *req = sip_object(tx->req);
    struct dialog *d = req->sip_to->a_tag ? dialog_find_ws(tx->conn_id, req) : NULL;
    if (proxy_tx_resend(tx, fwd) < 0)
        return -1;
    if (d) /* the client's later requests in this dialog go up one higher too */
        dialog_resent(d, seq);
    return 0;
}

static void pauth_on_answer(void *arg, const struct ims_auth_answer *a)
{
    struct proxy_auth_job *j = arg;
    struct proxy_tx *tx = j->tx;
    msg_t *fwd = j->fwd;
    j->fwd = NULL;
    if (tx)
        tx->auth = NULL;
    pauth_free(j);
    if (!tx || tx->final) { /* freed, or Timer C gave up meanwhile */
        msg_destroy(fwd);
        return;
    }
    struct gw_conn *c = ws_find(tx->conn_id);
    sip_t const *req = sip_object(tx->req);
    if (!c) {
        msg_destroy(fwd);
        proxy_tx_free(tx); /* nothing upstream and nobody to answer */
    } else if (tx->cancelled) {
        msg_destroy(fwd); /* it never went up again: nothing to CANCEL (RFC 3261 §9.1) */
        proxy_tx_end_local(tx, 487, "Request Terminated");
    } else if (!a->ok) {
        msg_destroy(fwd);
        log_warn("proxy: cannot answer the core's challenge of a %s on flow %llu: %s",
                 req->sip_request->rq_method_name, (unsigned long long)tx->conn_id, a->why);
        if (a->refused)
            proxy_tx_end_local(tx, 403, "Forbidden (no usable IMS credentials)");
        else
            proxy_tx_end_local(tx, 503, "Service Unavailable");
    } else if (pauth_resend(tx, fwd, a) < 0) {
        log_warn("proxy: could not send the %s again with credentials",
                 req->sip_request->rq_method_name);
        proxy_tx_end_local(tx, 500, "Server Internal Error");
    }
}

enum proxy_auth_verdict proxy_auth_challenged(struct proxy_tx *tx, sip_t const *rsp)
{
    struct gw_conn *c = ws_find(tx->conn_id);
    if (!c || !c->reg || !tx->orq)
        return PROXY_AUTH_RELAY; /* nobody to answer for, or no registered identity */
    if (tx->answered)
        return PROXY_AUTH_REFUSE;
    msg_t *sent = nta_outgoing_getrequest(tx->orq);
    sip_t const *ss = sent ? sip_object(sent) : NULL;
    char uri[PROXY_AUTH_URI_MAX], method[32];
    struct proxy_auth_job *j = calloc(1, sizeof(*j));
    int ok = j && ss && ss->sip_via && ss->sip_cseq &&
             sipmsg_url(uri, sizeof(uri), ss->sip_request->rq_url) == 0 &&
             snprintf(method, sizeof(method), "%s", ss->sip_request->rq_method_name) <
                 (int)sizeof(method) &&
             (j->fwd = msg_dup(sent)) != NULL;
    if (sent)
        msg_destroy(sent);
    if (!ok) {
        if (j)
            pauth_free(j);
        log_warn("proxy: cannot keep a challenged %s on flow %llu to answer it; 500",
                 sip_object(tx->req)->sip_request->rq_method_name, (unsigned long long)tx->conn_id);
        proxy_tx_end_local(tx, 500, "Server Internal Error");
        return PROXY_AUTH_HANDLED;
    }
    sip_t *fs = sip_object(j->fwd);
    sip_header_remove(j->fwd, fs, (sip_header_t *)fs->sip_via); /* nta's; the resend gets one */
    /* Linked before answer(), which may call back at once. The old orq stays (completed) until
     * the resend replaces it; a CANCEL meanwhile only marks tx (proxy_tx_cancel_out). */
    j->tx = tx;
    tx->auth = j;
    tx->answered = 1;
    if (ims_auth->answer(rsp, c->reg->impi, method, uri, pauth_on_answer, j) < 0) {
        tx->auth = NULL; /* this mode answers no challenge (tna): relayed as it came */
        tx->answered = 0;
        pauth_free(j);
        return PROXY_AUTH_RELAY;
    }
    return PROXY_AUTH_HANDLED;
}
