/* stub_registrar: each rule either answers and stops, or lets the request through to the next
 * one; the store is touched only after every rule has passed, so a refused REGISTER changes
 * nothing (no half-applied set of contacts). */
#include "stub_registrar.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_util.h>
#include <sofia-sip/su_alloc.h>

#include "log.h"
#include "stub_addr.h"
#include "stub_route.h"

/* One Contact of the request, checked and resolved against the store. */
struct stub_contact {
    char *uri;            /* the binding key when there is no instance */
    char *value;          /* name-addr without expires */
    const char *instance; /* +sip.instance as sent, or NULL */
    long reg_id;          /* honoured reg-id, 0 when absent or ignored */
    long expires;         /* granted seconds, 0 = remove */
};

/* Everything one REGISTER needs while the rules run. */
struct stub_req {
    const struct stub_registrar *reg;
    const sip_t *sip;
    su_home_t *home;
    FILE *hdr; /* header lines of the reply */
    int64_t now;
    const char *aor;
    const struct stub_hss_entry *user;
    int impu_index;
    int wildcard;     /* Contact: * */
    int outbound;     /* some reg-id was honoured */
    int supported_ob; /* Supported: outbound */
    char *path;       /* Path vector as one header value, or NULL */
    size_t n;
    struct stub_contact c[STUB_MAX_CONTACTS];
};

static int stub_answer(struct stub_reply *r, int status, const char *phrase, const char *reason)
{
    r->status = status;
    r->phrase = phrase;
    r->reason = reason;
    return -1;
}

/* A Digest/Bearer parameter value without its quotes; NULL when absent. */
static char *stub_param(su_home_t *home, const msg_param_t *params, const char *name)
{
    const char *v = msg_params_find(params, name);
    if (!v)
        return NULL;
    return *v == '"' ? msg_unquote_dup(home, v) : su_strdup(home, v);
}

/* RFC 3261 §8.2.2.3 and RFC 3327 §5.2: Require may name only what we implement. */
static int stub_check_require(struct stub_req *q, struct stub_reply *r)
{
    int unknown = 0;
    for (const sip_require_t *k = q->sip->sip_require; k; k = k->k_next) {
        for (size_t i = 0; k->k_items && k->k_items[i]; i++) {
            const char *tag = k->k_items[i];
            if (strcasecmp(tag, "path") == 0 || strcasecmp(tag, "outbound") == 0)
                continue;
            fprintf(q->hdr, "%s%s", unknown++ ? ", " : "Unsupported: ", tag);
        }
    }
    if (!unknown)
        return 0;
    fputs("\r\n", q->hdr);
    return stub_answer(r, 420, "Bad Extension", "unsupported-require");
}

/* Appends a fresh Digest challenge and answers 401. */
static int stub_challenge(struct stub_req *q, struct stub_reply *r, int stale, const char *reason)
{
    char value[256];
    if (!q->reg->digest || stub_digest_challenge(q->reg->digest, q->reg->set->home_domain, stale,
                                                 q->now, value, sizeof(value)) < 0)
        return stub_answer(r, 403, "Forbidden", "not-authenticated");
    fprintf(q->hdr, "WWW-Authenticate: %s\r\n", value);
    return stub_answer(r, 401, "Unauthorized", reason);
}

/* RFC 2617 §3.2.2.5: the digest-uri names the Request-URI, else the response proves nothing
 * about this request. The registrar's own address counts as the same resource: some clients
 * (SIPp among them) put the address they sent to there. */
static int stub_digest_uri_ok(struct stub_req *q, const sip_authorization_t *au)
{
    char *uri = stub_param(q->home, au->au_params, "uri=");
    url_t *u = uri ? url_make(q->home, uri) : NULL;
    if (!u || !q->sip->sip_request)
        return 0;
    if (url_cmp(u, q->sip->sip_request->rq_url) == 0)
        return 1;
    url_t *self = url_make(q->home, q->reg->set->listen);
    return self && stub_route_is_self(self, u) && !u->url_user;
}

/* A native client's MD5 Digest answer (RFC 3261 §22.4). The IMPI is the username. */
static int stub_check_digest(struct stub_req *q, struct stub_reply *r,
                             const sip_authorization_t *au, const char **impi)
{
    *impi = stub_param(q->home, au->au_params, "username=");
    const struct stub_hss_entry *e = *impi ? stub_hss_find(q->reg->hss, *impi) : NULL;
    if (!e)
        return stub_answer(r, 403, "Forbidden", "unknown-impi");
    if (!e->password)
        return stub_answer(r, 403, "Forbidden", "no-password");
    if (!stub_digest_uri_ok(q, au))
        return stub_answer(r, 403, "Forbidden", "digest-uri-mismatch");
    switch (stub_digest_verify(q->reg->digest, au->au_params, "REGISTER", q->reg->set->home_domain,
                               e->password, q->now)) {
    case STUB_DIGEST_OK:
        return 0;
    case STUB_DIGEST_STALE:
        return stub_challenge(q, r, 1, "stale-nonce");
    case STUB_DIGEST_REPLAY:
        /* A reused nonce count: a fresh nonce lets an honest client (one that keeps nc=1 per
         * challenge, like SIPp) go on, and gives a replaying attacker nothing. */
        return stub_challenge(q, r, 1, "digest-replay");
    default:
        return stub_answer(r, 403, "Forbidden", "bad-digest");
    }
}

/* 33.203 Annex U: a trusted node marks the REGISTER integrity-protected="auth-done" and the
 * S-CSCF skips its challenge; only a configured trusted peer may do that. Any other REGISTER
 * is refused in tna-only mode, and in digest mode must answer an MD5 challenge (from any
 * address: that is how a native IMS client reaches us). A Bearer credential here means the
 * gateway forgot to remove the UA's token. */
static int stub_check_auth(struct stub_req *q, struct stub_reply *r, const char *src_ip,
                           const char **impi)
{
    const sip_authorization_t *done = NULL, *digest = NULL;
    for (const sip_authorization_t *au = q->sip->sip_authorization; au; au = au->au_next) {
        if (au->au_scheme && strcasecmp(au->au_scheme, "Bearer") == 0)
            return stub_answer(r, 403, "Forbidden", "bearer-credential");
        if (!au->au_scheme || strcasecmp(au->au_scheme, "Digest") != 0)
            continue;
        const char *ip = stub_param(q->home, au->au_params, "integrity-protected=");
        const char *resp = stub_param(q->home, au->au_params, "response=");
        if (ip && strcmp(ip, "auth-done") == 0) {
            if (!done)
                done = au;
        } else if (!digest && resp && *resp) {
            digest = au;
        }
    }
    int trusted = stub_ip_in_list(src_ip, q->reg->set->trusted_peers);
    if (done || !q->reg->set->auth_digest) {
        if (!trusted)
            return stub_answer(r, 403, "Forbidden", "untrusted-peer");
        if (!done)
            return stub_answer(r, 403, "Forbidden", "not-authenticated");
        *impi = stub_param(q->home, done->au_params, "username=");
        if (!*impi || !**impi)
            return stub_answer(r, 403, "Forbidden", "no-username");
        return 0;
    }
    if (!digest)
        return stub_challenge(q, r, 0, "challenge");
    return stub_check_digest(q, r, digest, impi);
}

/* RFC 3261 §10.3 step 1: we are the registrar of the home domain only. Our own address is
 * accepted too, since a native client may name the registrar by the address it was given. */
static int stub_check_domain(struct stub_req *q, struct stub_reply *r)
{
    const url_t *u = q->sip->sip_request ? q->sip->sip_request->rq_url : NULL;
    const struct stub_settings *set = q->reg->set;
    if (u && (u->url_type == url_sip || u->url_type == url_sips) && u->url_host && !u->url_user) {
        if (strcasecmp(u->url_host, set->home_domain) == 0 && !u->url_port)
            return 0;
        url_t *self = url_make(q->home, set->listen);
        const char *port = u->url_port ? u->url_port : "5060";
        const char *self_port = self && self->url_port ? self->url_port : "5060";
        if (self && self->url_host && strcasecmp(u->url_host, self->url_host) == 0 &&
            strcmp(port, self_port) == 0)
            return 0;
    }
    return stub_answer(r, 404, "Not Found", "foreign-domain");
}

/* 24.229 §5.4.1: the user is the pair (Authorization username = IMPI, To = IMPU). */
static int stub_check_identity(struct stub_req *q, struct stub_reply *r, const char *impi)
{
    q->user = stub_hss_find(q->reg->hss, impi);
    if (!q->user)
        return stub_answer(r, 403, "Forbidden", "unknown-impi");
    q->impu_index = stub_hss_impu_index(q->user, q->aor);
    if (q->impu_index < 0)
        return stub_answer(r, 403, "Forbidden", "impu-not-associated");
    return 0;
}

/* RFC 3261 §10.3 step 6 and 7: wildcard rules and the granted expiry of each contact. */
static int stub_check_contacts(struct stub_req *q, struct stub_reply *r)
{
    const struct stub_settings *set = q->reg->set;
    const sip_expires_t *ex = q->sip->sip_expires;
    for (const sip_contact_t *m = q->sip->sip_contact; m; m = m->m_next) {
        if (q->n == STUB_MAX_CONTACTS)
            return stub_answer(r, 400, "Too Many Contacts", "too-many-contacts");
        if (m->m_url->url_type == url_any)
            q->wildcard = 1;
        struct stub_contact *c = &q->c[q->n++];
        c->uri = url_as_string(q->home, m->m_url);
        c->value = stub_nameaddr(q->home, m->m_display, m->m_url, m->m_params, "expires");
        c->instance = msg_params_find(m->m_params, "+sip.instance=");
        if (m->m_expires) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(m->m_expires, &end, 10);
            if (errno == ERANGE)
                v = (unsigned long)set->max_expires;
            else if (end == m->m_expires || *end || *m->m_expires == '-')
                return stub_answer(r, 400, "Bad Expires", "bad-expires");
            c->expires = v > (unsigned long)set->max_expires ? set->max_expires : (long)v;
        } else if (ex) {
            c->expires = ex->ex_delta > (unsigned long)set->max_expires ? set->max_expires
                                                                        : (long)ex->ex_delta;
        } else {
            c->expires = set->default_expires;
        }
        if (!c->uri || !c->value)
            return stub_answer(r, 500, "Server Internal Error", "out-of-memory");
    }
    if (q->wildcard && (q->n > 1 || !ex || ex->ex_delta != 0))
        return stub_answer(r, 400, "Invalid Wildcard", "bad-wildcard");
    if (q->wildcard)
        return 0;
    for (size_t i = 0; i < q->n; i++) {
        if (q->c[i].expires != 0 && q->c[i].expires < set->min_expires) {
            fprintf(q->hdr, "Min-Expires: %ld\r\n", set->min_expires);
            return stub_answer(r, 423, "Interval Too Brief", "interval-too-brief");
        }
    }
    return 0;
}

/* RFC 5626 §6: a reg-id counts only with an instance and when the first hop did Outbound (the
 * first Path URI has "ob", or the UA reached us directly). */
static int stub_check_outbound(struct stub_req *q, struct stub_reply *r)
{
    const sip_t *sip = q->sip;
    int first_hop_ok = sip->sip_path ? url_has_param(sip->sip_path->r_url, "ob")
                                     : sip->sip_via && !sip->sip_via->v_next;
    q->supported_ob = sip_has_supported(sip->sip_supported, "outbound");
    const sip_contact_t *m = sip->sip_contact;
    size_t live = 0;
    for (size_t i = 0; i < q->n; i++, m = m->m_next) {
        const char *rid = msg_params_find(m->m_params, "reg-id=");
        struct stub_contact *c = &q->c[i];
        if (!rid || !c->instance)
            continue;
        char *end;
        errno = 0;
        long v = strtol(rid, &end, 10);
        if (errno || end == rid || *end || v < 1 || v > 0x7fffffffL)
            return stub_answer(r, 400, "Bad reg-id", "bad-reg-id");
        if (!first_hop_ok) {
            if (q->supported_ob)
                return stub_answer(r, 439, "First Hop Lacks Outbound Support",
                                   "first-hop-lacks-outbound");
            continue; /* the UA did not ask for Outbound: plain registration */
        }
        c->reg_id = v;
        q->outbound = 1;
        live += c->expires != 0;
    }
    if (live > 1)
        return stub_answer(r, 400, "Multiple Outbound Contacts", "multiple-reg-id");
    return 0;
}

/* RFC 3261 §10.3 step 7: a request whose CSeq is not higher than the stored one for the same
 * Call-ID must not change the binding, and "the request fails". We answer 500, as RFC 3261
 * §12.2.2 does for out-of-order requests in a dialog: silently ignoring it would tell the UA
 * that a stale set of contacts was accepted. */
static int stub_stale(const struct stub_req *q, const struct stub_binding *b)
{
    return b && strcmp(b->call_id, q->sip->sip_call_id->i_id) == 0 &&
           q->sip->sip_cseq->cs_seq <= b->cseq;
}

static int stub_check_order_and_room(struct stub_req *q, struct stub_reply *r)
{
    struct stub_bindings *store = q->reg->store;
    size_t added = 0;
    if (q->wildcard) {
        for (struct stub_binding *b = stub_bindings_first(store, q->aor); b;
             b = stub_bindings_next(b))
            if (stub_stale(q, b))
                return stub_answer(r, 500, "Out of Order CSeq", "stale-cseq");
        return 0;
    }
    for (size_t i = 0; i < q->n; i++) {
        const struct stub_contact *c = &q->c[i];
        struct stub_binding *b = stub_bindings_find(store, q->aor, c->instance, c->reg_id, c->uri);
        if (stub_stale(q, b))
            return stub_answer(r, 500, "Out of Order CSeq", "stale-cseq");
        added += !b && c->expires != 0;
    }
    size_t max = stub_bindings_max(store);
    if (added && stub_bindings_count(store) + added > max) {
        stub_bindings_expire(store, NULL, q->now);
        if (stub_bindings_count(store) + added > max) {
            log_warn("bindings: store full (max-bindings=%zu), refusing new contacts", max);
            fputs("Retry-After: 60\r\n", q->hdr);
            return stub_answer(r, 503, "Service Unavailable", "max-bindings");
        }
    }
    return 0;
}

/* Writes the accepted request into the store. */
static int stub_apply(struct stub_req *q, struct stub_reply *r)
{
    struct stub_bindings *store = q->reg->store;
    if (q->wildcard) {
        struct stub_binding *b;
        while ((b = stub_bindings_first(store, q->aor)) != NULL)
            stub_bindings_remove(store, b);
        return 0;
    }
    for (size_t i = 0; i < q->n; i++) {
        const struct stub_contact *c = &q->c[i];
        struct stub_binding *b = stub_bindings_find(store, q->aor, c->instance, c->reg_id, c->uri);
        if (c->expires == 0) {
            if (b)
                stub_bindings_remove(store, b);
            continue;
        }
        struct stub_binding_data d = {c->value, q->path, q->sip->sip_call_id->i_id,
                                      q->sip->sip_cseq->cs_seq, q->now + c->expires};
        if (b ? stub_bindings_update(b, &d) < 0
              : !stub_bindings_add(store, q->aor, c->instance, c->reg_id, c->uri, &d))
            return stub_answer(r, 500, "Server Internal Error", "out-of-memory");
    }
    return 0;
}

/* The Path vector as one header value, in the order received. */
static char *stub_path_value(su_home_t *home, const sip_path_t *path)
{
    char *out = NULL;
    for (const sip_path_t *p = path; p; p = p->r_next) {
        char *one = stub_nameaddr(home, p->r_display, p->r_url, p->r_params, NULL);
        if (!one)
            return NULL;
        out = out ? su_sprintf(home, "%s, %s", out, one) : one;
    }
    return out;
}

/* 200 OK per RFC 3261 §10.3 step 8, RFC 3327 §5.3, RFC 3608, RFC 3455 and RFC 5626 §6. */
static void stub_write_ok(struct stub_req *q, struct stub_reply *r)
{
    FILE *f = q->hdr;
    const struct stub_hss_entry *u = q->user;
    if (q->path)
        fprintf(f, "Path: %s\r\n", q->path);
    fprintf(f, "Service-Route: <%s>\r\n", q->reg->set->service_route);
    fprintf(f, "P-Associated-URI: <%s>", u->impu[q->impu_index]);
    for (size_t i = 0; i < u->n_impu; i++)
        if ((int)i != q->impu_index)
            fprintf(f, ", <%s>", u->impu[i]);
    fputs("\r\n", f);
    for (struct stub_binding *b = stub_bindings_first(q->reg->store, q->aor); b;
         b = stub_bindings_next(b))
        fprintf(f, "Contact: %s;expires=%lld\r\n", b->contact, (long long)(b->expires_at - q->now));
    if (q->supported_ob && q->outbound)
        fputs("Require: outbound\r\n", f);
    /* Charging addresses stay inside the core: the gateway must strip this (tests check). */
    fputs("P-Charging-Function-Addresses: ccf=127.0.0.1\r\n", f);
    stub_answer(r, 200, "OK", NULL);
}

static void stub_decide(struct stub_req *q, const char *src_ip, struct stub_reply *r)
{
    const sip_t *sip = q->sip;
    const char *impi = NULL;
    if (!sip->sip_to || !sip->sip_from || !sip->sip_call_id || !sip->sip_cseq) {
        stub_answer(r, 400, "Missing Header", "missing-header");
        return;
    }
    if (stub_check_domain(q, r) < 0 || stub_check_require(q, r) < 0 ||
        stub_check_auth(q, r, src_ip, &impi) < 0 || stub_check_identity(q, r, impi) < 0)
        return;
    if (sip->sip_path && !(q->path = stub_path_value(q->home, sip->sip_path))) {
        stub_answer(r, 500, "Server Internal Error", "out-of-memory");
        return;
    }
    /* Lazy expiry: the 200 lists only live bindings even between two sweeps. */
    stub_bindings_expire(q->reg->store, q->aor, q->now);
    if (stub_check_contacts(q, r) < 0 || stub_check_outbound(q, r) < 0 ||
        stub_check_order_and_room(q, r) < 0 || stub_apply(q, r) < 0)
        return;
    stub_write_ok(q, r);
}

void stub_register(const struct stub_registrar *reg, const sip_t *sip, const char *src_ip,
                   int64_t now, struct stub_reply *r)
{
    su_home_t home[1] = {SU_HOME_INIT(home)};
    struct stub_req *q = calloc(1, sizeof(*q));
    size_t len = 0;
    memset(r, 0, sizeof(*r));
    FILE *hdr = q ? open_memstream(&r->headers, &len) : NULL;
    if (!hdr) {
        free(q);
        stub_answer(r, 500, "Server Internal Error", "out-of-memory");
        log_info("register aor=- from=%s status=500 reason=out-of-memory", src_ip);
        return;
    }
    q->reg = reg;
    q->sip = sip;
    q->home = home;
    q->hdr = hdr;
    q->now = now;
    q->aor = sip->sip_to ? stub_aor(home, sip->sip_to->a_url) : NULL;
    if (!q->aor)
        q->aor = "-"; /* matches no HSS entry, so the request ends in 403 */
    stub_decide(q, src_ip, r);
    fclose(hdr);
    if (len == 0) {
        free(r->headers);
        r->headers = NULL;
    }
    log_info("register aor=%s from=%s status=%d%s%s", q->aor, src_ip, r->status,
             r->reason ? " reason=" : "", r->reason ? r->reason : "");
    free(q);
    su_home_deinit(home);
}

void stub_reply_clear(struct stub_reply *r)
{
    free(r->headers);
    r->headers = NULL;
}
