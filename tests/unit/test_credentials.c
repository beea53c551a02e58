/*
 * Cookies read as Django's parse_cookie reads them (gateway/credentials.c):
 * blanks around names and values are dropped, the last cookie of a name
 * wins, chunks without "=" name nothing, and a value too long for the
 * buffer is no value.
 */
#include <criterion/criterion.h>
#include "gateway/credentials.h"

static const char *cookie(const char *header, const char *name)
{
    static char buf[32];
    return cx_cookie_value(header, name, buf, sizeof buf);
}

Test(credentials, the_last_cookie_of_a_name_wins_as_in_django)
{
    cr_assert_str_eq(cookie("sessionid=a; theme=dark; sessionid=b", "sessionid"), "b");
    cr_assert_str_eq(cookie("theme=dark;  sessionid = key ", "sessionid"), "key");
    cr_assert_str_eq(cookie("a=1; sessionid=first; sessionid=", "sessionid"), "");
}

Test(credentials, names_are_whole_and_a_chunk_without_equals_names_nothing)
{
    cr_assert_null(cookie("xsessionid=a; sessionidx=b", "sessionid"));
    cr_assert_null(cookie("sessionid; other=1", "sessionid"));
    cr_assert_null(cookie(NULL, "sessionid"));
    cr_assert_str_eq(cookie("jwt=a=b", "jwt"), "a=b");
}

Test(credentials, a_value_too_long_for_the_buffer_is_no_value_even_after_a_short_one)
{
    cr_assert_null(cookie("sessionid=short; sessionid=0123456789012345678901234567890123456789", "sessionid"));
}
