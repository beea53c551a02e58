/*
 * forwarded.c — reading the proxy headers of forwarded.h.
 *
 * libwebsockets 4.1 parses X-Forwarded-For and X-Real-IP as known tokens
 * and keeps the others (X-Forwarded-Proto, X-Forwarded-Host) for lookup by
 * name. Proto and host may be lists when proxies chain; the left-most value
 * is the one the client used with the first proxy. A WebSocket proxy may say
 * ws/wss: the Origin a browser sends names http/https.
 */
#include "gateway/forwarded.h"
#include "gateway/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *custom_header(struct lws *wsi, const char *name)
{
    int nlen = (int) strlen(name), len = lws_hdr_custom_length(wsi, name, nlen);
    char *value = len >= 0 ? malloc((size_t) len + 1) : NULL;
    if (value && lws_hdr_custom_copy(wsi, value, len + 1, name, nlen) < 0) {
        free(value);
        value = NULL;
    }
    return value;
}

/* The first comma-separated value, trimmed, in place; NULL when empty. */
static char *first_value(char *list)
{
    if (!list)
        return NULL;
    list[strcspn(list, ",")] = '\0';
    char *p = list + strspn(list, " \t");
    size_t n = strlen(p);
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        p[--n] = '\0';
    return *p ? p : NULL;
}

static const char *http_scheme(const char *proto)
{
    if (strcasecmp(proto, "https") == 0 || strcasecmp(proto, "wss") == 0)
        return "https";
    if (strcasecmp(proto, "http") == 0 || strcasecmp(proto, "ws") == 0)
        return "http";
    return NULL;
}

void cx_forwarded_read(const cx_proxies *proxies, struct lws *wsi, char *client, size_t size, char **origin_host)
{
    char peer[128] = "";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    char *host = cx_request_header(wsi, WSI_TOKEN_HOST);
    *origin_host = host;
    if (!cx_proxies_trusts(proxies, peer)) {
        cx_proxies_client(proxies, peer, NULL, NULL, client, size);
        return;
    }
    char *xff = cx_request_header(wsi, WSI_TOKEN_X_FORWARDED_FOR);
    char *real_ip = cx_request_header(wsi, WSI_TOKEN_HTTP_X_REAL_IP);
    cx_proxies_client(proxies, peer, xff, real_ip, client, size);
    free(xff);
    free(real_ip);
    char *fwd_host = custom_header(wsi, "x-forwarded-host:"), *fwd_proto = custom_header(wsi, "x-forwarded-proto:");
    char *combined = cx_forwarded_origin_host(host, fwd_host, fwd_proto);
    if (combined) {
        free(host);
        *origin_host = combined;
    }
    free(fwd_host);
    free(fwd_proto);
}

char *cx_forwarded_origin_host(const char *host, char *fwd_host, char *fwd_proto)
{
    const char *h = first_value(fwd_host) ? first_value(fwd_host) : host;
    const char *scheme = first_value(fwd_proto) ? http_scheme(first_value(fwd_proto)) : NULL;
    char *combined = NULL;
    if (!h || asprintf(&combined, "%s%s%s", scheme ? scheme : "", scheme ? "://" : "", h) < 0)
        return NULL;
    return combined;
}
