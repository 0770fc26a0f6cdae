/* reg_load: a REGISTER load client over SIP WebSocket (RFC 7118) for `make bench`.
 *
 *   reg_load --url ws://127.0.0.1:8080/sip --tokens FILE --connections N
 *            [--duration S] [--mode rate|idle|open] [--rate R] [--warmup W]
 *
 * rate: every connection REGISTERs, waits for the final response, and REGISTERs again on the
 *       same Call-ID (a closed loop); after a one-second warm-up it counts responses for S
 *       seconds and prints REGISTER/s and latency percentiles.
 * open: open loop at a fixed arrival rate of R REGISTERs/s (all connections together): the k-th
 *       REGISTER is due at start + k/R whatever happened to the earlier ones and goes out on the
 *       next connection with none outstanding; its latency counts from that intended time, so
 *       a stall is measured in full instead of hidden by sending less (coordinated omission).
 *       Needs enough connections for the rate; the largest backlog is printed. The sends come
 *       from a thread of their own (open_sender) so that they keep time; see there. One due in
 *       the counted window but not sent, or not answered, by 5 s after it (the drain) is a
 *       failure (printed apart as unsent and unanswered). --warmup W:
 *       W seconds at the same rate before the counted S (default 1), so that the transient of
 *       N fresh registrations (each followed by the gateway's reg-event SUBSCRIBE to the core)
 *       has passed and the run measures the steady state.
 * idle: every connection registers once, then stays open and silent; prints "registered N"
 *       and keeps the connections until S seconds pass (the caller measures the gateway). A 503
 *       with Retry-After is retried after that many seconds (at most REG_MAX_RETRIES times), as
 *       a client in a registration storm should; only other answers count as failures.
 *       --churn P: while idle, P % of the connections per minute close and connect again (each
 *       with a new REGISTER, its token as before); printed: reconnections, failures, and how
 *       many are registered at the end (once the reconnects under way have finished).
 * --max-pending N: at most N connections being opened or registered at once (a ramp);
 *   --connect-timeout S: the connect phase ends after S seconds (default duration + 60).
 * Line i of FILE is the access token of user i (IMPU sip:bench<i>@ims.test). Loopback only,
 * bounded in connections and time; one event loop (libev, epoll), plus the open loop's sender. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>
#include <libwebsockets.h>

#include "bench_util.h"

#define REG_MAX_CONN 20000
#define REG_MAX_SAMPLES 4000000
#define REG_MAX_RETRIES 10
#define REG_BACKLOG (1u << 20) /* open loop: REGISTERs due but not yet sent */
#define REG_CHURN_SETTLE_S 15  /* churn: the longest wait for reconnects under way at the end */

struct reg_conn {
    struct lws *wsi;
    int idx;
    unsigned cseq;
    uint64_t sent_ns;
    int waiting; /* a REGISTER is out */
    int registered;
    int failed;           /* counted in nclosed already */
    uint64_t intended_ns; /* open loop: when its last REGISTER was due (the sender's, atomic) */
    int send_fd;          /* open loop: its socket, for the sender; -1 once lost (free_mu) */
    int open_out;         /* open loop: a REGISTER of the sender's is unanswered (free_mu) */
    uint64_t retry_at_ns; /* idle: when to retry after a 503 with Retry-After; 0 = none */
    int retries;
    int churning; /* idle + churn: closed on purpose, to connect and register again */
    char *rx;
    size_t rx_len;
};

static struct reg_conn conns[REG_MAX_CONN];
static char **tokens;
static int ntokens, nconn = 10, duration = 5, warmup = 1, idle_mode, open_mode;
static double rate;       /* open loop: REGISTERs per second */
static uint64_t *backlog; /* open loop: intended send times, a ring (the sender's own) */
static unsigned backlog_head, backlog_len, backlog_max;
static int *free_conns, nfree;  /* open loop: registered connections with nothing outstanding */
static pthread_mutex_t free_mu; /* free_conns, nfree, send_fd, open_*; priority inheritance */
static uint64_t nretried;
static double churn; /* idle: percent of the connections that reconnect per minute */
static uint64_t nchurned, nchurn_failed;
static const char *url = "ws://127.0.0.1:8080/sip";
static char host[128], path[128];
static int max_pending;     /* --max-pending N: at most N connections opened, not yet registered */
static int connect_timeout; /* --connect-timeout S: bound of the connect phase (duration + 60) */
static int first_user;      /* --first N: connection i is user bench<N + i> with token line N + i */
static int nsources;        /* --sources N: connection i binds 127.0.0.(2 + i % N), for > 28,000 */
static char sources[64][24];
static int port;
static uint64_t *samples;
static size_t nsamples;
static uint64_t t_start_ns, t_measure_ns, t_end_ns, ok_count, fail_count;
static int nregistered, nclosed;
static volatile sig_atomic_t stop;

/* The loop: libev, which libwebsockets runs on (LWS_SERVER_OPTION_LIBEV, a foreign loop).
 * run_until(done) runs it until done() (asked before each wait, and at least every 10 ms for
 * the conditions that are deadlines) or a signal. */
static struct ev_loop *loop;
static ev_prepare run_prepare;
static ev_timer run_tick;
static int (*run_done)(void);

static void on_run_prepare(struct ev_loop *l, ev_prepare *w, int revents)
{
    if (stop || run_done())
        ev_break(l, EVBREAK_ALL);
}

static void on_run_tick(struct ev_loop *l, ev_timer *w, int revents)
{
    /* only wakes the loop, for the prepare above */
}

static void run_until(int (*done)(void))
{
    run_done = done;
    if (stop || done())
        return;
    ev_prepare_start(loop, &run_prepare);
    ev_timer_again(loop, &run_tick);
    ev_run(loop, 0);
    ev_prepare_stop(loop, &run_prepare);
    ev_timer_stop(loop, &run_tick);
}

/* The next REGISTER of connection c into p (size bytes); its length, or -1 if it did not fit. */
static int reg_format(struct reg_conn *c, char *p, size_t size)
{
    int n = snprintf(p, size,
                     "REGISTER sip:ims.test SIP/2.0\r\n"
                     "Via: SIP/2.0/WS b%d.invalid;branch=z9hG4bK-b%d-%u\r\n"
                     "Max-Forwards: 70\r\n"
                     "From: <sip:bench%d@ims.test>;tag=t%d\r\n"
                     "To: <sip:bench%d@ims.test>\r\n"
                     "Call-ID: bench-%d-%d\r\n"
                     "CSeq: %u REGISTER\r\n"
                     "Contact: <sip:b%d@b%d.invalid;transport=ws>;+sip.instance=\"<urn:uuid:"
                     "00000000-0000-4000-8000-%012d>\";reg-id=1\r\n"
                     "Supported: path, outbound, gruu\r\n"
                     "Authorization: Bearer %s\r\n"
                     "Expires: 600\r\n\r\n",
                     c->idx, c->idx, c->cseq, c->idx, c->idx, c->idx, c->idx, (int)getpid(),
                     c->cseq, c->idx, c->idx, c->idx, tokens[c->idx % ntokens]);
    if (n < 0 || (size_t)n >= size)
        return -1;
    c->cseq++;
    return n;
}

static int reg_send(struct reg_conn *c)
{
    char msg[LWS_PRE + 4096];
    char *p = msg + LWS_PRE;
    int n = reg_format(c, p, sizeof(msg) - LWS_PRE);
    if (n < 0)
        return -1;
    c->sent_ns = now_ns();
    c->waiting = 1;
    return lws_write(c->wsi, (unsigned char *)p, (size_t)n, LWS_WRITE_TEXT) < n ? -1 : 0;
}

/* Retries after 503 + Retry-After, looked for every 50 ms (a timer: the loop sleeps until the
 * next event, and an idle storm has none). */
static struct lws_context *retry_ctx;
static lws_sorted_usec_list_t retry_sul;

static void retry_tick(lws_sorted_usec_list_t *sul)
{
    uint64_t now = now_ns();
    for (int i = 0; i < nconn; i++)
        if (conns[i].retry_at_ns && conns[i].retry_at_ns <= now && conns[i].wsi) {
            conns[i].retry_at_ns = 0;
            lws_callback_on_writable(conns[i].wsi);
        }
    lws_sul_schedule(retry_ctx, 0, sul, retry_tick, 50000);
}

/* Churn: the connections due to go since the idle period began are closed one after the other
 * (round robin over the registered ones) and connected again on the next tick. */
static lws_sorted_usec_list_t churn_sul;
static uint64_t churn_t0;
static int churn_next;
static int churn_closing; /* 0 once the period is over: reconnects finish, none starts */
static int reg_connect(struct lws_context *ctx, int i);

/* A connection churn_tick() is closing (1) or has closed and not yet reconnected (2): it still
 * counts in nregistered until its reconnect starts, so the count alone would look settled. */
static int churn_under_way(void)
{
    for (int i = 0; i < nconn; i++)
        if (conns[i].churning)
            return 1;
    return 0;
}

static void churn_tick(lws_sorted_usec_list_t *sul)
{
    for (int i = 0; i < nconn; i++)
        if (conns[i].churning == 2) {
            conns[i].churning = 0;
            conns[i].registered = 0;
            conns[i].waiting = 0;
            nregistered--;
            if (reg_connect(retry_ctx, i) < 0)
                nchurn_failed++;
        }
    uint64_t due = (uint64_t)((double)(now_ns() - churn_t0) / 60e9 * churn / 100 * nconn);
    for (int tries = 0; churn_closing && nchurned < due && tries < nconn; tries++) {
        struct reg_conn *c = &conns[churn_next];
        churn_next = (churn_next + 1) % nconn;
        if (!c->registered || c->churning || !c->wsi)
            continue;
        c->churning = 1;
        nchurned++;
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    lws_sul_schedule(retry_ctx, 0, sul, churn_tick, 100000);
}

/* Open loop. The REGISTERs are sent by a thread of their own, open_sender(), not by the event
 * loop: sharing one core with the stub (latency-bench), a single-threaded tool ran stretches of
 * 2-7 ms working through a burst of answers before its timer could fire, and even at SCHED_FIFO
 * fell 16-71 REGISTERs behind the rate; those then reached the gateway as one burst, and the
 * gateway's p99 measured the tool (docs/benchmarks.md, session 13). The sender sleeps until the
 * next REGISTER is due, asks for SCHED_FIFO 1 so that its wake-up preempts the stub and the
 * answer-reading loop, and writes the frame to the socket itself: libwebsockets is not
 * thread-safe, so the sender frames and masks the WebSocket message (RFC 6455 section 5.2, a few
 * lines) and send()s it, holding free_mu, so that the loop thread cannot lose the connection
 * (and lws close its socket) meanwhile. The loop thread's own writes on these sockets are whole
 * control frames (a pong, a close), each one send() that does not interleave with another; a
 * short send (a full socket buffer, which one small REGISTER at a time does not reach) cuts the
 * stream, so that connection gets nothing more and the REGISTER counts as failed. The loop
 * thread reads the answers and hands connections back (open_answered). */
static uint64_t open_t0;
static pthread_t open_thread;
static pthread_cond_t open_cond; /* a connection came free while the sender waits for one */
static int open_fifo;            /* the sender got SCHED_FIFO */
static uint64_t open_send_failed, open_unsent, open_unanswered;
static int open_starved;     /* the sender has REGISTERs due and no free connection (free_mu) */
static int open_outstanding; /* sent by the sender, not yet answered (free_mu) */
static int open_done;        /* every REGISTER due before t_end_ns was sent (free_mu) */

/* The k-th REGISTER's intended time. */
static uint64_t open_due(uint64_t k)
{
    return open_t0 + (uint64_t)((double)k * 1e9 / rate);
}

/* Under free_mu: c is free for the sender. */
static void open_free_locked(struct reg_conn *c)
{
    free_conns[nfree++] = (int)(c - conns);
    if (open_starved)
        pthread_cond_signal(&open_cond);
}

/* c has just registered (the connect phase's REGISTER): the sender may use it. */
static void open_register(struct reg_conn *c)
{
    pthread_mutex_lock(&free_mu);
    c->send_fd = lws_get_socket_fd(c->wsi);
    open_free_locked(c);
    pthread_mutex_unlock(&free_mu);
}

/* The final answer on c: if it answers the sender's REGISTER, c is free again (an answer
 * nobody asked for frees nothing). */
static void open_answered(struct reg_conn *c)
{
    pthread_mutex_lock(&free_mu);
    if (c->open_out) {
        c->open_out = 0;
        open_outstanding--;
        open_free_locked(c);
    }
    pthread_mutex_unlock(&free_mu);
}

/* c is lost (closed): the sender must not use its socket, nor wait for its answer. */
static void open_lost(struct reg_conn *c)
{
    pthread_mutex_lock(&free_mu);
    c->send_fd = -1;
    if (c->open_out) {
        c->open_out = 0;
        open_outstanding--;
    }
    for (int i = 0; i < nfree; i++)
        if (free_conns[i] == (int)(c - conns)) {
            free_conns[i] = free_conns[--nfree];
            break;
        }
    pthread_mutex_unlock(&free_mu);
}

static int open_finished(void)
{
    pthread_mutex_lock(&free_mu);
    int done = open_done && open_outstanding == 0;
    pthread_mutex_unlock(&free_mu);
    return done;
}

/* One masked client text frame (RFC 6455 5.2) holding c's next REGISTER, sent on fd: 0 sent,
 * 1 nothing sent (the socket buffer is full: try again), -1 failed (the stream may be cut).
 * The masking key need not be unpredictable here (it guards intermediaries' caches; this is a
 * loopback bench), but it varies, so the server unmasks real data. */
static int open_send(struct reg_conn *c, int fd, uint64_t intended, uint32_t *key_state)
{
    unsigned char frame[8 + 4096];
    unsigned cseq = c->cseq;
    int n = reg_format(c, (char *)frame + 8, sizeof(frame) - 8);
    if (n < 0 || n > 65535)
        return -1;
    *key_state ^= *key_state << 13, *key_state ^= *key_state >> 17, *key_state ^= *key_state << 5;
    unsigned char key[4] = {(unsigned char)(*key_state >> 24), (unsigned char)(*key_state >> 16),
                            (unsigned char)(*key_state >> 8), (unsigned char)*key_state};
    frame[0] = 0x81; /* FIN, text */
    frame[1] = 0x80 | 126;
    frame[2] = (unsigned char)(n >> 8);
    frame[3] = (unsigned char)n;
    memcpy(frame + 4, key, 4);
    for (int i = 0; i < n; i++)
        frame[8 + i] ^= key[i & 3];
    __atomic_store_n(&c->sent_ns, now_ns(), __ATOMIC_RELAXED);
    __atomic_store_n(&c->intended_ns, intended, __ATOMIC_RELEASE);
    ssize_t w;
    do
        w = send(fd, frame, (size_t)n + 8, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        c->cseq = cseq; /* not sent: the same CSeq next time */
        return 1;
    }
    return w == n + 8 ? 0 : -1;
}

static void *open_sender(void *arg)
{
    struct sched_param sp = {.sched_priority = 1};
    open_fifo = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp) == 0;
    uint32_t key_state = (uint32_t)getpid() | 1u;
    uint64_t k = 0;
    pthread_mutex_lock(&free_mu);
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        uint64_t now = now_ns();
        /* every REGISTER due by now, up to the end of the window */
        while (open_due(k) <= now && open_due(k) < t_end_ns && backlog_len < REG_BACKLOG) {
            backlog[(backlog_head + backlog_len++) % REG_BACKLOG] = open_due(k++);
            if (backlog_len > backlog_max)
                backlog_max = backlog_len;
        }
        while (backlog_len && nfree) {
            struct reg_conn *c = &conns[free_conns[--nfree]]; /* live: open_lost takes it out */
            int r = open_send(c, c->send_fd, backlog[backlog_head], &key_state);
            if (r == 1) {
                free_conns[nfree++] = (int)(c - conns);
                break; /* again in at most 1 ms */
            }
            if (r == 0) {
                c->open_out = 1;
                open_outstanding++;
            } else {
                c->send_fd = -1;
                if (open_send_failed++ < 3)
                    fprintf(stderr, "reg_load: connection %d: a REGISTER could not be sent\n",
                            c->idx);
            }
            backlog_head = (backlog_head + 1) % REG_BACKLOG;
            backlog_len--;
        }
        int all_queued = open_due(k) >= t_end_ns;
        if (all_queued && !backlog_len) {
            open_done = 1;
            break;
        }
        /* until the next REGISTER is due; with some waiting for a connection, until one comes
         * free (open_free_locked signals) or 1 ms has passed */
        uint64_t next = all_queued ? UINT64_MAX : open_due(k);
        if (backlog_len && (next <= now || next > now + 1000000))
            next = now + 1000000;
        struct timespec ts = {(time_t)(next / 1000000000ull), (long)(next % 1000000000ull)};
        open_starved = backlog_len > 0;
        pthread_cond_timedwait(&open_cond, &free_mu, &ts);
        open_starved = 0;
    }
    /* due in the counted window and never sent (the drain was cut short): failures, not
     * omissions */
    for (unsigned i = 0; i < backlog_len; i++)
        open_unsent += backlog[(backlog_head + i) % REG_BACKLOG] >= t_measure_ns;
    for (; open_due(k) < t_end_ns; k++)
        open_unsent += open_due(k) >= t_measure_ns;
    pthread_mutex_unlock(&free_mu);
    return NULL;
}

static void reg_on_response(struct reg_conn *c, const char *text, size_t len)
{
    if (len < 12 || strncmp(text, "SIP/2.0 ", 8) != 0)
        return;
    int status = atoi(text + 8);
    if (status < 200)
        return;
    uint64_t t = now_ns();
    c->waiting = 0;
    const char *ra = strcasestr(text, "\r\nRetry-After:");
    if (idle_mode && status == 503 && ra && !c->registered && c->retries < REG_MAX_RETRIES) {
        c->retries++;
        nretried++;
        c->retry_at_ns = t + (uint64_t)atoi(ra + 14) * 1000000000ull;
        return;
    }
    /* open loop: counted by when the REGISTER was due, latency from then */
    uint64_t intended = __atomic_load_n(&c->intended_ns, __ATOMIC_ACQUIRE);
    uint64_t from =
        open_mode && intended ? intended : __atomic_load_n(&c->sent_ns, __ATOMIC_RELAXED);
    uint64_t when = open_mode ? from : t;
    int counted = when >= t_measure_ns && t_measure_ns && (!t_end_ns || when < t_end_ns);
    if (open_mode && c->registered)
        open_answered(c);
    if (status == 200) {
        if (!c->registered) {
            c->registered = 1;
            nregistered++;
            if (open_mode)
                open_register(c);
        }
        if (counted) {
            ok_count++;
            if (nsamples < REG_MAX_SAMPLES)
                samples[nsamples++] = t - from;
        }
    } else {
        if (!c->registered && !c->failed) { /* idle mode: this connection is done, unregistered */
            c->failed = 1;
            nclosed++;
        }
        fail_count++;
        if (fail_count <= 3)
            fprintf(stderr, "reg_load: connection %d got %d\n", c->idx, status);
    }
    if (!idle_mode && !open_mode && !stop)
        lws_callback_on_writable(c->wsi);
}

/* A connection that failed or that the server closed: no longer registered, and its wsi is gone
 * (churn and retries must not touch it). */
static void reg_lost(struct reg_conn *c)
{
    if (!c || !c->failed)
        nclosed++;
    if (!c)
        return;
    if (open_mode)
        open_lost(c);
    c->failed = 1;
    c->wsi = NULL;
    c->retry_at_ns = 0;
    if (c->registered) {
        c->registered = 0;
        nregistered--;
    }
}

static int reg_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
    struct reg_conn *c = lws_get_opaque_user_data(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c || c->waiting || stop)
            return 0;
        if ((!idle_mode && !open_mode) || (!c->registered && !c->retry_at_ns))
            return reg_send(c);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        char *rx = realloc(c->rx, c->rx_len + len + 1);
        if (!rx)
            return -1;
        c->rx = rx;
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
        if (lws_is_final_fragment(wsi)) {
            c->rx[c->rx_len] = '\0';
            reg_on_response(c, c->rx, c->rx_len);
            c->rx_len = 0;
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        fprintf(stderr, "reg_load: connection %d failed: %s\n", c ? c->idx : -1,
                in ? (char *)in : "");
        reg_lost(c);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c && c->churning) { /* reconnected by churn_tick(), not from inside lws */
            c->churning = 2;
            c->wsi = NULL;
            return 0;
        }
        if (c && !stop)
            fprintf(stderr, "reg_load: connection %d failed: closed by the server\n", c->idx);
        reg_lost(c);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols reg_protocols[] = {
    {"sip", reg_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static int reg_connect(struct lws_context *ctx, int i)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = ctx;
    ci.address = host;
    ci.port = port;
    ci.path = path;
    ci.host = host;
    ci.origin = NULL;
    ci.protocol = "sip";
    if (nsources)
        ci.iface = sources[i % nsources];
    ci.opaque_user_data = &conns[i];
    ci.pwsi = &conns[i].wsi;
    conns[i].idx = first_user + i;
    conns[i].send_fd = -1;
    if (!conns[i].cseq) /* a reconnect goes on with the same Call-ID: CSeq keeps rising */
        conns[i].cseq = 1;
    return lws_client_connect_via_info(&ci) ? 0 : -1;
}

#define PCT(q) (nsamples ? (double)samples[(size_t)((double)(nsamples - 1) * (q))] / 1e6 : 0.0)

static void on_signal(int sig)
{
    stop = 1;
}

static int load_tokens(const char *file)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return -1;
    char line[8192];
    int cap = 0;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        if (ntokens == cap) {
            cap = cap ? cap * 2 : 1024;
            tokens = realloc(tokens, (size_t)cap * sizeof(*tokens));
        }
        tokens[ntokens++] = strdup(line);
    }
    fclose(f);
    return ntokens ? 0 : -1;
}

/* What each phase of main() runs the loop until (run_until). */
static int opened;
static uint64_t run_deadline, settle_until, drain_until;

/* Connect phase: opens connections in batches of 200 per loop turn, so the accept queue does not
 * overflow; with --max-pending, clients arrive as fast as the server takes them in (a ramp, not a
 * storm: none waits out its handshake timeout in the server's accept queue). */
static int connect_done(void)
{
    if (now_ns() >= run_deadline)
        return 1;
    for (int b = 0; b < 200 && opened < nconn &&
                    (!max_pending || opened - nregistered - nclosed < max_pending);
         b++)
        if (reg_connect(retry_ctx, opened++) < 0)
            nclosed++;
    return opened == nconn && nregistered + nclosed >= nconn;
}

static int deadline_passed(void)
{
    return now_ns() >= run_deadline;
}

static int churn_settled(void)
{
    return now_ns() >= settle_until || !(nregistered + nclosed < nconn || churn_under_way());
}

static int open_drained(void)
{
    uint64_t now = now_ns();
    return now >= drain_until || open_finished();
}

int main(int argc, char **argv)
{
    const char *token_file = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--url"))
            url = argv[i + 1];
        else if (!strcmp(argv[i], "--tokens"))
            token_file = argv[i + 1];
        else if (!strcmp(argv[i], "--connections"))
            nconn = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--duration"))
            duration = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup"))
            warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mode")) {
            idle_mode = !strcmp(argv[i + 1], "idle");
            open_mode = !strcmp(argv[i + 1], "open");
        } else if (!strcmp(argv[i], "--churn"))
            churn = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--rate"))
            rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--first"))
            first_user = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sources"))
            nsources = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-pending"))
            max_pending = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--connect-timeout"))
            connect_timeout = atoi(argv[i + 1]);
    }
    if (!connect_timeout)
        connect_timeout = duration + 60;
    if (!token_file || load_tokens(token_file) < 0 || nconn < 1 || nconn > REG_MAX_CONN ||
        duration < 1 || duration > 600 || warmup < 1 || warmup > 60 || nsources < 0 ||
        nsources > 64 || first_user < 0 || max_pending < 0 || connect_timeout < 1 ||
        connect_timeout > 900 || (open_mode && !(rate >= 1 && rate <= 1e6))) {
        fprintf(stderr, "usage: reg_load --url ws://127.0.0.1:PORT/sip --tokens FILE "
                        "--connections 1..20000 [--duration 1..600] [--mode rate|idle|open] "
                        "[--rate 1..1000000 (open)] [--sources 1..64] [--first N] "
                        "[--max-pending N] [--connect-timeout 1..900] [--warmup 1..60 (open)]\n");
        return 2;
    }
    char buf[256];
    const char *prot, *a, *p;
    snprintf(buf, sizeof(buf), "%s", url);
    if (lws_parse_uri(buf, &prot, &a, &port, &p) || strncmp(a, "127.", 4) != 0) {
        fprintf(stderr, "reg_load: only ws://127.x.x.x URLs (loopback) are allowed\n");
        return 2;
    }
    snprintf(host, sizeof(host), "%s", a);
    snprintf(path, sizeof(path), "/%s", p);
    for (int i = 0; i < nsources; i++)
        snprintf(sources[i], sizeof(sources[i]), "127.0.0.%d", 2 + i);
    pthread_mutexattr_t mu_attr; /* the sender (SCHED_FIFO) must not wait on a preempted holder */
    pthread_mutexattr_init(&mu_attr);
    pthread_mutexattr_setprotocol(&mu_attr, PTHREAD_PRIO_INHERIT);
    pthread_mutex_init(&free_mu, &mu_attr);
    pthread_condattr_t cond_attr; /* timed waits on the clock open_due() counts in */
    pthread_condattr_init(&cond_attr);
    pthread_condattr_setclock(&cond_attr, CLOCK_MONOTONIC);
    pthread_cond_init(&open_cond, &cond_attr);
    samples = malloc(REG_MAX_SAMPLES * sizeof(*samples));
    backlog = malloc(REG_BACKLOG * sizeof(*backlog));
    free_conns = malloc(REG_MAX_CONN * sizeof(*free_conns));
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    lws_set_log_level(LLL_ERR, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = reg_protocols;
    /* No fd_limit_per_thread below RLIMIT_NOFILE: libwebsockets 4.1 then finds the connection of
     * each ready fd by walking its whole table (its "slow fds handling"), which cost more than
     * the protocol at 20,000 connections. The caller raises ulimit -n instead. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < (rlim_t)nconn + 64) {
        fprintf(stderr, "reg_load: ulimit -n must be at least %d for %d connections\n", nconn + 64,
                nconn);
        return 2;
    }
    info.timeout_secs = 30;
    loop = ev_loop_new(EVBACKEND_EPOLL);
    if (!loop) {
        fprintf(stderr, "reg_load: cannot create the event loop\n");
        return 1;
    }
    ev_prepare_init(&run_prepare, on_run_prepare);
    ev_init(&run_tick, on_run_tick);
    run_tick.repeat = 0.01;
    void *foreign_loops[] = {loop};
    info.options |= LWS_SERVER_OPTION_LIBEV;
    info.foreign_loops = foreign_loops;
    struct lws_context *ctx = lws_create_context(&info);
    if (!ctx)
        return 1;
    t_start_ns = now_ns();
    run_deadline = t_start_ns + (uint64_t)connect_timeout * 1000000000ull;
    retry_ctx = ctx;
    lws_sul_schedule(ctx, 0, &retry_sul, retry_tick, 50000);
    run_until(connect_done);
    lws_sul_cancel(&retry_sul);
    if (idle_mode) {
        printf("registered %d of %d (%llu REGISTERs failed, %llu retried after 503 + "
               "Retry-After)\n",
               nregistered, nconn, (unsigned long long)fail_count, (unsigned long long)nretried);
        fflush(stdout);
        run_deadline = now_ns() + (uint64_t)duration * 1000000000ull;
        uint64_t fail_before = fail_count;
        if (churn > 0) {
            churn_t0 = now_ns();
            churn_closing = 1;
            lws_sul_schedule(ctx, 0, &retry_sul, retry_tick, 50000);
            lws_sul_schedule(ctx, 0, &churn_sul, churn_tick, 100000);
        }
        run_until(deadline_passed);
        if (churn > 0) {
            /* The period is over: no new closes, and the reconnects under way finish (bounded),
             * so "registered at the end" counts the clients, not the reconnects in flight at one
             * instant (about churn/60 s of them). */
            churn_closing = 0;
            settle_until = now_ns() + REG_CHURN_SETTLE_S * 1000000000ull;
            run_until(churn_settled);
            lws_sul_cancel(&churn_sul);
            lws_sul_cancel(&retry_sul);
            printf("churn %.0f %%/min: %llu reconnected, %llu REGISTERs failed meanwhile, %llu "
                   "reconnects failed; registered at the end %d of %d\n",
                   churn, (unsigned long long)nchurned,
                   (unsigned long long)(fail_count - fail_before),
                   (unsigned long long)nchurn_failed, nregistered, nconn);
            fflush(stdout);
        }
    } else if (open_mode) {
        open_t0 = now_ns();
        t_measure_ns = open_t0 + (uint64_t)warmup * 1000000000ull; /* warm-up at the same rate */
        /* a caller reading the gateway's own histogram starts its window warmup s after this */
        printf("open loop started\n");
        fflush(stdout);
        t_end_ns = t_measure_ns + (uint64_t)duration * 1000000000ull;
        drain_until = t_end_ns + 5000000000ull;
        sigset_t all, old; /* signals go to the loop thread */
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        int started = pthread_create(&open_thread, NULL, open_sender, NULL) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!started) {
            fprintf(stderr, "reg_load: cannot start the sender thread\n");
            return 1;
        }
        run_until(open_drained);
        __atomic_store_n(&stop, 1, __ATOMIC_RELAXED); /* the sender is done unless cut short */
        pthread_mutex_lock(&free_mu);
        pthread_cond_signal(&open_cond);
        pthread_mutex_unlock(&free_mu);
        pthread_join(open_thread, NULL);
        /* sent in the counted window and still unanswered when the drain ended: failures */
        for (int i = 0; i < nconn; i++)
            open_unanswered += conns[i].open_out && conns[i].intended_ns >= t_measure_ns &&
                               conns[i].intended_ns < t_end_ns;
        fail_count += open_send_failed + open_unsent + open_unanswered;
        qsort(samples, nsamples, sizeof(*samples), cmp_u64);
        printf("connections=%d mode=open rate=%.0f registers_per_s=%.0f p50_ms=%.2f p90_ms=%.2f "
               "p99_ms=%.2f max_ms=%.2f failures=%llu backlog_max=%u sender=%s unsent=%llu "
               "unanswered=%llu\n",
               nconn, rate, (double)ok_count / duration, PCT(0.5), PCT(0.9), PCT(0.99), PCT(1.0),
               (unsigned long long)fail_count, backlog_max, open_fifo ? "fifo" : "normal",
               (unsigned long long)open_unsent, (unsigned long long)open_unanswered);
    } else {
        t_measure_ns = now_ns() + 1000000000ull;
        t_end_ns = t_measure_ns + (uint64_t)duration * 1000000000ull;
        run_deadline = t_end_ns;
        run_until(deadline_passed);
        qsort(samples, nsamples, sizeof(*samples), cmp_u64);
        printf("connections=%d registers_per_s=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f "
               "max_ms=%.2f failures=%llu\n",
               nconn, (double)ok_count / duration, PCT(0.5), PCT(0.9), PCT(0.99), PCT(1.0),
               (unsigned long long)fail_count);
    }
    stop = 1; /* the closes below are ours, not the server's */
    lws_context_destroy(ctx);
    ev_loop_destroy(loop);
    return 0;
}
