/* admin_events: a bounded ring of this process's recent warnings and errors (time, level, the
 * log line as the logger wrote it: redacted, one line), for the operator page. */
#ifndef IMSGW_ADMIN_EVENTS_H
#define IMSGW_ADMIN_EVENTS_H

#include <jansson.h>

#define ADMIN_EVENTS_MAX 64  /* events kept; older ones are overwritten */
#define ADMIN_EVENT_TEXT 240 /* bytes of a line kept */

/* Starts collecting (a log sink for warn and error lines). */
void admin_events_start(void);
/* The newest first, at most limit: [{"time": epoch s, "level": "warn", "text": "…"}]. */
json_t *admin_events_json(unsigned limit);
/* Events recorded since the start (the ring keeps the last ADMIN_EVENTS_MAX). */
unsigned long admin_events_total(void);

#endif
