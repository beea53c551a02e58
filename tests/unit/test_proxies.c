/*
 * Trusted proxies (gateway/proxies.h): the CHANX_TRUSTED_PROXIES list with
 * its errors, CIDR matching in both families, and the X-Forwarded-For walk
 * that must never let a client choose its own address.
 */
#include "gateway/proxies.h"

#include <criterion/criterion.h>
#include <string.h>

static cx_proxies *list(const char *text)
{
    char why[160] = "";
    cx_proxies *p = cx_proxies_new(text, why, sizeof why);
    cr_assert_not_null(p, "'%s' refused: %s", text, why);
    return p;
}

static void assert_refused(const char *text, const char *why_part)
{
    char why[160] = "";
    cx_proxies *p = cx_proxies_new(text, why, sizeof why);
    cr_assert_null(p, "'%s' accepted", text);
    cr_assert(strstr(why, why_part), "'%s': why is '%s', wanted '%s'", text, why, why_part);
}

Test(proxies, addresses_and_cidrs_of_both_families_are_parsed)
{
    cx_proxies *p = list("10.0.0.0/8, 192.168.1.7 ,fd00::/8 ::1,172.16.0.0/12");
    cr_assert_eq(cx_proxies_count(p), 5);
    cr_assert(cx_proxies_trusts(p, "10.200.3.4"));
    cr_assert(cx_proxies_trusts(p, "192.168.1.7"));
    cr_assert_not(cx_proxies_trusts(p, "192.168.1.8"));
    cr_assert(cx_proxies_trusts(p, "172.31.255.255"));
    cr_assert_not(cx_proxies_trusts(p, "172.32.0.1"));
    cr_assert(cx_proxies_trusts(p, "fd12:3456::1"));
    cr_assert_not(cx_proxies_trusts(p, "fe80::1"));
    cr_assert(cx_proxies_trusts(p, "::1"));
    cr_assert(cx_proxies_trusts(p, "[::1]:443"), "bracketed with a port");
    cr_assert(cx_proxies_trusts(p, "10.0.0.1:8080"), "IPv4 with a port");
    cr_assert(cx_proxies_trusts(p, "::ffff:10.1.2.3"), "an IPv4-mapped peer matches IPv4 entries");
    cr_assert_not(cx_proxies_trusts(p, "11.0.0.1"));
    cr_assert_not(cx_proxies_trusts(p, "not-an-address"));
    cr_assert_not(cx_proxies_trusts(p, ""));
    cx_proxies_destroy(&p);
    cr_assert_null(p);
}

Test(proxies, prefix_lengths_cut_at_any_bit)
{
    cx_proxies *p = list("10.1.2.128/25,2001:db8::/33,0.0.0.0/0");
    cr_assert(cx_proxies_trusts(p, "10.1.2.200"));
    cr_assert(cx_proxies_trusts(p, "2001:db8:7fff::1"));
    cr_assert_not(cx_proxies_trusts(p, "2001:db8:8000::1"));
    cr_assert(cx_proxies_trusts(p, "8.8.8.8"), "0.0.0.0/0 trusts every IPv4 address");
    cr_assert_not(cx_proxies_trusts(p, "2001:db9::1"), "but no IPv6 one");
    cx_proxies_destroy(&p);
    p = list("10.1.2.3/8");   /* host bits are ignored, as Python's ip_network(strict=False) */
    cr_assert(cx_proxies_trusts(p, "10.9.9.9"));
    cx_proxies_destroy(&p);
}

Test(proxies, an_empty_list_trusts_nobody)
{
    cx_proxies *p = list(NULL);
    cr_assert_eq(cx_proxies_count(p), 0);
    cr_assert_not(cx_proxies_trusts(p, "127.0.0.1"));
    cx_proxies_destroy(&p);
    p = list(" , ");
    cr_assert_eq(cx_proxies_count(p), 0);
    cx_proxies_destroy(&p);
}

Test(proxies, malformed_entries_are_refused_with_the_entry_named)
{
    assert_refused("10.0.0.0/33", "'10.0.0.0/33': prefix longer than 32 bits");
    assert_refused("::/129", "prefix longer than 128 bits");
    assert_refused("10.0.0.1,localhost", "'localhost': not an IPv4 or IPv6 address");
    assert_refused("10.0.0.0/", "bad prefix length");
    assert_refused("10.0.0.0/8x", "bad prefix length");
    assert_refused("10.0.0.0/-1", "bad prefix length");
    assert_refused("10.0.0.256", "not an IPv4 or IPv6 address");
    assert_refused("10.0.0.0/0008", "bad prefix length");
}

static const char *client(cx_proxies *p, const char *peer, const char *xff, const char *real_ip, int *from_header)
{
    static char out[64];
    *from_header = cx_proxies_client(p, peer, xff, real_ip, out, sizeof out);
    return out;
}

Test(proxies, the_client_is_the_rightmost_untrusted_forwarded_address)
{
    cx_proxies *p = list("10.0.0.0/8");
    int h;
    cr_assert_str_eq(client(p, "10.0.0.2", "203.0.113.7", NULL, &h), "203.0.113.7");
    cr_assert(h);
    /* the client wrote 1.2.3.4 itself; 198.51.100.9 is who our proxies saw */
    cr_assert_str_eq(client(p, "10.0.0.2", "1.2.3.4, 198.51.100.9, 10.0.0.5", NULL, &h), "198.51.100.9");
    /* every hop trusted: the farthest one */
    cr_assert_str_eq(client(p, "10.0.0.2", "10.9.9.9,10.0.0.5", NULL, &h), "10.9.9.9");
    /* spaces, ports, brackets, IPv6 */
    cr_assert_str_eq(client(p, "10.0.0.2", " 2001:DB8::1 ", NULL, &h), "2001:db8::1");
    cr_assert_str_eq(client(p, "10.0.0.2", "[2001:db8::2]:5000", NULL, &h), "2001:db8::2");
    cr_assert_str_eq(client(p, "10.0.0.2", "203.0.113.8:41234", NULL, &h), "203.0.113.8");
    cx_proxies_destroy(&p);
}

Test(proxies, x_real_ip_counts_only_without_x_forwarded_for)
{
    cx_proxies *p = list("10.0.0.0/8");
    int h;
    cr_assert_str_eq(client(p, "10.0.0.2", NULL, "203.0.113.9", &h), "203.0.113.9");
    cr_assert(h);
    cr_assert_str_eq(client(p, "10.0.0.2", "198.51.100.1", "203.0.113.9", &h), "198.51.100.1");
    cr_assert_str_eq(client(p, "10.0.0.2", NULL, "garbage", &h), "10.0.0.2");
    cr_assert_not(h);
    cx_proxies_destroy(&p);
}

Test(proxies, an_untrusted_peer_keeps_its_own_address_whatever_it_claims)
{
    cx_proxies *p = list("10.0.0.0/8");
    int h;
    cr_assert_str_eq(client(p, "203.0.113.50", "1.1.1.1", "2.2.2.2", &h), "203.0.113.50");
    cr_assert_not(h);
    cr_assert_str_eq(client(p, "203.0.113.50", "10.0.0.1", NULL, &h), "203.0.113.50",
                     "claiming to be a trusted proxy changes nothing");
    cx_proxies_destroy(&p);
    p = list(NULL);
    cr_assert_str_eq(client(p, "127.0.0.1", "1.1.1.1", NULL, &h), "127.0.0.1", "no list: nobody is trusted");
    cx_proxies_destroy(&p);
}

Test(proxies, garbage_in_the_header_stops_the_walk_at_the_last_vouched_address)
{
    cx_proxies *p = list("10.0.0.0/8");
    int h;
    cr_assert_str_eq(client(p, "10.0.0.2", "<script>, 10.0.0.7", NULL, &h), "10.0.0.7");
    cr_assert_str_eq(client(p, "10.0.0.2", "unknown", NULL, &h), "10.0.0.2");
    cr_assert_not(h);
    cr_assert_str_eq(client(p, "10.0.0.2", "1.2.3.4,,10.0.0.7", NULL, &h), "10.0.0.7");
    cr_assert_str_eq(client(p, "10.0.0.2", "", NULL, &h), "10.0.0.2");
    char longest[4096];
    memset(longest, '1', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    cr_assert_str_eq(client(p, "10.0.0.2", longest, NULL, &h), "10.0.0.2");
    cx_proxies_destroy(&p);
}

Test(proxies, header_addresses_are_canonicalised)
{
    char out[64];
    cr_assert(cx_proxies_address("\"[::FFFF:192.0.2.1]:80\"", 23, out, sizeof out));
    cr_assert_str_eq(out, "192.0.2.1");
    cr_assert(cx_proxies_address("2001:0db8:0000::0001", 20, out, sizeof out));
    cr_assert_str_eq(out, "2001:db8::1");
    cr_assert_not(cx_proxies_address("[::1", 4, out, sizeof out));
    cr_assert_not(cx_proxies_address("[::1]x", 6, out, sizeof out));
    cr_assert_not(cx_proxies_address("1.2.3.4:80:90", 13, out, sizeof out), "two colons is not IPv4:port");
}

/* Found by tests/fuzz/fuzz_proxies: tabs separate entries too, and the list was sized by commas and
 * spaces only (a heap overflow). */
Test(proxies, tab_separated_entries_are_all_kept)
{
    cx_proxies *p = list("10.0.0.1\t10.0.0.2\t\t10.0.0.3");
    cr_assert_eq(cx_proxies_count(p), 3);
    cr_assert(cx_proxies_trusts(p, "10.0.0.3"));
    cx_proxies_destroy(&p);
}
