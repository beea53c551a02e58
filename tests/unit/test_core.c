/* Shared building blocks: the id map, permission expressions, consumer SQL. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include "common/idmap.h"
#include "common/permission.h"
#include "gateway/consumer_spec.h"

Test(idmap, survives_many_inserts_and_removals)
{
    cx_idmap *m = cx_idmap_new();
    for (uint64_t i = 1; i <= 20000; i++)
        cx_idmap_put(m, i << 32 | i, (void *) (uintptr_t) i);
    for (uint64_t i = 1; i <= 20000; i += 2)
        cr_assert_eq((uintptr_t) cx_idmap_remove(m, i << 32 | i), i);
    cr_assert_eq(cx_idmap_size(m), 10000);
    for (uint64_t i = 1; i <= 20000; i++)
        cr_assert_eq((uintptr_t) cx_idmap_get(m, i << 32 | i), i % 2 ? 0 : i, "id %llu", (unsigned long long) i);
    cr_assert_null(cx_idmap_get(m, 0));
    cr_assert_neq(cx_idmap_put(m, 0, m), 0, "id 0 is reserved");
    cx_idmap_destroy(&m);
    cr_assert_null(m);
}

static int allows(const char *expr, int auth, int staff, int super)
{
    char err[128];
    cx_permission *p = cx_permission_parse(expr, err, sizeof err);
    cr_assert_not_null(p, "%s: %s", expr, err);
    cx_permission_subject s = { auth, staff, super, 1 };
    int r = cx_permission_allows(p, &s);
    cx_permission_destroy(&p);
    return r;
}

Test(permission, compose_like_drf)
{
    cr_assert(allows("AllowAny", 0, 0, 0));
    cr_assert_not(allows("IsAuthenticated", 0, 0, 0));
    cr_assert(allows("IsAuthenticated", 1, 0, 0));
    cr_assert_not(allows("IsAdminUser", 1, 0, 0));
    cr_assert(allows("IsAdminUser | IsSuperUser", 1, 0, 1));
    cr_assert_not(allows("IsAuthenticated & ~IsSuperUser", 1, 0, 1));
    cr_assert(allows("~(IsAdminUser & IsSuperUser)", 1, 1, 0));
    cr_assert(allows("IsAuthenticated & (IsAdminUser | ~IsSuperUser)", 1, 0, 0));
    cr_assert(allows("IsAuthenticatedOrReadOnly", 0, 0, 0), "GET is a safe method");
}

Test(permission, errors_name_the_place)
{
    char err[128];
    cr_assert_null(cx_permission_parse("IsAuthenticated & IsAdmn", err, sizeof err));
    cr_assert_str_eq(err, "unknown permission class 'IsAdmn' at 19");
    cr_assert_null(cx_permission_parse("(IsAuthenticated", err, sizeof err));
    cr_assert_null(cx_permission_parse("IsAuthenticated IsAdminUser", err, sizeof err));
    cr_assert_null(cx_permission_parse("", err, sizeof err));
}

Test(spec_sql, named_parameters_become_positional_and_quotes_are_left_alone)
{
    cx_spec_sql sql;
    char err[128];
    cr_assert_eq(cx_spec_sql_compile("SELECT id, '$not' FROM room WHERE id = $room_id AND owner = $user_id "
                                     "OR id = $room_id", &sql, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(sql.sql, "SELECT id, '$not' FROM room WHERE id = $1 AND owner = $2 OR id = $1");
    cr_assert_eq(sql.nparams, 2);
    cr_assert_str_eq(sql.params[0], "room_id");
    cr_assert_str_eq(sql.params[1], "user_id");
    cx_spec_sql_free(&sql);
    cr_assert_neq(cx_spec_sql_compile("SELECT $1", &sql, err, sizeof err), 0);
}
