/*
 * origin.h — may a page from this Origin use the client's cookies here?
 */
#ifndef CX_GATEWAY_ORIGIN_H
#define CX_GATEWAY_ORIGIN_H

/* origin: the Origin header (NULL when the client is not a browser: allowed).
 * host: the Host header, or "scheme://host" when a trusted proxy named the
 * scheme (gateway/forwarded.h): then the Origin must be exactly that. allowed: CHANX_ALLOWED_ORIGINS, or NULL/"" for
 * "the same host only". Returns 1 when allowed. */
int cx_origin_allowed(const char *origin, const char *host, const char *allowed);

#endif
