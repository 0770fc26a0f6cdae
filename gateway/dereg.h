/* dereg: when a WebSocket that holds a registration closes, the gateway de-registers the user at
 * the IMS core after dereg-grace seconds (0 = off, the default: the binding then lapses at its
 * token-clamped expiry). A new registration of the same AOR and instance meanwhile cancels it,
 * so a browser that reconnects quickly (RFC 5626 §4.5) keeps its fresh binding. */
#ifndef IMSGW_DEREG_H
#define IMSGW_DEREG_H

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

#define DEREG_KEY_MAX 600

/* The binding a REGISTER is about: "<To AOR>|<+sip.instance or Contact URI>". -1 when too long. */
int dereg_key(sip_t const *sip, char key[DEREG_KEY_MAX]);
/* Sends a de-REGISTER built from last (the REGISTER as last forwarded; taken) after the grace. */
void dereg_schedule(msg_t *last, const char *key);
/* Sends the de-REGISTER built from last (taken) now, whatever dereg-grace says; why goes into
 * the log line (e.g. "removed by the operator"). */
void dereg_now(msg_t *last, const char *key, const char *why);
/* A registration of key succeeded: any de-REGISTER waiting for it is dropped. */
void dereg_cancel(const char *key);
/* Pending de-REGISTERs (a gauge), and freeing them at shutdown. */
unsigned dereg_pending(void);
void dereg_clear(void);

#endif
