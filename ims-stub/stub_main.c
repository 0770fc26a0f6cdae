/* imsgw-ims-stub: settings, HSS table, one su_root loop, clean stop on SIGINT/SIGTERM. */
#define SU_ROOT_MAGIC_T void
#define SU_WAKEUP_ARG_T su_root_t

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <sofia-sip/su.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_wait.h>

#include "log.h"
#include "stub_digest.h"
#include "stub_hss.h"
#include "stub_server.h"
#include "stub_settings.h"

/* sofia-sip writes its own diagnostics ("received garbage from …") to stderr; route them
 * through our log so every line has the same shape and passes the redaction. */
__attribute__((format(printf, 2, 0))) static void stub_sofia_log(void *stream, const char *fmt,
                                                                 va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0])
        log_warn("sofia: %s", line);
}

/* A signal handler may not call su_root_break(); the signals are blocked and read from a
 * signalfd on the loop instead, so the stop happens between two events. */
static int stub_on_signal(void *magic, su_wait_t *w, su_root_t *root)
{
    struct signalfd_siginfo si;
    if (read(w->fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        log_info("signal %u: stopping", si.ssi_signo);
    su_root_break(root);
    return 0;
}

static int stub_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return -1;
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

/* Runs the loop until a signal; 0 on a clean stop. */
static int stub_run(const struct stub_registrar *reg, const char *listen)
{
    char err[256];
    int rc = 1, sfd = -1, index = -1;
    su_wait_t wait[1] = {SU_WAIT_INIT};
    su_root_t *root = su_root_create(NULL);
    struct stub_server *srv = NULL;
    if (!root) {
        log_error("cannot create the event loop");
        return 1;
    }
    sfd = stub_signalfd();
    if (sfd < 0 || su_wait_create(wait, sfd, SU_WAIT_IN) < 0 ||
        (index = su_root_register(root, wait, stub_on_signal, root, 0)) < 0) {
        log_error("cannot watch SIGINT/SIGTERM");
        goto out;
    }
    srv = stub_server_create(root, reg, listen, err, sizeof(err));
    if (!srv) {
        log_error("%s", err);
        goto out;
    }
    log_info("listening on %s (UDP and TCP), %zu HSS users, auth-mode %s", listen, reg->hss->n,
             reg->set->auth_mode);
    su_root_run(root);
    rc = 0;
out:
    stub_server_destroy(srv);
    if (index >= 0)
        su_root_unregister(root, wait, stub_on_signal, root);
    else
        su_wait_destroy(wait);
    if (sfd >= 0)
        close(sfd);
    su_root_destroy(root);
    return rc;
}

int main(int argc, char **argv)
{
    struct stub_settings set;
    struct stub_hss hss = {0};
    char err[512];
    int log_json = 0, rc = 2;

    stub_settings_init(&set);
    enum cfg_result cr = stub_settings_load(&set, argc, argv, &log_json, err, sizeof(err));
    if (cr != CFG_OK) {
        if (cr == CFG_ERROR)
            fprintf(stderr, "imsgw-ims-stub: %s\n", err);
        stub_settings_free(&set);
        return cr == CFG_EXIT_OK ? 0 : 2;
    }
    log_init("imsgw-ims-stub", log_json, LOGL_INFO);
    if (stub_hss_load(&hss, set.hss_file, err, sizeof(err)) < 0) {
        fprintf(stderr, "imsgw-ims-stub: %s\n", err);
        goto out;
    }
    struct stub_bindings *store = stub_bindings_new((size_t)set.max_bindings);
    if (!store) {
        fprintf(stderr, "imsgw-ims-stub: out of memory\n");
        goto out;
    }
    /* Writes to a TCP peer that went away must fail with EPIPE, not kill the stub. */
    signal(SIGPIPE, SIG_IGN);
    if (su_init() < 0) {
        fprintf(stderr, "imsgw-ims-stub: cannot initialise sofia-sip\n");
        stub_bindings_free(store);
        rc = 1;
        goto out;
    }
    su_log_redirect(NULL, stub_sofia_log, NULL);
    /* The nonce table exists only when Digest is on, so tna-only mode cannot be made to
     * issue challenges at all. */
    struct stub_digest *digest =
        set.auth_digest ? stub_digest_new(STUB_DIGEST_NONCES, STUB_DIGEST_TTL_S) : NULL;
    if (set.auth_digest && !digest) {
        fprintf(stderr, "imsgw-ims-stub: out of memory\n");
        su_deinit();
        stub_bindings_free(store);
        rc = 1;
        goto out;
    }
    struct stub_registrar reg = {&set, &hss, store, digest};
    rc = stub_run(&reg, set.listen);
    su_deinit();
    stub_digest_free(digest);
    stub_bindings_free(store);
    log_info("stopped");
out:
    stub_hss_free(&hss);
    stub_settings_free(&set);
    return rc;
}
