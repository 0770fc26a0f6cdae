/* sipmsg: helpers to build, send and inspect SIP messages on the WebSocket side (a leaf module:
 * it calls only sofia-sip and ws_send). */
#ifndef IMSGW_SIPMSG_H
#define IMSGW_SIPMSG_H

#include <stddef.h>
#include <stdint.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/su_tag.h>

struct gw_conn;

/* Serialises msg and queues it on c. Returns 0 or -1. */
int sipmsg_send(struct gw_conn *c, msg_t *msg);
/* Answers req on c with status (adds a To-tag to final responses) and the tagged headers. */
void sipmsg_reply(struct gw_conn *c, sip_t const *req, int status, char const *phrase,
                  tag_type_t tag, tag_value_t value, ...);
/* Removes every header whose name starts with "P-" (untrusted at the trust-domain edge). */
void sipmsg_strip_p_headers(msg_t *msg, sip_t *sip, const char *only_prefix);

/* Adds "Name: value" for an extension sofia-sip has no type for, among the headers (sip_add_tl
 * with SIPTAG_HEADER_STR would put it after the blank line of a message without a body).
 * Returns 0 or -1. */
int sipmsg_add_unknown(msg_t *msg, sip_t *sip, const char *line);
/* Replaces the CSeq number, keeping its method. Returns 0 or -1. */
int sipmsg_set_cseq(msg_t *msg, sip_t *sip, uint32_t seq);

/* url_e() / sip_header_e() that refuse (-1, empty string) instead of truncating: a cut URI
 * would otherwise carry stack bytes into comparisons, logs and messages. */
int sipmsg_url(char *buf, size_t len, const url_t *u);
int sipmsg_header_text(char *buf, size_t len, const sip_header_t *h);
/* The first header of an extension sofia-sip has no type for (P-Preferred-Identity…), or NULL. */
const sip_header_t *sipmsg_find_unknown(sip_t const *sip, const char *name);
/* The values of every header in the chain starting at h, joined with ", " and malloc'ed (NULL when
 * none or too long). With unknown_name, h is sip->sip_unknown and only headers of that name
 * count (for extensions sofia-sip has no type for, such as P-Associated-URI). */
char *sipmsg_join_values(const sip_header_t *h, const char *unknown_name);

/* A message kept for later as its text, malloc'ed to size: a parsed sofia-sip message costs a
 * few KB (home, buffer, header structures), its text a few hundred bytes. For messages that are
 * kept per registration and read again rarely (docs/benchmarks.md, idle memory). free() it. */
struct sipmsg_frozen {
    size_t len;
    char text[];
};
/* The text of msg (as it would be sent, without what the transport adds later), or NULL. */
struct sipmsg_frozen *sipmsg_freeze(msg_t *msg);
/* The same for a request nta has just sent (nta_outgoing_mcreate): its text without the Via nta
 * put on top, read from the encoding nta's transport made rather than printed a second time
 * (msg_as_string() before sending was ~6 % of a REGISTER's instructions). via_before: the top
 * Via before nta_outgoing_mcreate(), to tell whether nta has added its own yet. NULL when none. */
struct sipmsg_frozen *sipmsg_freeze_sent(msg_t *msg, const sip_via_t *via_before);
/* A fresh parsed message from f (the caller owns it), or NULL. */
msg_t *sipmsg_thaw(const struct sipmsg_frozen *f);

#endif
