/* fake_nta: the IMS core of the gateway fuzz target. The target links with
 * -Wl,--wrap=nta_outgoing_* so that every client transaction the gateway starts lands here instead
 * of on a socket; the fake core answers them when the target says so. */
#ifndef IMSGW_FAKE_NTA_H
#define IMSGW_FAKE_NTA_H

/* Answers every open transaction: INVITEs get a 180 and, when finals is set, their final answer;
 * the rest get their final answer (chosen by the CSeq number: 200, 486/403, 503 or a timeout). */
void fake_nta_answer(int finals);
/* Transactions the gateway started and never destroyed (after a flow closed, this is a leak). */
unsigned fake_nta_open(void);
/* Frees what the gateway left (call after counting the leaks). */
void fake_nta_reset(void);

#endif
