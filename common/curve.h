/*
 * curve.h — CURVE keys for the links between the broker and its peers.
 *
 * Every link to the broker can be authenticated and encrypted with ZeroMQ's
 * CURVE (CurveZMQ, RFC 26): the broker has a key pair and admits only the
 * public keys it was given, one folder per role (broker/zap.c); gateways and
 * workers each have a key pair and know the broker's public key. Keys are
 * czmq certificates (zcert: a text file holding the Z85 public key, and a
 * "<name>_secret" file holding both halves), as `chanx-admin keygen` writes
 * them.
 *
 * Configuration, from the environment (docs/deploying.md, "Securing the broker links"):
 *   CHANX_CURVE_DIR              a folder made by `chanx-admin keygen DIR`; gives the defaults below
 *   CHANX_CURVE_SECRET_KEY_FILE  this process's certificate with its secret key
 *                                (default DIR/<broker|gateway|worker>.key_secret)
 *   CHANX_BROKER_PUBLIC_KEY      gateways, workers: the broker's public key, 40 Z85 characters or a
 *                                certificate file (default DIR/broker.key)
 *   CHANX_CURVE_ALLOWED_DIR      broker: <role>/ sub-folders of admitted public certificates
 *                                (default DIR/allowed)
 * Nothing set means plain links, which the broker accepts only on loopback
 * and ipc:// endpoints unless CHANX_INSECURE_LINKS=1 (cx_curve_plain_allowed).
 *
 * Functions are called at start, from the process's main thread.
 */
#ifndef CX_COMMON_CURVE_H
#define CX_COMMON_CURVE_H

#include <czmq.h>

/* The ZAP domain the broker's socket uses and its ZAP handler answers. */
#define CX_CURVE_ZAP_DOMAIN "chanx"

/* Client side of a link, before connect. key_name names the default certificate in CHANX_CURVE_DIR
 * ("gateway", "worker", "broker" for the broker's own health probe). Returns 1 with CURVE on, 0 when no
 * keys are configured (plain link), -1 when the configuration is broken (logged: a missing file, a bad key). */
int cx_curve_client(zsock_t *sock, const char *key_name);

/* Server side of the broker's socket, before bind. Returns 1 on, 0 off, -1 broken (logged).
 * *allowed_dir receives the admitted keys' folder (owned by the caller, NULL when off), public_key the
 * broker's own public key (Z85). */
int cx_curve_server(zsock_t *sock, char **allowed_dir, char public_key[41]);

/* Whether a plain (unauthenticated) broker may bind endpoint: loopback and ipc:// / inproc:// always,
 * anything else only with CHANX_INSECURE_LINKS=1 (then a warning is logged). 0 refuses with a message
 * that says how to make keys. */
int cx_curve_plain_allowed(const char *endpoint);

/* The folder of CHANX_CURVE_DIR joined with name, into out; 0 when the folder is not set. */
int cx_curve_dir_path(const char *name, char *out, size_t size);

#endif
