/*
 * roles.h — what each kind of peer may tell the broker.
 *
 * A peer's role decides which envelopes the broker takes from it. With
 * CURVE on, the role comes from the key the peer authenticated with (the
 * sub-folder of CHANX_CURVE_ALLOWED_DIR its public key is in, which the ZAP
 * handler hands over as the connection's User-Id), never from what its HELLO
 * claims. One row per role in roles.c: adding a role is adding a row (and
 * the name of its key file in CHANX_CURVE_DIR, in common/link.c, if its
 * process uses cx_link; `chanx-admin keygen DIR --role NAME` makes its keys).
 */
#ifndef CX_BROKER_ROLES_H
#define CX_BROKER_ROLES_H

#include <stddef.h>
#include <stdint.h>
#include "proto/envelope.h"

typedef struct {
    int role;             /* cx_role; 0 for the health probe, which is no protocol role */
    const char *name;     /* log name, and the key folder's name under CHANX_CURVE_ALLOWED_DIR */
    uint64_t may_send;    /* bit (1 << cx_env_type) per envelope type the role may send */
} cx_role_rule;

/* The row of a role, NULL when there is none. */
const cx_role_rule *cx_role_rule_of(int role);
/* The row whose name is name (a ZAP User-Id), NULL when there is none. */
const cx_role_rule *cx_role_rule_named(const char *name);
/* The rows whose keys come from folders (the probe's is the broker's own key): *n rows. */
const cx_role_rule *cx_role_rules(size_t *n);
/* Whether the role may send envelopes of this type. */
int cx_role_may_send(const cx_role_rule *rule, cx_env_type type);

#endif
