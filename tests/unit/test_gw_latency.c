/* gw_latency: the histogram of a REGISTER's time in the gateway (buckets, Prometheus text,
 * quantiles) and the kernel receive timestamps it is fed from, over a real loopback TCP
 * connection: a segment that waited in the socket buffer must count from its arrival, not from
 * the read. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "gw_latency.h"

/* setsockopt() as gw_latency.c calls it: SO_TIMESTAMPNS requests are counted and, with
 * ts_refuse set, not passed on, so that the socket never gives a timestamp. */
static int ts_asks, ts_refuse;

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
    if (level == SOL_SOCKET && name == SO_TIMESTAMPNS) {
        ts_asks++;
        if (ts_refuse)
            return 0;
    }
    return (int)syscall(SYS_setsockopt, fd, level, name, val, len);
}

#define MS 1000000LL

static void test_buckets(void **state)
{
    (void)state;
    struct gw_lat_hist h = {0};
    gw_lat_observe(&h, 0);             /* ≤ 50 µs */
    gw_lat_observe(&h, 50 * 1000);     /* exactly a bound: that bucket, not the next */
    gw_lat_observe(&h, 50 * 1000 + 1); /* ≤ 100 µs */
    gw_lat_observe(&h, 1900 * 1000);   /* ≤ 2 ms */
    gw_lat_observe(&h, 5 * 1000 * MS); /* 5 s: +Inf */
    gw_lat_observe(&h, -3);            /* a clock step back counts as 0 */
    assert_int_equal(h.count, 6);
    assert_int_equal(h.bucket[0], 3);
    assert_int_equal(h.bucket[1], 1);
    assert_int_equal(h.bucket[7], 1); /* 1.5 ms < x ≤ 2 ms */
    assert_int_equal(h.bucket[GW_LAT_BUCKETS - 1], 1);
    assert_int_equal(h.sum_ns, 50 * 1000 + 50 * 1000 + 1 + 1900 * 1000 + 5 * 1000 * MS);
}

static void test_finish_needs_both_legs(void **state)
{
    (void)state;
    struct gw_lat_hist h[GW_LAT_LEGS] = {0};
    struct gw_lat_mark m = {.rx_ns = 1000 * MS, .sent_ns = 1001 * MS, .trunk_ns = 0};
    gw_lat_finish(h, &m, 1500 * MS); /* no answer read from the trunk: nothing */
    assert_int_equal(h[GW_LAT_TOTAL].count, 0);
    m.trunk_ns = 1400 * MS; /* the core took 399 ms: not the gateway's */
    gw_lat_finish(h, &m, 1402 * MS);
    assert_int_equal(h[GW_LAT_REQUEST].sum_ns, 1 * MS);
    assert_int_equal(h[GW_LAT_RESPONSE].sum_ns, 2 * MS);
    assert_int_equal(h[GW_LAT_TOTAL].sum_ns, 3 * MS);
    assert_int_equal(h[GW_LAT_TOTAL].count, 1);
}

/* A wait for a place towards the core (reg_admit) is the core's back-pressure: it leaves the
 * request leg and the total and is observed as leg "admission"; one observation each. */
static void test_finish_admission_apart(void **state)
{
    (void)state;
    struct gw_lat_hist h[GW_LAT_LEGS] = {0};
    struct gw_lat_mark m = {
        .rx_ns = 1000 * MS, .sent_ns = 1251 * MS, .trunk_ns = 1400 * MS, .admit_ns = 250 * MS};
    gw_lat_finish(h, &m, 1402 * MS);
    assert_int_equal(h[GW_LAT_REQUEST].sum_ns, 1 * MS);
    assert_int_equal(h[GW_LAT_TOTAL].sum_ns, 3 * MS);
    assert_int_equal(h[GW_LAT_ADMISSION].sum_ns, 250 * MS);
    m.admit_ns = 0; /* not queued: an observation of 0, so every leg counts the same REGISTERs */
    gw_lat_finish(h, &m, 1402 * MS);
    assert_int_equal(h[GW_LAT_ADMISSION].count, 2);
    assert_int_equal(h[GW_LAT_ADMISSION].bucket[0], 1);
    assert_int_equal(h[GW_LAT_REQUEST].sum_ns, 1 * MS + 251 * MS);
    char buf[8192];
    gw_lat_render(h, buf, sizeof(buf));
    assert_non_null(strstr(buf, "imsgw_register_gateway_seconds_count{leg=\"admission\"} 2\n"));
}

static void test_render(void **state)
{
    (void)state;
    struct gw_lat_hist h[GW_LAT_LEGS] = {0};
    gw_lat_observe(&h[GW_LAT_TOTAL], 700 * 1000);
    gw_lat_observe(&h[GW_LAT_TOTAL], 3 * MS);
    char buf[8192];
    size_t n = gw_lat_render(h, buf, sizeof(buf));
    assert_int_equal(n, strlen(buf));
    assert_non_null(strstr(buf, "# TYPE imsgw_register_gateway_seconds histogram\n"));
    /* cumulative: 0 up to 0.5 ms, 1 from 0.75 ms, 2 from 3 ms */
    assert_non_null(
        strstr(buf, "imsgw_register_gateway_seconds_bucket{leg=\"total\",le=\"0.0005\"} 0\n"));
    assert_non_null(
        strstr(buf, "imsgw_register_gateway_seconds_bucket{leg=\"total\",le=\"0.00075\"} 1\n"));
    assert_non_null(
        strstr(buf, "imsgw_register_gateway_seconds_bucket{leg=\"total\",le=\"0.002\"} 1\n"));
    assert_non_null(
        strstr(buf, "imsgw_register_gateway_seconds_bucket{leg=\"total\",le=\"0.003\"} 2\n"));
    assert_non_null(
        strstr(buf, "imsgw_register_gateway_seconds_bucket{leg=\"total\",le=\"+Inf\"} 2\n"));
    assert_non_null(strstr(buf, "imsgw_register_gateway_seconds_sum{leg=\"total\"} 0.003700000\n"));
    assert_non_null(strstr(buf, "imsgw_register_gateway_seconds_count{leg=\"request\"} 0\n"));
    /* a short buffer truncates, never overruns */
    char small[64];
    n = gw_lat_render(h, small, sizeof(small));
    assert_true(n < sizeof(small));
    assert_int_equal(strlen(small), n);
}

static void test_quantile(void **state)
{
    (void)state;
    struct gw_lat_hist h = {0};
    assert_true(gw_lat_quantile(&h, 0.99) < 0);
    for (int i = 0; i < 99; i++)
        gw_lat_observe(&h, 600 * 1000); /* (0.5, 0.75] ms */
    gw_lat_observe(&h, 40 * MS);        /* (25, 50] ms */
    double p50 = gw_lat_quantile(&h, 0.5), p99 = gw_lat_quantile(&h, 0.99),
           p999 = gw_lat_quantile(&h, 0.999);
    assert_true(p50 > 0.0005 && p50 <= 0.00075);
    assert_true(p99 > 0.0005 && p99 <= 0.00075);
    assert_true(p999 > 0.025 && p999 <= 0.05);
}

/* A loopback TCP listener; *a: its address. */
static int tcp_listener(struct sockaddr_in *a)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    *a = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(*a);
    assert_int_equal(bind(l, (struct sockaddr *)a, sizeof(*a)), 0);
    assert_int_equal(listen(l, 2), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)a, &al), 0);
    return l;
}

static int tcp_connect(const struct sockaddr_in *a)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(c, (const struct sockaddr *)a, sizeof(*a)), 0);
    return c;
}

/* A connected loopback TCP pair. */
static void tcp_pair(int *client, int *server)
{
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    *client = tcp_connect(&a);
    *server = accept(l, NULL, NULL);
    assert_true(*server >= 0);
    close(l);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_recv_kernel_timestamp(void **state)
{
    (void)state;
    int c, s;
    tcp_pair(&c, &s);
    char buf[16];
    /* the first read switches the timestamps on (it has none: counts from the read) */
    assert_int_equal(write(c, "a", 1), 1);
    sleep_ms(5);
    assert_int_equal(gw_lat_recv(s, buf, sizeof(buf), 0), 1);
    /* When no socket on the machine had receive timestamps on, the kernel switches them on
     * system-wide a moment later (net_enable_timestamp() defers it to a work item): a segment
     * arriving right away would carry none. */
    sleep_ms(20);
    /* the next segment waits 60 ms in the socket buffer: its time counts from its arrival */
    assert_int_equal(write(c, "bc", 2), 2);
    sleep_ms(60);
    int64_t before = gw_lat_now_ns();
    assert_int_equal(gw_lat_recv(s, buf, sizeof(buf), 0), 2);
    assert_memory_equal(buf, "bc", 2);
    int64_t waited = gw_lat_now_ns() - gw_lat_rx_ns(s);
    assert_true(waited >= 50 * MS && waited < 5000 * MS);
    assert_true(gw_lat_rx_ns(s) < before);
    /* another socket's last read is not this one's: now */
    assert_true(gw_lat_now_ns() - gw_lat_rx_ns(c) < 50 * MS);
    /* after a read without a timestamp (SSL_read), an older read's is never used */
    gw_lat_forget();
    assert_true(gw_lat_now_ns() - gw_lat_rx_ns(s) < 50 * MS);
    close(c);
    close(s);
}

static void test_recvmsg_trunk_timestamp(void **state)
{
    (void)state;
    int c, s;
    tcp_pair(&c, &s);
    char buf[16];
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    assert_int_equal(write(c, "x", 1), 1);
    sleep_ms(5);
    assert_int_equal(recvmsg(s, &m, 0), 1); /* switches the timestamps on */
    sleep_ms(20);                           /* system-wide, a moment later (above) */
    assert_int_equal(write(c, "SIP/2.0", 7), 7);
    sleep_ms(60);
    m = (struct msghdr){.msg_iov = &iov, .msg_iovlen = 1};
    assert_int_equal(recvmsg(s, &m, 0), 7);
    /* the caller asked for no ancillary data and sees none */
    assert_null(m.msg_control);
    assert_int_equal(m.msg_controllen, 0);
    assert_false(m.msg_flags & MSG_CTRUNC);
    int64_t waited = gw_lat_now_ns() - gw_lat_trunk_ns();
    assert_true(waited >= 50 * MS && waited < 5000 * MS);
    gw_lat_forget(); /* a TLS trunk's answer: from now */
    assert_true(gw_lat_now_ns() - gw_lat_trunk_ns() < 50 * MS);
    close(c);
    close(s);
}

/* A socket that never gives a timestamp is asked once, not at every read (a system call each);
 * a new socket that gets the number of a closed one is asked again. */
static void test_timestamp_asked_once_per_socket(void **state)
{
    (void)state;
    struct sockaddr_in a;
    int l = tcp_listener(&a);
    int c = tcp_connect(&a), c2 = tcp_connect(&a); /* c2 is accepted later */
    int s = accept(l, NULL, NULL);
    assert_true(s >= 0);
    ts_refuse = 1;
    ts_asks = 0;
    char buf[16];
    struct iovec iov = {buf, sizeof(buf)};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    assert_int_equal(write(c, "a", 1), 1);
    assert_int_equal(gw_lat_recv(s, buf, sizeof(buf), 0), 1);
    assert_int_equal(ts_asks, 1);
    assert_int_equal(write(c, "b", 1), 1);
    assert_int_equal(gw_lat_recv(s, buf, sizeof(buf), 0), 1);
    assert_int_equal(write(c, "c", 1), 1);
    assert_int_equal(recvmsg(s, &m, 0), 1); /* the trunk's path asks the same way */
    assert_int_equal(ts_asks, 1);
    /* the next connection takes the closed socket's number: a socket never asked */
    int old = s;
    close(s);
    s = accept(l, NULL, NULL);
    assert_int_equal(s, old);
    assert_int_equal(write(c2, "d", 1), 1);
    assert_int_equal(gw_lat_recv(s, buf, sizeof(buf), 0), 1);
    assert_int_equal(ts_asks, 2);
    ts_refuse = 0;
    close(s);
    close(c);
    close(c2);
    close(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_finish_needs_both_legs),
        cmocka_unit_test(test_finish_admission_apart),
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_quantile),
        cmocka_unit_test(test_recv_kernel_timestamp),
        cmocka_unit_test(test_recvmsg_trunk_timestamp),
        cmocka_unit_test(test_timestamp_asked_once_per_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
