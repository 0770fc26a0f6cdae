/* Fuzz target config: a --config file (common/config.c: JSON through jansson, typed by a
 * settings table) for both daemons, then each daemon's own checks (gw_settings_finish,
 * waf_settings_check). The file is an in-memory file, so nothing touches the disk. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "gw_settings.h"
#include "waf_settings.h"

static int config_fd = -1;
static char config_path[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    config_fd = memfd_create("imsgw-fuzz-config", 0);
    if (config_fd < 0)
        abort();
    snprintf(config_path, sizeof(config_path), "/proc/self/fd/%d", config_fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ftruncate(config_fd, 0) < 0 || pwrite(config_fd, data, size, 0) != (ssize_t)size)
        abort();
    char *argv[] = {"fuzz", "--config", config_path, NULL};
    char err[512];
    int json = 0;

    struct gw_settings g;
    gw_settings_defaults(&g);
    if (cfg_load_args(&gw_program, &g, 3, argv, &json, err, sizeof(err)) == CFG_OK)
        gw_settings_finish(&g, err, sizeof(err));
    cfg_free(&gw_program, &g);

    struct waf_settings w;
    waf_settings_defaults(&w);
    if (cfg_load_args(&waf_program, &w, 3, argv, &json, err, sizeof(err)) == CFG_OK)
        waf_settings_check(&w, err, sizeof(err));
    waf_settings_free(&w);
    return 0;
}
