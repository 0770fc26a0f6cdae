/* gw_sip: what can be answered is answered (400 with a recognisable request line); what cannot
 * be parsed as SIP at all closes the connection, as RFC 7118 leaves no other signal. */
#include "gw_sip.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/msg_buffer.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_tagarg.h>

#include "gw.h"
#include "log.h"
#include "proxy.h"
#include "recover.h"
#include "reg.h"
#include "rnd.h"
#include "sipcheck.h"
#include "sipmsg.h"
#include "ws_conn.h"

#define WS_CLOSE_INVALID_DATA 1007
#define GW_SIP_MAX_HEADERS 128 /* a SIP request needs a dozen; more is an attack */

/* Header lines before the blank line; bounded work, since len is bounded by max-message-size. */
static int gw_sip_header_lines(const char *data, size_t len)
{
    int lines = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (data[i] != '\r' || data[i + 1] != '\n')
            continue;
        if (i + 3 < len && data[i + 2] == '\r' && data[i + 3] == '\n')
            break;
        lines++;
    }
    return lines;
}

/* RFC 5626 §4.4.1 keepalive: a message of only CRLFCRLF is answered with one CRLF. */
static int gw_sip_is_keepalive(const char *data, size_t len)
{
    return len == 4 && memcmp(data, "\r\n\r\n", 4) == 0;
}

/* Bytes sofia-sip left unparsed after the first message (a second message packed into the same
 * WebSocket message would otherwise vanish without an answer). Line ends alone are tolerated. */
static int gw_sip_has_trailing_message(msg_t *msg, const char *data, size_t len)
{
    size_t left = msg_buf_committed(msg);
    for (size_t i = left <= len ? len - left : len; i < len; i++)
        if (data[i] != '\r' && data[i] != '\n')
            return 1;
    return 0;
}

/* Two SIP messages in one WebSocket message, or a body that disagrees with Content-Length, are
 * framing errors (RFC 7118 §5: exactly one message per WebSocket message). */
static int gw_sip_framing_ok(sip_t const *sip)
{
    size_t body = sip->sip_payload ? sip->sip_payload->pl_len : 0;
    if (sip->sip_content_length)
        return sip->sip_content_length->l_length == body;
    return body == 0 || sip->sip_content_type != NULL;
}

static int gw_sip_on_request(struct gw_conn *c, msg_t *msg, sip_t *sip, const char *data,
                             size_t len)
{
    if (msg_has_error(msg) || sip->sip_error || !sip->sip_via || !sip->sip_from || !sip->sip_to ||
        !sip->sip_call_id || !sip->sip_cseq || !gw_sip_framing_ok(sip) || !sip->sip_via->v_branch ||
        sip->sip_cseq->cs_method != sip->sip_request->rq_method) {
        log_info("sip: %s from connection %llu is malformed; 400", sip->sip_request->rq_method_name,
                 (unsigned long long)c->id);
        sipmsg_reply(c, sip, 400, "Bad Request", TAG_END());
        msg_destroy(msg);
        return 0;
    }
    const char *phrase = NULL;
    int status = sipcheck_request(data, len, sip, &phrase);
    if (status) {
        log_info("sip: %s from connection %llu refused: %d %s", sip->sip_request->rq_method_name,
                 (unsigned long long)c->id, status, phrase);
        sipmsg_reply(c, sip, status, phrase, TAG_END());
        msg_destroy(msg);
        return 0;
    }
    if (sip->sip_request->rq_method == sip_method_register)
        reg_handle(c, msg); /* takes msg */
    else
        proxy_out_request(c, msg); /* takes msg */
    return 0;
}

int gw_sip_on_ws_message(struct gw_conn *c, const char *data, size_t len)
{
    if (gw_sip_is_keepalive(data, len)) {
        ws_send(c, "\r\n", 2);
        return 0;
    }
    msg_t *msg = msg_make(sip_default_mclass(), 0, data, (ssize_t)len);
    if (msg && gw_sip_header_lines(data, len) > GW_SIP_MAX_HEADERS) {
        sip_t *big = sip_object(msg);
        log_info("sip: message from connection %llu has more than %d headers",
                 (unsigned long long)c->id, GW_SIP_MAX_HEADERS);
        int is_request = big && big->sip_request;
        if (is_request)
            sipmsg_reply(c, big, 400, "Bad Request (too many headers)", TAG_END());
        msg_destroy(msg);
        return is_request ? 0 : -WS_CLOSE_INVALID_DATA;
    }
    sip_t *sip = msg ? sip_object(msg) : NULL;
    if (!sip || (!sip->sip_request && !sip->sip_status)) {
        log_info("ws: connection %llu sent a message that is not SIP; closing",
                 (unsigned long long)c->id);
        if (msg)
            msg_destroy(msg);
        return -WS_CLOSE_INVALID_DATA;
    }
    if (gw_sip_has_trailing_message(msg, data, len)) {
        log_info("sip: connection %llu sent more than one SIP message in a WebSocket message",
                 (unsigned long long)c->id);
        int is_request = sip->sip_request != NULL;
        if (is_request)
            sipmsg_reply(c, sip, 400, "Bad Request (one SIP message per WebSocket message)",
                         TAG_END());
        msg_destroy(msg);
        return is_request ? 0 : -WS_CLOSE_INVALID_DATA;
    }
    if (sip->sip_request)
        return gw_sip_on_request(c, msg, sip, data, len);
    if (msg_has_error(msg) || sip->sip_error || !sip->sip_via || !sip->sip_cseq) {
        log_info("sip: malformed response from connection %llu dropped", (unsigned long long)c->id);
        msg_destroy(msg);
        return 0;
    }
    proxy_in_response(c, msg); /* takes msg */
    return 0;
}

void gw_sip_flow_closed(struct gw_conn *c)
{
    recover_flow_closed(c); /* reads the registration state reg_flow_gone() frees */
    reg_flow_gone(c);
    proxy_flow_closed(c);
}
