/* dialog: only what a BYE needs is kept: Call-ID, both tags and URIs, the far end's Contact and
 * the route set towards it with our own entries removed (the BYE starts at us). */
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
#include "sipmsg.h"
#include "log.h"
#include "route.h"

struct dialog {
    uint64_t conn_id;
    char *call_id;
    char *ws_tag, *far_tag;
    char *ws_uri, *far_uri;
    char *far_target;
    GString *route; /* "<uri>, <uri>" towards the far end, this leg's own entries removed */
    uint32_t cseq;  /* the next CSeq on the WebSocket user's side */
};

static GList *dialogs;

unsigned dialog_count(void)
{
    return g_list_length(dialogs);
}

static void dialog_free(struct dialog *d)
{
    free(d->call_id);
    free(d->ws_tag);
    free(d->far_tag);
    free(d->ws_uri);
    free(d->far_uri);
    free(d->far_target);
    g_string_free(d->route, TRUE);
    free(d);
}

static char *dialog_url(url_t const *u)
{
    char buf[512];
    sipmsg_url(buf, sizeof(buf), u); /* empty when too long: the BYE then fails cleanly */
    return strdup(buf);
}

/* The BYE starts at us, so our own entries at the head of the route set (this leg's) are
 * dropped; ours further down belong to the far end's leg through this gateway and stay. */
static void dialog_add_route(struct dialog *d, url_t const *u)
{
    char buf[512];
    if (!d->route->len && route_is_ours(u))
        return;
    if (sipmsg_url(buf, sizeof(buf), u) < 0)
        return;
    g_string_append_printf(d->route, "%s<%s>", d->route->len ? ", " : "", buf);
}

static struct dialog *dialog_find(const char *call_id, const char *tag_a, const char *tag_b)
{
    for (GList *l = dialogs; l; l = l->next) {
        struct dialog *d = l->data;
        if (strcmp(d->call_id, call_id) == 0 &&
            ((tag_a && strcmp(d->ws_tag, tag_a) == 0) || (tag_b && strcmp(d->ws_tag, tag_b) == 0)))
            return d;
    }
    return NULL;
}

void dialog_confirmed(uint64_t conn_id, int ws_is_uac, sip_t const *invite, sip_t const *rsp)
{
    if (!rsp->sip_call_id || !rsp->sip_from || !rsp->sip_to || !rsp->sip_from->a_tag ||
        !rsp->sip_to->a_tag || !rsp->sip_contact || !rsp->sip_cseq)
        return;
    const char *ws_tag = ws_is_uac ? rsp->sip_from->a_tag : rsp->sip_to->a_tag;
    if (dialog_find(rsp->sip_call_id->i_id, ws_tag, NULL))
        return; /* a repeated 2xx */
    unsigned mine = 0;
    for (GList *l = dialogs; l; l = l->next)
        mine += ((struct dialog *)l->data)->conn_id == conn_id;
    if (mine >= DIALOG_MAX_PER_FLOW)
        return;
    struct dialog *d = calloc(1, sizeof(*d));
    d->conn_id = conn_id;
    d->call_id = strdup(rsp->sip_call_id->i_id);
    d->route = g_string_new("");
    if (ws_is_uac) {
        /* We act for the caller: the callee's Contact, the Record-Route reversed. */
        d->ws_tag = strdup(rsp->sip_from->a_tag);
        d->far_tag = strdup(rsp->sip_to->a_tag);
        d->ws_uri = dialog_url(rsp->sip_from->a_url);
        d->far_uri = dialog_url(rsp->sip_to->a_url);
        d->far_target = dialog_url(rsp->sip_contact->m_url);
        GPtrArray *rr = g_ptr_array_new();
        for (sip_record_route_t const *r = rsp->sip_record_route; r; r = r->r_next)
            g_ptr_array_add(rr, (gpointer)r->r_url);
        for (guint i = rr->len; i-- > 0;)
            dialog_add_route(d, g_ptr_array_index(rr, i));
        g_ptr_array_free(rr, TRUE);
        d->cseq = rsp->sip_cseq->cs_seq + 1;
    } else {
        /* We act for the callee: the caller's Contact, the Record-Route as it came. */
        if (!invite || !invite->sip_contact) {
            dialog_free(d);
            return;
        }
        d->ws_tag = strdup(rsp->sip_to->a_tag);
        d->far_tag = strdup(rsp->sip_from->a_tag);
        d->ws_uri = dialog_url(rsp->sip_to->a_url);
        d->far_uri = dialog_url(rsp->sip_from->a_url);
        d->far_target = dialog_url(invite->sip_contact->m_url);
        for (sip_record_route_t const *r = invite->sip_record_route; r; r = r->r_next)
            dialog_add_route(d, r->r_url);
        d->cseq = 1000;
    }
    dialogs = g_list_prepend(dialogs, d);
}

void dialog_seen_cseq(sip_t const *req)
{
    if (!req->sip_call_id || !req->sip_from || !req->sip_cseq)
        return;
    struct dialog *d = dialog_find(req->sip_call_id->i_id, req->sip_from->a_tag, NULL);
    if (d && req->sip_cseq->cs_seq >= d->cseq)
        d->cseq = req->sip_cseq->cs_seq + 1;
}

void dialog_ended(sip_t const *bye)
{
    if (!bye->sip_call_id || !bye->sip_from || !bye->sip_to)
        return;
    struct dialog *d =
        dialog_find(bye->sip_call_id->i_id, bye->sip_from->a_tag, bye->sip_to->a_tag);
    if (d) {
        dialogs = g_list_remove(dialogs, d);
        dialog_free(d);
    }
}

static int dialog_bye_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq,
                                  sip_t const *sip)
{
    if (nta_outgoing_status(orq) >= 200)
        nta_outgoing_destroy(orq);
    return 0;
}

static void dialog_send_bye(struct dialog *d)
{
    msg_t *m = nta_msg_create(gw->agent, 0);
    sip_t *s = sip_object(m);
    su_home_t *home = msg_home(m);
    char from[700], to[700];
    snprintf(from, sizeof(from), "<%s>;tag=%s", d->ws_uri, d->ws_tag);
    snprintf(to, sizeof(to), "<%s>;tag=%s", d->far_uri, d->far_tag);
    int ok =
        sip_add_tl(m, s,
                   SIPTAG_REQUEST(sip_request_create(home, SIP_METHOD_BYE,
                                                     URL_STRING_MAKE(d->far_target), NULL)),
                   SIPTAG_MAX_FORWARDS_STR("70"), SIPTAG_FROM_STR(from), SIPTAG_TO_STR(to),
                   SIPTAG_CALL_ID_STR(d->call_id),
                   SIPTAG_CSEQ(sip_cseq_create(home, d->cseq, SIP_METHOD_BYE)),
                   TAG_IF(d->route->len, SIPTAG_ROUTE_STR(d->route->str)),
                   SIPTAG_REASON_STR("SIP;cause=480;text=\"WebSocket closed\""), TAG_END()) >= 0;
    nta_outgoing_t *orq =
        ok ? nta_outgoing_mcreate(gw->agent, dialog_bye_on_response, NULL,
                                  d->route->len ? NULL : gw->next_hop, m, TAG_END())
           : NULL;
    if (!orq) {
        log_warn("dialog: could not send BYE for a call of a closed flow");
        msg_destroy(m);
        return;
    }
    log_info("dialog: flow %llu closed mid-call; BYE sent to %s", (unsigned long long)d->conn_id,
             d->far_uri);
}

void dialog_flow_closed(uint64_t conn_id)
{
    for (GList *l = dialogs, *next; l; l = next) {
        next = l->next;
        struct dialog *d = l->data;
        if (d->conn_id != conn_id)
            continue;
        dialog_send_bye(d);
        dialogs = g_list_delete_link(dialogs, l);
        dialog_free(d);
    }
}

void dialog_clear(void)
{
    g_list_free_full(dialogs, (GDestroyNotify)dialog_free);
    dialogs = NULL;
}
