/* waf_metrics: the WAF's counters, served at /metrics in Prometheus text format. */
#ifndef IMSGW_WAF_METRICS_H
#define IMSGW_WAF_METRICS_H

#include <stdint.h>

enum waf_grant_kind {
    WAF_GRANT_CODE,
    WAF_GRANT_REFRESH,
    WAF_GRANT_CLIENT,
    WAF_GRANT_DEVICE,
    WAF_GRANT_NUMERIC,
    WAF_GRANT_KINDS
};

struct waf_metrics {
    uint64_t logins_ok, logins_failed;
    uint64_t tokens_issued[WAF_GRANT_KINDS];
    uint64_t token_errors;
    uint64_t dpop_refused; /* /token requests whose DPoP proof failed */
    uint64_t dpop_bound;   /* access tokens bound to a DPoP key */
    uint64_t numeric_failures;
    uint64_t throttled;
    uint64_t refresh_reuse;
    uint64_t requests;
};

/* Adds every counter of d to m (a store thread's increments, on the loop). */
void waf_metrics_add(struct waf_metrics *m, const struct waf_metrics *d);
/* The text of /metrics (malloc'ed). */
char *waf_metrics_text(const struct waf_metrics *m);

#endif
