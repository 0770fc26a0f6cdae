/* admin_fanout: the combined operator view of a gateway with several workers. The worker that
 * took GET /admin/api/state asks every other worker for its own snapshot on its admin-listen
 * port (port + n, loopback when the listener is on a wildcard address) through the asynchronous
 * HTTP client, never blocking the loop, and answers once all have answered or ADMIN_FANOUT_MS
 * has passed. A worker without an answer by then is listed in "missing", never silently left
 * out. The sibling request carries the operator's own Authorization (just checked here, checked
 * again there) and local=1, so a sibling answers for itself only. */
#include "admin_fanout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "admin.h"
#include "admin_api.h"
#include "gw.h"
#include "gw_http.h"
#include "gw_workers.h"
#include "http_client.h"
#include "log.h"

#define ADMIN_FANOUT_MS 1000 /* a sibling's snapshot later than this is reported missing */
#define ADMIN_FANOUT_WORKERS GW_WORKERS_MAX /* every worker there can be */
#define ADMIN_FANOUT_PENDING 16             /* combined requests in flight at most; more get 503 */
/* a sibling's snapshot: up to ADMIN_LIST_MAX rows of four lists and 64 errors, each row well
 * under 1 KB (URIs are bounded by the SIP parser's limits) */
#define ADMIN_FANOUT_BODY_MAX (4u << 20)
#define ADMIN_ERRORS_MERGED 64 /* recent errors kept in the combined view */

struct fanout {
    struct lws *wsi;  /* the operator's connection; NULL once answered or closed */
    unsigned workers; /* count, this one included */
    json_t *part[ADMIN_FANOUT_WORKERS];
    unsigned outstanding; /* sibling requests whose callback has not run yet */
    guint timer;
    struct fanout *next;
};

struct fanout_reply {
    struct fanout *f;
    unsigned worker;
};

static struct fanout *pending;
static unsigned pending_count;

/* A removal relayed to the worker that holds the flow: its answer goes back as it is. */
struct relay {
    struct lws *wsi; /* NULL once the operator's connection closed */
    unsigned worker;
    struct relay *next;
};

static struct relay *relays;

static void fanout_base(unsigned w, char *url, size_t len);

int admin_fanout_wanted(void)
{
    const char *listen = gw->cfg->admin_listen;
    return gw_workers_count() > 1 && listen && *listen;
}

/* Appends list (a {"total", "items"}) of worker w to into, each item labelled with w. */
static void fanout_list(json_t *into, json_t *list, unsigned w)
{
    json_t *items = json_object_get(list, "items"), *item;
    size_t i;
    json_object_set_new(into, "total",
                        json_integer(json_integer_value(json_object_get(into, "total")) +
                                     json_integer_value(json_object_get(list, "total"))));
    json_array_foreach(items, i, item)
    {
        json_t *copy = json_deep_copy(item);
        json_object_set_new(copy, "worker", json_integer(w));
        json_array_append_new(json_object_get(into, "items"), copy);
    }
}

static int fanout_error_older(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "time")),
               y = json_integer_value(json_object_get(*(json_t *const *)b, "time"));
    return x < y ? -1 : x > y;
}

/* One snapshot of all the answers: lists concatenated by worker, counts and totals summed,
 * errors interleaved by time (the last ADMIN_ERRORS_MERGED). */
static json_t *fanout_merge(struct fanout *f)
{
    static const char *const lists[] = {"flows", "registrations", "dialogs", "sources"};
    json_t *out = json_pack("{s:i, s:i, s:b, s:o, s:o, s:o}", "worker", (int)gw_workers_self(),
                            "workers", (int)f->workers, "combined", 1, "counts", json_object(),
                            "missing", json_array(), "errors", json_array());
    for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
        json_object_set_new(out, lists[l], json_pack("{s:i, s:[]}", "total", 0, "items"));
    json_t *errors = json_object_get(out, "errors");
    for (unsigned w = 0; w < f->workers; w++) {
        json_t *p = f->part[w];
        if (!p) {
            json_array_append_new(json_object_get(out, "missing"), json_integer(w));
            continue;
        }
        if (!json_object_get(out, "time"))
            json_object_set(out, "time", json_object_get(p, "time"));
        if (!json_object_get(out, "media"))
            json_object_set(out, "media", json_object_get(p, "media"));
        const char *key;
        json_t *v, *counts = json_object_get(out, "counts");
        json_object_foreach(json_object_get(p, "counts"), key, v)
        {
            json_int_t sum = json_integer_value(json_object_get(counts, key));
            json_object_set_new(counts, key, json_integer(sum + json_integer_value(v)));
        }
        for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++)
            fanout_list(json_object_get(out, lists[l]), json_object_get(p, lists[l]), w);
        size_t i;
        json_array_foreach(json_object_get(p, "errors"), i, v)
        {
            json_t *copy = json_deep_copy(v);
            json_object_set_new(copy, "worker", json_integer(w));
            json_array_append_new(errors, copy);
        }
    }
    size_t n = json_array_size(errors);
    if (n > 1) {
        json_t **e = malloc(n * sizeof(*e));
        if (e) {
            for (size_t i = 0; i < n; i++)
                e[i] = json_incref(json_array_get(errors, i));
            qsort(e, n, sizeof(*e), fanout_error_older); /* stable enough: whole seconds */
            json_array_clear(errors);
            for (size_t i = n > ADMIN_ERRORS_MERGED ? n - ADMIN_ERRORS_MERGED : 0; i < n; i++)
                json_array_append(errors, e[i]);
            for (size_t i = 0; i < n; i++)
                json_decref(e[i]);
            free(e);
        }
    }
    return out;
}

static void fanout_free_if_done(struct fanout *f)
{
    if (f->wsi || f->outstanding)
        return;
    for (struct fanout **p = &pending; *p; p = &(*p)->next)
        if (*p == f) {
            *p = f->next;
            break;
        }
    for (unsigned w = 0; w < f->workers; w++)
        json_decref(f->part[w]);
    pending_count--;
    free(f);
}

/* Everyone answered or the bound passed: the operator gets the combined snapshot now. */
static void fanout_answer(struct fanout *f)
{
    if (f->timer)
        g_source_remove(f->timer);
    f->timer = 0;
    if (f->wsi) {
        for (unsigned w = 0; w < f->workers; w++)
            if (!f->part[w])
                log_warn("admin: worker %u did not answer for the combined view within %d ms", w,
                         ADMIN_FANOUT_MS);
        struct lws *wsi = f->wsi;
        f->wsi = NULL;
        json_t *merged = fanout_merge(f);
        char *text = merged ? json_dumps(merged, JSON_COMPACT) : NULL;
        json_decref(merged);
        struct admin_reply r = {.status = text ? HTTP_STATUS_OK : HTTP_STATUS_INTERNAL_SERVER_ERROR,
                                .type = text ? "application/json" : "text/plain",
                                .body = text ? text : strdup("out of memory\n")};
        r.len = r.body ? strlen(r.body) : 0;
        gw_http_resume(wsi, &r);
    }
    fanout_free_if_done(f);
}

static gboolean fanout_deadline(gpointer arg)
{
    struct fanout *f = arg;
    f->timer = 0;
    fanout_answer(f);
    return G_SOURCE_REMOVE;
}

static void fanout_on_reply(void *arg, int status, const char *body, size_t len)
{
    struct fanout_reply *r = arg;
    struct fanout *f = r->f;
    unsigned w = r->worker;
    free(r);
    f->outstanding--;
    if (status == 200 && f->wsi) {
        json_t *p = json_loadb(body, len, 0, NULL);
        /* a sibling's own view only: the right worker number, lists where lists belong */
        if (json_is_object(p) &&
            json_integer_value(json_object_get(p, "worker")) == (json_int_t)w &&
            json_is_object(json_object_get(p, "counts")))
            f->part[w] = p;
        else
            json_decref(p);
    }
    if (f->wsi && !f->outstanding)
        fanout_answer(f);
    else
        fanout_free_if_done(f);
}

int admin_fanout_state(struct lws *wsi, const char *authorization, unsigned limit, unsigned offset)
{
    if (pending_count >= ADMIN_FANOUT_PENDING)
        return -1;
    struct fanout *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    unsigned self = gw_workers_self();
    f->wsi = wsi;
    f->workers =
        gw_workers_count() < ADMIN_FANOUT_WORKERS ? gw_workers_count() : ADMIN_FANOUT_WORKERS;
    f->part[self] = admin_api_state(limit, offset);
    f->next = pending;
    pending = f;
    pending_count++;

    char url[384];
    for (unsigned w = 0; w < f->workers; w++) {
        if (w == self)
            continue;
        fanout_base(w, url, sizeof(url));
        size_t n = strlen(url);
        snprintf(url + n, sizeof(url) - n, "/admin/api/state?local=1&limit=%u&offset=%u", limit,
                 offset);
        struct hc_request req = {.method = "GET",
                                 .url = url,
                                 .authorization = authorization,
                                 .max_body = ADMIN_FANOUT_BODY_MAX};
        struct fanout_reply *r = malloc(sizeof(*r));
        if (!r)
            continue; /* reported missing */
        *r = (struct fanout_reply){f, w};
        f->outstanding++;
        if (hc_start(gw->lws, &req, fanout_on_reply, r) < 0) {
            f->outstanding--;
            free(r);
        }
    }
    if (!f->outstanding) {
        fanout_answer(f);
        return 0;
    }
    f->timer = g_timeout_add(ADMIN_FANOUT_MS, fanout_deadline, f);
    return 0;
}

/* http://host:port+w/, the sibling's admin listener (a wildcard address asked on loopback) */
static void fanout_base(unsigned w, char *url, size_t len)
{
    char host[256];
    long port;
    gw_settings_host_port(gw->cfg->admin_listen, host, sizeof(host), &port);
    if (strcmp(host, "0.0.0.0") == 0 || host[0] == '\0')
        snprintf(host, sizeof(host), "127.0.0.1");
    else if (strcmp(host, "::") == 0)
        snprintf(host, sizeof(host), "::1");
    int v6 = strchr(host, ':') != NULL;
    snprintf(url, len, "http://%s%s%s:%ld", v6 ? "[" : "", host, v6 ? "]" : "", port + (long)w);
}

static void relay_on_reply(void *arg, int status, const char *body, size_t len)
{
    struct relay *x = arg;
    for (struct relay **p = &relays; *p; p = &(*p)->next)
        if (*p == x) {
            *p = x->next;
            break;
        }
    if (x->wsi) {
        struct admin_reply r = {.status = (unsigned)status, .type = "application/json"};
        if (status >= 200 && status < 600 && len < (1u << 16))
            r.body = strndup(body, len);
        else {
            char text[128];
            snprintf(text, sizeof(text),
                     "{\"removed\":false,\"error\":\"worker %u did not answer\"}", x->worker);
            r.status = HTTP_STATUS_GATEWAY_TIMEOUT;
            r.body = strdup(text);
            log_warn("admin: worker %u did not answer a relayed removal", x->worker);
        }
        r.len = r.body ? strlen(r.body) : 0;
        gw_http_resume(x->wsi, &r);
    }
    free(x);
}

int admin_fanout_remove(struct lws *wsi, const char *authorization, unsigned worker, uint64_t flow)
{
    if (worker >= gw_workers_count() || worker == gw_workers_self())
        return -1;
    char url[384];
    size_t n;
    fanout_base(worker, url, sizeof(url));
    n = strlen(url);
    snprintf(url + n, sizeof(url) - n, "/admin/api/flows/%llu/deregister",
             (unsigned long long)flow);
    struct relay *x = calloc(1, sizeof(*x));
    if (!x)
        return -1;
    struct hc_request req = {.method = "POST",
                             .url = url,
                             .authorization = authorization,
                             .header = "x-imsgw-operator:",
                             .header_value = "1"};
    if (hc_start(gw->lws, &req, relay_on_reply, x) < 0) {
        free(x);
        return -1;
    }
    x->wsi = wsi;
    x->worker = worker;
    x->next = relays;
    relays = x;
    return 0;
}

void admin_fanout_gone(struct lws *wsi)
{
    for (struct relay *x = relays; x; x = x->next)
        if (x->wsi == wsi)
            x->wsi = NULL;
    for (struct fanout *f = pending; f; f = f->next)
        if (f->wsi == wsi) {
            f->wsi = NULL;
            if (f->timer)
                g_source_remove(f->timer);
            f->timer = 0;
            fanout_free_if_done(f);
            return;
        }
}
