/*
 * request.h — what the gateway reads from a client's HTTP upgrade request
 * and hands on to the consumer: headers, the query string and credentials.
 */
#ifndef CX_GATEWAY_REQUEST_H
#define CX_GATEWAY_REQUEST_H

#include <libwebsockets.h>

/* One header's value (malloc'd), or NULL when absent. */
char *cx_request_header(struct lws *wsi, enum lws_token_indexes token);
/* Every Cookie header of the request joined with "; " (malloc'd), or NULL when there is none:
 * authentication and the stripping of credential cookies read all of them, as Django's
 * parse_cookie reads the one header a WSGI server joins them into. */
char *cx_request_cookies(struct lws *wsi);
/* The query string re-encoded (the worker decodes it once); sets *token and
 * *jwt (malloc'd) when the token / CHANX_JWT_QUERY_PARAM parameters are present. */
char *cx_request_query(struct lws *wsi, char **token, char **jwt);
/* The request headers as a compact JSON object of lowercase name → value:
 * every standard header but Authorization (credentials stay at the edge),
 * plus the custom ones named in CHANX_FORWARD_HEADERS; Sec-WebSocket-Protocol
 * is subprotocols (the offers without credentials, see handshake.h) or absent. Cookie loses the
 * credential cookies: the deployment's and those named in cookies (NULL-terminated, or NULL). */
char *cx_request_headers(struct lws *wsi, const char *subprotocols, const char *const *cookies);

#endif
