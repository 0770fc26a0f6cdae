/* fake_http_client: http_client.h without sockets. Requests are held (not sent) until the target
 * answers them with fake_hc_answer(); the SIP target never answers, so the gateway sees a WAF
 * that cannot be reached. Linked before imsgw_gateway_lib, so http_client.o is never pulled. */
#include "fake_http_client.h"

#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

const struct lws_protocols hc_protocol = {"fake-http-client", NULL, 0, 0, 0, NULL, 0};

static struct fake_hc {
    hc_done_fn done;
    void *arg;
} fake_hc_pending[FAKE_HC_MAX];
static unsigned fake_hc_count;
int fake_hc_refuse = 1;

int hc_start(struct lws_context *ctx, const struct hc_request *req, hc_done_fn done, void *arg)
{
    if (fake_hc_refuse || fake_hc_count == FAKE_HC_MAX)
        return -1;
    fake_hc_pending[fake_hc_count].done = done;
    fake_hc_pending[fake_hc_count++].arg = arg;
    return 0;
}

unsigned hc_inflight(void)
{
    return fake_hc_count;
}

unsigned fake_hc_answer(int status, const char *body, size_t len)
{
    unsigned n = 0;
    while (fake_hc_count) {
        struct fake_hc h = fake_hc_pending[0];
        memmove(fake_hc_pending, fake_hc_pending + 1, --fake_hc_count * sizeof(h));
        /* hc_done_fn gets a NUL-terminated body, as http_client.c gives it. */
        char *copy = malloc(len + 1);
        memcpy(copy, body, len);
        copy[len] = '\0';
        h.done(h.arg, status, copy, len);
        free(copy);
        n++;
    }
    return n;
}
