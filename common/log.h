/* log: one line per event on stderr, plain or JSON, with secrets redacted. */
#ifndef IMSGW_LOG_H
#define IMSGW_LOG_H

#include <stddef.h>

enum log_level { LOGL_DEBUG, LOGL_INFO, LOGL_WARN, LOGL_ERROR };

/* Sets the program name, the output format (json != 0 → JSON lines) and the lowest level shown. */
void log_init(const char *prog, int json, enum log_level min);
/* Formats, redacts and writes one line. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Replaces secrets in s (NUL-terminated, edited in place; never grows): Bearer credentials,
 * JWT-shaped strings, Authorization header values and key=value secrets such as password=. */
void log_redact(char *s);
/* Also hands every line at min or above, redacted and on one line, to sink (NULL: none); e.g.
 * the gateway's ring of recent errors for its operator page. */
typedef void (*log_sink_fn)(enum log_level level, const char *line);
void log_set_sink(enum log_level min, log_sink_fn sink);

#define log_debug(...) log_msg(LOGL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOGL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOGL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOGL_ERROR, __VA_ARGS__)

#endif
