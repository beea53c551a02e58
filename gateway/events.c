/*
 * events.c — server-side events the gateway delivers itself (passthrough).
 *
 * An EVENT from the application names groups or one connection. A consumer
 * that lists the event's action in .passthrough_events wants it sent to its
 * clients as it is, so the gateway does that here, exactly as it fans out a
 * group message: one envelope from the broker, the per-member work spread
 * over gateways, no worker hop. Recipients whose consumer does not pass the
 * action through are the worker's business (receive_event, or a logged drop),
 * which gets the same EVENT from the broker; the gateway skips them.
 *
 * A topic broadcast's own seq travels beside the text (EVENT's topic_seq,
 * common/publish.c), and the gateway writes it as the event's last member,
 * "seq". On a group with a history the broker stamps the EVENT with the
 * group's seq (broker/recovery.c), which is written instead: a client never
 * reads two, and no text is searched for one. A joiner's replay of a
 * held event (HISTORY with an action, upstream.c) is delivered here too, to
 * the same connections live delivery reaches.
 *
 * Which actions pass through comes from the consumer's spec in the route
 * table, held by each session, so a route table update never changes what
 * an existing connection's consumer does.
 */
#include "gateway/gateway_internal.h"
#include "common/publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The event's last member "seq" (cx_publish_seq_member), into out: the group's seq the broker stamped
 * (env->seq), else the publisher's own (EVENT's topic_seq); its length, 0 for none. Made once per EVENT,
 * not per delivery. */
static size_t seq_suffix(const cx_env *env, char *out)
{
    if (env->seq)
        return cx_publish_seq_member(env->text.len, (int64_t) env->seq, out);
    if (env->type == CX_ENV_EVENT && (env->flags & CX_EVENT_TOPIC_SEQ))
        return cx_publish_seq_member(env->text.len, env->topic_seq, out);
    return 0;
}

typedef struct {
    cx_gateway *gw;
    const cx_env *env;
    char suffix[CX_PUBLISH_SEQ_MEMBER_MAX];   /* seq_suffix's */
    size_t suffix_len;
} event_fanout;

static void deliver(const event_fanout *f, cx_session *s)
{
    const cx_env *env = f->env;
    if (s->state != SESSION_CONNECTED || !cx_consumer_spec_passes(s->spec, env->action.ptr, env->action.len))
        return;
    if (f->suffix_len)
        cx_gw_queue(f->gw, s, env->text.ptr, env->text.len - 1, f->suffix, f->suffix_len);
    else
        cx_gw_queue(f->gw, s, env->text.ptr, env->text.len, NULL, 0);
}

static void fanout_init(event_fanout *f, cx_gateway *gw, const cx_env *env)
{
    f->gw = gw;
    f->env = env;
    f->suffix_len = seq_suffix(env, f->suffix);
}

void cx_gw_deliver_event(cx_gateway *gw, cx_session *s, const cx_env *env)
{
    event_fanout f;
    fanout_init(&f, gw, env);
    deliver(&f, s);
}

static void deliver_member(uint64_t id, void *value, void *arg)
{
    event_fanout *f = arg;
    cx_session *s = value;
    (void) id;
    if (s->fanout_stamp == f->gw->fanout_stamp)
        return;   /* a member of two of the groups gets it once */
    s->fanout_stamp = f->gw->fanout_stamp;
    deliver(f, s);
}

void cx_gw_on_event(cx_gateway *gw, const cx_env *env)
{
    if (env->text.len < 2 || env->text.ptr[0] != '{' || env->text.ptr[env->text.len - 1] != '}')
        return;   /* chanx-api sends only JSON objects; anything else is not for clients */
    if (env->target == CX_TARGET_CONNECTION) {
        cx_session *s = cx_idmap_get(gw->sessions, env->conn);
        if (s)
            cx_gw_deliver_event(gw, s, env);
        return;
    }
    event_fanout f;
    fanout_init(&f, gw, env);
    gw->fanout_stamp++;
    for (uint32_t i = 0; i < env->ngroups; i++) {
        char *key = cx_slice_dup(env->groups[i]);
        cx_idmap *members = key ? zhashx_lookup(gw->groups, key) : NULL;
        if (members)
            cx_idmap_foreach(members, deliver_member, &f);
        free(key);
    }
}
