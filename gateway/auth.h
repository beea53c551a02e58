/*
 * auth.h — DRF-style authentication and permissions at the edge.
 *
 * The gateway decides who a client is and whether it may connect before a
 * worker ever sees it. Each decision needs PostgreSQL, which must never
 * block the WebSocket event loop, so requests go to a small pool of threads
 * with one libpq connection each (CHANX_DB_POOL, default 4). A finished
 * request is queued and the loop is woken (the wake callback, which calls
 * lws_cancel_service); the loop then collects results with cx_auth_poll.
 *
 * A database that is down or slow gives 500 {"detail":"Internal server
 * error"}; each thread reconnects by itself, so service resumes when the
 * database is back, without a restart.
 */
#ifndef CX_GATEWAY_AUTH_H
#define CX_GATEWAY_AUTH_H

#include <stdint.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "gateway/consumer_spec.h"

/* What the client presented. Strings are copied by cx_auth_submit. */
typedef struct {
    const char *authorization;   /* Authorization header */
    const char *cookie;          /* Cookie header */
    const char *origin;          /* Origin header */
    const char *host;            /* Host header */
    const char *token_param;     /* ?token= */
    const char *jwt_param;       /* the configured JWT query parameter */
} cx_credentials;

typedef struct {
    uint64_t conn;
    int status;                  /* 200, 401, 403, 404, 500 */
    char detail[160];
    int64_t user_id;             /* 0: anonymous */
    char username[160];
    uint32_t user_flags;         /* CX_USER_* */
    char *obj;                   /* the queryset row as JSON text, or NULL; owned by the result */
    int decided_by;              /* 1 + the cx_auth_class that identified or refused the user; 0: none */
    int64_t expires_ms;          /* a JWT's exp (+ leeway), ms since the epoch: the connection ends then; 0: never */
    char credential[128];        /* the DRF token key or session key that identified the user, for
                                  * revalidation (gateway/revalidate.h); never leaves the gateway */
} cx_auth_result;

typedef struct cx_auth cx_auth;

/* conninfo: libpq connection string; wake is called from pool threads when a result is ready. */
cx_auth *cx_auth_new(const char *conninfo, int threads, void (*wake)(void *arg), void *arg);
void cx_auth_destroy(cx_auth **self_p);
/* Queues a decision for connection conn. spec is shared (refcounted). kwargs is copied. */
int cx_auth_submit(cx_auth *self, uint64_t conn, cx_consumer_spec *spec, const cx_credentials *cred,
                   const json_t *kwargs);
/* Database work other than a decision, run on a pool thread: task(db, arg) with the thread's
 * connection, or db NULL when the database is unreachable; then the loop is woken. arg stays the
 * caller's, who learns of completion through it. A task still queued when the pool is destroyed
 * is dropped unrun. Returns -1 when out of memory. */
typedef void (*cx_auth_task)(PGconn *db, void *arg);
int cx_auth_submit_task(cx_auth *self, cx_auth_task task, void *arg);
/* Takes one finished result; returns 1 and fills out, 0 when none is ready. Free out->obj. After a wake,
 * call it until it returns 0: a result queued behind others that wait does not wake the loop again. */
int cx_auth_poll(cx_auth *self, cx_auth_result *out);
/* Whether the last database attempt succeeded (for /healthz details). */
int cx_auth_database_ok(const cx_auth *self);

#endif
