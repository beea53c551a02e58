/*
 * The gateway as an HTTP/1.1 server (RFC 9112, RFC 9110), through raw
 * sockets (tests/kit/raw_ws.h): what a proxy, a scanner or a curious client
 * sends besides WebSocket upgrades must get a proper answer, never a hang,
 * an HTML page over HTTP/1.0, or a body parsed as the next request; and a
 * path must route as Django would match it, not as libwebsockets resolves it.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/kit/raw_ws.h"

static cx_stack *stack;

static void start(const char *const *env)
{
    static char echo[600], chat[600];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(echo, sizeof echo, "%s/plugins/echo.so", bin);
    snprintf(chat, sizeof chat, "%s/plugins/chat.so", bin);
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = (const char *[]) { echo, chat, NULL }, .env = env });
}

static void setup(void) { start(NULL); }
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(http_edge, .init = setup, .fini = teardown, .timeout = 90);

/* Sends request as is; returns the connection after reading the answer's head (and body). */
static cx_raw *ask(const char *request, size_t len)
{
    cx_raw *c = cx_raw_open(cx_stack_gateway_port(stack, 0));
    cr_assert_not_null(c);
    cr_assert_eq(cx_raw_write(c, request, len), 0);
    cr_assert_neq(cx_raw_read_head(c, 10000), 0, "no answer to: %s", request);
    return c;
}

#define ASK(literal) ask(literal, sizeof literal - 1)

Test(http_edge, a_body_is_not_read_as_a_second_request)
{
    /* a POST with a body: 405 naming the methods, not "400 Malformed request line" for the body */
    cx_raw *c = ASK("POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n{");
    cr_assert_eq(cx_raw_status(c), 405, "%s", cx_raw_body(c));
    cr_assert_str_eq(cx_raw_header(c, "allow"), "GET, HEAD, OPTIONS");
    cr_assert_eq(cx_raw_wait_eof(c, 10000), 1, "the connection ends, the body unread");
    cx_raw_destroy(&c);
    c = ASK("PUT /asyncapi.json HTTP/1.1\r\nHost: x\r\nContent-Length: 14\r\n\r\nGET / HTTP/1.1");
    cr_assert_eq(cx_raw_status(c), 405);
    cr_assert_eq(cx_raw_read_head(c, 2000), 0, "the body made no second answer");
    cx_raw_destroy(&c);
    /* a GET with a body, a Transfer-Encoding, a length that is no number or two lengths */
    c = ASK("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    cr_assert_eq(cx_raw_status(c), 400);
    cr_assert(strstr(cx_raw_body(c), "no request body"), "%s", cx_raw_body(c));
    cx_raw_destroy(&c);
    c = ASK("GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 501);
    cx_raw_destroy(&c);
    c = ASK("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 400);
    cx_raw_destroy(&c);
    c = ASK("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 2\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 400);
    cx_raw_destroy(&c);
    /* Content-Length: 0 is no body: the request is served and the connection stays for the next one */
    c = ASK("GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 200);
    const char again[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_eq(cx_raw_write(c, again, sizeof again - 1), 0);
    cr_assert_eq(cx_raw_read_head(c, 10000), 200, "a second request on the same connection");
    cx_raw_destroy(&c);
}

/* Sends request on a new connection and returns every byte answered until the gateway closes (owned). */
static char *exchange(const char *request)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) cx_stack_gateway_port(stack, 0)) };
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    cr_assert_eq(connect(fd, (struct sockaddr *) &a, sizeof a), 0);
    cr_assert_eq(write(fd, request, strlen(request)), (ssize_t) strlen(request));
    size_t cap = 1 << 20, used = 0;
    char *buf = malloc(cap);
    ssize_t got;
    while (used + 1 < cap && (got = read(fd, buf + used, cap - used - 1)) > 0)
        used += (size_t) got;
    buf[used] = '\0';
    close(fd);
    return buf;
}

/* Checks that text is exactly: a HEAD's answer (status 200, a content-length, no body), then the
 * answer of a GET of the same path. */
static void assert_head_then_get(const char *path)
{
    char request[256];
    snprintf(request, sizeof request, "HEAD %s HTTP/1.1\r\nHost: x\r\n\r\nGET %s HTTP/1.1\r\nHost: x\r\n"
             "Connection: close\r\n\r\n", path, path);
    char *all = exchange(request);
    cr_assert(strncmp(all, "HTTP/1.1 200", 12) == 0, "%s", all);
    char *end = strstr(all, "\r\n\r\n");
    cr_assert_not_null(end);
    cr_assert(strncmp(end + 4, "HTTP/1.1 200", 12) == 0, "the GET's head follows the HEAD's head at once: %s", all);
    const char *length = strcasestr(all, "content-length:");
    cr_assert(length && length < end && atoi(length + 15) > 0, "HEAD says the length GET would have");
    char *get_end = strstr(end + 4, "\r\n\r\n");
    cr_assert_not_null(get_end);
    cr_assert_eq((long) strlen(get_end + 4), atol(length + 15), "the GET's body has that length");
    free(all);
}

Test(http_edge, head_has_the_headers_of_get_and_no_body)
{
    assert_head_then_get("/healthz");
    assert_head_then_get("/asyncapi.json");
}

Test(http_edge, two_host_headers_and_folded_lines_are_400)
{
    cx_raw *c = ASK("GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 400, "RFC 7230 §5.4");
    cr_assert(strstr(cx_raw_body(c), "Host"), "%s", cx_raw_body(c));
    cx_raw_destroy(&c);
    c = ASK("GET /ws/echo/ HTTP/1.1\r\nHost: x\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 400, "an upgrade too, even with the same host twice");
    cx_raw_destroy(&c);
    c = ASK("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Note: a\r\n  folded\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 400, "obs-fold, RFC 7230 §3.2.4");
    cr_assert(strstr(cx_raw_body(c), "obs-fold"), "%s", cx_raw_body(c));
    cx_raw_destroy(&c);
    c = ASK("GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 400, "whitespace before the colon, RFC 7230 §3.2.4");
    cx_raw_destroy(&c);
}

Test(http_edge, connect_and_options_get_http_1_1_answers)
{
    cx_raw *c = ASK("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 405);
    cr_assert_eq(cx_raw_wait_eof(c, 10000), 1, "and the connection closes: nothing is tunnelled");
    cx_raw_destroy(&c);
    c = ASK("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 200);
    cr_assert_str_eq(cx_raw_header(c, "allow"), "GET, HEAD, OPTIONS");
    cr_assert_null(cx_raw_header(c, "content-type"), "no HTML page");
    cx_raw_destroy(&c);
    c = ASK("OPTIONS * HTTP/1.0\r\n\r\n");
    cr_assert_eq(cx_raw_status(c), 200, "over HTTP/1.0 as well");
    cx_raw_destroy(&c);
}

Test(http_edge, dot_segments_are_not_resolved_into_another_route)
{
    const char *upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    const char *paths[] = { "/ws/chat/%2e%2e/echo/", "/ws/chat/%2E./echo/", "/ws/chat/../echo/", "/ws/./echo/",
                            "/ws/chat/..%2fecho/", "/ws/chat/%2e%2e%2Fecho/" };
    char request[512];
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        int n = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: x\r\n%s", paths[i], upgrade);
        cx_raw *c = ask(request, (size_t) n);
        cr_assert_eq(cx_raw_status(c), 404, "%s matches no route in Django: %d", paths[i], cx_raw_status(c));
        cx_raw_destroy(&c);
    }
    int n = snprintf(request, sizeof request, "GET /ws/echo/ HTTP/1.1\r\nHost: x\r\n%s", upgrade);
    cx_raw *c = ask(request, (size_t) n);
    cr_assert_eq(cx_raw_status(c), 101, "the echo route itself still upgrades");
    cx_raw_destroy(&c);
    /* dots that are not whole segments are ordinary characters */
    n = snprintf(request, sizeof request, "GET /ws/chat/..lobby/ HTTP/1.1\r\nHost: x\r\n%s", upgrade);
    c = ask(request, (size_t) n);
    cr_assert_eq(cx_raw_status(c), 101, "room '..lobby'");
    cx_raw_destroy(&c);
}

/* servers.gateway of /asyncapi.json fetched with a Host header of the client's choosing (owned). */
static json_t *served_server(const char *host)
{
    char req[256];
    snprintf(req, sizeof req, "GET /asyncapi.json HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", host);
    char *all = exchange(req);
    const char *body = strstr(all, "\r\n\r\n");
    json_t *doc = body ? json_loads(body + 4, 0, NULL) : NULL;
    free(all);
    cr_assert_not_null(doc, "no document");
    json_t *server = json_incref(json_object_get(json_object_get(doc, "servers"), "gateway"));
    json_decref(doc);
    return server;
}

Test(http_edge, the_asyncapi_server_is_the_listen_address_not_the_host_header)
{
    json_t *server = served_server("evil.example");
    char listen[64];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", cx_stack_gateway_port(stack, 0));
    cr_assert_str_eq(json_string_value(json_object_get(server, "host")), listen);
    cr_assert_str_eq(json_string_value(json_object_get(server, "protocol")), "ws");
    json_decref(server);
}

TestSuite(http_edge_public, .fini = teardown, .timeout = 90);

Test(http_edge_public, chanx_public_url_names_the_server)
{
    start((const char *[]) { "CHANX_PUBLIC_URL=https://chat.example.com/app/", NULL });
    json_t *server = served_server("evil.example");
    cr_assert_str_eq(json_string_value(json_object_get(server, "host")), "chat.example.com");
    cr_assert_str_eq(json_string_value(json_object_get(server, "protocol")), "wss", "https means wss");
    json_decref(server);
}

/* A proxy in front hides /metrics by its path (docker/nginx.conf: location = /metrics), and to a
 * proxy "/metrics;x" is another path; libwebsockets ended the path at the ';' and the gateway served
 * its metrics there (found by qa-attack). Every HTTP answer is for the whole path. */
Test(http_edge, a_semicolon_does_not_end_the_path)
{
    int port = cx_stack_gateway_port(stack, 0), status = 0;
    const char *paths[] = { "/metrics;x", "/metrics;", "/healthz;x", "/asyncapi.json;x" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        free(cx_http_get(port, paths[i], &status));
        cr_assert_eq(status, 404, "%s: %d", paths[i], status);
    }
    free(cx_http_get(port, "/metrics", &status));
    cr_assert_eq(status, 200, "/metrics itself is served");
    free(cx_http_get(port, "/metrics?name=x", &status));
    cr_assert_eq(status, 200, "a query is not part of the path");
}
