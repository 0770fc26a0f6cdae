/* ims_peers: the configured list is final; the default list grows, within a bound, with the
 * Service-Route hosts of successful registrations. Names are resolved with GResolver (a GLib
 * worker thread calls getaddrinfo; the answer comes back on the main loop), so the loop never
 * blocks on DNS. Until a name resolves, requests from it are refused as before. */
#include "ims_peers.h"

#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <gio/gio.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/su.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>

#include "gw.h"
#include "log.h"

static char *learnt_ip[IMS_PEERS_MAX_LEARNT];
static char *learnt_host[IMS_PEERS_MAX_LEARNT];
static unsigned n_ip, n_host;

static int peers_in(char *const *list, unsigned n, const char *s)
{
    for (unsigned i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static void peers_add_ip(const char *ip)
{
    if (peers_in(learnt_ip, n_ip, ip))
        return;
    if (n_ip == IMS_PEERS_MAX_LEARNT) {
        log_warn("ims-peers: more than %d learnt core addresses; %s not added (set ims-peers)",
                 IMS_PEERS_MAX_LEARNT, ip);
        return;
    }
    char *copy = strdup(ip);
    if (!copy)
        return;
    learnt_ip[n_ip++] = copy;
    log_info("ims-peers: %s learnt from a Service-Route", ip);
}

static void peers_resolved(GObject *src, GAsyncResult *res, gpointer arg)
{
    char *host = arg;
    GError *err = NULL;
    GList *addrs = g_resolver_lookup_by_name_finish(G_RESOLVER(src), res, &err);
    if (!addrs) {
        log_warn("ims-peers: cannot resolve Service-Route host %s: %s", host,
                 err ? err->message : "no address");
        g_clear_error(&err);
    }
    for (GList *a = addrs; a; a = a->next) {
        gchar *ip = g_inet_address_to_string(a->data);
        peers_add_ip(ip);
        g_free(ip);
    }
    g_resolver_free_addresses(addrs);
    free(host);
}

static void peers_learn_host(const char *host)
{
    char buf[256];
    size_t len = strlen(host);
    if (len >= sizeof(buf))
        return;
    if (host[0] == '[' && len > 2 && host[len - 1] == ']') { /* IPv6 reference */
        memcpy(buf, host + 1, len - 2);
        buf[len - 2] = '\0';
    } else {
        memcpy(buf, host, len + 1);
    }
    unsigned char addr[16];
    if (inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1) {
        peers_add_ip(buf);
        return;
    }
    if (peers_in(learnt_host, n_host, buf) || n_host == IMS_PEERS_MAX_LEARNT)
        return;
    char *name = strdup(buf), *arg = strdup(buf);
    if (!name || !arg) {
        free(name);
        free(arg);
        return;
    }
    learnt_host[n_host++] = name;
    GResolver *r = g_resolver_get_default();
    g_resolver_lookup_by_name_async(r, buf, NULL, peers_resolved, arg);
    g_object_unref(r);
}

void ims_peers_learn(const char *service_route)
{
    if (!gw->cfg->ims_peers_default || !service_route || !*service_route)
        return;
    su_home_t *home = su_home_new(sizeof(*home));
    if (!home)
        return;
    sip_route_t *routes = sip_route_make(home, service_route);
    for (sip_route_t *r = routes; r; r = r->r_next)
        if (r->r_url->url_host)
            peers_learn_host(r->r_url->url_host);
    su_home_unref(home);
}

int ims_peers_allowed(const char *ip)
{
    for (char *const *p = gw->cfg->ims_peers; p && *p; p++)
        if (strcmp(*p, ip) == 0)
            return 1;
    return peers_in(learnt_ip, n_ip, ip);
}

int ims_peers_msg_allowed(msg_t *msg)
{
    su_addrinfo_t *ai = msg_addrinfo(msg);
    char ip[INET6_ADDRSTRLEN] = "";
    if (!ai || !ai->ai_addr)
        return 0;
    su_sockaddr_t const *sa = (su_sockaddr_t const *)ai->ai_addr;
    if (sa->su_family == AF_INET)
        inet_ntop(AF_INET, &sa->su_sin.sin_addr, ip, sizeof(ip));
    else if (sa->su_family == AF_INET6)
        inet_ntop(AF_INET6, &sa->su_sin6.sin6_addr, ip, sizeof(ip));
    return ims_peers_allowed(ip);
}

void ims_peers_clear(void)
{
    for (unsigned i = 0; i < n_ip; i++)
        free(learnt_ip[i]);
    for (unsigned i = 0; i < n_host; i++)
        free(learnt_host[i]);
    n_ip = n_host = 0;
}
