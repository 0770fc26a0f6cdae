/* gw_latency: the time a REGISTER spends inside the gateway, measured from the kernel's receive
 * timestamps (SO_TIMESTAMPNS), so that the time a message waits in a socket buffer for the loop
 * to come round counts too. Two legs per REGISTER, both without the IMS core's own time:
 *  - request: the WebSocket bytes that completed the REGISTER reached the socket → the REGISTER
 *    was handed to the trunk (nta_outgoing_mcreate returned; over TCP sofia writes at once when
 *    the socket has room);
 *  - response: the core's answer reached the trunk socket → the answer was written to the
 *    WebSocket (lws_write in LWS_CALLBACK_SERVER_WRITEABLE).
 * Where no kernel timestamp is available (a TLS WebSocket, read through OpenSSL's read(); a TLS
 * trunk; the first segment on a socket) the leg starts when the gateway itself read the bytes:
 * it then leaves out the wait in the socket buffer. Only REGISTERs that went to the core and
 * came back are observed (not challenges, refusals, or a Digest answered on the user's behalf).
 * A third series, leg "admission", is the time a REGISTER waited for a place towards the core
 * (reg_admit, register-inflight-max): the core's back-pressure, not the gateway's work, so it is
 * left out of the request leg and the total and shown on its own (0 when it did not wait).
 *
 * Reads are seen by interposition, like ws_mask.c's recv(): plain WebSocket sockets through that
 * recv() (gw_lat_recv), sofia-sip's trunk through recvmsg(), defined here. A socket is asked for
 * its timestamps once per close generation of its descriptor (gw_fdgen.h), so the next socket on
 * the same number is asked again. All times are CLOCK_REALTIME nanoseconds, the kernel timestamps'
 * clock. */
#ifndef IMSGW_GW_LATENCY_H
#define IMSGW_GW_LATENCY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Upper bounds of the histogram buckets in microseconds; one more bucket, +Inf, follows. */
#define GW_LAT_BOUNDS_US                                                                           \
    50, 100, 250, 500, 750, 1000, 1500, 2000, 3000, 5000, 10000, 25000, 50000, 100000, 250000,     \
        1000000
#define GW_LAT_BUCKETS 17 /* the bounds above and +Inf */

enum gw_lat_leg { GW_LAT_REQUEST, GW_LAT_RESPONSE, GW_LAT_TOTAL, GW_LAT_ADMISSION, GW_LAT_LEGS };

/* A Prometheus histogram as uint64_t words only (gw_metrics sums the workers word by word).
 * bucket[i] counts observations in (bound[i-1], bound[i]], not cumulated; render cumulates. */
struct gw_lat_hist {
    uint64_t bucket[GW_LAT_BUCKETS];
    uint64_t count;
    uint64_t sum_ns;
};

/* What a REGISTER carries from its arrival to the write of its answer; 0 = not known. */
struct gw_lat_mark {
    int64_t rx_ns;    /* the WebSocket bytes that completed it reached the kernel */
    int64_t sent_ns;  /* handed to the trunk */
    int64_t trunk_ns; /* the core's final answer reached the kernel */
    int64_t admit_ns; /* of the request leg: waited for a place towards the core (reg_admit) */
};

int64_t gw_lat_now_ns(void);
void gw_lat_observe(struct gw_lat_hist *h, int64_t ns);
/* When both legs are known: one observation in each of the histograms h[GW_LAT_LEGS]; the
 * admission wait is taken out of the request leg (and the total) and observed on its own. */
void gw_lat_finish(struct gw_lat_hist *h, const struct gw_lat_mark *m, int64_t written_ns);
/* Appends the histograms as Prometheus text (imsgw_register_gateway_seconds{leg=...}). */
size_t gw_lat_render(const struct gw_lat_hist *h, char *buf, size_t len);
/* The p-quantile (0 < q < 1) in seconds, interpolated inside its bucket; -1 when empty. */
double gw_lat_quantile(const struct gw_lat_hist *h, double q);

/* recv() for a WebSocket socket: the same read, with the kernel's timestamp kept for
 * gw_lat_rx_ns() (switched on for the socket at its first read without one). */
ssize_t gw_lat_recv(int fd, void *buf, size_t len, int flags);
/* When the bytes last read from fd on the loop's thread reached the kernel; now when that was
 * not fd's read or the kernel gave no timestamp. */
int64_t gw_lat_rx_ns(int fd);
/* Likewise for the last read by sofia-sip (recvmsg) on the loop's thread: the trunk. */
int64_t gw_lat_trunk_ns(void);
/* A read that gives no timestamp (SSL_read: a WSS connection or a TLS trunk) happened: what it
 * read counts from now, never from an older read's timestamp. */
void gw_lat_forget(void);

#endif
