/*
 * rebuild.c — a restarted broker learns its state back from its peers.
 *
 * A broker keeps nothing on disk: pins, group membership and the route
 * table live in its memory. But each fact also lives at the edge: a gateway
 * knows its connections and their groups, a worker knows the connections
 * pinned to it and its routes. So when a broker starts (after a crash, or a
 * standby taking over), every peer that reconnects introduces itself again
 * (HELLO, a worker's REGISTER) and re-announces what it holds, one RESUME
 * per connection (a gateway's with the connection's groups and user), then
 * RESUME 0.
 * A connection is whole again when both its gateway and its worker have
 * announced it; clients never notice.
 *
 * Order and loss. Envelopes a peer sent while the broker was down wait in
 * the peer's ZeroMQ queue and arrive before its HELLO; they are held per
 * peer (hold_stranger) until its introduction ends, then handled in order.
 * The first RESUME of a connection opens a rebuild window
 * (CHANX_REBUILD_MS, default the heartbeat timeout + 1 s: every live peer
 * has redialled and announced by then), which stays open at least half of
 * that after the last RESUME that told the broker something new (peers on a
 * loaded machine come back one by one), up to three times its length; during it every envelope about
 * connections (a new one's CONNECT included) waits in one queue in arrival order, since a group message
 * must not reach only the gateways that happened to be back first. When the
 * window closes the queue is replayed, then connections announced by only
 * one side are ended: a gateway's whose worker did not come back gets CLOSE
 * 1011 (its consumer died), a worker's whose gateway did not gets DISCONNECT
 * 1006. What the old broker had read but not yet forwarded when it died is
 * lost, with one exception: a GROUP_ADD lost that way would leave the
 * connection out of its group for good (the gateway never mirrored it, so
 * its RESUME lacks it) while the consumer believes it joined. A worker's
 * RESUME therefore carries the groups it told the broker about
 * (workers/memberships.h); when the window closes, before the replay, the
 * broker joins each whole connection to those the gateway did not announce
 * and sends the gateway the GROUP_ADD it missed.
 *
 * Not every unknown RESUME is a restart: a peer this broker declared dead
 * (silent past the heartbeat timeout) and whose connections it already
 * ended comes back announcing them. Those ids are remembered for a minute
 * (cx_rebuild_ended) and answered at once (DISCONNECT 1006 to a worker,
 * CLOSE 1011 to a gateway), so one stalled peer does not pause everyone's
 * traffic for a rebuild window.
 *
 * Layering. This file decides what waits and what is ended; it never
 * handles an envelope itself nor judges a peer. What waited is handed back
 * as a replay queue (cx_rebuild_take_released) that broker.c replays
 * through the dispatch, and a RESUME that breaks the rules comes back to
 * the dispatch as an offence (cx_rebuild_on_resume's answer), which peers.c
 * judges. It calls only down: conns.c, send.c, replay_queue.c.
 */
#include "broker/broker_internal.h"
#include "common/env.h"
#include "common/link.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

#define MAX_HELD 200000          /* envelopes held or deferred at once; beyond, dropped with a warning */
#define STRANGER_TTL_MS 10000    /* a peer that never introduces itself: its envelopes are dropped */
#define ENDED_TTL_MS 60000       /* how long ids of connections ended with a dead peer are remembered */

typedef struct {
    cx_replay_queue *queue;
    int64_t first;
    int warned;                  /* its drops were logged */
} stranger;

typedef struct {
    char **names;
    size_t n;
} worker_said;

struct cx_rebuild {
    int64_t until;               /* the window's end, 0 when closed */
    int64_t opened;              /* when it opened */
    cx_replay_queue *deferred;   /* traffic about connections while the window is open */
    zhashx_t *strangers;         /* routing id → stranger */
    cx_replay_queue *released;   /* ready to replay (cx_rebuild_take_released), NULL when nothing is */
    size_t stranger_bytes;       /* held for all strangers */
    size_t stranger_max, strangers_max;   /* CHANX_BROKER_STRANGER_MAX_BYTES, _STRANGERS_MAX_BYTES */
    size_t nheld;                /* in deferred, strangers and released */
    int warned;
    size_t resumed, replayed;
    cx_idmap *ended;             /* conn id → expiry (ms, as a pointer): ended when their peer died */
    cx_idmap *worker_groups;     /* conn id → worker_said: the groups its worker's RESUME named */
    int64_t next_purge;
};

static int hold(cx_rebuild *r, cx_replay_queue *q, const char *id, zmq_msg_t *body, const cx_sender *from)
{
    if (r->nheld >= MAX_HELD) {
        if (!r->warned++)
            cx_warn("more than %d envelopes waiting for the broker's rebuild: dropping the rest", MAX_HELD);
        return -1;
    }
    if (cx_replay_queue_push(q, id, body, from) != 0)
        return -1;
    r->nheld++;
    return 0;
}

/* What waited in q becomes ready to replay, after what already is; q is taken. */
static void release(cx_rebuild *r, cx_replay_queue **q_p)
{
    if (!*q_p)
        return;
    if (!r->released) {
        r->released = *q_p;
        *q_p = NULL;
        return;
    }
    if (cx_replay_queue_append(r->released, *q_p) != 0) {
        r->nheld -= cx_replay_queue_size(*q_p);
        cx_warn("out of memory: %zu envelopes held for the broker's rebuild dropped", cx_replay_queue_size(*q_p));
    }
    cx_replay_queue_destroy(q_p);
}

cx_replay_queue *cx_rebuild_take_released(cx_rebuild *r)
{
    cx_replay_queue *q = r->released;
    r->released = NULL;
    if (q) {
        r->nheld -= cx_replay_queue_size(q);
        r->replayed += cx_replay_queue_size(q);
    }
    return q;
}

static void stranger_free(void **item)
{
    stranger *s = *item;
    if (!s)
        return;
    cx_replay_queue_destroy(&s->queue);
    free(s);
    *item = NULL;
}

cx_rebuild *cx_rebuild_new(void)
{
    cx_rebuild *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->strangers = zhashx_new();
    r->ended = cx_idmap_new();
    r->worker_groups = cx_idmap_new();
    if (!r->strangers || !r->ended || !r->worker_groups) {
        cx_rebuild_destroy(&r);
        return NULL;
    }
    zhashx_set_destructor(r->strangers, stranger_free);
    r->stranger_max = (size_t) cx_env_long("CHANX_BROKER_STRANGER_MAX_BYTES", 16L << 20, 0, 1L << 40);
    r->strangers_max = (size_t) cx_env_long("CHANX_BROKER_STRANGERS_MAX_BYTES", 64L << 20, 0, 1L << 40);
    return r;
}

static void worker_said_free(uint64_t id, void *value, void *arg)
{
    (void) id;
    (void) arg;
    worker_said *w = value;
    for (size_t i = 0; i < w->n; i++)
        free(w->names[i]);
    free(w->names);
    free(w);
}

static void worker_groups_clear(cx_rebuild *r)
{
    if (!r->worker_groups)
        return;
    cx_idmap_foreach(r->worker_groups, worker_said_free, NULL);
    cx_idmap_destroy(&r->worker_groups);
    r->worker_groups = cx_idmap_new();
}

/* Remembers the groups a worker's RESUME names (a union: a worker may re-announce more than once). */
static void worker_groups_note(cx_rebuild *r, uint64_t conn, const cx_env *env)
{
    if (!r->worker_groups)
        return;
    worker_said *w = cx_idmap_get(r->worker_groups, conn);
    if (!w && (!(w = calloc(1, sizeof *w)) || cx_idmap_put(r->worker_groups, conn, w) < 0)) {
        free(w);
        return;
    }
    for (uint32_t i = 0; i < env->ngroups; i++) {
        size_t j = 0;
        while (j < w->n && !cx_slice_eq(env->groups[i], w->names[j]))
            j++;
        if (j < w->n)
            continue;
        char *name = cx_slice_dup(env->groups[i]);
        char **grown = name ? realloc(w->names, (w->n + 1) * sizeof *grown) : NULL;
        if (!grown) {
            free(name);
            return;
        }
        w->names = grown;
        w->names[w->n++] = name;
    }
}

/* The memberships the worker announced and the gateway did not: a GROUP_ADD the old broker died with. */
static void rejoin_one(uint64_t id, void *value, void *arg)
{
    cx_broker *self = arg;
    worker_said *w = value;
    cx_broker_conn *c = cx_idmap_get(self->conns, id);
    if (!c || !c->gateway || !c->worker)
        return;   /* ended below as incomplete */
    for (size_t i = 0; i < w->n; i++) {
        cx_env add = { .type = CX_ENV_GROUP_ADD, .conn = id, .group = cx_slice_of(w->names[i]) };
        if (cx_broker_conn_join(self, c, add.group) == 1)
            cx_broker_send_env(self, c->gateway, &add);
    }
}

void cx_rebuild_destroy(cx_rebuild **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_rebuild *r = *self_p;
    cx_replay_queue_destroy(&r->deferred);
    cx_replay_queue_destroy(&r->released);
    zhashx_destroy(&r->strangers);
    cx_idmap_destroy(&r->ended);
    if (r->worker_groups)
        cx_idmap_foreach(r->worker_groups, worker_said_free, NULL);
    cx_idmap_destroy(&r->worker_groups);
    free(r);
    *self_p = NULL;
}

static int rebuild_ms(void)
{
    return (int) cx_env_long("CHANX_REBUILD_MS", cx_heartbeat_timeout_ms() + 1000, 0, 600000);
}

/* Held bytes are bounded per stranger and for all of them: before HELLO, a peer is only a key (an api
 * key's holder among them), and 30 envelopes of 8 MB took a broker from 12 to 241 MB. What passes a
 * bound is dropped, logged once per stranger. */
int cx_rebuild_hold_stranger(cx_rebuild *r, const char *id, zmq_msg_t *body, const cx_sender *from)
{
    stranger *s = zhashx_lookup(r->strangers, id);
    int first = !s;
    if (!s) {
        if (!(s = calloc(1, sizeof *s)) || !(s->queue = cx_replay_queue_new())) {
            free(s);
            return 1;
        }
        s->first = cx_now_ms();
        zhashx_insert(r->strangers, id, s);
    }
    size_t size = zmq_msg_size(body), held = cx_replay_queue_bytes(s->queue);
    if (held + size > r->stranger_max || r->stranger_bytes + size > r->strangers_max) {
        if (!s->warned++)
            cx_log_fields(CX_LOG_WARNING, "envelopes of a peer that has not said HELLO dropped: over the bound",
                          json_pack("{s:s, s:I, s:I, s:I, s:I}", "peer", id, "held", (json_int_t) held,
                                    "bound", (json_int_t) r->stranger_max, "all_strangers",
                                    (json_int_t) r->stranger_bytes, "all_bound", (json_int_t) r->strangers_max));
        return first;
    }
    if (hold(r, s->queue, id, body, from) == 0)
        r->stranger_bytes += size;
    return first;
}

size_t cx_rebuild_stranger_bytes(const cx_rebuild *r)
{
    return r->stranger_bytes;
}

int cx_rebuild_defer(cx_rebuild *r, const char *id, zmq_msg_t *body, const cx_sender *from)
{
    if (!r->until || (!r->deferred && !(r->deferred = cx_replay_queue_new())))
        return 0;
    return hold(r, r->deferred, id, body, from) == 0;
}

/* The peer's introduction is over: what it sent before it is ready to replay, in order. */
static void release_stranger(cx_rebuild *r, const cx_broker_peer *p)
{
    stranger *s = zhashx_lookup(r->strangers, p->id);
    if (!s)
        return;
    r->stranger_bytes -= cx_replay_queue_bytes(s->queue);
    release(r, &s->queue);
    zhashx_delete(r->strangers, p->id);
}

void cx_rebuild_ended(cx_broker *self, uint64_t conn)
{
    cx_idmap_put(self->rebuild->ended, conn, (void *) (uintptr_t) (cx_now_ms() + ENDED_TTL_MS));
}

static void collect_expired(uint64_t id, void *value, void *arg)
{
    uint64_t **out = arg;
    if ((int64_t) (uintptr_t) value < cx_now_ms())
        *(*out)++ = id;
}

static void purge_ended(cx_rebuild *r)
{
    size_t n = cx_idmap_size(r->ended);
    uint64_t *ids = n ? malloc(n * sizeof *ids) : NULL, *end = ids;
    if (ids)
        cx_idmap_foreach(r->ended, collect_expired, &end);
    for (uint64_t *id = ids; id && id < end; id++)
        cx_idmap_remove(r->ended, *id);
    free(ids);
}

/* A worker's RESUME also says who the connection's user is and since when (presence.c), whether its
 * groups push presence, and the history its consumer declares for its groups: a restarted broker keeps stamping them (with new
 * epochs: what the old one held is gone, and recovery says so). */
static void note_presence_and_history(cx_broker *self, cx_broker_conn *c, const cx_env *env)
{
    if (!c->username && env->username.len)
        c->username = cx_slice_dup(env->username);
    if (!c->connected_ms)
        c->connected_ms = (int64_t) env->connected_ms;
    for (uint32_t i = 0; (env->flags & CX_GROUP_ADD_PRESENCE) && i < env->ngroups; i++) {
        char *name = cx_slice_dup(env->groups[i]);
        if (name)
            cx_broker_presence_track(self, name);   /* its members so far counted; those to come too */
        free(name);
    }
    for (uint32_t i = 0; env->history_size && i < env->ngroups; i++) {
        char *name = cx_slice_dup(env->groups[i]);
        if (name && cx_history_declare(self->history, name, env->history_size, env->history_ttl_ms, cx_now_ms()) == 2)
            cx_broker_replicate_start(self, name);
        free(name);
    }
}

const char *cx_rebuild_on_resume(cx_broker *self, cx_broker_peer *p, const cx_env *env)
{
    cx_rebuild *r = self->rebuild;
    if (env->conn == 0) {
        release_stranger(r, p);
        return NULL;
    }
    cx_broker_conn *known = cx_idmap_get(self->conns, env->conn);
    if ((!known && cx_idmap_get(r->ended, env->conn)) || (known && cx_broker_conn_ending(known))) {
        /* this broker ended it when the peer was declared dead (kept: a peer may re-announce twice), or
         * is ending it in slices (endings.c): end it on the peer's side too */
        if (p->role == CX_ROLE_GATEWAY) {
            cx_broker_close_at_gateway(self, p, env->conn, 1011, "worker lost");
        } else {
            cx_env gone = { .type = CX_ENV_DISCONNECT, .conn = env->conn, .code = 1006 };
            cx_broker_send_env(self, p, &gone);
        }
        return NULL;
    }
    if (!r->until) {
        r->opened = cx_now_ms();
        r->until = r->opened + rebuild_ms();
        self->rebuilding = 1;   /* memberships come back: not news for presence pushes (presence.c) */
        r->resumed = r->replayed = 0;
        r->warned = 0;
        cx_log_fields(CX_LOG_WARNING, "rebuilding state from peers",
                      json_pack("{s:s, s:i}", "first", p->id, "window_ms", rebuild_ms()));
    }
    cx_broker_conn *c = cx_idmap_get(self->conns, env->conn);
    if (!c) {
        if (!(c = calloc(1, sizeof *c)))
            return NULL;
        c->id = env->conn;
        cx_idmap_put(self->conns, c->id, c);
        r->resumed++;
    }
    cx_broker_peer **side = p->role == CX_ROLE_GATEWAY ? &c->gateway : &c->worker;
    if (*side && *side != p)
        return "re-announced a connection another peer holds";
    if (!*side) {
        if (p->role == CX_ROLE_GATEWAY)
            *side = p;
        else
            cx_broker_conn_pin_worker(self, c, p);   /* its groups may have come first, from the gateway */
        cx_idmap_put(p->conns, c->id, c);
        int64_t later = cx_now_ms() + rebuild_ms() / 2, cap = r->opened + 3 * (int64_t) rebuild_ms();
        if (later > r->until)   /* peers are still coming back: wait for the rest */
            r->until = later < cap ? later : cap;
    }
    if (p->role == CX_ROLE_GATEWAY && env->user_id > 0 && c->user_id == 0) {
        c->user_id = env->user_id;   /* the gateway authenticated it: events to a user reach it again */
        cx_users_add(self->users, c->user_id, c->id, c);
    }
    for (uint32_t i = 0; p->role == CX_ROLE_GATEWAY && i < env->ngroups; i++)
        cx_broker_conn_join(self, c, env->groups[i]);
    if (p->role == CX_ROLE_WORKER)
        note_presence_and_history(self, c, env);
    if (p->role == CX_ROLE_WORKER && env->ngroups > 0)
        worker_groups_note(r, c->id, env);
    return NULL;
}

static void end_incomplete(uint64_t id, void *value, void *arg)
{
    (void) id;
    cx_broker_conn ***out = arg;
    cx_broker_conn *c = value;
    if (!c->gateway || !c->worker)
        *(*out)++ = c;
}

int cx_rebuild_tick(cx_broker *self)
{
    cx_rebuild *r = self->rebuild;
    int64_t now = cx_now_ms();
    if (now >= r->next_purge) {
        purge_ended(r);
        r->next_purge = now + 10000;
    }
    for (stranger *s = zhashx_first(r->strangers); s; s = zhashx_next(r->strangers))
        if (now - s->first > STRANGER_TTL_MS) {   /* never introduced itself: drop (one per tick) */
            r->nheld -= cx_replay_queue_size(s->queue);
            r->stranger_bytes -= cx_replay_queue_bytes(s->queue);
            zhashx_delete(r->strangers, zhashx_cursor(r->strangers));
            break;
        }
    if (!r->until || now < r->until)
        return 0;
    r->until = 0;
    if (r->worker_groups)
        cx_idmap_foreach(r->worker_groups, rejoin_one, self);   /* before the replay: they were sent before it */
    worker_groups_clear(r);
    self->rebuilding = 0;
    release(r, &r->deferred);
    return 1;
}

void cx_rebuild_end_incomplete(cx_broker *self)
{
    cx_rebuild *r = self->rebuild;
    size_t n = cx_idmap_size(self->conns), ended = 0;
    cx_broker_conn **list = malloc((n + 1) * sizeof *list), **end = list;
    if (list)
        cx_idmap_foreach(self->conns, end_incomplete, &end);
    for (cx_broker_conn **c = list; c && c < end; c++, ended++) {
        if ((*c)->gateway) {
            cx_broker_close_at_gateway(self, (*c)->gateway, (*c)->id, 1011, "worker lost");
        } else {
            cx_env gone = { .type = CX_ENV_DISCONNECT, .conn = (*c)->id, .code = 1006 };
            cx_broker_send_env(self, (*c)->worker, &gone);
        }
        cx_broker_conn_forget(self, *c);
    }
    free(list);
    cx_log_fields(CX_LOG_WARNING, "state rebuilt",
                  json_pack("{s:I, s:I, s:I, s:I}", "connections", (json_int_t) cx_idmap_size(self->conns),
                            "resumed", (json_int_t) r->resumed, "ended", (json_int_t) ended, "replayed",
                            (json_int_t) r->replayed));
}
