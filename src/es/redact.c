/* redact.c - strip credentials from URLs before they reach a log or an error text. */
#include "es/es.h"

#include <stdio.h>
#include <string.h>

void es_url_redact(const char *url, char *out, size_t n)
{
    if (n == 0)
        return;
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *at = strchr(host, '@');
    const char *slash = strchr(host, '/');
    if (at && (!slash || at < slash)) {
        int plen = (int)(host - url);
        snprintf(out, n, "%.*s%s", plen, url, at + 1);
    } else {
        snprintf(out, n, "%s", url);
    }
}
