#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "b64url.h"

static void test_roundtrip_all_lengths(void **state)
{
    unsigned char in[40], back[40];
    char enc[64];
    for (size_t i = 0; i < sizeof(in); i++)
        in[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= sizeof(in); n++) {
        size_t len = b64url_encode(in, n, enc);
        assert_int_equal(len, B64URL_ENCODED_LEN(n));
        assert_int_equal(b64url_decode(enc, len, back, sizeof(back)), (ssize_t)n);
        assert_memory_equal(in, back, n);
    }
}

static void test_rfc4648_vectors(void **state)
{
    char enc[16];
    b64url_encode((const unsigned char *)"foob", 4, enc);
    assert_string_equal(enc, "Zm9vYg");
    b64url_encode((const unsigned char *)"\xfb\xff", 2, enc);
    assert_string_equal(enc, "-_8"); /* url alphabet, no padding */
}

static void test_rejects_bad_input(void **state)
{
    unsigned char out[16];
    assert_int_equal(b64url_decode("Zm9vYg==", 8, out, sizeof(out)), -1); /* padding */
    assert_int_equal(b64url_decode("Zm9v+g", 6, out, sizeof(out)), -1);   /* std alphabet */
    assert_int_equal(b64url_decode("Zm9vY", 5, out, sizeof(out)), -1);    /* impossible length */
    assert_int_equal(b64url_decode("Zm9vYh", 6, out, sizeof(out)), -1);   /* non-zero tail bits */
    assert_int_equal(b64url_decode("Zm 9v", 5, out, sizeof(out)), -1);    /* whitespace */
    assert_int_equal(b64url_decode("Zm9vYmFy", 8, out, 5), -1);           /* too small output */
}

/* Every byte value: exactly the 64 characters of the url alphabet decode, each to its place in it
 * (bytes >= 128 included, which a signed char must not turn into a table index). */
static void test_every_byte(void **state)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int valid = 0;
    for (int c = 0; c < 256; c++) {
        char in[4] = {(char)c, 'A', 'A', 'A'};
        unsigned char out[3];
        const char *at = c ? strchr(alphabet, c) : NULL;
        ssize_t n = b64url_decode(in, sizeof(in), out, sizeof(out));
        if (!at) {
            assert_int_equal(n, -1);
            continue;
        }
        valid++;
        assert_int_equal(n, 3);
        assert_int_equal(out[0] >> 2, at - alphabet);
    }
    assert_int_equal(valid, 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_lengths),
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_rejects_bad_input),
        cmocka_unit_test(test_every_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
