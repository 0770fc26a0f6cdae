/* dialog: only what relaying and a BYE need is kept: Call-ID, both tags and URIs, the far end's
 * Contact and the route set towards it with our own entries removed (requests start at us). */
#include "dialog.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "gw.h"
#include "log.h"
#include "route.h"
#include "sipmsg.h"
#include "timeutil.h"

struct dialog {
    uint64_t conn_id;
    int early; /* 1xx seen, no 2xx yet */
    char *call_id;
    char *ws_tag, *far_tag;
    char *ws_uri, *far_uri;
    char *far_target;
    GString *route; /* "<uri>, <uri>" towards the far end, this leg's own entries removed */
    uint32_t cseq;  /* the next CSeq on the WebSocket user's side, upstream numbering */
    /* upstream CSeq − the client's: the caller's INVITE, and every in-dialog request, may have
     * been re-sent once with credentials at CSeq + 1 (RFC 3261 §22.3); the client's numbering
     * stays its own. */
    uint32_t cseq_shift;
    int ws_is_uac; /* the WebSocket user called */
    uint64_t created_ms;
};

static GList *dialogs;

unsigned dialog_count(void)
{
    return g_list_length(dialogs);
}

void dialog_visit(dialog_visit_fn fn, void *arg)
{
    for (GList *l = dialogs; l; l = l->next) {
        struct dialog *d = l->data;
        struct dialog_view v = {d->conn_id, !d->early,  d->ws_is_uac, d->call_id,
                                d->ws_uri,  d->far_uri, d->created_ms};
        if (fn(arg, &v) < 0)
            return;
    }
}

static void dialog_free(struct dialog *d)
{
    free(d->call_id);
    free(d->ws_tag);
    free(d->far_tag);
    free(d->ws_uri);
    free(d->far_uri);
    free(d->far_target);
    if (d->route)
        g_string_free(d->route, TRUE);
    free(d);
}

static char *dialog_url(url_t const *u)
{
    char buf[512];
    if (sipmsg_url(buf, sizeof(buf), u) < 0)
        return NULL; /* too long to keep: no dialog rather than a cut URI */
    return strdup(buf);
}

/* Requests start at us, so our own entries at the head of the route set (this leg's) are
 * dropped; ours further down belong to the far end's leg through this gateway and stay.
 * Returns -1 when an entry cannot be kept (the dialog is then not kept either). */
static int dialog_add_route(struct dialog *d, url_t const *u)
{
    char buf[512];
    if (!d->route->len && route_is_ours(u))
        return 0;
    if (sipmsg_url(buf, sizeof(buf), u) < 0)
        return -1;
    g_string_append_printf(d->route, "%s<%s>", d->route->len ? ", " : "", buf);
    return 0;
}

static struct dialog *dialog_find(uint64_t conn_id, const char *call_id, const char *ws_tag,
                                  const char *far_tag)
{
    if (!call_id || !ws_tag || !far_tag)
        return NULL;
    for (GList *l = dialogs; l; l = l->next) {
        struct dialog *d = l->data;
        if (d->conn_id == conn_id && strcmp(d->call_id, call_id) == 0 &&
            strcmp(d->ws_tag, ws_tag) == 0 && strcmp(d->far_tag, far_tag) == 0)
            return d;
    }
    return NULL;
}

/* Route set and remote target from the response (ws_is_uac: Record-Route reversed, Contact
 * of the response) or from the INVITE (Record-Route as it came, Contact of the INVITE). */
static int dialog_set_path(struct dialog *d, int ws_is_uac, sip_t const *invite, sip_t const *rsp)
{
    sip_contact_t const *target = ws_is_uac ? rsp->sip_contact : invite->sip_contact;
    char *far_target = target ? dialog_url(target->m_url) : NULL;
    GString *route = g_string_new("");
    GString *old = d->route;
    d->route = route;
    int ok = far_target != NULL;
    if (ws_is_uac) {
        GPtrArray *rr = g_ptr_array_new();
        for (sip_record_route_t const *r = rsp->sip_record_route; r; r = r->r_next)
            g_ptr_array_add(rr, (gpointer)r->r_url);
        for (guint i = rr->len; ok && i-- > 0;)
            ok = dialog_add_route(d, g_ptr_array_index(rr, i)) == 0;
        g_ptr_array_free(rr, TRUE);
    } else {
        for (sip_record_route_t const *r = invite->sip_record_route; ok && r; r = r->r_next)
            ok = dialog_add_route(d, r->r_url) == 0;
    }
    if (!ok) {
        d->route = old;
        g_string_free(route, TRUE);
        free(far_target);
        return -1;
    }
    if (old)
        g_string_free(old, TRUE);
    free(d->far_target);
    d->far_target = far_target;
    return 0;
}

static struct dialog *dialog_new(uint64_t conn_id, int ws_is_uac, sip_t const *invite,
                                 sip_t const *rsp)
{
    unsigned mine = 0;
    for (GList *l = dialogs; l; l = l->next)
        mine += ((struct dialog *)l->data)->conn_id == conn_id;
    if (mine >= DIALOG_MAX_PER_FLOW) {
        log_warn("dialog: flow %llu holds %d dialogs; no more are kept",
                 (unsigned long long)conn_id, DIALOG_MAX_PER_FLOW);
        return NULL;
    }
    struct dialog *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    sip_addr_t const *ws = ws_is_uac ? rsp->sip_from : rsp->sip_to;
    sip_addr_t const *far = ws_is_uac ? rsp->sip_to : rsp->sip_from;
    d->conn_id = conn_id;
    d->ws_is_uac = ws_is_uac;
    d->created_ms = time_mono_ms();
    d->call_id = strdup(rsp->sip_call_id->i_id);
    d->ws_tag = strdup(ws->a_tag);
    d->far_tag = strdup(far->a_tag);
    d->ws_uri = dialog_url(ws->a_url);
    d->far_uri = dialog_url(far->a_url);
    /* We act for the caller: our CSeq continues the INVITE's; for the callee it starts fresh. */
    d->cseq = ws_is_uac ? rsp->sip_cseq->cs_seq + 1 : 1000;
    if (ws_is_uac && invite && invite->sip_cseq && rsp->sip_cseq->cs_seq > invite->sip_cseq->cs_seq)
        d->cseq_shift = rsp->sip_cseq->cs_seq - invite->sip_cseq->cs_seq;
    if (!d->call_id || !d->ws_tag || !d->far_tag || !d->ws_uri || !d->far_uri) {
        dialog_free(d);
        return NULL;
    }
    return d;
}

void dialog_learn(uint64_t conn_id, int ws_is_uac, sip_t const *invite, sip_t const *rsp)
{
    if (!rsp->sip_status || !rsp->sip_call_id || !rsp->sip_from || !rsp->sip_to ||
        !rsp->sip_from->a_tag || !rsp->sip_to->a_tag || !rsp->sip_cseq || (!ws_is_uac && !invite))
        return;
    int status = rsp->sip_status->st_status;
    if (status <= 100 || status >= 300)
        return;
    sip_addr_t const *ws = ws_is_uac ? rsp->sip_from : rsp->sip_to;
    sip_addr_t const *far = ws_is_uac ? rsp->sip_to : rsp->sip_from;
    struct dialog *d = dialog_find(conn_id, rsp->sip_call_id->i_id, ws->a_tag, far->a_tag);
    if (d && (!d->early || status < 200))
        return; /* a repeated response: the first one set the route set */
    int created = !d;
    if (created && !(d = dialog_new(conn_id, ws_is_uac, invite, rsp)))
        return;
    /* The 2xx's Record-Route is authoritative for the confirmed dialog (RFC 3261 §12.1.2). */
    if (dialog_set_path(d, ws_is_uac, invite, rsp) < 0) {
        if (status >= 200) /* a 1xx without Contact simply makes no early dialog */
            log_warn("dialog: a call of flow %llu is not kept (no Contact, or a route set or "
                     "target too long)",
                     (unsigned long long)conn_id);
        if (created)
            dialog_free(d);
        else
            dialog_remove(d);
        return;
    }
    d->early = status < 200;
    if (created)
        dialogs = g_list_prepend(dialogs, d);
}

void dialog_early_over(uint64_t conn_id, const char *call_id)
{
    for (GList *l = dialogs, *next; l; l = next) {
        next = l->next;
        struct dialog *d = l->data;
        if (d->early && d->conn_id == conn_id && strcmp(d->call_id, call_id) == 0) {
            dialogs = g_list_delete_link(dialogs, l);
            dialog_free(d);
        }
    }
}

struct dialog *dialog_find_ws(uint64_t conn_id, sip_t const *req)
{
    if (!req->sip_call_id || !req->sip_from || !req->sip_to)
        return NULL;
    return dialog_find(conn_id, req->sip_call_id->i_id, req->sip_from->a_tag, req->sip_to->a_tag);
}

const char *dialog_route(const struct dialog *d)
{
    return d->route->len ? d->route->str : NULL;
}

void dialog_seen_cseq(struct dialog *d, sip_t const *req)
{
    if (req->sip_cseq && req->sip_cseq->cs_seq >= d->cseq)
        d->cseq = req->sip_cseq->cs_seq + 1;
}

uint32_t dialog_upstream_cseq(const struct dialog *d, uint32_t client_cseq)
{
    return client_cseq + d->cseq_shift;
}

void dialog_resent(struct dialog *d, uint32_t sent)
{
    d->cseq_shift++;
    if (sent >= d->cseq)
        d->cseq = sent + 1;
}

void dialog_remove(struct dialog *d)
{
    dialogs = g_list_remove(dialogs, d);
    dialog_free(d);
}

void dialog_ended(uint64_t conn_id, sip_t const *bye)
{
    if (!bye->sip_call_id || !bye->sip_from || !bye->sip_to)
        return;
    /* From the IMS side: From is the far end, To the WebSocket user. */
    struct dialog *d =
        dialog_find(conn_id, bye->sip_call_id->i_id, bye->sip_to->a_tag, bye->sip_from->a_tag);
    if (d)
        dialog_remove(d);
}

static int dialog_bye_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq,
                                  sip_t const *sip)
{
    if (nta_outgoing_status(orq) >= 200)
        nta_outgoing_destroy(orq);
    return 0;
}

/* A request inside d from the WebSocket user's side, sent for a user whose flow is gone: ACK
 * (for a 2xx, stateless: it is never answered) or BYE (a client transaction). */
static void dialog_send(struct dialog *d, sip_method_t method, const char *name, uint32_t cseq)
{
    msg_t *m = nta_msg_create(gw->agent, 0);
    if (!m) {
        log_warn("dialog: out of memory; no %s for a call of a closed flow", name);
        return;
    }
    sip_t *s = sip_object(m);
    su_home_t *home = msg_home(m);
    char from[700], to[700];
    snprintf(from, sizeof(from), "<%s>;tag=%s", d->ws_uri, d->ws_tag);
    snprintf(to, sizeof(to), "<%s>;tag=%s", d->far_uri, d->far_tag);
    int bye = method == sip_method_bye;
    int ok = sip_add_tl(m, s,
                        SIPTAG_REQUEST(sip_request_create(home, method, name,
                                                          URL_STRING_MAKE(d->far_target), NULL)),
                        SIPTAG_MAX_FORWARDS_STR("70"), SIPTAG_FROM_STR(from), SIPTAG_TO_STR(to),
                        SIPTAG_CALL_ID_STR(d->call_id),
                        SIPTAG_CSEQ(sip_cseq_create(home, cseq, method, name)),
                        TAG_IF(d->route->len, SIPTAG_ROUTE_STR(d->route->str)),
                        TAG_IF(bye, SIPTAG_REASON_STR("SIP;cause=480;text=\"WebSocket closed\"")),
                        TAG_END()) >= 0;
    url_string_t const *next = d->route->len ? NULL : gw->next_hop;
    nta_outgoing_t *orq =
        !ok ? NULL
        : bye
            ? nta_outgoing_mcreate(gw->agent, dialog_bye_on_response, NULL, next, m, TAG_END())
            : nta_outgoing_mcreate(gw->agent, NULL, NULL, next, m, NTATAG_STATELESS(1), TAG_END());
    if (!orq) {
        log_warn("dialog: could not send %s for a call of a closed flow", name);
        msg_destroy(m);
        return;
    }
    if (!bye && orq != (nta_outgoing_t *)-1)
        nta_outgoing_destroy(orq);
    log_info("dialog: flow %llu closed mid-call; %s sent to %s", (unsigned long long)d->conn_id,
             name, d->far_uri);
}

static void dialog_send_bye(struct dialog *d)
{
    dialog_send(d, sip_method_bye, "BYE", d->cseq);
}

void dialog_orphan_answered(uint64_t conn_id, sip_t const *rsp)
{
    if (!rsp->sip_call_id || !rsp->sip_from || !rsp->sip_to || !rsp->sip_cseq)
        return;
    struct dialog *d =
        dialog_find(conn_id, rsp->sip_call_id->i_id, rsp->sip_from->a_tag, rsp->sip_to->a_tag);
    if (!d)
        return;
    /* RFC 3261 §15: a caller that gets a 2xx after giving up acknowledges it and hangs up. */
    dialog_send(d, sip_method_ack, "ACK", rsp->sip_cseq->cs_seq);
    dialog_send_bye(d);
    dialog_remove(d);
}

void dialog_flow_closed(uint64_t conn_id)
{
    for (GList *l = dialogs, *next; l; l = next) {
        next = l->next;
        struct dialog *d = l->data;
        if (d->conn_id != conn_id)
            continue;
        if (!d->early) /* an early one ends with its INVITE (cancelled, or 430 to the core) */
            dialog_send_bye(d);
        dialogs = g_list_delete_link(dialogs, l);
        dialog_free(d);
    }
}

unsigned dialog_rebind(uint64_t from, uint64_t to)
{
    unsigned n = 0;
    for (GList *l = dialogs; l; l = l->next) {
        struct dialog *d = l->data;
        if (d->conn_id == from) {
            d->conn_id = to;
            n++;
        }
    }
    return n;
}

void dialog_clear(void)
{
    g_list_free_full(dialogs, (GDestroyNotify)dialog_free);
    dialogs = NULL;
}
