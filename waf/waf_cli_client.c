/* waf_cli_client: "client add|list|del" and "keys rotate". A confidential client's secret is
 * shown once (or written to a 0600 file for the gateway) and only its SHA-256 is stored: the
 * secret has 256 bits, so a slow hash would add nothing but latency to every token request. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "waf_cli.h"
#include "waf_client.h"
#include "waf_keyring.h"

static int waf_cli_write_secret(const char *path, const char *secret)
{
    /* Replace any old file: unlink first so a symlink planted there is never followed. */
    unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return waf_cli_fail(-1, "cannot create %s: %s", path, strerror(errno));
    size_t n = strlen(secret);
    int ok = write(fd, secret, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    close(fd);
    return ok ? 0 : waf_cli_fail(-1, "cannot write %s", path);
}

static int waf_cli_client_add(const struct waf_settings *s, int argc, char **argv)
{
    struct waf_client c;
    const char *secret_file = NULL;
    int type = -1;
    memset(&c, 0, sizeof(c));
    snprintf(c.scope, sizeof(c.scope), "%s", WAF_SCOPE_DEFAULT);
    if (argc < 1 || argv[0][0] == '-' || strlen(argv[0]) >= sizeof(c.id))
        return waf_cli_fail(WAF_EXIT_USAGE, "usage: client add ID --public|--confidential ...");
    snprintf(c.id, sizeof(c.id), "%s", argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--public") == 0)
            type = WAF_CLIENT_PUBLIC;
        else if (strcmp(argv[i], "--confidential") == 0)
            type = WAF_CLIENT_CONFIDENTIAL;
        else if (v && strcmp(argv[i], "--redirect-uri") == 0) {
            if (c.n_redirect == WAF_CLIENT_REDIRECTS_MAX || strlen(v) > WAF_URI_MAX)
                return waf_cli_fail(WAF_EXIT_USAGE,
                                    "client add: at most %d redirect URIs of "
                                    "at most %d characters",
                                    WAF_CLIENT_REDIRECTS_MAX, WAF_URI_MAX);
            snprintf(c.redirect[c.n_redirect++], WAF_URI_MAX + 1, "%s", v);
            i++;
        } else if (v && strcmp(argv[i], "--scope") == 0 && strlen(v) < sizeof(c.scope)) {
            snprintf(c.scope, sizeof(c.scope), "%s", v);
            i++;
        } else if (v && strcmp(argv[i], "--token-format") == 0 &&
                   (strcmp(v, "jwt") == 0 || strcmp(v, "opaque") == 0)) {
            c.format = strcmp(v, "jwt") == 0 ? WAF_FORMAT_JWT : WAF_FORMAT_OPAQUE;
            i++;
        } else if (v && strcmp(argv[i], "--secret-file") == 0) {
            secret_file = v;
            i++;
        } else
            return waf_cli_fail(WAF_EXIT_USAGE, "client add: unexpected \"%s\"", argv[i]);
    }
    if (type < 0)
        return waf_cli_fail(WAF_EXIT_USAGE, "client add: give --public or --confidential");
    c.type = (enum waf_client_type)type;
    char secret[WAF_SECRET_LEN] = "", err[256];
    if (c.type == WAF_CLIENT_CONFIDENTIAL) {
        waf_secret_new(secret);
        waf_secret_hash(secret, c.secret_hash);
    }
    struct waf_store *st;
    if (waf_store_open_db(&st, s->database, s->data_dir, s->key_encryption_key_file, err,
                          sizeof(err)) < 0)
        return waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    int rc = waf_client_add(st, &c, err, sizeof(err));
    int status = WAF_EXIT_OK;
    if (rc < 0)
        status = waf_cli_fail(waf_cli_store_status(rc), "%s", err);
    else if (c.type == WAF_CLIENT_CONFIDENTIAL && secret_file) {
        if (waf_cli_write_secret(secret_file, secret) < 0) {
            waf_client_del(st, c.id, err, sizeof(err)); /* a secret nobody has is useless */
            status = WAF_EXIT_FAIL;
        }
    } else if (c.type == WAF_CLIENT_CONFIDENTIAL)
        printf("%s secret: %s\n", c.id, secret);
    waf_store_close(st);
    OPENSSL_cleanse(secret, sizeof(secret));
    return status;
}

static int waf_cli_print_client(const struct waf_client *c, void *arg)
{
    printf("%s\t%s\t%s\t%s\t", c->id, c->type == WAF_CLIENT_PUBLIC ? "public" : "confidential",
           c->format == WAF_FORMAT_JWT ? "jwt" : "opaque", c->scope);
    for (size_t i = 0; i < c->n_redirect; i++)
        printf("%s%s", i ? " " : "", c->redirect[i]);
    printf("\n");
    return 0;
}

int waf_cli_client(const struct waf_settings *s, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    if (strcmp(sub, "add") == 0)
        return waf_cli_client_add(s, argc - 1, argv + 1);
    int list = strcmp(sub, "list") == 0 && argc == 1;
    int del = strcmp(sub, "del") == 0 && argc == 2;
    if (!list && !del)
        return waf_cli_fail(WAF_EXIT_USAGE, "usage: client add|list|del (see --help)");
    struct waf_store *st;
    char err[256];
    if (waf_store_open_db(&st, s->database, s->data_dir, s->key_encryption_key_file, err,
                          sizeof(err)) < 0)
        return waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    int rc = list ? waf_client_list(st, waf_cli_print_client, NULL, err, sizeof(err))
                  : waf_client_del(st, argv[1], err, sizeof(err));
    waf_store_close(st);
    return rc < 0 ? waf_cli_fail(waf_cli_store_status(rc), "%s", err) : WAF_EXIT_OK;
}

int waf_cli_keys(const struct waf_settings *s, int argc, char **argv)
{
    const char *alg = s->token_alg;
    if (argc == 3 && strcmp(argv[1], "--alg") == 0 &&
        (strcmp(argv[2], "ES256") == 0 || strcmp(argv[2], "RS256") == 0))
        alg = argv[2];
    else if (argc != 1)
        return waf_cli_fail(WAF_EXIT_USAGE, "usage: keys rotate [--alg ES256|RS256]");
    if (strcmp(argv[0], "rotate") != 0)
        return waf_cli_fail(WAF_EXIT_USAGE, "usage: keys rotate [--alg ES256|RS256]");
    struct waf_store *st;
    struct waf_keyring kr;
    char err[256], kid[WAF_KID_SIZE];
    if (waf_store_open_db(&st, s->database, s->data_dir, s->key_encryption_key_file, err,
                          sizeof(err)) < 0)
        return waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    /* Make sure the key being retired exists (first use imports or creates it). */
    int rc = waf_keyring_open(&kr, st, s->data_dir, s->token_alg, err, sizeof(err));
    waf_keyring_free(&kr);
    /* The old key verifies until every token it signed has expired, plus the verifiers' leeway. */
    if (rc == 0)
        rc = waf_keyring_rotate(st, alg, s->token_lifetime + 60, kid, err, sizeof(err));
    waf_store_close(st);
    if (rc < 0)
        return waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    printf("kid %s\n", kid);
    return WAF_EXIT_OK;
}
