/*
 * The edge's defences and failure modes end to end: the Origin check that
 * stops cross-site WebSocket hijacking of cookie-authenticated clients, a
 * database that stops mid-run (500, then recovery without a restart), a
 * database slower than the timeout, and credentials that must never reach
 * any process's log.
 *
 * The outage test runs its own PostgreSQL cluster (next to the suite's, on
 * a free port) so that stopping it disturbs nothing else.
 */
#include "test_auth.h"
#include "tests/kit/deploy_helpers.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char outage_dir[400];

static void teardown(void)
{
    stop_stack();
    if (outage_dir[0]) {
        char cmd[500];
        snprintf(cmd, sizeof cmd, "scripts/pg-cluster stop %s", outage_dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not stop %s\n", outage_dir);
    }
}

TestSuite(auth_edge, .fini = teardown, .timeout = 120);

static const char *const *with_origin(const char *credential, const char *origin)
{
    static char lines[2][4200];
    static const char *headers[3];
    snprintf(lines[0], sizeof lines[0], "%.4100s", credential);
    snprintf(lines[1], sizeof lines[1], "Origin: %.4000s", origin ? origin : "");
    headers[0] = lines[0];
    headers[1] = origin ? lines[1] : NULL;
    headers[2] = NULL;
    return headers;
}

static char *session_cookie_line(int64_t user)
{
    char *key = cx_db_session_cookie(stack, user, SECRET, 3600), *line = NULL;
    cr_assert(asprintf(&line, "Cookie: sessionid=%s", key) > 0);
    free(key);
    return line;
}

#define ORIGIN_REFUSED "Origin not allowed."

/* ------------------------------------------------------------------- origin */

Test(auth_edge, by_default_only_the_same_host_may_use_a_session_cookie)
{
    start_stack(NULL);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    char *cookie = session_cookie_line(alice), same[64];
    snprintf(same, sizeof same, "http://127.0.0.1:%d", cx_stack_gateway_port(stack, 0));
    assert_connected_as("/ws/auth_probe/session/", with_origin(cookie, same), "alice");
    assert_connected_as("/ws/auth_probe/session/", with_origin(cookie, NULL), "alice");   /* not a browser */
    assert_refused("/ws/auth_probe/session/", with_origin(cookie, "http://evil.example"), 403, ORIGIN_REFUSED);
    assert_refused("/ws/auth_probe/session/", with_origin(cookie, "null"), 403, ORIGIN_REFUSED);
    /* a token is not sent by the browser on its own: a foreign page holding it is not riding anyone */
    assert_connected_as("/ws/auth_probe/token/", with_origin(*cx_db_token_header(stack, alice), "http://evil.example"),
                        "alice");
    free(cookie);
}

Test(auth_edge, allowed_origins_are_exact_and_cover_jwt_cookies_too)
{
    const char *env[] = { "CHANX_ALLOWED_ORIGINS=https://app.example.com, https://admin.example.com",
                          "CHANX_JWT_COOKIE=access", NULL };
    start_stack(env);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    char *cookie = session_cookie_line(alice), *jwt = cx_jwt_for(alice, SECRET, 300), *jwt_cookie = NULL, same[64];
    cr_assert(asprintf(&jwt_cookie, "Cookie: access=%s", jwt) > 0);
    snprintf(same, sizeof same, "http://127.0.0.1:%d", cx_stack_gateway_port(stack, 0));
    assert_connected_as("/ws/auth_probe/session/", with_origin(cookie, "https://admin.example.com"), "alice");
    assert_connected_as("/ws/auth_probe/jwt/", with_origin(jwt_cookie, "https://app.example.com"), "alice");
    const char *hostile[] = { "https://app.example.com.evil.net", "http://app.example.com", "https://evil.example", same };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        assert_refused("/ws/auth_probe/session/", with_origin(cookie, hostile[i]), 403, ORIGIN_REFUSED);
        assert_refused("/ws/auth_probe/jwt/", with_origin(jwt_cookie, hostile[i]), 403, ORIGIN_REFUSED);
    }
    free(cookie);
    free(jwt);
    free(jwt_cookie);
}

/* ----------------------------------------------------------------- database */

/* Starts (creating on first use) the private cluster; returns its conninfo (static). */
static const char *outage_cluster_start(int port)
{
    static char url[512];
    char cmd[600];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster start %s %d 2>/dev/null", outage_dir, port);
    FILE *p = popen(cmd, "r");
    cr_assert(p && fgets(url, sizeof url, p), "cannot start a PostgreSQL cluster in %s", outage_dir);
    cr_assert_eq(pclose(p), 0, "scripts/pg-cluster start %s failed", outage_dir);
    url[strcspn(url, "\n")] = '\0';
    return url;
}

static void outage_cluster_stop(void)
{
    char cmd[500];
    snprintf(cmd, sizeof cmd, "scripts/pg-cluster stop %s", outage_dir);
    cr_assert_eq(system(cmd), 0);
}

static double seconds_since(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) (t.tv_sec - t0->tv_sec) + (double) (t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Starts the stack on the private cluster; returns the cluster's port. */
static int start_on_outage_cluster(const char *const *env)
{
    const char *base = getenv("CHANX_TEST_PG_DIR") ? getenv("CHANX_TEST_PG_DIR") : "var/test-pg";
    snprintf(outage_dir, sizeof outage_dir, "%s-outage", base);
    teardown();   /* a cluster left running by an interrupted run would keep its old port */
    int port = cx_test_free_port();
    setenv("CHANX_TEST_DATABASE_URL", outage_cluster_start(port), 1);
    start_stack(env);
    return port;
}

Test(auth_edge, database_stopped_mid_run_gives_500_and_the_gateway_recovers_by_itself)
{
    const char *env[] = { "CHANX_DB_POOL=2", "CHANX_DB_TIMEOUT_MS=2000", NULL };
    int port = start_on_outage_cluster(env);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    const char *const *token = cx_db_token_header(stack, alice);
    for (int i = 0; i < 2; i++)
        assert_connected_as("/ws/auth_probe/token/", token, "alice");

    outage_cluster_stop();
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 3; i++)   /* every pool connection notices, none hangs */
        assert_refused("/ws/auth_probe/token/", token, 500, "Internal server error");
    cr_expect_lt(seconds_since(&t0), 15.0, "refusals took %.1f s", seconds_since(&t0));
    cr_assert(cx_stack_wait_ready(stack, 0, 3000), "the gateway went down with its database");

    outage_cluster_start(port);
    /* no restart: the first clients after the database is back are served, on every pool connection */
    for (int i = 0; i < 4; i++)
        assert_connected_as("/ws/auth_probe/token/", token, "alice");
}

Test(auth_edge, a_database_restart_between_clients_goes_unnoticed)
{
    /* one pool connection, idle while the server restarts: it only learns it is dead when used */
    const char *env[] = { "CHANX_DB_POOL=1", NULL };
    int port = start_on_outage_cluster(env);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    const char *const *token = cx_db_token_header(stack, alice);
    assert_connected_as("/ws/auth_probe/token/", token, "alice");
    outage_cluster_stop();
    outage_cluster_start(port);
    assert_connected_as("/ws/auth_probe/token/", token, "alice");
}

Test(auth_edge, a_query_slower_than_the_timeout_is_500_and_the_next_client_is_served)
{
    const char *env[] = { "CHANX_DB_POOL=1", "CHANX_DB_TIMEOUT_MS=1000", NULL };
    start_stack(env);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_refused("/ws/auth_probe/slow/", cx_db_token_header(stack, alice), 500, "Internal server error");
    cr_expect_lt(seconds_since(&t0), 10.0, "the slow query held the client %.1f s", seconds_since(&t0));
    assert_connected_as("/ws/auth_probe/token/", cx_db_token_header(stack, alice), "alice");
}

/* --------------------------------------------------------------------- logs */

static void assert_not_logged(const char *const *logs, const char *secret, const char *what)
{
    for (int i = 0; logs[i]; i++)
        cr_assert_null(strstr(logs[i], secret), "%s appears in a process log:\n%s", what, strstr(logs[i], secret));
}

Test(auth_edge, credentials_never_reach_any_log)
{
    const char *env[] = { "CHANX_LOG_LEVEL=debug", "CHANX_JWT_QUERY_PARAM=jwt", "CHANX_JWT_COOKIE=access", NULL };
    start_stack(env);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    const char *token = cx_db_token(stack, alice);
    char *session = cx_db_session_cookie(stack, alice, SECRET, 3600), *jwt = cx_jwt_for(alice, SECRET, 300);
    char path[1200], header[1200];
    const char *headers[] = { header, NULL };

    /* accepted, every way a credential can travel */
    snprintf(path, sizeof path, "/ws/auth_probe/anyone/?token=%s", token);
    cx_communicator *c = cx_communicator_new(stack, path, cx_db_token_header(stack, alice));
    assert_auth(c, 200, "OK");
    json_decref(whoami(c));
    snprintf(header, sizeof header, "Cookie: sessionid=%s; access=%s", session, jwt);
    assert_connected_as("/ws/auth_probe/anyone/", headers, "alice");
    snprintf(path, sizeof path, "/ws/auth_probe/jwt/?jwt=%s", jwt);
    assert_connected_as(path, NULL, "alice");
    snprintf(header, sizeof header, "Authorization: Bearer %s", jwt);
    assert_connected_as("/ws/auth_probe/jwt/", headers, "alice");
    /* refused: wrong credentials, an unknown route, a hostile origin */
    const char *wrong = "f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed";
    snprintf(path, sizeof path, "/ws/auth_probe/token/?token=%s", wrong);
    assert_refused(path, NULL, 401, "Invalid token.");
    snprintf(path, sizeof path, "/ws/nowhere/?token=%s&jwt=%s", token, jwt);
    cr_assert_eq(cx_communicator_http_status(cx_communicator_new(stack, path, NULL)), 404);
    snprintf(header, sizeof header, "Cookie: sessionid=%s", session);
    const char *hostile[] = { header, "Origin: http://evil.example", NULL };
    assert_refused("/ws/auth_probe/session/", hostile, 403, "Origin not allowed.");

    /* the worker logged the whoami exchange and the gateway the refusals: everything before is written */
    char *logs[4] = { cx_stack_log(stack, "worker0", "whoami", 5000),
                      cx_stack_log(stack, "gateway0", "connection refused", 5000), cx_stack_log(stack, "broker", NULL, 0),
                      NULL };
    cr_assert(logs[0] && logs[1] && logs[2], "logs missing (worker %p, gateway %p, broker %p)", (void *) logs[0],
              (void *) logs[1], (void *) logs[2]);
    assert_not_logged((const char *const *) logs, token, "the DRF token");
    assert_not_logged((const char *const *) logs, wrong, "a wrong DRF token");
    assert_not_logged((const char *const *) logs, session, "the session key");
    assert_not_logged((const char *const *) logs, strrchr(jwt, '.') + 1, "the JWT's signature");
    *strrchr(jwt, '.') = '\0';
    assert_not_logged((const char *const *) logs, strchr(jwt, '.') + 1, "the JWT's claims");
    for (int i = 0; i < 3; i++)
        free(logs[i]);
    free(session);
    free(jwt);
}
