/*
 * refresh.c — the authenticate action (see refresh.h). A cheap byte search
 * for the action's name comes first, so ordinary messages of a JWT consumer
 * are not parsed twice (the worker parses them for validation).
 */
#include "gateway/refresh.h"
#include "gateway/jwt.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACTION "authenticate"

cx_refresh_verdict cx_refresh_check(const cx_consumer_spec *spec, int64_t user_id, const void *data, size_t len,
                                    int64_t *expires_ms)
{
    if (!spec || !spec->accepts_jwt || !memmem(data, len, "\"" ACTION "\"", sizeof ACTION + 1))
        return CX_REFRESH_NOT_MINE;
    json_t *msg = json_loadb(data, len, 0, NULL);
    const char *action = json_string_value(json_object_get(msg, spec->action_key));
    if (!action || strcmp(action, ACTION) != 0) {
        json_decref(msg);
        return CX_REFRESH_NOT_MINE;
    }
    const char *token = json_string_value(json_object_get(json_object_get(msg, "payload"), "token"));
    cx_jwt_config cfg;
    cx_jwt_settings(&cfg);
    char user[32], why[96];
    long long exp = 0;
    cx_refresh_verdict verdict = CX_REFRESH_INVALID;
    if (token && cfg.secret[0]
        && cx_jwt_verify_exp(&cfg, token, time(NULL), user, sizeof user, &exp, why, sizeof why) == 0) {
        char *end = NULL;
        long long id = strtoll(user, &end, 10);
        verdict = user_id > 0 && *end == '\0' && id == user_id ? CX_REFRESH_OK : CX_REFRESH_OTHER_USER;
        if (exp > CX_JWT_FAR_FUTURE_S)
            exp = CX_JWT_FAR_FUTURE_S;
        *expires_ms = (exp + cfg.leeway_s) * 1000;
    }
    json_decref(msg);
    return verdict;
}
