/*
 * test_events.h — what the server-side event suites (test_events*.c)
 * share: a stack serving tests/plugins/evt_probe with the publish API, and
 * clients of its consumers.
 */
#ifndef CX_TEST_EVENTS_H
#define CX_TEST_EVENTS_H

#include <chanx/testing.h>
#include "tests/kit/deploy_helpers.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline cx_stack *events_stack_start(int gateways, const char *const *env)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    static char path[600];
    static const char *files[2];
    snprintf(path, sizeof path, "%s/test-plugins/evt_probe.so", bin);
    files[0] = path;
    return cx_stack_start(&(cx_stack_options) { .plugin_files = files, .env = env, .gateways = gateways, .api = 1 });
}

/* A connected, authenticated client of path on a gateway, as user. */
static inline cx_communicator *events_client(cx_stack *stack, int gateway, const char *path, int64_t user)
{
    cx_communicator *c = cx_communicator_on(stack, gateway, path, cx_db_token_header(stack, user));
    cx_assert_authenticated_status_ok(c);
    /* A round trip through the worker: its GROUP_ADDs (build_groups) went to the broker before this
     * reply, so the broker and the gateway know the memberships before the test publishes. */
    int plain = strstr(path, "/plain/") != NULL;
    json_decref(cx_request(c, plain ? "ping" : "whoami", NULL, plain ? "pong" : "whoami", 5000));
    return c;
}

/* The connection id the feed consumer reports (decimal string, owned). */
static inline char *events_connection_id(cx_communicator *c)
{
    json_t *who = cx_request(c, "whoami", NULL, "whoami", 5000);
    char *id = strdup(json_string_value(json_object_get(who, "connection")));
    json_decref(who);
    return id;
}

static inline json_int_t events_int(const json_t *object, const char *key)
{
    return json_integer_value(json_object_get(object, key));
}

#endif
