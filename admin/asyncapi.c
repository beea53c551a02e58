/*
 * asyncapi.c — `chanx-admin asyncapi`: writes the deployment's AsyncAPI 3.0 document.
 *
 * The document describes the routes the workers registered, so only a running
 * deployment knows it: the gateway builds it from its route table and serves
 * it at /asyncapi.json (gateway/asyncapi.h). This command asks a gateway for
 * it over plain HTTP/1.1 and writes it to a file or stdout, e.g. to publish it
 * with the frontend's docs or check it in CI. It checks that the answer is a
 * 200 with a JSON object whose "asyncapi" is "3.0.0" and says what came
 * instead; nothing is written on failure (the file is renamed into place).
 */
#include "admin/admin.h"

#include <jansson.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* GET path from host:port; the whole response in *out (caller frees), or NULL with a message. */
static char *http_get(const char *hostport, const char *path, size_t *len)
{
    char host[256], port[16];
    const char *colon = strrchr(hostport, ':');
    if (!colon || colon == hostport || (size_t) (colon - hostport) >= sizeof host || strlen(colon + 1) >= sizeof port) {
        fprintf(stderr, "chanx-admin asyncapi: --gateway wants HOST:PORT, got '%s'\n", hostport);
        return NULL;
    }
    snprintf(host, sizeof host, "%.*s", (int) (colon - hostport), hostport);
    snprintf(port, sizeof port, "%s", colon + 1);
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "*"))
        snprintf(host, sizeof host, "127.0.0.1");   /* a listen address: ask it locally */
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
    int fd = -1, rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "chanx-admin asyncapi: %s: %s\n", host, gai_strerror(rc));
        return NULL;
    }
    for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        fprintf(stderr, "chanx-admin asyncapi: cannot connect to the gateway at %s:%s: %m\n", host, port);
        return NULL;
    }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\n\r\n", path, host, port);
    char *buf = NULL;
    size_t cap = 0, used = 0;
    if (write(fd, req, (size_t) n) == n) {
        for (;;) {
            if (used + 4096 + 1 > cap) {
                char *grown = realloc(buf, cap = cap ? cap * 2 : 65536);
                if (!grown)
                    break;
                buf = grown;
            }
            ssize_t got = read(fd, buf + used, cap - used - 1);
            if (got <= 0)
                break;
            used += (size_t) got;
        }
    }
    close(fd);
    if (buf)
        buf[used] = '\0';
    *len = used;
    return buf;
}

int admin_cmd_asyncapi(PGconn *conn, const admin_args *args)
{
    (void) conn;
    const char *gateway = args->gateway ? args->gateway : getenv("CHANX_LISTEN") ? getenv("CHANX_LISTEN") : "127.0.0.1:8000";
    size_t len = 0;
    char *resp = http_get(gateway, "/asyncapi.json", &len);
    if (!resp)
        return ADMIN_ERROR;
    const char *body = strstr(resp, "\r\n\r\n");
    int status = 0;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1 || !body) {
        fprintf(stderr, "chanx-admin asyncapi: %s answered no HTTP response\n", gateway);
        free(resp);
        return ADMIN_ERROR;
    }
    body += 4;
    json_error_t jerr;
    json_t *doc = json_loads(body, 0, &jerr);
    const char *version = json_string_value(json_object_get(doc, "asyncapi"));
    if (status != 200 || !version || strcmp(version, "3.0.0")) {
        fprintf(stderr, "chanx-admin asyncapi: %s/asyncapi.json answered %d %s%.200s\n", gateway, status,
                doc ? "without an AsyncAPI 3.0.0 document: " : "", doc ? "" : body);
        json_decref(doc);
        free(resp);
        return ADMIN_ERROR;
    }
    int rc = ADMIN_OK;
    if (!args->output || !strcmp(args->output, "-")) {
        rc = json_dumpf(doc, stdout, JSON_INDENT(2)) == 0 && fputc('\n', stdout) != EOF ? ADMIN_OK : ADMIN_ERROR;
    } else {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", args->output);
        if (json_dump_file(doc, tmp, JSON_INDENT(2)) != 0 || rename(tmp, args->output) != 0) {
            fprintf(stderr, "chanx-admin asyncapi: cannot write %s: %m\n", args->output);
            unlink(tmp);
            rc = ADMIN_ERROR;
        }
    }
    json_decref(doc);
    free(resp);
    return rc;
}
