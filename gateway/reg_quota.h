/* reg_quota: how many REGISTERs one flow may have in progress at once (waiting for the WAF or for
 * the IMS core). A client needs one; a flood of REGISTERs with random tokens on one WebSocket
 * must not hold every gateway→WAF request slot (issue 9 item 6). */
#ifndef IMSGW_REG_QUOTA_H
#define IMSGW_REG_QUOTA_H

#include <stdint.h>

#define REG_QUOTA_PER_FLOW 4
#define REG_QUOTA_RETRY_AFTER "5" /* seconds, in the 503 of a REGISTER over the quota */

/* Takes one place for flow conn_id: 1, or 0 when the flow already has REG_QUOTA_PER_FLOW. */
int reg_quota_take(uint64_t conn_id);
/* Gives the place back (the REGISTER got its final answer or was dropped). */
void reg_quota_give(uint64_t conn_id);

#endif
