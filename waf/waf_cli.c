/* waf_cli: operator commands on the same data directory as the daemon. Results go to stdout (one
 * line each, easy to parse in scripts), errors to stderr as one line "imsgw-waf: <reason>". */
#include "waf_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "jwk.h"
#include "timeutil.h"
#include "waf_keyring.h"
#include "waf_password.h"
#include "waf_imscred.h"
#include "waf_store.h"
#include "waf_token.h"

void waf_cli_usage(FILE *out)
{
    fprintf(
        out,
        "\nCommands (daemon flags such as --data-dir go before the command):\n"
        "  (none)                    serve HTTP\n"
        "  user add NAME --impu URI [--impu URI ...] [--impi IMPI] [--password-stdin]\n"
        "                            add a user; without --password-stdin a random password\n"
        "                            is generated and printed once as \"NAME password: PW\"\n"
        "  user list                 print NAME<TAB>IMPI<TAB>IMPU[ IMPU...] per user\n"
        "  user del NAME             delete a user (its tokens turn inactive)\n"
        "  user passwd NAME [--password-stdin]\n"
        "                            set a new password (generated and printed if not given)\n"
        "  user ims-credentials NAME [--realm REALM] --password-stdin | --remove\n"
        "                            the user's IMS Digest password (kept as HA1) for the\n"
        "                            gateway's ims-auth digest; realm: the IMPI's domain\n"
        "  client add ID --public|--confidential [--redirect-uri URI ...] [--scope S]\n"
        "             [--token-format jwt|opaque] [--secret-file PATH]\n"
        "                            add an OAuth client; a confidential client's secret is\n"
        "                            written to PATH (mode 0600) or printed \"ID secret: S\"\n"
        "  client list               print ID<TAB>TYPE<TAB>FORMAT<TAB>SCOPE<TAB>URIS per client\n"
        "  client del ID             delete a client (its tokens turn inactive)\n"
        "  keys rotate [--alg ES256|RS256]\n"
        "                            new signing key; the old one stays in the JWKS until\n"
        "                            its tokens have expired\n"
        "  token NAME [--scope S] [--lifetime SEC] [--client-id ID] [--issued-at UNIX]\n"
        "    [--jkt THUMBPRINT]  (a DPoP-bound token, RFC 9449)\n"
        "                            print a signed access token for NAME\n");
}

int waf_cli_fail(int status, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "imsgw-waf: %s\n", line);
    return status;
}

int waf_cli_store_status(int rc)
{
    return rc == WAF_STORE_INVALID ? WAF_EXIT_USAGE : WAF_EXIT_FAIL;
}

static int waf_cli_number(const char *flag, const char *v, long long min, long long max,
                          long long *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max)
        return waf_cli_fail(-1, "%s must be an integer from %lld to %lld", flag, min, max);
    *out = n;
    return 0;
}

/* Reads one line (the password) from stdin; the newline is dropped. */
static int waf_cli_read_password(char *pw, size_t size)
{
    if (!fgets(pw, (int)size, stdin))
        return waf_cli_fail(-1, "--password-stdin: no password on stdin");
    size_t n = strlen(pw);
    if (n > 0 && pw[n - 1] != '\n' && !feof(stdin))
        return waf_cli_fail(-1, "--password-stdin: the password is longer than %d characters",
                            WAF_PASSWORD_MAX);
    while (n > 0 && (pw[n - 1] == '\n' || pw[n - 1] == '\r'))
        pw[--n] = '\0';
    char err[128];
    if (waf_password_policy(pw, err, sizeof(err)) < 0)
        return waf_cli_fail(-1, "--password-stdin: %s", err);
    return 0;
}

/* The password for user add/passwd: one line from stdin, or a generated one; then its argon2id
 * hash. Returns WAF_EXIT_OK, or the exit status after reporting the problem. */
static int waf_cli_new_password(const struct waf_settings *s, int from_stdin, char *pw,
                                size_t pwlen, char *hash, size_t hashlen)
{
    char err[256];
    if (from_stdin) {
        if (waf_cli_read_password(pw, pwlen) < 0) {
            OPENSSL_cleanse(pw, pwlen);
            return WAF_EXIT_USAGE;
        }
    } else {
        waf_password_generate(pw);
    }
    struct waf_argon2 params = {(uint32_t)s->argon2_t_cost, (uint32_t)s->argon2_m_cost_kib,
                                (uint32_t)s->argon2_parallelism};
    if (waf_password_hash(&params, pw, hash, hashlen, err, sizeof(err)) < 0) {
        OPENSSL_cleanse(pw, pwlen);
        return waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    }
    return WAF_EXIT_OK;
}

static int waf_cli_user_add(const struct waf_settings *s, int argc, char **argv)
{
    const char *impus[WAF_IMPUS_MAX] = {0}, *impi = NULL;
    size_t n_impu = 0;
    int from_stdin = 0;
    if (argc < 1 || argv[0][0] == '-')
        return waf_cli_fail(WAF_EXIT_USAGE, "usage: user add NAME --impu URI [--impu URI ...] "
                                            "[--impi IMPI] [--password-stdin]");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--password-stdin") == 0)
            from_stdin = 1;
        else if (i + 1 < argc && strcmp(argv[i], "--impu") == 0) {
            if (n_impu == WAF_IMPUS_MAX)
                return waf_cli_fail(WAF_EXIT_USAGE, "user add: at most %d --impu", WAF_IMPUS_MAX);
            impus[n_impu++] = argv[++i];
        } else if (i + 1 < argc && strcmp(argv[i], "--impi") == 0)
            impi = argv[++i];
        else
            return waf_cli_fail(WAF_EXIT_USAGE, "user add: unexpected \"%s\"", argv[i]);
    }
    struct waf_user u;
    char err[256];
    if (waf_user_build(&u, argv[0], impi, s->home_domain, impus, n_impu, err, sizeof(err)) < 0)
        return waf_cli_fail(WAF_EXIT_USAGE, "user add: %s", err);

    char pw[WAF_PASSWORD_MAX + 2], hash[WAF_HASH_MAX];
    int status = waf_cli_new_password(s, from_stdin, pw, sizeof(pw), hash, sizeof(hash));
    struct waf_store *st = NULL;
    if (status != WAF_EXIT_OK) {
        /* reported */
    } else if (waf_store_open_db(&st, s->database, s->data_dir, s->key_encryption_key_file, err,
                                 sizeof(err)) < 0) {
        status = waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    } else {
        int rc = waf_store_user_add(st, &u, hash, err, sizeof(err));
        if (rc < 0)
            status = waf_cli_fail(waf_cli_store_status(rc), "%s", err);
        else if (!from_stdin)
            printf("%s password: %s\n", u.name, pw);
    }
    waf_store_close(st);
    OPENSSL_cleanse(pw, sizeof(pw));
    return status;
}

static int waf_cli_user_passwd(const struct waf_settings *s, int argc, char **argv)
{
    int from_stdin = argc == 2 && strcmp(argv[1], "--password-stdin") == 0;
    if (argc < 1 || argc > 2 || (argc == 2 && !from_stdin) || !waf_user_name_valid(argv[0]))
        return waf_cli_fail(WAF_EXIT_USAGE, "usage: user passwd NAME [--password-stdin]");
    char pw[WAF_PASSWORD_MAX + 2], hash[WAF_HASH_MAX], err[256];
    int status = waf_cli_new_password(s, from_stdin, pw, sizeof(pw), hash, sizeof(hash));
    struct waf_store *st = NULL;
    if (status != WAF_EXIT_OK) {
        /* reported */
    } else if (waf_store_open_db(&st, s->database, s->data_dir, s->key_encryption_key_file, err,
                                 sizeof(err)) < 0) {
        status = waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    } else {
        int rc = waf_store_user_set_password(st, argv[0], hash, err, sizeof(err));
        if (rc < 0)
            status = waf_cli_fail(waf_cli_store_status(rc), "%s", err);
        else if (!from_stdin)
            printf("%s password: %s\n", argv[0], pw);
    }
    waf_store_close(st);
    OPENSSL_cleanse(pw, sizeof(pw));
    return status;
}

static int waf_cli_print_user(const struct waf_user *u, void *arg)
{
    printf("%s\t%s\t", u->name, u->impi);
    for (size_t i = 0; i < u->n_impu; i++)
        printf("%s%s", i ? " " : "", u->impu[i]); /* IMPUs never hold a space */
    printf("\n");
    return 0;
}

static int waf_cli_user(const struct waf_settings *s, int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    if (strcmp(sub, "add") == 0)
        return waf_cli_user_add(s, argc - 1, argv + 1);
    if (strcmp(sub, "passwd") == 0)
        return waf_cli_user_passwd(s, argc - 1, argv + 1);
    if (strcmp(sub, "ims-credentials") == 0)
        return waf_imscred_cli(s, argc - 1, argv + 1);
    int list = strcmp(sub, "list") == 0 && argc == 1;
    int del = strcmp(sub, "del") == 0 && argc == 2;
    if (!list && !del)
        return waf_cli_fail(WAF_EXIT_USAGE,
                            "usage: user add|list|del|passwd|ims-credentials (see --help)");
    struct waf_store *st;
    char err[256];
    if (waf_store_open_db(&st, s->database, s->data_dir, s->key_encryption_key_file, err,
                          sizeof(err)) < 0)
        return waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    int rc = list ? waf_store_user_list(st, waf_cli_print_user, NULL, err, sizeof(err))
                  : waf_store_user_del(st, argv[1], err, sizeof(err));
    waf_store_close(st);
    return rc < 0 ? waf_cli_fail(waf_cli_store_status(rc), "%s", err) : WAF_EXIT_OK;
}

static int waf_cli_token(const struct waf_settings *s, int argc, char **argv)
{
    struct waf_token_request req = {s->issuer,    s->audience,       "imsgw-cli", WAF_SCOPE_DEFAULT,
                                    time_now_s(), s->token_lifetime, NULL};
    if (argc < 1 || argv[0][0] == '-')
        return waf_cli_fail(WAF_EXIT_USAGE,
                            "usage: token NAME [--scope S] [--lifetime SEC] "
                            "[--client-id ID] [--issued-at UNIX] [--jkt THUMBPRINT]");
    for (int i = 1; i < argc; i += 2) {
        long long n;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && strcmp(argv[i], "--scope") == 0)
            req.scope = v;
        else if (v && strcmp(argv[i], "--client-id") == 0)
            req.client_id = v;
        else if (v && strcmp(argv[i], "--jkt") == 0 && strlen(v) == JWK_THUMBPRINT_SIZE - 1)
            req.jkt = v; /* a DPoP-bound token (cnf.jkt), for tests and operators */
        else if (v && strcmp(argv[i], "--lifetime") == 0) {
            if (waf_cli_number("--lifetime", v, 1, 86400, &n) < 0)
                return WAF_EXIT_USAGE;
            req.lifetime = (long)n;
        } else if (v && strcmp(argv[i], "--issued-at") == 0) {
            if (waf_cli_number("--issued-at", v, 0, 253402300799LL, &n) < 0)
                return WAF_EXIT_USAGE;
            req.issued_at = n;
        } else
            return waf_cli_fail(WAF_EXIT_USAGE, "token: unexpected \"%s\"", argv[i]);
    }
    if (!waf_token_scope_valid(req.scope))
        return waf_cli_fail(WAF_EXIT_USAGE, "token: --scope must be one or more of: %s",
                            WAF_SCOPE_DEFAULT);
    if (!waf_token_client_id_valid(req.client_id))
        return waf_cli_fail(WAF_EXIT_USAGE,
                            "token: --client-id must be 1 to %d printable "
                            "characters without spaces",
                            WAF_CLIENT_ID_MAX);

    struct waf_store *st;
    struct waf_user u;
    struct waf_keyring kr;
    char err[256];
    if (waf_store_open_db(&st, s->database, s->data_dir, s->key_encryption_key_file, err,
                          sizeof(err)) < 0)
        return waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    int rc = waf_store_user_get(st, argv[0], &u, err, sizeof(err));
    if (rc < 0) {
        waf_store_close(st);
        return waf_cli_fail(waf_cli_store_status(rc), "%s", err);
    }
    rc = waf_keyring_open(&kr, st, s->data_dir, s->token_alg, err, sizeof(err));
    waf_store_close(st);
    if (rc < 0)
        return waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    char *token = waf_token_issue(waf_keyring_current(&kr), &req, &u, err, sizeof(err));
    waf_keyring_free(&kr);
    if (!token)
        return waf_cli_fail(WAF_EXIT_FAIL, "%s", err);
    printf("%s\n", token);
    free(token);
    return WAF_EXIT_OK;
}

int waf_cli_run(const struct waf_settings *s, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            waf_cli_usage(stdout);
            return WAF_EXIT_OK;
        }
    if (strcmp(argv[0], "user") == 0)
        return waf_cli_user(s, argc - 1, argv + 1);
    if (strcmp(argv[0], "token") == 0)
        return waf_cli_token(s, argc - 1, argv + 1);
    if (strcmp(argv[0], "client") == 0)
        return waf_cli_client(s, argc - 1, argv + 1);
    if (strcmp(argv[0], "keys") == 0)
        return waf_cli_keys(s, argc - 1, argv + 1);
    return waf_cli_fail(WAF_EXIT_USAGE, "unknown command \"%s\" (see --help)", argv[0]);
}
