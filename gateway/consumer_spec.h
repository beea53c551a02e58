/*
 * consumer_spec.h — what the gateway enforces for one consumer.
 *
 * Workers publish each consumer's edge spec as JSON in the route table
 * (authentication classes, permission expressions, queryset and object
 * permission SQL, auth_method, the throttle rate). The gateway compiles it once per table
 * update: permissions parsed, and the SQL's named parameters ($room_id,
 * $user_id) rewritten to libpq's positional $1, $2 with the list of names,
 * so that values only ever travel as parameters, never inside the SQL text.
 * Specs are refcounted because an authentication request in flight may
 * outlive a route table update.
 */
#ifndef CX_GATEWAY_CONSUMER_SPEC_H
#define CX_GATEWAY_CONSUMER_SPEC_H

#include <stddef.h>
#include "common/permission.h"
#include "common/rate.h"

#define CX_SPEC_MAX_AUTH 4
#define CX_SPEC_MAX_PERMS 8
#define CX_SPEC_MAX_PARAMS 16

typedef enum { CX_AUTH_TOKEN, CX_AUTH_SESSION, CX_AUTH_JWT } cx_auth_class;

/* A site's own class mapped onto one of ours (CHANX_AUTHENTICATION_CLASS_MAP on the worker): what it
 * reads differently. NULL: the deployment's setting (CHANX_JWT_COOKIE, CHANX_JWT_AUTH_HEADER_TYPES,
 * DRF's "Token"). */
typedef struct {
    char *cookie;         /* jwt: the access token's cookie */
    char *header_types;   /* jwt: simplejwt's AUTH_HEADER_TYPES, comma-separated */
    char *keyword;        /* token: TokenAuthentication.keyword */
} cx_auth_options;

typedef struct {
    char *sql;                           /* with $1..$n */
    char *params[CX_SPEC_MAX_PARAMS];    /* URL kwarg names, or "user_id" */
    size_t nparams;
} cx_spec_sql;

typedef struct cx_consumer_spec {
    int refs;
    char *target;
    cx_auth_class auth[CX_SPEC_MAX_AUTH];
    cx_auth_options auth_options[CX_SPEC_MAX_AUTH];
    size_t nauth;
    cx_permission *perms[CX_SPEC_MAX_PERMS];
    size_t nperms;
    int safe_method;
    int camelize;                        /* CHANX_CAMELIZE: the gateway's refusals in camelCase too */
    int has_permission;                  /* the worker runs has_permission: object verdicts wait for it */
    cx_spec_sql queryset, object_permission;   /* sql NULL when absent */
    char **subprotocols;                       /* NULL-terminated, or NULL when the consumer declares none */
    char **passthrough;                  /* actions of server-side events sent to clients as they are */
    size_t npassthrough;
    cx_rate throttle;                    /* .throttle_rate, else CHANX_THROTTLE_RATE (throttle.h) */
    char *action_key;                    /* .action_key: where the authenticate action is named (refresh.h) */
    int accepts_jwt;                     /* JWT among the classes: the authenticate action refreshes */
} cx_consumer_spec;

/* NULL with err on a spec the gateway cannot enforce (then the route is refused with 500). */
cx_consumer_spec *cx_consumer_spec_new(const char *target, const char *json, size_t len, char *err, size_t errlen);
cx_consumer_spec *cx_consumer_spec_ref(cx_consumer_spec *self);
void cx_consumer_spec_unref(cx_consumer_spec **self_p);
/* Adds the cookie names the consumer's classes read credentials from, beyond the deployment's
 * (CHANX_SESSION_COOKIE_NAME, CHANX_JWT_COOKIE), to names[*n..cap). */
void cx_consumer_spec_credential_cookies(const cx_consumer_spec *self, const char **names, size_t *n, size_t cap);
/* Whether the consumer passes events with this action through to its clients (.passthrough_events). */
int cx_consumer_spec_passes(const cx_consumer_spec *self, const char *action, size_t len);
/* Rewrites named parameters to positional ones (exposed for tests). */
int cx_spec_sql_compile(const char *sql, cx_spec_sql *out, char *err, size_t errlen);
void cx_spec_sql_free(cx_spec_sql *sql);

#endif
