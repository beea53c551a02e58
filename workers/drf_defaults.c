/*
 * drf_defaults.c — the deployment's default authentication and permission
 * classes (see drf_defaults.h). Read at plugin load, where each consumer's
 * edge spec is built, so a bad entry refuses the plugin with a log line
 * naming the setting, as a bad list in the descriptor does.
 */
#include "workers/drf_defaults.h"
#include "chanx/consumer.h"
#include "common/env.h"
#include "common/permission.h"

#include <stdio.h>
#include <string.h>

static const struct { const char *drf, *chanx; } AUTH_CLASSES[] = {
    { "TokenAuthentication", CHANX_TOKEN_AUTH },
    { "SessionAuthentication", CHANX_SESSION_AUTH },
    { "JWTAuthentication", CHANX_JWT_AUTH },
};

static const char *auth_name(const char *entry)
{
    const char *last = strrchr(entry, '.');
    last = last ? last + 1 : entry;
    for (size_t i = 0; i < sizeof AUTH_CLASSES / sizeof AUTH_CLASSES[0]; i++)
        if (strcmp(entry, AUTH_CLASSES[i].chanx) == 0 || strcmp(last, AUTH_CLASSES[i].drf) == 0)
            return AUTH_CLASSES[i].chanx;
    return NULL;
}

/* Splits the setting on commas; each trimmed entry through map (which may reject it). */
static json_t *from_setting(const char *setting, const char *value, const char *(*map)(const char *, char *, size_t),
                            char *err, size_t errlen)
{
    json_t *out = json_array();
    char entry[256], mapped[256];
    for (const char *p = value; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t k = n;
        while (k && (p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        if (k) {
            snprintf(entry, sizeof entry, "%.*s", (int) k, p);
            const char *name = map(entry, mapped, sizeof mapped);
            if (!name) {
                snprintf(err, errlen, "%s: unknown class '%s'", setting, entry);
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, json_string(name));
        }
        p += n;
    }
    if (json_array_size(out) == 0) {
        snprintf(err, errlen, "%s is empty", setting);
        json_decref(out);
        return NULL;
    }
    return out;
}

static const char *map_auth(const char *entry, char *buf, size_t len)
{
    (void) buf, (void) len;
    return auth_name(entry);
}

/* "rest_framework.permissions.IsAdminUser" → "IsAdminUser"; expressions ("IsAuthenticated & ~IsAdminUser") as is. */
static const char *map_permission(const char *entry, char *buf, size_t len)
{
    const char *name = entry;
    if (!strpbrk(entry, " &|~()")) {
        const char *last = strrchr(entry, '.');
        name = last ? last + 1 : entry;
    }
    char why[160];
    cx_permission *p = cx_permission_parse(name, why, sizeof why);
    if (!p)
        return NULL;
    cx_permission_destroy(&p);
    snprintf(buf, len, "%s", name);
    return buf;
}

static json_t *declared_list(const char *const *declared)
{
    json_t *out = json_array();
    for (; *declared; declared++)
        json_array_append_new(out, json_string(*declared));
    return out;
}

json_t *cx_drf_authentication(const char *const *declared, char *err, size_t errlen)
{
    if (declared)
        return declared_list(declared);
    const char *value = cx_env_str("CHANX_DEFAULT_AUTHENTICATION_CLASSES", NULL);
    return value ? from_setting("CHANX_DEFAULT_AUTHENTICATION_CLASSES", value, map_auth, err, errlen)
                 : json_pack("[s]", CHANX_TOKEN_AUTH);
}

json_t *cx_drf_permissions(const char *const *declared, char *err, size_t errlen)
{
    if (declared)
        return declared_list(declared);
    const char *value = cx_env_str("CHANX_DEFAULT_PERMISSION_CLASSES", NULL);
    return value ? from_setting("CHANX_DEFAULT_PERMISSION_CLASSES", value, map_permission, err, errlen)
                 : json_pack("[s]", CHANX_IS_AUTHENTICATED);
}
