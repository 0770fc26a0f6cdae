/* ws_mask: RFC 6455 §5.1 says a server must close a connection that sends an unmasked frame
 * (1002). libwebsockets 4.1 unmasks without looking at the bit and has no hook for it, so this
 * module watches the raw bytes lws reads from each accepted socket (it interposes recv(); see
 * ws_mask.c) and, at the first unmasked client frame, withholds it from lws and has the
 * connection closed with 1002. */
#ifndef IMSGW_WS_MASK_H
#define IMSGW_WS_MASK_H

#include <stddef.h>
#include <stdint.h>

struct gw_conn;

/* The byte-stream parser: the HTTP request head, then WebSocket frame headers. */
enum ws_mask_phase { WS_MASK_HEAD, WS_MASK_FRAME, WS_MASK_PAYLOAD, WS_MASK_PASS, WS_MASK_BAD };
struct ws_mask_parser {
    enum ws_mask_phase phase;
    unsigned crlf;       /* bytes of "\r\n\r\n" matched at the end of the head */
    unsigned line_pos;   /* position in the current head line, up to 8 */
    int line_is_upgrade; /* the line so far matches "upgrade:" */
    int upgrade;         /* the request has an Upgrade header: frames follow */
    unsigned char hdr[14];
    unsigned have, need; /* frame header bytes */
    uint64_t remaining;  /* payload bytes of the current frame still to skip */
};

/* Feeds n bytes read from the socket; returns how many of them come before the first unmasked
 * frame (n when none). Once an unmasked frame was seen the phase stays WS_MASK_BAD. */
size_t ws_mask_feed(struct ws_mask_parser *p, const unsigned char *b, size_t n);

/* A new accepted socket (LWS_CALLBACK_FILTER_NETWORK_CONNECTION): watch it from its first byte.
 * tls: the listener serves TLS, so the bytes are watched after decryption (SSL_read), never the
 * raw socket's (which are ciphertext); plain: the raw socket's (recv). */
void ws_mask_track(int fd, int tls);
/* The socket closes: stop watching it. */
void ws_mask_forget(int fd);
/* The socket became the WebSocket flow c: an unmasked frame closes c with 1002. */
void ws_mask_attach(int fd, struct gw_conn *c);
/* Frees the table at exit. */
void ws_mask_shutdown(void);

#endif
