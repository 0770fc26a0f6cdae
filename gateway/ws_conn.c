/* ws_conn: messages are queued per connection and written outside every libwebsockets callback,
 * once per loop turn before the loop blocks (ws_flush), or from LWS_CALLBACK_SERVER_WRITEABLE
 * when lws still holds part of an earlier write (its truncated-send buffer) or a ping or close is
 * due. Writing at the end of the turn instead of asking for a writeable callback saves each answer
 * two epoll_ctl calls (POLLOUT on, then off) and a whole loop turn of waiting, which was part of
 * the gateway's latency (docs/benchmarks.md). Reassembly is bounded by max-message-size and
 * closes with 1009 past it. */
#include "ws_conn.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gw.h"
#include "log.h"
#include "gw_latency.h"
#include "gw_proxyproto.h"
#include "peer.h"
#include "timeutil.h"
#include "ws_keepalive.h"
#include "ws_mask.h"

/* Seconds a client refused for a full gateway waits before it tries again. */
#define WS_BUSY_RETRY_AFTER "5"

struct gw_out {
    struct gw_out *next;
    size_t len;
    struct gw_lat_mark lat; /* a REGISTER's answer: its time in the gateway so far */
    unsigned char buf[];    /* LWS_PRE bytes of headroom, then the message */
};

struct ws_pss {
    struct gw_conn *conn;
    char client[PEER_ADDR_MAX]; /* from ws_filter() until ws_opened() */
};

/* Bytes queued on all connections together (max-queued-bytes-total). */
static size_t ws_queued_total;

/* Connections with messages queued in this loop turn, by id (one may close before ws_flush()),
 * each once (gw_conn.flush_listed): at most one entry per open connection. */
static GArray *ws_flush_ids;

/* The SIP layer above, set once at start: ws_conn calls up only through these, so it stays a
 * leaf module that the SIP modules can use without an include circle. */
static struct ws_hooks ws_hooks;

void ws_set_hooks(const struct ws_hooks *hooks)
{
    ws_hooks = *hooks;
}

struct gw_conn *ws_find(uint64_t id)
{
    return g_hash_table_lookup(gw->conns, &id);
}

static void ws_queue_free(struct gw_conn *c)
{
    for (struct gw_out *o = c->out_head, *next; o; o = next) {
        next = o->next;
        free(o);
    }
    ws_queued_total -= c->out_bytes;
    c->out_head = c->out_tail = NULL;
    c->out_count = 0;
    c->out_bytes = 0;
    gw->metrics.ws_queued_bytes = ws_queued_total;
}

/* A reader too slow for its queue: what it has not read is dropped and the connection killed
 * without a close frame (it would wait behind the unread bytes for a writeable callback that
 * does not come). */
static void ws_abort(struct gw_conn *c, const char *why)
{
    log_warn("ws: connection %llu from %s %s; closing", (unsigned long long)c->id, c->peer, why);
    gw->metrics.ws_slow_readers_closed_total++;
    ws_queue_free(c);
    if (!c->close_code)
        c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* The connection holding the most queued bytes: the slowest reader. */
static struct gw_conn *ws_biggest_queue(void)
{
    GHashTableIter it;
    gpointer key, value;
    struct gw_conn *big = NULL;
    g_hash_table_iter_init(&it, gw->conns);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        struct gw_conn *c = value;
        if (!big || c->out_bytes > big->out_bytes)
            big = c;
    }
    return big;
}

void ws_send(struct gw_conn *c, const char *data, size_t len)
{
    struct iovec one = {.iov_base = (void *)data, .iov_len = len};
    ws_sendv(c, &one, 1);
}

void ws_sendv(struct gw_conn *c, const struct iovec *iov, size_t n)
{
    if (c->close_code || c->closing)
        return;
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (c->out_count >= WS_MAX_QUEUED || len > WS_MAX_QUEUED_BYTES ||
        c->out_bytes + len > WS_MAX_QUEUED_BYTES) {
        ws_abort(c, "does not read");
        return;
    }
    /* Over the total, the biggest queue goes first, until this message fits (or is the one). */
    while (ws_queued_total + len > (size_t)gw->cfg->max_queued_bytes_total) {
        struct gw_conn *big = ws_biggest_queue();
        if (!big || big == c || big->out_bytes <= c->out_bytes) {
            ws_abort(c, "reads too slowly while the send queues are full");
            return;
        }
        ws_abort(big, "has the biggest send queue while the send queues are full");
    }
    struct gw_out *o = malloc(sizeof(*o) + LWS_PRE + len);
    if (!o) {
        ws_abort(c, "cannot be queued for (out of memory)");
        return;
    }
    o->next = NULL;
    o->len = len;
    o->lat = (struct gw_lat_mark){0};
    unsigned char *at = o->buf + LWS_PRE;
    for (size_t i = 0; i < n; i++) {
        memcpy(at, iov[i].iov_base, iov[i].iov_len);
        at += iov[i].iov_len;
    }
    if (c->out_tail)
        c->out_tail->next = o;
    else
        c->out_head = o;
    c->out_tail = o;
    c->out_count++;
    c->out_bytes += len;
    ws_queued_total += len;
    gw->metrics.ws_queued_bytes = ws_queued_total;
    if (!c->flush_listed) {
        if (!ws_flush_ids)
            ws_flush_ids = g_array_new(FALSE, FALSE, sizeof(uint64_t));
        g_array_append_val(ws_flush_ids, c->id);
        c->flush_listed = 1;
    }
}

void ws_mark_latency(struct gw_conn *c, unsigned count_before, const struct gw_lat_mark *m)
{
    if (c->out_tail && c->out_count == count_before + 1)
        c->out_tail->lat = *m;
}

void ws_close(struct gw_conn *c, int code)
{
    if (!c->close_code)
        c->close_code = code;
    lws_callback_on_writable(c->wsi);
}

int ws_origin_allowed(const char *origin, char *const *allowed)
{
    if (!origin || !allowed || !allowed[0])
        return 1;
    for (char *const *a = allowed; *a; a++)
        if (strcmp(*a, origin) == 0)
            return 1;
    return 0;
}

void ws_client_address(struct lws *wsi, char *out, size_t len)
{
    char peer[PEER_ADDR_MAX], xff[512] = "";
    if (!gw_pp_client(lws_get_socket_fd(wsi), peer, sizeof(peer))) /* a balancer's PROXY header */
        lws_get_peer_simple(wsi, peer, sizeof(peer));
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_X_FORWARDED_FOR);
    if (n > 0 && n < (int)sizeof(xff))
        lws_hdr_copy(wsi, xff, sizeof(xff), WSI_TOKEN_X_FORWARDED_FOR);
    peer_client(peer, xff, gw->cfg->trusted_proxies, out, len);
}

/* Open connections per source (IPv4 address, IPv6 /64: one host usually holds a whole /64),
 * so one host cannot take every slot. */
static GHashTable *ws_sources; /* source key → count (GUINT_TO_POINTER) */

static unsigned ws_per_source(const char *peer)
{
    return ws_sources ? GPOINTER_TO_UINT(g_hash_table_lookup(ws_sources, peer)) : 0;
}

static void ws_source_add(const char *peer, int delta)
{
    if (!ws_sources)
        ws_sources = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    unsigned n = ws_per_source(peer) + (unsigned)delta;
    if (n == 0)
        g_hash_table_remove(ws_sources, peer);
    else
        g_hash_table_insert(ws_sources, strdup(peer), GUINT_TO_POINTER(n));
}

void ws_shutdown(void)
{
    if (ws_flush_ids)
        g_array_free(ws_flush_ids, TRUE);
    ws_flush_ids = NULL;
    ws_keepalive_shutdown();
    if (ws_sources)
        g_hash_table_destroy(ws_sources);
    ws_sources = NULL;
}

/* 1 if the Sec-WebSocket-Protocol list (comma-separated tokens) names sip. */
int ws_offers_sip(const char *list)
{
    size_t want = strlen(WS_SUBPROTOCOL);
    for (const char *t = list; t && *t;) {
        t += strspn(t, " \t,");
        size_t n = strcspn(t, " \t,");
        if (n == want && strncmp(t, WS_SUBPROTOCOL, n) == 0)
            return 1;
        t += n;
    }
    return 0;
}

/* Every upgrade request passes here before libwebsockets picks a subprotocol: without sip it
 * would bind another of our protocols or close silently, so the client gets a 400 instead. */
int ws_confirm_upgrade(struct lws *wsi, const char *upgrade)
{
    char list[256] = "", peer[PEER_ADDR_MAX];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);
    if (n > 0 && n < (int)sizeof(list))
        lws_hdr_copy(wsi, list, sizeof(list), WSI_TOKEN_PROTOCOL);
    if (upgrade && strcasecmp(upgrade, "websocket") == 0 && ws_offers_sip(list))
        return 0;
    ws_client_address(wsi, peer, sizeof(peer));
    log_info("ws: handshake from %s refused: the sip subprotocol was not offered", peer);
    gw->metrics.ws_refused_total++;
    lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST,
                           "a WebSocket to this server needs the sip subprotocol (RFC 7118)");
    return -1;
}

/* A full gateway answers 503 with Retry-After (RFC 9110 §10.2.3), so a client backs off and
 * retries, maybe landing on another gateway, instead of hammering this one. */
static void ws_refuse_busy(struct lws *wsi, const char *why)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start,
                                      *end = buf + sizeof(buf) - 1;
    char len[16];
    int n = snprintf(len, sizeof(len), "%zu", strlen(why) + 1);
    if (lws_add_http_header_status(wsi, HTTP_STATUS_SERVICE_UNAVAILABLE, &p, end) ||
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"retry-after:", (const unsigned char *)WS_BUSY_RETRY_AFTER,
            (int)strlen(WS_BUSY_RETRY_AFTER), &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
                                     (const unsigned char *)"text/plain", 10, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, (const unsigned char *)len,
                                     n, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_CONNECTION, (const unsigned char *)"close", 5,
                                     &p, end) ||
        lws_finalize_http_header(wsi, &p, end) || (size_t)(end - p) < strlen(why) + 1)
        return;
    p += snprintf((char *)p, (size_t)(end - p), "%s\n", why);
    lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS);
}

/* Refuses the handshake unless it is for /sip, from an allowed Origin, within the limit. */
static int ws_filter(struct lws *wsi, struct ws_pss *pss)
{
    char uri[64] = "", origin[256] = "";
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) < 0 ||
        strcmp(uri, WS_SIP_PATH) != 0) {
        log_info("ws: handshake refused: path is not %s", WS_SIP_PATH);
        return -1;
    }
    int has_origin = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) > 0;
    if (has_origin && (lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN) >= (int)sizeof(origin) ||
                       lws_hdr_copy(wsi, origin, sizeof(origin), WSI_TOKEN_ORIGIN) < 0 ||
                       !ws_origin_allowed(origin, gw->cfg->allowed_origins))) {
        log_info("ws: handshake refused: Origin not allowed");
        lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, "Origin not allowed");
        return -1;
    }
    if (gw->metrics.ws_open >= (uint64_t)gw->cfg->max_connections) {
        /* debug, not warn: a full gateway sees this per attempt; the metric counts them */
        log_debug("ws: handshake refused: %ld connections open", gw->cfg->max_connections);
        gw->metrics.ws_refused_full_total++;
        ws_refuse_busy(wsi, "Too many connections");
        return -1;
    }
    char source[PEER_ADDR_MAX];
    ws_client_address(wsi, pss->client, sizeof(pss->client));
    peer_source_key(pss->client, source, sizeof(source));
    if (ws_per_source(source) >= (unsigned)gw->cfg->max_connections_per_source) {
        log_warn("ws: handshake refused: %s already has %ld connections", source,
                 gw->cfg->max_connections_per_source);
        ws_refuse_busy(wsi, "Too many connections from this address");
        return -1;
    }
    return 0;
}

static void ws_opened(struct lws *wsi, struct ws_pss *pss)
{
    struct gw_conn *c = calloc(1, sizeof(*c));
    if (!c) { /* pss->conn stays NULL: the first frame closes the connection */
        log_warn("ws: out of memory for a new connection");
        return;
    }
    c->id = ++gw->next_conn_id;
    c->wsi = wsi;
    c->opened_ms = time_mono_ms();
    snprintf(c->peer, sizeof(c->peer), "%s", pss->client);
    peer_source_key(c->peer, c->source, sizeof(c->source));
    pss->conn = c;
    ws_source_add(c->source, 1);
    g_hash_table_insert(gw->conns, &c->id, c);
    ws_mask_attach(lws_get_socket_fd(wsi), c);
    gw->metrics.ws_open++;
    gw->metrics.ws_accepted_total++;
    ws_keepalive_open(c);
    log_info("ws: connection %llu open from %s", (unsigned long long)c->id, c->peer);
}

static void ws_closed(struct ws_pss *pss)
{
    struct gw_conn *c = pss->conn;
    if (!c)
        return;
    log_info("ws: connection %llu from %s closed", (unsigned long long)c->id, c->peer);
    if (ws_hooks.on_closed)
        ws_hooks.on_closed(c);
    ws_keepalive_close(c);
    ws_mask_forget(lws_get_socket_fd(c->wsi));
    gw_pp_forget(lws_get_socket_fd(c->wsi));
    ws_source_add(c->source, -1);
    g_hash_table_remove(gw->conns, &c->id);
    ws_queue_free(c);
    free(c->rx);
    free(c);
    pss->conn = NULL;
    gw->metrics.ws_open--;
}

/* lws closes the connection with code once this callback returns -1 (a close handshake of up
 * to 10 s): nothing more of ours may be written on it (RFC 6455 §5.5.1), so it is marked. */
static int ws_fail(struct lws *wsi, struct gw_conn *c, enum lws_close_status code)
{
    c->closing = 1;
    lws_close_reason(wsi, code, NULL, 0);
    return -1;
}

static int ws_receive(struct lws *wsi, struct gw_conn *c, const void *in, size_t len)
{
    if (c->rx_len + len > (size_t)gw->cfg->max_message_size) {
        log_warn("ws: connection %llu sent a message over %ld bytes; closing",
                 (unsigned long long)c->id, gw->cfg->max_message_size);
        gw->metrics.ws_bad_messages_total++;
        return ws_fail(wsi, c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
    }
    if (len) {
        unsigned char *grown = realloc(c->rx, c->rx_len + len + 1);
        if (!grown) { /* c->rx stays valid and is freed with the connection */
            log_warn("ws: out of memory for a message from connection %llu; closing",
                     (unsigned long long)c->id);
            return ws_fail(wsi, c, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION);
        }
        c->rx = grown;
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    unsigned char *msg = c->rx;
    size_t n = c->rx_len;
    c->rx_ns = gw_lat_rx_ns(lws_get_socket_fd(wsi));
    c->rx = NULL;
    c->rx_len = 0;
    gw->metrics.ws_messages_total++;
    int rc = ws_hooks.on_message ? ws_hooks.on_message(c, (const char *)msg, n) : 0;
    free(msg);
    if (rc < 0) {
        gw->metrics.ws_bad_messages_total++;
        return ws_fail(wsi, c, (enum lws_close_status) - rc);
    }
    return 0;
}

/* Writes the connection's first queued message as one frame: 0, or -1 when lws failed (the
 * connection is then to be closed). */
static int ws_write_one(struct lws *wsi, struct gw_conn *c)
{
    struct gw_out *o = c->out_head;
    c->out_head = o->next;
    if (!c->out_head)
        c->out_tail = NULL;
    c->out_count--;
    c->out_bytes -= o->len;
    ws_queued_total -= o->len;
    gw->metrics.ws_queued_bytes = ws_queued_total;
    /* RFC 7118 §5.1: text frames carry UTF-8 only; a browser fails the whole WebSocket on one
     * that is not (RFC 6455 §8.1). Another user's bytes (a header of a MESSAGE sent in a binary
     * frame) must not be able to do that to this connection, so such a message goes binary. */
    enum lws_write_protocol kind =
        g_utf8_validate_len((const gchar *)o->buf + LWS_PRE, o->len, NULL) ? LWS_WRITE_TEXT
                                                                           : LWS_WRITE_BINARY;
    int n = lws_write(wsi, o->buf + LWS_PRE, o->len, kind);
    if (n >= 0 && o->lat.rx_ns)
        gw_lat_finish(gw->metrics.register_latency, &o->lat, gw_lat_now_ns());
    free(o);
    return n < 0 ? -1 : 0;
}

/* Writes what is queued while lws takes it whole; what it could not send lws keeps itself and
 * asks for a writeable callback, where the rest of the queue follows. */
static int ws_write_queue(struct lws *wsi, struct gw_conn *c)
{
    while (c->out_head) {
        if (ws_write_one(wsi, c) < 0)
            return -1;
        if (lws_partial_buffered(wsi))
            break;
    }
    if (c->out_head || c->close_code)
        lws_callback_on_writable(wsi);
    return 0;
}

void ws_flush(void)
{
    if (!ws_flush_ids || !ws_flush_ids->len)
        return;
    /* len is read again each round: an id listed meanwhile (its flag cleared below first) is
     * written in this same pass, not dropped by the reset at the end */
    for (guint i = 0; i < ws_flush_ids->len; i++) {
        struct gw_conn *c = ws_find(g_array_index(ws_flush_ids, uint64_t, i));
        if (!c)
            continue; /* closed meanwhile */
        c->flush_listed = 0;
        if (!c->out_head || c->closing)
            continue;
        /* A ping or close frame due, or lws still holding part of an earlier write: the
         * writeable callback keeps the frames in order. */
        if (c->ka_ping_due || c->close_code || lws_partial_buffered(c->wsi)) {
            lws_callback_on_writable(c->wsi);
            continue;
        }
        if (ws_write_queue(c->wsi, c) < 0) {
            /* Outside lws' service a kill would wait for its next wake-up: the writeable
             * callback, due at once, closes it (ws_writeable), and until then nothing more is
             * queued or written. */
            log_warn("ws: connection %llu from %s cannot be written to; closing",
                     (unsigned long long)c->id, c->peer);
            gw->metrics.ws_write_failures_total++;
            ws_queue_free(c);
            c->closing = 1;
            lws_callback_on_writable(c->wsi);
        }
    }
    g_array_set_size(ws_flush_ids, 0);
}

static int ws_writeable(struct lws *wsi, struct gw_conn *c)
{
    if (c->closing)
        return -1;
    int ping = ws_keepalive_write(c, wsi);
    if (ping < 0)
        return -1;
    if (ping) {
        if (c->out_head || c->close_code)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (!c->out_head) {
        if (c->close_code) {
            lws_close_reason(wsi, (enum lws_close_status)c->close_code, NULL, 0);
            return -1;
        }
        return 0;
    }
    return ws_write_queue(wsi, c);
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct ws_pss *pss = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        if (ws_filter(wsi, pss) < 0) {
            gw->metrics.ws_refused_total++;
            return -1;
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        ws_opened(wsi, pss);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (!pss->conn)
            return -1;
        ws_keepalive_seen(pss->conn);
        return ws_receive(wsi, pss->conn, in, len);
    case LWS_CALLBACK_RECEIVE_PONG:
        if (pss->conn)
            ws_keepalive_seen(pss->conn);
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (pss->conn) /* lws answers the close; nothing of ours after it */
            pss->conn->closing = 1;
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->conn ? ws_writeable(wsi, pss->conn) : -1;
    case LWS_CALLBACK_CLOSED:
        ws_closed(pss);
        return 0;
    default:
        return 0;
    }
}

const struct lws_protocols ws_sip_protocol = {
    /* rx_buffer_size is allocated per connection for its whole life; messages longer than it
     * arrive in pieces that ws_receive() joins, so a small one saves memory per idle flow.
     * tx_packet_size: lws sends at most this much per send() and buffers the rest for a
     * writeable callback; 0 would mean rx_buffer_size, so every message over 1 KiB (an INVITE
     * with its SDP, a reg-event NOTIFY) took a loop turn per KiB. Nothing is allocated by it. */
    "sip", ws_callback, sizeof(struct ws_pss), 1024, 0, NULL, WS_TX_PACKET_SIZE};
