/*
 * Big and unexpected frames: a large message arrives whole however the
 * gateway's reads cut it up; one over CHANX_MAX_MESSAGE_BYTES closes only
 * its own connection with 1009 (message too big); a binary frame, which
 * no JSON consumer can read, closes with 1003; a client that stops reading
 * is closed with 1013 once CHANX_MAX_BUFFERED_BYTES wait for it, instead of
 * growing the gateway; one that sends more than 256 messages while its
 * authentication is still on the database is closed with 1008 instead of
 * having them held. Neighbours carry on.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kit/ws_client.h"
#include "test_limits.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

static cx_stack *stack;

static const char *const settings[] = { "CHANX_MAX_MESSAGE_BYTES=262144", "CHANX_MAX_BUFFERED_BYTES=1048576", NULL };
static void setup(void) { stack = lim_stack_start(settings, 0); }
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(limits, .init = setup, .fini = teardown, .timeout = 60);

static cx_communicator *connect_user(const char *name)
{
    int64_t id = cx_db_create_user(stack, name, 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/lim_echo/", cx_db_token_header(stack, id));
    cx_assert_authenticated_status_ok(c);
    return c;
}

/* {"action":"echo","payload":{"text":"xxxx..."}} with a text of n bytes. */
static json_t *echo_message(size_t n, char fill)
{
    char *text = malloc(n + 1);
    memset(text, fill, n);
    text[n] = '\0';
    json_t *m = json_pack("{s:s, s:{s:s}}", "action", "echo", "payload", "text", text);
    free(text);
    return m;
}

static void assert_echoed(cx_communicator *c, size_t n, char fill)
{
    json_t *reply = cx_receive_until_action(c, "echo", 10000);
    const char *text = json_string_value(json_object_get(json_object_get(reply, "payload"), "text"));
    cr_assert_not_null(text);
    cr_assert_eq(strlen(text), n, "echoed %zu bytes of %zu", strlen(text), n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(text[i], fill, "byte %zu changed", i);
    json_decref(reply);
}

Test(limits, a_200_kib_message_arrives_whole_and_comes_back_byte_for_byte)
{
    cx_communicator *c = connect_user("alice");
    json_t *m = echo_message(200 * 1024, 'a');
    cx_send_json(c, m);
    json_decref(m);
    assert_echoed(c, 200 * 1024, 'a');
    /* and the connection still serves small ones after it */
    m = echo_message(3, 'b');
    cx_send_json(c, m);
    json_decref(m);
    assert_echoed(c, 3, 'b');
}

Test(limits, a_message_over_the_limit_closes_only_its_connection_with_1009)
{
    cx_communicator *big = connect_user("alice"), *neighbour = connect_user("bob");
    json_t *m = echo_message(300 * 1024, 'x');
    cx_send_json(big, m);
    json_decref(m);
    cx_assert_closed(big, 1009, 5000);
    m = echo_message(10, 'n');
    cx_send_json(neighbour, m);
    json_decref(m);
    assert_echoed(neighbour, 10, 'n');
}

Test(limits, a_binary_frame_closes_with_1003_unsupported_data)
{
    int64_t id = cx_db_create_user(stack, "carol", 0);
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d/ws/lim_echo/", cx_stack_gateway_port(stack, 0));
    cx_ws *ws = cx_ws_connect(url, cx_db_token_header(stack, id), 5000);
    cr_assert(ws && cx_ws_is_open(ws), "not connected");
    free(cx_ws_recv_text(ws, 5000, NULL));   /* the authentication message */
    cr_assert_eq(cx_ws_send_binary(ws, "\x01\x02\x03", 3), 0);
    int code = 0;
    cr_assert(cx_ws_wait_closed(ws, 5000, &code), "still open after a binary frame");
    cr_assert_eq(code, 1003, "closed with %d", code);
    cx_ws_destroy(&ws);
}

/* What a client sends while the database decides who it is waits at the gateway, up to 256 messages:
 * the 257th closes it with 1008 rather than holding more. The token table is locked meanwhile (the
 * kit's connection holds the lock until COMMIT), so authentication cannot end first. */
Test(limits, a_client_sending_over_256_messages_before_it_is_authenticated_is_closed_with_1008)
{
    int64_t id = cx_db_create_user(stack, "early", 0);
    const char *const *token = cx_db_token_header(stack, id);
    cx_db_exec(stack, "BEGIN");
    cx_db_exec(stack, "LOCK TABLE authtoken_token IN ACCESS EXCLUSIVE MODE");
    cx_communicator *c = cx_communicator_new(stack, "/ws/lim_echo/", token);
    for (int i = 0; i < 257; i++)
        cx_send_text(c, "{\"action\":\"echo\",\"payload\":{\"text\":\"early\"}}");
    cx_assert_closed(c, 1008, 10000);
    cr_assert_str_eq(cx_communicator_close_reason(c), "too many messages before authentication");
    cx_db_exec(stack, "COMMIT");
    cx_communicator *neighbour = connect_user("neighbour");
    json_t *hello = echo_message(5, 'n');
    cx_send_json(neighbour, hello);
    json_decref(hello);
    assert_echoed(neighbour, 5, 'n');
}

/* A client that upgrades, then only writes: a raw socket with a small receive buffer, so what the
 * gateway sends it piles up at the gateway. */
static int non_reading_client(const char *token)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), small = 16 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) cx_stack_gateway_port(stack, 0)),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(connect(fd, (struct sockaddr *) &addr, sizeof addr), 0);
    char req[512], head[4096];
    int n = snprintf(req, sizeof req,
                     "GET /ws/lim_echo/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Authorization: Token %s\r\n\r\n", token);
    cr_assert_eq(write(fd, req, (size_t) n), n);
    size_t got = 0;
    while (got < sizeof head - 1 && !memmem(head, got, "\r\n\r\n", 4)) {
        ssize_t r = read(fd, head + got, sizeof head - 1 - got);
        cr_assert_gt(r, 0, "no upgrade answer");
        got += (size_t) r;
    }
    cr_assert(strncmp(head, "HTTP/1.1 101", 12) == 0, "upgrade refused: %.40s", head);
    /* Frames sent before authentication ends are held (and bounded): wait for its message. */
    size_t body = (size_t) ((char *) memmem(head, got, "\r\n\r\n", 4) - head) + 4;
    while (got - body < 2 || got - body < 2 + (size_t) (head[body + 1] & 0x7f)) {
        ssize_t r = read(fd, head + got, sizeof head - 1 - got);
        cr_assert_gt(r, 0, "no authentication message");
        got += (size_t) r;
    }
    cr_assert(memmem(head + body, got - body, "\"status_code\":200", 17), "not authenticated");
    return fd;
}

/* One masked text frame (clients must mask; a zero mask keeps the payload as is). */
static void write_frame(int fd, const char *text, size_t len)
{
    unsigned char h[14] = { 0x81 };
    size_t hl;
    if (len < 126) {
        h[1] = (unsigned char) (0x80 | len);
        hl = 2;
    } else if (len <= 0xffff) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char) (len >> 8);
        h[3] = (unsigned char) len;
        hl = 4;
    } else {
        h[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char) ((uint64_t) len >> (56 - 8 * i));
        hl = 10;
    }
    memset(h + hl, 0, 4);   /* the mask key */
    cr_assert_eq(send(fd, h, hl + 4, MSG_NOSIGNAL), (ssize_t) (hl + 4));
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, text + off, len - off, MSG_NOSIGNAL);
        cr_assert_gt(w, 0, "the gateway stopped reading");
        off += (size_t) w;
    }
}

/* The size of the server frame at p when all of it is in avail bytes (header in *hl), else 0. */
static size_t whole_frame(const unsigned char *p, size_t avail, size_t *hl)
{
    if (avail < 2)
        return 0;
    size_t pl = p[1] & 0x7f;
    *hl = pl == 126 ? 4 : pl == 127 ? 10 : 2;
    if (avail < *hl)
        return 0;
    if (pl >= 126) {   /* the extended length, network order */
        pl = 0;
        for (size_t i = 2; i < *hl; i++)
            pl = pl << 8 | p[i];
    }
    return avail >= *hl + pl ? *hl + pl : 0;
}

/* Reads server frames until the close frame; returns its code (0 if the stream ends without one). */
static int read_until_close(int fd)
{
    size_t cap = 1 << 20, len = 0, hl, size;
    unsigned char *buf = malloc(cap);
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (;;) {
        size_t at = 0;
        for (; (size = whole_frame(buf + at, len - at, &hl)); at += size)
            if ((buf[at] & 0x0f) == 0x8) {
                int code = size - hl >= 2 ? buf[at + hl] << 8 | buf[at + hl + 1] : 0;
                free(buf);
                return code;
            }
        memmove(buf, buf + at, len - at);   /* keep the unparsed tail */
        len -= at;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + len, cap - len);
        if (r <= 0) {
            free(buf);
            return 0;
        }
        len += (size_t) r;
    }
}

Test(limits, a_client_that_stops_reading_is_closed_with_1013_and_its_neighbour_is_served)
{
    int64_t slow_user = cx_db_create_user(stack, "slow", 0);
    cx_communicator *neighbour = connect_user("bob");
    int fd = non_reading_client(cx_db_token(stack, slow_user));
    json_t *m = echo_message(60 * 1024, 's');
    char *text = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    for (int i = 0; i < 200; i++)   /* 12 MB of replies: past the kernel's buffers and the gateway's 1 MiB */
        write_frame(fd, text, strlen(text));
    free(text);
    m = echo_message(10, 'n');
    cx_send_json(neighbour, m);
    json_decref(m);
    assert_echoed(neighbour, 10, 'n');
    /* The neighbour is answered at once (its consumer runs beside the slow client's), so the slow
     * client must go on not reading until the gateway gives up on it; only then read to the close. */
    char *log = cx_stack_log(stack, "gateway0", "client is not reading", 10000);
    cr_assert_not_null(log, "the gateway never gave up on the client that does not read");
    free(log);
    cr_assert_eq(read_until_close(fd), 1013, "the slow client was not closed with 1013 (try again later)");
    close(fd);
}
