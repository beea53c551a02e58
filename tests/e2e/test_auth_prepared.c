/*
 * The gateway's authentication queries as prepared statements
 * (gateway/prepared.c): each pool connection prepares a query the first
 * time it runs it. What users rely on is that this is invisible: a Django
 * migration that retypes a column a consumer's queryset selects does not
 * break connects, and neither does PgBouncer in transaction mode, the
 * pooler many Django sites put in front of PostgreSQL, which before 1.21
 * loses statements between its server connections (Debian 12 ships 1.18:
 * the real one runs here, in front of the suite's cluster).
 */
#include "test_auth.h"
#include "tests/kit/deploy_helpers.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char bouncer_dir[64];

static void stop_bouncer(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/pgbouncer.pid", bouncer_dir);
    FILE *f = bouncer_dir[0] ? fopen(path, "r") : NULL;
    int pid = 0;
    if (f && fscanf(f, "%d", &pid) == 1 && pid > 0)
        kill(pid, SIGTERM);
    if (f)
        fclose(f);
    for (int i = 0; pid > 0 && i < 100 && kill(pid, 0) == 0; i++)
        usleep(20 * 1000);   /* it removes its pid file on the way out */
    char cmd[100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", bouncer_dir);
    if (bouncer_dir[0] && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", bouncer_dir);
    bouncer_dir[0] = '\0';
}

static void teardown(void)
{
    stop_stack();
    stop_bouncer();
}

TestSuite(auth_prepared, .fini = teardown, .timeout = 90);

static json_t *room_obj_for(int64_t user)
{
    cx_communicator *c = cx_communicator_new(stack, "/ws/auth_probe/room/1/", cx_db_token_header(stack, user));
    assert_auth(c, 200, "OK");
    json_t *who = whoami(c), *obj = json_incref(json_object_get(who, "obj"));
    json_decref(who);
    cx_communicator_disconnect(c);
    return obj;
}

static int64_t room_with_member(const char *username)
{
    cx_db_exec(stack, "DROP TABLE IF EXISTS authtest_room, authtest_member;"
                      "CREATE TABLE authtest_room (id integer PRIMARY KEY, name text NOT NULL, topic text);"
                      "CREATE TABLE authtest_member (room_id integer NOT NULL, user_id integer NOT NULL);"
                      "INSERT INTO authtest_room VALUES (1, 'lobby', 'hello');");
    int64_t user = cx_db_create_user(stack, username, 0);
    char member[96];
    snprintf(member, sizeof member, "INSERT INTO authtest_member VALUES (1, %lld)", (long long) user);
    cx_db_exec(stack, member);
    return user;
}

/* PostgreSQL refuses a prepared statement whose result type a migration changed ("cached plan must not
 * change result type"): the connect still gets its object, unprepared. */
Test(auth_prepared, a_migration_that_retypes_a_querysets_column_does_not_break_connects)
{
    const char *env[] = { "CHANX_DB_POOL=1", NULL };   /* one connection: the one that prepared */
    start_stack(env);
    int64_t alice = room_with_member("alice");
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            cx_db_exec(stack, "ALTER TABLE authtest_room ALTER COLUMN topic TYPE varchar(200)");
        json_t *obj = room_obj_for(alice);
        cr_assert(json_is_object(obj), "round %d: no obj reached the worker", round);
        cr_assert_str_eq(json_string_value(json_object_get(obj, "topic")), "hello", "round %d", round);
        json_decref(obj);
    }
    cx_db_exec(stack, "DROP TABLE authtest_room, authtest_member");
}

/* ------------------------------------------------------------- PgBouncer */

static int accepts(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int ok = connect(fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

/* The value of key in the suite's conninfo (URL or key=value), "" when absent. */
static void conninfo_value(const char *conninfo, const char *key, char *out, size_t len)
{
    PQconninfoOption *options = PQconninfoParse(conninfo, NULL);
    cr_assert_not_null(options, "CHANX_TEST_DATABASE_URL does not parse: %s", conninfo);
    out[0] = '\0';
    for (PQconninfoOption *o = options; o->keyword; o++)
        if (strcmp(o->keyword, key) == 0 && o->val)
            snprintf(out, len, "%s", o->val);
    PQconninfoFree(options);
}

/* PgBouncer in transaction mode with ONE server connection in front of the suite's database: whatever
 * two clients prepare lands on the same server connection, and a statement prepared in one transaction
 * is not there for the next, so every way a pooler loses statements happens within a few connects.
 * Returns the conninfo that reaches the database through it (static). Runs as the cluster's owner
 * (postgres under root: PostgreSQL's peer authentication maps it, scripts/pg-cluster). */
static const char *start_bouncer(void)
{
    static char url[256];
    char host[256], port[16], dbname[64], user[64], password[128], path[128];
    const char *direct = getenv("CHANX_TEST_DATABASE_URL");
    cr_assert(direct && *direct, "CHANX_TEST_DATABASE_URL is not set (scripts/run-tests sets it)");
    conninfo_value(direct, "host", host, sizeof host);
    conninfo_value(direct, "port", port, sizeof port);
    conninfo_value(direct, "dbname", dbname, sizeof dbname);
    conninfo_value(direct, "user", user, sizeof user);
    conninfo_value(direct, "password", password, sizeof password);
    snprintf(bouncer_dir, sizeof bouncer_dir, "/tmp/chanx-pgbouncer-XXXXXX");
    cr_assert_not_null(mkdtemp(bouncer_dir));   /* 0700: nobody else can plant a file or a link in it */
    if (geteuid() == 0) {   /* pgbouncer runs as postgres and writes its log and pid here: its folder */
        struct passwd *pg = getpwnam("postgres");
        cr_assert(pg && chown(bouncer_dir, pg->pw_uid, pg->pw_gid) == 0, "cannot give %s to postgres", bouncer_dir);
    }
    int listen = cx_test_free_port();
    snprintf(path, sizeof path, "%s/users.txt", bouncer_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "\"%s\" \"\"\n", user[0] ? user : "chanx");
    fclose(f);
    chmod(path, 0644);
    snprintf(path, sizeof path, "%s/pgbouncer.ini", bouncer_dir);
    cr_assert_not_null(f = fopen(path, "w"));
    fprintf(f,
            "[databases]\n%s = host=%s port=%s dbname=%s%s%s%s%s\n"
            "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
            "auth_type = trust\nauth_file = %s/users.txt\npool_mode = transaction\ndefault_pool_size = 1\n"
            "ignore_startup_parameters = options\nlogfile = %s/pgbouncer.log\npidfile = %s/pgbouncer.pid\n",
            dbname, host, port, dbname, user[0] ? " user=" : "", user, password[0] ? " password=" : "", password,
            listen, bouncer_dir, bouncer_dir, bouncer_dir);
    fclose(f);
    chmod(path, 0644);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "pgbouncer -q -d %s %s", geteuid() == 0 ? "-u postgres" : "", path);
    cr_assert_eq(system(cmd), 0, "pgbouncer did not start (%s; scripts/install-deps installs it)", cmd);
    for (int i = 0; i < 100 && !accepts(listen); i++)
        usleep(50 * 1000);
    cr_assert(accepts(listen), "pgbouncer is not listening on %d (see %s/pgbouncer.log)", listen, bouncer_dir);
    snprintf(url, sizeof url, "host=127.0.0.1 port=%d dbname=%s%s%s", listen, dbname, user[0] ? " user=" : "", user);
    return url;
}

Test(auth_prepared, behind_pgbouncer_in_transaction_mode_every_connect_is_served)
{
    const char *through = start_bouncer();
    char database[300];
    snprintf(database, sizeof database, "CHANX_DATABASE_URL=%s", through);
    const char *env[] = { "CHANX_DB_POOL=3", database, NULL };
    start_stack(env);
    int64_t alice = room_with_member("alice");
    /* 3 pool connections, 12 clients connecting at once, then 12 more: each connection prepares,
     * finds its statements gone or its names taken, and goes on unprepared */
    for (int round = 0; round < 2; round++) {
        cx_communicator *clients[12];
        for (int i = 0; i < 12; i++)
            clients[i] = cx_communicator_new(stack, "/ws/auth_probe/room/1/", cx_db_token_header(stack, alice));
        for (int i = 0; i < 12; i++) {
            assert_auth(clients[i], 200, "OK");
            json_t *who = whoami(clients[i]);
            cr_assert_str_eq(json_string_value(json_object_get(json_object_get(who, "obj"), "topic")), "hello",
                             "round %d, client %d", round, i);
            json_decref(who);
            cx_communicator_disconnect(clients[i]);
        }
    }
    cr_assert_gt(cx_stack_log_count(stack, "gateway0", "runs queries unprepared"), 0,
                 "no pool connection met a lost statement: the test did not test the fallback");
    cx_db_exec(stack, "DROP TABLE authtest_room, authtest_member");
}
