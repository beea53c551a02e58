/*
 * Topics (issue 24) where Chanx 2.10's code decides details the wire examples leave open, checked
 * against chanx/core/websocket.py and its tests, with completion on (CHANX_SEND_COMPLETION=on) so
 * that every frame a client could wait for is seen:
 *   - a frame handled by a subscribed topic is completed on that topic with its ref (Topic.handle_json
 *     sends CompleteMessage through the topic); subscribe, unsubscribe, topic errors and bad
 *     envelopes are not completed; plain frames are, as before; a topic push (chanx_topic_publish)
 *     is followed by no group_complete (Chanx's handle_topic_event sends none);
 *   - a topic's own route (Topic.as_consumer()) whose subscription is refused stays open and answers
 *     its frames not_subscribed; a topic past the envelope's 256 characters is refused there too,
 *     with the multiplexed path's error;
 *   - a consumer without topics answers unsubscribe "unsubscribed" and other topic frames
 *     not_subscribed (Chanx's _unsubscribe and _dispatch need no matching topic).
 * A frame's answers all come before the answers to the next one (one connection's frames are
 * handled in order), so "no completion" is seen as the next frame's answer coming next.
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const settings[] = { "CHANX_SEND_COMPLETION=on", NULL };

CX_STACK_SUITE(topics_wire, .env = settings);

#define WAIT 5000

static cx_communicator *client(const char *name, int flags, const char *path)
{
    return cx_user_client(stack, name, flags, path);
}

static void expect(cx_communicator *c, const char *json)
{
    json_t *frame = cx_receive_json(c, WAIT);
    cr_assert_not_null(frame, "nothing came; expected %s", json);
    cx_assert_json_eq(frame, json);
    json_decref(frame);
}

static void expect_action(cx_communicator *c, const char *action)
{
    json_t *frame = cx_receive_json(c, WAIT);
    cr_assert_not_null(frame, "nothing came; expected %s", action);
    cr_assert_str_eq(json_string_value(json_object_get(frame, "action")), action, "%s",
                     json_dumps(frame, JSON_COMPACT));
    json_decref(frame);
}

/* A plain ping, answered pong then the plain completion: whatever came before them is checked. */
static void ping_is_next(cx_communicator *c)
{
    cx_send_text(c, "{\"action\": \"ping\"}");
    expect(c, "{\"action\": \"pong\", \"payload\": null}");
    expect(c, "{\"action\": \"complete\", \"payload\": null}");
}

static const char COMPLETE_2[] =
    "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"2\", \"action\": \"complete\", \"payload\": null}";

Test(topics_wire, a_topic_frame_is_completed_on_its_topic_with_its_ref)
{
    cx_communicator *c = client("alice", 0, "/ws/hub/");
    json_t *r = cx_topic_subscribe(c, "room:lobby", "1", WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(r, "action")), "subscribed");
    json_decref(r);
    expect_action(c, "welcome");
    ping_is_next(c);   /* subscribe is not completed */

    cx_send_text(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"2\", \"action\": \"echo\","
                    " \"payload\": {\"text\": \"hi\"}}");
    expect(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"2\", \"action\": \"echoed\","
              " \"payload\": {\"text\": \"hi\"}}");
    expect(c, COMPLETE_2);

    /* a validation error on the topic is completed too (Chanx's handle_json), with the ref */
    cx_send_text(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"3\", \"action\": \"say\","
                    " \"payload\": {\"text\": \"\"}}");
    expect_action(c, "error");
    expect(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"3\", \"action\": \"complete\", \"payload\": null}");

    /* without a ref, the completion carries the topic alone */
    cx_send_text(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"action\": \"echo\", \"payload\": {\"text\": \"x\"}}");
    expect_action(c, "echoed");
    expect(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"action\": \"complete\", \"payload\": null}");
    ping_is_next(c);
}

/* A topic push (chanx_topic_publish, Chanx's Topic.broadcast) reaches subscribers through
 * handle_topic_event, which sends no completion: no group_complete follows "said", whatever
 * send_completion says. The sayer's frame is completed as any topic frame. */
Test(topics_wire, a_topic_push_is_not_followed_by_group_complete)
{
    cx_communicator *alice = client("alice", 0, "/ws/hub/"), *bob = client("bob", 0, "/ws/hub/");
    cx_communicator *both[] = { alice, bob };
    for (int i = 0; i < 2; i++) {
        json_t *r = cx_topic_subscribe(both[i], "room:lobby", "1", WAIT);
        cr_assert_str_eq(json_string_value(json_object_get(r, "action")), "subscribed");
        json_decref(r);
        expect_action(both[i], "welcome");
    }
    cx_send_text(alice, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"2\", \"action\": \"say\","
                        " \"payload\": {\"text\": \"hi\"}}");
    expect_action(bob, "said");   /* with the room's seq: its history is tests/e2e/test_topics_history.c's */
    ping_is_next(bob);   /* a group_complete would come first */
    /* the sayer: its push and its frame's completion (the two travel different ways), then nothing */
    int said = 0, completed = 0;
    for (int i = 0; i < 2; i++) {
        json_t *m = cx_receive_json(alice, WAIT);
        cr_assert_not_null(m, "the sayer got %d of its 2 frames", i);
        const char *action = json_string_value(json_object_get(m, "action"));
        said += action && strcmp(action, "said") == 0;
        const char *ref = json_string_value(json_object_get(m, "ref"));
        completed += action && strcmp(action, "complete") == 0 && ref && strcmp(ref, "2") == 0;
        json_decref(m);
    }
    cr_assert(said == 1 && completed == 1, "said %d, complete with ref 2 %d", said, completed);
    ping_is_next(alice);
}

Test(topics_wire, subscribe_unsubscribe_topic_errors_and_bad_envelopes_are_not_completed)
{
    cx_communicator *c = client("alice", 0, "/ws/hub/");
    cx_send_text(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"4\", \"action\": \"echo\","
                    " \"payload\": {\"text\": \"early\"}}");
    expect(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"4\", \"action\": \"error\","
              " \"payload\": {\"reason\": \"not_subscribed\", \"detail\": \"Not subscribed to 'room:lobby'\"}}");
    ping_is_next(c);
    json_decref(cx_topic_subscribe(c, "nope:1", "5", WAIT));         /* unknown_topic */
    ping_is_next(c);
    json_decref(cx_topic_subscribe(c, "room:staff-x", "6", WAIT));   /* unauthorized */
    ping_is_next(c);
    json_decref(cx_topic_unsubscribe(c, "room:lobby", "7", WAIT));
    ping_is_next(c);
    cx_send_text(c, "{\"version\": 2, \"topic\": \"room:lobby\", \"action\": \"subscribe\"}");
    expect_action(c, "error");
    ping_is_next(c);
    /* Chanx's Envelope has "version: int = 1": absent is 1, but null is not an integer */
    cx_send_text(c, "{\"version\": null, \"topic\": \"room:lobby\", \"action\": \"subscribe\"}");
    expect(c, "{\"action\": \"error\", \"payload\": [{\"type\": \"int_type\", \"loc\": [\"version\"],"
              " \"msg\": \"Input should be a valid integer\"}]}");
    ping_is_next(c);
    /* a plain frame with a ref: its reply carries the ref, its completion stays plain */
    cx_send_text(c, "{\"ref\": \"9\", \"action\": \"ping\"}");
    expect(c, "{\"ref\": \"9\", \"action\": \"pong\", \"payload\": null}");
    expect(c, "{\"action\": \"complete\", \"payload\": null}");
}

/* Chanx's as_consumer() subscribes in websocket_connect and, refused, sends the error on the topic
 * (no ref: no frame asked) and closes nothing; its frames then meet _dispatch: not_subscribed. */
Test(topics_wire, a_refused_own_route_stays_open_and_answers_not_subscribed)
{
    cx_communicator *c = client("alice", 0, "/ws/hub/room/staff-ops/");
    expect(c, "{\"version\": 1, \"topic\": \"room:staff-ops\", \"action\": \"error\", \"payload\":"
              " {\"reason\": \"unauthorized\", \"detail\": \"Not allowed to subscribe to 'room:staff-ops'\"}}");
    cx_send_text(c, "{\"ref\": \"1\", \"action\": \"echo\", \"payload\": {\"text\": \"x\"}}");
    expect(c, "{\"version\": 1, \"topic\": \"room:staff-ops\", \"ref\": \"1\", \"action\": \"error\", \"payload\":"
              " {\"reason\": \"not_subscribed\", \"detail\": \"Not subscribed to 'room:staff-ops'\"}}");
    cx_send_text(c, "{\"ref\": \"2\", \"action\": \"echo\", \"payload\": {\"text\": \"y\"}}");
    expect_action(c, "error");   /* still open: answered again, no close in between */

    /* a name the pattern's {name} cannot hold (':') fills no known topic */
    cx_communicator *odd = client("bob", 0, "/ws/hub/room/a:b/");
    expect(odd, "{\"version\": 1, \"topic\": \"room:a:b\", \"action\": \"error\", \"payload\":"
                " {\"reason\": \"unknown_topic\", \"detail\": \"Unknown topic 'room:a:b'\"}}");
    cx_send_text(odd, "{\"action\": \"echo\", \"payload\": {\"text\": \"z\"}}");
    expect(odd, "{\"version\": 1, \"topic\": \"room:a:b\", \"action\": \"error\", \"payload\":"
                " {\"reason\": \"not_subscribed\", \"detail\": \"Not subscribed to 'room:a:b'\"}}");
}

/* On the own route, a frame is the topic's: completed on it with its ref. */
Test(topics_wire, an_own_route_frame_is_completed_on_its_topic)
{
    cx_communicator *c = client("alice", 0, "/ws/hub/room/lobby/");
    expect_action(c, "subscribed");
    expect_action(c, "welcome");
    cx_send_text(c, "{\"ref\": \"2\", \"action\": \"echo\", \"payload\": {\"text\": \"hi\"}}");
    expect(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"2\", \"action\": \"echoed\","
              " \"payload\": {\"text\": \"hi\"}}");
    expect(c, COMPLETE_2);
}

/* The URL fills the topic: "room:" and 251 more characters make 256, accepted; one more is refused
 * with the envelope's error, as a frame naming that topic would be, and the route takes nothing. */
static char *room_path(int name_length)
{
    char *path = malloc((size_t) name_length + 32);
    int n = sprintf(path, "/ws/hub/room/");
    memset(path + n, 'x', (size_t) name_length);
    strcpy(path + n + name_length, "/");
    return path;
}

Test(topics_wire, the_own_route_applies_the_256_character_limit)
{
    char *fits = room_path(251), *over = room_path(252);
    cx_communicator *ok = client("alice", 0, fits);
    json_t *m = cx_receive_json(ok, WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "subscribed", "%s", json_dumps(m, 0));
    cr_assert_eq(strlen(json_string_value(json_object_get(m, "topic"))), 256);
    json_decref(m);

    cx_communicator *c = client("bob", 0, over);
    expect(c, "{\"action\": \"error\", \"payload\": [{\"type\": \"string_too_long\", \"loc\": [\"topic\"],"
              " \"msg\": \"String should have at most 256 characters\"}]}");
    cx_send_text(c, "{\"ref\": \"1\", \"action\": \"echo\", \"payload\": {\"text\": \"x\"}}");
    json_t *e = cx_receive_json(c, WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "payload"), "reason")), "not_subscribed",
                     "%s", json_dumps(e, 0));
    json_decref(e);
    free(fits), free(over);
}

/* examples/echo has no topics: Chanx's _subscribe finds no match, _unsubscribe confirms anyway,
 * _dispatch finds no subscription. */
Test(topics_wire, a_consumer_without_topics_answers_as_chanx_does)
{
    cx_communicator *c = client("alice", 0, "/ws/echo/");
    cx_topic_send(c, "room:lobby", "1", "subscribe", NULL);
    expect(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"1\", \"action\": \"error\", \"payload\":"
              " {\"reason\": \"unknown_topic\", \"detail\": \"Unknown topic 'room:lobby'\"}}");
    cx_topic_send(c, "room:lobby", "2", "unsubscribe", NULL);
    expect(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"2\", \"action\": \"unsubscribed\", \"payload\": null}");
    cx_topic_send(c, "room:lobby", "3", "ping", NULL);
    expect(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"3\", \"action\": \"error\", \"payload\":"
              " {\"reason\": \"not_subscribed\", \"detail\": \"Not subscribed to 'room:lobby'\"}}");
    cx_send_text(c, "{\"topic\": \"room:lobby\", \"action\": \"ping\"}");   /* no ref: a topic frame all the same */
    expect(c, "{\"version\": 1, \"topic\": \"room:lobby\", \"action\": \"error\", \"payload\":"
              " {\"reason\": \"not_subscribed\", \"detail\": \"Not subscribed to 'room:lobby'\"}}");
    ping_is_next(c);   /* none of them completed */
}
