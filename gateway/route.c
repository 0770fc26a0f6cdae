/* route: both of our Record-Route entries use our IMS-side host:port, so every Route that names
 * us is recognised the same way; only the WebSocket-side one carries a flow token. */
#include "route.h"

#include <stdio.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_tag.h>

#include "gw.h"
#include "ws_conn.h"

int route_is_ours(const url_t *u)
{
    char hostport[300];
    if (!u || !u->url_host)
        return 0;
    snprintf(hostport, sizeof(hostport), "%s%s%s", u->url_host, u->url_port ? ":" : "",
             u->url_port ? u->url_port : "");
    return strcmp(hostport, gw->cfg->sip_host) == 0;
}

enum route_flow route_pop_ours(msg_t *msg, sip_t *sip, struct flow_ref *ref)
{
    enum route_flow found = ROUTE_NO_TOKEN;
    while (sip->sip_route && route_is_ours(sip->sip_route->r_url)) {
        const char *user = sip->sip_route->r_url->url_user;
        if (user && found == ROUTE_NO_TOKEN)
            found =
                flow_token_parse(user, strlen(user), ref) == 0 ? ROUTE_TOKEN_OK : ROUTE_TOKEN_BAD;
        sip_header_remove(msg, sip, (sip_header_t *)sip->sip_route);
    }
    return found;
}

const char *route_flow_token(struct gw_conn *c)
{
    if (!c->flow_token[0]) {
        char token[FLOW_TOKEN_MAX]; /* always FLOW_CONN_TOKEN_LEN long (flow.c asserts it) */
        struct flow_ref ref = {.worker = gw->worker, .conn_id = c->id};
        flow_token_make(&ref, token);
        memcpy(c->flow_token, token, FLOW_CONN_TOKEN_LEN);
        c->flow_token[FLOW_CONN_TOKEN_LEN] = '\0';
    }
    return c->flow_token;
}

int route_record_route(msg_t *msg, sip_t *sip, struct gw_conn *c, int towards_ws)
{
    char ws[400], core[300];
    snprintf(ws, sizeof(ws), "<sip:%s@%s;transport=ws;lr>", route_flow_token(c), gw->cfg->sip_host);
    snprintf(core, sizeof(core), "<sip:%s;transport=%s;lr>", gw->cfg->sip_host,
             strstr(gw->cfg->next_hop, "transport=tcp") ? "tcp" : "udp");
    /* sip_add_tl prepends each Record-Route: add the lower one first. */
    const char *lower = towards_ws ? core : ws, *upper = towards_ws ? ws : core;
    sip_record_route_t *rr_lower = sip_record_route_make(msg_home(msg), lower);
    sip_record_route_t *rr_upper = sip_record_route_make(msg_home(msg), upper);
    if (!rr_lower || !rr_upper)
        return -1;
    if (msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)rr_lower) < 0 ||
        msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)rr_upper) < 0)
        return -1;
    return 0;
}

int route_forms_dialog(sip_t const *sip)
{
    switch (sip->sip_request->rq_method) {
    case sip_method_invite:
    case sip_method_subscribe:
    case sip_method_refer:
    case sip_method_notify:
        return 1;
    default:
        return 0;
    }
}
