/* recover: a held flow is only a key, a binding and a timer; its dialogs stay in dialog.c under
 * the old connection id until they are re-keyed (recovered) or ended (expired). Aliases are kept
 * as long as the flow they point to lives, since the core keeps using the old flow token in the
 * route set of every dialog that was carried over. */
#include "recover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sofia-sip/sip_header.h>

#include "dialog.h"
#include "gw.h"
#include "log.h"
#include "media.h"
#include "reg.h"
#include "sipmsg.h"
#include "tok.h"
#include "ws_conn.h"

struct recover_held {
    uint64_t conn_id;
    char jkt[TOK_JKT_SIZE];
    char binding[RECOVER_BINDING_MAX];
    guint timer;
};

struct recover_alias {
    uint64_t from, to;
};

static GList *recover_list;     /* struct recover_held */
static GArray *recover_aliases; /* struct recover_alias */

int recover_binding(sip_t const *reg, char out[RECOVER_BINDING_MAX])
{
    sip_contact_t const *m = reg->sip_contact;
    const char *inst = m ? msg_params_find(m->m_params, "+sip.instance=") : NULL;
    const char *regid = m ? msg_params_find(m->m_params, "reg-id=") : NULL;
    char aor[TOK_MAX_URI];
    if (!inst || !regid || sipmsg_url(aor, sizeof(aor), reg->sip_to->a_url) < 0)
        return -1;
    int n = snprintf(out, RECOVER_BINDING_MAX, "%s|%s|%s", aor, inst, regid);
    return n > 0 && n < RECOVER_BINDING_MAX ? 0 : -1;
}

/* The flow `to` ended for good: the old ids that led to it lead nowhere now. Media sessions are
 * keyed by the connection that set them up, so those of recovered calls end here at the latest. */
static void recover_aliases_drop_to(uint64_t to)
{
    for (guint i = 0; recover_aliases && i < recover_aliases->len;) {
        struct recover_alias a = g_array_index(recover_aliases, struct recover_alias, i);
        if (a.to == to) {
            g_array_remove_index_fast(recover_aliases, i);
            media_flow_closed(a.from);
        } else {
            i++;
        }
    }
}

static void recover_held_free(struct recover_held *h)
{
    if (h->timer)
        g_source_remove(h->timer);
    free(h);
}

static gboolean recover_expired(gpointer arg)
{
    struct recover_held *h = arg;
    h->timer = 0;
    recover_list = g_list_remove(recover_list, h);
    gw->metrics.recovery_expired_total++;
    log_info("recover: flow %llu was not recovered within %ld s; its calls are ended",
             (unsigned long long)h->conn_id, gw->cfg->flow_recovery_grace);
    dialog_flow_closed(h->conn_id);
    media_flow_closed(h->conn_id);
    recover_aliases_drop_to(h->conn_id);
    recover_held_free(h);
    return G_SOURCE_REMOVE;
}

void recover_flow_closed(struct gw_conn *c)
{
    const struct reg_state *r = c->reg;
    if (gw->cfg->flow_recovery_grace <= 0 || !r || !r->dpop_jkt[0] || !r->binding ||
        g_list_length(recover_list) >= RECOVER_MAX_HELD) {
        recover_aliases_drop_to(c->id); /* nothing will ever serve them again */
        return;
    }
    struct recover_held *h = calloc(1, sizeof(*h));
    if (!h) {
        recover_aliases_drop_to(c->id);
        return;
    }
    h->conn_id = c->id;
    memcpy(h->jkt, r->dpop_jkt, sizeof(h->jkt));
    snprintf(h->binding, sizeof(h->binding), "%s", r->binding);
    h->timer = g_timeout_add_seconds((guint)gw->cfg->flow_recovery_grace, recover_expired, h);
    recover_list = g_list_prepend(recover_list, h);
    gw->metrics.recovery_held_total++;
    log_info("recover: flow %llu closed; its calls wait %ld s for the client to prove its key",
             (unsigned long long)c->id, gw->cfg->flow_recovery_grace);
}

int recover_holds(uint64_t conn_id)
{
    for (GList *l = recover_list; l; l = l->next)
        if (((struct recover_held *)l->data)->conn_id == conn_id)
            return 1;
    return 0;
}

static void recover_alias_set(uint64_t from, uint64_t to)
{
    if (!recover_aliases)
        recover_aliases = g_array_new(FALSE, FALSE, sizeof(struct recover_alias));
    /* Flows recovered before point on to the newest one: one lookup, never a chain. */
    for (guint i = 0; i < recover_aliases->len; i++) {
        struct recover_alias *a = &g_array_index(recover_aliases, struct recover_alias, i);
        if (a->to == from)
            a->to = to;
    }
    struct recover_alias a = {from, to};
    g_array_append_val(recover_aliases, a);
}

int recover_claim(struct gw_conn *c, const char *jkt, const char *binding)
{
    for (GList *l = recover_list; l; l = l->next) {
        struct recover_held *h = l->data;
        if (strcmp(h->binding, binding) != 0)
            continue;
        if (strcmp(h->jkt, jkt) != 0) {
            /* Same device name, another key: a registration of its own, but no takeover. */
            gw->metrics.recovery_refused_total++;
            log_info("recover: flow %llu: a REGISTER for its binding proved another key; "
                     "nothing moves",
                     (unsigned long long)h->conn_id);
            return -1;
        }
        if (recover_aliases && recover_aliases->len >= RECOVER_MAX_ALIASES) {
            log_warn("recover: %d flow aliases in use; flow %llu is not recovered",
                     RECOVER_MAX_ALIASES, (unsigned long long)h->conn_id);
            return -1;
        }
        recover_list = g_list_delete_link(recover_list, l);
        int moved = (int)dialog_rebind(h->conn_id, c->id);
        recover_alias_set(h->conn_id, c->id);
        gw->metrics.recovery_done_total++;
        gw->metrics.recovery_dialogs_total += (uint64_t)moved;
        log_info("recover: flow %llu recovered by connection %llu with a DPoP proof; %d dialogs "
                 "carried over",
                 (unsigned long long)h->conn_id, (unsigned long long)c->id, moved);
        recover_held_free(h);
        return moved;
    }
    return -1;
}

void recover_note_refused(const char *jkt)
{
    for (GList *l = recover_list; l; l = l->next)
        if (strcmp(((struct recover_held *)l->data)->jkt, jkt) == 0) {
            gw->metrics.recovery_refused_total++;
            return;
        }
}

uint64_t recover_route(uint64_t conn_id)
{
    for (guint i = 0; recover_aliases && i < recover_aliases->len; i++) {
        struct recover_alias *a = &g_array_index(recover_aliases, struct recover_alias, i);
        if (a->from == conn_id)
            return a->to;
    }
    return conn_id;
}

unsigned recover_held_count(void)
{
    return g_list_length(recover_list);
}

void recover_clear(void)
{
    for (GList *l = recover_list; l; l = l->next) {
        dialog_flow_closed(((struct recover_held *)l->data)->conn_id);
        media_flow_closed(((struct recover_held *)l->data)->conn_id);
    }
    g_list_free_full(recover_list, (GDestroyNotify)recover_held_free);
    recover_list = NULL;
    if (recover_aliases)
        g_array_free(recover_aliases, TRUE);
    recover_aliases = NULL;
}
