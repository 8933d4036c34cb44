/*
 * gen_config_manpage.c - build-time generator of casselastic.json(5).
 *
 *   gen_config_manpage TEMPLATE OUT
 *
 * Copies TEMPLATE (docs/man/casselastic.json.5.in, already configured by CMake) to OUT,
 * replacing the line `.\" CONFIG-KEYS-HERE` with the key reference rendered from the
 * table that drives parsing (cli_config_manpage). Exit 0, or 1 with a message (OUT is
 * then removed).
 */
#include <stdio.h>
#include <string.h>

#include "cli/manpage.h"

#define MARKER ".\\\" CONFIG-KEYS-HERE"

static int splice(FILE *in, FILE *out)
{
    char line[4096];
    int found = 0;
    while (fgets(line, sizeof line, in)) {
        if (strncmp(line, MARKER, strlen(MARKER)) != 0) {
            fputs(line, out);
            continue;
        }
        ce_buf b = CE_BUF_INIT;
        ce_err err = cli_config_manpage(&b);
        if (!err)
            fwrite(b.data, 1, b.len, out);
        ce_buf_free(&b);
        if (err)
            return -1;
        found = 1;
    }
    return found && !ferror(in) ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: gen_config_manpage TEMPLATE OUT\n");
        return 2;
    }
    FILE *in = fopen(argv[1], "r");
    FILE *out = in ? fopen(argv[2], "w") : NULL;
    int rc = in && out ? splice(in, out) : -1;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        rc = -1;
    if (rc) {
        fprintf(stderr, "gen_config_manpage: cannot write %s from %s (missing marker line?)\n", argv[2], argv[1]);
        remove(argv[2]);
        return 1;
    }
    return 0;
}
