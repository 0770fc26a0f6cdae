/* dereg: the de-REGISTER is the last forwarded REGISTER with CSeq + 1, Expires 0 and a new Via
 * (nta's), so the registrar matches it to the binding by Call-ID, CSeq order and Contact. A core
 * that challenges it (ims-auth digest) gets one answer through ims_auth, like a REGISTER
 * (reg.c): same Call-ID, CSeq + 1, the IMPI from the Authorization the gateway wrote itself. */
#include "dereg.h"

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
#include "sipmsg.h"

struct dereg_job {
    char key[DEREG_KEY_MAX];
    msg_t *msg;          /* waiting: the last REGISTER; sent: the de-REGISTER, our Via removed */
    guint timer;         /* waiting for the grace to end */
    nta_outgoing_t *orq; /* sent, waiting for the core */
    int answered;        /* the core's challenge was answered once (no second) */
};

static GList *dereg_jobs; /* waiting for the grace to end */
static GList *dereg_sent; /* de-REGISTERs at the core or at the WAF (a challenge answered) */

unsigned dereg_pending(void)
{
    return g_list_length(dereg_jobs);
}

int dereg_key(sip_t const *sip, char key[DEREG_KEY_MAX])
{
    char aor[256], contact[300];
    if (!sip->sip_to || !sip->sip_contact || sipmsg_url(aor, sizeof(aor), sip->sip_to->a_url) < 0)
        return -1;
    const char *inst = msg_params_find(sip->sip_contact->m_params, "+sip.instance=");
    if (!inst && sipmsg_url(contact, sizeof(contact), sip->sip_contact->m_url) < 0)
        return -1;
    int n = snprintf(key, DEREG_KEY_MAX, "%s|%s", aor, inst ? inst : contact);
    return n > 0 && n < DEREG_KEY_MAX ? 0 : -1;
}

static void dereg_free(struct dereg_job *j)
{
    if (j->timer)
        g_source_remove(j->timer);
    if (j->orq)
        nta_outgoing_destroy(j->orq);
    if (j->msg)
        msg_destroy(j->msg);
    free(j);
}

static void dereg_done(struct dereg_job *j)
{
    dereg_sent = g_list_remove(dereg_sent, j);
    dereg_free(j);
}

static int dereg_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip);

/* Sends j->msg (a copy; j keeps it for a challenge) upstream; 0 or -1. */
static int dereg_send(struct dereg_job *j)
{
    msg_t *m = msg_dup(j->msg);
    j->orq = m ? nta_outgoing_mcreate(gw->agent, dereg_on_response, (nta_outgoing_magic_t *)j,
                                      gw->next_hop, m, TAG_END())
               : NULL;
    if (!j->orq && m)
        msg_destroy(m);
    return j->orq ? 0 : -1;
}

/* The core's challenge answered (digest mode): the de-REGISTER again, CSeq + 1, once. */
static void dereg_on_answer(void *arg, const struct ims_auth_answer *a)
{
    struct dereg_job *j = arg;
    sip_t *s = sip_object(j->msg);
    char hdr[IMS_AUTH_HEADER_MAX + 32] = "";
    if (a->ok)
        snprintf(hdr, sizeof(hdr), "%s: %s", a->header_name, a->header);
    while (a->ok && s->sip_authorization)
        sip_header_remove(j->msg, s, (sip_header_t *)s->sip_authorization);
    while (a->ok && s->sip_proxy_authorization)
        sip_header_remove(j->msg, s, (sip_header_t *)s->sip_proxy_authorization);
    int ok = a->ok && sipmsg_set_cseq(j->msg, s, s->sip_cseq->cs_seq + 1) == 0 &&
             sip_add_tl(j->msg, s, SIPTAG_HEADER_STR(hdr), TAG_END()) >= 0 && dereg_send(j) == 0;
    OPENSSL_cleanse(hdr, sizeof(hdr));
    if (!ok) {
        log_warn("dereg: cannot answer the core's challenge for %.200s (%s); the binding lapses "
                 "at its expiry",
                 j->key, a->ok ? "could not send" : a->why);
        dereg_done(j);
    }
}

/* username= of the Authorization the gateway itself put in the REGISTER: the IMPI. */
static int dereg_impi(sip_t const *s, char *out, size_t outlen)
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

static int dereg_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip)
{
    struct dereg_job *j = (struct dereg_job *)magic;
    int status = nta_outgoing_status(orq);
    if (status < 200)
        return 0;
    j->orq = NULL;
    sip_t const *s = sip_object(j->msg);
    char impi[256], uri[512];
    int pending = 0;
    if ((status == 401 || status == 407) && sip && !j->answered &&
        dereg_impi(s, impi, sizeof(impi)) == 0 &&
        sipmsg_url(uri, sizeof(uri), s->sip_request->rq_url) == 0) {
        j->answered = 1; /* may resume in dereg_on_answer() at once, or later */
        pending = ims_auth->answer(sip, impi, "REGISTER", uri, dereg_on_answer, j) == 0;
    }
    nta_outgoing_destroy(orq); /* only now: sip is its response */
    if (pending)
        return 0;
    log_info("dereg: the IMS core answered %d", status);
    dereg_done(j);
    return 0;
}

/* Turns the stored REGISTER into its de-REGISTER. */
static int dereg_rewrite(msg_t *m, sip_t *s)
{
    su_home_t *home = msg_home(m);
    while (s->sip_via)
        sip_header_remove(m, s, (sip_header_t *)s->sip_via);
    uint32_t seq = s->sip_cseq->cs_seq + 1;
    sip_header_remove(m, s, (sip_header_t *)s->sip_cseq);
    if (s->sip_expires)
        sip_header_remove(m, s, (sip_header_t *)s->sip_expires);
    for (sip_contact_t *c = s->sip_contact; c; c = c->m_next)
        if (c->m_expires) {
            msg_header_replace_param(home, c->m_common, su_strdup(home, "expires=0"));
            msg_fragment_clear(c->m_common);
        }
    return sip_add_tl(m, s, SIPTAG_CSEQ(sip_cseq_create(home, seq, SIP_METHOD_REGISTER)),
                      SIPTAG_EXPIRES_STR("0"), TAG_END());
}

static gboolean dereg_fire(gpointer arg)
{
    struct dereg_job *j = arg;
    j->timer = 0;
    dereg_jobs = g_list_remove(dereg_jobs, j);
    sip_t *s = sip_object(j->msg);
    dereg_sent = g_list_prepend(dereg_sent, j);
    if (s && s->sip_cseq && dereg_rewrite(j->msg, s) >= 0 && dereg_send(j) == 0)
        log_info("dereg: flow closed %ld s ago; de-REGISTER sent for %.200s", gw->cfg->dereg_grace,
                 j->key);
    else
        dereg_done(j);
    return G_SOURCE_REMOVE;
}

void dereg_cancel(const char *key)
{
    for (GList *l = dereg_jobs, *next; l; l = next) {
        next = l->next;
        struct dereg_job *j = l->data;
        if (strcmp(j->key, key) == 0) {
            dereg_jobs = g_list_delete_link(dereg_jobs, l);
            dereg_free(j);
        }
    }
}

void dereg_schedule(msg_t *last, const char *key)
{
    if (gw->cfg->dereg_grace <= 0) {
        msg_destroy(last);
        return;
    }
    dereg_cancel(key); /* one pending de-REGISTER per binding */
    struct dereg_job *j = calloc(1, sizeof(*j));
    if (!j) {
        log_error("dereg: out of memory; %.200s lapses at its expiry instead", key);
        msg_destroy(last);
        return;
    }
    snprintf(j->key, sizeof(j->key), "%s", key);
    j->msg = last;
    j->timer = g_timeout_add_seconds((guint)gw->cfg->dereg_grace, dereg_fire, j);
    dereg_jobs = g_list_prepend(dereg_jobs, j);
}

/* After the WAF client is gone (lws_context_destroy runs every pending answer first), before
 * the SIP agent. */
void dereg_clear(void)
{
    g_list_free_full(dereg_jobs, (GDestroyNotify)dereg_free);
    dereg_jobs = NULL;
    g_list_free_full(dereg_sent, (GDestroyNotify)dereg_free);
    dereg_sent = NULL;
}
