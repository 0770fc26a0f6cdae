/* config: defaults < config file < flags. Any bad value is an error that stops the daemon before
 * it starts serving, so a half-applied configuration never runs. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "version.h"

void cfg_set_str(char **field, const char *value)
{
    free(*field);
    *field = value ? strdup(value) : NULL;
}

static void cfg_free_list(char **list)
{
    for (char **p = list; p && *p; p++)
        free(*p);
    free(list);
}

static const struct cfg_field *cfg_find(const struct cfg_program *prog, const char *name)
{
    for (const struct cfg_field *f = prog->fields; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* Splits "a,b,c" into a NULL-terminated list. */
static char **cfg_split(const char *s)
{
    size_t n = 1;
    for (const char *c = s; *c; c++)
        n += *c == ',';
    char **list = calloc(n + 1, sizeof(*list));
    char *copy = strdup(s), *save = NULL;
    size_t i = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        list[i++] = strdup(tok);
    free(copy);
    return list;
}

static int cfg_set_int(const struct cfg_field *f, void *settings, long v, const char *where,
                       char *err, size_t errlen)
{
    if (v < f->min || v > f->max) {
        snprintf(err, errlen, "%s: \"%s\" must be between %ld and %ld, got %ld", where, f->name,
                 f->min, f->max, v);
        return -1;
    }
    *(long *)((char *)settings + f->offset) = v;
    return 0;
}

static int cfg_apply_json(const struct cfg_field *f, void *settings, json_t *v, const char *where,
                          char *err, size_t errlen)
{
    void *slot = (char *)settings + f->offset;
    switch (f->type) {
    case CFG_STR:
        if (!json_is_string(v))
            break;
        cfg_set_str(slot, json_string_value(v));
        return 0;
    case CFG_INT:
        if (!json_is_integer(v))
            break;
        return cfg_set_int(f, settings, (long)json_integer_value(v), where, err, errlen);
    case CFG_BOOL:
        if (!json_is_boolean(v))
            break;
        *(int *)slot = json_is_true(v);
        return 0;
    case CFG_STRLIST: {
        if (!json_is_array(v))
            break;
        size_t i, n = json_array_size(v);
        json_t *item;
        json_array_foreach(v, i, item) if (!json_is_string(item)) goto wrong;
        char **list = calloc(n + 1, sizeof(*list));
        json_array_foreach(v, i, item) list[i] = strdup(json_string_value(item));
        cfg_free_list(*(char ***)slot);
        *(char ***)slot = list;
        return 0;
    }
    }
wrong:
    snprintf(err, errlen, "%s: \"%s\" has the wrong type (expected %s)", where, f->name,
             f->type == CFG_STR    ? "a string"
             : f->type == CFG_INT  ? "an integer"
             : f->type == CFG_BOOL ? "true or false"
                                   : "an array of strings");
    return -1;
}

static int cfg_apply_flag(const struct cfg_field *f, void *settings, const char *v, char *err,
                          size_t errlen)
{
    char where[96];
    snprintf(where, sizeof(where), "flag --%s", f->name);
    void *slot = (char *)settings + f->offset;
    switch (f->type) {
    case CFG_STR:
        cfg_set_str(slot, v);
        return 0;
    case CFG_INT: {
        char *end;
        errno = 0;
        long n = strtol(v, &end, 10);
        if (errno || end == v || *end) {
            snprintf(err, errlen, "%s: \"%s\" is not an integer", where, v);
            return -1;
        }
        return cfg_set_int(f, settings, n, where, err, errlen);
    }
    case CFG_BOOL:
        if (strcmp(v, "true") && strcmp(v, "false")) {
            snprintf(err, errlen, "%s: expected true or false, got \"%s\"", where, v);
            return -1;
        }
        *(int *)slot = strcmp(v, "true") == 0;
        return 0;
    case CFG_STRLIST:
        cfg_free_list(*(char ***)slot);
        *(char ***)slot = cfg_split(v);
        return 0;
    }
    return -1;
}

static int cfg_load_file(const struct cfg_program *prog, void *settings, const char *path,
                         char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return -1;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: the top level must be a JSON object", path);
        json_decref(root);
        return -1;
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v)
    {
        const struct cfg_field *f = cfg_find(prog, key);
        if (!f) {
            snprintf(err, errlen, "%s: unknown setting \"%s\" (see --help)", path, key);
            rc = -1;
            break;
        }
        if ((rc = cfg_apply_json(f, settings, v, path, err, errlen)) < 0)
            break;
    }
    json_decref(root);
    return rc;
}

static void cfg_help(const struct cfg_program *prog)
{
    printf("Usage: %s [--config FILE.json] [--NAME VALUE ...]\n%s\n\n", prog->name, prog->summary);
    printf("  --help              show this help and exit\n"
           "  --version           show the version and exit\n"
           "  --help-markdown     the settings as a Markdown table (docs/configuration.md)\n"
           "  --config FILE.json  read settings from a JSON object; flags override it\n"
           "  --log-format FMT    plain (default) or json\n\n"
           "Settings (JSON key = flag name):\n");
    for (const struct cfg_field *f = prog->fields; f->name; f++)
        printf("  --%-22s %s%s\n", f->name, f->help,
               f->type == CFG_STRLIST ? " (comma-separated on the command line)" : "");
}

/* The value a field holds now (the default, when called before any file or flag). */
static void cfg_value_text(const struct cfg_field *f, const void *settings, char *out, size_t len)
{
    const void *slot = (const char *)settings + f->offset;
    switch (f->type) {
    case CFG_STR:
        snprintf(out, len, "%s", *(char *const *)slot ? *(char *const *)slot : "");
        return;
    case CFG_INT:
        snprintf(out, len, "%ld", *(const long *)slot);
        return;
    case CFG_BOOL:
        snprintf(out, len, "%s", *(const int *)slot ? "true" : "false");
        return;
    case CFG_STRLIST: {
        size_t used = 0;
        out[0] = '\0';
        for (char *const *p = *(char **const *)slot; p && *p && used < len; p++)
            used += (size_t)snprintf(out + used, len - used, "%s%s", used ? ", " : "", *p);
        return;
    }
    }
}

/* docs/configuration.md is generated from this (scripts/gen-configuration.sh): one table per
 * daemon, so the reference can never drift from the code. */
static void cfg_help_markdown(const struct cfg_program *prog, const void *defaults)
{
    static const char *const types[] = {"string", "integer", "boolean", "list of strings"};
    printf("## %s\n\n%s\n\n", prog->name, prog->summary);
    printf("| Setting | Type | Default | Meaning |\n|---|---|---|---|\n");
    for (const struct cfg_field *f = prog->fields; f->name; f++) {
        char def[512], range[64] = "";
        cfg_value_text(f, defaults, def, sizeof(def));
        if (f->type == CFG_INT)
            snprintf(range, sizeof(range), " (%ld–%ld)", f->min, f->max);
        printf("| `%s` | %s%s | %s%s%s | ", f->name, types[f->type], range, def[0] ? "`" : "",
               def[0] ? def : "—", def[0] ? "`" : "");
        for (const char *c = f->help; *c; c++)
            if (*c == '|')
                fputs("\\|", stdout); /* a table cell */
            else
                putchar(*c);
        printf(" |\n");
    }
    printf("\n");
}

enum cfg_result cfg_load_args(const struct cfg_program *prog, void *settings, int argc, char **argv,
                              int *log_json, char *err, size_t errlen)
{
    /* First pass: informational flags and the config file, so flags can override the file. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cfg_help(prog);
            return CFG_EXIT_OK;
        }
        if (strcmp(argv[i], "--help-markdown") == 0) {
            cfg_help_markdown(prog, settings);
            return CFG_EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("%s %s\n", prog->name, IMSGW_VERSION);
            return CFG_EXIT_OK;
        }
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "flag --config needs a file name");
                return CFG_ERROR;
            }
            if (cfg_load_file(prog, settings, argv[i + 1], err, errlen) < 0)
                return CFG_ERROR;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument \"%s\" (see --help)", a);
            return CFG_ERROR;
        }
        if (i + 1 >= argc) {
            snprintf(err, errlen, "flag %s needs a value", a);
            return CFG_ERROR;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--config") == 0)
            continue;
        if (strcmp(a, "--log-format") == 0) {
            if (strcmp(v, "json") && strcmp(v, "plain")) {
                snprintf(err, errlen, "flag --log-format: expected plain or json, got \"%s\"", v);
                return CFG_ERROR;
            }
            *log_json = strcmp(v, "json") == 0;
            continue;
        }
        const struct cfg_field *f = cfg_find(prog, a + 2);
        if (!f) {
            snprintf(err, errlen, "unknown flag %s (see --help)", a);
            return CFG_ERROR;
        }
        if (cfg_apply_flag(f, settings, v, err, errlen) < 0)
            return CFG_ERROR;
    }
    return CFG_OK;
}

void cfg_free(const struct cfg_program *prog, void *settings)
{
    for (const struct cfg_field *f = prog->fields; f->name; f++) {
        void *slot = (char *)settings + f->offset;
        if (f->type == CFG_STR) {
            free(*(char **)slot);
            *(char **)slot = NULL;
        } else if (f->type == CFG_STRLIST) {
            cfg_free_list(*(char ***)slot);
            *(char ***)slot = NULL;
        }
    }
}
