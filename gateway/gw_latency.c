#include "gw_latency.h"

#include "gw_fdgen.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static const uint64_t gw_lat_bounds_us[GW_LAT_BUCKETS - 1] = {GW_LAT_BOUNDS_US};
_Static_assert(sizeof(gw_lat_bounds_us) / sizeof(gw_lat_bounds_us[0]) == GW_LAT_BUCKETS - 1,
               "GW_LAT_BUCKETS must be the number of bounds plus one");

static const char *const gw_lat_leg_names[GW_LAT_LEGS] = {"request", "response", "total",
                                                          "admission"};

int64_t gw_lat_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void gw_lat_observe(struct gw_lat_hist *h, int64_t ns)
{
    if (ns < 0) /* the realtime clock stepped back between the two stamps */
        ns = 0;
    int i = 0;
    /* bucket i holds (bound[i-1], bound[i]]: a value equal to a bound belongs below it */
    while (i < GW_LAT_BUCKETS - 1 && (uint64_t)ns > gw_lat_bounds_us[i] * 1000)
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum_ns += (uint64_t)ns;
}

void gw_lat_finish(struct gw_lat_hist *h, const struct gw_lat_mark *m, int64_t written_ns)
{
    if (!m->rx_ns || !m->sent_ns || !m->trunk_ns)
        return;
    int64_t admit = m->admit_ns < 0 ? 0 : m->admit_ns;
    int64_t req = m->sent_ns - m->rx_ns - admit, rsp = written_ns - m->trunk_ns;
    req = req < 0 ? 0 : req;
    rsp = rsp < 0 ? 0 : rsp;
    gw_lat_observe(&h[GW_LAT_REQUEST], req);
    gw_lat_observe(&h[GW_LAT_RESPONSE], rsp);
    gw_lat_observe(&h[GW_LAT_TOTAL], req + rsp);
    gw_lat_observe(&h[GW_LAT_ADMISSION], admit);
}

size_t gw_lat_render(const struct gw_lat_hist *h, char *buf, size_t len)
{
    size_t used = 0;
#define GW_LAT_PUT(...)                                                                            \
    do {                                                                                           \
        int n_ = used < len ? snprintf(buf + used, len - used, __VA_ARGS__) : 0;                   \
        if (n_ > 0)                                                                                \
            used += (size_t)n_ < len - used ? (size_t)n_ : len - used - 1;                         \
    } while (0)
    if (!len)
        return 0;
    buf[0] = '\0';
    GW_LAT_PUT("# HELP imsgw_register_gateway_seconds Time a REGISTER spent in the gateway, "
               "from kernel receive timestamps: leg=request (WebSocket in to trunk out), "
               "response (trunk in to WebSocket out), total (both; the core's time excluded), "
               "admission (waited for a place towards the core, register-inflight-max; not "
               "in request or total).\n"
               "# TYPE imsgw_register_gateway_seconds histogram\n");
    for (int l = 0; l < GW_LAT_LEGS; l++) {
        uint64_t cum = 0;
        for (int i = 0; i < GW_LAT_BUCKETS; i++) {
            cum += h[l].bucket[i];
            if (i < GW_LAT_BUCKETS - 1)
                GW_LAT_PUT("imsgw_register_gateway_seconds_bucket{leg=\"%s\",le=\"%g\"} %" PRIu64
                           "\n",
                           gw_lat_leg_names[l], (double)gw_lat_bounds_us[i] / 1e6, cum);
            else
                GW_LAT_PUT("imsgw_register_gateway_seconds_bucket{leg=\"%s\",le=\"+Inf\"} %" PRIu64
                           "\n",
                           gw_lat_leg_names[l], cum);
        }
        GW_LAT_PUT("imsgw_register_gateway_seconds_sum{leg=\"%s\"} %.9f\n", gw_lat_leg_names[l],
                   (double)h[l].sum_ns / 1e9);
        GW_LAT_PUT("imsgw_register_gateway_seconds_count{leg=\"%s\"} %" PRIu64 "\n",
                   gw_lat_leg_names[l], h[l].count);
    }
#undef GW_LAT_PUT
    return used;
}

double gw_lat_quantile(const struct gw_lat_hist *h, double q)
{
    if (!h->count)
        return -1;
    double rank = q * (double)h->count, cum = 0;
    for (int i = 0; i < GW_LAT_BUCKETS; i++) {
        double lo = i ? (double)gw_lat_bounds_us[i - 1] / 1e6 : 0;
        if (i == GW_LAT_BUCKETS - 1)
            return lo; /* in +Inf: the largest finite bound is all that is known */
        double hi = (double)gw_lat_bounds_us[i] / 1e6, n = (double)h->bucket[i];
        if (n > 0 && cum + n >= rank)
            return lo + (hi - lo) * (rank - cum) / n;
        cum += n;
    }
    return -1;
}

/* The last timestamped read of this thread (the loop's; other threads keep their own). */
static __thread int gw_lat_last_fd = -1;
static __thread int64_t gw_lat_last_ns;
static __thread int64_t gw_lat_last_trunk_ns;

/* The generation (gw_fdgen) + 1 at which each descriptor's socket was asked for SO_TIMESTAMPNS;
 * 0: never. A read may still come without a timestamp (bytes queued before the option, a socket
 * kind that has none): asking again would change nothing and cost a system call per read. A
 * close() moves the generation on, so a new socket that gets the same number is asked again. A
 * descriptor gw_fdgen does not track is asked at every such read. Atomic: helper threads read
 * sockets too. */
static uint32_t gw_lat_asked_at[GW_FDGEN_MAX];

/* Notes fd as asked; 1 when its socket already was. */
static int gw_lat_ask_once(int fd)
{
    uint32_t gen = gw_fdgen(fd);
    if (gen == GW_FDGEN_UNKNOWN)
        return 0;
    uint32_t *a = &gw_lat_asked_at[fd];
    if (__atomic_load_n(a, __ATOMIC_RELAXED) == gen + 1)
        return 1;
    __atomic_store_n(a, gen + 1, __ATOMIC_RELAXED);
    return 0;
}

/* One read with the kernel's receive timestamp asked for; *ns = 0 when none came (then the
 * option is switched on for the socket, once, for its next segments). */
static ssize_t gw_lat_read(int fd, struct msghdr *m, int flags, int64_t *ns)
{
    union {
        char buf[CMSG_SPACE(sizeof(struct timespec)) + 64];
        struct cmsghdr align;
    } ctl;
    void *their_ctl = m->msg_control;
    size_t their_len = m->msg_controllen;
    m->msg_control = ctl.buf;
    m->msg_controllen = sizeof(ctl.buf);
    ssize_t n = syscall(SYS_recvmsg, fd, m, flags);
    int saved = errno;
    *ns = 0;
    if (n > 0)
        for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof(ts));
                *ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
            }
    m->msg_control = their_ctl;
    m->msg_controllen = their_len;
    m->msg_flags &= ~MSG_CTRUNC;
    if (n > 0 && !*ns && !gw_lat_ask_once(fd)) {
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof(on));
    }
    errno = saved;
    return n;
}

ssize_t gw_lat_recv(int fd, void *buf, size_t len, int flags)
{
    struct iovec iov = {buf, len};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    int64_t ns;
    ssize_t n = gw_lat_read(fd, &m, flags, &ns);
    if (n > 0 && !(flags & MSG_PEEK)) {
        gw_lat_last_fd = fd;
        gw_lat_last_ns = ns ? ns : gw_lat_now_ns();
    }
    return n;
}

int64_t gw_lat_rx_ns(int fd)
{
    return fd == gw_lat_last_fd && gw_lat_last_ns ? gw_lat_last_ns : gw_lat_now_ns();
}

int64_t gw_lat_trunk_ns(void)
{
    return gw_lat_last_trunk_ns ? gw_lat_last_trunk_ns : gw_lat_now_ns();
}

void gw_lat_forget(void)
{
    gw_lat_last_fd = -1;
    gw_lat_last_trunk_ns = 0;
}

/* sofia-sip reads its stream and datagram sockets with recvmsg() (su_vrecv) and asks for no
 * ancillary data; the timestamp is taken here and the caller sees no difference. A caller that
 * asks for ancillary data of its own gets the plain system call. */
ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
    if (msg->msg_control || (flags & MSG_PEEK))
        return syscall(SYS_recvmsg, fd, msg, flags);
    int64_t ns;
    ssize_t n = gw_lat_read(fd, msg, flags, &ns);
    if (n > 0)
        gw_lat_last_trunk_ns = ns ? ns : gw_lat_now_ns();
    return n;
}
