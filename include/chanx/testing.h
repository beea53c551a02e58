/*
 * chanx/testing.h — the testing kit for consumer plugins (libchanx-testing).
 *
 * Chanx's WebsocketTestCase in C, for criterion: a private stack (broker,
 * workers and gateways as real processes, on free ports, against a real
 * PostgreSQL) and communicators that talk to it over real WebSockets.
 *
 *     #include <chanx/testing.h>
 *     #include <criterion/criterion.h>
 *
 *     CX_STACK_SUITE(chat, .plugins = "build/plugins");   // a fresh stack per test
 *
 *     Test(chat, ping) {
 *         int64_t alice = cx_db_create_user(stack, "alice", 0);
 *         cx_communicator *c = cx_communicator_new(stack, "/ws/chat/lobby/", cx_db_token_header(stack, alice));
 *         cx_assert_authenticated_status_ok(c);
 *         cx_send_message(c, "ping", NULL);
 *         json_t *all = cx_receive_all_json(c, 2000, 0);   // until {"action":"complete"}
 *         ...
 *     }
 *
 * Link: cc -Iinclude test.c build/lib/libchanx-testing.a
 *          $(pkg-config --libs libwebsockets jansson libpq) -lcriterion
 *
 * Processes started by a stack die with the test process (PR_SET_PDEATHSIG),
 * so a test that fails or crashes leaves nothing running. The database comes
 * from CHANX_TEST_DATABASE_URL, which scripts/run-tests sets after starting a
 * private PostgreSQL that it stops on exit (`scripts/run-tests --with-db CMD`
 * does that around any test binary). cx_stack_start empties the Django tables
 * so every test starts clean, as Django's TransactionTestCase does, and
 * cx_stack_stop fails the test if a child process logged a sanitizer report.
 *
 * Failures say what was awaited and list what arrived instead.
 *
 * Ownership: strings and JSON returned by the kit are owned by the caller
 * unless the comment says "borrowed". Communicators are owned by the stack
 * and closed at cx_stack_stop if the test forgets them.
 */
#ifndef CHANX_TESTING_H
#define CHANX_TESTING_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

typedef struct cx_stack cx_stack;
typedef struct cx_communicator cx_communicator;

typedef struct {
    const char *plugins;        /* plugin folder for the workers; default <bin>/plugins */
    /* Or single plugins, "path/foo.so" or "name=path/foo.so" (loaded as name.so), NULL-terminated:
     * they are linked into a private folder, so plugins built in different places share one stack. */
    const char *const *plugin_files;
    const char *routing;        /* routing file, or NULL */
    int gateways;               /* default 1 */
    int workers;                /* default 1 */
    const char *const *env;     /* extra "NAME=value" for every process, NULL-terminated */
    const char *bin;            /* folder of chanx-broker etc.; default $CHANX_TEST_BIN or "build" */
    int keep_tables;            /* do not empty the tables */
    const char *const *tables;  /* more tables to empty at start (the test's fixtures), NULL-terminated */
    /* Plain broker links. By default the stack runs as a deployment should: `chanx-admin keygen` makes a
     * key set in the log folder and every process gets CHANX_CURVE_DIR (CURVE on every link).
     * CHANX_TEST_PLAIN_LINKS=1 in the test's environment makes every stack plain. */
    int plain_links;
    /* A standby broker ("standby", its log standby.log) on a second endpoint: the other processes get
     * CHANX_BROKER="primary,standby" and fail over when the primary is silent (CHANX_FAILOVER_MS, 500
     * in the kit). */
    int standby_broker;
    int metrics;                /* every process serves /metrics on a port of its own (cx_stack_metrics) */
    int api;                    /* also start chanx-api (the publish API) with CHANX_API_KEY=CX_TEST_API_KEY */
    /* SQL files run before the tables are emptied, NULL-terminated: the consumer's own tables
     * (CREATE TABLE IF NOT EXISTS ...), so .tables may name them on a fresh database. Paths are
     * relative to the test's working folder; an error fails the test with PostgreSQL's message. */
    const char *const *schema_files;
} cx_stack_options;

/* A criterion suite whose every test gets a fresh stack in `stack`, emptied
 * tables and everything stopped after it, failed or not:
 *
 *     CX_STACK_SUITE(chat, .plugins = "build/plugins");
 *     Test(chat, ping) { ... cx_communicator_new(stack, ...) ... }
 *
 * criterion runs every test in its own process, and a suite's .init runs in
 * each, so a stack is per test; starting one takes a few hundred ms. */
#define CX_STACK_SUITE(suite, ...)                                                                   \
    static cx_stack *stack;                                                                          \
    static void cx__start_##suite(void) { stack = cx_stack_start(&(cx_stack_options) { __VA_ARGS__ }); } \
    static void cx__stop_##suite(void) { cx_stack_stop(&stack); }                                     \
    TestSuite(suite, .init = cx__start_##suite, .fini = cx__stop_##suite, .timeout = 60)

/* Starts the stack and waits until every gateway serves its routes (and, with .api, until chanx-api is ready: GET /healthz 200).
 * Aborts the test on failure. */
cx_stack *cx_stack_start(const cx_stack_options *options);
void cx_stack_stop(cx_stack **self_p);
const char *cx_stack_database(const cx_stack *self);               /* borrowed conninfo */
int cx_stack_gateway_port(const cx_stack *self, int index);
/* Folder of the processes' logs (<name>.log); kept after the test with CHANX_TEST_KEEP_LOGS=1. Borrowed. */
const char *cx_stack_log_dir(const cx_stack *self);
/* The stack's key folder (CHANX_CURVE_DIR of its processes), NULL with plain links. Borrowed. */
const char *cx_stack_keys_dir(const cx_stack *self);
/* The broker endpoint its peers dial (tcp://127.0.0.1:PORT). Borrowed. */
const char *cx_stack_broker_endpoint(const cx_stack *self);
/* Process id of "broker", "worker<i>" or "gateway<i>", 0 when not running. For "worker<i>", the worker
 * process running its plugins (chanx-worker supervises it: the first of CHANX_WORKER_PROCESSES);
 * cx_stack_kill_worker signals the supervisor. */
int cx_stack_pid(const cx_stack *self, const char *name);
/* Sends sig to a worker or gateway; wait for it to exit when sig is fatal. */
void cx_stack_kill_worker(cx_stack *self, int index, int sig);
void cx_stack_kill_gateway(cx_stack *self, int index, int sig);
void cx_stack_restart_worker(cx_stack *self, int index);
/* The broker: killed (waited for when sig is fatal) and started again on the same endpoint. */
void cx_stack_kill_broker(cx_stack *self, int sig);
void cx_stack_start_broker(cx_stack *self);
void cx_stack_start_gateway(cx_stack *self, int index);
/* Waits until the gateway's /healthz answers 200 (1) or the timeout passes (0). */
int cx_stack_wait_ready(cx_stack *self, int gateway, int timeout_ms);
/* The log (stderr) of "broker", "worker0", "gateway0"...: once it contains needle (NULL: at once),
 * the whole text (owned); NULL if needle did not appear within timeout_ms. Set CHANX_LOG_LEVEL=info
 * in the stack's env to see info records (scripts/run-tests defaults to warning). */
char *cx_stack_log(cx_stack *self, const char *process, const char *needle, int timeout_ms);
/* Metrics (a stack started with .metrics = 1): the port "broker", "worker0", "gateway0"... serve
 * /metrics on (0 without .metrics), and what it serves now, in the Prometheus text format (owned;
 * fails the test when it does not answer 200). */
int cx_stack_metrics_port(const cx_stack *self, const char *process);
char *cx_stack_metrics(cx_stack *self, const char *process);
/* The value of one series in such a text, written as it appears there: "chanx_gateway_connections",
 * "chanx_gateway_closes_total{code=\"4401\"}". NAN when the text has no such series. */
double cx_metric_value(const char *text, const char *series);
/* GET path from 127.0.0.1:port over HTTP/1.1; the body (owned) or NULL when nothing answered.
 * *status (may be NULL) gets the HTTP status, 0 when nothing answered. */
char *cx_http_get(int port, const char *path, int *status);

/* ------------------------------------------------------- publish API */
/* (tests/kit/api_helpers.c) Events from the application, through the stack's chanx-api (.api = 1). */

#define CX_TEST_API_KEY "chanx-test-api-key"
int cx_stack_api_port(const cx_stack *self);
/* The broker's ZeroMQ endpoint (for chanx-admin publish and other peers); borrowed. */
const char *cx_stack_broker(const cx_stack *self);
/* POSTs body (JSON text, sent as is) to path ("/api/broadcast"...) with "Authorization: apikey <key>"
 * (key NULL: no header). Returns the HTTP status; *reply gets the parsed JSON body (owned; NULL when
 * the body is not JSON). Fails the test when the API does not answer within 10 s. */
int cx_api_post(cx_stack *stack, const char *path, const char *key, const char *body, json_t **reply);
/* POSTs a printf-formatted body with the stack's key and asserts 200; returns the reply (owned):
 * {"gateways": n, "connections": m}, or {"results": [...]} for /api/batch. */
json_t *cx_api_publish(cx_stack *stack, const char *path, const char *body_fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------- database */

#define CX_USER_STAFF_FLAG 0x1
#define CX_USER_SUPERUSER_FLAG 0x2
#define CX_USER_INACTIVE_FLAG 0x4
int64_t cx_db_create_user(cx_stack *self, const char *username, int flags);
/* A DRF token for the user (created once); borrowed until the stack stops. */
const char *cx_db_token(cx_stack *self, int64_t user_id);
/* "Authorization: Token <key>" headers for the user, NULL-terminated; borrowed. */
const char *const *cx_db_token_header(cx_stack *self, int64_t user_id);
/* Runs SQL (several statements allowed); aborts the test on error. */
void cx_db_exec(cx_stack *self, const char *sql);
void cx_db_exec_file(cx_stack *self, const char *path);

/* --------------------------------------------------------- communicator */

/* headers: "Name: value" strings, NULL-terminated, or NULL. Connects at once. */
cx_communicator *cx_communicator_new(cx_stack *stack, const char *path, const char *const *headers);
/* The same on a given gateway. */
cx_communicator *cx_communicator_on(cx_stack *stack, int gateway, const char *path, const char *const *headers);
int cx_communicator_connected(const cx_communicator *self);
int cx_communicator_http_status(const cx_communicator *self);   /* when the upgrade was refused */
/* The subprotocol the gateway chose ("" for none; borrowed). Offer some with a header entry
 * "Sec-WebSocket-Protocol: chanx.v1, chanx.v2", as a browser's new WebSocket(url, [...]) does. */
const char *cx_communicator_subprotocol(const cx_communicator *self);
/* Waits for the authentication message; returns its payload (owned) or NULL on timeout. */
json_t *cx_wait_for_auth(cx_communicator *self, int timeout_ms);
/* Asserts the authentication message says 200. */
void cx_assert_authenticated_status_ok(cx_communicator *self);
void cx_send_message(cx_communicator *self, const char *action, const json_t *payload);
void cx_send_json(cx_communicator *self, const json_t *message);
void cx_send_text(cx_communicator *self, const char *text);
/* Next message as JSON, or NULL on timeout. */
json_t *cx_receive_json(cx_communicator *self, int timeout_ms);
/* Messages until {"action":"complete"} (or "group_complete" with wait_group), not included.
 * Fails the test on timeout, listing what arrived. Returns an array. */
json_t *cx_receive_all_json(cx_communicator *self, int timeout_ms, int wait_group);
/* Messages until one with this action, which is returned (the others are dropped). */
json_t *cx_receive_until_action(cx_communicator *self, const char *action, int timeout_ms);
/* Sends {"action": action, "payload": payload} and returns the payload of the first message whose
 * action is reply (owned; JSON null when it carries none), dropping the others. Fails the test on
 * timeout, listing what arrived. cx_request(c, "ping", NULL, "pong", 3000) is a liveness check. */
json_t *cx_request(cx_communicator *self, const char *action, const json_t *payload, const char *reply,
                   int timeout_ms);
/* Topics (Chanx's comm.subscribe, send_message(..., topic=, ref=), receive_topic_message and
 * unsubscribe; the wire protocol is in chanx/consumer.h, "Topics"). Frames are owned by the caller.
 * cx_topic_subscribe sends {"version": 1, "topic", "ref", "action": "subscribe"} and returns the
 * reply on that topic carrying that ref: "subscribed", or the "error" with its reason (what
 * on_subscribe pushes after it stays queued). ref may be NULL (then "s" + a counter is used).
 * Fails the test on timeout, listing what arrived. */
json_t *cx_topic_subscribe(cx_communicator *self, const char *topic, const char *ref, int timeout_ms);
/* The same with "unsubscribe"; the reply is "unsubscribed". */
json_t *cx_topic_unsubscribe(cx_communicator *self, const char *topic, const char *ref, int timeout_ms);
/* Sends {"version": 1, "topic", "ref" (omitted when NULL), "action", "payload"} (payload NULL: null). */
void cx_topic_send(cx_communicator *self, const char *topic, const char *ref, const char *action,
                   const json_t *payload);
/* The next frame on topic whose action is action (any when NULL), dropping the others; fails the
 * test on timeout, listing what arrived. */
json_t *cx_receive_topic(cx_communicator *self, const char *topic, const char *action, int timeout_ms);

/* Asserts nothing arrives within timeout_ms. */
void cx_receive_nothing(cx_communicator *self, int timeout_ms);
/* Asserts the server closes with code within timeout_ms. A close with 1011 "consumer crashed" prints the
 * worker's crash report (plugin, callback, backtrace) to stderr. */
void cx_assert_closed(cx_communicator *self, int code, int timeout_ms);
/* After the server closed: the reason text of its close frame ("Token expired"), "" when it gave
 * none. Borrowed, valid while the communicator is. */
const char *cx_communicator_close_reason(const cx_communicator *self);
void cx_communicator_disconnect(cx_communicator *self);
/* Asserts actual equals the JSON text expected (key order ignored), showing both when not:
 * cx_assert_json_eq(replies, "[{\"action\": \"pong\", \"payload\": null}]"). */
void cx_assert_json_eq(const json_t *actual, const char *expected);

/* ---------------------------------------------------- auth credentials */
/* (tests/kit/auth_helpers.c) Rows and tokens as Django, DRF and simplejwt write them. */

/* Sets auth_user.password to Django's pbkdf2_sha256 hash of password. */
void cx_db_set_password(cx_stack *self, int64_t user_id, const char *password);
/* Logs the user in as django.contrib.auth.login does: a django_session row signed with secret_key,
 * carrying the _auth_user_hash of the user's current password, expiring in ttl_s seconds (negative:
 * already expired). Returns the session key (the sessionid cookie's value), owned. */
char *cx_db_session_cookie(cx_stack *self, int64_t user_id, const char *secret_key, long ttl_s);
/* A django_session row with the given session_data as is (e.g. a row Django wrote, from a fixture). */
void cx_db_insert_session(cx_stack *self, const char *session_key, const char *session_data, long ttl_s);
/* A simplejwt access token for the user (AccessToken.for_user), valid ttl_s seconds; owned. */
char *cx_jwt_for(int64_t user_id, const char *secret, long ttl_s);
/* header.claims signed with HMAC-SHA256 under secret, whatever the header says; owned. */
char *cx_jwt_sign(const char *secret, const char *header_json, const char *claims_json);

#endif
