/*
 * The worker's thread machinery on its own, with real threads: the timer
 * heap fires in (due, set) order, skips what was cancelled and re-arms
 * repeating timers without catch-up bursts; the link queue keeps each
 * producer's order across threads (what keeps a connection's sends in order
 * when its actor moves between threads) and loses no wake-up; the scheduler
 * runs every pushed node and a node pushed while it runs goes to the back.
 */
#include "workers/link_queue.h"
#include "workers/scheduler.h"
#include "workers/timers.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static cx_timer *timer(uint64_t id, int64_t due, int64_t period)
{
    cx_timer *t = calloc(1, sizeof *t);
    *t = (cx_timer) { .id = id, .conn = 1, .due_ms = due, .period_ms = period };
    return t;
}

typedef struct {
    uint64_t ids[64];
    int n;
    int refuse;   /* fire reports "not delivered" for this id once */
} fired_t;

static int record(const cx_timer *t, void *arg)
{
    fired_t *f = arg;
    if (f->refuse && (uint64_t) f->refuse == t->id) {
        f->refuse = 0;
        return -1;
    }
    f->ids[f->n++] = t->id;
    return 0;
}

Test(timers_heap, fire_in_due_order_ties_by_id_and_skip_the_cancelled)
{
    cx_timers *h = cx_timers_new();
    cx_timers_add(h, timer(1, 300, 0));
    cx_timers_add(h, timer(2, 100, 0));
    cx_timers_add(h, timer(3, 200, 0));
    cx_timers_add(h, timer(4, 200, 0));
    cx_timers_add(h, timer(5, 150, 0));
    cx_timers_cancel(h, 5);
    cr_assert_eq(cx_timers_next_ms(h, 0), 100);
    fired_t f = { 0 };
    cx_timers_expire(h, 250, record, &f);
    cr_assert_eq(f.n, 3);
    cr_assert(f.ids[0] == 2 && f.ids[1] == 3 && f.ids[2] == 4, "fired %llu %llu %llu", (unsigned long long) f.ids[0],
              (unsigned long long) f.ids[1], (unsigned long long) f.ids[2]);
    cr_assert_eq(cx_timers_next_ms(h, 250), 50);
    cx_timers_expire(h, 1000, record, &f);
    cr_assert_eq(f.n, 4);
    cr_assert_eq(f.ids[3], 1);
    cr_assert_eq(cx_timers_next_ms(h, 1000), -1, "nothing is left");
    cx_timers_destroy(&h);
}

Test(timers_heap, repeating_timers_rearm_without_catch_up_and_once_only_ones_retry)
{
    cx_timers *h = cx_timers_new();
    cx_timers_add(h, timer(1, 10, 10));
    fired_t f = { 0 };
    cx_timers_expire(h, 10, record, &f);
    cx_timers_expire(h, 20, record, &f);
    cr_assert_eq(f.n, 2);
    cx_timers_expire(h, 95, record, &f);   /* fell behind by 7 periods: one tick, then 10 ms from now */
    cr_assert_eq(f.n, 3);
    cr_assert_eq(cx_timers_next_ms(h, 95), 10);
    cx_timers_cancel(h, 1);
    cx_timers_expire(h, 1000, record, &f);
    cr_assert_eq(f.n, 3, "a cancelled repeating timer fired");

    cx_timers_add(h, timer(2, 1000, 0));   /* a once-only timer whose mailbox is full is tried again */
    f.refuse = 2;
    cx_timers_expire(h, 1000, record, &f);
    cr_assert_eq(f.n, 3);
    cr_assert_gt(cx_timers_next_ms(h, 1000), 0);
    cx_timers_expire(h, 2000, record, &f);
    cr_assert_eq(f.n, 4);
    cr_assert_eq(f.ids[3], 2);
    cx_timers_destroy(&h);
}

enum { PRODUCERS = 4, PER_PRODUCER = 20000 };

static cx_link_queue *queue;

static void *produce(void *arg)
{
    uint64_t who = (uint64_t) (uintptr_t) arg;
    for (uint64_t i = 0; i < PER_PRODUCER; i++)
        cx_link_queue_push(queue, cx_lq_item_new(CX_LQ_ENVELOPE, NULL, who << 32 | i, NULL, 0));
    return NULL;
}

Test(link_queue, keeps_each_producers_order_across_threads_and_never_loses_a_wake_up)
{
    queue = cx_link_queue_new();
    pthread_t t[PRODUCERS];
    for (uintptr_t i = 0; i < PRODUCERS; i++)
        pthread_create(&t[i], NULL, produce, (void *) i);
    uint64_t next[PRODUCERS] = { 0 };
    size_t got = 0;
    while (got < PRODUCERS * PER_PRODUCER) {
        struct pollfd p = { .fd = cx_link_queue_fd(queue), .events = POLLIN };
        cr_assert_eq(poll(&p, 1, 5000), 1, "items waiting but the fd never became readable (%zu taken)", got);
        for (cx_lq_item *i = cx_link_queue_take(queue), *n; i; i = n) {
            n = i->next;
            uint64_t who = i->id >> 32, seq = i->id & 0xffffffffu;
            cr_assert_eq(seq, next[who], "producer %llu: item %llu after %llu", (unsigned long long) who,
                         (unsigned long long) seq, (unsigned long long) next[who]);
            next[who]++;
            got++;
            free(i);
        }
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(t[i], NULL);
    cx_link_queue_destroy(&queue);
}

typedef struct {
    cx_sched_node node;
    int runs;
} job_t;

static atomic_int ran;
static cx_scheduler *sched;

static void run_job(cx_sched_node *node)
{
    job_t *j = (job_t *) node;
    if (++j->runs < 3)
        cx_scheduler_push(sched, node);   /* more to do: back of the queue */
    atomic_fetch_add(&ran, 1);
}

Test(scheduler, runs_every_node_including_those_pushed_again_while_running)
{
    static job_t jobs[100];
    memset(jobs, 0, sizeof jobs);
    atomic_store(&ran, 0);
    sched = cx_scheduler_new(4, run_job, NULL);
    cr_assert_not_null(sched);
    cr_assert_eq(cx_scheduler_threads(sched), 4);
    for (int i = 0; i < 100; i++)
        cx_scheduler_push(sched, &jobs[i].node);
    for (int waited = 0; atomic_load(&ran) < 300 && waited < 5000; waited++)
        poll(NULL, 0, 1);
    cx_scheduler_destroy(&sched);   /* joins: finishes what is queued */
    cr_assert_eq(atomic_load(&ran), 300);
    for (int i = 0; i < 100; i++)
        cr_assert_eq(jobs[i].runs, 3);
}
