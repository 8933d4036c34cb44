/*
 * daemon.c - pieces shared by the commands: loading the config with printed problems,
 * logging setup (log_file reopened on SIGHUP), signal flags, interruptible sleep, the
 * state folder and its pidfile.
 *
 * The pidfile is both a record (the pid, for `status` and `stop`) and a lock: the
 * owner holds flock(LOCK_EX) on it, so a pidfile left by a crashed process is
 * recognised as stale even when its pid was reused.
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/config_load.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/clock.h"

volatile sig_atomic_t cli_stop_flag;

/* ------------------------------------------------------------------ config */

static void print_problems(const char *path, const cli_config_problems *p, bool quiet)
{
    ce_buf b = CE_BUF_INIT;
    for (size_t i = 0; i < p->n; i++) {
        if (quiet && p->v[i].warning)
            continue;
        ce_buf_reset(&b);
        cli_config_problem_format(&p->v[i], &b);
        fprintf(stderr, "%s: %s: %s\n", path, p->v[i].warning ? "warning" : "error", ce_buf_cstr(&b));
    }
    ce_buf_free(&b);
}

int cli_config_load(const cli_opts *o, sync_config *cfg, bool quiet)
{
    memset(cfg, 0, sizeof *cfg);
    if (!o->config_path) {
        fprintf(stderr, "casselastic: a config file is needed (-c CONFIG)\n");
        return CLI_EXIT_CONFIG;
    }
    if (o->log_level && ce_log_level_parse(o->log_level) < 0) {
        fprintf(stderr, "casselastic: --log-level: bad level \"%s\" (debug, info, warn, error, off)\n", o->log_level);
        return CLI_EXIT_CONFIG;
    }
    cli_config_problems probs = {0};
    ce_err err = cli_config_load_file(o->config_path, o->state_dir, cfg, &probs);
    print_problems(o->config_path, &probs, quiet);
    if (err) {
        if (probs.nerrors)
            fprintf(stderr, "%s: %zu error%s: configuration refused\n", o->config_path, probs.nerrors,
                    probs.nerrors == 1 ? "" : "s");
        cli_config_problems_free(&probs);
        return CLI_EXIT_CONFIG;
    }
    cli_config_problems_free(&probs);
    if (o->log_level) {
        free(cfg->log_level);
        cfg->log_level = strdup(o->log_level);
    }
    if (o->nsync_names > 0) {
        /* Keep only the named syncs, in config order. */
        for (size_t j = 0; j < o->nsync_names; j++) {
            bool found = false;
            for (size_t i = 0; i < cfg->nsyncs && !found; i++)
                found = strcmp(cfg->syncs[i].name, o->sync_names[j]) == 0;
            if (!found) {
                fprintf(stderr, "casselastic: --sync: no sync named \"%s\" in %s\n", o->sync_names[j],
                        o->config_path);
                sync_config_free(cfg);
                return CLI_EXIT_CONFIG;
            }
        }
        size_t kept = 0;
        for (size_t i = 0; i < cfg->nsyncs; i++) {
            bool keep = false;
            for (size_t j = 0; j < o->nsync_names && !keep; j++)
                keep = strcmp(cfg->syncs[i].name, o->sync_names[j]) == 0;
            if (keep) {
                cfg->syncs[kept++] = cfg->syncs[i];
            } else {
                sync_def_free(&cfg->syncs[i]);
            }
        }
        cfg->nsyncs = kept;
    }
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------ logging */

static char log_path[PATH_MAX];
static FILE *log_fp;

int cli_logging_setup(const sync_config *cfg)
{
    int lvl = cfg->log_level ? ce_log_level_parse(cfg->log_level) : CE_LOG_INFO;
    ce_log_set_level(lvl < 0 ? CE_LOG_INFO : (ce_log_level)lvl);
    if (!cfg->log_file)
        return CLI_EXIT_OK;
    if (strlen(cfg->log_file) >= sizeof log_path) {
        fprintf(stderr, "casselastic: log_file: path too long\n");
        return CLI_EXIT_FAILED;
    }
    FILE *f = fopen(cfg->log_file, "a");
    if (!f) {
        fprintf(stderr, "casselastic: cannot open log file %s: %s\n", cfg->log_file, strerror(errno));
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

/* In the handler: open and dup2 are async-signal-safe. The FILE stays the same, its
 * descriptor now points at a fresh file (log rotation moved the old one away). */
static void log_reopen(void)
{
    if (!log_fp || !log_path[0])
        return;
    int fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    dup2(fd, fileno(log_fp));
    close(fd);
}

/* ------------------------------------------------------------------ signals and time */

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        int saved = errno;
        log_reopen();
        errno = saved;
        return;
    }
    if (sig == SIGINT && cli_stop_flag) {
        static const char msg[] = "casselastic: second interrupt, exiting now\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
    cli_stop_flag = 1;
}

void cli_signals_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: sleeps wake up */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int64_t cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t cli_mono_ms(void)
{
    return ce_mono_ms();
}

void cli_sleep_ms(int64_t ms)
{
    /* Slices: a signal may be delivered to another thread and not wake this one. */
    int64_t end = cli_mono_ms() + ms;
    while (!cli_stop_flag) {
        int64_t left = end - cli_mono_ms();
        if (left <= 0)
            break;
        if (left > 200)
            left = 200;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000), .tv_nsec = (long)(left % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

void cli_format_duration(int64_t ms, char *out, size_t cap)
{
    const char *sign = ms < 0 ? "-" : "";
    if (ms < 0)
        ms = -ms;
    if (ms < 60000)
        snprintf(out, cap, "%s%.1fs", sign, (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(out, cap, "%s%lldm%02llds", sign, (long long)(ms / 60000), (long long)(ms / 1000 % 60));
    else if (ms < 86400000LL * 2)
        snprintf(out, cap, "%s%lldh%02lldm", sign, (long long)(ms / 3600000), (long long)(ms / 60000 % 60));
    else
        snprintf(out, cap, "%s%lldd%02lldh", sign, (long long)(ms / 86400000), (long long)(ms / 3600000 % 24));
}

int cli_exit_code_for(ce_err err)
{
    switch (err) {
    case CE_OK: return 0;
    case CE_ENOHOST:
    case CE_ECLOSED:
    case CE_ETIMEOUT:
    case CE_EIO:
    case CE_ETLS:
    case CE_EHTTP: return 3;
    case CE_ECONFIG: return 2;
    default: return 1;
    }
}

/* ------------------------------------------------------------------ state folder and pidfile */

ce_err cli_state_dir_make(const char *dir)
{
    char path[PATH_MAX];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path)
        return CE_EINVAL;
    memcpy(path, dir, n + 1);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return CE_EIO;
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return CE_EIO;
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? CE_OK : CE_EIO;
}

struct cli_pidfile {
    int fd;
    char path[PATH_MAX];
};

static long read_pid_fd(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *end;
    long pid = strtol(buf, &end, 10);
    return pid > 0 ? pid : 0;
}

static int pidfile_path(const char *state_dir, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/casselastic.pid", state_dir);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

ce_err cli_pidfile_acquire(const char *state_dir, cli_pidfile **out, long *holder_pid)
{
    *out = NULL;
    if (holder_pid)
        *holder_pid = 0;
    cli_pidfile *p = calloc(1, sizeof *p);
    if (!p)
        return CE_ENOMEM;
    if (pidfile_path(state_dir, p->path, sizeof p->path) != 0) {
        free(p);
        return CE_EINVAL;
    }
    for (int attempt = 0; attempt < 3; attempt++) {
        p->fd = open(p->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (p->fd < 0) {
            free(p);
            return CE_EIO;
        }
        if (flock(p->fd, LOCK_EX | LOCK_NB) != 0) {
            if (holder_pid)
                *holder_pid = read_pid_fd(p->fd);
            close(p->fd);
            free(p);
            return CE_ECONFLICT;
        }
        /* The previous owner may have unlinked the file between our open and flock:
         * then we hold a lock on a file nobody else sees; retry on the new one. */
        struct stat a, b;
        if (fstat(p->fd, &a) == 0 && stat(p->path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) {
            char buf[32];
            int n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
            if (ftruncate(p->fd, 0) != 0 || pwrite(p->fd, buf, (size_t)n, 0) != n) {
                close(p->fd);
                free(p);
                return CE_EIO;
            }
            *out = p;
            return CE_OK;
        }
        close(p->fd);
    }
    free(p);
    return CE_EIO;
}

void cli_pidfile_release(cli_pidfile *p)
{
    if (!p)
        return;
    unlink(p->path);
    close(p->fd); /* releases the lock */
    free(p);
}

bool cli_daemon_running(const char *state_dir, long *pid)
{
    if (pid)
        *pid = 0;
    char path[PATH_MAX];
    if (pidfile_path(state_dir, path, sizeof path) != 0)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    long p = read_pid_fd(fd);
    bool locked = flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
    close(fd);
    if (pid)
        *pid = p;
    if (!locked)
        return false;
    /* The lock says someone holds it; kill(pid, 0) confirms the recorded pid. */
    return p <= 0 || kill((pid_t)p, 0) == 0 || errno == EPERM;
}
