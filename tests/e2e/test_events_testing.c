/*
 * docs/testing.md's example of testing receive_event, as it stands there (check-docs keeps the two
 * byte for byte): the notifications example's handler, reached through the publish API the stack
 * starts with .api = 1, stamps what the application sent.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>

CX_STACK_SUITE(notification_events, .api = 1);   /* chanx-api too, with the key CX_TEST_API_KEY */

Test(notification_events, a_notification_is_stamped_by_receive_event)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_new(stack, "/ws/notifications/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(c);
    json_decref(cx_request(c, "unmute", NULL, "muted", 5000));      /* its groups are joined by now */

    json_t *reached = cx_api_publish(stack, "/api/send",
        "{\"user_id\": %lld, \"event\": {\"action\": \"notification\", \"payload\": {\"title\": \"Order shipped\"}}}",
        (long long) alice);
    cx_assert_json_eq(reached, "{\"gateways\": 1, \"connections\": 1}");
    json_decref(reached);

    json_t *m = cx_receive_until_action(c, "notification", 5000);   /* what receive_event sent */
    json_t *payload = json_object_get(m, "payload");
    cr_assert_str_eq(json_string_value(json_object_get(payload, "title")), "Order shipped");
    cr_assert_not_null(json_object_get(payload, "server_time"), "receive_event stamps the time");
    json_decref(m);
}
