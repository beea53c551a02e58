/*
 * answers.c — see answers.h. A small list under one mutex: a worker has at
 * most one waiting request per pool thread, so a scan is cheaper than a map,
 * and one condition variable wakes every waiter, each checking its own id.
 */
#include "workers/answers.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct waiting {
    struct waiting *next;
    uint64_t id;
    json_t *answer;   /* NULL until it arrives */
} waiting;

struct cx_answers {
    pthread_mutex_t lock;
    pthread_cond_t arrived;
    waiting *list;
    uint64_t next_id;
};

cx_answers *cx_answers_new(void)
{
    cx_answers *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&self->lock, NULL);
    pthread_cond_init(&self->arrived, &attr);
    pthread_condattr_destroy(&attr);
    return self;
}

void cx_answers_destroy(cx_answers **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_answers *self = *self_p;
    while (self->list) {
        waiting *w = self->list;
        self->list = w->next;
        json_decref(w->answer);
        free(w);
    }
    pthread_cond_destroy(&self->arrived);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

uint64_t cx_answers_expect(cx_answers *self)
{
    waiting *w = calloc(1, sizeof *w);
    if (!w)
        return 0;
    pthread_mutex_lock(&self->lock);
    w->id = ++self->next_id;
    w->next = self->list;
    self->list = w;
    pthread_mutex_unlock(&self->lock);
    return w->id;
}

/* The entry of id and the link that points at it; lock held. */
static waiting **find(cx_answers *self, uint64_t id)
{
    waiting **at = &self->list;
    while (*at && (*at)->id != id)
        at = &(*at)->next;
    return at;
}

json_t *cx_answers_wait(cx_answers *self, uint64_t id, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&self->lock);
    waiting **at = find(self, id);
    int rc = 0;
    while (*at && !(*at)->answer && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&self->arrived, &self->lock, &until);
        at = find(self, id);
    }
    waiting *w = *at;
    json_t *answer = NULL;
    if (w) {
        *at = w->next;
        answer = w->answer;
        free(w);
    }
    pthread_mutex_unlock(&self->lock);
    return answer;
}

void cx_answers_put(cx_answers *self, uint64_t id, const char *text, size_t len)
{
    json_t *answer = json_loadb(text, len, 0, NULL);
    if (!answer)
        answer = json_pack("{s:s}", "error", "invalid_answer");
    pthread_mutex_lock(&self->lock);
    waiting *w = *find(self, id);
    if (w && !w->answer) {
        w->answer = answer;
        answer = NULL;
        pthread_cond_broadcast(&self->arrived);
    }
    pthread_mutex_unlock(&self->lock);
    json_decref(answer);   /* nobody waits for it any more */
}
