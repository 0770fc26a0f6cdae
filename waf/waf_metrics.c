/* waf_metrics: plain counters; the loop is the only writer, so no atomics are needed. */
#include "waf_metrics.h"

#include <inttypes.h>

#include "form.h"

void waf_metrics_add(struct waf_metrics *m, const struct waf_metrics *d)
{
    m->logins_ok += d->logins_ok;
    m->logins_failed += d->logins_failed;
    for (int i = 0; i < WAF_GRANT_KINDS; i++)
        m->tokens_issued[i] += d->tokens_issued[i];
    m->token_errors += d->token_errors;
    m->dpop_refused += d->dpop_refused;
    m->dpop_bound += d->dpop_bound;
    m->numeric_failures += d->numeric_failures;
    m->throttled += d->throttled;
    m->refresh_reuse += d->refresh_reuse;
    m->requests += d->requests;
}

char *waf_metrics_text(const struct waf_metrics *m)
{
    static const char *const grants[WAF_GRANT_KINDS] = {
        "authorization_code", "refresh_token", "client_credentials", "device_code", "numeric_code"};
    struct form_buf b = {0};
    form_buf_printf(&b,
                    "# TYPE imsgw_waf_requests_total counter\n"
                    "imsgw_waf_requests_total %" PRIu64 "\n",
                    m->requests);
    form_buf_printf(&b,
                    "# TYPE imsgw_waf_logins_total counter\n"
                    "imsgw_waf_logins_total{result=\"ok\"} %" PRIu64 "\n"
                    "imsgw_waf_logins_total{result=\"failed\"} %" PRIu64 "\n",
                    m->logins_ok, m->logins_failed);
    form_buf_printf(&b, "# TYPE imsgw_waf_tokens_issued_total counter\n");
    for (int i = 0; i < WAF_GRANT_KINDS; i++)
        form_buf_printf(&b, "imsgw_waf_tokens_issued_total{grant=\"%s\"} %" PRIu64 "\n", grants[i],
                        m->tokens_issued[i]);
    form_buf_printf(&b,
                    "# TYPE imsgw_waf_token_errors_total counter\n"
                    "imsgw_waf_token_errors_total %" PRIu64 "\n"
                    "# TYPE imsgw_waf_numeric_code_failures_total counter\n"
                    "imsgw_waf_numeric_code_failures_total %" PRIu64 "\n"
                    "# TYPE imsgw_waf_throttled_total counter\n"
                    "imsgw_waf_throttled_total %" PRIu64 "\n"
                    "# TYPE imsgw_waf_refresh_reuse_total counter\n"
                    "imsgw_waf_refresh_reuse_total %" PRIu64 "\n"
                    "# TYPE imsgw_waf_dpop_refused_total counter\n"
                    "imsgw_waf_dpop_refused_total %" PRIu64 "\n"
                    "# TYPE imsgw_waf_dpop_bound_tokens_total counter\n"
                    "imsgw_waf_dpop_bound_tokens_total %" PRIu64 "\n",
                    m->token_errors, m->numeric_failures, m->throttled, m->refresh_reuse,
                    m->dpop_refused, m->dpop_bound);
    return form_buf_take(&b, NULL);
}
