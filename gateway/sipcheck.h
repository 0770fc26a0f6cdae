/* sipcheck: the RFC 3261 syntax rules sofia-sip's lenient parser lets through, checked on a
 * request from a WebSocket before anything acts on it (RFC 4475 §3.1.2 torture messages). A
 * leaf module: it reads the raw bytes and the parsed message, and only says what is wrong. */
#ifndef IMSGW_SIPCHECK_H
#define IMSGW_SIPCHECK_H

#include <stddef.h>

#include <sofia-sip/sip.h>

/* 0 when the request is acceptable; else the status to answer (400, 505) and a phrase that
 * says in plain words what is wrong. data/len: the message as received. */
int sipcheck_request(const char *data, size_t len, sip_t const *sip, const char **phrase);

#endif
