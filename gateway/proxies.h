/*
 * proxies.h — trusted proxies: whose word the gateway takes for a client's
 * address (CHANX_TRUSTED_PROXIES).
 *
 * Behind a load balancer every client's peer address is the balancer's.
 * When the peer is a trusted proxy, the client is the right-most address
 * of X-Forwarded-For that is not itself trusted (each proxy appends the
 * address it saw, so everything to the right of the first untrusted entry
 * was written by proxies we trust, and everything to its left may be the
 * client's invention); without X-Forwarded-For, X-Real-IP. When the peer
 * is not trusted these headers are ignored: a client cannot claim another
 * address by sending them. This is nginx's realip module with
 * real_ip_recursive on, and Centrifugo's and daphne's --proxy-headers rule.
 *
 * The list: addresses and CIDRs, IPv4 and IPv6, separated by commas or
 * spaces ("10.0.0.0/8, 192.168.1.7, fd00::/8, ::1"). An IPv4-mapped IPv6
 * peer (::ffff:10.0.0.1) matches IPv4 entries.
 *
 * Pure parsing, no I/O; immutable after cx_proxies_new, so it may be shared
 * between threads.
 */
#ifndef CX_GATEWAY_PROXIES_H
#define CX_GATEWAY_PROXIES_H

#include <stddef.h>

typedef struct cx_proxies cx_proxies;

/* Parses the list (NULL or "" trusts nobody). NULL on a malformed entry, with
 * why (e.g. "'10.0.0.0/33': prefix longer than 32 bits") in why[why_size]. */
cx_proxies *cx_proxies_new(const char *list, char *why, size_t why_size);
void cx_proxies_destroy(cx_proxies **self_p);
size_t cx_proxies_count(const cx_proxies *self);

/* Whether addr (text: "10.0.0.1", "::1", "[::1]:80", "1.2.3.4:5678") is a trusted proxy. */
int cx_proxies_trusts(const cx_proxies *self, const char *addr);

/* The client's address, written into out[out_size] in canonical text
 * (inet_ntop's; IPv4-mapped IPv6 as IPv4). peer: the socket's peer. xff: the
 * X-Forwarded-For header (several headers joined with commas), or NULL;
 * real_ip: X-Real-IP, or NULL. Returns 1 when the address came from a header,
 * 0 when it is the peer's own (untrusted peer, no usable header). */
int cx_proxies_client(const cx_proxies *self, const char *peer, const char *xff, const char *real_ip,
                      char *out, size_t out_size);

/* Parses one address as found in a header: optional spaces and quotes,
 * optional [brackets] around IPv6 and an optional :port. Writes the canonical
 * text to out and returns 1, or 0 when it is not an address. */
int cx_proxies_address(const char *text, size_t len, char *out, size_t out_size);

#endif
