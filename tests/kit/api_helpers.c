/*
 * api_helpers.c — the kit's client of the publish API (see testing.h).
 *
 * A plain HTTP/1.1 request over a socket, Connection: close, read until the
 * server closes: enough for a test, and independent of the server's library.
 * The API may start a moment after the stack's gateways are ready, so a
 * refused connection is retried for a while.
 */
#include "chanx/testing.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int dial(int port)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    for (int attempt = 0; attempt < 250; attempt++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct timeval tv = { 10, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(fd, (struct sockaddr *) &addr, sizeof addr) == 0)
            return fd;
        close(fd);
        usleep(20000);
    }
    return -1;
}

int cx_api_post(cx_stack *stack, const char *path, const char *key, const char *body, json_t **reply)
{
    *reply = NULL;
    int fd = dial(cx_stack_api_port(stack));
    cr_assert(fd >= 0, "the publish API on port %d does not accept connections", cx_stack_api_port(stack));
    size_t blen = strlen(body);
    char *req = malloc(blen + 512);
    int n = snprintf(req, 512, "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                               "Content-Length: %zu\r\nConnection: close\r\n%s%s%s\r\n",
                     path, blen, key ? "Authorization: apikey " : "", key ? key : "", key ? "\r\n" : "");
    memcpy(req + n, body, blen);
    size_t total = (size_t) n + blen, sent = 0;
    while (sent < total) {
        ssize_t w = write(fd, req + sent, total - sent);
        if (w <= 0)
            break;   /* the server may answer (413, 401) and close before reading it all */
        sent += (size_t) w;
    }
    free(req);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (ssize_t got; (got = read(fd, buf + len, cap - 1 - len)) > 0;) {
        len += (size_t) got;
        if (len + 1 >= cap)
            buf = realloc(buf, cap *= 2);
    }
    close(fd);
    buf[len] = '\0';
    int status = 0;
    cr_assert(sscanf(buf, "HTTP/1.%*d %d", &status) == 1, "no HTTP answer from the publish API: '%s'", buf);
    const char *payload = strstr(buf, "\r\n\r\n");
    if (payload)
        *reply = json_loads(payload + 4, 0, NULL);
    free(buf);
    return status;
}

json_t *cx_api_publish(cx_stack *stack, const char *path, const char *body_fmt, ...)
{
    va_list ap;
    va_start(ap, body_fmt);
    char *body = NULL;
    if (vasprintf(&body, body_fmt, ap) < 0)
        body = NULL;
    va_end(ap);
    cr_assert_not_null(body);
    json_t *reply = NULL;
    int status = cx_api_post(stack, path, CX_TEST_API_KEY, body, &reply);
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    cr_assert_eq(status, 200, "POST %s %s answered %d: %s", path, body, status, text ? text : "(not JSON)");
    free(text);
    free(body);
    return reply;
}
