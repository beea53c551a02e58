/*
 * drf_defaults.c — the deployment's default authentication and permission
 * classes (see drf_defaults.h). Read at plugin load, where each consumer's
 * edge spec is built, so a bad entry refuses the plugin with a log line
 * naming the setting, as a bad list in the descriptor does.
 *
 * A site's own authentication classes (auth_kit's JWTCookieAuthentication, a
 * TokenAuthentication subclass whose keyword is "Bearer") are one of the
 * three DRF does with another cookie or header word. CHANX_AUTHENTICATION_
 * CLASS_MAP names them: "<class path>=<token|session|jwt> [option=value]...",
 * entries separated by ';'. Options: jwt takes cookie= (the access token's
 * cookie) and header_types= (simplejwt's AUTH_HEADER_TYPES, comma-separated),
 * token takes keyword= (TokenAuthentication.keyword). A mapped class goes into
 * the edge spec as {"class": ..., options...}; the gateway applies the options
 * to that entry only. A dotted path that is neither DRF's nor mapped is an
 * error, not guessed from its last component: a subclass named
 * TokenAuthentication may well read another header.
 */
#include "workers/drf_defaults.h"
#include "chanx/consumer.h"
#include "common/env.h"
#include "common/permission.h"

#include <stdio.h>
#include <string.h>

static const struct { const char *path, *chanx; } AUTH_CLASSES[] = {
    { "rest_framework.authentication.TokenAuthentication", CHANX_TOKEN_AUTH },
    { "rest_framework.authentication.SessionAuthentication", CHANX_SESSION_AUTH },
    { "rest_framework_simplejwt.authentication.JWTAuthentication", CHANX_JWT_AUTH },
};
#define N_AUTH_CLASSES (sizeof AUTH_CLASSES / sizeof AUTH_CLASSES[0])

/* Chanx's name ("token"), DRF's path, or the bare class name ("TokenAuthentication"). */
static const char *auth_name(const char *entry)
{
    for (size_t i = 0; i < N_AUTH_CLASSES; i++) {
        const char *bare = strrchr(AUTH_CLASSES[i].path, '.') + 1;
        if (!strcmp(entry, AUTH_CLASSES[i].chanx) || !strcmp(entry, AUTH_CLASSES[i].path) || !strcmp(entry, bare))
            return AUTH_CLASSES[i].chanx;
    }
    return NULL;
}

/* One "option=value" of a mapped class into spec; 0, or -1 when the class takes no such option. */
static int map_option(json_t *spec, const char *chanx, const char *option, size_t len)
{
    static const struct { const char *chanx, *name; } OPTIONS[] = {
        { CHANX_JWT_AUTH, "cookie" }, { CHANX_JWT_AUTH, "header_types" }, { CHANX_TOKEN_AUTH, "keyword" },
    };
    const char *eq = memchr(option, '=', len);
    for (size_t i = 0; eq && eq + 1 < option + len && i < sizeof OPTIONS / sizeof OPTIONS[0]; i++)
        if (!strcmp(chanx, OPTIONS[i].chanx) && strlen(OPTIONS[i].name) == (size_t) (eq - option)
            && !strncmp(option, OPTIONS[i].name, (size_t) (eq - option))) {
            json_object_set_new(spec, OPTIONS[i].name, json_stringn(eq + 1, (size_t) (option + len - eq - 1)));
            return 0;
        }
    return -1;
}

/* The CHANX_AUTHENTICATION_CLASS_MAP entry for path: {"class": ..., options} (new reference), or
 * NULL with err when there is none or it is malformed. */
static json_t *mapped_class(const char *path, char *err, size_t errlen)
{
    const char *map = cx_env_str("CHANX_AUTHENTICATION_CLASS_MAP", "");
    size_t plen = strlen(path);
    for (const char *p = map; *p; p += *p == ';') {
        p += strspn(p, " \t;");
        size_t n = strcspn(p, ";");
        const char *entry = p, *end = p + n;
        p = end;
        if (n <= plen || strncmp(entry, path, plen) != 0 || entry[plen] != '=')
            continue;
        const char *word = entry + plen + 1;
        size_t wlen = strcspn(word, " \t;");
        char chanx[16];
        snprintf(chanx, sizeof chanx, "%.*s", (int) wlen, word);
        const char *name = auth_name(chanx);
        if (!name || strcmp(name, chanx) != 0) {
            snprintf(err, errlen, "CHANX_AUTHENTICATION_CLASS_MAP: %s: '%s' is not token, session or jwt", path, chanx);
            return NULL;
        }
        json_t *spec = json_pack("{s:s}", "class", name);
        for (const char *o = word + wlen; o < end;) {
            o += strspn(o, " \t");
            size_t olen = strcspn(o, " \t;");
            if (olen && map_option(spec, name, o, olen) != 0) {
                snprintf(err, errlen, "CHANX_AUTHENTICATION_CLASS_MAP: %s: '%.*s' is no option of %s (jwt: cookie=, "
                         "header_types=; token: keyword=)", path, (int) olen, o, name);
                json_decref(spec);
                return NULL;
            }
            o += olen;
        }
        return spec;
    }
    snprintf(err, errlen, "CHANX_DEFAULT_AUTHENTICATION_CLASSES: unknown class '%s' (DRF's and simplejwt's paths are "
             "known; map a site's own class with CHANX_AUTHENTICATION_CLASS_MAP)", path);
    return NULL;
}

/* Splits the setting on commas; each trimmed entry through map (which may reject it). */
static json_t *from_setting(const char *setting, const char *value, json_t *(*map)(const char *, char *, size_t),
                            char *err, size_t errlen)
{
    json_t *out = json_array();
    char entry[256];
    err[0] = '\0';
    for (const char *p = value; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        size_t k = n;
        while (k && (p[k - 1] == ' ' || p[k - 1] == '\t'))
            k--;
        if (k) {
            snprintf(entry, sizeof entry, "%.*s", (int) k, p);
            json_t *name = map(entry, err, errlen);
            if (!name) {
                if (!err[0])
                    snprintf(err, errlen, "%s: unknown class '%s'", setting, entry);
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, name);
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

/* A known class as its Chanx name; a mapped one as {"class": ..., options}. */
static json_t *map_auth(const char *entry, char *err, size_t errlen)
{
    const char *name = auth_name(entry);
    return name ? json_string(name) : mapped_class(entry, err, errlen);
}

/* "rest_framework.permissions.IsAdminUser" → "IsAdminUser"; expressions ("IsAuthenticated & ~IsAdminUser") as is. */
static json_t *map_permission(const char *entry, char *err, size_t errlen)
{
    (void) err, (void) errlen;
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
    return json_string(name);
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
