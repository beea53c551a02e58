/*
 * The opening handshake, RFC 6455 §4 and RFC 7230, through raw sockets
 * (tests/kit/raw_ws.h): subprotocol negotiation (§4.2.2: the server picks
 * one of the client's offers or answers none, and an offer alone never fails
 * the connection), a DRF token offered as a subprotocol (never echoed,
 * logged or forwarded), and a status line for every request the gateway
 * refuses (400, 426, 404), instead of a dropped connection.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kit/raw_ws.h"

static cx_stack *stack;

static void setup(void)
{
    static char plugin[600];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(plugin, sizeof plugin, "%s/test-plugins/edge_proto.so", bin);
    stack = cx_stack_start(&(cx_stack_options) {
        .plugin_files = (const char *[]) { plugin, NULL },
        .env = (const char *[]) { "CHANX_TOKEN_SUBPROTOCOL=token", "CHANX_LOG_LEVEL=debug", NULL },
    });
}
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(handshake, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(http_answers, .init = setup, .fini = teardown, .timeout = 60);

#define VERSIONED "/ws/edge_proto/versioned/"
#define PLAIN "/ws/edge_proto/plain/"

/* Sends {"action":"which"} and returns the payload of the "which" reply (owned). */
static json_t *which(cx_raw *c)
{
    const char msg[] = "{\"action\":\"which\"}";
    cr_assert_eq(cx_raw_frame(c, 1, 0, 0x1, 1, msg, sizeof msg - 1), 0);
    for (int i = 0; i < 5; i++) {
        int opcode = 0;
        char *text = NULL;
        cr_assert_eq(cx_raw_read_frame(c, 10000, &opcode, NULL, &text, NULL), 1, "no reply to which");
        cr_assert_eq(opcode, 0x1, "expected a text frame, got opcode %d (%s)", opcode, text);
        json_t *m = json_loads(text, 0, NULL);
        free(text);
        if (m && strcmp(json_string_value(json_object_get(m, "action")), "which") == 0) {
            json_t *payload = json_incref(json_object_get(m, "payload"));
            json_decref(m);
            return payload;
        }
        json_decref(m);
    }
    cr_assert_fail("no which reply");
    return NULL;
}

static const char *str(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

Test(handshake, the_first_offer_the_consumer_speaks_is_chosen_in_the_clients_order)
{
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), VERSIONED,
                               "Sec-WebSocket-Protocol: chanx.v0, chanx.v1, chanx.v2\r\n");
    cr_assert_eq(cx_raw_status(c), 101);
    cr_assert_str_eq(cx_raw_header(c, "sec-websocket-protocol"), "chanx.v1");
    json_t *p = which(c);
    cr_assert_str_eq(str(p, "subprotocol"), "chanx.v1", "the consumer sees what the client was answered");
    cr_assert_str_eq(str(p, "offers"), "chanx.v0, chanx.v1, chanx.v2");
    json_decref(p);
    cx_raw_destroy(&c);
}

Test(handshake, offers_spread_over_header_lines_with_spaces_are_one_list)
{
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), VERSIONED,
                               "Sec-WebSocket-Protocol: x-other\r\nSec-WebSocket-Protocol:  chanx.v2 ,chanx.v1\r\n");
    cr_assert_eq(cx_raw_status(c), 101);
    cr_assert_str_eq(cx_raw_header(c, "sec-websocket-protocol"), "chanx.v2");
    json_t *p = which(c);
    cr_assert_str_eq(str(p, "subprotocol"), "chanx.v2");
    json_decref(p);
    cx_raw_destroy(&c);
}

Test(handshake, no_matching_offer_connects_without_a_subprotocol)
{
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), VERSIONED,
                               "Sec-WebSocket-Protocol: graphql-ws, chanx, chanx-broker\r\n");
    cr_assert_eq(cx_raw_status(c), 101, "an unknown offer never refuses the connection");
    cr_assert_null(cx_raw_header(c, "sec-websocket-protocol"));
    json_t *p = which(c);
    cr_assert(json_is_null(json_object_get(p, "subprotocol")), "no subprotocol chosen");
    json_decref(p);
    cx_raw_destroy(&c);
}

Test(handshake, a_consumer_without_subprotocols_answers_none)
{
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), PLAIN, "Sec-WebSocket-Protocol: chanx.v1\r\n");
    cr_assert_eq(cx_raw_status(c), 101);
    cr_assert_null(cx_raw_header(c, "sec-websocket-protocol"));
    json_t *p = which(c);
    cr_assert(json_is_null(json_object_get(p, "subprotocol")), "no subprotocol chosen");
    json_decref(p);
    cx_raw_destroy(&c);
}

Test(handshake, no_offer_no_header)
{
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), VERSIONED, NULL);
    cr_assert_eq(cx_raw_status(c), 101);
    cr_assert_null(cx_raw_header(c, "sec-websocket-protocol"));
    cx_raw_destroy(&c);
}

Test(handshake, a_token_offered_as_a_subprotocol_authenticates_and_is_never_echoed_logged_or_forwarded)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    const char *key = cx_db_token(stack, alice);
    char headers[256];
    snprintf(headers, sizeof headers, "Sec-WebSocket-Protocol: token.%s, chanx.v1\r\n", key);
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), VERSIONED, headers);
    cr_assert_eq(cx_raw_status(c), 101);
    cr_assert_str_eq(cx_raw_header(c, "sec-websocket-protocol"), "chanx.v1", "the credential is never the answer");
    json_t *p = which(c);
    cr_assert_str_eq(str(p, "user"), "alice", "the offered token authenticated the client");
    cr_assert_str_eq(str(p, "offers"), "chanx.v1", "the worker never sees the credential");
    json_decref(p);
    cx_raw_destroy(&c);
    char *gw = cx_stack_log(stack, "gateway0", NULL, 0), *worker = cx_stack_log(stack, "worker0", NULL, 0);
    cr_assert(gw && worker);
    cr_assert_null(strstr(gw, key), "the gateway logged the token");
    cr_assert_null(strstr(worker, key), "the worker logged the token");
    free(gw);
    free(worker);
}

Test(handshake, a_wrong_token_offered_as_a_subprotocol_is_refused_like_any_wrong_token)
{
    cx_raw *c = cx_raw_upgrade(cx_stack_gateway_port(stack, 0), VERSIONED,
                               "Sec-WebSocket-Protocol: chanx.v1, token.0123456789abcdef0123456789abcdef01234567\r\n");
    cr_assert_eq(cx_raw_status(c), 101);
    cr_assert_eq(cx_raw_expect_close(c, 10000, NULL), 4401, "DRF's 401 for an invalid token, as a header token gets");
    cx_raw_destroy(&c);
}

/* ------------------------------------------------------------ refusals */

/* Sends request as is and returns the answer's status (0 when none). */
static int answer(const char *request, cx_raw **out)
{
    cx_raw *c = cx_raw_open(cx_stack_gateway_port(stack, 0));
    cr_assert_not_null(c);
    cr_assert_eq(cx_raw_write(c, request, strlen(request)), 0);
    int status = cx_raw_read_head(c, 10000);
    if (out)
        *out = c;
    else
        cx_raw_destroy(&c);
    return status;
}

#define UPGRADE_HEADERS "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
#define KEY "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"

Test(http_answers, no_host_is_400)
{
    cx_raw *c = NULL;
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.1\r\n" UPGRADE_HEADERS KEY "\r\n", &c), 400);
    cr_assert(strstr(cx_raw_body(c), "Host"), "the body says why: %s", cx_raw_body(c));
    cx_raw_destroy(&c);
}

Test(http_answers, no_or_malformed_key_is_400)
{
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEADERS "\r\n", NULL), 400);
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEADERS "Sec-WebSocket-Key: abc\r\n\r\n", NULL), 400);
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEADERS
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", NULL), 400);
    /* 24 characters that lws's lenient decoder takes for 16 bytes, but not base64 (fuzz_handshake) */
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEADERS
                        "Sec-WebSocket-Key: d\xffhlIHNhbXBsZSBub25jZQ\xc5\xc2\r\n\r\n", NULL), 400);
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEADERS
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub2*jZQ==\r\n\r\n", NULL), 400);
}

Test(http_answers, another_version_is_426_naming_13)
{
    cx_raw *c = NULL;
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Version: 8\r\n" KEY "\r\n", &c), 426);
    cr_assert_str_eq(cx_raw_header(c, "sec-websocket-version"), "13");
    cx_raw_destroy(&c);
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" KEY "\r\n",
                        NULL), 426, "no version at all");
}

Test(http_answers, a_connection_header_without_upgrade_is_400)
{
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                        "Sec-WebSocket-Version: 13\r\n" KEY "\r\n", NULL), 400);
}

Test(http_answers, a_malformed_subprotocol_list_is_400)
{
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEADERS KEY
                        "Sec-WebSocket-Protocol: a b\r\n\r\n", NULL), 400);
    char request[1024];
    char list[200];
    memset(list, 'a', sizeof list - 1);
    list[sizeof list - 1] = '\0';
    snprintf(request, sizeof request, "GET " PLAIN " HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEADERS KEY
             "Sec-WebSocket-Protocol: %s\r\n\r\n", list);
    cr_assert_eq(answer(request, NULL), 400, "longer than lws takes: a status, not a dropped connection");
}

Test(http_answers, an_unknown_path_is_still_404)
{
    cr_assert_eq(answer("GET /ws/nowhere/ HTTP/1.1\r\nHost: x\r\n" UPGRADE_HEADERS KEY "\r\n", NULL), 404);
}

Test(http_answers, a_malformed_request_line_is_400_and_an_unknown_method_501)
{
    cx_raw *c = NULL;
    cr_assert_eq(answer("GARBAGE\r\n\r\n", &c), 400);
    cr_assert(strstr(cx_raw_body(c), "request line"), "%s", cx_raw_body(c));
    cx_raw_destroy(&c);
    cr_assert_eq(answer("GET /ws/edge_proto/plain/\r\nHost: x\r\n\r\n", NULL), 400, "no version");
    cr_assert_eq(answer("GET /a\x01 HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 400, "a control character in the target");
    cr_assert_eq(answer("GET / HTTP/2.0\r\nHost: x\r\n\r\n", NULL), 400);
    cr_assert_eq(answer("BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 501);
}

Test(http_answers, an_http_1_0_upgrade_is_400)
{
    cr_assert_eq(answer("GET " PLAIN " HTTP/1.0\r\nHost: x\r\n" UPGRADE_HEADERS KEY "\r\n", NULL), 400);
}

Test(http_answers, healthz_still_answers_and_an_empty_line_before_the_request_is_ignored)
{
    cr_assert_eq(answer("\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 200);
}

Test(handshake, the_kits_communicator_offers_subprotocols_and_sees_the_choice)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    char auth[128];
    snprintf(auth, sizeof auth, "Authorization: Token %s", cx_db_token(stack, alice));
    const char *headers[] = { auth, "Sec-WebSocket-Protocol: chanx.v1, chanx.v2", NULL };
    cx_communicator *c = cx_communicator_new(stack, VERSIONED, headers);
    cx_assert_authenticated_status_ok(c);
    cr_assert_str_eq(cx_communicator_subprotocol(c), "chanx.v1");
    cx_send_message(c, "which", NULL);
    json_t *m = cx_receive_until_action(c, "which", 5000);
    cr_assert_str_eq(str(json_object_get(m, "payload"), "subprotocol"), "chanx.v1");
    json_decref(m);
}
