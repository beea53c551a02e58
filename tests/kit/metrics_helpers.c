/*
 * metrics_helpers.c — reading a stack's Prometheus metrics in tests.
 *
 * A test asserts that a session moves counters by the expected amounts: it
 * scrapes before and after and compares values of named series. Series are
 * found as written in the text format (name plus label set, labels in the
 * order the process renders them), which is what an operator greps for too.
 */
#include "chanx/testing.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

char *cx_http_get(int port, const char *path, int *status)
{
    if (status)
        *status = 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    struct timeval tv = { 5, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof addr) != 0) {
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", path);
    size_t size = 0, cap = 16384;
    char *buf = malloc(cap);
    ssize_t got = write(fd, req, (size_t) n) == n ? 1 : -1;
    /* until the server closes: headers and body may come in many segments */
    while (buf && got > 0) {
        if (size + 4096 > cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown)
                break;
            buf = grown;
        }
        if ((got = read(fd, buf + size, cap - size - 1)) > 0)
            size += (size_t) got;
    }
    close(fd);
    if (!buf || size < 12 || strncmp(buf, "HTTP/1.", 7) != 0) {
        free(buf);
        return NULL;
    }
    buf[size] = '\0';
    if (status)
        *status = atoi(buf + 9);
    char *body = strstr(buf, "\r\n\r\n");
    char *out = strdup(body ? body + 4 : "");
    free(buf);
    return out;
}

char *cx_stack_metrics(cx_stack *self, const char *process)
{
    int port = cx_stack_metrics_port(self, process), status = 0;
    cr_assert(port > 0, "%s serves no metrics: start the stack with .metrics = 1", process);
    char *text = cx_http_get(port, "/metrics", &status);
    cr_assert(text && status == 200, "GET /metrics of %s (port %d) answered %d", process, port, status);
    return text;
}

double cx_metric_value(const char *text, const char *series)
{
    size_t len = strlen(series);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, series, len) == 0 && line[len] == ' ')
            return strtod(line + len + 1, NULL);
    return NAN;
}
