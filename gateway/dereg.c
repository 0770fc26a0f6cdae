/* dereg: the de-REGISTER is the last forwarded REGISTER with CSeq + 1, Expires 0 and a new Via
 * (nta's), so the registrar matches it to the binding by Call-ID, CSeq order and Contact; sent by
 * reg_onbehalf, which answers a challenge of it once (ims-auth digest). */
#include "dereg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "gw.h"
#include "log.h"
#include "reg_onbehalf.h"
#include "sipmsg.h"

struct dereg_job {
    char key[DEREG_KEY_MAX];
    msg_t *msg;
    guint timer;
};

static GList *dereg_jobs;

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
    msg_destroy(j->msg);
    free(j);
}

/* Sends the de-REGISTER built from m (taken) through reg_onbehalf, which answers a challenge of
 * the core in digest mode; why: for the log line. */
static void dereg_send(msg_t *m, const char *key, const char *why)
{
    if (rob_prepare(m, 0, 0) != 0) {
        msg_destroy(m);
        return;
    }
    if (rob_send(m, key, 0, NULL) == 0)
        log_info("dereg: %s; de-REGISTER sent for %.200s", why, key);
}

static gboolean dereg_fire(gpointer arg)
{
    struct dereg_job *j = arg;
    j->timer = 0;
    dereg_jobs = g_list_remove(dereg_jobs, j);
    msg_t *m = j->msg;
    j->msg = NULL;
    char why[64];
    snprintf(why, sizeof(why), "flow closed %ld s ago", gw->cfg->dereg_grace);
    dereg_send(m, j->key, why);
    free(j);
    return G_SOURCE_REMOVE;
}

void dereg_now(msg_t *last, const char *key, const char *why)
{
    dereg_cancel(key);
    dereg_send(last, key, why);
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

void dereg_clear(void)
{
    g_list_free_full(dereg_jobs, (GDestroyNotify)dereg_free);
    dereg_jobs = NULL;
}
