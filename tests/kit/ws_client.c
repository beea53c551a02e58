/*
 * ws_client — blocking WebSocket client over libwebsockets 4.1 (see .h).
 *
 * Design notes (the why):
 *  - lws is callback driven; we invert it with service_until(): run
 *    lws_service() until a predicate on our own state holds or a deadline
 *    passes. lws 4.1 ignores lws_service()'s timeout argument and sleeps until
 *    its next scheduled event, so each wait arms an lws "sul" timer at the
 *    deadline purely to wake the poll. The timer's callback also cancels the
 *    service: lws fires timers that are already ripe *before* computing its
 *    poll timeout from the next one, so a timer ripening just as we call
 *    lws_service() would otherwise leave us asleep until some unrelated
 *    lws timer (~30 s later, seen in practice).
 *  - Connection state is only changed by callbacks, never guessed by callers.
 *    The close code comes from LWS_CALLBACK_WS_PEER_INITIATED_CLOSE (first two
 *    bytes of the close payload, network order); a CLIENT_CLOSED without it
 *    means the TCP connection dropped: 1006, as browsers report it.
 *  - The refused-upgrade status: lws 4.1.6 parses the server's status line,
 *    raises LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP, then, seeing no 101, raises
 *    LWS_CALLBACK_CLIENT_CONNECTION_ERROR ("HS: ws upgrade response not 101",
 *    which does not carry the code). The header table is still attached in
 *    both, so lws_http_client_http_response() is read in the first and, if
 *    that was missed, in the second. No answer at all leaves it 0.
 *  - Contexts must stay cheap, a test may open hundreds: a small
 *    fd_limit_per_thread (lws otherwise sizes its tables by the process fd
 *    limit) and no TLS setup unless the URL is wss (see context_new).
 */
#include "ws_client.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FLUSH_TIMEOUT_MS 10000
#define CLOSE_WAIT_MS 1000
/* Tests of limits send paths far longer than any browser would: the URL and
 * lws's per-context buffer (which holds the whole upgrade request) take 32 KiB. */
#define MAX_URL 32768

typedef enum { CX_CONNECTING, CX_OPEN, CX_CLOSED, CX_FAILED } cx_state_t;

/* A queued message. Outgoing ones keep LWS_PRE bytes of headroom before the
 * payload, as lws_write() requires; incoming ones own a malloc'd string that
 * is handed to the caller as is. */
typedef struct msg {
    struct msg *next;
    size_t len;
    int binary;
    char *data;               /* incoming only */
    unsigned char buf[];      /* outgoing only: LWS_PRE + len */
} msg_t;

typedef struct {
    msg_t *head, *tail;
    size_t count;
} fifo_t;

/* A deadline timer bound to its context (sul first, so the cast is valid). */
typedef struct {
    lws_sorted_usec_list_t sul;
    struct lws_context *context;
} waker_t;

struct cx_ws {
    struct lws_context *context;
    struct lws *wsi;
    cx_state_t state;
    int http_status;
    int close_code;
    char close_reason[124];   /* the server's close frame's reason (RFC 6455: at most 123 bytes) */
    int local_close;          /* code we asked to close with, 0 if none */
    const char *const *headers;   /* only valid during cx_ws_connect */
    char *offers;             /* a Sec-WebSocket-Protocol header's value: lws sends and checks it */
    char subprotocol[64];     /* what the server chose, "" for none */
    fifo_t rx, tx;
    char *frag;               /* message being reassembled */
    size_t frag_len, frag_cap;
    int frag_binary;
    char error[128];
    waker_t wake;
};

/* ---- plumbing ---------------------------------------------------------- */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void fifo_push(fifo_t *f, msg_t *m)
{
    m->next = NULL;
    if (f->tail)
        f->tail->next = m;
    else
        f->head = m;
    f->tail = m;
    f->count++;
}

static msg_t *fifo_pop(fifo_t *f)
{
    msg_t *m = f->head;
    if (!m)
        return NULL;
    f->head = m->next;
    if (!f->head)
        f->tail = NULL;
    f->count--;
    return m;
}

static void fifo_clear(fifo_t *f)
{
    msg_t *m;
    while ((m = fifo_pop(f))) {
        free(m->data);
        free(m);
    }
}

static int s_debug;   /* CX_WS_DEBUG: lws logs plus a trace of our callbacks */

static void set_log_level(void)
{
    s_debug = getenv("CX_WS_DEBUG") != NULL;
    if (s_debug)
        lws_set_log_level(LLL_ERR | LLL_WARN | LLL_NOTICE | LLL_INFO, NULL);
    else
        lws_set_log_level(0, NULL);
}

/* TLS is only initialised for wss: it makes each context load the system CA
 * store, measured at ~25 ms and ~14 MB per client, which would turn a test
 * opening a few hundred plain ws clients into gigabytes. */
static struct lws_context *context_new(const struct lws_protocols *protocols,
                                       void *user, int tls)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = user;
    /* A client needs its socket and lws's cancel pipe; leave headroom. */
    info.fd_limit_per_thread = 16;
    info.pt_serv_buf_size = MAX_URL + 4096;
    info.options = tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    return lws_create_context(&info);
}

/* Splits url into connect info; the strings point into `scratch`. */
typedef struct {
    char scratch[MAX_URL];
    char path[MAX_URL];
    char host[300];
} url_parts_t;

static int parse_url(const char *url, url_parts_t *u, struct lws_client_connect_info *ci)
{
    const char *prot, *address, *path;
    int port;
    if (snprintf(u->scratch, sizeof u->scratch, "%s", url) >= (int) sizeof u->scratch)
        return -1;
    if (lws_parse_uri(u->scratch, &prot, &address, &port, &path) || !*address)
        return -1;
    int tls = !strcmp(prot, "wss") || !strcmp(prot, "https");
    if (!tls && strcmp(prot, "ws") && strcmp(prot, "http"))
        return -1;
    snprintf(u->path, sizeof u->path, "/%s", path);
    snprintf(u->host, sizeof u->host, "%s:%d", address, port);
    ci->address = address;
    ci->port = port;
    ci->path = u->path;
    ci->host = u->host;
    ci->ssl_connection = tls ? LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
                               LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK : 0;
    return 0;
}

static int is_protocol_header(const char *header)
{
    return strncasecmp(header, "Sec-WebSocket-Protocol:", 23) == 0;
}

/* Writes the caller's "Name: value" lines into the upgrade request; Sec-WebSocket-Protocol is lws's
 * to send (it must check the server's answer against the offers), see cx_ws_connect. */
static int append_headers(const char *const *headers, unsigned char **p, size_t room)
{
    for (; headers && *headers; headers++) {
        if (is_protocol_header(*headers))
            continue;
        size_t n = strlen(*headers);
        if (n + 2 > room)
            return -1;
        memcpy(*p, *headers, n);
        memcpy(*p + n, "\r\n", 2);
        *p += n + 2;
        room -= n + 2;
    }
    return 0;
}

static msg_t *out_msg_new(const void *data, size_t len, int binary)
{
    msg_t *m = malloc(sizeof *m + LWS_PRE + len);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->len = len;
    m->binary = binary;
    memcpy(m->buf + LWS_PRE, data, len);
    return m;
}

static int write_msg(struct lws *wsi, msg_t *m)
{
    int mode = m->binary ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
    return lws_write(wsi, m->buf + LWS_PRE, m->len, mode) < (int) m->len ? -1 : 0;
}

static void on_wake(lws_sorted_usec_list_t *sul)
{
    lws_cancel_service(((waker_t *) sul)->context);
}

/* ---- single client: callbacks ------------------------------------------ */

static void fail(cx_ws *self, struct lws *wsi, const void *why, size_t len)
{
    self->state = CX_FAILED;
    /* Status of a refused upgrade; the header table is still attached here. */
    if (wsi && !self->http_status)
        self->http_status = (int) lws_http_client_http_response(wsi);
    snprintf(self->error, sizeof self->error, "%.*s", why ? (int) len : 0,
             why ? (const char *) why : "");
}

/* Appends a chunk to the message being reassembled; a finished message's
 * buffer is handed to the FIFO as is (no copy of big frames). */
static int on_receive(cx_ws *self, struct lws *wsi, const void *in, size_t len)
{
    if (lws_is_first_fragment(wsi)) {
        self->frag_len = 0;
        self->frag_binary = lws_frame_is_binary(wsi);
    }
    if (self->frag_len + len + 1 > self->frag_cap) {
        size_t cap = self->frag_cap ? self->frag_cap : 4096;
        while (cap < self->frag_len + len + 1)
            cap *= 2;
        char *frag = realloc(self->frag, cap);
        if (!frag)
            return -1;
        self->frag = frag;
        self->frag_cap = cap;
    }
    memcpy(self->frag + self->frag_len, in, len);
    self->frag_len += len;
    if (!lws_is_final_fragment(wsi))
        return 0;
    msg_t *m = calloc(1, sizeof *m);
    if (!m)
        return -1;
    self->frag[self->frag_len] = 0;
    char *exact = realloc(self->frag, self->frag_len + 1);   /* shrink only */
    m->data = exact ? exact : self->frag;
    m->len = self->frag_len;
    m->binary = self->frag_binary;
    fifo_push(&self->rx, m);
    self->frag = NULL;
    self->frag_len = self->frag_cap = 0;
    return 0;
}

static int on_writeable(cx_ws *self, struct lws *wsi)
{
    if (self->local_close) {
        lws_close_reason(wsi, (enum lws_close_status) self->local_close, NULL, 0);
        return -1;   /* lws sends the close frame and awaits the peer's */
    }
    msg_t *m = fifo_pop(&self->tx);
    if (!m)
        return 0;
    int rc = write_msg(wsi, m);
    free(m);
    if (self->tx.head)
        lws_callback_on_writable(wsi);
    return rc;
}

static void on_closed(cx_ws *self)
{
    if (self->state == CX_CONNECTING)
        self->state = CX_FAILED;
    else
        self->state = CX_CLOSED;
    if (!self->close_code)
        self->close_code = self->local_close ? self->local_close : 1006;
    fifo_clear(&self->tx);
}

static int callback_client(struct lws *wsi, enum lws_callback_reasons reason,
                           void *user, void *in, size_t len)
{
    cx_ws *self = lws_get_opaque_user_data(wsi);
    if (!self)
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    if (s_debug)
        fprintf(stderr, "cx_ws %p: callback %d len %zu\n", (void *) self, reason, len);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        return append_headers(self->headers, in, len);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        fail(self, wsi, in, len);
        return 0;
    case LWS_CALLBACK_ESTABLISHED_CLIENT_HTTP:
        self->http_status = (int) lws_http_client_http_response(wsi);
        if (lws_hdr_copy(wsi, self->subprotocol, sizeof self->subprotocol, WSI_TOKEN_PROTOCOL) < 0)
            self->subprotocol[0] = '\0';
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        self->state = CX_OPEN;
        self->http_status = 101;
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        return on_receive(self, wsi, in, len);
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(self, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        /* payload: 2-byte code in network order, then the reason text */
        self->close_code = len >= 2 ? ((const unsigned char *) in)[0] << 8 |
                                      ((const unsigned char *) in)[1] : 1005;
        if (len > 2)
            snprintf(self->close_reason, sizeof self->close_reason, "%.*s", (int) (len - 2), (const char *) in + 2);
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        on_closed(self);
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (self->wsi == wsi)
            self->wsi = NULL;
        if (self->state == CX_CONNECTING || self->state == CX_OPEN)
            on_closed(self);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols s_client_protocols[] = {
    { "cx-ws-client", callback_client, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* ---- single client: the blocking layer --------------------------------- */

typedef int (*predicate_t)(const void *arg);

/* Services ctx until done(arg) or the deadline; returns done(arg). */
static int service_until(struct lws_context *ctx, waker_t *wake,
                         predicate_t done, const void *arg, int timeout_ms)
{
    int64_t deadline = now_us() + (int64_t) (timeout_ms > 0 ? timeout_ms : 0) * 1000;
    while (!done(arg)) {
        int64_t left = deadline - now_us();
        if (left <= 0)
            break;
        wake->context = ctx;
        lws_sul_schedule(ctx, 0, &wake->sul, on_wake, left);
        if (lws_service(ctx, 0) < 0)
            break;
    }
    lws_sul_cancel(&wake->sul);
    return done(arg);
}

/* The single client's waits, all on its own context. */
static int wait_for(cx_ws *self, predicate_t done, int timeout_ms)
{
    return service_until(self->context, &self->wake, done, self, timeout_ms);
}

static int handshake_done(const void *arg)
{
    const cx_ws *self = arg;
    return self->state != CX_CONNECTING;
}

static int ended(const void *arg)
{
    const cx_ws *self = arg;
    return self->state == CX_CLOSED || self->state == CX_FAILED;
}

static int flushed(const void *arg)
{
    const cx_ws *self = arg;
    return ended(self) || (!self->tx.head && self->wsi && !lws_partial_buffered(self->wsi));
}

static int has_message(const void *arg)
{
    const cx_ws *self = arg;
    return self->rx.head || ended(self);
}

static int wsi_gone(const void *arg)
{
    const cx_ws *self = arg;
    return self->wsi == NULL;
}

/* Drops the connection now, without ceremony (used after a timeout). */
static void kill_wsi(cx_ws *self)
{
    if (self->wsi) {
        lws_set_timeout(self->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_SYNC);
        self->wsi = NULL;
    }
    if (!ended(self))
        on_closed(self);
}

cx_ws *cx_ws_connect(const char *url, const char *const *headers, int timeout_ms)
{
    struct lws_client_connect_info ci;
    url_parts_t *u = malloc(sizeof *u);
    cx_ws *self = calloc(1, sizeof *self);
    memset(&ci, 0, sizeof ci);
    if (!u || !self || parse_url(url, u, &ci))
        goto fail;
    set_log_level();
    self->context = context_new(s_client_protocols, self, ci.ssl_connection != 0);
    if (!self->context)
        goto fail;
    self->headers = headers;
    for (const char *const *h = headers; h && *h; h++)
        if (is_protocol_header(*h) && !self->offers)
            self->offers = strdup(*h + 23 + strspn(*h + 23, " \t"));
    ci.protocol = self->offers;
    ci.context = self->context;
    ci.opaque_user_data = self;
    ci.pwsi = &self->wsi;
    ci.ietf_version_or_minus_one = -1;
    if (!lws_client_connect_via_info(&ci) && self->state == CX_CONNECTING)
        fail(self, NULL, "connect failed", 14);
    wait_for(self, handshake_done, timeout_ms);
    if (self->state == CX_CONNECTING) {
        snprintf(self->error, sizeof self->error, "timeout");
        kill_wsi(self);
        self->state = CX_FAILED;
    }
    self->headers = NULL;
    free(u);
    return self;
fail:
    free(u);
    cx_ws_destroy(&self);
    return NULL;
}

int cx_ws_is_open(const cx_ws *self)
{
    return self && self->state == CX_OPEN;
}

int cx_ws_http_status(const cx_ws *self)
{
    return self ? self->http_status : 0;
}

const char *cx_ws_subprotocol(const cx_ws *self)
{
    return self ? self->subprotocol : "";
}

const char *cx_ws_error(const cx_ws *self)
{
    return self ? self->error : "";
}

static int send_msg(cx_ws *self, const void *data, size_t len, int binary)
{
    if (!cx_ws_is_open(self) || !self->wsi)
        return -1;
    msg_t *m = out_msg_new(data, len, binary);
    if (!m)
        return -1;
    fifo_push(&self->tx, m);
    lws_callback_on_writable(self->wsi);
    if (!wait_for(self, flushed, FLUSH_TIMEOUT_MS))
        return -1;
    return self->state == CX_OPEN ? 0 : -1;
}

int cx_ws_send_text(cx_ws *self, const char *text, size_t len)
{
    return send_msg(self, text, len, 0);
}

int cx_ws_send_binary(cx_ws *self, const void *data, size_t len)
{
    return send_msg(self, data, len, 1);
}

char *cx_ws_recv(cx_ws *self, int timeout_ms, size_t *len, int *is_binary)
{
    if (!self)
        return NULL;
    if (!self->rx.head && !ended(self))
        wait_for(self, has_message, timeout_ms);
    msg_t *m = fifo_pop(&self->rx);
    if (!m)
        return NULL;
    char *data = m->data;
    if (len)
        *len = m->len;
    if (is_binary)
        *is_binary = m->binary;
    free(m);
    return data;
}

char *cx_ws_recv_text(cx_ws *self, int timeout_ms, size_t *len)
{
    return cx_ws_recv(self, timeout_ms, len, NULL);
}

size_t cx_ws_pending(const cx_ws *self)
{
    return self ? self->rx.count : 0;
}

int cx_ws_wait_closed(cx_ws *self, int timeout_ms, int *close_code)
{
    if (!self || !wait_for(self, ended, timeout_ms))
        return 0;
    if (close_code)
        *close_code = self->close_code ? self->close_code : 1006;
    return 1;
}

int cx_ws_is_closed(const cx_ws *self)
{
    return !self || ended(self);
}

int cx_ws_close_code(const cx_ws *self)
{
    return self ? self->close_code : 0;
}

const char *cx_ws_close_reason(const cx_ws *self)
{
    return self ? self->close_reason : "";
}

void cx_ws_close(cx_ws *self, int code)
{
    if (!cx_ws_is_open(self) || !self->wsi)
        return;
    self->local_close = code;
    lws_callback_on_writable(self->wsi);
    /* Wait for the wsi to go: that is after the server's close frame (or
     * lws's own close-ack timeout), so the server saw a clean close. */
    if (!wait_for(self, wsi_gone, CLOSE_WAIT_MS))
        kill_wsi(self);
}

void cx_ws_destroy(cx_ws **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_ws *self = *self_p;
    cx_ws_close(self, 1000);
    if (self->context) {
        lws_sul_cancel(&self->wake.sul);
        lws_context_destroy(self->context);
    }
    fifo_clear(&self->rx);
    fifo_clear(&self->tx);
    free(self->frag);
    free(self->offers);
    free(self);
    *self_p = NULL;
}

