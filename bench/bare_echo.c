/*
 * bare_echo — the ceiling the Chanx tier is benchmarked against.
 *
 * Design: this is deliberately the least a libwebsockets server can do while
 * speaking the same wire protocol as a Chanx consumer's ping handler: one
 * process, one lws service thread, no broker, no JSON library. Whatever the
 * gateway -> broker -> worker path costs shows up as the gap to this number.
 *
 * To keep the hot path allocation-free each session owns one output buffer
 * that only ever grows: replies are appended to it as records
 * [header][LWS_PRE][payload] and drained one lws_write() per WRITEABLE
 * callback (the lws rule). Incoming frames are assembled directly into the
 * next record's payload slot, so an echo costs no copy at all and a ping only
 * overwrites the slot with the constant pong. While replies are pending we
 * switch off rx flow, so a client bursting faster than it reads is throttled
 * by TCP instead of growing our buffer without bound.
 *
 * It doubles as the fixture of the ws client selftest, hence extras that cost
 * nothing on the hot path: paths starting with /missing are refused with
 * HTTP 404, /auth needs "Authorization: Bearer ok" or gets 403, text
 * "close:NNNN" makes us close with code NNNN, "big:N" answers a text message
 * of N bytes and "frag:N" one message sent as N frames.
 *
 * Refusing an upgrade with a chosen HTTP status in lws 4.1.6 (the gateway
 * needs the same trick for 404/503): handle LWS_CALLBACK_HTTP_CONFIRM_UPGRADE
 * in the protocol that owns the HTTP side (protocols[0] here; headers and URI
 * are readable with lws_hdr_copy), lws_write() a complete response head with
 * LWS_WRITE_HTTP_HEADERS and return 1. Returning >0 means "answered, do not
 * upgrade" and lws closes the connection once it is sent; returning <0 only
 * hangs up (the client then sees no status at all). lws_return_http_status()
 * also works but answers "HTTP/1.0 ..." there, which Python websockets
 * rejects; see refuse_upgrade().
 */
#include <libwebsockets.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PONG "{\"action\":\"pong\",\"payload\":null}"

/* One queued reply; the payload follows LWS_PRE bytes after the header. */
typedef struct {
    size_t len;
    int mode;             /* lws_write_protocol flags */
} record_t;

#define RECORD_HEAD (sizeof(record_t) + LWS_PRE)
/* Keep records aligned so the header can be read in place. */
#define RECORD_SIZE(n) (((RECORD_HEAD + (n)) + 7) & ~(size_t)7)

typedef struct {
    unsigned char *buf;   /* records, [head, tail) pending, growing at tail */
    size_t cap;
    size_t head;
    size_t tail;
    size_t rx_len;        /* bytes of the message being assembled at tail */
    int close_code;       /* nonzero: close once the queue is drained */
    int rx_paused;
} session_t;

static volatile sig_atomic_t s_interrupted;
static struct lws_context *s_context;

static int reserve(session_t *s, size_t need)
{
    if (s->tail + need <= s->cap)
        return 0;
    size_t cap = s->cap ? s->cap : 8192;
    while (cap < s->tail + need)
        cap *= 2;
    unsigned char *buf = realloc(s->buf, cap);
    if (!buf)
        return -1;
    s->buf = buf;
    s->cap = cap;
    return 0;
}

static record_t *record_at(session_t *s, size_t off)
{
    return (record_t *) (s->buf + off);
}

static unsigned char *payload_at(session_t *s, size_t off)
{
    return s->buf + off + RECORD_HEAD;
}

/* Appends rx bytes to the message being assembled in the slot at tail. */
static int assemble(session_t *s, const void *in, size_t len)
{
    if (reserve(s, RECORD_SIZE(s->rx_len + len)))
        return -1;
    memcpy(payload_at(s, s->tail) + s->rx_len, in, len);
    s->rx_len += len;
    return 0;
}

/* Commits the slot at tail as a reply of len bytes (payload already there). */
static void commit(session_t *s, size_t len, int mode)
{
    record_t *r = record_at(s, s->tail);
    r->len = len;
    r->mode = mode;
    s->tail += RECORD_SIZE(len);
    s->rx_len = 0;
}

/* Cheap test for {"action":"ping"...}: good enough for the bench protocol,
 * and avoids a JSON parser on the path we are measuring. */
static int is_ping(const unsigned char *p, size_t len)
{
    static const char key[] = "\"action\"";
    const unsigned char *k = memmem(p, len, key, sizeof key - 1);
    if (!k || p[0] != '{')
        return 0;
    const unsigned char *end = p + len;
    k += sizeof key - 1;
    while (k < end && (*k == ' ' || *k == ':' || *k == '\t'))
        k++;
    return end - k >= 6 && !memcmp(k, "\"ping\"", 6);
}

/* Queues a reply of n copies of c, as one frame or, for "frag:", as n
 * one-byte frames of a single message (exercises client reassembly). */
static int queue_filler(session_t *s, size_t n, int fragmented)
{
    if (!fragmented) {
        if (reserve(s, RECORD_SIZE(n)))
            return -1;
        memset(payload_at(s, s->tail), 'x', n);
        commit(s, n, LWS_WRITE_TEXT);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        int mode = i ? LWS_WRITE_CONTINUATION : LWS_WRITE_TEXT;
        if (i + 1 < n)
            mode |= LWS_WRITE_NO_FIN;
        if (reserve(s, RECORD_SIZE(1)))
            return -1;
        *payload_at(s, s->tail) = (unsigned char) ('a' + i % 26);
        commit(s, 1, mode);
    }
    return 0;
}

/* Selftest commands: "close:CODE", "big:N", "frag:N". Returns 1 if handled. */
static int run_command(session_t *s, const unsigned char *p, size_t len, int *rc)
{
    char cmd[32];
    if (len >= sizeof cmd || len < 5 || !memchr(p, ':', len))
        return 0;
    memcpy(cmd, p, len);
    cmd[len] = 0;
    char *arg = strchr(cmd, ':') + 1;
    if (!strncmp(cmd, "close:", 6))
        s->close_code = atoi(arg);
    else if (!strncmp(cmd, "big:", 4) || !strncmp(cmd, "frag:", 5))
        *rc = queue_filler(s, strtoul(arg, NULL, 10), cmd[0] == 'f');
    else
        return 0;
    return 1;
}

/* Turns the assembled text message into its reply; returns 0 or -1 (oom). */
static int answer_text(session_t *s)
{
    unsigned char *p = payload_at(s, s->tail);
    size_t len = s->rx_len;
    int rc = 0;
    if (p[0] != '{') {
        char head[32];
        /* copy out: queue_filler may move the buffer under p */
        size_t n = len < sizeof head ? len : sizeof head;
        memcpy(head, p, n);
        s->rx_len = 0;
        if (run_command(s, (unsigned char *) head, len, &rc))
            return rc;
        s->rx_len = len;
    } else if (is_ping(p, len)) {
        memcpy(p, PONG, sizeof PONG - 1);
        len = sizeof PONG - 1;
    }
    commit(s, len, LWS_WRITE_TEXT);
    return 0;
}

static int on_receive(struct lws *wsi, session_t *s, void *in, size_t len)
{
    if (s->close_code)
        return 0;   /* closing: ignore whatever the peer still sends */
    if (assemble(s, in, len))
        return -1;
    if (!lws_is_final_fragment(wsi))
        return 0;
    if (lws_frame_is_binary(wsi))
        commit(s, s->rx_len, LWS_WRITE_BINARY);
    else if (answer_text(s))
        return -1;
    if (s->head == s->tail && !s->close_code)
        return 0;
    if (!s->rx_paused) {
        lws_rx_flow_control(wsi, 0);
        s->rx_paused = 1;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

static int on_writeable(struct lws *wsi, session_t *s)
{
    if (s->head < s->tail) {
        record_t *r = record_at(s, s->head);
        size_t len = r->len;
        if (lws_write(wsi, payload_at(s, s->head), len, r->mode) < (int) len)
            return -1;
        s->head += RECORD_SIZE(len);
    }
    if (s->head < s->tail) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    /* Drained: rewind, keeping any partial message assembled meanwhile. */
    if (s->rx_len)
        memmove(s->buf, s->buf + s->tail, RECORD_HEAD + s->rx_len);
    s->head = s->tail = 0;
    if (s->close_code) {
        lws_close_reason(wsi, (enum lws_close_status) s->close_code, NULL, 0);
        return -1;
    }
    if (s->rx_paused) {
        s->rx_paused = 0;
        lws_rx_flow_control(wsi, 1);
    }
    return 0;
}

/* Refuses a WebSocket upgrade with an HTTP status (see the header comment).
 * lws_return_http_status() would do, but at CONFIRM_UPGRADE time lws has not
 * yet recorded the request's HTTP version, so it answers "HTTP/1.0 404",
 * which strict clients (Python websockets: "did not receive a valid HTTP
 * response") reject. Writing the status line ourselves gives HTTP/1.1. */
static int refuse_upgrade(struct lws *wsi, int status, const char *reason)
{
    unsigned char buf[LWS_PRE + 192];
    int n = snprintf((char *) buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %d %s\r\ncontent-length: 0\r\n"
                     "connection: close\r\n\r\n", status, reason);
    if (lws_write(wsi, buf + LWS_PRE, (size_t) n, LWS_WRITE_HTTP_HEADERS) != n)
        return -1;   /* <0: lws just hangs up */
    return 1;        /* >0: answered, do not upgrade; lws closes after */
}

/* Selftest hooks, off the hot path: /missing* is refused with 404, /auth*
 * with 403 unless the upgrade carried "Authorization: Bearer ok" (proves the
 * client's extra headers reach the server). */
static int confirm_upgrade(struct lws *wsi)
{
    char path[256], auth[64];
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) < 0)
        path[0] = 0;
    if (!strncmp(path, "/missing", 8))
        return refuse_upgrade(wsi, 404, "Not Found");
    if (strncmp(path, "/auth", 5))
        return 0;
    if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        auth[0] = 0;
    return strcmp(auth, "Bearer ok") ? refuse_upgrade(wsi, 403, "Forbidden") : 0;
}

static int callback_echo(struct lws *wsi, enum lws_callback_reasons reason,
                         void *user, void *in, size_t len)
{
    session_t *s = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi);
    case LWS_CALLBACK_HTTP:
        /* Plain HTTP: this server only speaks WebSocket. */
        if (lws_return_http_status(wsi, 426 /* Upgrade Required */, NULL))
            return -1;
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_ESTABLISHED:
        memset(s, 0, sizeof *s);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return on_receive(wsi, s, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(wsi, s);
    case LWS_CALLBACK_CLOSED:
        free(s->buf);
        s->buf = NULL;
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols s_protocols[] = {
    /* First protocol: takes HTTP and any upgrade without a subprotocol. */
    { "bare-echo", callback_echo, sizeof(session_t), 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void on_signal(int sig)
{
    (void) sig;
    s_interrupted = 1;
    /* Wakes the poll() so the loop notices; only writes to lws's pipe. */
    if (s_context)
        lws_cancel_service(s_context);
}

static int parse_port(int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--port"))
            return atoi(argv[i + 1]);
    return -1;
}

int main(int argc, char **argv)
{
    int port = parse_port(argc, argv);
    if (port < 0 || port > 65535) {
        fprintf(stderr, "usage: %s --port N\n", argv[0]);
        return 2;
    }
    lws_set_log_level(getenv("CX_WS_DEBUG") ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR, NULL);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = port;
    info.protocols = s_protocols;
    info.count_threads = 1;
    /* lws installs its own SIGPIPE handling only if asked; a dead peer must
     * not kill the benchmark limit. */
    signal(SIGPIPE, SIG_IGN);

    s_context = lws_create_context(&info);
    if (!s_context) {
        fprintf(stderr, "bare_echo: cannot listen on port %d\n", port);
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    printf("listening on %d\n", port);
    fflush(stdout);
    while (!s_interrupted)
        if (lws_service(s_context, 0) < 0)
            break;
    lws_context_destroy(s_context);
    s_context = NULL;
    return 0;
}
