/*
 * tmr_probe — timers on demand, for tests/e2e/test_timers.c:
 *   later {ms, tag}   chanx_call_later: → fired {tag} when it runs
 *   every {ms}        chanx_call_every: → tick {n} each time (n counts from 1), and at once
 *                     → every {id}; each tick is also logged ("tick n")
 *   cancel {id}       → cancelled {ok: bool}
 *   sleep {ms}        blocks the connection's thread (to pile ticks up behind it)
 *   ping              → pong
 * disconnect tries to start a timer, which must fail; it logs "late timer refused".
 */
#include <chanx/consumer.h>
#include <chanx/timer.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    int ticks;
    char tags[16][32];   /* tags of pending once-only timers, by slot */
    int next_tag;
} state_t;

static int fired(chanx_ctx *ctx, void *arg)
{
    state_t *s = chanx_state(ctx);
    json_t *p = json_pack("{s:s}", "tag", s->tags[(intptr_t) arg]);
    int rc = chanx_send_message(ctx, "fired", p);
    json_decref(p);
    return rc;
}

static int tick(chanx_ctx *ctx, void *arg)
{
    (void) arg;
    state_t *s = chanx_state(ctx);
    s->ticks++;
    chanx_log(ctx, CHANX_LOG_INFO, "tick %d", s->ticks);
    json_t *p = json_pack("{s:i}", "n", s->ticks);
    int rc = chanx_send_message(ctx, "tick", p);
    json_decref(p);
    return rc;
}

static int receive_message(chanx_ctx *ctx, const chanx_msg *msg)
{
    state_t *s = chanx_state(ctx);
    const json_t *p = chanx_msg_payload(msg);
    json_int_t ms = json_integer_value(json_object_get(p, "ms"));
    if (chanx_msg_is(msg, "ping"))
        return chanx_send_message(ctx, "pong", NULL);
    if (chanx_msg_is(msg, "later")) {
        intptr_t slot = s->next_tag++ % 16;
        snprintf(s->tags[slot], sizeof s->tags[slot], "%s", json_string_value(json_object_get(p, "tag")));
        return chanx_call_later(ctx, ms, fired, (void *) slot) ? CHANX_OK : CHANX_ERROR;
    }
    if (chanx_msg_is(msg, "every")) {
        uint64_t id = chanx_call_every(ctx, ms, tick, NULL);
        if (!id)
            return CHANX_ERROR;
        json_t *reply = json_pack("{s:I}", "id", (json_int_t) id);
        int rc = chanx_send_message(ctx, "every", reply);
        json_decref(reply);
        return rc;
    }
    if (chanx_msg_is(msg, "cancel")) {
        int ok = chanx_timer_cancel(ctx, (uint64_t) json_integer_value(json_object_get(p, "id"))) == CHANX_OK;
        json_t *reply = json_pack("{s:b}", "ok", ok);
        int rc = chanx_send_message(ctx, "cancelled", reply);
        json_decref(reply);
        return rc;
    }
    if (chanx_msg_is(msg, "sleep")) {
        usleep((useconds_t) ms * 1000);
        return CHANX_OK;
    }
    return CHANX_ERROR;
}

static void disconnect(chanx_ctx *ctx, int code)
{
    (void) code;
    if (chanx_call_later(ctx, 1, tick, NULL) == 0)
        chanx_log(ctx, CHANX_LOG_INFO, "late timer refused");
}

CHANX_CONSUMER(probe) {
    .incoming = "{\"ping\": null,"
                " \"later\": {\"type\": \"object\", \"properties\": {\"ms\": {\"type\": \"integer\"},"
                "            \"tag\": {\"type\": \"string\", \"maxLength\": 30}}, \"required\": [\"ms\", \"tag\"]},"
                " \"every\": {\"type\": \"object\", \"properties\": {\"ms\": {\"type\": \"integer\"}}, \"required\": [\"ms\"]},"
                " \"cancel\": {\"type\": \"object\", \"properties\": {\"id\": {\"type\": \"integer\"}}, \"required\": [\"id\"]},"
                " \"sleep\": {\"type\": \"object\", \"properties\": {\"ms\": {\"type\": \"integer\", \"minimum\": 0,"
                "            \"maximum\": 10000}}, \"required\": [\"ms\"]}}",
    .state_size = sizeof(state_t),
    .log_received_message = CHANX_OFF,
    .log_sent_message = CHANX_OFF,
    .receive_message = receive_message,
    .disconnect = disconnect,
};
