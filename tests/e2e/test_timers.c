/*
 * Timers for consumers (include/chanx/timer.h), end to end with
 * tests/plugins/tmr_probe: once-only timers fire in due order, ties in the
 * order they were set; a repeating timer ticks in order until cancelled,
 * and a cancel wins over a tick already queued; a timer is mail, so it never
 * runs while the connection's callback does and comes in order with its
 * messages; nothing fires after disconnect, and a timer set in disconnect
 * is refused.
 */
#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cx_stack *stack;
static char *folder;

static void setup(void)
{
    folder = cx_plugin_folder_new((const char *const[]) { "test-plugins/tmr_probe.so", NULL });
    stack = cx_stack_start(&(cx_stack_options) {
        .plugins = folder, .env = (const char *const[]) { "CHANX_WORKER_THREADS=4", "CHANX_LOG_LEVEL=info", NULL } });
}

static void teardown(void)
{
    cx_stack_stop(&stack);
    cx_plugin_folder_remove(&folder);
}

TestSuite(timers, .init = setup, .fini = teardown, .timeout = 60);

static cx_communicator *connect_probe(void)
{
    int64_t id = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/tmr_probe/", cx_db_token_header(stack, id));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static void later(cx_communicator *c, int ms, const char *tag)
{
    json_t *p = json_pack("{s:i, s:s}", "ms", ms, "tag", tag);
    cx_send_message(c, "later", p);
    json_decref(p);
}

static const char *action_of(const json_t *m)
{
    return json_string_value(json_object_get(m, "action"));
}

static json_int_t start_every(cx_communicator *c, int ms)
{
    json_t *p = json_pack("{s:i}", "ms", ms);
    json_t *reply = cx_request(c, "every", p, "every", 5000);
    json_int_t id = json_integer_value(json_object_get(reply, "id"));
    json_decref(p);
    json_decref(reply);
    cr_assert_gt(id, 0, "chanx_call_every returned no timer");
    return id;
}

static int cancel(cx_communicator *c, json_int_t id)
{
    json_t *p = json_pack("{s:I}", "id", id);
    json_t *reply = cx_request(c, "cancel", p, "cancelled", 5000);
    int ok = json_is_true(json_object_get(reply, "ok"));
    json_decref(p);
    json_decref(reply);
    return ok;
}

Test(timers, once_only_timers_fire_in_due_order_and_ties_in_the_order_they_were_set)
{
    cx_communicator *c = connect_probe();
    later(c, 600, "last");
    later(c, 200, "first");
    later(c, 400, "second");
    later(c, 400, "second-too");
    const char *expected[] = { "first", "second", "second-too", "last" };
    for (int i = 0; i < 4; i++) {
        json_t *m = cx_receive_json(c, 5000);
        cr_assert_not_null(m, "timer %d (%s) never fired", i, expected[i]);
        cr_assert_str_eq(action_of(m), "fired");
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "payload"), "tag")), expected[i]);
        json_decref(m);
    }
    cx_receive_nothing(c, 300);
}

Test(timers, a_repeating_timer_ticks_in_order_until_cancelled_and_a_cancel_wins_over_a_queued_tick)
{
    cx_communicator *c = connect_probe();
    json_int_t id = start_every(c, 30);
    for (int n = 1; n <= 5; n++) {
        json_t *m = cx_receive_until_action(c, "tick", 5000);
        cr_assert_eq(json_integer_value(json_object_get(json_object_get(m, "payload"), "n")), n);
        json_decref(m);
    }
    /* Block the connection so ticks pile up behind the cancel's predecessor, then cancel. */
    json_t *p = json_pack("{s:i}", "ms", 200);
    cx_send_message(c, "sleep", p);
    json_decref(p);
    cr_assert(cancel(c, id), "the live timer could not be cancelled");
    cx_receive_nothing(c, 400);   /* ticks before the cancel were dropped by cx_request; none after */
    cr_assert_not(cancel(c, id), "a cancelled timer was cancelled twice");
    json_decref(cx_request(c, "ping", NULL, "pong", 5000));
}

Test(timers, a_timer_is_mail_it_waits_for_the_running_callback_and_keeps_message_order)
{
    cx_communicator *c = connect_probe();
    later(c, 100, "due-during-the-sleep");
    json_t *p = json_pack("{s:i}", "ms", 600);
    cx_send_message(c, "sleep", p);   /* the timer comes due while this runs */
    json_decref(p);
    cx_send_message(c, "ping", NULL);   /* in the mailbox before the timer's tick */
    json_t *first = cx_receive_json(c, 5000), *second = cx_receive_json(c, 5000);
    cr_assert(first && second, "replies missing");
    cr_assert_str_eq(action_of(first), "pong", "the timer ran before a message that arrived first");
    cr_assert_str_eq(action_of(second), "fired");
    json_decref(first);
    json_decref(second);
}

Test(timers, nothing_fires_after_disconnect_and_disconnect_cannot_start_a_timer)
{
    cx_communicator *c = connect_probe();
    start_every(c, 20);
    json_decref(cx_receive_until_action(c, "tick", 5000));
    json_decref(cx_receive_until_action(c, "tick", 5000));
    cx_communicator_disconnect(c);
    char *log = cx_stack_log(stack, "worker0", "late timer refused", 10000);
    cr_assert_not_null(log, "disconnect's timer was not refused, or disconnect never ran");
    free(log);
    int ticks = cx_stack_log_count(stack, "worker0", "\"tick ");
    cr_assert_geq(ticks, 2, "the ticks are not in the worker's log: the check below would prove nothing");
    usleep(400 * 1000);   /* twenty periods */
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "\"tick "), ticks, "the timer kept firing after disconnect");
}
