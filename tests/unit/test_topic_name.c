/*
 * test_topic_name.c — topic patterns and topic → group names (common/topic_name.c).
 *
 * Group names must be Chanx's to the byte: a Django process publishing with
 * RoomTopic.broadcast() and a C worker subscribing must meet on one group.
 * The expected names were computed with Chanx 2.10's safe_group_name
 * (chanx/utils/groups.py) and Python's hashlib.blake2s(digest_size=6).
 */
#include "common/topic_name.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static char err[256];

static cx_topic_pattern *compile(const char *text)
{
    cx_topic_pattern *p = cx_topic_pattern_new(text, err, sizeof err);
    cr_assert_not_null(p, "'%s' should compile: %s", text, err);
    return p;
}

static void expect_group(const char *topic, const char *ns, const char *want)
{
    char out[CX_TOPIC_MAX_GROUP + 1];
    cr_assert_eq(cx_topic_group_name(topic, strlen(topic), ns, out), 0, "%s", topic);
    cr_assert_str_eq(out, want);
}

Test(topic_name, chanx_group_names)
{
    expect_group("room:lobby", "RoomTopic", "RoomTopic.room-lobby");
    expect_group("discussion:5", "DiscussionTopic", "DiscussionTopic.discussion-5");
    expect_group("room:Weekly Sync!", "RoomTopic", "RoomTopic.room-Weekly-Sync");
    expect_group("::room::", "X", "X.room");
    expect_group("room:\xc3\xa9\xc3\xa9\xc3\xa9", "RoomTopic", "RoomTopic.room");   /* a run of é: one '-', stripped */
    expect_group("room:lobby", NULL, "room-lobby");
    expect_group(":::", "RoomTopic", "RoomTopic");   /* an empty segment is dropped with its '.' */
}

Test(topic_name, long_names_truncate_with_a_blake2s_digest)
{
    char topic[256];
    memcpy(topic, "room:", 5);
    memset(topic + 5, 'a', 84);
    topic[89] = '\0';   /* "RoomTopic." + 89 = 99 characters: kept whole */
    expect_group(topic, "RoomTopic",
                 "RoomTopic.room-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    topic[89] = 'a', topic[90] = '\0';   /* 100: truncated */
    expect_group(topic, "RoomTopic",
                 "RoomTopic.room-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.0256cb8f17a4");
    memset(topic, 'x', 200);
    topic[200] = '\0';
    expect_group(topic, "RoomTopic",
                 "RoomTopic.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.92e64099e3aa");
}

Test(topic_name, nothing_left_is_refused)
{
    char out[CX_TOPIC_MAX_GROUP + 1];
    cr_assert_eq(cx_topic_group_name("!!!", 3, NULL, out), -1);
    cr_assert_eq(cx_topic_group_name("", 0, "--", out), -1);
}

Test(topic_name, patterns_match_like_chanx)
{
    cx_topic_pattern *p = compile("room:{name}");
    cr_assert_eq(cx_topic_pattern_nparams(p), 1);
    cr_assert_str_eq(cx_topic_pattern_param(p, 0), "name");
    json_t *params = json_object();
    cr_assert(cx_topic_pattern_match(p, "room:lobby", 10, params));
    cr_assert_str_eq(json_string_value(json_object_get(params, "name")), "lobby");
    cr_assert_not(cx_topic_pattern_match(p, "room:", 5, NULL), "a parameter takes one character or more");
    cr_assert_not(cx_topic_pattern_match(p, "room:a:b", 8, NULL), "a parameter stops at ':'");
    cr_assert_not(cx_topic_pattern_match(p, "rooms:a", 7, NULL));
    cr_assert_not(cx_topic_pattern_match(p, "xroom:a", 7, NULL));
    cx_topic_pattern_destroy(&p);

    p = compile("a:{x}-{y}");   /* greedy, as Python's (?P<x>[^:]+)-(?P<y>[^:]+) */
    json_object_clear(params);
    cr_assert(cx_topic_pattern_match(p, "a:p-q-r", 7, params));
    cr_assert_str_eq(json_string_value(json_object_get(params, "x")), "p-q");
    cr_assert_str_eq(json_string_value(json_object_get(params, "y")), "r");
    cx_topic_pattern_destroy(&p);

    p = compile("status");   /* no parameter: the topic is the literal */
    cr_assert(cx_topic_pattern_match(p, "status", 6, NULL));
    cr_assert_not(cx_topic_pattern_match(p, "status2", 7, NULL));
    cx_topic_pattern_destroy(&p);
    json_decref(params);
}

Test(topic_name, bad_patterns_are_refused_with_a_reason)
{
    const char *bad[][2] = {
        { "", "empty" },        { "room:{name", "unclosed" },          { "room:{}", "empty '{}'" },
        { "r:{a-b}", "letters" }, { "r:{a}{b}", "side by side" },     { "r:{a}:{a}", "named twice" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_null(cx_topic_pattern_new(bad[i][0], err, sizeof err), "'%s' compiled", bad[i][0]);
        cr_assert(strstr(err, bad[i][1]), "'%s': %s", bad[i][0], err);
    }
}

Test(topic_name, fill_from_url_kwargs)
{
    cx_topic_pattern *p = compile("room:{name}:{id}");
    json_t *kw = json_pack("{s:s, s:I}", "name", "lobby", "id", (json_int_t) 7);
    char *t = cx_topic_pattern_fill(p, kw, err, sizeof err);
    cr_assert_str_eq(t, "room:lobby:7");
    free(t);
    json_object_del(kw, "id");
    cr_assert_null(cx_topic_pattern_fill(p, kw, err, sizeof err));
    cr_assert(strstr(err, "'id'"), "%s", err);
    json_decref(kw);
    cx_topic_pattern_destroy(&p);
}

/* Two topics a subscriber may hold never share a group: each spelling that slugs to another topic's
 * group is refused, the plain one kept, also where two parameters could split differently. */
static int own(const char *pattern, const char *topic)
{
    cx_topic_pattern *p = compile(pattern);
    cr_assert(cx_topic_pattern_match(p, topic, strlen(topic), NULL), "%s does not match %s", topic, pattern);
    int r = cx_topic_group_is_own(p, topic, strlen(topic));
    cx_topic_pattern_destroy(&p);
    return r;
}

Test(topic_name, a_topic_owns_its_group_or_is_refused)
{
    cr_expect(own("room:{name}", "room:staff-ops"));
    cr_expect(own("room:{name}", "room:a.b_c-9"));
    cr_expect(own("room:{name}", "room:-x"));          /* room--x: no other topic spells it */
    cr_expect_not(own("room:{name}", "room:!staff-ops"));
    cr_expect_not(own("room:{name}", "room:staff!ops"));
    cr_expect_not(own("room:{name}", "room:staff-ops-"));
    cr_expect_not(own("room:{name}", "room: staff-ops"));
    cr_expect(own("room/{name}", "room/lobby"));        /* an unsafe literal is fine: it is fixed */
    cr_expect(own("{a}:{b}", "x:y"));
    cr_expect_not(own("{a}:{b}", "x-y:z"));            /* and x:y-z: both x-y-z */
    cr_expect_not(own("{a}:{b}", "x:y-z"));
    cr_expect(own("{a}.{b}", "x.y.z"));                 /* one topic, however it splits */
    cr_expect_not(own("{name}", "-x"));                 /* stripped: x */
}

static const char *group_of(const char *pattern, const char *topic, char out[CX_TOPIC_MAX_GROUP + 1])
{
    cx_topic_pattern *p = compile(pattern);
    int rc = cx_topic_group_of(p, topic, strlen(topic), "RoomTopic", out);
    cx_topic_pattern_destroy(&p);
    return rc == 0 ? out : NULL;
}

/* A topic that owns Chanx's name keeps it; every other spelling gets one of its own; a plain name
 * shaped like those is refused. */
Test(topic_name, every_topic_is_delivered_on_a_group_of_its_own)
{
    char a[CX_TOPIC_MAX_GROUP + 1], b[CX_TOPIC_MAX_GROUP + 1], c[CX_TOPIC_MAX_GROUP + 1];
    cr_assert_str_eq(group_of("room:{name}", "room:staff-ops", a), "RoomTopic.room-staff-ops");
    cr_assert_not_null(group_of("room:{name}", "room:!staff-ops", b));
    cr_assert_not_null(group_of("room:{name}", "room:staff!ops", c));
    cr_assert_str_neq(a, b);
    cr_assert_str_neq(b, c);
    cr_assert(strncmp(b, "RoomTopic.room-staff-ops.", 25) == 0 && strlen(b) == 25 + 12, "%s", b);
    cr_assert_not_null(group_of("room:{name}", "room:\u65e5\u672c", a));
    cr_assert_not_null(group_of("room:{name}", "room:\u4e2d", b));
    cr_assert_str_neq(a, b);
    cr_assert_null(group_of("room:{name}", "room:x.0123456789ab", a));
    cr_assert_str_eq(group_of("room:{name}", "room:x.0123456789", a), "RoomTopic.room-x.0123456789");
}
