/*
 * test_slow_readers.c — a client that reads slowly, or not at all, or
 * resets its connection (gateway/outbox.c, gateway/keepalive.c,
 * gateway/tcp_peer.h).
 *
 *   - CHANX_MAX_BUFFERED_BYTES counts what the kernel holds for a client,
 *     not only the gateway's own queue: a raw client with a 16 KiB receive
 *     buffer that stops reading is closed with 1013 at a 256 KiB bound, and
 *     what it then reads is a gap-free prefix of what was published, the
 *     close frame, and nothing after. (Before, Linux grew the send buffer to
 *     4 MiB and the client was never closed.) One that goes on reading at
 *     1 KB per 20 ms still reads its 1013, although its backlog takes longer
 *     than the 3 s a client has to answer a close frame.
 *   - The bound, not the ping, decides a slow reader's fate: a client
 *     reading a backlog slowly and sending nothing stays past the ping
 *     timeout, and gets every event in order. (Before, it was dropped
 *     without a close frame once the timeout ran.)
 *   - A client that resets its TCP connection is counted as 1006 in the
 *     gateway's close-code metric, as its consumer sees it (it was 1011).
 *
 * Clients are raw sockets, so the test controls the receive buffer, the
 * reading pace and the reset; events are evt_probe's passthrough "notify",
 * 1 KB each, which the gateway delivers without a worker in between.
 */
#include "test_events.h"
#include "tests/kit/clock.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static cx_stack *stack;
static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(slow_readers, .fini = teardown, .timeout = 120);

static void start(const char *const *env)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    static char path[600];
    snprintf(path, sizeof path, "%s/test-plugins/evt_probe.so", bin);
    stack = cx_stack_start(&(cx_stack_options) {
        .plugin_files = (const char *[]) { path, NULL }, .env = env, .api = 1, .metrics = 1 });
}

/* ------------------------------------------------------------ raw client */

typedef struct {
    int fd;
    unsigned char *buf;
    size_t len, cap;
} raw;

/* Reads more bytes within timeout_ms; 0 on EOF or timeout. */
static int fill(raw *r, int timeout_ms, size_t at_most)
{
    struct pollfd p = { r->fd, POLLIN, 0 };
    if (poll(&p, 1, timeout_ms) <= 0)
        return 0;
    if (r->len == r->cap)
        r->buf = realloc(r->buf, r->cap *= 2);
    size_t room = r->cap - r->len;
    ssize_t n = recv(r->fd, r->buf + r->len, room < at_most ? room : at_most, 0);
    if (n <= 0)
        return 0;
    r->len += (size_t) n;
    return 1;
}

/* The next whole server frame: its opcode, payload (owned) and length; 0 on EOF or timeout. Reads at
 * most at_most bytes per recv, so a test sets the pace. */
static int next_frame(raw *r, int timeout_ms, size_t at_most, int *opcode, char **payload, size_t *plen)
{
    for (;;) {
        if (r->len >= 2) {
            size_t pl = r->buf[1] & 0x7f, h = pl == 126 ? 4 : pl == 127 ? 10 : 2;
            if (r->len >= h) {
                if (pl >= 126) {
                    pl = 0;
                    for (size_t i = 2; i < h; i++)
                        pl = pl << 8 | r->buf[i];
                }
                if (r->len >= h + pl) {
                    *opcode = r->buf[0] & 0x0f;
                    *payload = strndup((char *) r->buf + h, pl);
                    *plen = pl;
                    memmove(r->buf, r->buf + h + pl, r->len - h - pl);
                    r->len -= h + pl;
                    return 1;
                }
            }
        }
        if (!fill(r, timeout_ms, at_most))
            return 0;
    }
}

/* Upgrades a raw socket with receive buffer rcvbuf (0: the kernel's) as user, past the 101 and the
 * authentication message (the ready point: the room is joined). */
static raw *raw_connect(const char *path, int64_t user, int rcvbuf)
{
    raw *r = calloc(1, sizeof *r);
    r->cap = 1 << 16;
    r->buf = malloc(r->cap);
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (rcvbuf)
        setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) cx_stack_gateway_port(stack, 0)),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(connect(r->fd, (struct sockaddr *) &addr, sizeof addr), 0);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                     "Authorization: Token %s\r\n\r\n", path, cx_db_token(stack, user));
    cr_assert_eq(write(r->fd, req, (size_t) n), n);
    unsigned char *end;
    while (!(end = memmem(r->buf, r->len, "\r\n\r\n", 4)))
        cr_assert(fill(r, 5000, 4096), "no upgrade answer");
    cr_assert(strncmp((char *) r->buf, "HTTP/1.1 101", 12) == 0, "upgrade refused: %.40s", r->buf);
    size_t head = (size_t) (end - r->buf) + 4;
    memmove(r->buf, r->buf + head, r->len - head);
    r->len -= head;
    int opcode;
    char *auth;
    size_t len;
    cr_assert(next_frame(r, 5000, 4096, &opcode, &auth, &len), "no authentication message");
    cr_assert(strstr(auth, "\"status_code\":200"), "not authenticated: %s", auth);
    free(auth);
    return r;
}

/* One masked text frame of under 126 bytes (a zero mask keeps the payload as is). */
static void raw_send(raw *r, const char *text)
{
    unsigned char frame[256] = { 0x81, (unsigned char) (0x80 | strlen(text)), 0, 0, 0, 0 };
    memcpy(frame + 6, text, strlen(text));
    cr_assert_eq(send(r->fd, frame, 6 + strlen(text), MSG_NOSIGNAL), (ssize_t) (6 + strlen(text)));
}

static void raw_free(raw **r)
{
    if (*r && (*r)->fd >= 0)
        close((*r)->fd);
    if (*r)
        free((*r)->buf);
    free(*r);
    *r = NULL;
}

/* n passthrough "notify" events of about 1 KB, numbered from first, to room_<room>, in order. */
static void publish_notifies(const char *room, int first, int n);

/* At most 200 in one request: the API's body limit is 1 MiB by default. */
static void publish_batch(const char *room, int first, int n)
{
    char pad[1001];
    memset(pad, 'x', 1000);
    pad[1000] = '\0';
    size_t cap = (size_t) n * 1200 + 64, len = 0;
    char *body = malloc(cap);
    len += (size_t) snprintf(body, cap, "{\"commands\": [");
    for (int i = 0; i < n; i++)
        len += (size_t) snprintf(body + len, cap - len,
                                 "%s{\"method\": \"broadcast\", \"params\": {\"groups\": [\"room_%s\"],"
                                 " \"event\": {\"action\": \"notify\", \"payload\": {\"n\": %d, \"pad\": \"%s\"}}}}",
                                 i ? ", " : "", room, first + i, pad);
    snprintf(body + len, cap - len, "]}");
    json_t *reply = NULL;
    cr_assert_eq(cx_api_post(stack, "/api/batch", CX_TEST_API_KEY, body, &reply), 200);
    json_decref(reply);
    free(body);
}

static void publish_notifies(const char *room, int first, int n)
{
    for (int done = 0; done < n; done += 200)
        publish_batch(room, first + done, n - done < 200 ? n - done : 200);
}

static int notify_number(const char *text)
{
    json_t *m = json_loads(text, 0, NULL);
    cr_assert_not_null(m, "not JSON: %.80s", text);
    cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "notify", "%.80s", text);
    int n = (int) json_integer_value(json_object_get(json_object_get(m, "payload"), "n"));
    json_decref(m);
    return n;
}

/* ------------------------------------------------------------ the tests */

#define BOUND (256 * 1024)

/* Reads frames at most at_most bytes per pace_ms until the close frame: the events must come 1, 2,
 * 3... with no hole. Returns the close code (0: the stream ended without one); *events, *bytes. */
static int read_to_close(raw *r, size_t at_most, long pace_ms, int *events, size_t *bytes)
{
    int next = 1, opcode = 0;
    size_t len = 0;
    char *payload = NULL;
    *bytes = 0;
    while (next_frame(r, 5000, at_most, &opcode, &payload, &len) && opcode != 8) {
        if (opcode == 1) {
            cr_assert_eq(notify_number(payload), next, "event %d where %d was due: a hole", notify_number(payload), next);
            next++;
            *bytes += len;
        }
        free(payload);
        payload = NULL;
        struct timespec pace = { 0, pace_ms * 1000000L };
        if (pace_ms && r->len < at_most)
            nanosleep(&pace, NULL);
    }
    *events = next - 1;
    int code = opcode == 8 && len >= 2 ? (unsigned char) payload[0] << 8 | (unsigned char) payload[1] : 0;
    free(payload);
    return code;
}

Test(slow_readers, a_reader_that_stops_is_closed_with_1013_at_the_bound_after_a_gap_free_prefix)
{
    start((const char *[]) { "CHANX_MAX_BUFFERED_BYTES=262144", "CHANX_LOG_LEVEL=info", NULL });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    raw *slow = raw_connect("/ws/evt_probe/feed/slow/", alice, 16 * 1024);
    publish_notifies("slow", 1, 1000);   /* 1 MB: four times the bound */
    char *log = cx_stack_log(stack, "gateway0", "client is not reading", 15000);
    cr_assert_not_null(log, "the gateway never closed the client that stopped reading");
    free(log);
    /* now read it all: 1, 2, 3... with no hole, then the close frame with 1013, then the end */
    int events;
    size_t bytes;
    int code = read_to_close(slow, 65536, 0, &events, &bytes);
    cr_assert_eq(code, 1013, "closed with %d after %d events", code, events);
    cr_assert_lt(events, 1000, "every event was taken: the bound was not enforced");
    /* the bound held: what reached the client is the bound plus what its own buffer took */
    cr_assert_leq(bytes, BOUND + 128 * 1024, "%zu bytes were sent past a %d-byte bound", bytes, BOUND);
    char rest;
    cr_assert_leq(recv(slow->fd, &rest, 1, 0), 0, "bytes came after the close frame");
    cr_log_info("%d events (%zu bytes) before the 1013", events, bytes);
    raw_free(&slow);
}

Test(slow_readers, a_slow_reader_closed_at_the_bound_reads_its_1013_however_long_its_backlog_takes)
{
    start((const char *[]) { "CHANX_MAX_BUFFERED_BYTES=262144", "CHANX_LOG_LEVEL=info", NULL });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    raw *slow = raw_connect("/ws/evt_probe/feed/slow/", alice, 16 * 1024);
    publish_notifies("slow", 1, 1000);
    char *log = cx_stack_log(stack, "gateway0", "client is not reading", 15000);
    cr_assert_not_null(log, "the gateway never closed the client that stopped reading");
    free(log);
    /* 1 KB every 20 ms: the backlog ahead of the close frame takes longer than the 3 s a client has
     * to answer a close frame; it keeps reading, so it must still read its code */
    int64_t started = cx_kit_now_ms();
    int events;
    size_t bytes;
    int code = read_to_close(slow, 1024, 20, &events, &bytes);
    int64_t took = cx_kit_now_ms() - started;
    cr_assert_eq(code, 1013, "after %d events and %lld ms: %s", events, (long long) took,
                 code ? "another code" : "the connection ended without a close frame");
    cr_assert_gt(took, 3500, "read in %lld ms: not slower than the close timeout, the test proves nothing",
                 (long long) took);
    raw_free(&slow);
}

Test(slow_readers, a_client_reading_a_backlog_slowly_stays_past_the_ping_timeout_and_gets_everything)
{
    start((const char *[]) { "CHANX_PING_INTERVAL_MS=400", "CHANX_PING_TIMEOUT_MS=600", "CHANX_LOG_LEVEL=info", NULL });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    raw *slow = raw_connect("/ws/evt_probe/feed/slow/", alice, 8 * 1024);
    publish_notifies("slow", 1, 300);   /* 300 KB, far below the 8 MiB bound */
    /* 2 KB every 20 ms at most: 3 s or more of reading, three times interval + timeout, sending nothing */
    int64_t started = cx_kit_now_ms();
    int next = 1, opcode = 0, pings = 0;
    size_t len;
    char *payload = NULL;
    while (next <= 300 && next_frame(slow, 5000, 2048, &opcode, &payload, &len)) {
        cr_assert_neq(opcode, 8, "closed after %d events and %lld ms", next - 1, (long long) (cx_kit_now_ms() - started));
        if (opcode == 1)
            cr_assert_eq(notify_number(payload), next++, "a hole before event %d", next);
        pings += opcode == 9;
        free(payload);
        payload = NULL;
        struct timespec pace = { 0, 20 * 1000000L };
        if (slow->len < 2048)
            nanosleep(&pace, NULL);
    }
    int64_t took = cx_kit_now_ms() - started;
    cr_assert_eq(next, 301, "dropped after %d events and %lld ms of reading", next - 1, (long long) took);
    cr_assert_gt(took, 1000, "read in %lld ms: not slower than the ping timeout, the test proves nothing",
                 (long long) took);
    /* still connected, not dropped behind what it was reading (a dropped socket still delivers what
     * the kernel held, so ask): a message gets its answer, and the gateway dropped nobody */
    raw_send(slow, "{\"action\":\"count\"}");
    int answered = 0;
    while (!answered && next_frame(slow, 5000, 65536, &opcode, &payload, &len)) {
        cr_assert_neq(opcode, 8, "closed");
        answered = opcode == 1 && strstr(payload, "\"count\"") != NULL;
        free(payload);
        payload = NULL;
    }
    cr_assert(answered, "dropped while it read (no answer to a message after %lld ms)", (long long) took);
    cr_assert_eq(cx_stack_log_count(stack, "gateway0", "no answer to a ping"), 0);
    cr_log_info("read 300 events in %lld ms, %d pings among them", (long long) took, pings);
    raw_free(&slow);
}

Test(slow_readers, a_client_that_resets_its_connection_is_counted_as_1006)
{
    start((const char *[]) { NULL });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    raw *c = raw_connect("/ws/evt_probe/feed/reset/", alice, 4 * 1024);
    publish_notifies("reset", 1, 200);   /* a backlog the gateway is writing when the reset comes */
    struct linger reset = { 1, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(c->fd);   /* RST, with unread bytes too */
    c->fd = -1;
    publish_notifies("reset", 201, 50);
    double closes = 0;
    char *text = NULL;
    for (int64_t until = cx_kit_now_ms() + 10000; cx_kit_now_ms() < until; usleep(100 * 1000)) {
        free(text);
        text = cx_stack_metrics(stack, "gateway0");
        closes = cx_metric_value(text, "chanx_gateway_closes_total{code=\"1006\"}") ;
        if (closes == 1 || cx_metric_value(text, "chanx_gateway_closes_total{code=\"1011\"}") >= 1)
            break;
    }
    double wrong = cx_metric_value(text, "chanx_gateway_closes_total{code=\"1011\"}");
    cr_assert(wrong != wrong || wrong == 0, "the reset was counted as 1011");
    cr_assert_eq(closes, 1, "the reset was not counted as 1006");
    free(text);
    raw_free(&c);
}
