/* reg_grant: REGISTERs that wait for the WAF to redeem a code or refresh the tokens the gateway
 * holds for a flow (flows 2 and 3 of spec §7.1); once the grant answers, the access token is
 * validated like any Bearer credential (reg_on_auth()). */
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "auth.h"
#include "code_grant.h"
#include "log.h"
#include "reg_priv.h"
#include "sipmsg.h"
#include "timeutil.h"
#include "ws_conn.h"

/* Forgets the tokens held for c: its refresh token was refused, so the user must sign in again.
 * The registration upstream is left to lapse at its expiry, which the access token bounds. */
static void reg_grant_drop_held(struct gw_conn *c)
{
    if (!c->reg)
        return;
    reg_secret_free(c->reg->held_access);
    reg_secret_free(c->reg->held_refresh);
    c->reg->held_access = c->reg->held_refresh = NULL;
}

/* A code or refresh grant failed: 503 when the WAF did not answer, a new challenge when a held
 * refresh token was refused, 403 when the client's code was. */
static void reg_grant_refused(struct gw_conn *c, struct reg_pending *p,
                              const struct grant_result *g)
{
    sip_t const *req = sip_object(p->req);
    if (g->unavailable) {
        reg_busy(c, req, g->why);
    } else if (p->refreshing || !grant_body_is_code(req)) {
        log_info("reg: connection %llu: the held refresh token was refused (%s); tokens dropped, "
                 "the registration lapses at its expiry",
                 (unsigned long long)c->id, g->why);
        reg_grant_drop_held(c);
        reg_challenge(c, req, "invalid_token");
    } else {
        log_info("reg: connection %llu: code grant refused: %s", (unsigned long long)c->id, g->why);
        reg_count(REG_INVALID_TOKEN);
        sipmsg_reply(c, req, 403, "Forbidden (authorization code refused)", TAG_END());
    }
    reg_pending_free(p);
}

/* The REGISTERs that waited for a refresh of their flow's tokens go on with its outcome. */
static void reg_grant_resume_waiters(struct reg_pending *list, const struct grant_result *g)
{
    while (list) {
        struct reg_pending *w = list;
        list = w->next;
        w->next = NULL;
        struct gw_conn *c = ws_find(w->conn_id);
        if (!c)
            reg_pending_free(w);
        else if (!g->ok)
            reg_grant_refused(c, w, g);
        else if (!c->reg || !c->reg->held_access)
            reg_grant_refused(c, w, &(struct grant_result){.why = "tokens gone meanwhile"});
        else
            reg_grant_use_held(c, w);
    }
}

/* The WAF answered a code or refresh grant: keep the tokens and validate the access token like
 * any Bearer credential. */
static void reg_grant_on_result(void *arg, const struct grant_result *g)
{
    struct reg_pending *p = arg;
    struct gw_conn *c = ws_find(p->conn_id);
    struct reg_pending *waiters = NULL;
    if (c && c->reg && p->refreshing) {
        c->reg->refreshing = 0;
        waiters = c->reg->refresh_waiters;
        c->reg->refresh_waiters = NULL;
    }
    if (!c) {
        reg_pending_free(p);
        return;
    }
    if (!g->ok) {
        reg_grant_refused(c, p, g);
        reg_grant_resume_waiters(waiters, g);
        return;
    }
    reg_secret_free(p->held_access);
    reg_secret_free(p->held_refresh);
    p->held_access = strdup(g->access_token);
    p->held_refresh = g->refresh_token ? strdup(g->refresh_token) : NULL;
    p->held_access_exp = time_now_s() + g->expires_in;
    if (!p->held_access || (g->refresh_token && !p->held_refresh)) {
        struct grant_result oom = {.unavailable = 1, .why = "out of memory for the tokens"};
        reg_grant_refused(c, p, &oom);
        reg_grant_resume_waiters(waiters, &oom);
        return;
    }
    if (c->reg && c->reg->held_refresh) {
        /* The WAF rotated the refresh token: the old one is dead whatever happens next. */
        reg_secret_free(c->reg->held_access);
        reg_secret_free(c->reg->held_refresh);
        c->reg->held_access = strdup(p->held_access);
        c->reg->held_refresh = p->held_refresh ? strdup(p->held_refresh) : NULL;
        c->reg->held_access_exp = p->held_access_exp;
    }
    auth_token(p->held_access, strlen(p->held_access), reg_on_auth, p);
    reg_grant_resume_waiters(waiters, g);
}

/* A REGISTER without credentials on a flow whose tokens the gateway holds: use them, refreshing
 * the access token first when it would not cover a registration of min-expires. One refresh at
 * a time per flow: a second one would present the refresh token the first just used, which the
 * WAF must take for theft (RFC 9700 §4.14.2) and answer by revoking the whole family. */
void reg_grant_use_held(struct gw_conn *c, struct reg_pending *p)
{
    struct reg_state *r = c->reg;
    if (r->refreshing) {
        struct reg_pending **tail = &r->refresh_waiters;
        while (*tail)
            tail = &(*tail)->next;
        *tail = p; /* resumes in reg_grant_resume_waiters() */
        return;
    }
    if (r->held_access_exp - time_now_s() > gw->cfg->min_expires) {
        p->held_access = strdup(r->held_access);
        p->held_refresh = r->held_refresh ? strdup(r->held_refresh) : NULL;
        p->held_access_exp = r->held_access_exp;
        if (!p->held_access || (r->held_refresh && !p->held_refresh)) {
            reg_busy(c, sip_object(p->req), "out of memory");
            reg_pending_free(p);
            return;
        }
        auth_token(p->held_access, strlen(p->held_access), reg_on_auth, p);
        return;
    }
    if (!r->held_refresh) {
        reg_challenge(c, sip_object(p->req), "invalid_token");
        reg_pending_free(p);
        return;
    }
    r->refreshing = p->refreshing = 1;
    grant_refresh(r->held_refresh, reg_grant_on_result, p); /* resumes in reg_grant_on_result() */
}

void reg_grant_redeem(sip_t const *sip, const char *to, struct reg_pending *p)
{
    grant_redeem(sip, to, reg_grant_on_result, p); /* resumes in reg_grant_on_result() */
}
