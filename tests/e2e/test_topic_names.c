/*
 * A topic is one name and its group is its own (found by an adversarial
 * client, qa-attack): Chanx maps a topic to a channel group by slugging it
 * (common/topic_name.c), and the slug is not one-to-one: "room:!staff-ops",
 * "room:éstaff-ops" and "room: staff-ops" all become "RoomTopic.room-staff-ops".
 * The hub's authorize callback judges the parameter it is shown ("!staff-ops"
 * does not start with "staff-"), so a user who may not read the staff room
 * subscribed under another spelling and got its traffic, its presence and its
 * history. Such a spelling now gets a group of its own (a digest of the topic
 * as written), on the multiplexed route and on the topic's own route: it is
 * another room, with nothing of the staff room's; a topic whose plain name is
 * shaped like those digest names is refused. And a NUL in a topic (read as a
 * C string, it named another topic) is a bad envelope.
 */
#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

CX_STACK_SUITE(topic_names);

#define WAIT 5000

static cx_communicator *hub_client(const char *name, int flags, const char *path)
{
    return cx_user_client(stack, name, flags, path);
}

static const char *action_of(const json_t *frame)
{
    return json_string_value(json_object_get(frame, "action"));
}

static const char *reason_of(const json_t *frame)
{
    return json_string_value(json_object_get(json_object_get(frame, "payload"), "reason"));
}

static void staff_says(cx_communicator *staff, const char *text)
{
    json_t *p = json_pack("{s:s}", "text", text);
    cx_topic_send(staff, "room:staff-ops", NULL, "say", p);
    json_decref(p);
    json_decref(cx_receive_topic(staff, "room:staff-ops", "said", WAIT));
}

Test(topic_names, another_spelling_of_a_refused_topic_does_not_reach_its_group)
{
    cx_communicator *staff = hub_client("root", CX_USER_STAFF_FLAG, "/ws/hub/");
    json_t *ok = cx_topic_subscribe(staff, "room:staff-ops", NULL, WAIT);
    cr_assert_str_eq(action_of(ok), "subscribed");
    json_decref(ok);
    json_decref(cx_receive_topic(staff, "room:staff-ops", "welcome", WAIT));
    staff_says(staff, "before");   /* kept in the room's history */

    cx_communicator *eve = hub_client("eve", 0, "/ws/hub/");
    const char *spellings[] = { "room:!staff-ops", "room:\u00e9staff-ops", "room: staff-ops", "room:staff!ops" };
    for (size_t i = 0; i < sizeof spellings / sizeof *spellings; i++) {
        json_t *r = cx_topic_subscribe(eve, spellings[i], "1", WAIT);   /* another room: allowed */
        cr_assert_str_eq(action_of(r), "subscribed", "%s: %s", spellings[i], action_of(r));
        json_t *seq = json_object_get(json_object_get(r, "payload"), "seq");
        cr_assert_eq(json_integer_value(seq), 0, "%s is a new room, not the staff room's history", spellings[i]);
        json_decref(r);
        json_decref(cx_receive_topic(eve, spellings[i], "welcome", WAIT));
    }
    json_t *refused = cx_topic_subscribe(eve, "room:staff--ops", "1", WAIT);   /* its own name: authorize */
    cr_assert_str_eq(reason_of(refused), "unauthorized");
    json_decref(refused);
    staff_says(staff, "merger plans");
    cx_receive_nothing(eve, 500);

    /* the topic's own route fills the topic from the URL: the same */
    cx_communicator *own = hub_client("mallory", 0, "/ws/hub/room/!staff-ops/");
    json_t *r = cx_receive_json(own, WAIT);
    cr_assert_str_eq(action_of(r), "subscribed");
    json_decref(r);
    json_decref(cx_receive_json(own, WAIT));   /* welcome */
    staff_says(staff, "more plans");
    cx_receive_nothing(own, 500);

    /* a room name in another script is a room of its own too, as is every other spelling */
    const char *scripts[] = { "room:\u65e5\u672c", "room:\u4e2d" };
    for (int i = 0; i < 2; i++) {
        json_t *a = cx_topic_subscribe(eve, scripts[i], NULL, WAIT);
        cr_assert_str_eq(action_of(a), "subscribed");
        json_decref(a);
        json_decref(cx_receive_topic(eve, scripts[i], "welcome", WAIT));
    }
    cx_communicator *bob = hub_client("bob", 0, "/ws/hub/");
    json_decref(cx_topic_subscribe(bob, "room:\u4e2d", NULL, WAIT));
    json_decref(cx_receive_topic(bob, "room:\u4e2d", "welcome", WAIT));
    json_t *p = json_pack("{s:s}", "text", "ni hao");
    cx_topic_send(bob, "room:\u4e2d", NULL, "say", p);
    json_decref(p);
    json_decref(cx_receive_topic(bob, "room:\u4e2d", "said", WAIT));
    json_t *m = cx_receive_json(eve, WAIT);
    cr_assert_str_eq(json_string_value(json_object_get(m, "topic")), "room:\u4e2d", "only that room's subscribers");
    json_decref(m);
    cx_receive_nothing(eve, 300);

    /* a plain name shaped like those digest names is refused: it could be another spelling's group */
    json_t *shaped = cx_topic_subscribe(eve, "room:x.0123456789ab", NULL, WAIT);
    cr_assert_str_eq(reason_of(shaped), "unknown_topic");
    json_decref(shaped);
}

/* The worker reads topics as C strings: "room:lob\u0000by" was subscribed as room:lob, a topic the
 * client never named. A NUL in the topic or the ref is refused as a bad envelope, and nothing else
 * happens: the connection's other topics go on. */
Test(topic_names, a_nul_in_the_topic_or_ref_is_a_bad_envelope)
{
    cx_communicator *c = hub_client("alice", 0, "/ws/hub/");
    const char *bad[][2] = {
        { "{\"version\": 1, \"topic\": \"room:lob\\u0000by\", \"ref\": \"1\", \"action\": \"subscribe\"}", "topic" },
        { "{\"version\": 1, \"topic\": \"room:lobby\", \"ref\": \"1\\u0000\", \"action\": \"subscribe\"}", "ref" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cx_send_text(c, bad[i][0]);
        json_t *e = cx_receive_json(c, WAIT);
        cr_assert_str_eq(action_of(e), "error", "%s", bad[i][0]);
        json_t *first = json_array_get(json_object_get(e, "payload"), 0);
        cr_assert_str_eq(json_string_value(json_object_get(first, "type")), "string_type");
        cr_assert_str_eq(json_string_value(json_array_get(json_object_get(first, "loc"), 0)), bad[i][1]);
        json_decref(e);
    }
    json_t *ok = cx_topic_subscribe(c, "room:lobby", NULL, WAIT);
    cr_assert_str_eq(action_of(ok), "subscribed");
    cr_assert_str_eq(json_string_value(json_object_get(ok, "topic")), "room:lobby");
    json_decref(ok);
}
