/* gw_proxyproto: the PROXY protocol v2 header (HAProxy's proxy-protocol.txt §2.2) that a TCP load
 * balancer puts before the client's bytes, so the gateway sees the client's address instead of
 * the balancer's. libwebsockets 4.1 cannot read it; the gateway already interposes the socket
 * reads lws makes (ws_mask.c), and this module consumes the header there, on the first read of an
 * accepted connection, before lws or OpenSSL see a byte.
 *
 * Only connections from `proxy-protocol-from` may (and must) start with the header: one from
 * elsewhere that starts with a PROXY signature, or one from the balancer without a valid header,
 * is closed. With the setting empty nothing changes. */
#ifndef IMSGW_GW_PROXYPROTO_H
#define IMSGW_GW_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "peer.h"

#define GW_PP_FIXED 16 /* signature(12) ‖ version/command ‖ family ‖ length(2) */
#define GW_PP_MAX (GW_PP_FIXED + 512) /* addresses and TLVs beyond this are refused */

enum gw_pp_result {
    GW_PP_MORE = 0, /* a valid beginning; *need says how many bytes the header has in all */
    GW_PP_OK = 1,   /* complete: *need is its length, out is filled */
    GW_PP_BAD = -1, /* not a header we accept; why is set */
};

struct gw_pp_header {
    int local;                /* LOCAL command (the balancer's own health check): no client */
    char addr[PEER_ADDR_MAX]; /* the client's source address (PROXY over TCP/IPv4 or IPv6) */
    unsigned port;
};

/* Parses the n bytes b (the start of a connection). Never reads past n; bounded by GW_PP_MAX. */
enum gw_pp_result gw_pp_parse(const unsigned char *b, size_t n, size_t *need,
                              struct gw_pp_header *out, const char **why);
/* 1 if the n bytes (n >= 1) begin like a PROXY header (v2 signature prefix, or "PROXY " v1). */
int gw_pp_looks_like(const unsigned char *b, size_t n);

/* A new accepted socket: from a balancer in `proxy-protocol-from` its header is awaited; from
 * elsewhere its first bytes are checked for a header that should not be there. No-op when the
 * setting is empty. */
void gw_pp_track(int fd);
/* The socket closes. */
void gw_pp_forget(int fd);
/* Called by the read interposers before every read of fd. 1: read on (nothing pending, or the
 * header was just consumed); 0: the connection is refused (the caller reports end of stream);
 * -1 with errno EAGAIN: the header is still incomplete, wait for more. */
int gw_pp_gate(int fd);
/* The client address the balancer gave for fd into out (1), or 0 when there is none (not from a
 * balancer, LOCAL command, or unknown fd). */
int gw_pp_client(int fd, char *out, size_t len);
/* Frees the table at exit. */
void gw_pp_shutdown(void);

#endif
