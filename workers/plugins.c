/*
 * plugins.c — dlopen, registration and validation of consumer plugins.
 *
 * Registration happens inside dlopen: each CHANX_CONSUMER's constructor calls
 * chanx_register_consumer(), which appends to the list of the plugin being
 * loaded (a worker loads one plugin at a time, on its only thread). After
 * dlopen returns, each registered consumer is validated and compiled; the
 * first error refuses the plugin.
 *
 * The plugin ABI (include/chanx/consumer.h, "Compatibility"): a registration
 * carries the API level and the descriptor size the plugin was compiled
 * with; the worker checks the level against the range it speaks and keeps
 * its own full-size copy of the descriptor, so every later read of a field
 * is in bounds whatever header the plugin was built against.
 *
 * A plugin is opened from a private copy of its file. dlopen returns the
 * already-loaded object for a path it has seen, so loading a replaced .so
 * by its original name would silently keep the old code; a copy per load
 * gives every version its own object and lets old and new run side by side
 * while connections on the old one finish. The copy is private to the
 * worker and gone once mapped (plugin_copy.c: a root worker must never load
 * or write a file another user can reach).
 */
#include "workers/plugins.h"
#include "common/env.h"
#include "common/file_digest.h"
#include "common/rate.h"
#include "common/permission.h"
#include "common/subprotocol.h"
#include "workers/api_names.h"
#include "workers/drf_defaults.h"
#include "workers/plugin_copy.h"

#include "workers/crash_report.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONSUMERS 64

struct cx_plugin {
    char *name;
    char *file;                        /* the deployed path, for crash reports */
    void *handle;
    cx_consumer_entry consumers[MAX_CONSUMERS];
    size_t nconsumers;
    int refs;
};

/* Versions not to load (cx_plugin_quarantine), by the digest of their bytes. */
#define MAX_QUARANTINED 16
static char quarantined[MAX_QUARANTINED][CX_FILE_DIGEST_HEX];
static size_t nquarantined;

void cx_plugin_quarantine(const char *digest)
{
    if (nquarantined < MAX_QUARANTINED && strlen(digest) == CX_FILE_DIGEST_HEX - 1)
        snprintf(quarantined[nquarantined++], CX_FILE_DIGEST_HEX, "%s", digest);
}

/* Whether the bytes at path (the private copy about to be loaded) are a quarantined version. */
static int is_quarantined(const char *path)
{
    char digest[CX_FILE_DIGEST_HEX];
    if (nquarantined == 0 || cx_file_digest(path, digest) != 0)
        return 0;
    for (size_t i = 0; i < nquarantined; i++)
        if (strcmp(quarantined[i], digest) == 0)
            return 1;
    return 0;
}

/* The plugin being loaded, and what went wrong during its constructors. */
static cx_plugin *loading;
static char loading_error[256];

/* sizeof(chanx_consumer) at API 1: every field up to log_ignored_actions. API 1 plugins register
 * without a size (chanx_register_consumer), so this is what they have; frozen forever. */
#define API1_DESCRIPTOR_SIZE (offsetof(chanx_consumer, log_ignored_actions) + sizeof(const char *const *))

/* sizeof(chanx_consumer) at API 2: every field up to throttle_rate (API 3 appended .topics). */
#define API2_DESCRIPTOR_SIZE offsetof(chanx_consumer, topics)

/* The largest descriptor a plugin of this level can have: a bigger one was built against a header
 * with fields this level never had. */
static size_t level_max_size(int api_version)
{
    return api_version == 1 ? API1_DESCRIPTOR_SIZE : api_version == 2 ? API2_DESCRIPTOR_SIZE : sizeof(chanx_consumer);
}

size_t cx_plugin_api1_descriptor_size(void)
{
    return API1_DESCRIPTOR_SIZE;
}

size_t cx_plugin_api2_descriptor_size(void)
{
    return API2_DESCRIPTOR_SIZE;
}

/* Both registrations end here. The worker keeps its own zeroed descriptor and copies only the
 * bytes the plugin declared: fields appended after the plugin's API level take their defaults
 * (zero), and nothing past the plugin's object is ever read. */
static void register_consumer(int api_version, size_t size, const char *name, const chanx_consumer *consumer)
{
    if (!loading || loading_error[0])
        return;
    if (api_version < CHANX_API_OLDEST || api_version > CHANX_API_VERSION) {
        snprintf(loading_error, sizeof loading_error, "built for plugin API %d, this worker speaks %d..%d",
                 api_version, CHANX_API_OLDEST, CHANX_API_VERSION);
        return;
    }
    if (size < API1_DESCRIPTOR_SIZE || size > level_max_size(api_version)) {
        snprintf(loading_error, sizeof loading_error,
                 "consumer '%s' declares a descriptor of %zu bytes for plugin API %d, this worker reads "
                 "%zu..%zu: rebuild it against this worker's <chanx/consumer.h>",
                 name, size, api_version, (size_t) API1_DESCRIPTOR_SIZE, level_max_size(api_version));
        return;
    }
    if (loading->nconsumers == MAX_CONSUMERS) {
        snprintf(loading_error, sizeof loading_error, "more than %d consumers", MAX_CONSUMERS);
        return;
    }
    chanx_consumer *copy = calloc(1, sizeof *copy);
    if (!copy) {
        snprintf(loading_error, sizeof loading_error, "out of memory");
        return;
    }
    memcpy(copy, consumer, size);
    cx_consumer_entry *e = &loading->consumers[loading->nconsumers++];
    e->desc = copy;
    e->api_version = api_version;
    e->plugin = loading;
    if (asprintf(&e->name, "%s.%s", loading->name, name) < 0)
        e->name = NULL;
    e->short_name = e->name ? e->name + strlen(loading->name) + 1 : name;
}

void chanx_register_consumer_sized(int api_version, size_t descriptor_size, const char *name,
                                   const chanx_consumer *consumer)
{
    register_consumer(api_version, descriptor_size, name, consumer);
}

void chanx_register_consumer(int api_version, const char *name, const chanx_consumer *consumer)
{
    register_consumer(api_version, API1_DESCRIPTOR_SIZE, name, consumer);
}

/* dlopen's "undefined symbol: chanx_foo", said in the plugin author's terms. */
/* dlopen's reason, said plainly: an undefined chanx_* name is not in the plugin API this worker
 * speaks. One or two edits from a real name it is a typo, and the real name is given; otherwise it is
 * a typo or a function of a newer level, which no name here can tell apart (the plugin's own level is
 * only known once its constructors run, which dlopen refused to do). */
static void explain_dlerror(const char *name, const char *why, char *err, size_t errlen)
{
    const char *sym = strstr(why, "undefined symbol: ");
    if (!sym) {
        snprintf(err, errlen, "plugin %s: %s", name, why);
        return;
    }
    sym += strlen("undefined symbol: ");
    int len = (int) strcspn(sym, " ,(");
    if (strncmp(sym, "chanx_", 6) != 0) {
        snprintf(err, errlen, "plugin %s: it calls %.*s, which is neither in the plugin API (chanx_*) nor "
                 "in a library it links (undefined symbol: %s)", name, len, sym, sym);
        return;
    }
    const char *meant = cx_api_name_nearest(sym, (size_t) len);
    if (meant)
        snprintf(err, errlen, "plugin %s: undefined symbol %.*s: not in the plugin API (a typo?) Did you mean %s? "
                 "(build with -Wall -Werror to catch it at compile time)", name, len, sym, meant);
    else
        snprintf(err, errlen, "plugin %s: undefined symbol %.*s: not in the plugin API (a typo?); this worker "
                 "speaks plugin API %d..%d, and a newer level's function is missing the same way",
                 name, len, sym, CHANX_API_OLDEST, CHANX_API_VERSION);
}

int cx_plugin_name_of(const char *path, char *out, size_t outlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strncmp(base, "lib", 3) == 0 && strlen(base) > 6)
        base += 3;
    size_t n = strlen(base);
    if (n < 4 || strcmp(base + n - 3, ".so") != 0 || n - 3 >= outlen)
        return -1;
    memcpy(out, base, n - 3);
    out[n - 3] = '\0';
    for (size_t i = 0; i < n - 3; i++)
        if (!(out[i] == '_' || out[i] == '-' || (out[i] >= 'a' && out[i] <= 'z')
              || (out[i] >= 'A' && out[i] <= 'Z') || (out[i] >= '0' && out[i] <= '9')))
            return -1;
    return 0;
}

static json_t *string_list(const char *const *list, const char *fallback)
{
    json_t *out = json_array();
    if (!list)
        json_array_append_new(out, json_string(fallback));
    for (; list && *list; list++)
        json_array_append_new(out, json_string(*list));
    return out;
}

/* A per-consumer flag as the worker resolves it (context.c): the deployment's setting unless set. */
static int flag_value(chanx_flag flag, const char *setting, int fallback)
{
    return flag == CHANX_DEFAULT ? cx_env_flag(setting, fallback) : flag == CHANX_ON;
}

/* The part of a consumer the gateway enforces, as JSON for the route table; classes it names none
 * of come from the deployment's defaults (drf_defaults.h). NULL with err on a bad default. */
static json_t *edge_spec(const chanx_consumer *d, char *err, size_t errlen)
{
    json_t *auth = cx_drf_authentication(d->authentication, err, errlen);
    json_t *perms = auth ? cx_drf_permissions(d->permissions, err, errlen) : NULL;
    if (!perms) {
        json_decref(auth);
        return NULL;
    }
    json_t *spec = json_object();
    json_object_set_new(spec, "authentication", auth);
    json_object_set_new(spec, "permissions", perms);
    if (d->queryset)
        json_object_set_new(spec, "queryset", json_string(d->queryset));
    if (d->object_permission)
        json_object_set_new(spec, "object_permission", json_string(d->object_permission));
    json_object_set_new(spec, "auth_method", json_string(d->auth_method ? d->auth_method : "GET"));
    if (d->has_permission)   /* the gateway then leaves its object verdict to the worker (DRF's order) */
        json_object_set_new(spec, "has_permission", json_true());
    if (d->subprotocols)
        json_object_set_new(spec, "subprotocols", string_list(d->subprotocols, NULL));
    /* For the AsyncAPI document only (the gateway enforces none of these): the message schemas and
     * the flags that decide which framework messages a client sees. */
    if (d->incoming)
        json_object_set_new(spec, "incoming", json_loads(d->incoming, JSON_ALLOW_NUL, NULL));
    if (d->outgoing)
        json_object_set_new(spec, "outgoing", json_loads(d->outgoing, JSON_ALLOW_NUL, NULL));
    if (d->events && d->receive_event)
        json_object_set_new(spec, "events", json_loads(d->events, JSON_ALLOW_NUL, NULL));
    json_object_set_new(spec, "action_key", json_string(d->action_key ? d->action_key : "action"));
    json_object_set_new(spec, "send_completion", json_boolean(flag_value(d->send_completion, "CHANX_SEND_COMPLETION", 0)));
    json_object_set_new(spec, "send_authentication_message",
                        json_boolean(flag_value(d->send_authentication_message, "CHANX_SEND_AUTHENTICATION_MESSAGE", 1)));
    json_object_set_new(spec, "camelize", json_boolean(flag_value(d->camelize, "CHANX_CAMELIZE", 0)));
    if (d->throttle_rate)   /* absent: the gateway applies CHANX_THROTTLE_RATE */
        json_object_set_new(spec, "throttle_rate", json_string(d->throttle_rate));
    if (d->passthrough_events) {
        json_t *passthrough = json_array();
        for (const char *const *a = d->passthrough_events; *a; a++)
            json_array_append_new(passthrough, json_string(*a));
        json_object_set_new(spec, "passthrough_events", passthrough);
    }
    return spec;
}

static int check_consumer(cx_consumer_entry *e, char *err, size_t errlen)
{
    const chanx_consumer *d = e->desc;
    if (!e->name)
        return snprintf(err, errlen, "out of memory"), -1;
    if (!d->receive_message)
        return snprintf(err, errlen, "consumer '%s' has no receive_message", e->short_name), -1;
    for (const char *const *p = d->permissions; p && *p; p++) {
        char why[160];
        cx_permission *perm = cx_permission_parse(*p, why, sizeof why);
        if (!perm)
            return snprintf(err, errlen, "consumer '%s': permission \"%s\": %s", e->short_name, *p, why), -1;
        cx_permission_destroy(&perm);
    }
    for (const char *const *a = d->authentication; a && *a; a++)
        if (strcmp(*a, CHANX_TOKEN_AUTH) && strcmp(*a, CHANX_SESSION_AUTH) && strcmp(*a, CHANX_JWT_AUTH))
            return snprintf(err, errlen, "consumer '%s': unknown authentication class '%s'", e->short_name, *a), -1;
    for (const char *const *p = d->subprotocols; p && *p; p++)
        if (!cx_subprotocol_is_token(*p, strlen(*p)) || strlen(*p) > 63)
            return snprintf(err, errlen, "consumer '%s': subprotocol \"%s\" is not an RFC 7230 token of at most 63 bytes",
                            e->short_name, *p), -1;
    cx_rate rate;
    char why_rate[160];
    if (cx_rate_parse(d->throttle_rate, &rate, why_rate, sizeof why_rate) != 0)
        return snprintf(err, errlen, "consumer '%s': %s", e->short_name, why_rate), -1;
    if (d->incoming) {
        char why[256];
        e->schema = cx_schema_new(d->incoming, d->action_key ? d->action_key : "action", why, sizeof why);
        if (!e->schema)
            return snprintf(err, errlen, "consumer '%s': incoming schema %s", e->short_name, why), -1;
    }
    if (d->events) {
        char why[256];
        e->event_schema = cx_schema_new(d->events, "action", why, sizeof why);
        if (!e->event_schema)
            return snprintf(err, errlen, "consumer '%s': events schema %s", e->short_name, why), -1;
    }
    if (d->receive_event && !d->events)   /* events are validated before receive_event sees them */
        return snprintf(err, errlen, "consumer '%s' has receive_event but no events schema", e->short_name), -1;
    if (d->outgoing) {
        char why[256];
        cx_schema *outgoing = cx_schema_new(d->outgoing, "action", why, sizeof why);
        if (!outgoing)
            return snprintf(err, errlen, "consumer '%s': outgoing schema %s", e->short_name, why), -1;
        cx_schema_destroy(&outgoing);
    }
    char why[300];
    if (cx_topic_decls_new(&e->topics, d->topics, e->short_name, why, sizeof why) != 0)
        return snprintf(err, errlen, "%s", why), -1;
    if (!(e->spec = edge_spec(d, why, sizeof why)))
        return snprintf(err, errlen, "consumer '%s': %s", e->short_name, why), -1;
    cx_topic_decls_describe(e->topics, e->spec);
    e->metrics = cx_consumer_metrics_new(e->name, e->schema);
    return 0;
}

static void release_consumers(cx_plugin *self)
{
    for (size_t i = 0; i < self->nconsumers; i++) {
        free(self->consumers[i].name);
        free((void *) self->consumers[i].desc);
        cx_schema_destroy(&self->consumers[i].schema);
        cx_schema_destroy(&self->consumers[i].event_schema);
        cx_topic_decls_destroy(&self->consumers[i].topics);
        json_decref(self->consumers[i].spec);
        cx_consumer_metrics_destroy(&self->consumers[i].metrics);
    }
    self->nconsumers = 0;
}

cx_plugin *cx_plugin_load(const char *path, char *err, size_t errlen)
{
    char name[128];
    if (cx_plugin_name_of(path, name, sizeof name) != 0) {
        snprintf(err, errlen, "%s: a plugin file is named <name>.so, name in [A-Za-z0-9_-]", path);
        return NULL;
    }
    cx_plugin *self = calloc(1, sizeof *self);
    cx_plugin_copy *copy = NULL;
    if (!self || !(self->name = strdup(name)) || !(self->file = realpath(path, NULL))
        || !(copy = cx_plugin_copy_new(path, name, err, errlen))) {
        if (self && !self->file)
            snprintf(err, errlen, "%s: cannot resolve the path", path);
        cx_plugin_destroy(&self);
        return NULL;
    }
    /* The copy's bytes are what would run: checked there, so a rename racing the check cannot slip by. */
    if (is_quarantined(cx_plugin_copy_path(copy))) {
        snprintf(err, errlen, "plugin %s: quarantined: it crashed its worker processes CHANX_CRASH_QUARANTINE "
                              "times within a minute; deploy a new version of %s (other bytes) to lift it", name, path);
        cx_plugin_copy_destroy(&copy);
        cx_plugin_destroy(&self);
        return NULL;
    }
    loading = self;
    loading_error[0] = '\0';
    /* Its constructors run inside dlopen: a crash there is reported as the plugin's "load". */
    cx_crash_report_name_object(cx_plugin_copy_path(copy), self->file);
    cx_crash_enter(&(cx_crash_scope) { .plugin_file = self->file, .consumer = name, .callback = "load" });
    self->handle = dlopen(cx_plugin_copy_path(copy), RTLD_NOW | RTLD_LOCAL);
    cx_crash_leave();
    loading = NULL;
    cx_plugin_copy_destroy(&copy);   /* mapped now: no path to the loaded code is left */
    int failed = 1;
    if (!self->handle)
        explain_dlerror(name, dlerror(), err, errlen);
    else if (loading_error[0])
        snprintf(err, errlen, "plugin %s: %s", name, loading_error);
    else if (self->nconsumers == 0)
        snprintf(err, errlen, "plugin %s: no CHANX_CONSUMER in %s", name, path);
    else
        failed = 0;
    for (size_t i = 0; !failed && i < self->nconsumers; i++) {
        char why[384];
        if (check_consumer(&self->consumers[i], why, sizeof why) != 0) {
            snprintf(err, errlen, "plugin %s: %s", name, why);
            failed = 1;
        }
    }
    if (failed)
        cx_plugin_destroy(&self);
    return self;
}

void cx_plugin_destroy(cx_plugin **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_plugin *self = *self_p;
    release_consumers(self);
    if (self->handle)
        dlclose(self->handle);
    free(self->name);
    free(self->file);
    free(self);
    *self_p = NULL;
}

const char *cx_plugin_name(const cx_plugin *self)
{
    return self->name;
}

const char *cx_plugin_file(const cx_plugin *self)
{
    return self->file;
}

size_t cx_plugin_consumer_count(const cx_plugin *self)
{
    return self->nconsumers;
}

cx_consumer_entry *cx_plugin_consumer(cx_plugin *self, size_t index)
{
    return index < self->nconsumers ? &self->consumers[index] : NULL;
}

void cx_plugin_ref(cx_plugin *self)
{
    self->refs++;
}

void cx_plugin_unref(cx_plugin *self)
{
    self->refs--;
}

int cx_plugin_refs(const cx_plugin *self)
{
    return self->refs;
}
