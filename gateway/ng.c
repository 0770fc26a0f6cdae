/* ng: a connected UDP socket, so an ICMP port-unreachable from a relay that is down comes back
 * as ECONNREFUSED and fails what is in flight at once instead of at the deadline. Cookies carry
 * a random per-process prefix: rtpengine caches answers by cookie, and a restarted gateway must
 * never receive the cached answer to its predecessor's request. */
#include "ng.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>
#include <glib.h>

#include "log.h"
#include "rnd.h"

struct ng_req {
    uint64_t id;
    char cookie[40];
    char *packet;
    size_t len;
    gint64 sent_us, deadline_us;
    guint interval_ms;
    guint timer;
    ng_reply_fn fn;
    void *arg;
};

static int ng_fd = -1;
static guint ng_watch;
static long ng_timeout_ms;
static char ng_prefix[16];
static uint64_t ng_next_id;
static GHashTable *ng_pending; /* cookie → struct ng_req */
static struct ng_stats ng_counters;
static char *ng_rxbuf;
static struct bnode *ng_nodes;

const struct ng_stats *ng_stats(void)
{
    return &ng_counters;
}

static void ng_req_free(struct ng_req *r)
{
    if (r->timer)
        g_source_remove(r->timer);
    free(r->packet);
    free(r);
}

/* Takes r out of the table and calls its callback once. */
static void ng_finish(struct ng_req *r, const struct bdoc *doc, const struct bnode *root,
                      const char *err)
{
    g_hash_table_remove(ng_pending, r->cookie);
    if (err)
        ng_counters.errors_total++;
    else {
        ng_counters.answered_total++;
        ng_counters.rtt_ms_total += (uint64_t)((g_get_monotonic_time() - r->sent_us) / 1000);
    }
    ng_reply_fn fn = r->fn;
    void *arg = r->arg;
    ng_req_free(r);
    fn(arg, doc, root, err);
}

/* Callbacks may cancel or add requests, so the cookies are copied first and looked up again. */
static void ng_fail_all(const char *err)
{
    GPtrArray *cookies = g_ptr_array_new_with_free_func(g_free);
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, ng_pending);
    while (g_hash_table_iter_next(&it, &k, &v))
        g_ptr_array_add(cookies, g_strdup(k));
    for (guint i = 0; i < cookies->len; i++) {
        struct ng_req *r = ng_pending ? g_hash_table_lookup(ng_pending, cookies->pdata[i]) : NULL;
        if (r)
            ng_finish(r, NULL, NULL, err);
    }
    g_ptr_array_free(cookies, TRUE);
}

static gboolean ng_on_timer(gpointer arg)
{
    struct ng_req *r = arg;
    if (g_get_monotonic_time() >= r->deadline_us) {
        r->timer = 0;
        char err[96];
        snprintf(err, sizeof(err), "no answer from the media relay within %ld ms", ng_timeout_ms);
        ng_finish(r, NULL, NULL, err);
        return G_SOURCE_REMOVE;
    }
    if (send(ng_fd, r->packet, r->len, 0) < 0 && errno == ECONNREFUSED) {
        r->timer = 0;
        ng_finish(r, NULL, NULL, "the media relay is unreachable");
        return G_SOURCE_REMOVE;
    }
    r->interval_ms *= 2;
    gint64 left_ms = (r->deadline_us - g_get_monotonic_time()) / 1000;
    r->timer =
        g_timeout_add(left_ms > 0 && left_ms < r->interval_ms ? (guint)left_ms + 1 : r->interval_ms,
                      ng_on_timer, r);
    return G_SOURCE_REMOVE;
}

static gboolean ng_on_readable(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    (void)data;
    for (int i = 0; i < 64; i++) { /* drain, but let the loop breathe under a flood */
        ssize_t n = recv(fd, ng_rxbuf, NG_MAX_PACKET, MSG_DONTWAIT);
        if (n < 0) {
            if (errno == ECONNREFUSED)
                ng_fail_all("the media relay is unreachable");
            break;
        }
        char *sp = memchr(ng_rxbuf, ' ', (size_t)n);
        if (!sp || sp == ng_rxbuf || sp - ng_rxbuf >= 40)
            continue; /* not an ng answer */
        char cookie[40];
        memcpy(cookie, ng_rxbuf, (size_t)(sp - ng_rxbuf));
        cookie[sp - ng_rxbuf] = '\0';
        struct ng_req *r = g_hash_table_lookup(ng_pending, cookie);
        if (!r)
            continue; /* late duplicate, or not ours */
        struct bdoc doc = {ng_nodes, NG_MAX_NODES, 0};
        const char *body = sp + 1;
        size_t blen = (size_t)(ng_rxbuf + n - body);
        if (bdec_parse(&doc, body, blen) < 0 || ng_nodes[0].type != BNODE_DICT)
            ng_finish(r, NULL, NULL, "the media relay sent a malformed answer");
        else
            ng_finish(r, &doc, &ng_nodes[0], NULL);
    }
    return G_SOURCE_CONTINUE;
}

int ng_start(const char *addr, long timeout_ms, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof(host)) {
        snprintf(err, errlen, "media relay address \"%s\" is not host:port", addr);
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "media relay address \"%s\": %s", addr, gai_strerror(rc));
        return -1;
    }
    ng_fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (ng_fd < 0 || connect(ng_fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        snprintf(err, errlen, "media relay %s: %s", addr, strerror(errno));
        freeaddrinfo(ai);
        if (ng_fd >= 0)
            close(ng_fd);
        ng_fd = -1;
        return -1;
    }
    freeaddrinfo(ai);
    ng_timeout_ms = timeout_ms;
    rnd_token(ng_prefix, 6);
    ng_pending = g_hash_table_new(g_str_hash, g_str_equal);
    ng_rxbuf = malloc(NG_MAX_PACKET);
    ng_nodes = calloc(NG_MAX_NODES, sizeof(*ng_nodes));
    ng_watch = g_unix_fd_add(ng_fd, G_IO_IN | G_IO_ERR, ng_on_readable, NULL);
    return 0;
}

void ng_stop(void)
{
    if (ng_pending) {
        GList *all = g_hash_table_get_values(ng_pending);
        g_list_free_full(all, (GDestroyNotify)ng_req_free);
        g_hash_table_destroy(ng_pending);
        ng_pending = NULL;
    }
    if (ng_watch)
        g_source_remove(ng_watch);
    ng_watch = 0;
    if (ng_fd >= 0)
        close(ng_fd);
    ng_fd = -1;
    free(ng_rxbuf);
    free(ng_nodes);
    ng_rxbuf = NULL;
    ng_nodes = NULL;
}

uint64_t ng_send(const char *dict, size_t len, ng_reply_fn fn, void *arg)
{
    if (ng_fd < 0 || g_hash_table_size(ng_pending) >= NG_MAX_PENDING || len > NG_MAX_PACKET - 64)
        return 0;
    struct ng_req *r = calloc(1, sizeof(*r));
    r->id = ++ng_next_id;
    snprintf(r->cookie, sizeof(r->cookie), "%s%llx", ng_prefix, (unsigned long long)r->id);
    size_t cl = strlen(r->cookie);
    r->packet = malloc(cl + 1 + len);
    memcpy(r->packet, r->cookie, cl);
    r->packet[cl] = ' ';
    memcpy(r->packet + cl + 1, dict, len);
    r->len = cl + 1 + len;
    r->fn = fn;
    r->arg = arg;
    r->sent_us = g_get_monotonic_time();
    r->deadline_us = r->sent_us + (gint64)ng_timeout_ms * 1000;
    r->interval_ms = NG_RETRANSMIT_MS;
    g_hash_table_insert(ng_pending, r->cookie, r);
    ng_counters.requests_total++;
    /* A refused send (relay known down) is reported through the timer, never from here. */
    (void)send(ng_fd, r->packet, r->len, 0);
    r->timer = g_timeout_add(
        ng_timeout_ms < NG_RETRANSMIT_MS ? (guint)ng_timeout_ms : NG_RETRANSMIT_MS, ng_on_timer, r);
    return r->id;
}

void ng_cancel(uint64_t handle)
{
    if (!ng_pending || !handle)
        return;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, ng_pending);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        struct ng_req *r = v;
        if (r->id == handle) {
            g_hash_table_iter_remove(&it);
            ng_req_free(r);
            return;
        }
    }
}
