/*
 * The broker's topic histories together are bounded (found by qa-attack).
 * A history is kept per group, and a client names the groups: each room of
 * examples/hub it subscribes to keeps its last 100 messages for 10 minutes,
 * 1 MiB at most. One connection cycling through new rooms (subscribe, say
 * 100 times, unsubscribe, next) made the broker hold 90 MB in 8 s, for the
 * TTL, with no bound across groups: enough connections run it out of
 * memory, everyone's rooms with it.
 *
 * CHANX_HISTORY_TOTAL_MAX_BYTES bounds what all groups hold together; past
 * it the group least recently sent to gives up its oldest messages first.
 * Here a quiet room's history goes to make room for the flood, and its
 * subscriber is told recovered: false when back, never a silent gap.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOUND 300000
#define WAIT 5000

static const char *const settings[] = { "CHANX_HISTORY_TOTAL_MAX_BYTES=300000", NULL };

CX_STACK_SUITE(history_bound, .metrics = 1, .env = settings);

static cx_communicator *hub(const char *name)
{
    int64_t id = cx_db_create_user(stack, name, 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/hub/", cx_db_token_header(stack, id));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static json_t *subscribed(cx_communicator *c, const char *topic, json_t *payload)
{
    cx_topic_send(c, topic, "s", "subscribe", payload);
    json_decref(payload);
    json_t *r = cx_receive_topic(c, topic, "subscribed", WAIT);
    cr_assert_not_null(r, "no subscribed for %s", topic);
    return r;
}

static void say(cx_communicator *c, const char *topic, const char *text)
{
    json_t *p = json_pack("{s:s}", "text", text);
    cx_topic_send(c, topic, NULL, "say", p);
    json_decref(p);
    json_decref(cx_receive_topic(c, topic, "said", WAIT));
}

static double history_bytes(void)
{
    char *text = cx_stack_metrics(stack, "broker");
    double v = cx_metric_value(text, "chanx_broker_history_bytes");
    free(text);
    return v;
}

Test(history_bound, a_client_naming_new_rooms_cannot_grow_the_history_past_its_bound, .timeout = 120)
{
    cx_communicator *alice = hub("alice");
    json_t *r = subscribed(alice, "room:quiet", NULL);
    char epoch[32];
    snprintf(epoch, sizeof epoch, "%s", json_string_value(json_object_get(json_object_get(r, "payload"), "epoch")));
    json_decref(r);
    say(alice, "room:quiet", "before the flood");
    cx_topic_send(alice, "room:quiet", "u", "unsubscribe", NULL);
    json_decref(cx_receive_topic(alice, "room:quiet", "unsubscribed", WAIT));

    /* 10 rooms of 100 messages of 3,000 bytes each: ten times the bound */
    char text[3001];
    for (int i = 0; i < 1000; i++)
        memcpy(text + 3 * i, "\xe2\x82\xac", 3);   /* the hub allows 1,000 characters */
    text[3000] = '\0';
    cx_communicator *mallory = hub("mallory");
    for (int room = 0; room < 10; room++) {
        char topic[32];
        snprintf(topic, sizeof topic, "room:flood%d", room);
        json_decref(subscribed(mallory, topic, NULL));
        json_decref(cx_receive_topic(mallory, topic, "welcome", WAIT));
        for (int i = 0; i < 100; i++)
            say(mallory, topic, text);
        cx_topic_send(mallory, topic, "u", "unsubscribe", NULL);
        json_decref(cx_receive_topic(mallory, topic, "unsubscribed", WAIT));
    }
    double held = history_bytes();
    cr_assert(held > 0 && held <= BOUND, "the broker holds %.0f bytes of history, bound %d", held, BOUND);

    /* alice back, having missed seq 1: it was dropped, and she is told so */
    json_t *since = json_pack("{s:{s:s, s:i}}", "since", "epoch", epoch, "seq", 0);
    r = subscribed(alice, "room:quiet", since);
    json_t *recovered = json_object_get(json_object_get(r, "payload"), "recovered");
    cr_assert(json_is_false(recovered), "the quiet room's dropped message must not be a silent gap");
    json_decref(r);
}
