/*
 * presence.c — who is in a group right now (PRESENCE → PRESENCE_RESULT).
 *
 * The broker already knows every member of every group and, from CONNECT
 * (or a worker's RESUME after a restart), each connection's user, username,
 * gateway and start. So presence is a read of its own tables, never a
 * second store to keep right: a connection whose gateway dies leaves its
 * groups when the heartbeat timeout declares the gateway dead, and a
 * restarted broker has it back once gateways and workers re-announce (a
 * connection only one of them has re-announced yet is left out: its user
 * and start come with its worker's RESUME).
 *
 * The answer is JSON text for the publish API to pass on:
 *   users: {"group", "count": n, "next": cursor|null, "users": [{"user_id", "username",
 *           "connections": [{"connection", "gateway", "connected_since"}]}], "anonymous": n,
 *           "truncated": bool}
 *   stats: {"group", "users": n, "connections": n, "anonymous": n}
 *   a group without members: {"error": "group_not_found", "group"}
 * One user in two tabs is one entry with two connections. Users come in
 * pages, DRF's CursorPagination: ordered by user id, at most the request's
 * limit (PRESENCE_MAX_USERS, 1,000, at most) a page, "next" the cursor of
 * the following page (the last id listed: the request's user_id field asks
 * for the users above it) or null on the last. A cursor, not an offset, so
 * that users joining or leaving between pages never make a page repeat or
 * skip one who stayed. count and stats count every user.
 *
 * Pushes: a consumer that asks for them (its GROUP_ADDs carry
 * CX_GROUP_ADD_PRESENCE) makes its groups tell their members
 * {"action":"presence_joined"|"presence_left","payload":{"group","user_id",
 * "username"}}, once per user, not per tab: the broker counts each user's
 * connections in such a group and pushes when the count leaves or reaches 0.
 * Memberships coming back in a rebuild window are counted without a push.
 */
#include "broker/broker_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PRESENCE_MAX_USERS 1000

typedef struct {
    cx_broker *self;
    cx_broker_conn **conns;
    size_t n, cap;
} members;

static void collect(uint64_t conn, void *arg)
{
    members *m = arg;
    cx_broker_conn *c = cx_idmap_get(m->self->conns, conn);
    if (!c || !c->gateway || !c->worker || cx_broker_conn_ending(c))
        return;   /* half re-announced after a restart (its user and start come with its worker's RESUME),
                   * or a lost peer's, ending (endings.c) */
    if (m->n == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 64;
        cx_broker_conn **grown = realloc(m->conns, cap * sizeof *grown);
        if (!grown)
            return;
        m->conns = grown;
        m->cap = cap;
    }
    m->conns[m->n++] = c;
}

static int by_user(const void *a, const void *b)
{
    const cx_broker_conn *x = *(cx_broker_conn *const *) a, *y = *(cx_broker_conn *const *) b;
    if (x->user_id != y->user_id)
        return x->user_id < y->user_id ? -1 : 1;
    return x->connected_ms < y->connected_ms ? -1 : x->connected_ms > y->connected_ms;
}

/* RFC 3339 UTC with milliseconds, as DRF renders a DateTimeField. */
static json_t *timestamp(int64_t ms)
{
    time_t secs = (time_t) (ms / 1000);
    struct tm tm;
    char text[40];
    gmtime_r(&secs, &tm);
    size_t n = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(text + n, sizeof text - n, ".%03dZ", (int) (ms % 1000));
    return json_string(text);
}

static json_t *connection(const cx_broker_conn *c)
{
    char id[24];
    snprintf(id, sizeof id, "%llu", (unsigned long long) c->id);
    return json_pack("{s:s, s:s, s:o}", "connection", id, "gateway", c->gateway ? c->gateway->id : "",
                     "connected_since", timestamp(c->connected_ms));
}

/* One page of the sorted members as presence: the users above after (a user id; 0: from the first),
 * at most limit of them, each with their connections; count, anonymous and stats over them all. */
static json_t *describe(const members *m, int stats, const char *group, int64_t after, size_t limit)
{
    size_t users = 0, anonymous = 0, listed = 0;
    int more = 0;
    json_t *list = json_array();
    json_t *user = NULL;
    int64_t last = 0;
    for (size_t i = 0; i < m->n; i++) {
        const cx_broker_conn *c = m->conns[i];
        if (c->user_id == 0) {
            anonymous++;
            continue;
        }
        if (i == 0 || m->conns[i - 1]->user_id != c->user_id) {
            users++;
            user = NULL;
            if (!stats && c->user_id > after && listed == limit)
                more = 1;
            else if (!stats && c->user_id > after) {
                listed++;
                last = c->user_id;
                user = json_pack("{s:I, s:s, s:[]}", "user_id", (json_int_t) c->user_id, "username",
                                 c->username ? c->username : "", "connections");
                json_array_append_new(list, user);
            }
        }
        if (user)
            json_array_append_new(json_object_get(user, "connections"), connection(c));
    }
    if (stats) {
        json_decref(list);
        return json_pack("{s:s, s:I, s:I, s:I}", "group", group, "users", (json_int_t) users, "connections",
                         (json_int_t) m->n, "anonymous", (json_int_t) anonymous);
    }
    char next[24];
    snprintf(next, sizeof next, "%lld", (long long) last);
    return json_pack("{s:s, s:I, s:o, s:o, s:I, s:b}", "group", group, "count", (json_int_t) users, "next",
                     more ? json_string(next) : json_null(), "users", list, "anonymous", (json_int_t) anonymous,
                     "truncated", more);
}

void cx_broker_on_presence(cx_broker *self, cx_broker_peer *asker, const cx_env *env, zmq_msg_t *msg)
{
    (void) msg;
    char *group = cx_slice_dup(env->group);
    members m = { self, NULL, 0, 0 };
    if (group)
        cx_groups_each_member(self->groups, group, collect, &m);
    json_t *answer;
    if (!group)
        answer = json_pack("{s:s}", "error", "out_of_memory");
    else if (m.n == 0)
        answer = json_pack("{s:s, s:s}", "error", "group_not_found", "group", group);
    else {
        qsort(m.conns, m.n, sizeof *m.conns, by_user);
        size_t limit = env->limit && env->limit < PRESENCE_MAX_USERS ? env->limit : PRESENCE_MAX_USERS;
        answer = describe(&m, env->target == CX_PRESENCE_STATS, group, env->user_id, limit);
    }
    char *text = answer ? json_dumps(answer, JSON_COMPACT) : NULL;
    cx_env result = { .type = CX_ENV_PRESENCE_RESULT, .request = env->request,
                      .text = cx_slice_of(text ? text : "{\"error\":\"out_of_memory\"}") };
    cx_broker_send_env(self, asker, &result);
    free(text);
    json_decref(answer);
    free(m.conns);
    free(group);
}

/* ------------------------------------------------------------- pushes */

/* A tracked group's users: user id → how many of their connections are in it (as a pointer). */
void cx_broker_presence_free(void **item)
{
    cx_idmap_destroy((cx_idmap **) item);
}

static void count_member(uint64_t conn, void *arg)
{
    cx_broker *self = ((void **) arg)[0];
    cx_idmap *users = ((void **) arg)[1];
    cx_broker_conn *c = cx_idmap_get(self->conns, conn);
    if (c && c->user_id > 0)
        cx_idmap_put(users, (uint64_t) c->user_id,
                     (void *) ((uintptr_t) cx_idmap_get(users, (uint64_t) c->user_id) + 1));
}

void cx_broker_presence_track(cx_broker *self, const char *group)
{
    if (zhashx_lookup(self->presence_pushed, group))
        return;
    cx_idmap *users = cx_idmap_new();
    if (!users)
        return;
    void *arg[2] = { self, users };
    cx_groups_each_member(self->groups, group, count_member, arg);
    zhashx_insert(self->presence_pushed, group, users);
}

/* {"action": action, "payload": {"group", "user_id", "username"}} to every member of the group, as raw
 * JSON (no is_mine/is_current, no seq: a push about the group, not a message of it). */
static void push(cx_broker *self, const char *group, const char *action, const cx_broker_conn *c)
{
    json_t *m = json_pack("{s:s, s:{s:s, s:I, s:s}}", "action", action, "payload", "group", group, "user_id",
                          (json_int_t) c->user_id, "username", c->username ? c->username : "");
    char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
    json_decref(m);
    cx_env env = { .type = CX_ENV_GROUP_SEND, .ngroups = 1, .flags = CX_GROUP_NO_OWNERSHIP,
                   .text = cx_slice_of(text ? text : "") };
    env.groups[0] = cx_slice_of(group);
    zmq_msg_t msg;
    if (text && cx_broker_encode_msg(self, &env, &msg) == 0) {
        cx_broker_fanout f = { self, &msg, 0 };
        const char *names[1] = { group };
        cx_groups_gateways(self->groups, names, 1, cx_broker_fanout_forward, &f);
        zmq_msg_close(&msg);
    }
    free(text);
}

void cx_broker_presence_joined(cx_broker *self, const cx_broker_conn *c, const char *group)
{
    cx_idmap *users = c->user_id > 0 ? zhashx_lookup(self->presence_pushed, group) : NULL;
    if (!users)
        return;
    uintptr_t n = (uintptr_t) cx_idmap_get(users, (uint64_t) c->user_id);
    cx_idmap_put(users, (uint64_t) c->user_id, (void *) (n + 1));
    if (n == 0 && !self->rebuilding)   /* the user's first tab: news; a restart's re-announcement: not */
        push(self, group, "presence_joined", c);
}

void cx_broker_presence_left(cx_broker *self, const cx_broker_conn *c, const char *group)
{
    cx_idmap *users = c->user_id > 0 ? zhashx_lookup(self->presence_pushed, group) : NULL;
    if (!users)
        return;
    uintptr_t n = (uintptr_t) cx_idmap_get(users, (uint64_t) c->user_id);
    if (n > 1) {
        cx_idmap_put(users, (uint64_t) c->user_id, (void *) (n - 1));
        return;
    }
    cx_idmap_remove(users, (uint64_t) c->user_id);
    if (n == 1)
        push(self, group, "presence_left", c);
    if (cx_idmap_size(users) == 0)
        zhashx_delete(self->presence_pushed, group);
}
