/* stub_proxy: one struct stub_ptx per proxied request holds the nta server transaction, the
 * request as edited for forwarding, and its branches (one nta client transaction each). The
 * ptx lives until it has answered upstream AND every branch has ended; a deadline timer makes
 * sure both happen (Timer C before the answer, a cleanup bound after it). */
#define NTA_INCOMING_MAGIC_T struct stub_ptx
#define NTA_OUTGOING_MAGIC_T struct stub_branch
#define SU_TIMER_ARG_T struct stub_ptx

#include "stub_proxy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/nta_stateless.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_string.h>

#include "log.h"
#include "stub_addr.h"
#include "stub_fwd.h"
#include "stub_pauth.h"
#include "stub_route.h"
#include "timeutil.h"

/* How long branches may outlive the answer upstream (CANCELled INVITEs waiting for 487, a
 * non-INVITE branch losing to another's 2xx). Above Timer B/F (64·T1 = 32 s), so nta's own
 * timeouts normally end them first. */
#define STUB_CLEANUP_MS 40000
#define STUB_RETRY_AFTER "5"

struct stub_ptx;

struct stub_branch {
    struct stub_ptx *ptx;
    nta_outgoing_t *orq; /* NULL once the branch has ended */
    struct stub_target t;
    int has_target;                   /* 0: Request-URI and Route set kept as received */
    long tried[STUB_ROUTE_MAX_FLOWS]; /* reg-ids of this instance already tried */
    size_t ntried;
    int status;           /* final status, 0 while running */
    int provisional;      /* some 1xx came (a CANCEL may be sent) */
    int ringing;          /* a provisional response above 100 came */
    int cancelled;        /* CANCEL decided; the branch's final response only ends it */
    int cancel_pending;   /* decided before any 1xx: sent when the first one comes */
    nta_outgoing_t *corq; /* our CANCEL's own client transaction */
    msg_t *final;         /* copy of a non-2xx final response, kept for §16.7 */
};

struct stub_ptx {
    struct stub_proxy *px;
    struct stub_ptx *next, **prevp;
    su_home_t home[1];
    nta_incoming_t *irq;
    msg_t *fwd; /* the request as it goes out, minus per-branch Request-URI and Path */
    sip_method_t method;
    const char *method_name, *from, *to, *dir;
    char *aor; /* target AOR when routed by location, else NULL */
    int answered;
    su_timer_t *timer;
    size_t nb, max;
    struct stub_branch *b;
};

struct stub_proxy {
    const struct stub_registrar *reg;
    nta_agent_t *agent;
    su_root_t *root;
    su_home_t home[1];
    struct stub_self self;
    struct stub_ptx *list;
    size_t active;
};

static void stub_ptx_finish(struct stub_ptx *ptx);

/* ---- logging and local answers ---------------------------------------------------------- */

static void stub_ptx_log(const struct stub_ptx *ptx, int status, const char *reason)
{
    log_info("proxy method=%s from=%s to=%s status=%d dir=%s branches=%zu%s%s", ptx->method_name,
             ptx->from, ptx->to, status, ptx->dir, ptx->nb, reason ? " reason=" : "",
             reason ? reason : "");
}

/* The AOR of a From/To header for the log, "-" when there is none. */
static const char *stub_log_aor(su_home_t *home, const sip_addr_t *a)
{
    const char *aor = a ? stub_aor(home, a->a_url) : NULL;
    return aor ? aor : "-";
}

/* Answers a request that never became a ptx, logs it, and returns the status for nta. */
static int stub_proxy_refuse(nta_incoming_t *irq, const sip_t *sip, int status, const char *phrase,
                             const char *reason, const char *dir, tag_type_t tag, tag_value_t value)
{
    su_home_t home[1] = {SU_HOME_INIT(home)};
    nta_incoming_tag(irq, NULL);
    nta_incoming_treply(irq, status, phrase, tag, value, TAG_END());
    log_info("proxy method=%s from=%s to=%s status=%d dir=%s branches=0 reason=%s",
             sip->sip_request->rq_method_name, stub_log_aor(home, sip->sip_from),
             stub_log_aor(home, sip->sip_to), status, dir, reason);
    su_home_deinit(home);
    return status;
}

/* ---- the ptx life cycle ----------------------------------------------------------------- */

static size_t stub_ptx_running(const struct stub_ptx *ptx)
{
    size_t n = 0;
    for (size_t i = 0; i < ptx->nb; i++)
        n += ptx->b[i].orq != NULL;
    return n;
}

static void stub_ptx_free(struct stub_ptx *ptx)
{
    for (size_t i = 0; i < ptx->nb; i++) {
        struct stub_branch *br = &ptx->b[i];
        if (br->orq)
            nta_outgoing_destroy(br->orq);
        if (br->corq)
            nta_outgoing_destroy(br->corq);
        if (br->final)
            msg_destroy(br->final);
    }
    /* Only after a final answer, else nta would send 500 on our behalf (at shutdown it may). */
    if (ptx->irq)
        nta_incoming_destroy(ptx->irq);
    su_timer_destroy(ptx->timer);
    if (ptx->fwd)
        msg_destroy(ptx->fwd);
    *ptx->prevp = ptx->next;
    if (ptx->next)
        ptx->next->prevp = ptx->prevp;
    ptx->px->active--;
    su_home_deinit(ptx->home);
    free(ptx);
}

/* Frees the ptx when nothing is left to wait for; else bounds the wait. */
static void stub_ptx_settle(struct stub_ptx *ptx, su_timer_f on_timer)
{
    if (!ptx->answered)
        return;
    if (stub_ptx_running(ptx) == 0) {
        stub_ptx_free(ptx);
        return;
    }
    su_timer_set_interval(ptx->timer, on_timer, ptx, STUB_CLEANUP_MS);
}

static int stub_cancel_response(struct stub_branch *br, nta_outgoing_t *corq, const sip_t *sip)
{
    if (sip && sip->sip_status && sip->sip_status->st_status < 200)
        return 0;
    nta_outgoing_destroy(corq);
    if (br->corq == corq)
        br->corq = NULL;
    return 0;
}

/* Sends a CANCEL for the branch. Not nta_outgoing_tcancel(): in proxy mode over TCP it ends
 * the INVITE client transaction at once, and the callee's 487 would then never be ACKed (its
 * server transaction would linger until Timer H). Our CANCEL carries the branch's Via, so the
 * INVITE transaction stays and gets its 487 (nta ACKs it). */
static void stub_branch_send_cancel(struct stub_branch *br)
{
    msg_t *sent = nta_outgoing_getrequest(br->orq);
    msg_t *m = sent ? stub_fwd_cancel(sent) : NULL;
    msg_destroy(sent);
    if (!m)
        return; /* the branch then ends by Timer C or the cleanup bound */
    br->corq = nta_outgoing_mcreate(br->ptx->px->agent, stub_cancel_response, br, NULL, m,
                                    NTATAG_USER_VIA(1), TAG_END());
    if (!br->corq)
        msg_destroy(m);
}

static void stub_branch_cancel(struct stub_branch *br)
{
    if (!br->orq || br->status || br->cancelled)
        return;
    br->cancelled = 1;
    if (br->ptx->method != sip_method_invite)
        return; /* a non-INVITE cannot be cancelled usefully; it ends by itself */
    if (br->provisional)
        stub_branch_send_cancel(br);
    else
        br->cancel_pending = 1; /* §9.1: not before a provisional response */
}

static void stub_ptx_cancel_others(struct stub_ptx *ptx, const struct stub_branch *keep)
{
    for (size_t i = 0; i < ptx->nb; i++)
        if (&ptx->b[i] != keep)
            stub_branch_cancel(&ptx->b[i]);
}

/* After the answer: whatever still runs is dropped (nta stops its retransmissions). */
static void stub_ptx_on_cleanup(su_root_magic_t *magic, su_timer_t *t, struct stub_ptx *ptx)
{
    log_debug("proxy: %zu branch(es) of a %s ended by the cleanup bound", stub_ptx_running(ptx),
              ptx->method_name);
    stub_ptx_free(ptx);
}

/* Timer C (RFC 3261 §16.6 step 11, §16.8): no final answer this long after the last
 * provisional response. A branch that rang counts as 480 (nobody answered), one that never
 * said anything as 408; both are CANCELled and the caller gets the best answer now. */
static void stub_ptx_on_timer_c(su_root_magic_t *magic, su_timer_t *t, struct stub_ptx *ptx)
{
    if (ptx->answered) {
        stub_ptx_on_cleanup(magic, t, ptx);
        return;
    }
    for (size_t i = 0; i < ptx->nb; i++) {
        struct stub_branch *br = &ptx->b[i];
        if (br->orq && !br->status) {
            stub_branch_cancel(br);
            br->status = br->ringing ? 480 : 408;
        }
    }
    stub_ptx_finish(ptx);
}

/* ---- responses ---------------------------------------------------------------------------- */

/* A copy of orq's current response without our Via, or NULL. */
static msg_t *stub_response_copy(nta_outgoing_t *orq)
{
    msg_t *ref = nta_outgoing_getresponse(orq);
    msg_t *m = ref ? msg_dup(ref) : NULL;
    msg_destroy(ref);
    sip_t *sip = sip_object(m);
    if (!m || !sip || !sip->sip_via || !sip->sip_via->v_next) {
        msg_destroy(m);
        return NULL;
    }
    sip_header_remove(m, sip, (sip_header_t *)sip->sip_via);
    return m;
}

/* §16.7 step 7: the chosen 401/407 carries the challenges of every other 401/407 branch. */
static void stub_aggregate_challenges(struct stub_ptx *ptx, msg_t *m, const msg_t *chosen)
{
    sip_t *sip = sip_object(m);
    for (size_t i = 0; i < ptx->nb; i++) {
        const struct stub_branch *br = &ptx->b[i];
        if (!br->final || br->final == chosen || (br->status != 401 && br->status != 407))
            continue;
        const sip_t *o = sip_object(br->final);
        if (o->sip_www_authenticate)
            msg_header_add_dup(m, (msg_pub_t *)sip, (msg_header_t *)o->sip_www_authenticate);
        if (o->sip_proxy_authenticate)
            msg_header_add_dup(m, (msg_pub_t *)sip, (msg_header_t *)o->sip_proxy_authenticate);
    }
}

/* Answers upstream once every branch has a final status (or Timer C ended the wait). */
static void stub_ptx_finish(struct stub_ptx *ptx)
{
    if (!ptx->answered) {
        int status[64], send = 480;
        size_t n = ptx->nb < 64 ? ptx->nb : 64;
        for (size_t i = 0; i < n; i++) {
            if (!ptx->b[i].status)
                return; /* still waiting */
            status[i] = ptx->b[i].status;
        }
        int best = stub_route_best(status, n, &send);
        struct stub_branch *br = best >= 0 ? &ptx->b[best] : NULL;
        msg_t *m = br && br->final && send == br->status ? msg_dup(br->final) : NULL;
        if (m) {
            if (send == 401 || send == 407)
                stub_aggregate_challenges(ptx, m, br->final);
            nta_incoming_mreply(ptx->irq, m);
        } else {
            nta_incoming_tag(ptx->irq, NULL);
            nta_incoming_treply(ptx->irq, send, NULL, TAG_END());
        }
        ptx->answered = send;
        const char *why = br && br->status == 430            ? "flow-failed"
                          : send == 480 && br && br->ringing ? "no-answer"
                                                             : NULL;
        stub_ptx_log(ptx, send, why);
    }
    stub_ptx_settle(ptx, stub_ptx_on_cleanup);
}

static int stub_branch_start(struct stub_ptx *ptx, struct stub_branch *br);

/* RFC 5626 §7: on 430 (the flow is gone; its binding is dropped) or 408, the same instance
 * is tried over another of its flows. 1 when it took the branch over (the old orq is then
 * destroyed: a new flow runs, or br->status says why none could start), 0 when there is no
 * other flow and the response stands. */
static int stub_branch_next_flow(struct stub_branch *br, int status)
{
    struct stub_ptx *ptx = br->ptx;
    struct stub_proxy *px = ptx->px;
    if (!br->has_target || !br->t.instance || !ptx->aor || ptx->answered)
        return 0;
    if (status == 430) {
        struct stub_binding *b =
            stub_bindings_find(px->reg->store, ptx->aor, br->t.instance, br->t.reg_id, br->t.uri);
        if (b) {
            log_info("bindings: flow failed, dropping aor=%s reg-id=%ld", ptx->aor, br->t.reg_id);
            stub_bindings_remove(px->reg->store, b);
        }
    }
    if (br->ntried < STUB_ROUTE_MAX_FLOWS)
        br->tried[br->ntried++] = br->t.reg_id;
    struct stub_target next;
    if (br->ntried >= STUB_ROUTE_MAX_FLOWS ||
        stub_route_alternate(ptx->home, px->reg->store, ptx->aor, br->t.instance, br->tried,
                             br->ntried, time_now_s(), &next) < 0)
        return 0;
    nta_outgoing_destroy(br->orq);
    br->orq = NULL;
    br->t = next;
    br->ringing = 0;
    log_debug("proxy: %d on reg-id %ld, trying reg-id %ld", status, br->tried[br->ntried - 1],
              next.reg_id);
    stub_branch_start(ptx, br);
    return 1;
}

static int stub_branch_response(struct stub_branch *br, nta_outgoing_t *orq, const sip_t *sip)
{
    struct stub_ptx *ptx = br->ptx;
    int status = sip && sip->sip_status ? sip->sip_status->st_status : 408;
    if (status < 200) {
        br->provisional = 1;
        if (br->cancel_pending) {
            br->cancel_pending = 0;
            stub_branch_send_cancel(br);
        }
        if (status > 100 && !br->status) {
            br->ringing = 1;
            if (!ptx->answered) {
                msg_t *m = stub_response_copy(orq);
                if (m)
                    nta_incoming_mreply(ptx->irq, m);
                if (ptx->method == sip_method_invite) /* Timer C restarts on each 1xx */
                    su_timer_set_interval(ptx->timer, stub_ptx_on_timer_c, ptx,
                                          (su_duration_t)ptx->px->reg->set->timer_c_ms);
            }
        }
        return 0;
    }
    if (status < 300) {
        /* §16.7 step 5: every 2xx to an INVITE goes upstream at once, even a second one (two
         * callees answered) or one that crossed the caller's CANCEL or our Timer C (the caller
         * then ACKs and BYEs it); a non-INVITE gets one final response only. */
        if (!ptx->answered || ptx->method == sip_method_invite) {
            msg_t *m = stub_response_copy(orq);
            if (m)
                nta_incoming_mreply(ptx->irq, m);
        }
        if (!br->status)
            br->status = status;
        nta_outgoing_destroy(orq); /* later 2xx retransmissions arrive as strays */
        br->orq = NULL;
        if (!ptx->answered) {
            ptx->answered = status;
            stub_ptx_log(ptx, status, NULL);
            if (ptx->method == sip_method_invite)
                stub_ptx_cancel_others(ptx, br);
        }
        stub_ptx_settle(ptx, stub_ptx_on_cleanup);
        return 0;
    }
    if (!br->cancelled && !br->status && (status == 430 || status == 408) &&
        stub_branch_next_flow(br, status)) {
        if (!br->orq)
            stub_ptx_finish(ptx);
        return 0;
    }
    if (!br->status) {
        br->status = status;
        br->final = stub_response_copy(orq);
    }
    nta_outgoing_destroy(orq);
    br->orq = NULL;
    if (status >= 600 && ptx->method == sip_method_invite) /* §16.7 step 5: 6xx ends the fork */
        stub_ptx_cancel_others(ptx, br);
    stub_ptx_finish(ptx);
    return 0;
}

/* ---- requests ----------------------------------------------------------------------------- */

static int stub_branch_start(struct stub_ptx *ptx, struct stub_branch *br)
{
    msg_t *m = msg_dup(ptx->fwd);
    sip_t *sip = sip_object(m);
    if (!m || !sip || (br->has_target && stub_fwd_target(m, sip, br->t.uri, br->t.path) < 0)) {
        msg_destroy(m);
        br->status = 480; /* a stored contact we cannot use is as good as none */
        return -1;
    }
    br->orq = nta_outgoing_mcreate(ptx->px->agent, stub_branch_response, br, NULL, m, TAG_END());
    if (!br->orq) {
        msg_destroy(m);
        br->status = 480;
        return -1;
    }
    return 0;
}

/* The caller's CANCEL (nta matched it to the INVITE and answered it 200; nta sends 487 to
 * the INVITE after this returns). Also called for the ACK of a non-2xx answer: ignored. */
static int stub_ptx_on_cancel(struct stub_ptx *ptx, nta_incoming_t *irq, const sip_t *sip)
{
    if (!sip || !sip->sip_request || sip->sip_request->rq_method != sip_method_cancel ||
        ptx->answered)
        return 0;
    stub_ptx_cancel_others(ptx, NULL);
    ptx->answered = 487;
    stub_ptx_log(ptx, 487, "cancelled");
    /* Not freed here: nta still uses irq after we return. The branches' 487s, or the
     * cleanup bound, end the ptx. */
    su_timer_set_interval(ptx->timer, stub_ptx_on_cleanup, ptx, STUB_CLEANUP_MS);
    return 0;
}

/* ACK for a 2xx (RFC 3261 §16.11 treats it as a new request): edited like any request and
 * sent statelessly; a bad one is dropped, since ACK gets no response. */
static int stub_proxy_ack(struct stub_proxy *px, nta_incoming_t *irq)
{
    msg_t *ref = nta_incoming_getrequest(irq);
    msg_t *m = ref ? msg_dup(ref) : NULL;
    msg_destroy(ref);
    sip_t *sip = sip_object(m);
    int orig, popped, oom;
    if (!m || !sip || stub_fwd_preprocess(m, sip, &px->self, &orig, &popped) < 0 ||
        stub_fwd_max_forwards(m, sip, &oom) < 0 || (!popped && !sip->sip_route)) {
        log_debug("proxy: ACK dropped (no route through us, or Max-Forwards 0)");
        msg_destroy(m);
    } else if (nta_msg_tsend(px->agent, m, NULL, TAG_END()) < 0) {
        log_debug("proxy: ACK could not be sent");
    }
    nta_incoming_destroy(irq);
    return 0;
}

static const char *stub_aor_or_dash(su_home_t *home, const url_t *u)
{
    const char *a = u ? stub_aor(home, u) : NULL;
    return a ? a : "-";
}

/* The location-service key of a Request-URI: an AOR of the home domain or a tel: URI; a SIP
 * URI with our own address and a user part means the same user in the home domain (what a
 * native client that dials "user@stub-address" means). NULL for anything else. */
static char *stub_proxy_lookup_aor(struct stub_proxy *px, su_home_t *home, const url_t *u)
{
    const char *domain = px->reg->set->home_domain;
    if (u->url_type == url_tel)
        return stub_aor(home, u);
    if (u->url_type != url_sip && u->url_type != url_sips)
        return NULL;
    if (u->url_host && su_casematch(u->url_host, domain) && !u->url_port)
        return stub_aor(home, u);
    if (u->url_user && stub_route_is_self(px->self.listen, u))
        return su_sprintf(home, "%s:%s@%s", u->url_type == url_sips ? "sips" : "sip", u->url_user,
                          domain);
    return NULL;
}

static int stub_proxy_known(const struct stub_proxy *px, const char *aor)
{
    const struct stub_hss *h = px->reg->hss;
    for (size_t i = 0; i < h->n; i++)
        if (stub_hss_impu_index(&h->entries[i], aor) >= 0)
            return 1;
    return 0;
}

static int stub_dialog_forming(sip_method_t m)
{
    return m == sip_method_invite || m == sip_method_subscribe || m == sip_method_refer ||
           m == sip_method_notify;
}

/* Fills ptx's branches (or answers and returns the status). */
static int stub_proxy_targets(struct stub_proxy *px, struct stub_ptx *ptx, const sip_t *sip,
                              int popped)
{
    if (sip->sip_route) { /* loose routing to whoever is next */
        ptx->nb = 1;
        return 0;
    }
    if (sip->sip_to && sip->sip_to->a_tag) {
        if (!popped)
            return 403; /* in a dialog we are in only through our Record-Route */
        ptx->nb = 1;
        return 0;
    }
    ptx->aor = stub_proxy_lookup_aor(px, ptx->home, sip->sip_request->rq_url);
    if (!ptx->aor)
        return 404;
    ptx->to = ptx->aor;
    struct stub_target t[32];
    size_t max = (size_t)px->reg->set->max_branches;
    size_t n = stub_route_targets(ptx->home, px->reg->store, ptx->aor, time_now_s(), t,
                                  max < 32 ? max : 32);
    if (n == 0)
        return stub_proxy_known(px, ptx->aor) ? 480 : 404;
    for (size_t i = 0; i < n; i++) {
        ptx->b[i].t = t[i];
        ptx->b[i].has_target = 1;
    }
    ptx->nb = n;
    return 0;
}

static const char *stub_refuse_reason(int status, int in_dialog)
{
    switch (status) {
    case 403:
        return "no-route";
    case 404:
        return in_dialog ? "no-route" : "unknown-user";
    case 480:
        return "not-registered";
    default:
        return "error";
    }
}

int stub_proxy_request(struct stub_proxy *px, nta_incoming_t *irq, const sip_t *sip)
{
    sip_method_t method = sip->sip_request->rq_method;
    if (method == sip_method_ack)
        return stub_proxy_ack(px, irq);
    if (method == sip_method_cancel) /* nta found no INVITE for it */
        return stub_proxy_refuse(irq, sip, SIP_481_NO_TRANSACTION, "no-transaction", "-",
                                 TAG_NULL());
    if (sip->sip_max_forwards && sip->sip_max_forwards->mf_count == 0)
        return stub_proxy_refuse(irq, sip, SIP_483_TOO_MANY_HOPS, "too-many-hops", "-", TAG_NULL());
    if (px->active >= (size_t)px->reg->set->max_transactions) /* one log line, not two */
        return stub_proxy_refuse(irq, sip, SIP_503_SERVICE_UNAVAILABLE, "max-transactions", "-",
                                 SIPTAG_RETRY_AFTER_STR(STUB_RETRY_AFTER));
    if (!sip->sip_from || !sip->sip_to || !sip->sip_call_id || !sip->sip_cseq)
        return stub_proxy_refuse(irq, sip, 400, "Missing Header", "missing-header", "-",
                                 TAG_NULL());

    struct stub_ptx *ptx = calloc(1, sizeof(*ptx));
    if (!ptx)
        return stub_proxy_refuse(irq, sip, SIP_500_INTERNAL_SERVER_ERROR, "out-of-memory", "-",
                                 TAG_NULL());
    su_home_init(ptx->home);
    ptx->px = px;
    ptx->irq = irq;
    ptx->method = method;
    ptx->method_name = su_strdup(ptx->home, sip->sip_request->rq_method_name);
    ptx->from = stub_aor_or_dash(ptx->home, sip->sip_from->a_url);
    ptx->to = stub_aor_or_dash(ptx->home, sip->sip_to->a_url);
    ptx->max = (size_t)px->reg->set->max_branches;
    ptx->b = su_zalloc(ptx->home, ptx->max * sizeof(*ptx->b));
    ptx->timer = su_timer_create(su_root_task(px->root), 0);
    ptx->next = px->list;
    ptx->prevp = &px->list;
    if (px->list)
        px->list->prevp = &ptx->next;
    px->list = ptx;
    px->active++;

    msg_t *ref = nta_incoming_getrequest(irq);
    ptx->fwd = ref ? msg_dup(ref) : NULL;
    msg_destroy(ref);
    sip_t *fs = sip_object(ptx->fwd);
    int orig = 0, popped = 0, oom = 0, status = 0;
    if (!ptx->b || !ptx->timer || !fs ||
        stub_fwd_preprocess(ptx->fwd, fs, &px->self, &orig, &popped) < 0 ||
        stub_fwd_max_forwards(ptx->fwd, fs, &oom) < 0)
        status = 500;
    int in_dialog = sip->sip_to->a_tag != NULL;
    ptx->dir = in_dialog ? "dialog" : orig ? "orig" : "term";
    char challenge[256];
    const char *pauth_reason = NULL, *pauth_hdr = NULL;
    if (!status && orig && !in_dialog) {
        switch (stub_pauth_check(px->reg, sip, time_now_s(), challenge, sizeof(challenge),
                                 &pauth_reason)) {
        case STUB_PAUTH_CHALLENGE:
            status = 407, pauth_hdr = challenge;
            break;
        case STUB_PAUTH_FORBIDDEN:
            status = 403;
            break;
        case STUB_PAUTH_PASS:
            /* Our own realm's credentials end here (like Kamailio's consume_credentials()). */
            while (pauth_reason && fs->sip_proxy_authorization)
                sip_header_remove(ptx->fwd, fs, (sip_header_t *)fs->sip_proxy_authorization);
            break;
        }
    }
    if (!status)
        status = stub_proxy_targets(px, ptx, fs, popped);
    if (!status && stub_dialog_forming(method) && !in_dialog &&
        stub_fwd_record_route(ptx->fwd, fs, px->reg->set->record_route) < 0)
        status = 500;
    if (status) {
        nta_incoming_tag(irq, NULL);
        nta_incoming_treply(irq, status, NULL,
                            TAG_IF(pauth_hdr, SIPTAG_PROXY_AUTHENTICATE_STR(pauth_hdr)), TAG_END());
        ptx->answered = status;
        ptx->nb = 0;
        stub_ptx_log(ptx, status,
                     pauth_reason && status >= 400 ? pauth_reason
                                                   : stub_refuse_reason(status, in_dialog));
        ptx->irq = NULL; /* nta's leg code destroys it when we return the status */
        stub_ptx_free(ptx);
        return status;
    }

    /* From here the request is ours until stub_ptx_finish answers it. */
    if (method == sip_method_invite) {
        /* §16.2/§17.2.1: tell the caller at once that it need not retransmit. */
        nta_incoming_treply(irq, SIP_100_TRYING, TAG_END());
        nta_incoming_bind(irq, stub_ptx_on_cancel, ptx);
        su_timer_set_interval(ptx->timer, stub_ptx_on_timer_c, ptx,
                              (su_duration_t)px->reg->set->timer_c_ms);
    }
    for (size_t i = 0; i < ptx->nb; i++) {
        ptx->b[i].ptx = ptx;
        stub_branch_start(ptx, &ptx->b[i]);
    }
    if (stub_ptx_running(ptx) == 0)
        stub_ptx_finish(ptx); /* every branch failed to start */
    return 0;
}

int stub_proxy_stray(struct stub_proxy *px, msg_t *msg, const sip_t *sip)
{
    const sip_via_t *v = sip ? sip->sip_via : NULL;
    if (!sip || !sip->sip_status || !sip->sip_cseq || !v || !v->v_next ||
        sip->sip_cseq->cs_method != sip_method_invite || sip->sip_status->st_status < 200 ||
        sip->sip_status->st_status >= 300 || !px->self.listen->url_host ||
        !su_casematch(v->v_host, px->self.listen->url_host)) {
        nta_msg_discard(px->agent, msg);
        return 0;
    }
    /* nta_msg_tsend pops our Via and sends by the next one. */
    nta_msg_tsend(px->agent, msg, NULL, TAG_END());
    return 0;
}

int stub_proxy_for_me(const struct stub_proxy *px, const sip_t *sip)
{
    const url_t *u = sip->sip_request->rq_url;
    if (u->url_user || (u->url_type != url_sip && u->url_type != url_sips))
        return 0;
    for (const sip_route_t *r = sip->sip_route; r; r = r->r_next)
        if (!stub_fwd_is_self(&px->self, r->r_url))
            return 0;
    return (u->url_host && su_casematch(u->url_host, px->reg->set->home_domain)) ||
           stub_fwd_is_self(&px->self, u);
}

size_t stub_proxy_active(const struct stub_proxy *px)
{
    return px->active;
}

struct stub_proxy *stub_proxy_create(nta_agent_t *agent, su_root_t *root,
                                     const struct stub_registrar *reg)
{
    struct stub_proxy *px = calloc(1, sizeof(*px));
    if (!px)
        return NULL;
    su_home_init(px->home);
    px->reg = reg;
    px->agent = agent;
    px->root = root;
    px->self.listen = url_make(px->home, reg->set->listen);
    px->self.orig = url_make(px->home, reg->set->service_route);
    px->self.rr = url_make(px->home, reg->set->record_route);
    if (!px->self.listen || !px->self.orig || !px->self.rr) {
        stub_proxy_destroy(px);
        return NULL;
    }
    return px;
}

void stub_proxy_destroy(struct stub_proxy *px)
{
    if (!px)
        return;
    if (px->active)
        log_info("proxy: %zu transaction(s) in progress at stop", px->active);
    while (px->list)
        stub_ptx_free(px->list);
    su_home_deinit(px->home);
    free(px);
}
