/* waf_imscred: HA1 is a password equivalent for one realm, so it is stored like one (never
 * logged, never returned); the endpoint answers one challenge at a time and returns only the
 * response, which is worthless for any other nonce. */
#include "waf_imscred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "waf_db.h"

#include "form.h"
#include "waf_cli.h"
#include "waf_client.h"
#include "waf_grant.h"
#include "waf_store.h"
#include "waf_user.h"

static int md5_hex(const char *text, size_t len, char out[33])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (EVP_Digest(text, len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
        return -1;
    for (unsigned i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    return 0;
}

int waf_imscred_response(const char *ha1, const char *nonce, const char *nc, const char *cnonce,
                         const char *qop, const char *method, const char *uri, char out[33])
{
    char buf[4 * WAF_IMSCRED_FIELD_MAX + 64], ha2[33];
    int n = snprintf(buf, sizeof(buf), "%s:%s", method, uri);
    if (n < 0 || (size_t)n >= sizeof(buf) || md5_hex(buf, (size_t)n, ha2) < 0)
        return -1;
    if (qop)
        n = snprintf(buf, sizeof(buf), "%s:%s:%s:%s:%s:%s", ha1, nonce, nc, cnonce, qop, ha2);
    else
        n = snprintf(buf, sizeof(buf), "%s:%s:%s", ha1, nonce, ha2);
    int rc = n < 0 || (size_t)n >= sizeof(buf) ? -1 : md5_hex(buf, (size_t)n, out);
    OPENSSL_cleanse(buf, sizeof(buf));
    return rc;
}

/* A Digest parameter value we will put in a hash: bounded, printable, no quote or backslash. */
static int field_ok(const char *v, int may_be_empty)
{
    if (!v || (!*v && !may_be_empty) || strlen(v) > WAF_IMSCRED_FIELD_MAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            return 0;
    return 1;
}

static int imscred_store(struct waf_db *db, const char *user, const char *realm,
                         const char *password, int remove, char *err, size_t errlen)
{
    struct waf_stmt *s = NULL;
    char impi[WAF_URI_MAX + 1] = "";
    int64_t uid = 0;
    if (waf_db_prepare(db, "SELECT id, impi FROM users WHERE name = ?1", &s) == WAF_DB_OK) {
        waf_db_bind_text(s, 1, user);
        if (waf_db_step(s) == WAF_DB_ROW) {
            uid = waf_db_column_int64(s, 0);
            snprintf(impi, sizeof(impi), "%s", waf_db_column_text(s, 1));
        }
    }
    waf_db_finalize(s);
    if (!uid) {
        snprintf(err, errlen, "no user \"%s\"", user);
        return -1;
    }
    if (!realm) {
        const char *at = strchr(impi, '@');
        realm = at ? at + 1 : "";
    }
    if (!field_ok(realm, 0)) {
        snprintf(err, errlen, "the realm must be given (--realm) and be printable");
        return -1;
    }
    char text[3 * WAF_URI_MAX + 8], ha1[33] = "";
    int n = snprintf(text, sizeof(text), "%s:%s:%s", impi, realm, remove ? "" : password);
    int ok = n > 0 && (size_t)n < sizeof(text) && md5_hex(text, (size_t)n, ha1) == 0;
    OPENSSL_cleanse(text, sizeof(text));
    if (!ok) {
        snprintf(err, errlen, "cannot compute HA1");
        return -1;
    }
    const char *sql = remove
                          ? "DELETE FROM ims_credentials WHERE user_id = ?1"
                          : "INSERT INTO ims_credentials VALUES (?1, ?2, ?3) ON CONFLICT (user_id) "
                            "DO UPDATE SET realm = excluded.realm, ha1 = excluded.ha1";
    ok = waf_db_prepare(db, sql, &s) == WAF_DB_OK;
    if (ok) {
        waf_db_bind_int64(s, 1, uid);
        if (!remove) {
            waf_db_bind_text(s, 2, realm);
            waf_db_bind_text(s, 3, ha1);
        }
        ok = waf_db_step(s) == WAF_DB_DONE;
    }
    waf_db_finalize(s);
    OPENSSL_cleanse(ha1, sizeof(ha1));
    if (!ok)
        snprintf(err, errlen, "store: %s", waf_db_errmsg(db));
    return ok ? 0 : -1;
}

int waf_imscred_cli(const struct waf_settings *s, int argc, char **argv)
{
    const char *realm = NULL;
    int from_stdin = 0, remove = 0;
    if (argc < 1 || !waf_user_name_valid(argv[0]))
        return waf_cli_fail(WAF_EXIT_USAGE, "usage: user ims-credentials NAME [--realm REALM] "
                                            "--password-stdin | --remove");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--password-stdin") == 0)
            from_stdin = 1;
        else if (strcmp(argv[i], "--remove") == 0)
            remove = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--realm") == 0)
            realm = argv[++i];
        else
            return waf_cli_fail(WAF_EXIT_USAGE, "user ims-credentials: unexpected \"%s\"", argv[i]);
    }
    if (from_stdin == remove)
        return waf_cli_fail(WAF_EXIT_USAGE, "user ims-credentials: --password-stdin or --remove");
    char pw[WAF_IMSCRED_FIELD_MAX + 2] = "";
    if (from_stdin) {
        if (!fgets(pw, sizeof(pw), stdin))
            return waf_cli_fail(WAF_EXIT_USAGE, "--password-stdin: no password on stdin");
        pw[strcspn(pw, "\r\n")] = '\0';
        if (!*pw || strlen(pw) > WAF_IMSCRED_FIELD_MAX) {
            OPENSSL_cleanse(pw, sizeof(pw));
            return waf_cli_fail(WAF_EXIT_USAGE, "--password-stdin: 1 to %d characters",
                                WAF_IMSCRED_FIELD_MAX);
        }
    }
    struct waf_store *st = NULL;
    char err[256];
    int status = WAF_EXIT_OK;
    if (waf_store_open(&st, s->data_dir, err, sizeof(err)) < 0)
        status = waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    else if (imscred_store(waf_store_db(st), argv[0], realm, pw, remove, err, sizeof(err)) < 0)
        status = waf_cli_fail(WAF_EXIT_FAIL, "user ims-credentials: %s", err);
    waf_store_close(st);
    OPENSSL_cleanse(pw, sizeof(pw));
    return status;
}

void waf_imscred_digest(struct waf_app *app, struct waf_req *req, struct waf_resp *resp)
{
    struct waf_client c;
    if (waf_grant_client_auth(app, req, &c, resp) < 0)
        return;
    if (c.type != WAF_CLIENT_CONFIDENTIAL) {
        waf_resp_error(resp, 401, "invalid_client", "IMS Digest needs a confidential client");
        return;
    }
    const char *impi = form_get(&req->form, "impi"), *realm = form_get(&req->form, "realm");
    const char *method = form_get(&req->form, "method"), *uri = form_get(&req->form, "uri");
    const char *nonce = form_get(&req->form, "nonce"), *qop = form_get(&req->form, "qop");
    const char *nc = form_get(&req->form, "nc"), *cnonce = form_get(&req->form, "cnonce");
    if (qop && !*qop)
        qop = NULL;
    if (!field_ok(impi, 0) || !field_ok(realm, 0) || !field_ok(method, 0) || !field_ok(uri, 0) ||
        !field_ok(nonce, 0) ||
        (qop && (strcmp(qop, "auth") != 0 || !field_ok(cnonce, 0) || !nc || strlen(nc) != 8 ||
                 strspn(nc, "0123456789abcdefABCDEF") != 8))) {
        waf_resp_error(resp, 400, "invalid_request",
                       "impi, realm, method, uri, nonce needed (bounded, printable); qop only "
                       "\"auth\" with nc (8 hex) and cnonce");
        return;
    }
    struct waf_db *db = waf_store_db(app->store);
    struct waf_stmt *s = NULL;
    char ha1[33] = "";
    if (waf_db_prepare(db,
                       "SELECT c.ha1 FROM ims_credentials c JOIN users u ON u.id = c.user_id "
                       "WHERE u.impi = ?1 AND c.realm = ?2",
                       &s) == WAF_DB_OK) {
        waf_db_bind_text(s, 1, impi);
        waf_db_bind_text(s, 2, realm);
        if (waf_db_step(s) == WAF_DB_ROW && waf_db_column_bytes(s, 0) == 32)
            memcpy(ha1, waf_db_column_text(s, 0), 33);
    }
    waf_db_finalize(s);
    char out[33];
    if (!*ha1) {
        waf_resp_error(resp, 404, "no_credentials", "no IMS credentials for this IMPI and realm");
    } else if (waf_imscred_response(ha1, nonce, nc, cnonce, qop, method, uri, out) < 0) {
        waf_resp_error(resp, 500, "server_error", NULL);
    } else {
        json_t *r = json_pack("{s:s, s:s}", "username", impi, "response", out);
        waf_resp_json(resp, 200, r ? json_dumps(r, JSON_COMPACT) : NULL);
        json_decref(r);
    }
    OPENSSL_cleanse(ha1, sizeof(ha1));
}
