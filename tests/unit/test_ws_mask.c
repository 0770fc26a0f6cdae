/* ws_mask: the raw-stream parser that finds unmasked client frames (RFC 6455 §5.1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gw.h"
#include "ws_mask.h"

struct gw *gw; /* the daemon's global; unused by the parser */

static const char head[] = "GET /sip HTTP/1.1\r\nHost: x\r\nUPGRADE: websocket\r\n"
                           "Connection: Upgrade\r\n\r\n";

/* A client frame with payload length len, masked or not; returns its size. */
static size_t frame(unsigned char *out, size_t len, int masked)
{
    size_t n = 0;
    out[n++] = 0x81;
    unsigned char m = masked ? 0x80 : 0;
    if (len < 126) {
        out[n++] = m | (unsigned char)len;
    } else if (len < 65536) {
        out[n++] = m | 126;
        out[n++] = (unsigned char)(len >> 8);
        out[n++] = (unsigned char)len;
    } else {
        out[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            out[n++] = (unsigned char)(len >> (8 * i));
    }
    if (masked)
        for (int i = 0; i < 4; i++)
            out[n++] = (unsigned char)(0x11 * (i + 1));
    memset(out + n, 'x', len);
    return n + len;
}

static unsigned char stream[300000];

/* head + masked frames of 5, 300 and 70000 bytes + (optionally) an unmasked one + a masked one */
static size_t build(int with_unmasked, size_t *bad_at)
{
    size_t n = strlen(head);
    memcpy(stream, head, n);
    n += frame(stream + n, 5, 1);
    n += frame(stream + n, 300, 1);
    n += frame(stream + n, 70000, 1);
    *bad_at = n;
    if (with_unmasked)
        n += frame(stream + n, 10, 0);
    n += frame(stream + n, 3, 1);
    return n;
}

/* Feeds the stream in pieces of step bytes; returns the stream offset reported, or n. */
static size_t feed(size_t n, size_t step)
{
    struct ws_mask_parser p;
    memset(&p, 0, sizeof(p));
    for (size_t off = 0; off < n; off += step) {
        size_t len = n - off < step ? n - off : step;
        size_t ok = ws_mask_feed(&p, stream + off, len);
        if (ok < len)
            return off + ok;
    }
    return n;
}

static void test_masked_frames_pass(void **state)
{
    (void)state;
    size_t bad_at, n = build(0, &bad_at);
    for (size_t step = 1; step < 40; step++)
        assert_int_equal(feed(n, step), n);
    assert_int_equal(feed(n, 4096), n);
    assert_int_equal(feed(n, n), n);
}

static void test_unmasked_frame_found_at_its_start(void **state)
{
    (void)state;
    size_t bad_at, n = build(1, &bad_at);
    for (size_t step = 1; step < 40; step++) {
        size_t got = feed(n, step);
        /* at its first byte, or (header split over reads) at the start of the read with its
         * second byte: never later, never earlier */
        assert_true(got <= bad_at + 1 && got + step > bad_at);
    }
    assert_int_equal(feed(n, n), bad_at);
    assert_int_equal(feed(n, 4096), bad_at);
}

static void test_plain_http_is_not_parsed_as_frames(void **state)
{
    (void)state;
    const char *req = "POST /x HTTP/1.1\r\nX-Upgrade-Not: 1\r\nContent-Length: 2\r\n\r\nab"
                      "GET / HTTP/1.1\r\n\r\n";
    struct ws_mask_parser p;
    memset(&p, 0, sizeof(p));
    assert_int_equal(ws_mask_feed(&p, (const unsigned char *)req, strlen(req)), strlen(req));
    assert_int_equal(p.phase, WS_MASK_PASS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_masked_frames_pass),
        cmocka_unit_test(test_unmasked_frame_found_at_its_start),
        cmocka_unit_test(test_plain_http_is_not_parsed_as_frames),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
