/*
 * db.c — chanx-admin's PostgreSQL access.
 *
 * Every statement goes through PQexecParams so user input (usernames,
 * emails, passwords) only ever travels as parameters; the one exception is
 * the schema file of `migrate`, which is our own SQL read from disk. Errors
 * are printed once, here, with libpq's primary message and no parameter
 * values, so a password never ends up on a terminal or in a CI log.
 */
#include "admin/admin.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

PGconn *admin_db_connect(const char *database)
{
    /* "" lets libpq use its own defaults (PGHOST, PGDATABASE, ~/.pgpass...). */
    PGconn *conn = PQconnectdb(database ? database : "");
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        fprintf(stderr, "chanx-admin: cannot connect to the database: %s",
                conn ? PQerrorMessage(conn) : "out of memory\n");
        PQfinish(conn);
        return NULL;
    }
    return conn;
}

PGresult *admin_db_exec(PGconn *conn, const char *what, const char *sql, int n, const char *const *params,
                        char sqlstate[6])
{
    PGresult *res = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(res);
    if (sqlstate)
        sqlstate[0] = '\0';
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return res;
    const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    if (sqlstate && code)
        snprintf(sqlstate, 6, "%s", code);
    /* A caller handling the SQLSTATE (unique violations) reports it itself. */
    if (!sqlstate || !code || strcmp(code, "23505") != 0) {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        fprintf(stderr, "chanx-admin: %s failed: %s\n", what, msg ? msg : PQerrorMessage(conn));
    }
    PQclear(res);
    return NULL;
}

int admin_find_user(PGconn *conn, const char *username, admin_user *user)
{
    const char *params[] = { username };
    PGresult *res = admin_db_exec(conn, "user lookup",
                                  "SELECT id, password, is_active FROM auth_user WHERE username = $1", 1, params,
                                  NULL);
    memset(user, 0, sizeof *user);
    if (!res)
        return -1;
    if (PQntuples(res) != 1) {
        fprintf(stderr, "chanx-admin: no user named '%s'\n", username);
        PQclear(res);
        return 1;
    }
    snprintf(user->id, sizeof user->id, "%s", PQgetvalue(res, 0, 0));
    user->password = strdup(PQgetvalue(res, 0, 1));
    user->is_active = PQgetvalue(res, 0, 2)[0] == 't';
    PQclear(res);
    if (!user->password) {
        fprintf(stderr, "chanx-admin: out of memory\n");
        return -1;
    }
    return 0;
}

void admin_user_clear(admin_user *user)
{
    free(user->password);
    user->password = NULL;
}

static int readable(const char *path)
{
    return access(path, R_OK) == 0;
}

int admin_schema_path(const char *explicit_path, char *out, size_t outlen)
{
    const char *env = getenv("CHANX_SCHEMA_FILE");
    char exe[PATH_MAX], *slash;
    ssize_t n;
    if (explicit_path && *explicit_path)
        return snprintf(out, outlen, "%s", explicit_path) < (int) outlen ? 0 : -1;
    if (env && *env)
        return snprintf(out, outlen, "%s", env) < (int) outlen ? 0 : -1;
    /* Next to the binary: build/chanx-admin finds the tree's db/schema.sql, an installed
     * PREFIX/bin/chanx-admin the PREFIX/lib/chanx/db/schema.sql that make install puts there. */
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')))
            *slash = '\0';
        if (snprintf(out, outlen, "%s/../db/schema.sql", exe) < (int) outlen && readable(out))
            return 0;
        if (snprintf(out, outlen, "%s/../lib/chanx/db/schema.sql", exe) < (int) outlen && readable(out))
            return 0;
    }
    return snprintf(out, outlen, "/usr/share/chanx/schema.sql") < (int) outlen ? 0 : -1;
}
