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

#include "flow.h"
#include "gw.h"
#include "gw_sip.h"
#include "jwks.h"
#include "log.h"
#include "timeutil.h"
#include "tok.h"
#include "ws_conn.h"

/* One REGISTER between its arrival and its final response. */
struct reg_pending {
    uint64_t conn_id;
    msg_t *req; /* as received from the client */
    struct tok_identity id;
    nta_outgoing_t *orq;
};

static uint64_t reg_icid_counter;

static void reg_count(enum gw_reg_outcome o)
{
    gw->metrics.register_outcomes[o]++;
}

static void reg_pending_free(struct reg_pending *p)
{
    if (p->orq)
        nta_outgoing_destroy(p->orq);
    msg_destroy(p->req);
    free(p);
}

/* RFC 8898 §4 challenge; error is NULL for the first challenge. */
static void reg_challenge(struct gw_conn *c, sip_t const *sip, const char *error)
{
    char hdr[768];
    const struct gw_settings *cfg = gw->cfg;
    if (error)
        snprintf(hdr, sizeof(hdr),
                 "Bearer realm=\"%s\", error=\"%s\", scope=\"%s\", authz_server=\"%s\"", cfg->realm,
                 error, cfg->register_scope, cfg->authz_server);
    else
        snprintf(hdr, sizeof(hdr), "Bearer realm=\"%s\", scope=\"%s\", authz_server=\"%s\"",
                 cfg->realm, cfg->register_scope, cfg->authz_server);
    reg_count(!error                                ? REG_CHALLENGE
              : strcmp(error, "invalid_scope") == 0 ? REG_INVALID_SCOPE
                                                    : REG_INVALID_TOKEN);
    gw_sip_reply(c, sip, 401, "Unauthorized", SIPTAG_WWW_AUTHENTICATE_STR(hdr), TAG_END());
}

/* Finds the one Bearer credential among Authorization and Proxy-Authorization.
 * Returns 1 found, 0 none, -1 malformed or more than one. */
static int reg_find_bearer(sip_t const *sip, const char **tok, size_t *len)
{
    int found = 0;
    const msg_auth_t *lists[] = {sip->sip_authorization, sip->sip_proxy_authorization};
    for (size_t i = 0; i < 2; i++)
        for (const msg_auth_t *a = lists[i]; a; a = a->au_next) {
            if (!a->au_scheme || strcasecmp(a->au_scheme, "Bearer") != 0)
                continue;
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
            msg_header_replace_param(msg_home(msg), m->m_common, param);
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

/* Builds the trusted-node REGISTER of spec T4 from the client's request. */
static msg_t *reg_build_upstream(struct gw_conn *c, struct reg_pending *p, long expires)
{
    const struct gw_settings *cfg = gw->cfg;
    msg_t *fwd = msg_dup(p->req);
    sip_t *fs = sip_object(fwd);
    while (fs->sip_authorization)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_authorization);
    while (fs->sip_proxy_authorization)
        sip_header_remove(fwd, fs, (sip_header_t *)fs->sip_proxy_authorization);
    gw_sip_strip_p_headers(fwd, fs, NULL);
    if (fs->sip_max_forwards)
        fs->sip_max_forwards->mf_count--;
    else
        sip_add_tl(fwd, fs, SIPTAG_MAX_FORWARDS_STR("69"), TAG_END());
    reg_set_expires(fwd, fs, expires);

    char token[FLOW_TOKEN_MAX], path[512], digest[1024], pvni[300], pcv[400];
    struct flow_ref ref = {.worker = gw->worker, .conn_id = c->id};
    flow_token_make(&ref, token);
    snprintf(path, sizeof(path), "<sip:%s@%s;transport=%s;lr%s>", token, cfg->sip_host,
             strstr(cfg->next_hop, "transport=tcp") ? "tcp" : "udp",
             reg_uses_outbound(fs) ? ";ob" : "");
    snprintf(digest, sizeof(digest),
             "Digest username=\"%s\", realm=\"%s\", nonce=\"\", uri=\"sip:%s\", response=\"\", "
             "integrity-protected=\"auth-done\"",
             p->id.impi, cfg->realm, cfg->realm);
    snprintf(pvni, sizeof(pvni), "P-Visited-Network-ID: %s", cfg->visited_network_id);
    snprintf(pcv, sizeof(pcv),
             "P-Charging-Vector: icid-value=\"gw-%" PRId64 "-%" PRIu64
             "\";icid-generated-at=%s;orig-ioi=%s",
             time_now_s(), ++reg_icid_counter, cfg->sip_host, cfg->visited_network_id);
    if (sip_add_tl(fwd, fs, SIPTAG_PATH_STR(path), SIPTAG_REQUIRE_STR("path"),
                   SIPTAG_AUTHORIZATION_STR(digest), SIPTAG_HEADER_STR(pvni),
                   SIPTAG_HEADER_STR(pcv), TAG_END()) < 0) {
        msg_destroy(fwd);
        return NULL;
    }
    return fwd;
}

static void reg_state_free(struct reg_state *r)
{
    if (!r)
        return;
    free(r->service_route);
    free(r->associated_uris);
    free(r);
}

/* The core accepted: remember what later requests on this flow need (spec §7.1 step 9). */
static void reg_store(struct gw_conn *c, struct reg_pending *p, sip_t *rs)
{
    sip_t const *req = sip_object(p->req);
    if (reg_requested_expires(req) == 0) { /* de-REGISTER accepted */
        if (c->reg)
            gw->metrics.registrations--;
        reg_state_free(c->reg);
        c->reg = NULL;
        return;
    }
    struct reg_state *r = calloc(1, sizeof(*r));
    url_e(r->impu, sizeof(r->impu), req->sip_to->a_url);
    snprintf(r->impi, sizeof(r->impi), "%s", p->id.impi);
    r->token_exp = p->id.exp;
    r->expires_at = time_now_s() + reg_requested_expires(req);
    r->service_route = gw_sip_join_values((sip_header_t *)rs->sip_service_route, NULL);
    r->associated_uris = gw_sip_join_values((sip_header_t *)rs->sip_unknown, "P-Associated-URI");
    if (!c->reg)
        gw->metrics.registrations++;
    reg_state_free(c->reg);
    c->reg = r;
}

static int reg_on_response(nta_outgoing_magic_t *magic, nta_outgoing_t *orq, sip_t const *sip)
{
    struct reg_pending *p = (struct reg_pending *)magic;
    int status = nta_outgoing_status(orq);
    if (status < 200)
        return 0;
    struct gw_conn *c = ws_find(p->conn_id);
    sip_t const *req = sip_object(p->req);
    msg_t *rsp = sip ? nta_outgoing_getresponse(orq) : NULL;
    if (!c) {
        log_info("reg: response %d for a flow that closed meanwhile; dropped", status);
    } else if (!rsp) {
        log_warn("reg: no response from the IMS core (%d); 504 to connection %llu", status,
                 (unsigned long long)c->id);
        reg_count(REG_UPSTREAM_ERROR);
        gw_sip_reply(c, req, status == 503 ? 503 : 504, NULL, TAG_END());
    } else if (status == 401 || status == 407) {
        /* A token client cannot answer a Digest challenge (spec §7.1 step 9). */
        log_warn("reg: the IMS core challenged a trusted-node REGISTER for %s (%d); "
                 "answering 500 - check that it trusts this gateway",
                 p->id.impi, status);
        reg_count(REG_UPSTREAM_ERROR);
        gw_sip_reply(c, req, 500, "Server Internal Error (core refused trusted node)", TAG_END());
    } else {
        sip_t *rs = sip_object(rsp);
        sip_header_remove(rsp, rs, (sip_header_t *)rs->sip_via); /* ours */
        gw_sip_strip_p_headers(rsp, rs, "P-Charging-");
        if (status < 300)
            reg_store(c, p, rs);
        reg_count(status < 300 ? REG_OK : REG_UPSTREAM_ERROR);
        log_info("reg: %s on connection %llu -> %d", p->id.impi, (unsigned long long)c->id, status);
        gw_sip_send(c, rsp);
    }
    if (rsp)
        msg_destroy(rsp);
    reg_pending_free(p);
    return 0;
}

static void reg_continue(struct reg_pending *p, int may_refetch);

static void reg_keys_ready(void *arg, int ok)
{
    reg_continue(arg, 0);
}

/* Validation and forwarding; runs again once if the token's kid needed a JWKS refresh. */
static void reg_continue(struct reg_pending *p, int may_refetch)
{
    struct gw_conn *c = ws_find(p->conn_id);
    if (!c) {
        reg_pending_free(p);
        return;
    }
    sip_t const *sip = sip_object(p->req);
    const char *tok = NULL;
    size_t toklen = 0;
    reg_find_bearer(sip, &tok, &toklen);
    const struct gw_settings *cfg = gw->cfg;
    struct tok_policy pol = {cfg->authz_server, cfg->audience, cfg->register_scope,
                             cfg->token_leeway};
    char why[160] = "";
    enum tok_result r = tok_validate(tok, toklen, &pol, jwks_lookup, gw->jwks, time_now_s(), &p->id,
                                     why, sizeof(why));
    if (r == TOK_UNKNOWN_KID && may_refetch &&
        jwks_refresh(gw->jwks, gw->lws, (int64_t)time_mono_ms(), reg_keys_ready, p) == 0)
        return; /* resumes in reg_keys_ready() */
    if (r != TOK_OK) {
        log_info("reg: token refused on connection %llu: %s", (unsigned long long)c->id, why);
        reg_challenge(c, sip, r == TOK_INVALID_SCOPE ? "invalid_scope" : "invalid_token");
        goto done;
    }
    char to[TOK_MAX_URI], from[TOK_MAX_URI];
    url_e(to, sizeof(to), sip->sip_to->a_url);
    url_e(from, sizeof(from), sip->sip_from->a_url);
    if (!tok_has_impu(&p->id, to) || strcmp(to, from) != 0) {
        log_info("reg: connection %llu: To %s is not an identity of the token, or From != To",
                 (unsigned long long)c->id, to);
        reg_count(REG_FORBIDDEN_IDENTITY);
        gw_sip_reply(c, sip, 403, "Forbidden (identity not authorized by the token)", TAG_END());
        goto done;
    }
    /* The registration must never outlive the token (spec §7.1 step 7). */
    long expires = reg_requested_expires(sip);
    int64_t left = p->id.exp - time_now_s();
    if (expires > left)
        expires = (long)left;
    if (expires != 0 && expires < cfg->min_expires) {
        log_info("reg: connection %llu: token expires in %" PRId64 " s; refresh first",
                 (unsigned long long)c->id, left);
        reg_challenge(c, sip, "invalid_token");
        goto done;
    }
    msg_t *fwd = reg_build_upstream(c, p, expires);
    p->orq = fwd ? nta_outgoing_mcreate(gw->agent, reg_on_response, (nta_outgoing_magic_t *)p,
                                        gw->next_hop, fwd, TAG_END())
                 : NULL;
    if (!p->orq) {
        log_error("reg: could not send the REGISTER to %s", cfg->next_hop);
        reg_count(REG_UPSTREAM_ERROR);
        gw_sip_reply(c, sip, 500, NULL, TAG_END());
        goto done;
    }
    return; /* resumes in reg_on_response() */
done:
    reg_pending_free(p);
}

void reg_handle(struct gw_conn *c, msg_t *msg)
{
    sip_t const *sip = sip_object(msg);
    if (sip->sip_max_forwards && sip->sip_max_forwards->mf_count == 0) {
        reg_count(REG_BAD_REQUEST);
        gw_sip_reply(c, sip, 483, "Too Many Hops", TAG_END());
        goto drop;
    }
    if (!sip_has_supported(sip->sip_supported, "path")) {
        reg_count(REG_BAD_REQUEST);
        gw_sip_reply(c, sip, 421, "Extension Required", SIPTAG_REQUIRE_STR("path"), TAG_END());
        goto drop;
    }
    const char *tok;
    size_t toklen;
    int found = reg_find_bearer(sip, &tok, &toklen);
    if (found < 0) {
        reg_count(REG_BAD_REQUEST);
        gw_sip_reply(c, sip, 400, "Bad Request (malformed or repeated Bearer credentials)",
                     TAG_END());
        goto drop;
    }
    if (found == 0) {
        reg_challenge(c, sip, NULL);
        goto drop;
    }
    struct reg_pending *p = calloc(1, sizeof(*p));
    p->conn_id = c->id;
    p->req = msg;
    reg_continue(p, 1);
    return;
drop:
    msg_destroy(msg);
}

void reg_flow_closed(struct gw_conn *c)
{
    if (c->reg)
        gw->metrics.registrations--;
    reg_state_free(c->reg);
    c->reg = NULL;
}
