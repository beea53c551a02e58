/*
 * test_events_drop.c — events a consumer cannot take never hurt it: an
 * action no consumer of the recipients knows is dropped with one log
 * record (not one per recipient), an event whose payload breaks .events is
 * dropped and logged, a failing handler is logged; connections stay open.
 * (The publish API refuses events no consumer at all could take; these are
 * events another consumer, evt_probe's loose, takes.)
 * With send_completion, event_complete follows each handled event.
 */
#include "test_events.h"

static const char *const settings[] = { "CHANX_LOG_LEVEL=info", "CHANX_SEND_COMPLETION=on", NULL };
static cx_stack *stack;
/* With send_completion, events_client's round trip leaves its "complete" behind: read it. */
static void setup(void) { stack = events_stack_start(1, settings); }
static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(events_drop, .init = setup, .fini = teardown, .timeout = 60);

Test(events_drop, an_event_no_consumer_knows_is_dropped_with_one_log_record)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = events_client(stack, 0, "/ws/evt_probe/plain/", alice);
        json_decref(cx_receive_until_action(c[i], "complete", 5000));   /* events_client's round trip */
        json_t *group = json_pack("{s:s}", "group", "watchers");
        json_decref(cx_request(c[i], "join", group, "complete", 5000));
        json_decref(group);
    }
    json_t *reply = cx_api_publish(stack, "/api/broadcast",
                                   "{\"groups\": [\"watchers\"], \"event\": {\"action\": \"tally\", \"payload\": null}}");
    cx_assert_json_eq(reply, "{\"gateways\": 1, \"connections\": 3}");
    json_decref(reply);
    char *log = cx_stack_log(stack, "worker0", "Dropped event no consumer handles", 5000);
    cr_assert_not_null(log, "the worker did not log the dropped event");
    cr_assert(strstr(log, "\"recipients\":3") || strstr(log, "\"recipients\": 3"), "one record for 3 recipients:\n%s", log);
    free(log);
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "Dropped event no consumer handles"), 1);
    for (int i = 0; i < 3; i++) {
        cx_receive_nothing(c[i], 100);
        json_decref(cx_request(c[i], "ping", NULL, "complete", 5000));
    }
}

Test(events_drop, an_invalid_event_is_dropped_and_logged_and_the_next_one_handled)   /* loose takes it */
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    json_decref(cx_receive_until_action(c, "complete", 5000));   /* events_client's round trip */
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"user_id\": %lld, \"event\": {\"action\": \"announce\", \"payload\": {\"n\": \"x\"}}}",
                               (long long) alice));
    char *log = cx_stack_log(stack, "worker0", "Dropped invalid event", 5000);
    cr_assert_not_null(log);
    cr_assert(strstr(log, "int_parsing") || strstr(log, "int_type"), "the record names the problem:\n%s", log);
    free(log);
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"user_id\": %lld, \"event\": {\"action\": \"announce\", \"payload\": {\"n\": 5}}}",
                               (long long) alice));
    json_t *m = cx_receive_json(c, 5000);
    cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "announced");
    json_decref(m);
    m = cx_receive_json(c, 5000);
    cx_assert_json_eq(m, "{\"action\": \"event_complete\", \"payload\": null}");
    json_decref(m);
}

Test(events_drop, a_failing_handler_is_logged_and_the_connection_stays)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    json_decref(cx_receive_until_action(c, "complete", 5000));   /* events_client's round trip */
    json_decref(cx_api_publish(stack, "/api/send", "{\"user_id\": %lld, \"event\": {\"action\": \"fail\"}}",
                               (long long) alice));
    json_t *m = cx_receive_json(c, 5000);
    cx_assert_json_eq(m, "{\"action\": \"event_complete\", \"payload\": null}");
    json_decref(m);
    free(cx_stack_log(stack, "worker0", "Failed to process event", 5000));
    cr_assert_eq(cx_stack_log_count(stack, "worker0", "Failed to process event"), 1);
    json_decref(cx_request(c, "count", NULL, "count", 5000));
}
