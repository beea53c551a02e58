/*
 * The gateway's own bounds against one party taking it down (issue 28, 3):
 * a flood into a room of clients that never read leaves the gateway under
 * CHANX_GATEWAY_MAX_BUFFERED_TOTAL, as its own accounting on /metrics
 * shows, the clients holding the most are closed with 1013, and the
 * clients that read are still served; one user cannot hold more than
 * CHANX_MAX_CONNECTIONS_PER_USER connections, nor one address more than
 * CHANX_MAX_CONNECTIONS_PER_ADDRESS anonymous ones (429, DRF's shape).
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/kit/raw_ws.h"
#include "test_limits.h"

#define PER_CLIENT (4 << 20)   /* CHANX_MAX_BUFFERED_BYTES */
#define TOTAL (8 << 20)        /* CHANX_GATEWAY_MAX_BUFFERED_TOTAL */
#define NON_READERS 8

static cx_stack *stack;

static const char *const settings[] = { "CHANX_MAX_BUFFERED_BYTES=4194304", "CHANX_GATEWAY_MAX_BUFFERED_TOTAL=8388608",
                                        "CHANX_MAX_CONNECTIONS_PER_USER=3", "CHANX_MAX_CONNECTIONS_PER_ADDRESS=2", NULL };
static void setup(void) { stack = lim_stack_start(settings, 1); }
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(overload, .init = setup, .fini = teardown, .timeout = 180);

/* A text frame's payload that contains needle, read within 10 s (frames before it are skipped). */
static void raw_wait_for(cx_raw *raw, const char *needle)
{
    for (;;) {
        int opcode = 0;
        char *payload = NULL;
        cr_assert_eq(cx_raw_read_frame(raw, 10000, &opcode, NULL, &payload, NULL), 1, "no frame with %s", needle);
        int found = opcode == 0x1 && strstr(payload, needle);
        free(payload);
        if (found)
            return;
    }
}

/* A client in the group "flood" that reads nothing after joining it. */
static cx_raw *non_reader(const char *name)
{
    char header[200];
    snprintf(header, sizeof header, "Authorization: Token %s\r\n",
             cx_db_token(stack, cx_db_create_user(stack, name, 0)));
    cx_raw *raw = cx_raw_upgrade_small_buffer(cx_stack_gateway_port(stack, 0), "/ws/lim_echo/", header);
    cr_assert(raw && cx_raw_status(raw) == 101, "upgrade refused");
    raw_wait_for(raw, "\"status_code\":200");
    const char join[] = "{\"action\":\"join\"}";
    cr_assert_eq(cx_raw_frame(raw, 1, 0, 0x1, 1, join, sizeof join - 1), 0);
    raw_wait_for(raw, "\"joined\"");
    return raw;
}

static cx_communicator *connect_user(const char *name)
{
    cx_communicator *c = cx_communicator_new(stack, "/ws/lim_echo/",
                                             cx_db_token_header(stack, cx_db_create_user(stack, name, 0)));
    cx_assert_authenticated_status_ok(c);
    return c;
}

static json_t *text_message(const char *action, size_t n)
{
    char *text = malloc(n + 1);
    memset(text, 'f', n);
    text[n] = '\0';
    json_t *m = json_pack("{s:s, s:{s:s}}", "action", action, "payload", "text", text);
    free(text);
    return m;
}

static void assert_echo_served(cx_communicator *c)
{
    json_t *m = text_message("echo", 5);
    cx_send_json(c, m);
    json_decref(m);
    json_t *reply = cx_receive_until_action(c, "echo", 30000);
    cr_assert_not_null(reply, "a client that reads was not served");
    json_decref(reply);
}

static double gateway_metric(const char *series)
{
    char *text = cx_stack_metrics(stack, "gateway0");
    cr_assert_not_null(text, "no /metrics");
    double v = cx_metric_value(text, series);
    free(text);
    return v;
}

/* Issue 28 (3): 200 non-readers of a flooded room took a gateway from 52 MB to 1.5 GB, 8 MiB each. */
Test(overload, a_flood_of_clients_that_do_not_read_leaves_the_gateway_under_its_total_bound)
{
    cx_raw *slow[NON_READERS];
    for (int i = 0; i < NON_READERS; i++) {
        char name[32];
        snprintf(name, sizeof name, "nonreader%d", i);
        slow[i] = non_reader(name);
    }
    cx_communicator *flooder = connect_user("flooder"), *bystander = connect_user("bystander");
    json_t *shout = text_message("shout", 64 * 1024);
    for (int i = 0; i < 160; i++)   /* 10 MB of chat, 80 MB for the room: ten times the gateway's bound */
        cx_send_json(flooder, shout);
    json_decref(shout);
    assert_echo_served(flooder);   /* after the flood, in order: the gateway has queued all of it */

    double peak = gateway_metric("chanx_gateway_buffered_bytes_peak");
    cr_assert(!isnan(peak), "the gateway does not count what it buffers");
    cr_assert_leq(peak, TOTAL + 256 * 1024, "the gateway held %.0f bytes, its bound is %d", peak, TOTAL);
    cr_assert_geq(gateway_metric("chanx_gateway_overload_closes_total"), 1, "nobody was shed");
    char *log = cx_stack_log(stack, "gateway0", "gateway over its buffered bytes bound", 5000);
    cr_assert_not_null(log, "shedding left no log record");
    free(log);
    /* Each non-reader was shed (1013), or stayed under both bounds: then it is still connected and
     * gets what it was sent once it reads, and no close. */
    int closed = 0;
    for (int i = 0; i < NON_READERS; i++) {
        int messages = 0, code = cx_raw_expect_close(slow[i], 5000, &messages);
        cr_assert(code == 1013 || (code == 0 && messages > 0), "non-reader %d: closed with %d, not 1013 (%d messages)", i, code, messages);
        closed += code == 1013;
        cx_raw_destroy(&slow[i]);
    }
    cr_assert_geq(closed, gateway_metric("chanx_gateway_overload_closes_total"), "shed but not closed with 1013");
    assert_echo_served(bystander);
    assert_echo_served(flooder);
    cx_communicator_disconnect(flooder);
    cx_communicator_disconnect(bystander);
}

/* The refusal a connection over a limit meets: DRF's authentication message with 429, then 4429. */
static void assert_refused_429(cx_communicator *c, const char *who)
{
    json_t *auth = cx_wait_for_auth(c, 10000);
    cr_assert_not_null(auth, "no authentication message");
    cr_assert_eq(json_integer_value(json_object_get(auth, "status_code")), 429, "over the limit: not 429");
    const char *detail = json_string_value(json_object_get(json_object_get(auth, "data"), "detail"));
    cr_assert(detail && strstr(detail, "Too many connections") && strstr(detail, who), "detail: %s", detail);
    json_decref(auth);
    cx_assert_closed(c, 4429, 10000);
}

/* A connection closed by its client stops counting once the gateway has seen it go. */
static cx_communicator *connect_again(const char *const *headers)
{
    for (int attempt = 0; attempt < 100; attempt++) {
        cx_communicator *c = cx_communicator_new(stack, "/ws/lim_echo/", headers);
        json_t *auth = cx_wait_for_auth(c, 10000);
        int status = auth ? (int) json_integer_value(json_object_get(auth, "status_code")) : 0;
        json_decref(auth);
        if (status == 200)
            return c;
        cr_assert_eq(status, 429);
        cx_communicator_disconnect(c);
        usleep(100000);
    }
    cr_assert_fail("a released connection still counted");
    return NULL;
}

Test(overload, one_user_holds_at_most_the_per_user_limit_of_connections)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *open[3];
    for (int i = 0; i < 3; i++) {
        open[i] = cx_communicator_new(stack, "/ws/lim_echo/", cx_db_token_header(stack, alice));
        cx_assert_authenticated_status_ok(open[i]);
    }
    cx_communicator *fourth = cx_communicator_new(stack, "/ws/lim_echo/", cx_db_token_header(stack, alice));
    assert_refused_429(fourth, "this user");
    cx_communicator *bob = connect_user("bob");   /* another user is not affected */
    assert_echo_served(open[0]);
    cx_communicator_disconnect(open[2]);
    open[2] = connect_again(cx_db_token_header(stack, alice));
    assert_echo_served(open[2]);
    for (int i = 0; i < 3; i++)
        cx_communicator_disconnect(open[i]);
    cx_communicator_disconnect(bob);
    cx_communicator_disconnect(fourth);
}

Test(overload, one_address_holds_at_most_the_per_address_limit_of_anonymous_connections)
{
    cx_communicator *a = cx_communicator_new(stack, "/ws/lim_echo/", NULL);
    cx_communicator *b = cx_communicator_new(stack, "/ws/lim_echo/", NULL);
    cx_assert_authenticated_status_ok(a);
    cx_assert_authenticated_status_ok(b);
    cx_communicator *c = cx_communicator_new(stack, "/ws/lim_echo/", NULL);
    assert_refused_429(c, "this address");
    cx_communicator *user = connect_user("carol");   /* a user from the same address counts as the user */
    assert_echo_served(user);
    cx_communicator_disconnect(b);
    cx_communicator *again = connect_again(NULL);
    assert_echo_served(again);
    cx_communicator_disconnect(a);
    cx_communicator_disconnect(again);
    cx_communicator_disconnect(user);
    cx_communicator_disconnect(c);
}
