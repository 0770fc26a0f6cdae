/* imsgw-waf: reads the settings, prepares the data directory, then either runs one operator
 * command or serves HTTP until SIGINT/SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "waf_cli.h"
#include "waf_http.h"
#include "waf_settings.h"

static volatile sig_atomic_t waf_stop, waf_reload;
static struct waf_http *waf_running;

static void waf_on_signal(int sig)
{
    if (sig == SIGHUP)
        waf_reload = 1;
    else
        waf_stop = 1;
    if (waf_running)
        waf_http_wake(waf_running);
}

/* The daemon flags end at the first word that is not a flag or a flag's value: the command. */
static int waf_command_index(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
            strcmp(argv[i], "--version") == 0)
            continue;
        if (strncmp(argv[i], "--", 2) != 0)
            return i;
        i++; /* skip the flag's value */
    }
    return argc;
}

static int waf_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

/* Creates the data directory 0700 if it is missing (its parent must exist). */
static int waf_data_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data directory %s: %s", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "data directory %s is not a directory", dir);
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        log_warn("data directory %s is accessible by group or others (mode %04o)", dir,
                 (unsigned)(st.st_mode & 07777));
    return 0;
}

static int waf_serve(const struct waf_settings *s)
{
    struct waf_app app;
    struct waf_http *h;
    char err[512];
    int status = WAF_EXIT_FAIL;
    if (waf_app_open(&app, s, err, sizeof(err)) < 0) {
        fprintf(stderr, "imsgw-waf: %s\n", err);
        return status;
    }
    if (!(waf_running = waf_http_create(&app, err, sizeof(err)))) {
        fprintf(stderr, "imsgw-waf: %s\n", err);
        goto out;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = waf_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* reload the TLS certificate */
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit (ulimit -f) must turn into a write error the store reports, not death. */
    signal(SIGXFSZ, SIG_IGN);
    log_info("listening on %s port %d, issuer %s, kid %s", s->listen, waf_http_port(waf_running),
             s->issuer, waf_keyring_current(&app.keys)->kid);
    while (!waf_stop && waf_http_service(waf_running) >= 0)
        if (waf_reload) {
            waf_reload = 0;
            waf_http_reload_tls(waf_running);
        }
    log_info("stopping");
    status = WAF_EXIT_OK;
out:
    /* Forget the server before freeing it, so a late signal cannot wake a freed context. */
    h = waf_running;
    waf_running = NULL;
    waf_http_destroy(h);
    waf_app_close(&app);
    return status;
}

int main(int argc, char **argv)
{
    /* Everything the WAF writes (database, WAL, key) is for its own user only. */
    umask(077);
    struct waf_settings s;
    char err[512];
    int log_json = 0;
    int cmd = waf_command_index(argc, argv);
    waf_settings_defaults(&s);
    enum cfg_result r = cfg_load_args(&waf_program, &s, cmd, argv, &log_json, err, sizeof(err));
    int status = WAF_EXIT_OK;
    if (r == CFG_EXIT_OK) {
        if (waf_wants_help(cmd, argv))
            waf_cli_usage(stdout);
    } else if (r == CFG_ERROR || waf_settings_check(&s, err, sizeof(err)) < 0) {
        fprintf(stderr, "imsgw-waf: %s\n", err);
        status = WAF_EXIT_USAGE;
    } else {
        log_init("imsgw-waf", log_json, LOGL_INFO);
        if (waf_data_dir(s.data_dir, err, sizeof(err)) < 0) {
            fprintf(stderr, "imsgw-waf: %s\n", err);
            status = WAF_EXIT_USAGE;
        } else if (cmd < argc) {
            status = waf_cli_run(&s, argc - cmd, argv + cmd);
        } else {
            status = waf_serve(&s);
        }
    }
    waf_settings_free(&s);
    return status;
}
