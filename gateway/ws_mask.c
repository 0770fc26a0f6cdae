/* ws_mask: how the raw bytes are seen. libwebsockets reads a plain (non-TLS) socket with
 * recv(fd, buf, len, 0) (lws_ssl_capable_read_no_ssl in core-net/output.c, 4.1.6). The gateway
 * defines recv() itself; the dynamic linker binds libwebsockets' (and every other library's)
 * calls to it, and it reads with the recvfrom system call. Sockets not tracked here (sofia-sip's,
 * the WAF client's) pass through untouched. A tracked socket's bytes go through a small parser
 * that follows the request head and then each frame header; at an unmasked frame the bytes from
 * its header on are withheld from lws (dropped, as is everything after), and the flow is closed
 * with 1002. A stale entry (its fd closed without a callback and reused) is recognised by the
 * descriptor's close generation (gw_fdgen.h; one memory read, where fstat() for the socket's
 * inode was a system call per read); when the generation moved, the inode confirms it, so a
 * close() that did not close this socket never turns the check off.
 *
 * With TLS on the listener the socket carries ciphertext, which this parser must never see:
 * OpenSSL reads it with read(), not recv(), and recv() also skips entries marked tls. Instead the
 * gateway defines SSL_read() the same way (the real one found with dlsym(RTLD_NEXT)): lws 4.1.6
 * reads a TLS connection with SSL_read(wsi->tls.ssl, …) (lws_ssl_capable_read in
 * tls/openssl/openssl-ssl.c), so the parser sees the decrypted bytes of tracked TLS sockets and
 * the same rule holds over WSS (docs/deploy.md). */
#include "ws_mask.h"

#include <errno.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <dlfcn.h>

#include <glib.h>
#include <openssl/ssl.h>

#include "gw.h"
#include "gw_fdgen.h"
#include "gw_latency.h"
#include "gw_proxyproto.h"
#include "log.h"
#include "ws_conn.h"

struct ws_mask_entry {
    uint32_t gen; /* gw_fdgen() when tracked (or last confirmed) */
    ino_t ino;    /* the socket's inode, asked only when the generation moved */
    struct ws_mask_parser p;
    struct gw_conn *conn; /* NULL until the handshake completed */
    int reported;         /* the violation was handed to the connection */
    int tls;              /* watched through SSL_read(), not recv() */
};

static GHashTable *ws_mask_fds; /* fd → struct ws_mask_entry */

static const char ws_mask_upgrade[] = "upgrade:";

static void ws_mask_head_byte(struct ws_mask_parser *p, unsigned char c)
{
    static const char end[] = "\r\n\r\n";
    p->crlf = c == (unsigned char)end[p->crlf] ? p->crlf + 1 : (c == '\r' ? 1 : 0);
    if (c == '\n') {
        p->line_pos = 0;
        p->line_is_upgrade = 1;
    } else if (p->line_pos < 8) {
        unsigned char want = (unsigned char)ws_mask_upgrade[p->line_pos];
        p->line_is_upgrade = p->line_is_upgrade && (c | 0x20) == (want | 0x20);
        if (++p->line_pos == 8 && p->line_is_upgrade)
            p->upgrade = 1;
    }
    if (p->crlf == 4) {
        p->phase = p->upgrade ? WS_MASK_FRAME : WS_MASK_PASS;
        p->have = 0;
        p->need = 2;
    }
}

/* One frame-header byte; 0, or -1 when the frame is unmasked. */
static int ws_mask_frame_byte(struct ws_mask_parser *p, unsigned char c)
{
    p->hdr[p->have++] = c;
    if (p->have == 2) {
        if (!(c & 0x80))
            return -1;
        unsigned len7 = c & 0x7f;
        p->need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
    }
    if (p->have < p->need)
        return 0;
    unsigned len7 = p->hdr[1] & 0x7f;
    uint64_t len = len7;
    if (len7 >= 126) {
        len = 0;
        for (unsigned i = 2; i < p->need - 4; i++)
            len = len << 8 | p->hdr[i];
    }
    p->remaining = len;
    p->have = 0;
    p->need = 2;
    p->phase = len ? WS_MASK_PAYLOAD : WS_MASK_FRAME;
    return 0;
}

size_t ws_mask_feed(struct ws_mask_parser *p, const unsigned char *b, size_t n)
{
    if (!p->phase && !p->line_pos && !p->crlf) /* a fresh parser starts a line */
        p->line_is_upgrade = 1;
    for (size_t i = 0; i < n; i++) {
        switch (p->phase) {
        case WS_MASK_HEAD:
            ws_mask_head_byte(p, b[i]);
            break;
        case WS_MASK_FRAME: {
            size_t start = i >= p->have ? i - p->have : 0; /* this frame's first byte here */
            if (ws_mask_frame_byte(p, b[i]) < 0) {
                p->phase = WS_MASK_BAD;
                return start;
            }
            break;
        }
        case WS_MASK_PAYLOAD: {
            uint64_t skip = n - i < p->remaining ? n - i : p->remaining;
            p->remaining -= skip;
            i += (size_t)skip - 1;
            if (!p->remaining)
                p->phase = WS_MASK_FRAME;
            break;
        }
        case WS_MASK_PASS:
            return n;
        case WS_MASK_BAD:
            return 0;
        }
    }
    return n;
}

static ino_t ws_mask_inode(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

void ws_mask_track(int fd, int tls)
{
    if (!ws_mask_fds)
        ws_mask_fds = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, free);
    struct ws_mask_entry *e = calloc(1, sizeof(*e));
    if (!e)
        return; /* unchecked, not refused: lws still frames it */
    e->gen = gw_fdgen(fd);
    e->ino = ws_mask_inode(fd); /* one fstat() per connection */
    e->tls = tls;
    g_hash_table_replace(ws_mask_fds, GINT_TO_POINTER(fd), e);
}

void ws_mask_forget(int fd)
{
    if (ws_mask_fds && fd >= 0)
        g_hash_table_remove(ws_mask_fds, GINT_TO_POINTER(fd));
}

static void ws_mask_report(struct ws_mask_entry *e)
{
    if (e->reported || !e->conn)
        return;
    e->reported = 1;
    log_warn("ws: connection %llu from %s sent an unmasked frame (RFC 6455 5.1); closing with 1002",
             (unsigned long long)e->conn->id, e->conn->peer);
    gw->metrics.ws_bad_messages_total++;
    ws_close(e->conn, LWS_CLOSE_STATUS_PROTOCOL_ERR);
}

void ws_mask_attach(int fd, struct gw_conn *c)
{
    struct ws_mask_entry *e =
        ws_mask_fds ? g_hash_table_lookup(ws_mask_fds, GINT_TO_POINTER(fd)) : NULL;
    if (!e)
        return;
    e->conn = c;
    if (e->p.phase == WS_MASK_BAD) /* it came with the handshake */
        ws_mask_report(e);
}

void ws_mask_shutdown(void)
{
    if (ws_mask_fds)
        g_hash_table_destroy(ws_mask_fds);
    ws_mask_fds = NULL;
}

/* The tracked entry of fd watched through the given path (tls or plain), or NULL. */
static struct ws_mask_entry *ws_mask_entry(int fd, int tls)
{
    struct ws_mask_entry *e;
    if (fd < 0 || !ws_mask_fds || !(e = g_hash_table_lookup(ws_mask_fds, GINT_TO_POINTER(fd))))
        return NULL;
    uint32_t gen = gw_fdgen(fd);
    if (gen == GW_FDGEN_UNKNOWN || gen != e->gen) {
        /* Closed behind our back and reused, or only closed again without effect (a second
         * close() of a number fails and still counts): the inode decides. */
        if (e->ino != ws_mask_inode(fd)) {
            g_hash_table_remove(ws_mask_fds, GINT_TO_POINTER(fd));
            return NULL;
        }
        e->gen = gen;
    }
    return e->tls == tls ? e : NULL;
}

/* How many of the n bytes lws may have; 0 when all are withheld (the close is on its way). */
static size_t ws_mask_pass(struct ws_mask_entry *e, const void *buf, size_t n)
{
    size_t ok = ws_mask_feed(&e->p, buf, n);
    if (e->p.phase != WS_MASK_BAD)
        return n;
    ws_mask_report(e);
    return ok;
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    int gate = gw_pp_gate(fd); /* a balancer's PROXY header first (gw_proxyproto.c) */
    if (gate <= 0)
        return gate;
    /* a WebSocket's read also keeps the kernel's receive timestamp (gw_latency.c) */
    struct ws_mask_entry *e = flags ? NULL : ws_mask_entry(fd, 0);
    ssize_t n = e ? gw_lat_recv(fd, buf, len, flags)
                  : syscall(SYS_recvfrom, fd, buf, len, flags, NULL, NULL);
    if (n <= 0 || !e)
        return n;
    size_t ok = ws_mask_pass(e, buf, (size_t)n);
    if (ok)
        return (ssize_t)ok;
    errno = EAGAIN; /* nothing for lws; the close is on its way */
    return -1;
}

int SSL_read(SSL *ssl, void *buf, int num)
{
    static int (*real)(SSL *, void *, int);
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "SSL_read");
    int n = real(ssl, buf, num);
    if (n > 0)
        gw_lat_forget(); /* no kernel timestamp through OpenSSL (gw_latency.h) */
    struct ws_mask_entry *e;
    if (n <= 0 || !(e = ws_mask_entry(SSL_get_fd(ssl), 1)))
        return n;
    size_t ok = ws_mask_pass(e, buf, (size_t)n);
    if (ok)
        return (int)ok;
    /* Everything withheld: drain what OpenSSL holds, so the caller sees a plain "want read"
     * (SSL_get_error() then reports the last real call) and sends the close. */
    while ((n = real(ssl, buf, num)) > 0)
        ;
    return n;
}
