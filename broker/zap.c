/*
 * zap.c — the ZAP handler: admitted keys by role folder (see zap.h).
 */
#include "broker/zap.h"
#include "broker/roles.h"
#include "common/log.h"

#include <czmq.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_ROLE_FOLDERS 16

struct cx_zap {
    zsock_t *sock;
    void *handle;
    char *dir;
    char probe_key[41];
    zhashx_t *keys;          /* Z85 public key → role name (static strings of roles.c) */
    struct timespec mtimes[MAX_ROLE_FOLDERS];   /* of each role folder at the last scan */
};

static void scan_folder(cx_zap *self, const char *role)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", self->dir, role);
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || (n > 7 && strcmp(e->d_name + n - 7, "_secret") == 0))
            continue;
        char file[1400];
        snprintf(file, sizeof file, "%s/%s", path, e->d_name);
        zcert_t *cert = zcert_load(file);
        if (!cert) {
            cx_warn("%s is not a certificate: ignored", file);
            continue;
        }
        const char *key = zcert_public_txt(cert);
        const char *had = zhashx_lookup(self->keys, key);
        if (had && strcmp(had, role) != 0)
            cx_warn("key %s is in both %s/ and %s/: it stays a %s key", key, had, role, had);
        else if (!had)
            zhashx_insert(self->keys, key, (void *) role);
        zcert_destroy(&cert);
    }
    if (d)
        closedir(d);
}

/* Whether a role folder changed since the last scan (a file added or removed changes its mtime), and
 * the new times into mtimes. */
static int folders_changed(cx_zap *self)
{
    size_t n;
    const cx_role_rule *rules = cx_role_rules(&n);
    int changed = 0;
    for (size_t i = 0; i < n && i < MAX_ROLE_FOLDERS; i++) {
        char path[1024];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", self->dir, rules[i].name);
        struct timespec t = stat(path, &st) == 0 ? st.st_mtim : (struct timespec) { 0, 0 };
        if (t.tv_sec != self->mtimes[i].tv_sec || t.tv_nsec != self->mtimes[i].tv_nsec)
            changed = 1;
        self->mtimes[i] = t;
    }
    return changed;
}

static void scan(cx_zap *self)
{
    size_t n;
    const cx_role_rule *rules = cx_role_rules(&n);
    folders_changed(self);
    zhashx_purge(self->keys);
    for (size_t i = 0; i < n; i++)
        scan_folder(self, rules[i].name);
    if (self->probe_key[0])
        zhashx_insert(self->keys, self->probe_key, (void *) "broker");
}

cx_zap *cx_zap_new(const char *allowed_dir, const char *broker_public)
{
    cx_zap *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dir = strdup(allowed_dir);
    self->keys = zhashx_new();
    snprintf(self->probe_key, sizeof self->probe_key, "%s", broker_public ? broker_public : "");
    self->sock = zsock_new(ZMQ_REP);
    if (!self->dir || !self->keys || !self->sock || zsock_bind(self->sock, "inproc://zeromq.zap.01") != 0) {
        cx_error("cannot start the ZAP handler: %s", zmq_strerror(zmq_errno()));
        cx_zap_destroy(&self);
        return NULL;
    }
    self->handle = zsock_resolve(self->sock);
    scan(self);
    if (zhashx_size(self->keys) <= (self->probe_key[0] ? 1u : 0u))
        cx_warn("no admitted keys in %s/<role>/: no gateway or worker can connect until some are added", self->dir);
    else
        cx_info("CURVE on: %zu keys admitted from %s", zhashx_size(self->keys), self->dir);
    return self;
}

void cx_zap_destroy(cx_zap **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_zap *self = *self_p;
    zsock_destroy(&self->sock);
    zhashx_destroy(&self->keys);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

void *cx_zap_socket(cx_zap *self)
{
    return self->handle;
}

size_t cx_zap_keys(const cx_zap *self)
{
    return zhashx_size(self->keys);
}

/* The admitted role of a 32-byte public key, rescanning when a role folder changed (a key added since;
 * a stat per folder, so strangers knocking cost no reading of certificates). */
static const char *role_of(cx_zap *self, const byte *key)
{
    char text[41];
    zmq_z85_encode(text, key, 32);
    const char *role = zhashx_lookup(self->keys, text);
    if (!role && folders_changed(self)) {
        scan(self);
        role = zhashx_lookup(self->keys, text);
    }
    return role;
}

/* ZAP's metadata frame (RFC 27, ZMTP 3.0's property encoding: a 1-byte name length, the name, a 4-byte
 * big-endian value length, the value): the admitted key as CX_ZAP_KEY_PROPERTY; empty when refused. */
static void add_key_property(zmsg_t *reply, zframe_t *key)
{
    if (!key) {
        zmsg_addmem(reply, "", 0);
        return;
    }
    const size_t name_len = sizeof CX_ZAP_KEY_PROPERTY - 1;
    unsigned char meta[1 + sizeof CX_ZAP_KEY_PROPERTY + 4 + 41], *p = meta;
    char text[41];
    zmq_z85_encode(text, zframe_data(key), 32);
    *p++ = (unsigned char) name_len;
    memcpy(p, CX_ZAP_KEY_PROPERTY, name_len);
    p += name_len;
    *p++ = 0, *p++ = 0, *p++ = 0, *p++ = 40;
    memcpy(p, text, 40);
    zmsg_addmem(reply, meta, (size_t) (p + 40 - meta));
}

static void answer(cx_zap *self, zmsg_t *request)
{
    char *version = zmsg_popstr(request), *sequence = zmsg_popstr(request), *domain = zmsg_popstr(request);
    char *address = zmsg_popstr(request), *identity = zmsg_popstr(request), *mechanism = zmsg_popstr(request);
    zframe_t *key = zmsg_pop(request);
    const char *role = NULL, *why = "not a CURVE handshake";
    if (version && strcmp(version, "1.0") == 0 && mechanism && strcmp(mechanism, "CURVE") == 0 && key
        && zframe_size(key) == 32) {
        role = role_of(self, zframe_data(key));
        why = role ? "OK" : "unknown key";
    }
    if (!role) {
        char text[41] = "";
        if (key && zframe_size(key) == 32)
            zmq_z85_encode(text, zframe_data(key), 32);
        cx_log_fields(CX_LOG_WARNING, "peer refused",
                      json_pack("{s:s, s:s, s:s}", "address", address ? address : "", "key", text, "why", why));
    }
    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    zmsg_addstr(reply, sequence ? sequence : "");
    zmsg_addstr(reply, role ? "200" : "400");
    zmsg_addstr(reply, why);
    zmsg_addstr(reply, role ? role : "");
    add_key_property(reply, role ? key : NULL);
    zmsg_send(&reply, self->sock);
    zframe_destroy(&key);
    free(version), free(sequence), free(domain), free(address), free(identity), free(mechanism);
}

void cx_zap_handle(cx_zap *self)
{
    for (;;) {
        zmq_pollitem_t item = { .socket = self->handle, .events = ZMQ_POLLIN };
        if (zmq_poll(&item, 1, 0) <= 0)
            return;
        zmsg_t *request = zmsg_recv(self->sock);
        if (!request)
            return;
        answer(self, request);
        zmsg_destroy(&request);
    }
}
