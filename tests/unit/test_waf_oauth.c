/* The WAF's OAuth building blocks without HTTP: PKCE (vector T20), forms, secrets and user codes,
 * throttling, clients in the store, and the token grants driven through waf_grant_token(). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "timeutil.h"
#include "waf_app.h"
#include "waf_client.h"
#include "waf_codes.h"
#include "form.h"
#include "waf_grant.h"
#include "waf_oauth.h"
#include "waf_secret.h"
#include "waf_throttle.h"

char *waf_test_tmpdir(void);
const char *waf_test_database(void);
void waf_test_rmtree(char *dir);

static void test_pkce_t20(void **state)
{
    const char *verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const char *challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert_true(waf_codes_pkce_ok(verifier, challenge));
    assert_true(waf_codes_challenge_valid(challenge));
    assert_false(waf_codes_pkce_ok("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", challenge));
    assert_false(waf_codes_pkce_ok(challenge, challenge)); /* plain is never accepted */
    assert_false(waf_codes_pkce_ok("short", challenge));
    assert_false(waf_codes_pkce_ok(NULL, challenge));
    assert_false(waf_codes_challenge_valid("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"));
}

static void test_form(void **state)
{
    struct form f = {0};
    const char *body = "a=1&b=x%20y+z&c=&d&e=%3D%26";
    assert_int_equal(form_parse(&f, body, strlen(body)), FORM_OK);
    assert_string_equal(form_get(&f, "b"), "x y z");
    assert_string_equal(form_get(&f, "c"), "");
    assert_string_equal(form_get(&f, "d"), "");
    assert_string_equal(form_get(&f, "e"), "=&");
    assert_null(form_get(&f, "z"));
    form_free(&f);
    assert_int_equal(form_parse(&f, "a=1&a=2", 7), FORM_DUPLICATE);
    form_free(&f);
    assert_int_equal(form_parse(&f, "a=%zz", 5), FORM_MALFORMED);
    form_free(&f);
    assert_int_equal(form_parse(&f, "a=%0a", 5), FORM_MALFORMED);
    form_free(&f);
    assert_int_equal(form_parse(&f, "a=%4", 4), FORM_MALFORMED);
    form_free(&f);
    char many[400] = "";
    for (int i = 0; i < 40; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "k%d=v&", i);
    assert_int_equal(form_parse(&f, many, strlen(many)), FORM_MALFORMED);
    form_free(&f);

    struct form_buf b = {0};
    form_buf_html(&b, "<a href=\"x\">&'");
    form_buf_url(&b, " /?");
    char *t = form_buf_take(&b, NULL);
    assert_string_equal(t, "&lt;a href=&quot;x&quot;&gt;&amp;&#39;%20%2F%3F");
    free(t);
}

static void test_secrets(void **state)
{
    char a[WAF_SECRET_LEN], b[WAF_SECRET_LEN], h[WAF_HASH_HEX], d[WAF_NUMERIC_DIGITS + 1];
    char u[WAF_USER_CODE_LEN + 1], n[WAF_USER_CODE_LEN + 1];
    waf_secret_new(a);
    waf_secret_new(b);
    assert_int_equal(strlen(a), 43); /* 256 bits */
    assert_string_not_equal(a, b);
    waf_secret_hash("abc", h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_true(waf_secret_equal(a, a));
    assert_false(waf_secret_equal(a, b));
    assert_false(waf_secret_equal("abc", "abcd"));
    waf_secret_digits(d, WAF_NUMERIC_DIGITS);
    assert_true(waf_secret_is_numeric(d));
    assert_false(waf_secret_is_numeric("12345678"));
    assert_false(waf_secret_is_numeric("12345678x"));
    waf_secret_user_code(u);
    assert_int_equal(strspn(u, WAF_USER_CODE_ALPHABET), WAF_USER_CODE_LEN);
    assert_int_equal(waf_secret_user_code_norm("wdjb-mjht", n), 0);
    assert_string_equal(n, "WDJBMJHT");
    assert_int_equal(waf_secret_user_code_norm("WDJB MJHT", n), 0);
    assert_int_equal(waf_secret_user_code_norm("WDJB-MJH", n), -1);
    assert_int_equal(waf_secret_user_code_norm("WDJB-MJHA", n), -1); /* vowel */
    assert_int_equal(waf_secret_user_code_norm("WDJB-MJHTT", n), -1);
}

static void test_throttle(void **state)
{
    struct waf_throttle *t = waf_throttle_create(60);
    assert_false(waf_throttle_blocked(t, "user:a", 3, 1000));
    for (int i = 0; i < 3; i++)
        waf_throttle_fail(t, "user:a", 1000);
    assert_true(waf_throttle_blocked(t, "user:a", 3, 1010));
    assert_false(waf_throttle_blocked(t, "user:b", 3, 1010));
    assert_false(waf_throttle_blocked(t, "user:a", 3, 1061)); /* the window passed */
    for (int i = 0; i < 3; i++)
        waf_throttle_fail(t, "user:a", 2000);
    waf_throttle_clear(t, "user:a");
    assert_false(waf_throttle_blocked(t, "user:a", 3, 2000));
    /* far more keys than slots: memory stays bounded, nothing crashes */
    char key[32];
    for (int i = 0; i < 3 * WAF_THROTTLE_SLOTS; i++) {
        snprintf(key, sizeof(key), "ip:%d", i);
        waf_throttle_fail(t, key, 3000);
    }
    waf_throttle_destroy(t);
}

struct fixture {
    char *dir;
    struct waf_settings s;
    struct waf_app app;
    struct waf_client wic, gw;
    char gw_secret[WAF_SECRET_LEN];
    struct waf_user alice;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[256];
    log_init("test", 0, LOGL_ERROR);
    f->dir = waf_test_tmpdir();
    waf_settings_defaults(&f->s);
    cfg_set_str(&f->s.data_dir, f->dir);
    cfg_set_str(&f->s.database, waf_test_database());
    f->s.argon2_t_cost = 1;
    f->s.argon2_m_cost_kib = 1024;
    if (waf_app_open(&f->app, &f->s, err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    const char *impus[] = {"sip:alice@ims.test"};
    waf_user_build(&f->alice, "alice", NULL, "ims.test", impus, 1, err, sizeof(err));
    if (waf_store_user_add(f->app.store, &f->alice,
                           "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
                           err, sizeof(err)) < 0)
        return -1;
    snprintf(f->wic.id, sizeof(f->wic.id), "wic");
    snprintf(f->wic.scope, sizeof(f->wic.scope), "%s", WAF_SCOPE_DEFAULT);
    snprintf(f->wic.redirect[0], sizeof(f->wic.redirect[0]), "http://127.0.0.1:8080/");
    f->wic.n_redirect = 1;
    f->gw = f->wic;
    snprintf(f->gw.id, sizeof(f->gw.id), "gateway");
    f->gw.type = WAF_CLIENT_CONFIDENTIAL;
    waf_secret_new(f->gw_secret);
    waf_secret_hash(f->gw_secret, f->gw.secret_hash);
    if (waf_client_add(f->app.store, &f->wic, err, sizeof(err)) < 0 ||
        waf_client_add(f->app.store, &f->gw, err, sizeof(err)) < 0) {
        fprintf(stderr, "setup: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    time_set_fake(0);
    waf_app_close(&f->app);
    waf_settings_free(&f->s);
    waf_test_rmtree(f->dir);
    free(f);
    return 0;
}

/* Runs waf_grant_token() with a form body; returns the JSON answer (status in *status). */
static json_t *token_call(struct fixture *f, const char *body, unsigned *status)
{
    struct waf_req req;
    struct waf_resp resp;
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.method = WAF_M_POST;
    snprintf(req.content_type, sizeof(req.content_type), "application/x-www-form-urlencoded");
    req.form_rc = form_parse(&req.form, body, strlen(body));
    waf_grant_token(&f->app, &req, &resp);
    *status = resp.status;
    assert_string_equal(resp.cache_control, "no-store");
    json_t *j = json_loads(resp.body, 0, NULL);
    free(resp.body);
    form_free(&req.form);
    return j;
}

static const char *error_of(json_t *j)
{
    return json_string_value(json_object_get(j, "error"));
}

static void test_clients(void **state)
{
    struct fixture *f = *state;
    struct waf_client c;
    char err[256];
    assert_int_equal(waf_client_get(f->app.store, "wic", &c), 0);
    assert_int_equal(c.type, WAF_CLIENT_PUBLIC);
    assert_true(waf_client_redirect_ok(&c, "http://127.0.0.1:8080/"));
    assert_false(waf_client_redirect_ok(&c, "http://127.0.0.1:8080"));
    assert_false(waf_client_redirect_ok(&c, "http://127.0.0.1:8080/?x=1"));
    assert_true(waf_client_origin_allowed(f->app.store, "http://127.0.0.1:8080"));
    assert_false(waf_client_origin_allowed(f->app.store, "http://evil.example"));
    assert_int_equal(waf_client_get(f->app.store, "gateway", &c), 0);
    assert_true(waf_client_secret_ok(&c, f->gw_secret));
    assert_false(waf_client_secret_ok(&c, "wrong"));
    assert_int_equal(waf_client_add(f->app.store, &f->wic, err, sizeof(err)), WAF_STORE_EXISTS);
    struct waf_client bad = f->wic;
    snprintf(bad.id, sizeof(bad.id), "x' OR '1'='1");
    assert_int_equal(waf_client_add(f->app.store, &bad, err, sizeof(err)), WAF_STORE_INVALID);
    snprintf(bad.id, sizeof(bad.id), "ok");
    snprintf(bad.redirect[0], sizeof(bad.redirect[0]), "http://evil.example/cb");
    assert_int_equal(waf_client_add(f->app.store, &bad, err, sizeof(err)), WAF_STORE_INVALID);
    assert_int_equal(waf_client_get(f->app.store, "x' OR '1'='1", &c), WAF_STORE_NOT_FOUND);
}

static void test_code_grant_and_refresh_family(void **state)
{
    struct fixture *f = *state;
    char code[WAF_SECRET_LEN], body[1024];
    unsigned st;
    assert_int_equal(waf_codes_auth_new(&f->app, "wic", f->alice.id, "http://127.0.0.1:8080/",
                                        "ims:register",
                                        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code),
                     0);
    /* wrong verifier: invalid_grant, and the code still works afterwards */
    snprintf(body, sizeof(body),
             "grant_type=authorization_code&code=%s&client_id=wic&redirect_uri=http%%3A%%2F%%2F"
             "127.0.0.1%%3A8080%%2F&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX",
             code);
    json_t *j = token_call(f, body, &st);
    assert_int_equal(st, 400);
    assert_string_equal(error_of(j), "invalid_grant");
    json_decref(j);
    snprintf(body, sizeof(body),
             "grant_type=authorization_code&code=%s&client_id=wic&redirect_uri=http%%3A%%2F%%2F"
             "127.0.0.1%%3A8080%%2F&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
             code);
    j = token_call(f, body, &st);
    assert_int_equal(st, 200);
    char access[4096], refresh[64];
    snprintf(access, sizeof(access), "%s", json_string_value(json_object_get(j, "access_token")));
    snprintf(refresh, sizeof(refresh), "%s",
             json_string_value(json_object_get(j, "refresh_token")));
    json_decref(j);
    json_t *intro = waf_oauth_introspect(&f->app, access);
    assert_true(json_is_true(json_object_get(intro, "active")));
    assert_string_equal(json_string_value(json_object_get(intro, "username")), "alice");
    json_decref(intro);

    /* rotation: the new refresh token works once; the old one revokes the whole family */
    snprintf(body, sizeof(body), "grant_type=refresh_token&client_id=wic&refresh_token=%s",
             refresh);
    j = token_call(f, body, &st);
    assert_int_equal(st, 200);
    char access2[4096];
    snprintf(access2, sizeof(access2), "%s", json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    j = token_call(f, body, &st);
    assert_int_equal(st, 400);
    assert_string_equal(error_of(j), "invalid_grant");
    json_decref(j);
    intro = waf_oauth_introspect(&f->app, access2);
    assert_false(json_is_true(json_object_get(intro, "active")));
    assert_int_equal(json_object_size(intro), 1);
    json_decref(intro);
    assert_int_equal(f->app.metrics.refresh_reuse, 1);
}

static int introspect_active(struct fixture *f, const char *token)
{
    json_t *intro = waf_oauth_introspect(&f->app, token);
    int active = json_is_true(json_object_get(intro, "active"));
    json_decref(intro);
    return active;
}

/* Issue 9 item 5: a used code presented again revokes its family only when the presenter is the
 * code's client, proven (secret or PKCE verifier); anyone else gets an error and revokes nothing.
 * Item 3: introspection says what a token is. */
static void test_code_replay_needs_the_proven_client(void **state)
{
    struct fixture *f = *state;
    char code[WAF_SECRET_LEN], body[1024];
    unsigned st;
    const char *good = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const char *bad = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXX";
    assert_int_equal(waf_codes_auth_new(&f->app, "wic", f->alice.id, "http://127.0.0.1:8080/",
                                        "ims:register",
                                        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", code),
                     0);
#define REPLAY_FMT                                                                                 \
    "grant_type=authorization_code&code=%s&client_id=%s&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%"  \
    "3A"                                                                                           \
    "8080%%2F%s%s"
    snprintf(body, sizeof(body), REPLAY_FMT, code, "wic", "&code_verifier=", good);
    json_t *j = token_call(f, body, &st);
    assert_int_equal(st, 200);
    char access[4096], refresh[64];
    snprintf(access, sizeof(access), "%s", json_string_value(json_object_get(j, "access_token")));
    snprintf(refresh, sizeof(refresh), "%s",
             json_string_value(json_object_get(j, "refresh_token")));
    json_decref(j);
    json_t *intro = waf_oauth_introspect(&f->app, refresh);
    assert_string_equal(json_string_value(json_object_get(intro, "token_type")), "refresh_token");
    json_decref(intro);
    intro = waf_oauth_introspect(&f->app, access);
    assert_string_equal(json_string_value(json_object_get(intro, "token_type")), "Bearer");
    json_decref(intro);

    /* replays that prove nothing: no verifier, a wrong one, another (authenticated) client */
    const char *tails[][2] = {{"", ""}, {"&code_verifier=", bad}};
    for (size_t i = 0; i < 2; i++) {
        snprintf(body, sizeof(body), REPLAY_FMT, code, "wic", tails[i][0], tails[i][1]);
        j = token_call(f, body, &st);
        assert_int_equal(st, 400);
        assert_string_equal(error_of(j), "invalid_grant");
        json_decref(j);
        assert_true(introspect_active(f, access));
    }
    snprintf(body, sizeof(body), REPLAY_FMT, code, "gateway", "&client_secret=", f->gw_secret);
    j = token_call(f, body, &st);
    assert_int_equal(st, 400);
    assert_string_equal(error_of(j), "invalid_grant");
    json_decref(j);
    snprintf(body, sizeof(body), REPLAY_FMT, code, "gateway", "&client_secret=", "wrong");
    j = token_call(f, body, &st);
    assert_int_equal(st, 401);
    assert_string_equal(error_of(j), "invalid_client");
    json_decref(j);
    assert_true(introspect_active(f, access));
    assert_true(introspect_active(f, refresh));

    /* the code's own client, proven by its verifier: the replay revokes the family */
    snprintf(body, sizeof(body), REPLAY_FMT, code, "wic", "&code_verifier=", good);
    j = token_call(f, body, &st);
    assert_int_equal(st, 400);
    assert_string_equal(error_of(j), "invalid_grant");
    json_decref(j);
    assert_false(introspect_active(f, access));
    assert_false(introspect_active(f, refresh));
}

/* Issue 9 item 9: a password change revokes the user's families and kills pending codes. */
static void test_password_change_revokes(void **state)
{
    struct fixture *f = *state;
    char code[WAF_SECRET_LEN], pending[WAF_SECRET_LEN], body[1024], err[256];
    unsigned st;
#define PASSWD_FMT                                                                                 \
    "grant_type=authorization_code&code=%s&client_id=wic&redirect_uri=http%%3A%%2F%%2F127.0.0.1%%" \
    "3A"                                                                                           \
    "8080%%2F&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    const char *challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert_int_equal(waf_codes_auth_new(&f->app, "wic", f->alice.id, "http://127.0.0.1:8080/",
                                        "ims:register", challenge, code),
                     0);
    assert_int_equal(waf_codes_auth_new(&f->app, "wic", f->alice.id, "http://127.0.0.1:8080/",
                                        "ims:register", challenge, pending),
                     0);
    snprintf(body, sizeof(body), PASSWD_FMT, code);
    json_t *j = token_call(f, body, &st);
    assert_int_equal(st, 200);
    char access[4096], refresh[64];
    snprintf(access, sizeof(access), "%s", json_string_value(json_object_get(j, "access_token")));
    snprintf(refresh, sizeof(refresh), "%s",
             json_string_value(json_object_get(j, "refresh_token")));
    json_decref(j);
    assert_true(introspect_active(f, refresh));
    assert_int_equal(waf_store_user_set_password(
                         f->app.store, "alice",
                         "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0$bmV3aGFzaG5ld2hhc2g", err,
                         sizeof(err)),
                     0);
    assert_false(introspect_active(f, access));
    assert_false(introspect_active(f, refresh));
    snprintf(body, sizeof(body), "grant_type=refresh_token&client_id=wic&refresh_token=%s",
             refresh);
    j = token_call(f, body, &st);
    assert_int_equal(st, 400);
    assert_string_equal(error_of(j), "invalid_grant");
    json_decref(j);
    snprintf(body, sizeof(body), PASSWD_FMT, pending);
    j = token_call(f, body, &st);
    assert_int_equal(st, 400);
    assert_string_equal(error_of(j), "invalid_grant");
    json_decref(j);
}

static void test_numeric_code(void **state)
{
    struct fixture *f = *state;
    char digits[WAF_NUMERIC_DIGITS + 1], body[512], wrong[WAF_NUMERIC_DIGITS + 1];
    unsigned st;
    const char *auth = "grant_type=authorization_code&client_id=gateway&client_secret=";
    /* used: works once */
    assert_int_equal(waf_codes_numeric_new(&f->app, f->alice.id, "sip:alice@ims.test", digits), 0);
    snprintf(body, sizeof(body), "%s%s&code=%s&impu=sip%%3Aalice%%40ims.test", auth, f->gw_secret,
             digits);
    json_t *j = token_call(f, body, &st);
    assert_int_equal(st, 200);
    json_decref(j);
    j = token_call(f, body, &st);
    assert_string_equal(error_of(j), "invalid_grant");
    json_decref(j);
    /* expired */
    assert_int_equal(waf_codes_numeric_new(&f->app, f->alice.id, "sip:alice@ims.test", digits), 0);
    snprintf(body, sizeof(body), "%s%s&code=%s&impu=sip%%3Aalice%%40ims.test", auth, f->gw_secret,
             digits);
    time_set_fake(time_now_s() + 301);
    j = token_call(f, body, &st);
    assert_string_equal(error_of(j), "invalid_grant");
    json_decref(j);
    time_set_fake(0);
    /* attempt limit: after 3 wrong guesses the right code is refused too */
    assert_int_equal(waf_codes_numeric_new(&f->app, f->alice.id, "sip:alice@ims.test", digits), 0);
    snprintf(wrong, sizeof(wrong), "%s", digits);
    wrong[0] = wrong[0] == '9' ? '0' : (char)(wrong[0] + 1);
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof(body), "%s%s&code=%s&impu=sip%%3Aalice%%40ims.test", auth,
                 f->gw_secret, wrong);
        j = token_call(f, body, &st);
        assert_string_equal(error_of(j), "invalid_grant");
        json_decref(j);
    }
    snprintf(body, sizeof(body), "%s%s&code=%s&impu=sip%%3Aalice%%40ims.test", auth, f->gw_secret,
             digits);
    j = token_call(f, body, &st);
    assert_string_equal(error_of(j), "invalid_grant");
    json_decref(j);
    assert_true(f->app.metrics.numeric_failures >= 5);
    /* a public client may not redeem numeric codes */
    j = token_call(f, "grant_type=authorization_code&client_id=wic&code=123456789&impu=sip:a@b",
                   &st);
    assert_string_equal(error_of(j), "unauthorized_client");
    json_decref(j);
}

static void test_token_errors(void **state)
{
    struct fixture *f = *state;
    unsigned st;
    char body[512];
    static const struct {
        const char *body;
        unsigned status;
        const char *error;
    } cases[] = {
        {"client_id=wic", 400, "invalid_request"},
        {"grant_type=password&client_id=wic", 400, "unsupported_grant_type"},
        {"grant_type=authorization_code&client_id=wic", 400, "invalid_request"},
        {"grant_type=authorization_code&client_id=wic&code=nope&redirect_uri=x", 400,
         "invalid_grant"},
        {"grant_type=refresh_token&client_id=wic", 400, "invalid_request"},
        {"grant_type=refresh_token&client_id=wic&refresh_token=x'%3B--", 400, "invalid_grant"},
        {"grant_type=client_credentials&client_id=wic", 400, "unauthorized_client"},
        {"grant_type=client_credentials&client_id=nobody", 401, "invalid_client"},
        {"grant_type=client_credentials&client_id=gateway&client_secret=wrong", 401,
         "invalid_client"},
        {"grant_type=client_credentials&client_id=wic&client_id=wic", 400, "invalid_request"},
        {"grant_type=%zz", 400, "invalid_request"},
        {"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=wic", 400,
         "invalid_request"},
        {"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code&client_id=wic&"
         "device_code=x",
         400, "invalid_grant"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *j = token_call(f, cases[i].body, &st);
        if (st != cases[i].status || !error_of(j) || strcmp(error_of(j), cases[i].error) != 0)
            fail_msg("case %zu (%s): got %u %s", i, cases[i].body, st,
                     error_of(j) ? error_of(j) : "-");
        json_decref(j);
    }
    snprintf(body, sizeof(body),
             "grant_type=client_credentials&client_id=gateway&client_secret=%s&scope=admin",
             f->gw_secret);
    json_t *j = token_call(f, body, &st);
    assert_string_equal(error_of(j), "invalid_scope");
    json_decref(j);
    snprintf(body, sizeof(body),
             "grant_type=client_credentials&client_id=gateway&client_secret=%s&scope=ims%%3Acall",
             f->gw_secret);
    j = token_call(f, body, &st);
    assert_int_equal(st, 200);
    assert_null(json_object_get(j, "refresh_token"));
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pkce_t20),
        cmocka_unit_test(test_form),
        cmocka_unit_test(test_secrets),
        cmocka_unit_test(test_throttle),
        cmocka_unit_test_setup_teardown(test_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_code_grant_and_refresh_family, setup, teardown),
        cmocka_unit_test_setup_teardown(test_numeric_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_code_replay_needs_the_proven_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_change_revokes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_errors, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
