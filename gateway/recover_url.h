/* recover_url: flow recovery across workers (docs/dpop-sip.md, "Workers"). A held flow lives in
 * the worker that had its WebSocket, and the shared port lets the kernel pick any worker for a
 * reconnect. So with recovery-port set, worker n also listens on recovery-port + n (a socket of
 * its own: no other process accepts there; gw_workers_listen opens it) and the 200 to a
 * DPoP-proven REGISTER names that worker's URL:
 *
 *     Flow-Recovery-URI: <wss://gw.example.com:8101/sip>
 *
 * A client that loses its WebSocket mid-call reconnects there first and falls back to the main
 * URL. The URL comes from the configuration only (recovery-url, or listen), never from the
 * request: nothing a client sends can change what another client is told. */
#ifndef IMSGW_RECOVER_URL_H
#define IMSGW_RECOVER_URL_H

#include <stddef.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

#include "gw_settings.h"

#define RECOVER_URL_HEADER "Flow-Recovery-URI"
#define RECOVER_URL_MAX 256 /* the URL once {worker} and {port} are replaced */

/* Settings check (gw_settings_finish): recovery-url well formed and usable with the other
 * settings; -1 with a one-line reason in err. */
int recover_url_check(const struct gw_settings *s, char *err, size_t errlen);
/* The recovery port of worker n, or 0 when recovery-port is off. */
long recover_url_port(const struct gw_settings *s, unsigned worker);
/* Worker n's URL into out (RECOVER_URL_MAX + 1 bytes); -1 when off or it does not fit. */
int recover_url_format(const struct gw_settings *s, unsigned worker, char *out, size_t len);
/* A REGISTER answer on its way to the client: any Flow-Recovery-URI from upstream is removed
 * (only this gateway names one), and proven = 1 (a 2xx to a DPoP-proven REGISTER, recovery on)
 * adds this worker's. */
void recover_url_answer(msg_t *msg, sip_t *sip, int proven);

#endif
