/*
 * handshake.h — the opening handshake's checks and the subprotocol choice
 * (RFC 6455 §4.2), run in libwebsockets' callbacks before lws decides.
 * Gateway loop thread only.
 */
#ifndef CX_GATEWAY_HANDSHAKE_H
#define CX_GATEWAY_HANDSHAKE_H

#include <libwebsockets.h>

/* The name of the protocol-table entry upgraded connections bind to; rewritten per handshake. */
extern char cx_handshake_slot[64];

/* Writes "HTTP/1.1 <status>" with extra header lines ("name: value\r\n"..., or NULL) and
 * {"detail": detail}, connection: close. Returns 1 (answered), -1 when it could not be written. */
int cx_handshake_refuse(struct lws *wsi, unsigned status, const char *extra, const char *detail);

/* LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: 0 when the request is a valid version-13 upgrade (the slot is
 * then named for lws), else the refusal was written (400, 426) and 1 or -1 is returned. */
int cx_handshake_check(struct lws *wsi);
/* LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: supported is the consumer's .subprotocols
 * (NULL-terminated, may be NULL); names the slot after the chosen subprotocol, or "" for
 * no Sec-WebSocket-Protocol in the answer. 0, or -1 on a malformed list (lws then hangs up). */
int cx_handshake_choose(struct lws *wsi, const char *const *supported);
/* Walks a Sec-WebSocket-Protocol value (list[len], not NUL-terminated) as lws does (same tokenizer,
 * same flags), so both see the same names: calls visit(name, name_len, arg) for each offer, in order.
 * Returns 0, or -1 when the list is malformed (an offer that is not an RFC 7230 token of at most 63
 * bytes, or not a comma-separated list); offers before the fault were visited. */
int cx_handshake_each_offer(const char *list, size_t len, void (*visit)(const char *, size_t, void *), void *arg);
/* Whether a header's comma- (or space-) separated list has token, compared case-insensitively
 * (Connection: keep-alive, Upgrade). */
int cx_handshake_has_token(const char *list, const char *token);
/* Whether key (NULL when absent) is a Sec-WebSocket-Key: a 16-byte nonce, base64-encoded, so 24
 * characters (RFC 6455 §4.1). */
int cx_handshake_key_valid(const char *key);
/* LWS_CALLBACK_ESTABLISHED: wipes the slot (it may have held a credential's name). */
void cx_handshake_done(void);
/* The offers minus credentials as "a, b" (malloc'd, NULL when none), for the worker; *token gets
 * the key of a CHANX_TOKEN_SUBPROTOCOL offer (malloc'd) or NULL. */
char *cx_handshake_offers(struct lws *wsi, char **token);

#endif
