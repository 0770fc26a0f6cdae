/* sipmsg: building and inspecting SIP messages for the WebSocket side; a leaf module every
 * SIP module uses (the dispatcher gw_sip sits on top and nothing calls back into it). */
#include "sipmsg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/uio.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_tagarg.h>

#include "log.h"
#include "rnd.h"

#define SIPMSG_SEND_IOV 64
#include "ws_conn.h"

/* The encoded pieces of msg, prepared as sofia's transports do it: msg_prepare() encodes only the
 * headers that changed and keeps the received text of the others, where msg_as_string() would
 * print every header again (~10,000 instructions of snprintf per forwarded REGISTER answer,
 * docs/benchmarks.md). Returns their count (1..SIPMSG_SEND_IOV), 0 when msg is unusually
 * fragmented, -1 when it cannot be encoded. */
static int sipmsg_pieces(msg_t *msg, struct iovec out[SIPMSG_SEND_IOV])
{
    sip_t *sip = sip_object(msg);
    su_iovec_t iov[SIPMSG_SEND_IOV];
    if (msg_serialize(msg, (msg_pub_t *)sip) < 0 || msg_prepare(msg) < 0)
        return -1;
    isize_t n = msg_iovec(msg, iov, SIPMSG_SEND_IOV);
    if (n <= 0 || n > SIPMSG_SEND_IOV)
        return 0;
    for (isize_t i = 0; i < n; i++)
        out[i] = (struct iovec){.iov_base = iov[i].siv_base, .iov_len = iov[i].siv_len};
    return (int)n;
}

int sipmsg_send(struct gw_conn *c, msg_t *msg)
{
    struct iovec iov[SIPMSG_SEND_IOV];
    int n = sipmsg_pieces(msg, iov);
    if (n < 0)
        return -1;
    if (n > 0) {
        ws_sendv(c, iov, (size_t)n);
        return 0;
    }
    size_t len = 0; /* unusually fragmented: print it whole */
    char *text = msg_as_string(msg_home(msg), msg, NULL, 0, &len);
    if (!text)
        return -1;
    ws_send(c, text, len);
    su_free(msg_home(msg), text);
    return 0;
}

void sipmsg_reply(struct gw_conn *c, sip_t const *req, int status, char const *phrase,
                  tag_type_t tag, tag_value_t value, ...)
{
    msg_t *rsp = msg_create(sip_default_mclass(), 0);
    if (!rsp) {
        log_error("sip: out of memory; no %d response", status);
        return;
    }
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
    if (sipmsg_send(c, rsp) < 0)
        log_error("sip: could not serialise a %d response", status);
    msg_destroy(rsp);
}

void sipmsg_strip_p_headers(msg_t *msg, sip_t *sip, const char *only_prefix)
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

int sipmsg_add_unknown(msg_t *msg, sip_t *sip, const char *line)
{
    msg_header_t *h = msg_header_make(msg_home(msg), sip_unknown_class, line);
    return h && msg_header_insert(msg, (msg_pub_t *)sip, h) >= 0 ? 0 : -1;
}

int sipmsg_set_cseq(msg_t *msg, sip_t *sip, uint32_t seq)
{
    if (!sip->sip_cseq)
        return -1;
    sip_cseq_t *cs = sip_cseq_create(msg_home(msg), seq, sip->sip_cseq->cs_method,
                                     sip->sip_cseq->cs_method_name);
    return cs && msg_header_replace(msg, (msg_pub_t *)sip, (msg_header_t *)sip->sip_cseq,
                                    (msg_header_t *)cs) >= 0
               ? 0
               : -1;
}

int sipmsg_url(char *buf, size_t len, const url_t *u)
{
    issize_t n = u ? url_e(buf, (isize_t)len, u) : -1;
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

int sipmsg_header_text(char *buf, size_t len, const sip_header_t *h)
{
    issize_t n = h ? sip_header_e(buf, (isize_t)len, h, 0) : -1;
    if (n < 0 || (size_t)n >= len) {
        buf[0] = '\0';
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

const sip_header_t *sipmsg_find_unknown(sip_t const *sip, const char *name)
{
    for (sip_unknown_t const *u = sip->sip_unknown; u; u = u->un_next)
        if (u->un_name && strcasecmp(u->un_name, name) == 0)
            return (const sip_header_t *)u;
    return NULL;
}

char *sipmsg_join_values(const sip_header_t *h, const char *unknown_name)
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

struct sipmsg_frozen *sipmsg_freeze(msg_t *msg)
{
    size_t len = 0;
    char *text = msg ? msg_as_string(msg_home(msg), msg, NULL, 0, &len) : NULL;
    if (!text)
        return NULL;
    struct sipmsg_frozen *f = malloc(sizeof(*f) + len);
    if (f) {
        f->len = len;
        memcpy(f->text, text, len);
    }
    su_free(msg_home(msg), text);
    return f;
}

/* Removes the first Via header field of f's text, with its continuation lines (a Via comment
 * or quoted value may hold a folded line break, kept verbatim): -1 when it has none. Called only
 * when nta put its own Via on top (sofia's encoding: line 2, "Via: " or compact "v: "). */
static int sipmsg_cut_top_via(struct sipmsg_frozen *f)
{
    char *end = f->text + f->len;
    char *line = memchr(f->text, '\n', f->len); /* past the request line */
    while (line && ++line < end && *line != '\r' && *line != '\n') {
        char *next = memchr(line, '\n', (size_t)(end - line));
        if (!next)
            return -1;
        next++;
        size_t n = (size_t)(next - line);
        if ((n > 4 && !strncasecmp(line, "Via:", 4)) || (n > 2 && !strncasecmp(line, "v:", 2))) {
            while (next < end && (*next == ' ' || *next == '\t')) { /* folded: part of it */
                char *more = memchr(next, '\n', (size_t)(end - next));
                if (!more)
                    return -1;
                next = more + 1;
            }
            memmove(line, next, (size_t)(end - next));
            f->len -= (size_t)(next - line);
            return 0;
        }
        line = next - 1;
    }
    return -1;
}

struct sipmsg_frozen *sipmsg_freeze_sent(msg_t *msg, const sip_via_t *via_before)
{
    struct iovec iov[SIPMSG_SEND_IOV];
    int n = msg ? sipmsg_pieces(msg, iov) : -1;
    struct sipmsg_frozen *f = NULL;
    if (n > 0) {
        size_t len = 0;
        for (int i = 0; i < n; i++)
            len += iov[i].iov_len;
        if ((f = malloc(sizeof(*f) + len))) {
            f->len = 0;
            for (int i = 0; i < n; i++) {
                memcpy(f->text + f->len, iov[i].iov_base, iov[i].iov_len);
                f->len += iov[i].iov_len;
            }
        }
    } else if (n == 0) {
        f = sipmsg_freeze(msg);
    }
    /* nta adds its Via only once the next hop is resolved: a host name not yet in the DNS
     * cache leaves the message as it was, and then nothing is cut (the top Via is the client's) */
    sip_t const *sip = msg ? sip_object(msg) : NULL;
    int nta_via = sip && sip->sip_via && sip->sip_via != via_before;
    if (f && nta_via && sipmsg_cut_top_via(f) < 0) {
        free(f);
        f = NULL;
    }
    return f;
}

msg_t *sipmsg_thaw(const struct sipmsg_frozen *f)
{
    msg_t *m = f ? msg_make(sip_default_mclass(), 0, f->text, (ssize_t)f->len) : NULL;
    sip_t *sip = m ? sip_object(m) : NULL;
    if (m && (!sip || (!sip->sip_request && !sip->sip_status))) {
        msg_destroy(m);
        return NULL;
    }
    return m;
}
