/*
 * test_events.c — events from the application reach clients: groups, a
 * user on every gateway, one connection; passthrough at the gateway and
 * receive_event in the worker; disconnects; order. Clients are the kit's
 * communicators; events go through chanx-api over HTTP, as a Django view's
 * would (tests/plugins/evt_probe is the consumer).
 */
#include "test_events.h"

#include <sys/wait.h>

static cx_stack *stack;
static void setup(void) { stack = events_stack_start(2, NULL); }
static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(events, .init = setup, .fini = teardown, .timeout = 60);

Test(events, passthrough_broadcast_reaches_every_member_on_two_gateways_as_is)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a0 = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    cx_communicator *b1 = events_client(stack, 1, "/ws/evt_probe/feed/lobby/", bob);
    cx_communicator *a1 = events_client(stack, 1, "/ws/evt_probe/feed/lobby/", alice);
    cx_communicator *other = events_client(stack, 0, "/ws/evt_probe/feed/kitchen/", bob);

    json_t *reply = cx_api_publish(stack, "/api/broadcast",
                                   "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"notify\", \"payload\": {\"n\": 1}}}");
    cx_assert_json_eq(reply, "{\"gateways\": 2, \"connections\": 3}");
    json_decref(reply);
    cx_communicator *members[] = { a0, b1, a1 };
    for (int i = 0; i < 3; i++) {
        json_t *m = cx_receive_json(members[i], 5000);
        cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": {\"n\": 1}}");
        json_decref(m);
    }
    cx_receive_nothing(other, 300);
    cx_receive_nothing(a0, 100);   /* once, even though the gateway holds two members */
}

Test(events, receive_event_runs_in_the_worker_in_order_with_the_connections_messages)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    for (int i = 1; i <= 3; i++)
        json_decref(cx_request(c, "count", NULL, "count", 5000));
    json_decref(cx_api_publish(stack, "/api/broadcast",
                               "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"announce\", \"payload\": {\"n\": 7}}}"));
    json_t *m = cx_receive_json(c, 5000);
    cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "announced");
    json_t *p = json_object_get(m, "payload");
    cr_assert_eq(events_int(p, "n"), 7);
    cr_assert_eq(events_int(p, "count"), 3, "the handler sees the state the connection's messages left");
    cr_assert(events_int(p, "server_time") > 0, "the handler added a server timestamp");
    json_decref(m);
    json_t *after = cx_request(c, "count", NULL, "count", 5000);
    cr_assert_eq(events_int(after, "count"), 4);
    json_decref(after);
}

Test(events, a_users_every_connection_on_every_gateway_and_nobody_else)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a0 = events_client(stack, 0, "/ws/evt_probe/feed/one/", alice);
    cx_communicator *a1 = events_client(stack, 1, "/ws/evt_probe/feed/two/", alice);
    cx_communicator *b0 = events_client(stack, 0, "/ws/evt_probe/feed/one/", bob);
    json_t *reply = cx_api_publish(stack, "/api/send",
                                   "{\"user_id\": %lld, \"event\": {\"action\": \"notify\", \"payload\": \"hi\"}}",
                                   (long long) alice);
    cx_assert_json_eq(reply, "{\"gateways\": 2, \"connections\": 2}");
    json_decref(reply);
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"user_id\": %lld, \"event\": {\"action\": \"announce\", \"payload\": {\"n\": 2}}}",
                               (long long) alice));
    cx_communicator *mine[] = { a0, a1 };
    for (int i = 0; i < 2; i++) {
        json_t *m = cx_receive_json(mine[i], 5000);
        cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": \"hi\"}");
        json_decref(m);
        json_t *handled = cx_receive_until_action(mine[i], "announced", 5000);
        cr_assert_eq(events_int(json_object_get(handled, "payload"), "n"), 2);
        json_decref(handled);
    }
    cx_receive_nothing(b0, 300);
}

Test(events, one_connection_by_its_id)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *target = events_client(stack, 1, "/ws/evt_probe/feed/lobby/", alice);
    cx_communicator *sibling = events_client(stack, 1, "/ws/evt_probe/feed/lobby/", alice);
    char *id = events_connection_id(target);
    json_t *reply = cx_api_publish(stack, "/api/send",
                                   "{\"connection\": \"%s\", \"event\": {\"action\": \"notify\", \"payload\": null}}", id);
    cx_assert_json_eq(reply, "{\"gateways\": 1, \"connections\": 1}");
    json_decref(reply);
    json_t *m = cx_receive_json(target, 5000);
    cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": null}");
    json_decref(m);
    cx_receive_nothing(sibling, 300);
    /* a connection that is gone reaches nobody, and says so */
    reply = cx_api_publish(stack, "/api/send",
                           "{\"connection\": \"12345\", \"event\": {\"action\": \"notify\", \"payload\": null}}");
    cx_assert_json_eq(reply, "{\"gateways\": 0, \"connections\": 0}");
    json_decref(reply);
    free(id);
}

/* A topic's own seq (the publisher's, which travels beside the event) reaches the client as the event's
 * last member "seq", whether the gateway passes the event through or receive_event reads it in the
 * worker; the payload's own "seq" stays where it is, and 0 and negative seqs are seqs too. */
Test(events, a_topics_own_seq_comes_last_and_a_payloads_seq_stays)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *feed = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    cx_communicator *loose = cx_communicator_on(stack, 1, "/ws/evt_probe/loose/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(loose);
    json_decref(cx_request(loose, "ping", NULL, "pong", 5000));
    json_decref(cx_api_publish(stack, "/api/send", "{\"user_id\": %lld, \"topic\": \"room:lobby\", \"seq\": 0, \"event\":"
                               " {\"action\": \"notify\", \"payload\": {\"text\": \"hi\", \"seq\": 9}}}", (long long) alice));
    json_t *m = cx_receive_json(feed, 5000);
    cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": {\"text\": \"hi\", \"seq\": 9}, \"version\": 1,"
                         " \"topic\": \"room:lobby\", \"seq\": 0}");
    json_decref(m);
    json_decref(cx_api_publish(stack, "/api/send", "{\"user_id\": %lld, \"topic\": \"room:lobby\", \"seq\": -2, \"event\":"
                               " {\"action\": \"announce\", \"payload\": {\"n\": 1, \"seq\": 9}}}", (long long) alice));
    m = cx_receive_json(loose, 5000);   /* loose answers with the event as its receive_event read it */
    cx_assert_json_eq(m, "{\"action\": \"loose\", \"payload\": {\"action\": \"announce\", \"payload\": {\"n\": 1, \"seq\": 9},"
                         " \"version\": 1, \"topic\": \"room:lobby\", \"seq\": -2}}");
    const char *last = NULL, *key;
    json_t *value;
    json_object_foreach(json_object_get(m, "payload"), key, value)
        last = key;
    cr_assert_str_eq(last, "seq", "the topic's seq is the event's last member");
    json_decref(m);
    m = cx_receive_json(feed, 5000);   /* feed's receive_event answers with the payload it read */
    cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "announced");
    cr_assert_eq(events_int(json_object_get(m, "payload"), "seq"), 9);
    json_decref(m);
    cx_receive_nothing(loose, 200);   /* notify is feed's alone */
}

Test(events, disconnect_closes_every_connection_of_a_user_with_the_code)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a0 = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    cx_communicator *a1 = events_client(stack, 1, "/ws/evt_probe/plain/", alice);
    cx_communicator *b0 = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", bob);
    json_t *reply = cx_api_publish(stack, "/api/disconnect", "{\"user_id\": %lld, \"code\": 4001}", (long long) alice);
    cx_assert_json_eq(reply, "{\"gateways\": 2, \"connections\": 2}");
    json_decref(reply);
    cx_assert_closed(a0, 4001, 5000);
    cx_assert_closed(a1, 4001, 5000);
    json_decref(cx_request(b0, "count", NULL, "count", 5000));   /* bob is untouched */
    /* the user index forgot alice's connections with them */
    reply = cx_api_publish(stack, "/api/send", "{\"user_id\": %lld, \"event\": {\"action\": \"notify\"}}", (long long) alice);
    cx_assert_json_eq(reply, "{\"gateways\": 0, \"connections\": 0}");
    json_decref(reply);
}

Test(events, disconnect_one_connection)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *gone = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    cx_communicator *stays = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    char *id = events_connection_id(gone);
    json_decref(cx_api_publish(stack, "/api/disconnect", "{\"connection\": \"%s\", \"code\": 4403}", id));
    cx_assert_closed(gone, 4403, 5000);
    json_decref(cx_request(stays, "count", NULL, "count", 5000));
    free(id);
}

Test(events, receive_event_filters_by_user_and_may_close)
{
    int64_t staff = cx_db_create_user(stack, "root", CX_USER_STAFF_FLAG), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *s = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", staff);
    cx_communicator *b = events_client(stack, 1, "/ws/evt_probe/feed/lobby/", bob);
    json_decref(cx_api_publish(stack, "/api/broadcast",
                               "{\"groups\": [\"room_lobby\"], \"event\": {\"action\": \"staff_only\"}}"));
    json_t *m = cx_receive_json(s, 5000);
    cx_assert_json_eq(m, "{\"action\": \"staff_only\", \"payload\": null}");
    json_decref(m);
    cx_receive_nothing(b, 300);
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"user_id\": %lld, \"event\": {\"action\": \"kick\", \"payload\": {\"code\": 4100}}}",
                               (long long) bob));
    cx_assert_closed(b, 4100, 5000);
}

Test(events, events_to_one_target_arrive_in_publish_order)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c0 = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    cx_communicator *c1 = events_client(stack, 1, "/ws/evt_probe/feed/lobby/", alice);
    /* 40 handled events in one batch, then 40 passthrough events one request at a time */
    char body[16384] = "{\"commands\": [";
    for (int i = 0; i < 40; i++)
        snprintf(body + strlen(body), sizeof body - strlen(body),
                 "%s{\"method\": \"broadcast\", \"params\": {\"groups\": [\"room_lobby\"], "
                 "\"event\": {\"action\": \"announce\", \"payload\": {\"n\": %d}}}}", i ? "," : "", i);
    strcat(body, "]}");
    json_t *reply = cx_api_publish(stack, "/api/batch", "%s", body);
    cr_assert_eq(json_array_size(json_object_get(reply, "results")), 40);
    json_decref(reply);
    cx_communicator *clients[] = { c0, c1 };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 40; i++) {
            json_t *m = cx_receive_json(clients[k], 5000);
            cr_assert_not_null(m, "event %d did not arrive", i);
            cr_assert_eq(events_int(json_object_get(m, "payload"), "n"), i, "handled events out of order");
            json_decref(m);
        }
    for (int i = 0; i < 40; i++)
        json_decref(cx_api_publish(stack, "/api/send",
                                   "{\"user_id\": %lld, \"event\": {\"action\": \"notify\", \"payload\": %d}}",
                                   (long long) alice, i));
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 40; i++) {
            json_t *m = cx_receive_json(clients[k], 5000);
            cr_assert_not_null(m, "event %d did not arrive", i);
            cr_assert_eq(json_integer_value(json_object_get(m, "payload")), i, "passthrough events out of order");
            json_decref(m);
        }
}

/* chanx-admin publish / disconnect: the same commands for operators, straight to the broker. */
static char *admin(const char *args)
{
    char cmd[1024];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    /* The stack's links are CURVE by default: the operator's command authenticates with the api key. */
    const char *keys = cx_stack_keys_dir(stack);
    snprintf(cmd, sizeof cmd, "CHANX_BROKER='%s' CHANX_CURVE_DIR='%s' %s/chanx-admin %s 2>&1", cx_stack_broker(stack),
             keys ? keys : "", bin, args);
    int status;
    char *out = cx_shell_output(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 0, "chanx-admin %s: %s", args, out);
    return out;
}

Test(events, chanx_admin_publishes_and_disconnects)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 1, "/ws/evt_probe/feed/lobby/", alice);
    char *out = admin("publish --group room_lobby --action notify --payload '{\"from\": \"ops\"}'");
    cr_assert(strstr(out, "\"connections\": 1"), "%s", out);
    free(out);
    json_t *m = cx_receive_json(c, 5000);
    cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": {\"from\": \"ops\"}}");
    json_decref(m);
    char args[128];
    snprintf(args, sizeof args, "disconnect --user %lld --code 4002", (long long) alice);
    free(admin(args));
    cx_assert_closed(c, 4002, 5000);
}

/* An operator's typo in the action is refused as chanx-admin's head comment promises ("the checks
 * are the API's own"): the API's 400 undeliverable_event, not a success that reached no one. */
Test(events, chanx_admin_refuses_an_event_no_consumer_takes)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 1, "/ws/evt_probe/feed/lobby/", alice);
    char cmd[1024];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    const char *keys = cx_stack_keys_dir(stack);
    snprintf(cmd, sizeof cmd, "CHANX_BROKER='%s' CHANX_CURVE_DIR='%s' %s/chanx-admin publish --group room_lobby "
             "--action notfy --payload '{}' 2>&1", cx_stack_broker(stack), keys ? keys : "", bin);
    int status;
    char *out = cx_shell_output(cmd, &status);
    cr_assert_eq(WEXITSTATUS(status), 2, "chanx-admin published an event no consumer takes: %s", out);
    cr_assert(strstr(out, "undeliverable_event") && strstr(out, "notfy"), "no reason given: %s", out);
    free(out);
    cx_receive_nothing(c, 300);
}

/* An operator who forgets the keys of a CURVE broker (make run's, a deployment's) is told so, not
 * only that the broker did not answer. */
Test(events, chanx_admin_without_keys_says_to_set_them)
{
    char cmd[1024];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    cr_assert_not_null(cx_stack_keys_dir(stack), "the stack runs with CURVE keys");
    snprintf(cmd, sizeof cmd, "env -u CHANX_CURVE_DIR -u CHANX_CURVE_SECRET_KEY_FILE CHANX_BROKER='%s' "
             "%s/chanx-admin publish --group room_lobby --action notify 2>&1", cx_stack_broker(stack), bin);
    int status;
    char *out = cx_shell_output(cmd, &status);
    cr_assert_neq(WEXITSTATUS(status), 0, "chanx-admin published without keys: %s", out);
    cr_assert(strstr(out, "set CHANX_CURVE_DIR"), "no hint about the keys: %s", out);
    free(out);
}

/* Events and the client's own messages interleave on one connection: each callback runs alone and
 * sees what the previous ones left (the counter), whichever thread or order they arrived in. */
Test(events, events_interleaved_with_messages_see_a_consistent_connection)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    char id_body[256];
    char *id = events_connection_id(c);
    snprintf(id_body, sizeof id_body, "{\"method\": \"send\", \"params\": {\"connection\": \"%s\", "
                                      "\"event\": {\"action\": \"announce\", \"payload\": {\"n\": %%d}}}}", id);
    char body[8192] = "{\"commands\": [";
    for (int i = 0; i < 20; i++) {
        cx_send_message(c, "count", NULL);
        snprintf(body + strlen(body), sizeof body - strlen(body), i ? "," : "");
        snprintf(body + strlen(body), sizeof body - strlen(body), id_body, i);
    }
    strcat(body, "]}");
    json_decref(cx_api_publish(stack, "/api/batch", "%s", body));
    json_int_t last_count = 0, last_seen = 0, next_event = 0;
    for (int got = 0; got < 40; got++) {
        json_t *m = cx_receive_json(c, 5000);
        cr_assert_not_null(m, "only %d of 40 replies arrived", got);
        const char *action = json_string_value(json_object_get(m, "action"));
        json_t *p = json_object_get(m, "payload");
        if (!strcmp(action, "count")) {
            cr_assert_eq(events_int(p, "count"), last_count + 1, "messages handled out of order");
            last_count = events_int(p, "count");
        } else {
            cr_assert_str_eq(action, "announced");
            cr_assert_eq(events_int(p, "n"), next_event++, "events handled out of order");
            cr_assert_geq(events_int(p, "count"), last_seen, "an event saw the counter go back");
            cr_assert_leq(events_int(p, "count"), last_count, "an event saw a count not yet answered");
            last_seen = events_int(p, "count");
        }
        json_decref(m);
    }
    cr_assert_eq(last_count, 20);
    free(id);
}

/* Publishes body at path once chanx-api has redialled the restarted broker; its reply (owned). */
static json_t *publish_after_restart(const char *path, const char *body)
{
    json_t *reply = NULL;
    int status = 0;
    for (int i = 0; i < 150 && status != 200; i++) {
        json_decref(reply);
        reply = NULL;
        status = cx_api_post(stack, path, CX_TEST_API_KEY, body, &reply);
        if (status != 200)
            usleep(100000);
    }
    cr_assert_eq(status, 200, "the API did not publish through the restarted broker");
    return reply;
}

/* After a broker restart the broker rebuilds group membership from the peers' RESUMEs, gateway and
 * worker in either order: a group event for receive_event must still reach the member's worker. */
Test(events, receive_event_reaches_a_group_member_after_a_broker_restart)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = events_client(stack, 0, "/ws/evt_probe/feed/lobby/", alice);
    cx_stack_kill_broker(stack, SIGKILL);
    cx_stack_start_broker(stack);
    free(cx_stack_log(stack, "broker", "state rebuilt", 20000));
    json_decref(publish_after_restart("/api/broadcast", "{\"groups\": [\"room_lobby\"], \"event\": "
                                                        "{\"action\": \"announce\", \"payload\": {\"n\": 9}}}"));
    json_t *m = cx_receive_until_action(c, "announced", 10000);
    cr_assert_not_null(m, "the member's worker never ran receive_event after the broker restart");
    cr_assert_eq(events_int(json_object_get(m, "payload"), "n"), 9);
    json_decref(m);
}

/* Gateways re-announce each connection's user (RESUME's user_id): after a broker restart an event to
 * a user reaches the connections that survived it, on every gateway, without their reconnecting. */
Test(events, an_event_to_a_user_reaches_connections_that_survived_a_broker_restart)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *a0 = events_client(stack, 0, "/ws/evt_probe/feed/one/", alice);
    cx_communicator *a1 = events_client(stack, 1, "/ws/evt_probe/feed/two/", alice);
    cx_communicator *b0 = events_client(stack, 0, "/ws/evt_probe/feed/one/", bob);
    cx_stack_kill_broker(stack, SIGKILL);
    cx_stack_start_broker(stack);
    free(cx_stack_log(stack, "broker", "state rebuilt", 20000));
    char body[200];
    snprintf(body, sizeof body, "{\"user_id\": %lld, \"event\": {\"action\": \"notify\", \"payload\": \"back\"}}",
             (long long) alice);
    json_t *reply = publish_after_restart("/api/send", body);
    cx_assert_json_eq(reply, "{\"gateways\": 2, \"connections\": 2}");
    json_decref(reply);
    cx_communicator *mine[] = { a0, a1 };
    for (int i = 0; i < 2; i++) {
        json_t *m = cx_receive_json(mine[i], 5000);
        cx_assert_json_eq(m, "{\"action\": \"notify\", \"payload\": \"back\"}");
        json_decref(m);
    }
    /* receive_event in the worker too: the event reaches the connection's worker as well */
    json_decref(cx_api_publish(stack, "/api/send",
                               "{\"user_id\": %lld, \"event\": {\"action\": \"announce\", \"payload\": {\"n\": 3}}}",
                               (long long) alice));
    for (int i = 0; i < 2; i++) {
        json_t *handled = cx_receive_until_action(mine[i], "announced", 10000);
        cr_assert_not_null(handled, "the worker did not run receive_event for a surviving connection");
        cr_assert_eq(events_int(json_object_get(handled, "payload"), "n"), 3);
        json_decref(handled);
    }
    cx_receive_nothing(b0, 300);
}
