/*
 * Configuration from the environment: empty means unset, and a malformed
 * number or flag stops the process instead of quietly becoming 0 or on.
 */
#include "common/env.h"

#include <criterion/criterion.h>
#include <stdlib.h>

Test(env, unset_and_empty_take_the_fallback)
{
    unsetenv("CHANX_TEST_VALUE");
    cr_assert_str_eq(cx_env_str("CHANX_TEST_VALUE", "dflt"), "dflt");
    setenv("CHANX_TEST_VALUE", "", 1);
    cr_assert_str_eq(cx_env_str("CHANX_TEST_VALUE", "dflt"), "dflt");
    cr_assert_eq(cx_env_long("CHANX_TEST_VALUE", 7, 0, 10), 7);
    cr_assert_eq(cx_env_flag("CHANX_TEST_VALUE", 1), 1);
}

Test(env, numbers_and_flags_are_read)
{
    setenv("CHANX_TEST_VALUE", "42", 1);
    cr_assert_eq(cx_env_long("CHANX_TEST_VALUE", 7, 0, 100), 42);
    const char *off[] = { "0", "false", "OFF", "no" };
    for (size_t i = 0; i < 4; i++) {
        setenv("CHANX_TEST_VALUE", off[i], 1);
        cr_assert_eq(cx_env_flag("CHANX_TEST_VALUE", 1), 0, "%s is off", off[i]);
    }
    const char *on[] = { "1", "true", "ON", "yes" };
    for (size_t i = 0; i < 4; i++) {
        setenv("CHANX_TEST_VALUE", on[i], 1);
        cr_assert_eq(cx_env_flag("CHANX_TEST_VALUE", 0), 1, "%s is on", on[i]);
    }
}

/* A typo is not "on": CHANX_INSECURE_LINKS=flase must not open the broker's links. */
Test(env, a_flag_that_is_neither_on_nor_off_stops_the_process, .exit_code = 2)
{
    setenv("CHANX_TEST_VALUE", "flase", 1);
    cx_env_flag("CHANX_TEST_VALUE", 0);
}

Test(env, a_malformed_number_stops_the_process, .exit_code = 2)
{
    setenv("CHANX_TEST_VALUE", "4k", 1);
    cx_env_long("CHANX_TEST_VALUE", 7, 0, 100);
}

Test(env, an_out_of_range_number_stops_the_process, .exit_code = 2)
{
    setenv("CHANX_TEST_VALUE", "0", 1);
    cx_env_long("CHANX_TEST_VALUE", 4, 1, 256);
}
