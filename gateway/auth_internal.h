/*
 * auth_internal.h — the decision step of gateway/auth.c, run on a pool
 * thread with its own database connection (auth_decide.c).
 */
#ifndef CX_GATEWAY_AUTH_INTERNAL_H
#define CX_GATEWAY_AUTH_INTERNAL_H

#include <libpq-fe.h>
#include "gateway/auth.h"

/* Private copies of the credentials a request carries. */
typedef struct {
    char *authorization, *cookie, *origin, *host, *token_param, *jwt_param;
} cx_auth_request;

int cx_auth_request_init(cx_auth_request *req, const cx_credentials *cred);
void cx_auth_request_free(cx_auth_request *req);
void cx_auth_fail(cx_auth_result *result, int status, const char *detail);
/* Runs the whole decision; fills result (status 200 when allowed). */
void cx_auth_decide(PGconn *db, const cx_consumer_spec *spec, const cx_auth_request *req,
                    const json_t *kwargs, cx_auth_result *result);

#endif
