/*
 * worker.c — a worker process: plugins, connection actors, the broker link.
 *
 * Two kinds of thread. The link thread (the process's main thread) owns the
 * broker socket, the plugin set, the map of connections and the timer heap:
 * envelopes from the broker become mail for connection actors (CONNECT
 * creates the actor and its chanx_ctx, RECEIVE, ANSWER and DISCONNECT are
 * posted to it), due timers become mail too. A pool of CHANX_WORKER_THREADS threads
 * (workers/scheduler.c) runs the actors (workers/actor.c): each connection's
 * mail in arrival order, on one thread at a time, so the guarantees of
 * include/chanx/consumer.h hold while a blocking consumer holds up only its
 * own thread.
 *
 * Layering: scheduler -> actor -> context -> send -> outbox, in the order work
 * flows, and only this file knows them all. Nothing calls back up: the
 * scheduler runs actors through the function this file hands it
 * (cx_actor_run), and the context (context.c, events.c, timer_api.c,
 * db_api.c, send.c) reaches the broker, the settings and the database through
 * the services this file hands each connection at CONNECT (workers/services.h:
 * the outbox, the settings, the database pool), never through the worker.
 * scripts/check-layers (make test) fails on a call circle; workers/README.md
 * maps the files.
 *
 * Pool threads reach the link thread through one queue (workers/link_queue.h,
 * written through workers/outbox.h): encoded envelopes to send, timers to arm
 * or cancel, group memberships, actors that finished.
 * A finished actor is destroyed here, and only then is its plugin released,
 * so hot reload (plugin_set.c) never unloads code a thread may still run.
 * A mailbox that reaches CHANX_MAILBOX_MAX closes its connection with 1013,
 * whether a client message or an event found it full (nothing is dropped in
 * silence); from then on the actor is posted nothing but its DISCONNECT.
 *
 * On start, and whenever the broker asks who we are, the worker sends HELLO,
 * REGISTER with the routes of every loaded consumer, and RESUME for every
 * connection it serves, so a restarted broker pins them here again and
 * their consumers carry on (broker/rebuild.c); routes are composed
 * from the plugins' relative routes and the deployment routing file (see
 * workers/routing_file.h). The plugin folder is watched (plugin_set.c) so
 * that a new or replaced .so goes live without a restart.
 */
#include "workers/worker.h"
#include "common/env.h"
#include "common/idmap.h"
#include "common/invariant.h"
#include "common/link.h"
#include "common/log.h"
#include "workers/actor.h"
#include "workers/crash_report.h"
#include "workers/context_internal.h"
#include "workers/db_pool.h"
#include "workers/events.h"
#include "workers/link_queue.h"
#include "workers/liveness.h"
#include "workers/memberships.h"
#include "workers/metrics.h"
#include "workers/outbox.h"
#include "workers/scheduler.h"
#include "workers/services.h"
#include "workers/settings.h"
#include "workers/timers.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* While envelopes stream in, what the pool threads queued is sent every this many. */
#define OUT_EVERY 32

struct cx_worker {
    cx_link *link;
    cx_idmap *actors;           /* conn id → cx_actor, until DISCONNECT */
    size_t nactors;             /* actors alive, including those still handling DISCONNECT */
    cx_plugin_set *plugins;
    cx_settings settings;
    cx_scheduler *scheduler;
    cx_link_queue *queue;       /* pool threads → link thread */
    cx_outbox *outbox;          /* the connections' way out, over link and queue (outbox.h) */
    cx_timers *timers;
    cx_db_pool *db;
    size_t mailbox_max;
    int notify_dropped;         /* CHANX_EVENT_OVERFLOW=notify: a refused event is told, not closed for */
    cx_memberships *members;    /* groups → connections, for group events (memberships.h) */
    cx_services services;       /* outbox, settings, db: handed to every connection (services.h) */
    cx_answers *answers;        /* the broker's answers to what pool threads wait for (answers.h) */
    uint64_t *acks;             /* this drain's (conn, handled) pairs, for one ACK (send_acks) */
    size_t nacks, acks_cap;
};

/* Each pool thread: its encoder (outbox.h), and an alternate signal stack, since consumers run here and
 * a stack overflow must be reported too (crash_report.h). */
static void pool_thread_hook(int starting)
{
    cx_outbox_thread_hook(starting);
    if (starting)
        cx_crash_report_thread_start();
    else
        cx_crash_report_thread_stop();
}

/* ----------------------------------------------------------- registration */

static void send_register(cx_worker *self)
{
    cx_env env = { .type = CX_ENV_REGISTER };
    char **texts = NULL;
    size_t n = cx_plugin_set_routes(self->plugins, &env.routes, &texts);
    env.nroutes = (uint32_t) n;
    if (cx_link_send(self->link, &env) != 0)
        cx_error("cannot send the route table (%zu routes) to the broker", n);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(env.routes);
}

/* One connection's RESUMEs: its groups, as the broker was told them (memberships.h: a GROUP_ADD the old
 * broker died holding never reached the gateway, whose RESUME lacks it; the new broker re-adds it,
 * broker/rebuild.c), with who and since when (presence). Groups joined on the same terms (history,
 * presence pushes: a topic's own, or the consumer's) go together, each set in its RESUMEs, so the
 * broker re-declares every group's history as it was joined; at most CX_PROTO_MAX_GROUPS a RESUME. */
static void resume_connection(cx_worker *self, const chanx_ctx *ctx)
{
    char *const *names;
    const cx_membership_terms *terms;
    size_t ngroups = cx_memberships_names_of(self->members, ctx->conn, &names, &terms);
    char *sent = calloc(ngroups + 1, 1);
    if (!sent) {
        cx_error("out of memory: connection %llu not re-announced", (unsigned long long) ctx->conn);
        return;
    }
    size_t first = 0;   /* the first group not yet sent; once with none at all: the connection itself */
    do {
        cx_membership_terms t = first < ngroups ? terms[first] : (cx_membership_terms) { 0, 0, 0 };
        cx_env env = { .type = CX_ENV_RESUME, .conn = ctx->conn, .username = cx_slice_of(ctx->username),
                       .connected_ms = (uint64_t) ctx->connected_ms, .history_size = t.history_size,
                       .history_ttl_ms = t.history_ttl_ms, .flags = t.flags };
        for (size_t g = first; g < ngroups && env.ngroups < CX_PROTO_MAX_GROUPS; g++)
            if (!sent[g] && !memcmp(&terms[g], &t, sizeof t)) {
                env.groups[env.ngroups++] = cx_slice_of(names[g]);
                sent[g] = 1;
            }
        cx_link_send(self->link, &env);
        while (first < ngroups && sent[first])
            first++;
    } while (first < ngroups);
    free(sent);
}

/* After HELLO (a broker that does not know us: restarted, a standby, or one that declared us dead):
 * our routes, then every connection pinned here (RESUME, then RESUME 0), so that the broker pins them
 * to us again and their clients never notice (broker/rebuild.c). */
static void resume(cx_worker *self)
{
    send_register(self);
    size_t n = cx_idmap_size(self->actors);
    cx_actor **all = malloc((n + 1) * sizeof *all);
    n = all ? cx_idmap_values(self->actors, (void **) all, n) : 0;
    for (size_t i = 0; i < n; i++)
        resume_connection(self, cx_actor_ctx(all[i]));
    free(all);
    cx_env done = { .type = CX_ENV_RESUME, .conn = 0 };
    cx_link_send(self->link, &done);
}

static void introduce(cx_worker *self)
{
    cx_link_hello(self->link);
    resume(self);
}

/* --------------------------------------------------------------- dispatch */

static void send_close(cx_worker *self, uint64_t conn, int code)
{
    cx_env close = { .type = CX_ENV_CLOSE, .conn = conn, .code = (uint32_t) code };
    cx_link_send(self->link, &close);
}

static void on_connect(cx_worker *self, const cx_env *env)
{
    cx_consumer_entry *consumer = cx_plugin_set_find(self->plugins, env->consumer);
    chanx_ctx *ctx = consumer ? cx_ctx_new(&self->services, consumer, env) : NULL;
    cx_actor *actor = ctx ? cx_actor_new(ctx, self->scheduler, self->queue, self->mailbox_max) : NULL;
    cx_mail *start = actor ? cx_mail_new(CX_MAIL_CONNECT, NULL, 0) : NULL;
    if (!start || cx_idmap_put(self->actors, env->conn, actor) != 0) {
        cx_warn("cannot start consumer '%.*s' for connection %llu", (int) env->consumer.len,
                env->consumer.ptr, (unsigned long long) env->conn);
        free(start);
        cx_actor_destroy(&actor);
        cx_ctx_destroy(&ctx);
        send_close(self, env->conn, 1011);
        return;
    }
    self->nactors++;
    cx_actor_post(actor, start);
}

/* The consumer cannot keep up: close the connection rather than queue without bound, or drop in
 * silence. what: "message" or "event", the mail that found the mailbox full. */
static void overflow(cx_worker *self, cx_actor *actor, uint64_t conn, const char *what)
{
    if (!cx_actor_mark_overflow(actor))
        return;   /* already closing; later frames and events are dropped */
    json_t *fields = cx_ctx_log_identity(cx_actor_ctx(actor));   /* not ours: no message_id */
    json_object_set_new(fields, "mailbox_max", json_integer((json_int_t) self->mailbox_max));
    json_object_set_new(fields, "refused", json_string(what));
    cx_log_fields(CX_LOG_WARNING, "Mailbox full: closing the connection (1013)", fields);
    send_close(self, conn, 1013);
}

/* A client's frame (RECEIVE), or the gateway's answer to one (ANSWER, proto/README.md): mail in the
 * order they came, so the answer leaves after what the consumer sends for the frames before it. */
static void on_receive(cx_worker *self, const cx_env *env)
{
    cx_actor *actor = cx_idmap_get(self->actors, env->conn);
    if (!actor) {   /* a connection this worker no longer has: its client must not wait forever */
        send_close(self, env->conn, 1011);
        return;
    }
    if (cx_actor_overflowed(actor))
        return;   /* closing with 1013: what the consumer handled stays a prefix of what was sent */
    int answer = env->type == CX_ENV_ANSWER;
    cx_mail *mail = cx_mail_new(answer ? CX_MAIL_ANSWER : CX_MAIL_RECEIVE, env->text.ptr, env->text.len);
    if (mail)
        mail->code = (int) env->code;
    if (!mail || cx_actor_post(actor, mail) != 0)
        overflow(self, actor, env->conn, "message");
}

/* A server-side event: one EVENT mail per candidate actor (workers/events.h): the connection for a
 * connection target, the groups' members (memberships.h) for a group target; each decides on its
 * own thread whether it is still a recipient. Passthrough actions were the gateway's. */
static void post_event(cx_worker *self, cx_actor *actor, cx_event_share *event)
{
    if (cx_ctx_event_route(cx_actor_ctx(actor), cx_event_share_action(event)) == CX_EVENT_PASSTHROUGH)
        return;   /* the consumer is fixed for the actor's life: safe to read here */
    cx_mail *mail = cx_actor_overflowed(actor) ? NULL : cx_mail_new(CX_MAIL_EVENT, NULL, 0);
    if (mail)
        mail->arg = cx_event_share_hold(event);
    if (mail && cx_actor_post(actor, mail) == 0)
        return;
    /* Refused (a full mailbox, or the connection is already closing for it): never a silent hole. The
     * client is closed with 1013, as for a message, so it knows to resync; what it got is a prefix. */
    cx_actor_count_dropped_event(actor);
    cx_worker_count_events_dropped(CX_EVENT_DROP_MAILBOX_FULL, 1);
    if (!self->notify_dropped || cx_actor_overflowed(actor)) {
        overflow(self, actor, cx_actor_ctx(actor)->conn, "event");
        return;
    }
    cx_mail *tell = cx_actor_note_unreported(actor) ? cx_mail_new(CX_MAIL_DROPPED, NULL, 0) : NULL;
    if (tell)   /* does not count against the bound: a full mailbox takes it */
        cx_actor_post(actor, tell);
}

typedef struct {
    cx_worker *self;
    cx_event_share *event;
} event_post;

static void post_to_member(uint64_t conn, void *arg)
{
    event_post *post = arg;
    cx_actor *actor = cx_idmap_get(post->self->actors, conn);
    if (actor)   /* NULL once DISCONNECT came: its groups go when its actor is done */
        post_event(post->self, actor, post->event);
}

static void on_event(cx_worker *self, const cx_env *env)
{
    cx_event_share *event = cx_event_share_new(env);
    if (!event) {
        cx_error("out of memory: an event is dropped");
        return;
    }
    if (env->target == CX_TARGET_CONNECTION) {
        cx_actor *actor = cx_idmap_get(self->actors, env->conn);
        if (actor)
            post_event(self, actor, event);
    } else if (env->target == CX_TARGET_GROUPS) {
        event_post post = { self, event };
        cx_memberships_each(self->members, env->groups, env->ngroups, post_to_member, &post);
    }
    cx_event_share_release(&event);
}

/* Ends the connection: its actor handles DISCONNECT (after its other mail) and comes back DONE. */
static void end_connection(cx_worker *self, uint64_t conn, int code)
{
    cx_actor *actor = cx_idmap_remove(self->actors, conn);
    if (!actor)
        return;
    cx_mail *bye = cx_mail_new(CX_MAIL_DISCONNECT, NULL, 0);
    while (!bye) {   /* the actor must learn it ended, or it (and its plugin) would live forever */
        zclock_sleep(10);
        bye = cx_mail_new(CX_MAIL_DISCONNECT, NULL, 0);
    }
    bye->code = code;
    cx_actor_post(actor, bye);
}

static void actor_done(cx_worker *self, cx_actor *actor)
{
    chanx_ctx *ctx = cx_actor_ctx(actor);
    /* Freed while still mapped, the next RECEIVE for it would run the plugin on freed memory. */
    CX_ASSERT(cx_idmap_get(self->actors, ctx->conn) != actor && self->nactors > 0,
              "connection actor of %llu came back done while %s", (unsigned long long) ctx->conn,
              self->nactors ? "still mapped" : "none was alive");
    size_t n;
    const uint64_t *ids = cx_ctx_timer_ids(ctx, &n);
    for (size_t i = 0; i < n; i++)
        cx_timers_cancel(self->timers, ids[i]);
    cx_plugin *plugin = cx_ctx_consumer(ctx)->plugin;
    if (cx_actor_dropped_events(actor))   /* one record per connection, with its own count */
        cx_event_log_dropped(ctx, cx_actor_dropped_events(actor), self->mailbox_max);
    cx_memberships_forget(self->members, ctx->conn);   /* after every change it queued before DONE */
    cx_ctx_destroy(&ctx);
    cx_actor_destroy(&actor);
    self->nactors--;
    cx_plugin_set_release(self->plugins, plugin);
}

/* A consumer's progress, for this drain's ACK. A connection that ran twice in one drain is listed
 * twice: the broker takes the pairs in order, so the later count wins. */
static void note_handled(cx_worker *self, uint64_t conn, uint64_t handled)
{
    if (self->nacks == self->acks_cap) {
        size_t cap = self->acks_cap ? 2 * self->acks_cap : 64;
        uint64_t *grown = realloc(self->acks, 2 * cap * sizeof *grown);
        if (!grown) {   /* the broker keeps those messages a little longer: the next ACK covers them */
            cx_error("out of memory: an acknowledgement for connection %llu waits", (unsigned long long) conn);
            return;
        }
        self->acks = grown;
        self->acks_cap = cap;
    }
    self->acks[2 * self->nacks] = conn;
    self->acks[2 * self->nacks + 1] = handled;
    self->nacks++;
}

/* One ACK for everything the drain's consumers handled (more only past CX_PROTO_MAX_ACKS), behind the
 * sends they caused, in the same batch: a crash after this loses none of them and replays none. */
static void send_acks(cx_worker *self)
{
    for (size_t at = 0; at < self->nacks; at += CX_PROTO_MAX_ACKS) {
        size_t n = self->nacks - at < CX_PROTO_MAX_ACKS ? self->nacks - at : CX_PROTO_MAX_ACKS;
        cx_env ack = { .type = CX_ENV_ACK, .nacks = (uint32_t) n, .acks = self->acks + 2 * at };
        if (cx_link_send(self->link, &ack) != 0)
            cx_warn("an acknowledgement for the broker was dropped: %s", zmq_strerror(zmq_errno()));
    }
    self->nacks = 0;
}

/* What the pool threads queued, in their order. */
static void drain_queue(cx_worker *self)
{
    for (cx_lq_item *item = cx_link_queue_take(self->queue), *next; item; item = next) {
        next = item->next;
        switch (item->kind) {
        case CX_LQ_ENVELOPE:
            if (cx_link_send_raw(self->link, item->data, item->len) != 0)
                cx_warn("an envelope for the broker was dropped: %s", zmq_strerror(zmq_errno()));
            break;
        case CX_LQ_ACTOR_DONE:
            actor_done(self, item->ptr);
            break;
        case CX_LQ_TIMER_ADD:
            cx_timers_add(self->timers, item->ptr);
            break;
        case CX_LQ_TIMER_CANCEL:
            cx_timers_cancel(self->timers, item->id);
            break;
        case CX_LQ_GROUP_JOIN: {   /* its terms, then the group's name (outbox.c) */
            cx_membership_terms terms;
            memcpy(&terms, item->data, sizeof terms);
            if (cx_memberships_join(self->members, item->data + sizeof terms, item->len - sizeof terms, item->id,
                                    &terms) != 0)
                cx_error("out of memory: events to a group may miss connection %llu", (unsigned long long) item->id);
            break;
        }
        case CX_LQ_GROUP_LEAVE:
            cx_memberships_leave(self->members, item->data, item->len, item->id);
            break;
        case CX_LQ_HANDLED:   /* the actor's own item (actor.c): read, not freed */
            note_handled(self, item->id, cx_actor_take_handled(item->ptr));
            continue;
        }
        free(item);
    }
    if (self->nacks)
        send_acks(self);
}

static int fire_timer(const cx_timer *timer, void *arg)
{
    cx_worker *self = arg;
    cx_actor *actor = cx_idmap_get(self->actors, timer->conn);
    if (!actor)
        return 0;   /* ending: its DONE cancels the timer */
    cx_mail *tick = cx_mail_new(CX_MAIL_TIMER, NULL, 0);
    if (!tick)
        return -1;
    tick->timer_id = timer->id;
    tick->fn = timer->fn;
    tick->arg = timer->arg;
    tick->code = timer->period_ms > 0;
    if (cx_actor_post(actor, tick) == 0)
        return 0;
    if (timer->period_ms > 0) {
        json_t *fields = cx_ctx_log_identity(cx_actor_ctx(actor));   /* not ours: no message_id */
        json_object_set_new(fields, "timer", json_integer((json_int_t) timer->id));
        cx_log_fields(CX_LOG_WARNING, "Timer tick skipped: mailbox full", fields);
    }
    return -1;
}

static void dispatch(cx_worker *self, const cx_env *env)
{
    switch (env->type) {
    case CX_ENV_CONNECT:
        on_connect(self, env);
        break;
    case CX_ENV_RECEIVE:
    case CX_ENV_ANSWER:
        on_receive(self, env);
        break;
    case CX_ENV_DISCONNECT:
        end_connection(self, env->conn, (int) env->code);
        break;
    case CX_ENV_EVENT:
        on_event(self, env);
        break;
    case CX_ENV_PRESENCE_RESULT:   /* for a pool thread waiting in chanx_group_presence */
        cx_answers_put(self->answers, env->request, env->text.ptr, env->text.len);
        break;
    default:
        cx_debug("worker ignores %s", cx_env_type_name(env->type));
        break;
    }
}

static void close_all(cx_worker *self, int code, int tell_broker);

/* Everything the broker sent, with what the pool threads queued in between: while a client streams
 * messages in, the replies must keep flowing out, not wait for the stream to pause. */
static int drain(cx_worker *self)
{
    int handled = 0;
    cx_env env;
    for (cx_link_event ev; (ev = cx_link_recv(self->link, &env)) != CX_LINK_NONE; handled++) {
        if (ev == CX_LINK_REINTRODUCE) {
            introduce(self);
        } else {
            dispatch(self, &env);
        }
        if (handled % OUT_EVERY == OUT_EVERY - 1)
            drain_queue(self);
    }
    return handled;
}

/* ------------------------------------------------------------- lifecycle */

cx_worker *cx_worker_new(const char *endpoint, const char *name, cx_plugin_set *plugins)
{
    cx_worker *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    char host[64] = "host", node[200];
    gethostname(host, sizeof host - 1);
    if (name)
        snprintf(node, sizeof node, "%s", name);
    else
        snprintf(node, sizeof node, "worker-%s-%d", host, (int) getpid());
    int threads = cx_scheduler_default_threads();
    self->plugins = plugins;
    self->mailbox_max = (size_t) cx_env_long("CHANX_MAILBOX_MAX", 1000, 1, 1000000);
    const char *overflow_mode = cx_env_str("CHANX_EVENT_OVERFLOW", "close");
    self->notify_dropped = strcmp(overflow_mode, "notify") == 0;
    if (!self->notify_dropped && strcmp(overflow_mode, "close") != 0) {
        cx_error("CHANX_EVENT_OVERFLOW is '%s': it must be close (the default) or notify", overflow_mode);
        free(self);
        return NULL;
    }
    self->actors = cx_idmap_new();
    self->queue = cx_link_queue_new();
    self->timers = cx_timers_new();
    self->members = cx_memberships_new();
    self->link = cx_link_new(endpoint, CX_ROLE_WORKER, node);
    if (self->link) {
        cx_link_batch(self->link);   /* one message per loop turn: cx_link_tick flushes it, each turn */
        cx_link_set_hello_flags(self->link, CX_HELLO_ACKS);   /* says which messages were handled (ACK) */
    }
    self->db = cx_db_pool_new_from_env(threads);
    cx_settings_load(&self->settings);
    self->outbox = self->link && self->queue && self->members
                   ? cx_outbox_new(self->link, self->queue, self->members) : NULL;
    self->answers = cx_answers_new();
    self->services = (cx_services) { .outbox = self->outbox, .settings = &self->settings, .db = self->db,
                                     .answers = self->answers };
    if (self->actors && self->outbox && self->timers && self->answers)
        self->scheduler = cx_scheduler_new(threads, cx_actor_run, pool_thread_hook);
    if (!self->scheduler || !self->link) {
        cx_worker_destroy(&self);
        return NULL;
    }
    cx_info("worker runs consumers on %d threads, mailboxes of %zu", threads, self->mailbox_max);
    return self;
}

/* Ends every consumer with code; tell_broker also closes their clients. */
static void close_all(cx_worker *self, int code, int tell_broker)
{
    size_t n = cx_idmap_size(self->actors);
    cx_actor **all = malloc((n + 1) * sizeof *all);
    n = all ? cx_idmap_values(self->actors, (void **) all, n) : 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t conn = cx_actor_ctx(all[i])->conn;
        if (tell_broker)
            send_close(self, conn, code);
        end_connection(self, conn, code);
    }
    free(all);
}

/* Waits until every actor has handled its DISCONNECT, sending what they send meanwhile. A consumer
 * stuck in a callback holds the process here: better than unloading code a thread is running. */
static void wait_actors(cx_worker *self)
{
    zmq_pollitem_t item = { .fd = cx_link_queue_fd(self->queue), .events = ZMQ_POLLIN };
    int64_t warn_at = cx_timer_now_ms() + 5000;
    while (drain_queue(self), cx_link_flush(self->link), self->nactors > 0) {
        zmq_poll(&item, 1, 100);
        if (cx_timer_now_ms() > warn_at) {
            cx_warn("waiting for %zu consumers to finish their callbacks", self->nactors);
            warn_at += 5000;
        }
    }
}

void cx_worker_destroy(cx_worker **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_worker *self = *self_p;
    if (self->actors && self->scheduler) {
        close_all(self, 1001, 0);
        wait_actors(self);
    }
    cx_scheduler_destroy(&self->scheduler);
    if (self->queue && self->link)
        drain_queue(self);
    cx_idmap_destroy(&self->actors);
    cx_timers_destroy(&self->timers);
    cx_outbox_destroy(&self->outbox);
    cx_memberships_destroy(&self->members);
    cx_link_queue_destroy(&self->queue);
    cx_db_pool_destroy(&self->db);
    cx_answers_destroy(&self->answers);
    cx_link_destroy(&self->link);
    cx_settings_free(&self->settings);
    free(self->acks);
    free(self);
    *self_p = NULL;
}

static int poll_timeout(cx_worker *self)
{
    int tick = cx_link_next_tick_ms(self->link) + 1;
    int timer = cx_timers_next_ms(self->timers, cx_timer_now_ms());
    return timer >= 0 && timer < tick ? timer : tick;
}

int cx_worker_run(cx_worker *self, volatile int *stop)
{
    introduce(self);
    zmq_pollitem_t items[3] = {
        { .socket = cx_link_socket(self->link), .events = ZMQ_POLLIN },
        { .fd = cx_link_queue_fd(self->queue), .events = ZMQ_POLLIN },
        { .fd = cx_plugin_set_watch_fd(self->plugins), .events = ZMQ_POLLIN },
    };
    int nitems = items[2].fd >= 0 ? 3 : 2;
    while (!*stop) {
        if (zmq_poll(items, nitems, poll_timeout(self)) < 0 && zmq_errno() != EINTR)
            return -1;
        /* Only what the poll saw ready is read: each read that finds nothing is a syscall or two (an
         * empty zmq_msg_recv polls libzmq's mailbox), several per turn; what arrives meanwhile makes
         * the next poll return at once. */
        if (items[0].revents & ZMQ_POLLIN)
            drain(self);
        if (items[1].revents & ZMQ_POLLIN)
            drain_queue(self);
        cx_timers_expire(self->timers, cx_timer_now_ms(), fire_timer, self);
        if (nitems == 3 && (items[2].revents & ZMQ_POLLIN) && cx_plugin_set_rescan(self->plugins) > 0)
            send_register(self);
        if (cx_link_tick(self->link))   /* silent broker (or a switch to the standby): HELLO went out again */
            resume(self);
        cx_liveness_beat(cx_link_alive(self->link));
    }
    /* An empty REGISTER first, so the broker pins no new connection here: clients that reconnect
     * at once must land on another worker. Then 1012 (service restart): reconnect. */
    cx_env withdraw = { .type = CX_ENV_REGISTER };
    cx_link_send(self->link, &withdraw);
    close_all(self, 1012, 1);
    wait_actors(self);
    zclock_sleep(50);   /* let the CLOSE envelopes leave before the socket goes */
    return 0;
}
