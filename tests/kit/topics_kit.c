/*
 * topics_kit.c — the testing kit's topic helpers (include/chanx/testing.h, "Topics").
 *
 * Chanx's communicator addresses topics directly (comm.subscribe, send_message with topic= and
 * ref=, receive_topic_message); these are the same on cx_communicator, built on its public
 * send and receive calls so the frames are exactly what a client writes.
 */
#include "tests/kit/clock.h"
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

void cx_topic_send(cx_communicator *self, const char *topic, const char *ref, const char *action,
                   const json_t *payload)
{
    json_t *m = json_pack("{s:i, s:s, s:s, s:O}", "version", 1, "topic", topic, "action", action, "payload",
                          payload ? (json_t *) payload : json_null());
    if (ref)
        json_object_set_new(m, "ref", json_string(ref));
    cx_send_json(self, m);
    json_decref(m);
}

static int matches(const json_t *m, const char *topic, const char *action, const char *ref)
{
    const char *t = json_string_value(json_object_get(m, "topic"));
    const char *a = json_string_value(json_object_get(m, "action"));
    const char *r = json_string_value(json_object_get(m, "ref"));
    return t && strcmp(t, topic) == 0 && (!action || (a && strcmp(a, action) == 0))
           && (!ref || (r && strcmp(r, ref) == 0));
}

static json_t *receive_matching(cx_communicator *self, const char *topic, const char *action, const char *ref,
                                int timeout_ms)
{
    long long deadline = cx_kit_now_ms() + timeout_ms;
    json_t *skipped = json_array();
    for (;;) {
        long long left = deadline - cx_kit_now_ms();
        json_t *m = left > 0 ? cx_receive_json(self, (int) left) : NULL;
        if (!m) {
            char *seen = json_dumps(skipped, JSON_COMPACT);
            cr_assert_fail("no frame on topic \"%s\" (action %s, ref %s) within %d ms; arrived: %.2000s", topic,
                           action ? action : "any", ref ? ref : "any", timeout_ms, seen ? seen : "?");
        }
        if (matches(m, topic, action, ref)) {
            json_decref(skipped);
            return m;
        }
        json_array_append_new(skipped, m);
    }
}

json_t *cx_receive_topic(cx_communicator *self, const char *topic, const char *action, int timeout_ms)
{
    return receive_matching(self, topic, action, NULL, timeout_ms);
}

static json_t *request(cx_communicator *self, const char *topic, const char *ref, const char *action, int timeout_ms)
{
    static unsigned counter;
    char made[32];
    if (!ref) {
        snprintf(made, sizeof made, "s%u", ++counter);
        ref = made;
    }
    cx_topic_send(self, topic, ref, action, NULL);
    return receive_matching(self, topic, NULL, ref, timeout_ms);
}

json_t *cx_topic_subscribe(cx_communicator *self, const char *topic, const char *ref, int timeout_ms)
{
    return request(self, topic, ref, "subscribe", timeout_ms);
}

json_t *cx_topic_unsubscribe(cx_communicator *self, const char *topic, const char *ref, int timeout_ms)
{
    return request(self, topic, ref, "unsubscribe", timeout_ms);
}
