/* gw_proxyproto: how the header is taken off the stream. A plain listener's bytes are read by lws
 * with recv() (interposed in ws_mask.c, which asks gw_pp_gate() first); a TLS listener's by
 * OpenSSL's socket BIO with read(), which this module interposes the same way (only while some
 * accepted socket still owes its header, and only on the loop's thread; every other read() goes
 * straight to the system call). The gate reads exactly the header's bytes from the socket into
 * its own buffer, never past it, so what follows reaches lws or OpenSSL untouched. A socket from
 * elsewhere is only peeked at (MSG_PEEK), never consumed.
 *
 * The v2 header is binary: a 12-byte signature, version 2 and a command (LOCAL or PROXY), the
 * address family and transport, a 16-bit length, then the addresses and optional TLVs. Accepted:
 * PROXY over TCP/IPv4 or TCP/IPv6 (the client's address replaces the balancer's), PROXY with
 * UNSPEC family and LOCAL (no client: the balancer's own health check keeps its address).
 * Refused: anything else, and a length beyond GW_PP_MAX. v1 (text) is not accepted: HAProxy's
 * send-proxy-v2 is the one to configure (docs/scale-out.md). */
#include "gw_proxyproto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <glib.h>

#include "gw.h"
#include "log.h"

static const unsigned char gw_pp_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                            0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

int gw_pp_looks_like(const unsigned char *b, size_t n)
{
    if (n >= 6 && memcmp(b, "PROXY ", 6) == 0)
        return 1;
    return n >= 1 && memcmp(b, gw_pp_sig, n < sizeof(gw_pp_sig) ? n : sizeof(gw_pp_sig)) == 0;
}

static enum gw_pp_result gw_pp_bad(const char **why, const char *text)
{
    *why = text;
    return GW_PP_BAD;
}

enum gw_pp_result gw_pp_parse(const unsigned char *b, size_t n, size_t *need,
                              struct gw_pp_header *out, const char **why)
{
    *need = GW_PP_FIXED;
    size_t sig = n < sizeof(gw_pp_sig) ? n : sizeof(gw_pp_sig);
    if (memcmp(b, gw_pp_sig, sig) != 0)
        return gw_pp_bad(why, n >= 6 && memcmp(b, "PROXY ", 6) == 0
                                  ? "a PROXY protocol v1 header (configure send-proxy-v2)"
                                  : "no PROXY protocol v2 signature");
    if (n < GW_PP_FIXED)
        return GW_PP_MORE;
    unsigned version = b[12] >> 4, command = b[12] & 0x0f;
    unsigned family = b[13] >> 4, transport = b[13] & 0x0f;
    size_t len = (size_t)b[14] << 8 | b[15];
    if (version != 2)
        return gw_pp_bad(why, "PROXY protocol version is not 2");
    if (command > 1)
        return gw_pp_bad(why, "unknown PROXY protocol command");
    if (GW_PP_FIXED + len > GW_PP_MAX)
        return gw_pp_bad(why, "PROXY protocol header too long");
    /* the address block must fit in the stated length before anything else is believed */
    size_t addr_len = family == 1 ? 12 : family == 2 ? 36 : 0;
    if (command == 1 && family != 0) {
        if ((family != 1 && family != 2) || transport != 1)
            return gw_pp_bad(why, "PROXY protocol family is not TCP over IPv4 or IPv6");
        if (len < addr_len)
            return gw_pp_bad(why, "PROXY protocol length shorter than its addresses");
    }
    *need = GW_PP_FIXED + len;
    if (n < *need)
        return GW_PP_MORE;
    memset(out, 0, sizeof(*out));
    out->local = command == 0 || family == 0; /* UNSPEC: the connection's own addresses hold */
    if (out->local)
        return GW_PP_OK;
    const unsigned char *a = b + GW_PP_FIXED;
    if (family == 1) {
        inet_ntop(AF_INET, a, out->addr, sizeof(out->addr));
        out->port = (unsigned)a[8] << 8 | a[9];
    } else {
        struct in6_addr v6;
        memcpy(&v6, a, sizeof(v6));
        if (IN6_IS_ADDR_V4MAPPED(&v6))
            inet_ntop(AF_INET, a + 12, out->addr, sizeof(out->addr));
        else
            inet_ntop(AF_INET6, a, out->addr, sizeof(out->addr));
        out->port = (unsigned)a[32] << 8 | a[33];
    }
    return GW_PP_OK;
}

/* Per accepted socket, from gw_pp_track() to gw_pp_forget(). */
enum gw_pp_state { GW_PP_AWAIT, GW_PP_CHECK, GW_PP_DONE, GW_PP_REFUSED };
struct gw_pp_entry {
    ino_t ino; /* recognises a stale entry whose fd was closed behind our back and reused */
    enum gw_pp_state state;
    unsigned char *buf; /* the header so far (GW_PP_AWAIT only) */
    size_t have;
    char peer[PEER_ADDR_MAX];   /* the socket's own peer address (a balancer or not) */
    char client[PEER_ADDR_MAX]; /* empty: none given */
};

static GHashTable *gw_pp_fds;  /* fd → struct gw_pp_entry */
static unsigned gw_pp_pending; /* entries not in GW_PP_DONE: reads of them are gated */
static pthread_t gw_pp_thread; /* the loop's: the only one whose reads are gated */

static void gw_pp_entry_free(void *p)
{
    struct gw_pp_entry *e = p;
    if (e->state != GW_PP_DONE)
        gw_pp_pending--;
    free(e->buf);
    free(e);
}

static ino_t gw_pp_inode(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static void gw_pp_settle(struct gw_pp_entry *e, enum gw_pp_state state)
{
    if (e->state != GW_PP_DONE && state == GW_PP_DONE)
        gw_pp_pending--;
    e->state = state;
    free(e->buf);
    e->buf = NULL;
}

void gw_pp_track(int fd)
{
    char *const *from = gw->cfg->proxy_protocol_from;
    if (!from || !from[0] || fd < 0)
        return;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char addr[PEER_ADDR_MAX] = "";
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, addr, sizeof(addr));
        else if (ss.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, addr, sizeof(addr));
    }
    struct gw_pp_entry *e = calloc(1, sizeof(*e));
    int trusted = addr[0] && peer_in_list(addr, from);
    if (e && trusted && !(e->buf = malloc(GW_PP_MAX))) {
        free(e);
        e = NULL;
    }
    if (!e) {
        /* without memory to follow it, a balancer's connection cannot be served correctly */
        log_warn("proxy-protocol: out of memory for the connection from %s; closing", addr);
        shutdown(fd, SHUT_RDWR);
        return;
    }
    if (!gw_pp_fds) {
        gw_pp_fds = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, gw_pp_entry_free);
        gw_pp_thread = pthread_self();
    }
    e->ino = gw_pp_inode(fd);
    e->state = trusted ? GW_PP_AWAIT : GW_PP_CHECK;
    snprintf(e->peer, sizeof(e->peer), "%s", addr);
    gw_pp_pending++;
    g_hash_table_replace(gw_pp_fds, GINT_TO_POINTER(fd), e);
}

void gw_pp_forget(int fd)
{
    if (gw_pp_fds && fd >= 0)
        g_hash_table_remove(gw_pp_fds, GINT_TO_POINTER(fd));
}

void gw_pp_shutdown(void)
{
    if (gw_pp_fds)
        g_hash_table_destroy(gw_pp_fds);
    gw_pp_fds = NULL;
}

static struct gw_pp_entry *gw_pp_entry(int fd)
{
    struct gw_pp_entry *e;
    if (fd < 0 || !gw_pp_fds || !(e = g_hash_table_lookup(gw_pp_fds, GINT_TO_POINTER(fd))))
        return NULL;
    if (e->ino != gw_pp_inode(fd)) {
        g_hash_table_remove(gw_pp_fds, GINT_TO_POINTER(fd));
        return NULL;
    }
    return e;
}

/* Refused: every later read (lws's, OpenSSL's) ends the stream, bytes still buffered included;
 * the socket is shut down so the peer learns it at once. */
static int gw_pp_refuse(int fd, struct gw_pp_entry *e, const char *why)
{
    log_warn("proxy-protocol: connection from %s refused: %s", e->peer, why);
    gw->metrics.ws_refused_total++;
    gw_pp_settle(e, GW_PP_REFUSED);
    shutdown(fd, SHUT_RDWR);
    return 0;
}

/* A socket from elsewhere: its first bytes must not be a PROXY header (it would claim to speak
 * for another address). Peeked, so lws or OpenSSL still read them. */
static int gw_pp_check(int fd, struct gw_pp_entry *e)
{
    unsigned char b[sizeof(gw_pp_sig)];
    ssize_t n = syscall(SYS_recvfrom, fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT, NULL, NULL);
    if (n <= 0)
        return 1; /* nothing yet, or end of stream: the caller's own read says so */
    if (gw_pp_looks_like(b, (size_t)n))
        return gw_pp_refuse(fd, e,
                            "a PROXY protocol header from an address not in "
                            "proxy-protocol-from");
    gw_pp_settle(e, GW_PP_DONE);
    return 1;
}

/* A socket from a balancer: read the header, exactly its bytes. */
static int gw_pp_await(int fd, struct gw_pp_entry *e)
{
    for (;;) {
        size_t need;
        struct gw_pp_header h;
        const char *why = NULL;
        enum gw_pp_result r = e->have ? gw_pp_parse(e->buf, e->have, &need, &h, &why) : GW_PP_MORE;
        if (!e->have)
            need = GW_PP_FIXED;
        if (r == GW_PP_BAD)
            return gw_pp_refuse(fd, e, why);
        if (r == GW_PP_OK) {
            if (!h.local)
                snprintf(e->client, sizeof(e->client), "%s", h.addr);
            gw_pp_settle(e, GW_PP_DONE);
            return 1;
        }
        ssize_t n =
            syscall(SYS_recvfrom, fd, e->buf + e->have, need - e->have, MSG_DONTWAIT, NULL, NULL);
        if (n == 0)
            return gw_pp_refuse(fd, e, "closed before its PROXY protocol header was complete");
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
                errno = EAGAIN;
                return -1;
            }
            return 1; /* a socket error: the caller's own read reports it */
        }
        e->have += (size_t)n;
    }
}

int gw_pp_gate(int fd)
{
    if (!gw_pp_pending)
        return 1;
    struct gw_pp_entry *e = gw_pp_entry(fd);
    if (!e)
        return 1;
    switch (e->state) {
    case GW_PP_AWAIT:
        return gw_pp_await(fd, e);
    case GW_PP_CHECK:
        return gw_pp_check(fd, e);
    case GW_PP_REFUSED:
        return 0;
    case GW_PP_DONE:
        break;
    }
    return 1;
}

int gw_pp_client(int fd, char *out, size_t len)
{
    struct gw_pp_entry *e = gw_pp_fds ? gw_pp_entry(fd) : NULL;
    if (!e || !e->client[0])
        return 0;
    snprintf(out, len, "%s", e->client);
    return 1;
}

/* OpenSSL's socket BIO reads a TLS listener's sockets with read(); see the top of the file. */
ssize_t read(int fd, void *buf, size_t count)
{
    if (gw_pp_pending && pthread_equal(pthread_self(), gw_pp_thread)) {
        int g = gw_pp_gate(fd);
        if (g <= 0)
            return g;
    }
    return syscall(SYS_read, fd, buf, count);
}
