/*
 * cli.c - command dispatcher: global flags, per-command option parsing and --help.
 *
 * Each command has one row in `commands` (name, usage text, which options it takes);
 * parsing is getopt_long over the union of options, refusing the ones the command
 * does not take. The commands themselves live in cmd_*.c.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_int.h"
#include "version.h"

enum {
    OPT_CONFIG = 1 << 0,
    OPT_STATE_DIR = 1 << 1,
    OPT_LOG_LEVEL = 1 << 2,
    OPT_SINCE = 1 << 3,
    OPT_SYNC = 1 << 4,
    OPT_JSON = 1 << 5,
    OPT_EFFECTIVE = 1 << 6,
    OPT_EXIT_ON_ERROR = 1 << 7,
    OPT_TIMEOUT = 1 << 8,
    OPT_POSITIONAL_CONFIG = 1 << 9,
    OPT_ALLOW_CORE_DUMPS = 1 << 10,
    OPT_METRICS_LISTEN = 1 << 11,
    OPT_REPAIR = 1 << 12,
    OPT_JSON_FILE = 1 << 13     /* --json takes a FILE (verify) */
};

typedef struct {
    const char *name;
    unsigned opts;
    int (*run)(const cli_opts *o);
    const char *summary;
    const char *usage;
    bool hidden;
} command;

static int run_reference(const cli_opts *o)
{
    (void)o;
    return cli_cmd_config_reference();
}

#define COMMON_HELP                                                                        \
    "  -c, --config CONFIG   the JSON config file\n"                                       \
    "      --state-dir DIR   folder for checkpoints, pidfile, status and dead letters\n"  \
    "                        (default: state_dir of the config, else its folder)\n"       \
    "      --log-level L     debug | info | warn | error | off (default: log_level)\n"

static const command commands[] = {
    {"run",
     OPT_CONFIG | OPT_STATE_DIR | OPT_LOG_LEVEL | OPT_SINCE | OPT_SYNC | OPT_EXIT_ON_ERROR | OPT_ALLOW_CORE_DUMPS |
         OPT_METRICS_LISTEN,
     cli_cmd_run,
     "run as a daemon, one pass every `period` seconds",
     "usage: casselastic run -c CONFIG [options]\n"
     "\n"
     "Runs in the foreground: one pass of every sync every `period` seconds (the sleep is\n"
     "period minus the pass time). Holds <state_dir>/casselastic.pid; writes\n"
     "<state_dir>/casselastic.status.json at start and after each pass. SIGTERM/SIGINT:\n"
     "finish the requests in flight and exit 0; a direction interrupted mid-pass keeps its last\n"
     "checkpoint and re-reads that window next time, a full_scan or all load keeps its\n"
     "per-range progress and resumes (a second SIGINT exits at once, 130).\n"
     "SIGHUP reopens log_file and reloads the config: read at once, applied when the pass\n"
     "ends (the passes of removed or changed syncs end at their next batch); new syncs\n"
     "start, removed ones stop, changed ones run as changed (one pointed at another table\n"
     "or index starts over; a new connection when cassandra, elasticsearch,\n"
     "dead_letter_path or memory_limit_mb changed); a config that fails validation, or\n"
     "that check would refuse against the tables, is refused (logged) and the running one\n"
     "kept; state_dir and metrics_listen need a restart. With metrics_listen\n"
     "(or --metrics-listen): Prometheus metrics on GET /metrics, and GET /healthz answers 200\n"
     "while every sync has had a successful pass within three periods (or a running pass\n"
     "that made progress within them), else 503 with the failing syncs. Under systemd\n"
     "(Type=notify): READY=1 after the first connection to both sides, STATUS= after each\n"
     "pass, the watchdog fed. A failing pass is logged and retried\n"
     "next period; servers unreachable at start are retried with backoff. Exit 0 after a\n"
     "signal, 2 for a bad config or address (nothing changed), 1 when the state folder is\n"
     "held by another casselastic or the metrics address cannot be bound, 3 with\n"
     "--exit-on-error when a server cannot be reached.\n"
     "\n"
     "options:\n" COMMON_HELP
     "      --since WHEN      first pass starts at WHEN (\"YYYYMMDD HH:MM\" or ISO 8601, UTC),\n"
     "                        ignoring checkpoints; later passes use the checkpoints\n"
     "      --sync NAME       only this sync (repeatable)\n"
     "      --exit-on-error   exit (3) instead of retrying when a server is unreachable at start\n"
     "      --metrics-listen ADDR  serve /metrics and /healthz on ADDR (host:port, [v6]:port,\n"
     "                        :port), overriding metrics_listen\n"
     "      --allow-core-dumps  keep core dumps on (debugging; a dump holds the secrets)\n", false},
    {"once", OPT_CONFIG | OPT_STATE_DIR | OPT_LOG_LEVEL | OPT_SINCE | OPT_SYNC | OPT_ALLOW_CORE_DUMPS, cli_cmd_once,
     "one pass of every sync, then exit",
     "usage: casselastic once -c CONFIG [options]\n"
     "\n"
     "One pass of every sync, a summary per sync on stdout. Exit 0 when every sync\n"
     "succeeded, 1 when one failed, 2 for a bad config (nothing changed), 3 when a server\n"
     "cannot be reached.\n"
     "\n"
     "options:\n" COMMON_HELP
     "      --since WHEN      start at WHEN (\"YYYYMMDD HH:MM\" or ISO 8601, UTC) instead of\n"
     "                        the checkpoints\n"
     "      --sync NAME       only this sync (repeatable)\n"
     "      --allow-core-dumps  keep core dumps on (debugging; a dump holds the secrets)\n", false},
    {"status", OPT_CONFIG | OPT_STATE_DIR | OPT_JSON, cli_cmd_status, "checkpoints, lag and last pass counts",
     "usage: casselastic status -c CONFIG [--json] [--state-dir DIR]\n"
     "\n"
     "Per sync and direction: checkpoint position, lag, last pass counts; whether the\n"
     "daemon is running; health by the rule of /healthz (status file of the state folder).\n"
     "Exit 5 when a sync of the last run has not had a successful pass within three periods,\n"
     "judged now from the status file whether a daemon runs or not (a daemon stopped or dead\n"
     "for three periods shows as FAILING: a probe), 0 otherwise and when no status file exists\n"
     "(health unknown), 2 for a bad config.\n"
     "\n"
     "options:\n"
     "  -c, --config CONFIG   the JSON config file\n"
     "      --state-dir DIR   state folder (default: from the config)\n"
     "      --json            one JSON object on stdout\n", false},
    {"stop", OPT_CONFIG | OPT_STATE_DIR | OPT_TIMEOUT, cli_cmd_stop, "stop the daemon started with this config",
     "usage: casselastic stop -c CONFIG [--timeout SECONDS] [--state-dir DIR]\n"
     "\n"
     "Sends SIGTERM to the process holding <state_dir>/casselastic.pid and waits for it to\n"
     "finish the requests in flight and exit. Exit 0 once it is gone, 1 when it is still running\n"
     "after the timeout, 4 when no daemon was running, 2 for a bad config.\n"
     "\n"
     "options:\n"
     "  -c, --config CONFIG   the JSON config file\n"
     "      --state-dir DIR   state folder (default: from the config)\n"
     "      --timeout S       seconds to wait (default 60)\n", false},
    {"check", OPT_CONFIG | OPT_POSITIONAL_CONFIG | OPT_STATE_DIR | OPT_EFFECTIVE, cli_cmd_check,
     "validate a config file",
     "usage: casselastic check [-c] CONFIG [--effective]\n"
     "\n"
     "Validates the config: every problem is printed with its JSON path (syntax errors\n"
     "with line and column). Then, when Cassandra answers within 3 s, the read mode\n"
     "each sync will use, and for a version range without a storage-attached index the\n"
     "CREATE INDEX statement that keeps each pass from scanning the table. Exit 0 when\n"
     "valid (a summary of the syncs is printed), 2 otherwise (also: read_mode index\n"
     "without its index).\n"
     "\n"
     "options:\n"
     "  -c, --config CONFIG   the JSON config file (or give it as the argument)\n"
     "      --state-dir DIR   as run would use it\n"
     "      --effective       print every key with its effective value (defaults included)\n", false},
    {"verify", OPT_CONFIG | OPT_STATE_DIR | OPT_LOG_LEVEL | OPT_SYNC | OPT_JSON | OPT_JSON_FILE | OPT_REPAIR,
     cli_cmd_verify, "compare both sides by token range; --repair fixes what differs",
     "usage: casselastic verify -c CONFIG [--sync NAME] [--repair] [--json FILE]\n"
     "\n"
     "Compares each sync's Cassandra table and Elasticsearch index by keys and versions,\n"
     "never bodies: Cassandra by token range, Elasticsearch by aggregations over token_field\n"
     "where documents carry it, else by a doc-values stream hashed into the same ranges;\n"
     "ranges whose summaries differ are compared id by id. Prints a summary table;\n"
     "differences are records only in Cassandra, only in Elasticsearch, or older on one side.\n"
     "Records whose newer version is newer than the start of the verify minus max(60 s,\n"
     "2 x period + safety_lag_ms) are \"in flight\" (the running sync carries them over):\n"
     "listed, not counted, not repaired. A killed verify resumes from\n"
     "<state_dir>/<sync>.verify.json. See docs/verify.md.\n"
     "\n"
     "--repair: the newest version wins; a record only on one side whose source says it came\n"
     "from the other side was deleted there and is deleted here, any other is copied across.\n"
     "\n"
     "Exit 0 when the sides are equal (after the repair with --repair), 1 when differences\n"
     "remain, 2 for a bad config (or a sync that cannot be verified), 3 when a server\n"
     "cannot be reached.\n"
     "\n"
     "options:\n" COMMON_HELP
     "      --sync NAME       only this sync (repeatable)\n"
     "      --repair          fix the differences (see above)\n"
     "      --json FILE       write every difference and the figures to FILE as JSON\n", false},
    {"config-reference", 0, run_reference, "print the config key reference (Markdown)",
     "usage: casselastic config-reference\n", true},
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out, "usage: casselastic <command> [options]\n"
                 "\n"
                 "Keeps Cassandra tables and Elasticsearch/OpenSearch indexes in sync.\n"
                 "\n"
                 "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (commands[i].hidden)
            continue;
        char left[32];
        snprintf(left, sizeof left, "%s%s", commands[i].name,
                 (commands[i].opts & OPT_POSITIONAL_CONFIG) ? " CONFIG" : " -c CONFIG");
        fprintf(out, "  %-18s%s\n", left, commands[i].summary);
    }
    fprintf(out, "\n"
                 "  --version         print the version\n"
                 "  --help            this text; `casselastic COMMAND --help` for a command\n"
                 "\n"
                 "exit codes: 0 ok, 1 a pass or command failed, 2 bad usage or invalid config\n"
                 "(nothing changed), 3 a server could not be reached, 4 no daemon running\n"
                 "(stop only), 5 unhealthy (status: a sync without a successful pass within three\n"
                 "periods, judged from the status file, so also when the daemon is gone). See\n"
                 "docs/cli.md.\n");
}

static const struct option long_options[] = {
    {"config", required_argument, NULL, 'c'},   {"state-dir", required_argument, NULL, 'S'},
    {"log-level", required_argument, NULL, 'L'}, {"since", required_argument, NULL, 's'},
    {"sync", required_argument, NULL, 'y'},      {"json", no_argument, NULL, 'j'},
    {"effective", no_argument, NULL, 'e'},       {"exit-on-error", no_argument, NULL, 'x'},
    {"timeout", required_argument, NULL, 't'},   {"help", no_argument, NULL, 'h'},
    {"allow-core-dumps", no_argument, NULL, 'D'}, {"metrics-listen", required_argument, NULL, 'M'},
    {"repair", no_argument, NULL, 'R'},
    {NULL, 0, NULL, 0}};

static unsigned opt_flag(int c)
{
    switch (c) {
    case 'c': return OPT_CONFIG;
    case 'S': return OPT_STATE_DIR;
    case 'L': return OPT_LOG_LEVEL;
    case 's': return OPT_SINCE;
    case 'y': return OPT_SYNC;
    case 'j': return OPT_JSON;
    case 'e': return OPT_EFFECTIVE;
    case 'x': return OPT_EXIT_ON_ERROR;
    case 't': return OPT_TIMEOUT;
    case 'D': return OPT_ALLOW_CORE_DUMPS;
    case 'M': return OPT_METRICS_LISTEN;
    case 'R': return OPT_REPAIR;
    }
    return 0;
}

static const char *opt_name(int c)
{
    for (const struct option *o = long_options; o->name; o++)
        if (o->val == c)
            return o->name;
    return "?";
}

static int parse_and_run(const command *cmd, int argc, char **argv)
{
    cli_opts o = {.timeout_s = 60};
    optind = 0; /* full reset (glibc), so cli_main can run more than once */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:h", long_options, NULL)) != -1) {
        if (c == 'h') {
            fputs(cmd->usage, stdout);
            return CLI_EXIT_OK;
        }
        if (c == '?' || c == ':') {
            if (optopt)
                fprintf(stderr, "casselastic %s: option -%c needs a value or is unknown\n", cmd->name, optopt);
            else
                fprintf(stderr, "casselastic %s: unknown option or missing value: %s\n", cmd->name,
                        argv[optind - 1]);
            fprintf(stderr, "see: casselastic %s --help\n", cmd->name);
            return CLI_EXIT_CONFIG;
        }
        if (!(cmd->opts & opt_flag(c))) {
            fprintf(stderr, "casselastic %s: --%s is not an option of this command\n", cmd->name, opt_name(c));
            return CLI_EXIT_CONFIG;
        }
        switch (c) {
        case 'c': o.config_path = optarg; break;
        case 'S': o.state_dir = optarg; break;
        case 'L': o.log_level = optarg; break;
        case 's': o.since = optarg; break;
        case 'y':
            if (o.nsync_names == CLI_MAX_SYNC_FILTERS) {
                fprintf(stderr, "casselastic %s: too many --sync options\n", cmd->name);
                return CLI_EXIT_CONFIG;
            }
            o.sync_names[o.nsync_names++] = optarg;
            break;
        case 'j':
            o.json = true;
            if (cmd->opts & OPT_JSON_FILE) { /* verify --json FILE */
                if (optind >= argc || argv[optind][0] == '-') {
                    fprintf(stderr, "casselastic %s: --json needs a FILE\n", cmd->name);
                    return CLI_EXIT_CONFIG;
                }
                o.json_path = argv[optind++];
            }
            break;
        case 'R': o.repair = true; break;
        case 'e': o.effective = true; break;
        case 'x': o.exit_on_error = true; break;
        case 'D': o.allow_core_dumps = true; break;
        case 'M': o.metrics_listen = optarg; break;
        case 't': {
            char *end;
            long t = strtol(optarg, &end, 10);
            if (*end || end == optarg || t < 0 || t > 86400) {
                fprintf(stderr, "casselastic %s: --timeout: expected seconds (0-86400), got \"%s\"\n", cmd->name,
                        optarg);
                return CLI_EXIT_CONFIG;
            }
            o.timeout_s = (int)t;
            break;
        }
        }
    }
    /* Positional arguments (getopt moved them to the end): the config of `check CONFIG`. */
    for (; optind < argc; optind++) {
        if ((cmd->opts & OPT_POSITIONAL_CONFIG) && !o.config_path) {
            o.config_path = argv[optind];
            continue;
        }
        fprintf(stderr, "casselastic %s: unexpected argument \"%s\" (see --help)\n", cmd->name, argv[optind]);
        return CLI_EXIT_CONFIG;
    }
    if ((cmd->opts & OPT_CONFIG) && !o.config_path) {
        fprintf(stderr, "casselastic %s: a config file is needed: -c CONFIG (see --help)\n", cmd->name);
        return CLI_EXIT_CONFIG;
    }
    return cmd->run(&o);
}

int cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_CONFIG;
    }
    const char *a = argv[1];
    if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0 || strcmp(a, "version") == 0) {
        printf("casselastic %s\n", CE_VERSION);
        return CLI_EXIT_OK;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 || strcmp(a, "help") == 0) {
        if (argc >= 3 && strcmp(a, "help") == 0)
            for (size_t i = 0; i < NCOMMANDS; i++)
                if (strcmp(argv[2], commands[i].name) == 0) {
                    fputs(commands[i].usage, stdout);
                    return CLI_EXIT_OK;
                }
        usage(stdout);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(a, commands[i].name) == 0)
            return parse_and_run(&commands[i], argc - 1, argv + 1);
    fprintf(stderr, "casselastic: unknown command \"%s\" (see casselastic --help)\n", a);
    return CLI_EXIT_CONFIG;
}
