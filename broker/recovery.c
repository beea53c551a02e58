/*
 * recovery.c — group sends and application events on groups that keep a
 * history, and what a join to such a group is told.
 *
 * A GROUP_SEND (or an EVENT to groups, from chanx-api) is normally forwarded
 * as received, once per gateway holding members. On a group with a history
 * (history.c) the broker must stamp the message with the group's seq and
 * epoch, so it re-encodes it: one envelope per history group (each has its
 * own seq), plus one for the groups without a history. A member of two such
 * groups therefore gets one copy per group, each with that group's seq: a
 * client tracks a seq per group. An event is held as the gateways deliver
 * it (its text and action: a replay reaches only the connections whose
 * consumer passes the action through, as live delivery does); the workers,
 * where receive_event runs once per recipient, get it once, unstamped.
 *
 * A join (GROUP_ADD) to a history group answers RECOVERY to the joining
 * connection's gateway (the group's epoch and last seq, and whether the
 * since it asked for is covered), then HISTORY, one per held message after
 * that since. The broker handles envelopes one at a time, and all of these
 * go to the gateway through one pipe before any later send: the client gets
 * exactly the missed messages, then the live ones, with no gap and no
 * duplicate across the switch.
 *
 * A standby broker following this one (standby.c) gets every held message
 * and every new group history as HISTORY with conn 0, and everything held
 * when it starts following: a failover keeps epochs, seqs and messages, so
 * recovery across it says recovered: true. The copy is asynchronous: what
 * the primary held but had not yet sent when it died is missing on the
 * standby, and a since asking for it is answered recovered: false (never a
 * silent gap: the standby's seq is behind, so the since is "in the future").
 */
#include "broker/broker_internal.h"
#include "common/link.h"

#include <stdlib.h>
#include <string.h>

/* The peers holding members of groups: cx_groups_gateways or cx_groups_workers. */
typedef void peers_of(cx_groups *self, const char *const *groups, size_t ngroups, void (*fn)(void *peer, void *arg),
                      void *arg);

/* One envelope to every peer (gateway or worker, as peers says) holding members of the n groups. */
static void fan_out(cx_broker *self, peers_of *peers, cx_env *out, const cx_slice *groups, size_t n)
{
    char *names[CX_PROTO_MAX_GROUPS] = { 0 };
    out->ngroups = 0;
    for (size_t i = 0; i < n; i++)
        if ((names[out->ngroups] = cx_slice_dup(groups[i])))
            out->groups[out->ngroups++] = groups[i];
    zmq_msg_t msg;
    if (out->ngroups && cx_broker_encode_msg(self, out, &msg) == 0) {
        cx_broker_fanout f = { self, &msg, 0 };
        peers(self->groups, (const char *const *) names, out->ngroups, cx_broker_fanout_forward, &f);
        zmq_msg_close(&msg);
    }
    for (size_t i = 0; i < out->ngroups; i++)
        free(names[i]);
}

/* One HISTORY with conn 0 to the standby: a held message, or (m NULL) only the group's position. */
static void send_copy(cx_broker *self, const char *group, const char *epoch, uint64_t seq, uint32_t size,
                      uint32_t ttl_ms, const cx_history_message *m)
{
    cx_env h = { .type = CX_ENV_HISTORY, .group = cx_slice_of(group), .seq = seq, .epoch = cx_slice_of(epoch),
                 .history_size = size, .history_ttl_ms = ttl_ms };
    if (m) {
        h.user_id = m->user_id;
        h.flags = m->flags;
        h.text = m->text;
        h.action = m->action;
    }
    cx_broker_send_env(self, self->standby, &h);
}

/* The same for a group of this broker's history, by name (its size and TTL looked up). */
static void replicate(cx_broker *self, const char *group, const char *epoch, uint64_t seq, const cx_history_message *m)
{
    uint32_t size = 0, ttl_ms = 0;
    if (cx_history_bounds(self->history, group, &size, &ttl_ms))
        send_copy(self, group, epoch, seq, size, ttl_ms, m);
}

void cx_broker_replicate_start(cx_broker *self, const char *group)
{
    const char *epoch;
    uint64_t seq;
    if (self->standby && cx_history_current(self->history, group, &epoch, &seq))
        replicate(self, group, epoch, seq, NULL);
}

/* cx_history_each's callback: everything held, to a standby that starts following. */
static void replicate_one(const char *group, const char *epoch, uint64_t seq, uint32_t size, uint32_t ttl_ms,
                          const cx_history_message *m, void *arg)
{
    send_copy(arg, group, epoch, seq, size, ttl_ms, m);
}

void cx_broker_replicate_all(cx_broker *self)
{
    if (self->standby)
        cx_history_each(self->history, replicate_one, self);
}

int cx_broker_any_held(cx_broker *self, char *const *names, size_t n)
{
    const char *epoch;
    uint64_t seq;
    if (!cx_history_any(self->history))   /* no group keeps one: no lookup per group */
        return 0;
    for (size_t i = 0; i < n; i++)
        if (cx_history_current(self->history, names[i], &epoch, &seq))
            return 1;
    return 0;
}

/* What a group send or an event on a history group holds: an event has no sender and no ownership
 * fields; its action lets a replay reach only the connections whose consumer passes it through. */
static cx_history_message held_of(const cx_env *env)
{
    if (env->type == CX_ENV_EVENT)
        return (cx_history_message) { 0, 0, CX_GROUP_NO_OWNERSHIP, env->text, env->action };
    return (cx_history_message) { 0, env->user_id, env->flags, env->text, { NULL, 0 } };
}

void cx_broker_send_held(cx_broker *self, const cx_env *env)
{
    static cx_env out;   /* large (64 group slices): one, the broker has one thread */
    cx_slice plain[CX_PROTO_MAX_GROUPS];
    size_t nplain = 0;
    int64_t now = cx_now_ms();
    cx_history_message m = held_of(env);
    for (uint32_t i = 0; i < env->ngroups; i++) {
        char *name = cx_slice_dup(env->groups[i]);
        const char *epoch = NULL;
        uint64_t seq = name ? cx_history_append(self->history, name, &m, now, &epoch) : 0;
        if (seq && self->standby) {
            m.seq = seq;
            replicate(self, name, epoch, seq, &m);
        }
        free(name);
        if (seq == 0) {
            plain[nplain++] = env->groups[i];
            continue;
        }
        out = *env;
        out.seq = seq;
        out.epoch = cx_slice_of(epoch);
        out.flags &= ~(CX_GROUP_SPLIT | CX_GROUP_CONTINUES);   /* its own send: one copy per history group */
        fan_out(self, cx_groups_gateways, &out, &env->groups[i], 1);
    }
    if (nplain) {
        out = *env;
        out.seq = 0;
        out.epoch = cx_slice_of("");
        fan_out(self, cx_groups_gateways, &out, plain, nplain);
    }
    if (env->type == CX_ENV_EVENT) {   /* receive_event runs once per recipient: the workers get it once */
        out = *env;
        fan_out(self, cx_groups_workers, &out, env->groups, env->ngroups);
    }
}

typedef struct {
    cx_broker *self;
    cx_broker_conn *c;
    cx_slice group, epoch;
} replay_to;

static void send_held(const cx_history_message *m, void *arg)
{
    replay_to *r = arg;
    cx_env h = { .type = CX_ENV_HISTORY, .conn = r->c->id, .group = r->group, .seq = m->seq, .epoch = r->epoch,
                 .user_id = m->user_id, .flags = m->flags, .text = m->text, .action = m->action };
    cx_broker_send_env(r->self, r->c->gateway, &h);
}

void cx_broker_recover(cx_broker *self, cx_broker_conn *c, const cx_env *env, int replay)
{
    char *name = cx_slice_dup(env->group);
    const char *epoch;
    uint64_t seq, from = 0;
    if (!name || !cx_history_current(self->history, name, &epoch, &seq)) {
        free(name);
        return;
    }
    int asked = replay && env->since.len > 0;
    int recovered = asked && cx_history_covers(self->history, name, env->since, cx_now_ms(), &from);
    cx_history_current(self->history, name, &epoch, &seq);
    cx_env rec = { .type = CX_ENV_RECOVERY, .conn = c->id, .group = env->group, .seq = seq,
                   .epoch = cx_slice_of(epoch),
                   .flags = (recovered ? CX_RECOVERY_RECOVERED : 0) | (asked ? CX_RECOVERY_ASKED : 0),
                   .topic = env->topic, .ref = env->ref };
    cx_broker_send_env(self, c->gateway, &rec);
    if (recovered) {
        replay_to r = { self, c, env->group, cx_slice_of(epoch) };
        cx_history_each_after(self->history, name, from, send_held, &r);
    }
    free(name);
}
