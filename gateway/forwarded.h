/*
 * forwarded.h — what a trusted proxy says about the client (proxies.h):
 * its address, and the scheme and host it used, read from an upgrade
 * request's X-Forwarded-For / X-Real-IP / X-Forwarded-Proto /
 * X-Forwarded-Host headers.
 */
#ifndef CX_GATEWAY_FORWARDED_H
#define CX_GATEWAY_FORWARDED_H

#include <libwebsockets.h>
#include "gateway/proxies.h"

/* Writes the client's address into client[size] (the peer's when it is not a
 * trusted proxy) and returns in *origin_host (malloc'd, or NULL without a Host
 * header) what the Origin check compares a browser's Origin with: the Host
 * header, or, from a trusted proxy, X-Forwarded-Host and as
 * "scheme://host" when it sent X-Forwarded-Proto (see gateway/origin.h). */
void cx_forwarded_read(const cx_proxies *proxies, struct lws *wsi, char *client, size_t size, char **origin_host);
/* The part of cx_forwarded_read that reads text: from the Host header and a trusted proxy's
 * X-Forwarded-Host and X-Forwarded-Proto values (each NULL when absent; the two lists are cut in
 * place to their first value), the host the Origin check compares with, malloc'd: the first
 * forwarded host, else Host, as "scheme://host" when the forwarded proto is http/https/ws/wss.
 * NULL when there is no host at all (or no memory). */
char *cx_forwarded_origin_host(const char *host, char *fwd_host, char *fwd_proto);

#endif
