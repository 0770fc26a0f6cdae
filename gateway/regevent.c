/* regevent: one nta dialog leg per subscription. The initial SUBSCRIBE goes along the user's
 * Service-Route to the S-CSCF with the gateway as subscriber (From/P-Asserted-Identity = our own
 * URI, which the S-CSCF finds in the registration's Path: TS 24.229 §5.2.3); NOTIFYs come back to
 * the leg. A NOTIFY that terminates the flow's contact ends the edge registration and closes
 * the flow with REGEVENT_WS_CLOSE, so the client's next REGISTER meets a fresh challenge. Every
 * SUBSCRIBE (initial, refresh, un-SUBSCRIBE) waits for a place in regevent_pace, so a
 * registration burst does not put one transaction per REGISTER in flight at once. */
#include "regevent.h"
#include "reg_onbehalf.h"
#include "regevent_pace.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "gw.h"
#include "ims_peers.h"
#include "log.h"
#include "reg.h"
#include "rnd.h"
#include "timeutil.h"
#include "ws_conn.h"

#define REGEVENT_MIN_REFRESH_S 30
/* One timer looks for due refreshes this often, rather than a GLib timer per subscription:
 * each GSource costs memory per registered flow and every turn of the main loop walks them all. */
#define REGEVENT_SWEEP_S 5

struct regevent_sub {
    struct regevent_pace_waiter wait; /* queued for a place towards the core (regevent_pace) */
    uint64_t conn_id;
    char *impu, *contact, *route;
    nta_leg_t *leg;
    nta_outgoing_t *orq; /* holds one of regevent_pace's places while it exists */
    long want_expires;   /* of the SUBSCRIBE to send when its turn comes */
    uint64_t refresh_ms; /* time_mono_ms() at which to re-SUBSCRIBE; 0 = none */
    int confirmed;       /* a 2xx arrived: the dialog exists */
    int notifier_done;   /* the notifier ended the subscription (or the registration) */
    guint free_source;   /* the idle source that frees it, once one is scheduled */
};

static GHashTable *subs;   /* conn id → sub, the live subscriptions */
static guint sweep_source; /* the refresh sweep; runs while subscriptions exist */
/* Subscriptions waiting for the answer to their un-SUBSCRIBE, a set: when thousands of
 * connections close at once, a list walked per answer would cost the square of them. */
static GHashTable *ending;

static int sub_is_ending(struct regevent_sub *s)
{
    return ending && g_hash_table_contains(ending, s);
}

static void sub_set_ending(struct regevent_sub *s)
{
    if (!ending)
        ending = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_hash_table_add(ending, s);
}

/* The SUBSCRIBE transaction is over: its place goes to the next waiter. */
static void sub_orq_end(struct regevent_sub *s)
{
    if (!s->orq)
        return;
    nta_outgoing_destroy(s->orq);
    s->orq = NULL;
    regevent_pace_leave();
}

static void sub_free(struct regevent_sub *s)
{
    if (s->free_source)
        g_source_remove(s->free_source);
    regevent_pace_cancel(&s->wait);
    sub_orq_end(s);
    if (s->leg)
        nta_leg_destroy(s->leg);
    free(s->impu);
    free(s->contact);
    free(s->route);
    free(s);
}

/* Frees after the current nta callback returned (a leg must not vanish under its own call). */
static gboolean sub_free_idle(gpointer arg)
{
    struct regevent_sub *s = arg;
    s->free_source = 0;
    g_hash_table_remove(ending, s);
    sub_free(s);
    return G_SOURCE_REMOVE;
}

/* Idempotent: a SUBSCRIBE answered after its connection closed, while the free scheduled by that
 * close is still waiting (a busy loop runs idle sources late), comes here a second time; two idle
 * frees of one subscription crashed workers when thousands of connections closed at once
 * (integration.regevent-race). */
static void sub_free_later(struct regevent_sub *s)
{
    sub_set_ending(s);
    if (!s->free_source)
        s->free_source = g_idle_add(sub_free_idle, s);
}

static int sub_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip);

/* Sends the SUBSCRIBE (s->want_expires) on a place already held; -1 (place given back) when
 * nta cannot make the transaction. */
static int sub_send(struct regevent_sub *s)
{
    const struct gw_settings *cfg = gw->cfg;
    char self[300], pai[340], exp[24];
    snprintf(self, sizeof(self), "<sip:%s%s>", cfg->sip_host,
             strstr(cfg->next_hop, "transport=tcp") ? ";transport=tcp" : "");
    snprintf(pai, sizeof(pai), "P-Asserted-Identity: <sip:%s>", cfg->sip_host);
    snprintf(exp, sizeof(exp), "%ld", s->want_expires);
    s->orq = nta_outgoing_tcreate(
        s->leg, sub_on_response, (nta_outgoing_magic_t *)s,
        s->confirmed || s->route ? NULL : (url_string_t const *)gw->next_hop, SIP_METHOD_SUBSCRIBE,
        s->confirmed ? NULL : (url_string_t const *)s->impu,
        TAG_IF(!s->confirmed && s->route, SIPTAG_ROUTE_STR(s->route)), SIPTAG_EVENT_STR("reg"),
        SIPTAG_EXPIRES_STR(exp), SIPTAG_ACCEPT_STR("application/reginfo+xml"),
        SIPTAG_CONTACT_STR(self), SIPTAG_HEADER_STR(pai), SIPTAG_MAX_FORWARDS_STR("70"), TAG_END());
    if (s->orq)
        return 0;
    regevent_pace_leave();
    return -1;
}

/* A SUBSCRIBE with expires (0: un-SUBSCRIBE): sent now when a place is free, else when its turn
 * comes (sub_go). 0 when sent or queued, -1 when it could not be sent. */
static int sub_request(struct regevent_sub *s, long expires)
{
    s->want_expires = expires;
    if (regevent_pace_waiting(&s->wait))
        return 0; /* its turn comes; it goes with the latest expires */
    if (s->orq) { /* supersedes the transaction in flight, on the same place */
        nta_outgoing_destroy(s->orq);
        s->orq = NULL;
        return sub_send(s);
    }
    if (!regevent_pace_enter(&s->wait, s))
        return 0;
    return sub_send(s);
}

static void sub_go(void *arg)
{
    struct regevent_sub *s = arg;
    if (sub_send(s) == 0)
        return;
    if (sub_is_ending(s)) {
        sub_free_later(s); /* the un-SUBSCRIBE cannot go: nothing more to wait for */
        return;
    }
    log_warn("regevent: cannot send the SUBSCRIBE for %s (connection %" PRIu64 ")", s->impu,
             s->conn_id);
}

/* Re-SUBSCRIBEs the subscriptions that are due (paced like the rest). */
static gboolean sub_sweep(gpointer unused)
{
    (void)unused;
    if (!subs || g_hash_table_size(subs) == 0) {
        sweep_source = 0;
        return G_SOURCE_REMOVE;
    }
    uint64_t now = time_mono_ms();
    GSList *due = NULL; /* collected first: a send may answer at once, the table must not move */
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, subs);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct regevent_sub *s = v;
        if (s->refresh_ms && s->refresh_ms <= now) {
            s->refresh_ms = 0;
            due = g_slist_prepend(due, s);
        }
    }
    for (GSList *l = due; l; l = l->next) {
        struct regevent_sub *s = l->data;
        if (sub_request(s, REGEVENT_EXPIRES) < 0)
            log_warn("regevent: cannot refresh the subscription of connection %" PRIu64,
                     s->conn_id);
    }
    g_slist_free(due);
    return G_SOURCE_CONTINUE;
}

static int sub_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip)
{
    struct regevent_sub *s = (struct regevent_sub *)magic;
    int status = nta_outgoing_status(orq);
    if (status < 200)
        return 0;
    if (sub_is_ending(s)) { /* the answer to our un-SUBSCRIBE */
        sub_orq_end(s);
        sub_free_later(s);
        return 0;
    }
    if (status >= 300 || !sip) {
        log_warn("regevent: SUBSCRIBE for %s answered %d; no registration state from the core "
                 "for connection %" PRIu64,
                 s->impu, status, s->conn_id);
        sub_orq_end(s);
        return 0; /* kept (unconfirmed) until the flow's registration ends */
    }
    /* sip belongs to orq: read it before the transaction goes */
    if (!s->confirmed) {
        if (sip->sip_to && sip->sip_to->a_tag)
            nta_leg_rtag(s->leg, sip->sip_to->a_tag);
        nta_leg_client_route(s->leg, sip->sip_record_route, sip->sip_contact);
        s->confirmed = 1;
    }
    long expires = sip->sip_expires ? (long)sip->sip_expires->ex_delta : REGEVENT_EXPIRES;
    sub_orq_end(s);
    long after = expires * 2 / 3;
    if (after < REGEVENT_MIN_REFRESH_S)
        after = REGEVENT_MIN_REFRESH_S;
    s->refresh_ms = time_mono_ms() + (uint64_t)after * 1000;
    if (!sweep_source)
        sweep_source = g_timeout_add_seconds(REGEVENT_SWEEP_S, sub_sweep, NULL);
    log_info("regevent: subscribed to the registration state of %s (connection %" PRIu64 ")",
             s->impu, s->conn_id);
    return 0;
}

/* The edge follows the core: registration state gone, flow closed (the client learns it). */
static void sub_network_ended(struct regevent_sub *s, const char *why)
{
    struct gw_conn *c = ws_find(s->conn_id);
    log_info("regevent: the core ended the registration of %s (%s); connection %" PRIu64
             " de-registered at the edge",
             s->impu, why, s->conn_id);
    s->notifier_done = 1;
    if (c) {
        reg_flow_closed(c); /* → regevent_unsubscribe() */
        ws_close(c, REGEVENT_WS_CLOSE);
    } else {
        regevent_unsubscribe(s->conn_id);
    }
}

static int sub_on_request(nta_leg_magic_t *magic, nta_leg_t *leg, nta_incoming_t *irq,
                          sip_t const *sip)
{
    struct regevent_sub *s = (struct regevent_sub *)magic;
    if (sip->sip_request->rq_method != sip_method_notify)
        return 405;
    msg_t *msg = nta_incoming_getrequest(irq);
    int allowed = msg && ims_peers_msg_allowed(msg);
    msg_destroy(msg);
    if (!allowed) {
        log_info("regevent: NOTIFY from an address that is not the IMS core refused");
        return 403;
    }
    if (sub_is_ending(s)) { /* the user is leaving; whatever it says is expected */
        nta_incoming_treply(irq, SIP_200_OK, TAG_END());
        return 200;
    }
    if (!s->confirmed && sip->sip_from && sip->sip_from->a_tag)
        nta_leg_rtag(leg, sip->sip_from->a_tag); /* NOTIFY before the 2xx (RFC 6665 §4.1.2.4) */
    struct regevent_verdict v;
    const char *body = sip->sip_payload ? sip->sip_payload->pl_data : "";
    size_t len = sip->sip_payload ? sip->sip_payload->pl_len : 0;
    int terminated = sip->sip_subscription_state &&
                     strcasecmp(sip->sip_subscription_state->ss_substate, "terminated") == 0;
    if (len && regevent_assess(body, len, s->impu, s->contact, &v) < 0) {
        nta_incoming_treply(irq, 400, "Bad Request (not a reginfo document)", TAG_END());
        return 400;
    }
    nta_incoming_treply(irq, SIP_200_OK, TAG_END());
    if (len && v.ended) {
        sub_network_ended(s, v.why);
    } else if (len && v.shortened > 0) {
        struct gw_conn *c = ws_find(s->conn_id);
        /* The edge registration never outlives the core's; the gateway re-registers before
         * the new expiry (the client's own refresh may come too late). */
        if (c && c->reg && c->reg->expires_at > time_now_s() + v.shortened)
            c->reg->expires_at = time_now_s() + v.shortened;
        log_info("regevent: registration of %s shortened to %ld s", s->impu, v.shortened);
        if (c)
            rob_shortened(c, v.shortened);
    } else if (terminated) {
        s->notifier_done = 1;
        log_info("regevent: the core ended the subscription for %s (%s)", s->impu,
                 sip->sip_subscription_state->ss_reason ? sip->sip_subscription_state->ss_reason
                                                        : "no reason");
    }
    return 200;
}

void regevent_subscribe(uint64_t conn_id, const char *impu, const char *contact,
                        const char *service_route)
{
    if (!subs) {
        subs = g_hash_table_new(g_int64_hash, g_int64_equal);
        regevent_pace_configure((unsigned)gw->cfg->regevent_inflight_max, sub_go);
    }
    struct regevent_sub *old = g_hash_table_lookup(subs, &conn_id);
    if (old && strcmp(old->impu, impu) == 0)
        return; /* a re-REGISTER: the subscription refreshes itself */
    if (old)
        regevent_unsubscribe(conn_id);
    if (g_hash_table_size(subs) >= REGEVENT_MAX_SUBS) {
        log_warn("regevent: %d subscriptions already; none for %s", REGEVENT_MAX_SUBS, impu);
        return;
    }
    struct regevent_sub *s = calloc(1, sizeof(*s));
    char call_id[40], tag[24], from[300];
    rnd_token(call_id, 18);
    rnd_token(tag, 9);
    snprintf(from, sizeof(from), "<sip:%s>;tag=%s", gw->cfg->sip_host, tag);
    if (s) {
        s->conn_id = conn_id;
        s->impu = strdup(impu);
        s->contact = strdup(contact ? contact : "");
        s->route = service_route && *service_route ? strdup(service_route) : NULL;
    }
    if (s && s->impu && s->contact && (!service_route || !*service_route || s->route))
        s->leg = nta_leg_tcreate(gw->agent, sub_on_request, (nta_leg_magic_t *)s,
                                 SIPTAG_CALL_ID_STR(call_id), SIPTAG_FROM_STR(from),
                                 SIPTAG_TO_STR(impu), TAG_END());
    if (s && s->leg)
        g_hash_table_insert(subs, &s->conn_id, s); /* findable while its SUBSCRIBE waits */
    if (!s || !s->leg || sub_request(s, REGEVENT_EXPIRES) < 0) {
        log_warn("regevent: cannot subscribe for %s (out of memory or bad URI)", impu);
        if (s && s->leg)
            g_hash_table_remove(subs, &s->conn_id);
        if (s)
            sub_free(s);
        return;
    }
}

void regevent_unsubscribe(uint64_t conn_id)
{
    struct regevent_sub *s = subs ? g_hash_table_lookup(subs, &conn_id) : NULL;
    if (!s)
        return;
    g_hash_table_remove(subs, &conn_id);
    s->refresh_ms = 0;
    sub_set_ending(s);
    /* A SUBSCRIBE still waiting for its turn never goes (the registration ended first). */
    regevent_pace_cancel(&s->wait);
    if (s->confirmed && !s->notifier_done && sub_request(s, 0) == 0)
        return; /* freed when the un-SUBSCRIBE is answered (nta bounds the wait) */
    sub_free_later(s);
}

void regevent_stop(void)
{
    if (sweep_source)
        g_source_remove(sweep_source);
    sweep_source = 0;
    if (subs) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, subs);
        while (g_hash_table_iter_next(&it, &k, &v))
            sub_free(v);
        g_hash_table_destroy(subs);
        subs = NULL;
    }
    if (ending) { /* sub_free() removes a pending idle free with the subscription */
        GHashTableIter it;
        gpointer k;
        g_hash_table_iter_init(&it, ending);
        while (g_hash_table_iter_next(&it, &k, NULL))
            sub_free(k);
        g_hash_table_destroy(ending);
        ending = NULL;
    }
    regevent_pace_clear();
}

/* ---- reginfo (RFC 3680 §5.3), read just enough ---- */

/* Value of attribute name inside the tag [tag, end); empty when absent. */
static void attr(const char *tag, const char *end, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = tag + 1; p + nl + 2 < end; p++) {
        if ((p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n' && p[-1] != '\r') ||
            strncmp(p, name, nl) != 0 || p[nl] != '=' || (p[nl + 1] != '"' && p[nl + 1] != '\''))
            continue;
        char q = p[nl + 1];
        const char *v = p + nl + 2, *e = memchr(v, q, (size_t)(end - v));
        if (!e)
            return;
        size_t n = (size_t)(e - v) < outlen - 1 ? (size_t)(e - v) : outlen - 1;
        memcpy(out, v, n);
        out[n] = '\0';
        return;
    }
}

/* Next "<name" element start in [p, end) followed by a blank or '>'; NULL when none. */
static const char *element(const char *p, const char *end, const char *name)
{
    size_t nl = strlen(name);
    for (; p && p + nl + 1 < end; p++) {
        p = memchr(p, '<', (size_t)(end - p));
        if (!p || p + nl + 1 >= end)
            return NULL;
        if (strncmp(p + 1, name, nl) == 0 && p[nl + 1] && strchr(" \t\r\n>/", p[nl + 1]))
            return p;
    }
    return NULL;
}

/* URIs compared without parameters or angle brackets, case-insensitively. */
static int same_uri(const char *a, size_t alen, const char *b)
{
    while (alen && (*a == ' ' || *a == '<'))
        a++, alen--;
    size_t an = strcspn(a, ";>< \r\n"), bn = strcspn(b, ";>");
    if (an > alen)
        an = alen;
    return an == bn && strncasecmp(a, b, an) == 0;
}

int regevent_assess(const char *body, size_t len, const char *impu, const char *contact,
                    struct regevent_verdict *v)
{
    memset(v, 0, sizeof(*v));
    const char *end = body + len;
    if (!element(body, end, "reginfo"))
        return -1;
    for (const char *r = element(body, end, "registration"); r;
         r = element(r + 1, end, "registration")) {
        const char *rtag_end = memchr(r, '>', (size_t)(end - r));
        if (!rtag_end)
            return -1;
        char aor[300], state[32];
        attr(r, rtag_end, "aor", aor, sizeof(aor));
        if (!same_uri(aor, strlen(aor), impu))
            continue;
        const char *rend = element(rtag_end, end, "/registration");
        if (!rend)
            rend = end;
        attr(r, rtag_end, "state", state, sizeof(state));
        int found = 0;
        for (const char *c = element(rtag_end, rend, "contact"); c;
             c = element(c + 1, rend, "contact")) {
            const char *ctag_end = memchr(c, '>', (size_t)(rend - c));
            const char *u = ctag_end ? element(ctag_end, rend, "uri") : NULL;
            const char *ugt = u ? memchr(u, '>', (size_t)(rend - u)) : NULL;
            const char *uend = ugt ? element(ugt, rend, "/uri") : NULL;
            if (!uend)
                continue;
            if (*contact && !same_uri(ugt + 1, (size_t)(uend - ugt - 1), contact))
                continue;
            char cstate[32], event[32], expires[24];
            attr(c, ctag_end, "state", cstate, sizeof(cstate));
            attr(c, ctag_end, "event", event, sizeof(event));
            attr(c, ctag_end, "expires", expires, sizeof(expires));
            found = 1;
            if (strcmp(cstate, "terminated") == 0) {
                v->ended = 1;
                snprintf(v->why, sizeof(v->why), "%s", *event ? event : "terminated");
            } else if (strcmp(event, "shortened") == 0) {
                v->shortened = strtol(expires, NULL, 10);
            }
        }
        if (!found && strcmp(state, "terminated") == 0) {
            v->ended = 1;
            snprintf(v->why, sizeof(v->why), "registration terminated");
        }
    }
    return 0;
}
