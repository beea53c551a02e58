/*
 * admin.h — what chanx-admin's parts share.
 *
 * chanx-admin plays manage.py for deployments that have no Django project
 * at hand (and for tests): it writes auth_user, authtoken_token and
 * django_session rows the way Django would, so that Django and the gateway
 * read them alike. main.c parses arguments, db.c talks to PostgreSQL (only
 * ever with parameters, never with spliced text), commands.c holds one
 * function per sub-command. Exit codes follow the usual convention: 0 ok,
 * 1 runtime error, 2 usage.
 */
#ifndef CX_ADMIN_ADMIN_H
#define CX_ADMIN_ADMIN_H

#include <libpq-fe.h>

enum { ADMIN_OK = 0, ADMIN_ERROR = 1, ADMIN_USAGE = 2 };

/* Parsed command line of every sub-command (unused fields stay zero). */
typedef struct {
    const char *database;  /* --database, else $CHANX_DATABASE_URL */
    const char *schema;    /* migrate --schema */
    int examples;          /* migrate --examples: the example plugins' tables too */
    const char *username;  /* the positional argument */
    const char *password;  /* createuser --password ("-": read from stdin) */
    const char *email;     /* createuser --email */
    int staff, superuser, inactive;
    long expires_s;        /* session --expires, default SESSION_COOKIE_AGE */
    long ttl_s;            /* jwt --ttl, default ACCESS_TOKEN_LIFETIME */
    const char *role;      /* keygen --role */
    const char *name;      /* keygen --name */
    const char *gateway;   /* asyncapi --gateway HOST:PORT */
    const char *output;    /* asyncapi --output FILE */
} admin_args;

typedef struct {
    char id[24];
    char *password; /* the stored hash, malloc'd */
    int is_active;
} admin_user;

/* db.c */
PGconn *admin_db_connect(const char *database);
/* PQexecParams with text parameters; NULL (after printing why, prefixed by
 * what) unless the command succeeded. sqlstate, if non-NULL, receives the
 * error's SQLSTATE (e.g. "23505") or "" on success. */
PGresult *admin_db_exec(PGconn *conn, const char *what, const char *sql, int n, const char *const *params,
                        char sqlstate[6]);
/* 0 found, 1 no such user (printed), -1 error (printed). */
int admin_find_user(PGconn *conn, const char *username, admin_user *user);
void admin_user_clear(admin_user *user);
/* --schema, $CHANX_SCHEMA_FILE, <exe dir>/../db/schema.sql, <exe dir>/../lib/chanx/db/schema.sql
 * (installed), /usr/share/chanx/schema.sql. */
int admin_schema_path(const char *explicit_path, char *out, size_t outlen);

/* commands.c: each returns an exit code. */
int admin_cmd_migrate(PGconn *conn, const admin_args *args);
int admin_cmd_createuser(PGconn *conn, const admin_args *args);
int admin_cmd_token(PGconn *conn, const admin_args *args);
int admin_cmd_session(PGconn *conn, const admin_args *args);
int admin_cmd_jwt(PGconn *conn, const admin_args *args);
/* keys.c: needs no database (conn is NULL); the positional argument is the folder. */
int admin_cmd_keygen(PGconn *conn, const admin_args *args);
/* asyncapi.c: needs no database (conn is NULL) */
int admin_cmd_asyncapi(PGconn *conn, const admin_args *args);
/* publish / disconnect (publish.c): argv[0] is the command; talks to the broker, not the database. */
int admin_publish_main(int argc, char **argv);

#endif
