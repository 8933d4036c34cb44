/*
 * checkpoint.c - per sync and direction progress files (see checkpoint.h) and
 * PyCassElastic's lastruntime.log start point.
 *
 * A checkpoint is small JSON written with jsonw and read back with jansson. Saving goes
 * through sync_state_write_atomic so a crash leaves either the old or the new file,
 * never a torn one. Sync names become file names, so bytes outside [A-Za-z0-9_-] (and
 * a leading '.') are percent-encoded by state.c, which owns every path in the folder.
 */
#include "sync/checkpoint.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "sync/state.h"
#include "util/jsonw.h"

void sync_checkpoint_clear(sync_checkpoint *cp)
{
    if (!cp)
        return;
    free(cp->extra);
    free(cp->target);
    memset(cp, 0, sizeof *cp);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

ce_err sync_format_iso_ms(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)s * 1000);
    struct tm tm;
    if (!gmtime_r(&s, &tm)) {
        strcpy(out, "?");
        return CE_EINVAL;
    }
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", frac);
    return CE_OK;
}

ce_err sync_checkpoint_save(const char *state_dir, const char *sync, const char *direction,
                            const sync_checkpoint *cp)
{
    if (!cp)
        return CE_EINVAL;
    if (cp->extra) {
        json_error_t jerr;
        json_t *x = json_loads(cp->extra, JSON_DECODE_ANY, &jerr);
        if (!x)
            return CE_EINVAL;
        json_decref(x);
    }
    ce_buf path = CE_BUF_INIT, b = CE_BUF_INIT;
    ce_err err = sync_state_path(&path, state_dir, SYNC_STATE_CHECKPOINT, sync, direction);
    char iso[32];
    sync_format_iso_ms(cp->position_ms, iso);
    int64_t updated = cp->updated_ms ? cp->updated_ms : now_ms();
    if (!err)
        err = ce_buf_append_str(&b, "{\"format\":1,\"sync\":");
    if (!err)
        err = jsonw_cstr(&b, sync);
    if (!err)
        err = ce_buf_append_str(&b, ",\"direction\":");
    if (!err)
        err = jsonw_cstr(&b, direction);
    if (!err && cp->target) {
        err = ce_buf_append_str(&b, ",\"target\":");
        if (!err)
            err = jsonw_cstr(&b, cp->target);
    }
    if (!err)
        err = ce_buf_printf(&b,
                            ",\"position_ms\":%lld,\"position\":\"%s\",\"updated_ms\":%lld"
                            ",\"last_pass_started_ms\":%lld,\"last_pass_finished_ms\":%lld"
                            ",\"last_read\":%llu,\"last_written\":%llu,\"last_conflicts\":%llu"
                            ",\"last_skipped\":%llu,\"last_rejected\":%llu,\"extra\":",
                            (long long)cp->position_ms, iso, (long long)updated,
                            (long long)cp->last_pass_started_ms, (long long)cp->last_pass_finished_ms,
                            (unsigned long long)cp->last_read, (unsigned long long)cp->last_written,
                            (unsigned long long)cp->last_conflicts, (unsigned long long)cp->last_skipped,
                            (unsigned long long)cp->last_rejected);
    if (!err)
        err = cp->extra ? ce_buf_append_str(&b, cp->extra) : jsonw_null(&b);
    if (!err)
        err = ce_buf_append_str(&b, "}\n");
    if (!err)
        err = sync_state_write_atomic(ce_buf_cstr(&path), b.data, b.len, 0);
    ce_buf_free(&path);
    ce_buf_free(&b);
    return err;
}

static bool get_i64(json_t *o, const char *k, int64_t *out, bool required)
{
    json_t *v = json_object_get(o, k);
    if (!v)
        return !required;
    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static bool get_u64(json_t *o, const char *k, uint64_t *out)
{
    int64_t v = 0;
    if (!get_i64(o, k, &v, false) || v < 0)
        return false;
    *out = (uint64_t)v;
    return true;
}

ce_err sync_checkpoint_parse(const char *text, size_t len, sync_checkpoint *out)
{
    if (!out)
        return CE_EINVAL;
    memset(out, 0, sizeof *out);
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!root || !json_is_object(root)) {
        json_decref(root);
        return CE_EJSON;
    }
    sync_checkpoint cp = {0};
    bool ok = get_i64(root, "position_ms", &cp.position_ms, true) &&
              get_i64(root, "updated_ms", &cp.updated_ms, false) &&
              get_i64(root, "last_pass_started_ms", &cp.last_pass_started_ms, false) &&
              get_i64(root, "last_pass_finished_ms", &cp.last_pass_finished_ms, false) &&
              get_u64(root, "last_read", &cp.last_read) && get_u64(root, "last_written", &cp.last_written) &&
              get_u64(root, "last_conflicts", &cp.last_conflicts) &&
              get_u64(root, "last_skipped", &cp.last_skipped) &&
              get_u64(root, "last_rejected", &cp.last_rejected);
    json_t *target = json_object_get(root, "target");
    if (ok && target)
        ok = json_is_string(target) && (cp.target = strdup(json_string_value(target))) != NULL;
    json_t *extra = json_object_get(root, "extra");
    if (ok && extra && !json_is_null(extra)) {
        cp.extra = json_dumps(extra, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!cp.extra)
            ok = false;
    }
    json_decref(root);
    if (!ok) {
        sync_checkpoint_clear(&cp);
        return CE_EJSON;
    }
    *out = cp;
    return CE_OK;
}

/* The checkpoint file is small: anything larger is not one (and is refused unread). */
#define CHECKPOINT_MAX_BYTES (1u << 20)

ce_err sync_checkpoint_load(const char *state_dir, const char *sync, const char *direction,
                            sync_checkpoint *out)
{
    if (!out)
        return CE_EINVAL;
    memset(out, 0, sizeof *out);
    ce_buf path = CE_BUF_INIT, text = CE_BUF_INIT;
    ce_err err = sync_state_path(&path, state_dir, SYNC_STATE_CHECKPOINT, sync, direction);
    if (err) {
        ce_buf_free(&path);
        return err;
    }
    FILE *f = fopen(ce_buf_cstr(&path), "rb");
    ce_buf_free(&path);
    if (!f)
        return errno == ENOENT ? CE_ENOTFOUND : CE_EIO;
    char chunk[4096];
    size_t n;
    while (!err && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        err = text.len + n > CHECKPOINT_MAX_BYTES ? CE_EJSON : ce_buf_append(&text, chunk, n);
    if (!err && ferror(f))
        err = CE_EIO;
    fclose(f);
    err = err ? err : sync_checkpoint_parse(text.data ? text.data : "", text.len, out);
    ce_buf_free(&text);
    return err;
}

static bool parse_digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static bool valid_civil(int y, int mo, int d, int h, int mi, int sec)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
        return false;
    int md = mdays[mo - 1];
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && !leap)
        md = 28;
    return d <= md;
}

static ce_err civil_to_ms(int y, int mo, int d, int h, int mi, int sec, int64_t *ms_out)
{
    if (!valid_civil(y, mo, d, h, mi, sec))
        return CE_EINVAL;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return CE_EINVAL;
    *ms_out = (int64_t)t * 1000;
    return CE_OK;
}

ce_err sync_parse_since(const char *text, int64_t *ms_out)
{
    if (!text || !ms_out)
        return CE_EINVAL;
    while (isspace((unsigned char)*text))
        text++;
    size_t n = strlen(text);
    while (n > 0 && isspace((unsigned char)text[n - 1]))
        n--;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    /* PyCassElastic's "YYYYMMDD HH:MM" */
    if (n == 14 && text[8] == ' ' && text[11] == ':') {
        if (!parse_digits(text, 4, &y) || !parse_digits(text + 4, 2, &mo) || !parse_digits(text + 6, 2, &d) ||
            !parse_digits(text + 9, 2, &h) || !parse_digits(text + 12, 2, &mi))
            return CE_EINVAL;
        return civil_to_ms(y, mo, d, h, mi, 0, ms_out);
    }
    /* ISO 8601 in UTC: YYYY-MM-DD[(T| )HH:MM[:SS]][Z] */
    if (n < 10 || text[4] != '-' || text[7] != '-' || !parse_digits(text, 4, &y) ||
        !parse_digits(text + 5, 2, &mo) || !parse_digits(text + 8, 2, &d))
        return CE_EINVAL;
    size_t i = 10;
    if (i < n && (text[i] == 'T' || text[i] == ' ')) {
        if (n < i + 6 || text[i + 3] != ':' || !parse_digits(text + i + 1, 2, &h) ||
            !parse_digits(text + i + 4, 2, &mi))
            return CE_EINVAL;
        i += 6;
        if (i < n && text[i] == ':') {
            if (n < i + 3 || !parse_digits(text + i + 1, 2, &sec))
                return CE_EINVAL;
            i += 3;
        }
    }
    if (i < n && text[i] == 'Z')
        i++;
    if (i != n)
        return CE_EINVAL;
    return civil_to_ms(y, mo, d, h, mi, sec, ms_out);
}

ce_err sync_lastruntime_read(const char *dir, int64_t *ms_out)
{
    if (!dir || !ms_out)
        return CE_EINVAL;
    char path[4200];
    if (sync_state_path_fixed(path, sizeof path, dir, SYNC_STATE_LASTRUNTIME, NULL, NULL) != CE_OK)
        return CE_EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return errno == ENOENT ? CE_ENOTFOUND : CE_EIO;
    char text[128];
    size_t n = fread(text, 1, sizeof text - 1, f);
    bool more = !feof(f) && fgetc(f) != EOF;
    fclose(f);
    if (more)
        return CE_EINVAL;
    text[n] = '\0';
    if (strlen(text) != n) /* NUL inside */
        return CE_EINVAL;
    return sync_parse_since(text, ms_out);
}
