/*
 * link_queue.c — a mutex-guarded list plus an eventfd (see link_queue.h).
 *
 * The lock is held for a pointer swap, and the eventfd's write or read when
 * there is one (so the fd is readable exactly when signalled says so). The eventfd is written only
 * for a link thread that said it will sleep (prepare_wait found the list
 * empty and set sleeping, under the lock) and only once per sleep
 * (signalled): a push then finds sleeping set, or prepare_wait finds the
 * push's item, so no wake-up is lost. A burst of sends costs one wake-up,
 * and sends queued while the link thread is awake cost none. take clears
 * sleeping and reads the eventfd only when it was written.
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
    int sleeping;    /* the link thread may be in poll: a push writes fd; under lock */
    int signalled;   /* fd was written and not read yet; under lock */
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
    if (self->tail)
        self->tail->next = item;
    else
        self->head = item;
    self->tail = item;
    if (self->sleeping && !self->signalled) {
        /* under the lock: a take between the flag and the write would read nothing, and the fd would
         * stay readable with nothing to say so */
        uint64_t one = 1;
        ssize_t n = write(self->fd, &one, sizeof one);
        (void) n;   /* EAGAIN only when the counter is saturated: already readable */
        self->signalled = 1;
    }
    pthread_mutex_unlock(&self->lock);
}

int cx_link_queue_prepare_wait(cx_link_queue *self)
{
    pthread_mutex_lock(&self->lock);
    int empty = self->head == NULL;
    self->sleeping = empty;
    pthread_mutex_unlock(&self->lock);
    return empty;
}

cx_lq_item *cx_link_queue_take(cx_link_queue *self)
{
    pthread_mutex_lock(&self->lock);
    cx_lq_item *all = self->head;
    self->head = self->tail = NULL;
    if (self->signalled) {   /* under the lock too, with the write: the fd is readable iff signalled */
        uint64_t count;
        ssize_t n = read(self->fd, &count, sizeof count);
        (void) n;
    }
    self->sleeping = self->signalled = 0;
    pthread_mutex_unlock(&self->lock);
    return all;
}
