/*
 * Presence (issue 25), through real processes: who is in a group, from the
 * publish API, the Python client, chanx-admin and a consumer's own call,
 * one entry per user with their connections; right after a gateway dies (the
 * user leaves within the heartbeat timeout) and after a broker restart (back
 * whole, the same connected_since); and the presence_joined / presence_left
 * pushes, once per user, not per tab. The stack and clients are
 * test_history.h's (tests/plugins/hist_probe's feed room pushes presence).
 */
#include "tests/e2e/test_history.h"

TestSuite(presence, .fini = history_teardown, .timeout = 120);

/* POST /api/presence (or presence_stats) for group; asserts the status, returns the answer (owned). */
static json_t *presence(const char *method, const char *group, int status)
{
    char body[256];
    snprintf(body, sizeof body, "{\"group\": \"%s\"}", group);
    return api_expect(method, body, status);
}

/* The entry of username in a presence answer, or NULL. */
static json_t *user_entry(const json_t *answer, const char *username)
{
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(answer, "users"), i, u)
        if (strcmp(json_string_value(json_object_get(u, "username")), username) == 0)
            return u;
    return NULL;
}

static size_t connections_of(const json_t *answer, const char *username)
{
    return json_array_size(json_object_get(user_entry(answer, username), "connections"));
}

/* Polls presence until username has n connections (the broker learns of a dead gateway or a rebuild
 * on its own time); returns the answer (owned). */
static json_t *presence_until(const char *group, const char *username, size_t n, int timeout_ms)
{
    for (int waited = 0;; waited += 100) {
        json_t *answer = NULL;
        char body[256];
        snprintf(body, sizeof body, "{\"group\": \"%s\"}", group);
        int status = cx_api_post(stack, "/api/presence", CX_TEST_API_KEY, body, &answer);
        if (status == 200 && connections_of(answer, username) == n)
            return answer;
        char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
        cr_assert(waited < timeout_ms, "%s never had %zu connections in %s: HTTP %d %s", username, n, group, status,
                  text ? text : "");
        free(text);
        json_decref(answer);
        usleep(100 * 1000);
    }
}

Test(presence, presence_lists_each_user_once_with_their_connections_and_stats_count_them)
{
    start(2, 0);
    cx_communicator *a1 = client(0, "/ws/hist_probe/lobby/", alice);
    cx_communicator *a2 = client(1, "/ws/hist_probe/lobby/", alice);   /* a second tab, elsewhere */
    cx_communicator *b = client(1, "/ws/hist_probe/lobby/", bob);
    cx_communicator *other = client(0, "/ws/hist_probe/hall/", bob);
    (void) a1, (void) a2, (void) b, (void) other;

    json_t *answer = presence("presence", "feed_lobby", 200);
    cr_assert_str_eq(json_string_value(json_object_get(answer, "group")), "feed_lobby");
    cr_assert_eq(json_array_size(json_object_get(answer, "users")), 2, "one entry per user, not per tab");
    json_t *a = user_entry(answer, "alice");
    cr_assert_not_null(a);
    cr_assert_eq(json_integer_value(json_object_get(a, "user_id")), alice);
    json_t *conns = json_object_get(a, "connections");
    cr_assert_eq(json_array_size(conns), 2);
    const char *g0 = json_string_value(json_object_get(json_array_get(conns, 0), "gateway"));
    const char *g1 = json_string_value(json_object_get(json_array_get(conns, 1), "gateway"));
    cr_assert(g0 && g1 && strncmp(g0, "gateway-", 8) == 0 && strcmp(g0, g1) != 0, "two gateways: %s %s", g0, g1);
    const char *since = json_string_value(json_object_get(json_array_get(conns, 0), "connected_since"));
    cr_assert(since && strlen(since) == 24 && since[10] == 'T' && since[23] == 'Z', "RFC 3339 UTC: %s", since);
    cr_assert_eq(connections_of(answer, "bob"), 1, "bob's other room is another group");
    cr_assert(json_is_false(json_object_get(answer, "truncated")));
    json_decref(answer);

    answer = presence("presence_stats", "feed_lobby", 200);
    cx_assert_json_eq(answer, "{\"group\": \"feed_lobby\", \"users\": 2, \"connections\": 3, \"anonymous\": 0}");
    json_decref(answer);

    cx_communicator_disconnect(a2);   /* a tab closed: alice stays, with one connection */
    json_decref(presence_until("feed_lobby", "alice", 1, 10000));
}

Test(presence, presence_refuses_bad_input_clearly)
{
    start(1, 0);
    json_t *answer = presence("presence", "feed_nobody", 404);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(answer, "error"), "code")), "group_not_found");
    json_decref(answer);
    answer = presence("presence_stats", "feed_nobody", 404);
    json_decref(answer);
    answer = presence("presence", "no spaces", 400);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(answer, "error"), "code")), "invalid_group");
    json_decref(answer);
    json_t *reply = NULL;
    cr_assert_eq(cx_api_post(stack, "/api/presence", CX_TEST_API_KEY, "{}", &reply), 400);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "missing_target");
    json_decref(reply);
    cr_assert_eq(cx_api_post(stack, "/api/presence", CX_TEST_API_KEY, "{\"group\": \"g\", \"x\": 1}", &reply), 400);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(reply, "error"), "code")), "unknown_field");
    json_decref(reply);
    cr_assert_eq(cx_api_post(stack, "/api/presence", NULL, "{\"group\": \"g\"}", &reply), 401);
    json_decref(reply);
}

Test(presence, a_user_whose_gateway_dies_leaves_and_a_broker_restart_brings_presence_back_whole)
{
    start(2, 0);
    cx_communicator *a = client(0, "/ws/hist_probe/lobby/", alice);
    cx_communicator *b = client(1, "/ws/hist_probe/lobby/", bob);
    (void) a, (void) b;
    json_t *before = presence("presence", "feed_lobby", 200);
    cr_assert_eq(json_array_size(json_object_get(before, "users")), 2);

    cx_stack_kill_broker(stack, SIGKILL);   /* presence lives in the broker's memory only */
    cx_stack_start_broker(stack);
    json_decref(presence_until("feed_lobby", "bob", 1, 20000));
    json_t *after = presence_until("feed_lobby", "alice", 1, 20000);
    json_t *was = json_object_get(user_entry(before, "alice"), "connections");
    json_t *is = json_object_get(user_entry(after, "alice"), "connections");
    char *before_text = json_dumps(before, JSON_COMPACT), *after_text = json_dumps(after, JSON_COMPACT);
    cr_assert(json_equal(was, is), "alice's connection, gateway and connected_since are back as they were: %s then %s",
              before_text, after_text);
    cr_assert(json_equal(json_object_get(user_entry(before, "bob"), "connections"),
                         json_object_get(user_entry(after, "bob"), "connections")));
    cr_assert_str_eq(json_string_value(json_object_get(user_entry(after, "bob"), "username")), "bob");
    free(before_text);
    free(after_text);
    json_decref(before);
    json_decref(after);

    cx_stack_kill_gateway(stack, 1, SIGKILL);   /* bob's gateway: he leaves within the heartbeat timeout */
    json_t *left = presence_until("feed_lobby", "bob", 0, 10000);
    cr_assert_null(user_entry(left, "bob"));
    cr_assert_eq(connections_of(left, "alice"), 1);
    json_decref(left);
}

/* The same presence from the Python client's publish side and from chanx-admin (straight to the
 * broker, with the api key of the stack's CURVE links). */
Test(presence, presence_from_the_python_client_and_chanx_admin)
{
    start(1, 0);
    cx_communicator *a = client(0, "/ws/hist_probe/lobby/", alice);
    cx_communicator *a2 = client(0, "/ws/hist_probe/lobby/", alice);
    (void) a, (void) a2;
    char clients[PATH_MAX], cmd[PATH_MAX + 512];
    cr_assert(realpath("clients/python", clients), "clients/python not found");
    snprintf(cmd, sizeof cmd,
             "PYTHONPATH='%s' PYTHONDONTWRITEBYTECODE=1 CHANX_API_URL=http://127.0.0.1:%d CHANX_API_KEY=%s "
             "/usr/bin/python3 -c 'import json, chanx_client as cx\n"
             "p = cx.presence_sync(\"feed_lobby\")\n"
             "print(json.dumps([[u[\"username\"], len(u[\"connections\"])] for u in p[\"users\"]]))\n"
             "print(json.dumps(cx.presence_stats_sync(\"feed_lobby\"), sort_keys=True))\n"
             "try:\n"
             "    cx.presence_sync(\"feed_nobody\")\n"
             "except cx.ChanxAPIError as e:\n"
             "    print(e.status, e.code)' 2>&1",
             clients, cx_stack_api_port(stack), CX_TEST_API_KEY);
    int status;
    char *out = cx_shell_output(cmd, &status);
    cr_assert_eq(status, 0, "%s", out);
    cr_assert_str_eq(out, "[[\"alice\", 2]]\n"
                          "{\"anonymous\": 0, \"connections\": 2, \"group\": \"feed_lobby\", \"users\": 1}\n"
                          "404 group_not_found\n");
    free(out);

    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    const char *keys = cx_stack_keys_dir(stack);
    snprintf(cmd, sizeof cmd, "CHANX_BROKER='%s' CHANX_CURVE_DIR='%s' %s/chanx-admin presence --group feed_lobby --stats 2>&1",
             cx_stack_broker(stack), keys ? keys : "", bin);
    out = cx_shell_output(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 0, "%s", out);
    json_t *stats = json_loads(out, 0, NULL);
    cx_assert_json_eq(stats, "{\"group\": \"feed_lobby\", \"users\": 1, \"connections\": 2, \"anonymous\": 0}");
    json_decref(stats);
    free(out);
    snprintf(cmd, sizeof cmd, "CHANX_BROKER='%s' CHANX_CURVE_DIR='%s' %s/chanx-admin presence --group feed_nobody 2>&1",
             cx_stack_broker(stack), keys ? keys : "", bin);
    out = cx_shell_output(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 1, "a group without members is an error: %s", out);
    cr_assert(strstr(out, "group_not_found"), "%s", out);
    free(out);
}

/* The next frame whose action is not a group message of the room ("said"); asserts it is action. */
static json_t *expect_action(cx_communicator *c, const char *action)
{
    json_t *m = next(c, 10000);
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    cr_assert(m && strcmp(json_string_value(json_object_get(m, "action")), action) == 0, "expected %s, got %s",
              action, text ? text : "nothing");
    free(text);
    return m;
}

static void expect_presence_push(cx_communicator *c, const char *action, const char *username, int64_t user)
{
    json_t *m = expect_action(c, action);
    json_t *p = json_object_get(m, "payload");
    cr_assert_str_eq(json_string_value(json_object_get(p, "group")), "feed_lobby");
    cr_assert_str_eq(json_string_value(json_object_get(p, "username")), username);
    cr_assert_eq(json_integer_value(json_object_get(p, "user_id")), user);
    cr_assert_null(json_object_get(m, "seq"), "a presence push is not a message of the group");
    json_decref(m);
}

/* "who": the consumer's own read of presence; also a sync point (nothing else came before it). */
static json_t *who(cx_communicator *c)
{
    cx_send_message(c, "who", NULL);
    json_t *m = expect_action(c, "present");
    json_t *p = json_incref(json_object_get(m, "payload"));
    json_decref(m);
    return p;
}

Test(presence, presence_pushes_come_once_per_user_and_a_consumer_reads_presence)
{
    start(2, 0);
    cx_communicator *bob_tab = client(0, "/ws/hist_probe/lobby/", bob);
    json_decref(recovery(bob_tab));
    cx_communicator *alice1 = client(1, "/ws/hist_probe/lobby/", alice);
    expect_presence_push(bob_tab, "presence_joined", "alice", alice);
    cx_communicator *alice2 = client(0, "/ws/hist_probe/lobby/", alice);   /* a second tab: no news */
    json_t *p = who(bob_tab);   /* also: no presence_joined came before the answer */
    cr_assert_eq(json_array_size(json_object_get(p, "users")), 2);
    json_t *a = NULL;
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(p, "users"), i, u)
        if (json_integer_value(json_object_get(u, "user_id")) == alice)
            a = u;
    cr_assert_not_null(a);
    cr_assert_eq(json_array_size(json_object_get(a, "connections")), 2, "the consumer sees both of alice's tabs");
    json_decref(p);
    p = who(bob_tab);
    json_decref(p);
    json_t *stats = NULL;
    cx_send_message(bob_tab, "who", (stats = json_pack("{s:b}", "stats", 1)));
    json_decref(stats);
    json_t *m = expect_action(bob_tab, "present");
    cx_assert_json_eq(json_object_get(m, "payload"),
                      "{\"group\": \"feed_lobby\", \"users\": 2, \"connections\": 3, \"anonymous\": 0}");
    json_decref(m);

    cx_communicator_disconnect(alice2);   /* one tab closed: alice is still here */
    json_decref(who(bob_tab));
    json_decref(who(bob_tab));
    cx_stack_kill_gateway(stack, 1, SIGKILL);   /* alice's last tab's gateway dies: she leaves */
    expect_presence_push(bob_tab, "presence_left", "alice", alice);
    (void) alice1;
}

Test(presence, a_broker_restart_sends_no_presence_pushes_for_who_was_already_there)
{
    start(1, 0);
    cx_communicator *bob_tab = client(0, "/ws/hist_probe/lobby/", bob);
    json_decref(recovery(bob_tab));
    cx_communicator *alice1 = client(0, "/ws/hist_probe/lobby/", alice);
    (void) alice1;
    expect_presence_push(bob_tab, "presence_joined", "alice", alice);
    cx_stack_kill_broker(stack, SIGKILL);
    cx_stack_start_broker(stack);
    char *log = cx_stack_log(stack, "broker", "state rebuilt", 20000);
    cr_assert_not_null(log, "the broker did not rebuild");
    free(log);
    json_t *p = who(bob_tab);   /* nothing but the answer: nobody joined or left */
    cr_assert_eq(json_array_size(json_object_get(p, "users")), 2, "presence is back whole");
    json_decref(p);
    cx_communicator_disconnect(alice1);   /* and the pushes still work after the restart */
    expect_presence_push(bob_tab, "presence_left", "alice", alice);
}
