/*
 * db_pool.c — a fixed set of PostgreSQL connection slots (see db_pool.h).
 *
 * Slots, not a queue of connections: a free slot may hold no connection yet
 * (lazy start, or the last one broke), and acquire connects it then, outside
 * the lock, so a slow connect holds up only the thread that needs it. The
 * gateway has its own connections per auth thread (gateway/auth.c): the same
 * "retry once on a connection that died while idle" rule, but its threads
 * own their connection for life, which is why the two do not share code.
 */
#include "workers/db_pool.h"
#include "common/env.h"
#include "common/log.h"
#include "common/pg_options.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct cx_db_conn {
    PGconn *pg;
    int busy;
};

struct cx_db_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    char *conninfo;
    int timeout_ms;
    int size;
    cx_db_conn *slots;
};

cx_db_pool *cx_db_pool_new_from_env(int default_size)
{
    const char *url = cx_env_str("CHANX_DATABASE_URL", NULL);
    if (!url)
        return NULL;
    cx_db_pool *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->size = (int) cx_env_long("CHANX_WORKER_DB_POOL", default_size, 1, 1000);
    self->timeout_ms = (int) cx_env_long("CHANX_WORKER_DB_TIMEOUT_MS", 5000, 1, 3600000);
    self->conninfo = strdup(url);
    self->slots = calloc((size_t) self->size, sizeof *self->slots);
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->freed, NULL);
    if (!self->conninfo || !self->slots)
        cx_db_pool_destroy(&self);
    return self;
}

void cx_db_pool_destroy(cx_db_pool **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_db_pool *self = *self_p;
    for (int i = 0; self->slots && i < self->size; i++)
        if (self->slots[i].pg)
            PQfinish(self->slots[i].pg);
    free(self->slots);
    free(self->conninfo);
    pthread_cond_destroy(&self->freed);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

static PGconn *connect_db(cx_db_pool *self, char *err, size_t errlen)
{
    char connect_s[16], ours[128], options[1024];
    snprintf(connect_s, sizeof connect_s, "%d", self->timeout_ms < 2000 ? 2 : (self->timeout_ms + 999) / 1000);
    snprintf(ours, sizeof ours, "-c statement_timeout=%d -c DateStyle=ISO -c TimeZone=UTC", self->timeout_ms);
    cx_pg_options(self->conninfo, ours, options, sizeof options);   /* keeps the URL's own options */
    const char *keys[] = { "dbname", "connect_timeout", "options", "application_name", NULL };
    const char *values[] = { self->conninfo, connect_s, options, "chanx-worker", NULL };
    PGconn *pg = PQconnectdbParams(keys, values, 1);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "database unavailable: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return NULL;
    }
    return pg;
}

cx_db_conn *cx_db_pool_acquire(cx_db_pool *self, char *err, size_t errlen)
{
    if (!self) {
        snprintf(err, errlen, "no database: CHANX_DATABASE_URL is not set");
        return NULL;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += self->timeout_ms / 1000;
    until.tv_nsec += (long) (self->timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    cx_db_conn *conn = NULL;
    pthread_mutex_lock(&self->lock);
    while (!conn) {
        for (int i = 0; i < self->size && !conn; i++)   /* a slot with a live connection first */
            if (!self->slots[i].busy && self->slots[i].pg)
                conn = &self->slots[i];
        for (int i = 0; i < self->size && !conn; i++)
            if (!self->slots[i].busy)
                conn = &self->slots[i];
        if (!conn && pthread_cond_timedwait(&self->freed, &self->lock, &until) == ETIMEDOUT)
            break;
    }
    if (conn)
        conn->busy = 1;
    pthread_mutex_unlock(&self->lock);
    if (!conn) {
        snprintf(err, errlen, "no database connection free within %d ms (CHANX_WORKER_DB_POOL=%d)",
                 self->timeout_ms, self->size);
        return NULL;
    }
    if (conn->pg && PQstatus(conn->pg) != CONNECTION_OK) {
        PQfinish(conn->pg);
        conn->pg = NULL;
    }
    if (!conn->pg && !(conn->pg = connect_db(self, err, errlen))) {
        cx_db_pool_release(self, conn);
        return NULL;
    }
    return conn;
}

void cx_db_pool_release(cx_db_pool *self, cx_db_conn *conn)
{
    if (conn->pg && (PQstatus(conn->pg) != CONNECTION_OK || PQtransactionStatus(conn->pg) != PQTRANS_IDLE)) {
        PQfinish(conn->pg);
        conn->pg = NULL;
    }
    pthread_mutex_lock(&self->lock);
    conn->busy = 0;
    pthread_cond_signal(&self->freed);
    pthread_mutex_unlock(&self->lock);
}

PGresult *cx_db_conn_exec(cx_db_pool *self, cx_db_conn *conn, const char *sql, int nparams,
                          const char *const *values, int retry)
{
    PGresult *res = PQexecParams(conn->pg, sql, nparams, NULL, values, NULL, NULL, 0);
    if (!retry || PQstatus(conn->pg) == CONNECTION_OK)
        return res;
    /* Broken while idle (PostgreSQL restarted): the server never ran the command; run it on a
     * fresh connection once. */
    char err[256];
    PGconn *fresh = connect_db(self, err, sizeof err);
    if (!fresh)
        return res;
    PQclear(res);
    PQfinish(conn->pg);
    conn->pg = fresh;
    cx_info("database connection re-established");
    return PQexecParams(conn->pg, sql, nparams, NULL, values, NULL, NULL, 0);
}
