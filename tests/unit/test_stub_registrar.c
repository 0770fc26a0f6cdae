/* The stub's REGISTER rules on parsed messages (spec §7.4, checklist 57–61 and 63, vectors T4,
 * T5, T15, T16), without sockets: each test edits vector T4 and checks the answer and the
 * store. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <cmocka.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "log.h"
#include "stub_registrar.h"

#define NOW 1767225601
#define PEER "127.0.0.1"

/* Vector T4 with this project's demo domain and an IMPI from the test HSS. */
static const char *const t4[] = {
    "REGISTER sip:ims.test SIP/2.0",
    "Via: SIP/2.0/TCP epcscf.ims.test:5070;branch=z9hG4bK-gw-9f31",
    "Via: SIP/2.0/WSS q7k2m9x4.invalid;branch=z9hG4bK-wic-0002",
    "Max-Forwards: 69",
    "From: <sip:alice@ims.test>;tag=wtag1",
    "To: <sip:alice@ims.test>",
    "Call-ID: c1d2e3f4g5@q7k2m9x4.invalid",
    "CSeq: 2 REGISTER",
    "Contact: <sip:k3v9@q7k2m9x4.invalid;transport=ws>;+sip.instance=\"<urn:uuid:5f0c9a7e-3b1d-"
    "4c2e-9a51-0e8f6b2d7c11>\";reg-id=1",
    "Supported: path, outbound, gruu",
    "Require: path",
    "Path: <sip:0OAF46_HQ8snJwLAAAIKAbvGM2QHw8s@epcscf.ims.test:5070;transport=tcp;lr;ob>",
    "P-Visited-Network-ID: visited.ims.test",
    "P-Charging-Vector: icid-value=\"gw-1767225601-0001\";icid-generated-at=epcscf.ims.test",
    "Authorization: Digest username=\"alice_private@ims.test\", realm=\"ims.test\", nonce=\"\", "
    "uri=\"sip:ims.test\", response=\"\", integrity-protected=\"auth-done\"",
    "Expires: 600",
    NULL,
};

struct fixture {
    struct stub_settings set;
    struct stub_hss hss;
    struct stub_registrar reg;
    struct stub_reply r;
    msg_t *msg;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char path[] = "/tmp/imsgw-hss-XXXXXX", err[256];
    const char *json = "[{\"impi\":\"alice_private@ims.test\","
                       "\"impu\":[\"tel:+15550100\",\"sip:alice@ims.test\"]},"
                       "{\"impi\":\"bob@ims.test\",\"impu\":[\"sip:bob@ims.test\"]},"
                       "{\"impi\":\"carol@ims.test\",\"impu\":[\"sip:carol@ims.test\"],"
                       "\"password\":\"carol-pw\"}]";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, json, strlen(json)), (ssize_t)strlen(json));
    close(fd);
    assert_int_equal(stub_hss_load(&f->hss, path, err, sizeof(err)), 0);
    unlink(path);
    stub_settings_init(&f->set);
    assert_int_equal(stub_settings_check(&f->set, err, sizeof(err)), 0);
    f->reg.set = &f->set;
    f->reg.hss = &f->hss;
    f->reg.store = stub_bindings_new(100);
    f->reg.digest = stub_digest_new(64, 300);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    stub_reply_clear(&f->r);
    if (f->msg)
        msg_destroy(f->msg);
    stub_bindings_free(f->reg.store);
    stub_digest_free(f->reg.digest);
    stub_hss_free(&f->hss);
    stub_settings_free(&f->set);
    free(f);
    return 0;
}

/* T4 with edits: "Name: value" replaces the first line of that header (or is added), "Name:"
 * alone removes it, "+Name: value" adds one more line. */
static char *build(const char *const *edits)
{
    static char text[8192];
    const char *lines[64];
    size_t n = 0;
    for (const char *const *l = t4; *l; l++)
        lines[n++] = *l;
    for (const char *const *e = edits; e && *e; e++) {
        const char *colon = strchr(*e, ':');
        int add = **e == '+';
        size_t namelen = (size_t)(colon - *e) + 1 - (size_t)add;
        const char *edit = *e + add;
        size_t i = 0;
        while (!add && i < n && strncasecmp(lines[i], edit, namelen) != 0)
            i++;
        if (add || i == n)
            lines[n++] = edit;
        else if (colon[1] == '\0')
            memmove(&lines[i], &lines[i + 1], (--n - i) * sizeof(*lines));
        else
            lines[i] = edit;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\r\n", lines[i]);
    snprintf(text + len, sizeof(text) - len, "Content-Length: 0\r\n\r\n");
    return text;
}

/* Parses T4 + edits and runs the registrar at time now from peer; returns the status. */
static int run_at(struct fixture *f, const char *peer, int64_t now, const char *const *edits)
{
    stub_reply_clear(&f->r);
    if (f->msg)
        msg_destroy(f->msg);
    const char *text = build(edits);
    f->msg = msg_make(sip_default_mclass(), 0, text, strlen(text));
    assert_non_null(f->msg);
    const sip_t *sip = sip_object(f->msg);
    assert_non_null(sip);
    assert_null(sip->sip_error);
    stub_register(&f->reg, sip, peer, now, &f->r);
    return f->r.status;
}

static int run(struct fixture *f, const char *const *edits)
{
    return run_at(f, PEER, NOW, edits);
}

static int has(const struct fixture *f, const char *line)
{
    return f->r.headers && strstr(f->r.headers, line) != NULL;
}

#define EDITS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_t4_gets_t5(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, NULL), 200);
    assert_null(f->r.reason);
    assert_true(has(f, "Path: <sip:0OAF46_HQ8snJwLAAAIKAbvGM2QHw8s@epcscf.ims.test:5070;"
                       "transport=tcp;lr;ob>\r\n"));
    assert_true(has(f, "Service-Route: <sip:orig@127.0.0.1:5060;lr>\r\n"));
    /* The registered IMPU first, then the rest of the implicit set. */
    assert_true(has(f, "P-Associated-URI: <sip:alice@ims.test>, <tel:+15550100>\r\n"));
    assert_true(has(f, "Contact: <sip:k3v9@q7k2m9x4.invalid;transport=ws>;+sip.instance=\"<urn:"
                       "uuid:5f0c9a7e-3b1d-4c2e-9a51-0e8f6b2d7c11>\";reg-id=1;expires=600\r\n"));
    assert_true(has(f, "Require: outbound\r\n"));
    assert_true(has(f, "P-Charging-Function-Addresses: ccf=127.0.0.1\r\n"));
    assert_int_equal(stub_bindings_count(f->reg.store), 1);
    struct stub_binding *b = stub_bindings_first(f->reg.store, "sip:alice@ims.test");
    assert_non_null(b);
    assert_int_equal(b->reg_id, 1);
    assert_int_equal(b->expires_at, NOW + 600);
    assert_non_null(strstr(b->path, "0OAF46_HQ8snJwLAAAIKAbvGM2QHw8s"));
}

static void test_untrusted_peer(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run_at(f, "192.0.2.7", NOW, NULL), 403);
    assert_string_equal(f->r.reason, "untrusted-peer");
    assert_int_equal(stub_bindings_count(f->reg.store), 0);
    /* The IPv4-mapped IPv6 form of a trusted peer is the same peer. */
    assert_int_equal(run_at(f, "::ffff:127.0.0.1", NOW, NULL), 200);
}

static void test_unknown_require(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, EDITS("Require: path, outbound")), 200);
    assert_int_equal(run(f, EDITS("Require: path, x-foo", "+Require: 100rel", "CSeq: 3 REGISTER")),
                     420);
    assert_true(has(f, "Unsupported: x-foo, 100rel\r\n"));
}

static void test_bearer_refused(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, EDITS("+Authorization: Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln")), 403);
    assert_string_equal(f->r.reason, "bearer-credential");
    assert_int_equal(run(f, EDITS("Authorization: Bearer access_token=\"abc\"")), 403);
    assert_int_equal(stub_bindings_count(f->reg.store), 0);
}

static void test_integrity_protected(void **state)
{
    struct fixture *f = *state;
    const char *const none = "Authorization: Digest username=\"alice_private@ims.test\", "
                             "realm=\"ims.test\", nonce=\"\", uri=\"sip:ims.test\", response=\"\"";
    const char *const yes = "Authorization: Digest username=\"alice_private@ims.test\", "
                            "realm=\"ims.test\", nonce=\"\", uri=\"sip:ims.test\", "
                            "response=\"\", integrity-protected=\"yes\"";
    assert_int_equal(run(f, EDITS(none)), 403);
    assert_string_equal(f->r.reason, "not-authenticated");
    assert_int_equal(run(f, EDITS(yes)), 403);
    assert_int_equal(run(f, EDITS("Authorization:")), 403);
    /* The unquoted token form is the same flag. */
    assert_int_equal(run(f, EDITS("Authorization: Digest username=\"alice_private@ims.test\", "
                                  "integrity-protected=auth-done")),
                     200);
}

static void test_digest_mode_challenges(void **state)
{
    struct fixture *f = *state;
    f->set.auth_digest = 1;
    assert_int_equal(run(f, EDITS("Authorization:")), 401);
    assert_true(has(f, "WWW-Authenticate: Digest realm=\"ims.test\", nonce=\""));
    assert_int_equal(stub_bindings_count(f->reg.store), 0);
    /* A Bearer credential is still a 403, and auth-done still needs no challenge. */
    assert_int_equal(run(f, EDITS("Authorization: Bearer x")), 403);
    assert_int_equal(run(f, NULL), 200);
}

/* The nonce of the last 401's WWW-Authenticate. */
static void last_nonce(const struct fixture *f, char *out, size_t len)
{
    const char *p = f->r.headers ? strstr(f->r.headers, "nonce=\"") : NULL;
    assert_non_null(p);
    p += 7;
    size_t n = strcspn(p, "\"");
    assert_true(n < len);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* An Authorization header answering nonce as user with password. */
static const char *digest_auth(const char *user, const char *password, const char *nonce,
                               const char *nc)
{
    static char line[512];
    char resp[33];
    assert_int_equal(stub_digest_response(user, "ims.test", password, "REGISTER", "sip:ims.test",
                                          nonce, nc, "0a4f113b", resp),
                     0);
    snprintf(line, sizeof(line),
             "Authorization: Digest username=\"%s\", realm=\"ims.test\", nonce=\"%s\", "
             "uri=\"sip:ims.test\", response=\"%s\", algorithm=MD5, qop=auth, nc=%s, "
             "cnonce=\"0a4f113b\"",
             user, nonce, resp, nc);
    return line;
}

/* A native client (carol, password in the HSS) registering from an address that is not a
 * trusted peer: challenged, accepted with the right response, a replayed count gets a fresh
 * challenge, a wrong password 403, and TNA from that address is still refused. */
static void test_native_digest(void **state)
{
    struct fixture *f = *state;
    char nonce[64];
    const char *carol[] = {"To: <sip:carol@ims.test>",
                           "From: <sip:carol@ims.test>;tag=c1",
                           "Contact: <sip:carol@192.0.2.9:5060>",
                           "Path:",
                           "Authorization:",
                           NULL};
    f->set.auth_digest = 1;
    assert_int_equal(run_at(f, "192.0.2.9", NOW, carol), 401);
    assert_string_equal(f->r.reason, "challenge");
    assert_true(has(f, "algorithm=MD5, qop=\"auth\"\r\n"));
    last_nonce(f, nonce, sizeof(nonce));
    const char *ok[] = {carol[0],
                        carol[1],
                        carol[2],
                        carol[3],
                        digest_auth("carol@ims.test", "carol-pw", nonce, "00000001"),
                        NULL};
    assert_int_equal(run_at(f, "192.0.2.9", NOW, ok), 200);
    assert_true(has(f, "Contact: <sip:carol@192.0.2.9:5060>;expires=600\r\n"));
    assert_int_equal(stub_bindings_count(f->reg.store), 1);
    /* The same nonce count again: a replay, answered with a fresh nonce (stale=true). */
    const char *again[] = {carol[0], carol[1], carol[2], carol[3], ok[4], "CSeq: 3 REGISTER", NULL};
    assert_int_equal(run_at(f, "192.0.2.9", NOW, again), 401);
    assert_string_equal(f->r.reason, "digest-replay");
    assert_true(has(f, "stale=true"));
    last_nonce(f, nonce, sizeof(nonce));
    const char *wrong[] = {carol[0],
                           carol[1],
                           carol[2],
                           carol[3],
                           digest_auth("carol@ims.test", "guess", nonce, "00000001"),
                           "CSeq: 4 REGISTER",
                           NULL};
    assert_int_equal(run_at(f, "192.0.2.9", NOW, wrong), 403);
    assert_string_equal(f->r.reason, "bad-digest");
    /* A right answer for carol does not register someone else's IMPU. */
    const char *other[] = {"To: <sip:alice@ims.test>",
                           carol[1],
                           carol[2],
                           carol[3],
                           digest_auth("carol@ims.test", "carol-pw", nonce, "00000002"),
                           "CSeq: 5 REGISTER",
                           NULL};
    assert_int_equal(run_at(f, "192.0.2.9", NOW, other), 403);
    assert_string_equal(f->r.reason, "impu-not-associated");
    /* A user without a password cannot use Digest; TNA stays trusted-peer only. */
    const char *bob[] = {"To: <sip:bob@ims.test>",
                         "From: <sip:bob@ims.test>;tag=b",
                         carol[2],
                         carol[3],
                         digest_auth("bob@ims.test", "x", nonce, "00000003"),
                         NULL};
    assert_int_equal(run_at(f, "192.0.2.9", NOW, bob), 403);
    assert_string_equal(f->r.reason, "no-password");
    assert_int_equal(run_at(f, "192.0.2.9", NOW, NULL), 403);
    assert_string_equal(f->r.reason, "untrusted-peer");
    /* An expired nonce is stale. */
    const char *late[] = {carol[0],
                          carol[1],
                          carol[2],
                          carol[3],
                          digest_auth("carol@ims.test", "carol-pw", nonce, "00000004"),
                          "CSeq: 6 REGISTER",
                          NULL};
    assert_int_equal(run_at(f, "192.0.2.9", NOW + STUB_DIGEST_TTL_S + 1, late), 401);
    assert_string_equal(f->r.reason, "stale-nonce");
    assert_int_equal(stub_bindings_count(f->reg.store), 1);
}

/* RFC 3261 §10.3 step 1: only the home domain (or the stub's own address) is registered. */
static void test_request_uri_domain(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, EDITS("REGISTER sip:other.test SIP/2.0")), 404);
    assert_string_equal(f->r.reason, "foreign-domain");
    assert_int_equal(run(f, EDITS("REGISTER sip:alice@ims.test SIP/2.0")), 404);
    assert_int_equal(run(f, EDITS("REGISTER sip:ims.test:5070 SIP/2.0")), 404);
    assert_int_equal(stub_bindings_count(f->reg.store), 0);
    assert_int_equal(run(f, EDITS("REGISTER sip:127.0.0.1:5060 SIP/2.0")), 200);
    assert_int_equal(run(f, EDITS("REGISTER sip:IMS.TEST SIP/2.0", "CSeq: 3 REGISTER")), 200);
}

static void test_identity_pair(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, EDITS("To: <sip:bob@ims.test>")), 403);
    assert_string_equal(f->r.reason, "impu-not-associated");
    assert_int_equal(run(f, EDITS("Authorization: Digest username=\"mallory@ims.test\", "
                                  "integrity-protected=\"auth-done\"")),
                     403);
    assert_string_equal(f->r.reason, "unknown-impi");
    /* Host case does not matter, and any IMPU of the set may be registered. */
    assert_int_equal(run(f, EDITS("To: <sip:alice@IMS.TEST>")), 200);
    assert_int_equal(run(f, EDITS("To: <tel:+15550100>", "CSeq: 3 REGISTER")), 200);
    assert_true(has(f, "P-Associated-URI: <tel:+15550100>, <sip:alice@ims.test>\r\n"));
}

static void test_wildcard(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, NULL), 200);
    assert_int_equal(run(f, EDITS("Contact: <sip:second@192.0.2.9>", "CSeq: 3 REGISTER")), 200);
    assert_int_equal(stub_bindings_count(f->reg.store), 2);
    assert_int_equal(run(f, EDITS("Contact: *", "CSeq: 4 REGISTER")), 400);
    assert_string_equal(f->r.reason, "bad-wildcard");
    assert_int_equal(run(f, EDITS("Contact: *", "+Contact: <sip:x@192.0.2.1>", "Expires: 0",
                                  "CSeq: 4 REGISTER")),
                     400);
    assert_int_equal(run(f, EDITS("Contact: *", "Expires:", "CSeq: 4 REGISTER")), 400);
    assert_int_equal(stub_bindings_count(f->reg.store), 2);
    assert_int_equal(run(f, EDITS("Contact: *", "Expires: 0", "CSeq: 4 REGISTER")), 200);
    assert_int_equal(stub_bindings_count(f->reg.store), 0);
    assert_false(has(f, "Contact:"));
}

static void test_expiry(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, EDITS("Expires: 5")), 423);
    assert_true(has(f, "Min-Expires: 60\r\n"));
    /* The contact parameter wins over the header, in both directions. */
    assert_int_equal(run(f, EDITS("Contact: <sip:a@192.0.2.1>;expires=30")), 423);
    assert_int_equal(run(f, EDITS("Contact: <sip:a@192.0.2.1>;expires=120", "Expires: 5")), 200);
    assert_true(has(f, "Contact: <sip:a@192.0.2.1>;expires=120\r\n"));
    /* Too long is shortened to max-expires; absent means default-expires. */
    assert_int_equal(run(f, EDITS("Contact: <sip:b@192.0.2.1>", "Expires: 999999")), 200);
    assert_true(has(f, "Contact: <sip:b@192.0.2.1>;expires=3600\r\n"));
    assert_int_equal(run(f, EDITS("Contact: <sip:c@192.0.2.1>", "Expires:")), 200);
    assert_true(has(f, "Contact: <sip:c@192.0.2.1>;expires=3600\r\n"));
    assert_int_equal(run(f, EDITS("Contact: <sip:d@192.0.2.1>;expires=soon")), 400);
    /* Zero removes just that contact; the others stay listed. */
    assert_int_equal(run(f, EDITS("Contact: <sip:b@192.0.2.1>", "Expires: 0", "Call-ID: other")),
                     200);
    assert_false(has(f, "sip:b@192.0.2.1"));
    assert_true(has(f, "Contact: <sip:a@192.0.2.1>;expires=120\r\n"));
    assert_int_equal(stub_bindings_count(f->reg.store), 2);
}

static void test_outbound(void **state)
{
    struct fixture *f = *state;
    const char *const no_ob =
        "Path: <sip:0OAF46_HQ8snJwLAAAIKAbvGM2QHw8s@epcscf.ims.test:5070;transport=tcp;lr>";
    assert_int_equal(run(f, EDITS(no_ob)), 439);
    assert_string_equal(f->r.reason, "first-hop-lacks-outbound");
    assert_int_equal(stub_bindings_count(f->reg.store), 0);
    /* Without Supported: outbound the reg-id is ignored: plain registration, no Require. */
    assert_int_equal(run(f, EDITS(no_ob, "Supported: path")), 200);
    assert_false(has(f, "Require: outbound"));
    assert_int_equal(stub_bindings_first(f->reg.store, "sip:alice@ims.test")->reg_id, 0);
    /* reg-id without an instance is no Outbound either. */
    assert_int_equal(run(f, EDITS("Contact: <sip:e@192.0.2.1>;reg-id=1", "CSeq: 3 REGISTER")), 200);
    assert_false(has(f, "Require: outbound"));
    /* Two live Outbound contacts in one REGISTER. */
    assert_int_equal(run(f, EDITS("+Contact: <sip:f@192.0.2.1>;+sip.instance=\"<urn:uuid:1>\";"
                                  "reg-id=2",
                                  "CSeq: 4 REGISTER")),
                     400);
    /* A UA that reached us directly (one Via, no Path) did its own Outbound. */
    assert_int_equal(run(f, EDITS("Path:", "Via:", "Via: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bK-1",
                                  "Call-ID: direct")),
                     200);
}

static void test_cseq_order(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, EDITS("CSeq: 5 REGISTER")), 200);
    struct stub_binding *b = stub_bindings_first(f->reg.store, "sip:alice@ims.test");
    assert_int_equal(run_at(f, PEER, NOW + 10, EDITS("CSeq: 5 REGISTER")), 500);
    assert_string_equal(f->r.reason, "stale-cseq");
    assert_int_equal(run_at(f, PEER, NOW + 10, EDITS("CSeq: 4 REGISTER", "Expires: 0")), 500);
    assert_int_equal(b->expires_at, NOW + 600);
    assert_int_equal(b->cseq, 5);
    assert_int_equal(run_at(f, PEER, NOW + 10, EDITS("CSeq: 6 REGISTER")), 200);
    assert_int_equal(b->expires_at, NOW + 610);
    /* Another Call-ID (a restarted UA) may start again from a low CSeq. */
    assert_int_equal(run_at(f, PEER, NOW + 20, EDITS("CSeq: 1 REGISTER", "Call-ID: new")), 200);
    assert_int_equal(stub_bindings_count(f->reg.store), 1);
    /* Also for a wildcard removal. */
    assert_int_equal(run(f, EDITS("Contact: *", "Expires: 0", "CSeq: 1 REGISTER", "Call-ID: new")),
                     500);
    assert_int_equal(stub_bindings_count(f->reg.store), 1);
}

static void test_bounds_and_expiry(void **state)
{
    struct fixture *f = *state;
    stub_bindings_free(f->reg.store);
    f->reg.store = stub_bindings_new(1);
    assert_int_equal(run(f, EDITS("Expires: 60")), 200);
    assert_int_equal(run(f, EDITS("Contact: <sip:g@192.0.2.1>", "Call-ID: g")), 503);
    assert_string_equal(f->r.reason, "max-bindings");
    assert_true(has(f, "Retry-After:"));
    /* Refreshing the existing binding needs no room. */
    assert_int_equal(run(f, EDITS("CSeq: 3 REGISTER", "Expires: 60")), 200);
    /* Once the first binding expired, it is neither listed nor counted. */
    assert_int_equal(run_at(f, PEER, NOW + 61, EDITS("Contact: <sip:g@192.0.2.1>", "Call-ID: g")),
                     200);
    assert_false(has(f, "k3v9"));
    assert_int_equal(stub_bindings_count(f->reg.store), 1);
    assert_int_equal(stub_bindings_expire(f->reg.store, NULL, NOW + 61 + 600), 1);
    assert_int_equal(stub_bindings_count(f->reg.store), 0);
}

static void test_query_and_contact_key(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, EDITS("Contact: \"Alice\" <sip:h@192.0.2.1;transport=tcp>;q=0.5")),
                     200);
    assert_true(has(f, "Contact: \"Alice\" <sip:h@192.0.2.1;transport=tcp>;q=0.5;expires=600\r\n"));
    /* Without an instance the contact URI is the key: the same URI refreshes, not adds. */
    assert_int_equal(run(f, EDITS("Contact: <sip:h@192.0.2.1;transport=tcp>", "CSeq: 3 REGISTER",
                                  "Expires: 300")),
                     200);
    assert_int_equal(stub_bindings_count(f->reg.store), 1);
    /* No Contact: a query that lists the bindings and changes nothing. */
    assert_int_equal(run(f, EDITS("Contact:", "CSeq: 4 REGISTER")), 200);
    assert_true(has(f, "Contact: <sip:h@192.0.2.1;transport=tcp>;expires=300\r\n"));
}

static void test_log_line(void **state)
{
    struct fixture *f = *state;
    char path[] = "/tmp/imsgw-log-XXXXXX", buf[4096] = "";
    int fd = mkstemp(path), saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    log_init("test", 0, LOGL_INFO);
    run(f, NULL);
    run_at(f, "192.0.2.7", NOW, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    log_init("test", 0, LOGL_ERROR);
    assert_true(pread(fd, buf, sizeof(buf) - 1, 0) > 0);
    close(fd);
    unlink(path);
    assert_non_null(strstr(buf, "register aor=sip:alice@ims.test from=127.0.0.1 status=200\n"));
    assert_non_null(strstr(buf, "register aor=sip:alice@ims.test from=192.0.2.7 status=403 "
                                "reason=untrusted-peer\n"));
    assert_null(strstr(buf, "auth-done"));
}

int main(void)
{
    log_init("test", 0, LOGL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_t4_gets_t5, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untrusted_peer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_require, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bearer_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_integrity_protected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_digest_mode_challenges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_native_digest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_uri_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_pair, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wildcard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cseq_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounds_and_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_and_contact_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_line, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
