/*
 * main.c — chanx-admin: manage.py-like commands for a Chanx database.
 *
 * One table describes every sub-command (its options and help), so parsing,
 * validation and --help cannot drift apart. Options may come before or after
 * the username, as "--opt value" or "--opt=value", like Django's commands.
 * Usage problems exit 2 before any database connection is attempted, so a
 * typo never half-runs a command.
 */
#include "admin/admin.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*admin_fn)(PGconn *conn, const admin_args *args);

typedef struct {
    const char *name;
    admin_fn run;
    int wants_user;
    const char *options; /* space separated; a trailing '=' takes a value */
    const char *help;
    int no_database;     /* runs without connecting (keygen) */
} admin_command;

static const admin_command COMMANDS[] = {
    { "migrate", admin_cmd_migrate, 0, "schema= examples",
      "chanx-admin migrate [--schema FILE] [--examples]\n"
      "  Creates auth_user, authtoken_token and django_session as Django 3.2 does, in one\n"
      "  transaction. Existing tables are left alone (IF NOT EXISTS). FILE defaults to\n"
      "  $CHANX_SCHEMA_FILE, <exe dir>/../db/schema.sql, <exe dir>/../lib/chanx/db/schema.sql (make\n"
      "  install), then /usr/share/chanx/schema.sql.\n"
      "  --examples also creates the example plugins' tables (every other *.sql beside FILE,\n"
      "  e.g. chat_history.sql for examples/chat_history), for a demo database, not a site's.\n", 0 },
    { "createuser", admin_cmd_createuser, 1, "password= email= staff superuser inactive",
      "chanx-admin createuser USERNAME [--password P|-] [--email E] [--staff] [--superuser] [--inactive]\n"
      "  Inserts a Django user (pbkdf2_sha256 password; '-' reads it from stdin; none gives an\n"
      "  unusable password) and prints its id. --superuser implies --staff.\n", 0 },
    { "token", admin_cmd_token, 1, "",
      "chanx-admin token USERNAME\n"
      "  Prints the user's DRF token (Authorization: Token ...), creating it if missing.\n", 0 },
    { "session", admin_cmd_session, 1, "expires=",
      "chanx-admin session USERNAME [--expires SECONDS]\n"
      "  Creates a logged-in Django session (cookie sessionid) and prints its key. Needs\n"
      "  CHANX_DJANGO_SECRET_KEY. Default lifetime: 1209600 s (SESSION_COOKIE_AGE).\n", 0 },
    { "jwt", admin_cmd_jwt, 1, "ttl=",
      "chanx-admin jwt USERNAME [--ttl SECONDS]\n"
      "  Prints a simplejwt access token signed with CHANX_JWT_SECRET (default:\n"
      "  CHANX_DJANGO_SECRET_KEY), user id claim $CHANX_JWT_USER_ID_CLAIM (default user_id).\n"
      "  Default lifetime: 300 s (ACCESS_TOKEN_LIFETIME).\n", 0 },
    { "keygen", admin_cmd_keygen, 1, "role= name=",
      "chanx-admin keygen DIR [--role gateway|worker|api [--name NAME]]\n"
      "  Writes CURVE key pairs (czmq certificates) for the broker links: without --role the\n"
      "  broker's, a gateway's, a worker's and an api's pairs and DIR/allowed/<role>/ (an existing set is\n"
      "  kept); with --role one more key of that role, DIR/NAME.key_secret (NAME defaults to the\n"
      "  role). Then set CHANX_CURVE_DIR=DIR (docs/deploying.md, \"Securing the broker links\"). No database.\n",
      1 },
    { "asyncapi", admin_cmd_asyncapi, 0, "gateway= output=",
      "chanx-admin asyncapi [--gateway HOST:PORT] [--output FILE]\n"
      "  Writes the deployment's AsyncAPI 3.0 document (every route, its messages and\n"
      "  authentication), as a running gateway serves it at /asyncapi.json, to FILE or\n"
      "  stdout. The gateway defaults to $CHANX_LISTEN, then 127.0.0.1:8000. No database.\n",
      1 },
};
#define N_COMMANDS (sizeof COMMANDS / sizeof *COMMANDS)

/* Events and disconnects go to the broker ($CHANX_BROKER), not the database: see publish.c. */
static const char PUBLISH_HELP[] =
    "chanx-admin publish (--group G [--group G2 ...] | --topic T [--seq N] | --user ID | --connection ID) --action A\n"
    "            [--payload JSON]   (--topic: Chanx's Topic.broadcast, to its subscribers, stamped with the topic)\n"
    "  Sends the event {\"action\": A, \"payload\": JSON} to the groups' members, every connection of a\n"
    "  user, or one connection, through the broker ($CHANX_BROKER); prints what it reached.\n"
    "chanx-admin disconnect (--user ID | --connection ID) [--code N]\n"
    "  Closes every connection of a user (or one) with code N (1000, or 3000-4999; default 1000).\n"
    "chanx-admin presence (--group G | --topic T) [--stats | --limit N --cursor C]\n"
    "  Prints who is in the group (a topic: its group): each user with their connections, gateway and connected_since\n"
    "  (--stats: counts only), as POST /api/presence answers: a page of at most N users (1-1000, default 1000);\n"
    "  its \"next\", given as --cursor, is the following page.\n";

static void usage(FILE *out)
{
    fprintf(out, "usage: chanx-admin [--database CONNINFO] COMMAND [ARGS]\n\n"
                 "The database is --database or $CHANX_DATABASE_URL (libpq conninfo or URI;\n"
                 "unset: libpq's PG* defaults). Exit codes: 0 ok, 1 error, 2 usage.\n\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fputs(COMMANDS[i].help, out);
    fputs(PUBLISH_HELP, out);
}

static int usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "chanx-admin: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (try --help)\n");
    return ADMIN_USAGE;
}

/* Is --name accepted, and does it take a value? -1 unknown, 0 flag, 1 value. */
static int option_kind(const char *options, const char *name, size_t len)
{
    const char *p = options;
    while ((p = strstr(p, name)) != NULL) {
        int starts = p == options || p[-1] == ' ';
        char end = p[len];
        if (starts && (end == ' ' || end == '\0'))
            return 0;
        if (starts && end == '=')
            return 1;
        p += len;
    }
    return -1;
}

static int parse_long(const char *text, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v <= 0)
        return -1;
    *out = v;
    return 0;
}

static int store_option(admin_args *a, const char *name, const char *value)
{
    if (!strcmp(name, "database"))
        a->database = value;
    else if (!strcmp(name, "schema"))
        a->schema = value;
    else if (!strcmp(name, "password"))
        a->password = value;
    else if (!strcmp(name, "email"))
        a->email = value;
    else if (!strcmp(name, "staff"))
        a->staff = 1;
    else if (!strcmp(name, "superuser"))
        a->superuser = 1;
    else if (!strcmp(name, "gateway"))
        a->gateway = value;
    else if (!strcmp(name, "output"))
        a->output = value;
    else if (!strcmp(name, "inactive"))
        a->inactive = 1;
    else if (!strcmp(name, "examples"))
        a->examples = 1;
    else if (!strcmp(name, "role"))
        a->role = value;
    else if (!strcmp(name, "name"))
        a->name = value;
    else if (!strcmp(name, "expires") && parse_long(value, &a->expires_s))
        return usage_error("%s needs a positive number of seconds", "--expires");
    else if (!strcmp(name, "ttl") && parse_long(value, &a->ttl_s))
        return usage_error("%s needs a positive number of seconds", "--ttl");
    return 0;
}

/* Parses argv[i..]; "database=" is accepted by every command. */
static int parse_args(const admin_command *cmd, int argc, char **argv, int i, admin_args *a)
{
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (!cmd->wants_user || a->username)
                return usage_error("unexpected argument '%s'", arg);
            a->username = arg;
            continue;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen(name);
        char key[32];
        snprintf(key, sizeof key, "%.*s", (int) (len < sizeof key ? len : 0), name);
        int kind = len && len < sizeof key ? option_kind(cmd->options, key, len) : -1;
        if (kind < 0 && !strcmp(key, "database"))
            kind = 1;
        if (kind < 0 || (kind == 0 && eq))
            return usage_error("unknown option '%s'", arg);
        if (kind == 1 && !eq && i + 1 >= argc)
            return usage_error("option '%s' needs a value", arg);
        if (store_option(a, key, kind ? (eq ? eq + 1 : argv[++i]) : NULL))
            return ADMIN_USAGE;
    }
    if (cmd->wants_user && !a->username)
        return usage_error(cmd->no_database ? "%s needs a DIR" : "%s needs a USERNAME", cmd->name);
    return 0;
}

static int wants_help(int argc, char **argv, int from)
{
    for (int i = from; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    admin_args args = { .database = getenv("CHANX_DATABASE_URL") };
    int i = 1;
    /* Global --database before the command. */
    while (i < argc && !strncmp(argv[i], "--database", 10) && (argv[i][10] == '=' || argv[i][10] == '\0')) {
        if (argv[i][10] == '=')
            args.database = argv[i++] + 11;
        else if (i + 1 < argc) {
            args.database = argv[i + 1];
            i += 2;
        } else
            return usage_error("option '%s' needs a value", "--database");
    }
    if (i >= argc || !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "help")) {
        usage(i >= argc ? stderr : stdout);
        return i >= argc ? ADMIN_USAGE : ADMIN_OK;
    }
    if (!strcmp(argv[i], "publish") || !strcmp(argv[i], "disconnect") || !strcmp(argv[i], "presence")) {
        if (wants_help(argc, argv, i + 1)) {
            fputs(PUBLISH_HELP, stdout);
            return ADMIN_OK;
        }
        return admin_publish_main(argc - i, argv + i);
    }
    const admin_command *cmd = NULL;
    for (size_t c = 0; c < N_COMMANDS; c++)
        if (!strcmp(argv[i], COMMANDS[c].name))
            cmd = &COMMANDS[c];
    if (!cmd)
        return usage_error("unknown command '%s'", argv[i]);
    if (wants_help(argc, argv, i + 1)) {
        fputs(cmd->help, stdout);
        return ADMIN_OK;
    }
    int rc = parse_args(cmd, argc, argv, i + 1, &args);
    if (rc)
        return rc;
    if (cmd->no_database)
        return cmd->run(NULL, &args);
    PGconn *conn = admin_db_connect(args.database);
    if (!conn)
        return ADMIN_ERROR;
    rc = cmd->run(conn, &args);
    PQfinish(conn);
    return rc;
}
