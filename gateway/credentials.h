/*
 * credentials.h — a credential from the Authorization header ("Token abc",
 * "Bearer eyJ...", DRF's TokenAuthentication.authenticate rules) or from the
 * Cookie header (one cookie by name, Django's request.COOKIES).
 * Pure functions; the result is copied into the caller's buffer.
 */
#ifndef CX_GATEWAY_CREDENTIALS_H
#define CX_GATEWAY_CREDENTIALS_H

#include <stddef.h>

/* The credential after keyword in header, copied into buf[len]; NULL when the
 * header is absent or names another keyword. *malformed: 1 keyword but no
 * credential, 2 a credential with spaces, 3 longer than len (DRF's errors). */
const char *cx_header_credential(const char *header, const char *keyword, char *buf, size_t len, int *malformed);
/* The value of cookie name in a Cookie header, copied into buf[len]; NULL when
 * absent or too long. Read as Django's parse_cookie does: blanks around names
 * and values are dropped and the last cookie of that name wins. */
const char *cx_cookie_value(const char *cookies, const char *name, char *buf, size_t len);

#endif
