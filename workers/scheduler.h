/*
 * scheduler.h — the worker's thread pool: runs ready actors, one thread each.
 *
 * The scheduler knows nothing of consumers: it keeps a FIFO run queue of
 * nodes (embedded in whatever is scheduled, see workers/actor.h) and N
 * threads that pop a node and call run(node). Whoever schedules a node
 * guarantees it is queued at most once at a time; that is how an actor runs
 * on at most one thread at a time.
 *
 * Threading: cx_scheduler_push may be called from any thread; new/destroy
 * from the owner (the link thread) only.
 */
#ifndef CX_WORKERS_SCHEDULER_H
#define CX_WORKERS_SCHEDULER_H

#include <stddef.h>

typedef struct cx_sched_node {
    struct cx_sched_node *next;
} cx_sched_node;

typedef struct cx_scheduler cx_scheduler;

/* Called on a pool thread for each popped node. */
typedef void (cx_sched_run_fn)(cx_sched_node *node);
/* Called on each pool thread when it starts and when it ends (may be NULL). */
typedef void (cx_sched_thread_fn)(int starting);

/* Starts nthreads threads (at least 1). NULL when a thread cannot be started. */
cx_scheduler *cx_scheduler_new(int nthreads, cx_sched_run_fn *run, cx_sched_thread_fn *thread_hook);
/* Lets the threads finish what is queued, then joins them. */
void cx_scheduler_destroy(cx_scheduler **self_p);
/* Queues node at the back of the run queue and wakes one idle thread. */
void cx_scheduler_push(cx_scheduler *self, cx_sched_node *node);
int cx_scheduler_threads(const cx_scheduler *self);

/* CHANX_WORKER_THREADS, default: the number of online cores. */
int cx_scheduler_default_threads(void);

#endif
