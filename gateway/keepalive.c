/*
 * keepalive.c — the gateway side of keepalive.h: one libuv timer sweeps
 * the idle wheel every slot (a sixteenth of the interval, at most a second).
 *
 * The ping is written raw, like every frame the outbox writes (outbox.c):
 * between loop turns the socket is at a frame boundary unless lws still
 * holds part of a send, and then the ping is skipped: a client that is not
 * reading our data will not read our ping either, and its timeout runs all
 * the same, so a client whose link vanished under a full socket buffer is
 * dropped too. No ping follows our close frame (RFC 6455 5.5.1).
 *
 * A client counts as active when it sends anything, pings and empty pongs
 * included, or reads a backlog we hold for it: the wheel's probe asks the
 * kernel (tcp_peer.h) before pinging or dropping a client that looks quiet,
 * one getsockopt per quiet interval, never per frame.
 *
 * A dead client is killed asynchronously (LWS_TO_KILL_ASYNC): lws then runs
 * LWS_CALLBACK_CLOSED, where the gateway tells the broker DISCONNECT with
 * 1006 (no close frame was received) exactly as for a dropped link.
 */
#include "gateway/keepalive.h"
#include "common/env.h"
#include "common/log.h"
#include "gateway/session.h"
#include "gateway/tcp_peer.h"

#include <stdlib.h>
#include <string.h>

/* The ping carries a payload because the pong echoes it (RFC 6455 5.5.3) and lws 4.1 swallows an
 * empty pong without LWS_CALLBACK_RECEIVE_PONG: a client answering an empty ping would look dead. */
static const char PING_PAYLOAD[] = "chanx";

struct cx_keepalive {
    uv_timer_t timer;
    cx_idle_wheel *wheel;
    int64_t interval_ms, timeout_ms;
};

static cx_session *session_of(cx_idle_entry *e)
{
    return (cx_session *) ((char *) e - offsetof(cx_session, idle));
}

static void on_idle(cx_idle_entry *e, cx_idle_event event, void *arg)
{
    cx_keepalive *self = arg;
    cx_session *s = session_of(e);
    if (event == CX_IDLE_PING) {
        unsigned char frame[LWS_PRE + 2 + sizeof PING_PAYLOAD - 1];
        frame[LWS_PRE] = 0x89;   /* FIN + ping */
        frame[LWS_PRE + 1] = sizeof PING_PAYLOAD - 1;
        memcpy(frame + LWS_PRE + 2, PING_PAYLOAD, sizeof PING_PAYLOAD - 1);
        if (!s->close_code && !lws_partial_buffered(s->wsi)) {   /* nothing after a close decision */
            lws_write(s->wsi, frame + LWS_PRE, sizeof frame - LWS_PRE, LWS_WRITE_RAW);
            s->unacked += sizeof frame - LWS_PRE;   /* the outbox's estimate stays an upper bound */
        }
        return;
    }
    cx_info("dropping connection %llu: no answer to a ping for %lld ms after %lld ms of silence",
            (unsigned long long) s->id, (long long) self->timeout_ms, (long long) self->interval_ms);
    s->state = SESSION_CLOSING;
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Activity lws never reports, read from the kernel when a client looks quiet: its pings and empty
 * pongs (lws answers or swallows them without a callback), and, for a slow reader working through a
 * backlog (bytes wait for its window), our bytes it acknowledges, although it sends nothing while it
 * reads: the backlog bound (outbox.c), not the ping, decides such a client's fate. A client that
 * only acknowledges our ping is not counted: its kernel does that even when its application hangs.
 * The first look at a connection only takes the baseline. */
static int probe(cx_idle_entry *e, void *arg)
{
    (void) arg;
    cx_session *s = session_of(e);
    cx_tcp_progress now;
    if (cx_tcp_progress_read(lws_get_socket_fd(s->wsi), &now) != 0)
        return 0;
    int known = s->peer_baseline;
    int sent = now.received > s->peer_received;
    int reading = now.acked > s->peer_acked && (now.notsent > 0 || s->out.head || lws_partial_buffered(s->wsi));
    s->peer_acked = now.acked;
    s->peer_received = now.received;
    s->peer_baseline = 1;
    return known && (sent || reading);
}

static void on_timer(uv_timer_t *timer)
{
    cx_keepalive *self = timer->data;
    cx_idle_wheel_sweep(self->wheel, (int64_t) uv_now(timer->loop), on_idle, self);
}

cx_keepalive *cx_keepalive_new(uv_loop_t *loop, int *disabled)
{
    int64_t interval = cx_env_long("CHANX_PING_INTERVAL_MS", 20000, 0, 86400000L);
    int64_t timeout = cx_env_long("CHANX_PING_TIMEOUT_MS", 30000, 1, 86400000L);
    *disabled = interval == 0;
    if (*disabled)
        return NULL;
    cx_keepalive *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->interval_ms = interval;
    self->timeout_ms = timeout;
    self->wheel = cx_idle_wheel_new(interval, timeout, (int64_t) uv_now(loop));
    if (!self->wheel) {
        free(self);
        return NULL;
    }
    cx_idle_wheel_set_probe(self->wheel, probe);
    uv_timer_init(loop, &self->timer);
    self->timer.data = self;
    uint64_t every = (uint64_t) cx_idle_wheel_granularity(self->wheel);
    uv_timer_start(&self->timer, on_timer, every, every);
    return self;
}

static void free_after_close(uv_handle_t *handle)
{
    cx_keepalive *self = handle->data;
    cx_idle_wheel_destroy(&self->wheel);
    free(self);
}

void cx_keepalive_destroy(cx_keepalive **self_p)
{
    if (!self_p || !*self_p)
        return;
    uv_close((uv_handle_t *) &(*self_p)->timer, free_after_close);
    *self_p = NULL;
}

void cx_keepalive_add(cx_keepalive *self, cx_session *s)
{
    if (self)
        cx_idle_wheel_add(self->wheel, &s->idle, (int64_t) uv_now(self->timer.loop));
}

void cx_keepalive_remove(cx_keepalive *self, cx_session *s)
{
    if (self)
        cx_idle_wheel_remove(self->wheel, &s->idle);
}

void cx_keepalive_seen(cx_keepalive *self, cx_session *s)
{
    if (self)
        cx_idle_seen(&s->idle, (int64_t) uv_now(self->timer.loop));
}
