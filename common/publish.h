/*
 * publish.h — events and disconnects from the application, as commands.
 *
 * The publish API (api/, chanx-api over HTTP) and chanx-admin publish/disconnect
 * accept the same commands, so their checking lives here once:
 *
 *   broadcast   {"groups": ["chat_room_lobby"], "event": {"action": "...", "payload": ...}}
 *               {"topic": "room:lobby", "seq": 142, "event": {...}}   (seq optional)
 *   send        {"user_id": 7, "topic": "room:lobby", "event": {...}}  (topic optional)
 *   send        {"user_id": 7, "event": {...}}  or  {"connection": "<id, decimal string>", "event": {...}}
 *   disconnect  {"user_id": 7, "code": 4001}    or  {"connection": "...", "code": ...}
 *   presence    {"group": "chat_room_lobby"} or {"topic": "room:lobby"}: who is in the group
 *               (broker/presence.c's answer; a topic's group resolved as for a broadcast), in pages:
 *               "limit" (users, 1..1000, default 1000) and "cursor" (the previous page's "next")
 *   presence_stats  the same, counts only
 *
 * A command is checked whole before anything is sent (unknown fields, types,
 * group names as Django Channels allows them, close codes), so bad input is
 * refused with a reason and nothing is half-sent. A checked command is an
 * envelope ready for the broker (EVENT or CLOSE_TARGET).
 *
 * A topic (Chanx 2.10's Topic.broadcast) is stamped on the event ({"action", "payload",
 * "version": 1, "topic", "seq"}), the way subscribers receive it (the seq travels in the envelope, as
 * EVENT's topic_seq, and the gateway writes it last). broadcast to a topic goes to the
 * topic's channel group, safe_group_name(topic, namespace=<the topic's declared name>)
 * (common/topic_name.h): the publisher learns the deployment's topics (name, pattern) from the
 * route table the broker sends it, and sends the event to the group of every declared topic whose
 * pattern matches (cx_publisher_resolve_topic; none: refused, "unknown_topic"). With groups too, the groups are
 * the target and the topic is only stamped: what a Django process's RoomTopic.broadcast() sends
 * through the Channels layer (it names the group itself). send with a topic only stamps it too:
 * the user's or connection's passthrough delivery does not look at subscriptions.
 *
 * cx_publisher is the broker side: a link with role CX_ROLE_API that sends
 * commands in order and waits for the broker's RESULT for each (how many
 * gateways and connections it reached). Blocking by design: the callers are
 * a request handler that answers only after the broker has, and a CLI.
 * Threading: one publisher per thread.
 */
#ifndef CX_COMMON_PUBLISH_H
#define CX_COMMON_PUBLISH_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "proto/envelope.h"

#define CX_PUBLISH_MAX_GROUP_NAME 99      /* Django Channels: names are under 100 characters */
#define CX_PUBLISH_MAX_ACTION 255
#define CX_PUBLISH_MAX_BATCH 1000         /* commands in one batch */
#define CX_PUBLISH_MAX_PRESENCE_PAGE 1000 /* users in one presence answer (broker/presence.c's most) */
#define CX_PUBLISH_SEQ_MEMBER_MAX 40      /* cx_publish_seq_member's out, NUL included */

/* The last member a seq makes of an event's text, a JSON object of body_len bytes: ,"seq":N} written
 * in place of its closing brace ("seq":N} after the "{" of an empty one), into out; its length. The
 * gateway writes it for passthrough clients (the group's seq, else a topic broadcast's own), the worker
 * into what receive_event reads (the topic's), so both read the same event. */
size_t cx_publish_seq_member(size_t body_len, int64_t seq, char out[CX_PUBLISH_SEQ_MEMBER_MAX]);

/* Why a command was refused: code is a stable identifier for scripts ("missing_field",
 * "unknown_field", "invalid_field", "invalid_group", "missing_target", "unknown_method",
 * "undeliverable_event"),
 * message says which field and what is wrong. */
typedef struct {
    char code[32];
    char message[256];
} cx_publish_error;

#define CX_PUBLISH_MAX_TOPIC 256               /* characters, as a client's envelope (workers/topics.h) */

/* One checked command; owns the strings its envelope points to. */
typedef struct {
    cx_env env;
    const char *topic;                     /* broadcast to a topic: its groups are resolved when sent */
    char *strings[CX_PROTO_MAX_GROUPS + 4];
    size_t nstrings;
} cx_publish_cmd;

/* Checks method ("broadcast", "send", "disconnect") with params (borrowed). 0 with *cmd filled
 * (free it with cx_publish_cmd_free), or -1 with *err. */
int cx_publish_cmd_parse(cx_publish_cmd *cmd, const char *method, const json_t *params, cx_publish_error *err);
void cx_publish_cmd_free(cx_publish_cmd *cmd);
/* Whether name is a group name Django Channels accepts (ASCII letters, digits, -, _, ., under 100). */
int cx_publish_group_name_ok(const char *name);

typedef struct {
    uint32_t gateways;      /* gateways the command went to */
    uint32_t connections;   /* connections it was addressed to (members, a user's connections, 0 or 1) */
    json_t *presence;       /* presence, presence_stats: the broker's answer (owned: cx_publish_result_clear) */
} cx_publish_result;
/* Frees what a result owns (its presence answer). */
void cx_publish_result_clear(cx_publish_result *r);

typedef struct cx_publisher cx_publisher;

/* Connects to the broker as an API peer named node. NULL on failure. */
cx_publisher *cx_publisher_new(const char *endpoint, const char *node);
void cx_publisher_destroy(cx_publisher **self_p);
/* Sends n commands in order and waits up to timeout_ms for all their results (written to results).
 * 0, or -1 when the broker did not answer them all in time (results of the answered ones are set). */
int cx_publisher_run(cx_publisher *self, cx_publish_cmd *cmds, size_t n, cx_publish_result *results, int timeout_ms);
/* Whether some consumer of the route table can take the event of a checked broadcast or send (params
 * as given to cx_publish_cmd_parse, borrowed): 0, or -1 with err ("undeliverable_event", the reason)
 * and *errors (pydantic's list for a payload no declaring consumer's .events accepts, new reference;
 * NULL for an action none declares). 0 until the broker's first route table has arrived. */
int cx_publisher_check_event(const cx_publisher *self, const json_t *params, cx_publish_error *err, json_t **errors);
/* Gives a broadcast to a topic (cmd->topic set by cx_publish_cmd_parse) its groups: the group of
 * every topic of the route table whose pattern matches. 0 (also for a command without a topic);
 * -1 with err ("unknown_topic", naming the topic) when no consumer declares a matching topic; 1 when
 * no route table has arrived yet (nothing to judge by: cx_publisher_await_routes, or say the broker
 * is not ready). */
int cx_publisher_resolve_topic(const cx_publisher *self, cx_publish_cmd *cmd, cx_publish_error *err);
/* Waits up to timeout_ms for the broker's route table (it follows HELLO): 0 once it has arrived. */
int cx_publisher_await_routes(cx_publisher *self, int timeout_ms);
/* Heartbeats and broker messages while idle; call at least every heartbeat interval. */
void cx_publisher_pump(cx_publisher *self);

/* The same without waiting, for a server that must keep answering while the broker is slow or gone
 * (api/): cx_publisher_send gives the n commands consecutive request ids (the first is returned),
 * sends them, and returns at once; cx_publisher_receive reads what the broker sent and calls
 * on_result for each RESULT (request id, what it reached). It returns 1 when a restarted broker asked
 * us to introduce ourselves again: HELLO is sent, and whatever was not answered yet must be sent
 * again with cx_publisher_resend (answered: a flag per command, or NULL for all). */
/* result is lent: a callback that keeps its presence takes a reference. */
typedef void (*cx_publish_on_result)(uint64_t request, const cx_publish_result *result, void *arg);
uint64_t cx_publisher_send(cx_publisher *self, cx_publish_cmd *cmds, size_t n);
int cx_publisher_receive(cx_publisher *self, cx_publish_on_result on_result, void *arg);
void cx_publisher_resend(cx_publisher *self, const cx_publish_cmd *cmds, size_t n, const char *answered);
/* Sends a HEARTBEAT when one is due (see cx_link_tick). */
void cx_publisher_tick(cx_publisher *self);
/* The broker link's socket (for zmq_poll), and whether the broker is heard from. */
void *cx_publisher_socket(const cx_publisher *self);
int cx_publisher_alive(const cx_publisher *self);
/* Whether the broker's route table has arrived (it follows HELLO): until then topics cannot be
 * resolved and events cannot be checked. */
int cx_publisher_routes_known(const cx_publisher *self);
int cx_publisher_next_tick_ms(const cx_publisher *self);

#endif
