/*
 * origin.c — the Origin check that makes cookie authentication safe from
 * cross-site WebSocket hijacking (a page elsewhere opening a socket that
 * rides the user's cookies). It follows Channels' OriginValidator, whose
 * patterns are Django's ALLOWED_HOSTS ones:
 *
 *   https://app.example.com   exactly this scheme, host and port
 *   app.example.com           this host on any scheme (and any port)
 *   app.example.com:8443      this host and port on any scheme
 *   .example.com              example.com and every subdomain of it
 *   *                         anything
 *
 * Without a list, only pages served by the host the client connected to
 * (the Host header) may connect, which is what a same-site app needs.
 * Behind a trusted proxy that host is the one the client used with the
 * proxy, with its scheme when the proxy named it (gateway/forwarded.h):
 * then the whole origin must match, scheme included.
 */
#include "gateway/origin.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The host[:port] part of an origin ("https://h:1" → "h:1"), or NULL for "null" and the like. */
static const char *origin_authority(const char *origin)
{
    const char *sep = strstr(origin, "://");
    return sep && sep[3] ? sep + 3 : NULL;
}

static int host_matches(const char *authority, const char *pattern)
{
    /* A pattern that names no port compares hosts only. */
    size_t len = strchr(pattern, ':') ? strlen(authority) : strcspn(authority, ":");
    if (pattern[0] == '.') {
        size_t plen = strlen(pattern);
        if (len == plen - 1 && strncasecmp(authority, pattern + 1, len) == 0)
            return 1;   /* .example.com covers example.com itself */
        return len > plen && strncasecmp(authority + len - plen, pattern, plen) == 0;
    }
    return strlen(pattern) == len && strncasecmp(authority, pattern, len) == 0;
}

static int pattern_matches(const char *origin, const char *authority, const char *pattern)
{
    if (strcmp(pattern, "*") == 0)
        return 1;
    if (strstr(pattern, "://"))
        return strcasecmp(pattern, origin) == 0;
    return authority && host_matches(authority, pattern);
}

int cx_origin_allowed(const char *origin, const char *host, const char *allowed)
{
    if (!origin)
        return 1;   /* not a browser: no page can ride the cookie */
    const char *authority = origin_authority(origin);
    if (!allowed || !*allowed) {
        if (host && strstr(host, "://"))
            return strcasecmp(origin, host) == 0;
        return host && authority && strcasecmp(authority, host) == 0;
    }
    char *copy = strdup(allowed), *save = NULL;
    int ok = 0;
    for (char *p = copy ? strtok_r(copy, ", ", &save) : NULL; p && !ok; p = strtok_r(NULL, ", ", &save))
        ok = pattern_matches(origin, authority, p);
    free(copy);
    return ok;
}
