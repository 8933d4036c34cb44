/*
 * test_es_retries.c - the Elasticsearch client's retry counters (es_client_retries), which
 * casselastic_retries_total exports: a fake HTTP server on a free port answers 429, then
 * 503, then 200, and a closed port in front of it makes the client fail over once.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include "es/es.h"

/* What the fake server answers, in order, to requests for /retry (GET / always gets the
 * root document of an Elasticsearch 8). */
static const int script[] = {429, 503, 200};

typedef struct {
    int listener;
    int port;
    size_t served; /* requests for /retry answered so far */
} fake_server;

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* One request per connection (Connection: close), headers only: the test sends no body. */
static void serve_one(fake_server *f, int c)
{
    char req[4096];
    size_t n = 0;
    ssize_t got;
    while (n < sizeof req - 1 && (got = read(c, req + n, sizeof req - 1 - n)) > 0) {
        n += (size_t)got;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    req[n] = '\0';
    int status = 200;
    const char *body = "{\"acknowledged\":true}";
    if (strncmp(req, "GET / ", 6) == 0)
        body = "{\"version\":{\"number\":\"8.17.0\",\"build_flavor\":\"default\"},\"tagline\":\"You Know, for Search\"}";
    else if (f->served < sizeof script / sizeof script[0])
        status = script[f->served++];
    char resp[512];
    int len = snprintf(resp, sizeof resp,
                       "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                       "Connection: close\r\n\r\n%s",
                       status, strlen(body), body);
    assert_true(write(c, resp, (size_t)len) == len);
}

static void *serve(void *ud)
{
    fake_server *f = ud;
    int c;
    while ((c = accept(f->listener, NULL, NULL)) >= 0) {
        serve_one(f, c);
        close(c);
    }
    return NULL;
}

static void test_retry_counters(void **st)
{
    (void)st;
    fake_server f = {0};
    f.listener = listen_any(&f.port);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve, &f), 0);
    int closed_port;
    close(listen_any(&closed_port)); /* nothing listens there: connection refused */

    char u1[64], u2[64];
    snprintf(u1, sizeof u1, "http://127.0.0.1:%d", closed_port);
    snprintf(u2, sizeof u2, "http://127.0.0.1:%d", f.port);
    const char *urls[] = {u1, u2};
    es_client_opts o;
    es_client_opts_init(&o);
    o.urls = urls;
    o.nurls = 2;
    o.retry_base_ms = 1;
    es_client *c = NULL;
    assert_int_equal(es_client_new(&o, &c), CE_OK);
    uint64_t n[ES_RETRY_CAUSES];
    es_client_retries(c, n);
    /* detection: the refused first URL, then the fake one */
    assert_int_equal(n[ES_RETRY_CONNECTION], 1);
    assert_int_equal(n[ES_RETRY_429], 0);
    assert_int_equal(n[ES_RETRY_5XX], 0);

    long status = 0;
    assert_int_equal(es_client_request(c, "PUT", "/retry", NULL, 0, &status, NULL), CE_OK);
    assert_int_equal(status, 200);
    es_client_retries(c, n);
    assert_int_equal(n[ES_RETRY_429], 1);
    assert_int_equal(n[ES_RETRY_5XX], 1);
    assert_int_equal(n[ES_RETRY_CONNECTION], 1);
    /* a request answered at once counts nothing */
    assert_int_equal(es_client_request(c, "PUT", "/retry", NULL, 0, &status, NULL), CE_OK);
    es_client_retries(c, n);
    assert_int_equal(n[ES_RETRY_429] + n[ES_RETRY_5XX] + n[ES_RETRY_CONNECTION], 3);

    es_client_free(c);
    shutdown(f.listener, SHUT_RDWR);
    close(f.listener);
    pthread_join(th, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_retry_counters)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
