/*
 * History and recovery (issue 25), through real processes: a
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
 * restart, a since that makes no sense), never a silent gap; a failover to
 * the standby keeps history (recovered: true). Presence: test_presence.c.
 */
#include "tests/e2e/test_history.h"

TestSuite(history, .fini = history_teardown, .timeout = 120);

/* A client of the room past its recovery frame (not asked to recover). */
static cx_communicator *joined(const char *path, int64_t user)
{
    cx_communicator *c = client(0, path, user);
    json_decref(recovery(c));
    return c;
}

/* A client back on path with ?since=<epoch>:<from>, whose recovery frame says group, epoch, the group's
 * seq and recovered (the replay, if any, follows it). */
static cx_communicator *back_since(const char *path, int64_t user, const char *epoch, json_int_t from,
                                   const char *group, json_int_t seq, int recovered)
{
    char since[128];
    snprintf(since, sizeof since, "%s:%lld", epoch, (long long) from);
    cx_communicator *c = rejoin(0, path, user, since);
    json_t *rec = recovery(c);
    expect_recovery(rec, group, epoch, seq, recovered);
    json_decref(rec);
    return c;
}

/* A speaker in the room that sent n messages and heard them all (the broker holds them): epoch out. */
static cx_communicator *spoken(const char *path, int n, char epoch[64])
{
    cx_communicator *c = tracking(0, path, bob, epoch);
    burst(c, n);
    hear_up_to(c, 1, n);
    return c;
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
    cx_communicator *speaker = joined("/ws/hist_probe/lobby/", bob);
    for (int i = 1; i <= 3; i++) {
        char text[32];
        snprintf(text, sizeof text, "m%d", i);
        say(speaker, text);
    }
    hear_up_to(listener, 1, 3);
    hear_up_to(speaker, 1, 3);
    cx_communicator_disconnect(listener);   /* the tunnel */

    for (int i = 4; i <= 8; i++) {
        char text[32];
        snprintf(text, sizeof text, "m%d", i);
        say(speaker, text);
    }
    hear_up_to(speaker, 4, 8);

    listener = back_since("/ws/hist_probe/lobby/", alice, epoch, 3, "feed_lobby", 8, 1);
    for (json_int_t s = 4; s <= 8; s++) {   /* exactly the missed ones, in order, as they were sent */
        json_t *p = said(listener, s);
        char text[32];
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
    char epoch[64];
    cx_communicator *listener = tracking(0, "/ws/hist_probe/lobby/", alice, epoch);
    cx_communicator_disconnect(listener);
    cx_communicator *speaker = joined("/ws/hist_probe/lobby/", bob);
    burst(speaker, 150);
    hear_up_to(speaker, 1, 150);

    /* 1..50 are gone: reload, do not trust a replay */
    listener = back_since("/ws/hist_probe/lobby/", alice, epoch, 0, "feed_lobby", 150, 0);
    say(speaker, "live");
    json_decref(said(listener, 151));   /* nothing replayed before the live one */
    json_decref(said(speaker, 151));
    cx_communicator_disconnect(listener);

    listener = back_since("/ws/hist_probe/lobby/", alice, epoch, 51, "feed_lobby", 151, 1);   /* 52..151: the 100 held */
    hear_up_to(listener, 52, 151);
    nothing_more(listener, 300);
}

Test(history, messages_past_the_ttl_are_not_recovered)
{
    start(1, 0);
    char epoch[64];
    cx_communicator *speaker = tracking(0, "/ws/hist_probe/brief/lobby/", bob, epoch);
    say(speaker, "soon gone");
    hear_up_to(speaker, 1, 1);
    /* within the second: held */
    cx_communicator *fresh = back_since("/ws/hist_probe/brief/lobby/", alice, epoch, 0, "brief_lobby", 1, 1);
    json_decref(said(fresh, 1));
    cx_communicator_disconnect(fresh);

    usleep(1500 * 1000);   /* the TTL is 1 s */
    fresh = back_since("/ws/hist_probe/brief/lobby/", alice, epoch, 0, "brief_lobby", 1, 0);
    nothing_more(fresh, 300);
}

Test(history, a_lone_broker_restart_gives_recovered_false_with_a_new_epoch)
{
    start(1, 0);
    char epoch[64], since[128];
    cx_communicator *speaker = spoken("/ws/hist_probe/lobby/", 2, epoch);
    json_t *rec;

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
    char epoch[64], since[128];
    cx_communicator *listener = tracking(0, "/ws/hist_probe/lobby/", alice, epoch);
    json_t *rec;
    cx_communicator *speaker = joined("/ws/hist_probe/lobby/", bob);
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
    char epoch[64], since[2300];
    cx_communicator *speaker = spoken("/ws/hist_probe/lobby/", 3, epoch);
    (void) speaker;
    json_t *rec;
    char longest[400];   /* an epoch of 400 bytes (a URL over 4096 bytes is the gateway's 414) */
    memset(longest, 'e', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    char brief[64], other[128];   /* the real epoch of another group */
    cx_communicator *elsewhere = tracking(0, "/ws/hist_probe/brief/lobby/", bob, brief);
    (void) elsewhere;
    snprintf(other, sizeof other, "%s:1", brief);
    const char *bad[] = { "0123456789abcdef:1",   /* an epoch of another group (or broker) */
                          other,
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
