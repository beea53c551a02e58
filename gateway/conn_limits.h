/*
 * conn_limits.h — how many connections one user, or one address of
 * anonymous clients, may hold open at this gateway.
 *
 * Without a bound, one token (or one anonymous client) could open connections
 * until the gateway ran out of descriptors or memory, each one costing its
 * buffers. A connection is counted once authentication admitted it: a user's
 * connections under their user id (CHANX_MAX_CONNECTIONS_PER_USER), an
 * anonymous one under the client's address (CHANX_MAX_CONNECTIONS_PER_ADDRESS,
 * after CHANX_TRUSTED_PROXIES resolved it). One more is refused like any
 * authentication refusal, with DRF's shape and HTTP 429 (close code 4429).
 * Counts are per gateway process, not across gateways. 0 means no limit.
 */
#ifndef CX_GATEWAY_CONN_LIMITS_H
#define CX_GATEWAY_CONN_LIMITS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cx_conn_limits cx_conn_limits;

/* Limits of 0 count nothing. NULL when out of memory. */
cx_conn_limits *cx_conn_limits_new(size_t per_user, size_t per_address);
void cx_conn_limits_destroy(cx_conn_limits **self_p);
/* Counts connection conn of user_id (0: anonymous, counted by address) and returns 0; or returns the
 * limit it would exceed (nothing counted) and writes DRF's detail into detail[size]. Out of memory
 * counts nothing and admits: the limit protects memory, it must not refuse for the lack of it. */
size_t cx_conn_limits_admit(cx_conn_limits *self, uint64_t conn, int64_t user_id, const char *address,
                            char *detail, size_t size);
/* The connection ended: it no longer counts (nothing happens for one never admitted). */
void cx_conn_limits_release(cx_conn_limits *self, uint64_t conn);

#endif
