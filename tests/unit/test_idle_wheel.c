/*
 * The idle wheel behind server pings (gateway/idle_wheel.h), on a clock the
 * test moves: a quiet connection is pinged after the interval and declared
 * dead after the timeout, anything it sends resets it, and a sweep visits
 * about one connection per interval, not every connection every time.
 */
#include "gateway/idle_wheel.h"

#include <criterion/criterion.h>
#include <string.h>

typedef struct {
    int pings[8], deaths[8];
    int64_t ping_at[8], dead_at[8];
    int64_t now;
    cx_idle_entry *base;
    size_t events;   /* all of them, for entries past the first 8 */
} record;

static void on_event(cx_idle_entry *e, cx_idle_event ev, void *arg)
{
    record *r = arg;
    long i = e - r->base;
    r->events++;
    if (i >= 8)
        return;
    if (ev == CX_IDLE_PING) {
        r->pings[i]++;
        r->ping_at[i] = r->now;
    } else {
        r->deaths[i]++;
        r->dead_at[i] = r->now;
    }
}

/* Sweeps every 10 ms (the granularity of a 1000/1000 wheel is 62 ms: sweeps between slots do nothing). */
static size_t run_until(cx_idle_wheel *w, record *r, int64_t until)
{
    size_t visits = 0;
    for (; r->now < until; r->now += 10)
        visits += cx_idle_wheel_sweep(w, r->now, on_event, r);
    return visits;
}

Test(idle_wheel, a_silent_entry_is_pinged_after_the_interval_and_dead_after_the_timeout)
{
    record r = { .now = 0 };
    cx_idle_entry e[1] = { { .slot = -1 } };
    r.base = e;
    cx_idle_wheel *w = cx_idle_wheel_new(1000, 1000, 0);
    int64_t g = cx_idle_wheel_granularity(w);
    cr_assert(g >= 10 && g <= 1000 / 16 + 1, "granularity %lld", (long long) g);
    cx_idle_wheel_add(w, &e[0], 0);
    run_until(w, &r, 999);
    cr_assert_eq(r.pings[0], 0, "pinged before the interval");
    run_until(w, &r, 1000 + g + 10);
    cr_assert_eq(r.pings[0], 1);
    cr_assert(r.ping_at[0] >= 1000 && r.ping_at[0] <= 1000 + g, "pinged at %lld", (long long) r.ping_at[0]);
    run_until(w, &r, r.ping_at[0] + 999);
    cr_assert_eq(r.deaths[0], 0, "dead before the timeout");
    run_until(w, &r, r.ping_at[0] + 1000 + g + 10);
    cr_assert_eq(r.deaths[0], 1);
    cr_assert_eq(r.pings[0], 1, "one ping only");
    cr_assert_eq(cx_idle_wheel_size(w), 0, "a dead entry leaves the wheel");
    cx_idle_wheel_remove(w, &e[0]);   /* and removing it again is harmless */
    run_until(w, &r, 10000);
    cr_assert_eq(r.deaths[0], 1);
    cx_idle_wheel_destroy(&w);
    cr_assert_null(w);
}

Test(idle_wheel, an_answer_to_the_ping_starts_a_new_interval)
{
    record r = { .now = 0 };
    cx_idle_entry e[2];
    memset(e, 0, sizeof e);
    e[0].slot = e[1].slot = -1;
    r.base = e;
    cx_idle_wheel *w = cx_idle_wheel_new(1000, 500, 0);
    cx_idle_wheel_add(w, &e[0], 0);
    cx_idle_wheel_add(w, &e[1], 0);
    for (int round = 0; round < 5; round++) {
        int pings = r.pings[0];
        while (r.pings[0] == pings && r.now < 20000) {
            r.now += 10;
            cx_idle_wheel_sweep(w, r.now, on_event, &r);
        }
        cx_idle_seen(&e[0], r.now + 5);   /* the pong */
    }
    run_until(w, &r, r.now + 200);
    cr_assert_eq(r.deaths[0], 0, "an entry that answers stays");
    cr_assert_eq(r.pings[0], 5);
    cr_assert_eq(r.deaths[1], 1, "the one that never answered is dead");
    cr_assert_eq(cx_idle_wheel_size(w), 1);
    cx_idle_wheel_destroy(&w);
}

Test(idle_wheel, traffic_keeps_an_entry_from_being_pinged)
{
    record r = { .now = 0 };
    cx_idle_entry e[1] = { { .slot = -1 } };
    r.base = e;
    cx_idle_wheel *w = cx_idle_wheel_new(1000, 1000, 0);
    cx_idle_wheel_add(w, &e[0], 0);
    for (; r.now < 10000; r.now += 10) {
        if (r.now % 300 == 0)
            cx_idle_seen(&e[0], r.now);
        cx_idle_wheel_sweep(w, r.now, on_event, &r);
    }
    cr_assert_eq(r.pings[0], 0);
    cx_idle_wheel_remove(w, &e[0]);
    cr_assert_eq(cx_idle_wheel_size(w), 0);
    cx_idle_wheel_destroy(&w);
}

Test(idle_wheel, ten_thousand_busy_entries_cost_about_one_visit_each_per_interval)
{
    enum { N = 10000 };
    static cx_idle_entry e[N];
    record r = { .now = 0 };
    r.base = e;
    cx_idle_wheel *w = cx_idle_wheel_new(20000, 30000, 0);
    for (int i = 0; i < N; i++) {
        e[i].slot = -1;
        cx_idle_wheel_add(w, &e[i], i % 20000);
    }
    size_t visits = 0;
    for (; r.now < 100000; r.now += 50) {
        for (int i = 0; i < N; i += 97)
            cx_idle_seen(&e[(i + r.now / 50) % N], r.now);
        visits += cx_idle_wheel_sweep(w, r.now, on_event, &r);
    }
    /* 100 s is 5 intervals: a sweep of everything every 50 ms would be 20,000,000 visits */
    cr_assert(visits <= (size_t) N * 5 * 3, "%zu visits", visits);
    cr_assert_eq(r.events, 0, "an entry seen every 5 s was pinged");
    cr_assert_eq(cx_idle_wheel_size(w), (size_t) N, "entries lost");
    cx_idle_wheel_destroy(&w);
}

Test(idle_wheel, a_stalled_loop_catches_up_in_one_sweep)
{
    record r = { .now = 0 };
    cx_idle_entry e[2];
    memset(e, 0, sizeof e);
    e[0].slot = e[1].slot = -1;
    r.base = e;
    cx_idle_wheel *w = cx_idle_wheel_new(100, 100, 0);
    cx_idle_wheel_add(w, &e[0], 0);
    cx_idle_wheel_add(w, &e[1], 0);
    r.now = 1000000;   /* far more than a turn of the wheel */
    cr_assert_eq(cx_idle_wheel_sweep(w, r.now, on_event, &r), 2);
    cr_assert_eq(r.pings[0] + r.pings[1], 2);
    r.now += 101;
    cx_idle_wheel_sweep(w, r.now, on_event, &r);
    cr_assert_eq(r.deaths[0] + r.deaths[1], 2);
    cx_idle_wheel_destroy(&w);
}

Test(idle_wheel, nonsense_settings_make_no_wheel)
{
    cr_assert_null(cx_idle_wheel_new(0, 1000, 0));
    cr_assert_null(cx_idle_wheel_new(1000, 0, 0));
}

/* The probe: entry 0's owner knows of activity the wheel was not told (the kernel saw it read or
 * send), entry 1's knows of none. Asked only when an entry looks due, never for a busy one. */
static size_t probes;
static int probe_activity(cx_idle_entry *e, void *arg)
{
    record *r = arg;
    probes++;
    return e == r->base;
}

Test(idle_wheel, activity_a_probe_reports_counts_as_seen_and_a_silent_probe_changes_nothing)
{
    record r = { .now = 0 };
    cx_idle_entry e[3];
    memset(e, 0, sizeof e);
    e[0].slot = e[1].slot = e[2].slot = -1;
    r.base = e;
    cx_idle_wheel *w = cx_idle_wheel_new(1000, 1000, 0);
    cx_idle_wheel_set_probe(w, probe_activity);
    for (int i = 0; i < 3; i++)
        cx_idle_wheel_add(w, &e[i], 0);
    probes = 0;
    for (; r.now < 10000; r.now += 10) {
        if (r.now % 300 == 0)
            cx_idle_seen(&e[2], r.now);   /* busy: never due, never probed */
        cx_idle_wheel_sweep(w, r.now, on_event, &r);
    }
    cr_assert_eq(r.pings[0] + r.deaths[0], 0, "an entry its probe vouches for was pinged or dropped");
    cr_assert_eq(r.pings[1], 1);
    cr_assert_eq(r.deaths[1], 1, "a probe that saw nothing must not keep an entry alive");
    cr_assert_eq(r.pings[2] + r.deaths[2], 0);
    cr_assert(probes >= 10 && probes <= 14, "%zu probes: about one per interval for entry 0, two for entry 1",
              probes);
    cx_idle_wheel_destroy(&w);
}
