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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_all_lengths),
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
