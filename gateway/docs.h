/*
 * docs.h — what the gateway serves about itself over plain HTTP besides
 * /healthz: the deployment's AsyncAPI document and the playground page.
 *
 *   GET /asyncapi.json        the AsyncAPI 3.0 document of the current route
 *                             table (gateway/asyncapi.h), servers from CHANX_PUBLIC_URL
 *   GET /playground/          one self-contained HTML page (gateway/playground/)
 *   GET /playground/chanx.js  the JavaScript client it uses (clients/js/chanx.js)
 *
 * The playground is off unless CHANX_PLAYGROUND is on (make run turns it on):
 * it is a tool for developers, not something to expose by default. Both files
 * are compiled into the gateway, so it needs nothing on disk and no other host.
 * Everything here runs on the gateway's loop thread.
 */
#ifndef CX_GATEWAY_DOCS_H
#define CX_GATEWAY_DOCS_H

#include <libwebsockets.h>
#include "proto/envelope.h"

typedef struct cx_docs cx_docs;

/* listen_host:port names the gateway in the document unless CHANX_PUBLIC_URL is set. */
cx_docs *cx_docs_new(int playground, const char *listen_host, int port);
void cx_docs_destroy(cx_docs **self_p);
/* Rebuilds the document from a ROUTES envelope (the whole table). */
void cx_docs_update(cx_docs *self, const cx_env *routes);
/* Answers the request when uri is one of the paths above: returns 1 and sets *rc to what the lws
 * HTTP callback must return. Returns 0 for any other path. */
int cx_docs_serve(cx_docs *self, struct lws *wsi, const char *uri, int *rc);

#endif
