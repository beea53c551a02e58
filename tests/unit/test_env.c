/*
 * Configuration from the environment: empty means unset, and a malformed
 * number stops the process instead of quietly becoming 0.
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
    setenv("CHANX_TEST_VALUE", "yes", 1);
    cr_assert_eq(cx_env_flag("CHANX_TEST_VALUE", 0), 1);
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
