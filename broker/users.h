/*
 * users.h — which connections each authenticated user has, as the broker
 * keeps it.
 *
 * The application addresses people, not sockets: "send this to user 7" must
 * reach every tab of user 7 on every gateway, and "log user 7 out" must close
 * them all. Gateways only know their own clients, so the index lives in the
 * broker, which sees every CONNECT (it carries the user id the gateway
 * authenticated) and every end. Anonymous connections (user 0) are not indexed.
 */
#ifndef CX_BROKER_USERS_H
#define CX_BROKER_USERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cx_users cx_users;

cx_users *cx_users_new(void);
void cx_users_destroy(cx_users **self_p);
/* Records that conn (an opaque pointer, e.g. the broker's connection) belongs to user_id.
 * 0 on success or for user 0, -1 when out of memory. */
int cx_users_add(cx_users *self, int64_t user_id, uint64_t conn_id, void *conn);
/* Forgets conn_id for user_id when it still names conn (a newer connection reusing the id stays). */
void cx_users_remove(cx_users *self, int64_t user_id, uint64_t conn_id, const void *conn);
/* Writes up to max of the user's connections into out; returns how many. */
size_t cx_users_connections(const cx_users *self, int64_t user_id, void **out, size_t max);
/* How many connections the user has. */
size_t cx_users_count(const cx_users *self, int64_t user_id);

#endif
