/*
 * process.c - process-wide setup of `run` and `once`: signal flags (SIGTERM/SIGINT stop,
 * SIGHUP reopens the log file and asks `run` to reload its config, a second SIGINT exits at
 * once), core dumps off (the process holds passwords and keys), an interruptible sleep and
 * the clocks the commands use. Handlers only set flags (and reopen a descriptor).
 */
#include "cli/cli_int.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"

volatile sig_atomic_t cli_stop_flag;
volatile sig_atomic_t cli_reload_flag;

static void on_signal(int sig)
{
    if (sig == SIGHUP) {
        int saved = errno;
        cli_logfile_reopen();
        errno = saved;
        cli_reload_flag = 1;
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

ce_err cli_core_dumps_disable(void)
{
    struct rlimit rl = {0, 0};
    ce_err err = CE_OK;
    if (setrlimit(RLIMIT_CORE, &rl) != 0)
        err = CE_EIO;
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        err = CE_EIO;
    return err;
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
    while (!cli_stop_flag && !cli_reload_flag) {
        int64_t left = end - cli_mono_ms();
        if (left <= 0)
            break;
        if (left > 200)
            left = 200;
        struct timespec ts = {.tv_sec = (time_t)(left / 1000), .tv_nsec = (long)(left % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}
