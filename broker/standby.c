/*
 * standby.c — a standby broker's side of the history copy.
 *
 * A standby (chanx-broker --bind <the second endpoint of CHANX_BROKER>)
 * dials its primary (the first endpoint) as a peer of role CX_ROLE_STANDBY,
 * with the broker's own key, and the primary sends it every group history
 * it keeps (recovery.c: everything held when the standby introduces itself,
 * then each new history and each held message). The standby keeps the copy
 * in its own history table; when gateways and workers fail over to it, it
 * stops following and serves from the copy, so a client's since still
 * names a known epoch and seq (recovered: true). The copy is only taken
 * while the standby serves nobody: once it has peers of its own, a primary
 * that comes back is not followed again (its epochs are new anyway).
 */
#include "broker/broker_internal.h"
#include "common/link.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct cx_broker_standby {
    cx_link *link;
};

cx_broker_standby *cx_broker_standby_new(const char *primary)
{
    cx_broker_standby *self = calloc(1, sizeof *self);
    char node[96], host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "standby-%s-%d", host, (int) getpid());
    if (!self || !(self->link = cx_link_new(primary, CX_ROLE_STANDBY, node))) {
        free(self);
        return NULL;
    }
    cx_link_hello(self->link);
    cx_info("standby: copying the group histories of %s", primary);
    return self;
}

void cx_broker_standby_destroy(cx_broker_standby **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_link_destroy(&(*self_p)->link);
    free(*self_p);
    *self_p = NULL;
}

void *cx_broker_standby_socket(cx_broker_standby *self)
{
    return cx_link_socket(self->link);
}

static void copy(cx_broker *self, const cx_env *env)
{
    char *group = cx_slice_dup(env->group);
    cx_history_message m = { env->seq, env->user_id, env->flags, env->text, env->action };
    if (group && cx_history_mirror(self->history, group, env->epoch, env->seq, env->history_size,
                                   env->history_ttl_ms, env->text.len ? &m : NULL, cx_now_ms()) != 0)
        cx_warn("standby: could not copy seq %llu of %s", (unsigned long long) env->seq, group);
    free(group);
}

void cx_broker_standby_pump(cx_broker *self)
{
    cx_broker_standby *s = self->following;
    if (!s)
        return;
    cx_env env;
    for (cx_link_event ev; (ev = cx_link_recv(s->link, &env)) != CX_LINK_NONE;) {
        if (ev == CX_LINK_REINTRODUCE)   /* the primary restarted: its epochs are new, its copy starts over */
            cx_link_hello(s->link);
        else if (env.type == CX_ENV_HISTORY && env.conn == 0)
            copy(self, &env);
    }
    cx_link_tick(s->link);
}
