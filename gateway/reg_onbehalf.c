/* reg_onbehalf: one struct rob per REGISTER in flight, kept in a list so shutdown can free it
 * (nta holds it only as magic). The re-REGISTER uses a fresh Call-ID: reusing the client's with a
 * higher CSeq would make the client's own next refresh "out of order" at the registrar (RFC 3261
 * §10.3 step 7 compares CSeq only within one Call-ID), and a different Call-ID updates the same
 * binding (same Contact, +sip.instance and reg-id). */
#include "reg_onbehalf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <openssl/crypto.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "gw.h"
#include "ims_auth.h"
#include "log.h"
#include "reg.h"
#include "rnd.h"
#include "sipmsg.h"
#include "timeutil.h"
#include "ws_conn.h"

#define ROB_LABEL_MAX 256

struct rob {
    char label[ROB_LABEL_MAX];
    uint64_t conn_id;
    rob_done_fn done;
    msg_t *msg;          /* as sent, our Via removed: kept to answer a challenge */
    nta_outgoing_t *orq; /* at the core; NULL while the WAF computes an answer */
    int answered;
};

static GList *robs;          /* in flight */
static GHashTable *rereg_at; /* conn_id → GLib timer of a pending re-REGISTER */

int rob_prepare(msg_t *m, long expires, int fresh_call_id)
{
    sip_t *s = sip_object(m);
    su_home_t *home = msg_home(m);
    if (!s || !s->sip_cseq || !s->sip_call_id)
        return -1;
    while (s->sip_via)
        sip_header_remove(m, s, (sip_header_t *)s->sip_via);
    if (s->sip_expires)
        sip_header_remove(m, s, (sip_header_t *)s->sip_expires);
    char param[48], value[24], call_id[40];
    snprintf(param, sizeof(param), "expires=%ld", expires);
    snprintf(value, sizeof(value), "%ld", expires);
    for (sip_contact_t *c = s->sip_contact; c; c = c->m_next)
        if (c->m_expires) {
            /* sofia keeps the pointer, not a copy: the parameter must live in the message */
            msg_header_replace_param(home, c->m_common, su_strdup(home, param));
            msg_fragment_clear(c->m_common);
        }
    uint32_t seq = fresh_call_id ? 1 : s->sip_cseq->cs_seq + 1;
    if (fresh_call_id) {
        rnd_token(call_id, 12);
        sip_header_remove(m, s, (sip_header_t *)s->sip_call_id);
        if (sip_add_tl(m, s, SIPTAG_CALL_ID_STR(call_id), TAG_END()) < 0)
            return -1;
    }
    return seq < 0x80000000u && sipmsg_set_cseq(m, s, seq) == 0 &&
                   sip_add_tl(m, s, SIPTAG_EXPIRES_STR(value), TAG_END()) >= 0
               ? 0
               : -1;
}

static void rob_free(struct rob *r)
{
    if (r->orq)
        nta_outgoing_destroy(r->orq);
    if (r->msg)
        msg_destroy(r->msg);
    free(r);
}

static void rob_finish(struct rob *r, int status)
{
    robs = g_list_remove(robs, r);
    if (r->done) {
        msg_t *sent = r->msg;
        r->msg = NULL;
        r->done(r->conn_id, status, sent);
    } else {
        log_info("reg: the IMS core answered %d to the REGISTER for %s sent on the user's behalf",
                 status, r->label);
    }
    rob_free(r);
}

static int rob_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip);

static int rob_transmit(struct rob *r)
{
    msg_t *m = msg_dup(r->msg);
    r->orq = m ? nta_outgoing_mcreate(gw->agent, rob_on_response, (nta_outgoing_magic_t *)r,
                                      gw->next_hop, m, TAG_END())
               : NULL;
    if (!r->orq && m)
        msg_destroy(m); /* nta leaves it to us when it fails */
    return r->orq ? 0 : -1;
}

/* The core's challenge answered: the REGISTER again, CSeq + 1, with the header, once. */
static void rob_on_answer(void *arg, const struct ims_auth_answer *a)
{
    struct rob *r = arg;
    sip_t *s = sip_object(r->msg);
    char hdr[IMS_AUTH_HEADER_MAX + 32] = "";
    if (a->ok)
        snprintf(hdr, sizeof(hdr), "%s: %s", a->header_name, a->header);
    while (a->ok && s->sip_authorization)
        sip_header_remove(r->msg, s, (sip_header_t *)s->sip_authorization);
    while (a->ok && s->sip_proxy_authorization)
        sip_header_remove(r->msg, s, (sip_header_t *)s->sip_proxy_authorization);
    int ok = a->ok && sipmsg_set_cseq(r->msg, s, s->sip_cseq->cs_seq + 1) == 0 &&
             sip_add_tl(r->msg, s, SIPTAG_HEADER_STR(hdr), TAG_END()) >= 0 && rob_transmit(r) == 0;
    OPENSSL_cleanse(hdr, sizeof(hdr));
    if (!ok) {
        log_warn("reg: cannot answer the core's challenge of the REGISTER for %s: %s", r->label,
                 a->ok ? "could not send it" : a->why);
        rob_finish(r, a->refused ? 403 : 503);
    }
}

/* username= of the Authorization the gateway wrote itself: the IMPI. */
static int rob_impi(sip_t const *s, char *out, size_t outlen)
{
    const char *v =
        s->sip_authorization ? msg_params_find(s->sip_authorization->au_params, "username=") : NULL;
    size_t n = v ? strlen(v) : 0;
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
        v++, n -= 2;
    if (!v || !n || n >= outlen)
        return -1;
    memcpy(out, v, n);
    out[n] = '\0';
    return 0;
}

static int rob_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip)
{
    struct rob *r = (struct rob *)magic;
    int status = nta_outgoing_status(orq);
    if (status < 200)
        return 0;
    r->orq = NULL;
    sip_t const *s = sip_object(r->msg);
    char impi[256], uri[512];
    int pending = 0;
    if ((status == 401 || status == 407) && sip && !r->answered &&
        rob_impi(s, impi, sizeof(impi)) == 0 &&
        sipmsg_url(uri, sizeof(uri), s->sip_request->rq_url) == 0) {
        r->answered = 1; /* may resume in rob_on_answer() at once, or later */
        pending = ims_auth->answer(sip, impi, "REGISTER", uri, rob_on_answer, r) == 0;
    }
    nta_outgoing_destroy(orq); /* only now: sip is its response */
    if (!pending)
        rob_finish(r, status);
    return 0;
}

int rob_send(msg_t *m, const char *label, uint64_t conn_id, rob_done_fn done)
{
    struct rob *r = calloc(1, sizeof(*r));
    if (!r) {
        msg_destroy(m);
        return -1;
    }
    snprintf(r->label, sizeof(r->label), "%s", label);
    r->conn_id = conn_id;
    r->done = done;
    r->msg = m;
    if (rob_transmit(r) < 0) {
        rob_free(r);
        return -1;
    }
    robs = g_list_prepend(robs, r);
    return 0;
}

/* ---- re-registration after "shortened" ---------------------------------------------------- */

/* The re-REGISTER ended: on 2xx the edge registration runs as long as the core's again, and
 * later de-REGISTERs and re-REGISTERs start from this one. */
static void rereg_done(uint64_t conn_id, int status, msg_t *sent)
{
    struct gw_conn *c = ws_find(conn_id);
    sip_t const *s = sent ? sip_object(sent) : NULL;
    if (c && c->reg && s && status >= 200 && status < 300 && s->sip_expires) {
        c->reg->expires_at = time_now_s() + (int64_t)s->sip_expires->ex_delta;
        struct sipmsg_frozen *kept = sipmsg_freeze(sent);
        if (kept) { /* else the previous one stays: still this binding */
            free(c->reg->upstream);
            c->reg->upstream = kept;
        }
        log_info("reg: re-registered %s on its behalf after the core shortened it (%lu s)",
                 c->reg->impu, s->sip_expires->ex_delta);
    } else if (c && c->reg) {
        log_warn("reg: the re-REGISTER of %s after \"shortened\" got %d; the registration ends "
                 "at the shortened expiry unless the client refreshes",
                 c->reg->impu, status);
    }
    if (sent)
        msg_destroy(sent);
}

static gboolean rereg_fire(gpointer arg)
{
    uint64_t conn_id = (uint64_t)(uintptr_t)arg;
    g_hash_table_remove(rereg_at, &conn_id);
    struct gw_conn *c = ws_find(conn_id);
    if (!c || !c->reg || !c->reg->upstream)
        return G_SOURCE_REMOVE; /* the registration ended meanwhile */
    msg_t *m = sipmsg_thaw(c->reg->upstream);
    sip_t const *last = m ? sip_object(m) : NULL;
    if (!last) {
        log_warn("reg: could not re-register %s after \"shortened\"", c->reg->impu);
        return G_SOURCE_REMOVE;
    }
    /* As long as the last REGISTER asked, never beyond the token (spec §7.1 step 7). */
    long expires = last->sip_expires ? (long)last->sip_expires->ex_delta : gw->cfg->min_expires;
    int64_t left = c->reg->token_exp - time_now_s();
    if (expires > left)
        expires = (long)left;
    if (expires < gw->cfg->min_expires) {
        log_info("reg: %s: the token ends within min-expires; no re-REGISTER on its behalf",
                 c->reg->impu);
        msg_destroy(m);
        return G_SOURCE_REMOVE;
    }
    if (rob_prepare(m, expires, 1) < 0) {
        msg_destroy(m);
        m = NULL;
    }
    if (!m || rob_send(m, c->reg->impu, conn_id, rereg_done) < 0) /* rob_send takes m */
        log_warn("reg: could not re-register %s after \"shortened\"", c->reg->impu);
    return G_SOURCE_REMOVE;
}

void rob_shortened(struct gw_conn *c, long seconds)
{
    if (!c->reg || !c->reg->upstream || seconds <= 0)
        return;
    /* Well before the end, with room for a challenge and a slow core (Timer F is up to 32 s). */
    guint delay_ms = seconds > 64 ? (guint)(seconds - 32) * 1000 : (guint)seconds * 500;
    if (!rereg_at)
        rereg_at = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    uint64_t *key = g_new(uint64_t, 1);
    *key = c->id;
    guint old = GPOINTER_TO_UINT(g_hash_table_lookup(rereg_at, key));
    if (old)
        g_source_remove(old); /* the latest NOTIFY counts */
    guint t = g_timeout_add(delay_ms, rereg_fire, (gpointer)(uintptr_t)c->id);
    g_hash_table_replace(rereg_at, key, GUINT_TO_POINTER(t));
}

void rob_clear(void)
{
    g_list_free_full(robs, (GDestroyNotify)rob_free);
    robs = NULL;
    if (rereg_at) {
        GHashTableIter it;
        gpointer k, v;
        g_hash_table_iter_init(&it, rereg_at);
        while (g_hash_table_iter_next(&it, &k, &v))
            g_source_remove(GPOINTER_TO_UINT(v));
        g_hash_table_destroy(rereg_at);
        rereg_at = NULL;
    }
}
