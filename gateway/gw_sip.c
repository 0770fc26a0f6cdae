/* gw_sip: what can be answered is answered (400 with a recognisable request line); what cannot
 * be parsed as SIP at all closes the connection, as RFC 7118 leaves no other signal. */
#include "gw_sip.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_tagarg.h>

#include "gw.h"
#include "log.h"
#include "proxy.h"
#include "reg.h"
#include "rnd.h"
#include "ws_conn.h"

#define WS_CLOSE_INVALID_DATA 1007
#define GW_SIP_MAX_HEADERS 128 /* a SIP request needs a dozen; more is an attack */

int gw_sip_send(struct gw_conn *c, msg_t *msg)
{
    sip_t *sip = sip_object(msg);
    size_t len = 0;
    if (msg_serialize(msg, (msg_pub_t *)sip) < 0)
        return -1;
    char *text = msg_as_string(msg_home(msg), msg, NULL, 0, &len);
    if (!text)
        return -1;
    ws_send(c, text, len);
    su_free(msg_home(msg), text);
    return 0;
}

void gw_sip_reply(struct gw_conn *c, sip_t const *req, int status, char const *phrase,
                  tag_type_t tag, tag_value_t value, ...)
{
    msg_t *rsp = msg_create(sip_default_mclass(), 0);
    sip_t *rs = sip_object(rsp);
    su_home_t *home = msg_home(rsp);
    if (!phrase)
        phrase = sip_status_phrase(status);
    msg_header_insert(rsp, (msg_pub_t *)rs,
                      (msg_header_t *)sip_status_create(home, status, phrase, NULL));
    if (req->sip_via)
        sip_add_dup(rsp, rs, (sip_header_t *)req->sip_via);
    if (req->sip_from)
        sip_add_dup(rsp, rs, (sip_header_t *)req->sip_from);
    if (req->sip_to) {
        sip_add_dup(rsp, rs, (sip_header_t *)req->sip_to);
        if (status >= 200 && !rs->sip_to->a_tag) {
            char tag_value[24];
            rnd_token(tag_value, 12);
            sip_to_tag(home, rs->sip_to, tag_value);
        }
    }
    if (req->sip_call_id)
        sip_add_dup(rsp, rs, (sip_header_t *)req->sip_call_id);
    if (req->sip_cseq)
        sip_add_dup(rsp, rs, (sip_header_t *)req->sip_cseq);
    ta_list ta;
    ta_start(ta, tag, value);
    sip_add_tl(rsp, rs, ta_tags(ta));
    ta_end(ta);
    /* Built by hand rather than with sip_complete_message(), which refuses a message that lacks
     * From or To, and a 400 must still go out when the request had none. */
    msg_header_insert(rsp, (msg_pub_t *)rs, (msg_header_t *)sip_content_length_create(home, 0));
    msg_header_insert(rsp, (msg_pub_t *)rs, (msg_header_t *)sip_separator_create(home));
    if (gw_sip_send(c, rsp) < 0)
        log_error("sip: could not serialise a %d response", status);
    msg_destroy(rsp);
}

void gw_sip_strip_p_headers(msg_t *msg, sip_t *sip, const char *only_prefix)
{
    /* The P-headers are extensions sofia-sip's default parser does not type, so they all sit in
     * the unknown-header list (walking the header chain would miss them in a msg_dup() copy). */
    const char *prefix = only_prefix ? only_prefix : "P-";
    for (sip_unknown_t *u = sip->sip_unknown, *next; u; u = next) {
        next = u->un_next;
        if (u->un_name && strncasecmp(u->un_name, prefix, strlen(prefix)) == 0)
            msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)u);
    }
}

int gw_sip_url(char *buf, size_t len, const url_t *u)
{
    issize_t n = u ? url_e(buf, (isize_t)len, u) : -1;
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

int gw_sip_header_text(char *buf, size_t len, const sip_header_t *h)
{
    issize_t n = h ? sip_header_e(buf, (isize_t)len, h, 0) : -1;
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

const sip_header_t *gw_sip_find_unknown(sip_t const *sip, const char *name)
{
    for (sip_unknown_t const *u = sip->sip_unknown; u; u = u->un_next)
        if (u->un_name && strcasecmp(u->un_name, name) == 0)
            return (const sip_header_t *)u;
    return NULL;
}

char *gw_sip_join_values(const sip_header_t *h, const char *unknown_name)
{
    char buf[2048];
    size_t used = 0;
    buf[0] = '\0';
    for (; h; h = (const sip_header_t *)h->sh_next) {
        if (unknown_name && strcasecmp(h->sh_unknown->un_name, unknown_name) != 0)
            continue;
        char *v =
            unknown_name ? su_strdup(NULL, h->sh_unknown->un_value) : sip_header_as_string(NULL, h);
        if (!v)
            continue;
        int n = snprintf(buf + used, sizeof(buf) - used, "%s%s", used ? ", " : "", v);
        su_free(NULL, v);
        if (n < 0 || (size_t)n >= sizeof(buf) - used)
            return NULL; /* longer than any sane route set: keep none */
        used += (size_t)n;
    }
    return used ? strdup(buf) : NULL;
}

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

/* Two SIP messages in one WebSocket message, or a body that disagrees with Content-Length, are
 * framing errors (RFC 7118 §5: exactly one message per WebSocket message). */
static int gw_sip_framing_ok(sip_t const *sip)
{
    size_t body = sip->sip_payload ? sip->sip_payload->pl_len : 0;
    if (sip->sip_content_length)
        return sip->sip_content_length->l_length == body;
    return body == 0 || sip->sip_content_type != NULL;
}

static int gw_sip_on_request(struct gw_conn *c, msg_t *msg, sip_t *sip)
{
    if (msg_has_error(msg) || sip->sip_error || !sip->sip_via || !sip->sip_from || !sip->sip_to ||
        !sip->sip_call_id || !sip->sip_cseq || !gw_sip_framing_ok(sip) || !sip->sip_via->v_branch ||
        sip->sip_cseq->cs_method != sip->sip_request->rq_method) {
        log_info("sip: %s from connection %llu is malformed; 400", sip->sip_request->rq_method_name,
                 (unsigned long long)c->id);
        gw_sip_reply(c, sip, 400, "Bad Request", TAG_END());
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
            gw_sip_reply(c, big, 400, "Bad Request (too many headers)", TAG_END());
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
    if (sip->sip_request)
        return gw_sip_on_request(c, msg, sip);
    if (msg_has_error(msg) || sip->sip_error || !sip->sip_via || !sip->sip_cseq) {
        log_info("sip: malformed response from connection %llu dropped", (unsigned long long)c->id);
        msg_destroy(msg);
        return 0;
    }
    proxy_in_response(c, msg); /* takes msg */
    return 0;
}
