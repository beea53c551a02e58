/*
 * migrate.c — `chanx-admin migrate`: the tables Chanx reads, and on request
 * the example plugins' tables.
 *
 * The schema (db/schema.sql; in the image /usr/share/chanx/schema.sql) holds
 * Django's and DRF's own tables, all IF NOT EXISTS, so a Django database is
 * left as it is. The examples' tables (db/chat_history.sql...) sit next to
 * it, one file each, and are applied only with --examples: they belong to a
 * demo deployment (the compose file asks for them), never silently to a
 * site's own database. They run after the schema, in name order, the order
 * scripts/pg-cluster uses, and in the same transaction: all or nothing.
 */
#include "admin/admin.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (len = (size_t) ftell(f)) < (64u << 20) && fseek(f, 0, SEEK_SET) == 0
        && (buf = malloc(len + 1)) && fread(buf, 1, len, f) == len)
        buf[len] = '\0';
    else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static int exec_simple(PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
    if (!ok) {
        const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        fprintf(stderr, "chanx-admin: %s failed: %s\n", what, msg ? msg : PQerrorMessage(conn));
    }
    PQclear(res);
    return ok ? 0 : -1;
}


/* Every *.sql beside the schema file, in name order (glob sorts); the caller skips the schema. */
static int example_files(const char *schema, glob_t *g)
{
    char pattern[4200];
    const char *slash = strrchr(schema, '/');
    snprintf(pattern, sizeof pattern, "%.*s/*.sql", slash ? (int) (slash - schema) : 1, slash ? schema : ".");
    int rc = glob(pattern, 0, NULL, g);
    if (rc == GLOB_NOMATCH)
        g->gl_pathc = 0;
    return rc == 0 || rc == GLOB_NOMATCH ? 0 : -1;
}

static int same_file(const char *a, const char *b)
{
    const char *sa = strrchr(a, '/'), *sb = strrchr(b, '/');
    return strcmp(sa ? sa + 1 : a, sb ? sb + 1 : b) == 0;
}

/* Applies one file inside the open transaction. */
static int apply_file(PGconn *conn, const char *path, const char *what)
{
    char *sql = read_file(path);
    if (!sql) {
        fprintf(stderr, "chanx-admin: cannot read %s file '%s'%s\n", what, path,
                strcmp(what, "schema") ? "" : " (use --schema or CHANX_SCHEMA_FILE)");
        return -1;
    }
    int rc = exec_simple(conn, sql, what);
    free(sql);
    return rc;
}

int admin_cmd_migrate(PGconn *conn, const admin_args *args)
{
    char path[4096];
    if (admin_schema_path(args->schema, path, sizeof path) != 0) {
        fprintf(stderr, "chanx-admin: schema file path too long\n");
        return ADMIN_ERROR;
    }
    glob_t examples = { 0 };
    if (args->examples && example_files(path, &examples) != 0) {
        fprintf(stderr, "chanx-admin: cannot list the example tables beside '%s'\n", path);
        return ADMIN_ERROR;
    }
    /* All or nothing: a half-created schema would be worse than none. */
    /* SET LOCAL: the "already exists, skipping" notices of a re-run are expected, not news. */
    int rc = exec_simple(conn, "BEGIN; SET LOCAL client_min_messages = warning", "BEGIN")
             || apply_file(conn, path, "schema");
    for (size_t i = 0; !rc && i < examples.gl_pathc; i++)
        if (!same_file(examples.gl_pathv[i], path))
            rc = apply_file(conn, examples.gl_pathv[i], "example tables");
    rc = rc || exec_simple(conn, "COMMIT", "COMMIT");
    if (rc) {
        PQclear(PQexec(conn, "ROLLBACK"));
    } else {
        printf("schema applied from %s\n", path);
        for (size_t i = 0; i < examples.gl_pathc; i++)
            if (!same_file(examples.gl_pathv[i], path))
                printf("example tables applied from %s\n", examples.gl_pathv[i]);
    }
    if (args->examples)
        globfree(&examples);
    return rc ? ADMIN_ERROR : ADMIN_OK;
}
