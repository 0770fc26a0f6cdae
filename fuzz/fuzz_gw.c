/* fuzz_gw: one gateway per fuzz process, set up as gw_main.c does but without sockets. */
#include "fuzz_gw.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sofia-sip/nta.h>
#include <sofia-sip/su_log.h>
#include <sofia-sip/su_tag.h>

#include "auth.h"
#include "flow.h"
#include "gw.h"
#include "gw_sip.h"
#include "jwks.h"
#include "log.h"
#include "reg.h"
#include "vectors.h"
#include "ws_conn.h"

struct gw *gw;

int fuzz_gw_verbose;
static struct gw fuzz_gw_state;
static struct gw_settings fuzz_gw_cfg;

static void fuzz_gw_su_log(void *stream, char const *fmt, va_list ap) {}

/* auth_init() reads the client secret from a file, as the daemon does. */
static void fuzz_gw_secret_file(void)
{
    char path[] = "/tmp/imsgw-fuzz-secret-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, "fuzz-secret\n", 12) != 12)
        abort();
    close(fd);
    cfg_set_str(&fuzz_gw_cfg.waf_client_secret_file, path);
}

void fuzz_gw_init(int waf_client)
{
    char err[256];
    gw_settings_defaults(&fuzz_gw_cfg);
    if (waf_client)
        fuzz_gw_secret_file();
    if (gw_settings_finish(&fuzz_gw_cfg, err, sizeof(err)) < 0)
        abort();
    /* Quiet: a log line per input would cost more than the input. IMSGW_FUZZ_LOG=1 shows what
     * the gateway does with an input (with -runs=1 FILE). */
    fuzz_gw_verbose = getenv("IMSGW_FUZZ_LOG") != NULL;
    log_init("fuzz", 0, fuzz_gw_verbose ? LOGL_DEBUG : (enum log_level)(LOGL_ERROR + 1));
    static const uint8_t key[FLOW_KEY_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    flow_set_key(key);

    gw = &fuzz_gw_state;
    gw->cfg = &fuzz_gw_cfg;
    gw->conns = g_hash_table_new(g_int64_hash, g_int64_equal);
    gw->jwks = jwks_new(fuzz_gw_cfg.jwks_uri, fuzz_gw_cfg.jwks_refetch_interval);
    static const char jwks[] = "{\"keys\":[" T19_JWK "]}";
    if (jwks_load(gw->jwks, jwks, strlen(jwks), err, sizeof(err)) != 1)
        abort();
    su_init();
    su_log_redirect(su_log_default, fuzz_gw_su_log, NULL);
    su_log_redirect(NULL, fuzz_gw_su_log, NULL);
    gw->root = su_root_create(NULL);
    gw->next_hop = (url_string_t *)fuzz_gw_cfg.next_hop;
    /* -1 (sofia's NONE): no transport at all; outgoing transactions are the fakes of fake_nta.c. */
    gw->agent = nta_agent_create(gw->root, (url_string_t *)-1, NULL, NULL, NTATAG_UA(0), TAG_END());
    if (!gw->agent || auth_init(err, sizeof(err)) < 0)
        abort();
    if (waf_client)
        unlink(fuzz_gw_cfg.waf_client_secret_file);
}

struct gw_conn *fuzz_gw_conn_open(void)
{
    struct gw_conn *c = calloc(1, sizeof(*c));
    c->id = ++gw->next_conn_id;
    strcpy(c->peer, "127.0.0.1");
    g_hash_table_insert(gw->conns, &c->id, c);
    gw->metrics.ws_open++;
    return c;
}

void fuzz_gw_conn_close(struct gw_conn *c)
{
    gw_sip_flow_closed(c);
    g_hash_table_remove(gw->conns, &c->id);
    gw->metrics.ws_open--;
    free(c);
}
