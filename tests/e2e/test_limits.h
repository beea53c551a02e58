/*
 * test_limits.h — the stack of the limits and overload suites: the lim_echo
 * consumer (tests/plugins/lim_echo) with the suite's settings.
 */
#ifndef CX_TEST_LIMITS_H
#define CX_TEST_LIMITS_H

#include <chanx/testing.h>
#include <stdio.h>
#include <stdlib.h>

/* env: the suite's settings, NULL-terminated (borrowed for the stack's life); metrics: serve /metrics. */
static inline cx_stack *lim_stack_start(const char *const *env, int metrics)
{
    static char plugin[600];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(plugin, sizeof plugin, "%s/test-plugins/lim_echo.so", bin);
    static const char *files[2];
    files[0] = plugin;
    return cx_stack_start(&(cx_stack_options) { .plugin_files = files, .env = env, .metrics = metrics });
}

#endif
