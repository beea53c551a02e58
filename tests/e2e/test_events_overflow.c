/*
 * test_events_overflow.c — events meet a full mailbox. A connection whose
 * consumer is busy (evt_probe's "nap") and whose mailbox holds
 * CHANX_MAILBOX_MAX (2 here) mails loses the events past that: each is
 * counted in chanx_worker_events_dropped_total{reason="mailbox_full"} and
 * logged (at most one record a second), the connection stays open and takes
 * events again once it has caught up. Unknown and invalid events count
 * under their own reasons. A group event is posted only to the
 * group's members (workers/memberships.h), so a busy connection outside the
 * group loses nothing and counts nothing.
 */
#include "test_events.h"

static const char *const settings[] = { "CHANX_MAILBOX_MAX=2", NULL };
static cx_stack *stack;

static void setup(void)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    static char path[600];
    static const char *files[2];
    snprintf(path, sizeof path, "%s/test-plugins/evt_probe.so", bin);
    files[0] = path;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .env = settings, .api = 1, .metrics = 1 });
}
static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(events_overflow, .init = setup, .fini = teardown, .timeout = 90);

static double dropped(const char *reason)
{
    char *text = cx_stack_metrics(stack, "worker0"), series[128];
    snprintf(series, sizeof series, "chanx_worker_events_dropped_total{reason=\"%s\"}", reason);
    double v = cx_metric_value(text, series);
    free(text);
    return v;
}

/* Sends the connection a "nap" of ms and waits until its consumer is in it (its mailbox is empty). */
static void nap(cx_communicator *c, const char *id, int ms)
{
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"connection\": \"%s\", \"event\": {\"action\": \"nap\", \"payload\": {\"ms\": %d}}}",
                               id, ms));
    json_t *m = cx_receive_until_action(c, "napping", 5000);
    cr_assert_not_null(m, "the consumer never started its nap");
    json_decref(m);
}

Test(events_overflow, events_past_a_full_mailbox_are_counted_and_logged_and_the_connection_stays)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    char *id = events_connection_id(c);
    cr_assert_eq(dropped("mailbox_full"), 0);
    nap(c, id, 8000);   /* long enough for the five publishes below on a loaded machine */
    for (int n = 1; n <= 5; n++) {   /* two fit in the mailbox, three are dropped */
        json_t *reply = cx_api_publish(stack, "/api/send",
                                       "{\"connection\": \"%s\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": %d}}}",
                                       id, n);
        cx_assert_json_eq(reply, "{\"gateways\": 1, \"connections\": 1}");   /* the broker did route it */
        json_decref(reply);
    }
    char *log = cx_stack_log(stack, "worker0", "Dropped event: mailbox full", 5000);
    cr_assert_not_null(log, "the worker did not log the dropped event");
    cr_assert(strstr(log, "\"action\":\"announce\"") || strstr(log, "\"action\": \"announce\""), "%s", log);
    cr_assert(strstr(log, "\"mailbox_max\":2") || strstr(log, "\"mailbox_max\": 2"), "%s", log);
    free(log);
    for (int n = 1; n <= 2; n++) {   /* the two that fitted, once the consumer is back, in order */
        json_t *m = cx_receive_until_action(c, "announced", 20000);
        cr_assert_not_null(m, "event %d of those the mailbox took never ran", n);
        cr_assert_eq(events_int(json_object_get(m, "payload"), "n"), n);
        json_decref(m);
    }
    cx_receive_nothing(c, 300);
    cr_assert_eq(dropped("mailbox_full"), 3);
    cr_assert_eq(dropped("unhandled"), 0);
    /* the connection stays and takes events again */
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"connection\": \"%s\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": 6}}}", id));
    json_t *m = cx_receive_until_action(c, "announced", 15000);
    cr_assert_not_null(m);
    cr_assert_eq(events_int(json_object_get(m, "payload"), "n"), 6);
    json_decref(m);
    json_decref(cx_request(c, "count", NULL, "count", 5000));
    /* the other reasons: an action the consumer does not know, an event its .events schema refuses
     * (both taken by evt_probe's loose consumer, so the publish API lets them through) */
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"connection\": \"%s\", \"event\": {\"action\": \"tally\"}}", id));
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"connection\": \"%s\", \"event\": {\"action\": \"announce\", \"payload\": {\"n\": \"x\"}}}",
                               id));
    json_decref(cx_request(c, "count", NULL, "count", 15000));   /* both were handled before this */
    cr_assert_eq(dropped("unhandled"), 1);
    cr_assert_eq(dropped("invalid"), 1);
    cr_assert_eq(dropped("mailbox_full"), 3);
    free(id);
}

Test(events_overflow, a_group_event_leaves_a_busy_connection_outside_the_group_alone)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *busy = events_client(stack, 0, "/ws/evt_probe/feed/kitchen/", alice);
    cx_communicator *member = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", bob);
    char *id = events_connection_id(busy);
    nap(busy, id, 6000);
    for (int n = 1; n <= 5; n++) {   /* one at a time: the member's own mailbox holds only 2 */
        json_decref(cx_api_publish(stack, "/api/broadcast",
                                   "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"announce\", \"payload\": {\"n\": %d}}}",
                                   n));
        json_t *m = cx_receive_until_action(member, "announced", 15000);
        cr_assert_not_null(m, "the member missed event %d", n);
        cr_assert_eq(events_int(json_object_get(m, "payload"), "n"), n);
        json_decref(m);
    }
    cr_assert_eq(dropped("mailbox_full"), 0, "events for another group filled the busy connection's mailbox");
    cx_receive_nothing(busy, 1000);   /* it naps, and was never a recipient */
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "Dropped event: mailbox full"), 0);
    free(id);
}
