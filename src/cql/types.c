/*
 * types.c - cql_type descriptors: free, deep copy, fixed wire sizes, parsing of the
 * schema text stored in system_schema ("frozen<map<text, int>>", "vector<float, 3>",
 * quoted UDT names, quoted custom class strings) and of Cassandra marshal class names
 * as sent on the wire for custom types ("org.apache.cassandra.db.marshal.VectorType(
 * org.apache.cassandra.db.marshal.FloatType,3)"), and formatting back to CQL text.
 *
 * The parsers only read a NUL-terminated string and build a tree; nesting is capped
 * (CQL_TYPE_MAX_DEPTH) so hostile input cannot exhaust the stack.
 */
#include "cql/cql.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "util/hex.h"

#define CQL_TYPE_MAX_DEPTH 64

void cql_type_free(cql_type *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nsub; i++) {
        if (t->sub)
            cql_type_free(t->sub[i]);
        if (t->field_names)
            free(t->field_names[i]);
    }
    free(t->sub);
    free(t->field_names);
    free(t->keyspace);
    free(t->name);
    free(t->custom_class);
    free(t);
}

static char *str_dup_or_null(const char *s, bool *fail)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *fail = true;
    return d;
}

cql_type *cql_type_clone(const cql_type *t)
{
    if (!t)
        return NULL;
    cql_type *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    bool fail = false;
    c->kind = t->kind;
    c->dimension = t->dimension;
    c->frozen = t->frozen;
    c->keyspace = str_dup_or_null(t->keyspace, &fail);
    c->name = str_dup_or_null(t->name, &fail);
    c->custom_class = str_dup_or_null(t->custom_class, &fail);
    if (t->nsub && t->sub) {
        c->sub = calloc(t->nsub, sizeof *c->sub);
        if (!c->sub)
            fail = true;
        if (t->field_names && !fail) {
            c->field_names = calloc(t->nsub, sizeof *c->field_names);
            if (!c->field_names)
                fail = true;
        }
        if (!fail) {
            c->nsub = t->nsub;
            for (size_t i = 0; i < t->nsub && !fail; i++) {
                c->sub[i] = cql_type_clone(t->sub[i]);
                if (t->sub[i] && !c->sub[i])
                    fail = true;
                if (c->field_names)
                    c->field_names[i] = str_dup_or_null(t->field_names[i], &fail);
            }
        }
    }
    if (fail) {
        cql_type_free(c);
        return NULL;
    }
    return c;
}

/*
 * Mirrors Cassandra's AbstractType.valueLengthIfFixed(), which decides whether vector
 * elements are packed without lengths. Checked against Cassandra 5.0: tinyint,
 * smallint, date and time are NOT fixed there (their vector elements carry a vint
 * length), although their values always have 1, 2, 4 and 8 bytes.
 */
int cql_type_fixed_size(const cql_type *t)
{
    if (!t)
        return -1;
    if (t->kind == CQL_T_VECTOR) {
        int e = t->nsub == 1 ? cql_type_fixed_size(t->sub[0]) : -1;
        if (e < 0 || t->dimension == 0 || (uint64_t)e * t->dimension > INT32_MAX)
            return -1;
        return e * (int)t->dimension;
    }
    const cql_type_info *ti = cql_type_info_of(t->kind);
    return ti ? ti->fixed_size : -1;
}

/* ------------------------------------------------------------------ constructors */

cql_type *cql_type_new(cql_type_kind kind)
{
    cql_type *t = calloc(1, sizeof *t);
    if (t)
        t->kind = kind;
    return t;
}

/* Append a child (takes ownership of sub, even on failure). */
static ce_err type_add_sub(cql_type *t, cql_type *sub, char *field_name)
{
    cql_type **ns = realloc(t->sub, (t->nsub + 1) * sizeof *ns);
    if (!ns)
        goto fail;
    t->sub = ns;
    if (field_name || t->field_names) {
        char **nf = realloc(t->field_names, (t->nsub + 1) * sizeof *nf);
        if (!nf)
            goto fail;
        if (!t->field_names)
            memset(nf, 0, t->nsub * sizeof *nf);
        t->field_names = nf;
        t->field_names[t->nsub] = field_name;
    }
    t->sub[t->nsub++] = sub;
    return CE_OK;
fail:
    cql_type_free(sub);
    free(field_name);
    return CE_ENOMEM;
}

ce_err cql_type_add_sub(cql_type *t, cql_type *sub, const char *field_name)
{
    char *fn = NULL;
    if (field_name && !(fn = strdup(field_name))) {
        cql_type_free(sub);
        return CE_ENOMEM;
    }
    return type_add_sub(t, sub, fn);
}

/* ------------------------------------------------------------------ names */

#define FORM_SCALAR true
#define FORM_PARAM false
/* The client's columns of cql/type_table.h. */
static const cql_type_info type_infos[] = {
#define CQL_KIND_INFO(NAME, id, cql, marshal, form, fixed, es, stem) \
    {CQL_T_##NAME, cql, marshal, FORM_##form, fixed},
    CQL_TYPE_TABLE(CQL_KIND_INFO)
#undef CQL_KIND_INFO
};
#define N_INFOS (sizeof type_infos / sizeof type_infos[0])

/* Other names of scalar kinds: schema text "varchar", the legacy class DateType. */
static const struct {
    const char *cql, *cls;
    cql_type_kind kind;
} aliases[] = {
    {"varchar", "UTF8Type", CQL_T_VARCHAR},
    {NULL, "DateType", CQL_T_TIMESTAMP},
};

const cql_type_info *cql_type_info_of(cql_type_kind k)
{
    for (size_t i = 0; i < N_INFOS; i++)
        if (type_infos[i].kind == k)
            return &type_infos[i];
    return NULL;
}

static bool name_is(const char *name, const char *s, size_t n)
{
    return name && strlen(name) == n && memcmp(name, s, n) == 0;
}

/* The scalar kind named s[0..n) by its CQL name (by_class false) or its marshal class. */
static bool scalar_by_name(const char *s, size_t n, bool by_class, cql_type_kind *k)
{
    for (size_t i = 0; i < N_INFOS; i++) {
        const cql_type_info *ti = &type_infos[i];
        if (ti->scalar && name_is(by_class ? ti->marshal : ti->name, s, n)) {
            *k = ti->kind;
            return true;
        }
    }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (name_is(by_class ? aliases[i].cls : aliases[i].cql, s, n)) {
            *k = aliases[i].kind;
            return true;
        }
    }
    return false;
}

const char *cql_type_kind_name(cql_type_kind k)
{
    const cql_type_info *ti = cql_type_info_of(k);
    return ti ? ti->name : "unknown";
}

/* ------------------------------------------------------------------ schema text parser */

typedef struct {
    const char *s;
    size_t pos;
} tparser;

static void tp_ws(tparser *p)
{
    while (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' ||
           p->s[p->pos] == '\r')
        p->pos++;
}

static bool tp_eat(tparser *p, char c)
{
    tp_ws(p);
    if (p->s[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

/* A quoted string with doubled quote chars as escapes ('a''b' or "a""b"); *out malloc'd. */
static ce_err tp_quoted(tparser *p, char q, char **out)
{
    ce_buf b = CE_BUF_INIT;
    p->pos++; /* opening quote */
    for (;;) {
        char c = p->s[p->pos];
        if (!c) {
            ce_buf_free(&b);
            return CE_EINVAL;
        }
        p->pos++;
        if (c == q) {
            if (p->s[p->pos] != q)
                break;
            p->pos++;
        }
        if (ce_buf_append_byte(&b, (uint8_t)c)) {
            ce_buf_free(&b);
            return CE_ENOMEM;
        }
    }
    if (!b.data && ce_buf_reserve(&b, 1))
        return CE_ENOMEM;
    b.data[b.len] = '\0';
    *out = b.data;
    return CE_OK;
}

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

/* An unquoted identifier (lower-cased, as CQL does) or a quoted one (as is). */
static ce_err tp_ident(tparser *p, char **out)
{
    tp_ws(p);
    if (p->s[p->pos] == '"')
        return tp_quoted(p, '"', out);
    size_t st = p->pos;
    while (ident_char(p->s[p->pos]))
        p->pos++;
    if (p->pos == st)
        return CE_EINVAL;
    char *r = strndup(p->s + st, p->pos - st);
    if (!r)
        return CE_ENOMEM;
    for (char *c = r; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    *out = r;
    return CE_OK;
}

static ce_err tp_type(tparser *p, int depth, cql_type **out);

static ce_err tp_args(tparser *p, int depth, cql_type *t, size_t min, size_t max)
{
    if (!tp_eat(p, '<'))
        return CE_EINVAL;
    for (;;) {
        cql_type *sub = NULL;
        ce_err e = tp_type(p, depth + 1, &sub);
        if (e)
            return e;
        if ((e = type_add_sub(t, sub, NULL)))
            return e;
        if (tp_eat(p, '>'))
            break;
        if (!tp_eat(p, ','))
            return CE_EINVAL;
    }
    return (t->nsub >= min && t->nsub <= max) ? CE_OK : CE_EINVAL;
}

static ce_err tp_type(tparser *p, int depth, cql_type **out)
{
    if (depth > CQL_TYPE_MAX_DEPTH)
        return CE_EINVAL;
    tp_ws(p);
    ce_err e;
    char c = p->s[p->pos];
    if (c == '\'') {
        char *cls = NULL;
        if ((e = tp_quoted(p, '\'', &cls)))
            return e;
        e = cql_type_parse_class(cls, out);
        free(cls);
        return e;
    }
    char *id = NULL;
    if ((e = tp_ident(p, &id)))
        return e;
    bool quoted = c == '"';
    cql_type *t = NULL;
    if (!quoted) {
        cql_type_kind k;
        if (scalar_by_name(id, strlen(id), false, &k) && !(t = cql_type_new(k)))
            e = CE_ENOMEM;
        if (!t && !e) {
            if (strcmp(id, "frozen") == 0) {
                if (!tp_eat(p, '<'))
                    e = CE_EINVAL;
                else if (!(e = tp_type(p, depth + 1, &t)) && !tp_eat(p, '>'))
                    e = CE_EINVAL;
                if (t)
                    t->frozen = true;
                goto done;
            }
            static const struct {
                const char *n;
                cql_type_kind k;
                size_t min, max;
            } params[] = {{"list", CQL_T_LIST, 1, 1},
                          {"set", CQL_T_SET, 1, 1},
                          {"map", CQL_T_MAP, 2, 2},
                          {"tuple", CQL_T_TUPLE, 1, SIZE_MAX}};
            for (size_t i = 0; i < sizeof params / sizeof params[0] && !t; i++) {
                if (strcmp(id, params[i].n) == 0) {
                    if (!(t = cql_type_new(params[i].k)))
                        e = CE_ENOMEM;
                    else
                        e = tp_args(p, depth, t, params[i].min, params[i].max);
                }
            }
            if (!t && !e && strcmp(id, "vector") == 0) {
                if (!(t = cql_type_new(CQL_T_VECTOR))) {
                    e = CE_ENOMEM;
                } else if (!tp_eat(p, '<')) {
                    e = CE_EINVAL;
                } else {
                    cql_type *sub = NULL;
                    if (!(e = tp_type(p, depth + 1, &sub)) && !(e = type_add_sub(t, sub, NULL))) {
                        tp_ws(p);
                        if (!tp_eat(p, ',')) {
                            e = CE_EINVAL;
                        } else {
                            tp_ws(p);
                            char *end;
                            unsigned long n = strtoul(p->s + p->pos, &end, 10);
                            if (end == p->s + p->pos || n == 0 || n > INT32_MAX ||
                                !isdigit((unsigned char)p->s[p->pos]))
                                e = CE_EINVAL;
                            p->pos = (size_t)(end - p->s);
                            t->dimension = (uint32_t)n;
                            if (!e && !tp_eat(p, '>'))
                                e = CE_EINVAL;
                        }
                    }
                }
            }
        }
    }
    if (!t && !e) {
        /* A user-defined type name, possibly keyspace-qualified; fields resolved later. */
        if (!(t = cql_type_new(CQL_T_UDT))) {
            e = CE_ENOMEM;
        } else if (tp_eat(p, '.')) {
            t->keyspace = id;
            id = NULL;
            e = tp_ident(p, &t->name);
        } else {
            t->name = id;
            id = NULL;
        }
    }
done:
    free(id);
    if (e) {
        cql_type_free(t);
        return e;
    }
    *out = t;
    return CE_OK;
}

ce_err cql_type_parse(const char *text, cql_type **out)
{
    *out = NULL;
    if (!text)
        return CE_EINVAL;
    tparser p = {text, 0};
    cql_type *t = NULL;
    ce_err e = tp_type(&p, 0, &t);
    if (!e) {
        tp_ws(&p);
        if (p.s[p.pos] != '\0')
            e = CE_EINVAL;
    }
    if (e) {
        cql_type_free(t);
        return e;
    }
    *out = t;
    return CE_OK;
}

/* ------------------------------------------------------------------ marshal class parser */

#define MARSHAL_PREFIX "org.apache.cassandra.db.marshal."

typedef struct {
    const char *s;
    size_t pos;
} cparser;

/* One class-name token: letters, digits, '_', '.', '$'. */
static size_t cp_name(cparser *p, const char **start)
{
    while (p->s[p->pos] == ' ')
        p->pos++;
    *start = p->s + p->pos;
    size_t st = p->pos;
    while (ident_char(p->s[p->pos]) || p->s[p->pos] == '.' || p->s[p->pos] == '$')
        p->pos++;
    return p->pos - st;
}

static bool cp_eat(cparser *p, char c)
{
    while (p->s[p->pos] == ' ')
        p->pos++;
    if (p->s[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

/* Hex-encoded UTF-8 (UserType keyspace-relative names and field names). */
static char *hex_to_str(const char *h, size_t n)
{
    if (n % 2)
        return NULL;
    char *r = malloc(n / 2 + 1);
    if (!r)
        return NULL;
    for (size_t i = 0; i < n / 2; i++) {
        int a = ce_hex_digit(h[2 * i]), b = ce_hex_digit(h[2 * i + 1]);
        if (a < 0 || b < 0) {
            free(r);
            return NULL;
        }
        r[i] = (char)(a * 16 + b);
    }
    r[n / 2] = '\0';
    return r;
}

static ce_err cp_type(cparser *p, int depth, cql_type **out);

/* Skip a balanced parenthesised argument list (for classes we keep as custom). */
static bool cp_skip_args(cparser *p)
{
    int lvl = 0;
    do {
        char c = p->s[p->pos];
        if (!c)
            return false;
        if (c == '(')
            lvl++;
        else if (c == ')')
            lvl--;
        p->pos++;
    } while (lvl > 0);
    return true;
}

static ce_err cp_type(cparser *p, int depth, cql_type **out)
{
    if (depth > CQL_TYPE_MAX_DEPTH)
        return CE_EINVAL;
    const char *nm;
    size_t start_pos = p->pos;
    size_t n = cp_name(p, &nm);
    if (n == 0)
        return CE_EINVAL;
    const char *shortn = nm;
    size_t shortlen = n;
    if (n > strlen(MARSHAL_PREFIX) && strncmp(nm, MARSHAL_PREFIX, strlen(MARSHAL_PREFIX)) == 0) {
        shortn += strlen(MARSHAL_PREFIX);
        shortlen -= strlen(MARSHAL_PREFIX);
    }
#define IS(lit) (shortlen == sizeof(lit) - 1 && memcmp(shortn, lit, shortlen) == 0)
    ce_err e = CE_OK;
    cql_type *t = NULL;
    bool has_args = p->s[p->pos] == '(';
    if (!has_args) {
        cql_type_kind k;
        if (scalar_by_name(shortn, shortlen, true, &k)) {
            if (!(t = cql_type_new(k)))
                return CE_ENOMEM;
            *out = t;
            return CE_OK;
        }
    } else if (IS("FrozenType") || IS("ReversedType")) {
        p->pos++;
        if ((e = cp_type(p, depth + 1, &t)))
            return e;
        if (!cp_eat(p, ')')) {
            cql_type_free(t);
            return CE_EINVAL;
        }
        if (IS("FrozenType"))
            t->frozen = true;
        *out = t;
        return CE_OK;
    } else if (IS("ListType") || IS("SetType") || IS("MapType") || IS("TupleType") ||
               IS("VectorType")) {
        cql_type_kind k = IS("ListType") ? CQL_T_LIST
                          : IS("SetType") ? CQL_T_SET
                          : IS("MapType") ? CQL_T_MAP
                          : IS("TupleType") ? CQL_T_TUPLE
                                            : CQL_T_VECTOR;
        if (!(t = cql_type_new(k)))
            return CE_ENOMEM;
        p->pos++;
        for (;;) {
            if (k == CQL_T_VECTOR && t->nsub == 1) {
                while (p->s[p->pos] == ' ')
                    p->pos++;
                char *end;
                unsigned long d = strtoul(p->s + p->pos, &end, 10);
                if (!isdigit((unsigned char)p->s[p->pos]) || d == 0 || d > INT32_MAX) {
                    e = CE_EINVAL;
                    break;
                }
                p->pos = (size_t)(end - p->s);
                t->dimension = (uint32_t)d;
                if (!cp_eat(p, ')'))
                    e = CE_EINVAL;
                break;
            }
            cql_type *sub = NULL;
            if ((e = cp_type(p, depth + 1, &sub)) || (e = type_add_sub(t, sub, NULL)))
                break;
            if (cp_eat(p, ')'))
                break;
            if (!cp_eat(p, ',')) {
                e = CE_EINVAL;
                break;
            }
        }
        if (!e) {
            size_t want = k == CQL_T_MAP ? 2 : 1;
            if (k == CQL_T_TUPLE ? t->nsub < 1 : t->nsub != want)
                e = CE_EINVAL;
            if (k == CQL_T_VECTOR && t->dimension == 0)
                e = CE_EINVAL;
        }
        if (!e && k == CQL_T_VECTOR) {
            /* keep the original class text for re-encoding as a custom option */
            t->custom_class = strndup(p->s + start_pos, p->pos - start_pos);
            if (!t->custom_class)
                e = CE_ENOMEM;
        }
        if (e) {
            cql_type_free(t);
            return e;
        }
        *out = t;
        return CE_OK;
    } else if (IS("UserType")) {
        /* UserType(keyspace,hexname,hexfield:type,...) */
        if (!(t = cql_type_new(CQL_T_UDT)))
            return CE_ENOMEM;
        p->pos++;
        const char *a;
        size_t al = cp_name(p, &a);
        if (!al || !(t->keyspace = strndup(a, al)))
            e = al ? CE_ENOMEM : CE_EINVAL;
        if (!e && !cp_eat(p, ','))
            e = CE_EINVAL;
        if (!e) {
            al = cp_name(p, &a);
            if (!al || !(t->name = hex_to_str(a, al)))
                e = CE_EINVAL;
        }
        while (!e && !cp_eat(p, ')')) {
            if (!cp_eat(p, ',')) {
                e = CE_EINVAL;
                break;
            }
            al = cp_name(p, &a);
            char *fname = al ? hex_to_str(a, al) : NULL;
            if (!fname || !cp_eat(p, ':')) {
                free(fname);
                e = CE_EINVAL;
                break;
            }
            cql_type *sub = NULL;
            if ((e = cp_type(p, depth + 1, &sub))) {
                free(fname);
                break;
            }
            e = type_add_sub(t, sub, fname);
        }
        if (e) {
            cql_type_free(t);
            return e;
        }
        *out = t;
        return CE_OK;
    }
#undef IS
    /* Anything else stays a custom type carrying its whole class text. */
    if (has_args && !cp_skip_args(p))
        return CE_EINVAL;
    if (!(t = cql_type_new(CQL_T_CUSTOM)))
        return CE_ENOMEM;
    if (!(t->custom_class = strndup(p->s + start_pos, p->pos - start_pos))) {
        cql_type_free(t);
        return CE_ENOMEM;
    }
    *out = t;
    return CE_OK;
}

ce_err cql_type_parse_class(const char *cls, cql_type **out)
{
    *out = NULL;
    if (!cls)
        return CE_EINVAL;
    cparser p = {cls, 0};
    cql_type *t = NULL;
    ce_err e = cp_type(&p, 0, &t);
    if (!e) {
        while (p.s[p.pos] == ' ')
            p.pos++;
        if (p.s[p.pos] != '\0') {
            /* Unparseable trailing text: keep the whole string as a custom type. */
            cql_type_free(t);
            t = cql_type_new(CQL_T_CUSTOM);
            if (!t || !(t->custom_class = strdup(cls)))
                e = CE_ENOMEM;
        }
    } else if (e == CE_EINVAL) {
        cql_type_free(t);
        t = cql_type_new(CQL_T_CUSTOM);
        e = (t && (t->custom_class = strdup(cls))) ? CE_OK : CE_ENOMEM;
    }
    if (e) {
        cql_type_free(t);
        return e;
    }
    *out = t;
    return CE_OK;
}

/* ------------------------------------------------------------------ formatting */

static ce_err fmt_ident(ce_buf *b, const char *s) { return cql_ident_append(b, s); }

static ce_err fmt_type(const cql_type *t, ce_buf *b, int depth)
{
    if (depth > CQL_TYPE_MAX_DEPTH)
        return CE_EINVAL;
    ce_err e = CE_OK;
    bool fz = t->frozen && t->kind != CQL_T_VECTOR;
    if (fz)
        e = ce_buf_append_str(b, "frozen<");
    switch (t->kind) {
    case CQL_T_LIST:
    case CQL_T_SET:
    case CQL_T_MAP:
    case CQL_T_TUPLE:
    case CQL_T_VECTOR:
        if (!e)
            e = ce_buf_append_str(b, cql_type_kind_name(t->kind));
        if (!e)
            e = ce_buf_append_byte(b, '<');
        for (size_t i = 0; i < t->nsub && !e; i++) {
            if (i)
                e = ce_buf_append_str(b, ", ");
            if (!e)
                e = fmt_type(t->sub[i], b, depth + 1);
        }
        if (!e && t->kind == CQL_T_VECTOR)
            e = ce_buf_printf(b, ", %u", (unsigned)t->dimension);
        if (!e)
            e = ce_buf_append_byte(b, '>');
        break;
    case CQL_T_UDT:
        if (t->keyspace && !e) {
            e = fmt_ident(b, t->keyspace);
            if (!e)
                e = ce_buf_append_byte(b, '.');
        }
        if (!e)
            e = fmt_ident(b, t->name ? t->name : "");
        break;
    case CQL_T_CUSTOM:
        if (!e)
            e = ce_buf_append_byte(b, '\'');
        for (const char *c = t->custom_class ? t->custom_class : ""; *c && !e; c++) {
            if (*c == '\'')
                e = ce_buf_append_byte(b, '\'');
            if (!e)
                e = ce_buf_append_byte(b, (uint8_t)*c);
        }
        if (!e)
            e = ce_buf_append_byte(b, '\'');
        break;
    default:
        if (!e)
            e = ce_buf_append_str(b, cql_type_kind_name(t->kind));
        break;
    }
    if (fz && !e)
        e = ce_buf_append_byte(b, '>');
    return e;
}

ce_err cql_type_format(const cql_type *t, ce_buf *b)
{
    if (!t)
        return CE_EINVAL;
    size_t mark = b->len;
    ce_err e = fmt_type(t, b, 0);
    if (e)
        b->len = mark;
    return e;
}
