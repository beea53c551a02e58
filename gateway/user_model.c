/*
 * user_model.c — CHANX_USER_TABLE and CHANX_USERNAME_FIELD (see user_model.h):
 * checked once, then turned into the quoted SQL the authentication queries use.
 */
#include "gateway/user_model.h"
#include "common/env.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static char table_sql[160] = "\"auth_user\"";
static char columns_sql[200] = "u.id, u.\"username\", u.is_active, u.is_staff, u.is_superuser";

/* A PostgreSQL identifier as Django names tables and columns: [A-Za-z_][A-Za-z0-9_]*, at most 63 bytes. */
static int identifier(const char *s, size_t n)
{
    if (n == 0 || n > 63 || !(isalpha((unsigned char) s[0]) || s[0] == '_'))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!(isalnum((unsigned char) s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

int cx_user_model_check(void)
{
    const char *table = cx_env_str("CHANX_USER_TABLE", "auth_user");
    const char *field = cx_env_str("CHANX_USERNAME_FIELD", "username");
    const char *dot = strchr(table, '.');
    int ok = dot ? identifier(table, (size_t) (dot - table)) && identifier(dot + 1, strlen(dot + 1))
                 : identifier(table, strlen(table));
    if (!ok) {
        fprintf(stderr, "chanx-gateway: CHANX_USER_TABLE='%s' is not a table name (letters, digits and _, "
                        "optionally schema.table), e.g. accounts_user\n", table);
        return -1;
    }
    if (!identifier(field, strlen(field))) {
        fprintf(stderr, "chanx-gateway: CHANX_USERNAME_FIELD='%s' is not a column name (letters, digits and _), "
                        "e.g. email\n", field);
        return -1;
    }
    if (dot)
        snprintf(table_sql, sizeof table_sql, "\"%.*s\".\"%s\"", (int) (dot - table), table, dot + 1);
    else
        snprintf(table_sql, sizeof table_sql, "\"%s\"", table);
    snprintf(columns_sql, sizeof columns_sql, "u.id, u.\"%s\", u.is_active, u.is_staff, u.is_superuser", field);
    return 0;
}

const char *cx_user_model_columns(void) { return columns_sql; }
const char *cx_user_model_table(void) { return table_sql; }
