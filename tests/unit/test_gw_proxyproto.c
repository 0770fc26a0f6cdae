/* gw_proxyproto: the PROXY protocol v2 parser on hostile input, and the read gate on real
 * loopback TCP sockets (the header consumed exactly, nothing after it; refusals). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "gw.h"
#include "gw_proxyproto.h"
#include "ws_mask.h"

static struct gw_settings cfg;
static struct gw the_gw = {.cfg = &cfg};
struct gw *gw = &the_gw;

static const unsigned char sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                      0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A v2 header: command, family/transport byte, then len bytes of body (addresses, TLVs). */
static size_t header(unsigned char *out, unsigned cmd, unsigned fam, const unsigned char *body,
                     size_t len)
{
    memcpy(out, sig, 12);
    out[12] = (unsigned char)(0x20 | cmd);
    out[13] = (unsigned char)fam;
    out[14] = (unsigned char)(len >> 8);
    out[15] = (unsigned char)len;
    if (len)
        memcpy(out + 16, body, len);
    return 16 + len;
}

static const unsigned char v4body[12] = {192, 0, 2, 7, 10, 0, 0, 1, 0x30, 0x39, 0x01, 0xbb};

static void test_ipv4(void **state)
{
    unsigned char b[64];
    size_t n = header(b, 1, 0x11, v4body, sizeof(v4body)), need;
    struct gw_pp_header h;
    const char *why = NULL;
    assert_int_equal(gw_pp_parse(b, n, &need, &h, &why), GW_PP_OK);
    assert_int_equal(need, 28);
    assert_false(h.local);
    assert_string_equal(h.addr, "192.0.2.7");
    assert_int_equal(h.port, 12345);
    /* every shorter prefix asks for more, and says how much in all once the length is known */
    for (size_t i = 1; i < n; i++) {
        assert_int_equal(gw_pp_parse(b, i, &need, &h, &why), GW_PP_MORE);
        assert_int_equal(need, i < 16 ? 16 : 28);
    }
}

static void test_ipv6_and_mapped(void **state)
{
    unsigned char body[36] = {0x20, 0x01, 0x0d, 0xb8}, b[64], h6[64];
    body[15] = 1;
    body[32] = 0x13;
    body[33] = 0x88;
    size_t n = header(b, 1, 0x21, body, sizeof(body)), need;
    struct gw_pp_header h;
    const char *why = NULL;
    assert_int_equal(gw_pp_parse(b, n, &need, &h, &why), GW_PP_OK);
    assert_string_equal(h.addr, "2001:db8::1");
    assert_int_equal(h.port, 5000);
    memset(body, 0, 16);
    body[10] = body[11] = 0xff;
    body[12] = 198, body[13] = 51, body[14] = 100, body[15] = 9;
    n = header(h6, 1, 0x21, body, sizeof(body));
    assert_int_equal(gw_pp_parse(h6, n, &need, &h, &why), GW_PP_OK);
    assert_string_equal(h.addr, "198.51.100.9"); /* IPv4-mapped comes out as IPv4 */
}

/* LOCAL (HAProxy's health checks) and PROXY with UNSPEC family: no client address. TLVs are
 * skipped within the stated length. */
static void test_local_unspec_tlv(void **state)
{
    unsigned char b[64], tlv[20];
    memcpy(tlv, v4body, 12);
    memcpy(tlv + 12, "\x04\x00\x05hello", 8); /* a NOOP TLV */
    size_t need;
    struct gw_pp_header h;
    const char *why = NULL;
    assert_int_equal(gw_pp_parse(b, header(b, 0, 0x00, NULL, 0), &need, &h, &why), GW_PP_OK);
    assert_true(h.local);
    assert_int_equal(gw_pp_parse(b, header(b, 0, 0x11, v4body, 12), &need, &h, &why), GW_PP_OK);
    assert_true(h.local); /* LOCAL ignores the addresses it carries */
    assert_int_equal(gw_pp_parse(b, header(b, 1, 0x00, NULL, 0), &need, &h, &why), GW_PP_OK);
    assert_true(h.local);
    size_t n = header(b, 1, 0x11, tlv, sizeof(tlv));
    assert_int_equal(gw_pp_parse(b, n, &need, &h, &why), GW_PP_OK);
    assert_int_equal(need, 36);
    assert_string_equal(h.addr, "192.0.2.7");
}

static void expect_bad(const unsigned char *b, size_t n, const char *part)
{
    size_t need;
    struct gw_pp_header h;
    const char *why = NULL;
    assert_int_equal(gw_pp_parse(b, n, &need, &h, &why), GW_PP_BAD);
    assert_non_null(why);
    assert_non_null(strstr(why, part));
}

static void test_hostile(void **state)
{
    unsigned char b[GW_PP_MAX + 64] = {0};
    size_t n = header(b, 1, 0x11, v4body, 12);
    expect_bad((const unsigned char *)"GET / HTTP/1.1\r\n", 16, "signature");
    expect_bad((const unsigned char *)"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 32, "v1");
    b[5] ^= 1; /* signature off by one bit, seen with only 6 bytes */
    expect_bad(b, 6, "signature");
    b[5] ^= 1;
    b[12] = 0x11; /* version 1 in the binary form */
    expect_bad(b, n, "version");
    b[12] = 0x22; /* command 2 */
    expect_bad(b, n, "command");
    b[12] = 0x21;
    b[13] = 0x31; /* AF_UNIX */
    expect_bad(b, n, "family");
    b[13] = 0x12; /* UDP over IPv4 */
    expect_bad(b, n, "family");
    b[13] = 0x41; /* family 4 */
    expect_bad(b, n, "family");
    b[13] = 0x11;
    b[15] = 11; /* shorter than an IPv4 address block */
    expect_bad(b, n, "shorter");
    b[13] = 0x21;
    b[15] = 12; /* an IPv6 header with IPv4's length */
    expect_bad(b, n, "shorter");
    b[13] = 0x11;
    b[14] = 0xff, b[15] = 0xff; /* 65535: beyond the bound, refused from the fixed part alone */
    expect_bad(b, 16, "too long");
    b[14] = (GW_PP_MAX - 16 + 1) >> 8, b[15] = (GW_PP_MAX - 16 + 1) & 0xff;
    expect_bad(b, 16, "too long");
    b[14] = (GW_PP_MAX - 16) >> 8, b[15] = (GW_PP_MAX - 16) & 0xff; /* exactly the bound: fine */
    size_t need;
    struct gw_pp_header h;
    const char *why = NULL;
    assert_int_equal(gw_pp_parse(b, 16, &need, &h, &why), GW_PP_MORE);
    assert_int_equal(need, GW_PP_MAX);
    assert_int_equal(gw_pp_parse(b, GW_PP_MAX, &need, &h, &why), GW_PP_OK);
}

static void test_looks_like(void **state)
{
    assert_true(gw_pp_looks_like(sig, 1));
    assert_true(gw_pp_looks_like(sig, 12));
    assert_true(gw_pp_looks_like((const unsigned char *)"PROXY TCP4", 10));
    assert_false(gw_pp_looks_like((const unsigned char *)"GET /", 5));
    assert_false(gw_pp_looks_like((const unsigned char *)"\x16\x03\x01", 3)); /* TLS */
    assert_false(gw_pp_looks_like((const unsigned char *)"PROX", 4));         /* lws refuses it */
}

/* A connected loopback TCP pair: *client writes, the returned fd is the accepted side. */
static int tcp_pair(int *client)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &al), 0);
    *client = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(*client, (struct sockaddr *)&a, sizeof(a)), 0);
    int s = accept(l, NULL, NULL);
    close(l);
    assert_true(s >= 0);
    fcntl(s, F_SETFL, O_NONBLOCK);
    return s;
}

static char *from_loopback[] = {"127.0.0.0/8", NULL};
static char *from_elsewhere[] = {"192.0.2.1", NULL};

static void send_all(int fd, const void *b, size_t n)
{
    assert_int_equal(send(fd, b, n, 0), (ssize_t)n);
    usleep(20000); /* loopback delivery before the server side reads */
}

/* From a balancer: the header arrives in pieces, reads wait (EAGAIN) until it is whole; then the
 * caller's read gets exactly the bytes after it, and the client address is known. */
static void test_gate_balancer(void **state)
{
    cfg.proxy_protocol_from = from_loopback;
    int c, s = tcp_pair(&c);
    gw_pp_track(s);
    unsigned char h[64], buf[64];
    size_t n = header(h, 1, 0x11, v4body, sizeof(v4body));
    send_all(c, h, 10);
    assert_int_equal(recv(s, buf, sizeof(buf), 0), -1);
    assert_int_equal(errno, EAGAIN);
    send_all(c, h + 10, n - 10);
    send_all(c, "GET /", 5);
    char client[PEER_ADDR_MAX];
    assert_int_equal(read(s, buf, sizeof(buf)), 5); /* OpenSSL's path (read) works the same */
    assert_memory_equal(buf, "GET /", 5);
    assert_int_equal(gw_pp_client(s, client, sizeof(client)), 1);
    assert_string_equal(client, "192.0.2.7");
    gw_pp_forget(s);
    assert_int_equal(gw_pp_client(s, client, sizeof(client)), 0);
    close(s);
    close(c);
}

static void test_gate_balancer_without_header(void **state)
{
    cfg.proxy_protocol_from = from_loopback;
    int c, s = tcp_pair(&c);
    gw_pp_track(s);
    unsigned char buf[64];
    send_all(c, "GET /healthz HTTP/1.1\r\n\r\n", 25);
    assert_int_equal(recv(s, buf, sizeof(buf), 0), 0); /* refused: end of stream */
    assert_int_equal(recv(s, buf, sizeof(buf), 0), 0);
    char client[PEER_ADDR_MAX];
    assert_int_equal(gw_pp_client(s, client, sizeof(client)), 0);
    gw_pp_forget(s);
    close(s);
    close(c);
}

/* Not from a balancer: a PROXY header is a forged client address: refused. Anything else is
 * untouched (peeked, not consumed). */
static void test_gate_elsewhere(void **state)
{
    cfg.proxy_protocol_from = from_elsewhere;
    int c, s = tcp_pair(&c);
    gw_pp_track(s);
    unsigned char h[64], buf[64];
    send_all(c, h, header(h, 1, 0x11, v4body, sizeof(v4body)));
    assert_int_equal(recv(s, buf, sizeof(buf), 0), 0);
    gw_pp_forget(s);
    close(s);
    close(c);

    s = tcp_pair(&c);
    gw_pp_track(s);
    send_all(c, "GET /", 5);
    assert_int_equal(recv(s, buf, sizeof(buf), 0), 5);
    assert_memory_equal(buf, "GET /", 5);
    char client[PEER_ADDR_MAX];
    assert_int_equal(gw_pp_client(s, client, sizeof(client)), 0);
    gw_pp_forget(s);
    close(s);
    close(c);
}

/* Without the setting nothing is tracked: a PROXY header reaches lws as it came. */
static void test_gate_off(void **state)
{
    cfg.proxy_protocol_from = NULL;
    int c, s = tcp_pair(&c);
    gw_pp_track(s);
    unsigned char h[64], buf[64];
    size_t n = header(h, 1, 0x11, v4body, sizeof(v4body));
    send_all(c, h, n);
    assert_int_equal(recv(s, buf, sizeof(buf), 0), (ssize_t)n);
    close(s);
    close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6_and_mapped),
        cmocka_unit_test(test_local_unspec_tlv),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_looks_like),
        cmocka_unit_test(test_gate_balancer),
        cmocka_unit_test(test_gate_balancer_without_header),
        cmocka_unit_test(test_gate_elsewhere),
        cmocka_unit_test(test_gate_off),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    gw_pp_shutdown();
    ws_mask_shutdown(); /* also links ws_mask.c, whose recv() asks the gate, as in the daemon */
    return rc;
}
