/*
 * test_api_names.c — the worker's table of plugin API names (workers/api_names.c) is the API: every
 * name in it is a function the worker exports (found with dlsym, as a plugin's reference would be),
 * every chanx_* function the public headers declare is in it, and a misspelling finds the name meant.
 */
#include "workers/api_names.h"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int listed(const char *name)
{
    for (const char *const *n = cx_api_names(); *n; n++)
        if (strcmp(*n, name) == 0)
            return 1;
    return 0;
}

Test(api_names, every_listed_name_is_a_function_the_worker_exports)
{
    for (const char *const *n = cx_api_names(); *n; n++)
        cr_assert_not_null(dlsym(RTLD_DEFAULT, *n), "%s is listed but not defined", *n);
}

/* Declarations in the public headers: a line starting with a type and "chanx_name(". */
Test(api_names, every_function_the_headers_declare_is_listed)
{
    const char *headers[] = { "include/chanx/consumer.h", "include/chanx/db.h", "include/chanx/timer.h" };
    regex_t decl;
    cr_assert_eq(regcomp(&decl, "^[a-z_ ]*[a-z_]+[ *]+(chanx_[a-z_]+)\\(", REG_EXTENDED), 0);
    int found = 0;
    for (size_t h = 0; h < sizeof headers / sizeof headers[0]; h++) {
        FILE *f = fopen(headers[h], "r");
        cr_assert_not_null(f, "%s (run from the repository's root)", headers[h]);
        char line[512];
        regmatch_t m[2];
        while (fgets(line, sizeof line, f))
            if (regexec(&decl, line, 2, m, 0) == 0) {
                line[m[1].rm_eo] = '\0';
                cr_assert(listed(line + m[1].rm_so), "%s declares %s, which workers/api_names.c does not list",
                          headers[h], line + m[1].rm_so);
                found++;
            }
        fclose(f);
    }
    regfree(&decl);
    cr_assert_geq(found, 30, "the headers' declarations were not found (%d)", found);
}

Test(api_names, a_misspelling_finds_the_name_meant_and_a_stranger_finds_none)
{
    cr_assert_str_eq(cx_api_name_nearest("chanx_send_mesage", 17), "chanx_send_message");
    cr_assert_str_eq(cx_api_name_nearest("chanx_sned_message", 18), "chanx_send_message");   /* a swap */
    cr_assert_str_eq(cx_api_name_nearest("chanx_send_message", 18), "chanx_send_message");
    cr_assert_null(cx_api_name_nearest("chanx_send_telepathy", 20));
    cr_assert_null(cx_api_name_nearest("chanx_", 6));
}
