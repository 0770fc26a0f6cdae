/* stub_fwd: each edit replaces or removes whole header objects through msg_header_* so that
 * sofia-sip re-encodes them; nothing here patches text in place. */
#include "stub_fwd.h"

#include <stdio.h>
#include <string.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_string.h>

#include "stub_route.h"

int stub_fwd_is_self(const struct stub_self *self, const url_t *u)
{
    return stub_route_is_self(self->listen, u) || stub_route_is_self(self->orig, u) ||
           stub_route_is_self(self->rr, u);
}

int stub_fwd_preprocess(msg_t *m, sip_t *sip, const struct stub_self *self, int *orig, int *popped)
{
    *orig = 0;
    *popped = 0;
    /* A strict router put our Record-Route URI into the Request-URI and the real target into
     * the last Route (RFC 3261 §16.4, second paragraph). */
    if (sip->sip_route && sip->sip_request &&
        stub_route_is_self(self->rr, sip->sip_request->rq_url)) {
        sip_route_t *last = sip->sip_route;
        while (last->r_next)
            last = last->r_next;
        url_t *target = url_hdup(msg_home(m), last->r_url);
        sip_request_t *rq = target ? sip_request_create(msg_home(m), sip->sip_request->rq_method,
                                                        sip->sip_request->rq_method_name,
                                                        (url_string_t *)target, NULL)
                                   : NULL;
        if (!rq || msg_header_replace(m, (msg_pub_t *)sip, (msg_header_t *)sip->sip_request,
                                      (msg_header_t *)rq) < 0)
            return -1;
        sip_header_remove(m, sip, (sip_header_t *)last);
    }
    while (sip->sip_route && stub_fwd_is_self(self, sip->sip_route->r_url)) {
        const url_t *u = sip->sip_route->r_url;
        if (self->orig->url_user && u->url_user && strcmp(self->orig->url_user, u->url_user) == 0)
            *orig = 1;
        sip_header_remove(m, sip, (sip_header_t *)sip->sip_route);
        (*popped)++;
    }
    return 0;
}

int stub_fwd_max_forwards(msg_t *m, sip_t *sip, int *oom)
{
    char value[16];
    *oom = 0;
    unsigned long count = 70;
    if (sip->sip_max_forwards) {
        if (sip->sip_max_forwards->mf_count == 0)
            return -1;
        count = sip->sip_max_forwards->mf_count - 1;
        if (count > 255)
            count = 255; /* a huge value is no reason to let a loop run longer */
        sip_header_remove(m, sip, (sip_header_t *)sip->sip_max_forwards);
    }
    snprintf(value, sizeof(value), "%lu", count);
    if (msg_header_add_make(m, (msg_pub_t *)sip, sip_max_forwards_class, value) < 0) {
        *oom = 1;
        return -1;
    }
    return 0;
}

int stub_fwd_record_route(msg_t *m, sip_t *sip, const char *rr)
{
    char value[512];
    if (snprintf(value, sizeof(value), "<%s>", rr) >= (int)sizeof(value))
        return -1;
    sip_record_route_t *r = sip_record_route_make(msg_home(m), value);
    if (!r)
        return -1;
    return msg_header_prepend(m, (msg_pub_t *)sip, (msg_header_t **)&sip->sip_record_route,
                              (msg_header_t *)r);
}

int stub_fwd_target(msg_t *m, sip_t *sip, const char *uri, const char *path)
{
    sip_request_t *rq =
        sip_request_create(msg_home(m), sip->sip_request->rq_method,
                           sip->sip_request->rq_method_name, URL_STRING_MAKE(uri), NULL);
    /* Only sip:/sips: contacts can be a next hop: anything else from the store is refused. */
    if (!rq || (rq->rq_url->url_type != url_sip && rq->rq_url->url_type != url_sips) ||
        !rq->rq_url->url_host ||
        msg_header_replace(m, (msg_pub_t *)sip, (msg_header_t *)sip->sip_request,
                           (msg_header_t *)rq) < 0)
        return -1;
    if (!path)
        return 0;
    /* The Path value is a comma list; sofia-sip parses it into a chain of Route objects in
     * the same order, which is the order RFC 3327 §5.4 wants on top of the Route set. */
    sip_route_t *r = sip_route_make(msg_home(m), path);
    if (!r)
        return -1;
    return msg_header_prepend(m, (msg_pub_t *)sip, (msg_header_t **)&sip->sip_route,
                              (msg_header_t *)r);
}

msg_t *stub_fwd_cancel(msg_t *sent)
{
    msg_t *m = msg_dup(sent);
    sip_t *sip = sip_object(m);
    sip_request_t *rq = NULL;
    sip_cseq_t *cs = NULL;
    if (sip && sip->sip_request && sip->sip_cseq && sip->sip_via) {
        rq = sip_request_create(msg_home(m), SIP_METHOD_CANCEL,
                                (url_string_t *)sip->sip_request->rq_url, NULL);
        cs = sip_cseq_create(msg_home(m), sip->sip_cseq->cs_seq, SIP_METHOD_CANCEL);
    }
    if (!rq || !cs ||
        msg_header_replace(m, (msg_pub_t *)sip, (msg_header_t *)sip->sip_request,
                           (msg_header_t *)rq) < 0 ||
        msg_header_replace(m, (msg_pub_t *)sip, (msg_header_t *)sip->sip_cseq, (msg_header_t *)cs) <
            0) {
        msg_destroy(m);
        return NULL;
    }
    while (sip->sip_via->v_next)
        sip_header_remove(m, sip, (sip_header_t *)sip->sip_via->v_next);
    msg_header_t **drop[] = {
        (msg_header_t **)&sip->sip_record_route, (msg_header_t **)&sip->sip_contact,
        (msg_header_t **)&sip->sip_require,      (msg_header_t **)&sip->sip_proxy_require,
        (msg_header_t **)&sip->sip_content_type, (msg_header_t **)&sip->sip_payload,
        (msg_header_t **)&sip->sip_supported,    (msg_header_t **)&sip->sip_allow,
    };
    for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
        if (*drop[i])
            msg_header_remove_all(m, (msg_pub_t *)sip, *drop[i]);
    return m;
}
