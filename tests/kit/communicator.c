/*
 * communicator.c — Chanx's WebsocketCommunicator over a real WebSocket
 * (tests/kit/ws_client.h), with JSON helpers and failure messages that say
 * what was awaited and what arrived instead.
 */
#include "chanx/testing.h"
#include "tests/kit/ws_client.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cx_communicator {
    cx_ws *ws;
    char path[512];
};

void cx_stack_adopt_communicator(cx_stack *self, cx_communicator *c);
void cx_communicator_destroy(cx_communicator **self_p);

cx_communicator *cx_communicator_on(cx_stack *stack, int gateway, const char *path, const char *const *headers)
{
    cx_communicator *self = calloc(1, sizeof *self);
    cr_assert_not_null(self);
    char url[700];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", cx_stack_gateway_port(stack, gateway), path);
    snprintf(self->path, sizeof self->path, "%s", path);
    self->ws = cx_ws_connect(url, headers, 5000);
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

json_t *cx_receive_json(cx_communicator *self, int timeout_ms)
{
    size_t len = 0;
    char *text = self->ws ? cx_ws_recv_text(self->ws, timeout_ms, &len) : NULL;
    if (!text)
        return NULL;
    json_error_t err;
    json_t *value = json_loadb(text, len, 0, &err);
    if (!value)
        cr_assert_fail("%s: the server sent invalid JSON (%s): %.200s", self->path, err.text, text);
    free(text);
    return value;
}

json_t *cx_wait_for_auth(cx_communicator *self, int timeout_ms)
{
    json_t *m = cx_receive_until_action(self, "authentication", timeout_ms);
    json_t *payload = m ? json_incref(json_object_get(m, "payload")) : NULL;
    json_decref(m);
    return payload;
}

void cx_assert_authenticated_status_ok(cx_communicator *self)
{
    cr_assert(cx_communicator_connected(self), "%s: not connected (HTTP status %d)", self->path,
              cx_communicator_http_status(self));
    json_t *payload = cx_wait_for_auth(self, 5000);
    cr_assert_not_null(payload, "%s: no authentication message within 5 s", self->path);
    char *text = json_dumps(payload, JSON_COMPACT);
    int status = (int) json_integer_value(json_object_get(payload, "status_code"));
    json_decref(payload);
    cr_assert_eq(status, 200, "%s: authentication failed: %s", self->path, text);
    free(text);
}

void cx_send_text(cx_communicator *self, const char *text)
{
    cr_assert(self->ws && cx_ws_send_text(self->ws, text, strlen(text)) == 0, "%s: cannot send, closed", self->path);
}

void cx_send_json(cx_communicator *self, const json_t *message)
{
    char *text = json_dumps(message, JSON_COMPACT);
    cx_send_text(self, text);
    free(text);
}

void cx_send_message(cx_communicator *self, const char *action, const json_t *payload)
{
    json_t *m = json_pack("{s:s, s:O}", "action", action, "payload", payload ? (json_t *) payload : json_null());
    cx_send_json(self, m);
    json_decref(m);
}

static char *describe(const json_t *received)
{
    char *text = json_dumps(received, JSON_COMPACT);
    if (text && strlen(text) > 2000)
        strcpy(text + 1990, "...]");
    return text;
}

json_t *cx_receive_all_json(cx_communicator *self, int timeout_ms, int wait_group)
{
    const char *end = wait_group ? "group_complete" : "complete";
    json_t *all = json_array();
    for (;;) {
        json_t *m = cx_receive_json(self, timeout_ms);
        if (!m) {
            char *got = describe(all);
            cr_assert_fail("%s: waited %d ms for {\"action\":\"%s\"}; received instead: %s", self->path, timeout_ms, end,
                     got);
        }
        const char *action = json_string_value(json_object_get(m, "action"));
        if (action && strcmp(action, end) == 0) {
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
    json_t *skipped = json_array();
    for (;;) {
        json_t *m = cx_receive_json(self, timeout_ms);
        if (!m) {
            char *got = describe(skipped);
            json_decref(skipped);
            cr_log_error("%s: waited %d ms for action '%s'; received instead: %s", self->path, timeout_ms, action, got);
            free(got);
            return NULL;
        }
        const char *a = json_string_value(json_object_get(m, "action"));
        if (a && strcmp(a, action) == 0) {
            json_decref(skipped);
            return m;
        }
        json_array_append_new(skipped, m);
    }
}

void cx_receive_nothing(cx_communicator *self, int timeout_ms)
{
    json_t *m = cx_receive_json(self, timeout_ms);
    if (m) {
        char *text = json_dumps(m, JSON_COMPACT);
        cr_assert_fail("%s: expected nothing within %d ms, received %s", self->path, timeout_ms, text);
    }
}

void cx_assert_closed(cx_communicator *self, int code, int timeout_ms)
{
    int got = 0;
    cr_assert(self->ws && cx_ws_wait_closed(self->ws, timeout_ms, &got), "%s: still open after %d ms, expected close %d",
              self->path, timeout_ms, code);
    cr_assert_eq(got, code, "%s: closed with %d, expected %d", self->path, got, code);
}

void cx_communicator_disconnect(cx_communicator *self)
{
    if (self->ws)
        cx_ws_close(self->ws, 1000);
}
