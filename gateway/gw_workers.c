/* gw_workers: see gw_workers.h. The supervisor holds no socket and runs no event loop: it only
 * forks, waits, restarts and forwards the stop signal, so it has nothing that can crash with a
 * worker. Metrics travel through one anonymous shared mapping made before the fork: any worker
 * may receive the scrape (the port is shared), and a table the workers copy their counters into
 * every second needs no extra socket, no protocol and no lock (a sum of 64-bit words read a
 * moment apart is at worst a second stale). */
#include "gw_workers.h"

#include <errno.h>
#include <netdb.h>
#include <sys/socket.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <glib-unix.h>

#include "dialog.h"
#include "gw.h"
#include "gw_evloop.h"
#include "gw_proxyproto.h"
#include "gw_busypoll.h"
#include "gw_sched.h"
#include "gw_tls.h"
#include "log.h"
#include "media.h"
#include "proxy.h"
#include "recover.h"
#include "recover_url.h"
#include "reg_admit.h"
#include "regevent_pace.h"
#include "ws_mask.h"

#define GW_WORKERS_RESTART_DELAY_S 1
#define GW_WORKERS_QUICK_DEATH_S 10 /* a worker that dies this soon after its start… */
#define GW_WORKERS_QUICK_DEATHS 5   /* …this many times in a row stops the gateway */
#define GW_WORKERS_STOP_S 20        /* SIGKILL for a worker still there after SIGTERM */
#define GW_WORKERS_DRAIN_S 5        /* a stopping worker waits this long for transactions */
#define GW_WORKERS_BACKLOG 4096
#define GW_WORKERS_ACCEPT_BURST 64 /* accepts per wake-up, so a connect storm cannot starve SIP */

_Static_assert(sizeof(struct gw_metrics) % sizeof(uint64_t) == 0,
               "gw_metrics must be uint64_t fields only");

struct gw_worker_slot {
    struct gw_metrics m;
    uint64_t pid; /* 0 while not running */
};

struct gw_workers_shared {
    uint64_t restarts_total;
    struct gw_worker_slot slot[GW_WORKERS_MAX];
};

static struct gw_workers_shared *gw_shared;
enum gw_listener { GW_LISTEN_SHARED, GW_LISTEN_RECOVERY, GW_LISTEN_COUNT };
static int gw_listen_fd[GW_LISTEN_COUNT] = {-1, -1};
static guint gw_listen_source[GW_LISTEN_COUNT];
static unsigned gw_self, gw_count = 1;
static uint64_t gw_start_number; /* restarts made before this worker was forked */
static char gw_log_name[32];

unsigned gw_workers_self(void)
{
    return gw_self;
}

uint64_t gw_workers_start_number(void)
{
    return gw_start_number;
}

unsigned gw_workers_count(void)
{
    return gw_count;
}

/* "…host:port;params" → the same with port + add. The port is the digits after the last ':'
 * outside [ ] and before any ';' or '>'. skip: a scheme to step over ("sip:"). */
static int gw_workers_shift_port(char **field, size_t skip, unsigned add)
{
    const char *s = *field + skip;
    size_t end = strcspn(s, ";>");
    const char *colon = NULL, *bracket = memchr(s, ']', end);
    for (const char *p = s; p < s + end; p++)
        if (*p == ':')
            colon = p;
    if (!colon || (bracket && colon < bracket))
        return -1;
    char *e;
    long port = strtol(colon + 1, &e, 10);
    if (e != s + end || port <= 0 || port + (long)add > 65535)
        return -1;
    char buf[512];
    snprintf(buf, sizeof(buf), "%.*s:%ld%s", (int)(colon - *field), *field, port + (long)add,
             s + end);
    cfg_set_str(field, buf);
    return 0;
}

static int gw_workers_ports(struct gw_settings *cfg, unsigned worker)
{
    return gw_workers_shift_port(&cfg->sip_listen, 4, worker) < 0 ||
                   gw_workers_shift_port(&cfg->sip_host, 0, worker) < 0
               ? -1
               : 0;
}

static gboolean gw_workers_tick(gpointer unused)
{
    (void)unused;
    gw_workers_publish();
    return G_SOURCE_CONTINUE;
}

/* fork(); in the child (returns 0) the worker's identity and ports are set up. */
static pid_t gw_workers_spawn(struct gw_settings *cfg, unsigned i, const sigset_t *mask, int json)
{
    gw_start_number = gw_shared->restarts_total; /* the child keeps its copy */
    pid_t pid = fork();
    if (pid < 0) {
        log_error("cannot start worker %u: %s", i, strerror(errno));
        return -1;
    }
    if (pid > 0) {
        gw_shared->slot[i].pid = (uint64_t)pid;
        log_info("worker %u started (pid %d)", i, (int)pid);
        return pid;
    }
    gw_self = i;
    snprintf(gw_log_name, sizeof(gw_log_name), "imsgw-gateway/%u", i);
    log_init(gw_log_name, json, LOGL_INFO);
    /* SIGTERM/SIGINT stay blocked (held, not lost) until main has its handlers: a stop that
     * comes while a worker is still starting then drains it instead of killing it. SIGHUP (the
     * certificate reload) likewise, so a reload during a start does not kill the worker. */
    sigset_t held = *mask;
    sigaddset(&held, SIGTERM);
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGHUP);
    sigprocmask(SIG_SETMASK, &held, NULL);
    memset(&gw_shared->slot[i].m, 0, sizeof(gw_shared->slot[i].m));
    gw_workers_ports(cfg, i); /* checked for every i before the first fork */
    g_timeout_add(1000, gw_workers_tick, NULL);
    return 0;
}

static void gw_workers_signal_all(int sig)
{
    for (unsigned i = 0; i < gw_count; i++)
        if (gw_shared->slot[i].pid)
            kill((pid_t)gw_shared->slot[i].pid, sig);
}

static unsigned gw_workers_alive(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < gw_count; i++)
        n += gw_shared->slot[i].pid != 0;
    return n;
}

/* The supervisor's loop: 1 when it is over (*exit_code set), 0 in a freshly restarted worker. */
static int gw_workers_supervise(struct gw_settings *cfg, const sigset_t *waitset,
                                const sigset_t *mask, int json, int *exit_code)
{
    time_t started[GW_WORKERS_MAX] = {0}, restart_at[GW_WORKERS_MAX] = {0}, stop_by = 0;
    unsigned quick[GW_WORKERS_MAX] = {0};
    int stopping = 0, rc = 0;
    for (unsigned i = 0; i < gw_count; i++)
        started[i] = time(NULL);
    for (;;) {
        struct timespec tick = {1, 0};
        int sig = sigtimedwait(waitset, NULL, &tick);
        time_t now = time(NULL);
        if (sig == SIGHUP && !stopping) /* systemctl reload: each worker reloads its certificate */
            gw_workers_signal_all(SIGHUP);
        if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
            log_info("stopping %u workers on signal", gw_workers_alive());
            stopping = 1;
            stop_by = now + GW_WORKERS_STOP_S;
            gw_workers_signal_all(SIGTERM);
        }
        int st;
        pid_t pid;
        while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
            unsigned i = 0;
            while (i < gw_count && gw_shared->slot[i].pid != (uint64_t)pid)
                i++;
            if (i == gw_count)
                continue;
            gw_shared->slot[i].pid = 0;
            memset(&gw_shared->slot[i].m, 0, sizeof(gw_shared->slot[i].m));
            int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
            if (stopping) {
                if (!clean && rc == 0)
                    rc = 1;
                continue;
            }
            /* 2 = a setting or file refused at its start (it said why): every other worker
             * would refuse it too, so the gateway stops as one process would, not restarting. */
            if (WIFEXITED(st) && WEXITSTATUS(st) == 2) {
                stopping = 1, rc = 2;
                stop_by = now + GW_WORKERS_STOP_S;
                gw_workers_signal_all(SIGTERM);
                continue;
            }
            if (WIFSIGNALED(st))
                log_warn("worker %u (pid %d) died on signal %d; restarting it", i, (int)pid,
                         WTERMSIG(st));
            else
                log_warn("worker %u (pid %d) exited with status %d; restarting it", i, (int)pid,
                         WEXITSTATUS(st));
            quick[i] = now - started[i] < GW_WORKERS_QUICK_DEATH_S ? quick[i] + 1 : 0;
            if (quick[i] >= GW_WORKERS_QUICK_DEATHS) {
                log_error("worker %u died %d times just after starting; stopping the gateway", i,
                          GW_WORKERS_QUICK_DEATHS);
                stopping = 1, rc = 1;
                stop_by = now + GW_WORKERS_STOP_S;
                gw_workers_signal_all(SIGTERM);
                continue;
            }
            restart_at[i] = now + GW_WORKERS_RESTART_DELAY_S;
        }
        if (stopping) {
            if (!gw_workers_alive())
                break;
            if (now >= stop_by) {
                log_error("workers still running %d s after SIGTERM: killing them",
                          GW_WORKERS_STOP_S);
                gw_workers_signal_all(SIGKILL);
                rc = 1;
            }
            continue;
        }
        for (unsigned i = 0; i < gw_count; i++) {
            if (!restart_at[i] || now < restart_at[i])
                continue;
            restart_at[i] = 0;
            started[i] = now;
            gw_shared->restarts_total++;
            pid = gw_workers_spawn(cfg, i, mask, json);
            if (pid == 0)
                return 0;
            if (pid < 0)
                restart_at[i] = now + GW_WORKERS_RESTART_DELAY_S;
        }
    }
    log_info("all workers stopped");
    *exit_code = rc;
    return 1;
}

int gw_workers_start(struct gw_settings *cfg, int json, int *exit_code, char *err, size_t errlen)
{
    if (cfg->workers == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->workers = cores < 1 ? 1 : cores > GW_WORKERS_MAX ? GW_WORKERS_MAX : cores;
    }
    gw_count = (unsigned)cfg->workers;
    if (cfg->recovery_port && cfg->recovery_port + (long)gw_count - 1 > 65535) {
        snprintf(err, errlen, "with %u workers, recovery-port needs room for %u more after it",
                 gw_count, gw_count - 1);
        return -1;
    }
    if (cfg->recovery_port && cfg->port >= cfg->recovery_port &&
        cfg->port < cfg->recovery_port + (long)gw_count) {
        snprintf(err, errlen, "port %ld is among the %u recovery ports from recovery-port %ld",
                 cfg->port, gw_count, cfg->recovery_port);
        return -1;
    }
    if (gw_count == 1)
        return 0;
    if (cfg->flow_recovery_grace && !cfg->recovery_port)
        log_warn("flow recovery: with %u workers and no recovery-port, a client reconnecting "
                 "mid-call reaches the worker that holds its calls 1 time in %u "
                 "(docs/dpop-sip.md, Workers)",
                 gw_count, gw_count);
    /* Every worker's ports are checked before any starts: nothing half-started. */
    for (unsigned i = 0; i < gw_count; i++) {
        struct gw_settings probe = {0};
        cfg_set_str(&probe.sip_listen, cfg->sip_listen);
        cfg_set_str(&probe.sip_host, cfg->sip_host);
        int bad = gw_workers_ports(&probe, i);
        free(probe.sip_listen);
        free(probe.sip_host);
        if (bad) {
            snprintf(err, errlen,
                     "with %u workers, sip-listen and sip-host need an explicit port with room "
                     "for %u more after it (each worker takes port + its number)",
                     gw_count, gw_count - 1);
            return -1;
        }
    }
    gw_shared =
        mmap(NULL, sizeof(*gw_shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (gw_shared == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the workers' shared table: %s", strerror(errno));
        return -1;
    }
    memset(gw_shared, 0, sizeof(*gw_shared));
    sigset_t waitset, mask;
    sigemptyset(&waitset);
    sigaddset(&waitset, SIGCHLD);
    sigaddset(&waitset, SIGTERM);
    sigaddset(&waitset, SIGINT);
    sigaddset(&waitset, SIGHUP);
    sigprocmask(SIG_BLOCK, &waitset, &mask);
    log_info("starting %u workers sharing the WebSocket port; SIP ports from %s on", gw_count,
             cfg->sip_listen);
    for (unsigned i = 0; i < gw_count; i++) {
        pid_t pid = gw_workers_spawn(cfg, i, &mask, json);
        if (pid == 0)
            return 0;
        if (pid < 0) {
            gw_workers_signal_all(SIGTERM);
            break;
        }
    }
    return gw_workers_supervise(cfg, &waitset, &mask, json, exit_code);
}

void gw_workers_signals_ready(void)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    if (gw_count > 1)
        sigprocmask(SIG_UNBLOCK, &stop, NULL);
}

/* What other modules keep themselves, copied in so that workers' rows sum like the rest. */
static void gw_workers_gauges(struct gw_metrics *m)
{
    struct media_stats ms;
    media_get_stats(&ms);
    m->proxy_transactions = proxy_active();
    m->dialogs = dialog_count();
    m->recovery_held = recover_held_count();
    m->media_sessions = ms.sessions;
    m->media_relay_requests_total = ms.relay_requests_total;
    m->media_relay_errors_total = ms.relay_errors_total;
    m->media_relay_rtt_ms_total = ms.relay_rtt_ms_total;
    m->media_relay_answered_total = ms.relay_answered_total;
    struct reg_admit_stats as;
    reg_admit_get_stats(&as);
    m->register_inflight = as.inflight;
    m->register_queued = as.queued;
    m->register_queued_total = as.queued_total;
    struct regevent_pace_stats ps;
    regevent_pace_get_stats(&ps);
    m->regevent_inflight = ps.inflight;
    m->regevent_queued = ps.queued;
    m->regevent_queued_total = ps.queued_total;
    uint64_t cpu, wait; /* called on the loop's thread */
    if (gw_sched_read(&cpu, &wait) == 0) {
        m->loop_cpu_ns_total = cpu;
        m->loop_wait_ns_total = wait;
    }
    struct gw_busypoll_stats bs;
    gw_busypoll_get_stats(&bs);
    m->loop_busy_poll_ns_total = bs.polled_ns;
    m->loop_busy_poll_hits_total = bs.hits;
    m->loop_busy_poll_misses_total = bs.misses;
}

void gw_workers_publish(void)
{
    if (gw_count == 1 || !gw)
        return;
    gw_workers_gauges(&gw->metrics);
    gw_shared->slot[gw_self].m = gw->metrics;
}

size_t gw_workers_metrics_render(char *buf, size_t len)
{
    gw_workers_gauges(&gw->metrics);
    if (gw_count == 1)
        return gw_metrics_render(&gw->metrics, buf, len);
    gw_workers_publish();
    enum { WORDS = sizeof(struct gw_metrics) / sizeof(uint64_t) };
    uint64_t sum[WORDS] = {0}, one[WORDS];
    for (unsigned i = 0; i < gw_count; i++) {
        memcpy(one, &gw_shared->slot[i].m, sizeof(one));
        for (size_t w = 0; w < WORDS; w++)
            sum[w] += one[w];
    }
    struct gw_metrics total;
    memcpy(&total, sum, sizeof(total));
    size_t n = gw_metrics_render(&total, buf, len);
    int k = snprintf(buf + n, len - n,
                     "# HELP imsgw_workers Worker processes running.\n# TYPE imsgw_workers gauge\n"
                     "imsgw_workers %u\n"
                     "# HELP imsgw_worker_restarts_total Workers restarted after they died.\n"
                     "# TYPE imsgw_worker_restarts_total counter\n"
                     "imsgw_worker_restarts_total %" PRIu64 "\n"
                     "# HELP imsgw_worker_ws_connections Open SIP WebSocket connections per "
                     "worker.\n# TYPE imsgw_worker_ws_connections gauge\n",
                     gw_workers_alive(), gw_shared->restarts_total);
    for (unsigned i = 0; k > 0 && n + (size_t)k < len && i < gw_count; i++) {
        n += (size_t)k;
        k = snprintf(buf + n, len - n, "imsgw_worker_ws_connections{worker=\"%u\"} %" PRIu64 "\n",
                     i, gw_shared->slot[i].m.ws_open);
    }
    /* How a registration storm's signature checks spread over the workers (issue 13). */
    if (k > 0 && n + (size_t)k < len) {
        n += (size_t)k;
        k = snprintf(buf + n, len - n,
                     "# HELP imsgw_worker_token_signature_checks_total Access tokens checked by "
                     "their signature, per worker.\n"
                     "# TYPE imsgw_worker_token_signature_checks_total counter\n");
    }
    for (unsigned i = 0; k > 0 && n + (size_t)k < len && i < gw_count; i++) {
        n += (size_t)k;
        k = snprintf(buf + n, len - n,
                     "imsgw_worker_token_signature_checks_total{worker=\"%u\"} %" PRIu64 "\n", i,
                     gw_shared->slot[i].m.token_signature_checks_total);
    }
    if (k > 0 && n + (size_t)k < len)
        n += (size_t)k;
    return n;
}

/* libwebsockets 4.1 sets no SO_REUSEPORT (its ALLOW_LISTEN_SHARE is about vhosts of one
 * process), so each worker owns its listen socket and hands accepted sockets to lws. */
static gboolean gw_workers_accept(gint fd, GIOCondition cond, gpointer unused)
{
    (void)cond, (void)unused;
    for (int i = 0; i < GW_WORKERS_ACCEPT_BURST; i++) {
        int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (s < 0) {
            if (errno == EMFILE || errno == ENFILE)
                log_warn("accept: out of file descriptors");
            break;
        }
        /* what lws's FILTER_NETWORK_CONNECTION does for its own accepts (lws_adopt_socket does
         * not call it): without the PROXY gate, a balancer's header would reach TLS or HTTP */
        gw_pp_track(s);
        ws_mask_track(s, gw_tls_on());
        if (!lws_adopt_socket(gw->lws, s)) { /* lws closes the socket it could not adopt */
            ws_mask_forget(s);
            gw_pp_forget(s);
        }
    }
    return G_SOURCE_CONTINUE;
}

/* A listening socket on addr:port whose connections gw_workers_accept hands to lws: the shared
 * WebSocket port (reuseport: every worker has one) or this worker's recovery port (a socket
 * no other process binds, so a client sent there reaches this worker). */
static int gw_workers_open(enum gw_listener which, const char *addr, long port, int reuseport)
{
    char service[16];
    snprintf(service, sizeof(service), "%ld", port);
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM},
                    *ai;
    if (getaddrinfo(addr, service, &hints, &ai) != 0) {
        log_error("listen address %s is not a numeric address", addr);
        return -1;
    }
    int one = 1, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, GW_WORKERS_BACKLOG) < 0) {
        log_error("cannot listen on %s:%ld: %s", addr, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    gw_listen_fd[which] = fd;
    gw_listen_source[which] = g_unix_fd_add(fd, G_IO_IN, gw_workers_accept, NULL);
    return 0;
}

int gw_workers_listen(const struct gw_settings *cfg)
{
    if (gw_count > 1 && gw_workers_open(GW_LISTEN_SHARED, cfg->listen, cfg->port, 1) < 0)
        return -1;
    long port = recover_url_port(cfg, gw_self);
    if (!port)
        return 0;
    char url[RECOVER_URL_MAX + 1];
    if (gw_workers_open(GW_LISTEN_RECOVERY, cfg->listen, port, 0) < 0 ||
        recover_url_format(cfg, gw_self, url, sizeof(url)) < 0)
        return -1;
    log_info("flow recovery: worker %u also listens on port %ld, named to DPoP clients as %s",
             gw_self, port, url);
    return 0;
}

void gw_workers_unlisten(void)
{
    for (int i = 0; i < GW_LISTEN_COUNT; i++) {
        if (gw_listen_source[i])
            g_source_remove(gw_listen_source[i]);
        if (gw_listen_fd[i] >= 0)
            close(gw_listen_fd[i]);
        gw_listen_source[i] = 0;
        gw_listen_fd[i] = -1;
    }
}

/* A stopping worker takes no new connection (its listen socket closes, the kernel gives new
 * ones to the others) and waits, bounded, for the transactions it has in flight. */
static gboolean gw_workers_drain_check(gpointer unused)
{
    static int ticks;
    (void)unused;
    if (proxy_active() == 0 || ++ticks >= GW_WORKERS_DRAIN_S * 10) {
        gw_evloop_stop();
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

void gw_workers_drain(void)
{
    static int draining;
    if (gw_count == 1 || draining) {
        gw_evloop_stop();
        return;
    }
    draining = 1;
    log_info("draining: %u transactions in flight", proxy_active());
    gw_workers_unlisten();
    g_timeout_add(100, gw_workers_drain_check, NULL);
}
