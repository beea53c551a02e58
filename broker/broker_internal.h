/*
 * broker_internal.h — the broker's state and the functions its files share.
 * Not a public header: only broker/ includes it. Everything runs on the
 * broker's one thread.
 *
 * The files call each other in one direction only (broker/README.md has the
 * map; a layer check in make test holds it):
 *
 *   broker.c      the loop: reads, dispatches, replays what the rebuild released
 *   dispatch.c    the table envelope type → handler
 *   events.c      EVENT and CLOSE_TARGET from the application
 *   presence.c    PRESENCE: who is in a group
 *   recovery.c    group sends on groups with a history, a join's replay, copies to a standby
 *   standby.c     a standby's side: the primary's histories, copied
 *   worker_exit.c WORKER_EXIT from a worker supervisor: a worker process died
 *   repin.c       that process's other connections moved to a live worker
 *   peers.c       who the peers are, offences, heartbeats, route publishing
 *   rebuild.c     state learned back after a restart; what waits meanwhile
 *   conns.c       a connection's pins, groups and the RECEIVEs its worker has not handled
 *   send.c        what leaves the ROUTER socket
 *
 * and below them the tables with their own headers (replay_queue, groups,
 * users, route_table, roles, zap, metrics). A file calls only files below
 * it: a lower file that needs something done above returns it (the rebuild
 * returns an offence and a replay queue) instead of calling up.
 */
#ifndef CX_BROKER_BROKER_INTERNAL_H
#define CX_BROKER_BROKER_INTERNAL_H

#include <czmq.h>
#include "broker/broker.h"
#include "broker/groups.h"
#include "broker/history.h"
#include "broker/inflight.h"
#include "broker/replay_queue.h"
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
typedef struct cx_broker_standby cx_broker_standby;
typedef struct cx_broker_endings cx_broker_endings;
typedef struct cx_broker_repins cx_broker_repins;

typedef struct {
    char id[MAX_IDENTITY + 1];   /* ZeroMQ routing id, the peer's node name */
    size_t idlen;
    cx_role role;
    const cx_role_rule *rule;    /* what it may send (roles.c) */
    char key[41];                /* its CURVE public key (Z85), "" on plain links: offences count here (bans.h) */
    uint64_t pid;
    int supervisor;              /* a worker supervisor (HELLO flag): serves nothing, reports WORKER_EXIT */
    int repins;                  /* a gateway that answers REPIN (HELLO flag; repin.c) */
    int acks;                    /* a worker that says which RECEIVEs it handled (HELLO flag; ACK) */
    int reads_quarantine;        /* decodes ROUTES' available 2 (HELLO flag); others get 0 there (peers.c) */
    int64_t last_heard;
    cx_idmap *conns;             /* conn id → conn */
    cx_batch *out;               /* what this loop turn sends it, when its HELLO said it reads batches (send.c) */
    /* Lost, its connections ending in slices (endings.c): out of the peers table, sent nothing more. */
    int gone;
    size_t cursor;               /* where the next slice resumes in conns */
    size_t conns_at_loss, slices;
    int64_t ending_since, longest_slice_ns;   /* monotonic ns, for the log line when the last one ended */
    int64_t longest_slice_cpu_ns;              /* the broker thread's CPU time in its longest slice */
} cx_broker_peer;

/* One group of a connection: the group's record (groups.h), so a leave looks up no name. */
typedef struct {
    cx_group *group;
    int at_worker;               /* counted for the connection's worker (0 until it has one) */
} cx_broker_membership;

typedef struct {
    uint64_t id;
    cx_broker_peer *gateway;
    cx_broker_peer *worker;
    int64_t user_id;             /* authenticated user, 0 anonymous: for events to a user */
    char *username;              /* for presence: from CONNECT, or a worker's RESUME */
    int64_t connected_ms;        /* for presence: when the connection began (Unix ms) */
    cx_broker_membership *groups;
    size_t ngroups;
    /* Re-pinned (repin.c): the groups it was in, still members at the gateway, until its new consumer
     * joins them again (back into groups) or has started without them (they go: conns.c). */
    cx_broker_membership *stale;   /* at_worker 0 */
    size_t nstale;
    cx_inflight *inflight;       /* RECEIVEs forwarded to an acknowledging worker, not handled yet */
    int numbered;                /* its worker got its CONNECT from this broker, so the worker's count of
                                  * handled RECEIVEs is this broker's too (not after a rebuild's RESUME) */
} cx_broker_conn;

struct cx_broker {
    zsock_t *router;
    void *handle;
    zhashx_t *peers;             /* routing id → peer */
    cx_idmap *conns;
    cx_groups *groups;           /* members counted per gateway (group sends) and per worker (receive_event) */
    cx_users *users;             /* user id → connections */
    cx_route_table *routes;
    cx_decoder *dec;
    cx_encoder *enc;
    int64_t last_beat;
    size_t batch_max;            /* cx_link_batch_max(): no batch the peer's link would refuse */
    cx_zap *zap;                 /* NULL with plain links */
    struct cx_bans *bans;        /* keys (or routing ids) dropped for repeated offences, until a restart */
    cx_rebuild *rebuild;         /* state re-announced by peers after a restart (rebuild.c) */
    cx_history *history;         /* groups' held messages, epochs and seqs (history.c) */
    cx_broker_peer *standby;     /* a standby broker following this one: it gets the histories */
    cx_broker_standby *following;   /* this broker is a standby: its link to the primary (standby.c) */
    int64_t history_expired_ms;  /* the last expiry pass */
    zhashx_t *presence_pushed;   /* group → its users' connection counts, for groups with presence pushes */
    int rebuilding;              /* a rebuild window is open (rebuild.c): memberships return, no pushes */
    cx_broker_endings *endings;  /* lost peers whose connections end in slices (endings.c) */
    cx_broker_repins *repins;    /* connections whose worker process died, on their way to another (repin.c) */
    size_t held_max_messages, held_max_bytes;   /* CHANX_REPIN_MAX_MESSAGES / _BYTES: per connection, what
                                                 * a re-pin holds and what inflight.h keeps */
};

/* dispatch.c */
/* Decodes and handles one envelope from the peer whose routing id is id (the broker's whole dispatch);
 * from: what ZAP said of the message it came in (replay_queue.h).
 * Envelopes it holds back wait in the rebuild until broker.c replays them through here again. */
void cx_broker_dispatch(cx_broker *self, const char *id, size_t idlen, zmq_msg_t *body, const cx_sender *from);

/* events.c: from an API peer, answered with RESULT (what it may send is the api row of roles.c). */
void cx_broker_on_event(cx_broker *self, cx_broker_peer *api, const cx_env *env, zmq_msg_t *msg);
void cx_broker_on_close_target(cx_broker *self, cx_broker_peer *api, const cx_env *env, zmq_msg_t *msg);

/* presence.c: PRESENCE from an API peer or a worker, answered with PRESENCE_RESULT. */
void cx_broker_on_presence(cx_broker *self, cx_broker_peer *asker, const cx_env *env, zmq_msg_t *msg);
/* Presence pushes: a group whose consumer asked for them (GROUP_ADD's CX_GROUP_ADD_PRESENCE) tells its
 * members presence_joined when a user's first connection joins it and presence_left when the last
 * one leaves. track starts that for a group (its current members counted, silently); conns.c tells
 * every join and leave. zhashx destructor of the table: cx_broker_presence_free. */
void cx_broker_presence_track(cx_broker *self, const char *group);
void cx_broker_presence_joined(cx_broker *self, const cx_broker_conn *c, const char *group);
void cx_broker_presence_left(cx_broker *self, const cx_broker_conn *c, const char *group);
void cx_broker_presence_free(void **item);

/* recovery.c (history.h holds the messages) */
/* A GROUP_SEND or an EVENT to groups naming at least one group with a history: each such group gets
 * its own envelope to the gateways, with its next seq and epoch (the message held); the others get one
 * envelope together, as before. An EVENT also goes once, as received, to the workers holding members. */
void cx_broker_send_held(cx_broker *self, const cx_env *env);
/* Whether any of the n groups keeps a history (names NUL-terminated). */
int cx_broker_any_held(cx_broker *self, char *const *names, size_t n);
/* After c joined env->group (GROUP_ADD, the membership already forwarded): when the group keeps a
 * history, RECOVERY to c's gateway (with env's topic and ref: a topic's "subscribed"), then, with
 * replay, the held messages after env->since when they cover it. */
void cx_broker_recover(cx_broker *self, cx_broker_conn *c, const cx_env *env, int replay);
/* To the standby, if one follows: a group's history started (its epoch and seq), or everything held
 * (when the standby starts following). */
void cx_broker_replicate_start(cx_broker *self, const char *group);
void cx_broker_replicate_all(cx_broker *self);

/* standby.c: a standby broker follows its primary's histories until it serves peers of its own. */
cx_broker_standby *cx_broker_standby_new(const char *primary);
void cx_broker_standby_destroy(cx_broker_standby **self_p);
void *cx_broker_standby_socket(cx_broker_standby *self);
/* Reads what the primary sent (into self->history) and keeps the link alive. */
void cx_broker_standby_pump(cx_broker *self);
/* worker_exit.c: WORKER_EXIT from a worker supervisor: its child's connections are closed at once
 * (1011 "consumer crashed" for the one whose callback crashed). */
void cx_broker_on_worker_exit(cx_broker *self, cx_broker_peer *supervisor, const cx_env *env, zmq_msg_t *msg);

/* repin.c: the innocent connections of a dead worker process move to a live worker; their clients see
 * no close (see repin.c). */
/* Reads the CHANX_REPIN_* settings (the held bounds into self). */
cx_broker_repins *cx_broker_repins_new(cx_broker *self);
void cx_broker_repins_destroy(cx_broker_repins **self_p);
/* Unpins c and asks its gateway for its CONNECT again (REPIN): 1. 0 when it cannot be re-pinned (a
 * gateway built before REPIN, out of memory): the caller closes it as before. */
int cx_broker_repin_start(cx_broker *self, cx_broker_conn *c);
/* Whether conn waits for its re-pin (its worker is NULL meanwhile). */
int cx_broker_repinning(const cx_broker *self, uint64_t conn);
/* A RECEIVE, or an EVENT, for a waiting connection: held in order (msg is copied), or the client closed
 * 1013 past the bound. */
void cx_broker_repin_hold(cx_broker *self, cx_broker_conn *c, zmq_msg_t *msg);
/* The gateway's CONNECT again for a waiting connection: pinned to the least loaded live worker, the held
 * messages after it; or it waits for one (cx_broker_repin_retry), or closes 1011 "worker lost". */
void cx_broker_repin_connect(cx_broker *self, cx_broker_conn *c, const cx_env *env, zmq_msg_t *msg);
/* The connection ended while waiting (DISCONNECT): its entry and what it held go. */
void cx_broker_repin_drop(cx_broker *self, uint64_t conn);
/* A worker registered routes: the waiting CONNECTs it serves are pinned to it. */
void cx_broker_repin_retry(cx_broker *self);
/* From the loop: those past CHANX_REPIN_TIMEOUT_MS close 1011 "worker lost". */
void cx_broker_repin_expire(cx_broker *self);
/* An EVENT to groups: each waiting connection that was in one of them gets it after its start, as an
 * EVENT to it alone (its receive_event; the gateway already passed a passthrough action through). */
void cx_broker_repin_hold_group_event(cx_broker *self, const cx_env *env);
/* Whether any connection waits (the loop then wakes every 100 ms for the timeout). */
int cx_broker_repin_waiting(const cx_broker *self);

/* peers.c */
/* zhashx destructor of the peers table. */
void cx_broker_peer_free(void **item);
/* Takes a peer out of service: its connections are closed on the other side. */
void cx_broker_peer_remove(cx_broker *self, cx_broker_peer *p, const char *why);
/* HELLO from id; known is the peer already under that id (or NULL), key_rule its CURVE key's role and
 * key the key itself (Z85; NULL on plain links). */
void cx_broker_on_hello(cx_broker *self, const char *id, size_t idlen, cx_broker_peer *known, const cx_env *env,
                        const cx_role_rule *key_rule, const char *key);
void cx_broker_offence(cx_broker *self, cx_broker_peer *p, const cx_env *env, const char *why);
/* Sends heartbeats when due and removes peers silent past the timeout. */
void cx_broker_heartbeat(cx_broker *self);
/* ROUTES to every gateway and API peer (the API checks events against it). */
void cx_broker_publish_routes(cx_broker *self);

/* endings.c: a lost peer's connections end in slices between other work (see endings.c for the rules
 * while they do). */
cx_broker_endings *cx_broker_endings_new(void);
/* Frees a peer's record (the table's destructor, peers.c, for one not gone; endings.c after its last). */
void cx_broker_peer_destroy(cx_broker_peer **p_p);
void cx_broker_endings_destroy(cx_broker_endings **self_p);
/* p, already out of the peers table, is gone: nothing is sent to it any more, and its connections end
 * in the next slices. 0, or -1 when out of memory (they were ended at once and p is not gone). */
int cx_broker_endings_start(cx_broker *self, cx_broker_peer *p);
/* Ends connections of gone peers for up to a slice (2 ms), oldest peer first; frees a peer when its last
 * one ended. */
void cx_broker_endings_slice(cx_broker *self);
int cx_broker_endings_pending(const cx_broker *self);
/* Whether c belongs to a gone peer and waits for its slice (inline: presence.c and rebuild.c, below
 * endings.c, ask it too). */
static inline int cx_broker_conn_ending(const cx_broker_conn *c)
{
    return (c->gateway && c->gateway->gone) || (c->worker && c->worker->gone);
}
/* Ends c (a gone peer's) now: for a lookup that met it, which must then see no connection. */
void cx_broker_end_now(cx_broker *self, cx_broker_conn *c);

/* rebuild.c: after a broker restart (or a standby's takeover) gateways and workers re-announce the
 * connections they hold (RESUME); see rebuild.c. */
cx_rebuild *cx_rebuild_new(void);
void cx_rebuild_destroy(cx_rebuild **self_p);
/* RESUME from a known peer. NULL, or why it is refused: an offence for the caller to count. */
const char *cx_rebuild_on_resume(cx_broker *self, cx_broker_peer *p, const cx_env *env);
/* While the rebuild window is open, traffic about connections waits, in arrival order: 1 when body
 * was taken (copied) to be replayed when the window closes. */
int cx_rebuild_defer(cx_rebuild *r, const char *id, zmq_msg_t *body, const cx_sender *from);
/* An envelope from a peer the broker does not know yet (it sent before its HELLO reached us): kept
 * until its introduction ends (RESUME 0). Returns 1 for the first one held (ask who it is). */
int cx_rebuild_hold_stranger(cx_rebuild *r, const char *id, zmq_msg_t *body, const cx_sender *from);
/* Bytes held for peers that have not said HELLO yet (bounded: CHANX_BROKER_STRANGER_MAX_BYTES). */
size_t cx_rebuild_stranger_bytes(const cx_rebuild *r);
/* What waited and may be handled now (a stranger's introduction ended, the window closed), in
 * arrival order, or NULL; the caller replays it through the dispatch and destroys it. */
cx_replay_queue *cx_rebuild_take_released(cx_rebuild *r);
/* A connection ended because its gateway or worker was declared dead: if that peer comes back and
 * re-announces it, it is told at once instead of opening a rebuild window. */
void cx_rebuild_ended(cx_broker *self, uint64_t conn);
/* Housekeeping, and closes the window when due: returns 1 when it closed, the deferred traffic then
 * waiting in cx_rebuild_take_released; the caller replays it, then calls cx_rebuild_end_incomplete. */
int cx_rebuild_tick(cx_broker *self);
/* After the replay of a closed window: ends the connections only one side re-announced. */
void cx_rebuild_end_incomplete(cx_broker *self);

/* conns.c */
/* A connection's end on the broker's side (membership, pins); the caller tells whom it must. */
void cx_broker_conn_forget(cx_broker *self, cx_broker_conn *c);
/* Frees what the connection itself holds, and it; the groups' records are the groups' (groups.h). The
 * last step of cx_broker_conn_forget, and all a stopping broker does for the connections left. */
void cx_broker_conn_free(cx_broker_conn *c);
/* 1 joined, 0 already a member, -1 out of memory. */
int cx_broker_conn_join(cx_broker *self, cx_broker_conn *c, cx_slice group);
/* 1 left, 0 not a member. */
int cx_broker_conn_part(cx_broker *self, cx_broker_conn *c, cx_slice group);
/* Takes the connection off its worker (worker NULL). It stays a member of its groups at the gateway, so
 * group messages meanwhile reach it; they are stale until its next consumer joins them again. */
void cx_broker_conn_unpin(cx_broker *self, cx_broker_conn *c);
/* Its new consumer has started (its first ACK, or at the pin for a worker without ACK): the stale groups
 * it did not join again are left, the gateway told (GROUP_DISCARD). */
void cx_broker_conn_drop_stale(cx_broker *self, cx_broker_conn *c);
/* A RECEIVE to c's worker; with an acknowledging worker a copy is kept until it is handled. */
void cx_broker_conn_deliver(cx_broker *self, cx_broker_conn *c, zmq_msg_t *msg);
/* ACK from worker: conn's consumer handled its first `handled` RECEIVEs since the pin. */
void cx_broker_conn_handled(cx_broker *self, cx_broker_peer *worker, uint64_t conn, uint64_t handled);
/* Sets the connection's worker and counts its groups for that worker (events for receive_event). */
void cx_broker_conn_pin_worker(cx_broker *self, cx_broker_conn *c, cx_broker_peer *worker);
/* The worker serving target with the fewest connections, or NULL. */
cx_broker_peer *cx_broker_least_loaded_worker(cx_broker *self, cx_slice target);

/* send.c: nothing blocks; a peer that cannot take a message loses it (logged at debug). */
/* Forwards the received body; msg stays usable by the caller (refcounted copy). */
void cx_broker_forward(cx_broker *self, const cx_broker_peer *p, zmq_msg_t *msg);
/* Sends what the loop turn batched for each peer: before the loop waits, and before a peer goes. */
void cx_broker_flush(cx_broker *self);
void cx_broker_flush_peer(cx_broker *self, const cx_broker_peer *p);
void cx_broker_send_env(cx_broker *self, const cx_broker_peer *p, const cx_env *env);
/* Encodes env into a new message for several peers (cx_broker_forward each, then zmq_msg_close). */
int cx_broker_encode_msg(cx_broker *self, const cx_env *env, zmq_msg_t *out);
/* HELLO to a routing id the broker does not know: "who are you?". */
void cx_broker_send_identity_request(cx_broker *self, const char *id, size_t idlen);
void cx_broker_close_at_gateway(cx_broker *self, const cx_broker_peer *gateway, uint64_t id, uint32_t code,
                                const char *reason);
/* A group fan-out in progress: cx_broker_fanout_forward sends msg to each peer cx_groups_gateways names. */
typedef struct {
    cx_broker *self;
    zmq_msg_t *msg;
    uint32_t peers;   /* how many it went to */
} cx_broker_fanout;
void cx_broker_fanout_forward(void *peer, void *arg);

#endif
