/* common/pg_options: the deployment's libpq options survive ours (search_path beside statement_timeout). */
#include "common/pg_options.h"

#include <criterion/criterion.h>

Test(pg_options, keyword_string_options_come_first)
{
    char out[256];
    cr_assert_eq(cx_pg_options("host=/s dbname=x options='-c search_path=site'", "-c statement_timeout=5", out,
                               sizeof out), 0);
    cr_assert_str_eq(out, "-c search_path=site -c statement_timeout=5");
}

Test(pg_options, uri_options_come_first)
{
    char out[256];
    cr_assert_eq(cx_pg_options("postgresql://u@h/x?options=-c%20search_path%3Dsite", "-c a=1", out, sizeof out), 0);
    cr_assert_str_eq(out, "-c search_path=site -c a=1");
}

Test(pg_options, none_or_unparsable_gives_ours)
{
    char out[64];
    cr_assert_eq(cx_pg_options("dbname=chanx", "-c a=1", out, sizeof out), 0);
    cr_assert_str_eq(out, "-c a=1");
    cr_assert_eq(cx_pg_options("this is = not 'valid", "-c a=1", out, sizeof out), 0);
    cr_assert_str_eq(out, "-c a=1");
}

Test(pg_options, too_small_keeps_ours_alone)
{
    char out[16];
    cr_assert_eq(cx_pg_options("options='-c search_path=a_long_schema_name'", "-c a=1", out, sizeof out), -1);
    cr_assert_str_eq(out, "-c a=1");
}
