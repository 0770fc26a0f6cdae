/* reg-event (issue 11): what the gateway reads from reginfo documents (RFC 3680) as Kamailio's
 * S-CSCF and the stub write them, and from hostile ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "regevent.h"

struct gw;
struct gw *gw; /* the parser under test never touches the gateway (defined by gw_main.c) */

#define IMPU "sip:alice@ims.test"
#define CONTACT "sip:alice@k3v9.invalid;transport=ws;ob"

static int assess(const char *doc, struct regevent_verdict *v)
{
    return regevent_assess(doc, strlen(doc), IMPU, CONTACT, v);
}

static void test_kamailio_rtr(void **state)
{
    (void)state;
    struct regevent_verdict v;
    const char *doc =
        "<?xml version=\"1.0\"?>\n<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" version=\"1\" "
        "state=\"full\">\n<registration aor=\"sip:alice@ims.test\" id=\"0x7f\" "
        "state=\"terminated\">"
        "\n<contact id=\"0x1\" state=\"terminated\" event=\"unregistered\" expires=\"0\">\n"
        "<uri>sip:alice@k3v9.invalid;transport=ws;ob</uri>\n</contact>\n</registration>\n</"
        "reginfo>";
    assert_int_equal(assess(doc, &v), 0);
    assert_true(v.ended);
    assert_string_equal(v.why, "unregistered");
}

static void test_active_and_others(void **state)
{
    (void)state;
    struct regevent_verdict v;
    /* ours active, another contact of the same IMPU terminated: nothing ends here */
    const char *doc = "<reginfo><registration aor='sip:alice@ims.test' state='active'>"
                      "<contact state='active' event='registered'><uri>" CONTACT "</uri></contact>"
                      "<contact state='terminated' event='deactivated'><uri>sip:alice@other.invalid"
                      "</uri></contact></registration></reginfo>";
    assert_int_equal(assess(doc, &v), 0);
    assert_false(v.ended);
    /* another IMPU terminated: not ours */
    const char *bob = "<reginfo><registration aor=\"sip:bob@ims.test\" state=\"terminated\">"
                      "</registration></reginfo>";
    assert_int_equal(assess(bob, &v), 0);
    assert_false(v.ended);
}

static void test_shortened_and_whole_registration(void **state)
{
    (void)state;
    struct regevent_verdict v;
    const char *doc = "<reginfo><registration aor=\"sip:alice@ims.test\" state=\"active\">"
                      "<contact state=\"active\" event=\"shortened\" expires=\"42\"><uri>"
                      "sip:alice@k3v9.invalid</uri></contact></registration></reginfo>";
    assert_int_equal(assess(doc, &v), 0);
    assert_false(v.ended);
    assert_int_equal(v.shortened, 42);
    const char *gone = "<reginfo><registration aor=\"sip:alice@ims.test\" state=\"terminated\"/>"
                       "</reginfo>";
    assert_int_equal(assess(gone, &v), 0);
    assert_true(v.ended);
}

static void test_hostile(void **state)
{
    (void)state;
    struct regevent_verdict v;
    assert_int_equal(assess("", &v), -1);
    assert_int_equal(assess("<html>no</html>", &v), -1);
    /* truncated everywhere: never read past the end, never "ended" by accident */
    const char *doc = "<reginfo><registration aor=\"sip:alice@ims.test\" state=\"active\">"
                      "<contact state=\"terminated\" event=\"deactivated\"><uri>" CONTACT
                      "</uri></contact></registration></reginfo>";
    for (size_t n = 0; n < strlen(doc); n++) {
        regevent_assess(doc, n, IMPU, CONTACT, &v);
        if (n < strlen(doc) - strlen("</contact></registration></reginfo>"))
            assert_false(v.ended);
    }
    assert_int_equal(assess(doc, &v), 0);
    assert_true(v.ended);
    assert_string_equal(v.why, "deactivated");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kamailio_rtr),
        cmocka_unit_test(test_active_and_others),
        cmocka_unit_test(test_shortened_and_whole_registration),
        cmocka_unit_test(test_hostile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
