/*
 * A topic is one name and its group is its own (found by an adversarial
 * client, qa-attack): Chanx maps a topic to a channel group by slugging it
 * (common/topic_name.c), and the slug is not one-to-one: "room:!staff-ops",
 * "room:staff-ops-" and "room: staff-ops" all become "RoomTopic.room-staff-ops".
 * The hub's authorize callback judges the parameter it is shown ("!staff-ops"
 * does not start with "staff-"), so a user who may not read the staff room
 * subscribed under another spelling and got its traffic, its presence and its
 * history. The worker now refuses any topic whose group another topic of the
 * same pattern also names (reason unknown_topic, with why), on the multiplexed
 * route and on the topic's own route, while the plain spellings keep working;
 * and a NUL in a topic (read as a C string, it named another topic) is a
 * bad envelope.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

CX_STACK_SUITE(topic_names);

#define WAIT 5000

static cx_communicator *hub_client(const char *name, int flags, const char *path)
{
    int64_t id = cx_db_create_user(stack, name, flags);
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, id));
    cx_assert_authenticated_status_ok(c);
    return c;
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
    const char *spellings[] = { "room:!staff-ops", "room:staff-ops-", "room: staff-ops", "room:staff!ops",
                                "room:staff--ops" /* its own group, room-staff--ops: refused by authorize */ };
    for (size_t i = 0; i < sizeof spellings / sizeof *spellings; i++) {
        json_t *r = cx_topic_subscribe(eve, spellings[i], "1", WAIT);
        cr_assert_str_eq(action_of(r), "error", "%s was subscribed", spellings[i]);
        const char *want = i == 4 ? "unauthorized" : "unknown_topic";
        cr_assert_str_eq(reason_of(r), want, "%s: %s", spellings[i], reason_of(r));
        json_decref(r);
    }
    staff_says(staff, "merger plans");
    cx_receive_nothing(eve, 500);

    /* the topic's own route fills the topic from the URL: the same refusal */
    cx_communicator *own = hub_client("mallory", 0, "/ws/hub/room/!staff-ops/");
    json_t *r = cx_receive_json(own, WAIT);
    cr_assert_str_eq(action_of(r), "error");
    cr_assert_str_eq(reason_of(r), "unknown_topic");
    json_decref(r);
    staff_says(staff, "more plans");
    cx_receive_nothing(own, 500);

    /* the plain spellings still work: a room whose name holds '-', '_' and '.' */
    json_t *plain = cx_topic_subscribe(eve, "room:team-a_b.c", NULL, WAIT);
    cr_assert_str_eq(action_of(plain), "subscribed");
    json_decref(plain);
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
