/*
 * auth_decide.c — DRF's authentication, permission and object checks,
 * against Django's own tables (see auth.c for the threading around it).
 *
 * Each authentication class returns one of three outcomes, as DRF's
 * authenticate() does: NONE (no credentials of its kind: try the next
 * class), USER (identified), or FAIL (credentials present but wrong: stop
 * with 401 and the class's message, 403 when the first class cannot
 * challenge). Sessions follow Django's middleware instead: whatever does
 * not verify (signature, expiry, the _auth_user_hash of the current
 * password) is simply anonymous.
 */
#include "gateway/auth_internal.h"
#include "common/env.h"
#include "common/log.h"
#include "common/django_signing.h"
#include "common/django_auth.h"
#include "common/pg_json.h"
#include "gateway/credentials.h"
#include "common/metrics.h"
#include "gateway/metrics.h"
#include "gateway/jwt.h"
#include "gateway/origin.h"
#include "gateway/prepared.h"
#include "gateway/user_model.h"
#include "proto/envelope.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NOT_AUTHENTICATED "Authentication credentials were not provided."
#define PERMISSION_DENIED "You do not have permission to perform this action."

typedef enum { CLASS_NONE, CLASS_USER, CLASS_FAIL } class_outcome;

/* The user's columns and table: Django's auth_user, or the site's AUTH_USER_MODEL (user_model.h). */
#define USER_COLUMNS cx_user_model_columns()
#define USER_TABLE cx_user_model_table()

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

int cx_auth_request_init(cx_auth_request *req, const cx_credentials *c)
{
    *req = (cx_auth_request) {
        dup_or_null(c->authorization), dup_or_null(c->cookie), dup_or_null(c->origin),
        dup_or_null(c->host), dup_or_null(c->token_param), dup_or_null(c->jwt_param),
    };
    return 0;
}

void cx_auth_request_free(cx_auth_request *req)
{
    free(req->authorization);
    free(req->cookie);
    free(req->origin);
    free(req->host);
    free(req->token_param);
    free(req->jwt_param);
}

void cx_auth_fail(cx_auth_result *r, int status, const char *detail)
{
    r->status = status;
    snprintf(r->detail, sizeof r->detail, "%s", detail);
}

/* ------------------------------------------------------------- lookups */

/* Runs sql with text params; returns the result when it has a row, NULL otherwise; *db_error on failure. */
static PGresult *query_row(PGconn *db, const char *sql, int n, const char *const *params, int *db_error)
{
    double started = cx_metrics_now();
    PGresult *res = cx_prepared_exec(db, sql, n, params);
    cx_gw_observe_query(cx_metrics_now() - started);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        /* The client only gets 500: the operator needs PostgreSQL's reason (a missing table or
         * column of the user model, a timeout), never the parameters (credentials). */
        const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        cx_warn("authentication query failed: SQLSTATE %s: %s", state ? state : "none",
                PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                                                : PQerrorMessage(db));
        *db_error = 1;
        PQclear(res);
        return NULL;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return NULL;
    }
    return res;
}

/* Fills the user from a row of USER_COLUMNS; returns 0 when the user is inactive. */
static int take_user(PGresult *res, cx_auth_result *r)
{
    int active = PQgetvalue(res, 0, 2)[0] == 't';
    r->user_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    snprintf(r->username, sizeof r->username, "%s", PQgetvalue(res, 0, 1));
    r->user_flags = CX_USER_AUTHENTICATED | (PQgetvalue(res, 0, 3)[0] == 't' ? CX_USER_STAFF : 0)
                    | (PQgetvalue(res, 0, 4)[0] == 't' ? CX_USER_SUPERUSER : 0);
    PQclear(res);
    if (!active)
        r->user_id = 0, r->user_flags = 0, r->username[0] = '\0';
    return active;
}

static PGresult *user_by_id(PGconn *db, const char *id, int *db_error)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s u WHERE u.id = $1::integer", USER_COLUMNS, USER_TABLE);
    for (const char *p = id; *p; p++)
        if (!isdigit((unsigned char) *p))
            return NULL;
    return *id ? query_row(db, sql, 1, &id, db_error) : NULL;
}

/* ------------------------------------------------------------- classes */

static class_outcome token_class(PGconn *db, const cx_auth_request *req, const cx_auth_options *o, cx_auth_result *r,
                                 int *db_error)
{
    char buf[128];
    int malformed = 0;
    const char *key = cx_header_credential(req->authorization, o->keyword ? o->keyword : "Token", buf, sizeof buf,
                                           &malformed);
    if (malformed == 1)
        return cx_auth_fail(r, 401, "Invalid token header. No credentials provided."), CLASS_FAIL;
    if (malformed)   /* spaces; or too long to be any key */
        return cx_auth_fail(r, 401, malformed == 2 ? "Invalid token header. Token string should not contain spaces."
                                                   : "Invalid token."), CLASS_FAIL;
    if (!key)
        key = req->token_param;
    if (!key)
        return CLASS_NONE;
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT %s FROM authtoken_token t JOIN %s u ON u.id = t.user_id "
                              "WHERE t.key = $1", USER_COLUMNS, USER_TABLE);
    PGresult *res = query_row(db, sql, 1, &key, db_error);
    if (!res)
        return *db_error ? CLASS_FAIL : (cx_auth_fail(r, 401, "Invalid token."), CLASS_FAIL);
    if (!take_user(res, r))
        return cx_auth_fail(r, 401, "User inactive or deleted."), CLASS_FAIL;
    snprintf(r->credential, sizeof r->credential, "%s", key);   /* revalidated while connected */
    return CLASS_USER;
}

/* Django's SECRET_KEY, then its SECRET_KEY_FALLBACKS (Django 4.1+, comma-separated here): keys[]
 * point into buf. Returns how many; 0 without a key. */
#define MAX_SECRET_KEYS 8
static int secret_keys(const char *keys[MAX_SECRET_KEYS], char *buf, size_t len)
{
    const char *secret = cx_env_str("CHANX_DJANGO_SECRET_KEY", NULL);
    if (!secret)
        return 0;
    snprintf(buf, len, "%s", cx_env_str("CHANX_DJANGO_SECRET_KEY_FALLBACKS", ""));
    int n = 0;
    keys[n++] = secret;
    for (char *save = NULL, *k = strtok_r(buf, ", ", &save); k && n < MAX_SECRET_KEYS; k = strtok_r(NULL, ", ", &save))
        keys[n++] = k;
    return n;
}

/* django.contrib.auth.get_user: with the secret key, the session must carry the HMAC of the user's
 * current password hash, so that changing the password logs every other session out. During a key
 * rotation a hash made with a fallback key still verifies (Django 4.1.8+: get_session_auth_fallback_hash). */
static int session_hash_ok(const char *session_data, const char *signed_with, const char *const *keys, int nkeys,
                           PGresult *user)
{
    char hash[80], why[96];
    if (!nkeys)
        return 1;   /* no key: the row is trusted as the database's own state */
    if (cx_django_session_field(session_data, signed_with, "_auth_user_hash", hash, sizeof hash, why, sizeof why) != 0)
        return 0;
    for (int i = 0; i < nkeys; i++)
        if (cx_django_session_auth_hash_ok(hash, PQgetvalue(user, 0, 5), keys[i]))
            return 1;
    return 0;
}

/* Django's SessionMiddleware treats a missing, expired or undecodable session as anonymous, and
 * get_user treats a session whose user is gone or whose password changed the same way. A session
 * signed with SECRET_KEY or one of SECRET_KEY_FALLBACKS decodes, as signing.loads does. */
static class_outcome session_class(PGconn *db, const cx_auth_request *req, cx_auth_result *r, int *db_error)
{
    char sid[128], user_id[32], why[96], sql[512], keybuf[2048];
    const char *keys[MAX_SECRET_KEYS], *signed_with = NULL, *id = user_id;
    int nkeys = secret_keys(keys, keybuf, sizeof keybuf);
    const char *key = cx_cookie_value(req->cookie, cx_env_str("CHANX_SESSION_COOKIE_NAME", "sessionid"), sid, sizeof sid);
    if (!key)
        return CLASS_NONE;
    PGresult *res = query_row(db, "SELECT session_data FROM django_session WHERE session_key = $1 "
                                  "AND expire_date > now()", 1, &key, db_error);
    if (!res)
        return CLASS_NONE;
    char *data = strdup(PQgetvalue(res, 0, 0));
    PQclear(res);
    int decoded = 0;
    for (int i = 0; data && !decoded && i < (nkeys ? nkeys : 1); i++) {
        signed_with = nkeys ? keys[i] : NULL;
        decoded = cx_django_session_user_id(data, signed_with, user_id, sizeof user_id, why, sizeof why) == 0;
    }
    for (const char *p = user_id; decoded && *p; p++)
        decoded = isdigit((unsigned char) *p);
    snprintf(sql, sizeof sql, "SELECT %s, u.password FROM %s u WHERE u.id = $1::integer", USER_COLUMNS, USER_TABLE);
    res = decoded && *user_id ? query_row(db, sql, 1, &id, db_error) : NULL;
    int ok = res && session_hash_ok(data, signed_with, keys, nkeys, res);
    free(data);
    explicit_bzero(keybuf, sizeof keybuf);
    if (!ok) {
        PQclear(res);
        return CLASS_NONE;
    }
    if (!take_user(res, r))
        return CLASS_NONE;
    snprintf(r->credential, sizeof r->credential, "%s", key);   /* revalidated while connected */
    if (!cx_origin_allowed(req->origin, req->host, cx_env_str("CHANX_ALLOWED_ORIGINS", NULL))) {
        r->user_id = 0, r->user_flags = 0;
        return cx_auth_fail(r, 403, "Origin not allowed."), CLASS_FAIL;
    }
    return CLASS_USER;
}

/* simplejwt's AUTH_HEADER_TYPES (a mapped class's, else CHANX_JWT_AUTH_HEADER_TYPES, comma-separated;
 * default Bearer): the type the Authorization header uses, copied into buf, or NULL when it uses none. */
static const char *jwt_header_type(const char *header, const cx_auth_options *o, char *buf, size_t len)
{
    const char *list = o->header_types ? o->header_types : cx_env_str("CHANX_JWT_AUTH_HEADER_TYPES", "Bearer");
    size_t word = header ? strcspn(header, " \t") : 0;
    for (const char *p = list; header && *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n && n == word && n < len && strncmp(p, header, n) == 0) {   /* simplejwt compares bytes exactly */
            memcpy(buf, p, n);
            buf[n] = '\0';
            return buf;
        }
        p += n;
    }
    return NULL;
}

static class_outcome jwt_class(PGconn *db, const cx_auth_request *req, const cx_auth_options *o, cx_auth_result *r,
                               int *db_error)
{
    char buf[4096], cookie[4096], user_id[32], why[96];
    int malformed = 0;
    char type[64];
    const char *scheme = jwt_header_type(req->authorization, o, type, sizeof type);
    const char *token = scheme ? cx_header_credential(req->authorization, scheme, buf, sizeof buf, &malformed) : NULL;
    if (malformed)
        return cx_auth_fail(r, 401, malformed == 3 ? "Given token not valid for any token type"
                                                   : "Authorization header must contain two space-delimited values"),
               CLASS_FAIL;
    if (!token)
        token = req->jwt_param;
    int from_cookie = 0;
    const char *jwt_cookie = o->cookie ? o->cookie : cx_env_str("CHANX_JWT_COOKIE", NULL);
    if (!token && jwt_cookie)
        from_cookie = (token = cx_cookie_value(req->cookie, jwt_cookie, cookie, sizeof cookie)) != NULL;
    if (!token)
        return CLASS_NONE;
    /* A browser sends cookies to any page's WebSocket: the same hijacking guard as sessions. */
    if (from_cookie && !cx_origin_allowed(req->origin, req->host, cx_env_str("CHANX_ALLOWED_ORIGINS", NULL)))
        return cx_auth_fail(r, 403, "Origin not allowed."), CLASS_FAIL;
    cx_jwt_config cfg;
    cx_jwt_settings(&cfg);
    long long exp = 0;
    if (!cfg.secret[0] || cx_jwt_verify_exp(&cfg, token, time(NULL), user_id, sizeof user_id, &exp, why, sizeof why) != 0)
        return cx_auth_fail(r, 401, "Given token not valid for any token type"), CLASS_FAIL;
    if (exp > CX_JWT_FAR_FUTURE_S)
        exp = CX_JWT_FAR_FUTURE_S;   /* a saturated exp (1e103) must not overflow milliseconds */
    r->expires_ms = (exp + cfg.leeway_s) * 1000;   /* PyJWT accepts it until exp + leeway */
    PGresult *res = user_by_id(db, user_id, db_error);
    if (!res)
        return *db_error ? CLASS_FAIL : (cx_auth_fail(r, 401, "User not found"), CLASS_FAIL);
    if (!take_user(res, r))
        return cx_auth_fail(r, 401, "User is inactive"), CLASS_FAIL;
    return CLASS_USER;
}

/* ------------------------------------------------------------- objects */

/* The queryset's first row, typed as chanx_db_query types rows (common/pg_json.h). */
static char *row_json(PGresult *res)
{
    json_t *obj = cx_pg_row_json(res, 0);
    char *text = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    return text;
}

/* Runs a consumer's SQL with its named parameters bound from the kwargs and the user. */
static PGresult *run_spec_sql(PGconn *db, const cx_spec_sql *sql, const json_t *kwargs, int64_t user_id, int *db_error)
{
    char texts[CX_SPEC_MAX_PARAMS][32];
    const char *params[CX_SPEC_MAX_PARAMS];
    for (size_t i = 0; i < sql->nparams; i++) {
        json_t *v = json_object_get(kwargs, sql->params[i]);
        params[i] = NULL;
        if (strcmp(sql->params[i], "user_id") == 0 && !v) {
            snprintf(texts[i], sizeof texts[i], "%lld", (long long) user_id);
            params[i] = user_id ? texts[i] : NULL;
        } else if (json_is_string(v)) {
            params[i] = json_string_value(v);
        } else if (json_is_integer(v)) {
            snprintf(texts[i], sizeof texts[i], "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            params[i] = texts[i];
        }
    }
    return query_row(db, sql->sql, (int) sql->nparams, params, db_error);
}

/* DRF's get_object (404) and check_object_permissions (403). A consumer with has_permission runs it
 * in the worker, and DRF checks permissions before it looks the object up: there the verdict rides
 * on CONNECT (CX_USER_OBJECT_*) and the worker applies it once has_permission has allowed, so an
 * outsider gets the consumer's own refusal and never learns which objects exist. */
static void check_object(PGconn *db, const cx_consumer_spec *spec, const json_t *kwargs, cx_auth_result *r,
                         int *db_error)
{
    if (spec->queryset.sql) {
        PGresult *res = run_spec_sql(db, &spec->queryset, kwargs, r->user_id, db_error);
        if (!res) {
            if (spec->has_permission && !*db_error)
                r->user_flags |= CX_USER_OBJECT_NOT_FOUND;
            else
                cx_auth_fail(r, 404, "Not found.");
            return;
        }
        r->obj = row_json(res);
        PQclear(res);
    }
    if (spec->object_permission.sql) {
        PGresult *res = run_spec_sql(db, &spec->object_permission, kwargs, r->user_id, db_error);
        if (!res && spec->has_permission && !*db_error)
            r->user_flags |= CX_USER_OBJECT_DENIED;
        else if (!res)
            cx_auth_fail(r, 403, PERMISSION_DENIED);
        PQclear(res);
    }
}

void cx_auth_decide(PGconn *db, const cx_consumer_spec *spec, const cx_auth_request *req, const json_t *kwargs,
                    cx_auth_result *r)
{
    int db_error = 0;
    class_outcome outcome = CLASS_NONE;
    r->status = 200;
    for (size_t i = 0; i < spec->nauth && outcome == CLASS_NONE && !db_error; i++) {
        uint32_t class_flag;
        if (spec->auth[i] == CX_AUTH_TOKEN)
            outcome = token_class(db, req, &spec->auth_options[i], r, &db_error), class_flag = CX_USER_AUTH_TOKEN;
        else if (spec->auth[i] == CX_AUTH_SESSION)
            outcome = session_class(db, req, r, &db_error), class_flag = CX_USER_AUTH_SESSION;
        else
            outcome = jwt_class(db, req, &spec->auth_options[i], r, &db_error), class_flag = CX_USER_AUTH_JWT;
        if (outcome != CLASS_NONE)
            r->decided_by = 1 + (int) spec->auth[i];
        if (outcome == CLASS_USER)
            r->user_flags |= class_flag;   /* the consumer learns how (chanx_auth_class), never with what */
    }
    /* DRF's handle_exception: without a first class that can challenge (WWW-Authenticate), 401 becomes 403 */
    int challenge = spec->nauth > 0 && spec->auth[0] != CX_AUTH_SESSION;
    if (outcome == CLASS_FAIL && r->status == 401 && !challenge)
        r->status = 403;
    if (!db_error && outcome != CLASS_FAIL) {
        cx_permission_subject subject = { (r->user_flags & CX_USER_AUTHENTICATED) != 0,
                                          (r->user_flags & CX_USER_STAFF) != 0,
                                          (r->user_flags & CX_USER_SUPERUSER) != 0, spec->safe_method };
        for (size_t i = 0; i < spec->nperms && r->status == 200; i++) {
            if (cx_permission_allows(spec->perms[i], &subject))
                continue;
            /* DRF: an anonymous request is "not authenticated"; 401 only when the first class can challenge. */
            if (!subject.is_authenticated)
                cx_auth_fail(r, challenge ? 401 : 403, NOT_AUTHENTICATED);
            else
                cx_auth_fail(r, 403, PERMISSION_DENIED);
        }
        if (r->status == 200)
            check_object(db, spec, kwargs, r, &db_error);
    }
    if (db_error) {
        cx_auth_fail(r, 500, "Internal server error");
        free(r->obj);
        r->obj = NULL;
    }
}
