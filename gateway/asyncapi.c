/*
 * asyncapi.c — the AsyncAPI 3.0 document of the route table (see asyncapi.h).
 *
 * Naming: a channel is named after its pattern ("ws_chat_room_id"), a message
 * after its consumer, direction and action ("chat.chat.client.chat" for what
 * a client sends, "chat.chat.server.chat" for what it gets), an operation
 * after its channel, direction and action. AsyncAPI keys allow [A-Za-z0-9_.-]
 * only, so anything else becomes '_'; a clash gets a numeric suffix.
 *
 * Messages are Chanx's envelopes: {"action": "<action>", "payload": <schema>}
 * (the consumer's action_key in place of "action"). An action whose schema is
 * null has no payload. Each message carries one example, taken from the
 * schema's own "examples"/"const"/"enum" or made up from its types and bounds,
 * so that a reader (and the playground) has something valid to start from.
 */
#include "gateway/asyncapi.h"
#include "gateway/asyncapi_topics.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- addresses */

static const char *converter_regex(const char *conv)
{
    if (!strcmp(conv, "int")) return "[0-9]+";
    if (!strcmp(conv, "slug")) return "[-a-zA-Z0-9_]+";
    if (!strcmp(conv, "uuid")) return "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
    if (!strcmp(conv, "path")) return ".+";
    return "[^/]+";
}

static const char *converter_sample(const char *conv)
{
    if (!strcmp(conv, "int")) return "1";
    if (!strcmp(conv, "uuid")) return "12345678-1234-5678-1234-567812345678";
    if (!strcmp(conv, "path")) return "a/b";
    return "example";
}

static void add_param(json_t *params, const char *name, size_t len, char *description, const char *sample)
{
    char key[128];
    snprintf(key, sizeof key, "%.*s", (int) (len < sizeof key ? len : sizeof key - 1), name);
    json_t *p = json_pack("{s:s}", "description", description);
    if (sample)
        json_object_set_new(p, "examples", json_pack("[s]", sample));
    json_object_set_new(params, key, p);
    free(description);
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *out = NULL;
    if (vasprintf(&out, f, ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

static int path_address(const char *p, json_t *params, char *out, size_t cap)
{
    size_t o = 0;
    out[o++] = '/';
    while (*p && o + 1 < cap) {
        if (*p != '<') {
            out[o++] = *p++;
            continue;
        }
        const char *close = strchr(p, '>'), *colon = memchr(p, ':', close ? (size_t) (close - p) : 0);
        if (!close)
            return -1;
        char conv[32] = "str";
        const char *name = colon ? colon + 1 : p + 1;
        if (colon)
            snprintf(conv, sizeof conv, "%.*s", (int) (colon - p - 1), p + 1);
        size_t nlen = (size_t) (close - name);
        int n = snprintf(out + o, cap - o, "{%.*s}", (int) nlen, name);
        if (n < 0 || (size_t) n >= cap - o)
            return -1;
        o += (size_t) n;
        add_param(params, name, nlen,
                  fmt("path() converter %s: %s%s", conv, converter_regex(conv),
                      strcmp(conv, "int") ? "" : " (an integer in the consumer's URL kwargs)"),
                  converter_sample(conv));
        p = close + 1;
    }
    out[o] = '\0';
    return *p ? -1 : 0;
}

/* The ')' closing the group opened at open, skipping escapes and character classes. */
static const char *group_end(const char *open, const char *end)
{
    int depth = 0, in_class = 0;
    for (const char *p = open; p < end; p++) {
        if (*p == '\\') {
            p++;
            continue;
        }
        if (in_class) {
            in_class = *p != ']';
            continue;
        }
        if (*p == '[')
            in_class = 1;
        else if (*p == '(')
            depth++;
        else if (*p == ')' && --depth == 0)
            return p;
    }
    return NULL;
}

static int quantified(const char *p, const char *end)
{
    return p < end && strchr("*+?{", *p) != NULL;
}

/* Regex to address: literals, escaped punctuation, (?:...) and (?P<name>...) only. */
static int regex_address(const char *p, const char *end, json_t *params, char *out, size_t cap, size_t *o)
{
    if (p < end && *p == '^')
        p++;
    while (p < end) {
        if (*o + 2 >= cap)
            return -1;
        if (*p == '$' && p + 1 == end)
            return 0;
        if (*p == '\\') {
            if (p + 1 >= end || !ispunct((unsigned char) p[1]) || quantified(p + 2, end))
                return -1;
            out[(*o)++] = p[1];
            p += 2;
        } else if (*p == '(') {
            const char *close = group_end(p, end);
            if (!close || quantified(close + 1, end))
                return -1;
            if (!strncmp(p, "(?:", 3)) {
                if (regex_address(p + 3, close, params, out, cap, o) != 0)
                    return -1;
            } else if (!strncmp(p, "(?P<", 4)) {
                const char *name = p + 4, *gt = memchr(name, '>', (size_t) (close - name));
                if (!gt)
                    return -1;
                const char *inner = gt + 1;
                int is_int = !strncmp(inner, "(?#int)", 7);
                if (is_int)
                    inner += 7;
                int n = snprintf(out + *o, cap - *o, "{%.*s}", (int) (gt - name), name);
                if (n < 0 || (size_t) n >= cap - *o)
                    return -1;
                *o += (size_t) n;
                add_param(params, name, (size_t) (gt - name),
                          fmt("re_path() group: %.*s%s", (int) (close - inner), inner,
                              is_int ? " (an integer in the consumer's URL kwargs)" : ""),
                          NULL);
            } else {
                return -1;
            }
            p = close + 1;
        } else if (strchr(".[]*+?{}|)^$", *p) || quantified(p + 1, end)) {
            return -1;
        } else {
            out[(*o)++] = *p++;
        }
    }
    return 0;
}

char *cx_asyncapi_address(int kind, const char *pattern, json_t *params)
{
    char out[4200];
    if (kind == 0) {
        if (path_address(pattern, params, out, sizeof out) != 0)
            return NULL;
    } else {
        size_t o = 1;
        out[0] = '/';
        if (regex_address(pattern, pattern + strlen(pattern), params, out, sizeof out, &o) != 0) {
            json_object_clear(params);
            return NULL;
        }
        out[o] = '\0';
    }
    return strdup(out);
}

/* --------------------------------------------------------------- examples */

static json_t *example_of(const json_t *schema, int depth);

static const char *first_type(const json_t *schema)
{
    const json_t *type = json_object_get(schema, "type");
    if (json_is_string(type))
        return json_string_value(type);
    size_t i;
    const json_t *t;
    const char *fallback = NULL;
    json_array_foreach(type, i, t) {
        if (json_is_string(t) && strcmp(json_string_value(t), "null"))
            return json_string_value(t);
        fallback = json_string_value(t);
    }
    return fallback ? fallback : json_object_get(schema, "properties") ? "object" : NULL;
}

static json_t *example_object(const json_t *schema, int depth)
{
    json_t *out = json_object();
    const json_t *props = json_object_get(schema, "properties"), *required = json_object_get(schema, "required");
    const char *key;
    const json_t *sub;
    json_object_foreach((json_t *) props, key, sub) {
        int needed = json_array_size(required) == 0;
        size_t i;
        const json_t *r;
        json_array_foreach(required, i, r)
            needed |= json_is_string(r) && !strcmp(json_string_value(r), key);
        if (needed)
            json_object_set_new(out, key, example_of(sub, depth + 1));
    }
    return out;
}

static json_t *example_of(const json_t *schema, int depth)
{
    if (!json_is_object(schema) || depth > 16)
        return json_null();
    const json_t *v = json_array_get(json_object_get(schema, "examples"), 0);
    if (!v)
        v = json_object_get(schema, "const");
    if (!v)
        v = json_array_get(json_object_get(schema, "enum"), 0);
    if (v)
        return json_deep_copy(v);
    const char *type = first_type(schema);
    json_int_t min = json_integer_value(json_object_get(schema, "minimum"));
    if (!type || !strcmp(type, "null"))
        return json_null();
    if (!strcmp(type, "object"))
        return example_object(schema, depth);
    if (!strcmp(type, "boolean"))
        return json_false();
    if (!strcmp(type, "integer") || !strcmp(type, "number"))
        return json_integer(min);
    if (!strcmp(type, "array")) {
        json_t *out = json_array();
        for (json_int_t i = 0; i < json_integer_value(json_object_get(schema, "minItems")) && i < 16; i++)
            json_array_append_new(out, example_of(json_object_get(schema, "items"), depth + 1));
        return out;
    }
    /* string: "string", stretched to minLength and cut to maxLength */
    json_int_t lo = json_integer_value(json_object_get(schema, "minLength"));
    const json_t *hi = json_object_get(schema, "maxLength");
    char text[64] = "string";
    size_t len = strlen(text);
    while ((json_int_t) len < lo && len + 1 < sizeof text)
        text[len++] = 'x';
    if (json_is_integer(hi) && (json_int_t) len > json_integer_value(hi))
        len = (size_t) json_integer_value(hi);
    text[len] = '\0';
    return json_string(text);
}

/* ---------------------------------------------------------------- names */

static void key_of(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (; *in && o + 1 < cap; in++) {
        char c = isalnum((unsigned char) *in) || *in == '-' || *in == '.' || *in == '_' ? *in : '_';
        if (c == '_' && (o == 0 || out[o - 1] == '_'))
            continue;
        out[o++] = c;
    }
    while (o > 0 && out[o - 1] == '_')
        o--;
    if (o == 0)
        out[o++] = 'r';
    out[o] = '\0';
}

/* A key not yet in obj: base, or base_2, base_3... */
static void unique_key(const json_t *obj, const char *base, char *out, size_t cap)
{
    snprintf(out, cap, "%s", base);
    for (int i = 2; json_object_get(obj, out); i++)
        snprintf(out, cap, "%s_%d", base, i);
}

/* ------------------------------------------------------------- document */

static json_t *envelope_schema(const char *action_key, const char *action, const json_t *payload)
{
    json_t *props = json_object();
    json_object_set_new(props, action_key, json_pack("{s:s, s:s}", "type", "string", "const", action));
    json_t *required = json_pack("[s]", action_key);
    if (json_is_null(payload) || !payload) {
        json_object_set_new(props, "payload", json_pack("{s:s}", "type", "null"));
    } else {
        json_object_set(props, "payload", (json_t *) payload);
        json_array_append_new(required, json_string("payload"));
    }
    return json_pack("{s:s, s:o, s:o}", "type", "object", "properties", props, "required", required);
}

static json_t *message(const char *action_key, const char *action, const json_t *payload, const char *summary)
{
    json_t *example = json_object();
    json_object_set_new(example, action_key, json_string(action));
    json_object_set_new(example, "payload", payload ? example_of(payload, 0) : json_null());
    json_t *m = json_pack("{s:s, s:s, s:s, s:o, s:[{s:s, s:o}]}", "name", action, "title", action,
                          "contentType", "application/json", "payload", envelope_schema(action_key, action, payload),
                          "examples", "name", "example", "payload", example);
    if (summary)
        json_object_set_new(m, "summary", json_string(summary));
    return m;
}

static const char FRAMEWORK_AUTH[] =
    "{\"type\":\"object\",\"required\":[\"status_code\",\"status_text\",\"data\"],\"properties\":{"
    "\"status_code\":{\"type\":\"integer\",\"examples\":[200]},\"status_text\":{\"type\":\"string\",\"examples\":[\"OK\"]},"
    "\"data\":{\"type\":\"object\",\"properties\":{\"detail\":{\"type\":\"string\",\"examples\":[\"OK\"]}}}}}";
static const char FRAMEWORK_ERROR[] =
    "{\"type\":[\"array\",\"object\"],\"examples\":[[{\"type\":\"missing\",\"loc\":[\"payload\",\"message\"],"
    "\"msg\":\"Field required\"}]],\"items\":{\"type\":\"object\",\"properties\":{\"type\":{\"type\":\"string\"},"
    "\"loc\":{\"type\":\"array\"},\"msg\":{\"type\":\"string\"}}},\"properties\":{\"detail\":{\"type\":\"string\"}}}";

static const char FRAMEWORK_AUTHENTICATE[] =
    "{\"type\":\"object\",\"required\":[\"token\"],\"properties\":{\"token\":{\"type\":\"string\","
    "\"description\":\"a fresh simplejwt access token of the connection's user\"}}}";

typedef struct {
    json_t *doc, *channels, *operations, *messages;
} builder;

/* Whether a JSON array of strings holds name. */
static int lists(const json_t *array, const char *name)
{
    size_t i;
    json_t *item;
    json_array_foreach(array, i, item)
        if (json_is_string(item) && strcmp(json_string_value(item), name) == 0)
            return 1;
    return 0;
}

/* Adds one message to components (once per consumer) and to the channel, and an operation. side
 * names the message: "client" (what a client sends), "server" (what it gets), "event" (a server-side
 * event it gets), so an event and a message of the same action stay apart. */
static void add_operation_as(builder *b, const char *channel_id, json_t *channel, const char *target,
                             const char *direction, const char *side, const char *action, json_t *msg,
                             json_t *security)
{
    char base[512], mkey[512], opkey[600], chkey[300];
    snprintf(base, sizeof base, "%s.%s.%s", target, side, action);
    key_of(base, mkey, sizeof mkey);
    if (!json_object_get(b->messages, mkey))
        json_object_set(b->messages, mkey, msg);
    json_decref(msg);
    char ref[600];
    snprintf(base, sizeof base, "%s.%s", side, action);
    key_of(base, chkey, sizeof chkey);
    snprintf(ref, sizeof ref, "#/components/messages/%s", mkey);
    json_object_set_new(json_object_get(channel, "messages"), chkey, json_pack("{s:s}", "$ref", ref));
    snprintf(base, sizeof base, "%s.%s.%s", channel_id, strcmp(side, "event") ? direction : side, action);
    key_of(base, mkey, sizeof mkey);
    unique_key(b->operations, mkey, opkey, sizeof opkey);
    char chref[400], msgref[800];
    snprintf(chref, sizeof chref, "#/channels/%s", channel_id);
    snprintf(msgref, sizeof msgref, "#/channels/%s/messages/%s", channel_id, chkey);
    json_t *op = json_pack("{s:s, s:{s:s}, s:[{s:s}]}", "action", direction, "channel", "$ref", chref,
                           "messages", "$ref", msgref);
    if (json_array_size(security))
        json_object_set(op, "security", security);
    json_object_set_new(b->operations, opkey, op);
}

static void add_operation(builder *b, const char *channel_id, json_t *channel, const char *target,
                          const char *direction, const char *action, json_t *msg, json_t *security)
{
    add_operation_as(b, channel_id, channel, target, direction, strcmp(direction, "receive") ? "server" : "client",
                     action, msg, security);
}

static void add_actions(builder *b, const char *channel_id, json_t *channel, const char *target,
                        const char *direction, const json_t *schemas, const char *action_key, json_t *security)
{
    const char *action;
    const json_t *schema;
    json_object_foreach((json_t *) schemas, action, schema)
        add_operation(b, channel_id, channel, target, direction, action,
                      message(action_key, action, json_is_object(schema) ? schema : NULL, NULL), security);
}

/* Server-side events the client gets (send operations): the consumer's .events, which its
 * receive_event handles first (payload: the event's schema), and its passthrough_events, which
 * gateways send as they are (payload: anything). Events always use "action", never action_key. */
static void add_events(builder *b, const char *channel_id, json_t *channel, const char *target, const json_t *spec,
                       json_t *security)
{
    const char *action;
    const json_t *schema;
    json_object_foreach(json_object_get(spec, "events"), action, schema) {
        json_t *m = message("action", action, json_is_object(schema) ? schema : NULL,
                            "a server-side event from the application (chanx-api, the Python client), in .events: "
                            "the consumer's receive_event handles it and decides what the client gets");
        json_object_set_new(m, "x-chanx-event", json_string("receive_event"));
        add_operation_as(b, channel_id, channel, target, "send", "event", action, m, security);
    }
    size_t i;
    const json_t *name;
    json_t *any = json_object();
    json_array_foreach(json_object_get(spec, "passthrough_events"), i, name) {
        if (!json_is_string(name))
            continue;
        json_t *m = message("action", json_string_value(name), any,
                            "a server-side event from the application, in .passthrough_events: gateways send it "
                            "to the client as it is (not validated, not camelized)");
        json_object_set_new(m, "x-chanx-event", json_string("passthrough"));
        add_operation_as(b, channel_id, channel, target, "send", "event", json_string_value(name), m, security);
    }
    json_decref(any);
}

static json_t *security_of(const json_t *classes, const cx_asyncapi_settings *s)
{
    json_t *out = json_array();
    size_t i;
    const json_t *c;
    json_array_foreach(classes, i, c) {
        const char *name = json_string_value(json_is_object(c) ? json_object_get(c, "class") : c);   /* mapped */
        if (!name)
            continue;
        if (!strcmp(name, "token")) {
            json_array_append_new(out, json_pack("{s:s}", "$ref", "#/components/securitySchemes/token"));
            json_array_append_new(out, json_pack("{s:s}", "$ref", "#/components/securitySchemes/tokenHeader"));
        } else if (!strcmp(name, "session")) {
            json_array_append_new(out, json_pack("{s:s}", "$ref", "#/components/securitySchemes/session"));
        } else if (!strcmp(name, "jwt")) {
            json_array_append_new(out, json_pack("{s:s}", "$ref", "#/components/securitySchemes/jwt"));
            if (s->jwt_query_param)
                json_array_append_new(out, json_pack("{s:s}", "$ref", "#/components/securitySchemes/jwtQuery"));
            if (s->jwt_cookie)
                json_array_append_new(out, json_pack("{s:s}", "$ref", "#/components/securitySchemes/jwtCookie"));
        }
    }
    return out;
}

static json_t *security_schemes(const cx_asyncapi_settings *s)
{
    json_t *out = json_pack(
        "{s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}}",
        "token", "type", "httpApiKey", "name", "token", "in", "query", "description",
        "Django REST framework token (authtoken_token): ?token=<key>",
        "tokenHeader", "type", "httpApiKey", "name", "Authorization", "in", "header", "description",
        "Django REST framework token: the header 'Authorization: Token <key>'",
        "session", "type", "httpApiKey", "name", s->session_cookie, "in", "cookie", "description",
        "Django's session cookie (django_session); the Origin must be allowed (CHANX_ALLOWED_ORIGINS)",
        "jwt", "type", "http", "scheme", "bearer", "bearerFormat", "JWT", "description",
        "simplejwt HS256 access token: 'Authorization: Bearer <token>'");
    if (s->jwt_query_param)
        json_object_set_new(out, "jwtQuery", json_pack("{s:s, s:s, s:s, s:s}", "type", "httpApiKey", "name",
                                                       s->jwt_query_param, "in", "query", "description",
                                                       "simplejwt access token as a query parameter"));
    if (s->jwt_cookie)
        json_object_set_new(out, "jwtCookie", json_pack("{s:s, s:s, s:s, s:s}", "type", "httpApiKey", "name",
                                                        s->jwt_cookie, "in", "cookie", "description",
                                                        "simplejwt access token in a cookie"));
    return out;
}

/* One channel: the consumer's own (topic NULL), or one of its topics (Chanx: its own channel at
 * the route's address, named <address>.<topic>, with x-topic). */
static void add_channel(builder *b, const cx_asyncapi_route *r, const json_t *spec, const json_t *topic,
                        const cx_asyncapi_settings *s)
{
    json_t *params = json_object();
    char *address = cx_asyncapi_address(r->kind, r->pattern, params);
    char base[300], id[400];
    key_of(address ? address : r->pattern, base, sizeof base);
    if (topic) {
        size_t n = strlen(base);
        snprintf(base + n, sizeof base - n, ".%s", json_string_value(json_object_get(topic, "name")));
    }
    unique_key(b->channels, base, id, sizeof id);
    const char *action_key = json_string_value(json_object_get(spec, "action_key"));
    action_key = action_key ? action_key : "action";
    json_t *perms = json_object_get(spec, "permissions");
    char *perm_text = json_dumps(perms ? perms : json_null(), JSON_COMPACT);
    const char *pattern = json_string_value(json_object_get(topic, "pattern"));
    char *who = topic ? fmt("Topic '%s' of consumer %s (frames carry Chanx's envelope beside the action: "
                            "\"version\": 1, \"topic\" matching the pattern, and a \"ref\" the replies repeat)",
                            pattern ? pattern : "", r->target)
                      : fmt("Consumer %s", r->target);
    char *description = fmt("%s (%s route '%s'); permissions %s.%s%s", who ? who : "",
                            r->kind ? "re_path()" : "path()", r->pattern, perm_text ? perm_text : "[]",
                            r->available ? "" : " No live worker serves it now (upgrades get 503).",
                            json_is_true(json_object_get(spec, "camelize"))
                                ? " Keys are camelCase on the wire (snake_case in these schemas)." : "");
    free(perm_text);
    free(who);
    const char *title = topic ? json_string_value(json_object_get(topic, "name")) : r->pattern;
    json_t *channel = json_pack("{s:s?, s:s, s:s, s:{}, s:s, s:s, s:O}", "address", address, "title", title,
                                "description", description, "messages", "x-chanx-consumer", r->target,
                                "x-chanx-pattern", r->pattern, "x-chanx-permissions", perms ? perms : json_null());
    if (!address)
        json_object_set_new(channel, "address", json_null());
    if (json_object_size(params))
        json_object_set(channel, "parameters", params);
    if (topic)
        json_object_set_new(channel, "x-topic", cx_asyncapi_topic_extension(topic));
    free(description);
    free(address);
    json_decref(params);
    json_object_set_new(b->channels, id, channel);

    json_t *security = security_of(json_object_get(spec, "authentication"), s);
    add_actions(b, id, channel, r->target, "receive", json_object_get(spec, "incoming"), action_key, security);
    if (json_is_true(json_object_get(spec, "send_authentication_message"))) {
        json_t *auth = json_loads(FRAMEWORK_AUTH, 0, NULL);
        add_operation(b, id, channel, r->target, "send", "authentication",
                      message(action_key, "authentication", auth, "sent first, once authentication is decided; "
                              "a refusal closes with 4000 + status_code (4401, 4403, 4404)"), security);
        json_decref(auth);
    }
    json_t *error = json_loads(FRAMEWORK_ERROR, 0, NULL);
    add_operation(b, id, channel, r->target, "send", "error",
                  message(action_key, "error", error, "an invalid message: one entry per problem (pydantic v2 "
                          "types), or {\"detail\": ...} when the consumer failed or the message was over the "
                          "throttle rate (DRF's Throttled text; twice the rate closes with 1008)"), security);
    json_decref(error);
    if (lists(json_object_get(spec, "authentication"), "jwt")) {   /* gateway/refresh.h */
        json_t *token = json_loads(FRAMEWORK_AUTHENTICATE, 0, NULL);
        add_operation(b, id, channel, r->target, "receive", "authenticate",
                      message(action_key, "authenticate", token, "a fresh JWT before the connection's token expires: "
                              "answered with the authentication message, the connection then lasts until the new "
                              "token's exp (else it closes at exp with 4401 'Token expired'); a token of another "
                              "user closes with 4403; never reaches the consumer"), security);
        json_decref(token);
    }
    add_actions(b, id, channel, r->target, "send", json_object_get(spec, "outgoing"), action_key, security);
    add_events(b, id, channel, r->target, spec, security);
    if (json_is_true(json_object_get(spec, "send_completion"))) {
        add_operation(b, id, channel, r->target, "send", "complete",
                      message(action_key, "complete", NULL, "after each message the client sent was handled"),
                      security);
        add_operation(b, id, channel, r->target, "send", "group_complete",
                      message(action_key, "group_complete", NULL, "after each group message delivered"), security);
    }
    json_decref(security);
}

/* A route's channels: its consumer's and one per topic; a topic's own route (target
 * "<plugin>.<consumer>#<topic>") is that topic's channel alone. */
static void add_route(builder *b, const cx_asyncapi_route *r, const cx_asyncapi_settings *s)
{
    json_t *spec = json_loadb(r->spec, r->spec_len, JSON_ALLOW_NUL, NULL);
    if (!json_is_object(spec)) {
        json_decref(spec);
        spec = json_object();
    }
    const char *mark = strchr(r->target, '#');
    const json_t *own = mark ? cx_asyncapi_topic_named(spec, mark + 1, strlen(mark + 1)) : NULL;
    size_t i;
    const json_t *topic;
    if (!mark) {
        json_t *own_spec = cx_asyncapi_consumer_spec(spec);
        add_channel(b, r, own_spec, NULL, s);
        json_decref(own_spec);
    }
    json_array_foreach(json_object_get(spec, "topics"), i, topic) {
        if (mark && topic != own)
            continue;
        json_t *topic_spec = cx_asyncapi_topic_spec(spec, topic);
        add_channel(b, r, topic_spec, topic, s);
        json_decref(topic_spec);
    }
    json_decref(spec);
}

json_t *cx_asyncapi_build(const cx_asyncapi_route *routes, size_t n, const cx_asyncapi_settings *settings)
{
    builder b = {
        .doc = json_pack("{s:s, s:{s:s, s:s, s:s}, s:s}", "asyncapi", "3.0.0", "info", "title",
                         "Chanx deployment", "version", "1.0.0", "description",
                         "Every WebSocket route of this deployment, as the gateway's route table has it. A client "
                         "sends {\"action\": ..., \"payload\": ...} objects (receive operations) and gets the "
                         "same shape back (send operations); group messages also carry is_mine and is_current.",
                         "defaultContentType", "application/json"),
        .channels = json_object(),
        .operations = json_object(),
        .messages = json_object(),
    };
    for (size_t i = 0; i < n; i++)
        add_route(&b, &routes[i], settings);
    json_object_set_new(b.doc, "channels", b.channels);
    json_object_set_new(b.doc, "operations", b.operations);
    json_object_set_new(b.doc, "components", json_pack("{s:o, s:o}", "messages", b.messages, "securitySchemes",
                                                       security_schemes(settings)));
    return b.doc;
}

json_t *cx_asyncapi_with_server(const json_t *doc, const char *host, const char *protocol)
{
    json_t *out = json_copy((json_t *) doc);
    if (out)
        json_object_set_new(out, "servers", json_pack("{s:{s:s, s:s, s:s}}", "gateway", "host", host ? host : "",
                                                      "protocol", protocol, "description", "this gateway"));
    return out;
}
