/*
 * ce_metrics_tool.c - drives the metrics registry (src/cli/metrics.h) for the
 * integration tests, which check its output with the official prometheus_client parser.
 *
 *   ce_metrics_tool render          print the exposition of a sample registry
 *   ce_metrics_tool serve ADDR      serve the sample registry on ADDR, print "port N",
 *                                   exit when standard input closes
 * The sample: two syncs, both directions, a failed pass, retries, a label that needs
 * escaping.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/metrics.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fill(metrics *m)
{
    int64_t now = now_ms();
    metrics_retry retries[] = {{"timeout", 3}, {"http_429", 2}};
    metrics_pass_counts a = {.read = 20000, .written = 19990, .conflicts = 7, .dead_letters = 3, .deletes = 11,
                             .retries = retries, .nretries = 2};
    metrics_pass_counts b = {.read = 500, .written = 500};
    metrics_pass_counts failed = {.read = 10, .error = "server unreachable"};
    metrics_record_pass(m, "orders", METRICS_TO_ES, &a, 12.5, true, now - 62000, now);
    metrics_record_pass(m, "orders", METRICS_TO_CASSANDRA, &b, 0.8, true, now - 61000, now);
    metrics_record_pass(m, "quote\"back\\slash", METRICS_TO_ES, &failed, 0.04, false, 0, now);
}

int main(int argc, char **argv)
{
    const char *listen = argc == 3 && strcmp(argv[1], "serve") == 0 ? argv[2] : NULL;
    if (!listen && !(argc == 2 && strcmp(argv[1], "render") == 0)) {
        fprintf(stderr, "usage: ce_metrics_tool render | serve ADDR\n");
        return 2;
    }
    metrics *m = NULL;
    ce_err err = metrics_new(listen, 60, &m);
    if (err) {
        fprintf(stderr, "ce_metrics_tool: %s\n", metrics_errmsg(m));
        metrics_free(m);
        return 1;
    }
    fill(m);
    if (!listen) {
        ce_buf b = CE_BUF_INIT;
        err = metrics_render(m, now_ms(), &b);
        fwrite(b.data, 1, b.len, stdout);
        ce_buf_free(&b);
    } else {
        printf("port %d\n", metrics_port(m));
        fflush(stdout);
        while (getchar() != EOF) {
        }
    }
    metrics_free(m);
    return err ? 1 : 0;
}
