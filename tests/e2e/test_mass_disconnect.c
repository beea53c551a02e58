/*
 * A gateway lost with thousands of connections, end to end.
 *
 * The broker ends a lost peer's connections in slices between other work
 * (broker/endings.c), so the clients of the other gateways keep chatting
 * while it does. What users rely on, seen from outside: every message of a
 * conversation on a surviving gateway arrives, in order, while the dead
 * gateway's connections are being ended; every one of them is ended in the
 * end (the broker's connection and membership gauges come back to the
 * survivors, and the worker has closed every consumer instance of theirs:
 * it was told DISCONNECT for each), which the broker logs with the slices
 * it took (how many depends on the machine's speed: not checked). The dead gateway's clients are raw sockets
 * (tests/kit/raw_ws.h): a few thousand need one descriptor each, not a
 * libwebsockets context each.
 */
#include "tests/kit/deploy_helpers.h"
#include "tests/kit/raw_ws.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOOMED 2000   /* connections on the gateway that dies, all in the survivors' room */

static cx_stack *stack;

static void setup(void)
{
    stack = cx_stack_start(&(cx_stack_options) {
        .gateways = 2, .metrics = 1,
        .env = (const char *const[]) { "CHANX_LOG_LEVEL=info", "CHANX_MAX_CONNECTIONS_PER_USER=0", NULL } });
}
static void teardown(void) { cx_stack_stop(&stack); }
TestSuite(mass_disconnect, .init = setup, .fini = teardown, .timeout = 240);

/* A raw client of gateway 0 in the lobby, past its authentication message (its room is joined). */
static cx_raw *doomed_client(const char *header)
{
    cx_raw *raw = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), "/ws/chat/lobby/", header);
    cr_assert(raw && cx_raw_status(raw) == 101, "upgrade refused");
    char *auth = NULL;
    cr_assert_eq(cx_raw_read_frame(raw, 10000, NULL, NULL, &auth, NULL), 1, "no authentication message");
    cr_assert(strstr(auth, "\"status_code\":200"), "%s", auth);
    free(auth);
    return raw;
}

static void say(cx_communicator *c, const char *text)
{
    json_t *payload = json_pack("{s:s}", "message", text);
    cx_send_message(c, "chat", payload);
    json_decref(payload);
}

/* The next chat message c receives is text: the conversation lost nothing and kept its order. */
static void hears(cx_communicator *c, const char *text)
{
    json_t *m = cx_receive_until_action(c, "chat", 10000);
    cr_assert_not_null(m, "no chat message arrived (expected \"%s\")", text);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "payload"), "message")), text);
    json_decref(m);
}

static void await_value(const char *process, const char *series, double want)
{
    for (int waited = 0;; waited += 100) {
        char *text = cx_stack_metrics(stack, process);
        double v = cx_metric_value(text, series);
        free(text);
        if (v == want)
            return;
        cr_assert(waited < 30000, "%s: %s is %g, expected %g", process, series, v, want);
        usleep(100000);
    }
}

Test(mass_disconnect, the_other_gateways_chat_goes_on_in_order_while_a_lost_gateways_thousands_are_ended)
{
    int64_t crowd = cx_db_create_user(stack, "crowd", 0), alice = cx_db_create_user(stack, "alice", 0),
            bob = cx_db_create_user(stack, "bob", 0);
    char header[160];
    snprintf(header, sizeof header, "Authorization: Token %s\r\n", cx_db_token(stack, crowd));
    cx_raw **doomed = calloc(DOOMED, sizeof *doomed);
    for (int i = 0; i < DOOMED; i++)
        doomed[i] = doomed_client(header);
    cx_communicator *a = cx_communicator_on(stack, 1, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
    cx_communicator *b = cx_communicator_on(stack, 1, "/ws/chat/lobby/", cx_db_token_header(stack, bob));
    cx_assert_authenticated_status_ok(a);
    cx_assert_authenticated_status_ok(b);
    await_value("broker", "chanx_broker_connections", DOOMED + 2);
    await_value("broker", "chanx_broker_group_members", DOOMED + 2);

    cx_stack_kill_gateway(stack, 0, SIGKILL);
    /* Alice and Bob talk, one message after the other, from the kill until the broker has ended every
     * connection of the dead gateway, and a little past it. */
    int after = -1;
    for (int i = 0; after < 20; i++) {
        char text[32];
        snprintf(text, sizeof text, "message %d", i);
        say(i % 2 ? b : a, text);
        hears(a, text);
        hears(b, text);
        if (after >= 0 || cx_stack_log_count(stack, "broker", "lost peer's connections ended"))
            after++;
        cr_assert_lt(i, 100000, "the broker never ended the dead gateway's connections");
    }

    char *log = cx_stack_log(stack, "broker", "lost peer's connections ended", 0);
    char *line = strstr(log, "lost peer's connections ended");
    char want[64];
    snprintf(want, sizeof want, "\"connections\":%d,", DOOMED);
    cr_assert(strstr(line, want), "every connection of the dead gateway ended: %.300s", line);
    free(log);
    await_value("broker", "chanx_broker_connections", 2);
    await_value("broker", "chanx_broker_group_members", 2);
    await_value("worker0", "chanx_worker_consumer_instances{consumer=\"chat.chat\"}", 2);

    say(a, "still here");   /* and the room still works for the survivors */
    hears(a, "still here");
    hears(b, "still here");
    for (int i = 0; i < DOOMED; i++)
        cx_raw_destroy(&doomed[i]);
    free(doomed);
}
