/*
 * Topics (issue 24): Chanx 2.10's wire protocol, served by examples/hub
 * (ws/hub/), through the testing kit's topic helpers. Each test is a
 * promise a client written for Chanx relies on: the exact frames of
 * subscribe / subscribed, replies with the request's ref and pushes
 * without one, the three error reasons, per-topic validation errors, many
 * topics over one socket, a topic on its own route sharing its group with
 * the multiplexed form, and bad input refused while other topics go on.
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const settings[] = { "CHANX_TOPIC_SUBSCRIPTIONS_MAX=60", NULL };

CX_STACK_SUITE(topics, .env = settings);

#define WAIT 5000

static cx_communicator *hub_client(cx_stack *s, const char *name, int flags, const char *path)
{
    int64_t id = cx_db_create_user(s, name, flags);
    cx_communicator *c = cx_communicator_new(s, path, cx_db_token_header(s, id));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static json_t *text_payload(const char *text)
{
    return json_pack("{s:s}", "text", text);
}

static void expect(json_t *frame, const char *json)
{
    cx_assert_json_eq(frame, json);
    json_decref(frame);
}

/* The hub's room keeps a history (issue 25): its subscribed reply carries the room's epoch, a random
 * 16-hex-digit name checked here and written "E" for the comparison. */
static json_t *masked(json_t *frame)
{
    json_t *payload = json_object_get(frame, "payload");
    const char *epoch = json_string_value(json_object_get(payload, "epoch"));
    if (epoch) {
        cr_assert(strlen(epoch) == 16 && strspn(epoch, "0123456789abcdef") == 16, "an epoch: %s", epoch);
        json_object_set_new(payload, "epoch", json_string("E"));
    }
    return frame;
}

static void subscribe_ok(cx_communicator *c, const char *topic)
{
    json_t *r = cx_topic_subscribe(c, topic, NULL, WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(r, "action")), "subscribed", "subscribe %s", topic);
    json_decref(r);
}

Test(topics, the_wire_examples_hold)
{
    cx_communicator *c = hub_client(stack, "alice", 0, "/ws/hub/");
    expect(masked(cx_topic_subscribe(c, "room:lobby", "1", WAIT)),
           "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"1\", \"action\": \"subscribed\","
           " \"payload\": {\"epoch\": \"E\", \"seq\": 0}}");
    /* on_subscribe's push: after the reply, without a ref */
    expect(cx_receive_json(c, WAIT), "{\"version\": 1, \"topic\": \"room:lobby\", \"action\": \"welcome\","
                                     " \"payload\": {\"topic\": \"room:lobby\", \"user\": \"alice\"}}");

    json_t *p = text_payload("hi");
    cx_topic_send(c, "room:lobby", "2", "say", p);
    expect(cx_receive_json(c, WAIT), "{\"version\": 1, \"topic\": \"room:lobby\", \"action\": \"said\","
                                     " \"payload\": {\"text\": \"hi\", \"user\": \"alice\"}, \"seq\": 1}");
    cx_topic_send(c, "room:lobby", "7", "echo", p);
    expect(cx_receive_json(c, WAIT), "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"7\", \"action\": \"echoed\","
                                     " \"payload\": {\"text\": \"hi\"}}");
    json_decref(p);

    cx_send_text(c, "{\"version\": 1, \"ref\": \"9\", \"action\": \"ping\"}");
    expect(cx_receive_json(c, WAIT), "{\"ref\": \"9\", \"action\": \"pong\", \"payload\": null}");
    cx_send_text(c, "{\"action\": \"ping\"}");   /* no envelope: exactly as before */
    expect(cx_receive_json(c, WAIT), "{\"action\": \"pong\", \"payload\": null}");

    expect(cx_topic_subscribe(c, "nope:1", "3", WAIT),
           "{\"version\": 1, \"topic\": \"nope:1\", \"ref\": \"3\", \"action\": \"error\","
           " \"payload\": {\"reason\": \"unknown_topic\", \"detail\": \"Unknown topic 'nope:1'\"}}");
}

Test(topics, said_reaches_every_subscriber_and_echo_only_the_sender)
{
    cx_communicator *a = hub_client(stack, "alice", 0, "/ws/hub/");
    cx_communicator *b = hub_client(stack, "bob", 0, "/ws/hub/");
    cx_communicator *other = hub_client(stack, "carol", 0, "/ws/hub/");
    subscribe_ok(a, "room:lobby");
    subscribe_ok(b, "room:lobby");
    subscribe_ok(other, "room:kitchen");
    json_decref(cx_receive_topic(a, "room:lobby", "welcome", WAIT));
    json_decref(cx_receive_topic(b, "room:lobby", "welcome", WAIT));
    json_decref(cx_receive_topic(other, "room:kitchen", "welcome", WAIT));

    json_t *p = text_payload("to the echo");
    cx_topic_send(b, "room:lobby", "e1", "echo", p);
    json_decref(p);
    json_decref(cx_receive_topic(b, "room:lobby", "echoed", WAIT));
    p = text_payload("hello room");
    cx_topic_send(a, "room:lobby", "s1", "say", p);
    json_decref(p);
    const char *said = "{\"version\": 1, \"topic\": \"room:lobby\", \"action\": \"said\","
                       " \"payload\": {\"text\": \"hello room\", \"user\": \"alice\"}, \"seq\": 1}";
    expect(cx_receive_json(a, WAIT), said);
    expect(cx_receive_json(b, WAIT), said);   /* b's next frame: not a's echo, which went to a alone */
    cx_receive_nothing(other, 500);
}

Test(topics, staff_rooms_need_is_staff)
{
    cx_communicator *user = hub_client(stack, "alice", 0, "/ws/hub/");
    cx_communicator *staff = hub_client(stack, "root", CX_USER_STAFF_FLAG, "/ws/hub/");
    expect(cx_topic_subscribe(user, "room:staff-ops", "1", WAIT),
           "{\"version\": 1, \"topic\": \"room:staff-ops\", \"ref\": \"1\", \"action\": \"error\", \"payload\":"
           " {\"reason\": \"unauthorized\", \"detail\": \"Not allowed to subscribe to 'room:staff-ops'\"}}");
    subscribe_ok(staff, "room:staff-ops");
    /* the refused user is not in the group: the staff room's traffic does not reach them */
    json_t *p = text_payload("staff only");
    cx_topic_send(staff, "room:staff-ops", NULL, "say", p);
    json_decref(p);
    json_decref(cx_receive_topic(staff, "room:staff-ops", "said", WAIT));
    cx_receive_nothing(user, 500);
}

Test(topics, frames_for_a_topic_not_subscribed_and_unsubscribe)
{
    cx_communicator *a = hub_client(stack, "alice", 0, "/ws/hub/");
    cx_communicator *b = hub_client(stack, "bob", 0, "/ws/hub/");
    json_t *p = text_payload("too early");
    cx_topic_send(a, "room:lobby", "4", "say", p);
    expect(cx_receive_json(a, WAIT),
           "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"4\", \"action\": \"error\","
           " \"payload\": {\"reason\": \"not_subscribed\", \"detail\": \"Not subscribed to 'room:lobby'\"}}");
    subscribe_ok(a, "room:lobby");
    subscribe_ok(b, "room:lobby");
    expect(cx_topic_unsubscribe(a, "room:lobby", "5", WAIT),
           "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"5\", \"action\": \"unsubscribed\", \"payload\": null}");
    cx_topic_send(b, "room:lobby", NULL, "say", p);
    json_decref(cx_receive_topic(b, "room:lobby", "said", WAIT));
    cx_topic_send(a, "room:lobby", "6", "say", p);   /* a left: its say is refused, and b's never came */
    json_t *r = cx_receive_topic(a, "room:lobby", NULL, WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "payload"), "reason")), "not_subscribed",
                     "a left room:lobby, yet got %s", json_dumps(r, JSON_COMPACT));
    json_decref(r);
    json_decref(p);
}

Test(topics, fifty_topics_over_one_socket)
{
    cx_communicator *c = hub_client(stack, "alice", 0, "/ws/hub/");
    char topic[32];
    for (int i = 0; i < 50; i++) {
        snprintf(topic, sizeof topic, "room:r%d", i);
        subscribe_ok(c, topic);
        json_decref(cx_receive_topic(c, topic, "welcome", WAIT));
    }
    for (int i = 0; i < 50; i++) {
        snprintf(topic, sizeof topic, "room:r%d", i);
        json_t *p = text_payload(topic);
        cx_topic_send(c, topic, NULL, "say", p);
        json_decref(p);
    }
    for (int i = 0; i < 50; i++) {   /* one said per topic, in order, each carrying its own text */
        snprintf(topic, sizeof topic, "room:r%d", i);
        json_t *m = cx_receive_topic(c, topic, "said", WAIT);
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "payload"), "text")), topic);
        json_decref(m);
    }
}

Test(topics, validation_errors_come_back_on_the_topic_with_the_ref)
{
    cx_communicator *c = hub_client(stack, "alice", 0, "/ws/hub/");
    subscribe_ok(c, "room:lobby");
    json_decref(cx_receive_topic(c, "room:lobby", "welcome", WAIT));
    json_t *p = text_payload("");
    cx_topic_send(c, "room:lobby", "8", "say", p);
    json_decref(p);
    json_t *e = cx_receive_json(c, WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(e, "topic")), "room:lobby");
    cr_assert_str_eq(json_string_value(json_object_get(e, "ref")), "8");
    cr_assert_str_eq(json_string_value(json_object_get(e, "action")), "error");
    json_t *first = json_array_get(json_object_get(e, "payload"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "type")), "string_too_short");
    cx_assert_json_eq(json_object_get(first, "loc"), "[\"payload\", \"text\"]");
    json_decref(e);
}

/* Each bad envelope gets one plain error in pydantic's shape naming the field; the topics the
 * connection holds go on. */
Test(topics, bad_envelopes_are_refused_and_other_topics_go_on)
{
    cx_communicator *c = hub_client(stack, "alice", 0, "/ws/hub/");
    subscribe_ok(c, "room:lobby");
    json_decref(cx_receive_topic(c, "room:lobby", "welcome", WAIT));

    char *huge = malloc(10000 + 64);
    int n = sprintf(huge, "{\"version\": 1, \"topic\": \"room:");
    memset(huge + n, 'x', 10000 - 5);
    strcpy(huge + n + 10000 - 5, "\", \"action\": \"subscribe\"}");
    const char *bad[][3] = {
        { huge, "string_too_long", "topic" },
        { "{\"version\": 2, \"topic\": \"room:lobby\", \"action\": \"say\", \"payload\": {\"text\": \"v2\"}}",
          "literal_error", "version" },
        { "{\"version\": 1, \"topic\": 5, \"action\": \"subscribe\"}", "string_type", "topic" },
        { "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": {\"a\": 1}, \"action\": \"say\","
          " \"payload\": {\"text\": \"obj\"}}", "string_type", "ref" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cx_send_text(c, bad[i][0]);
        json_t *e = cx_receive_json(c, WAIT);
        cr_assert_not_null(e, "no answer to bad envelope %zu", i);
        cr_assert_str_eq(json_string_value(json_object_get(e, "action")), "error", "%s", json_dumps(e, 0));
        cr_assert_null(json_object_get(e, "topic"), "a bad envelope is answered plainly");
        json_t *first = json_array_get(json_object_get(e, "payload"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(first, "type")), bad[i][1]);
        cr_assert_str_eq(json_string_value(json_array_get(json_object_get(first, "loc"), 0)), bad[i][2]);
        json_decref(e);
    }
    free(huge);
    json_t *p = text_payload("still here");
    cx_topic_send(c, "room:lobby", "10", "say", p);
    json_decref(p);
    json_decref(cx_receive_topic(c, "room:lobby", "said", WAIT));
}

/* "at most 256 characters" counts characters, as pydantic's max_length does: a topic and a ref of
 * 256 non-ASCII characters (two bytes each in UTF-8) are accepted, 257 are refused. */
static char *repeat(const char *prefix, const char *unit, int times)
{
    char *s = malloc(strlen(prefix) + strlen(unit) * (size_t) times + 1);
    strcpy(s, prefix);
    for (int i = 0; i < times; i++)
        strcat(s, unit);
    return s;
}

Test(topics, the_256_character_limits_count_characters_not_bytes)
{
    cx_communicator *c = hub_client(stack, "alice", 0, "/ws/hub/");
    char *topic = repeat("room:", "\u00e9", 251), *ref = repeat("", "\u00e9", 256);
    json_t *r = cx_topic_subscribe(c, topic, ref, WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(r, "action")), "subscribed", "%s", json_dumps(r, 0));
    cr_assert_str_eq(json_string_value(json_object_get(r, "ref")), ref);
    json_decref(r);
    json_decref(cx_receive_topic(c, topic, "welcome", WAIT));
    char *longer = repeat("room:", "\u00e9", 252);
    json_t *frame = json_pack("{s:i, s:s, s:s}", "version", 1, "topic", longer, "action", "subscribe");
    cx_send_json(c, frame);
    json_decref(frame);
    json_t *e = cx_receive_json(c, WAIT);
    json_t *first = json_array_get(json_object_get(e, "payload"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(first, "type")), "string_too_long", "%s", json_dumps(e, 0));
    json_decref(e);
    free(topic), free(ref), free(longer);
}

/* CHANX_TOPIC_SUBSCRIPTIONS_MAX is 60 in this suite: 10,000 subscribes on one connection, sent in
 * storms of 500 at once (one storm stays under CHANX_MAILBOX_MAX), get 60 subscribed and 9,940
 * too_many_subscriptions naming the setting, and the connection and its topics go on. */
Test(topics, ten_thousand_subscribes_meet_the_cap)
{
    cx_communicator *c = hub_client(stack, "alice", 0, "/ws/hub/");
    char topic[32], ref[16];
    int subscribed = 0, refused = 0;
    for (int storm = 0; storm < 20; storm++) {
        for (int i = storm * 500; i < (storm + 1) * 500; i++) {
            snprintf(topic, sizeof topic, "room:s%d", i);
            snprintf(ref, sizeof ref, "%d", i);
            cx_topic_send(c, topic, ref, "subscribe", NULL);
        }
        while (subscribed + refused < (storm + 1) * 500) {
            json_t *m = cx_receive_json(c, WAIT);
            cr_assert_not_null(m, "%d subscribed and %d refused, then silence", subscribed, refused);
            const char *action = json_string_value(json_object_get(m, "action"));
            if (strcmp(action, "subscribed") == 0)
                subscribed++;
            else if (strcmp(action, "error") == 0) {
                json_t *p = json_object_get(m, "payload");
                cr_assert_str_eq(json_string_value(json_object_get(p, "reason")), "too_many_subscriptions");
                cr_assert(strstr(json_string_value(json_object_get(p, "detail")), "CHANX_TOPIC_SUBSCRIPTIONS_MAX"));
                refused++;
            }
            json_decref(m);
        }
    }
    cr_assert_eq(subscribed, 60);
    cr_assert_eq(refused, 9940);
    expect(cx_topic_unsubscribe(c, "room:s0", "u", WAIT),
           "{\"version\": 1, \"topic\": \"room:s0\", \"ref\": \"u\", \"action\": \"unsubscribed\", \"payload\": null}");
    subscribe_ok(c, "room:s9999");   /* room again under the cap */
    json_t *p = text_payload("after the storm");
    cx_topic_send(c, "room:s59", NULL, "say", p);
    json_decref(p);
    json_decref(cx_receive_topic(c, "room:s59", "said", WAIT));
}

/* Topic.as_consumer(): ws/hub/room/<name>/ subscribes on connect, takes frames without an envelope,
 * and shares the group with the multiplexed subscribers. */
Test(topics, a_topic_on_its_own_route_shares_the_group)
{
    cx_communicator *mux = hub_client(stack, "alice", 0, "/ws/hub/");
    subscribe_ok(mux, "room:lobby");
    json_decref(cx_receive_topic(mux, "room:lobby", "welcome", WAIT));

    cx_communicator *own = hub_client(stack, "bob", 0, "/ws/hub/room/lobby/");
    expect(masked(cx_receive_json(own, WAIT)),
           "{\"version\": 1, \"topic\": \"room:lobby\", \"action\": \"subscribed\","
           " \"payload\": {\"epoch\": \"E\", \"seq\": 0}}");
    expect(cx_receive_json(own, WAIT), "{\"version\": 1, \"topic\": \"room:lobby\", \"action\": \"welcome\","
                                       " \"payload\": {\"topic\": \"room:lobby\", \"user\": \"bob\"}}");
    cx_send_text(own, "{\"action\": \"say\", \"payload\": {\"text\": \"from the route\"}}");
    const char *said = "{\"version\": 1, \"topic\": \"room:lobby\", \"action\": \"said\","
                       " \"payload\": {\"text\": \"from the route\", \"user\": \"bob\"}, \"seq\": 1}";
    expect(cx_receive_json(own, WAIT), said);
    expect(cx_receive_json(mux, WAIT), said);

    json_t *p = text_payload("from the hub");
    cx_topic_send(mux, "room:lobby", NULL, "say", p);
    json_decref(p);
    json_t *m = cx_receive_topic(own, "room:lobby", "said", WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "payload"), "text")), "from the hub");
    json_decref(m);
}

/* /asyncapi.json: the topic is its own channel at the hub's address and at its own route's, each
 * with x-topic {name, pattern, parameters} (Chanx's extension), subscribe among what a client
 * sends; the document stays valid AsyncAPI 3.0. */
Test(topics, asyncapi_has_x_topic_channels)
{
    char *body = cx_asyncapi_valid(stack, "x-topic");
    json_t *doc = json_loads(body, 0, NULL);
    free(body);
    const char *key;
    json_t *channel;
    int hosted = 0, own = 0;
    json_object_foreach(json_object_get(doc, "channels"), key, channel) {
        json_t *x = json_object_get(channel, "x-topic");
        const char *address = json_string_value(json_object_get(channel, "address"));
        /* The hub's channels only: build/plugins, this suite's folder, is also where make run's workers
         * look, and a developer's own plugin with topics may be there too (README, "A first consumer"). */
        if (!x || !address || strncmp(address, "/ws/hub/", 8) != 0)
            continue;
        cx_assert_json_eq(x, "{\"name\": \"room_topic\", \"pattern\": \"room:{name}\", \"parameters\": [\"name\"]}");
        hosted += strcmp(address, "/ws/hub/") == 0;
        own += strcmp(address, "/ws/hub/room/{name}/") == 0;
        cr_assert(json_object_get(json_object_get(channel, "messages"), "client.subscribe"), "channel %s", key);
        cr_assert(json_object_get(json_object_get(channel, "messages"), "client.say"), "channel %s", key);
        cr_assert(json_object_get(json_object_get(channel, "messages"), "event.announce"), "channel %s", key);
    }
    json_t *hub = json_object_get(json_object_get(doc, "channels"), "ws_hub");
    cr_assert_not_null(hub, "the hub's own channel");
    cr_assert_null(json_object_get(json_object_get(hub, "messages"), "event.announce"), "announce is the topic's");
    cr_assert(json_object_get(json_object_get(hub, "messages"), "client.ping"));
    cr_assert_eq(hosted, 1, "one RoomTopic channel at the hub's address");
    cr_assert_eq(own, 1, "one RoomTopic channel at its own route");
    json_decref(doc);
}

/* The wire examples, spoken by a client nobody here wrote (python3-websockets): each frame
 * it gets is printed as sorted JSON and compared to the example. */
static const char PY_WIRE[] =
    "import asyncio, json, sys, websockets\n"
    "async def main():\n"
    "    async with websockets.connect(sys.argv[1]) as ws:\n"
    "        async def get():\n"
    "            m = json.loads(await asyncio.wait_for(ws.recv(), 10))\n"
    "            if isinstance(m.get('payload'), dict) and 'epoch' in m['payload']:\n"   /* random: masked */
    "                m['payload']['epoch'] = 'E'\n"
    "            print(json.dumps(m, sort_keys=True), flush=True)\n"
    "        await get()\n"   /* authentication */
    "        for frame, replies in [\n"
    "            ({'version': 1, 'topic': 'room:lobby', 'ref': '1', 'action': 'subscribe'}, 2),\n"
    "            ({'version': 1, 'topic': 'room:lobby', 'ref': '2', 'action': 'say', 'payload': {'text': 'hi'}}, 1),\n"
    "            ({'version': 1, 'topic': 'room:lobby', 'ref': '7', 'action': 'echo', 'payload': {'text': 'hi'}}, 1),\n"
    "            ({'version': 1, 'ref': '9', 'action': 'ping'}, 1),\n"
    "            ({'version': 1, 'topic': 'nope:1', 'ref': '3', 'action': 'subscribe'}, 1)]:\n"
    "            await ws.send(json.dumps(frame))\n"
    "            for _ in range(replies):\n"
    "                await get()\n"
    "asyncio.run(main())\n";

Test(topics, the_wire_examples_with_python_websockets)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    FILE *py = cx_python_client(stack, 0, "/ws/hub/", cx_db_token(stack, alice), PY_WIRE);
    const char *want[] = {
        "{\"action\": \"authentication\", \"payload\": {\"data\": {\"detail\": \"OK\"}, \"status_code\": 200, "
        "\"status_text\": \"OK\"}}",
        "{\"action\": \"subscribed\", \"payload\": {\"epoch\": \"E\", \"seq\": 0}, \"ref\": \"1\", \"topic\": "
        "\"room:lobby\", \"version\": 1}",
        "{\"action\": \"welcome\", \"payload\": {\"topic\": \"room:lobby\", \"user\": \"alice\"}, \"topic\": "
        "\"room:lobby\", \"version\": 1}",
        "{\"action\": \"said\", \"payload\": {\"text\": \"hi\", \"user\": \"alice\"}, \"seq\": 1, \"topic\": "
        "\"room:lobby\", \"version\": 1}",
        "{\"action\": \"echoed\", \"payload\": {\"text\": \"hi\"}, \"ref\": \"7\", \"topic\": \"room:lobby\", "
        "\"version\": 1}",
        "{\"action\": \"pong\", \"payload\": null, \"ref\": \"9\"}",
        "{\"action\": \"error\", \"payload\": {\"detail\": \"Unknown topic 'nope:1'\", \"reason\": \"unknown_topic\"}, "
        "\"ref\": \"3\", \"topic\": \"nope:1\", \"version\": 1}",
    };
    char line[1024];
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        cx_python_line(py, line, sizeof line, want[i]);
        cr_assert_str_eq(line, want[i]);
    }
    cr_assert_eq(pclose(py), 0, "the python client failed");
}

/* Chanx 2.11.2's ref on plain frames holds for a consumer without topics too (examples/echo), and
 * a topic there is unknown; the same frame without the envelope is answered as it always was. */
Test(topics, a_consumer_without_topics_answers_with_the_ref)
{
    cx_communicator *c = hub_client(stack, "alice", 0, "/ws/echo/");
    cx_send_text(c, "{\"ref\": \"r1\", \"action\": \"ping\"}");
    expect(cx_receive_json(c, WAIT), "{\"ref\": \"r1\", \"action\": \"pong\", \"payload\": null}");
    cx_send_text(c, "{\"action\": \"ping\"}");
    expect(cx_receive_json(c, WAIT), "{\"action\": \"pong\", \"payload\": null}");
    expect(cx_topic_subscribe(c, "room:lobby", "2", WAIT),
           "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"2\", \"action\": \"error\","
           " \"payload\": {\"reason\": \"unknown_topic\", \"detail\": \"Unknown topic 'room:lobby'\"}}");
}
