/* admin_api: a snapshot is built on the loop in one go (no lock: every structure it reads is
 * only touched from this thread), bounded by the list limit. Client-chosen strings (URIs,
 * instance) are passed as JSON strings; the page shows them as text, never as markup. */
#include "admin_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_protos.h>

#include "admin_events.h"
#include "dereg.h"
#include "dialog.h"
#include "gw.h"
#include "gw_workers.h"
#include "log.h"
#include "media.h"
#include "proxy.h"
#include "reg.h"
#include "regevent.h"
#include "sipmsg.h"
#include "timeutil.h"
#include "ws_conn.h"

struct admin_list {
    json_t *items;
    unsigned total, limit, offset;
};

/* Appends o when it falls into the page; always counts it. Takes o (NULL: not built). */
static void admin_list_add(struct admin_list *l, json_t *o)
{
    if (o && l->total >= l->offset && json_array_size(l->items) < l->limit)
        json_array_append(l->items, o);
    json_decref(o);
    l->total++;
}

static int admin_list_wants(const struct admin_list *l)
{
    return l->total >= l->offset && json_array_size(l->items) < l->limit;
}

static json_t *admin_list_json(struct admin_list *l)
{
    return json_pack("{s:I, s:o}", "total", (json_int_t)l->total, "items", l->items);
}

static int admin_by_id(const void *a, const void *b)
{
    uint64_t x = (*(struct gw_conn *const *)a)->id, y = (*(struct gw_conn *const *)b)->id;
    return x < y ? -1 : x > y;
}

/* A client's text as a JSON string. jansson refuses a string that is not UTF-8, which would drop
 * the whole row (a registration or call hidden from the operator by a byte of its own choosing,
 * or by a cut inside a character): invalid sequences become U+FFFD instead. */
static json_t *admin_text(const char *s)
{
    gchar *valid = g_utf8_make_valid(s, -1);
    json_t *j = json_string(valid);
    g_free(valid);
    return j;
}

/* The +sip.instance of the registered Contact, without its quotes and angle brackets. */
static void admin_instance(const struct gw_conn *c, char *out, size_t len)
{
    msg_t *last = sipmsg_thaw(c->reg->upstream); /* an operator's listing: rare */
    sip_t const *sip = last ? sip_object(last) : NULL;
    const char *inst = sip && sip->sip_contact
                           ? msg_params_find(sip->sip_contact->m_params, "+sip.instance=")
                           : NULL;
    out[0] = '\0';
    if (inst) {
        inst += strspn(inst, "\"<");
        snprintf(out, len, "%.*s", (int)strcspn(inst, "\">"), inst);
    }
    if (last)
        msg_destroy(last);
}

static void admin_flows(struct admin_list *flows, struct admin_list *regs,
                        struct admin_list *sources)
{
    guint n = g_hash_table_size(gw->conns);
    struct gw_conn **all = n ? calloc(n, sizeof(*all)) : NULL;
    GHashTable *per_source = g_hash_table_new(g_str_hash, g_str_equal);
    GHashTableIter it;
    gpointer key, value;
    guint i = 0;
    g_hash_table_iter_init(&it, gw->conns);
    while (all && g_hash_table_iter_next(&it, &key, &value) && i < n)
        all[i++] = value;
    if (all)
        qsort(all, i, sizeof(*all), admin_by_id);
    uint64_t now_ms = time_mono_ms();
    int64_t now_s = time_now_s();
    for (guint k = 0; k < i; k++) {
        const struct gw_conn *c = all[k];
        guint was = GPOINTER_TO_UINT(g_hash_table_lookup(per_source, c->source));
        g_hash_table_insert(per_source, (gpointer)c->source, GUINT_TO_POINTER(was + 1));
        admin_list_add(
            flows, admin_list_wants(flows)
                       ? json_pack("{s:I, s:s, s:s, s:I, s:b, s:i, s:I}", "id", (json_int_t)c->id,
                                   "peer", c->peer, "source", c->source, "age_s",
                                   (json_int_t)((now_ms - (uint64_t)c->opened_ms) / 1000),
                                   "registered", c->reg != NULL, "transactions", (int)c->ntx,
                                   "queued_bytes", (json_int_t)c->out_bytes)
                       : NULL);
        if (!c->reg)
            continue;
        char instance[200];
        admin_instance(c, instance, sizeof(instance));
        admin_list_add(regs, admin_list_wants(regs)
                                 ? json_pack("{s:I, s:o, s:o, s:I, s:b}", "flow", (json_int_t)c->id,
                                             "aor", admin_text(c->reg->impu), "instance",
                                             admin_text(instance), "expires_in_s",
                                             (json_int_t)(c->reg->expires_at - now_s), "dpop",
                                             c->reg->dpop_jkt[0] != '\0')
                                 : NULL);
    }
    g_hash_table_iter_init(&it, per_source);
    while (g_hash_table_iter_next(&it, &key, &value))
        admin_list_add(sources, admin_list_wants(sources)
                                    ? json_pack("{s:s, s:i}", "source", (const char *)key,
                                                "connections", (int)GPOINTER_TO_UINT(value))
                                    : NULL);
    g_hash_table_destroy(per_source);
    free(all);
}

/* A Call-ID is the client's choice of text: the page shows a short hash of it, enough to tell
 * calls apart and to find one in a packet capture (sha256 of the Call-ID). */
static void admin_call_hash(const char *call_id, char out[13])
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)call_id, strlen(call_id), h);
    for (int i = 0; i < 6; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

static int admin_dialog(void *arg, const struct dialog_view *v)
{
    struct admin_list *l = arg;
    char call[13];
    json_t *o = NULL;
    if (admin_list_wants(l)) {
        admin_call_hash(v->call_id, call);
        o = json_pack("{s:I, s:s, s:s, s:s, s:o, s:o, s:I}", "flow", (json_int_t)v->conn_id, "call",
                      call, "state", v->confirmed ? "confirmed" : "early", "direction",
                      v->ws_is_uac ? "outgoing" : "incoming", "local", admin_text(v->ws_uri),
                      "remote", admin_text(v->far_uri), "age_s",
                      (json_int_t)((time_mono_ms() - v->created_ms) / 1000));
    }
    admin_list_add(l, o);
    return 0;
}

json_t *admin_api_state(unsigned limit, unsigned offset)
{
    struct admin_list flows = {json_array(), 0, limit, offset},
                      regs = {json_array(), 0, limit, offset},
                      sources = {json_array(), 0, limit, offset},
                      dialogs = {json_array(), 0, limit, offset};
    admin_flows(&flows, &regs, &sources);
    dialog_visit(admin_dialog, &dialogs);
    struct media_stats ms;
    media_get_stats(&ms);
    json_t *counts = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "flows", (json_int_t)flows.total, "registrations",
        (json_int_t)regs.total, "dialogs", (json_int_t)dialogs.total, "transactions",
        (json_int_t)proxy_active(), "media_sessions", (json_int_t)ms.sessions, "dereg_pending",
        (json_int_t)dereg_pending(), "errors_total", (json_int_t)admin_events_total());
    return json_pack("{s:i, s:i, s:I, s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "worker",
                     (int)gw_workers_self(), "workers", (int)gw_workers_count(), "time",
                     (json_int_t)time_now_s(), "media", gw->cfg->media, "counts", counts, "flows",
                     admin_list_json(&flows), "registrations", admin_list_json(&regs), "dialogs",
                     admin_list_json(&dialogs), "sources", admin_list_json(&sources), "errors",
                     admin_events_json(limit));
}

int admin_api_remove(uint64_t id, char *aor, size_t aorlen)
{
    struct gw_conn *c = ws_find(id);
    if (!c || !c->reg)
        return -1;
    snprintf(aor, aorlen, "%s", c->reg->impu);
    int sent = reg_remove(c, "removed by the operator");
    log_info("admin: the operator removed the registration of %s (connection %llu)%s", aor,
             (unsigned long long)id, sent ? "" : "; no REGISTER to undo upstream was kept");
    ws_close(c, REGEVENT_WS_CLOSE); /* the client learns it as a network de-registration */
    return 0;
}
