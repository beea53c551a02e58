/*
 * http_reply.h — answering the gateway's plain HTTP requests (/healthz,
 * /metrics, the docs) in one place, so that each answer follows the same
 * rules: status, content type and length, cache-control when asked, and no
 * body for HEAD (RFC 9110 §9.3.2: the headers GET would have, and nothing
 * else; libwebsockets 4.1 sends whatever it is given).
 */
#ifndef CX_GATEWAY_HTTP_REPLY_H
#define CX_GATEWAY_HTTP_REPLY_H

#include <libwebsockets.h>
#include <stddef.h>

/* Writes the answer and completes the transaction: 0, or -1 when lws must close the connection.
 * cache_control may be NULL. body is len bytes, borrowed. */
int cx_http_reply(struct lws *wsi, unsigned status, const char *type, const char *cache_control, const char *body,
                  size_t len);

#endif
