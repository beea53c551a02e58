/*
 * A topic's history and presence (issue 25) on examples/hub, whose room:{name}
 * keeps 100 messages for 10 minutes: "subscribed" carries the room's epoch
 * and seq; a subscribe with "payload": {"since": {"epoch", "seq"}} (the
 * room's own route: ?since=E:N) is answered "recovered": true and exactly the
 * pushes missed, before on_subscribe's welcome and the live ones, or
 * "recovered": false; a since that makes no sense is refused the same way;
 * a repeated subscribe replays nothing; "who" answers the room's users with
 * the request's ref. Groups' history and presence: test_history.c,
 * test_presence.c.
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

CX_STACK_SUITE(topics_history, .api = 1);

#define WAIT 5000

static int64_t user_named(const char *name)
{
    static int64_t ids[2];
    int i = strcmp(name, "alice") != 0;
    if (!ids[i])
        ids[i] = cx_db_create_user(stack, name, 0);
    return ids[i];
}

/* A client of name (alice or bob, created once) on path, authenticated. */
static cx_communicator *hub(const char *name, const char *path)
{
    int64_t id = user_named(name);
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, id));
    cx_assert_authenticated_status_ok(c);
    return c;
}

/* subscribe (with payload, borrowed, or NULL) and its "subscribed" reply, checked to carry ref. */
static json_t *subscribe(cx_communicator *c, const char *ref, const json_t *payload)
{
    cx_topic_send(c, "room:lobby", ref, "subscribe", payload);
    json_t *m = cx_receive_json(c, WAIT);
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    cr_assert(m && strcmp(json_string_value(json_object_get(m, "action")), "subscribed") == 0, "got %s (%s)",
              text ? text : "nothing", m ? "" : cx_communicator_close_reason(c));
    cr_assert_str_eq(json_string_value(json_object_get(m, "ref")), ref, "%s", text);
    cr_assert_str_eq(json_string_value(json_object_get(m, "topic")), "room:lobby", "%s", text);
    free(text);
    return m;
}

static json_t *since(const char *epoch, json_int_t seq)
{
    return json_pack("{s:{s:s, s:I}}", "since", "epoch", epoch, "seq", seq);
}

/* The next frame: "said" of the room with this seq and text. */
static void said(cx_communicator *c, json_int_t seq, const char *text)
{
    json_t *m = cx_receive_json(c, WAIT);
    char *dump = m ? json_dumps(m, JSON_COMPACT) : NULL;
    cr_assert(m && strcmp(json_string_value(json_object_get(m, "action")), "said") == 0
                  && json_integer_value(json_object_get(m, "seq")) == seq
                  && strcmp(json_string_value(json_object_get(json_object_get(m, "payload"), "text")), text) == 0,
              "expected said %lld '%s', got %s", (long long) seq, text, dump ? dump : "nothing");
    cr_assert_null(json_object_get(m, "ref"), "a push has no ref");
    free(dump);
    json_decref(m);
}

static void say(cx_communicator *c, const char *text)
{
    json_t *p = json_pack("{s:s}", "text", text);
    cx_topic_send(c, "room:lobby", NULL, "say", p);
    json_decref(p);
}

static void expect_action(cx_communicator *c, const char *action)
{
    json_t *m = cx_receive_json(c, WAIT);
    char *dump = m ? json_dumps(m, JSON_COMPACT) : NULL;
    cr_assert(m && strcmp(json_string_value(json_object_get(m, "action")), action) == 0, "expected %s, got %s",
              action, dump ? dump : "nothing");
    free(dump);
    json_decref(m);
}

/* A subscriber who said m1..m3, left, and came back past m8: its epoch in epoch. */
static cx_communicator *missed_five(cx_communicator **speaker, char epoch[64])
{
    cx_communicator *a = hub("alice", "/ws/hub/");
    json_t *r = subscribe(a, "1", NULL);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r, "payload"), "seq")), 0);
    cr_assert_null(json_object_get(json_object_get(r, "payload"), "recovered"), "no since: nothing to say");
    snprintf(epoch, 64, "%s", json_string_value(json_object_get(json_object_get(r, "payload"), "epoch")));
    json_decref(r);
    expect_action(a, "welcome");
    *speaker = hub("bob", "/ws/hub/");
    json_decref(subscribe(*speaker, "1", NULL));
    expect_action(*speaker, "welcome");
    for (int i = 1; i <= 8; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        if (i == 4)
            cx_communicator_disconnect(a);   /* the tunnel */
        say(i <= 3 ? a : *speaker, text);
        if (i <= 3)
            said(a, i, text);
        said(*speaker, i, text);
    }
    return a;
}

Test(topics_history, a_subscribe_with_since_recovers_exactly_what_was_missed_then_live_ones)
{
    char epoch[64];
    cx_communicator *speaker;
    missed_five(&speaker, epoch);
    cx_communicator *back = hub("alice", "/ws/hub/");
    json_t *s = since(epoch, 3);
    json_t *r = subscribe(back, "r2", s);
    json_decref(s);
    json_t *p = json_object_get(r, "payload");
    cr_assert_str_eq(json_string_value(json_object_get(p, "epoch")), epoch);
    cr_assert_eq(json_integer_value(json_object_get(p, "seq")), 8);
    cr_assert(json_is_true(json_object_get(p, "recovered")));
    json_decref(r);
    for (int i = 4; i <= 8; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        said(back, i, text);
    }
    expect_action(back, "welcome");   /* on_subscribe's push comes after the replay */
    say(speaker, "live");
    said(back, 9, "live");

    /* subscribed again: the current epoch and seq, nothing replayed */
    r = subscribe(back, "r3", NULL);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r, "payload"), "seq")), 9);
    cr_assert_null(json_object_get(json_object_get(r, "payload"), "recovered"));
    json_decref(r);
    cx_receive_nothing(back, 300);
}

/* The next frame: "announce" of the room (an event published through chanx-api) with this seq and n, its
 * only "seq" the broker's (the kit refuses a frame with a duplicate key). */
static void announced(cx_communicator *c, json_int_t seq, int n)
{
    json_t *m = cx_receive_json(c, WAIT);
    char want[160];
    snprintf(want, sizeof want, "{\"version\": 1, \"topic\": \"room:lobby\", \"seq\": %lld, \"action\": \"announce\","
             " \"payload\": {\"n\": %d}}", (long long) seq, n);
    cx_assert_json_eq(m, want);
    json_decref(m);
}

static void announce(const char *fmt, int n)
{
    json_t *r = cx_api_publish(stack, "/api/broadcast", fmt, n);
    json_decref(r);
}

/* Events published through chanx-api take the room's seq and are held like its members' pushes: a
 * subscriber who missed them (by topic, by the topic's group with the publisher's own seq, in a
 * batch) gets them back in order with "since", one seq each, then the live ones. */
Test(topics_history, events_published_through_the_api_are_held_and_recovered)
{
    cx_communicator *a = hub("alice", "/ws/hub/");
    json_t *r = subscribe(a, "1", NULL);
    char epoch[64];
    snprintf(epoch, sizeof epoch, "%s", json_string_value(json_object_get(json_object_get(r, "payload"), "epoch")));
    json_decref(r);
    expect_action(a, "welcome");
    announce("{\"topic\": \"room:lobby\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": %d}}}", 1);
    announced(a, 1, 1);
    cx_communicator *speaker = hub("bob", "/ws/hub/");
    json_decref(subscribe(speaker, "1", NULL));
    expect_action(speaker, "welcome");
    cx_communicator_disconnect(a);   /* the tunnel */

    announce("{\"topic\": \"room:lobby\", \"seq\": 42, \"event\": {\"action\": \"announce\", \"payload\": {\"n\": %d}}}", 2);
    announce("{\"groups\": [\"RoomTopic.room-lobby\"], \"topic\": \"room:lobby\", \"seq\": -3,"
             " \"event\": {\"action\": \"announce\", \"payload\": {\"n\": %d}}}", 3);
    json_t *batch = cx_api_publish(stack, "/api/batch", "{\"commands\": [{\"method\": \"broadcast\", \"params\":"
                                   " {\"topic\": \"room:lobby\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": 4}}}}]}");
    json_decref(batch);
    say(speaker, "m5");
    announced(speaker, 2, 2);
    announced(speaker, 3, 3);
    announced(speaker, 4, 4);
    said(speaker, 5, "m5");

    cx_communicator *back = hub("alice", "/ws/hub/");
    json_t *s = since(epoch, 1);
    r = subscribe(back, "r2", s);
    json_decref(s);
    cr_assert(json_is_true(json_object_get(json_object_get(r, "payload"), "recovered")));
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(r, "payload"), "seq")), 5);
    json_decref(r);
    announced(back, 2, 2);   /* exactly the missed ones, events and pushes in their order */
    announced(back, 3, 3);
    announced(back, 4, 4);
    said(back, 5, "m5");
    expect_action(back, "welcome");
    announce("{\"topic\": \"room:lobby\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": %d}}}", 6);
    announced(back, 6, 6);   /* then the live ones */
    cx_receive_nothing(back, 300);
}

/* A lone broker restart: the room's history is lost (a new epoch, recovered: false for the old one),
 * and the room keeps recording from the restart on, from its members' re-announcements, not from its
 * next subscribe: a push right after it is seq 1 of the new epoch and is recovered with since. */
Test(topics_history, after_a_lone_broker_restart_the_room_records_at_once_in_a_new_epoch)
{
    cx_communicator *speaker = hub("bob", "/ws/hub/");
    json_t *r = subscribe(speaker, "1", NULL);
    char old[64], epoch[64], path[200];
    snprintf(old, sizeof old, "%s", json_string_value(json_object_get(json_object_get(r, "payload"), "epoch")));
    json_decref(r);
    expect_action(speaker, "welcome");
    say(speaker, "before");
    said(speaker, 1, "before");

    cx_stack_kill_broker(stack, SIGKILL);
    cx_stack_start_broker(stack);
    char *log = cx_stack_log(stack, "broker", "state rebuilt", 20000);
    cr_assert_not_null(log, "the broker did not rebuild");
    free(log);
    say(speaker, "after");   /* nobody subscribed since the restart */
    said(speaker, 1, "after");

    cx_communicator *late = hub("alice", "/ws/hub/");
    json_t *s = since(old, 1);
    r = subscribe(late, "r", s);
    json_decref(s);
    json_t *p = json_object_get(r, "payload");
    cr_assert_str_neq(json_string_value(json_object_get(p, "epoch")), old, "the history was lost: a new epoch");
    cr_assert(json_is_false(json_object_get(p, "recovered")), "never a silent gap after a restart");
    cr_assert_eq(json_integer_value(json_object_get(p, "seq")), 1);
    snprintf(epoch, sizeof epoch, "%s", json_string_value(json_object_get(p, "epoch")));
    json_decref(r);
    expect_action(late, "welcome");
    snprintf(path, sizeof path, "/ws/hub/room/lobby/?since=%s:0", epoch);
    cx_communicator *own = hub("alice", path);
    r = cx_receive_json(own, WAIT);
    cr_assert(json_is_true(json_object_get(json_object_get(r, "payload"), "recovered")), "the new epoch covers it");
    json_decref(r);
    said(own, 1, "after");
    expect_action(own, "welcome");
}

Test(topics_history, the_rooms_own_route_takes_since)
{
    char epoch[64], path[160];
    cx_communicator *speaker;
    missed_five(&speaker, epoch);
    snprintf(path, sizeof path, "/ws/hub/room/lobby/?since=%s:6", epoch);
    cx_communicator *own = hub("alice", path);
    json_t *r = cx_receive_json(own, WAIT);
    json_t *p = json_object_get(r, "payload");
    cr_assert_str_eq(json_string_value(json_object_get(r, "action")), "subscribed");
    cr_assert(json_is_true(json_object_get(p, "recovered")));
    cr_assert_eq(json_integer_value(json_object_get(p, "seq")), 8);
    json_decref(r);
    said(own, 7, "m7");
    said(own, 8, "m8");
    expect_action(own, "welcome");
}

Test(topics_history, a_since_that_makes_no_sense_is_recovered_false_and_replays_nothing)
{
    char epoch[64], longest[300], hall[64];
    cx_communicator *speaker;
    missed_five(&speaker, epoch);
    memset(longest, 'e', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    cx_topic_send(speaker, "room:hall", "h", "subscribe", NULL);   /* another topic's real epoch */
    json_t *h = cx_receive_topic(speaker, "room:hall", "subscribed", WAIT);
    snprintf(hall, sizeof hall, "%s", json_string_value(json_object_get(json_object_get(h, "payload"), "epoch")));
    json_decref(h);
    size_t mb = 1000 * 1000;   /* an epoch of 1 MB: the frame stays under CHANX_MAX_MESSAGE_BYTES (1 MiB) */
    char *huge = malloc(mb + 1);
    memset(huge, 'e', mb);
    huge[mb] = '\0';
    json_t *bad[] = {
        since("0123456789abcdef", 3),   /* another epoch */
        since(hall, 3),                 /* another topic's */
        since(huge, 3),
        since(epoch, -1),
        since(epoch, 9),                /* the future */
        since(longest, 3),
        json_pack("{s:{s:i, s:i}}", "since", "epoch", 5, "seq", 3),
        json_pack("{s:{s:s, s:s}}", "since", "epoch", epoch, "seq", "3"),
        json_pack("{s:{s:s, s:f}}", "since", "epoch", epoch, "seq", 3.5),
        json_pack("{s:s}", "since", "yesterday"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cx_communicator *c = hub("alice", "/ws/hub/");
        json_t *r = subscribe(c, "b", bad[i]);
        char *text = json_dumps(r, JSON_COMPACT);
        cr_assert(json_is_false(json_object_get(json_object_get(r, "payload"), "recovered")), "%s", text);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(r, "payload"), "seq")), 8, "%s", text);
        free(text);
        json_decref(r);
        json_decref(bad[i]);
        expect_action(c, "welcome");   /* and no replay before it */
        cx_communicator_disconnect(c);
    }
    free(huge);
    json_t *alive = json_pack("{s:s}", "text", "alive");   /* and the worker still serves */
    cx_topic_send(speaker, "room:lobby", "p", "echo", alive);
    json_decref(alive);
    json_decref(cx_receive_topic(speaker, "room:lobby", "echoed", WAIT));
}

Test(topics_history, who_answers_the_rooms_users_with_the_ref)
{
    cx_communicator *a = hub("alice", "/ws/hub/");
    json_decref(subscribe(a, "1", NULL));
    expect_action(a, "welcome");
    cx_communicator *b = hub("bob", "/ws/hub/room/lobby/");
    expect_action(b, "subscribed");
    expect_action(b, "welcome");
    cx_topic_send(a, "room:lobby", "w1", "who", NULL);
    json_t *m = cx_receive_topic(a, "room:lobby", "present", WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(m, "ref")), "w1");
    json_t *users = json_object_get(json_object_get(m, "payload"), "users");
    cr_assert_eq(json_array_size(users), 2, "alice on the hub, bob on the room's own route");
    json_decref(m);

    json_t *reply = NULL;   /* the same from the publish API, by topic */
    cr_assert_eq(cx_api_post(stack, "/api/presence_stats", CX_TEST_API_KEY, "{\"topic\": \"room:lobby\"}", &reply), 200);
    cx_assert_json_eq(reply, "{\"group\": \"RoomTopic.room-lobby\", \"users\": 2, \"connections\": 2, \"anonymous\": 0}");
    json_decref(reply);
    cr_assert_eq(cx_api_post(stack, "/api/presence", CX_TEST_API_KEY, "{\"topic\": \"room:nobody\"}", &reply), 404);
    json_decref(reply);
    cr_assert_eq(cx_api_post(stack, "/api/presence", CX_TEST_API_KEY, "{\"topic\": \"nope:1\"}", &reply), 400);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "unknown_topic");
    json_decref(reply);
    cr_assert_eq(cx_api_post(stack, "/api/presence", CX_TEST_API_KEY,
                             "{\"topic\": \"room:lobby\", \"group\": \"g\"}", &reply), 400);
    json_decref(reply);

    char cmd[1024];   /* and from chanx-admin, straight to the broker */
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    const char *keys = cx_stack_keys_dir(stack);
    snprintf(cmd, sizeof cmd, "CHANX_BROKER='%s' CHANX_CURVE_DIR='%s' %s/chanx-admin presence --topic room:lobby 2>&1",
             cx_stack_broker(stack), keys ? keys : "", bin);
    int status;
    char *out = cx_shell_output(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", out);
    json_t *answer = json_loads(out, 0, NULL);
    cr_assert_eq(json_array_size(json_object_get(answer, "users")), 2, "%s", out);
    json_decref(answer);
    free(out);
}

/* /asyncapi.json says it: the room's subscribe takes a since, its subscribed carries epoch, seq and
 * recovered; the document stays valid AsyncAPI 3.0. */
Test(topics_history, asyncapi_describes_since_and_recovered)
{
    char *body = cx_asyncapi_valid(stack, "recovered");
    cr_assert(strstr(body, "\"since\""), "subscribe's since described");
    free(body);
}
