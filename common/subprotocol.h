/*
 * subprotocol.h — choosing a WebSocket subprotocol (RFC 6455 §1.9, §4.2.2).
 *
 * The client offers a list in Sec-WebSocket-Protocol; the server answers with
 * at most one of the offers. Chanx picks the first offer, in the client's
 * order, that the consumer declares in .subprotocols, as a browser's list
 * states the client's preference. The gateway chooses for the handshake and
 * forwards the offers (credentials removed) to the worker as a normalized
 * "a, b" list; the worker runs the same choice for chanx_subprotocol(), so
 * the two agree without a field of their own in the CONNECT envelope.
 */
#ifndef CX_COMMON_SUBPROTOCOL_H
#define CX_COMMON_SUBPROTOCOL_H

#include <stddef.h>

/* Whether name is an RFC 7230 token (the syntax of a subprotocol name): non-empty, only
 * ALPHA, DIGIT and !#$%&'*+-.^_`|~. */
int cx_subprotocol_is_token(const char *name, size_t len);

/* The first offer in list (a comma-separated list, optional spaces and tabs around items) that
 * supported (NULL-terminated, may be NULL) contains, compared exactly (names are case-sensitive).
 * Returns the borrowed entry of supported, or NULL when none matches. */
const char *cx_subprotocol_choose(const char *list, const char *const *supported);

#endif
