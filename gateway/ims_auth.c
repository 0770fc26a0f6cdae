/* ims_auth: the choice, and the trusted-node mode (the gateway's behaviour before issue 11). */
#include "ims_auth.h"

#include <stdio.h>
#include <string.h>

const struct ims_auth_ops *ims_auth = &ims_auth_tna;

static void tna_initial(char *out, size_t outlen, const char *impi, const char *realm,
                        const char *uri)
{
    snprintf(out, outlen,
             "Digest username=\"%s\", realm=\"%s\", nonce=\"\", uri=\"%s\", response=\"\", "
             "integrity-protected=\"auth-done\"",
             impi, realm, uri);
}

static int tna_answer(sip_t const *rsp, const char *impi, const char *method, const char *uri,
                      ims_auth_done_fn done, void *arg)
{
    (void)rsp, (void)impi, (void)method, (void)uri, (void)done, (void)arg;
    return -1; /* a token client cannot answer a Digest challenge (spec §7.1 step 9) */
}

const struct ims_auth_ops ims_auth_tna = {"tna", tna_initial, tna_answer, 1};

int ims_auth_select(const char *name)
{
    if (strcmp(name, "tna") == 0)
        ims_auth = &ims_auth_tna;
    else if (strcmp(name, "digest") == 0)
        ims_auth = &ims_auth_digest;
    else
        return -1;
    return 0;
}
