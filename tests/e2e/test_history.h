/*
 * test_history.h — what the history and presence suites (test_history.c,
 * test_presence.c) share: a stack serving tests/plugins/hist_probe with the
 * publish API (and, for failovers, a standby broker), its users alice and
 * bob, and clients that keep what arrived before their authentication
 * message (a join's recovery frame and replay come before it: the joins go
 * first, the message is the client's ready point).
 */
#ifndef CX_TEST_HISTORY_H
#define CX_TEST_HISTORY_H

#include "tests/kit/deploy_helpers.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static cx_stack *stack;
static int64_t alice, bob;

static inline const char *const *hist_plugin(void)
{
    static char path[600];
    static const char *files[2];
    snprintf(path, sizeof path, "%s/test-plugins/hist_probe.so", cx_test_bin());
    files[0] = path;
    return files;
}

static inline void start(int gateways, int standby)
{
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = hist_plugin(), .gateways = gateways,
                                                  .standby_broker = standby, .metrics = standby, .api = 1 });
    alice = cx_db_create_user(stack, "alice", 0);
    bob = cx_db_create_user(stack, "bob", 0);
}
static inline void history_teardown(void) { cx_stack_stop(&stack); }

/* POST /api/<method> with body (JSON text); asserts the HTTP status, returns the answer (owned). */
static inline json_t *api_expect(const char *method, const char *body, int status)
{
    char path[64];
    snprintf(path, sizeof path, "/api/%s", method);
    json_t *reply = NULL;
    int got = cx_api_post(stack, path, CX_TEST_API_KEY, body, &reply);
    char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    cr_assert_eq(got, status, "%s %s: HTTP %d %.300s", path, body, got, text ? text : "");
    free(text);
    return reply;
}


/* What each client received before its authentication message: the joins go first (the message is
 * the client's ready point, consumer.h), so a join's recovery frame and its replay arrive before it. */
#define MAX_CLIENTS 16
static struct {
    cx_communicator *c;
    json_t *early;   /* array, oldest first */
} early[MAX_CLIENTS];

/* A client of user on gateway, past the authentication message (what came before it is kept). */
static inline cx_communicator *client(int gateway, const char *path, int64_t user)
{
    cx_communicator *c = cx_communicator_on(stack, gateway, path, cx_db_token_header(stack, user));
    cr_assert(cx_communicator_connected(c), "%s: not connected (HTTP %d)", path, cx_communicator_http_status(c));
    json_t *before = json_array();
    for (;;) {
        json_t *m = cx_receive_json(c, 10000);
        cr_assert_not_null(m, "%s: no authentication message", path);
        if (strcmp(json_string_value(json_object_get(m, "action")), "authentication") == 0) {
            json_t *status = json_object_get(json_object_get(m, "payload"), "status_code");
            cr_assert_eq(json_integer_value(status), 200, "%s: not authenticated", path);
            json_decref(m);
            break;
        }
        json_array_append_new(before, m);
    }
    int i = 0;
    while (i < MAX_CLIENTS && early[i].c)
        i++;
    cr_assert_lt(i, MAX_CLIENTS);
    early[i].c = c;
    early[i].early = before;
    return c;
}

/* The client's next frame: what came before its authentication message first (owned; NULL on timeout). */
static inline json_t *next(cx_communicator *c, int timeout_ms)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (early[i].c == c && json_array_size(early[i].early) > 0) {
            json_t *m = json_incref(json_array_get(early[i].early, 0));
            json_array_remove(early[i].early, 0);
            return m;
        }
    return cx_receive_json(c, timeout_ms);
}

static inline void nothing_more(cx_communicator *c, int timeout_ms)
{
    json_t *m = next(c, 0);
    while (m && strncmp(json_string_value(json_object_get(m, "action")), "presence_", 9) == 0) {
        json_decref(m);
        m = next(c, 0);
    }
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    cr_assert_null(m, "unexpected: %s", text);
    cx_receive_nothing(c, timeout_ms);
}

/* The recovery frame a join to a history group sends (owned payload). */
static inline json_t *recovery(cx_communicator *c)
{
    json_t *m = next(c, 10000);
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    cr_assert(m && strcmp(json_string_value(json_object_get(m, "action")), "recovery") == 0,
              "expected the recovery frame, got %s", text ? text : "nothing");
    free(text);
    json_t *payload = json_incref(json_object_get(m, "payload"));
    json_decref(m);
    cr_assert(json_is_string(json_object_get(payload, "epoch")) && json_is_integer(json_object_get(payload, "seq")),
              "a recovery frame has epoch and seq");
    return payload;
}

static inline void epoch_of(const json_t *rec, char out[64])
{
    snprintf(out, 64, "%s", json_string_value(json_object_get(rec, "epoch")));
}

/* The next frame must be "said" with this seq; returns its payload (owned). */
static inline json_t *said(cx_communicator *c, json_int_t seq)
{
    json_t *m = next(c, 10000);
    while (m && strncmp(json_string_value(json_object_get(m, "action")), "presence_", 9) == 0) {
        json_decref(m);   /* the room's presence pushes (tested on their own below) */
        m = next(c, 10000);
    }
    cr_assert_not_null(m, "nothing arrived where said seq %lld was due", (long long) seq);
    char *text = json_dumps(m, JSON_COMPACT);
    cr_assert_str_eq(json_string_value(json_object_get(m, "action")), "said", "expected said seq %lld, got %s",
                     (long long) seq, text);
    cr_assert_eq(json_integer_value(json_object_get(m, "seq")), seq, "expected seq %lld, got %s", (long long) seq, text);
    free(text);
    json_t *payload = json_incref(json_object_get(m, "payload"));
    json_decref(m);
    return payload;
}

static inline void expect_recovery(const json_t *rec, const char *group, const char *epoch, json_int_t seq, int recovered)
{
    char *text = json_dumps(rec, JSON_COMPACT);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "group")), group, "%s", text);
    cr_assert_str_eq(json_string_value(json_object_get(rec, "epoch")), epoch, "%s", text);
    cr_assert_eq(json_integer_value(json_object_get(rec, "seq")), seq, "%s", text);
    cr_assert(json_is_boolean(json_object_get(rec, "recovered")), "%s", text);
    cr_assert_eq(json_is_true(json_object_get(rec, "recovered")), recovered, "%s", text);
    free(text);
}

static inline void say(cx_communicator *c, const char *text)
{
    json_t *p = json_pack("{s:s}", "text", text);
    cx_send_message(c, "say", p);
    json_decref(p);
}

static inline void burst(cx_communicator *c, int count)
{
    json_t *p = json_pack("{s:i}", "count", count);
    cx_send_message(c, "burst", p);
    json_decref(p);
}

/* The sender hears its own messages: once it has heard seq last, the broker holds them all. */
static inline void hear_up_to(cx_communicator *c, json_int_t first, json_int_t last)
{
    for (json_int_t s = first; s <= last; s++)
        json_decref(said(c, s));
}

/* A client of the room whose recovery frame was read: the group's epoch in epoch. */
static inline cx_communicator *tracking(int gateway, const char *path, int64_t user, char epoch[64])
{
    cx_communicator *c = client(gateway, path, user);
    json_t *rec = recovery(c);
    epoch_of(rec, epoch);
    json_decref(rec);
    return c;
}

static inline cx_communicator *rejoin(int gateway, const char *room_path, int64_t user, const char *since)
{
    char path[2400];
    snprintf(path, sizeof path, "%s?since=%s", room_path, since);
    return client(gateway, path, user);
}

#endif
