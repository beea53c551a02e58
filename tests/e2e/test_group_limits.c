/*
 * Groups past the envelope's 64 and the bounds on group names and counts
 * (issue 28, 4): a group message to the groups a connection joined, or to
 * an explicit list, silently skipped every group past the 64th; group
 * names had no bound (500 KB names cost the three processes hundreds of
 * MB). Now every group is reached, once per member however many of the
 * groups it is in; names follow Django Channels' rule; and one connection
 * joins at most CHANX_MAX_GROUPS_PER_CONNECTION groups (150 here).
 *
 * Consumer: tests/plugins/cons_groups (ws/cons_groups/<room>/ joins "room_<room>").
 */
#include "test_consumer.h"

static cx_stack *stack;

static void setup(void)
{
    stack = cons_stack_start((const char *[]) { "cons_groups", NULL },
                             (const char *[]) { "CHANX_MAX_GROUPS_PER_CONNECTION=150", NULL });
}
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(group_limits, .init = setup, .fini = teardown, .timeout = 90);

static cx_communicator *connect_as(const char *name, const char *room)
{
    char path[128];
    snprintf(path, sizeof path, "/ws/cons_groups/%s/", room);
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, cx_db_create_user(stack, name, 0)));
    cx_assert_authenticated_status_ok(c);
    return c;
}

/* The payload of the reply to action (a JSON text of its payload). */
static json_t *request(cx_communicator *c, const char *action, const char *payload_json, const char *reply)
{
    json_t *payload = json_loads(payload_json, JSON_DECODE_ANY, NULL);
    json_t *answer = cx_request(c, action, payload, reply, 5000);
    json_decref(payload);
    cr_assert_not_null(answer, "no '%s' after '%s' %s", reply, action, payload_json);
    return answer;
}

static void join(cx_communicator *c, const char *group)
{
    char payload[200];
    snprintf(payload, sizeof payload, "{\"group\": \"%s\"}", group);
    json_decref(request(c, "join", payload, "joined"));
}

static json_int_t join_many(cx_communicator *c, const char *prefix, int count)
{
    char payload[200];
    snprintf(payload, sizeof payload, "{\"prefix\": \"%s\", \"count\": %d}", prefix, count);
    json_t *reply = request(c, "join_many", payload, "joined_many");
    json_int_t joined = json_integer_value(json_object_get(reply, "joined"));
    json_decref(reply);
    return joined;
}

/* Exactly one message of action before group_complete. */
static void assert_received_once(cx_communicator *c, const char *action, const char *who)
{
    json_t *all = cx_receive_all_json(c, 5000, 1);
    char *text = cons_dump(all);
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(all); i++)
        n += strcmp(action_of(json_array_get(all, i)), action) == 0;
    cr_assert_eq(n, 1, "%s: expected one '%s', got %s", who, action, text);
    free(text);
    json_decref(all);
}

Test(group_limits, a_group_message_reaches_every_group_joined_past_the_64th_once_per_member)
{
    cx_communicator *sender = connect_as("alice", "a"), *both = connect_as("bob", "b"), *late = connect_as("carol", "c");
    json_int_t got = join_many(sender, "g", 100);
    cr_assert_eq(got, 100, "joined %lld", (long long) got);
    join(both, "g3");    /* in the first 64 of the sender's groups... */
    join(both, "g99");   /* ...and past them: one copy all the same */
    join(late, "g70");   /* only past the 64th */
    json_decref(request(sender, "say", "{\"text\": \"to all my groups\"}", "complete"));
    assert_received_once(late, "say", "a member of the 72nd group");
    assert_received_once(both, "say", "a member of the 5th and the 101st group");
}

Test(group_limits, an_explicit_list_of_100_groups_reaches_every_one)
{
    cx_communicator *sender = connect_as("alice", "a"), *last = connect_as("bob", "b"), *two = connect_as("carol", "c");
    join(last, "x99");
    join(two, "x1");
    join(two, "x80");
    json_decref(request(sender, "to_many", "{\"prefix\": \"x\", \"count\": 100, \"text\": \"hi\"}", "complete"));
    assert_received_once(last, "to_many", "a member of the 100th group");
    assert_received_once(two, "to_many", "a member of the 2nd and the 81st group");
}

Test(group_limits, group_names_follow_channels_rule_and_a_bad_one_is_refused_and_logged)
{
    cx_communicator *c = connect_as("alice", "a");
    char ok[100], too_long[101], payload[300];
    memset(ok, 'n', 99);
    ok[99] = '\0';
    memset(too_long, 'n', 100);
    too_long[100] = '\0';
    join(c, ok);   /* 99 characters: Channels' longest */
    const char *bad[] = { too_long, "with space", "caf\\u00e9", "semi;colon" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(payload, sizeof payload, "{\"group\": \"%s\"}", bad[i]);
        json_t *reply = request(c, "join", payload, "error");
        json_decref(reply);
    }
    char *log = cx_stack_log(stack, "worker0", "group refused", 5000);
    cr_assert_not_null(log, "a refused group name left no log record");
    cr_assert(strstr(log, "Django Channels"), "%s", log);
    free(log);
    json_decref(request(c, "to_many", "{\"prefix\": \"bad name \", \"count\": 2, \"text\": \"x\"}", "error"));
}

Test(group_limits, a_connection_joins_at_most_the_configured_number_of_groups)
{
    cx_communicator *c = connect_as("alice", "a");
    cr_assert_eq(join_many(c, "c", 200), 149, "room_a and 149 more make CHANX_MAX_GROUPS_PER_CONNECTION's 150");
    char *log = cx_stack_log(stack, "worker0", "CHANX_MAX_GROUPS_PER_CONNECTION", 5000);
    cr_assert_not_null(log, "the refused join left no log record");
    free(log);
    json_decref(request(c, "leave", "{\"group\": \"c0\"}", "left"));
    join(c, "again");   /* a place freed is a place to take */
}
