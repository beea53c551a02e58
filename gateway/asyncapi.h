/*
 * asyncapi.h — the deployment's AsyncAPI 3.0 document, built from the route table.
 *
 * The gateway is the one process that sees the whole deployment's routes: the
 * broker sends it every worker's routes, each with its consumer's spec, in which
 * workers include the consumer's message schemas (.incoming, .outgoing) and the
 * flags that decide which framework messages a client sees (proto/README.md).
 * From that the gateway builds, once per route table update, one AsyncAPI 3.0
 * document (https://www.asyncapi.com/docs/reference/specification/v3.0.0):
 *
 *   - one channel per route: the address with its path parameters ("{room_id}"),
 *     the consumer, its permissions;
 *   - receive operations (the gateway receives: what a client sends), one per
 *     incoming action; send operations (what a client gets), one per outgoing
 *     action plus the framework's authentication, error and completion messages,
 *     and one per server-side event the consumer takes (.events, handled by
 *     receive_event, and .passthrough_events, sent as they are);
 *   - the authentication classes as security schemes (token, session cookie, JWT).
 *
 * The document is served at /asyncapi.json (gateway/docs.c) with the server
 * entry filled from the request's Host. It is plain data: building it never
 * fails on a consumer's content (a schema that is not an object is left out).
 */
#ifndef CX_GATEWAY_ASYNCAPI_H
#define CX_GATEWAY_ASYNCAPI_H

#include <stddef.h>
#include <jansson.h>

typedef struct {
    int kind;                /* 0 path(), 1 re_path() (the route row's kind) */
    const char *pattern;     /* the full pattern, mount prefix included */
    const char *target;      /* "plugin.consumer" */
    const char *spec;        /* the consumer's spec JSON (not NUL-terminated) */
    size_t spec_len;
    int available;           /* a live worker serves it */
} cx_asyncapi_route;

typedef struct {
    const char *session_cookie;   /* CHANX_SESSION_COOKIE_NAME, "sessionid" */
    const char *jwt_query_param;  /* CHANX_JWT_QUERY_PARAM or NULL */
    const char *jwt_cookie;       /* CHANX_JWT_COOKIE or NULL */
} cx_asyncapi_settings;

/* A new document (caller owns it) without "servers" (see cx_asyncapi_with_server). */
json_t *cx_asyncapi_build(const cx_asyncapi_route *routes, size_t n, const cx_asyncapi_settings *settings);
/* A shallow copy of doc with servers.gateway = {host, protocol ("ws" or "wss")}; caller owns it. */
json_t *cx_asyncapi_with_server(const json_t *doc, const char *host, const char *protocol);
/* Converts a route pattern to an AsyncAPI address ("/ws/chat/{room_id}/") and fills params (an
 * object, name → Parameter Object). NULL when a regex has parts no address can express. */
char *cx_asyncapi_address(int kind, const char *pattern, json_t *params);

#endif
