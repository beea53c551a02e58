/*
 * docs.c — /asyncapi.json and /playground/ (see docs.h).
 *
 * The document is built once per route table (cx_docs_update), not per
 * request: a request only copies its top level to add the servers entry.
 * That entry is the deployment's configured address (CHANX_PUBLIC_URL, else
 * the listen address), never the request's Host header: a document a cache
 * or a crawler stores must not name whatever host a client made up.
 * The playground's two files are linked into the binary by playground.c.
 */
#include "gateway/docs.h"
#include "gateway/asyncapi.h"
#include "gateway/http_reply.h"
#include "common/env.h"
#include "common/http_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern const char cx_playground_html[], cx_playground_html_end[];
extern const char cx_playground_client[], cx_playground_client_end[];

struct cx_docs {
    json_t *doc;
    int playground;
    char host[256];            /* servers.gateway */
    const char *protocol;      /* "ws" or "wss" */
};

/* CHANX_PUBLIC_URL ("wss://chat.example.com", http(s) meaning ws(s)), else the listen address. */
static void server_address(cx_docs *self, const char *listen_host, int port)
{
    const char *url = cx_env_str("CHANX_PUBLIC_URL", NULL);
    static const struct { const char *prefix, *protocol; } schemes[] = {
        { "ws://", "ws" }, { "wss://", "wss" }, { "http://", "ws" }, { "https://", "wss" },
    };
    for (size_t i = 0; url && i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncasecmp(url, schemes[i].prefix, n) == 0) {
            snprintf(self->host, sizeof self->host, "%.*s", (int) strcspn(url + n, "/?#"), url + n);
            self->protocol = schemes[i].protocol;
            return;
        }
    }
    snprintf(self->host, sizeof self->host, "%s:%d", listen_host ? listen_host : "127.0.0.1", port);
    self->protocol = "ws";
}

cx_docs *cx_docs_new(int playground, const char *listen_host, int port)
{
    cx_docs *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->playground = playground;
    server_address(self, listen_host, port);
    cx_asyncapi_settings settings = { .session_cookie = "sessionid" };
    self->doc = cx_asyncapi_build(NULL, 0, &settings);
    return self;
}

void cx_docs_destroy(cx_docs **self_p)
{
    if (!*self_p)
        return;
    json_decref((*self_p)->doc);
    free(*self_p);
    *self_p = NULL;
}

void cx_docs_update(cx_docs *self, const cx_env *env)
{
    if (!self)
        return;
    cx_asyncapi_route *routes = calloc(env->nroutes + 1, sizeof *routes);
    char **strings = calloc(2 * (size_t) env->nroutes + 1, sizeof *strings);
    if (!routes || !strings) {
        free(routes);
        free(strings);
        return;
    }
    for (uint32_t i = 0; i < env->nroutes; i++) {
        const cx_env_route *r = &env->routes[i];
        strings[2 * i] = cx_slice_dup(r->pattern);
        strings[2 * i + 1] = cx_slice_dup(r->target);
        routes[i] = (cx_asyncapi_route) {
            .kind = r->kind, .pattern = strings[2 * i] ? strings[2 * i] : "",
            .target = strings[2 * i + 1] ? strings[2 * i + 1] : "", .spec = r->spec.ptr, .spec_len = r->spec.len,
            .available = r->available == 1,
        };
    }
    cx_asyncapi_settings settings = {
        .session_cookie = cx_env_str("CHANX_SESSION_COOKIE_NAME", "sessionid"),
        .jwt_query_param = cx_env_str("CHANX_JWT_QUERY_PARAM", NULL),
        .jwt_cookie = cx_env_str("CHANX_JWT_COOKIE", NULL),
    };
    json_t *doc = cx_asyncapi_build(routes, env->nroutes, &settings);
    if (doc) {
        json_decref(self->doc);
        self->doc = doc;
    }
    for (uint32_t i = 0; i < 2 * env->nroutes; i++)
        free(strings[i]);
    free(strings);
    free(routes);
}

static int reply(struct lws *wsi, unsigned status, const char *type, const char *body, size_t len)
{
    return cx_http_reply(wsi, status, type, "no-store", body, len);
}

static int serve_document(cx_docs *self, struct lws *wsi)
{
    json_t *doc = cx_asyncapi_with_server(self->doc, self->host, self->protocol);
    char *text = doc ? json_dumps(doc, JSON_INDENT(1)) : NULL;
    json_decref(doc);
    if (!text)
        return -1;
    int rc = reply(wsi, 200, "application/json", text, strlen(text));
    free(text);
    return rc;
}

int cx_docs_serve(cx_docs *self, struct lws *wsi, const char *uri, int *rc)
{
    if (!self)
        return 0;
    if (!strcmp(uri, "/asyncapi.json")) {
        *rc = serve_document(self, wsi);
        return 1;
    }
    if (strncmp(uri, "/playground", 11) != 0)
        return 0;
    if (!self->playground) {
        const char body[] = "{\"detail\":\"Not found. (The playground is off: CHANX_PLAYGROUND=on turns it on.)\"}";
        *rc = reply(wsi, 404, "application/json", body, sizeof body - 1);
    } else if (!strcmp(uri, "/playground")) {   /* the page's relative URLs need the slash */
        unsigned char head[LWS_PRE + 256], *p = head + LWS_PRE;
        *rc = lws_http_redirect(wsi, 301, (const unsigned char *) "/playground/", 12, &p, head + sizeof head) < 0
                  ? -1 : lws_http_transaction_completed(wsi) ? -1 : 0;
    } else if (!strcmp(uri, "/playground/")) {
        *rc = reply(wsi, 200, "text/html; charset=utf-8", cx_playground_html,
                    (size_t) (cx_playground_html_end - cx_playground_html));
    } else if (!strcmp(uri, "/playground/chanx.js")) {
        *rc = reply(wsi, 200, "text/javascript; charset=utf-8", cx_playground_client,
                    (size_t) (cx_playground_client_end - cx_playground_client));
    } else {
        const char body[] = "{\"detail\":\"Not found.\"}";
        *rc = reply(wsi, 404, "application/json", body, sizeof body - 1);
    }
    return 1;
}
