/*
 * pending.h — publish requests waiting for the broker, while the API goes
 * on serving others.
 *
 * The API has one thread. A request that waited there for the broker's
 * RESULT (up to CHANX_API_TIMEOUT_MS) held every other request behind it:
 * with the broker stopped, even a 401 or /healthz took 1.4-2 s. A request
 * that has passed every check now becomes a job: its commands are sent,
 * its HTTP connection is suspended (libmicrohttpd), and the loop carries
 * on. A job is finished when every command has its RESULT or its deadline
 * has passed; the server then resumes the connection and answers (200, or
 * 503 broker_unavailable as before).
 */
#ifndef CX_API_PENDING_H
#define CX_API_PENDING_H

#include <stddef.h>
#include <stdint.h>
#include "common/publish.h"

typedef struct cx_pending_job {
    struct cx_pending_job *next;
    void *conn;                    /* the suspended connection (struct MHD_Connection *) */
    cx_publish_cmd *cmds;          /* owned */
    size_t n, done;
    cx_publish_result *results;    /* n */
    char *answered;                /* n flags */
    uint64_t first;                /* request id of cmds[0]; the others follow */
    int64_t deadline;              /* ms, cx_now_ms's clock */
    int finished;                  /* all answered (done == n) or the deadline passed */
} cx_pending_job;

typedef struct cx_pending cx_pending;

cx_pending *cx_pending_new(cx_publisher *publisher);
/* Frees the jobs still waiting (their connections must be resumed or gone first). */
void cx_pending_destroy(cx_pending **self_p);
/* Sends cmds (taken over) and returns the job waiting for their results, or NULL when out of memory
 * (cmds are then still the caller's). */
cx_pending_job *cx_pending_start(cx_pending *self, void *conn, cx_publish_cmd *cmds, size_t n, int timeout_ms);
/* Reads the broker, finishes the jobs whose deadline passed; then returns the finished jobs one by
 * one (NULL when none is left). They are no longer waiting: answer them, then cx_pending_job_free. */
void cx_pending_pump(cx_pending *self);
cx_pending_job *cx_pending_take_finished(cx_pending *self);
/* Milliseconds until the nearest deadline (-1 with no job waiting). */
long cx_pending_next_ms(const cx_pending *self);
/* Every waiting job finished now (the server stops): each is then returned by take_finished. */
void cx_pending_finish_all(cx_pending *self);
void cx_pending_job_free(cx_pending_job **job_p);

#endif
