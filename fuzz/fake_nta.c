/* fake_nta: nta_outgoing_* as the gateway uses them (see fake_nta.h). The request is serialised
 * as nta would before sending; responses are built as the core would send them and parsed from
 * text, so the gateway sees what it would see from the wire. */
#include "fake_nta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/nta.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "fuzz_gw.h"
#include "gw.h"

struct nta_outgoing_s {
    nta_response_f *callback;
    nta_outgoing_magic_t *magic;
    msg_t *req;
    msg_t *rsp; /* the last response delivered */
    int status;
    int provisional_sent;
    int cancelled; /* an INVITE the gateway sent a CANCEL for */
    int destroyed;
    struct nta_outgoing_s *next;
};

static struct nta_outgoing_s *fake_orqs;

/* Leg-based requests (the reg-event SUBSCRIBE, issue 11) are not modelled: refused as if they
 * could not be sent, which the gateway handles (no subscription for that flow). */
nta_outgoing_t *__wrap_nta_outgoing_tcreate(nta_leg_t *leg, nta_response_f *callback,
                                            nta_outgoing_magic_t *magic,
                                            url_string_t const *route_url, sip_method_t method,
                                            char const *method_name,
                                            url_string_t const *request_uri, tag_type_t tag,
                                            tag_value_t value, ...)
{
    (void)leg, (void)callback, (void)magic, (void)route_url, (void)method, (void)method_name;
    (void)request_uri, (void)tag, (void)value;
    return NULL;
}

nta_outgoing_t *__wrap_nta_outgoing_mcreate(nta_agent_t *agent, nta_response_f *callback,
                                            nta_outgoing_magic_t *magic,
                                            url_string_t const *route_url, msg_t *msg,
                                            tag_type_t tag, tag_value_t value, ...)
{
    sip_t *sip = sip_object(msg);
    if (!sip || !sip->sip_request || msg_serialize(msg, (msg_pub_t *)sip) < 0)
        return NULL; /* nta refuses too, and leaves msg to the caller */
    size_t len = 0;
    char *text = msg_as_string(msg_home(msg), msg, NULL, 0, &len);
    if (!text)
        return NULL;
    if (fuzz_gw_verbose)
        fprintf(stderr, "fuzz: to the core:\n%s", text);
    su_free(msg_home(msg), text);
    if (!callback) { /* stateless (an ACK): sent and forgotten */
        msg_destroy(msg);
        return (nta_outgoing_t *)-1;
    }
    if (sip->sip_request->rq_method == sip_method_cancel)
        for (struct nta_outgoing_s *i = fake_orqs; i; i = i->next)
            if (sip_object(i->req)->sip_request->rq_method == sip_method_invite &&
                sip->sip_call_id && sip_object(i->req)->sip_call_id &&
                strcmp(sip->sip_call_id->i_id, sip_object(i->req)->sip_call_id->i_id) == 0)
                i->cancelled = 1;
    struct nta_outgoing_s *o = calloc(1, sizeof(*o));
    o->callback = callback;
    o->magic = magic;
    o->req = msg;
    o->next = fake_orqs;
    fake_orqs = o;
    return o;
}

int __wrap_nta_outgoing_status(nta_outgoing_t const *orq)
{
    return orq->status;
}

msg_t *__wrap_nta_outgoing_getresponse(nta_outgoing_t *orq)
{
    return orq->rsp ? msg_ref_create(orq->rsp) : NULL;
}

msg_t *__wrap_nta_outgoing_getrequest(nta_outgoing_t *orq)
{
    return msg_ref_create(orq->req);
}

void __wrap_nta_outgoing_destroy(nta_outgoing_t *orq)
{
    if (orq && orq != (nta_outgoing_t *)-1)
        orq->destroyed = 1; /* freed by fake_nta_sweep(), never under a caller's feet */
}

static void fake_nta_free(struct nta_outgoing_s *o)
{
    if (o->rsp)
        msg_destroy(o->rsp);
    msg_destroy(o->req);
    free(o);
}

static void fake_nta_sweep(void)
{
    for (struct nta_outgoing_s **p = &fake_orqs; *p;) {
        struct nta_outgoing_s *o = *p;
        if (o->destroyed) {
            *p = o->next;
            fake_nta_free(o);
        } else {
            p = &o->next;
        }
    }
}

/* The response the core sends, as text parsed back (what nta would hand over). */
static msg_t *fake_nta_response(msg_t *req, int status)
{
    sip_t const *rq = sip_object(req);
    msg_t *m = msg_create(sip_default_mclass(), 0);
    sip_t *s = sip_object(m);
    su_home_t *home = msg_home(m);
    sip_method_t method = rq->sip_request->rq_method;
    int ok = sip_add_tl(m, s, SIPTAG_STATUS(sip_status_create(home, status, NULL, NULL)),
                        SIPTAG_VIA_STR("SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK-fake-nta"),
                        SIPTAG_VIA(rq->sip_via), SIPTAG_FROM(rq->sip_from), SIPTAG_TO(rq->sip_to),
                        SIPTAG_CALL_ID(rq->sip_call_id), SIPTAG_CSEQ(rq->sip_cseq),
                        SIPTAG_HEADER_STR("P-Charging-Vector: icid-value=core"), TAG_END()) >= 0;
    if (ok && s->sip_to && !s->sip_to->a_tag)
        sip_to_tag(home, s->sip_to, "core-tag");
    if (ok && method == sip_method_register && status < 300)
        ok = sip_add_tl(m, s, SIPTAG_CONTACT(rq->sip_contact),
                        SIPTAG_SERVICE_ROUTE_STR("<sip:orig@scscf.ims.test;lr>"),
                        SIPTAG_HEADER_STR("P-Associated-URI: <sip:alice@ims.test>, <tel:+1555>"),
                        TAG_END()) >= 0;
    if (ok && method == sip_method_invite && status < 300)
        ok = sip_add_tl(m, s, SIPTAG_CONTACT_STR("<sip:bob@127.0.0.1:5099>"),
                        SIPTAG_RECORD_ROUTE_STR("<sip:scscf.ims.test;lr>"), TAG_END()) >= 0;
    ok = ok && sip_add_tl(m, s, SIPTAG_CONTENT_LENGTH_STR("0"), TAG_END()) >= 0 &&
         msg_serialize(m, (msg_pub_t *)s) >= 0;
    size_t len = 0;
    char *text = ok ? msg_as_string(home, m, NULL, 0, &len) : NULL;
    msg_t *parsed = text ? msg_make(sip_default_mclass(), 0, text, (ssize_t)len) : NULL;
    msg_destroy(m);
    return parsed;
}

/* The final answer, by CSeq number: 200, 200, 486 (403 to a REGISTER), 503, timeout (no
 * response: nta reports 408 itself). A cancelled INVITE gets 487. */
static int fake_nta_final(struct nta_outgoing_s *o, sip_t const *rq)
{
    static const int finals[] = {200, 200, 486, 503, 408};
    if (o->cancelled)
        return 487;
    int st = rq->sip_cseq ? finals[rq->sip_cseq->cs_seq % 5] : 200;
    return st == 486 && rq->sip_request->rq_method == sip_method_register ? 403 : st;
}

static void fake_nta_deliver(struct nta_outgoing_s *o, int status)
{
    if (o->rsp)
        msg_destroy(o->rsp);
    o->rsp = status == 408 ? NULL : fake_nta_response(o->req, status);
    o->status = status;
    if (fuzz_gw_verbose)
        fprintf(stderr, "fuzz: the core answers %d to %s\n", status,
                sip_object(o->req)->sip_request->rq_method_name);
    o->callback(o->magic, o, o->rsp ? sip_object(o->rsp) : NULL);
}

void fake_nta_answer(int finals)
{
    /* Bounded: answers may start new transactions (a CANCEL, a BYE) that are answered too. */
    for (int round = 0; round < 64; round++) {
        struct nta_outgoing_s *o = fake_orqs;
        while (o &&
               (o->destroyed || o->status >= 200 ||
                (o->provisional_sent &&
                 (!finals && sip_object(o->req)->sip_request->rq_method == sip_method_invite))))
            o = o->next;
        if (!o)
            break;
        sip_t const *rq = sip_object(o->req);
        if (rq->sip_request->rq_method == sip_method_invite && !o->provisional_sent) {
            o->provisional_sent = 1;
            fake_nta_deliver(o, 180);
        } else {
            fake_nta_deliver(o, fake_nta_final(o, rq));
        }
        fake_nta_sweep();
    }
}

unsigned fake_nta_open(void)
{
    fake_nta_sweep();
    unsigned n = 0;
    for (struct nta_outgoing_s *o = fake_orqs; o; o = o->next)
        n++;
    return n;
}

void fake_nta_reset(void)
{
    while (fake_orqs) {
        struct nta_outgoing_s *o = fake_orqs;
        fake_orqs = o->next;
        fake_nta_free(o);
    }
}
