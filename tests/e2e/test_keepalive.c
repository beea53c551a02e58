/*
 * Server pings and trusted proxies, end to end (gateway/keepalive.h,
 * gateway/proxies.h).
 *
 * Pings: with a short CHANX_PING_INTERVAL_MS a raw-socket client receives
 * pings; one that never answers is dropped within interval + timeout, its
 * consumer's disconnect sees 1006, and its room goes on without it; one that
 * answers every ping stays, and so does the kit's client (lws answers pings);
 * one that sends only its own pings, or only empty pongs, stays too.
 *
 * Proxies: behind a trusted peer the consumer, the logs and the Origin check
 * see what the proxy forwarded; from an untrusted peer forged headers change
 * nothing; a malformed CHANX_TRUSTED_PROXIES stops the gateway with a message.
 *
 * Consumers: tests/plugins/cons_groups (disconnect reports to "observers"),
 * cons_probe ("context" shows chanx_client_addr), auth_probe (session auth).
 */
#include "test_consumer.h"
#include "tests/kit/clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INTERVAL_MS 400
#define TIMEOUT_MS 600
#define SECRET "keepalive-test-secret-key"

static cx_stack *stack;

static void start(const char *const *plugins, const char *const *env) { stack = cons_stack_start(plugins, env); }
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(keepalive, .fini = teardown, .timeout = 90);

static const char *const PING_ENV[] = { "CHANX_PING_INTERVAL_MS=400", "CHANX_PING_TIMEOUT_MS=600",
                                        "CHANX_LOG_LEVEL=info", NULL };

/* ------------------------------------------------------------ raw client */

typedef struct {
    int fd;
    unsigned char buf[65536];
    size_t len;
} raw_client;

/* Upgrades a raw socket on path with a token and reads past the authentication message. */
static raw_client *raw_connect(const char *path, int64_t user)
{
    raw_client *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) cx_stack_gateway_port(stack, 0)),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(connect(c->fd, (struct sockaddr *) &addr, sizeof addr), 0);
    char req[600];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Authorization: Token %s\r\n\r\n", path, cx_db_token(stack, user));
    cr_assert_eq(write(c->fd, req, (size_t) n), n);
    while (!memmem(c->buf, c->len, "\r\n\r\n", 4)) {
        ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        cr_assert_gt(r, 0, "no upgrade answer");
        c->len += (size_t) r;
    }
    cr_assert(strncmp((char *) c->buf, "HTTP/1.1 101", 12) == 0, "upgrade refused: %.40s", c->buf);
    size_t head = (size_t) ((unsigned char *) memmem(c->buf, c->len, "\r\n\r\n", 4) - c->buf) + 4;
    memmove(c->buf, c->buf + head, c->len - head);
    c->len -= head;
    return c;
}

/* Next whole server frame within timeout_ms: its opcode (payload into text when given), 0 on
 * timeout, -1 when the connection ended. */
static int raw_next(raw_client *c, int timeout_ms, char *text, size_t size)
{
    int64_t deadline = cx_kit_now_ms() + timeout_ms;
    for (;;) {
        if (c->len >= 2) {
            size_t plen = c->buf[1] & 0x7f, hl = 2;
            if (plen == 126 && c->len >= 4)
                plen = (size_t) c->buf[2] << 8 | c->buf[3], hl = 4;
            if ((c->buf[1] & 0x7f) < 126 || hl == 4) {
                cr_assert_lt(plen, sizeof c->buf - 4, "test frames are small");
                if (c->len >= hl + plen) {
                    int opcode = c->buf[0] & 0x0f;
                    if (text)
                        snprintf(text, size, "%.*s", (int) plen, (char *) c->buf + hl);
                    memmove(c->buf, c->buf + hl + plen, c->len - hl - plen);
                    c->len -= hl + plen;
                    return opcode;
                }
            }
        }
        int left = (int) (deadline - cx_kit_now_ms());
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = c->fd, .events = POLLIN };
        if (poll(&p, 1, left) <= 0)
            continue;
        ssize_t r = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
        if (r <= 0)
            return -1;
        c->len += (size_t) r;
    }
}

/* A masked client frame (zero mask: the payload goes as is). */
static void raw_send(raw_client *c, int opcode, const char *payload)
{
    size_t len = strlen(payload);
    cr_assert_lt(len, 126);
    unsigned char frame[200] = { (unsigned char) (0x80 | opcode), (unsigned char) (0x80 | len), 0, 0, 0, 0 };
    memcpy(frame + 6, payload, len);
    cr_assert_eq(send(c->fd, frame, 6 + len, MSG_NOSIGNAL), (ssize_t) (6 + len));
}

static void raw_close(raw_client **c)
{
    close((*c)->fd);
    free(*c);
    *c = NULL;
}

static int healthz_connections(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) cx_stack_gateway_port(stack, 0)),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(connect(fd, (struct sockaddr *) &addr, sizeof addr), 0);
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t) sizeof req - 1);
    char buf[2048] = "";
    size_t got = 0;
    for (ssize_t r; got < sizeof buf - 1 && (r = read(fd, buf + got, sizeof buf - 1 - got)) > 0;)
        got += (size_t) r;
    close(fd);
    const char *n = strstr(buf, "\"connections\":");
    cr_assert_not_null(n, "no connection count in %s", buf);
    return atoi(n + 14);
}

/* ------------------------------------------------------------------ pings */

/* The kit's clients run their event loop only inside kit calls, so one left alone while the test
 * waits on a raw socket would not answer pings and be dropped too. This lets it answer, and keeps
 * what it received in stash. */
static void service(cx_communicator *c, json_t *stash)
{
    for (json_t *m; (m = cx_receive_json(c, 1));)
        json_array_append_new(stash, m);
}

/* Reads the raw client for up to timeout_ms while the kit's clients answer pings; the frame's opcode as raw_next. */
static int raw_next_serviced(raw_client *raw, int timeout_ms, char *text, size_t size, cx_communicator **kit,
                             json_t **stash, int nkit)
{
    int64_t deadline = cx_kit_now_ms() + timeout_ms;
    for (;;) {
        int op = raw_next(raw, 50, text, size);
        for (int i = 0; i < nkit; i++)
            service(kit[i], stash[i]);
        if (op != 0 || cx_kit_now_ms() >= deadline)
            return op;
    }
}

static json_t *find_action(json_t *stash, const char *action)
{
    size_t i;
    json_t *m;
    json_array_foreach(stash, i, m)
        if (action_of(m) && strcmp(action_of(m), action) == 0)
            return m;
    return NULL;
}

static cx_communicator *room_member(const char *room, const char *name, int64_t *id)
{
    char path[128];
    snprintf(path, sizeof path, "/ws/cons_groups/%s/", room);
    *id = cx_db_create_user(stack, name, 0);
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, *id));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static void say(cx_communicator *c, const char *action, const char *payload_json)
{
    json_t *payload = json_loads(payload_json, JSON_DECODE_ANY, NULL);
    cx_send_message(c, action, payload);
    json_decref(payload);
}

Test(keepalive, a_client_that_never_answers_pings_is_dropped_and_its_consumer_disconnects_with_1006)
{
    start((const char *[]) { "cons_groups", NULL }, PING_ENV);
    int64_t watcher_id, alice_id;
    cx_communicator *watcher = room_member("hall", "watcher", &watcher_id);
    say(watcher, "observe", "null");
    json_decref(cx_receive_all_json(watcher, 5000, 0));
    cx_communicator *alice = room_member("lobby", "alice", &alice_id);

    int64_t mute_id = cx_db_create_user(stack, "mute", 0);
    raw_client *mute = raw_connect("/ws/cons_groups/lobby/", mute_id);
    char text[512];
    cr_assert_eq(raw_next(mute, 5000, text, sizeof text), 1, "no authentication message");
    cr_assert(strstr(text, "\"status_code\":200"), "not authenticated: %s", text);
    cr_assert_eq(healthz_connections(), 3);

    /* pings come, and are never answered */
    cx_communicator *kit[2] = { watcher, alice };
    json_t *stash[2] = { json_array(), json_array() };
    int64_t silent_since = cx_kit_now_ms();
    int op, pings = 0;
    while ((op = raw_next_serviced(mute, 15000, NULL, 0, kit, stash, 2)) == 9)
        pings++;
    int64_t dropped_after = cx_kit_now_ms() - silent_since;
    cr_assert_eq(op, -1, "the connection was neither dropped nor pinged again (opcode %d)", op);
    cr_assert_eq(pings, 1, "%d pings before the drop, expected exactly one", pings);
    cr_assert_geq(dropped_after, INTERVAL_MS + TIMEOUT_MS - 100, "dropped after only %lld ms",
                  (long long) dropped_after);
    raw_close(&mute);

    /* its consumer's disconnect ran with 1006, as for a dropped link */
    for (int64_t until = cx_kit_now_ms() + 5000; !find_action(stash[0], "disconnected") && cx_kit_now_ms() < until;)
        service(watcher, stash[0]);
    char *dump = cons_dump(stash[0]);
    json_t *gone = find_action(stash[0], "disconnected");
    cr_assert_not_null(gone, "watcher got %s", dump);
    json_t *payload = json_object_get(gone, "payload");
    cr_assert_eq(json_integer_value(json_object_get(payload, "code")), 1006, "watcher got %s", dump);
    cr_assert_eq(json_integer_value(json_object_get(payload, "user")), mute_id, "watcher got %s", dump);
    free(dump);
    dump = cons_dump(stash[1]);
    cr_assert_eq(json_array_size(stash[1]), 0, "alice got %s", dump);
    free(dump);
    json_decref(stash[0]);
    json_decref(stash[1]);
    char *line = cx_stack_log(stack, "gateway0", "no answer to a ping", 5000);
    cr_assert_not_null(line, "the drop was not logged");
    free(line);

    /* the room goes on with alice alone: the gateway holds two connections, and a message to the
     * room reaches its one other member (nobody: the sender is excluded) and completes */
    cr_assert_eq(healthz_connections(), 2);
    int64_t bob_id;
    cx_communicator *bob = room_member("lobby", "bob", &bob_id);
    say(alice, "say", "{\"text\":\"anyone?\"}");
    json_t *all = cx_receive_all_json(bob, 5000, 1);
    cr_assert_eq(json_array_size(all), 1);
    cr_assert_str_eq(action_of(json_array_get(all, 0)), "say");
    json_decref(all);
    all = cx_receive_all_json(alice, 5000, 0);
    cr_assert_eq(json_array_size(all), 0, "alice got her own message back");
    json_decref(all);
}

Test(keepalive, a_client_that_answers_every_ping_stays_and_so_does_the_kits_client)
{
    start((const char *[]) { "cons_groups", NULL }, PING_ENV);
    int64_t kit_id;
    cx_communicator *kit = room_member("lobby", "kit", &kit_id);
    int64_t id = cx_db_create_user(stack, "pongs", 0);
    raw_client *c = raw_connect("/ws/cons_groups/lobby/", id);
    char text[512];
    cr_assert_eq(raw_next(c, 5000, text, sizeof text), 1);
    int pings = 0;
    int64_t until = cx_kit_now_ms() + 3 * (INTERVAL_MS + TIMEOUT_MS);
    json_t *stash = json_array();
    while (cx_kit_now_ms() < until) {
        char payload[126];
        int op = raw_next_serviced(c, 200, payload, sizeof payload, &kit, &stash, 1);
        cr_assert_neq(op, -1, "dropped although it answered %d pings", pings);
        if (op == 9) {
            pings++;
            raw_send(c, 0xA, payload);   /* the pong echoes the ping's payload */
        }
    }
    cr_assert_geq(pings, 2, "only %d pings in %d ms of silence", pings, 3 * (INTERVAL_MS + TIMEOUT_MS));
    /* still served: a direct message comes back */
    raw_send(c, 1, "{\"action\":\"direct\",\"payload\":{\"n\":1}}");
    int op;
    while ((op = raw_next(c, 5000, text, sizeof text)) == 9)
        raw_send(c, 0xA, text);
    cr_assert_eq(op, 1, "no reply (opcode %d)", op);
    cr_assert(strstr(text, "\"direct\""), "got %s", text);
    raw_close(&c);
    /* the kit's client was as silent and is still connected */
    cr_assert_eq(json_array_size(stash), 0);
    json_decref(stash);
    say(kit, "direct", "{}");
    json_t *all = cx_receive_all_json(kit, 5000, 0);
    cr_assert_eq(json_array_size(all), 1);
    json_decref(all);
}

/* A client whose only frames are its own pings (opcode 9), or empty pongs (opcode 10, unsolicited,
 * as RFC 6455 5.5.3 allows for a heartbeat), never answers ours: lws answers the pings and swallows
 * the empty pongs without a callback, yet both are activity (README: "pong or frame"). */
static void stays_with_only(int opcode, const char *payload)
{
    start((const char *[]) { "cons_groups", NULL }, PING_ENV);
    int64_t id = cx_db_create_user(stack, opcode == 9 ? "pinger" : "ponger", 0);
    raw_client *c = raw_connect("/ws/cons_groups/lobby/", id);
    char text[512];
    cr_assert_eq(raw_next(c, 5000, text, sizeof text), 1);
    int64_t until = cx_kit_now_ms() + 3 * (INTERVAL_MS + TIMEOUT_MS);
    while (cx_kit_now_ms() < until) {
        raw_send(c, opcode, payload);
        int op;
        while ((op = raw_next(c, 100, text, sizeof text)) > 0)   /* our pings and its pongs, unanswered */
            cr_assert(op == 9 || op == 10, "opcode %d", op);
        cr_assert_neq(op, -1, "dropped although it sent a frame every 100 ms");
    }
    raw_send(c, 1, "{\"action\":\"direct\",\"payload\":{\"n\":1}}");
    int op;
    while ((op = raw_next(c, 5000, text, sizeof text)) == 9 || op == 10)
        ;
    cr_assert_eq(op, 1, "no reply (opcode %d)", op);
    cr_assert(strstr(text, "\"direct\""), "got %s", text);
    raw_close(&c);
}

Test(keepalive, a_client_sending_only_its_own_pings_stays)
{
    stays_with_only(9, "hb");
}

Test(keepalive, a_client_sending_only_empty_pongs_stays)
{
    stays_with_only(10, "");
}

Test(keepalive, pings_off_leaves_a_silent_client_alone)
{
    start((const char *[]) { "cons_groups", NULL },
          (const char *[]) { "CHANX_PING_INTERVAL_MS=0", "CHANX_PING_TIMEOUT_MS=100", NULL });
    raw_client *c = raw_connect("/ws/cons_groups/lobby/", cx_db_create_user(stack, "quiet", 0));
    cr_assert_eq(raw_next(c, 5000, NULL, 0), 1);
    cr_assert_eq(raw_next(c, 1500, NULL, 0), 0, "something came or the connection ended");
    raw_close(&c);
}

/* The gateway's end of a client connection has TCP keepalive armed: /proc/net/tcp shows its timer
 * as 2 (keepalive), where a socket without SO_KEEPALIVE shows 0 when idle. */
Test(keepalive, client_sockets_have_tcp_keepalive_as_a_second_line)
{
    start((const char *[]) { "cons_groups", NULL }, (const char *[]) { "CHANX_PING_INTERVAL_MS=0", NULL });
    raw_client *c = raw_connect("/ws/cons_groups/lobby/", cx_db_create_user(stack, "tcp", 0));
    cr_assert_eq(raw_next(c, 5000, NULL, 0), 1);
    struct sockaddr_in local;
    socklen_t len = sizeof local;
    getsockname(c->fd, (struct sockaddr *) &local, &len);
    char gateway_end[32], client_end[32], line[512];
    snprintf(gateway_end, sizeof gateway_end, ":%04X ", cx_stack_gateway_port(stack, 0));
    snprintf(client_end, sizeof client_end, ":%04X ", ntohs(local.sin_port));
    int found = 0, timer = -1;
    FILE *f = fopen("/proc/net/tcp", "r");
    cr_assert_not_null(f);
    while (fgets(line, sizeof line, f)) {
        /* sl local rem st queues tr:when ...: the gateway's side has our port as its remote */
        char local_addr[64], remote[64];
        unsigned st;
        int tr;
        if (sscanf(line, " %*s %63s %63s %x %*s %x:", local_addr, remote, &st, &tr) != 4)
            continue;
        strcat(local_addr, " ");
        strcat(remote, " ");
        if (st == 1 && strstr(local_addr, gateway_end) && strstr(remote, client_end)) {
            found = 1;
            timer = tr;
        }
    }
    fclose(f);
    cr_assert(found, "the gateway's end of the connection is not in /proc/net/tcp");
    cr_assert_eq(timer, 2, "timer %d: TCP keepalive is not armed", timer);
    raw_close(&c);
}

/* ---------------------------------------------------------------- proxies */

static const char *const PROBE[] = { "cons_probe", NULL };

/* The client address cons_probe's consumer sees, for a connection with these extra headers. */
static char *client_seen(const char *const *headers)
{
    static int serial;
    char name[32];
    snprintf(name, sizeof name, "p%d", ++serial);
    int64_t id = cx_db_create_user(stack, name, 0);
    static char auth[256];
    snprintf(auth, sizeof auth, "Authorization: Token %s", cx_db_token(stack, id));
    const char *all[8] = { auth };
    for (int i = 0; headers && headers[i] && i < 6; i++)
        all[i + 1] = headers[i];
    cx_communicator *c = cx_communicator_new(stack, "/ws/cons_probe/strict/", all);
    cx_assert_authenticated_status_ok(c);
    cx_send_message(c, "context", NULL);
    json_t *m = cx_receive_until_action(c, "context", 5000);
    cr_assert_not_null(m);
    char *client = strdup(str_of(json_object_get(m, "payload"), "client"));
    json_decref(m);
    cx_communicator_disconnect(c);
    return client;
}

static void assert_client(const char *const *headers, const char *expected)
{
    char *got = client_seen(headers);
    cr_assert_str_eq(got, expected, "the consumer saw %s, expected %s", got, expected);
    free(got);
}

Test(keepalive, behind_a_trusted_proxy_the_client_is_the_forwarded_address)
{
    start(PROBE, (const char *[]) { "CHANX_TRUSTED_PROXIES=10.0.0.0/8, 127.0.0.1", "CHANX_LOG_LEVEL=info", NULL });
    assert_client((const char *[]) { "X-Forwarded-For: 203.0.113.7", NULL }, "203.0.113.7");
    /* what the client wrote itself stays to the left of what our proxies appended */
    assert_client((const char *[]) { "X-Forwarded-For: 6.6.6.6, 198.51.100.4, 10.1.2.3", NULL }, "198.51.100.4");
    assert_client((const char *[]) { "X-Real-IP: 2001:db8::7", NULL }, "2001:db8::7");
    assert_client(NULL, "127.0.0.1");
    /* the gateway's log records carry it too */
    int64_t id = cx_db_create_user(stack, "refused", 0);
    (void) id;
    cx_communicator *c = cx_communicator_new(stack, "/ws/cons_probe/strict/",
                                             (const char *[]) { "X-Forwarded-For: 203.0.113.99", NULL });
    json_decref(cx_wait_for_auth(c, 5000));
    char *line = cx_stack_log(stack, "gateway0", "\"client\":\"203.0.113.99\"", 5000);
    cr_assert_not_null(line, "the refusal was not logged with the forwarded address");
    free(line);
}

Test(keepalive, from_an_untrusted_peer_forged_headers_change_nothing)
{
    start(PROBE, (const char *[]) { "CHANX_TRUSTED_PROXIES=10.0.0.0/8", NULL });
    assert_client((const char *[]) { "X-Forwarded-For: 203.0.113.7", NULL }, "127.0.0.1");
    assert_client((const char *[]) { "X-Forwarded-For: 10.0.0.1", "X-Real-IP: 10.0.0.2", NULL }, "127.0.0.1");
}

Test(keepalive, without_a_list_nobody_is_trusted)
{
    start(PROBE, NULL);
    assert_client((const char *[]) { "X-Forwarded-For: 203.0.113.7", NULL }, "127.0.0.1");
}

/* Session cookies are guarded by the Origin check; behind a proxy the page's origin is the proxy's
 * scheme and host, which only a trusted proxy may state. */
static int session_status(const char *origin, const char *const *extra)
{
    static int64_t bob;
    if (!bob)
        bob = cx_db_create_user(stack, "bob", 0);
    char *key = cx_db_session_cookie(stack, bob, SECRET, 3600);
    char cookie[256], origin_h[256];
    snprintf(cookie, sizeof cookie, "Cookie: sessionid=%s", key);
    snprintf(origin_h, sizeof origin_h, "Origin: %s", origin);
    free(key);
    const char *headers[8] = { cookie, origin_h };
    for (int i = 0; extra && extra[i] && i < 5; i++)
        headers[i + 2] = extra[i];
    cx_communicator *c = cx_communicator_new(stack, "/ws/auth_probe/session/", headers);
    json_t *auth = cx_wait_for_auth(c, 8000);
    cr_assert_not_null(auth);
    int status = (int) json_integer_value(json_object_get(auth, "status_code"));
    json_decref(auth);
    cx_communicator_disconnect(c);
    return status;
}

Test(keepalive, the_origin_check_compares_with_the_trusted_proxys_scheme_and_host)
{
    start((const char *[]) { "auth_probe", NULL },
          (const char *[]) { "CHANX_TRUSTED_PROXIES=127.0.0.1", "CHANX_DJANGO_SECRET_KEY=" SECRET, NULL });
    const char *const fwd[] = { "X-Forwarded-Proto: https", "X-Forwarded-Host: chat.example.com", NULL };
    cr_assert_eq(session_status("https://chat.example.com", fwd), 200);
    cr_assert_eq(session_status("http://chat.example.com", fwd), 403, "a plain-http page is another origin");
    cr_assert_eq(session_status("https://evil.example", fwd), 403);
    cr_assert_eq(session_status("https://chat.example.com", (const char *[]) { "X-Forwarded-Proto: wss",
                                "X-Forwarded-Host: chat.example.com", NULL }), 200, "wss is https's page");
}

Test(keepalive, an_untrusted_peer_cannot_name_the_host_for_the_origin_check)
{
    start((const char *[]) { "auth_probe", NULL },
          (const char *[]) { "CHANX_TRUSTED_PROXIES=10.0.0.0/8", "CHANX_DJANGO_SECRET_KEY=" SECRET, NULL });
    const char *const fwd[] = { "X-Forwarded-Proto: https", "X-Forwarded-Host: chat.example.com", NULL };
    cr_assert_eq(session_status("https://chat.example.com", fwd), 403);
}

Test(keepalive, a_malformed_trusted_proxy_list_stops_the_gateway_with_the_entry_named)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t alen = sizeof addr;
    cr_assert_eq(bind(fd, (struct sockaddr *) &addr, sizeof addr), 0);
    getsockname(fd, (struct sockaddr *) &addr, &alen);
    close(fd);
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    char cmd[800], out[4096] = "";
    snprintf(cmd, sizeof cmd,
             "CHANX_TRUSTED_PROXIES='10.0.0.0/8,10.0.0.0/33' CHANX_LISTEN=127.0.0.1:%d CHANX_BROKER=tcp://127.0.0.1:1 "
             "timeout 20 %s/chanx-gateway 2>&1", ntohs(addr.sin_port), bin);
    FILE *p = popen(cmd, "r");
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit status %d: %s", status, out);
    cr_assert(strstr(out, "CHANX_TRUSTED_PROXIES: '10.0.0.0/33': prefix longer than 32 bits"), "said: %s", out);
}
