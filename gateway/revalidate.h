/*
 * revalidate.h — credentials that are revoked while their connection is
 * open end it: a deleted DRF token, a user made inactive or deleted, a
 * Django session logged out or expired (its django_session row gone).
 *
 * Django Channels and Chanx check credentials once, at connect; a user an
 * administrator deactivates keeps every open socket. Here the gateway, which
 * owns authentication and is the only process that holds credentials,
 * re-checks every authenticated connection each CHANX_REVALIDATE_INTERVAL_MS
 * (default 60,000; 0: never) and ends the revoked ones with 4401.
 *
 * Design: the cost must not grow with connections times queries. A round
 * copies what it must check (user id, and the token or session key) and
 * asks PostgreSQL in batches, CX_REVALIDATE_CHUNK keys per statement, one
 * statement per kind (users, tokens, sessions): an anti-join of an array
 * parameter against the table's primary key (unnest($1) ... WHERE NOT
 * EXISTS), so the answer holds only what was revoked, usually nothing. The
 * round runs as a task on the authentication pool (auth.h), never on the
 * event loop; a round still running when the next is due delays it. A round
 * that meets a database error revokes nothing (a database outage must not
 * close every connection) and says so in the log; the next round retries.
 * docs/benchmarks.md has the cost at 100,000 connections.
 *
 * JWT connections are checked for their user only: simplejwt's access
 * tokens are stateless (no row to delete), and their exp ends them anyway
 * (expiry.h). A password change is not checked here (it logs a session out
 * in Django through _auth_user_hash): that needs the user's password hash
 * per session, a heavier round; connect-time checks still see it.
 *
 * Threading: everything but the task runs on the gateway's loop thread. The
 * task reads its round only; the loop reads the round's answer once the task
 * has set done (an atomic store after everything else is written).
 */
#ifndef CX_GATEWAY_REVALIDATE_H
#define CX_GATEWAY_REVALIDATE_H

#include <stdint.h>
#include "gateway/auth.h"

#define CX_REVALIDATE_CHUNK 10000

typedef struct cx_revalidate cx_revalidate;

/* pool: where rounds run (borrowed; destroy the pool first, it may hold a round's task). */
cx_revalidate *cx_revalidate_new(cx_auth *pool, int64_t interval_ms);
void cx_revalidate_destroy(cx_revalidate **self_p);
/* An admitted connection: its user, the class that identified it (1 + cx_auth_class, as
 * cx_auth_result.decided_by) and the token or session key (copied; "" for a JWT). Anonymous
 * connections (user 0) are not tracked. -1 when out of memory. */
int cx_revalidate_track(cx_revalidate *self, uint64_t conn, int64_t user_id, int decided_by, const char *credential);
void cx_revalidate_forget(cx_revalidate *self, uint64_t conn);
/* Starts a round when one is due (now_ms: any monotonic clock) and none is running. */
void cx_revalidate_tick(cx_revalidate *self, int64_t now_ms);
/* Whether a round is in flight (its answer not yet collected). */
int cx_revalidate_running(const cx_revalidate *self);
/* After a round: revoke(conn, arg) for each revoked connection still tracked. */
void cx_revalidate_collect(cx_revalidate *self, void (*revoke)(uint64_t conn, void *arg), void *arg);

#endif
