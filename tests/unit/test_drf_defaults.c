/*
 * test_drf_defaults.c — DRF's DEFAULT_AUTHENTICATION_CLASSES as a settings
 * file spells it, and a site's own classes mapped onto ours
 * (CHANX_AUTHENTICATION_CLASS_MAP): what the edge spec gets, and the
 * message an operator reads when an entry cannot be taken.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "workers/drf_defaults.h"

static void set(const char *classes, const char *map)
{
    setenv("CHANX_DEFAULT_AUTHENTICATION_CLASSES", classes, 1);
    if (map)
        setenv("CHANX_AUTHENTICATION_CLASS_MAP", map, 1);
    else
        unsetenv("CHANX_AUTHENTICATION_CLASS_MAP");
}

static void assert_classes(const char *classes, const char *map, const char *expected)
{
    set(classes, map);
    char err[300] = "";
    json_t *got = cx_drf_authentication(NULL, err, sizeof err);
    cr_assert_not_null(got, "%s refused: %s", classes, err);
    json_t *want = json_loads(expected, 0, NULL);
    char *text = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
    cr_assert(json_equal(got, want), "%s gave %s, expected %s", classes, text, expected);
    free(text);
    json_decref(want);
    json_decref(got);
}

static void assert_refused(const char *classes, const char *map, const char *why)
{
    set(classes, map);
    char err[300] = "";
    cr_assert_null(cx_drf_authentication(NULL, err, sizeof err), "%s accepted", classes);
    cr_assert(strstr(err, why), "'%s' does not say '%s'", err, why);
}

Test(drf_defaults, drf_and_simplejwt_paths_and_chanx_names)
{
    assert_classes("rest_framework.authentication.TokenAuthentication, rest_framework.authentication.SessionAuthentication,"
                   " rest_framework_simplejwt.authentication.JWTAuthentication", NULL, "[\"token\", \"session\", \"jwt\"]");
    assert_classes("jwt, TokenAuthentication", NULL, "[\"jwt\", \"token\"]");
}

Test(drf_defaults, an_unmapped_path_is_not_guessed_from_its_last_component)
{
    assert_refused("myapp.auth.TokenAuthentication", NULL, "CHANX_AUTHENTICATION_CLASS_MAP");
    assert_refused("auth_kit.authentication.JWTCookieAuthentication", NULL, "unknown class");
}

Test(drf_defaults, a_mapped_class_carries_its_options)
{
    assert_classes("auth_kit.authentication.JWTCookieAuthentication, session",
                   "auth_kit.authentication.JWTCookieAuthentication=jwt cookie=auth-jwt header_types=JWT,Bearer",
                   "[{\"class\": \"jwt\", \"cookie\": \"auth-jwt\", \"header_types\": \"JWT,Bearer\"}, \"session\"]");
    assert_classes("myapp.auth.BearerToken",
                   " other.Class=session ; myapp.auth.BearerToken=token keyword=Bearer",
                   "[{\"class\": \"token\", \"keyword\": \"Bearer\"}]");
    assert_classes("myapp.auth.Plain", "myapp.auth.Plain=session", "[{\"class\": \"session\"}]");
}

Test(drf_defaults, a_malformed_map_entry_names_itself)
{
    assert_refused("myapp.A", "myapp.A=oauth", "'oauth' is not token, session or jwt");
    assert_refused("myapp.A", "myapp.A=token cookie=x", "'cookie=x' is no option of token");
    assert_refused("myapp.A", "myapp.A=jwt keyword=Bearer", "no option of jwt");
    assert_refused("myapp.A", "myapp.A=jwt cookie=", "no option of jwt");
}

Test(drf_defaults, a_consumers_own_list_is_kept)
{
    set("session", NULL);
    const char *declared[] = { "jwt", NULL };
    char err[100];
    json_t *got = cx_drf_authentication(declared, err, sizeof err);
    cr_assert_str_eq(json_string_value(json_array_get(got, 0)), "jwt");
    json_decref(got);
}
