/*
 * logfile.c - where the log goes: the level, the format (logfmt or json), and log_file
 * (opened for append, created 0600, reopened on SIGHUP after log rotation moved it; a reload
 * that names another file switches to it). Without log_file, lines go to stderr.
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
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

/* Make f (may be NULL: stderr) the log stream for path, closing the previous file. SIGHUP is
 * blocked meanwhile: its handler reads log_fp and log_path. */
static void swap_stream(FILE *f, const char *path)
{
    sigset_t hup, saved;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &hup, &saved);
    FILE *old = log_fp;
    ce_log_set_stream(f); /* from here no thread writes to old */
    log_fp = f;
    snprintf(log_path, sizeof log_path, "%s", path ? path : "");
    pthread_sigmask(SIG_SETMASK, &saved, NULL);
    if (old)
        fclose(old);
}

int cli_logging_setup(const sync_config *cfg)
{
    int lvl = ce_log_level_parse(cfg->log_level); /* the loader set valid values */
    ce_log_set_level(lvl < 0 ? CE_LOG_INFO : (ce_log_level)lvl);
    int fmt = cfg->log_format ? ce_log_format_parse(cfg->log_format) : CE_LOG_FORMAT_LOGFMT;
    ce_log_set_format(fmt < 0 ? CE_LOG_FORMAT_LOGFMT : (ce_log_format)fmt);
    if (!cfg->log_file) {
        swap_stream(NULL, NULL);
        return CLI_EXIT_OK;
    }
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
    swap_stream(f, cfg->log_file);
    return CLI_EXIT_OK;
}

void cli_logging_close(void)
{
    if (log_fp)
        swap_stream(NULL, NULL);
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
