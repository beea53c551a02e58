/*
 * endings.c — a lost peer's connections end in slices, between other work.
 *
 * When a gateway or a worker is lost (heartbeat timeout, a restart under the
 * same id, a ban), each of its connections must leave its groups and its
 * other side must be told (DISCONNECT 1006 to the worker of a gateway's
 * connection, CLOSE 1011 "worker lost" to the gateway of a worker's). That
 * costs a few microseconds per connection, and the broker has one thread:
 * ended all at once, 100,000 connections stopped every other message for
 * seconds (docs/scaling.md). So the peer leaves the peers table at once
 * (a new process under its id is a new peer) but its record stays, marked
 * gone, and its connections are ended SLICE_NS at a time, once per loop
 * turn after the turn's messages; the loop does not wait while any remain.
 *
 * Meanwhile such a connection is still in the tables, so the rules are:
 *   - nothing is sent to a gone peer (send.c drops it), so a group send
 *     reaching its count of members goes nowhere, as it would have;
 *   - a lookup by id that meets one ends it first and then sees no
 *     connection (dispatch.c, through cx_broker_end_now), so a restarted
 *     peer's new connection, or a stalled peer's return, is answered exactly
 *     as after an immediate end; presence and events to users skip it
 *     (cx_broker_conn_ending).
 * The record of a gone peer is freed when its last connection has ended.
 *
 * Layering: below peers.c (which starts an ending) and the dispatch (which
 * ends one now); it calls rebuild.c (the ids it must remember), conns.c and
 * send.c.
 */
#include "broker/broker_internal.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLICE_NS 2000000   /* 2 ms of ending per loop turn: the longest another message waits for it */
#define CHECK_EVERY 32     /* connections ended between clock reads */

struct cx_broker_endings {
    cx_broker_peer **peers;   /* gone, with connections left to end; oldest first */
    size_t n, cap;
};

static int64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t now_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

void cx_broker_peer_destroy(cx_broker_peer **p_p)
{
    cx_broker_peer *p = *p_p;
    if (!p)
        return;
    cx_idmap_destroy(&p->conns);
    cx_batch_destroy(&p->out);
    free(p);
    *p_p = NULL;
}

cx_broker_endings *cx_broker_endings_new(void)
{
    return calloc(1, sizeof(cx_broker_endings));
}

void cx_broker_endings_destroy(cx_broker_endings **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_broker_endings *self = *self_p;
    for (size_t i = 0; i < self->n; i++)   /* their connections are the broker's to free */
        cx_broker_peer_destroy(&self->peers[i]);
    free(self->peers);
    free(self);
    *self_p = NULL;
}

/* Tells the side still alive, remembers the id for a peer that re-announces it (rebuild.c), forgets it. */
static void end_one(cx_broker *self, cx_broker_conn *c)
{
    if (c->worker && c->worker->gone) {
        if (c->gateway)   /* send.c drops it when the gateway is gone too */
            cx_broker_close_at_gateway(self, c->gateway, c->id, 1011, "worker lost");
    } else if (c->worker) {
        /* made once: an envelope is large, and zeroing one per connection was a tenth of the work */
        static cx_env gone = { .type = CX_ENV_DISCONNECT, .code = 1006 };
        gone.conn = c->id;
        cx_broker_send_env(self, c->worker, &gone);
    }
    cx_rebuild_ended(self, c->id);
    cx_broker_conn_forget(self, c);
}

void cx_broker_end_now(cx_broker *self, cx_broker_conn *c)
{
    end_one(self, c);
}

int cx_broker_endings_start(cx_broker *self, cx_broker_peer *p)
{
    cx_broker_endings *e = self->endings;
    p->gone = 1;
    p->ending_since = now_ns();
    p->conns_at_loss = cx_idmap_size(p->conns);
    if (e->n == e->cap) {
        size_t cap = e->cap ? 2 * e->cap : 4;
        cx_broker_peer **grown = realloc(e->peers, cap * sizeof *grown);
        if (!grown) {   /* out of memory: end them now, the old way */
            for (void *c; cx_idmap_size(p->conns) && cx_idmap_values(p->conns, &c, 1);)
                end_one(self, c);
            p->gone = 0;
            return -1;
        }
        e->peers = grown;
        e->cap = cap;
    }
    e->peers[e->n++] = p;
    return 0;
}

int cx_broker_endings_pending(const cx_broker *self)
{
    return self->endings->n > 0;
}

/* Counts a slice that worked on p, which began at start (monotonic) and start_cpu (this thread's CPU
 * time: on a loaded machine a slice's wall time includes the time the broker was not scheduled). */
static void count_slice(cx_broker_peer *p, int64_t start, int64_t start_cpu)
{
    int64_t took = now_ns() - start, cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID) - start_cpu;
    p->slices++;
    if (took > p->longest_slice_ns)
        p->longest_slice_ns = took;
    if (cpu > p->longest_slice_cpu_ns)
        p->longest_slice_cpu_ns = cpu;
}

/* The first gone peer has no connection left: logged and freed. */
static void finish_first(cx_broker *self, int64_t start, int64_t start_cpu)
{
    cx_broker_endings *e = self->endings;
    cx_broker_peer *p = e->peers[0];
    count_slice(p, start, start_cpu);
    cx_log_fields(CX_LOG_INFO, "lost peer's connections ended",
                  json_pack("{s:s, s:s, s:I, s:I, s:f, s:f, s:f}", "peer", p->id, "role", p->rule->name,
                            "connections", (json_int_t) p->conns_at_loss, "slices", (json_int_t) p->slices, "ms",
                            (double) (now_ns() - p->ending_since) / 1e6, "longest_slice_ms",
                            (double) p->longest_slice_ns / 1e6, "longest_slice_cpu_ms",
                            (double) p->longest_slice_cpu_ns / 1e6));
    memmove(e->peers, e->peers + 1, (e->n - 1) * sizeof *e->peers);
    e->n--;
    cx_broker_peer_destroy(&p);
}

void cx_broker_endings_slice(cx_broker *self)
{
    cx_broker_endings *e = self->endings;
    int64_t start = now_ns(), start_cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    size_t done = 0;
    while (e->n > 0) {
        cx_broker_peer *p = e->peers[0];
        uint64_t id;
        void *c;
        if (cx_idmap_size(p->conns) == 0) {
            finish_first(self, start, start_cpu);
            continue;
        }
        if (!cx_idmap_next(p->conns, &p->cursor, &id, &c)) {
            p->cursor = 0;   /* a removal moved one back past the cursor: another pass */
            continue;
        }
        end_one(self, c);
        if (++done % CHECK_EVERY == 0 && now_ns() - start >= SLICE_NS) {
            count_slice(p, start, start_cpu);
            break;
        }
    }
}
