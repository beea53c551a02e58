/*
 * refresh.h — the authenticate action: a client whose connection a JWT
 * authenticated sends a fresh access token before the old one expires,
 *   {"action":"authenticate","payload":{"token":"<fresh JWT>"}}
 * and its connection lives on until the new token's exp (Centrifugo's
 * refresh; Channels and Chanx have none: their connections outlive their
 * tokens). The message is the gateway's: it never reaches the consumer.
 *
 * Design: the check is the connect-time one (jwt.h: simplejwt's rules, the
 * deployment's key and leeway) without the database: the user must be the
 * connection's, whose row was checked at connect and is re-checked by
 * revalidation (revalidate.h), so a refresh costs an HMAC on the loop
 * thread and no round trip. Only consumers that accept JWTs (.authentication
 * lists it) have the action; for the others "authenticate" is an ordinary
 * message of theirs. The action key is the consumer's (.action_key).
 */
#ifndef CX_GATEWAY_REFRESH_H
#define CX_GATEWAY_REFRESH_H

#include <stddef.h>
#include <stdint.h>
#include "gateway/consumer_spec.h"

typedef enum {
    CX_REFRESH_NOT_MINE,     /* not the authenticate action of a JWT consumer: the consumer's message */
    CX_REFRESH_OK,           /* a valid token of the same user: *expires_ms is its exp (+ leeway) */
    CX_REFRESH_INVALID,      /* no token, or one simplejwt refuses: the connection keeps its old exp */
    CX_REFRESH_OTHER_USER,   /* a valid token of another user (or an anonymous connection): 4403 */
} cx_refresh_verdict;

/* Decides a client message for a connection of user_id (0: anonymous) on spec's consumer. */
cx_refresh_verdict cx_refresh_check(const cx_consumer_spec *spec, int64_t user_id, const void *data, size_t len,
                                    int64_t *expires_ms);

#endif
