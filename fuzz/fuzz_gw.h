/* fuzz_gw: the gateway state the gateway fuzz targets share: demo settings, a fixed flow key,
 * the T19 test key (and only it) in the JWKS, quiet logs, and an nta agent without transports:
 * nothing a target does ever reaches a socket (see fake_nta.c, fake_http_client.c). */
#ifndef IMSGW_FUZZ_GW_H
#define IMSGW_FUZZ_GW_H

#include <stddef.h>
#include <stdint.h>

/* Sets up the global gw once (call from LLVMFuzzerInitialize); waf_client: with client
 * credentials for the WAF (else opaque tokens and codes fail at once, as without them). */
void fuzz_gw_init(int waf_client);

/* Set by IMSGW_FUZZ_LOG: the gateway logs, and the fakes say what they send. */
extern int fuzz_gw_verbose;

/* A WebSocket flow as ws_conn.c would open it, known to ws_find(). */
struct gw_conn *fuzz_gw_conn_open(void);
/* Ends the flow as ws_conn.c does when the socket closes, then frees it. */
void fuzz_gw_conn_close(struct gw_conn *c);

#endif
