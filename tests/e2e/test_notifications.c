/*
 * test_notifications.c — the notifications example (examples/notifications)
 * as its users see it: the application's notifications reach each of the
 * user's connections stamped by receive_event, muted clients get none,
 * announcements pass through to everyone.
 */
#include "test_events.h"

static cx_stack *stack;

static void setup(void)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    static char path[600];
    static const char *files[2];
    snprintf(path, sizeof path, "%s/plugins/notifications.so", bin);
    files[0] = path;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .gateways = 2, .api = 1 });
}

static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(notifications, .init = setup, .fini = teardown, .timeout = 60);

static cx_communicator *client(int gateway, int64_t user)
{
    cx_communicator *c = cx_communicator_on(stack, gateway, "/ws/notifications/", cx_db_token_header(stack, user));
    cx_assert_authenticated_status_ok(c);
    json_decref(cx_request(c, "unmute", NULL, "muted", 5000));   /* groups are known once this answers */
    return c;
}

Test(notifications, a_users_tabs_get_stamped_notifications_and_everyone_announcements)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *tab1 = client(0, alice), *tab2 = client(1, alice), *b = client(0, bob);
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"user_id\": %lld, \"event\": {\"action\": \"notification\", \"payload\": {\"title\": \"Order shipped\"}}}",
                               (long long) alice));
    cx_communicator *tabs[] = { tab1, tab2 };
    for (int i = 0; i < 2; i++) {
        json_t *m = cx_receive_json(tabs[i], 5000);
        json_t *p = json_object_get(m, "payload");
        cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "notification");
        cr_assert_str_eq(json_string_value(json_object_get(p, "title")), "Order shipped");
        cr_assert_eq(json_string_length(json_object_get(p, "server_time")), 20, "an ISO 8601 UTC stamp");
        cr_assert_eq(events_int(p, "seq"), 1);
        json_decref(m);
    }
    cx_receive_nothing(b, 200);

    json_decref(cx_request(tab2, "mute", NULL, "muted", 5000));
    json_decref(cx_api_publish(stack, "/api/broadcast",
                               "{\"groups\": [\"user_%lld\"], \"event\": {\"action\": \"notification\", \"payload\": {\"title\": \"Again\"}}}",
                               (long long) alice));
    json_t *m = cx_receive_json(tab1, 5000);
    cr_assert_eq(events_int(json_object_get(m, "payload"), "seq"), 2);
    json_decref(m);
    cx_receive_nothing(tab2, 200);

    json_t *reply = cx_api_publish(stack, "/api/broadcast",
                                   "{\"groups\": [\"announcements\"], \"event\": {\"action\": \"announcement\", \"payload\": {\"text\": \"Maintenance\"}}}");
    cx_assert_json_eq(reply, "{\"gateways\": 2, \"connections\": 3}");
    json_decref(reply);
    cx_communicator *all[] = { tab1, tab2, b };
    for (int i = 0; i < 3; i++) {
        json_t *a = cx_receive_json(all[i], 5000);
        cx_assert_json_eq(a, "{\"action\": \"announcement\", \"payload\": {\"text\": \"Maintenance\"}}");
        json_decref(a);
    }
}
