/*
 * commands.c — chanx-admin's sub-commands, each writing rows as Django does.
 *
 * The point of every command is that Django cannot tell our rows from its
 * own: passwords are Django's pbkdf2_sha256 strings, tokens are DRF's 40 hex
 * characters, sessions carry the same three keys Django's login() stores and
 * are signed with the site's SECRET_KEY, JWTs are simplejwt access tokens.
 * Uniqueness is left to the database (unique violations are detected by
 * SQLSTATE and retried or reported) rather than checked first, so two admins
 * racing cannot both win. Secrets come from the environment, never from
 * arguments, and are never printed.
 */
#include "admin/admin.h"

#include "common/django_signing.h"
#include "common/django_auth.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define UNIQUE_VIOLATION "23505"
#define SESSION_KEY_CHARS "abcdefghijklmnopqrstuvwxyz0123456789" /* VALID_KEY_CHARS */
#define MODEL_BACKEND "django.contrib.auth.backends.ModelBackend"

/* Django's UnicodeUsernameValidator: ^[\w.@+-]+\Z, at most 150 characters
 * (non-ASCII bytes are let through as \w would take most of them). */
static int valid_username(const char *u)
{
    size_t n = strlen(u);
    if (n == 0 || n > 150 * 4)
        return 0;
    for (const unsigned char *p = (const unsigned char *) u; *p; p++)
        if (!(isalnum(*p) || strchr("_.@+-", *p) || *p >= 0x80))
            return 0;
    return 1;
}

/* BaseUserManager.normalize_email: lower-case the domain part only. */
static char *normalize_email(const char *email)
{
    char *out = strdup(email ? email : "");
    char *at = out ? strrchr(out, '@') : NULL;
    for (char *p = at; p && *p; p++)
        *p = (char) tolower((unsigned char) *p);
    return out;
}

static char *read_password_line(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    if (n < 0) {
        free(line);
        return NULL;
    }
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    return line;
}

static char *hash_password(const char *password)
{
    if (password && strcmp(password, "-") == 0) {
        char *line = read_password_line();
        char *hash = line ? cx_django_make_password(line) : NULL;
        if (line)
            explicit_bzero(line, strlen(line));
        free(line);
        if (!hash)
            fprintf(stderr, "chanx-admin: no password on stdin\n");
        return hash;
    }
    return cx_django_make_password(password); /* NULL: unusable "!..." */
}

int admin_cmd_createuser(PGconn *conn, const admin_args *args)
{
    if (!valid_username(args->username)) {
        fprintf(stderr, "chanx-admin: invalid username (letters, digits and @/./+/-/_ only, at most 150)\n");
        return ADMIN_USAGE;
    }
    char *hash = hash_password(args->password), *email = normalize_email(args->email);
    int staff = args->staff || args->superuser; /* as create_superuser */
    const char *params[] = { hash, args->superuser ? "true" : "false", args->username, email,
                             staff ? "true" : "false", args->inactive ? "false" : "true" };
    char state[6];
    PGresult *res = NULL;
    if (hash && email)
        res = admin_db_exec(conn, "createuser",
                            "INSERT INTO auth_user (password, last_login, is_superuser, username, first_name,"
                            " last_name, email, is_staff, is_active, date_joined)"
                            " VALUES ($1, NULL, $2, $3, '', '', $4, $5, $6, now()) RETURNING id",
                            6, params, state);
    if (res)
        printf("%s\n", PQgetvalue(res, 0, 0));
    else if (hash && email && strcmp(state, UNIQUE_VIOLATION) == 0)
        fprintf(stderr, "chanx-admin: a user named '%s' already exists\n", args->username);
    PQclear(res);
    free(hash);
    free(email);
    return res ? ADMIN_OK : ADMIN_ERROR;
}

/* DRF's Token.generate_key: binascii.hexlify(os.urandom(20)). */
static int drf_token_key(char out[41])
{
    return cx_django_random_string(out, 40, "0123456789abcdef");
}

int admin_cmd_token(PGconn *conn, const admin_args *args)
{
    admin_user user;
    int found = admin_find_user(conn, args->username, &user), rc = ADMIN_ERROR;
    if (found != 0)
        return ADMIN_ERROR;
    /* Two tries cover a key collision; the user's existing token wins. */
    for (int attempt = 0; attempt < 3 && rc != ADMIN_OK; attempt++) {
        char key[41];
        const char *ins[] = { key, user.id }, *sel[] = { user.id };
        if (drf_token_key(key) != 0)
            break;
        PGresult *res = admin_db_exec(conn, "token",
                                      "INSERT INTO authtoken_token (key, created, user_id)"
                                      " VALUES ($1, now(), $2) ON CONFLICT DO NOTHING",
                                      2, ins, NULL);
        PQclear(res);
        res = res ? admin_db_exec(conn, "token", "SELECT key FROM authtoken_token WHERE user_id = $1", 1, sel, NULL)
                  : NULL;
        if (res && PQntuples(res) == 1) {
            printf("%s\n", PQgetvalue(res, 0, 0));
            rc = ADMIN_OK;
        }
        PQclear(res);
        if (!res)
            break;
    }
    admin_user_clear(&user);
    return rc;
}

static const char *required_env(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    if ((!v || !*v) && fallback)
        v = getenv(fallback);
    if (!v || !*v)
        fprintf(stderr, "chanx-admin: set %s%s%s (the Django SECRET_KEY)\n", name, fallback ? " or " : "",
                fallback ? fallback : "");
    return v && *v ? v : NULL;
}

/* What django.contrib.auth.login() stores in the session. */
static char *login_session_data(const admin_user *user, const char *secret)
{
    char auth_hash[65];
    if (cx_django_session_auth_hash(user->password, secret, auth_hash, sizeof auth_hash) != 0)
        return NULL;
    json_t *dict = json_pack("{s:s, s:s, s:s}", "_auth_user_id", user->id, "_auth_user_backend", MODEL_BACKEND,
                             "_auth_user_hash", auth_hash);
    char *text = dict ? json_dumps(dict, JSON_COMPACT) : NULL;
    char *data = text ? cx_django_session_encode(text, secret) : NULL;
    json_decref(dict);
    free(text);
    return data;
}

static void warn_inactive(const admin_user *user, const char *what)
{
    if (!user->is_active)
        fprintf(stderr, "chanx-admin: warning: user is inactive, Django and the gateway will refuse this %s\n", what);
}

int admin_cmd_session(PGconn *conn, const admin_args *args)
{
    const char *secret = required_env("CHANX_DJANGO_SECRET_KEY", NULL);
    admin_user user;
    int rc = ADMIN_ERROR;
    if (!secret)
        return ADMIN_USAGE;
    if (admin_find_user(conn, args->username, &user) != 0)
        return ADMIN_ERROR;
    warn_inactive(&user, "session");
    char *data = login_session_data(&user, secret), expires[32], key[33], state[6] = "";
    snprintf(expires, sizeof expires, "%ld", args->expires_s > 0 ? args->expires_s : 1209600L);
    /* Retry only on a session key collision, as SessionStore.create does. */
    for (int attempt = 0; data && attempt < 3 && rc != ADMIN_OK; attempt++) {
        const char *params[] = { key, data, expires };
        if (cx_django_random_string(key, 32, SESSION_KEY_CHARS) != 0)
            break;
        PGresult *res = admin_db_exec(conn, "session",
                                      "INSERT INTO django_session (session_key, session_data, expire_date)"
                                      " VALUES ($1, $2, now() + $3::bigint * interval '1 second')",
                                      3, params, state);
        if (res) {
            printf("%s\n", key);
            rc = ADMIN_OK;
        }
        PQclear(res);
        if (!res && strcmp(state, UNIQUE_VIOLATION) != 0)
            break;
    }
    if (!data)
        fprintf(stderr, "chanx-admin: cannot encode the session\n");
    free(data);
    admin_user_clear(&user);
    return rc;
}

int admin_cmd_jwt(PGconn *conn, const admin_args *args)
{
    /* simplejwt's SIGNING_KEY defaults to SECRET_KEY. */
    const char *secret = required_env("CHANX_JWT_SECRET", "CHANX_DJANGO_SECRET_KEY");
    admin_user user;
    if (!secret)
        return ADMIN_USAGE;
    if (admin_find_user(conn, args->username, &user) != 0)
        return ADMIN_ERROR;
    warn_inactive(&user, "token");
    /* cx_django_jwt_issue, not gateway's cx_jwt_issue: chanx-admin links no gateway code.
     * The claim name follows the gateway's CHANX_JWT_USER_ID_CLAIM (USER_ID_CLAIM). */
    const char *claim = getenv("CHANX_JWT_USER_ID_CLAIM");
    char *token = cx_django_jwt_issue(secret, claim && *claim ? claim : "user_id", user.id, time(NULL),
                                      args->ttl_s > 0 ? args->ttl_s : 300);
    if (token)
        printf("%s\n", token);
    else
        fprintf(stderr, "chanx-admin: cannot issue a token\n");
    free(token);
    admin_user_clear(&user);
    return token ? ADMIN_OK : ADMIN_ERROR;
}
