/*
 * resume.c - the saved progress of a token-range scan (pure: no I/O).
 *
 * A full_scan or all load records which token ranges were acknowledged (every row read
 * from the range got its final bulk outcome) in the checkpoint's `extra` object under
 * "scan_resume", so a killed load resumes at the ranges not done yet. The progress is
 * only good for the same pass: the same window start, the same split of the ring into
 * ranges and the same read mode, table and index. Done ranges are a bitmap in hex (128
 * ranges = 32 characters). A range not done may have a position ("at": its index -> a
 * token in 16 hex digits): every partition of the range with a token up to it got its
 * final outcome, so the range resumes after it instead of at its start. Progress saved
 * before positions existed has no "at" and reads the same (its ranges restart whole);
 * a build without positions ignores the key and restarts them whole too. Other keys of
 * `extra` are kept as they are.
 *
 *   "extra": {"scan_resume": {"format": 1, "window_start_ms": 0, "window_end_ms": ...,
 *             "ranges": 128, "ring": "<16 hex>", "target": "<16 hex>", "position": false,
 *             "send_echoes": true, "done_count": 40, "done": "<hex bitmap>",
 *             "at": {"41": "<16 hex>", ...}}}
 */
#include "sync/sync_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define RESUME_FORMAT 1

void sync_resume_free(sync_resume *r)
{
    if (!r)
        return;
    free(r->done);
    free(r->at);
    memset(r, 0, sizeof *r);
}

ce_err sync_resume_init(sync_resume *r, size_t nranges)
{
    memset(r, 0, sizeof *r);
    r->nranges = nranges;
    r->done = calloc(nranges / 8 + 1, 1);
    r->at = malloc((nranges ? nranges : 1) * sizeof *r->at);
    if (!r->done || !r->at) {
        sync_resume_free(r);
        return CE_ENOMEM;
    }
    for (size_t k = 0; k < nranges; k++)
        r->at[k] = INT64_MIN;
    return CE_OK;
}

void sync_resume_advance(sync_resume *r, size_t k, int64_t at)
{
    if (k < r->nranges && at > r->at[k])
        r->at[k] = at;
}

bool sync_resume_is_done(const sync_resume *r, size_t k)
{
    return k < r->nranges && (r->done[k / 8] >> (k % 8) & 1);
}

void sync_resume_mark(sync_resume *r, size_t k)
{
    if (k >= r->nranges || sync_resume_is_done(r, k))
        return;
    r->done[k / 8] |= (uint8_t)(1u << (k % 8));
    r->ndone++;
}

static const char hexd[] = "0123456789abcdef";

/* The bitmap as hex, two characters a byte (range k is bit k % 8 of byte k / 8). */
static char *bitmap_hex(const sync_resume *r)
{
    size_t nb = (r->nranges + 7) / 8;
    char *s = malloc(2 * nb + 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < nb; i++) {
        s[2 * i] = hexd[r->done[i] >> 4];
        s[2 * i + 1] = hexd[r->done[i] & 15];
    }
    s[2 * nb] = 0;
    return s;
}

static int hexval(char c)
{
    const char *p = c ? strchr(hexd, c) : NULL;
    return p ? (int)(p - hexd) : -1;
}

/* Bits beyond nranges, bad digits or a wrong length: false. */
static bool bitmap_parse(sync_resume *r, const char *s)
{
    size_t nb = (r->nranges + 7) / 8;
    if (strlen(s) != 2 * nb)
        return false;
    for (size_t i = 0; i < nb; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        r->done[i] = (uint8_t)(hi << 4 | lo);
    }
    if (r->nranges % 8 && nb && (r->done[nb - 1] >> (r->nranges % 8)))
        return false;
    r->ndone = 0;
    for (size_t k = 0; k < r->nranges; k++)
        r->ndone += sync_resume_is_done(r, k);
    return true;
}

static void hex64(char out[17], uint64_t v)
{
    snprintf(out, 17, "%016" PRIx64, v);
}

/* {"<k>": "<token hex>"} of the ranges not done that have a position. */
static json_t *positions_json(const sync_resume *r)
{
    json_t *o = json_object();
    for (size_t k = 0; k < r->nranges && o; k++) {
        if (r->at[k] == INT64_MIN || sync_resume_is_done(r, k))
            continue;
        char key[24], tok[17];
        snprintf(key, sizeof key, "%zu", k);
        hex64(tok, (uint64_t)r->at[k]);
        if (json_object_set_new(o, key, json_string(tok)) != 0) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

static json_t *resume_json(const sync_resume *r)
{
    char ring[17], target[17];
    hex64(ring, r->ring);
    hex64(target, r->target);
    char *done = bitmap_hex(r);
    json_t *at = positions_json(r);
    json_t *o = done && at ? json_pack("{s:i,s:I,s:I,s:I,s:s,s:s,s:b,s:b,s:I,s:s,s:O}", "format", RESUME_FORMAT,
                                 "window_start_ms", (json_int_t)r->window_start_ms, "window_end_ms",
                                 (json_int_t)r->window_end_ms, "ranges", (json_int_t)r->nranges, "ring", ring,
                                 "target", target, "position", r->has_position, "send_echoes", r->send_echoes,
                                 "done_count", (json_int_t)r->ndone, "done", done, "at", at)
                     : NULL;
    json_decref(at); /* "O" took a reference of its own */
    free(done);
    return o;
}

ce_err sync_resume_encode(const sync_resume *r, const char *extra, char **out)
{
    *out = NULL;
    json_t *root = extra ? json_loads(extra, JSON_DECODE_ANY, NULL) : NULL;
    if (!json_is_object(root)) { /* the engine owns extra: anything else is replaced */
        json_decref(root);
        root = json_object();
    }
    if (!root)
        return CE_ENOMEM;
    ce_err e = CE_OK;
    if (r) {
        json_t *o = resume_json(r);
        e = o && json_object_set_new(root, SYNC_RESUME_KEY, o) == 0 ? CE_OK : CE_ENOMEM;
    } else {
        json_object_del(root, SYNC_RESUME_KEY);
    }
    if (!e && json_object_size(root) > 0) {
        *out = json_dumps(root, JSON_COMPACT);
        e = *out ? CE_OK : CE_ENOMEM;
    }
    json_decref(root);
    return e;
}

static bool parse_hex64(const char *s, uint64_t *out)
{
    if (!s || strlen(s) != 16)
        return false;
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        int d = hexval(s[i]);
        if (d < 0)
            return false;
        v = v << 4 | (uint64_t)d;
    }
    *out = v;
    return true;
}

static bool get_hex64(json_t *o, const char *k, uint64_t *out)
{
    return parse_hex64(json_string_value(json_object_get(o, k)), out);
}

/* The optional "at" object: range index -> token. false when malformed. */
static bool positions_parse(sync_resume *r, json_t *at)
{
    if (!at)
        return true; /* saved before positions existed */
    if (!json_is_object(at))
        return false;
    const char *key;
    json_t *v;
    json_object_foreach(at, key, v) {
        char *end;
        unsigned long long k = strtoull(key, &end, 10);
        uint64_t tok;
        if (!*key || *end || k >= r->nranges || !parse_hex64(json_string_value(v), &tok))
            return false;
        r->at[k] = (int64_t)tok;
    }
    return true;
}

/* The fields of one "scan_resume" object into *r (its bitmap allocated). */
static ce_err resume_from_json(json_t *o, sync_resume *r)
{
    json_t *n = json_object_get(o, "ranges"), *ws = json_object_get(o, "window_start_ms"),
           *we = json_object_get(o, "window_end_ms"), *pos = json_object_get(o, "position"),
           *echo = json_object_get(o, "send_echoes");
    const char *done = json_string_value(json_object_get(o, "done"));
    if (json_integer_value(json_object_get(o, "format")) != RESUME_FORMAT || !json_is_integer(n) ||
        json_integer_value(n) < 0 || json_integer_value(n) > (1 << 24) || !json_is_integer(ws) ||
        !json_is_integer(we) || !json_is_boolean(pos) || !json_is_boolean(echo) || !done)
        return CE_EJSON;
    if (sync_resume_init(r, (size_t)json_integer_value(n)) != CE_OK)
        return CE_ENOMEM;
    r->window_start_ms = json_integer_value(ws);
    r->window_end_ms = json_integer_value(we);
    r->has_position = json_is_true(pos);
    r->send_echoes = json_is_true(echo);
    if (!get_hex64(o, "ring", &r->ring) || !get_hex64(o, "target", &r->target) || !bitmap_parse(r, done) ||
        !positions_parse(r, json_object_get(o, "at"))) {
        sync_resume_free(r);
        return CE_EJSON;
    }
    return CE_OK;
}

ce_err sync_resume_decode(const char *extra, sync_resume *r)
{
    memset(r, 0, sizeof *r);
    if (!extra)
        return CE_ENOTFOUND;
    json_t *root = json_loads(extra, JSON_DECODE_ANY, NULL);
    json_t *o = json_is_object(root) ? json_object_get(root, SYNC_RESUME_KEY) : NULL;
    ce_err e = !o ? CE_ENOTFOUND : json_is_object(o) ? resume_from_json(o, r) : CE_EJSON;
    json_decref(root);
    return e;
}

bool sync_resume_has_position(const char *extra)
{
    sync_resume r;
    if (sync_resume_decode(extra, &r) != CE_OK)
        return true;
    bool pos = r.has_position;
    sync_resume_free(&r);
    return pos;
}

bool sync_resume_matches(const sync_resume *saved, const sync_resume *now, char *why, size_t n)
{
    const char *w = NULL;
    if (saved->window_start_ms != now->window_start_ms)
        w = "the window start changed";
    else if (saved->target != now->target)
        w = "the read mode, table or index changed";
    else if (saved->nranges != now->nranges || saved->ring != now->ring)
        w = "the token ring or its split into ranges changed";
    else if (saved->window_end_ms < saved->window_start_ms || saved->window_end_ms > now->window_end_ms)
        w = "the saved window end is not before this pass's end";
    if (w && why && n)
        snprintf(why, n, "%s", w);
    return !w;
}
