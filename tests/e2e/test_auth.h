/*
 * test_auth.h — what the authentication suites (test_auth_*.c) share: the
 * probe plugin's stack, the Django fixture and assertions on DRF's answers.
 *
 * Each test starts its own stack (start_stack) rather than a suite-wide
 * one, because several tests need their own deployment settings (cookie
 * name, allowed origins, no secret key). The secret key is the one the
 * Django fixture was made with, so rows Django wrote verify here.
 */
#ifndef CX_TEST_AUTH_H
#define CX_TEST_AUTH_H

#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET "chanx-test-secret-key-not-for-production-0123456789"   /* django_vectors.json's */
#define FIXTURE "tests/fixtures/django_vectors.json"
#define NOT_PROVIDED "Authentication credentials were not provided."
#define DENIED "You do not have permission to perform this action."

static cx_stack *stack;

/* Starts the stack with the probe plugin, the fixture's secret key and env (NULL-terminated, may be NULL). */
static inline cx_stack *start_stack(const char *const *env)
{
    static char plugin[600];
    static const char *files[2];
    static const char *all_env[32];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(plugin, sizeof plugin, "%s/test-plugins/auth_probe.so", bin);
    files[0] = plugin;
    size_t n = 0;
    all_env[n++] = "CHANX_DJANGO_SECRET_KEY=" SECRET;
    for (; env && *env && n < 31; env++)
        all_env[n++] = *env;
    all_env[n] = NULL;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .env = all_env });
    return stack;
}

static inline void stop_stack(void)
{
    cx_stack_stop(&stack);
}

/* The authentication message says status and detail; a refusal then closes with 4000 + status. */
static inline void assert_auth(cx_communicator *c, int status, const char *detail)
{
    json_t *payload = cx_wait_for_auth(c, 8000);
    cr_assert_not_null(payload, "no authentication message (expected %d %s)", status, detail);
    json_int_t got = json_integer_value(json_object_get(payload, "status_code"));
    const char *got_detail = json_string_value(json_object_get(json_object_get(payload, "data"), "detail"));
    cr_assert_eq(got, status, "status %d, expected %d (detail: %s)", (int) got, status, got_detail);
    cr_assert_str_eq(got_detail, detail);
    json_decref(payload);
    if (status != 200)
        cx_assert_closed(c, 4000 + status, 5000);
}

/* Connects and asserts the refusal. */
static inline void assert_refused(const char *path, const char *const *headers, int status, const char *detail)
{
    assert_auth(cx_communicator_new(stack, path, headers), status, detail);
}

/* After a 200: the probe's "whoami" answer (owned), which shows what reached the worker. */
static inline json_t *whoami(cx_communicator *c)
{
    cx_send_message(c, "whoami", NULL);
    json_t *msg = cx_receive_until_action(c, "whoami", 5000);
    cr_assert_not_null(msg, "no whoami answer");
    json_t *payload = json_incref(json_object_get(msg, "payload"));
    json_decref(msg);
    return payload;
}

/* Connects, asserts 200, and returns the username the worker saw ("" for anonymous); owned. */
static inline char *connected_as(const char *path, const char *const *headers)
{
    cx_communicator *c = cx_communicator_new(stack, path, headers);
    assert_auth(c, 200, "OK");
    json_t *who = whoami(c);
    const char *name = json_string_value(json_object_get(json_object_get(who, "user"), "username"));
    char *copy = strdup(name ? name : "");
    json_decref(who);
    return copy;
}

static inline void assert_connected_as(const char *path, const char *const *headers, const char *username)
{
    char *got = connected_as(path, headers);
    cr_assert_str_eq(got, username, "connected as '%s', expected '%s'", got, username);
    free(got);
}

static inline json_t *fixture(void)
{
    json_error_t err;
    json_t *doc = json_load_file(FIXTURE, 0, &err);
    cr_assert_not_null(doc, "cannot load %s (tests run from the repository root): %s", FIXTURE, err.text);
    return doc;
}

#endif
