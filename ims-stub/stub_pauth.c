/* stub_pauth: the IMPI is the Digest username; the request's From must be one of its IMPUs (a
 * valid answer for one user authorises nothing for another). A wrong answer is challenged again,
 * as a proxy does; the client decides whether to try once more. */
#include "stub_pauth.h"

#include <string.h>

#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_string.h>

#include "stub_addr.h"

static int stub_pauth_wanted(const struct stub_settings *set, const sip_t *sip)
{
    for (char **m = set->proxy_challenge; m && *m; m++)
        if (strcmp(*m, sip->sip_request->rq_method_name) == 0)
            return 1;
    return 0;
}

static enum stub_pauth_result stub_pauth_challenge(const struct stub_registrar *reg, int stale,
                                                   int64_t now, char *hdr, size_t hdrlen)
{
    if (stub_digest_challenge(reg->digest, reg->set->home_domain, stale, now, hdr, hdrlen) < 0)
        return STUB_PAUTH_FORBIDDEN;
    return STUB_PAUTH_CHALLENGE;
}

static enum stub_pauth_result stub_pauth_verify(const struct stub_registrar *reg, su_home_t *home,
                                                const sip_t *sip, const msg_param_t *params,
                                                int64_t now, char *hdr, size_t hdrlen,
                                                const char **reason)
{
    const char *v = msg_params_find(params, "username=");
    char *impi = v ? msg_unquote_dup(home, v) : NULL;
    const struct stub_hss_entry *e = impi ? stub_hss_find(reg->hss, impi) : NULL;
    char *aor = sip->sip_from ? stub_aor(home, sip->sip_from->a_url) : NULL;
    v = msg_params_find(params, "uri=");
    char *uri = v ? msg_unquote_dup(home, v) : NULL;
    url_t *u = uri ? url_make(home, uri) : NULL;
    if (!e || !e->password)
        return *reason = "proxy-auth-unknown-impi", STUB_PAUTH_FORBIDDEN;
    if (!aor || stub_hss_impu_index(e, aor) < 0)
        return *reason = "proxy-auth-identity-mismatch", STUB_PAUTH_FORBIDDEN;
    if (!u || url_cmp(u, sip->sip_request->rq_url) != 0)
        return *reason = "proxy-auth-uri-mismatch", STUB_PAUTH_FORBIDDEN;
    switch (stub_digest_verify(reg->digest, params, sip->sip_request->rq_method_name,
                               reg->set->home_domain, e->password, now)) {
    case STUB_DIGEST_OK:
        return *reason = "proxy-auth-ok", STUB_PAUTH_PASS;
    case STUB_DIGEST_STALE:
    case STUB_DIGEST_REPLAY:
        *reason = "proxy-auth-stale";
        return stub_pauth_challenge(reg, 1, now, hdr, hdrlen);
    default:
        *reason = "proxy-auth-bad-digest";
        return stub_pauth_challenge(reg, 0, now, hdr, hdrlen);
    }
}

enum stub_pauth_result stub_pauth_check(const struct stub_registrar *reg, const sip_t *sip,
                                        int64_t now, char *hdr, size_t hdrlen, const char **reason)
{
    *reason = NULL;
    if (!reg->digest || !stub_pauth_wanted(reg->set, sip))
        return STUB_PAUTH_PASS;
    /* The first Digest answer for our realm; others (another hop's) are not ours to check. */
    for (const sip_proxy_authorization_t *au = sip->sip_proxy_authorization; au; au = au->au_next) {
        const char *realm = msg_params_find(au->au_params, "realm=");
        su_home_t home[1] = {SU_HOME_INIT(home)};
        char *r = realm ? msg_unquote_dup(home, realm) : NULL;
        if (au->au_scheme && su_casematch(au->au_scheme, "Digest") && r &&
            su_casematch(r, reg->set->home_domain)) {
            enum stub_pauth_result res =
                stub_pauth_verify(reg, home, sip, au->au_params, now, hdr, hdrlen, reason);
            su_home_deinit(home);
            return res;
        }
        su_home_deinit(home);
    }
    *reason = "proxy-auth-needed";
    return stub_pauth_challenge(reg, 0, now, hdr, hdrlen);
}
