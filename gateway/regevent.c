/* regevent: one nta dialog leg per subscription. The initial SUBSCRIBE goes along the user's
 * Service-Route to the S-CSCF with the gateway as subscriber (From/P-Asserted-Identity = our own
 * URI, which the S-CSCF finds in the registration's Path: TS 24.229 §5.2.3); NOTIFYs come back to
 * the leg. A NOTIFY that terminates the flow's contact ends the edge registration and closes
 * the flow with REGEVENT_WS_CLOSE, so the client's next REGISTER meets a fresh challenge. */
#include "regevent.h"
#include "reg_onbehalf.h"

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

struct regevent_sub {
    uint64_t conn_id;
    char *impu, *contact, *route;
    nta_leg_t *leg;
    nta_outgoing_t *orq;
    guint refresh;     /* re-SUBSCRIBE timer */
    int confirmed;     /* a 2xx arrived: the dialog exists */
    int notifier_done; /* the notifier ended the subscription (or the registration) */
};

static GHashTable *subs; /* conn id → sub, the live subscriptions */
static GSList *ending;   /* subscriptions waiting for the answer to their un-SUBSCRIBE */
static GSList *freeing;  /* subscriptions whose free is scheduled (sub_free_later) */

static void sub_free(struct regevent_sub *s)
{
    if (s->refresh)
        g_source_remove(s->refresh);
    if (s->orq)
        nta_outgoing_destroy(s->orq);
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
    ending = g_slist_remove(ending, arg);
    freeing = g_slist_remove(freeing, arg);
    sub_free(arg);
    return G_SOURCE_REMOVE;
}

static void sub_free_later(struct regevent_sub *s)
{
    /* Once only: a flow that closes while its SUBSCRIBE is unanswered is freed later, and the
     * answer arriving before that asks again; two frees crashed workers at a mass close. */
    if (g_slist_find(freeing, s))
        return;
    freeing = g_slist_prepend(freeing, s);
    if (!g_slist_find(ending, s))
        ending = g_slist_prepend(ending, s);
    g_idle_add(sub_free_idle, s);
}

static int sub_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip);

static int sub_send(struct regevent_sub *s, long expires)
{
    const struct gw_settings *cfg = gw->cfg;
    char self[300], pai[340], exp[24];
    snprintf(self, sizeof(self), "<sip:%s%s>", cfg->sip_host,
             strstr(cfg->next_hop, "transport=tcp") ? ";transport=tcp" : "");
    snprintf(pai, sizeof(pai), "P-Asserted-Identity: <sip:%s>", cfg->sip_host);
    snprintf(exp, sizeof(exp), "%ld", expires);
    if (s->orq)
        nta_outgoing_destroy(s->orq);
    s->orq = nta_outgoing_tcreate(
        s->leg, sub_on_response, (nta_outgoing_magic_t *)s,
        s->confirmed || s->route ? NULL : (url_string_t const *)gw->next_hop, SIP_METHOD_SUBSCRIBE,
        s->confirmed ? NULL : (url_string_t const *)s->impu,
        TAG_IF(!s->confirmed && s->route, SIPTAG_ROUTE_STR(s->route)), SIPTAG_EVENT_STR("reg"),
        SIPTAG_EXPIRES_STR(exp), SIPTAG_ACCEPT_STR("application/reginfo+xml"),
        SIPTAG_CONTACT_STR(self), SIPTAG_HEADER_STR(pai), SIPTAG_MAX_FORWARDS_STR("70"), TAG_END());
    return s->orq ? 0 : -1;
}

static gboolean sub_refresh(gpointer arg)
{
    struct regevent_sub *s = arg;
    s->refresh = 0;
    if (sub_send(s, REGEVENT_EXPIRES) < 0)
        log_warn("regevent: cannot refresh the subscription of connection %" PRIu64, s->conn_id);
    return G_SOURCE_REMOVE;
}

static int sub_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip)
{
    struct regevent_sub *s = (struct regevent_sub *)magic;
    int status = nta_outgoing_status(orq);
    if (status < 200)
        return 0;
    if (g_slist_find(ending, s)) { /* the answer to our un-SUBSCRIBE */
        nta_outgoing_destroy(orq);
        s->orq = NULL;
        sub_free_later(s);
        return 0;
    }
    if (status >= 300 || !sip) {
        log_warn("regevent: SUBSCRIBE for %s answered %d; no registration state from the core "
                 "for connection %" PRIu64,
                 s->impu, status, s->conn_id);
        nta_outgoing_destroy(orq);
        s->orq = NULL;
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
    nta_outgoing_destroy(orq);
    s->orq = NULL;
    long after = expires * 2 / 3;
    if (after < REGEVENT_MIN_REFRESH_S)
        after = REGEVENT_MIN_REFRESH_S;
    if (s->refresh)
        g_source_remove(s->refresh);
    s->refresh = g_timeout_add_seconds((guint)after, sub_refresh, s);
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
    if (g_slist_find(ending, s)) { /* the user is leaving; whatever it says is expected */
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
    if (!subs)
        subs = g_hash_table_new(g_int64_hash, g_int64_equal);
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
    if (!s || !s->leg || sub_send(s, REGEVENT_EXPIRES) < 0) {
        log_warn("regevent: cannot subscribe for %s (out of memory or bad URI)", impu);
        if (s)
            sub_free(s);
        return;
    }
    g_hash_table_insert(subs, &s->conn_id, s);
}

void regevent_unsubscribe(uint64_t conn_id)
{
    struct regevent_sub *s = subs ? g_hash_table_lookup(subs, &conn_id) : NULL;
    if (!s)
        return;
    g_hash_table_remove(subs, &conn_id);
    if (s->refresh)
        g_source_remove(s->refresh);
    s->refresh = 0;
    ending = g_slist_prepend(ending, s);
    if (s->confirmed && !s->notifier_done && sub_send(s, 0) == 0)
        return; /* freed when the un-SUBSCRIBE is answered (nta bounds the wait) */
    sub_free_later(s);
}

void regevent_stop(void)
{
    if (subs) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, subs);
        while (g_hash_table_iter_next(&it, &k, &v))
            sub_free(v);
        g_hash_table_destroy(subs);
        subs = NULL;
    }
    /* idle frees pending for these would find them gone: remove those sources first */
    for (GSList *l = ending; l; l = l->next) {
        while (g_idle_remove_by_data(l->data))
            ;
        sub_free(l->data);
    }
    g_slist_free(ending);
    ending = NULL;
    g_slist_free(freeing); /* all of them were in ending too */
    freeing = NULL;
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
