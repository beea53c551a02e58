/*
 * Credentials with a lifetime, and throttling, end to end: a real gateway,
 * worker and broker against real PostgreSQL rows (the cred_probe plugin).
 *
 *   - a JWT's exp ends its connection (4401 "Token expired"), and the
 *     authenticate action with a fresh token of the same user extends it,
 *     without the consumer ever seeing that message;
 *   - a credential revoked while connected (DRF token deleted, Django
 *     session logged out, user made inactive or deleted) ends the connection
 *     within CHANX_REVALIDATE_INTERVAL_MS (short here) with 4401, and the
 *     other connections stay; a round that meets a database error revokes
 *     nobody;
 *   - DRF-style throttling: over the rate, DRF's Throttled text and nothing
 *     reaches the consumer; twice the rate, 1008. The gateway's answers
 *     (throttled errors, the 1008, the authenticate answer) come after the
 *     consumer's answers to earlier messages, none lost (slow_throttled).
 * JWTs are issued with short lifetimes so the tests wait seconds, not minutes.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include "tests/kit/deploy_helpers.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SECRET "chanx-test-secret-key-not-for-production-0123456789"
#define ANY "/ws/cred_probe/any/"

static cx_stack *stack;

static void start(const char *const *env)
{
    static char plugin[600];
    static const char *files[2], *all_env[16];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(plugin, sizeof plugin, "%s/test-plugins/cred_probe.so", bin);
    files[0] = plugin;
    size_t n = 0;
    all_env[n++] = "CHANX_DJANGO_SECRET_KEY=" SECRET;
    for (; env && *env && n < 15; env++)
        all_env[n++] = *env;
    all_env[n] = NULL;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .env = all_env });
}

static void stop(void)
{
    cx_stack_stop(&stack);
}

TestSuite(credentials, .fini = stop, .timeout = 120);

static const char *const *one_header(const char *fmt, const char *value)
{
    static char header[4200];
    static const char *headers[2] = { header, NULL };
    snprintf(header, sizeof header, fmt, value);
    return headers;
}

static void assert_next_auth(cx_communicator *c, int status, const char *detail)
{
    json_t *payload = cx_wait_for_auth(c, 8000);
    cr_assert_not_null(payload, "no authentication message (expected %d)", status);
    cr_assert_eq(json_integer_value(json_object_get(payload, "status_code")), status, "status %d, expected %d",
                 (int) json_integer_value(json_object_get(payload, "status_code")), status);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(payload, "data"), "detail")), detail);
    json_decref(payload);
}

static cx_communicator *connect_with(const char *path, const char *const *headers)
{
    cx_communicator *c = cx_communicator_new(stack, path, headers);
    assert_next_auth(c, 200, "OK");
    return c;
}

static cx_communicator *connect_jwt_to(const char *path, int64_t user, long ttl_s)
{
    char *jwt = cx_jwt_for(user, SECRET, ttl_s);
    cx_communicator *c = connect_with(path, one_header("Authorization: Bearer %s", jwt));
    free(jwt);
    return c;
}

static cx_communicator *connect_jwt(int64_t user, long ttl_s)
{
    return connect_jwt_to(ANY, user, ttl_s);
}

static void send_echo(cx_communicator *c, int n)
{
    json_t *payload = json_pack("{s:i}", "n", n);
    cx_send_message(c, "echo", payload);
    json_decref(payload);
}

/* The next message is an echo of n: the consumer got the message, and nothing came before it. */
static void assert_next_echo(cx_communicator *c, int n)
{
    json_t *msg = cx_receive_json(c, 8000);
    cr_assert_not_null(msg, "no echo of %d", n);
    char expected[64];
    snprintf(expected, sizeof expected, "{\"action\":\"echo\",\"payload\":{\"n\":%d}}", n);
    cx_assert_json_eq(msg, expected);
    json_decref(msg);
}

static void assert_echoes(cx_communicator *c, int n)
{
    send_echo(c, n);
    assert_next_echo(c, n);
}

static void send_authenticate(cx_communicator *c, const char *token)
{
    json_t *payload = json_pack("{s:s}", "token", token);
    cx_send_message(c, "authenticate", payload);
    json_decref(payload);
}

static void assert_closed_because(cx_communicator *c, int code, const char *reason, int timeout_ms)
{
    cx_assert_closed(c, code, timeout_ms);
    cr_assert_str_eq(cx_communicator_close_reason(c), reason);
}

/* ------------------------------------------------------------------ expiry */

Test(credentials, a_jwt_ends_its_connection_at_exp_with_4401)
{
    start(NULL);
    int64_t carol = cx_db_create_user(stack, "carol", 0);
    cx_communicator *c = connect_jwt(carol, 2);
    assert_echoes(c, 1);
    assert_closed_because(c, 4401, "Token expired", 15000);
}

Test(credentials, a_fresh_token_extends_the_connection_and_never_reaches_the_consumer)
{
    start(NULL);
    int64_t carol = cx_db_create_user(stack, "carol", 0);
    cx_communicator *c = connect_jwt(carol, 2);
    char *fresh = cx_jwt_for(carol, SECRET, 300);
    send_authenticate(c, fresh);
    assert_next_auth(c, 200, "OK");   /* and not "leaked": the consumer answers that if it sees the action */
    free(fresh);
    sleep(4);   /* past the first token's exp */
    assert_echoes(c, 2);
    cx_receive_nothing(c, 500);
}

Test(credentials, authenticate_on_a_drf_token_connection_gives_it_no_expiry)
{
    start(NULL);
    int64_t carol = cx_db_create_user(stack, "carol", 0);
    cx_communicator *c = connect_with(ANY, cx_db_token_header(stack, carol));
    char *brief = cx_jwt_for(carol, SECRET, 2);
    send_authenticate(c, brief);
    assert_next_auth(c, 200, "OK");
    free(brief);
    sleep(4);   /* past that JWT's exp: the DRF token, which has none, still holds the connection */
    assert_echoes(c, 1);
}

Test(credentials, a_token_of_another_user_closes_with_4403)
{
    start(NULL);
    int64_t carol = cx_db_create_user(stack, "carol", 0), mallory = cx_db_create_user(stack, "mallory", 0);
    cx_communicator *c = connect_jwt(carol, 300);
    char *other = cx_jwt_for(mallory, SECRET, 300);
    send_authenticate(c, other);
    free(other);
    assert_next_auth(c, 403, "You do not have permission to perform this action.");
    assert_closed_because(c, 4403, "Token of another user", 5000);
}

Test(credentials, an_invalid_token_is_answered_401_and_the_old_expiry_stands)
{
    start(NULL);
    int64_t carol = cx_db_create_user(stack, "carol", 0);
    cx_communicator *c = connect_jwt(carol, 3);
    char *forged = cx_jwt_for(carol, "another-site-secret-key-9876543210", 300);
    const char *bad[] = { forged, "not-a-jwt", "" };
    for (size_t i = 0; i < 3; i++) {
        send_authenticate(c, bad[i]);
        assert_next_auth(c, 401, "Given token not valid for any token type");
    }
    cx_send_text(c, "{\"action\":\"authenticate\",\"payload\":{}}");   /* no token at all */
    assert_next_auth(c, 401, "Given token not valid for any token type");
    free(forged);
    assert_echoes(c, 3);   /* still connected */
    assert_closed_because(c, 4401, "Token expired", 15000);
}

Test(credentials, authenticate_is_an_ordinary_message_where_the_consumer_takes_no_jwt)
{
    start(NULL);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = connect_with("/ws/cred_probe/token/", cx_db_token_header(stack, alice));
    send_authenticate(c, "whatever");
    json_t *msg = cx_receive_json(c, 8000);
    cx_assert_json_eq(msg, "{\"action\":\"leaked\",\"payload\":{\"token\":\"whatever\"}}");
    json_decref(msg);
}

/* -------------------------------------------------------------- revocation */

#define QUICK_REVALIDATION (const char *[]) { "CHANX_REVALIDATE_INTERVAL_MS=300", NULL }

static cx_communicator *bystander(void)
{
    int64_t dave = cx_db_create_user(stack, "dave", 0);
    return connect_with(ANY, cx_db_token_header(stack, dave));
}

/* fmt with the id in it (%lld); static. */
static const char *sql_with(const char *fmt, int64_t id)
{
    static char sql[256];
    snprintf(sql, sizeof sql, fmt, (long long) id);
    return sql;
}

static void exec_sql(const char *fmt, int64_t id)
{
    cx_db_exec(stack, sql_with(fmt, id));
}

#define REVOKED "Authentication revoked"

/* c echoes; once sql has revoked its credential, it is closed with 4401 and the bystander is not. */
static void assert_revoked_by(cx_communicator *c, const char *sql, cx_communicator *bystander)
{
    assert_echoes(c, 1);
    cx_db_exec(stack, sql);
    assert_closed_because(c, 4401, REVOKED, 15000);
    assert_echoes(bystander, 2);
}

Test(credentials, a_deleted_drf_token_ends_its_connection)
{
    start(QUICK_REVALIDATION);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = connect_with(ANY, cx_db_token_header(stack, alice));
    assert_revoked_by(c, sql_with("DELETE FROM authtoken_token WHERE user_id = %lld", alice), bystander());
}

Test(credentials, a_logged_out_django_session_ends_its_connection)
{
    start(QUICK_REVALIDATION);
    int64_t bob = cx_db_create_user(stack, "bob", 0);
    char *key = cx_db_session_cookie(stack, bob, SECRET, 3600);
    cx_communicator *c = connect_with(ANY, one_header("Cookie: sessionid=%s", key));
    char sql[256];   /* django.contrib.auth.logout flushes the session row */
    snprintf(sql, sizeof sql, "DELETE FROM django_session WHERE session_key = '%s'", key);
    free(key);
    assert_revoked_by(c, sql, bystander());
}

Test(credentials, a_user_made_inactive_or_deleted_loses_every_connection)
{
    start(QUICK_REVALIDATION);
    int64_t carol = cx_db_create_user(stack, "carol", 0), erin = cx_db_create_user(stack, "erin", 0);
    cx_communicator *by_jwt = connect_jwt(carol, 300), *by_token = connect_with(ANY, cx_db_token_header(stack, carol));
    cx_communicator *deleted = connect_jwt(erin, 300), *other = bystander();
    exec_sql("UPDATE auth_user SET is_active = false WHERE id = %lld", carol);
    assert_closed_because(by_jwt, 4401, REVOKED, 15000);
    assert_closed_because(by_token, 4401, REVOKED, 15000);
    assert_echoes(deleted, 1);
    exec_sql("DELETE FROM auth_user WHERE id = %lld", erin);
    assert_closed_because(deleted, 4401, REVOKED, 15000);
    assert_echoes(other, 2);
}

Test(credentials, a_database_error_revokes_nobody_and_the_next_round_catches_up)
{
    start((const char *[]) { "CHANX_REVALIDATE_INTERVAL_MS=300", "CHANX_DB_TIMEOUT_MS=500", NULL });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = connect_with(ANY, cx_db_token_header(stack, alice));
    /* the token table locked past the statement timeout: every round fails, and an outage must not
     * close everyone (the kit's connection holds the lock; it ends with the test, whatever happens) */
    cx_db_exec(stack, "BEGIN");
    cx_db_exec(stack, "LOCK TABLE authtoken_token IN ACCESS EXCLUSIVE MODE");
    char *log = cx_stack_log(stack, "gateway0", "failed: none revoked this round", 15000);
    cr_assert_not_null(log, "the failed round is not logged");
    free(log);
    assert_echoes(c, 1);
    exec_sql("DELETE FROM authtoken_token WHERE user_id = %lld", alice);
    cx_db_exec(stack, "COMMIT");
    assert_closed_because(c, 4401, REVOKED, 15000);
}

/* -------------------------------------------------------------- throttling */

/* The error frame of a throttled message; returns the N of "Expected available in N seconds." */
static long assert_throttled(cx_communicator *c)
{
    json_t *msg = cx_receive_json(c, 8000);
    cr_assert_not_null(msg, "no answer to a throttled message");
    const char *action = json_string_value(json_object_get(msg, "action"));
    const char *detail = json_string_value(json_object_get(json_object_get(msg, "payload"), "detail"));
    cr_assert(action && strcmp(action, "error") == 0 && detail, "expected the throttled error, got %s",
              json_dumps(msg, JSON_COMPACT));
    long wait = -1;
    char tail[32] = "";
    cr_assert_eq(sscanf(detail, "Request was throttled. Expected available in %ld %31[a-z.]", &wait, tail), 2,
                 "detail: %s", detail);
    cr_assert_str_eq(tail, wait == 1 ? "second." : "seconds.", "detail: %s", detail);
    json_decref(msg);
    return wait;
}

/* A stack with the defaults, and alice connected to path with her DRF token. */
static cx_communicator *alice_on(const char *path)
{
    start(NULL);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    return connect_with(path, cx_db_token_header(stack, alice));
}

Test(credentials, a_consumer_s_rate_throttles_then_closes_an_abusive_client_with_1008)
{
    cx_communicator *c = alice_on("/ws/cred_probe/throttled/");   /* 3/min */
    for (int i = 1; i <= 3; i++)
        assert_echoes(c, i);
    for (int i = 4; i <= 6; i++) {
        send_echo(c, i);
        long wait = assert_throttled(c);
        cr_assert(wait >= 1 && wait <= 20, "3/min frees a message every 20 s, said %ld", wait);
    }
    send_echo(c, 7);   /* a whole allowance of excess: abuse */
    assert_closed_because(c, 1008, "Request was throttled.", 8000);
}

/* Answers come in the order of the messages, whoever answers: the consumer's echoes of the accepted
 * messages (300 ms each, still on their way) before the gateway's throttled errors of the later ones.
 * Before the gateway sent its errors through the worker, both errors came first. */
Test(credentials, throttled_errors_come_after_the_answers_to_earlier_messages)
{
    cx_communicator *c = alice_on("/ws/cred_probe/slow_throttled/");   /* 3/min */
    for (int i = 1; i <= 5; i++)
        send_echo(c, i);
    for (int i = 1; i <= 3; i++)
        assert_next_echo(c, i);
    assert_throttled(c);
    assert_throttled(c);
}

/* Closing a throttled-out client with 1008 loses none of the answers to what it sent before: every
 * echo of the accepted messages and every throttled error arrive first, in order, then the close.
 * Before, the close went out at once and the echoes still in flight were lost. */
Test(credentials, a_throttled_out_client_gets_every_answer_before_its_1008)
{
    cx_communicator *c = alice_on("/ws/cred_probe/slow_throttled/");   /* 3/min */
    for (int i = 1; i <= 9; i++)   /* 3 accepted, 3 throttled, then abuse: the 7th closes, the rest go nowhere */
        send_echo(c, i);
    for (int i = 1; i <= 3; i++)
        assert_next_echo(c, i);
    for (int i = 4; i <= 6; i++)
        assert_throttled(c);
    assert_closed_because(c, 1008, "Request was throttled.", 8000);
}

/* The authenticate action is answered by the gateway, but after the consumer's answer to the message
 * before it. Before, the authentication message overtook the slow echo. */
Test(credentials, the_answer_to_authenticate_follows_the_answers_to_earlier_messages)
{
    start(NULL);
    int64_t carol = cx_db_create_user(stack, "carol", 0);
    cx_communicator *c = connect_jwt_to("/ws/cred_probe/slow_throttled/", carol, 300);
    char *fresh = cx_jwt_for(carol, SECRET, 600);
    send_echo(c, 1);
    send_authenticate(c, fresh);
    assert_next_echo(c, 1);
    assert_next_auth(c, 200, "OK");
    free(fresh);
}

Test(credentials, the_deployment_rate_applies_unless_a_consumer_opts_out)
{
    start((const char *[]) { "CHANX_THROTTLE_RATE=2/min", NULL });
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = connect_with("/ws/cred_probe/default/", cx_db_token_header(stack, alice));
    assert_echoes(c, 1);
    assert_echoes(c, 2);
    send_echo(c, 3);
    long wait = assert_throttled(c);
    cr_assert(wait >= 1 && wait <= 30, "2/min frees a message every 30 s, said %ld", wait);
    cx_communicator *free_one = connect_with("/ws/cred_probe/unthrottled/", cx_db_token_header(stack, alice));
    for (int i = 1; i <= 10; i++)
        assert_echoes(free_one, i);
}

/* A gateway started with one more setting (no broker, no port it could bind): what it said, and
 * its exit status in *status. */
static char *gateway_output_with(const char *setting, int *status)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    char cmd[800];
    snprintf(cmd, sizeof cmd, "%s CHANX_LISTEN=127.0.0.1:1 CHANX_BROKER=tcp://127.0.0.1:1 timeout 20 %s/chanx-gateway 2>&1",
             setting, bin);
    return cx_shell_output(cmd, status);
}

Test(credentials, a_malformed_throttle_rate_stops_the_gateway_at_start)
{
    int status = 0;
    char *out = gateway_output_with("CHANX_THROTTLE_RATE=20/fortnight", &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit status %d: %s", status, out);
    cr_assert(strstr(out, "CHANX_THROTTLE_RATE: bad throttle rate '20/fortnight'"), "said: %s", out);
    free(out);
}

/* A malformed number stops the gateway with the line naming it, and nothing that reads like a second
 * fault: czmq reported the broker link's socket as "dangling" when the process exited around it. */
Test(credentials, a_malformed_revalidate_interval_stops_the_gateway_with_one_line)
{
    int status = 0;
    char *out = gateway_output_with("CHANX_REVALIDATE_INTERVAL_MS=1m", &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "exit status %d: %s", status, out);
    cr_assert(strstr(out, "chanx: CHANX_REVALIDATE_INTERVAL_MS=1m is not a whole number from 0 to 86400000\n"),
              "said: %s", out);
    cr_assert_null(strstr(out, "dangling"), "a second message: %s", out);
    free(out);
}
