/*
 * broker/history.c on its own: the bounds (count, bytes, TTL) and what a
 * since is answered, the rules that decide whether a client is told
 * recovered: true and given a replay (tests/e2e/test_history.c shows them
 * through real processes).
 */
#include "broker/history.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static cx_history *h;
static void setup(void) { h = cx_history_new(100, 60000, 1 << 20, SIZE_MAX); }
static void teardown(void) { cx_history_destroy(&h); }
TestSuite(history_table, .init = setup, .fini = teardown);

static uint64_t append(const char *group, const char *text, int64_t now)
{
    const char *epoch;
    return cx_history_append(h, group, &(cx_history_message) { .user_id = 1, .text = cx_slice_of(text) }, now, &epoch);
}

typedef struct {
    uint64_t seqs[256];
    size_t n;
} seen;

static void collect(const cx_history_message *m, void *arg)
{
    seen *s = arg;
    s->seqs[s->n++] = m->seq;
}

/* Whether "<epoch>:<from>" is covered, and the seqs replayed after it. */
static int covered(const char *group, const char *since, int64_t now, seen *s)
{
    uint64_t from;
    memset(s, 0, sizeof *s);
    if (!cx_history_covers(h, group, cx_slice_of(since), now, &from))
        return 0;
    cx_history_each_after(h, group, from, collect, s);
    return 1;
}

static const char *since_of(const char *group, uint64_t seq, char *out)
{
    const char *epoch;
    uint64_t last;
    cr_assert(cx_history_current(h, group, &epoch, &last));
    sprintf(out, "%s:%llu", epoch, (unsigned long long) seq);
    return out;
}

Test(history_table, a_group_without_a_declared_history_gets_no_seq)
{
    cr_assert_eq(append("plain", "{}", 0), 0);
    cr_assert_eq(cx_history_declare(h, "plain", 0, 0, 0), 0);
    cr_assert_eq(append("plain", "{}", 0), 0);
}

Test(history_table, seqs_are_consecutive_and_the_count_bound_trims_the_oldest)
{
    char since[64];
    cr_assert_eq(cx_history_declare(h, "g", 10, 60000, 0), 2);
    cr_assert_eq(cx_history_declare(h, "g", 5, 1000, 0), 1, "a smaller declaration never shrinks it");
    for (uint64_t i = 1; i <= 25; i++)
        cr_assert_eq(append("g", "{\"a\":1}", 0), i);
    seen s;
    cr_assert(covered("g", since_of("g", 15, since), 0, &s));
    cr_assert_eq(s.n, 10);
    cr_assert_eq(s.seqs[0], 16);
    cr_assert_eq(s.seqs[9], 25);
    cr_assert_not(covered("g", since_of("g", 14, since), 0, &s), "15 was trimmed: not covered");
    cr_assert(covered("g", since_of("g", 25, since), 0, &s), "nothing missed is covered");
    cr_assert_eq(s.n, 0);
    cr_assert_not(covered("g", since_of("g", 26, since), 0, &s), "a seq in the future");
}

Test(history_table, the_bytes_bound_and_the_ttl_drop_the_oldest)
{
    cx_history *small = cx_history_new(100, 60000, 1024, SIZE_MAX);
    char big[400], since[64];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    const char *epoch;
    cx_history_declare(small, "g", 100, 60000, 0);
    for (int i = 0; i < 5; i++)
        cx_history_append(small, "g", &(cx_history_message) { .user_id = 1, .text = cx_slice_of(big) }, 0, &epoch);
    size_t groups, messages, bytes;
    cx_history_stats(small, &groups, &messages, &bytes);
    cr_assert_eq(messages, 2, "1024 bytes hold two messages of 399");
    cr_assert_eq(bytes, 798);
    cx_history_destroy(&small);

    cx_history_declare(h, "t", 100, 1000, 0);
    append("t", "{}", 0);
    append("t", "{}", 600);
    seen s;
    cr_assert(covered("t", since_of("t", 0, since), 900, &s));
    cr_assert_eq(s.n, 2);
    cr_assert_not(covered("t", since_of("t", 0, since), 1200, &s), "seq 1 expired at 1000 ms");
    cr_assert(covered("t", since_of("t", 1, since), 1200, &s));
    cr_assert_eq(s.n, 1);
}

Test(history_table, a_since_that_makes_no_sense_is_not_covered)
{
    char since[64], epoch_only[64];
    cx_history_declare(h, "g", 100, 60000, 0);
    append("g", "{}", 0);
    append("g", "{}", 0);
    since_of("g", 0, since);
    snprintf(epoch_only, sizeof epoch_only, "%.*s", (int) strcspn(since, ":"), since);
    const char *bad[] = { "", "-", ":1", "0123456789abcdef:0", "0123456789abcdef", "%s", "%s:", "%s:-1",
                          "%s:1.5", "%s:0x1", "%s:99999999999999999999", "%s:18446744073709551615", "%s:3" };
    seen s;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[128];
        snprintf(text, sizeof text, bad[i], epoch_only);
        cr_assert_not(covered("g", text, 0, &s), "'%s' must not be covered", text);
    }
    char list[160];
    snprintf(list, sizeof list, "0123456789abcdef:5,%s:1", epoch_only);
    cr_assert(covered("g", list, 0, &s), "the entry of the group's epoch is the one that counts");
    cr_assert_eq(s.n, 1);
    cr_assert_eq(s.seqs[0], 2);
}

/* cx_history_each's callback: what a primary sends its standby, applied to the copy. */
static void mirror(const char *group, const char *epoch, uint64_t seq, uint32_t size, uint32_t ttl_ms,
            const cx_history_message *m, void *arg)
{
    cx_history *to = arg;
    cr_assert_eq(cx_history_mirror(to, group, cx_slice_of(epoch), seq, size, ttl_ms, m, 0), 0);
}

Test(history_table, a_standby_copy_keeps_epoch_and_seq_and_a_takeover_skips_ahead)
{
    char since[64];
    cx_history_declare(h, "g", 100, 60000, 0);
    for (int i = 0; i < 3; i++)
        append("g", "{\"m\":1}", 0);
    cx_history *copy = cx_history_new(100, 60000, 1 << 20, SIZE_MAX);
    cx_history_each(h, mirror, copy);
    const char *e1, *e2;
    uint64_t s1, s2;
    cx_history_current(h, "g", &e1, &s1);
    cx_history_current(copy, "g", &e2, &s2);
    cr_assert_str_eq(e1, e2);
    cr_assert_eq(s2, 3);
    cx_history *orig = h;
    h = copy;
    seen s;
    cr_assert(covered("g", since_of("g", 1, since), 0, &s));
    cr_assert_eq(s.n, 2);
    cx_history_takeover(copy);
    cr_assert_eq(append("g", "{}", 0), 3 + CX_HISTORY_TAKEOVER_GAP + 1, "no seq given twice");
    cr_assert(covered("g", since_of("g", 1, since), 0, &s), "what the copy had, then the new ones");
    cr_assert_eq(s.n, 3);
    cr_assert_not(covered("g", since_of("g", 4, since), 0, &s), "a seq the copy never had: not covered");
    h = orig;
    cx_history_destroy(&copy);
}


/* All groups together hold at most the total: the group least recently sent to gives up its oldest
 * first, and a since that needed what it lost is not covered (recovered: false, never a gap). */
Test(history_table, the_total_bound_drops_from_the_group_least_recently_sent_to)
{
    cx_history *all = cx_history_new(100, 60000, 1 << 20, 1000);
    char text[301];
    memset(text, 'x', 300);
    text[300] = '\0';
    const char *epoch;
    const char *groups[] = { "quiet", "busy", "new" };
    for (int i = 0; i < 3; i++)
        cx_history_declare(all, groups[i], 100, 60000, 0);
    cx_history_message m = { .user_id = 1, .text = cx_slice_of(text) };
    cx_history_append(all, "quiet", &m, 0, &epoch);
    cx_history_append(all, "busy", &m, 0, &epoch);
    cx_history_append(all, "busy", &m, 0, &epoch);   /* 900 bytes held */
    cx_history_append(all, "new", &m, 0, &epoch);    /* 1200: the quiet group's message goes */
    size_t ngroups, messages, bytes;
    cx_history_stats(all, &ngroups, &messages, &bytes);
    cr_assert_eq(bytes, 900);
    cx_history_current(all, "quiet", &epoch, &(uint64_t) { 0 });
    char since[64];
    snprintf(since, sizeof since, "%s:0", epoch);
    uint64_t from;
    cr_assert_not(cx_history_covers(all, "quiet", cx_slice_of(since), 0, &from), "the quiet group lost seq 1");
    cx_history_append(all, "new", &m, 0, &epoch);    /* then busy's oldest: it was sent to before new */
    cx_history_stats(all, &ngroups, &messages, &bytes);
    cr_assert_eq(bytes, 900);
    cr_assert_eq(messages, 3);
    cx_history_destroy(&all);
}
