/*
 * curve.c — CURVE settings of the broker links from the environment (see curve.h).
 *
 * Secure by default, as Redis's protected mode: a broker without keys serves
 * only endpoints that no other machine can reach (loopback, ipc://), so a
 * development setup stays one command while a deployment that listens on a
 * network must either make keys or say CHANX_INSECURE_LINKS=1 in so many
 * words. A configured key that cannot be read stops the process: silently
 * falling back to plain links would be the one failure nobody notices.
 */
#include "common/curve.h"
#include "common/env.h"
#include "common/log.h"

#include <stdio.h>
#include <string.h>

int cx_curve_dir_path(const char *name, char *out, size_t size)
{
    const char *dir = cx_env_str("CHANX_CURVE_DIR", NULL);
    if (!dir)
        return 0;
    snprintf(out, size, "%s/%s", dir, name);
    return 1;
}

/* This process's certificate: CHANX_CURVE_SECRET_KEY_FILE, else DIR/<key_name>.key_secret. NULL when
 * none is configured (*broken stays 0) or it cannot be loaded (*broken = 1, logged). */
static zcert_t *own_cert(const char *key_name, int *broken)
{
    char path[600], name[64];
    const char *file = cx_env_str("CHANX_CURVE_SECRET_KEY_FILE", NULL);
    snprintf(name, sizeof name, "%s.key_secret", key_name);
    if (!file && cx_curve_dir_path(name, path, sizeof path))
        file = path;
    if (!file)
        return NULL;
    zcert_t *cert = zcert_load(file);
    if (!cert || !zcert_secret_txt(cert) || strcmp(zcert_secret_txt(cert), "0000000000000000000000000000000000000000") == 0) {
        cx_error("cannot load the CURVE secret key from %s (make keys with `chanx-admin keygen DIR`)", file);
        zcert_destroy(&cert);
        *broken = 1;
        return NULL;
    }
    return cert;
}

/* The broker's public key as Z85 text into out[41]: CHANX_BROKER_PUBLIC_KEY (key or file), else DIR/broker.key. */
static int broker_key(char out[41])
{
    char path[600];
    const char *value = cx_env_str("CHANX_BROKER_PUBLIC_KEY", NULL);
    if (value && strlen(value) == 40 && !strchr(value, '/')) {
        uint8_t bin[32];
        if (!zmq_z85_decode(bin, value)) {
            cx_error("CHANX_BROKER_PUBLIC_KEY is not a Z85 key (40 characters) nor a certificate file");
            return -1;
        }
        memcpy(out, value, 41);
        return 0;
    }
    if (!value && cx_curve_dir_path("broker.key", path, sizeof path))
        value = path;
    if (!value) {
        cx_error("CURVE is on (this process has a secret key) but the broker's public key is unknown: "
                 "set CHANX_BROKER_PUBLIC_KEY or CHANX_CURVE_DIR");
        return -1;
    }
    zcert_t *cert = zcert_load(value);
    if (!cert) {
        cx_error("cannot load the broker's public key from %s", value);
        return -1;
    }
    snprintf(out, 41, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return 0;
}

int cx_curve_client(zsock_t *sock, const char *key_name)
{
    int broken = 0;
    zcert_t *cert = own_cert(key_name, &broken);
    if (!cert)
        return broken ? -1 : 0;
    char server[41];
    int rc = broker_key(server);
    if (rc == 0) {
        zcert_apply(cert, sock);
        zsock_set_curve_serverkey(sock, server);
    }
    zcert_destroy(&cert);
    return rc == 0 ? 1 : -1;
}

int cx_curve_server(zsock_t *sock, char **allowed_dir, char public_key[41])
{
    *allowed_dir = NULL;
    public_key[0] = '\0';
    int broken = 0;
    zcert_t *cert = own_cert("broker", &broken);
    if (!cert)
        return broken ? -1 : 0;
    char path[600];
    const char *dir = cx_env_str("CHANX_CURVE_ALLOWED_DIR", NULL);
    if (!dir && cx_curve_dir_path("allowed", path, sizeof path))
        dir = path;
    if (!dir) {
        cx_error("the broker has a CURVE key but no admitted keys: set CHANX_CURVE_ALLOWED_DIR or CHANX_CURVE_DIR");
        zcert_destroy(&cert);
        return -1;
    }
    zcert_apply(cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, CX_CURVE_ZAP_DOMAIN);
    snprintf(public_key, 41, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    *allowed_dir = strdup(dir);
    return *allowed_dir ? 1 : -1;
}

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int cx_curve_plain_allowed(const char *endpoint)
{
    if (starts(endpoint, "ipc://") || starts(endpoint, "inproc://") || starts(endpoint, "tcp://127.")
        || starts(endpoint, "tcp://localhost:") || starts(endpoint, "tcp://[::1]:"))
        return 1;
    if (cx_env_flag("CHANX_INSECURE_LINKS", 0)) {
        cx_warn("CHANX_INSECURE_LINKS=1: the broker serves %s without authentication or encryption; anyone who "
                "can reach it can register routes and read every message", endpoint);
        return 1;
    }
    cx_error("refusing to bind %s without keys: any machine that reaches it could act as a worker or gateway. "
             "Make keys with `chanx-admin keygen DIR` and set CHANX_CURVE_DIR=DIR for every process "
             "(docs/deploying.md, \"Securing the broker links\"), or bind a loopback or ipc:// endpoint, or set "
             "CHANX_INSECURE_LINKS=1 on a network you trust", endpoint);
    return 0;
}
