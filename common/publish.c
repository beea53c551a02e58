/*
 * publish.c — checking publish commands, and sending them to the broker.
 *
 * Checking is strict on purpose: a typo in a field name ("group" for
 * "groups") would otherwise be a silent no-op in production. Every object
 * lists its allowed keys; anything else is "unknown_field".
 *
 * The publisher numbers its requests; the broker answers each EVENT or
 * CLOSE_TARGET with a RESULT carrying that number. ZeroMQ keeps order on
 * the one DEALER socket, so commands reach the broker, and each target, in
 * the order they were sent. If the broker restarted and asks who we are, the
 * unanswered commands are sent again after HELLO: the broker dropped them
 * unread. The broker also sends the route table (ROUTES), from which the
 * publisher knows which events some consumer can take (event_catalog.h).
 */
#include "common/publish.h"
#include "common/json_text.h"
#include "common/event_catalog.h"
#include "common/link.h"
#include "common/log.h"
#include "common/schema.h"
#include "common/topic_table.h"

#include <czmq.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 3, 4)))
static int refuse(cx_publish_error *err, const char *code, const char *fmt, ...)
{
    snprintf(err->code, sizeof err->code, "%s", code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static const char *own(cx_publish_cmd *cmd, char *s)
{
    if (s)
        cmd->strings[cmd->nstrings++] = s;
    return s;
}

void cx_publish_cmd_free(cx_publish_cmd *cmd)
{
    for (size_t i = 0; i < cmd->nstrings; i++)
        free(cmd->strings[i]);
    cmd->nstrings = 0;
}

int cx_publish_group_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > CX_PUBLISH_MAX_GROUP_NAME)
        return 0;
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '-'
              || *c == '_' || *c == '.'))
            return 0;
    return 1;
}

/* Every key of object must be one of allowed (NULL-terminated). */
static int only_keys(const json_t *object, const char *where, const char *const *allowed, cx_publish_error *err)
{
    const char *key;
    json_t *value;
    json_object_foreach((json_t *) object, key, value) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key) != 0)
            a++;
        if (!*a)
            return refuse(err, "unknown_field", "%s%s: unknown field", where, key);
    }
    return 0;
}

/* topic (a string of 1..CX_PUBLISH_MAX_TOPIC characters) and seq (an integer), both optional. */
static int parse_topic(cx_publish_cmd *cmd, const json_t *params, cx_publish_error *err)
{
    const json_t *topic = json_object_get(params, "topic"), *seq = json_object_get(params, "seq");
    if (topic && (!json_is_string(topic) || json_string_length(topic) == 0
                  || cx_schema_string_length(topic) > CX_PUBLISH_MAX_TOPIC))
        return refuse(err, "invalid_field", "topic: must be a topic name, a string of 1 to %d characters",
                      CX_PUBLISH_MAX_TOPIC);
    if (seq && (!topic || !json_is_integer(seq)))
        return refuse(err, "invalid_field", "seq: an integer, with a topic");
    if (topic)
        cmd->topic = own(cmd, strdup(json_string_value(topic)));
    return 0;
}

static int parse_event(cx_publish_cmd *cmd, const json_t *event, const json_t *params, cx_publish_error *err)
{
    static const char *const KEYS[] = { "action", "payload", NULL };
    if (!event)
        return refuse(err, "missing_field", "event: required");
    if (!json_is_object(event))
        return refuse(err, "invalid_field", "event: must be an object {\"action\": ..., \"payload\": ...}");
    if (only_keys(event, "event.", KEYS, err))
        return -1;
    const json_t *action = json_object_get(event, "action");
    if (!action)
        return refuse(err, "missing_field", "event.action: required");
    size_t len = json_string_length(action);
    if (!json_is_string(action) || len == 0 || len > CX_PUBLISH_MAX_ACTION || memchr(json_string_value(action), 0, len))
        return refuse(err, "invalid_field", "event.action: must be a non-empty string of at most %d bytes",
                      CX_PUBLISH_MAX_ACTION);
    const json_t *payload = json_object_get(event, "payload");
    json_t *wire = json_pack("{s:O, s:O}", "action", action, "payload", payload ? payload : json_null());
    if (wire && cmd->topic) {   /* Chanx's send_topic_json: the envelope beside the message */
        json_object_set_new(wire, "version", json_integer(1));
        json_object_set_new(wire, "topic", json_string(cmd->topic));
    }
    const json_t *seq = json_object_get(params, "seq");
    if (seq) {   /* its last member, "seq": the gateway writes it from the envelope (gateway/events.c) */
        cmd->env.flags |= CX_EVENT_TOPIC_SEQ;
        cmd->env.topic_seq = json_integer_value(seq);
    }
    char *text = cx_json_text(wire, NULL);
    json_decref(wire);
    if (!text)
        return refuse(err, "invalid_field", "event: cannot be serialized");
    cmd->env.action = cx_slice_n(own(cmd, strdup(json_string_value(action))), len);
    cmd->env.text = cx_slice_of(own(cmd, text));
    return cmd->env.action.ptr ? 0 : refuse(err, "invalid_field", "event: out of memory");
}

static int parse_groups(cx_publish_cmd *cmd, const json_t *groups, cx_publish_error *err)
{
    if (!groups)
        return refuse(err, "missing_target", "groups (a list of group names) or topic: required");
    if (!json_is_array(groups) || json_array_size(groups) == 0 || json_array_size(groups) > CX_PROTO_MAX_GROUPS)
        return refuse(err, "invalid_field", "groups: must be a list of 1 to %d group names", CX_PROTO_MAX_GROUPS);
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g) {
        if (!json_is_string(g) || !cx_publish_group_name_ok(json_string_value(g)))
            return refuse(err, "invalid_group",
                          "groups[%zu]: a group name is ASCII letters, digits, hyphens, underscores or periods, "
                          "1 to %d characters (Django Channels' rule)", i, CX_PUBLISH_MAX_GROUP_NAME);
        cmd->env.groups[i] = cx_slice_of(own(cmd, strdup(json_string_value(g))));
    }
    cmd->env.ngroups = (uint32_t) json_array_size(groups);
    return 0;
}

/* user_id (a positive integer) or connection (a decimal string: ids are 64-bit, beyond what JSON
 * numbers carry safely in JavaScript), exactly one. */
static int parse_target(cx_publish_cmd *cmd, const json_t *params, cx_publish_error *err)
{
    const json_t *user = json_object_get(params, "user_id"), *conn = json_object_get(params, "connection");
    if (!user && !conn)
        return refuse(err, "missing_target", "a target is required: user_id or connection");
    if (user && conn)
        return refuse(err, "invalid_field", "user_id and connection: give one target, not both");
    if (user) {
        if (!json_is_integer(user) || json_integer_value(user) <= 0)
            return refuse(err, "invalid_field", "user_id: must be a positive integer");
        cmd->env.target = CX_TARGET_USER;
        cmd->env.user_id = json_integer_value(user);
        return 0;
    }
    const char *text = json_string_value(conn);
    char *end = NULL;
    errno = 0;
    unsigned long long id = text && *text >= '0' && *text <= '9' ? strtoull(text, &end, 10) : 0;
    if (!text || !end || *end || errno || id == 0)
        return refuse(err, "invalid_field", "connection: must be a connection id as a decimal string, e.g. \"4294967297\"");
    cmd->env.target = CX_TARGET_CONNECTION;
    cmd->env.conn = id;
    return 0;
}

/* presence's page: "limit" (1..CX_PUBLISH_MAX_PRESENCE_PAGE users) and "cursor" (a previous answer's
 * "next": the last user id it listed, as a decimal string), both optional. */
static int parse_page(cx_publish_cmd *cmd, const json_t *params, cx_publish_error *err)
{
    const json_t *limit = json_object_get(params, "limit"), *cursor = json_object_get(params, "cursor");
    if (limit && (!json_is_integer(limit) || json_integer_value(limit) < 1
                  || json_integer_value(limit) > CX_PUBLISH_MAX_PRESENCE_PAGE))
        return refuse(err, "invalid_field", "limit: users per page, an integer from 1 to %d",
                      CX_PUBLISH_MAX_PRESENCE_PAGE);
    cmd->env.limit = limit ? (uint32_t) json_integer_value(limit) : 0;
    if (!cursor || json_is_null(cursor))
        return 0;
    const char *text = json_string_value(cursor);
    char *end = NULL;
    errno = 0;
    long long after = text && *text >= '0' && *text <= '9' ? strtoll(text, &end, 10) : -1;
    if (!text || !end || *end || errno || after < 0)
        return refuse(err, "invalid_field", "cursor: must be the \"next\" of a previous presence answer");
    cmd->env.user_id = after;
    return 0;
}

/* {"group": name} or {"topic": name}: the group whose members the broker lists (presence.c); a topic's
 * group is resolved like a broadcast's (cx_publisher_resolve_topic). presence also takes a page. */
static int parse_presence(cx_publish_cmd *cmd, const json_t *params, uint8_t target, cx_publish_error *err)
{
    static const char *const PRESENCE[] = { "group", "topic", "limit", "cursor", NULL };
    static const char *const STATS[] = { "group", "topic", NULL };
    const json_t *group = json_object_get(params, "group"), *topic = json_object_get(params, "topic");
    cmd->env = (cx_env) { .type = CX_ENV_PRESENCE, .target = target };
    if (only_keys(params, "", target == CX_PRESENCE_STATS ? STATS : PRESENCE, err) || parse_page(cmd, params, err))
        return -1;
    if (group && topic)
        return refuse(err, "invalid_field", "group and topic: give one, not both");
    if (topic)
        return json_object_get(params, "seq") ? refuse(err, "unknown_field", "seq: unknown field")
                                              : parse_topic(cmd, params, err);
    if (!group)
        return refuse(err, "missing_target", "group or topic: required (a group name or a topic)");
    if (!json_is_string(group) || !cx_publish_group_name_ok(json_string_value(group)))
        return refuse(err, "invalid_group",
                      "group: a group name is ASCII letters, digits, hyphens, underscores or periods, 1 to %d "
                      "characters (Django Channels' rule)", CX_PUBLISH_MAX_GROUP_NAME);
    cmd->env.group = cx_slice_of(own(cmd, strdup(json_string_value(group))));
    return cmd->env.group.ptr ? 0 : refuse(err, "invalid_field", "group: out of memory");
}

void cx_publish_result_clear(cx_publish_result *r)
{
    json_decref(r->presence);
    r->presence = NULL;
}

int cx_publish_cmd_parse(cx_publish_cmd *cmd, const char *method, const json_t *params, cx_publish_error *err)
{
    static const char *const BROADCAST[] = { "groups", "topic", "seq", "event", NULL };
    static const char *const SEND[] = { "user_id", "connection", "topic", "seq", "event", NULL };
    static const char *const DISCONNECT[] = { "user_id", "connection", "code", NULL };
    memset(cmd, 0, sizeof *cmd);
    if (!json_is_object(params))
        return refuse(err, "invalid_field", "params: must be a JSON object");
    int rc;
    if (strcmp(method, "broadcast") == 0) {
        cmd->env = (cx_env) { .type = CX_ENV_EVENT, .target = CX_TARGET_GROUPS };
        const json_t *groups = json_object_get(params, "groups");
        rc = only_keys(params, "", BROADCAST, err) || parse_topic(cmd, params, err);
        if (!rc && (groups || !cmd->topic))
            rc = parse_groups(cmd, groups, err);
        rc = rc || parse_event(cmd, json_object_get(params, "event"), params, err);
        if (groups)
            cmd->topic = NULL;   /* groups given (Chanx's own group names): the topic is only stamped */
    } else if (strcmp(method, "send") == 0) {
        cmd->env = (cx_env) { .type = CX_ENV_EVENT };
        rc = only_keys(params, "", SEND, err) || parse_target(cmd, params, err) || parse_topic(cmd, params, err)
             || parse_event(cmd, json_object_get(params, "event"), params, err);
        cmd->topic = NULL;   /* stamped only: a user or a connection is the target */
    } else if (strcmp(method, "disconnect") == 0) {
        cmd->env = (cx_env) { .type = CX_ENV_CLOSE_TARGET, .code = 1000 };
        rc = only_keys(params, "", DISCONNECT, err) || parse_target(cmd, params, err);
        const json_t *code = json_object_get(params, "code");
        if (!rc && code) {
            json_int_t c = json_integer_value(code);
            if (!json_is_integer(code) || !(c == 1000 || (c >= 3000 && c <= 4999)))
                rc = refuse(err, "invalid_field", "code: must be 1000 or an application close code, 3000 to 4999");
            cmd->env.code = (uint32_t) c;
        }
    } else if (strcmp(method, "presence") == 0 || strcmp(method, "presence_stats") == 0) {
        rc = parse_presence(cmd, params, method[8] ? CX_PRESENCE_STATS : CX_PRESENCE_USERS, err);
    } else {
        return refuse(err, "unknown_method",
                      "unknown method '%s': broadcast, send, disconnect, presence or presence_stats", method);
    }
    if (rc)
        cx_publish_cmd_free(cmd);
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------- publisher */

struct cx_publisher {
    cx_link *link;
    uint64_t next_request;
    cx_event_catalog *catalog;   /* from the broker's ROUTES */
    cx_topic_table *topics;      /* the deployment's topics, from the same ROUTES */
};

cx_publisher *cx_publisher_new(const char *endpoint, const char *node)
{
    cx_publisher *self = calloc(1, sizeof *self);
    if (!self || !(self->catalog = cx_event_catalog_new()) || !(self->topics = cx_topic_table_new())
        || !(self->link = cx_link_new(endpoint, CX_ROLE_API, node))) {
        if (self)
            cx_event_catalog_destroy(&self->catalog), cx_topic_table_destroy(&self->topics);
        free(self);
        return NULL;
    }
    cx_link_hello(self->link);
    return self;
}

void cx_publisher_destroy(cx_publisher **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_link_destroy(&(*self_p)->link);
    cx_event_catalog_destroy(&(*self_p)->catalog);
    cx_topic_table_destroy(&(*self_p)->topics);
    free(*self_p);
    *self_p = NULL;
}

void *cx_publisher_socket(const cx_publisher *self)
{
    return cx_link_socket(self->link);
}

int cx_publisher_alive(const cx_publisher *self)
{
    return cx_link_alive(self->link);
}

int cx_publisher_routes_known(const cx_publisher *self)
{
    return cx_topic_table_known(self->topics);
}

int cx_publisher_next_tick_ms(const cx_publisher *self)
{
    return cx_link_next_tick_ms(self->link);
}

int cx_publisher_receive(cx_publisher *self, cx_publish_on_result on_result, void *arg)
{
    int reintroduced = 0;
    cx_env env;
    for (cx_link_event ev; (ev = cx_link_recv(self->link, &env)) != CX_LINK_NONE;) {
        if (ev == CX_LINK_REINTRODUCE)
            reintroduced = 1;
        else if (env.type == CX_ENV_ROUTES) {
            cx_event_catalog_update(self->catalog, &env);
            cx_topic_table_update(self->topics, &env);
        }
        else if (env.type == CX_ENV_RESULT && on_result)
            on_result(env.request, &(cx_publish_result) { env.gateways, env.connections, NULL }, arg);
        else if (env.type == CX_ENV_PRESENCE_RESULT && on_result) {   /* borrowed by on_result */
            json_t *presence = json_loadb(env.text.ptr, env.text.len, 0, NULL);
            on_result(env.request, &(cx_publish_result) { 0, 0, presence }, arg);
            json_decref(presence);
        }
    }
    if (reintroduced)   /* a restarted broker dropped what it got before our HELLO: the caller re-sends */
        cx_link_hello(self->link);
    return reintroduced;
}

int cx_publisher_check_event(const cx_publisher *self, const json_t *params, cx_publish_error *err, json_t **errors)
{
    const json_t *event = json_object_get(params, "event");
    const char *action = json_string_value(json_object_get(event, "action"));
    if (!action || cx_event_catalog_check(self->catalog, action, json_object_get(event, "payload"), err->message,
                                          sizeof err->message, errors) == 0)
        return 0;
    snprintf(err->code, sizeof err->code, "undeliverable_event");
    return -1;
}

int cx_publisher_resolve_topic(const cx_publisher *self, cx_publish_cmd *cmd, cx_publish_error *err)
{
    if (!cmd->topic)
        return 0;
    if (!cx_topic_table_known(self->topics))
        return 1;
    const char *groups[CX_PROTO_MAX_GROUPS];
    size_t n = cx_topic_table_groups(self->topics, cmd->topic, groups, CX_PROTO_MAX_GROUPS);
    cmd->env.ngroups = 0;
    for (size_t g = 0; g < n; g++) {
        const char *copy = own(cmd, (char *) groups[g]);
        if (copy)
            cmd->env.groups[cmd->env.ngroups++] = cx_slice_of(copy);
    }
    if (cmd->env.ngroups && cmd->env.type == CX_ENV_PRESENCE) {   /* one group: the first topic's */
        cmd->env.group = cmd->env.groups[0];
        cmd->env.ngroups = 0;
    }
    if (cmd->env.ngroups || cmd->env.group.len)
        return 0;
    return refuse(err, "unknown_topic", "topic: no consumer of the route table declares a topic matching '%.200s'",
                  cmd->topic);
}

int cx_publisher_await_routes(cx_publisher *self, int timeout_ms)
{
    int64_t deadline = cx_now_ms() + timeout_ms;
    zmq_pollitem_t item = { .socket = cx_link_socket(self->link), .events = ZMQ_POLLIN };
    while (!cx_topic_table_known(self->topics) && cx_now_ms() < deadline) {
        zmq_poll(&item, 1, 50);
        cx_publisher_receive(self, NULL, NULL);
        cx_link_tick(self->link);
    }
    return cx_topic_table_known(self->topics) ? 0 : -1;
}

void cx_publisher_pump(cx_publisher *self)
{
    cx_publisher_receive(self, NULL, NULL);
    cx_link_tick(self->link);
}

void cx_publisher_tick(cx_publisher *self)
{
    cx_link_tick(self->link);
}

void cx_publisher_resend(cx_publisher *self, const cx_publish_cmd *cmds, size_t n, const char *answered)
{
    for (size_t i = 0; i < n; i++)
        if (!answered || !answered[i])
            if (cx_link_send(self->link, &cmds[i].env) != 0)
                cx_warn("cannot queue a %s for the broker", cx_env_type_name(cmds[i].env.type));
}

uint64_t cx_publisher_send(cx_publisher *self, cx_publish_cmd *cmds, size_t n)
{
    uint64_t first = self->next_request + 1;
    self->next_request += n;
    for (size_t i = 0; i < n; i++)
        cmds[i].env.request = first + i;
    cx_publisher_resend(self, cmds, n, NULL);
    return first;
}

/* What cx_publisher_run waits for: the results of requests first .. first + n - 1. */
typedef struct {
    uint64_t first;
    size_t n, done;
    char *answered;
    cx_publish_result *results;
} waiting;

static void on_run_result(uint64_t request, const cx_publish_result *result, void *arg)
{
    waiting *w = arg;
    if (request < w->first || request >= w->first + w->n || w->answered[request - w->first])
        return;
    w->answered[request - w->first] = 1;
    w->results[request - w->first] = *result;
    json_incref(result->presence);   /* the result was lent */
    w->done++;
}

int cx_publisher_run(cx_publisher *self, cx_publish_cmd *cmds, size_t n, cx_publish_result *results, int timeout_ms)
{
    waiting w = { .n = n, .answered = calloc(n + 1, 1), .results = results };
    if (!w.answered)
        return -1;
    w.first = cx_publisher_send(self, cmds, n);
    int64_t deadline = cx_now_ms() + timeout_ms;
    zmq_pollitem_t item = { .socket = cx_link_socket(self->link), .events = ZMQ_POLLIN };
    while (w.done < n) {
        int64_t left = deadline - cx_now_ms();
        if (left <= 0)
            break;
        int wait = cx_link_next_tick_ms(self->link) + 1;
        zmq_poll(&item, 1, wait < left ? wait : left);
        if (cx_publisher_receive(self, on_run_result, &w))
            cx_publisher_resend(self, cmds, n, w.answered);
        cx_link_tick(self->link);
    }
    free(w.answered);
    return w.done == n ? 0 : -1;
}

size_t cx_publish_seq_member(size_t body_len, int64_t seq, char out[CX_PUBLISH_SEQ_MEMBER_MAX])
{
    int n = snprintf(out, CX_PUBLISH_SEQ_MEMBER_MAX, "%s\"seq\":%lld}", body_len == 2 ? "" : ",", (long long) seq);
    return n > 0 ? (size_t) n : 0;
}
