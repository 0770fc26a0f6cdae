/* gw_sip: SIP messages on the WebSocket side: one SIP message per WebSocket message (RFC 7118
 * §5), parsed by sofia-sip; local responses built from the request. */
#ifndef IMSGW_GW_SIP_H
#define IMSGW_GW_SIP_H

#include <stddef.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/su_tag.h>

struct gw_conn;

/* Handles one whole WebSocket message. Returns 0, or -(WebSocket close code) when the message
 * is so broken that the connection must close (RFC 6455 §7.4: 1002 / 1007). */
int gw_sip_on_ws_message(struct gw_conn *c, const char *data, size_t len);
/* Serialises msg and queues it on c. Returns 0 or -1. */
int gw_sip_send(struct gw_conn *c, msg_t *msg);
/* Answers req on c with status (adds a To-tag to final responses) and the tagged headers. */
void gw_sip_reply(struct gw_conn *c, sip_t const *req, int status, char const *phrase,
                  tag_type_t tag, tag_value_t value, ...);
/* Removes every header whose name starts with "P-" (untrusted at the trust-domain edge). */
void gw_sip_strip_p_headers(msg_t *msg, sip_t *sip, const char *only_prefix);

/* url_e() / sip_header_e() that refuse (-1, empty string) instead of truncating: a cut URI
 * would otherwise carry stack bytes into comparisons, logs and messages. */
int gw_sip_url(char *buf, size_t len, const url_t *u);
int gw_sip_header_text(char *buf, size_t len, const sip_header_t *h);
/* The first header of an extension sofia-sip has no type for (P-Preferred-Identity…), or NULL. */
const sip_header_t *gw_sip_find_unknown(sip_t const *sip, const char *name);
/* The values of every header in the chain starting at h, joined with ", " and malloc'ed (NULL when
 * none or too long). With unknown_name, h is sip->sip_unknown and only headers of that name
 * count (for extensions sofia-sip has no type for, such as P-Associated-URI). */
char *gw_sip_join_values(const sip_header_t *h, const char *unknown_name);

#endif
