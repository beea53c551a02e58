/*
 * bans.h — peers that keep overstepping their role, by CURVE key.
 *
 * A peer's refused envelopes (offences) are counted under its CURVE public
 * key when links are CURVE, under its routing id otherwise. At MAX_OFFENCES
 * the name is banned until the broker restarts: every envelope under it is
 * ignored. Counting by routing id let a peer that changed its id (a new
 * DEALER identity costs nothing) start a fresh count and come back after a
 * ban; a key is what the operator admitted, so that is what is refused.
 * A key shared by several processes (one per role, unless made per host)
 * is banned for all of them: revoking it is what a misbehaving key needs.
 */
#ifndef CX_BROKER_BANS_H
#define CX_BROKER_BANS_H

typedef struct cx_bans cx_bans;

cx_bans *cx_bans_new(void);
void cx_bans_destroy(cx_bans **self_p);
/* Counts one offence of name; returns the count so far (MAX_OFFENCES and more: banned). */
int cx_bans_offence(cx_bans *self, const char *name);
int cx_bans_banned(const cx_bans *self, const char *name);

#endif
