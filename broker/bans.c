/*
 * bans.c — offences and bans by key or routing id (bans.h).
 */
#include "broker/bans.h"
#include "broker/broker_internal.h"

#include <czmq.h>
#include <stdint.h>
#include <stdlib.h>

struct cx_bans {
    zhashx_t *offences;   /* name → (uintptr_t) count */
    size_t banned;        /* names at MAX_OFFENCES: none, and the check costs no hashing */
};

cx_bans *cx_bans_new(void)
{
    cx_bans *self = calloc(1, sizeof *self);
    if (self && !(self->offences = zhashx_new()))
        cx_bans_destroy(&self);
    return self;
}

void cx_bans_destroy(cx_bans **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->offences);
    free(*self_p);
    *self_p = NULL;
}

int cx_bans_offence(cx_bans *self, const char *name)
{
    uintptr_t n = (uintptr_t) zhashx_lookup(self->offences, name) + 1;
    zhashx_update(self->offences, name, (void *) n);
    self->banned += n == MAX_OFFENCES;
    return (int) n;
}

int cx_bans_banned(const cx_bans *self, const char *name)
{
    return self->banned > 0 && (uintptr_t) zhashx_lookup(self->offences, name) >= MAX_OFFENCES;
}
