/*
 * metrics_http.c — see metrics_http.h.
 *
 * libmicrohttpd runs in its own thread (MHD_USE_AUTO_INTERNAL_THREAD: epoll
 * on Linux). Each request renders the registry afresh; the body is handed to
 * libmicrohttpd, which frees it. Scrapes are rare and small, so a few
 * connections at a time and a short idle timeout are plenty, and a stuck
 * client cannot pile up.
 */
#include "common/metrics_http.h"
#include "common/env.h"
#include "common/log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cx_metrics_http {
    struct MHD_Daemon *daemon;
    cx_metrics *registry;
};

static enum MHD_Result reply(struct MHD_Connection *connection, unsigned status, const char *type, char *body,
                             size_t len)
{
    struct MHD_Response *response = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result rc = MHD_queue_response(connection, status, response);
    MHD_destroy_response(response);
    return rc;
}

static enum MHD_Result on_request(void *arg, struct MHD_Connection *connection, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_size, void **state)
{
    cx_metrics_http *self = arg;
    (void) version;
    (void) upload_data;
    if (!*state) {   /* first call: headers only */
        *state = self;
        return MHD_YES;
    }
    if (*upload_size) {   /* a body (none is expected): skipped; the answer comes on the last call */
        *upload_size = 0;
        return MHD_YES;
    }
    if (strcmp(url, "/metrics") != 0)
        return reply(connection, MHD_HTTP_NOT_FOUND, "application/json", strdup("{\"detail\":\"Not found.\"}"), 23);
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return reply(connection, MHD_HTTP_METHOD_NOT_ALLOWED, "application/json",
                     strdup("{\"detail\":\"Method not allowed.\"}"), 32);
    size_t len = 0;
    char *text = cx_metrics_render(self->registry, &len);
    if (!text)
        return MHD_NO;
    return reply(connection, MHD_HTTP_OK, CX_METRICS_CONTENT_TYPE, text, len);
}

static int parse_listen(const char *listen, struct sockaddr_in *addr)
{
    const char *colon = strrchr(listen, ':');
    char host[64];
    char *end;
    if (!colon || (size_t) (colon - listen) >= sizeof host)
        return -1;
    long port = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || port < 1 || port > 65535)
        return -1;
    memcpy(host, listen, (size_t) (colon - listen));
    host[colon - listen] = '\0';
    *addr = (struct sockaddr_in) { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    if (!host[0])
        addr->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return -1;
    return 0;
}

cx_metrics_http *cx_metrics_http_new(const char *listen, cx_metrics *registry, char *err, size_t errlen)
{
    struct sockaddr_in addr;
    if (!listen || parse_listen(listen, &addr) != 0) {
        snprintf(err, errlen, "metrics address '%s' is not HOST:PORT or :PORT (HOST an IPv4 address)",
                 listen ? listen : "");
        return NULL;
    }
    cx_metrics_http *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->registry = registry;
    self->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD, ntohs(addr.sin_port), NULL, NULL, on_request,
                                    self, MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned) 16, MHD_OPTION_CONNECTION_TIMEOUT,
                                    (unsigned) 10, MHD_OPTION_END);
    if (!self->daemon) {
        snprintf(err, errlen, "cannot serve metrics on %s (address in use?)", listen);
        free(self);
        return NULL;
    }
    return self;
}

void cx_metrics_http_destroy(cx_metrics_http **self_p)
{
    if (!self_p || !*self_p)
        return;
    MHD_stop_daemon((*self_p)->daemon);
    free(*self_p);
    *self_p = NULL;
}

int cx_metrics_http_from_env(cx_metrics_http **out)
{
    *out = NULL;
    const char *listen = cx_env_str("CHANX_METRICS_LISTEN", NULL);
    if (!listen)
        return 0;
    char err[256];
    if (!(*out = cx_metrics_http_new(listen, cx_metrics_process(), err, sizeof err))) {
        cx_error("CHANX_METRICS_LISTEN: %s", err);
        return -1;
    }
    cx_info("metrics on http://%s/metrics", listen);
    return 0;
}
