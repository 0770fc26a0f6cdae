/* peer: addresses are compared in binary (inet_pton), so "::ffff:10.0.0.1", "10.0.0.1" and
 * differently written IPv6 addresses are the same peer. */
#include "peer.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct peer_ip {
    int v6;
    unsigned char b[16];
};

static const unsigned char peer_v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int peer_parse(const char *text, struct peer_ip *ip)
{
    char buf[PEER_ADDR_MAX];
    size_t n = strlen(text);
    if (n >= sizeof(buf))
        return -1;
    memcpy(buf, text, n + 1);
    if (buf[0] == '[' && n > 2 && buf[n - 1] == ']') { /* "[2001:db8::1]" */
        memmove(buf, buf + 1, n - 2);
        buf[n - 2] = '\0';
    }
    if (inet_pton(AF_INET, buf, ip->b) == 1) {
        ip->v6 = 0;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, ip->b) != 1)
        return -1;
    ip->v6 = 1;
    if (memcmp(ip->b, peer_v4mapped, 12) == 0) {
        memmove(ip->b, ip->b + 12, 4);
        ip->v6 = 0;
    }
    return 0;
}

/* Parses "addr" or "addr/bits" into ip and its prefix length. */
static int peer_parse_prefix(const char *entry, struct peer_ip *ip, int *bits)
{
    char buf[PEER_ADDR_MAX];
    snprintf(buf, sizeof(buf), "%s", entry);
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    if (strlen(entry) >= sizeof(buf) || peer_parse(buf, ip) < 0)
        return -1;
    int max = ip->v6 ? 128 : 32;
    *bits = max;
    if (slash) {
        char *end;
        long b = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || b < 0 || b > max)
            return -1;
        *bits = (int)b;
    }
    return 0;
}

static int peer_prefix_match(const struct peer_ip *a, const struct peer_ip *net, int bits)
{
    if (a->v6 != net->v6)
        return 0;
    int whole = bits / 8, rest = bits % 8;
    if (memcmp(a->b, net->b, (size_t)whole) != 0)
        return 0;
    if (!rest)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (a->b[whole] & mask) == (net->b[whole] & mask);
}

static int peer_ip_in_list(const struct peer_ip *ip, char *const *list)
{
    for (char *const *e = list; e && *e; e++) {
        struct peer_ip net;
        int bits;
        if (peer_parse_prefix(*e, &net, &bits) == 0 && peer_prefix_match(ip, &net, bits))
            return 1;
    }
    return 0;
}

int peer_in_list(const char *addr, char *const *list)
{
    struct peer_ip ip;
    return addr && peer_parse(addr, &ip) == 0 && peer_ip_in_list(&ip, list);
}

int peer_list_valid(char *const *list, char *err, size_t errlen)
{
    for (char *const *e = list; e && *e; e++) {
        struct peer_ip net;
        int bits;
        if (peer_parse_prefix(*e, &net, &bits) < 0) {
            snprintf(err, errlen, "\"%.64s\" is not an IP address or prefix", *e);
            return 0;
        }
    }
    return 1;
}

/* addr as written, except that an IPv4-mapped IPv6 address becomes plain IPv4. */
static void peer_canonical(const char *addr, char *out, size_t len)
{
    struct peer_ip ip;
    char text[INET6_ADDRSTRLEN];
    if (peer_parse(addr, &ip) == 0 && !ip.v6 && inet_ntop(AF_INET, ip.b, text, sizeof(text)))
        addr = text;
    snprintf(out, len, "%s", addr);
}

void peer_client(const char *peer, const char *xff, char *const *trusted, char *out, size_t len)
{
    peer_canonical(peer, out, len);
    if (!xff || !*xff || !trusted || !trusted[0] || !peer_in_list(peer, trusted))
        return;
    /* walk from the right: each hop appended the address it saw */
    size_t end = strlen(xff);
    while (end > 0) {
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        char entry[PEER_ADDR_MAX];
        size_t a = start, b = end;
        while (a < b && (xff[a] == ' ' || xff[a] == '\t'))
            a++;
        while (b > a && (xff[b - 1] == ' ' || xff[b - 1] == '\t'))
            b--;
        struct peer_ip ip;
        if (b - a >= sizeof(entry))
            return;
        memcpy(entry, xff + a, b - a);
        entry[b - a] = '\0';
        if (peer_parse(entry, &ip) < 0)
            return; /* garbage: trust nothing left of it */
        peer_canonical(entry, out, len);
        if (!peer_ip_in_list(&ip, trusted))
            return;
        end = start ? start - 1 : 0;
    }
}

void peer_source_key(const char *addr, char *out, size_t len)
{
    struct peer_ip ip;
    if (peer_parse(addr, &ip) < 0) {
        snprintf(out, len, "%s", addr);
        return;
    }
    char text[INET6_ADDRSTRLEN];
    if (!ip.v6) {
        inet_ntop(AF_INET, ip.b, text, sizeof(text));
        snprintf(out, len, "%s", text);
        return;
    }
    memset(ip.b + 8, 0, 8);
    inet_ntop(AF_INET6, ip.b, text, sizeof(text));
    snprintf(out, len, "%s/64", text);
}
