/*
 * cli.h - the casselastic command line: run, once, status, stop, check.
 * Exit codes are listed in docs/cli.md and README (CLI_EXIT_*).
 */
#ifndef CE_CLI_H
#define CE_CLI_H

enum {
    CLI_EXIT_OK = 0,        /* success */
    CLI_EXIT_FAILED = 1,    /* a pass or command failed (server error, sync error) */
    CLI_EXIT_CONFIG = 2,    /* bad usage or invalid configuration: nothing was changed */
    CLI_EXIT_UNAVAILABLE = 3, /* a server could not be reached */
    CLI_EXIT_NOT_RUNNING = 4, /* stop: no daemon running */
    CLI_EXIT_UNHEALTHY = 5    /* status: a sync without a successful pass within three periods */
};

/* Parse argv and run the command; returns the process exit code. */
int cli_main(int argc, char **argv);

#endif
