/*
 * auth.c — the authentication pipeline and its database thread pool.
 *
 * One request walks DRF's steps in DRF's order (rest_framework/views.py,
 * initial()): each authentication class of the consumer in turn — a class
 * that finds no credentials of its kind passes, one that finds bad ones
 * fails the request, the first that identifies the user wins — then every
 * permission, then the object queryset and object permission. Failure
 * statuses and texts are DRF's, so clients written against a Django API
 * read them unchanged.
 *
 * Credentials are looked up with parameters only (prepared.c); the
 * statement_timeout and connect_timeout (CHANX_DB_TIMEOUT_MS, default 3 s)
 * bound every step, so a sick database turns into 500s, never into a stuck
 * gateway.
 *
 * The pool looks like the worker's scheduler (workers/scheduler.c: threads
 * around one FIFO and a condition variable) but is kept apart on purpose:
 * each thread here owns a database connection, finished jobs come back on a
 * second queue under the same lock as database_ok and wake the loop, and a
 * stopping gateway drops what is queued instead of deciding it (the
 * scheduler runs everything queued). A shared pool would need hooks for all
 * three; the common part is the dozen lines of start, signal and join.
 *
 * The same threads run the gateway's other database work as tasks
 * (cx_auth_submit_task: revalidate.c's batched revocation checks), so the
 * gateway holds CHANX_DB_POOL connections in all, never more.
 */
#include "gateway/auth.h"
#include "common/env.h"
#include "gateway/auth_internal.h"
#include "common/log.h"
#include "common/pg_options.h"
#include "common/metrics.h"
#include "gateway/metrics.h"
#include "proto/envelope.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct job {
    struct job *next;
    uint64_t conn;
    cx_consumer_spec *spec;
    cx_auth_request req;
    json_t *kwargs;
    cx_auth_result result;
    double queued;   /* cx_metrics_now() at submit: the pool wait */
    cx_auth_task task;   /* non-NULL: a task (cx_auth_submit_task), not a decision */
    void *task_arg;
} job;

struct cx_auth {
    char *conninfo;
    pthread_t *threads;
    int nthreads;
    pthread_mutex_t lock;
    pthread_cond_t ready;
    job *todo, *todo_tail;
    job *done, *done_tail;
    int stopping;
    int database_ok;
    int timeout_ms;   /* statement and connect timeout (CHANX_DB_TIMEOUT_MS) */
    void (*wake)(void *);
    void *wake_arg;
};

static void push(job **head, job **tail, job *j)
{
    j->next = NULL;
    if (*tail)
        (*tail)->next = j;
    else
        *head = j;
    *tail = j;
}

static job *pop(job **head, job **tail)
{
    job *j = *head;
    if (j && !(*head = j->next))
        *tail = NULL;
    return j;
}

static void job_free(job *j)
{
    cx_consumer_spec_unref(&j->spec);
    cx_auth_request_free(&j->req);
    json_decref(j->kwargs);
    free(j->result.obj);
    free(j);
}

/* --------------------------------------------------------------- threads */

static PGconn *connect_db(const cx_auth *self)
{
    char connect_s[16], ours[64], options[1024];
    /* libpq counts connect_timeout in whole seconds and treats 1 as 2 */
    snprintf(connect_s, sizeof connect_s, "%d", self->timeout_ms < 2000 ? 2 : (self->timeout_ms + 999) / 1000);
    snprintf(ours, sizeof ours, "-c statement_timeout=%d", self->timeout_ms);
    cx_pg_options(self->conninfo, ours, options, sizeof options);   /* keeps the URL's own options */
    const char *keys[] = { "dbname", "connect_timeout", "options", "application_name", NULL };
    const char *values[] = { self->conninfo, connect_s, options, "chanx-gateway", NULL };
    PGconn *db = PQconnectdbParams(keys, values, 1);
    if (PQstatus(db) != CONNECTION_OK) {
        cx_warn("database unavailable: %s", PQerrorMessage(db));
        PQfinish(db);
        return NULL;
    }
    return db;
}

/* Decides one job on this thread's connection, (re)connecting as needed. A connection that was
 * idle when the server restarted only reports it when used: that attempt gets one retry on a
 * fresh connection, so the first clients after a restart are served rather than refused. */
static void decide(cx_auth *self, PGconn **db, job *j)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (*db && PQstatus(*db) != CONNECTION_OK) {
            PQfinish(*db);
            *db = NULL;
        }
        if (!*db && !(*db = connect_db(self)))
            break;
        free(j->result.obj);
        j->result = (cx_auth_result) { .conn = j->conn };
        cx_auth_decide(*db, j->spec, &j->req, j->kwargs, &j->result);
        if (j->result.status != 500 || PQstatus(*db) == CONNECTION_OK)
            return;
    }
    free(j->result.obj);
    j->result = (cx_auth_result) { .conn = j->conn };
    cx_auth_fail(&j->result, 500, "Internal server error");
}

/* A task gets this thread's connection, (re)connected, or NULL when the database is unreachable;
 * the task owns its result, so the job ends here and only the loop is woken. */
static void run_task(cx_auth *self, PGconn **db, job *j)
{
    if (*db && PQstatus(*db) != CONNECTION_OK) {
        PQfinish(*db);
        *db = NULL;
    }
    if (!*db)
        *db = connect_db(self);
    j->task(*db, j->task_arg);
    job_free(j);
    self->wake(self->wake_arg);
}

static void *pool_thread(void *arg)
{
    cx_auth *self = arg;
    PGconn *db = NULL;
    pthread_mutex_lock(&self->lock);
    while (!self->stopping) {
        job *j = pop(&self->todo, &self->todo_tail);
        if (!j) {
            pthread_cond_wait(&self->ready, &self->lock);
            continue;
        }
        pthread_mutex_unlock(&self->lock);
        if (j->task) {
            run_task(self, &db, j);
            pthread_mutex_lock(&self->lock);
            continue;
        }
        cx_gw_observe_pool_wait(cx_metrics_now() - j->queued);
        decide(self, &db, j);
        int ok = db && PQstatus(db) == CONNECTION_OK && j->result.status != 500;
        pthread_mutex_lock(&self->lock);
        self->database_ok = ok || j->result.status != 500;
        /* The loop empties the whole queue once woken (cx_auth_poll until 0), so only the result that
         * finds it empty needs to wake it: under load, one wake-up (a pipe write and a loop turn)
         * serves many results instead of one each. */
        int first = !self->done;
        push(&self->done, &self->done_tail, j);
        pthread_mutex_unlock(&self->lock);
        if (first)
            self->wake(self->wake_arg);
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    PQfinish(db);
    return NULL;
}

/* ------------------------------------------------------------------- api */

cx_auth *cx_auth_new(const char *conninfo, int threads, void (*wake)(void *), void *arg)
{
    cx_auth *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->conninfo = strdup(conninfo);
    self->nthreads = threads > 0 ? threads : 4;
    self->threads = calloc((size_t) self->nthreads, sizeof(pthread_t));
    self->wake = wake;
    self->wake_arg = arg;
    self->database_ok = 1;
    self->timeout_ms = (int) cx_env_long("CHANX_DB_TIMEOUT_MS", 3000, 1, 3600000);
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->ready, NULL);
    if (!self->conninfo || !self->threads) {
        free(self->conninfo);
        free(self->threads);
        free(self);
        return NULL;
    }
    for (int i = 0; i < self->nthreads; i++)
        pthread_create(&self->threads[i], NULL, pool_thread, self);
    return self;
}

void cx_auth_destroy(cx_auth **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_auth *self = *self_p;
    pthread_mutex_lock(&self->lock);
    self->stopping = 1;
    pthread_cond_broadcast(&self->ready);
    pthread_mutex_unlock(&self->lock);
    for (int i = 0; i < self->nthreads; i++)
        pthread_join(self->threads[i], NULL);
    for (job *j; (j = pop(&self->todo, &self->todo_tail));)
        job_free(j);
    for (job *j; (j = pop(&self->done, &self->done_tail));)
        job_free(j);
    pthread_mutex_destroy(&self->lock);
    pthread_cond_destroy(&self->ready);
    free(self->threads);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

int cx_auth_submit(cx_auth *self, uint64_t conn, cx_consumer_spec *spec, const cx_credentials *cred,
                   const json_t *kwargs)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->conn = conn;
    j->spec = cx_consumer_spec_ref(spec);
    j->kwargs = kwargs ? json_deep_copy(kwargs) : json_object();
    if (cx_auth_request_init(&j->req, cred) != 0) {
        job_free(j);
        return -1;
    }
    j->queued = cx_metrics_now();
    pthread_mutex_lock(&self->lock);
    push(&self->todo, &self->todo_tail, j);
    pthread_cond_signal(&self->ready);
    pthread_mutex_unlock(&self->lock);
    return 0;
}

int cx_auth_submit_task(cx_auth *self, cx_auth_task task, void *arg)
{
    job *j = calloc(1, sizeof *j);
    if (!j)
        return -1;
    j->task = task;
    j->task_arg = arg;
    pthread_mutex_lock(&self->lock);
    push(&self->todo, &self->todo_tail, j);
    pthread_cond_signal(&self->ready);
    pthread_mutex_unlock(&self->lock);
    return 0;
}

int cx_auth_poll(cx_auth *self, cx_auth_result *out)
{
    pthread_mutex_lock(&self->lock);
    job *j = pop(&self->done, &self->done_tail);
    pthread_mutex_unlock(&self->lock);
    if (!j)
        return 0;
    *out = j->result;
    j->result.obj = NULL;   /* ownership moves to the caller */
    job_free(j);
    return 1;
}

int cx_auth_database_ok(const cx_auth *self)
{
    return __atomic_load_n(&self->database_ok, __ATOMIC_RELAXED);
}
