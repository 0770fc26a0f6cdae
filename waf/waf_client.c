/* waf_client: the CORS allow-list is derived from the public clients' redirect URIs (their
 * origins are stored at registration), so an operator registers a web client once and never
 * keeps a second list in sync. */
#include "waf_client.h"

#include <stdio.h>
#include <string.h>

#include "text.h"
#include "timeutil.h"

int waf_client_origin_of(const char *uri, char *out, size_t size)
{
    const char *sep = strstr(uri, "://");
    if (!sep)
        return -1;
    size_t n = (size_t)(sep + 3 - uri) + strcspn(sep + 3, "/?#");
    if (n >= size)
        return -1;
    memcpy(out, uri, n);
    out[n] = '\0';
    return 0;
}

int waf_client_redirect_valid(const char *uri)
{
    static const char *const loopback[] = {"http://127.0.0.1", "http://localhost", "http://[::1]"};
    if (!text_visible(uri, WAF_URI_MAX) || strchr(uri, '#'))
        return 0;
    if (strncmp(uri, "https://", 8) == 0)
        return uri[8] != '\0' && uri[8] != '/';
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++) {
        size_t n = strlen(loopback[i]);
        if (strncmp(uri, loopback[i], n) == 0 && (uri[n] == ':' || uri[n] == '/'))
            return 1;
    }
    return 0;
}

int waf_client_scope_ok(const struct waf_client *c, const char *want)
{
    for (const char *tok = want; *tok;) {
        size_t len = strcspn(tok, " ");
        int found = 0;
        for (const char *have = c->scope; *have && !found;) {
            size_t hl = strcspn(have, " ");
            found = hl == len && strncmp(have, tok, len) == 0;
            have += hl;
            have += *have == ' ';
        }
        if (!found)
            return 0;
        tok += len;
        tok += *tok == ' ';
    }
    return 1;
}

static int waf_client_check(const struct waf_client *c, char *err, size_t errlen)
{
    if (!waf_token_client_id_valid(c->id) ||
        strspn(c->id, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(c->id)) {
        snprintf(err, errlen, "client ids are 1 to %d characters of A-Z a-z 0-9 . _ -",
                 WAF_CLIENT_ID_MAX);
        return -1;
    }
    if (!waf_token_scope_valid(c->scope)) {
        snprintf(err, errlen, "the scope must be one or more of: %s", WAF_SCOPE_DEFAULT);
        return -1;
    }
    if (c->type == WAF_CLIENT_PUBLIC && c->n_redirect == 0) {
        snprintf(err, errlen, "a public client needs at least one --redirect-uri");
        return -1;
    }
    if (c->type == WAF_CLIENT_CONFIDENTIAL && strlen(c->secret_hash) != WAF_HASH_HEX - 1) {
        snprintf(err, errlen, "a confidential client needs a secret");
        return -1;
    }
    if (c->n_redirect > WAF_CLIENT_REDIRECTS_MAX) {
        snprintf(err, errlen, "at most %d redirect URIs", WAF_CLIENT_REDIRECTS_MAX);
        return -1;
    }
    for (size_t i = 0; i < c->n_redirect; i++)
        if (!waf_client_redirect_valid(c->redirect[i])) {
            snprintf(err, errlen,
                     "redirect URI %zu must be https (or http on 127.0.0.1, localhost, [::1]), "
                     "without fragment, at most %d characters",
                     i + 1, WAF_URI_MAX);
            return -1;
        }
    return 0;
}

static int waf_client_insert_uris(struct waf_db *db, const struct waf_client *c)
{
    struct waf_stmt *u = NULL, *o = NULL;
    int rc = -1;
    if (waf_db_prepare(db, "INSERT INTO client_redirect_uris VALUES (?1, ?2)", &u) ||
        waf_db_prepare(db, "INSERT INTO client_origins VALUES (?1, ?2) ON CONFLICT DO NOTHING", &o))
        goto out;
    for (size_t i = 0; i < c->n_redirect; i++) {
        char origin[WAF_URI_MAX + 1];
        waf_db_reset(u);
        waf_db_bind_text(u, 1, c->id);
        waf_db_bind_text(u, 2, c->redirect[i]);
        if (waf_db_step(u) != WAF_DB_DONE)
            goto out;
        /* Only browser (public) clients call the token endpoint cross-origin. */
        if (c->type != WAF_CLIENT_PUBLIC ||
            waf_client_origin_of(c->redirect[i], origin, sizeof(origin)) < 0)
            continue;
        waf_db_reset(o);
        waf_db_bind_text(o, 1, c->id);
        waf_db_bind_text(o, 2, origin);
        if (waf_db_step(o) != WAF_DB_DONE)
            goto out;
    }
    rc = 0;
out:
    waf_db_finalize(u);
    waf_db_finalize(o);
    return rc;
}

int waf_client_add(struct waf_store *st, const struct waf_client *c, char *err, size_t errlen)
{
    if (waf_client_check(c, err, errlen) < 0)
        return WAF_STORE_INVALID;
    struct waf_db *db = waf_store_db(st);
    if (waf_store_begin(st) < 0) {
        snprintf(err, errlen, "locking the database: %s", waf_db_errmsg(db));
        return WAF_STORE_ERROR;
    }
    struct waf_stmt *s;
    int step = WAF_DB_ERROR;
    if (waf_db_prepare(db,
                       "INSERT INTO clients (id, type, secret_hash, token_format, scope, "
                       "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                       &s) == WAF_DB_OK) {
        waf_db_bind_text(s, 1, c->id);
        waf_db_bind_text(s, 2, c->type == WAF_CLIENT_PUBLIC ? "public" : "confidential");
        if (c->type == WAF_CLIENT_CONFIDENTIAL)
            waf_db_bind_text(s, 3, c->secret_hash);
        waf_db_bind_text(s, 4, c->format == WAF_FORMAT_JWT ? "jwt" : "opaque");
        waf_db_bind_text(s, 5, c->scope);
        waf_db_bind_int64(s, 6, time_now_s());
        step = waf_db_step(s);
        waf_db_finalize(s);
    }
    if (step == WAF_DB_CONSTRAINT_UNIQUE) {
        waf_store_rollback(st);
        snprintf(err, errlen, "client \"%s\" already exists", c->id);
        return WAF_STORE_EXISTS;
    }
    if (step != WAF_DB_DONE || waf_client_insert_uris(db, c) < 0 || waf_store_commit(st) < 0) {
        snprintf(err, errlen, "adding the client: %s", waf_db_errmsg(db));
        waf_store_rollback(st);
        return WAF_STORE_ERROR;
    }
    return WAF_STORE_OK;
}

static int waf_client_text(struct waf_stmt *s, int col, char *dst, size_t size)
{
    const char *v = waf_db_column_text(s, col);
    int n = waf_db_column_bytes(s, col);
    if (!v) {
        dst[0] = '\0';
        return 0;
    }
    if (n < 0 || (size_t)n >= size)
        return -1;
    memcpy(dst, v, (size_t)n + 1);
    return 0;
}

static int waf_client_row(struct waf_db *db, struct waf_stmt *s, struct waf_client *c)
{
    char type[16], format[16];
    memset(c, 0, sizeof(*c));
    if (waf_client_text(s, 0, c->id, sizeof(c->id)) < 0 ||
        waf_client_text(s, 1, type, sizeof(type)) < 0 ||
        waf_client_text(s, 2, c->secret_hash, sizeof(c->secret_hash)) < 0 ||
        waf_client_text(s, 3, format, sizeof(format)) < 0 ||
        waf_client_text(s, 4, c->scope, sizeof(c->scope)) < 0)
        return -1;
    c->type = strcmp(type, "public") == 0 ? WAF_CLIENT_PUBLIC : WAF_CLIENT_CONFIDENTIAL;
    c->format = strcmp(format, "opaque") == 0 ? WAF_FORMAT_OPAQUE : WAF_FORMAT_JWT;
    struct waf_stmt *u;
    if (waf_db_prepare(db, "SELECT uri FROM client_redirect_uris WHERE client_id = ?1 ORDER BY uri",
                       &u) != WAF_DB_OK)
        return -1;
    waf_db_bind_text(u, 1, c->id);
    int rc = 0;
    while (rc == 0 && waf_db_step(u) == WAF_DB_ROW)
        rc = c->n_redirect == WAF_CLIENT_REDIRECTS_MAX
                 ? -1
                 : waf_client_text(u, 0, c->redirect[c->n_redirect++], WAF_URI_MAX + 1);
    waf_db_finalize(u);
    return rc;
}

#define WAF_CLIENT_COLUMNS "SELECT id, type, secret_hash, token_format, scope FROM clients "

int waf_client_get(struct waf_store *st, const char *id, struct waf_client *out)
{
    struct waf_db *db = waf_store_db(st);
    struct waf_stmt *s;
    if (!waf_token_client_id_valid(id))
        return WAF_STORE_NOT_FOUND;
    if (waf_db_prepare(db, WAF_CLIENT_COLUMNS "WHERE id = ?1", &s) != WAF_DB_OK)
        return WAF_STORE_ERROR;
    waf_db_bind_text(s, 1, id);
    int step = waf_db_step(s);
    int rc = step == WAF_DB_ROW    ? (waf_client_row(db, s, out) < 0 ? WAF_STORE_ERROR : 0)
             : step == WAF_DB_DONE ? WAF_STORE_NOT_FOUND
                                   : WAF_STORE_ERROR;
    waf_db_finalize(s);
    return rc;
}

int waf_client_del(struct waf_store *st, const char *id, char *err, size_t errlen)
{
    struct waf_db *db = waf_store_db(st);
    struct waf_stmt *s;
    if (waf_db_prepare(db, "DELETE FROM clients WHERE id = ?1", &s) != WAF_DB_OK) {
        snprintf(err, errlen, "deleting the client: %s", waf_db_errmsg(db));
        return WAF_STORE_ERROR;
    }
    waf_db_bind_text(s, 1, id);
    int rc = WAF_STORE_OK;
    if (waf_db_step(s) != WAF_DB_DONE) {
        snprintf(err, errlen, "deleting the client: %s", waf_db_errmsg(db));
        rc = WAF_STORE_ERROR;
    } else if (waf_db_changes(db) == 0) {
        snprintf(err, errlen, "no client \"%s\"", id);
        rc = WAF_STORE_NOT_FOUND;
    }
    waf_db_finalize(s);
    return rc;
}

int waf_client_list(struct waf_store *st, waf_client_fn fn, void *arg, char *err, size_t errlen)
{
    struct waf_db *db = waf_store_db(st);
    struct waf_stmt *s;
    struct waf_client c;
    if (waf_db_prepare(db, WAF_CLIENT_COLUMNS "ORDER BY id", &s) != WAF_DB_OK) {
        snprintf(err, errlen, "listing clients: %s", waf_db_errmsg(db));
        return WAF_STORE_ERROR;
    }
    int rc = WAF_STORE_OK;
    while (rc == WAF_STORE_OK && waf_db_step(s) == WAF_DB_ROW) {
        if (waf_client_row(db, s, &c) < 0) {
            snprintf(err, errlen, "listing clients: a row is malformed");
            rc = WAF_STORE_ERROR;
        } else if (fn(&c, arg))
            break;
    }
    waf_db_finalize(s);
    return rc;
}

int waf_client_redirect_ok(const struct waf_client *c, const char *uri)
{
    for (size_t i = 0; i < c->n_redirect; i++)
        if (strcmp(c->redirect[i], uri) == 0)
            return 1;
    return 0;
}

int waf_client_secret_ok(const struct waf_client *c, const char *secret)
{
    char h[WAF_HASH_HEX];
    if (c->type != WAF_CLIENT_CONFIDENTIAL || !secret)
        return 0;
    waf_secret_hash(secret, h);
    return waf_secret_equal(h, c->secret_hash);
}

int waf_client_origin_allowed(struct waf_store *st, const char *origin)
{
    struct waf_stmt *s;
    if (!origin ||
        waf_db_prepare(waf_store_db(st), "SELECT 1 FROM client_origins WHERE origin = ?1 LIMIT 1",
                       &s) != WAF_DB_OK)
        return 0;
    waf_db_bind_text(s, 1, origin);
    int ok = waf_db_step(s) == WAF_DB_ROW;
    waf_db_finalize(s);
    return ok;
}
