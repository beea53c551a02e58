/*
 * context_internal.h — the chanx_ctx layout, shared by the worker's
 * context.c (lifecycle, accessors) and send.c (the send side of the API).
 * Plugins see chanx_ctx only as an opaque pointer.
 */
#ifndef CX_WORKERS_CONTEXT_INTERNAL_H
#define CX_WORKERS_CONTEXT_INTERNAL_H

#include "workers/ctx_log.h"
#include "workers/context.h"
#include "workers/crash_report.h"

struct chanx_ctx {
    const cx_services *services;   /* the worker's, handed down at creation */
    cx_consumer_entry *consumer;
    uint64_t conn;
    void *state;
    chanx_user user;
    const char *auth_class;  /* "token", "session", "jwt" or NULL (static strings) */
    char *username, *path, *client;
    json_t *kwargs, *kwargs_text, *query, *obj;
    /* The request's headers as CONNECT carried them (JSON text), parsed into headers and cookies on
     * the first chanx_header/chanx_cookie/chanx_subprotocol: most consumers never ask, and parsing
     * them was the largest part of starting a connection (context.c, request_headers). */
    char *headers_text;
    size_t headers_len;
    json_t *headers, *cookies;
    char **groups;          /* the groups this connection joined, for group sends without a list */
    size_t ngroups;
    int send_completion, log_received, log_sent, camelize;
    uint32_t received;      /* messages received, for message_id */
    char message_id[16];    /* short id of the message being handled, for logs */
    int closed;
    uint32_t object_verdict; /* CX_USER_OBJECT_* from CONNECT: applied after has_permission */
    int restarted;          /* CONNECT again after its worker process died (CX_USER_RESTARTED): chanx_restarted */
    int ending;             /* disconnect has begun: no new timers */
    uint64_t *timers;       /* ids of this connection's live timers (timer_api.c) */
    size_t ntimers, timers_cap;
    struct cx_db_conn *tx;  /* the connection of a running chanx_db_transaction, else NULL (db_api.c) */
    /* Topics (topics.c). While a frame or a topic callback is handled, what chanx_send_json stamps
     * on direct sends (send.c): "topic" (with "version": 1) and the frame's "ref". Borrowed. */
    const char *topic;
    const char *ref;
    const json_t *topic_params;     /* the running topic's pattern values */
    struct cx_topic_subs *subs;     /* this connection's subscriptions, NULL before the first */
    const cx_topic_decl *own_topic; /* on a topic's own route (Topic.as_consumer()): that topic */
    char *since;            /* the URL's ?since= values, comma-joined ("" none): joins to history groups */
    int64_t connected_ms;   /* when CONNECT arrived (Unix ms): presence after a broker restart */
    uint32_t history_size, history_ttl_ms;   /* the consumer's history for GROUP_ADD and RESUME (0: none;
                                              * CX_HISTORY_DEFAULT: the broker's defaults) */
    uint32_t group_add_flags;                /* CX_GROUP_ADD_PRESENCE when the consumer asks for presence pushes */
};

/* A join as GROUP_ADD carries it (send.c): the group's history, presence pushes and the client's
 * since; for a topic's subscribe also the topic and the ref, and the broker then answers the client
 * "subscribed" (with the epoch and seq of a history topic) itself. */
typedef struct cx_group_join {
    uint32_t history_size, history_ttl_ms;   /* 0: none; CX_HISTORY_DEFAULT: the broker's defaults */
    uint32_t flags;                          /* CX_GROUP_ADD_PRESENCE */
    const char *since, *topic, *ref;         /* NULL: none */
} cx_group_join;
/* chanx_group_add with these: CHANX_OK, or CHANX_ERROR (a group refused, out of memory). A group
 * already joined is not joined again, but a topic's is asked about again (its "subscribed"). */
int cx_ctx_group_join(chanx_ctx *ctx, const char *group, const cx_group_join *join);

struct chanx_msg {
    json_t *json;
    const char *action;
    json_t *payload;
};

struct chanx_groups {
    chanx_ctx *ctx;
};

/* Sends text, a message the runtime already holds serialized (the authentication message's 200, the
 * same on every connection), exactly as chanx_send_json would send its JSON, without building and
 * dumping a json_t each time; action names it in the "Sent websocket json" record. Only outside a
 * topic's callback or a frame with a ref (those sends are stamped). CHANX_OK or CHANX_ERROR. */
int cx_ctx_send_text(chanx_ctx *ctx, const char *text, const char *action);

/* A topic push (chanx_topic_publish): message to group, this connection included, and never followed by
 * group_complete, whatever send_completion says: Chanx delivers Topic.broadcast through
 * handle_topic_event, which sends no completion. CHANX_OK or CHANX_ERROR. */
int cx_ctx_send_topic_push(chanx_ctx *ctx, const json_t *message, const char *group);

/* A handler returned CHANX_ERROR for action (on topic, or NULL): an error record naming it, and
 * Chanx's answer to the client, {"action":"error","payload":{"detail":"Failed to process message
 * for <action>"}} (chanx/core/websocket.py, handle_message_handler_error). */
void cx_ctx_answer_handler_error(chanx_ctx *ctx, const char *action, const char *topic);

/* An info record of a message received or sent ("Received websocket json"...), unless its action
 * is one the consumer or the deployment ignores (log_ignored_actions). action may be NULL; extra
 * (stolen, may be NULL) adds fields. */
void cx_ctx_log_message(const chanx_ctx *self, const char *event, const char *action, json_t *extra);

/* Says which callback of this connection the calling thread enters, for a crash report (crash_report.h);
 * cx_crash_leave() when it returns. A few stores: called around every plugin callback. */
static inline void cx_ctx_crash_enter(const chanx_ctx *self, const char *callback, const char *action)
{
    cx_crash_scope scope = { cx_plugin_file(self->consumer->plugin), self->consumer->name, callback, action,
                             self->message_id, self->conn, self->user.id };
    cx_crash_enter(&scope);
}

#endif
