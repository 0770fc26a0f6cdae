/* admin_api: what the operator page reads and does, on this process's own state: one JSON
 * snapshot (flows, registrations, dialogs, per-source counts, recent errors) and the removal of
 * a registration. */
#ifndef IMSGW_ADMIN_API_H
#define IMSGW_ADMIN_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define ADMIN_LIST_DEFAULT 100 /* rows per list when the request names no limit */
#define ADMIN_LIST_MAX 500     /* rows per list at most, whatever it names */

/* The snapshot; each list has "total" and at most limit "items" from offset on. */
json_t *admin_api_state(unsigned limit, unsigned offset);
/* Ends the registration of flow id at the edge, sends its de-REGISTER upstream and closes the
 * flow with 4401 (as a network-initiated de-registration does). 0 with the AOR in aor, or -1
 * when there is no such flow or it holds no registration. */
int admin_api_remove(uint64_t id, char *aor, size_t aorlen);

#endif
