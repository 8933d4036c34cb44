/*
 * logfile.c - where the log goes: the level, and log_file (opened for append, created 0600,
 * reopened on SIGHUP after log rotation moved it). Without log_file, lines go to stderr.
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sync/state.h"
#include "util/log.h"

static char log_path[PATH_MAX];
static FILE *log_fp;

static int open_log(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, SYNC_STATE_FILE_MODE);
}

int cli_logging_setup(const sync_config *cfg)
{
    int lvl = ce_log_level_parse(cfg->log_level); /* the loader set a valid level */
    ce_log_set_level(lvl < 0 ? CE_LOG_INFO : (ce_log_level)lvl);
    if (!cfg->log_file)
        return CLI_EXIT_OK;
    if (strlen(cfg->log_file) >= sizeof log_path) {
        fprintf(stderr, "casselastic: log_file: path too long\n");
        return CLI_EXIT_FAILED;
    }
    int fd = open_log(cfg->log_file);
    FILE *f = fd >= 0 ? fdopen(fd, "a") : NULL;
    if (!f) {
        fprintf(stderr, "casselastic: cannot open log file %s: %s\n", cfg->log_file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return CLI_EXIT_FAILED;
    }
    strcpy(log_path, cfg->log_file);
    log_fp = f;
    ce_log_set_stream(f);
    return CLI_EXIT_OK;
}

void cli_logging_close(void)
{
    if (!log_fp)
        return;
    ce_log_set_stream(NULL);
    fclose(log_fp);
    log_fp = NULL;
    log_path[0] = '\0';
}

/* Called from the signal handler: open and dup2 are async-signal-safe. The FILE stays the
 * same, its descriptor now points at a fresh file (log rotation moved the old one away). */
void cli_logfile_reopen(void)
{
    if (!log_fp || !log_path[0])
        return;
    int fd = open_log(log_path);
    if (fd < 0)
        return;
    dup2(fd, fileno(log_fp));
    close(fd);
}
