/*
 * roles.c — the table of peer roles (see roles.h).
 *
 * Gateways open connections and report what their clients do; workers
 * serve connections and address them and their groups; the health probe
 * (`chanx-broker --check`, with the broker's own key) may only ask whether
 * a broker is there; the publish API (chanx-api) sends only events and
 * disconnects, and asks who is present. Which *connection* a peer may speak about is checked
 * by the broker itself (a worker only about those pinned to it, a gateway
 * only about those it opened); this table says which *kinds* of envelope.
 */
#include "broker/roles.h"

#include <string.h>

#define MAY(type) (UINT64_C(1) << (type))
#define INTRODUCE (MAY(CX_ENV_HELLO) | MAY(CX_ENV_HEARTBEAT))

static const cx_role_rule RULES[] = {
    { CX_ROLE_GATEWAY, "gateway", INTRODUCE | MAY(CX_ENV_RESUME) | MAY(CX_ENV_CONNECT) | MAY(CX_ENV_RECEIVE)
                                      | MAY(CX_ENV_ANSWER) | MAY(CX_ENV_DISCONNECT) },
    { CX_ROLE_WORKER, "worker", INTRODUCE | MAY(CX_ENV_RESUME) | MAY(CX_ENV_REGISTER) | MAY(CX_ENV_SEND) | MAY(CX_ENV_CLOSE)
                                    | MAY(CX_ENV_GROUP_ADD) | MAY(CX_ENV_GROUP_DISCARD) | MAY(CX_ENV_GROUP_SEND)
                                    | MAY(CX_ENV_PRESENCE) | MAY(CX_ENV_WORKER_EXIT) },
    /* chanx-api and chanx-admin publish: events and disconnects from the application, nothing about
     * connections of their own (they have none). */
    { CX_ROLE_API, "api", INTRODUCE | MAY(CX_ENV_EVENT) | MAY(CX_ENV_CLOSE_TARGET) | MAY(CX_ENV_PRESENCE) },
    /* last: not a folder of keys. The broker's own key: its health probe (chanx-broker --check, a
     * HEARTBEAT) and a standby broker following it (HELLO as CX_ROLE_STANDBY, then only heartbeats;
     * the primary sends it the group histories). */
    { CX_ROLE_STANDBY, "broker", INTRODUCE },
};
#define N_RULES (sizeof RULES / sizeof *RULES)

const cx_role_rule *cx_role_rule_of(int role)
{
    for (size_t i = 0; i < N_RULES; i++)
        if (RULES[i].role == role)
            return &RULES[i];
    return NULL;
}

const cx_role_rule *cx_role_rule_named(const char *name)
{
    for (size_t i = 0; name && i < N_RULES; i++)
        if (strcmp(RULES[i].name, name) == 0)
            return &RULES[i];
    return NULL;
}

const cx_role_rule *cx_role_rules(size_t *n)
{
    *n = N_RULES - 1;
    return RULES;
}

int cx_role_may_send(const cx_role_rule *rule, cx_env_type type)
{
    return rule && type > 0 && type < 64 && (rule->may_send & MAY(type)) != 0;
}
