/*
 * History, recovery and presence (issue 25), through real processes: a
 * consumer whose groups keep a history (tests/plugins/hist_probe: 100
 * messages for 10 minutes, or for 1 second on the brief/ route), clients on
 * the kit's WebSocket communicator, the publish API over HTTP.
 *
 * What a client relies on: every group message carries the group's "seq";
 * joining says the group's epoch and seq ({"action":"recovery"}, before the
 * authentication message when the join is build_groups'); after a
 * reconnect with ?since=<epoch>:<seq> it gets exactly the messages it
 * missed, in order, then the live ones, or recovered: false when history
 * cannot cover the gap (trimmed, expired, another epoch after a broker
 * restart, a since that makes no sense), never a silent gap. And POST
 * /api/presence says who is in a group, right after a gateway dies and
 * after a broker restart.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static cx_stack *stack;
static int64_t alice, bob;

static const char *const *hist_plugin(void)
{
    static char path[600];
    static const char *files[2];
    snprintf(path, sizeof path, "%s/test-plugins/hist_probe.so", cx_test_bin());
    files[0] = path;
    return files;
}

static void start(int gateways, int standby)
{
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = hist_plugin(), .gateways = gateways,
                                                  .standby_broker = standby, .metrics = standby, .api = 1 });
    alice = cx_db_create_user(stack, "alice", 0);
    bob = cx_db_create_user(stack, "bob", 0);
}
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(history, .fini = teardown, .timeout = 120);

/* What each client received before its authentication message: the joins go first (the message is
 * the client's ready point, consumer.h), so a join's recovery frame and its replay arrive before it. */
#define MAX_CLIENTS 16
static struct {
    cx_communicator *c;
    json_t *early;   /* array, oldest first */
} early[MAX_CLIENTS];

/* A client of user on gateway, past the authentication message (what came before it is kept). */
static cx_communicator *client(int gateway, const char *path, int64_t user)
{
    cx_communicator *c = cx_communicator_on(stack, gateway, path, cx_db_token_header(stack, user));
    cr_assert(cx_communicator_connected(c), "%s: not connected (HTTP %d)", path, cx_communicator_http_status(c));
    json_t *before = json_array();
    for (;;) {
        json_t *m = cx_receive_json(c, 10000);
        cr_assert_not_null(m, "%s: no authentication message", path);
        if (strcmp(json_string_value(json_object_get(m, "action")), "authentication") == 0) {
            json_t *status = json_object_get(json_object_get(m, "payload"), "status_code");
            cr_assert_eq(json_integer_value(status), 200, "%s: not authenticated", path);
            json_decref(m);
            break;
        }
        json_array_append_new(before, m);
    }
    int i = 0;
    while (i < MAX_CLIENTS && early[i].c)
        i++;
    cr_assert_lt(i, MAX_CLIENTS);
    early[i].c = c;
    early[i].early = before;
    return c;
}

/* The client's next frame: what came before its authentication message first (owned; NULL on timeout). */
static json_t *next(cx_communicator *c, int timeout_ms)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (early[i].c == c && json_array_size(early[i].early) > 0) {
            json_t *m = json_incref(json_array_get(early[i].early, 0));
            json_array_remove(early[i].early, 0);
            return m;
        }
    return cx_receive_json(c, timeout_ms);
}

static void nothing_more(cx_communicator *c, int timeout_ms)
{
    json_t *m = next(c, 0);
    while (m && strncmp(json_string_value(json_object_get(m, "action")), "presence_", 9) == 0) {
        json_decref(m);
        m = next(c, 0);
    }
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    cr_assert_null(m, "unexpected: %s", text);
    cx_receive_nothing(c, timeout_ms);
}

/* The recovery frame a join to a history group sends (owned payload). */
static json_t *recovery(cx_communicator *c)
{
    json_t *m = next(c, 10000);
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    cr_assert(m && strcmp(json_string_value(json_object_get(m, "action")), "recovery") == 0,
              "expected the recovery frame, got %s", text ? text : "nothing");
    free(text);
    json_t *payload = json_incref(json_object_get(m, "payload"));
    json_decref(m);
    cr_assert(json_is_string(json_object_get(payload, "epoch")) && json_is_integer(json_object_get(payload, "seq")),
              "a recovery frame has epoch and seq");
    return payload;
}

static void epoch_of(const json_t *rec, char out[64])
{
    snprintf(out, 64, "%s", json_string_value(json_object_get(rec, "epoch")));
}

/* The next frame must be "said" with this seq; returns its payload (owned). */
static json_t *said(cx_communicator *c, json_int_t seq)
{
    json_t *m = next(c, 10000);
    while (m && strncmp(json_string_value(json_object_get(m, "action")), "presence_", 9) == 0) {
        json_decref(m);   /* the room's presence pushes (tested on their own below) */
        m = next(c, 10000);
    }
    cr_assert_not_null(m, "nothing arrived where said seq %lld was due", (long long) seq);
    char *text = json_dumps(m, JSON_COMPACT);
    cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "said", "expected said seq %lld, got %s",
                     (long long) seq, text);
    cr_assert_eq(json_integer_value(json_object_get(m, "seq")), seq, "expected seq %lld, got %s", (long long) seq, text);
    free(text);
    json_t *payload = json_incref(json_object_get(m, "payload"));
    json_decref(m);
    return payload;
}

static void expect_recovery(const json_t *rec, const char *group, const char *epoch, json_int_t seq, int recovered)
{
    char *text = json_dumps(rec, JSON_COMPACT);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "group")), group, "%s", text);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "epoch")), epoch, "%s", text);
    cr_assert_eq(json_integer_value(json_object_get(rec, "seq")), seq, "%s", text);
    cr_assert(json_is_boolean(json_object_get(rec, "recovered")), "%s", text);
    cr_assert_eq(json_is_true(json_object_get(rec, "recovered")), recovered, "%s", text);
    free(text);
}

static void say(cx_communicator *c, const char *text)
{
    json_t *p = json_pack("{s:s}", "text", text);
    cx_send_message(c, "say", p);
    json_decref(p);
}

static void burst(cx_communicator *c, int count)
{
    json_t *p = json_pack("{s:i}", "count", count);
    cx_send_message(c, "burst", p);
    json_decref(p);
}

/* The sender hears its own messages: once it has heard seq last, the broker holds them all. */
static void hear_up_to(cx_communicator *c, json_int_t first, json_int_t last)
{
    for (json_int_t s = first; s <= last; s++)
        json_decref(said(c, s));
}

static cx_communicator *rejoin(int gateway, const char *room_path, int64_t user, const char *since)
{
    char path[2400];
    snprintf(path, sizeof path, "%s?since=%s", room_path, since);
    return client(gateway, path, user);
}

Test(history, a_client_that_missed_5_pushes_recovers_exactly_them_then_live_ones)
{
    start(1, 0);
    cx_communicator *listener = client(0, "/ws/hist_probe/lobby/", alice);
    json_t *rec = recovery(listener);
    char epoch[64];
    epoch_of(rec, epoch);
    cr_assert_eq(json_integer_value(json_object_get(rec, "seq")), 0);
    cr_assert_null(json_object_get(rec, "recovered"), "no since asked: nothing to say about recovery");
    json_decref(rec);
    cx_communicator *speaker = client(0, "/ws/hist_probe/lobby/", bob);
    json_decref(recovery(speaker));
    for (int i = 1; i <= 3; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        say(speaker, text);
    }
    hear_up_to(listener, 1, 3);
    hear_up_to(speaker, 1, 3);
    cx_communicator_disconnect(listener);   /* the tunnel */

    for (int i = 4; i <= 8; i++) {
        char text[16];
        snprintf(text, sizeof text, "m%d", i);
        say(speaker, text);
    }
    hear_up_to(speaker, 4, 8);

    char since[128];
    snprintf(since, sizeof since, "%s:3", epoch);
    listener = rejoin(0, "/ws/hist_probe/lobby/", alice, since);
    rec = recovery(listener);
    expect_recovery(rec, "feed_lobby", epoch, 8, 1);
    json_decref(rec);
    for (json_int_t s = 4; s <= 8; s++) {   /* exactly the missed ones, in order, as they were sent */
        json_t *p = said(listener, s);
        char text[16];
        snprintf(text, sizeof text, "m%lld", (long long) s);
        cr_assert_str_eq(json_string_value(json_object_get(p, "text")), text);
        json_decref(p);
    }
    say(speaker, "live");
    json_t *p = said(listener, 9);   /* then the live one, no gap, no duplicate */
    cr_assert_str_eq(json_string_value(json_object_get(p, "text")), "live");
    json_decref(p);
    nothing_more(listener, 300);
}

Test(history, a_gap_of_150_over_a_history_of_100_is_recovered_false_and_a_gap_of_100_is_not)
{
    start(1, 0);
    cx_communicator *listener = client(0, "/ws/hist_probe/lobby/", alice);
    json_t *rec = recovery(listener);
    char epoch[64], since[128];
    epoch_of(rec, epoch);
    json_decref(rec);
    cx_communicator_disconnect(listener);
    cx_communicator *speaker = client(0, "/ws/hist_probe/lobby/", bob);
    json_decref(recovery(speaker));
    burst(speaker, 150);
    hear_up_to(speaker, 1, 150);

    snprintf(since, sizeof since, "%s:0", epoch);
    listener = rejoin(0, "/ws/hist_probe/lobby/", alice, since);
    rec = recovery(listener);
    expect_recovery(rec, "feed_lobby", epoch, 150, 0);   /* 1..50 are gone: reload, do not trust a replay */
    json_decref(rec);
    say(speaker, "live");
    json_decref(said(listener, 151));   /* nothing replayed before the live one */
    json_decref(said(speaker, 151));
    cx_communicator_disconnect(listener);

    snprintf(since, sizeof since, "%s:51", epoch);   /* 52..151: the 100 held */
    listener = rejoin(0, "/ws/hist_probe/lobby/", alice, since);
    rec = recovery(listener);
    expect_recovery(rec, "feed_lobby", epoch, 151, 1);
    json_decref(rec);
    hear_up_to(listener, 52, 151);
    nothing_more(listener, 300);
}

Test(history, messages_past_the_ttl_are_not_recovered)
{
    start(1, 0);
    cx_communicator *speaker = client(0, "/ws/hist_probe/brief/lobby/", bob);
    json_t *rec = recovery(speaker);
    char epoch[64], since[128];
    epoch_of(rec, epoch);
    json_decref(rec);
    say(speaker, "soon gone");
    hear_up_to(speaker, 1, 1);
    snprintf(since, sizeof since, "%s:0", epoch);
    cx_communicator *fresh = rejoin(0, "/ws/hist_probe/brief/lobby/", alice, since);
    rec = recovery(fresh);
    expect_recovery(rec, "brief_lobby", epoch, 1, 1);   /* within the second: held */
    json_decref(rec);
    json_decref(said(fresh, 1));
    cx_communicator_disconnect(fresh);

    usleep(1500 * 1000);   /* the TTL is 1 s */
    fresh = rejoin(0, "/ws/hist_probe/brief/lobby/", alice, since);
    rec = recovery(fresh);
    expect_recovery(rec, "brief_lobby", epoch, 1, 0);
    json_decref(rec);
    nothing_more(fresh, 300);
}

Test(history, a_lone_broker_restart_gives_recovered_false_with_a_new_epoch)
{
    start(1, 0);
    cx_communicator *speaker = client(0, "/ws/hist_probe/lobby/", bob);
    json_t *rec = recovery(speaker);
    char epoch[64], since[128];
    epoch_of(rec, epoch);
    json_decref(rec);
    burst(speaker, 2);
    hear_up_to(speaker, 1, 2);

    cx_stack_kill_broker(stack, SIGKILL);
    cx_stack_start_broker(stack);
    char *log = cx_stack_log(stack, "broker", "state rebuilt", 20000);
    cr_assert_not_null(log, "the broker did not rebuild");
    free(log);

    snprintf(since, sizeof since, "%s:2", epoch);
    cx_communicator *back = rejoin(0, "/ws/hist_probe/lobby/", alice, since);
    rec = recovery(back);
    cr_assert_str_neq(json_string_value(json_object_get(rec, "epoch")), epoch, "the history was lost: a new epoch");
    cr_assert(json_is_false(json_object_get(rec, "recovered")), "never a silent gap after a restart");
    cr_assert_eq(json_integer_value(json_object_get(rec, "seq")), 0);
    json_decref(rec);
    say(speaker, "after");   /* the survivor's group still keeps a history: seq 1 of the new epoch */
    json_decref(said(back, 1));
    json_decref(said(speaker, 1));
}

/* What a broker's metrics say it holds, once it holds at least n messages (the copy is asynchronous). */
static void holds_at_least(const char *process, double n)
{
    for (int waited = 0;; waited += 100) {
        char *text = cx_stack_metrics(stack, process);
        double held = text ? cx_metric_value(text, "chanx_broker_history_messages") : -1;
        free(text);
        if (held >= n)
            return;
        cr_assert(waited < 10000, "%s holds %g messages, not %g", process, held, n);
        usleep(100 * 1000);
    }
}

Test(history, a_failover_to_the_standby_keeps_history_recovered_true)
{
    start(1, 1);
    cx_communicator *listener = client(0, "/ws/hist_probe/lobby/", alice);
    json_t *rec = recovery(listener);
    char epoch[64], since[128];
    epoch_of(rec, epoch);
    json_decref(rec);
    cx_communicator *speaker = client(0, "/ws/hist_probe/lobby/", bob);
    json_decref(recovery(speaker));
    burst(speaker, 3);
    hear_up_to(listener, 1, 3);
    hear_up_to(speaker, 1, 3);
    cx_communicator_disconnect(listener);
    burst(speaker, 2);
    hear_up_to(speaker, 4, 5);
    holds_at_least("broker", 5);
    holds_at_least("standby", 5);   /* the standby's copy */

    cx_stack_kill_broker(stack, SIGKILL);   /* for good: the standby takes over */
    char *log = cx_stack_log(stack, "standby", "state rebuilt", 20000);
    cr_assert_not_null(log, "the standby did not take over");
    free(log);

    snprintf(since, sizeof since, "%s:3", epoch);
    listener = rejoin(0, "/ws/hist_probe/lobby/", alice, since);
    rec = recovery(listener);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "epoch")), epoch, "the epoch survives the failover");
    cr_assert(json_is_true(json_object_get(rec, "recovered")), "recovered across the failover");
    json_int_t seq = json_integer_value(json_object_get(rec, "seq"));
    json_decref(rec);
    json_decref(said(listener, 4));
    json_decref(said(listener, 5));
    say(speaker, "after");   /* live ones follow, with seqs past what the old primary may have given */
    json_t *m = next(listener, 10000);
    cr_assert_not_null(m);
    cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "said");
    cr_assert_eq(json_integer_value(json_object_get(m, "seq")), seq + 1);
    cr_assert_gt(seq, 5);
    json_decref(m);
}

Test(history, a_since_that_makes_no_sense_is_recovered_false_and_replays_nothing)
{
    start(1, 0);
    cx_communicator *speaker = client(0, "/ws/hist_probe/lobby/", bob);
    json_t *rec = recovery(speaker);
    char epoch[64], since[2300];
    epoch_of(rec, epoch);
    json_decref(rec);
    burst(speaker, 3);
    hear_up_to(speaker, 1, 3);
    char longest[400];   /* an epoch of 400 bytes (a URL over 4096 bytes is the gateway's 414) */
    memset(longest, 'e', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    const char *bad[] = { "0123456789abcdef:1",   /* an epoch of another group (or broker) */
                          "%s:-1", "%s:99999999999999999999999", "%s:18446744073709551615", "%s:4",
                          "%s:1.5", "%s:x", "%s", ":2", longest };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(since, sizeof since, bad[i], epoch);
        cx_communicator *c = rejoin(0, "/ws/hist_probe/lobby/", alice, since);
        rec = recovery(c);
        expect_recovery(rec, "feed_lobby", epoch, 3, 0);
        json_decref(rec);
        nothing_more(c, 200);   /* no replay of anything */
        cx_communicator_disconnect(c);
    }
}

/* POST /api/presence (or presence_stats) for group; asserts the status, returns the answer (owned). */
static json_t *presence(const char *method, const char *group, int status)
{
    char path[64], body[256];
    snprintf(path, sizeof path, "/api/%s", method);
    snprintf(body, sizeof body, "{\"group\": \"%s\"}", group);
    json_t *reply = NULL;
    int got = cx_api_post(stack, path, CX_TEST_API_KEY, body, &reply);
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    cr_assert_eq(got, status, "%s %s: HTTP %d %s", path, group, got, text ? text : "");
    free(text);
    return reply;
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

Test(history, presence_lists_each_user_once_with_their_connections_and_stats_count_them)
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

Test(history, presence_refuses_bad_input_clearly)
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

Test(history, a_user_whose_gateway_dies_leaves_and_a_broker_restart_brings_presence_back_whole)
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
Test(history, presence_from_the_python_client_and_chanx_admin)
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

Test(history, presence_pushes_come_once_per_user_and_a_consumer_reads_presence)
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

Test(history, a_broker_restart_sends_no_presence_pushes_for_who_was_already_there)
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
