/*
 * Publishing to a topic (issue 24): POST /api/broadcast {"topic": "room:lobby", "event": ...} goes
 * to the topic's group, Chanx's safe_group_name(topic, namespace=RoomTopic), so it reaches the
 * multiplexed subscribers and the clients of the topic's own route, stamped with the topic, and
 * nobody else; chanx-admin publish does the same; a topic no consumer declares is refused
 * (unknown_topic); groups with a topic stamp it (the Channels layer's form), and bad topics are refused.
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

CX_STACK_SUITE(topics_publish, .api = 1);

#define WAIT 5000

static cx_communicator *hub_client(cx_stack *s, const char *name, const char *path)
{
    int64_t id = cx_db_create_user(s, name, 0);
    cx_communicator *c = cx_communicator_new(s, path, cx_db_token_header(s, id));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static void subscribed(cx_communicator *c, const char *topic)
{
    json_t *r = cx_topic_subscribe(c, topic, NULL, WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(r, "action")), "subscribed");
    json_decref(r);
    json_decref(cx_receive_topic(c, topic, "welcome", WAIT));
}

/* The hub's room keeps a history: the room's first push is its seq 1 (the broker's, test_topics_history.c). */
static const char ANNOUNCED[] = "{\"version\": 1, \"topic\": \"room:lobby\", \"seq\": 1, \"action\": \"announce\","
                                " \"payload\": {\"text\": \"doors close at six\"}}";

Test(topics_publish, an_api_publish_reaches_the_subscribers_of_both_forms_and_no_one_else)
{
    cx_communicator *mux = hub_client(stack, "alice", "/ws/hub/");
    subscribed(mux, "room:lobby");
    cx_communicator *own = hub_client(stack, "bob", "/ws/hub/room/lobby/");
    json_decref(cx_receive_topic(own, "room:lobby", "welcome", WAIT));
    cx_communicator *elsewhere = hub_client(stack, "carol", "/ws/hub/");
    subscribed(elsewhere, "room:kitchen");
    cx_communicator *idle = hub_client(stack, "dave", "/ws/hub/");
    cx_communicator *other_route = hub_client(stack, "erin", "/ws/hub/room/kitchen/");
    json_decref(cx_receive_topic(other_route, "room:kitchen", "welcome", WAIT));

    json_t *r = cx_api_publish(stack, "/api/broadcast", "{\"topic\": \"room:lobby\", \"event\":"
                               " {\"action\": \"announce\", \"payload\": {\"text\": \"doors close at six\"}}}");
    cr_assert_eq(json_integer_value(json_object_get(r, "connections")), 2, "%s", json_dumps(r, 0));
    json_decref(r);
    json_t *m = cx_receive_json(mux, WAIT);
    cx_assert_json_eq(m, ANNOUNCED);
    json_decref(m);
    m = cx_receive_json(own, WAIT);
    cx_assert_json_eq(m, ANNOUNCED);
    json_decref(m);
    cx_receive_nothing(elsewhere, 300);
    cx_receive_nothing(idle, 300);
    cx_receive_nothing(other_route, 300);

    /* after an unsubscribe the publish no longer reaches that connection */
    json_decref(cx_topic_unsubscribe(mux, "room:lobby", "u", WAIT));
    r = cx_api_publish(stack, "/api/broadcast", "{\"topic\": \"room:lobby\", \"seq\": 7, \"event\":"
                       " {\"action\": \"announce\", \"payload\": {\"text\": \"again\"}}}");
    json_decref(r);
    m = cx_receive_json(own, WAIT);
    cr_assert_eq(json_integer_value(json_object_get(m, "seq")), 2,
                 "the room keeps a history: the broker's seq replaces the publisher's 7");
    json_decref(m);
    cx_receive_nothing(mux, 300);
}

/* /api/batch takes topic commands beside the others, in order. */
Test(topics_publish, a_batch_publishes_to_topics_in_order)
{
    cx_communicator *mux = hub_client(stack, "alice", "/ws/hub/");
    subscribed(mux, "room:lobby");
    json_t *r = cx_api_publish(stack, "/api/batch", "{\"commands\": ["
                               "{\"method\": \"broadcast\", \"params\": {\"topic\": \"room:lobby\", \"seq\": 1,"
                               " \"event\": {\"action\": \"announce\", \"payload\": 1}}},"
                               "{\"method\": \"broadcast\", \"params\": {\"topic\": \"room:lobby\", \"seq\": 2,"
                               " \"event\": {\"action\": \"announce\", \"payload\": 2}}}]}");
    cx_assert_json_eq(json_object_get(r, "results"),
                      "[{\"gateways\": 1, \"connections\": 1}, {\"gateways\": 1, \"connections\": 1}]");
    json_decref(r);
    for (int n = 1; n <= 2; n++) {
        json_t *m = cx_receive_topic(mux, "room:lobby", "announce", WAIT);
        cr_assert_eq(json_integer_value(json_object_get(m, "seq")), n);
        json_decref(m);
    }
}

/* A topic no consumer declares is refused, as an event no consumer takes is: nobody could get it. */
Test(topics_publish, a_topic_nobody_declares_is_refused)
{
    json_t *reply = NULL;
    int status = 503;
    for (int i = 0; i < 50 && status == 503; i++) {   /* 503 until the API has the route table */
        json_decref(reply);
        status = cx_api_post(stack, "/api/broadcast", CX_TEST_API_KEY,
                             "{\"topic\": \"nope:1\", \"event\": {\"action\": \"announce\"}}", &reply);
        if (status == 503)
            usleep(100 * 1000);
    }
    cr_assert_eq(status, 400);
    json_t *error = json_object_get(reply, "error");
    cr_assert_str_eq(json_string_value(json_object_get(error, "code")), "unknown_topic");
    cr_assert(strstr(json_string_value(json_object_get(error, "message")), "'nope:1'"));
    json_decref(reply);
}

/* groups with a topic: the groups are the target, the topic is stamped (the Channels layer's form
 * of Chanx's Topic.broadcast, which names the group itself); a bad topic is refused whole. */
Test(topics_publish, groups_with_a_topic_stamp_it_and_bad_topics_are_refused)
{
    cx_communicator *mux = hub_client(stack, "alice", "/ws/hub/");
    subscribed(mux, "room:lobby");
    json_decref(cx_api_publish(stack, "/api/broadcast", "{\"groups\": [\"RoomTopic.room-lobby\"], \"topic\":"
                               " \"room:lobby\", \"event\": {\"action\": \"announce\", \"payload\":"
                               " {\"text\": \"doors close at six\"}}}"));
    json_t *m = cx_receive_json(mux, WAIT);
    cx_assert_json_eq(m, ANNOUNCED);
    json_decref(m);

    const char *bad[] = { "{\"topic\": 5, \"event\": {\"action\": \"announce\"}}",
                          "{\"topic\": \"\", \"event\": {\"action\": \"announce\"}}",
                          "{\"groups\": [\"a\"], \"seq\": 1, \"event\": {\"action\": \"announce\"}}" };
    for (size_t i = 0; i < 3; i++) {
        json_t *reply = NULL;
        int status = cx_api_post(stack, "/api/broadcast", CX_TEST_API_KEY, bad[i], &reply);
        cr_assert_eq(status, 400, "%s", bad[i]);
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "invalid_field");
        json_decref(reply);
    }
    cx_receive_nothing(mux, 300);
}

/* The API's "a string of 1 to 256 characters" counts characters: a topic of 256 two-byte characters
 * is published to its subscriber, one of 257 is refused. */
Test(topics_publish, the_topic_limit_counts_characters_not_bytes)
{
    char topic[5 + 2 * 252 + 1] = "room:";
    for (int i = 0; i < 251; i++)
        strcat(topic, "\u00e9");
    cx_communicator *mux = hub_client(stack, "alice", "/ws/hub/");
    subscribed(mux, topic);
    json_t *body = json_pack("{s:s, s:{s:s}}", "topic", topic, "event", "action", "announce");
    char *text = json_dumps(body, 0);
    json_t *reply = NULL;
    cr_assert_eq(cx_api_post(stack, "/api/broadcast", CX_TEST_API_KEY, text, &reply), 200, "%s", json_dumps(reply, 0));
    json_decref(reply), free(text), json_decref(body);
    json_t *m = cx_receive_json(mux, WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(m, "topic")), topic);
    json_decref(m);

    strcat(topic, "\u00e9");
    body = json_pack("{s:s, s:{s:s}}", "topic", topic, "event", "action", "announce");
    text = json_dumps(body, 0);
    cr_assert_eq(cx_api_post(stack, "/api/broadcast", CX_TEST_API_KEY, text, &reply), 400);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "invalid_field");
    json_decref(reply), free(text), json_decref(body);
}

/* chanx-admin publish --topic: the operator's way, straight to the broker, the same delivery. */
Test(topics_publish, chanx_admin_publishes_to_a_topic)
{
    cx_communicator *mux = hub_client(stack, "alice", "/ws/hub/");
    subscribed(mux, "room:lobby");
    cx_communicator *elsewhere = hub_client(stack, "carol", "/ws/hub/");
    subscribed(elsewhere, "room:kitchen");
    char cmd[1024];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    const char *keys = cx_stack_keys_dir(stack);
    snprintf(cmd, sizeof cmd, "CHANX_BROKER='%s' CHANX_CURVE_DIR='%s' %s/chanx-admin publish --topic room:lobby "
             "--action announce --payload '{\"text\": \"doors close at six\"}' 2>&1", cx_stack_broker(stack),
             keys ? keys : "", bin);
    int status;
    char *out = cx_shell_output(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", out);
    cr_assert(strstr(out, "\"connections\": 1"), "%s", out);
    free(out);
    json_t *m = cx_receive_json(mux, WAIT);
    cx_assert_json_eq(m, ANNOUNCED);
    json_decref(m);
    cx_receive_nothing(elsewhere, 300);
}

/* clients/python: broadcast_topic_sync (Topic.broadcast by topic name), and Chanx's own
 * Topic.broadcast as it reaches a Channels layer, group_send(group, {"type": "handle_topic_event",
 * "topic", "seq", "event_data"}), through ChanxChannelLayer. Both reach the subscriber stamped. */
Test(topics_publish, the_python_client_and_the_channels_layer_publish_to_a_topic)
{
    cx_communicator *mux = hub_client(stack, "alice", "/ws/hub/");
    subscribed(mux, "room:lobby");
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd clients/python && CHANX_API_URL=http://127.0.0.1:%d CHANX_API_KEY='%s' /usr/bin/python3 -c '\n"
             "import asyncio, chanx_client\n"
             "from chanx_client.layers import ChanxChannelLayer\n"
             "print(chanx_client.broadcast_topic_sync(\"room:lobby\", {\"action\": \"announce\", \"payload\": {\"n\": 1}}, seq=1))\n"
             "layer = ChanxChannelLayer()\n"
             "print(asyncio.run(layer.group_send(\"RoomTopic.room-lobby\", {\"type\": \"handle_topic_event\",\n"
             "    \"topic\": \"room:lobby\", \"seq\": 2, \"event_data\": {\"action\": \"announce\", \"payload\": {\"n\": 2}}})))\n"
             "' 2>&1", cx_stack_api_port(stack), CX_TEST_API_KEY);
    int status;
    char *out = cx_shell_output(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", out);
    free(out);
    for (int n = 1; n <= 2; n++) {
        json_t *m = cx_receive_json(mux, WAIT);
        char want[200];
        snprintf(want, sizeof want, "{\"version\": 1, \"topic\": \"room:lobby\", \"seq\": %d, \"action\": \"announce\","
                 " \"payload\": {\"n\": %d}}", n, n);
        cx_assert_json_eq(m, want);
        json_decref(m);
    }
}
