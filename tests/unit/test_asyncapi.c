/*
 * AsyncAPI addresses and documents built from route rows (gateway/asyncapi.c):
 * path() and re_path() patterns to "{param}" addresses, regexes an address
 * cannot express, examples drawn from schemas, names that stay unique.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "gateway/asyncapi.h"

static void expect_address(int kind, const char *pattern, const char *address, const char *params)
{
    json_t *p = json_object();
    char *got = cx_asyncapi_address(kind, pattern, p);
    if (!address) {
        cr_assert_null(got, "%s gave %s", pattern, got);
    } else {
        cr_assert_not_null(got, "%s gave no address", pattern);
        cr_assert_str_eq(got, address);
    }
    char names[256] = "";
    const char *key;
    json_t *v;
    json_object_foreach(p, key, v) {
        strcat(names, key);
        strcat(names, " ");
    }
    cr_assert_str_eq(names, params, "%s params", pattern);
    free(got);
    json_decref(p);
}

Test(asyncapi, path_patterns_become_addresses_with_parameters)
{
    expect_address(0, "ws/echo/", "/ws/echo/", "");
    expect_address(0, "ws/chat/<str:room_id>/", "/ws/chat/{room_id}/", "room_id ");
    expect_address(0, "ws/<tenant>/chat/<int:room>/", "/ws/{tenant}/chat/{room}/", "tenant room ");
    expect_address(0, "", "/", "");
}

Test(asyncapi, simple_regexes_become_addresses_others_do_not)
{
    expect_address(1, "^ws/notifications/(?P<user_id>\\w+)/$", "/ws/notifications/{user_id}/", "user_id ");
    expect_address(1, "ws/(?P<tenant>[^/]+)/x/(?:(?P<id>(?#int)[0-9]+)/)", "/ws/{tenant}/x/{id}/", "tenant id ");
    expect_address(1, "ws/v\\.1/", "/ws/v.1/", "");
    expect_address(1, "^ws/(a|b)/$", NULL, "");
    expect_address(1, "ws/x+/", NULL, "");
    expect_address(1, "ws/\\d+/", NULL, "");
    expect_address(1, "ws/(?:a/)?", NULL, "");
}

Test(asyncapi, document_names_examples_and_security)
{
    const char *spec = "{\"authentication\":[\"session\",\"jwt\"],\"permissions\":[\"AllowAny\"],"
                       "\"incoming\":{\"ping\":null,\"say\":{\"type\":\"object\",\"required\":[\"n\"],"
                       "\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":3},\"s\":{\"type\":\"string\"}}},"
                       "\"pick\":{\"enum\":[\"a\",\"b\"]}},\"send_authentication_message\":true}";
    cx_asyncapi_route routes[] = {
        { 0, "ws/a/<str:x>/", "p.c", spec, strlen(spec), 1 },
        { 0, "ws/a/<slug:x>/", "p.c", spec, strlen(spec), 0 },   /* same address: a unique channel name */
        { 1, "ws/(a|b)/", "p.d", "not json", 8, 1 },               /* no address, no schemas: still a channel */
    };
    cx_asyncapi_settings s = { .session_cookie = "sid", .jwt_query_param = "jwt" };
    json_t *doc = cx_asyncapi_build(routes, 3, &s);
    json_t *channels = json_object_get(doc, "channels");
    cr_assert_eq(json_object_size(channels), 3);
    cr_assert_not_null(json_object_get(channels, "ws_a_x"));
    cr_assert_not_null(json_object_get(channels, "ws_a_x_2"));
    cr_assert(json_is_null(json_object_get(json_object_get(channels, "ws_a_b"), "address")));
    json_t *msgs = json_object_get(json_object_get(doc, "components"), "messages");
    json_t *say = json_object_get(json_object_get(json_array_get(json_object_get(json_object_get(msgs, "p.c.client.say"),
                                                                                "examples"), 0), "payload"), "payload");
    char *text = json_dumps(say, JSON_COMPACT);
    cr_assert_str_eq(text, "{\"n\":3}", "only required fields, minimum respected");
    free(text);
    json_t *pick = json_object_get(json_array_get(json_object_get(json_object_get(msgs, "p.c.client.pick"), "examples"), 0),
                                   "payload");
    cr_assert_str_eq(json_string_value(json_object_get(pick, "payload")), "a");
    json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(schemes, "session"), "name")), "sid");
    cr_assert_not_null(json_object_get(schemes, "jwtQuery"));
    json_t *op = json_object_get(json_object_get(doc, "operations"), "ws_a_x.receive.say");
    cr_assert_eq(json_array_size(json_object_get(op, "security")), 3, "session, jwt header, jwt query");
    json_decref(doc);
}

/* Server-side events: .events (handled by receive_event) and passthrough_events are send operations
 * of their own ("event"), apart from an outgoing message of the same action. */
Test(asyncapi, server_side_events_are_messages_the_client_gets)
{
    const char *spec = "{\"outgoing\":{\"notification\":null},"
                       "\"events\":{\"notification\":{\"type\":\"object\",\"required\":[\"title\"],"
                       "\"properties\":{\"title\":{\"type\":\"string\"}}},\"ping\":null},"
                       "\"passthrough_events\":[\"announcement\"],\"action_key\":\"type\"}";
    cx_asyncapi_route routes[] = { { 0, "ws/n/", "n.n", spec, strlen(spec), 1 } };
    cx_asyncapi_settings s = { .session_cookie = "sessionid" };
    json_t *doc = cx_asyncapi_build(routes, 1, &s);
    json_t *ops = json_object_get(doc, "operations");
    json_t *msgs = json_object_get(json_object_get(doc, "components"), "messages");
    cr_assert_not_null(json_object_get(ops, "ws_n.send.notification"), "the outgoing message keeps its operation");
    json_t *op = json_object_get(ops, "ws_n.event.notification");
    cr_assert_str_eq(json_string_value(json_object_get(op, "action")), "send");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(op, "messages"), 0), "$ref")),
                     "#/channels/ws_n/messages/event.notification");
    json_t *event = json_object_get(msgs, "n.n.event.notification");
    json_t *example = json_object_get(json_array_get(json_object_get(event, "examples"), 0), "payload");
    char *text = json_dumps(example, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert_str_eq(text, "{\"action\":\"notification\",\"payload\":{\"title\":\"string\"}}",
                     "events use \"action\", not the consumer's action_key");
    free(text);
    cr_assert_not_null(json_object_get(msgs, "n.n.event.ping"));
    json_t *pass = json_object_get(msgs, "n.n.event.announcement");
    cr_assert_str_eq(json_string_value(json_object_get(pass, "x-chanx-event")), "passthrough");
    cr_assert_not_null(json_object_get(msgs, "n.n.server.notification"));
    json_decref(doc);
}
