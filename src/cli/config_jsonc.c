/*
 * config_jsonc.c - the config's text format: JSON plus '#' comments (PyCassElastic's README
 * annotated its example that way), duplicate keys refused. A codec: bytes in, a jansson
 * object or syntax problems (with line and column) out.
 */
#include "cli/config_int.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void cli_jsonc_strip(char *text, size_t len, char *unclosed, size_t cap)
{
    char stack[64];
    size_t depth = 0;
    bool overflow = false, in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_string) {
            if (c == '\\' && i + 1 < len)
                i++;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '#') {
            while (i < len && text[i] != '\n' && text[i] != '\r')
                text[i++] = ' ';
            i--; /* the loop's i++ moves to the newline (or the end) */
        } else if (c == '{' || c == '[') {
            if (depth < sizeof stack)
                stack[depth] = c == '{' ? '}' : ']';
            else
                overflow = true;
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth > 0)
                depth--;
        }
    }
    if (!unclosed || cap == 0)
        return;
    unclosed[0] = '\0';
    if (in_string || overflow || depth >= cap)
        return;
    size_t k = 0;
    while (depth > 0)
        unclosed[k++] = stack[--depth];
    unclosed[k] = '\0';
}


const char *cfg_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "a list";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

/* PyCassElastic's README example ends without its final '}': when the text stops right
 * after a complete value, close what is open and say so. *copy may be reallocated. */
static json_t *parse_closed(char **copy, size_t len, const char *unclosed, const json_error_t *jerr,
                            cli_config_problems *probs, bool *oom)
{
    size_t end = len;
    while (end > 0 && isspace((unsigned char)(*copy)[end - 1]))
        end--;
    if ((size_t)jerr->position < end)
        return NULL;
    size_t ul = strlen(unclosed);
    char *fixed = realloc(*copy, len + ul + 1);
    if (!fixed) {
        *oom = true;
        return NULL;
    }
    *copy = fixed;
    memcpy(fixed + len, unclosed, ul + 1);
    json_error_t jerr2;
    json_t *root = json_loadb(fixed, len + ul, JSON_REJECT_DUPLICATES, &jerr2);
    if (root)
        cfg_problem_add(probs, true, NULL, jerr->line > 0 ? jerr->line : 1, jerr->column > 0 ? jerr->column : 1,
                        cfg_strf("end of file with %zu bracket(s) still open: assumed the missing \"%s\"", ul,
                                 unclosed));
    return root;
}

json_t *cfg_jsonc_parse(const char *text, size_t len, cli_config_problems *probs, bool *oom)
{
    char *copy = malloc(len + 1);
    if (!copy) {
        *oom = true;
        return NULL;
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    char unclosed[32];
    cli_jsonc_strip(copy, len, unclosed, sizeof unclosed);
    json_error_t jerr;
    json_t *root = json_loadb(copy, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && unclosed[0])
        root = parse_closed(&copy, len, unclosed, &jerr, probs, oom);
    free(copy);
    if (*oom) {
        json_decref(root);
        return NULL;
    }
    if (!root) {
        cfg_problem_add(probs, false, NULL, jerr.line > 0 ? jerr.line : 1, jerr.column > 0 ? jerr.column : 1,
                        cfg_strf("JSON syntax error: %s", jerr.text));
        return NULL;
    }
    if (!json_is_object(root)) {
        cfg_problem_add(probs, false, "(top level)", 0, 0,
                        cfg_strf("expected an object, got %s", cfg_json_type_name(root)));
        json_decref(root);
        return NULL;
    }
    return root;
}
