/* log.c - level check, formatting and the default logfmt writer (see log.h). */
#include "util/log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

ce_log_level ce_log_threshold = CE_LOG_INFO;
static ce_log_fn log_fn;
static void *log_ud;
static FILE *log_stream;
static ce_log_format log_format;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

void ce_log_set_callback(ce_log_fn fn, void *ud)
{
    log_fn = fn;
    log_ud = ud;
}

void ce_log_set_level(ce_log_level lvl) { ce_log_threshold = lvl; }

void ce_log_set_stream(FILE *f)
{
    pthread_mutex_lock(&log_mu);
    log_stream = f;
    pthread_mutex_unlock(&log_mu);
}

void ce_log_set_format(ce_log_format f) { log_format = f; }

int ce_log_format_parse(const char *s)
{
    if (strcmp(s, "logfmt") == 0)
        return CE_LOG_FORMAT_LOGFMT;
    if (strcmp(s, "json") == 0)
        return CE_LOG_FORMAT_JSON;
    return -1;
}

int ce_log_level_parse(const char *s)
{
    for (int i = 0; i <= CE_LOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return CE_LOG_WARN;
    return -1;
}

const char *ce_log_level_name(ce_log_level lvl)
{
    return (lvl >= CE_LOG_DEBUG && lvl <= CE_LOG_OFF) ? level_names[lvl] : "info";
}

void ce_log_emit(ce_log_level lvl, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (log_fn) {
        log_fn(lvl, line, log_ud);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[32], stamp[48];
    strftime(tbuf, sizeof tbuf, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp, sizeof stamp, "%s.%03ldZ", tbuf, ts.tv_nsec / 1000000L);
    ce_buf json = CE_BUF_INIT;
    bool as_json = log_format == CE_LOG_FORMAT_JSON &&
                   ce_log_json_line(&json, stamp, ce_log_level_name(lvl), line) == CE_OK;
    pthread_mutex_lock(&log_mu);
    FILE *out = log_stream ? log_stream : stderr;
    if (as_json)
        fprintf(out, "%.*s\n", (int)json.len, (const char *)json.data);
    else
        fprintf(out, "ts=%s level=%s %s\n", stamp, ce_log_level_name(lvl), line);
    fflush(out);
    pthread_mutex_unlock(&log_mu);
    ce_buf_free(&json);
}

/* The escape of one byte into e (at most 4 bytes + NUL); its length. */
static size_t quote_byte(unsigned char c, char e[5])
{
    switch (c) {
    case '"': return (size_t)snprintf(e, 5, "\\\"");
    case '\\': return (size_t)snprintf(e, 5, "\\\\");
    case '\n': return (size_t)snprintf(e, 5, "\\n");
    case '\r': return (size_t)snprintf(e, 5, "\\r");
    case '\t': return (size_t)snprintf(e, 5, "\\t");
    }
    if (c < 0x20 || c == 0x7f)
        return (size_t)snprintf(e, 5, "\\x%02x", c);
    e[0] = (char)c;
    e[1] = '\0';
    return 1;
}

const char *ce_log_quote(char *out, size_t cap, const char *s)
{
    static const char cut[] = "...\"";
    if (!out)
        return "";
    if (cap < 8) {
        if (cap)
            out[0] = '\0';
        return out;
    }
    if (!s)
        s = "";
    size_t bare = 0;
    while (s[bare] && (unsigned char)s[bare] > ' ' && s[bare] != '"' && s[bare] != '=' && s[bare] != '\\' &&
           s[bare] != 0x7f)
        bare++;
    if (bare > 0 && !s[bare] && bare < cap) {
        memcpy(out, s, bare + 1);
        return out;
    }
    size_t full = 2;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[5];
        full += quote_byte(*p, e);
    }
    bool fits = full < cap;
    size_t n = 0;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[5];
        size_t el = quote_byte(*p, e);
        /* when cutting, keep room for the cut mark while more follows */
        size_t need = el + (p[1] ? sizeof cut - 1 : 1) + 1;
        if (!fits && n + need > cap) {
            memcpy(out + n, cut, sizeof cut);
            return out;
        }
        memcpy(out + n, e, el);
        n += el;
    }
    out[n++] = '"';
    out[n] = '\0';
    return out;
}
