/* recover_url (issue 13): the URL each worker names to DPoP clients for a reconnect mid-call,
 * and the Flow-Recovery-URI header of a REGISTER answer: only this gateway's own, only on a
 * proven 2xx, and nothing from upstream passes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_header.h>

#include "gw.h"
#include "recover_url.h"
#include "sipmsg.h"

struct gw *gw; /* defined by gw_main.c in the daemon */

static struct gw_settings cfg;
static struct gw state;

static int setup(void **unused)
{
    (void)unused;
    memset(&cfg, 0, sizeof(cfg));
    cfg.listen = "127.0.0.1";
    cfg.recovery_port = 9100;
    cfg.flow_recovery_grace = 30;
    cfg.workers = 2;
    state.cfg = &cfg;
    gw = &state;
    return 0;
}

static void test_format(void **unused)
{
    (void)unused;
    char url[RECOVER_URL_MAX + 1];
    assert_int_equal(recover_url_format(&cfg, 1, url, sizeof(url)), 0);
    assert_string_equal(url, "ws://127.0.0.1:9101/sip");
    cfg.listen = "::1";
    cfg.tls_cert = "cert.pem";
    assert_int_equal(recover_url_format(&cfg, 0, url, sizeof(url)), 0);
    assert_string_equal(url, "wss://[::1]:9100/sip");
    cfg.recovery_url = "wss://w{worker}.gw.example.com:{port}/sip?w={worker}";
    assert_int_equal(recover_url_format(&cfg, 3, url, sizeof(url)), 0);
    assert_string_equal(url, "wss://w3.gw.example.com:9103/sip?w=3");
    cfg.recovery_port = 0;
    assert_int_equal(recover_url_format(&cfg, 0, url, sizeof(url)), -1);
    assert_int_equal(recover_url_port(&cfg, 1), 0);
}

static void test_check(void **unused)
{
    (void)unused;
    char err[256];
    assert_int_equal(recover_url_check(&cfg, err, sizeof(err)), 0);
    const char *bad[] = {"ws://a:{port}/\r\nX: y", "ws://a:{port}/{",  "ws://a:{port}/}",
                         "ws://a b:{port}/",       "ws://<a>:{port}/", "ws://a:{Port}/",
                         "ftp://a:{port}/",        "ws://a/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.recovery_url = (char *)bad[i];
        assert_int_equal(recover_url_check(&cfg, err, sizeof(err)), -1);
    }
    cfg.recovery_url = "ws://a:{port}/sip";
    cfg.tls_cert = "cert.pem"; /* the gateway serves TLS: a plain ws:// URL would be a downgrade */
    assert_int_equal(recover_url_check(&cfg, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "wss://"));
    cfg.tls_cert = NULL;
    assert_int_equal(recover_url_check(&cfg, err, sizeof(err)), 0);
}

/* A 200 from the core that already carries a Flow-Recovery-URI (a core's or an attacker's). */
static msg_t *core_200(void)
{
    static const char text[] =
        "SIP/2.0 200 OK\r\n"
        "Via: SIP/2.0/WSS x.invalid;branch=z9hG4bK1\r\n"
        "From: <sip:alice@ims.test>;tag=1\r\nTo: <sip:alice@ims.test>;tag=2\r\n"
        "Call-ID: c1\r\nCSeq: 1 REGISTER\r\n"
        "Flow-Recovery-URI: <wss://evil.example/sip>\r\n"
        "flow-recovery-uri: <wss://evil.example/two>\r\n"
        "Content-Length: 0\r\n\r\n";
    msg_t *m = msg_make(sip_default_mclass(), 0, text, (ssize_t)strlen(text));
    assert_non_null(m);
    return m;
}

static const char *recovery_value(msg_t *m)
{
    const sip_header_t *h = sipmsg_find_unknown(sip_object(m), RECOVER_URL_HEADER);
    return h ? h->sh_unknown->un_value : NULL;
}

static void test_answer(void **unused)
{
    (void)unused;
    msg_t *m = core_200();
    recover_url_answer(m, sip_object(m), 0); /* not proven (bearer, or not a 2xx) */
    assert_null(recovery_value(m));
    msg_destroy(m);
    m = core_200();
    recover_url_answer(m, sip_object(m), 1);
    assert_string_equal(recovery_value(m), "<ws://127.0.0.1:9100/sip>");
    sip_header_remove(m, sip_object(m),
                      (sip_header_t *)sipmsg_find_unknown(sip_object(m), RECOVER_URL_HEADER));
    assert_null(recovery_value(m)); /* exactly one: ours */
    msg_destroy(m);
    cfg.flow_recovery_grace = 0; /* recovery off: nothing is held, nothing to name */
    m = core_200();
    recover_url_answer(m, sip_object(m), 1);
    assert_null(recovery_value(m));
    msg_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_format, setup),
        cmocka_unit_test_setup(test_check, setup),
        cmocka_unit_test_setup(test_answer, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
