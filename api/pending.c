/*
 * pending.c — publish jobs waiting for the broker's RESULTs (pending.h).
 *
 * A short singly linked list: jobs wait a couple of seconds at most and a
 * RESULT finds its job by request id range. Finished jobs move to a second
 * list the server drains, so resuming connections happens in the server,
 * which owns libmicrohttpd.
 */
#include "api/pending.h"
#include "common/link.h"

#include <stdlib.h>

struct cx_pending {
    cx_publisher *publisher;
    cx_pending_job *waiting, *finished;
};

cx_pending *cx_pending_new(cx_publisher *publisher)
{
    cx_pending *self = calloc(1, sizeof *self);
    if (self)
        self->publisher = publisher;
    return self;
}

void cx_pending_job_free(cx_pending_job **job_p)
{
    if (!job_p || !*job_p)
        return;
    cx_pending_job *job = *job_p;
    for (size_t i = 0; i < job->n; i++) {
        cx_publish_cmd_free(&job->cmds[i]);
        if (job->results)
            cx_publish_result_clear(&job->results[i]);
    }
    free(job->cmds);
    free(job->results);
    free(job->answered);
    free(job);
    *job_p = NULL;
}

static void free_list(cx_pending_job *job)
{
    while (job) {
        cx_pending_job *next = job->next;
        cx_pending_job_free(&job);
        job = next;
    }
}

void cx_pending_destroy(cx_pending **self_p)
{
    if (!self_p || !*self_p)
        return;
    free_list((*self_p)->waiting);
    free_list((*self_p)->finished);
    free(*self_p);
    *self_p = NULL;
}

cx_pending_job *cx_pending_start(cx_pending *self, void *conn, cx_publish_cmd *cmds, size_t n, int timeout_ms)
{
    cx_pending_job *job = calloc(1, sizeof *job);
    if (job) {
        job->results = calloc(n, sizeof *job->results);
        job->answered = calloc(n + 1, 1);
    }
    if (!job || !job->results || !job->answered) {
        if (job) {
            free(job->results);
            free(job->answered);
        }
        free(job);
        return NULL;
    }
    job->conn = conn;
    job->cmds = cmds;
    job->n = n;
    job->deadline = cx_now_ms() + timeout_ms;
    job->first = cx_publisher_send(self->publisher, cmds, n);
    job->next = self->waiting;
    self->waiting = job;
    return job;
}

static void on_result(uint64_t request, const cx_publish_result *result, void *arg)
{
    cx_pending *self = arg;
    for (cx_pending_job *job = self->waiting; job; job = job->next) {
        if (request < job->first || request >= job->first + job->n)
            continue;
        size_t i = (size_t) (request - job->first);
        if (!job->answered[i]) {
            job->answered[i] = 1;
            job->results[i] = *result;
            json_incref(result->presence);   /* lent by the publisher */
            job->done++;
        }
        return;
    }
}

/* Moves the finished jobs (all answered, or past their deadline) to the finished list. */
static void sweep(cx_pending *self, int64_t now, int all)
{
    for (cx_pending_job **at = &self->waiting; *at;) {
        cx_pending_job *job = *at;
        if (!all && job->done < job->n && now < job->deadline) {
            at = &job->next;
            continue;
        }
        job->finished = 1;
        *at = job->next;
        job->next = self->finished;
        self->finished = job;
    }
}

void cx_pending_pump(cx_pending *self)
{
    if (cx_publisher_receive(self->publisher, on_result, self))
        for (cx_pending_job *job = self->waiting; job; job = job->next)
            cx_publisher_resend(self->publisher, job->cmds, job->n, job->answered);
    cx_publisher_tick(self->publisher);
    sweep(self, cx_now_ms(), 0);
}

cx_pending_job *cx_pending_take_finished(cx_pending *self)
{
    cx_pending_job *job = self->finished;
    if (job) {
        self->finished = job->next;
        job->next = NULL;
    }
    return job;
}

long cx_pending_next_ms(const cx_pending *self)
{
    long next = -1;
    int64_t now = cx_now_ms();
    for (const cx_pending_job *job = self->waiting; job; job = job->next) {
        long left = job->deadline > now ? (long) (job->deadline - now) : 0;
        if (next < 0 || left < next)
            next = left;
    }
    return next;
}

void cx_pending_finish_all(cx_pending *self)
{
    sweep(self, cx_now_ms(), 1);
}
