/* reg: a REGISTER is answered locally until its token proves the identity; only then does a
 * rebuilt request reach the core, so nothing a client sends unauthenticated ever leaves the edge.
 * The order of checks follows spec/standards.md §7.1. */
#include "reg.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/sip_util.h>
#include <openssl/crypto.h>

#include "gw.h"
#include "gw_latency.h"
#include "ims_auth.h"
#include "ims_peers.h"
#include "sipmsg.h"
#include "auth.h"
#include "code_grant.h"
#include "dereg.h"
#include "log.h"
#include "recover.h"
#include "recover_url.h"
#include "dpop.h"
#include "reg_dpop.h"
#include "reg_admit.h"
#include "reg_priv.h"
#include "reg_quota.h"
#include "regevent.h"
#include "route.h"
#include "timeutil.h"
#include "tok.h"
#include "ws_conn.h"

static uint64_t reg_icid_counter;
/* REGISTERs at the core (p->orq set): nta holds them only as magic, so shutdown frees them here. */
static GHashTable *reg_at_core;

static void reg_track(struct reg_pending *p)
{
    if (!reg_at_core)
        reg_at_core = g_hash_table_new(g_direct_hash, g_direct_equal);
    g_hash_table_add(reg_at_core, p);
}

void reg_secret_free(char *s)
{
    if (s) {
        OPENSSL_cleanse(s, strlen(s));
        free(s);
    }
}

void reg_pending_free(struct reg_pending *p)
{
    if (reg_at_core)
        g_hash_table_remove(reg_at_core, p);
    reg_quota_give(p->conn_id);
    if (p->admitted)
        reg_admit_leave();
    if (p->orq)
        nta_outgoing_destroy(p->orq);
    reg_secret_free(p->held_access);
    reg_secret_free(p->held_refresh);
    free(p->sent);
    msg_destroy(p->req);
    free(p);
}

/* RFC 8898 §4 challenge; error is NULL for the first challenge. With challenge "redirect", the
 * first challenge is the seed's 302 to the WAF instead. register-scope is checked at start to
 * hold only [a-z0-9:._- ], so it is safe in a quoted string and in a URL. */
void reg_challenge(struct gw_conn *c, sip_t const *sip, const char *error)
{
    const struct gw_settings *cfg = gw->cfg;
    reg_count(!error                                ? REG_CHALLENGE
              : strcmp(error, "invalid_scope") == 0 ? REG_INVALID_SCOPE
                                                    : REG_INVALID_TOKEN);
    if (!error && strcmp(cfg->challenge, "redirect") == 0) {
        char contact[768];
        snprintf(contact, sizeof(contact), "<%s?response_type=code&client_id=%s&scope=%s>",
                 cfg->authorization_endpoint, cfg->waf_client_id, cfg->register_scope);
        for (char *sp = strchr(contact, ' '); sp; sp = strchr(sp, ' '))
            *sp = '+'; /* space-separated scopes, form-encoded */
        sipmsg_reply(c, sip, 302, "Moved Temporarily", SIPTAG_CONTACT_STR(contact), TAG_END());
        return;
    }
    /* A realm that requires DPoP challenges with that scheme (RFC 9449 §7.1); either way the
     * gateway's nonce comes along, so a DPoP client's first proof can carry it. */
    char hdr[768], nonce[96];
    const char *scheme = cfg->require_dpop ? "DPoP" : "Bearer";
    const char *algs = cfg->require_dpop ? ", algs=\"" DPOP_ALGS "\"" : "";
    if (error)
        snprintf(hdr, sizeof(hdr),
                 "%s realm=\"%s\", error=\"%s\", scope=\"%s\", authz_server=\"%s\"%s", scheme,
                 cfg->realm, error, cfg->register_scope, cfg->authz_server, algs);
    else
        snprintf(hdr, sizeof(hdr), "%s realm=\"%s\", scope=\"%s\", authz_server=\"%s\"%s", scheme,
                 cfg->realm, cfg->register_scope, cfg->authz_server, algs);
    reg_dpop_nonce_header(nonce);
    sipmsg_reply(c, sip, 401, "Unauthorized", SIPTAG_WWW_AUTHENTICATE_STR(hdr),
                 SIPTAG_HEADER_STR(nonce), TAG_END());
}

/* A token that validated but whose DPoP check failed: 401 with the reason (docs/dpop-sip.md). */
static void reg_dpop_refuse(struct gw_conn *c, sip_t const *sip, const struct tok_identity *id,
                            const struct reg_dpop_result *res)
{
    char hdr[768], nonce[96];
    log_info("reg: connection %llu: DPoP check failed (%s): %s", (unsigned long long)c->id,
             res->error, res->why);
    reg_count(REG_INVALID_TOKEN);
    if (id->jkt[0])
        recover_note_refused(id->jkt);
    reg_dpop_challenge(hdr, sizeof(hdr), res->error, res->why);
    reg_dpop_nonce_header(nonce);
    sipmsg_reply(c, sip, 401, "Unauthorized", SIPTAG_WWW_AUTHENTICATE_STR(hdr),
                 SIPTAG_HEADER_STR(nonce), TAG_END());
}

/* The WAF or the gateway's own capacity failed, not the client: come back later. */
void reg_busy(struct gw_conn *c, sip_t const *sip, const char *why)
{
    log_warn("reg: connection %llu: 503, %s", (unsigned long long)c->id, why);
    reg_count(REG_UPSTREAM_ERROR);
    sipmsg_reply(c, sip, 503, "Service Unavailable", SIPTAG_RETRY_AFTER_STR(REG_QUOTA_RETRY_AFTER),
                 TAG_END());
}

/* The core is busy with this worker's REGISTERs and the queue for it is full, or this one waited
 * too long: try again later, at a time spread over the clients of a burst. */
static void reg_shed(struct gw_conn *c, sip_t const *sip)
{
    char after[16];
    snprintf(after, sizeof(after), "%u", reg_admit_retry_after());
    reg_count(REG_OVERLOADED);
    log_debug("reg: connection %llu: 503, REGISTERs towards the IMS core at their bound",
              (unsigned long long)c->id);
    sipmsg_reply(c, sip, 503, "Service Unavailable (too many REGISTERs in progress)",
                 SIPTAG_RETRY_AFTER_STR(after), TAG_END());
}

/* Finds the one token credential (scheme Bearer or DPoP) among Authorization and
 * Proxy-Authorization; *dpop tells which scheme. Returns 1 found, 0 none, -1 malformed or more
 * than one. */
static int reg_find_bearer(sip_t const *sip, const char **tok, size_t *len, int *dpop)
{
    int found = 0;
    const msg_auth_t *lists[] = {sip->sip_authorization, sip->sip_proxy_authorization};
    for (size_t i = 0; i < 2; i++)
        for (const msg_auth_t *a = lists[i]; a; a = a->au_next) {
            int is_dpop = a->au_scheme && strcasecmp(a->au_scheme, "DPoP") == 0;
            if (!a->au_scheme || (!is_dpop && strcasecmp(a->au_scheme, "Bearer") != 0))
                continue;
            *dpop = is_dpop;
            if (found++ || tok_from_bearer_params(a->au_params, tok, len) < 0)
                return -1;
        }
    return found;
}

/* The expiry the client asks for: Contact expires, else Expires, else the default. */
static long reg_requested_expires(sip_t const *sip)
{
    if (sip->sip_contact && sip->sip_contact->m_expires)
        return strtol(sip->sip_contact->m_expires, NULL, 10);
    if (sip->sip_expires)
        return (long)sip->sip_expires->ex_delta;
    return gw->cfg->default_expires;
}

static void reg_set_expires(msg_t *msg, sip_t *sip, long expires)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%ld", expires);
    for (sip_contact_t *m = sip->sip_contact; m; m = m->m_next)
        if (m->m_expires) {
            char param[48];
            snprintf(param, sizeof(param), "expires=%ld", expires);
            /* sofia keeps the pointer, not a copy: the parameter must live in the message */
            msg_header_replace_param(msg_home(msg), m->m_common, su_strdup(msg_home(msg), param));
            msg_fragment_clear(m->m_common);
        }
    sip_add_tl(msg, sip, SIPTAG_EXPIRES_STR(buf), TAG_END());
}

/* RFC 5626 §5.1: the first-hop edge proxy adds ob when the client uses outbound. */
static int reg_uses_outbound(sip_t const *sip)
{
    sip_contact_t const *m = sip->sip_contact;
    return m && msg_params_find(m->m_params, "reg-id=") &&
           msg_params_find(m->m_params, "+sip.instance=");
}

static int reg_set_cseq(msg_t *msg, sip_t *sip, uint32_t seq)
{
    char cseq[40];
    snprintf(cseq, sizeof(cseq), "%u REGISTER", seq);
    if (sip->sip_cseq)
        sip_header_remove(msg, sip, (sip_header_t *)sip->sip_cseq);
    return sip_add_tl(msg, sip, SIPTAG_CSEQ_STR(cseq), TAG_END());
}

/* Builds the REGISTER of spec T4 (authorised as ims-auth says) from the client's request. */
static msg_t *reg_build_upstream(struct gw_conn *c, struct reg_pending *p, long expires)
{
    const struct gw_settings *cfg = gw->cfg;
    msg_t *fwd = msg_dup(p->req);
    if (!fwd)
        return NULL;
    sip_t *fs = sip_object(fwd);
    while (fs->sip_authorization)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_authorization);
    while (fs->sip_proxy_authorization)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_proxy_authorization);
    /* The route to the core is ours to choose and the only Path is ours (issue 9 item 7); a
     * REGISTER body here is at most a code for the WAF, never for the core (item 5). */
    while (fs->sip_route)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_route);
    while (fs->sip_path)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_path);
    if (fs->sip_payload)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_payload);
    if (fs->sip_content_type)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_content_type);
    if (fs->sip_content_encoding)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_content_encoding);
    if (fs->sip_content_disposition)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_content_disposition);
    sipmsg_strip_p_headers(fwd, fs, NULL);
    sipmsg_strip_p_headers(fwd, fs, "DPoP"); /* the proof is for this gateway, not the core */
    if (fs->sip_max_forwards)
        fs->sip_max_forwards->mf_count--;
    else
        sip_add_tl(fwd, fs, SIPTAG_MAX_FORWARDS_STR("69"), TAG_END());
    reg_set_expires(fwd, fs, expires);

    char path[512], digest[1024], pvni[300], pcv[400];
    snprintf(path, sizeof(path), "<sip:%s@%s;transport=%s;lr%s>", route_flow_token(c),
             cfg->sip_host, strstr(cfg->next_hop, "transport=tcp") ? "tcp" : "udp",
             reg_uses_outbound(fs) ? ";ob" : "");
    /* realm: the IMPU's domain, which the core matches credentials by; uri: the Request-URI */
    char ruri[TOK_MAX_URI];
    if (sipmsg_url(ruri, sizeof(ruri), fs->sip_request->rq_url) < 0 ||
        reg_set_cseq(fwd, fs, sip_object(p->req)->sip_cseq->cs_seq * ims_auth->cseq_scale) < 0) {
        msg_destroy(fwd);
        return NULL;
    }
    ims_auth->initial(digest, sizeof(digest), p->id.impi, fs->sip_to->a_url->url_host, ruri);
    snprintf(pvni, sizeof(pvni), "P-Visited-Network-ID: %s", cfg->visited_network_id);
    snprintf(pcv, sizeof(pcv),
             "P-Charging-Vector: icid-value=\"gw-%" PRId64 "-%" PRIu64
             "\";icid-generated-at=%s;orig-ioi=%s",
             time_now_s(), ++reg_icid_counter, cfg->sip_host, cfg->visited_network_id);
    if (sip_add_tl(fwd, fs, SIPTAG_CONTENT_LENGTH_STR("0"), SIPTAG_PATH_STR(path),
                   SIPTAG_REQUIRE_STR("path"), SIPTAG_AUTHORIZATION_STR(digest),
                   SIPTAG_HEADER_STR(pvni), SIPTAG_HEADER_STR(pcv), TAG_END()) < 0) {
        msg_destroy(fwd);
        return NULL;
    }
    return fwd;
}

static void reg_state_free(struct reg_state *r)
{
    if (!r)
        return;
    while (r->refresh_waiters) { /* the flow is gone: nobody to answer */
        struct reg_pending *w = r->refresh_waiters;
        r->refresh_waiters = w->next;
        reg_pending_free(w);
    }
    free(r->upstream);
    free(r->impu);
    free(r->impi);
    free(r->scope);
    reg_secret_free(r->held_access);
    reg_secret_free(r->held_refresh);
    free(r->service_route);
    free(r->associated_uris);
    free(r->binding);
    free(r);
}

/* The core accepted: remember what later requests on this flow need (spec §7.1 step 9). */
static void reg_store(struct gw_conn *c, struct reg_pending *p, sip_t *rs)
{
    sip_t const *req = sip_object(p->req);
    if (reg_requested_expires(req) == 0) { /* de-REGISTER accepted */
        regevent_unsubscribe(c->id);
        if (c->reg)
            gw->metrics.registrations--;
        /* REGISTERs waiting for a refresh of tokens that are now gone get a fresh challenge,
         * not silence. */
        while (c->reg && c->reg->refresh_waiters) {
            struct reg_pending *w = c->reg->refresh_waiters;
            c->reg->refresh_waiters = w->next;
            reg_challenge(c, sip_object(w->req), "invalid_token");
            reg_pending_free(w);
        }
        reg_state_free(c->reg);
        c->reg = NULL;
        return;
    }
    struct reg_state *r = calloc(1, sizeof(*r));
    char impu[TOK_MAX_URI];
    sipmsg_url(impu, sizeof(impu), req->sip_to->a_url); /* checked in reg_validate() */
    if (r) {
        r->impu = strdup(impu);
        r->impi = strdup(p->id.impi);
        /* A token-less de-REGISTER keeps nothing; a held-token or Bearer REGISTER brings its
         * scope. */
        r->scope =
            strdup(p->id.scope[0] ? p->id.scope : (c->reg && c->reg->scope ? c->reg->scope : ""));
    }
    if (!r || !r->impu || !r->impi || !r->scope) {
        /* The core registered the user but we cannot remember it: the flow keeps its previous
         * state (or none); the binding lapses upstream at its expiry. */
        log_error("reg: out of memory storing the registration of connection %llu",
                  (unsigned long long)c->id);
        reg_state_free(r);
        return;
    }
    r->token_exp = p->id.exp;
    r->expires_at = time_now_s() + p->expires;
    char binding[RECOVER_BINDING_MAX];
    if (p->dpop_jkt[0] && recover_binding(req, binding) == 0) {
        memcpy(r->dpop_jkt, p->dpop_jkt, sizeof(r->dpop_jkt));
        r->binding = strdup(binding); /* NULL (out of memory) only means no recovery */
    }
    r->service_route = sipmsg_join_values((sip_header_t *)rs->sip_service_route, NULL);
    ims_peers_learn(r->service_route);
    r->associated_uris = sipmsg_join_values((sip_header_t *)rs->sip_unknown, "P-Associated-URI");
    /* Tokens the gateway holds for this flow stay with it; a plain Bearer REGISTER keeps any
     * held earlier, since it proves nothing about them. */
    if (p->held_access) {
        r->held_access = p->held_access;
        r->held_refresh = p->held_refresh;
        r->held_access_exp = p->held_access_exp;
        p->held_access = p->held_refresh = NULL;
    } else if (c->reg) {
        r->held_access = c->reg->held_access;
        r->held_refresh = c->reg->held_refresh;
        r->held_access_exp = c->reg->held_access_exp;
        c->reg->held_access = c->reg->held_refresh = NULL;
    }
    if (c->reg) { /* a refresh in progress and the REGISTERs waiting for it stay with the flow */
        r->refreshing = c->reg->refreshing;
        r->refresh_waiters = c->reg->refresh_waiters;
        c->reg->refresh_waiters = NULL;
    }
    char key[DEREG_KEY_MAX];
    if (dereg_key(req, key) == 0)
        dereg_cancel(key); /* registered again: a pending de-REGISTER would remove this binding */
    r->upstream = p->sent;
    p->sent = NULL;
    if (!c->reg)
        gw->metrics.registrations++;
    reg_state_free(c->reg);
    c->reg = r;
    char contact[TOK_MAX_URI] = "";
    if (req->sip_contact && req->sip_contact->m_url->url_type != url_any)
        sipmsg_url(contact, sizeof(contact), req->sip_contact->m_url);
    regevent_subscribe(c->id, r->impu, contact, r->service_route);
}

static const char *reg_digest_uri(struct reg_pending *p)
{
    static char uri[TOK_MAX_URI];
    if (sipmsg_url(uri, sizeof(uri), sip_object(p->req)->sip_request->rq_url) < 0)
        uri[0] = '\0';
    return uri;
}

static void reg_on_answer(void *arg, const struct ims_auth_answer *a);

/* Hands the core's challenge to ims_auth: 0 when it resumes in reg_on_answer() (which may
 * already have run, and freed p), -1 when this mode answers none. */
static int reg_answer_challenge(struct reg_pending *p, nta_outgoing_t *orq, sip_t const *sip)
{
    p->orq = NULL; /* an answer given at once sends anew or frees p */
    if (ims_auth->answer(sip, p->id.impi, "REGISTER", reg_digest_uri(p), reg_on_answer, p) < 0) {
        p->orq = orq;
        return -1;
    }
    nta_outgoing_destroy(orq); /* only now: sip is its response */
    return 0;
}

static int reg_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip)
{
    struct reg_pending *p = (struct reg_pending *)magic;
    int status = nta_outgoing_status(orq);
    if (status < 200)
        return 0;
    p->lat.trunk_ns = sip ? gw_lat_trunk_ns() : 0; /* the answer's bytes were just read */
    struct gw_conn *c = ws_find(p->conn_id);
    sip_t const *req = sip_object(p->req);
    msg_t *rsp = sip ? nta_outgoing_getresponse(orq) : NULL;
    if (!c) {
        log_info("reg: response %d for a flow that closed meanwhile; dropped", status);
    } else if (!rsp) {
        log_warn("reg: no response from the IMS core (%d); 504 to connection %llu", status,
                 (unsigned long long)c->id);
        reg_count(REG_UPSTREAM_ERROR);
        sipmsg_reply(c, req, status == 503 ? 503 : 504, NULL, TAG_END());
    } else if ((status == 401 || status == 407) && !p->answered &&
               reg_answer_challenge(p, orq, sip) == 0) {
        /* Digest on behalf of the user: resumes in reg_on_answer() (the client never sees it) */
        msg_destroy(rsp);
        return 0;
    } else if (status == 401 || status == 407) {
        reg_count(REG_UPSTREAM_ERROR);
        if (p->answered) {
            log_warn("reg: the IMS core refused the Digest answer for %s (%d); 403, no retry",
                     p->id.impi, status);
            sipmsg_reply(c, req, 403, "Forbidden (IMS credentials not accepted)", TAG_END());
        } else {
            /* A token client cannot answer a Digest challenge (spec §7.1 step 9). */
            log_warn("reg: the IMS core challenged a trusted-node REGISTER for %s (%d); "
                     "answering 500 - check that it trusts this gateway",
                     p->id.impi, status);
            sipmsg_reply(c, req, 500, "Server Internal Error (core refused trusted node)",
                         TAG_END());
        }
    } else {
        sip_t *rs = sip_object(rsp);
        sip_header_remove(rsp, rs, (sip_header_t *)rs->sip_via); /* ours */
        reg_set_cseq(rsp, rs, req->sip_cseq->cs_seq); /* the client's numbering, not ours */
        sipmsg_strip_p_headers(rsp, rs, "P-Charging-");
        char nonce[96];
        if (status < 300)
            reg_store(c, p, rs);
        if (status < 300 && c->reg && c->reg->binding)
            recover_claim(c, c->reg->dpop_jkt, c->reg->binding);
        recover_url_answer(rsp, rs, status < 300 && p->dpop_jkt[0]);
        if (p->dpop_jkt[0]) { /* the next proof's nonce, as DPoP-Nonce in HTTP (§8.2) */
            reg_dpop_nonce_header(nonce);
            sipmsg_add_unknown(rsp, rs, nonce);
        }
        reg_count(status < 300 ? REG_OK : REG_UPSTREAM_ERROR);
        /* A success is counted (imsgw_register_total) and logged at debug only: one formatted,
         * redacted line per REGISTER was ~5 % of a REGISTER's instructions (docs/benchmarks.md). */
        log_msg(status < 300 ? LOGL_DEBUG : LOGL_INFO, "reg: %s on connection %llu -> %d",
                p->id.impi, (unsigned long long)c->id, status);
        unsigned queued = c->out_count;
        sipmsg_send(c, rsp);
        /* a success only: an error may be nta's own, with no answer read from the trunk; and a
         * Digest answered on the user's behalf went to the core twice */
        if (status < 300 && !p->answered)
            ws_mark_latency(c, queued, &p->lat);
    }
    if (rsp)
        msg_destroy(rsp);
    reg_pending_free(p);
    return 0;
}

/* The WAF computed the answer to the core's challenge: the same REGISTER again with it (same
 * Call-ID, next CSeq), once. */
static void reg_on_answer(void *arg, const struct ims_auth_answer *a)
{
    struct reg_pending *p = arg;
    struct gw_conn *c = ws_find(p->conn_id);
    sip_t const *req = sip_object(p->req);
    if (!c) {
        reg_pending_free(p);
        return;
    }
    if (!a->ok) {
        log_warn("reg: cannot answer the core's Digest challenge for %s: %s", p->id.impi, a->why);
        reg_count(REG_UPSTREAM_ERROR);
        if (a->refused)
            sipmsg_reply(c, req, 403, "Forbidden (no usable IMS credentials)", TAG_END());
        else
            sipmsg_reply(c, req, 503, "Service Unavailable",
                         SIPTAG_RETRY_AFTER_STR(REG_QUOTA_RETRY_AFTER), TAG_END());
        reg_pending_free(p);
        return;
    }
    p->answered = 1;
    msg_t *fwd = reg_build_upstream(c, p, p->expires);
    sip_t *fs = fwd ? sip_object(fwd) : NULL;
    char hdr[IMS_AUTH_HEADER_MAX + 32];
    snprintf(hdr, sizeof(hdr), "%s: %s", a->header_name, a->header);
    if (fs) {
        while (fs->sip_authorization)
            sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_authorization);
    }
    if (fs && (reg_set_cseq(fwd, fs, req->sip_cseq->cs_seq * ims_auth->cseq_scale + 1) < 0 ||
               sip_add_tl(fwd, fs, SIPTAG_HEADER_STR(hdr), TAG_END()) < 0)) {
        msg_destroy(fwd);
        fwd = NULL;
    }
    OPENSSL_cleanse(hdr, sizeof(hdr));
    const sip_via_t *via_before = fs ? fs->sip_via : NULL;
    p->orq = fwd ? nta_outgoing_mcreate(gw->agent, reg_on_response, (nta_outgoing_magic_t *)p,
                                        gw->next_hop, fwd, TAG_END())
                 : NULL;
    if (p->orq && p->sent) {
        free(p->sent);
        p->sent = sipmsg_freeze_sent(fwd, via_before);
    }
    if (!p->orq) {
        if (fwd)
            msg_destroy(fwd);
        reg_count(REG_UPSTREAM_ERROR);
        sipmsg_reply(c, req, 500, NULL, TAG_END());
        reg_pending_free(p);
        return;
    }
    reg_track(p);
}

static void reg_send_upstream(struct gw_conn *c, struct reg_pending *p);
static void reg_on_admit(void *arg, int admitted);

/* Identity known: check it may register To, clamp Expires, then send upstream when the core has
 * room for it (reg_admit). */
static void reg_forward(struct gw_conn *c, struct reg_pending *p)
{
    sip_t const *sip = sip_object(p->req);
    const struct gw_settings *cfg = gw->cfg;
    char to[TOK_MAX_URI], from[TOK_MAX_URI];
    sipmsg_url(to, sizeof(to), sip->sip_to->a_url); /* lengths checked in reg_validate() */
    sipmsg_url(from, sizeof(from), sip->sip_from->a_url);
    if (!tok_has_impu(&p->id, to) || strcmp(to, from) != 0) {
        log_info("reg: connection %llu: To %s is not an identity of the token, or From != To",
                 (unsigned long long)c->id, to);
        reg_count(REG_FORBIDDEN_IDENTITY);
        sipmsg_reply(c, sip, 403, "Forbidden (identity not authorized by the token)", TAG_END());
        goto done;
    }
    /* The registration must never outlive the token (spec §7.1 step 7). */
    long expires = reg_requested_expires(sip);
    if (expires > 0 && expires < cfg->min_expires) { /* RFC 3261 §10.3 step 7 */
        char min[24];
        snprintf(min, sizeof(min), "%ld", cfg->min_expires);
        log_info("reg: connection %llu: 423, Expires %ld is below min-expires %ld",
                 (unsigned long long)c->id, expires, cfg->min_expires);
        reg_count(REG_BAD_REQUEST);
        sipmsg_reply(c, sip, 423, "Interval Too Brief", SIPTAG_MIN_EXPIRES_STR(min), TAG_END());
        goto done;
    }
    int64_t left = p->id.exp - time_now_s();
    if (expires > 0 && left <= 0) { /* expired, only inside the leeway: not a de-REGISTER */
        reg_challenge(c, sip, "invalid_token");
        goto done;
    }
    if (expires > left)
        expires = (long)left;
    if (expires != 0 && expires < cfg->min_expires) {
        log_info("reg: connection %llu: token expires in %" PRId64 " s; refresh first",
                 (unsigned long long)c->id, left);
        reg_challenge(c, sip, "invalid_token");
        goto done;
    }
    p->expires = expires;
    if (expires == 0) /* leaving: the core's NOTIFY about it is no network de-registration */
        regevent_unsubscribe(c->id);
    switch (reg_admit_enter(reg_on_admit, p)) {
    case REG_ADMIT_NOW:
        p->admitted = 1;
        reg_send_upstream(c, p);
        return;
    case REG_ADMIT_QUEUED:
        p->lat.admit_ns = gw_lat_now_ns(); /* since when; the wait once admitted */
        return;                            /* resumes in reg_on_admit() */
    case REG_ADMIT_FULL:
        reg_shed(c, sip);
        break;
    }
done:
    reg_pending_free(p);
}

/* Builds the REGISTER for the core and sends it; p holds a place (reg_admit). */
static void reg_send_upstream(struct gw_conn *c, struct reg_pending *p)
{
    sip_t const *sip = sip_object(p->req);
    const struct gw_settings *cfg = gw->cfg;
    long expires = p->expires;
    msg_t *fwd = reg_build_upstream(c, p, expires);
    const sip_via_t *via_before = fwd ? sip_object(fwd)->sip_via : NULL;
    p->orq = fwd ? nta_outgoing_mcreate(gw->agent, reg_on_response, (nta_outgoing_magic_t *)p,
                                        gw->next_hop, fwd, TAG_END())
                 : NULL;
    /* kept for a later de-REGISTER (dereg-grace, the operator's removal) or re-REGISTER
     * (reg_onbehalf); fwd is the orq's now and lives as long as it */
    if (p->orq && expires > 0)
        p->sent = sipmsg_freeze_sent(fwd, via_before);
    if (!p->orq && fwd)
        msg_destroy(fwd); /* nta leaves it to us when it fails */
    if (!p->orq) {
        log_error("reg: could not send the REGISTER to %s", cfg->next_hop);
        reg_count(REG_UPSTREAM_ERROR);
        sipmsg_reply(c, sip, 500, NULL, TAG_END());
        reg_pending_free(p);
        return;
    }
    p->lat.sent_ns = gw_lat_now_ns();
    reg_track(p); /* resumes in reg_on_response() */
}

/* A queued REGISTER's turn came, or its wait ran out. */
static void reg_on_admit(void *arg, int admitted)
{
    struct reg_pending *p = arg;
    if (admitted) {
        p->admitted = 1;
        p->lat.admit_ns = gw_lat_now_ns() - p->lat.admit_ns; /* the core's back-pressure */
    }
    struct gw_conn *c = ws_find(p->conn_id);
    if (c && admitted)
        reg_send_upstream(c, p);
    else {
        if (c)
            reg_shed(c, sip_object(p->req));
        reg_pending_free(p);
    }
}

void reg_on_auth(void *arg, enum tok_result r, const struct tok_identity *id, const char *why)
{
    struct reg_pending *p = arg;
    struct gw_conn *c = ws_find(p->conn_id);
    if (!c) {
        reg_pending_free(p);
        return;
    }
    if (r == TOK_UNAVAILABLE) {
        reg_busy(c, sip_object(p->req), why);
        reg_pending_free(p);
        return;
    }
    if (r != TOK_OK) {
        log_info("reg: token refused on connection %llu: %s", (unsigned long long)c->id, why);
        reg_challenge(c, sip_object(p->req),
                      r == TOK_INVALID_SCOPE ? "invalid_scope" : "invalid_token");
        reg_pending_free(p);
        return;
    }
    p->id = *id;
    if (!p->held_access) { /* the client's own token: DPoP applies (the held ones are ours) */
        const char *tok = NULL;
        size_t len = 0;
        int dpop = 0;
        struct reg_dpop_result res;
        reg_find_bearer(sip_object(p->req), &tok, &len, &dpop); /* checked in reg_handle() */
        if (reg_dpop_check(sip_object(p->req), dpop, tok, len, id, &res) < 0) {
            reg_dpop_refuse(c, sip_object(p->req), id, &res);
            reg_pending_free(p);
            return;
        }
        memcpy(p->dpop_jkt, res.jkt, sizeof(p->dpop_jkt));
    }
    reg_forward(c, p);
}

/* RFC 3261 §16.3 checks that apply to a REGISTER at the edge. Returns 0 or the status sent. */
static int reg_validate(struct gw_conn *c, sip_t const *sip)
{
    char uri[TOK_MAX_URI];
    if (sipmsg_url(uri, sizeof(uri), sip->sip_to->a_url) < 0 ||
        sipmsg_url(uri, sizeof(uri), sip->sip_from->a_url) < 0) {
        sipmsg_reply(c, sip, 400, "Bad Request (To or From too long)", TAG_END());
        return 400;
    }
    if (sip->sip_max_forwards && sip->sip_max_forwards->mf_count == 0) {
        sipmsg_reply(c, sip, 483, "Too Many Hops", TAG_END());
        return 483;
    }
    /* upstream CSeq = client CSeq × ims_auth->cseq_scale (+ 1 for a Digest answer) < 2^31 */
    if (sip->sip_cseq->cs_seq >= 0x80000000u / 2) {
        sipmsg_reply(c, sip, 400, "Bad Request (CSeq too large)", TAG_END());
        return 400;
    }
    if (sip->sip_proxy_require) {
        /* We implement no option a client may demand of proxies. */
        char *unsupported = sip_header_as_string(NULL, (sip_header_t *)sip->sip_proxy_require);
        sipmsg_reply(c, sip, 420, "Bad Extension", SIPTAG_UNSUPPORTED_STR(unsupported), TAG_END());
        su_free(NULL, unsupported);
        return 420;
    }
    for (sip_via_t const *v = sip->sip_via; v; v = v->v_next) {
        char sent_by[300];
        snprintf(sent_by, sizeof(sent_by), "%s%s%s", v->v_host, v->v_port ? ":" : "",
                 v->v_port ? v->v_port : "");
        if (strcmp(sent_by, gw->cfg->sip_host) == 0) {
            sipmsg_reply(c, sip, 482, "Loop Detected", TAG_END());
            return 482;
        }
    }
    if (!sip_has_supported(sip->sip_supported, "path")) {
        sipmsg_reply(c, sip, 421, "Extension Required", SIPTAG_REQUIRE_STR("path"), TAG_END());
        return 421;
    }
    /* Contact rules the registrar would refuse anyway (RFC 3261 §10.3 step 6, RFC 5626 §6):
     * refused here so that nothing malformed reaches the core. */
    int regids = 0, contacts = 0, star = 0;
    for (sip_contact_t const *m = sip->sip_contact; m; m = m->m_next) {
        contacts++;
        star |= m->m_url->url_type == url_any;
        regids += msg_params_find(m->m_params, "reg-id=") != NULL;
    }
    if ((star && (contacts > 1 || reg_requested_expires(sip) != 0)) || regids > 1) {
        sipmsg_reply(c, sip, 400,
                     star ? "Bad Request (Contact: * needs Expires: 0 and no other Contact)"
                          : "Bad Request (more than one Contact with reg-id)",
                     TAG_END());
        return 400;
    }
    return 0;
}

/* A de-REGISTER on the flow that registered this AOR needs no valid token: it only removes
 * state (spec §7.1 step 10). */
static int reg_is_own_deregister(struct gw_conn *c, sip_t const *sip)
{
    char to[TOK_MAX_URI];
    if (!c->reg || reg_requested_expires(sip) != 0)
        return 0;
    sipmsg_url(to, sizeof(to), sip->sip_to->a_url);
    return strcmp(to, c->reg->impu) == 0;
}

/* A REGISTER in progress on c, within the flow's quota; NULL after answering 503. */
static struct reg_pending *reg_pending_new(struct gw_conn *c, msg_t *msg)
{
    sip_t const *sip = sip_object(msg);
    if (!reg_quota_take(c->id)) {
        reg_busy(c, sip, "too many REGISTERs in progress on this flow");
        return NULL;
    }
    struct reg_pending *p = calloc(1, sizeof(*p));
    if (!p) {
        reg_quota_give(c->id);
        reg_busy(c, sip, "out of memory");
        return NULL;
    }
    p->conn_id = c->id;
    p->req = msg;
    p->lat.rx_ns = c->rx_ns;
    return p;
}

void reg_handle(struct gw_conn *c, msg_t *msg)
{
    sip_t const *sip = sip_object(msg);
    if (reg_validate(c, sip)) {
        reg_count(REG_BAD_REQUEST);
        goto drop;
    }
    const char *tok;
    size_t toklen;
    int dpop_scheme = 0;
    int found = reg_find_bearer(sip, &tok, &toklen, &dpop_scheme);
    if (found < 0 || (found && toklen > TOK_MAX_LEN)) {
        reg_count(REG_BAD_REQUEST);
        sipmsg_reply(c, sip, 400,
                     found < 0 ? "Bad Request (malformed or repeated Bearer credentials)"
                               : "Bad Request (Bearer token longer than 8 KiB)",
                     TAG_END());
        goto drop;
    }
    struct reg_pending *p;
    /* The flow itself proves who registered; a token sent along, even an expired one, is not
     * needed to leave (checklist 30). */
    if (reg_is_own_deregister(c, sip)) {
        if (!(p = reg_pending_new(c, msg)))
            goto drop;
        p->id.exp = time_now_s();
        p->id.nimpu = 1;
        snprintf(p->id.impu[0], sizeof(p->id.impu[0]), "%s", c->reg->impu);
        snprintf(p->id.impi, sizeof(p->id.impi), "%s", c->reg->impi);
        reg_forward(c, p);
        return;
    }
    int code = found == 0 ? grant_body_is_code(sip) : 0;
    if (code < 0) {
        reg_count(REG_BAD_REQUEST);
        sipmsg_reply(c, sip, 400, "Bad Request (malformed code request in body)", TAG_END());
        goto drop;
    }
    char to[TOK_MAX_URI];
    sipmsg_url(to, sizeof(to), sip->sip_to->a_url);
    int held =
        found == 0 && !code && c->reg && c->reg->held_access && strcmp(to, c->reg->impu) == 0;
    if (found == 0 && !code && !held) {
        reg_challenge(c, sip, NULL);
        goto drop;
    }
    if (!(p = reg_pending_new(c, msg)))
        goto drop;
    if (code)
        reg_grant_redeem(sip, to, p); /* resumes in reg_grant.c */
    else if (held)
        reg_grant_use_held(c, p); /* may resume in reg_grant.c */
    else
        auth_token(tok, toklen, reg_on_auth, p); /* resumes in reg_on_auth() */
    return;
drop:
    msg_destroy(msg);
}

void reg_flow_gone(struct gw_conn *c)
{
    char key[DEREG_KEY_MAX];
    msg_t *last = c->reg ? sipmsg_thaw(c->reg->upstream) : NULL;
    if (last && dereg_key(sip_object(last), key) == 0)
        dereg_schedule(last, key); /* takes last */
    else if (last)
        msg_destroy(last);
    reg_flow_closed(c);
}

int reg_remove(struct gw_conn *c, const char *why)
{
    char key[DEREG_KEY_MAX];
    int sent = 0;
    msg_t *last = c->reg ? sipmsg_thaw(c->reg->upstream) : NULL;
    if (last && dereg_key(sip_object(last), key) == 0) {
        dereg_now(last, key, why); /* takes last */
        sent = 1;
    } else if (last) {
        msg_destroy(last);
    }
    reg_flow_closed(c);
    return sent;
}

void reg_flow_closed(struct gw_conn *c)
{
    regevent_unsubscribe(c->id);
    if (c->reg)
        gw->metrics.registrations--;
    reg_state_free(c->reg);
    c->reg = NULL;
}

void reg_stop(void)
{
    if (!reg_at_core)
        return;
    GList *left = g_hash_table_get_keys(reg_at_core);
    for (GList *l = left; l; l = l->next)
        reg_pending_free(l->data); /* the client gets nothing: its connection is gone too */
    g_list_free(left);
    g_hash_table_destroy(reg_at_core);
    reg_at_core = NULL;
}
