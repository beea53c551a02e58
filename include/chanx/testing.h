/*
 * chanx/testing.h — the testing kit for consumer plugins (libchanx-testing).
 *
 * Chanx's WebsocketTestCase in C, for criterion: a private stack (broker,
 * workers and gateways as real processes, on free ports, against a real
 * PostgreSQL) and communicators that talk to it over real WebSockets.
 *
 *     static cx_stack *stack;
 *     static void setup(void) { stack = cx_stack_start(&(cx_stack_options) { .plugins = "build/plugins" }); }
 *     static void teardown(void) { cx_stack_stop(&stack); }
 *     TestSuite(chat, .init = setup, .fini = teardown);
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
 * Processes started by a stack die with the test process (PR_SET_PDEATHSIG),
 * so a test that crashes leaves nothing running. The database comes from
 * CHANX_TEST_DATABASE_URL; cx_stack_start empties the Django tables so every
 * test starts clean, as Django's TransactionTestCase does.
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
    const char *routing;        /* routing file, or NULL */
    int gateways;               /* default 1 */
    int workers;                /* default 1 */
    const char *const *env;     /* extra "NAME=value" for every process, NULL-terminated */
    const char *bin;            /* folder of chanx-broker etc.; default $CHANX_TEST_BIN or "build" */
    int keep_tables;            /* do not empty the tables */
} cx_stack_options;

/* Starts the stack and waits until every gateway serves its routes. Aborts the test on failure. */
cx_stack *cx_stack_start(const cx_stack_options *options);
void cx_stack_stop(cx_stack **self_p);
const char *cx_stack_database(const cx_stack *self);               /* borrowed conninfo */
int cx_stack_gateway_port(const cx_stack *self, int index);
/* Sends sig to a worker or gateway; wait for it to exit when sig is fatal. */
void cx_stack_kill_worker(cx_stack *self, int index, int sig);
void cx_stack_kill_gateway(cx_stack *self, int index, int sig);
void cx_stack_restart_worker(cx_stack *self, int index);
void cx_stack_start_gateway(cx_stack *self, int index);
/* Waits until the gateway's /healthz answers 200 (1) or the timeout passes (0). */
int cx_stack_wait_ready(cx_stack *self, int gateway, int timeout_ms);

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
/* Asserts nothing arrives within timeout_ms. */
void cx_receive_nothing(cx_communicator *self, int timeout_ms);
/* Asserts the server closes with code within timeout_ms. */
void cx_assert_closed(cx_communicator *self, int code, int timeout_ms);
void cx_communicator_disconnect(cx_communicator *self);

#endif
