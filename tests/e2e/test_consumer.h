/*
 * test_consumer.h — what the consumer-model suites (test_consumer_*.c)
 * share: a stack serving the test plugins of tests/plugins/cons_*, and a
 * few readers for the messages they assert on.
 *
 * Header-only, static functions: each suite is one translation unit and
 * uses a subset.
 */
#ifndef CX_TEST_CONSUMER_H
#define CX_TEST_CONSUMER_H

#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stack whose worker loads the named test plugins ("cons_probe", ...), NULL-terminated. */
static inline cx_stack *cons_stack_start(const char *const *plugins, const char *const *env)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    static char paths[8][600];
    static const char *files[9];
    int n = 0;
    for (; plugins[n] && n < 8; n++) {
        snprintf(paths[n], sizeof paths[n], "%s/test-plugins/%s.so", bin, plugins[n]);
        files[n] = paths[n];
    }
    files[n] = NULL;
    return cx_stack_start(&(cx_stack_options) { .plugin_files = files, .env = env });
}

static inline const char *str_of(const json_t *m, const char *key)
{
    return json_string_value(json_object_get(m, key));
}

static inline const char *action_of(const json_t *m)
{
    return str_of(m, "action");
}

/* A connected, authenticated communicator for a new user of that name (made unique per call). */
static inline cx_communicator *cons_connect(cx_stack *stack, const char *path, const char *user)
{
    static int serial;
    char name[64];
    snprintf(name, sizeof name, "%s%d", user, ++serial);
    int64_t id = cx_db_create_user(stack, name, 0);
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, id));
    cr_assert(cx_communicator_connected(c), "%s: not connected (HTTP %d)", path, cx_communicator_http_status(c));
    json_t *auth = cx_wait_for_auth(c, 5000);
    cr_assert_not_null(auth, "%s: no authentication message", path);
    /* camelized consumers send statusCode, as Chanx does */
    json_t *status = json_object_get(auth, "status_code") ? json_object_get(auth, "status_code")
                                                           : json_object_get(auth, "statusCode");
    cr_assert_eq(json_integer_value(status), 200, "%s: authentication failed", path);
    json_decref(auth);
    return c;
}

/* Sends text and returns what came back before {"action":"complete"} (the consumer sends completion). */
static inline json_t *cons_exchange(cx_communicator *c, const char *text)
{
    cx_send_text(c, text);
    return cx_receive_all_json(c, 5000, 0);
}

static inline char *cons_dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

#endif
