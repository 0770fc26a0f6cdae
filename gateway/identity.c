/* identity: P-headers from a WebSocket client are claims of an untrusted party at the edge of
 * the trust domain; the gateway replaces them with what the registration proved. */
#include "identity.h"

#include <stdio.h>
#include <string.h>

#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_tag.h>

#include "reg.h"
#include "sipmsg.h"

void identity_asserted(const struct reg_state *r, sip_t const *sip, char *out, size_t outlen)
{
    const sip_header_t *ppi = sipmsg_find_unknown(sip, "P-Preferred-Identity");
    const char *assoc = r->associated_uris ? r->associated_uris : "";
    if (ppi) {
        char want[300];
        const char *v = ppi->sh_unknown->un_value;
        snprintf(want, sizeof(want), "%.*s", (int)strcspn(v, ","), v);
        char *lt = strchr(want, '<'), *gt = strchr(want, '>');
        if (lt && gt && gt > lt && strstr(assoc, want) && !strpbrk(want, "\r\n")) {
            snprintf(out, outlen, "%.*s", (int)(gt - lt + 1), lt);
            return;
        }
    }
    const char *lt = strchr(assoc, '<'), *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        snprintf(out, outlen, "%.*s", (int)(gt - lt + 1), lt);
    else
        snprintf(out, outlen, "<%s>", r->impu);
}

int identity_assert_on(msg_t *msg, sip_t *sip, const struct reg_state *r)
{
    char pai[400], hdr[440];
    if (r)
        identity_asserted(r, sip, pai, sizeof(pai));
    sipmsg_strip_p_headers(msg, sip, NULL);
    if (!r)
        return 0;
    snprintf(hdr, sizeof(hdr), "P-Asserted-Identity: %s", pai);
    return sipmsg_add_unknown(msg, sip, hdr);
}
