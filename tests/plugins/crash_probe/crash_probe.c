/*
 * crash_probe — consumers that crash on demand, for tests/e2e/test_crash.c.
 *
 * boom, at ws/crash_probe/boom/: messages "ping" (→ pong), "segv" (a NULL
 * dereference in receive_message), "abort" (abort()), "overflow" (unbounded
 * recursion: a stack overflow), "timer" (→ armed, then a timer callback
 * dereferences NULL 50 ms later); the event "crash" dereferences NULL in
 * receive_event. Joins the group "boom".
 *
 * connect, at ws/crash_probe/connect/: build_groups dereferences NULL, so
 * every connection crashes its worker process while connecting.
 *
 * survivor, at ws/crash_probe/survivor/: an innocent bystander that shows
 * what a re-pinned connection's consumer sees. post_authentication says
 * {"action":"started","payload":{"restarted":chanx_restarted}}; it joins
 * "survivors"; "echo" answers "echoed" with the payload; "say" sends "said"
 * with the payload to the group, itself included; "nap" answers "napping",
 * sleeps payload.ms milliseconds, then answers "napped" with the payload.
 * The event "poke" is answered "poked" with its payload (receive_event);
 * "notice" passes through the gateway to the client as it is.
 *
 * A slow start on demand: while the file CRASH_PROBE_SLOW_START names
 * exists, loading this plugin takes 2 s, so a test can hold a restarted
 * worker process back for a known time (a re-pin then has to wait).
 */
#include <chanx/consumer.h>
#include <chanx/timer.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

__attribute__((constructor)) static void slow_start_on_demand(void)
{
    const char *file = getenv("CRASH_PROBE_SLOW_START");
    if (file && access(file, F_OK) == 0)
        sleep(2);
}

/* Through a volatile pointer: the compiler may not prove the dereference away. Not instrumented by the
 * sanitizers (make test's ASan build), so the fault is a real signal there too, as in production. */
static int *volatile nowhere;

#define UNCHECKED __attribute__((noinline, no_sanitize("address", "undefined")))

UNCHECKED static int crash_null(void)
{
    return *nowhere;
}

/* Bounded only by a limit no stack reaches (the compiler refuses recursion it can see is infinite). */
static volatile long depth_limit = 1L << 40;

UNCHECKED static int recurse(long depth)
{
    volatile char frame[1024];
    frame[0] = (char) depth;
    if (depth >= depth_limit)
        return 0;
    return recurse(depth + 1) + frame[0];
}

static int crash_in_timer(chanx_ctx *ctx, void *arg)
{
    (void) ctx;
    (void) arg;
    return crash_null();
}

static int boom_receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    if (chanx_msg_is(msg, "segv"))
        return crash_null();
    if (chanx_msg_is(msg, "abort"))
        abort();
    if (chanx_msg_is(msg, "overflow"))
        return recurse(0);
    if (chanx_msg_is(msg, "timer")) {
        if (!chanx_call_later(ctx, 50, crash_in_timer, NULL))
            return CHANX_ERROR;
        return chanx_send_message(ctx, "armed", NULL);
    }
    return CHANX_ERROR;
}

static int boom_event(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) ctx;
    (void) msg;
    return crash_null();
}

static int boom_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    (void) ctx;
    return chanx_groups_add(groups, "boom");
}

CHANX_CONSUMER(boom) {
    .routes = CHANX_ROUTES("boom/"),
    .build_groups = boom_groups,
    .receive_message = boom_receive,
    .events = "{\"crash\": null}",
    .receive_event = boom_event,
};

static int connect_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    (void) ctx;
    (void) groups;
    return crash_null();
}

static int connect_receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    (void) msg;
    return chanx_send_message(ctx, "pong", NULL);
}

CHANX_CONSUMER(connect) {
    .routes = CHANX_ROUTES("connect/"),
    .build_groups = connect_groups,
    .receive_message = connect_receive,
};

static int survivor_started(chanx_ctx *ctx)
{
    json_t *payload = json_pack("{s:b}", "restarted", chanx_restarted(ctx));
    int rc = chanx_send_message(ctx, "started", payload);
    json_decref(payload);
    return rc;
}

static int survivor_groups(chanx_ctx *ctx, chanx_groups *groups)
{
    (void) ctx;
    return chanx_groups_add(groups, "survivors");
}

static int survivor_receive(chanx_ctx *ctx, const chanx_msg *msg)
{
    const json_t *payload = chanx_msg_payload(msg);
    if (chanx_msg_is(msg, "echo"))
        return chanx_send_message(ctx, "echoed", payload);
    if (chanx_msg_is(msg, "say"))
        return chanx_send_group_message(ctx, "said", payload, NULL, CHANX_INCLUDE_CURRENT);
    if (chanx_msg_is(msg, "nap")) {
        long ms = (long) json_integer_value(json_object_get(payload, "ms"));
        struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
        if (chanx_send_message(ctx, "napping", payload) != CHANX_OK)   /* the client knows the consumer is busy */
            return CHANX_ERROR;
        nanosleep(&t, NULL);
        return chanx_send_message(ctx, "napped", payload);
    }
    return CHANX_ERROR;
}

static int survivor_event(chanx_ctx *ctx, const chanx_msg *msg)
{
    return chanx_send_message(ctx, "poked", chanx_msg_payload(msg));
}

CHANX_CONSUMER(survivor) {
    .routes = CHANX_ROUTES("survivor/"),
    .build_groups = survivor_groups,
    .post_authentication = survivor_started,
    .receive_message = survivor_receive,
    .events = "{\"poke\": {\"type\": \"object\"}, \"notice\": {\"type\": \"object\"}}",
    .passthrough_events = CHANX_ACTIONS("notice"),
    .receive_event = survivor_event,
};
