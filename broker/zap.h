/*
 * zap.h — the broker's ZAP handler (ZeroMQ RFC 27): which CURVE keys get in.
 *
 * libzmq asks the handler about every CURVE handshake on the broker's socket
 * and waits for its answer without blocking anything, so the broker serves
 * it from its own loop (poll cx_zap_socket, then cx_zap_handle). A key is
 * admitted when its public certificate is in one of the role folders under
 * the allowed folder (<allowed>/gateway/, <allowed>/worker/), and the role
 * folder's name becomes the connection's User-Id, which the broker reads on
 * every envelope (zmq_msg_gets "User-Id"); the key itself, in Z85, is the
 * connection's property CX_ZAP_KEY_PROPERTY, by which offences are counted
 * and peers banned (bans.h). The broker's own key is admitted
 * as "broker" for its health check and its standby. An unknown key makes the handler rescan
 * the folders when one of them changed (its mtime), so keys added to a
 * running deployment are admitted without a restart. A refused peer is not
 * retried by ZeroMQ: add its key before starting it.
 */
#ifndef CX_BROKER_ZAP_H
#define CX_BROKER_ZAP_H

#include <stddef.h>

#define CX_ZAP_KEY_PROPERTY "X-Key"

typedef struct cx_zap cx_zap;

/* Binds the ZAP endpoint in the process's ZeroMQ context; call before the broker's socket binds.
 * broker_public: the broker's own Z85 public key (admitted as the probe). NULL on failure (logged). */
cx_zap *cx_zap_new(const char *allowed_dir, const char *broker_public);
void cx_zap_destroy(cx_zap **self_p);
void *cx_zap_socket(cx_zap *self);
/* Answers every request waiting. */
void cx_zap_handle(cx_zap *self);
/* How many keys are admitted now (all roles). */
size_t cx_zap_keys(const cx_zap *self);

#endif
