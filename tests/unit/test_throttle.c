/*
 * Throttling's arithmetic (gateway/throttle.h, common/rate.h) and the expiry
 * heap (gateway/expiry.h), on clocks the test moves: DRF's rate syntax and
 * refusals, the allowance and when it comes back, DRF's Throttled text with
 * its singular, abuse after a whole allowance of excess; deadlines popped in
 * order, moved and removed from the middle.
 */
#include "common/rate.h"
#include "gateway/expiry.h"
#include "gateway/throttle.h"

#include <criterion/criterion.h>
#include <string.h>

#define S 1000000LL   /* a second in microseconds */

Test(throttle, rates_read_as_drf_parse_rate_reads_them)
{
    static const struct { const char *text; long num, duration; } ok[] = {
        { "20/s", 20, 1 }, { "600/min", 600, 60 }, { "5/hour", 5, 3600 }, { "1000/day", 1000, 86400 },
        { "3/m", 3, 60 }, { "none", 0, 0 }, { "", 0, 0 }, { NULL, 0, 0 },
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        cx_rate r = { -1, -1 };
        char err[160] = "";
        cr_assert_eq(cx_rate_parse(ok[i].text, &r, err, sizeof err), 0, "%s: %s", ok[i].text, err);
        cr_assert_eq(r.num, ok[i].num, "%s", ok[i].text);
        cr_assert_eq(r.duration_s, ok[i].duration, "%s", ok[i].text);
    }
    static const char *const bad[] = { "20", "20/", "/s", "0/s", "-1/s", "20/fortnight", "x/s", "20/S", "99999999999/s" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cx_rate r;
        char err[160] = "";
        cr_assert_eq(cx_rate_parse(bad[i], &r, err, sizeof err), -1, "%s was accepted", bad[i]);
        cr_assert(strstr(err, "bad throttle rate") && strstr(err, "<count>/<s|m|h|d>"), "%s: %s", bad[i], err);
        /* "0/s" has a number: the message must say which numbers are taken */
        cr_assert(strstr(err, "a count from 1 to 999999999"), "%s: %s", bad[i], err);
        cr_assert_eq(r.num, 0, "a refused rate must not throttle");
    }
}

Test(throttle, an_allowance_then_drfs_wait_then_one_message_per_slot)
{
    cx_rate rate = { 3, 60 };   /* 3/min: a message every 20 s */
    cx_throttle t = { 0, 0 };
    long wait = 0;
    int64_t now = 1000 * S;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(cx_throttle_check(&t, &rate, now, &wait), CX_THROTTLE_PASS, "message %d of the allowance", i);
    cr_assert_eq(cx_throttle_check(&t, &rate, now + S / 2, &wait), CX_THROTTLE_THROTTLED);
    cr_assert_eq(wait, 20, "19.5 s rounds up as math.ceil does, got %ld", wait);
    cr_assert_eq(cx_throttle_check(&t, &rate, now + 20 * S, &wait), CX_THROTTLE_PASS, "a slot came back");
    cr_assert_eq(cx_throttle_check(&t, &rate, now + 20 * S, &wait), CX_THROTTLE_THROTTLED);
    cr_assert_eq(wait, 20);
}

Test(throttle, a_whole_allowance_of_excess_is_abuse)
{
    cx_rate rate = { 2, 1 };
    cx_throttle t = { 0, 0 };
    long wait = 0;
    cr_assert_eq(cx_throttle_check(&t, &rate, S, &wait), CX_THROTTLE_PASS);
    cr_assert_eq(cx_throttle_check(&t, &rate, S, &wait), CX_THROTTLE_PASS);
    cr_assert_eq(cx_throttle_check(&t, &rate, S, &wait), CX_THROTTLE_THROTTLED);
    cr_assert_eq(cx_throttle_check(&t, &rate, S, &wait), CX_THROTTLE_THROTTLED);
    cr_assert_eq(cx_throttle_check(&t, &rate, S, &wait), CX_THROTTLE_ABUSE);
    /* a client that slows to its rate is never abusive, however long it runs */
    cx_throttle steady = { 0, 0 };
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(cx_throttle_check(&steady, &rate, 10 * S + i * (S / 2), &wait), CX_THROTTLE_PASS, "message %d", i);
    cx_rate off = { 0, 0 };
    for (int i = 0; i < 100; i++)
        cr_assert_eq(cx_throttle_check(&t, &off, S, &wait), CX_THROTTLE_PASS, "no rate, no throttling");
}

Test(throttle, the_detail_is_drfs_throttled_text)
{
    char buf[96];
    cx_throttle_detail(1, buf, sizeof buf);
    cr_assert_str_eq(buf, "Request was throttled. Expected available in 1 second.");
    cx_throttle_detail(20, buf, sizeof buf);
    cr_assert_str_eq(buf, "Request was throttled. Expected available in 20 seconds.");
}

Test(expiry, deadlines_come_due_in_order_and_move_or_leave_from_the_middle)
{
    cx_expiry *heap = cx_expiry_new();
    cx_expiry_entry e[100];
    for (int i = 0; i < 100; i++) {
        cx_expiry_entry_init(&e[i]);
        cr_assert_eq(cx_expiry_set(heap, &e[i], (int64_t) ((i * 37) % 100) * 10), 0);
    }
    cr_assert_eq(cx_expiry_size(heap), 100);
    cx_expiry_remove(heap, &e[50]);                   /* a connection that closed */
    cr_assert_eq(cx_expiry_set(heap, &e[10], 5000), 0);   /* a refreshed token, later */
    cr_assert_eq(cx_expiry_set(heap, &e[99], -1), 0);     /* and one moved earlier */
    cr_assert_null(cx_expiry_pop_due(heap, -2), "nothing is due before the earliest deadline");
    int64_t last = -100;
    size_t popped = 0;
    for (cx_expiry_entry *d; (d = cx_expiry_pop_due(heap, 990));) {
        cr_assert_geq(d->at_ms, last, "out of order");
        cr_assert_neq(d, &e[50], "a removed entry came due");
        cr_assert_neq(d, &e[10], "a moved entry came due at its old time");
        cr_assert_eq(d->slot, -1);
        last = d->at_ms;
        popped++;
    }
    cr_assert_eq(popped, 98);
    cr_assert_eq(cx_expiry_pop_due(heap, 5000), &e[10]);
    cr_assert_eq(cx_expiry_size(heap), 0);
    cx_expiry_destroy(&heap);
}
