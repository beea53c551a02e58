/*
 * broker_internal.h — the broker's state and the functions its files share:
 * the loop (broker.c), the dispatch (dispatch.c), sending (send.c), peers
 * (peers.c), connections (conns.c), events from the application (events.c)
 * and the rebuild after a restart (rebuild.c). Not a public header: only
 * broker/ includes it. Everything runs on the broker's one thread.
 */
#ifndef CX_BROKER_BROKER_INTERNAL_H
#define CX_BROKER_BROKER_INTERNAL_H

#include <czmq.h>
#include "broker/broker.h"
#include "broker/groups.h"
#include "broker/roles.h"
#include "broker/route_table.h"
#include "broker/users.h"
#include "broker/zap.h"
#include "common/idmap.h"
#include "proto/batch.h"
#include "proto/envelope.h"

#define MAX_IDENTITY 255
#define MAX_OFFENCES 10

typedef struct cx_rebuild cx_rebuild;

typedef struct {
    char id[MAX_IDENTITY + 1];   /* ZeroMQ routing id, the peer's node name */
    size_t idlen;
    cx_role role;
    const cx_role_rule *rule;    /* what it may send (roles.c) */
    char key[41];                /* its CURVE public key (Z85), "" on plain links: offences count here (bans.h) */
    uint64_t pid;
    int64_t last_heard;
    cx_idmap *conns;             /* conn id → conn */
    cx_batch *out;               /* what this loop turn sends it, when its HELLO said it reads batches (send.c) */
} peer;

typedef struct {
    uint64_t id;
    peer *gateway;
    peer *worker;
    int64_t user_id;             /* authenticated user, 0 anonymous: for events to a user */
    char **groups;
    size_t ngroups;
} conn;

struct cx_broker {
    zsock_t *router;
    void *handle;
    zhashx_t *peers;             /* routing id → peer */
    cx_idmap *conns;
    cx_groups *groups;
    cx_groups *worker_groups;    /* the same membership counted per worker: events for receive_event */
    cx_users *users;             /* user id → connections */
    cx_route_table *routes;
    cx_decoder *dec;
    cx_encoder *enc;
    int64_t last_beat;
    size_t batch_max;            /* cx_link_batch_max(): no batch the peer's link would refuse */
    cx_zap *zap;                 /* NULL with plain links */
    struct cx_bans *bans;        /* keys (or routing ids) dropped for repeated offences, until a restart */
    cx_rebuild *rebuild;         /* state re-announced by peers after a restart (rebuild.c) */
};

/* dispatch.c */
/* What ZAP said of the ZeroMQ message an envelope came in (both NULL without CURVE): the name of its
 * key's role (User-Id) and the key itself (CX_ZAP_KEY_PROPERTY, what bans go by). Passed apart from
 * the body because an envelope taken out of a batch has no metadata of its own. */
typedef struct {
    const char *role;
    const char *key;
} cx_sender;
/* Decodes and handles one envelope from the peer whose routing id is id (the broker's whole dispatch). */
void cx_broker_dispatch(cx_broker *self, cx_decoder *dec, const char *id, size_t idlen, zmq_msg_t *body,
                        const cx_sender *from);

/* send.c: nothing blocks; a peer that cannot take a message loses it (logged at debug). */
/* Forwards the received body; msg stays usable by the caller (refcounted copy). */
void cx_broker_forward(cx_broker *self, const peer *p, zmq_msg_t *msg);
/* Sends what the loop turn batched for each peer (send.c): before the loop waits, and before a peer goes. */
void cx_broker_flush(cx_broker *self);
void cx_broker_flush_peer(cx_broker *self, const peer *p);
void cx_broker_send_env(cx_broker *self, const peer *p, const cx_env *env);
/* HELLO to a routing id the broker does not know: "who are you?". */
void cx_broker_send_identity_request(cx_broker *self, const char *id, size_t idlen);
void cx_broker_close_at_gateway(cx_broker *self, const peer *gateway, uint64_t id, uint32_t code, const char *reason);
/* ROUTES to every gateway. */
void cx_broker_publish_routes(cx_broker *self);
/* A group fan-out in progress: cx_broker_fanout_forward sends msg to each peer cx_groups_gateways names. */
typedef struct {
    cx_broker *self;
    zmq_msg_t *msg;
    uint32_t peers;   /* how many it went to */
} cx_broker_fanout;
void cx_broker_fanout_forward(void *peer, void *arg);

/* peers.c */
/* The current peers, as an array the caller frees: safe to iterate while peers are removed. */
peer **cx_broker_peers_snapshot(cx_broker *self, size_t *n);
/* zhashx destructor of the peers table. */
void cx_broker_peer_free(void **item);
/* Takes a peer out of service: its connections are closed on the other side. */
void cx_broker_peer_remove(cx_broker *self, peer *p, const char *why);
/* HELLO from id; known is the peer already under that id (or NULL), key_rule its CURVE key's role and
 * key the key itself (Z85; NULL on plain links). */
void cx_broker_on_hello(cx_broker *self, const char *id, size_t idlen, peer *known, const cx_env *env,
                        const cx_role_rule *key_rule, const char *key);
void cx_broker_offence(cx_broker *self, peer *p, const cx_env *env, const char *why);
/* Sends heartbeats when due and removes peers silent past the timeout. */
void cx_broker_heartbeat(cx_broker *self);

/* conns.c */
/* A connection's end on the broker's side (membership, pins); the caller tells whom it must. */
void cx_broker_conn_forget(cx_broker *self, conn *c);
/* 1 joined, 0 already a member, -1 out of memory. */
int cx_broker_conn_join(cx_broker *self, conn *c, cx_slice group);
/* 1 left, 0 not a member. */
int cx_broker_conn_part(cx_broker *self, conn *c, cx_slice group);
/* Sets the connection's worker and counts its groups for that worker (events for receive_event). */
void cx_broker_conn_pin_worker(cx_broker *self, conn *c, peer *worker);
/* The worker serving target with the fewest connections, or NULL. */
peer *cx_broker_least_loaded_worker(cx_broker *self, cx_slice target);

/* events.c: EVENT or CLOSE_TARGET from an API peer, answered with RESULT. */
void cx_broker_on_api_envelope(cx_broker *self, peer *api, const cx_env *env, zmq_msg_t *msg);

/* rebuild.c: after a broker restart (or a standby's takeover) gateways and workers re-announce the
 * connections they hold (RESUME); see rebuild.c. */
cx_rebuild *cx_rebuild_new(void);
void cx_rebuild_destroy(cx_rebuild **self_p);
/* RESUME from a known peer. */
void cx_rebuild_on_resume(cx_broker *self, peer *p, const cx_env *env);
/* While the rebuild window is open, traffic about connections waits, in arrival order: 1 when body
 * was taken (copied) to be dispatched when the window closes. */
int cx_rebuild_defer(cx_broker *self, const peer *p, const cx_env *env, zmq_msg_t *body, const cx_sender *from);
/* An envelope from a peer the broker does not know yet (it sent before its HELLO reached us): kept
 * until its introduction ends (RESUME 0). Returns 1 for the first one held (ask who it is). */
int cx_rebuild_hold_stranger(cx_broker *self, const char *id, zmq_msg_t *body, const cx_sender *from);
/* Bytes held for peers that have not said HELLO yet (bounded: CHANX_BROKER_STRANGER_MAX_BYTES). */
size_t cx_rebuild_stranger_bytes(const cx_broker *self);
/* A connection ended because its gateway or worker was declared dead: if that peer comes back and
 * re-announces it, it is told at once instead of opening a rebuild window. */
void cx_rebuild_ended(cx_broker *self, uint64_t conn);
/* Closes the window when due: replays what waited, ends connections only one side re-announced. */
void cx_rebuild_tick(cx_broker *self);

#endif
