/*
 * topics.h — one connection's topic subscriptions and the envelope of its frames.
 *
 * Chanx 2.10's topic dispatch (ChanxWebsocketConsumerMixin.receive_json and
 * what it calls, chanx/core/websocket.py): a frame's envelope fields
 * (version, topic, ref, seq) are checked and stripped; a frame naming a
 * topic is a subscribe, an unsubscribe, or a message for a subscribed topic,
 * handled by that topic's callbacks; a frame naming none goes on to the
 * consumer's own handlers (context.c) with its ref kept for the replies.
 * A connection on a topic's own route (Topic.as_consumer()) subscribed on
 * connect, and its frames without a topic belong to that topic.
 *
 * Layering: context.c calls down into this file; this file calls the send
 * side of the plugin API (send.c) and nothing above it.
 * Threading: the connection's own callbacks' thread, like context.c.
 */
#ifndef CX_WORKERS_TOPICS_H
#define CX_WORKERS_TOPICS_H

#include <stddef.h>
#include <jansson.h>
#include "chanx/consumer.h"

/* Longest topic and ref accepted in an envelope, in characters as pydantic counts them (up to 4
 * UTF-8 bytes each); longer is a validation error. */
#define CX_TOPIC_MAX_LENGTH 256
#define CX_TOPIC_MAX_REF 256

/* Whether a frame may carry envelope fields and must be routed here before validation: the
 * connection is on a topic's own route, or the text names one of the fields. Cheap; a false
 * positive only costs a parse. */
int cx_topics_candidate(const chanx_ctx *ctx, const char *text, size_t len);

typedef enum { CX_TOPICS_HANDLED, CX_TOPICS_PLAIN } cx_topics_outcome;
/* Routes a parsed frame (keys already snake_case when the consumer camelizes). HANDLED: a topic
 * frame or a bad envelope, answered here. PLAIN: the envelope fields were removed from message and
 * the frame is the consumer's own; ctx->ref is set for its replies until cx_topics_done. */
cx_topics_outcome cx_topics_route(chanx_ctx *ctx, json_t *message);
/* Ends what cx_topics_route set up for a PLAIN frame. */
void cx_topics_done(chanx_ctx *ctx);
/* After a successful start: on a topic's own route, subscribes the topic the URL fills in. */
void cx_topics_start(chanx_ctx *ctx);
/* Disconnect: on_unsubscribe for every subscription, then frees them. */
void cx_topics_stop(chanx_ctx *ctx);
/* Frees the subscriptions without running anything (cx_ctx_destroy). */
void cx_topics_release(chanx_ctx *ctx);
/* The group of a topic this connection subscribed to, or NULL. Borrowed. */
const char *cx_topics_group_of(const chanx_ctx *ctx, const char *topic);


#endif
