/*
 * A Django site with a custom AUTH_USER_MODEL: an email-login user model
 * (AbstractBaseUser + PermissionsMixin with is_staff, as Django's docs show
 * it) in the table accounts_user, no username column, DRF's authtoken_token
 * pointing at it. The gateway reads it with CHANX_USER_TABLE=accounts_user
 * and CHANX_USERNAME_FIELD=email: tokens and JWTs identify its users, the
 * worker sees the email as the username, inactive users are refused. The
 * site's tables live in their own PostgreSQL schema (search_path in the
 * gateway's CHANX_DATABASE_URL), beside the kit's auth_user, as another
 * site's database would. Bad names stop the gateway at start.
 */
#include "test_auth.h"

#include <libpq-fe.h>
#include <sys/wait.h>

TestSuite(auth_user_model, .fini = stop_stack, .timeout = 90);

static const char SITE_SQL[] =
    "SET client_min_messages = warning; DROP SCHEMA IF EXISTS custom_site CASCADE; CREATE SCHEMA custom_site;"
    "CREATE TABLE custom_site.accounts_user (id serial PRIMARY KEY, password varchar(128) NOT NULL,"
    " last_login timestamptz NULL, is_superuser boolean NOT NULL, email varchar(254) NOT NULL UNIQUE,"
    " is_staff boolean NOT NULL, is_active boolean NOT NULL, date_joined timestamptz NOT NULL);"
    "CREATE TABLE custom_site.authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz NOT NULL,"
    " user_id integer NOT NULL UNIQUE REFERENCES custom_site.accounts_user (id));"
    "INSERT INTO custom_site.accounts_user (password, is_superuser, email, is_staff, is_active, date_joined) VALUES"
    " ('!', false, 'alice@example.com', true, true, now()), ('!', false, 'gone@example.com', false, false, now());"
    "INSERT INTO custom_site.authtoken_token VALUES"
    " ('0123456789abcdef0123456789abcdef01234567', now(), 1), ('fedcba9876543210fedcba9876543210fedcba98', now(), 2);";

static const char *const *token_header(const char *key)
{
    static char header[128];
    static const char *headers[2] = { header, NULL };
    snprintf(header, sizeof header, "Authorization: Token %s", key);
    return headers;
}

static void start_custom_site(void)
{
    const char *url = getenv("CHANX_TEST_DATABASE_URL");
    cr_assert_not_null(url, "CHANX_TEST_DATABASE_URL (scripts/run-tests sets it)");
    PGconn *db = PQconnectdb(url);
    cr_assert_eq(PQstatus(db), CONNECTION_OK, "%s", PQerrorMessage(db));
    PGresult *res = PQexec(db, SITE_SQL);
    cr_assert_eq(PQresultStatus(res), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(db);
    static char database[1200];
    if (strncmp(url, "postgres", 8) == 0)   /* a URI: options as a query parameter */
        snprintf(database, sizeof database, "CHANX_DATABASE_URL=%s%coptions=-c%%20search_path%%3Dcustom_site", url,
                 strchr(url, '?') ? '&' : '?');
    else
        snprintf(database, sizeof database, "CHANX_DATABASE_URL=%s options='-c search_path=custom_site'", url);
    start_stack((const char *const[]) { database, "CHANX_USER_TABLE=accounts_user", "CHANX_USERNAME_FIELD=email",
                                        NULL });
}

Test(auth_user_model, a_token_identifies_a_user_of_the_custom_model_by_its_email)
{
    start_custom_site();
    assert_connected_as("/ws/auth_probe/token/", token_header("0123456789abcdef0123456789abcdef01234567"),
                        "alice@example.com");
    cx_communicator *admin = cx_communicator_new(stack, "/ws/auth_probe/admin/",
                                                 token_header("0123456789abcdef0123456789abcdef01234567"));
    assert_auth(admin, 200, "OK");   /* is_staff read from the custom table: IsAdminUser allows */
}

Test(auth_user_model, a_jwt_identifies_a_user_of_the_custom_model)
{
    start_custom_site();
    char *jwt = cx_jwt_for(1, SECRET, 300), header[1200];
    snprintf(header, sizeof header, "Authorization: Bearer %s", jwt);
    free(jwt);
    assert_connected_as("/ws/auth_probe/jwt/", (const char *const[]) { header, NULL }, "alice@example.com");
}

Test(auth_user_model, an_inactive_user_of_the_custom_model_is_refused)
{
    start_custom_site();
    assert_refused("/ws/auth_probe/token/", token_header("fedcba9876543210fedcba9876543210fedcba98"), 401,
                   "User inactive or deleted.");
}

Test(auth_user_model, a_name_that_is_not_an_identifier_stops_the_gateway_naming_the_setting)
{
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "CHANX_USER_TABLE='users; DROP TABLE x' %s/chanx-gateway --listen 127.0.0.1:1 2>&1", bin);
    FILE *p = popen(cmd, "r");
    char out[1024] = "";
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    cr_assert_eq(WEXITSTATUS(status), 2, "exit %d: %s", WEXITSTATUS(status), out);
    cr_assert(strstr(out, "CHANX_USER_TABLE='users; DROP TABLE x' is not a table name"), "%s", out);
}

/* A user table the database lacks: the client gets 500, the operator PostgreSQL's reason. */
Test(auth_user_model, a_missing_user_table_is_named_in_the_gateway_log)
{
    start_stack((const char *const[]) { "CHANX_USER_TABLE=accounts_user", NULL });   /* not in public */
    assert_refused("/ws/auth_probe/token/", token_header("0123456789abcdef0123456789abcdef01234567"), 500,
                   "Internal server error");
    char *log = cx_stack_log(stack, "gateway0", "authentication query failed: SQLSTATE 42P01", 5000);
    cr_assert_not_null(log, "the gateway did not log PostgreSQL's reason");
    cr_assert(strstr(log, "accounts_user") && strstr(log, "does not exist"), "%s", log);
    free(log);
}
