/*
 * upstream.c — what the gateway does with envelopes from the broker.
 *
 * SEND and CLOSE address one session. GROUP_ADD/GROUP_DISCARD keep a local
 * mirror of the groups that have members here, so that one GROUP_SEND from
 * the broker reaches every local member: the broker sends one envelope per
 * gateway, and the per-member work (appending is_mine/is_current, queueing)
 * happens here, spread across gateways. ROUTES replaces the route table.
 * HISTORY and RECOVERY address one session: a join's replay of a group's
 * held messages (broker/recovery.c).
 * A broker that does not know us (restarted, or a standby) hears every
 * connection again from here (cx_gw_reintroduce).
 */
#include "gateway/gateway_internal.h"
#include "common/json_text.h"
#include "common/log.h"
#include "gateway/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------------- routes */

static void free_routes(cx_gateway *gw)
{
    for (size_t i = 0; i < gw->nentries; i++)
        cx_consumer_spec_unref(&gw->entries[i].spec);
    free(gw->entries);
    gw->entries = NULL;
    gw->nentries = 0;
    cx_router_destroy(&gw->router);
}

static void on_routes(cx_gateway *gw, const cx_env *env)
{
    free_routes(gw);
    gw->router = cx_router_new();
    gw->entries = calloc(env->nroutes + 1, sizeof *gw->entries);
    for (uint32_t i = 0; gw->router && gw->entries && i < env->nroutes; i++) {
        const cx_env_route *r = &env->routes[i];
        char err[256], *pattern = cx_slice_dup(r->pattern), *target = cx_slice_dup(r->target);
        if (cx_router_add_pattern(gw->router, r->kind ? CX_ROUTE_REGEX : CX_ROUTE_PATH, pattern, target, err,
                                  sizeof err) != 0) {
            cx_error("route '%s' refused: %s", pattern, err);
        } else {
            cx_route_entry *e = &gw->entries[gw->nentries++];
            e->available = r->available == 1;
            e->quarantined = r->available == CX_ROUTE_QUARANTINED;
            e->spec = cx_consumer_spec_new(target, r->spec.ptr, r->spec.len, err, sizeof err);
            if (!e->spec)
                cx_error("consumer %s: spec refused: %s", target, err);
        }
        free(pattern);
        free(target);
    }
    /* An empty table is what a broker has before any worker registered (at its start, after a
     * restart): not being able to serve yet is 503 and an unhealthy /healthz, not 404. */
    gw->have_routes = gw->nentries > 0;
    cx_docs_update(gw->docs, env);
    cx_info("route table: %zu routes", gw->nentries);
}

cx_route_entry *cx_gw_route(cx_gateway *gw, const char *path, json_t **kwargs, const char **target)
{
    size_t n = gw->router ? cx_router_size(gw->router) : 0;
    if (*path == '/')
        path++;
    size_t len = strlen(path);
    if (len > CX_ROUTE_DEFAULT_MAX_PATH)
        return NULL;
    for (size_t i = 0; i < n && i < gw->nentries; i++)
        if (cx_route_match(cx_router_route(gw->router, i), path, len, kwargs)) {
            *target = cx_router_target(gw->router, i);
            return &gw->entries[i];
        }
    return NULL;
}

/* ----------------------------------------------------------------- groups */

static void group_add(cx_gateway *gw, cx_session *s, cx_slice name)
{
    if (cx_session_join(s, name.ptr, name.len) != 1)
        return;
    char *key = cx_slice_dup(name);
    cx_idmap *members = zhashx_lookup(gw->groups, key);
    if (!members) {
        members = cx_idmap_new();
        zhashx_insert(gw->groups, key, members);
    }
    cx_idmap_put(members, s->id, s);
    free(key);
}

static void group_remove(cx_gateway *gw, uint64_t id, const char *key)
{
    cx_idmap *members = zhashx_lookup(gw->groups, key);
    if (members && cx_idmap_remove(members, id) && cx_idmap_size(members) == 0)
        zhashx_delete(gw->groups, key);
}

static void group_discard(cx_gateway *gw, cx_session *s, cx_slice name)
{
    if (cx_session_leave(s, name.ptr, name.len) != 1)
        return;
    char *key = cx_slice_dup(name);
    group_remove(gw, s->id, key);
    free(key);
}

void cx_gw_forget_session(cx_gateway *gw, cx_session *s)
{
    for (size_t i = 0; i < s->ngroups; i++)
        group_remove(gw, s->id, s->groups[i]);
    cx_idmap_remove(gw->sessions, s->id);
}

/* The fields a group message gets before its closing brace, with that brace: is_mine/is_current (unless
 * raw JSON) and, on a group with a history, "seq" (Chanx's envelope field; broker/recovery.c). Written into
 * out (128 bytes); returns the length, 0 when nothing is added (the body goes as it came). */
static size_t group_suffix(const cx_env *env, const char *mine_key, const char *current_key, int mine, int current,
                           char *out)
{
    int n = 0;
    if (!(env->flags & CX_GROUP_NO_OWNERSHIP))
        n = snprintf(out, 128, ",\"%s\":%s,\"%s\":%s", mine_key, mine ? "true" : "false", current_key,
                     current ? "true" : "false");
    if (env->seq)
        n += snprintf(out + n, 128 - (size_t) n, ",\"seq\":%llu", (unsigned long long) env->seq);
    if (n > 0)
        out[n++] = '}';
    return (size_t) n;
}

typedef struct {
    cx_gateway *gw;
    const cx_env *env;
    const char *mine, *current;   /* the suffix keys, camelized or not */
    uint64_t stamp;               /* this send's: a member already stamped with it has it */
    int split;                    /* a part of a split send: stamped in split_stamp */
    /* The suffix of every member but the sender's connection, made once per send, not per delivery
     * (snprintf was half of a delivery's instructions): [1] for the sender's user, [0] for the others. */
    char others[2][128];
    size_t others_len[2];
} fanout;

static const char GROUP_COMPLETE[] = "{\"action\":\"group_complete\",\"payload\":null}";

/* One group message to one client: the body with suffix (group_suffix) in place of its closing brace. */
static void queue_group_message(cx_gateway *gw, cx_session *s, const cx_env *env, const char *suffix, size_t n)
{
    if (n == 0) {
        cx_gw_queue(gw, s, env->text.ptr, env->text.len, NULL, 0);
    } else {
        /* the body is a JSON object: replace its closing brace with the added fields (an empty object
         * gets no leading comma) */
        int empty = env->text.len == 2;
        cx_gw_queue(gw, s, env->text.ptr, env->text.len - 1, suffix + empty, n - (size_t) empty);
    }
    if (env->flags & CX_GROUP_COMPLETE)
        cx_gw_queue(gw, s, GROUP_COMPLETE, sizeof GROUP_COMPLETE - 1, NULL, 0);
    cx_gw_count_group_delivery();
}

static void deliver(uint64_t id, void *value, void *arg)
{
    fanout *f = arg;
    cx_session *s = value;
    const cx_env *env = f->env;
    (void) id;
    uint64_t *stamp = f->split ? &s->split_stamp : &s->fanout_stamp;
    if (*stamp == f->stamp || s->state != SESSION_CONNECTED)
        return;
    *stamp = f->stamp;
    int mine = env->user_id != 0 && s->user_id == env->user_id;
    if (s->id != env->conn) {
        queue_group_message(f->gw, s, env, f->others[mine], f->others_len[mine]);
        return;
    }
    if (env->flags & CX_GROUP_EXCLUDE_CURRENT)
        return;
    char suffix[128];
    queue_group_message(f->gw, s, env, suffix, group_suffix(env, f->mine, f->current, mine, 1, suffix));
}

/* A held message replayed to one connection that joined with a since (broker/recovery.c): as it was
 * delivered live, never is_current (the connection that sent it is not this new one). */
static void on_history(cx_gateway *gw, cx_session *s, const cx_env *env)
{
    if (env->text.len < 2 || env->text.ptr[env->text.len - 1] != '}' || s->state != SESSION_CONNECTED)
        return;
    if (env->action.len) {   /* a held application event (chanx-api): as events.c delivers it live */
        cx_gw_deliver_event(gw, s, env);
        return;
    }
    int camel = (env->flags & CX_GROUP_CAMELIZE) != 0;
    int mine = env->user_id != 0 && s->user_id == env->user_id;
    char suffix[128];
    queue_group_message(gw, s, env, suffix,
                        group_suffix(env, camel ? "isMine" : "is_mine", camel ? "isCurrent" : "is_current", mine, 0,
                                     suffix));
}

/* A join to a group with a history: the client learns the group's epoch and seq, and whether what it
 * missed since the epoch:seq it gave follows (recovered) or cannot (reload from the source). For a
 * topic's subscribe, that is its "subscribed" reply, on the topic with the request's ref (Chanx 2.10's
 * envelope); for a consumer's group, a frame of its own. */
static void on_recovery(cx_gateway *gw, cx_session *s, const cx_env *env)
{
    json_t *payload = json_pack("{s:s%, s:I}", "epoch", env->epoch.ptr, (size_t) env->epoch.len, "seq",
                                (json_int_t) env->seq);
    if (payload && !env->topic.len)
        json_object_set_new(payload, "group", json_stringn(env->group.ptr, env->group.len));
    if (payload && (env->flags & CX_RECOVERY_ASKED))
        json_object_set_new(payload, "recovered", json_boolean(env->flags & CX_RECOVERY_RECOVERED));
    json_t *frame = payload ? json_pack("{s:s, s:o}", "action", env->topic.len ? "subscribed" : "recovery",
                                        "payload", payload) : NULL;
    if (frame && env->topic.len) {
        json_object_set_new(frame, "version", json_integer(1));
        json_object_set_new(frame, "topic", json_stringn(env->topic.ptr, env->topic.len));
        if (env->ref.len)
            json_object_set_new(frame, "ref", json_stringn(env->ref.ptr, env->ref.len));
    }
    char *text = cx_json_text(frame, NULL);
    if (text)
        cx_gw_queue(gw, s, text, strlen(text), NULL, 0);
    free(text);
    json_decref(frame);
}

static void on_group_send(cx_gateway *gw, const cx_env *env)
{
    if (env->text.len < 2 || env->text.ptr[env->text.len - 1] != '}')
        return;
    int camel = (env->flags & CX_GROUP_CAMELIZE) != 0;
    fanout f = { gw, env, camel ? "isMine" : "is_mine", camel ? "isCurrent" : "is_current", ++gw->fanout_stamp,
                 (env->flags & CX_GROUP_SPLIT) != 0, { { 0 } }, { 0 } };
    for (int mine = 0; mine < 2; mine++)
        f.others_len[mine] = group_suffix(env, f.mine, f.current, mine, 0, f.others[mine]);
    /* The parts of a split send (more than CX_PROTO_MAX_GROUPS groups) share the first part's stamp, so a
     * member of groups in two parts gets it once. Parts of one sender arrive in order; another send
     * between them does not matter (split sends stamp split_stamp), another split send does. */
    if (f.split && (env->flags & CX_GROUP_CONTINUES) && gw->split_sender == env->conn)
        f.stamp = gw->split_stamp;
    else if (f.split)
        gw->split_stamp = f.stamp, gw->split_sender = env->conn;
    for (uint32_t i = 0; i < env->ngroups; i++) {
        char *key = cx_slice_dup(env->groups[i]);
        cx_idmap *members = key ? zhashx_lookup(gw->groups, key) : NULL;
        if (members)
            cx_idmap_foreach(members, deliver, &f);
        free(key);
    }
}

/* The worker process serving s died (broker/repin.c): its consumer starts again on another; the client
 * notices nothing. The session keeps its groups through the move, so group messages meanwhile reach it:
 * the new consumer's build_groups joins them again, and the broker sends GROUP_DISCARD for those it did
 * not. The CONNECT kept at admission goes again, flagged restarted. A REPIN is rare (a crash): decoding
 * and encoding here keeps every connect down to one encoding. */
static void on_repin(cx_gateway *gw, cx_session *s)
{
    cx_env connect;
    const char *data;
    size_t len;
    if (!s->connect_again || cx_decoder_decode(gw->dec, s->connect_again, s->connect_again_len, &connect) != 0
        || connect.type != CX_ENV_CONNECT) {
        cx_session_close(s, 1011, "worker lost");
        return;
    }
    connect.flags |= CX_USER_RESTARTED;
    if (cx_encoder_encode(gw->enc, &connect, &data, &len) != 0 || cx_link_send_raw(gw->link, data, len) != 0)
        cx_session_close(s, 1011, "worker lost");
}

/* --------------------------------------------------------------- dispatch */

static void dispatch(cx_gateway *gw, const cx_env *env)
{
    if (env->type == CX_ENV_ROUTES) {
        on_routes(gw, env);
        return;
    }
    if (env->type == CX_ENV_GROUP_SEND) {
        on_group_send(gw, env);
        return;
    }
    if (env->type == CX_ENV_EVENT) {
        cx_gw_on_event(gw, env);
        return;
    }
    cx_session *s = cx_idmap_get(gw->sessions, env->conn);
    if (!s)
        return;   /* the client left while the envelope was on its way */
    switch (env->type) {
    case CX_ENV_SEND:
        cx_gw_queue(gw, s, env->text.ptr, env->text.len, NULL, 0);
        break;
    case CX_ENV_CLOSE: {
        char reason[64];
        snprintf(reason, sizeof reason, "%.*s", (int) env->text.len, env->text.ptr);
        cx_session_close(s, (int) env->code, reason);
        break;
    }
    case CX_ENV_GROUP_ADD:
        group_add(gw, s, env->group);
        break;
    case CX_ENV_GROUP_DISCARD:
        group_discard(gw, s, env->group);
        break;
    case CX_ENV_HISTORY:
        on_history(gw, s, env);
        break;
    case CX_ENV_RECOVERY:
        on_recovery(gw, s, env);
        break;
    case CX_ENV_REPIN:
        on_repin(gw, s);
        break;
    default:
        break;
    }
}

void cx_gw_upstream_drain(cx_gateway *gw)
{
    if (gw->in_drain)
        return;
    gw->in_drain = 1;
    cx_env env;
    for (cx_link_event ev; (ev = cx_link_recv(gw->link, &env)) != CX_LINK_NONE;) {
        if (ev == CX_LINK_REINTRODUCE) {   /* a new broker: it knows nothing of ours */
            cx_link_hello(gw->link);
            cx_gw_reintroduce(gw);
        } else {
            dispatch(gw, &env);
        }
    }
    gw->in_drain = 0;
    cx_gw_flush_dirty(gw);   /* what this batch of envelopes queued leaves now, one send per client */
}

/* ------------------------------------------------------------ re-announce */

/* A broker that does not know us (restarted, a standby that took over, or one that declared us dead
 * after a silence): the link has sent HELLO; we re-announce every connection we hold with its groups
 * and its user, for events to a user (RESUME, then RESUME 0), and the broker pins them again to the workers that re-announce them
 * (broker/rebuild.c). Clients keep their connections; upgrades answer 503 until the broker sends the
 * route table again. */
void cx_gw_reintroduce(cx_gateway *gw)
{
    gw->have_routes = 0;
    size_t n, resumed = 0;
    cx_session **all = cx_session_snapshot(gw->sessions, &n);
    for (size_t i = 0; i < n; i++) {
        cx_session *s = all[i];
        if (!s->announced)
            continue;
        size_t g = 0;
        do {   /* a RESUME carries at most CX_PROTO_MAX_GROUPS groups: more go in more RESUMEs */
            cx_env env = { .type = CX_ENV_RESUME, .conn = s->id, .user_id = s->user_id };
            for (; g < s->ngroups && env.ngroups < CX_PROTO_MAX_GROUPS; g++)
                env.groups[env.ngroups++] = cx_slice_of(s->groups[g]);
            cx_link_send(gw->link, &env);
        } while (g < s->ngroups);
        resumed++;
    }
    free(all);
    cx_env done = { .type = CX_ENV_RESUME, .conn = 0 };
    cx_link_send(gw->link, &done);
    if (resumed)
        cx_warn("re-announced %zu connections to the broker", resumed);
}

static void free_group(void **item)
{
    cx_idmap_destroy((cx_idmap **) item);
}

zhashx_t *cx_gw_groups_new(void)
{
    zhashx_t *groups = zhashx_new();
    if (groups)
        zhashx_set_destructor(groups, free_group);
    return groups;
}

void cx_gw_upstream_free(cx_gateway *gw)
{
    free_routes(gw);
}
