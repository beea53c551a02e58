/*
 * link_queue.c — a mutex-guarded list plus an eventfd (see link_queue.h).
 *
 * The lock is held for a pointer swap only. The eventfd is written when a
 * push finds the list empty: the link thread then takes everything, so a
 * burst of sends costs one wake-up, and the wake-up is never lost (take
 * reads the eventfd before taking the list).
 */
#include "workers/link_queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct cx_link_queue {
    pthread_mutex_t lock;
    cx_lq_item *head, *tail;
    int fd;
};

cx_link_queue *cx_link_queue_new(void)
{
    cx_link_queue *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    self->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (self->fd < 0) {
        cx_link_queue_destroy(&self);
        return NULL;
    }
    return self;
}

void cx_link_queue_destroy(cx_link_queue **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_link_queue *self = *self_p;
    for (cx_lq_item *i = self->head, *next; i; i = next) {
        next = i->next;
        free(i);
    }
    if (self->fd >= 0)
        close(self->fd);
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

int cx_link_queue_fd(const cx_link_queue *self)
{
    return self->fd;
}

cx_lq_item *cx_lq_item_new(cx_lq_kind kind, void *ptr, uint64_t id, const void *data, size_t len)
{
    cx_lq_item *item = malloc(sizeof *item + len);
    if (!item)
        return NULL;
    *item = (cx_lq_item) { .kind = kind, .ptr = ptr, .id = id, .len = len };
    if (data && len)
        memcpy(item->data, data, len);
    return item;
}

void cx_link_queue_push(cx_link_queue *self, cx_lq_item *item)
{
    item->next = NULL;
    pthread_mutex_lock(&self->lock);
    int was_empty = self->head == NULL;
    if (self->tail)
        self->tail->next = item;
    else
        self->head = item;
    self->tail = item;
    pthread_mutex_unlock(&self->lock);
    if (was_empty) {
        uint64_t one = 1;
        ssize_t n = write(self->fd, &one, sizeof one);
        (void) n;   /* EAGAIN only when the counter is saturated: already readable */
    }
}

cx_lq_item *cx_link_queue_take(cx_link_queue *self)
{
    uint64_t count;
    ssize_t n = read(self->fd, &count, sizeof count);
    (void) n;
    pthread_mutex_lock(&self->lock);
    cx_lq_item *all = self->head;
    self->head = self->tail = NULL;
    pthread_mutex_unlock(&self->lock);
    return all;
}
