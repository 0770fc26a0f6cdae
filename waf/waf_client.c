/* waf_client: the CORS allow-list is derived from the public clients' redirect URIs (their
 * origins are stored at registration), so an operator registers a web client once and never
 * keeps a second list in sync. */
#include "waf_client.h"

#include <stdio.h>
#include <string.h>

#include "text.h"

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

static int waf_client_insert_uris(sqlite3 *db, const struct waf_client *c)
{
    sqlite3_stmt *u = NULL, *o = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "INSERT INTO client_redirect_uris VALUES (?1, ?2)", -1, &u, NULL) ||
        sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO client_origins VALUES (?1, ?2)", -1, &o,
                           NULL))
        goto out;
    for (size_t i = 0; i < c->n_redirect; i++) {
        char origin[WAF_URI_MAX + 1];
        sqlite3_reset(u);
        sqlite3_bind_text(u, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(u, 2, c->redirect[i], -1, SQLITE_STATIC);
        if (sqlite3_step(u) != SQLITE_DONE)
            goto out;
        /* Only browser (public) clients call the token endpoint cross-origin. */
        if (c->type != WAF_CLIENT_PUBLIC ||
            waf_client_origin_of(c->redirect[i], origin, sizeof(origin)) < 0)
            continue;
        sqlite3_reset(o);
        sqlite3_bind_text(o, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(o, 2, origin, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(o) != SQLITE_DONE)
            goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(u);
    sqlite3_finalize(o);
    return rc;
}

int waf_client_add(struct waf_store *st, const struct waf_client *c, char *err, size_t errlen)
{
    if (waf_client_check(c, err, errlen) < 0)
        return WAF_STORE_INVALID;
    sqlite3 *db = waf_store_db(st);
    if (waf_store_begin(st) < 0) {
        snprintf(err, errlen, "locking the database: %s", sqlite3_errmsg(db));
        return WAF_STORE_ERROR;
    }
    sqlite3_stmt *s;
    int step = SQLITE_ERROR;
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO clients (id, type, secret_hash, token_format, scope, "
                           "created_at) VALUES (?1, ?2, ?3, ?4, ?5, strftime('%s','now'))",
                           -1, &s, NULL) == SQLITE_OK) {
        sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 2, c->type == WAF_CLIENT_PUBLIC ? "public" : "confidential", -1,
                          SQLITE_STATIC);
        if (c->type == WAF_CLIENT_CONFIDENTIAL)
            sqlite3_bind_text(s, 3, c->secret_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 4, c->format == WAF_FORMAT_JWT ? "jwt" : "opaque", -1, SQLITE_STATIC);
        sqlite3_bind_text(s, 5, c->scope, -1, SQLITE_STATIC);
        step = sqlite3_step(s);
        sqlite3_finalize(s);
    }
    if (step == SQLITE_CONSTRAINT_PRIMARYKEY) {
        waf_store_rollback(st);
        snprintf(err, errlen, "client \"%s\" already exists", c->id);
        return WAF_STORE_EXISTS;
    }
    if (step != SQLITE_DONE || waf_client_insert_uris(db, c) < 0 || waf_store_commit(st) < 0) {
        snprintf(err, errlen, "adding the client: %s", sqlite3_errmsg(db));
        waf_store_rollback(st);
        return WAF_STORE_ERROR;
    }
    return WAF_STORE_OK;
}

static int waf_client_text(sqlite3_stmt *s, int col, char *dst, size_t size)
{
    const unsigned char *v = sqlite3_column_text(s, col);
    int n = sqlite3_column_bytes(s, col);
    if (!v) {
        dst[0] = '\0';
        return 0;
    }
    if (n < 0 || (size_t)n >= size)
        return -1;
    memcpy(dst, v, (size_t)n + 1);
    return 0;
}

static int waf_client_row(sqlite3 *db, sqlite3_stmt *s, struct waf_client *c)
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
    sqlite3_stmt *u;
    if (sqlite3_prepare_v2(db,
                           "SELECT uri FROM client_redirect_uris WHERE client_id = ?1 ORDER BY uri",
                           -1, &u, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(u, 1, c->id, -1, SQLITE_STATIC);
    int rc = 0;
    while (rc == 0 && sqlite3_step(u) == SQLITE_ROW)
        rc = c->n_redirect == WAF_CLIENT_REDIRECTS_MAX
                 ? -1
                 : waf_client_text(u, 0, c->redirect[c->n_redirect++], WAF_URI_MAX + 1);
    sqlite3_finalize(u);
    return rc;
}

#define WAF_CLIENT_COLUMNS "SELECT id, type, secret_hash, token_format, scope FROM clients "

int waf_client_get(struct waf_store *st, const char *id, struct waf_client *out)
{
    sqlite3 *db = waf_store_db(st);
    sqlite3_stmt *s;
    if (!waf_token_client_id_valid(id))
        return WAF_STORE_NOT_FOUND;
    if (sqlite3_prepare_v2(db, WAF_CLIENT_COLUMNS "WHERE id = ?1", -1, &s, NULL) != SQLITE_OK)
        return WAF_STORE_ERROR;
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(s);
    int rc = step == SQLITE_ROW    ? (waf_client_row(db, s, out) < 0 ? WAF_STORE_ERROR : 0)
             : step == SQLITE_DONE ? WAF_STORE_NOT_FOUND
                                   : WAF_STORE_ERROR;
    sqlite3_finalize(s);
    return rc;
}

int waf_client_del(struct waf_store *st, const char *id, char *err, size_t errlen)
{
    sqlite3 *db = waf_store_db(st);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "DELETE FROM clients WHERE id = ?1", -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "deleting the client: %s", sqlite3_errmsg(db));
        return WAF_STORE_ERROR;
    }
    sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
    int rc = WAF_STORE_OK;
    if (sqlite3_step(s) != SQLITE_DONE) {
        snprintf(err, errlen, "deleting the client: %s", sqlite3_errmsg(db));
        rc = WAF_STORE_ERROR;
    } else if (sqlite3_changes(db) == 0) {
        snprintf(err, errlen, "no client \"%s\"", id);
        rc = WAF_STORE_NOT_FOUND;
    }
    sqlite3_finalize(s);
    return rc;
}

int waf_client_list(struct waf_store *st, waf_client_fn fn, void *arg, char *err, size_t errlen)
{
    sqlite3 *db = waf_store_db(st);
    sqlite3_stmt *s;
    struct waf_client c;
    if (sqlite3_prepare_v2(db, WAF_CLIENT_COLUMNS "ORDER BY id", -1, &s, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "listing clients: %s", sqlite3_errmsg(db));
        return WAF_STORE_ERROR;
    }
    int rc = WAF_STORE_OK;
    while (rc == WAF_STORE_OK && sqlite3_step(s) == SQLITE_ROW) {
        if (waf_client_row(db, s, &c) < 0) {
            snprintf(err, errlen, "listing clients: a row is malformed");
            rc = WAF_STORE_ERROR;
        } else if (fn(&c, arg))
            break;
    }
    sqlite3_finalize(s);
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
    sqlite3_stmt *s;
    if (!origin || sqlite3_prepare_v2(waf_store_db(st),
                                      "SELECT 1 FROM client_origins WHERE origin = ?1 LIMIT 1", -1,
                                      &s, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(s, 1, origin, -1, SQLITE_STATIC);
    int ok = sqlite3_step(s) == SQLITE_ROW;
    sqlite3_finalize(s);
    return ok;
}
