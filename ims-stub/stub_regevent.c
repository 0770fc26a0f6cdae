/* stub_regevent: one nta server leg per subscription; NOTIFYs are fire-and-forget (nta keeps
 * retransmitting a destroyed client transaction until it completes). A subscription that ended
 * is freed at the next SUBSCRIBE or at exit, never inside its own leg's callback. */
#include "stub_regevent.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "log.h"
#include "stub_addr.h"
#include "stub_bindings.h"
#include "stub_settings.h"
#include "timeutil.h"

#define REGINFO_MAX 16384

struct stub_sub {
    struct stub_sub *next;
    struct stub_regevent *re;
    char *aor;
    nta_leg_t *leg;
    unsigned version; /* reginfo version, per subscription (RFC 3680 §5.2) */
    int dead;
};

struct stub_regevent {
    nta_agent_t *agent;
    const struct stub_registrar *reg;
    struct stub_sub *subs;
    size_t count;
    size_t dead; /* of which ended, to be swept: the walk is skipped while none are */
};

struct stub_regevent *stub_regevent_create(nta_agent_t *agent, const struct stub_registrar *reg)
{
    struct stub_regevent *re = calloc(1, sizeof(*re));
    if (re) {
        re->agent = agent;
        re->reg = reg;
    }
    return re;
}

static void sub_free(struct stub_sub *s)
{
    if (s->leg)
        nta_leg_destroy(s->leg);
    free(s->aor);
    free(s);
}

static void sweep_dead(struct stub_regevent *re)
{
    if (!re->dead)
        return; /* a burst of SUBSCRIBEs must not walk every subscription each time */
    re->dead = 0;
    for (struct stub_sub **pp = &re->subs; *pp;) {
        struct stub_sub *s = *pp;
        if (s->dead) {
            *pp = s->next;
            re->count--;
            sub_free(s);
        } else {
            pp = &s->next;
        }
    }
}

void stub_regevent_destroy(struct stub_regevent *re)
{
    if (!re)
        return;
    while (re->subs) {
        struct stub_sub *s = re->subs;
        re->subs = s->next;
        sub_free(s);
    }
    free(re);
}

/* Appends text with &, <, >, " escaped; returns the new length or -1 when it does not fit. */
static int put_escaped(char *buf, int n, const char *s)
{
    for (; n >= 0 && n < REGINFO_MAX && *s; s++) {
        const char *rep = *s == '&'   ? "&amp;"
                          : *s == '<' ? "&lt;"
                          : *s == '>' ? "&gt;"
                          : *s == '"' ? "&quot;"
                                      : NULL;
        int k = rep ? snprintf(buf + n, (size_t)(REGINFO_MAX - n), "%s", rep)
                    : snprintf(buf + n, (size_t)(REGINFO_MAX - n), "%c", *s);
        n = k < REGINFO_MAX - n ? n + k : -1;
    }
    return n;
}

/* Appends formatted text; -1 once it no longer fits. */
static int put(char *buf, int n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *buf, int n, const char *fmt, ...)
{
    if (n < 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + n, (size_t)(REGINFO_MAX - n), fmt, ap);
    va_end(ap);
    return k >= 0 && k < REGINFO_MAX - n ? n + k : -1;
}

/* The reginfo document of aor: its live bindings (with event live_event), or (gone != NULL) the
 * bindings just removed, terminated with event "deactivated". Returns its length or -1 when too
 * large. */
static int reginfo(char *buf, struct stub_sub *s, struct stub_binding *const *gone, int ngone,
                   const char *live_event)
{
    struct stub_bindings *store = s->re->reg->store;
    int live = 0;
    for (struct stub_binding *b = gone ? NULL : stub_bindings_first(store, s->aor); b;
         b = stub_bindings_next(b))
        live++;
    int n = put(buf, 0,
                "<?xml version=\"1.0\"?>\n<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" "
                "version=\"%u\" state=\"full\">\n<registration aor=\"",
                s->version++);
    n = put_escaped(buf, n, s->aor);
    n = put(buf, n, "\" id=\"r0\" state=\"%s\">\n", gone ? "terminated" : live ? "active" : "init");
    int64_t now = time_now_s();
    struct stub_binding *b = gone ? NULL : stub_bindings_first(store, s->aor);
    for (int i = 0; n >= 0 && (gone ? i < ngone : b != NULL); i++) {
        struct stub_binding *cur = gone ? gone[i] : b;
        n = put(buf, n, "<contact id=\"c%d\" state=\"%s\" event=\"%s\" expires=\"%lld\"><uri>", i,
                gone ? "terminated" : "active", gone ? "deactivated" : live_event,
                gone ? 0LL : (long long)(cur->expires_at - now));
        n = put_escaped(buf, n, cur->uri);
        n = put(buf, n, "</uri></contact>\n");
        if (!gone)
            b = stub_bindings_next(b);
    }
    return put(buf, n, "</registration>\n</reginfo>\n");
}

static void notify(struct stub_sub *s, const char *substate, struct stub_binding *const *gone,
                   int ngone, const char *live_event)
{
    char *body = malloc(REGINFO_MAX);
    if (!body || reginfo(body, s, gone, ngone, live_event) < 0) {
        log_warn("regevent: reginfo for %s too large; NOTIFY not sent", s->aor);
        free(body);
        return;
    }
    nta_outgoing_t *orq = nta_outgoing_tcreate(
        s->leg, NULL, NULL, NULL, SIP_METHOD_NOTIFY, NULL, SIPTAG_EVENT_STR("reg"),
        SIPTAG_SUBSCRIPTION_STATE_STR(substate), SIPTAG_CONTENT_TYPE_STR("application/reginfo+xml"),
        SIPTAG_PAYLOAD_STR(body), TAG_END());
    if (orq)
        nta_outgoing_destroy(orq); /* nta completes it on its own */
    else
        log_warn("regevent: cannot send NOTIFY for %s", s->aor);
    free(body);
}

/* In-dialog requests of a subscription: refresh or un-SUBSCRIBE. */
static int sub_on_request(nta_leg_magic_t *magic, nta_leg_t *leg, nta_incoming_t *irq,
                          const sip_t *sip)
{
    struct stub_sub *s = (struct stub_sub *)magic;
    if (sip->sip_request->rq_method != sip_method_subscribe)
        return 405;
    unsigned long expires = sip->sip_expires ? sip->sip_expires->ex_delta : 3600;
    nta_incoming_treply(irq, SIP_200_OK, SIPTAG_EXPIRES(sip->sip_expires), TAG_END());
    if (expires == 0) {
        log_info("regevent: unsubscribe aor=%s", s->aor);
        if (!s->dead)
            s->re->dead++;
        s->dead = 1;
    }
    return 200;
}

int stub_regevent_subscribe(struct stub_regevent *re, nta_incoming_t *irq, const sip_t *sip)
{
    sweep_dead(re);
    su_home_t home[1] = {SU_HOME_INIT(home)};
    char *aor = stub_aor(home, sip->sip_request->rq_url);
    int status = 200;
    if (!aor || !stub_bindings_first(re->reg->store, aor)) {
        status = 404; /* only registered users have a registration state to watch */
    } else if (re->count >= STUB_REGEVENT_MAX || !sip->sip_contact) {
        status = re->count >= STUB_REGEVENT_MAX ? 503 : 400;
    } else {
        struct stub_sub *s = calloc(1, sizeof(*s));
        if (s && (s->aor = strdup(aor)) != NULL)
            s->leg = nta_leg_tcreate(re->agent, sub_on_request, (nta_leg_magic_t *)s,
                                     SIPTAG_CALL_ID(sip->sip_call_id), SIPTAG_FROM(sip->sip_to),
                                     SIPTAG_TO(sip->sip_from), TAG_END());
        if (!s || !s->leg || !nta_leg_tag(s->leg, NULL)) {
            if (s)
                sub_free(s);
            status = 500;
        } else {
            s->re = re;
            nta_leg_server_route(s->leg, sip->sip_record_route, sip->sip_contact);
            s->next = re->subs;
            re->subs = s;
            re->count++;
            nta_incoming_tag(irq, nta_leg_get_tag(s->leg));
            nta_incoming_treply(irq, SIP_200_OK, SIPTAG_EXPIRES(sip->sip_expires),
                                SIPTAG_CONTACT_STR(re->reg->set->listen), TAG_END());
            log_info("regevent: subscribe aor=%s", aor);
            notify(s, "active", NULL, 0, "registered");
        }
    }
    if (status != 200) {
        nta_incoming_tag(irq, NULL);
        nta_incoming_treply(irq, status, NULL, TAG_END());
    }
    su_home_deinit(home);
    return status;
}

int stub_regevent_deregister(struct stub_regevent *re, const char *aor)
{
    struct stub_binding *gone[64];
    int n = 0;
    for (struct stub_binding *b = stub_bindings_first(re->reg->store, aor); b && n < 64;
         b = stub_bindings_next(b))
        gone[n++] = b;
    log_info("regevent: network de-registration aor=%s bindings=%d", aor, n);
    for (struct stub_sub *s = re->subs; s; s = s->next)
        if (!s->dead && strcmp(s->aor, aor) == 0) {
            notify(s, "terminated;reason=deactivated", gone, n, NULL);
            s->dead = 1;
            re->dead++;
        }
    for (int i = 0; i < n; i++)
        stub_bindings_remove(re->reg->store, gone[i]);
    return n;
}

int stub_regevent_shorten(struct stub_regevent *re, const char *aor, long seconds)
{
    int n = 0;
    int64_t until = time_now_s() + seconds;
    for (struct stub_binding *b = stub_bindings_first(re->reg->store, aor); b;
         b = stub_bindings_next(b))
        if (b->expires_at > until) {
            b->expires_at = until;
            n++;
        }
    log_info("regevent: registration shortened aor=%s seconds=%ld bindings=%d", aor, seconds, n);
    for (struct stub_sub *s = re->subs; n && s; s = s->next)
        if (!s->dead && strcmp(s->aor, aor) == 0)
            notify(s, "active", NULL, 0, "shortened");
    return n;
}
