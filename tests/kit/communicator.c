/*
 * communicator.c — Chanx's WebsocketCommunicator over a real WebSocket
 * (tests/kit/ws_client.h), with JSON helpers and failure messages that say
 * what was awaited and what arrived instead.
 *
 * Every wait has one deadline for the whole wait, not per message, so a
 * chatty server cannot stretch a 3 s timeout into a minute. When a wait
 * fails, the message names the path, what was awaited, for how long, every
 * message that arrived meanwhile and the connection's state (open, closed
 * with code N, refused with HTTP N): enough to act on without a debugger.
 * Messages are built in fixed buffers because a failed assertion leaves the
 * function at once; nothing allocated is left behind for LeakSanitizer.
 */
#include "chanx/testing.h"
#include "tests/kit/ws_client.h"
#include "tests/kit/clock.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

struct cx_communicator {
    cx_ws *ws;
    char path[512];
    cx_stack *stack;
    int crash_shown;          /* the crash report that closed it was printed */
};

void cx_stack_adopt_communicator(cx_stack *self, cx_communicator *c);
void cx_communicator_destroy(cx_communicator **self_p);

cx_communicator *cx_communicator_on(cx_stack *stack, int gateway, const char *path, const char *const *headers)
{
    cx_communicator *self = calloc(1, sizeof *self);
    cr_assert_not_null(self);
    /* paths may be long on purpose (tests of limits): the URL is as long as it needs */
    char *url = NULL;
    cr_assert(asprintf(&url, "ws://127.0.0.1:%d%s", cx_stack_gateway_port(stack, gateway), path) > 0);
    snprintf(self->path, sizeof self->path, "%s", path);
    if (strlen(path) >= sizeof self->path)
        snprintf(self->path + sizeof self->path - 32, 32, "...(%zu bytes)", strlen(path));
    self->ws = cx_ws_connect(url, headers, 5000);
    self->stack = stack;
    free(url);
    cx_stack_adopt_communicator(stack, self);
    return self;
}

cx_communicator *cx_communicator_new(cx_stack *stack, const char *path, const char *const *headers)
{
    return cx_communicator_on(stack, 0, path, headers);
}

void cx_communicator_destroy(cx_communicator **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_ws_destroy(&(*self_p)->ws);
    free(*self_p);
    *self_p = NULL;
}

int cx_communicator_connected(const cx_communicator *self)
{
    return self->ws && cx_ws_is_open(self->ws);
}

int cx_communicator_http_status(const cx_communicator *self)
{
    return self->ws ? cx_ws_http_status(self->ws) : 0;
}

const char *cx_communicator_subprotocol(const cx_communicator *self)
{
    return self->ws ? cx_ws_subprotocol(self->ws) : "";
}

json_t *cx_receive_json(cx_communicator *self, int timeout_ms)
{
    size_t len = 0;
    char *text = self->ws ? cx_ws_recv_text(self->ws, timeout_ms, &len) : NULL;
    if (!text)
        return NULL;
    json_error_t err;
    json_t *value = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);   /* two "seq" would hide one */
    if (!value) {
        char shown[300];
        snprintf(shown, sizeof shown, "%.200s", text);
        free(text);
        cr_assert_fail("%s: the server sent invalid JSON (%s): %s", self->path, err.text, shown);
    }
    free(text);
    return value;
}

/* Next message before the deadline, or NULL. */
static json_t *receive_by(cx_communicator *self, long long deadline)
{
    long long left = deadline - cx_kit_now_ms();
    return cx_receive_json(self, left > 0 ? (int) left : 0);
}

/* The last whole crash report line in a worker's log (owned), or NULL. */
static char *last_crash_record(const char *log)
{
    static const char event[] = "\"event\":\"consumer crashed\"";
    char *found = NULL;
    for (const char *line = log; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!end)
            break;   /* a line still being written */
        const char *at = strstr(line, event);
        if (at && at < end) {
            free(found);
            found = strndup(line, (size_t) (end - line));
        }
        line = end + 1;
    }
    return found;
}

/* A connection closed with 1011 "consumer crashed": the worker's crash report (a JSON record in a worker's
 * log, written as the process died), printed once, so the test's output says where the plugin crashed. */
static void show_crash_report(cx_communicator *self)
{
    if (self->crash_shown || !self->ws || strcmp(cx_ws_close_reason(self->ws), "consumer crashed") != 0)
        return;
    self->crash_shown = 1;
    /* The close can reach the client before the dying process has finished writing: wait a little. */
    for (int waited = 0; waited <= 2000; waited += 50) {
        for (int i = 0; i < 8; i++) {
            char name[32];
            snprintf(name, sizeof name, "worker%d", i);
            char *log = cx_stack_log(self->stack, name, NULL, 0), *record = log ? last_crash_record(log) : NULL;
            free(log);
            if (record) {
                fprintf(stderr, "%s: closed by a crash; %s's report:\n%s\n", self->path, name, record);
                free(record);
                return;
            }
        }
        usleep(50 * 1000);
    }
}

/* "open", "closed by the server with 4401", "refused with HTTP 404 (...)". */
static void describe_state(cx_communicator *self, char *out, size_t len)
{
    if (!self->ws)
        snprintf(out, len, "no connection (out of memory or bad URL)");
    else if (cx_ws_is_open(self->ws))
        snprintf(out, len, "still open");
    else if (cx_ws_http_status(self->ws) && cx_ws_http_status(self->ws) != 101)
        snprintf(out, len, "upgrade refused with HTTP %d", cx_ws_http_status(self->ws));
    else if (cx_ws_is_closed(self->ws) && cx_ws_http_status(self->ws) == 101 && *cx_ws_close_reason(self->ws))
        snprintf(out, len, "closed with code %d (%s)", cx_ws_close_code(self->ws), cx_ws_close_reason(self->ws));
    else if (cx_ws_is_closed(self->ws) && cx_ws_http_status(self->ws) == 101)
        snprintf(out, len, "closed with code %d", cx_ws_close_code(self->ws));
    else
        snprintf(out, len, "never connected (%s)", *cx_ws_error(self->ws) ? cx_ws_error(self->ws) : "no answer");
}

/* The received messages as compact JSON, cut to fit out. */
static void describe(const json_t *received, char *out, size_t len)
{
    char *text = json_dumps(received, JSON_COMPACT);
    if (!text || strlen(text) < len)
        snprintf(out, len, "%s", text ? text : "?");
    else
        snprintf(out, len, "%.*s...] (%zu messages)", (int) (len - 40), text, json_array_size(received));
    free(text);
}

/* Fails the test: "<path>: waited N ms for X; received instead: [...]; connection: Y". Takes received. */
static void fail_waiting(cx_communicator *self, const char *awaited, int timeout_ms, json_t *received)
{
    char got[3000], state[200];
    describe(received, got, sizeof got);
    json_decref(received);
    describe_state(self, state, sizeof state);
    if (self->ws && cx_ws_is_closed(self->ws))
        show_crash_report(self);
    cr_assert_fail("%s: waited %d ms for %s; received instead: %s; connection: %s", self->path, timeout_ms, awaited,
                   got, state);
}

/* Adds everything already queued (without waiting) to received. */
static void drain(cx_communicator *self, json_t *received)
{
    for (json_t *m; self->ws && cx_ws_pending(self->ws) && (m = cx_receive_json(self, 0));)
        json_array_append_new(received, m);
}

json_t *cx_wait_for_auth(cx_communicator *self, int timeout_ms)
{
    json_t *m = cx_receive_until_action(self, "authentication", timeout_ms);
    json_t *payload = json_incref(json_object_get(m, "payload"));
    json_decref(m);
    return payload;
}

void cx_assert_authenticated_status_ok(cx_communicator *self)
{
    char state[200];
    describe_state(self, state, sizeof state);
    cr_assert(cx_communicator_connected(self), "%s: expected an authenticated connection, but %s", self->path, state);
    json_t *payload = cx_wait_for_auth(self, 5000);
    char text[1000];
    describe(payload, text, sizeof text);
    int status = (int) json_integer_value(json_object_get(payload, "status_code"));
    json_decref(payload);
    cr_assert_eq(status, 200, "%s: authentication failed: %s", self->path, text);
}

/* Sends, then asserts: text is the caller's to free, so nothing leaks when the assertion fails. */
static void send_and_check(cx_communicator *self, const char *text, int rc)
{
    char state[200];
    describe_state(self, state, sizeof state);
    cr_assert(rc == 0, "%s: cannot send %.100s: %s", self->path, text ? text : "?", state);
}

void cx_send_text(cx_communicator *self, const char *text)
{
    send_and_check(self, text, self->ws ? cx_ws_send_text(self->ws, text, strlen(text)) : -1);
}

void cx_send_json(cx_communicator *self, const json_t *message)
{
    char *text = json_dumps(message, JSON_COMPACT);
    int rc = text && self->ws ? cx_ws_send_text(self->ws, text, strlen(text)) : -1;
    char shown[101];
    snprintf(shown, sizeof shown, "%s", text ? text : "?");
    free(text);
    send_and_check(self, shown, rc);
}

void cx_send_message(cx_communicator *self, const char *action, const json_t *payload)
{
    json_t *m = json_pack("{s:s, s:O}", "action", action, "payload", payload ? (json_t *) payload : json_null());
    cx_send_json(self, m);
    json_decref(m);
}

json_t *cx_receive_all_json(cx_communicator *self, int timeout_ms, int wait_group)
{
    const char *end = wait_group ? "{\"action\":\"group_complete\"}" : "{\"action\":\"complete\"}";
    long long deadline = cx_kit_now_ms() + timeout_ms;
    json_t *all = json_array();
    for (;;) {
        json_t *m = receive_by(self, deadline);
        if (!m)
            fail_waiting(self, end, timeout_ms, all);
        const char *action = json_string_value(json_object_get(m, "action"));
        if (action && strcmp(action, wait_group ? "group_complete" : "complete") == 0) {
            json_decref(m);
            return all;
        }
        if (action && !wait_group && strcmp(action, "group_complete") == 0) {
            json_decref(m);
            continue;
        }
        json_array_append_new(all, m);
    }
}

json_t *cx_receive_until_action(cx_communicator *self, const char *action, int timeout_ms)
{
    long long deadline = cx_kit_now_ms() + timeout_ms;
    json_t *skipped = json_array();
    for (;;) {
        json_t *m = receive_by(self, deadline);
        if (!m) {
            char awaited[200];
            snprintf(awaited, sizeof awaited, "a message with action \"%s\"", action);
            fail_waiting(self, awaited, timeout_ms, skipped);
        }
        const char *a = json_string_value(json_object_get(m, "action"));
        if (a && strcmp(a, action) == 0) {
            json_decref(skipped);
            return m;
        }
        json_array_append_new(skipped, m);
    }
}

json_t *cx_request(cx_communicator *self, const char *action, const json_t *payload, const char *reply,
                   int timeout_ms)
{
    cx_send_message(self, action, payload);
    json_t *m = cx_receive_until_action(self, reply, timeout_ms);
    json_t *p = json_object_get(m, "payload");
    p = p ? json_incref(p) : json_null();
    json_decref(m);
    return p;
}

void cx_receive_nothing(cx_communicator *self, int timeout_ms)
{
    json_t *m = cx_receive_json(self, timeout_ms);
    if (!m)
        return;
    json_t *got = json_array();
    json_array_append_new(got, m);
    drain(self, got);
    char text[3000];
    describe(got, text, sizeof text);
    json_decref(got);
    cr_assert_fail("%s: expected nothing within %d ms, received %s", self->path, timeout_ms, text);
}

const char *cx_communicator_close_reason(const cx_communicator *self)
{
    return self && self->ws ? cx_ws_close_reason(self->ws) : "";
}

void cx_assert_closed(cx_communicator *self, int code, int timeout_ms)
{
    int got = 0;
    int closed = self->ws && cx_ws_wait_closed(self->ws, timeout_ms, &got);
    if (closed)
        show_crash_report(self);
    if (closed && got == code)
        return;
    json_t *received = json_array();
    drain(self, received);
    char awaited[100];
    snprintf(awaited, sizeof awaited, "the server to close with code %d", code);
    fail_waiting(self, awaited, timeout_ms, received);
}

void cx_communicator_disconnect(cx_communicator *self)
{
    if (self->ws)
        cx_ws_close(self->ws, 1000);
}

void cx_assert_json_eq(const json_t *actual, const char *expected)
{
    json_error_t err;
    json_t *want = json_loads(expected, JSON_DECODE_ANY, &err);
    cr_assert_not_null(want, "cx_assert_json_eq: the expectation is not JSON (%s): %s", err.text, expected);
    int same = json_equal(actual, want);
    json_decref(want);
    if (same)
        return;
    char got[3000];
    char *text = actual ? json_dumps(actual, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(got, sizeof got, "%s", text ? text : "(null)");
    free(text);
    cr_assert_fail("JSON differs\n  expected: %s\n  actual:   %s", expected, got);
}
