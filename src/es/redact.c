/*
 * redact.c - where the credentials sit in a URL, and URLs without them for logs
 * and error texts.
 *
 * A URL's authority runs from after "scheme://" (or the start, for a bare
 * "host:port") to the first '/', '?' or '#'; user information ends at its LAST
 * '@', so a password holding an unencoded '@' is removed whole.
 */
#include "es/es_int.h"

#include <stdio.h>
#include <string.h>

/* Start of the authority: after "scheme://" when the URL begins with a scheme. */
static const char *authority(const char *url)
{
    const char *p = url;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '+' || *p == '-' || *p == '.')
        p++;
    if (p > url && strncmp(p, "://", 3) == 0)
        return p + 3;
    return url;
}

const char *es_url_host(const char *url)
{
    const char *auth = authority(url);
    size_t alen = strcspn(auth, "/?#");
    const char *host = auth;
    for (size_t i = 0; i < alen; i++)
        if (auth[i] == '@')
            host = auth + i + 1;
    return host;
}

bool es_url_has_userinfo(const char *url) { return es_url_host(url) != authority(url); }

void es_url_redact(const char *url, char *out, size_t n)
{
    if (n == 0)
        return;
    const char *auth = authority(url);
    const char *host = es_url_host(url);
    snprintf(out, n, "%.*s%s", (int)(auth - url), url, host);
}
