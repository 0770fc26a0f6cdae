/* waf_kek: signing keys sealed at rest with AES-256-GCM, bound to their kid. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "waf_kek.h"

char *waf_test_tmpdir(void);
void waf_test_rmtree(char *dir);

#define HEX_KEY "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
#define PEM                                                                                        \
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END "     \
    "PRIVATE KEY-----\n"

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static void test_seal_and_unseal(void **state)
{
    (void)state;
    struct waf_kek k, other;
    char err[200];
    setenv(WAF_KEK_ENV, HEX_KEY, 1);
    assert_int_equal(waf_kek_load(&k, "", err, sizeof(err)), 0);
    assert_true(k.set);
    char *sealed = waf_kek_seal(&k, "kid-1", PEM);
    assert_non_null(sealed);
    assert_memory_equal(sealed, WAF_KEK_PREFIX, strlen(WAF_KEK_PREFIX));
    assert_null(strstr(sealed, "PRIVATE KEY"));
    char *again = waf_kek_seal(&k, "kid-1", PEM);
    assert_string_not_equal(sealed, again); /* a fresh nonce each time */
    free(again);

    char *pem = waf_kek_unseal(&k, "kid-1", sealed, err, sizeof(err));
    assert_non_null(pem);
    assert_string_equal(pem, PEM);
    free(pem);

    /* bound to its kid: moved to another row it does not open */
    assert_null(waf_kek_unseal(&k, "kid-2", sealed, err, sizeof(err)));
    assert_non_null(strstr(err, "does not open"));
    /* one altered character is refused */
    size_t mid = strlen(WAF_KEK_PREFIX) + 20;
    char was = sealed[mid];
    sealed[mid] = was == 'A' ? 'B' : 'A';
    assert_null(waf_kek_unseal(&k, "kid-1", sealed, err, sizeof(err)));
    sealed[mid] = was;
    pem = waf_kek_unseal(&k, "kid-1", sealed, err, sizeof(err));
    assert_non_null(pem);
    free(pem);
    /* another key does not open it; no key at all says what to set */
    setenv(WAF_KEK_ENV, "ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 1);
    assert_int_equal(waf_kek_load(&other, NULL, err, sizeof(err)), 0);
    assert_null(waf_kek_unseal(&other, "kid-1", sealed, err, sizeof(err)));
    unsetenv(WAF_KEK_ENV);
    assert_int_equal(waf_kek_load(&other, NULL, err, sizeof(err)), 0);
    assert_false(other.set);
    assert_null(waf_kek_unseal(&other, "kid-1", sealed, err, sizeof(err)));
    assert_non_null(strstr(err, "key-encryption-key-file"));
    /* a key stored in clear before encryption was configured still loads */
    pem = waf_kek_unseal(&other, "kid-0", PEM, err, sizeof(err));
    assert_string_equal(pem, PEM);
    free(pem);
    free(sealed);
    waf_kek_clear(&k);
}

static void test_key_file_checked(void **state)
{
    (void)state;
    char *dir = waf_test_tmpdir(), path[300], err[300];
    struct waf_kek k;
    snprintf(path, sizeof(path), "%s/kek", dir);
    write_file(path, HEX_KEY "\n", 0600);
    assert_int_equal(waf_kek_load(&k, path, err, sizeof(err)), 0);
    assert_true(k.set);
    assert_int_equal(k.key[31], 0x1f);
    write_file(path, HEX_KEY "\n", 0644); /* readable by others: refused */
    assert_int_equal(waf_kek_load(&k, path, err, sizeof(err)), -1);
    assert_false(k.set);
    write_file(path, "not-hex-and-too-short\n", 0600);
    assert_int_equal(waf_kek_load(&k, path, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "64 hex digits"));
    waf_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seal_and_unseal),
        cmocka_unit_test(test_key_file_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
