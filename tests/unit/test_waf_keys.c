/* WAF signing key: created 0600 (whatever the umask), reloaded with the same kid, refused when
 * group or others may read it; kid = RFC 7638 thumbprint (spec §11 T19 vector). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include <openssl/pem.h>

#include "jwk.h"
#include "vectors.h"
#include "waf_keys.h"

char *waf_test_tmpdir(void);
void waf_test_rmtree(char *dir);

static void key_path(const char *dir, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", dir, WAF_KEYS_FILE);
}

static void test_t19_thumbprint(void **state)
{
    char err[128], kid[WAF_KID_SIZE];
    json_t *j = json_loads(T19_JWK, 0, NULL);
    EVP_PKEY *k = jwk_to_ec_key(j, err, sizeof(err));
    assert_non_null(k);
    assert_int_equal(waf_keys_thumbprint(k, kid), 0);
    assert_string_equal(kid, "UNx8H3V4xLsIp25t3_BjDVhQvdzCJItTwCheBUy0Ras");
    EVP_PKEY_free(k);
    json_decref(j);
}

static void test_create_0600_and_reload_same_kid(void **state)
{
    char *dir = waf_test_tmpdir();
    char path[512], err[512];
    struct waf_signing_key a, b;
    key_path(dir, path, sizeof(path));
    mode_t old = umask(0); /* even a permissive umask must not widen the key file */
    assert_int_equal(waf_keys_load_or_create(dir, &a, err, sizeof(err)), 0);
    umask(old);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(strlen(a.kid), 43);

    FILE *f = fopen(path, "r");
    char line[64] = "";
    assert_non_null(fgets(line, sizeof(line), f));
    fclose(f);
    assert_string_equal(line, "-----BEGIN PRIVATE KEY-----\n"); /* PKCS#8 */

    assert_int_equal(waf_keys_load_or_create(dir, &b, err, sizeof(err)), 0);
    assert_string_equal(a.kid, b.kid);
    assert_int_equal(EVP_PKEY_eq(a.pkey, b.pkey), 1);
    waf_keys_free(&a);
    waf_keys_free(&b);
    waf_test_rmtree(dir);
}

static void test_readable_key_refused(void **state)
{
    char *dir = waf_test_tmpdir();
    char path[512], err[512];
    struct waf_signing_key k;
    key_path(dir, path, sizeof(path));
    assert_int_equal(waf_keys_load_or_create(dir, &k, err, sizeof(err)), 0);
    waf_keys_free(&k);
    const mode_t bad[] = {0644, 0640, 0604, 0660};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(chmod(path, bad[i]), 0);
        assert_int_equal(waf_keys_load_or_create(dir, &k, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "chmod 600"));
        assert_null(k.pkey);
    }
    assert_int_equal(chmod(path, 0400), 0);
    assert_int_equal(waf_keys_load_or_create(dir, &k, err, sizeof(err)), 0);
    waf_keys_free(&k);
    waf_test_rmtree(dir);
}

static void write_key_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, 0600), 0);
}

static void test_wrong_key_files_refused(void **state)
{
    char *dir = waf_test_tmpdir();
    char path[512], err[512];
    struct waf_signing_key k;
    key_path(dir, path, sizeof(path));

    write_key_file(path, "not a key\n");
    assert_int_equal(waf_keys_load_or_create(dir, &k, err, sizeof(err)), -1);

    EVP_PKEY *p384 = EVP_EC_gen("P-384");
    char *pem = jwk_private_pem(p384);
    write_key_file(path, pem);
    assert_int_equal(waf_keys_load_or_create(dir, &k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "P-256"));
    free(pem);
    EVP_PKEY_free(p384);

    /* an encrypted key is refused rather than prompting for a passphrase */
    EVP_PKEY *p256 = EVP_EC_gen("P-256");
    FILE *f = fopen(path, "w");
    assert_int_equal(PEM_write_PKCS8PrivateKey(f, p256, EVP_aes_256_cbc(), "pw", 2, NULL, NULL), 1);
    fclose(f);
    assert_int_equal(waf_keys_load_or_create(dir, &k, err, sizeof(err)), -1);
    EVP_PKEY_free(p256);
    waf_test_rmtree(dir);
}

static void test_jwks_is_public_only(void **state)
{
    char *dir = waf_test_tmpdir();
    char err[512];
    struct waf_signing_key k;
    assert_int_equal(waf_keys_load_or_create(dir, &k, err, sizeof(err)), 0);
    json_t *jwks = waf_keys_jwks(&k);
    assert_int_equal(json_array_size(json_object_get(jwks, "keys")), 1);
    json_t *jwk = json_array_get(json_object_get(jwks, "keys"), 0);
    assert_string_equal(json_string_value(json_object_get(jwk, "kid")), k.kid);
    assert_null(json_object_get(jwk, "d"));
    EVP_PKEY *pub = jwk_to_ec_key(jwk, err, sizeof(err));
    assert_non_null(pub);
    assert_int_equal(EVP_PKEY_eq(pub, k.pkey), 1);
    char kid[WAF_KID_SIZE];
    assert_int_equal(waf_keys_thumbprint(pub, kid), 0);
    assert_string_equal(kid, k.kid);
    EVP_PKEY_free(pub);
    json_decref(jwks);
    waf_keys_free(&k);
    waf_test_rmtree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t19_thumbprint),
        cmocka_unit_test(test_create_0600_and_reload_same_kid),
        cmocka_unit_test(test_readable_key_refused),
        cmocka_unit_test(test_wrong_key_files_refused),
        cmocka_unit_test(test_jwks_is_public_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
