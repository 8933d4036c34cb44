/*
 * log.h - logging through one callback.
 *
 * Library code never prints: it calls ce_log(), which checks the level before
 * formatting and hands one finished line (without newline) to the installed
 * callback. The default callback writes logfmt lines to stderr:
 *   ts=2026-11-25T22:00:00.123Z level=info sync=orders msg="pass done" indexed=10
 * or, with ce_log_set_format(CE_LOG_FORMAT_JSON), the same line as JSON (log_json.c):
 *   {"ts":"2026-11-25T22:00:00.123Z","level":"info","sync":"orders","msg":"pass done","indexed":10}
 * Messages are expected to be logfmt key=value pairs after a msg (e.g. "msg=\"x\" n=%d").
 * A value that comes from outside (an id, a name, a server's error text, a path) goes
 * through ce_log_quote, so a newline or a quote in it cannot forge a line or a field.
 * Never log a secret.
 */
#ifndef CE_LOG_H
#define CE_LOG_H

#include <stddef.h>
#include <stdio.h>
#include "util/buf.h"

typedef enum { CE_LOG_DEBUG = 0, CE_LOG_INFO, CE_LOG_WARN, CE_LOG_ERROR, CE_LOG_OFF } ce_log_level;

/* Receives one formatted line: level and the text after the level field. */
typedef void (*ce_log_fn)(ce_log_level level, const char *line, void *ud);

extern ce_log_level ce_log_threshold;

/* Install a callback (NULL restores the stderr default). Not thread-safe against ce_log. */
void ce_log_set_callback(ce_log_fn fn, void *ud);
void ce_log_set_level(ce_log_level lvl);
/* Parse "debug|info|warn|error|off"; returns -1 for unknown text. */
int ce_log_level_parse(const char *s);
const char *ce_log_level_name(ce_log_level lvl);
/* Direct the default callback to this stream (NULL = stderr). Caller keeps ownership; the
 * previous stream is no longer written once this returns (safe against other threads). */
void ce_log_set_stream(FILE *f);

/* What the default callback writes: logfmt lines (default) or one JSON object a line. */
typedef enum { CE_LOG_FORMAT_LOGFMT = 0, CE_LOG_FORMAT_JSON } ce_log_format;
void ce_log_set_format(ce_log_format f);
/* Parse "logfmt|json"; -1 for unknown text. */
int ce_log_format_parse(const char *s);
/*
 * One line (the text after the level field, logfmt pairs) as one JSON object appended to
 * out: {"ts":ts,"level":level, then each key=value in order}. Quoted values are unescaped
 * (ce_log_quote's escapes) and written as JSON strings; bare values that are JSON numbers
 * become numbers, others strings. Words without '=' are joined into "text"; a key seen
 * before (ts and level included) gets _2, _3, ... Never fails on odd input; CE_ENOMEM
 * leaves out as it was.
 */
ce_err ce_log_json_line(ce_buf *out, const char *ts, const char *level, const char *line);

/* Room for one quoted value in the usual case (longer values are cut, see ce_log_quote). */
#define CE_LOG_QUOTE_MAX 512

/*
 * s as one logfmt value: as is when it is non-empty and has no space, control byte, '"', '='
 * or '\\' (and fits); otherwise quoted: "..." with \" and \\ escaped, newline, CR and tab as
 * \n \r \t, other bytes below 0x20 and 0x7f as \xHH (bytes >= 0x80 are kept: UTF-8 stays
 * readable). Written into out (cap bytes, NUL-terminated); a value that does not fit is cut
 * at an escape boundary and ends with ..." . NULL s gives "". Returns out (cap must be at
 * least 8; smaller gives an empty string), so it can be used as a printf argument.
 */
const char *ce_log_quote(char *out, size_t cap, const char *s);

/* Format and emit. `fmt` should produce logfmt pairs, e.g. "msg=\"connected\" host=%s". */
void ce_log_emit(ce_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ce_log(lvl, ...)                          \
    do {                                          \
        if ((lvl) >= ce_log_threshold)            \
            ce_log_emit((lvl), __VA_ARGS__);      \
    } while (0)
#define ce_debug(...) ce_log(CE_LOG_DEBUG, __VA_ARGS__)
#define ce_info(...)  ce_log(CE_LOG_INFO, __VA_ARGS__)
#define ce_warn(...)  ce_log(CE_LOG_WARN, __VA_ARGS__)
#define ce_error(...) ce_log(CE_LOG_ERROR, __VA_ARGS__)

#endif
