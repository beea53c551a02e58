/*
 * keys.c — `chanx-admin keygen`: CURVE key pairs for the broker links.
 *
 * Keys are czmq certificates (zcert), the format the broker's ZAP handler
 * and every process read (common/curve.h): NAME.key holds the public key,
 * NAME.key_secret both halves (mode 0600). The layout is the one
 * CHANX_CURVE_DIR expects, so a fresh folder is one setting away from
 * authenticated links:
 *
 *   DIR/broker.key, DIR/broker.key_secret       the broker's pair
 *   DIR/gateway.key_secret, DIR/worker.key_secret, DIR/api.key_secret  the peers' pairs
 *   DIR/allowed/<role>/NAME.key                 public keys the broker admits, by role
 *
 * Without --role it makes the whole set, and keeps an existing set (so a
 * one-shot container can run it on every start); with --role it adds one
 * more key of that role (a key per host or per process), never replacing one.
 */
#include "admin/admin.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int make_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "chanx-admin: cannot create %s: %s\n", path, strerror(errno));
    return -1;
}

/* Writes DIR/name.key(+_secret) and DIR/allowed/role/name.key (role NULL: the broker, not admitted). */
static int write_pair(const char *dir, const char *name, const char *role)
{
    char path[1024], pub[1100];
    snprintf(path, sizeof path, "%s/%s.key", dir, name);
    snprintf(pub, sizeof pub, "%s_secret", path);
    if (access(pub, F_OK) == 0) {
        fprintf(stderr, "chanx-admin: %s exists: not replaced (remove it first to make a new key)\n", pub);
        return -1;
    }
    zcert_t *cert = zcert_new();
    if (!cert)
        return -1;
    zcert_set_meta(cert, "role", "%s", role ? role : "broker");
    zcert_set_meta(cert, "name", "%s", name);
    zcert_set_meta(cert, "created-by", "chanx-admin keygen");
    int rc = zcert_save(cert, path);
    if (rc == 0 && role) {
        snprintf(pub, sizeof pub, "%s/allowed/%s", dir, role);
        rc = make_dir(pub, 0755);
        snprintf(pub, sizeof pub, "%s/allowed/%s/%s.key", dir, role, name);
        if (rc == 0)
            rc = zcert_save_public(cert, pub);
    }
    if (rc != 0)
        fprintf(stderr, "chanx-admin: cannot write %s: %s\n", path, strerror(errno));
    else
        printf("%s %s %s\n", role ? role : "broker", name, zcert_public_txt(cert));
    zcert_destroy(&cert);
    return rc;
}

int admin_cmd_keygen(PGconn *conn, const admin_args *args)
{
    (void) conn;
    const char *dir = args->username;
    char path[1024];
    /* any role the broker has a row for (broker/roles.c): gateway, worker, and those added later */
    int plain = args->role && *args->role && strcmp(args->role, "broker") != 0;
    for (const char *p = args->role; plain && *p; p++)
        plain = (*p >= 'a' && *p <= 'z') || *p == '_' || *p == '-';
    if (args->role && !plain) {
        fprintf(stderr, "chanx-admin: --role is a role name such as gateway or worker, not '%s'\n", args->role);
        return ADMIN_USAGE;
    }
    if (args->name && (!*args->name || strchr(args->name, '/') || args->name[0] == '.')) {
        fprintf(stderr, "chanx-admin: --name must be a plain file name\n");
        return ADMIN_USAGE;
    }
    snprintf(path, sizeof path, "%s/allowed", dir);
    if (make_dir(dir, 0700) != 0 || make_dir(path, 0755) != 0)
        return ADMIN_ERROR;
    if (args->role)
        return write_pair(dir, args->name ? args->name : args->role, args->role) == 0 ? ADMIN_OK : ADMIN_ERROR;
    snprintf(path, sizeof path, "%s/broker.key_secret", dir);
    if (access(path, F_OK) == 0) {
        printf("keys exist in %s: kept\n", dir);
        /* a set made before chanx-api had a role of its own gains the api pair, nothing else changes */
        snprintf(path, sizeof path, "%s/api.key_secret", dir);
        if (access(path, F_OK) != 0 && write_pair(dir, "api", "api") != 0)
            return ADMIN_ERROR;
        return ADMIN_OK;
    }
    int rc = write_pair(dir, "broker", NULL);
    rc = rc ? rc : write_pair(dir, "gateway", "gateway");
    rc = rc ? rc : write_pair(dir, "worker", "worker");
    rc = rc ? rc : write_pair(dir, "api", "api");   /* chanx-api and chanx-admin publish */
    return rc == 0 ? ADMIN_OK : ADMIN_ERROR;
}
