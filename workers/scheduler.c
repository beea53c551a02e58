/*
 * scheduler.c — a fixed pool of threads around one FIFO run queue.
 *
 * One mutex and one condition variable: a push appends and signals one
 * waiter; a thread pops from the front, runs the node unlocked, and goes
 * back for more. FIFO keeps it fair: an actor with a long mailbox is pushed
 * to the back after a batch (workers/actor.c), so a flood on one connection
 * cannot starve the others. A thread blocked inside a consumer (a slow
 * query, a sleep) holds only itself; the others keep draining the queue.
 */
#include "workers/scheduler.h"
#include "common/env.h"
#include "common/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct cx_scheduler {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    cx_sched_node *head, *tail;
    int stopping;
    int nthreads;
    pthread_t *threads;
    cx_sched_run_fn *run;
    cx_sched_thread_fn *thread_hook;
};

static void *thread_main(void *arg)
{
    cx_scheduler *self = arg;
    if (self->thread_hook)
        self->thread_hook(1);
    pthread_mutex_lock(&self->lock);
    for (;;) {
        while (!self->head && !self->stopping)
            pthread_cond_wait(&self->ready, &self->lock);
        cx_sched_node *node = self->head;
        if (!node)
            break;   /* stopping and nothing left */
        self->head = node->next;
        if (!self->head)
            self->tail = NULL;
        node->next = NULL;
        pthread_mutex_unlock(&self->lock);
        self->run(node);
        pthread_mutex_lock(&self->lock);
    }
    pthread_mutex_unlock(&self->lock);
    if (self->thread_hook)
        self->thread_hook(0);
    return NULL;
}

int cx_scheduler_default_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return (int) cx_env_long("CHANX_WORKER_THREADS", cores > 0 ? cores : 1, 1, 1024);
}

cx_scheduler *cx_scheduler_new(int nthreads, cx_sched_run_fn *run, cx_sched_thread_fn *thread_hook)
{
    cx_scheduler *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->ready, NULL);
    self->run = run;
    self->thread_hook = thread_hook;
    self->threads = calloc((size_t) (nthreads > 0 ? nthreads : 1), sizeof *self->threads);
    if (!self->threads) {
        cx_scheduler_destroy(&self);
        return NULL;
    }
    for (int i = 0; i < (nthreads > 0 ? nthreads : 1); i++) {
        if (pthread_create(&self->threads[i], NULL, thread_main, self) != 0) {
            cx_error("cannot start worker thread %d", i);
            cx_scheduler_destroy(&self);
            return NULL;
        }
        self->nthreads++;
    }
    return self;
}

void cx_scheduler_destroy(cx_scheduler **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_scheduler *self = *self_p;
    pthread_mutex_lock(&self->lock);
    self->stopping = 1;
    pthread_cond_broadcast(&self->ready);
    pthread_mutex_unlock(&self->lock);
    for (int i = 0; i < self->nthreads; i++)
        pthread_join(self->threads[i], NULL);
    free(self->threads);
    pthread_cond_destroy(&self->ready);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

void cx_scheduler_push(cx_scheduler *self, cx_sched_node *node)
{
    node->next = NULL;
    pthread_mutex_lock(&self->lock);
    if (self->tail)
        self->tail->next = node;
    else
        self->head = node;
    self->tail = node;
    pthread_cond_signal(&self->ready);
    pthread_mutex_unlock(&self->lock);
}

int cx_scheduler_threads(const cx_scheduler *self)
{
    return self->nthreads;
}
