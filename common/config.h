/* config: one table per daemon describes every setting once; the same table reads the JSON file
 * (--config FILE.json, jansson) and the command-line flags (--NAME VALUE) that override it. */
#ifndef IMSGW_CONFIG_H
#define IMSGW_CONFIG_H

#include <stddef.h>

enum cfg_type { CFG_STR, CFG_INT, CFG_BOOL, CFG_STRLIST };

struct cfg_field {
    const char *name; /* JSON key and --flag name */
    enum cfg_type type;
    size_t offset;    /* offsetof() into the daemon's settings struct */
    long min, max;    /* bounds for CFG_INT */
    const char *help; /* one line for --help */
};

/* One table row: CFG_FIELD(struct my_settings, "name", CFG_INT, member, min, max, "help"). */
#define CFG_FIELD(settings_type, name, type, member, min, max, help)                               \
    {                                                                                              \
        name, type, offsetof(settings_type, member), min, max, help                                \
    }

/* Result of cfg_load_args(). */
enum cfg_result { CFG_OK, CFG_EXIT_OK, CFG_ERROR };

struct cfg_program {
    const char *name;    /* e.g. "imsgw-gateway" */
    const char *summary; /* one line for --help */
    const struct cfg_field *fields;
};

/* Applies the config file named by --config (if any), then every flag, to settings (whose
 * defaults the caller filled in). Handles --help and --version (returns CFG_EXIT_OK) and
 * --log-format (plain|json, stored in *log_json). Unknown keys, wrong types and out-of-range
 * values are errors: err gets one line naming the file and position or the flag. */
enum cfg_result cfg_load_args(const struct cfg_program *prog, void *settings, int argc, char **argv,
                              int *log_json, char *err, size_t errlen);
/* Frees the strings cfg_load_args() allocated. */
void cfg_free(const struct cfg_program *prog, void *settings);
/* Sets a string field to a copy of value (used for defaults, so cfg_free() can free them). */
void cfg_set_str(char **field, const char *value);

#endif
