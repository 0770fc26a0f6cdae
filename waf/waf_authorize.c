/* waf_authorize: a request is validated again on every step (GET and POST carry the same
 * parameters), so nothing about it is kept on the server between the form and its submission.
 * The CSRF value is an HMAC of a random cookie (SameSite=Strict): a third-party page can neither
 * read the cookie nor compute the form value. */
#include "waf_authorize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/hmac.h>

#include "b64url.h"
#include "log.h"
#include "timeutil.h"
#include "waf_client.h"
#include "waf_codes.h"
#include "waf_limits.h"
#include "waf_pages.h"

#define WAF_CSRF_COOKIE "waf_csrf"

struct waf_authz {
    struct waf_client client;
    const char *redirect, *state, *challenge;
    char scope[WAF_SCOPE_MAX + 1];
};

static const char *const waf_authz_params[] = {
    "response_type", "client_id",      "redirect_uri",          "scope",
    "state",         "code_challenge", "code_challenge_method", NULL};

/* The cookie's value, if the request has a well-formed one. */
static int waf_csrf_cookie(const struct waf_req *req, char out[WAF_SECRET_LEN])
{
    const char *p = req->cookie;
    while ((p = strstr(p, WAF_CSRF_COOKIE "=")) != NULL) {
        if (p == req->cookie || p[-1] == ' ' || p[-1] == ';') {
            p += strlen(WAF_CSRF_COOKIE "=");
            size_t n = strcspn(p, "; ");
            if (n != WAF_SECRET_LEN - 1)
                return -1;
            memcpy(out, p, n);
            out[n] = '\0';
            return 0;
        }
        p++;
    }
    return -1;
}

static void waf_csrf_field(const struct waf_app *app, const char *cookie, char out[WAF_SECRET_LEN])
{
    unsigned char mac[32];
    unsigned int len = sizeof(mac);
    HMAC(EVP_sha256(), app->csrf_key, sizeof(app->csrf_key), (const unsigned char *)cookie,
         strlen(cookie), mac, &len);
    b64url_encode(mac, 32, out);
}

/* The form value for this browser, setting the cookie when it has none yet. */
static void waf_csrf_issue(struct waf_app *app, const struct waf_req *req, struct waf_resp *resp,
                           char field[WAF_SECRET_LEN])
{
    char cookie[WAF_SECRET_LEN];
    if (waf_csrf_cookie(req, cookie) < 0) {
        waf_secret_new(cookie);
        snprintf(resp->set_cookie, sizeof(resp->set_cookie),
                 WAF_CSRF_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict%s", cookie,
                 strncmp(app->s->issuer, "https:", 6) == 0 ? "; Secure" : "");
    }
    waf_csrf_field(app, cookie, field);
}

static int waf_csrf_ok(struct waf_app *app, const struct waf_req *req)
{
    char cookie[WAF_SECRET_LEN], want[WAF_SECRET_LEN];
    const char *got = form_get(&req->form, "csrf");
    if (!got || waf_csrf_cookie(req, cookie) < 0)
        return 0;
    waf_csrf_field(app, cookie, want);
    return waf_secret_equal(want, got);
}

static int waf_authz_message(struct waf_resp *resp, unsigned status, const char *title,
                             const char *text)
{
    waf_resp_html(resp, status, waf_pages_message(title, text, NULL));
    return 0;
}

/* Redirects back to the client (RFC 6749 §4.1.2, RFC 9207 iss); 303 so a POST becomes a GET. */
static int waf_authz_redirect(struct waf_app *app, struct waf_resp *resp, const char *redirect,
                              const char *code, const char *error, const char *state)
{
    struct form_buf b = {0};
    form_buf_printf(&b, "%s", strchr(redirect, '?') ? "&" : "?");
    form_buf_printf(&b, "%s=", code ? "code" : "error");
    form_buf_url(&b, code ? code : error);
    if (state) {
        form_buf_printf(&b, "&state=");
        form_buf_url(&b, state);
    }
    form_buf_printf(&b, "&iss=");
    form_buf_url(&b, app->s->issuer);
    char *tail = form_buf_take(&b, NULL);
    if (!tail || strlen(redirect) + strlen(tail) >= sizeof(resp->location)) {
        free(tail);
        return waf_authz_message(resp, 400, "Request refused", "The request is too long.");
    }
    size_t rl = strlen(redirect); /* both lengths were checked above */
    memcpy(resp->location, redirect, rl);
    memcpy(resp->location + rl, tail, strlen(tail) + 1);
    free(tail);
    resp->status = 303;
    resp->cache_control = "no-store";
    return 0;
}

/* Validates an authorization request from f. 1: valid; 0: resp holds the error (a page when the
 * client or redirect URI cannot be trusted, else a redirect with the error). */
static int waf_authz_check(struct waf_app *app, const struct form *f, struct waf_authz *a,
                           struct waf_resp *resp)
{
    const char *id = form_get(f, "client_id");
    const char *type = form_get(f, "response_type");
    const char *scope = form_get(f, "scope");
    const char *method = form_get(f, "code_challenge_method");
    memset(a, 0, sizeof(*a));
    a->redirect = form_get(f, "redirect_uri");
    a->state = form_get(f, "state");
    a->challenge = form_get(f, "code_challenge");
    /* Without a trusted redirect URI there is nobody to tell: show the error here
     * (RFC 6749 §4.1.2.1), never redirect to an unregistered address. */
    int got = id ? waf_client_get(app->store, id, &a->client) : WAF_STORE_NOT_FOUND;
    if (got == WAF_STORE_ERROR && waf_store_unavailable(app->store)) {
        /* the database cannot answer (PostgreSQL down or busy): try again, not "unknown" */
        int rc = waf_authz_message(resp, 503, "Try again", "The service is busy; try again.");
        resp->retry_after = WAF_RETRY_BUSY_S;
        return rc;
    }
    if (got != 0)
        return waf_authz_message(resp, 400, "Request refused", "Unknown client.");
    if (!a->redirect || !waf_client_redirect_ok(&a->client, a->redirect))
        return waf_authz_message(resp, 400, "Request refused",
                                 "The redirect URI is not registered for this client.");
    const char *error = NULL;
    if (a->state && strlen(a->state) > 512)
        error = "invalid_request";
    else if (!type || strcmp(type, "code") != 0)
        error = type ? "unsupported_response_type" : "invalid_request";
    else if (scope && (!waf_token_scope_valid(scope) || !waf_client_scope_ok(&a->client, scope)))
        error = "invalid_scope";
    else if (a->challenge && (!method || strcmp(method, "S256") != 0))
        error = "invalid_request"; /* plain (also the default without a method) is refused */
    else if (method && !a->challenge)
        error = "invalid_request";
    else if (a->challenge && !waf_codes_challenge_valid(a->challenge))
        error = "invalid_request";
    else if (!a->challenge && a->client.type == WAF_CLIENT_PUBLIC)
        error = "invalid_request"; /* RFC 9700 §2.1.1: public clients must use PKCE */
    if (error)
        return waf_authz_redirect(app, resp, a->redirect, NULL, error, a->state);
    snprintf(a->scope, sizeof(a->scope), "%s", scope ? scope : a->client.scope);
    return 1;
}

/* The form again (after a GET or a failed attempt), carrying the request's parameters. */
static int waf_authz_form(struct waf_app *app, struct waf_req *req, struct waf_resp *resp,
                          unsigned status, const char *message, const struct form *src)
{
    struct form hidden = {0};
    char csrf[WAF_SECRET_LEN];
    const char *title = "Sign in", *action = "/authorize", *user_code = NULL;
    int deny = 0;
    if (strcmp(req->path, "/code") == 0) {
        title = "Get a phone code", action = "/code";
    } else if (strcmp(req->path, "/device") == 0) {
        title = "Connect a device", action = "/device", deny = 1;
        user_code = form_get(src, "user_code");
        if (!user_code)
            user_code = "";
    } else {
        for (const char *const *p = waf_authz_params; *p; p++)
            if (form_get(src, *p))
                form_add(&hidden, *p, form_get(src, *p));
    }
    waf_csrf_issue(app, req, resp, csrf);
    struct waf_login_page page = {
        title, action, message, &hidden, csrf, form_get(&req->form, "username"), user_code, deny};
    waf_resp_html(resp, status, waf_pages_login(&page));
    form_free(&hidden);
    return 0;
}

/* Checks CSRF and throttling, then hands the password to the pool. */
static int waf_login_start(struct waf_app *app, struct waf_req *req, struct waf_resp *resp,
                           struct waf_verify *v, waf_resume_fn resume, const struct form *src)
{
    const char *user = form_get(&req->form, "username");
    const char *pw = form_get(&req->form, "password");
    const char *why;
    int64_t now = time_now_s();
    if (!waf_csrf_ok(app, req))
        return waf_authz_form(app, req, resp, 403,
                              "The form expired or came from another site. Please try again.", src);
    if (!user || !pw || !*user || !*pw)
        return waf_authz_form(app, req, resp, 400, "Enter your user name and password.", src);
    long wait =
        waf_limits_signin(app, waf_user_name_valid(user) ? user : "?", req->peer, now, &why);
    if (wait) {
        app->metrics.throttled++;
        log_warn("sign-in throttled for %s from %s (%ld s)", waf_user_name_valid(user) ? user : "?",
                 req->peer, wait);
        resp->retry_after = (int)wait;
        char text[256];
        snprintf(text, sizeof(text), "%s Try again in %ld second%s.", why, wait,
                 wait == 1 ? "" : "s");
        return waf_authz_message(resp, 429, "Sign-in paused", text);
    }
    char err[128];
    if (strlen(pw) > WAF_PASSWORD_MAX || !waf_user_name_valid(user) ||
        waf_store_user_password(app->store, user, v->hash, sizeof(v->hash), err, sizeof(err)) < 0)
        snprintf(v->hash, sizeof(v->hash), "%s", app->dummy_hash); /* same cost, no hint */
    v->password = strlen(pw) > WAF_PASSWORD_MAX ? "" : pw;
    v->resume = resume;
    return WAF_PENDING;
}

/* After the pool answered: 1 with the user loaded, or 0 with the failure page in resp. */
static int waf_login_finish(struct waf_app *app, struct waf_req *req, int ok, struct waf_resp *resp,
                            struct waf_user *u, const struct form *src)
{
    const char *user = form_get(&req->form, "username");
    const char *name = waf_user_name_valid(user) ? user : "?";
    char err[128];
    int64_t now = time_now_s();
    if (ok && waf_store_user_get(app->store, user, u, err, sizeof(err)) == 0) {
        app->metrics.logins_ok++;
        waf_limits_signin_ok(app, name, req->peer);
        log_info("sign-in ok for %s from %s", u->name, req->peer);
        return 1;
    }
    app->metrics.logins_failed++;
    waf_limits_signin_failed(app, name, req->peer, now);
    log_info("sign-in failed for %s from %s", waf_user_name_valid(user) ? user : "?", req->peer);
    waf_authz_form(app, req, resp, 401, "Wrong user name or password.", src);
    return 0;
}

static void waf_authorize_resume(struct waf_app *app, struct waf_req *req, int ok,
                                 struct waf_resp *resp)
{
    struct waf_authz a;
    struct waf_user u;
    char code[WAF_SECRET_LEN];
    if (waf_authz_check(app, &req->form, &a, resp) != 1 ||
        !waf_login_finish(app, req, ok, resp, &u, &req->form))
        return;
    if (waf_codes_auth_new(app, a.client.id, u.id, a.redirect, a.scope, a.challenge, code) < 0) {
        waf_authz_redirect(app, resp, a.redirect, NULL, "server_error", a.state);
        return;
    }
    waf_authz_redirect(app, resp, a.redirect, code, NULL, a.state);
}

int waf_authorize_page(struct waf_app *app, struct waf_req *req, struct waf_resp *resp,
                       struct waf_verify *v)
{
    struct waf_authz a;
    const struct form *src = req->method == WAF_M_POST ? &req->form : &req->query;
    if (req->method != WAF_M_GET && req->method != WAF_M_HEAD && req->method != WAF_M_POST) {
        waf_authz_message(resp, 405, "Method not allowed", "Use GET or POST.");
        resp->allow = "GET, HEAD, POST";
        return 0;
    }
    if (req->method == WAF_M_POST && req->form_rc != FORM_OK)
        return waf_authz_message(resp, 400, "Request refused", "The form is malformed.");
    if (req->query.n && req->method == WAF_M_POST)
        return waf_authz_message(resp, 400, "Request refused", "Send the form in the body.");
    if (waf_authz_check(app, src, &a, resp) != 1)
        return 0;
    if (req->method != WAF_M_POST)
        return waf_authz_form(app, req, resp, 200, NULL, src);
    return waf_login_start(app, req, resp, v, waf_authorize_resume, src);
}

static void waf_code_resume(struct waf_app *app, struct waf_req *req, int ok, struct waf_resp *resp)
{
    struct waf_user u;
    char digits[WAF_NUMERIC_DIGITS + 1], text[400];
    if (!waf_login_finish(app, req, ok, resp, &u, &req->form))
        return;
    const char *impu = u.impu[0];
    if (waf_codes_numeric_new(app, u.id, impu, digits) < 0) {
        waf_authz_message(resp, 500, "Something went wrong", "No code could be made; try again.");
        return;
    }
    snprintf(text, sizeof(text),
             "Type this code into your phone within %ld minutes. It works once, for %s only.",
             app->s->numeric_code_lifetime / 60, impu);
    waf_resp_html(resp, 200, waf_pages_message("Your phone code", text, digits));
}

int waf_authorize_code_page(struct waf_app *app, struct waf_req *req, struct waf_resp *resp,
                            struct waf_verify *v)
{
    if (req->method == WAF_M_POST) {
        if (req->form_rc != FORM_OK)
            return waf_authz_message(resp, 400, "Request refused", "The form is malformed.");
        return waf_login_start(app, req, resp, v, waf_code_resume, &req->form);
    }
    if (req->method != WAF_M_GET && req->method != WAF_M_HEAD) {
        waf_authz_message(resp, 405, "Method not allowed", "Use GET or POST.");
        resp->allow = "GET, HEAD, POST";
        return 0;
    }
    return waf_authz_form(app, req, resp, 200, NULL, &req->query);
}

static void waf_device_resume(struct waf_app *app, struct waf_req *req, int ok,
                              struct waf_resp *resp)
{
    struct waf_user u;
    char code[WAF_USER_CODE_LEN + 1];
    if (!waf_login_finish(app, req, ok, resp, &u, &req->form))
        return;
    const char *action = form_get(&req->form, "action");
    int approve = !action || strcmp(action, "deny") != 0;
    if (waf_secret_user_code_norm(form_get(&req->form, "user_code"), code) < 0 ||
        waf_codes_device_decide(app, code, u.id, approve) < 0) {
        waf_limits_source_failed(app, req->peer, time_now_s());
        waf_authz_form(app, req, resp, 400, "That code is unknown or has expired.", &req->form);
        return;
    }
    waf_authz_message(resp, 200, approve ? "Device connected" : "Device refused",
                      approve ? "Your device is now signed in. You can close this page."
                              : "The device was not allowed to sign in.");
}

int waf_authorize_device_page(struct waf_app *app, struct waf_req *req, struct waf_resp *resp,
                              struct waf_verify *v)
{
    char code[WAF_USER_CODE_LEN + 1];
    if (req->method == WAF_M_POST) {
        const char *typed = form_get(&req->form, "user_code");
        if (req->form_rc != FORM_OK)
            return waf_authz_message(resp, 400, "Request refused", "The form is malformed.");
        if (!typed || waf_secret_user_code_norm(typed, code) < 0)
            return waf_authz_form(app, req, resp, 400, "Enter the 8-letter code your device shows.",
                                  &req->form);
        return waf_login_start(app, req, resp, v, waf_device_resume, &req->form);
    }
    if (req->method != WAF_M_GET && req->method != WAF_M_HEAD) {
        waf_authz_message(resp, 405, "Method not allowed", "Use GET or POST.");
        resp->allow = "GET, HEAD, POST";
        return 0;
    }
    return waf_authz_form(app, req, resp, 200, NULL, &req->query);
}
