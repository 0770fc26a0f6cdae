/* fake_ws_conn: ws_conn.h without libwebsockets, for the fuzz targets. What the gateway sends to
 * a flow is checked to be one parseable SIP message (RFC 7118 §5) and dropped. Linked before
 * imsgw_gateway_lib, so ws_conn.o is never pulled from the archive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_protos.h>

#include "fuzz_gw.h"
#include "gw.h"
#include "ws_conn.h"

const struct lws_protocols ws_sip_protocol = {"sip", NULL, 0, 0, 0, NULL, 0};

void ws_set_hooks(const struct ws_hooks *hooks) {}

void ws_shutdown(void) {}

void ws_mark_latency(struct gw_conn *c, unsigned count_before, const struct gw_lat_mark *m) {}

struct gw_conn *ws_find(uint64_t id)
{
    return g_hash_table_lookup(gw->conns, &id);
}

int ws_origin_allowed(const char *origin, char *const *allowed)
{
    return 1;
}

/* Everything the gateway writes to a client must be one SIP message with a start line and
 * consistent framing: hostile input must never split or extend what the gateway sends (header
 * injection, a second message). A header the client sent broken may come back as broken as it
 * was (sofia marks it sip_error): that harms nobody but the sender. */
static void ws_check_sip(const char *data, size_t len)
{
    if (len == 2 && memcmp(data, "\r\n", 2) == 0)
        return; /* keepalive answer */
    msg_t *m = msg_make(sip_default_mclass(), 0, data, (ssize_t)len);
    sip_t *sip = m ? sip_object(m) : NULL;
    size_t body = sip && sip->sip_payload ? sip->sip_payload->pl_len : 0;
    if (!sip || (!sip->sip_request && !sip->sip_status) || msg_has_error(m) ||
        !sip->sip_content_length || sip->sip_content_length->l_length != body) {
        fprintf(stderr, "fuzz: the gateway sent a client a message that does not parse:\n%.*s\n",
                (int)len, data);
        abort();
    }
    msg_destroy(m);
}

void ws_send(struct gw_conn *c, const char *data, size_t len)
{
    if (c->close_code)
        return;
    ws_check_sip(data, len);
    if (fuzz_gw_verbose)
        fprintf(stderr, "fuzz: to flow %llu: %.*s\n", (unsigned long long)c->id,
                (int)strcspn(data, "\r\n"), data);
    c->out_count++;
    c->out_bytes += len;
}

void ws_sendv(struct gw_conn *c, const struct iovec *iov, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += iov[i].iov_len;
    char *text = malloc(len ? len : 1);
    if (!text)
        abort();
    for (size_t i = 0, at = 0; i < n; at += iov[i].iov_len, i++)
        memcpy(text + at, iov[i].iov_base, iov[i].iov_len);
    ws_send(c, text, len);
    free(text);
}

void ws_close(struct gw_conn *c, int code)
{
    if (!c->close_code)
        c->close_code = code;
}
