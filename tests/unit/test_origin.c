/*
 * The Origin check guarding cookie authentication: Channels'
 * OriginValidator patterns, and lookalike hosts that must not pass.
 */
#include "gateway/origin.h"

#include <criterion/criterion.h>

Test(origin, without_a_list_only_the_same_host_may_connect)
{
    cr_assert(cx_origin_allowed(NULL, "chat.example.com", NULL), "not a browser");
    cr_assert(cx_origin_allowed("https://chat.example.com", "chat.example.com", NULL));
    cr_assert(cx_origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", ""));
    cr_assert_not(cx_origin_allowed("http://127.0.0.1:9000", "127.0.0.1:8000", NULL));
    cr_assert_not(cx_origin_allowed("https://evil.example", "chat.example.com", NULL));
    cr_assert_not(cx_origin_allowed("null", "chat.example.com", NULL));
    cr_assert_not(cx_origin_allowed("https://chat.example.com", NULL, NULL));
}

Test(origin, full_origins_match_scheme_host_and_port_exactly)
{
    const char *list = "https://app.example.com, https://admin.example.com:8443";
    cr_assert(cx_origin_allowed("https://app.example.com", "x", list));
    cr_assert(cx_origin_allowed("HTTPS://APP.example.com", "x", list));
    cr_assert(cx_origin_allowed("https://admin.example.com:8443", "x", list));
    cr_assert_not(cx_origin_allowed("http://app.example.com", "x", list));
    cr_assert_not(cx_origin_allowed("https://admin.example.com", "x", list));
    cr_assert_not(cx_origin_allowed("https://app.example.com.evil.net", "x", list));
}

Test(origin, host_patterns_match_any_scheme_and_dot_patterns_cover_subdomains)
{
    const char *list = "app.example.com,.corp.example,api.example.com:8443";
    cr_assert(cx_origin_allowed("http://app.example.com", "x", list));
    cr_assert(cx_origin_allowed("https://app.example.com:444", "x", list), "no port in the pattern: any port");
    cr_assert(cx_origin_allowed("https://corp.example", "x", list));
    cr_assert(cx_origin_allowed("https://a.b.corp.example", "x", list));
    cr_assert(cx_origin_allowed("https://api.example.com:8443", "x", list));
    cr_assert_not(cx_origin_allowed("https://api.example.com:8444", "x", list));
    cr_assert_not(cx_origin_allowed("https://evilcorp.example", "x", list), "a suffix is not a subdomain");
    cr_assert_not(cx_origin_allowed("https://app.example.com.evil.net", "x", list));
    cr_assert_not(cx_origin_allowed("https://example.com", "x", list));
    cr_assert_not(cx_origin_allowed("null", "x", list));
}

Test(origin, a_star_allows_every_origin)
{
    cr_assert(cx_origin_allowed("https://anything.example", "x", "*"));
    cr_assert(cx_origin_allowed("null", "x", "https://a.example, *"));
}

/* Behind a trusted proxy that named the scheme (X-Forwarded-Proto), the host
 * is "scheme://host" and the whole origin must match. */
Test(origin, a_forwarded_scheme_and_host_must_match_the_whole_origin)
{
    cr_assert(cx_origin_allowed("https://chat.example.com", "https://chat.example.com", NULL));
    cr_assert(cx_origin_allowed("HTTPS://Chat.Example.com", "https://chat.example.com", NULL));
    cr_assert_not(cx_origin_allowed("http://chat.example.com", "https://chat.example.com", NULL),
                  "a plain-http page is another origin");
    cr_assert_not(cx_origin_allowed("https://chat.example.com.evil.net", "https://chat.example.com", NULL));
    cr_assert_not(cx_origin_allowed("https://chat.example.com:8443", "https://chat.example.com", NULL));
}
