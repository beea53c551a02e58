/*
 * session.h — one client WebSocket at the gateway.
 *
 * A session buffers in both directions because the two sides run at their
 * own pace: frames from the client wait while authentication is in flight
 * (the worker must see them after CONNECT, in order), and frames for the
 * client wait until libwebsockets says the socket is writable. Both queues
 * are bounded; a client that does not read is closed rather than allowed to
 * grow the gateway without limit.
 */
#ifndef CX_GATEWAY_SESSION_H
#define CX_GATEWAY_SESSION_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <libwebsockets.h>
#include "common/idmap.h"
#include "gateway/expiry.h"
#include "gateway/idle_wheel.h"
#include "gateway/throttle.h"

typedef enum { SESSION_AUTHENTICATING, SESSION_CONNECTED, SESSION_CLOSING } cx_session_state;

typedef struct cx_frame {
    struct cx_frame *next;
    size_t len;
    int rsv1;               /* the payload is permessage-deflate compressed (deflate.h) */
    unsigned char data[];   /* LWS_PRE bytes of headroom, then len bytes */
} cx_frame;

typedef struct {
    cx_frame *head, *tail;
    size_t bytes;
    size_t count;
    size_t *total;   /* when set, bytes are counted there too: the gateway's sum (shed.h) */
} cx_frame_queue;

typedef struct cx_session {
    uint64_t id;
    struct lws *wsi;
    cx_session_state state;
    char *target;             /* consumer name */
    struct cx_consumer_spec *spec;   /* its edge spec (a reference): which events pass through */
    json_t *kwargs;
    char *path, *query, *client, *headers;   /* for CONNECT, freed once it is sent */
    int64_t user_id;
    cx_frame_queue out;       /* to the client */
    size_t unacked;           /* at most this much of what we wrote the kernel (and lws) still hold for
                               * the client: refreshed from SIOCOUTQ only when the bound is near (outbox.c) */
    size_t last_write;        /* bytes of the last write: what lws may still hold of it (partial) */
    uint64_t peer_acked, peer_received;   /* the client's TCP progress at the last quiet look (keepalive.c) */
    int peer_baseline;        /* peer_acked and peer_received were read */
    cx_frame_queue pending;   /* from the client, before CONNECT */
    unsigned char *rx;        /* a fragmented message being reassembled */
    size_t rxlen;
    char **groups;
    size_t ngroups;
    uint64_t fanout_stamp;    /* last group send delivered, to deliver once per send */
    uint64_t split_stamp;     /* the same for sends split over several GROUP_SENDs (CX_GROUP_SPLIT) */
    int announced;            /* CONNECT was sent: the broker must hear DISCONNECT */
    char *connect_again;      /* that CONNECT, encoded: sent again on REPIN, flagged CX_USER_RESTARTED */
    size_t connect_again_len;
    int dirty;                /* in the gateway's list of sessions to flush this turn */
    int peer_close_code;      /* the code the client closed with */
    int close_code;           /* non-zero: close once the queue is flushed */
    int close_sent;           /* our close frame is out: waiting for the client's */
    int close_now;            /* end the TCP connection right after our close frame (wire.h verdicts) */
    int deflate;              /* permessage-deflate was negotiated: messages go compressed */
    char close_reason[64];
    cx_idle_entry idle;       /* when the client last sent something (keepalive.h) */
    cx_expiry_entry expiry;   /* when its JWT expires (expiry.h); not filed: never */
    cx_throttle throttle;     /* its message rate so far (throttle.h) */
    int64_t closing_behind_us;   /* when a close answering a message went the ordered way (clients.c), else 0 */
    int closing_behind_code;
    const char *closing_behind_reason;   /* a static string */
} cx_session;

cx_session *cx_session_new(uint64_t id, struct lws *wsi);
void cx_session_destroy(cx_session **self_p);
/* Closes once the session's queue is flushed (outbox.c writes the close frame when lws says the
 * socket is writable); the first code wins, reason is cut to 63 bytes. */
void cx_session_close(cx_session *self, int code, const char *reason);
/* A copy of the sessions in map (conn id → cx_session), to iterate while closing edits the map; the
 * caller frees it. *n = 0 when out of memory. */
cx_session **cx_session_snapshot(const cx_idmap *map, size_t *n);
/* Frees what only CONNECT needed (path, query, headers, kwargs, client): the
 * worker has them now, and an idle connection should cost the gateway as
 * little as possible. */
void cx_session_forget_request(cx_session *self);

/* Appends a copy of data; -1 when out of memory. */
int cx_frame_queue_push(cx_frame_queue *q, const void *data, size_t len);
/* Appends prefix+suffix as one frame (group deliveries with is_mine/is_current). */
int cx_frame_queue_push2(cx_frame_queue *q, const void *a, size_t alen, const void *b, size_t blen);
cx_frame *cx_frame_queue_pop(cx_frame_queue *q);
void cx_frame_queue_clear(cx_frame_queue *q);

int cx_session_join(cx_session *self, const char *group, size_t len);
int cx_session_leave(cx_session *self, const char *group, size_t len);

#endif
