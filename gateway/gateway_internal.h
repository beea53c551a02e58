/*
 * gateway_internal.h — state shared by the gateway's files. Everything runs
 * on the gateway's one loop thread.
 *
 * The files call each other in one direction only (gateway/README.md has
 * the map; a layer check in make test holds it):
 *
 *   gateway.c     the process: setup, the loop, teardown
 *   callbacks.c   what lws calls; finds the gateway through the context's user pointer
 *   clients.c     a client's life: upgrade, authentication, messages, close
 *   upstream.c    envelopes from the broker, the route table, the group mirror
 *   events.c      server-side events passed through to clients
 *   outbox.c      frames on their way to clients
 *   shed.c        the gateway-wide bound on buffered bytes (shed.h)
 *   session.c     one client's state, its close, the session list
 *
 * and beside them the self-contained parts with their own headers (auth,
 * wire, deflate, keepalive, handshake, docs, ...). A file calls only files
 * below it: what every layer needs (closing a session) lives at the bottom.
 */
#ifndef CX_GATEWAY_GATEWAY_INTERNAL_H
#define CX_GATEWAY_GATEWAY_INTERNAL_H

#include <czmq.h>
#include <libwebsockets.h>
#include <uv.h>
#include "common/idmap.h"
#include "common/link.h"
#include "common/route.h"
#include "gateway/auth.h"
#include "gateway/consumer_spec.h"
#include "gateway/docs.h"
#include "gateway/expiry.h"
#include "gateway/gateway.h"
#include "gateway/keepalive.h"
#include "gateway/proxies.h"
#include "gateway/revalidate.h"
#include "gateway/session.h"

typedef struct {
    cx_consumer_spec *spec;   /* NULL when the spec could not be compiled (answers 500) */
    int available;            /* a live worker serves it */
    int quarantined;          /* and none will: its plugin crashed its workers too often (proto/README.md) */
} cx_route_entry;

typedef struct cx_gateway {
    const cx_gateway_config *config;
    struct lws_context *lws;
    struct lws_vhost *vhost;
    cx_link *link;
    cx_encoder *enc;          /* CONNECT, kept encoded per session for a REPIN (clients.c, upstream.c) */
    cx_decoder *dec;          /* a kept CONNECT, read again on REPIN (upstream.c) */
    cx_auth *auth;
    cx_idmap *sessions;       /* conn id → session */
    cx_docs *docs;            /* /asyncapi.json and /playground/, rebuilt on ROUTES */
    zhashx_t *groups;         /* group name → cx_idmap of conn id → session */
    cx_router *router;        /* from ROUTES; target → index into entries */
    cx_route_entry *entries;
    size_t nentries;
    int have_routes;
    uint32_t node;            /* high half of connection ids */
    uint32_t next_conn;
    uint64_t fanout_stamp;
    uint64_t split_stamp, split_sender;   /* the split group send in progress and its sender (upstream.c) */
    int draining;
    int in_drain;
    lws_sorted_usec_list_t tick;
    uv_loop_t loop;           /* ours, lent to lws: epoll, not lws's default poll() */
    int loop_ready;
    uv_prepare_t prepare;     /* before_poll: reads the broker before the loop sleeps */
    int drain_pending;
    unsigned char *scratch;   /* LWS_PRE + the frames of one send (outbox.c) */
    size_t scratch_size;
    uint64_t *dirty;          /* sessions with frames queued this turn (outbox.c) */
    struct cx_deflate *deflate;   /* CHANX_COMPRESSION on: the one compressor (deflate.h) */
    int handshake_deflate;    /* the handshake in progress accepted permessage-deflate */
    size_t ndirty, dirty_cap;
    cx_keepalive *keepalive;  /* server pings; NULL when CHANX_PING_INTERVAL_MS=0 */
    cx_proxies *proxies;      /* CHANX_TRUSTED_PROXIES */
    size_t buffered;          /* bytes in every session's frame queues (shed.h) */
    size_t buffered_peak;     /* the most buffered has been, for /metrics */
    struct cx_conn_limits *conn_limits;   /* connections per user / anonymous address (conn_limits.h) */
    cx_expiry *expiry;        /* sessions whose JWT expires (expiry.h) */
    cx_revalidate *revalidate;   /* revocation checks (revalidate.h) */
} cx_gateway;

/* upstream.c */
void cx_gw_upstream_drain(cx_gateway *gw);
void cx_gw_upstream_free(cx_gateway *gw);
zhashx_t *cx_gw_groups_new(void);
/* Finds the route for a decoded path; returns the entry and *kwargs, or NULL. */
cx_route_entry *cx_gw_route(cx_gateway *gw, const char *path, json_t **kwargs, const char **target);
/* A session leaves the local group mirror and the session map (the caller destroys it). */
void cx_gw_forget_session(cx_gateway *gw, cx_session *s);
/* Re-announces every connection to a broker that does not know us (RESUME ..., RESUME 0). */
void cx_gw_reintroduce(cx_gateway *gw);

/* events.c: a server-side event for local clients whose consumer passes it through */
void cx_gw_on_event(cx_gateway *gw, const cx_env *env);
/* One event (an EVENT, or a HISTORY replaying a held one) to s, when its consumer passes the action
 * through; stamped "seq": env->seq (the group's), else a topic broadcast's own (EVENT's topic_seq). */
void cx_gw_deliver_event(cx_gateway *gw, cx_session *s, const cx_env *env);

/* outbox.c */
/* Queues a+b as one text frame for the client (b may be NULL); written before the loop next waits. */
void cx_gw_queue(cx_gateway *gw, cx_session *s, const char *a, size_t alen, const char *b, size_t blen);
/* Writes every session's frames queued this turn, one send each. */
void cx_gw_flush_dirty(cx_gateway *gw);
/* A frame verdict of wire.h (cx_wire_collect's act): close frame answered, or the connection failed. */
void cx_gw_on_wire_verdict(uint64_t conn, int code, const char *reason, int is_close, void *arg);
/* LWS_CALLBACK_SERVER_WRITEABLE: more of the queue, then the close frame; -1 closes. */
int cx_gw_on_writeable(cx_gateway *gw, cx_session *s);

/* callbacks.c: the lws protocols table the context is created with */
extern const struct lws_protocols cx_gw_protocols[];

/* clients.c */
/* LWS_CALLBACK_ESTABLISHED: a session in *slot, authentication submitted (or a close queued). */
void cx_gw_on_established(cx_gateway *gw, struct lws *wsi, cx_session **slot);
/* The database pool's verdicts: admit (CONNECT, then the held frames) or refuse. */
void cx_gw_collect_auth_results(cx_gateway *gw);
/* LWS_CALLBACK_RECEIVE: a fragment of a client message (reassembled here). */
void cx_gw_on_receive(cx_gateway *gw, struct lws *wsi, cx_session *s, const void *in, size_t len);
/* LWS_CALLBACK_CLOSED: DISCONNECT if announced; destroys *slot. */
void cx_gw_on_closed(cx_gateway *gw, cx_session **slot, int code);
void cx_gw_close_everyone(cx_gateway *gw, int code);
/* Each tick and wake: ends connections whose JWT expired (4401 "Token expired"), starts a
 * revalidation round when due, and ends the connections a finished round found revoked (4401). */
void cx_gw_check_credentials(cx_gateway *gw);

#endif
