/*
 * window.c - pass windows, version units and time buckets (pure functions).
 *
 * A pass reads [start, end) on the version column: start = checkpoint - overlap so
 * that late writers stamped just before the previous end are re-read (versions make
 * re-reads harmless), end = now - safety_lag so rows being written right now are left
 * for the next pass. See docs/sync.md.
 */
#include "sync/sync_int.h"

#include <string.h>
#include <time.h>

void sync_window_compute(bool has_since, int64_t since_ms, bool has_checkpoint, int64_t checkpoint_ms,
                         bool has_lastrun, int64_t lastrun_ms, int64_t overlap_ms,
                         int64_t safety_lag_ms, int64_t now_ms, sync_window *out)
{
    int64_t start = 0;
    bool initial = false;
    if (overlap_ms < 0)
        overlap_ms = 0;
    if (safety_lag_ms < 0)
        safety_lag_ms = 0;
    if (has_since) {
        start = since_ms;
    } else if (has_checkpoint) {
        start = checkpoint_ms - overlap_ms;
    } else if (has_lastrun) {
        start = lastrun_ms - overlap_ms;
    } else {
        start = 0;
        initial = true;
    }
    if (start <= 0) {
        start = 0;
        initial = true;
    }
    int64_t end = now_ms - safety_lag_ms;
    if (end < start)
        end = start;
    out->start_ms = start;
    out->end_ms = end;
    out->initial = initial;
}

int64_t sync_version_floor(int64_t ms, int64_t unit_us)
{
    if (unit_us <= 0 || unit_us == 1000)
        return ms;
    if (unit_us < 1000) {
        int64_t f = 1000 / unit_us; /* us: 1000 per ms */
        if (1000 % unit_us == 0)
            return ms * f;
    }
    /* ms * 1000 / unit_us with floor for negatives */
    __int128 num = (__int128)ms * 1000;
    __int128 q = num / unit_us;
    if ((num % unit_us) != 0 && num < 0)
        q -= 1;
    return (int64_t)q;
}

int64_t sync_version_ceil(int64_t ms, int64_t unit_us)
{
    if (unit_us <= 0 || unit_us == 1000)
        return ms;
    __int128 num = (__int128)ms * 1000;
    __int128 q = num / unit_us;
    if ((num % unit_us) != 0 && num > 0)
        q += 1;
    return (int64_t)q;
}

int64_t sync_bucket_floor(int64_t t_s, int64_t width_s)
{
    if (width_s <= 0)
        return t_s;
    int64_t r = t_s % width_s;
    if (r < 0)
        r += width_s;
    return t_s - r;
}

int64_t sync_bucket_count(int64_t start_ms, int64_t end_ms, int64_t width_s)
{
    if (width_s <= 0 || end_ms <= start_ms)
        return 0;
    int64_t first = sync_bucket_floor(start_ms / 1000, width_s);
    int64_t last = sync_bucket_floor((end_ms - 1) / 1000, width_s);
    return (last - first) / width_s + 1;
}

ce_err sync_bucket_format(const char *fmt, int64_t t_s, char *out, size_t n)
{
    time_t tt = (time_t)t_s;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        return CE_EINVAL;
    size_t k = strftime(out, n, fmt, &tm);
    if (k == 0)
        return CE_EINVAL;
    return CE_OK;
}

int64_t sync_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
