/* cli.c - command dispatcher (skeleton: --version and --help). */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>
#include "version.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: casselastic <command> [options]\n"
            "\n"
            "Keeps Cassandra tables and Elasticsearch/OpenSearch indexes in sync.\n"
            "\n"
            "commands:\n"
            "  run -c CONFIG     run as a daemon, one pass every `period` seconds\n"
            "  once -c CONFIG    one pass of every sync, then exit\n"
            "  status -c CONFIG  checkpoints, lag and last pass counts\n"
            "  stop -c CONFIG    stop the daemon started with this config\n"
            "  check CONFIG      validate a config file\n"
            "\n"
            "  --version         print the version\n"
            "  --help            this text\n");
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_CONFIG;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("casselastic %s\n", CE_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "casselastic: unknown command '%s' (see --help)\n", argv[1]);
    return CLI_EXIT_CONFIG;
}
