/* stub_route: see stub_route.h. Nothing here allocates outside the caller's home or keeps a
 * pointer into the store past the call. */
#include "stub_route.h"

#include <string.h>
#include <strings.h>

#include <sofia-sip/su_string.h>

static int stub_route_live(const struct stub_binding *b, int64_t now)
{
    return b->expires_at > now;
}

static int stub_route_copy(su_home_t *home, const struct stub_binding *b, struct stub_target *t)
{
    t->uri = su_strdup(home, b->uri);
    t->path = b->path ? su_strdup(home, b->path) : NULL;
    t->instance = b->instance ? su_strdup(home, b->instance) : NULL;
    t->reg_id = b->reg_id;
    return t->uri && (!b->path || t->path) && (!b->instance || t->instance) ? 0 : -1;
}

/* The flow of b's instance to use first: the one refreshed last (the same expiry was granted
 * to each, so the latest expiry is the newest REGISTER, the flow most likely alive). */
static const struct stub_binding *stub_route_pick(struct stub_bindings *store, const char *aor,
                                                  const char *instance, const long *tried,
                                                  size_t ntried, int64_t now)
{
    const struct stub_binding *best = NULL;
    for (struct stub_binding *b = stub_bindings_first(store, aor); b; b = stub_bindings_next(b)) {
        if (!stub_route_live(b, now) || !b->instance || strcmp(b->instance, instance) != 0)
            continue;
        size_t i = 0;
        while (i < ntried && tried[i] != b->reg_id)
            i++;
        if (i < ntried)
            continue;
        if (!best || b->expires_at > best->expires_at)
            best = b;
    }
    return best;
}

size_t stub_route_targets(su_home_t *home, struct stub_bindings *store, const char *aor,
                          int64_t now, struct stub_target *out, size_t max)
{
    size_t n = 0;
    for (struct stub_binding *b = stub_bindings_first(store, aor); b && n < max;
         b = stub_bindings_next(b)) {
        if (!stub_route_live(b, now))
            continue;
        const struct stub_binding *use = b;
        if (b->instance) {
            /* One branch per instance: skip it when an earlier target already covers it. */
            size_t i = 0;
            while (i < n && !(out[i].instance && strcmp(out[i].instance, b->instance) == 0))
                i++;
            if (i < n)
                continue;
            use = stub_route_pick(store, aor, b->instance, NULL, 0, now);
        }
        if (stub_route_copy(home, use, &out[n]) == 0)
            n++;
    }
    return n;
}

int stub_route_alternate(su_home_t *home, struct stub_bindings *store, const char *aor,
                         const char *instance, const long *tried, size_t ntried, int64_t now,
                         struct stub_target *out)
{
    if (!instance)
        return -1;
    const struct stub_binding *b = stub_route_pick(store, aor, instance, tried, ntried, now);
    return b ? stub_route_copy(home, b, out) : -1;
}

/* Lower is better. 6xx ends the search (§16.7 step 6: a 6xx is final for the whole request);
 * otherwise the lowest class wins, and inside 4xx the codes a UA can act on (§16.7 lists 401,
 * 407, 415, 420 and 484) beat the rest, while "nobody answered" (408) and a dead flow (430)
 * rank last so that any real answer such as 486 is preferred. 503 ranks after other 5xx. */
static int stub_route_rank(int s)
{
    static const int preferred[] = {401, 407, 415, 420, 484};
    if (s >= 600)
        return s;
    if (s >= 300 && s < 400)
        return 1000 + s;
    if (s >= 400 && s < 500) {
        for (size_t i = 0; i < sizeof(preferred) / sizeof(preferred[0]); i++)
            if (s == preferred[i])
                return 2000 + (int)i;
        if (s == 408 || s == 430)
            return 2900 + s;
        return 2100 + s;
    }
    if (s == 503)
        return 3900;
    return 3000 + s;
}

int stub_route_best(const int *status, size_t n, int *send)
{
    int best = -1;
    for (size_t i = 0; i < n; i++) {
        if (status[i] < 300 || status[i] > 699)
            continue;
        if (best < 0 || stub_route_rank(status[i]) < stub_route_rank(status[best]))
            best = (int)i;
    }
    if (best >= 0) {
        int s = status[best];
        *send = s == 503 ? 500 : s == 430 ? 480 : s;
    }
    return best;
}

static const char *stub_route_port(const url_t *u)
{
    if (u->url_port && *u->url_port)
        return u->url_port;
    return u->url_type == url_sips ? "5061" : "5060";
}

int stub_route_is_self(const url_t *self, const url_t *u)
{
    if (!self || !u || !self->url_host || !u->url_host)
        return 0;
    if (u->url_type != url_sip && u->url_type != url_sips)
        return 0;
    return su_casematch(self->url_host, u->url_host) &&
           strcmp(stub_route_port(self), stub_route_port(u)) == 0;
}
