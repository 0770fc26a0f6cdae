/* log: every line passes log_redact() before it is written, so a caller that logs a whole SIP
 * message or HTTP request by mistake still leaks no token, code or password. */
#include "log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

static const char *log_prog = "imsgw";
static int log_json;
static enum log_level log_min = LOGL_INFO;

static log_sink_fn log_sink;
static enum log_level log_sink_min = LOGL_ERROR;

void log_set_sink(enum log_level min, log_sink_fn sink)
{
    log_sink_min = min;
    log_sink = sink;
}

static const char *const log_level_names[] = {"debug", "info", "warn", "error"};

/* Field names whose values are secrets wherever they appear as name=value or "name":"value". */
static const char *const log_secret_keys[] = {"password",
                                              "code",
                                              "access_token",
                                              "refresh_token",
                                              "client_secret",
                                              "token",
                                              "code_verifier",
                                              "device_code",
                                              "user_code",
                                              "id_token",
                                              "assertion",
                                              "secret",
                                              NULL};

void log_init(const char *prog, int json, enum log_level min)
{
    log_prog = prog;
    log_json = json;
    log_min = min;
}

static int log_is_tokchar(int c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '/' ||
           c == '=';
}

/* Overwrites s[from..to) with "***" and closes the gap; the string only ever shrinks. */
static size_t log_blank(char *s, size_t from, size_t to)
{
    static const char mark[] = "***";
    size_t n = strlen(s);
    if (to - from < sizeof(mark) - 1) {
        memset(s + from, '*', to - from);
        return to;
    }
    memcpy(s + from, mark, sizeof(mark) - 1);
    memmove(s + from + sizeof(mark) - 1, s + to, n - to + 1);
    return from + sizeof(mark) - 1;
}

/* Redacts the rest of a header line after "Authorization:" / "Proxy-Authorization:". */
static void log_redact_auth_headers(char *s)
{
    for (char *p = s; (p = strcasestr(p, "authorization:")) != NULL;) {
        size_t from = (size_t)(p - s) + strlen("authorization:");
        size_t to = from;
        while (s[to] == ' ')
            to++;
        from = to;
        while (s[to] && s[to] != '\r' && s[to] != '\n')
            to++;
        p = s + (to > from ? log_blank(s, from, to) : to);
    }
}

/* Redacts the credential after every "Bearer " (both b64token and access_token="..." forms). */
static void log_redact_bearer(char *s)
{
    for (char *p = s; (p = strcasestr(p, "bearer ")) != NULL;) {
        size_t from = (size_t)(p - s) + strlen("bearer ");
        size_t to = from;
        while (s[to] && (log_is_tokchar((unsigned char)s[to]) || s[to] == '"'))
            to++;
        p = s + (to > from ? log_blank(s, from, to) : to);
    }
}

/* A JWS/JWT compact serialisation starts with the base64url of '{"' = "eyJ". */
static void log_redact_jwt(char *s)
{
    for (char *p = s; (p = strstr(p, "eyJ")) != NULL;) {
        size_t from = (size_t)(p - s), to = from;
        int dots = 0;
        while (s[to] &&
               (isalnum((unsigned char)s[to]) || s[to] == '-' || s[to] == '_' || s[to] == '.')) {
            dots += s[to] == '.';
            to++;
        }
        p = s + (dots >= 1 ? log_blank(s, from, to) : to);
    }
}

static void log_redact_keys(char *s)
{
    for (const char *const *k = log_secret_keys; *k; k++) {
        size_t klen = strlen(*k);
        for (char *p = s; (p = strcasestr(p, *k)) != NULL;) {
            size_t at = (size_t)(p - s), from = at + klen;
            /* Whole-word match only: "code" must not fire inside "unicode". */
            if ((at > 0 && (isalnum((unsigned char)s[at - 1]) || s[at - 1] == '_'))) {
                p = s + from;
                continue;
            }
            if (s[from] == '"')
                from++;
            while (s[from] == ' ')
                from++;
            if (s[from] != '=' && s[from] != ':') {
                p = s + from;
                continue;
            }
            from++;
            while (s[from] == ' ' || s[from] == '"')
                from++;
            size_t to = from;
            while (s[to] && s[to] != '&' && s[to] != '"' && s[to] != ',' && s[to] != ' ' &&
                   s[to] != '\r' && s[to] != '\n' && s[to] != ';')
                to++;
            p = s + (to > from ? log_blank(s, from, to) : to);
        }
    }
}

void log_redact(char *s)
{
    log_redact_auth_headers(s);
    log_redact_bearer(s);
    log_redact_jwt(s);
    log_redact_keys(s);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level < log_min)
        return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    log_redact(line);
    /* One event, one line: a newline inside a value would let a peer forge log lines, and
     * terminal escapes would let it rewrite what an operator sees. */
    for (char *c = line; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
        else if (log_json && (unsigned char)*c >= 0x80)
            *c = '?'; /* jansson refuses invalid UTF-8: the line would vanish */
    if (log_sink && level >= log_sink_min)
        log_sink(level, line);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[64];
    snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(ts.tv_nsec / 1000000));

    if (log_json) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "time", when, "prog", log_prog, "level",
                              log_level_names[level], "msg", line);
        char *txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (txt)
            fprintf(stderr, "%s\n", txt);
        free(txt);
        json_decref(o);
    } else {
        fprintf(stderr, "%s %s %s: %s\n", when, log_prog, log_level_names[level], line);
    }
}
