/* Fuzz target sip_ws: WebSocket messages of one flow through the gateway's real handler
 * (gw_sip_on_ws_message: parser, dispatcher, REGISTER with token validation, proxy), with a fake
 * connection (fake_ws_conn.c), a fake WAF that cannot be reached (fake_http_client.c) and a
 * fake IMS core (fake_nta.c). Nothing is sent anywhere.
 *
 * Input: up to FUZZ_MAX_MESSAGES WebSocket messages separated by FUZZ_SEPARATOR. A flow whose
 * first message is not a REGISTER starts registered (as after a 200 with scope ims:call and
 * ims:message), so non-REGISTER requests reach the proxy; otherwise it starts unregistered and
 * a REGISTER with a valid token registers it through the fake core. After the input the flow
 * closes and everything must be gone: nothing may outlive its flow. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg.h>

#include "fake_nta.h"
#include "fuzz_gw.h"
#include "gw.h"
#include "gw_sip.h"
#include "proxy.h"
#include "proxy_tx.h"
#include "reg.h"
#include "timeutil.h"
#include "dialog.h"
#include "ws_conn.h"

#define FUZZ_MAX_MESSAGES 4
#define FUZZ_SEPARATOR "\n--next-message--\n"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_gw_init(0);
    return 0;
}

/* The state reg.c stores after a 200 for sip:alice@ims.test (reg_store()). */
static void fuzz_register(struct gw_conn *c)
{
    struct reg_state *r = calloc(1, sizeof(*r));
    r->impu = strdup("sip:alice@ims.test");
    r->impi = strdup("alice@ims.test");
    r->scope = strdup("ims:register ims:call ims:message");
    r->expires_at = time_now_s() + 600;
    r->token_exp = r->expires_at;
    r->service_route = strdup("<sip:orig@scscf.ims.test;lr>");
    r->associated_uris = strdup("<sip:alice@ims.test>, <tel:+1555>");
    c->reg = r;
    gw->metrics.registrations++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (size_t)gw->cfg->max_message_size * FUZZ_MAX_MESSAGES)
        return 0;
    gw->next_conn_id = 0; /* always flow 1, so a corpus entry can carry its Record-Route */
    struct gw_conn *c = fuzz_gw_conn_open();
    if (size < 8 || memcmp(data, "REGISTER", 8) != 0)
        fuzz_register(c);
    const char *p = (const char *)data, *end = p + size;
    for (int i = 0; i < FUZZ_MAX_MESSAGES && p <= end && !c->close_code; i++) {
        const char *sep = memmem(p, (size_t)(end - p), FUZZ_SEPARATOR, strlen(FUZZ_SEPARATOR));
        const char *stop = sep ? sep : end;
        size_t len = (size_t)(stop - p);
        if (len > (size_t)gw->cfg->max_message_size)
            break; /* ws_conn.c closes with 1009 before the SIP layer sees it */
        /* ws_conn.c hands over a malloc'ed copy; so do we, so ASan sees every overread. */
        char *msg = malloc(len ? len : 1);
        memcpy(msg, p, len);
        int rc = gw_sip_on_ws_message(c, msg, len);
        free(msg);
        if (rc < 0)
            break; /* ws_conn.c closes the connection */
        fake_nta_answer(0);
        if (!sep)
            break;
        p = sep + strlen(FUZZ_SEPARATOR);
    }
    fake_nta_answer(1);
    fuzz_gw_conn_close(c);
    fake_nta_answer(1); /* BYEs and CANCELs of the closed flow */
    /* What only a timer would end (a failed INVITE waiting for its ACK): end it now. */
    proxy_tx_clear();
    if (fake_nta_open() || proxy_active() || dialog_count() || gw->metrics.registrations) {
        fprintf(stderr, "fuzz: state outlived its flow (%u transactions, %u proxy, %llu reg)\n",
                fake_nta_open(), proxy_active(), (unsigned long long)gw->metrics.registrations);
        abort();
    }
    fake_nta_reset();
    return 0;
}
