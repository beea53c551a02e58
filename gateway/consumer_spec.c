/*
 * consumer_spec.c — compiling a consumer's edge spec (see consumer_spec.h).
 *
 * The SQL rewrite scans for $name outside quotes ('...', "...") and
 * replaces each distinct name with its position; $1-style parameters are
 * refused so that the only parameters are the documented names. Names are
 * identifiers: a URL kwarg, or user_id for the authenticated user's id.
 */
#include "gateway/consumer_spec.h"
#include "common/env.h"
#include "common/subprotocol.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int param_index(cx_spec_sql *out, const char *name, size_t len)
{
    for (size_t i = 0; i < out->nparams; i++)
        if (strlen(out->params[i]) == len && memcmp(out->params[i], name, len) == 0)
            return (int) i + 1;
    if (out->nparams == CX_SPEC_MAX_PARAMS)
        return -1;
    out->params[out->nparams] = strndup(name, len);
    return out->params[out->nparams] ? (int) ++out->nparams : -1;
}

int cx_spec_sql_compile(const char *sql, cx_spec_sql *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t len = strlen(sql);
    char *text = malloc(len * 2 + 16);   /* "$ab" → "$12" never grows past 2x */
    if (!text)
        return snprintf(err, errlen, "out of memory"), -1;
    size_t n = 0;
    char quote = 0;
    for (size_t i = 0; i < len;) {
        char c = sql[i];
        if (quote) {
            quote = c == quote ? 0 : quote;
            text[n++] = sql[i++];
        } else if (c == '\'' || c == '"') {
            quote = c;
            text[n++] = sql[i++];
        } else if (c == '$' && i + 1 < len && (isalpha((unsigned char) sql[i + 1]) || sql[i + 1] == '_')) {
            size_t start = ++i;
            while (i < len && (isalnum((unsigned char) sql[i]) || sql[i] == '_'))
                i++;
            int index = param_index(out, sql + start, i - start);
            if (index < 0) {
                free(text);
                cx_spec_sql_free(out);
                return snprintf(err, errlen, "more than %d parameters", CX_SPEC_MAX_PARAMS), -1;
            }
            n += (size_t) sprintf(text + n, "$%d", index);
        } else if (c == '$' && i + 1 < len && isdigit((unsigned char) sql[i + 1])) {
            free(text);
            cx_spec_sql_free(out);
            return snprintf(err, errlen, "use named parameters ($room_id, $user_id), not $%c", sql[i + 1]), -1;
        } else {
            text[n++] = sql[i++];
        }
    }
    text[n] = '\0';
    out->sql = text;
    return 0;
}

void cx_spec_sql_free(cx_spec_sql *sql)
{
    free(sql->sql);
    for (size_t i = 0; i < sql->nparams; i++)
        free(sql->params[i]);
    memset(sql, 0, sizeof *sql);
}

static void spec_free(cx_consumer_spec *self)
{
    for (size_t i = 0; i < self->nperms; i++)
        cx_permission_destroy(&self->perms[i]);
    cx_spec_sql_free(&self->queryset);
    cx_spec_sql_free(&self->object_permission);
    for (char **p = self->subprotocols; p && *p; p++)
        free(*p);
    free(self->subprotocols);
    for (size_t i = 0; i < self->npassthrough; i++)
        free(self->passthrough[i]);
    free(self->passthrough);
    free(self->action_key);
    for (size_t i = 0; i < self->nauth; i++) {
        free(self->auth_options[i].cookie);
        free(self->auth_options[i].header_types);
        free(self->auth_options[i].keyword);
    }
    free(self->target);
    free(self);
}

/* A copy of a mapped class's option, NULL when absent. */
static char *option(const json_t *item, const char *name)
{
    const char *value = json_string_value(json_object_get(item, name));
    return value && *value ? strdup(value) : NULL;
}

static int parse_auth(cx_consumer_spec *self, json_t *list, char *err, size_t errlen)
{
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        /* "jwt", or a mapped class {"class": "jwt", "cookie": ...} (workers/drf_defaults.c) */
        const char *name = json_string_value(json_is_object(item) ? json_object_get(item, "class") : item);
        if (self->nauth == CX_SPEC_MAX_AUTH || !name)
            return snprintf(err, errlen, "bad authentication list"), -1;
        if (strcmp(name, "token") == 0)
            self->auth[self->nauth] = CX_AUTH_TOKEN;
        else if (strcmp(name, "session") == 0)
            self->auth[self->nauth] = CX_AUTH_SESSION;
        else if (strcmp(name, "jwt") == 0)
            self->auth[self->nauth] = CX_AUTH_JWT;
        else
            return snprintf(err, errlen, "unknown authentication class '%s'", name), -1;
        self->auth_options[self->nauth++] = (cx_auth_options) { option(item, "cookie"), option(item, "header_types"),
                                                                option(item, "keyword") };
    }
    return 0;
}

static int parse_perms(cx_consumer_spec *self, json_t *list, char *err, size_t errlen)
{
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        if (self->nperms == CX_SPEC_MAX_PERMS || !json_is_string(item))
            return snprintf(err, errlen, "bad permission list"), -1;
        cx_permission *p = cx_permission_parse(json_string_value(item), err, errlen);
        if (!p)
            return -1;
        self->perms[self->nperms++] = p;
    }
    return 0;
}

static int parse_passthrough(cx_consumer_spec *self, json_t *list, char *err, size_t errlen)
{
    if (!list)
        return 0;
    if (!json_is_array(list) || !(self->passthrough = calloc(json_array_size(list) + 1, sizeof(char *))))
        return snprintf(err, errlen, "bad passthrough_events list"), -1;
    size_t i;
    json_t *item;
    json_array_foreach(list, i, item) {
        if (!json_is_string(item))
            return snprintf(err, errlen, "bad passthrough_events list"), -1;
        self->passthrough[self->npassthrough++] = strdup(json_string_value(item));
    }
    return 0;
}

static int parse_subprotocols(cx_consumer_spec *self, json_t *list, char *err, size_t errlen)
{
    size_t n = json_array_size(list);
    if (!n)
        return 0;
    self->subprotocols = calloc(n + 1, sizeof *self->subprotocols);
    if (!self->subprotocols)
        return snprintf(err, errlen, "out of memory"), -1;
    for (size_t i = 0; i < n; i++) {
        const char *name = json_string_value(json_array_get(list, i));
        if (!name || !cx_subprotocol_is_token(name, strlen(name)) || strlen(name) > 63)
            return snprintf(err, errlen, "bad subprotocol list"), -1;
        if (!(self->subprotocols[i] = strdup(name)))
            return snprintf(err, errlen, "out of memory"), -1;
    }
    return 0;
}

void cx_consumer_spec_credential_cookies(const cx_consumer_spec *self, const char **names, size_t *n, size_t cap)
{
    for (size_t i = 0; self && i < self->nauth && *n < cap; i++)
        if (self->auth_options[i].cookie)
            names[(*n)++] = self->auth_options[i].cookie;
}

int cx_consumer_spec_passes(const cx_consumer_spec *self, const char *action, size_t len)
{
    for (size_t i = 0; self && i < self->npassthrough; i++)
        if (self->passthrough[i] && strlen(self->passthrough[i]) == len && memcmp(self->passthrough[i], action, len) == 0)
            return 1;
    return 0;
}

/* The throttle rate (the consumer's, else CHANX_THROTTLE_RATE) and the action key the gateway's own
 * frames use (throttled errors, the authenticate action and its answer). */
static int parse_edge_settings(cx_consumer_spec *self, json_t *spec, char *err, size_t errlen)
{
    json_t *rate = json_object_get(spec, "throttle_rate");
    const char *action_key = json_string_value(json_object_get(spec, "action_key"));
    if (cx_rate_parse(rate ? json_string_value(rate) : cx_env_str("CHANX_THROTTLE_RATE", NULL), &self->throttle, err,
                      errlen) != 0)
        return -1;
    if (!(self->action_key = strdup(action_key ? action_key : "action")))
        return snprintf(err, errlen, "out of memory"), -1;
    for (size_t i = 0; i < self->nauth; i++)
        self->accepts_jwt |= self->auth[i] == CX_AUTH_JWT;
    return 0;
}

static int parse_sql(json_t *spec, const char *key, cx_spec_sql *out, char *err, size_t errlen)
{
    const char *sql = json_string_value(json_object_get(spec, key));
    return sql ? cx_spec_sql_compile(sql, out, err, errlen) : 0;
}

cx_consumer_spec *cx_consumer_spec_new(const char *target, const char *text, size_t len, char *err, size_t errlen)
{
    json_t *spec = json_loadb(text, len, JSON_ALLOW_NUL, NULL);   /* schemas may hold "\u0000" */
    cx_consumer_spec *self = calloc(1, sizeof *self);
    if (!self || !json_is_object(spec)) {
        snprintf(err, errlen, "consumer spec is not a JSON object");
        json_decref(spec);
        free(self);
        return NULL;
    }
    self->refs = 1;
    self->target = strdup(target);
    const char *method = json_string_value(json_object_get(spec, "auth_method"));
    self->safe_method = !method || !strcasecmp(method, "GET") || !strcasecmp(method, "HEAD")
                        || !strcasecmp(method, "OPTIONS");
    self->camelize = json_is_true(json_object_get(spec, "camelize"));
    self->has_permission = json_is_true(json_object_get(spec, "has_permission"));
    int rc = parse_auth(self, json_object_get(spec, "authentication"), err, errlen);
    rc = rc ? rc : parse_perms(self, json_object_get(spec, "permissions"), err, errlen);
    rc = rc ? rc : parse_sql(spec, "queryset", &self->queryset, err, errlen);
    rc = rc ? rc : parse_sql(spec, "object_permission", &self->object_permission, err, errlen);
    rc = rc ? rc : parse_subprotocols(self, json_object_get(spec, "subprotocols"), err, errlen);
    rc = rc ? rc : parse_passthrough(self, json_object_get(spec, "passthrough_events"), err, errlen);
    rc = rc ? rc : parse_edge_settings(self, spec, err, errlen);
    json_decref(spec);
    if (rc || !self->target) {
        spec_free(self);
        return NULL;
    }
    return self;
}

cx_consumer_spec *cx_consumer_spec_ref(cx_consumer_spec *self)
{
    __atomic_fetch_add(&self->refs, 1, __ATOMIC_RELAXED);
    return self;
}

void cx_consumer_spec_unref(cx_consumer_spec **self_p)
{
    if (!self_p || !*self_p)
        return;
    if (__atomic_sub_fetch(&(*self_p)->refs, 1, __ATOMIC_ACQ_REL) == 0)
        spec_free(*self_p);
    *self_p = NULL;
}
