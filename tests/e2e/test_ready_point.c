/*
 * test_ready_point.c — the authentication message is the client's ready
 * point (include/chanx/consumer.h, docs/reliability.md): when it arrives, the
 * groups build_groups joined are in effect at the broker and the gateway, so
 * an event published because of it reaches the client, however slow
 * build_groups is.
 *
 * tests/plugins/rdy_probe's build_groups takes 20 ms, as a database query
 * would. Thirty clients each publish, the moment their authentication
 * message arrives, one handled event (the worker runs receive_event) and one
 * passthrough event (the gateway delivers it) to their own room: the publish
 * API must count the connection, and the client must get both, thirty times
 * out of thirty. Before the fix the worker sent the authentication message
 * before build_groups ran, and nearly every such publish found nobody.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cx_stack *stack;

static void setup(void)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    static char path[600];
    snprintf(path, sizeof path, "%s/test-plugins/rdy_probe.so", bin);
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = (const char *[]) { path, NULL }, .api = 1 });
}
static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(ready_point, .init = setup, .fini = teardown, .timeout = 120);

#define ROUNDS 30

Test(ready_point, an_event_published_on_the_authentication_message_arrives_30_times_of_30)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    int missed_handled = 0, missed_passthrough = 0;
    for (int i = 0; i < ROUNDS; i++) {
        char path[64];
        snprintf(path, sizeof path, "/ws/rdy_probe/r%d/", i);
        cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, alice));
        cx_assert_authenticated_status_ok(c);   /* ready: publish at once */
        json_t *handled = cx_api_publish(stack, "/api/broadcast",
                                         "{\"groups\": [\"ready_r%d\"], \"event\": {\"action\": \"hello\", \"payload\": {\"n\": %d}}}",
                                         i, i);
        json_t *bell = cx_api_publish(stack, "/api/broadcast",
                                      "{\"groups\": [\"ready_r%d\"], \"event\": {\"action\": \"bell\", \"payload\": {\"n\": %d}}}",
                                      i, i);
        missed_handled += json_integer_value(json_object_get(handled, "connections")) != 1;
        missed_passthrough += json_integer_value(json_object_get(bell, "connections")) != 1;
        json_decref(handled);
        json_decref(bell);
        /* both arrive, each once; the passthrough event may overtake the handled one (README) */
        int hello = 0, rang = 0;
        for (json_t *m; hello + rang < 2 && (m = cx_receive_json(c, 5000)); json_decref(m)) {
            const char *action = json_string_value(json_object_get(m, "action"));
            json_int_t n = json_integer_value(json_object_get(json_object_get(m, "payload"), "n"));
            cr_assert_eq(n, i, "round %d got an event of round %d", i, (int) n);
            hello += action && strcmp(action, "hello") == 0;
            rang += action && strcmp(action, "bell") == 0;
        }
        cx_receive_nothing(c, 50);   /* and only once */
        cr_assert_eq(hello, 1, "round %d: the handled event arrived %d times", i, hello);
        cr_assert_eq(rang, 1, "round %d: the passthrough event arrived %d times", i, rang);
        cx_communicator_disconnect(c);
    }
    cr_assert_eq(missed_handled + missed_passthrough, 0,
                 "the broker found nobody for %d handled and %d passthrough publishes of %d", missed_handled,
                 missed_passthrough, ROUNDS);
}
