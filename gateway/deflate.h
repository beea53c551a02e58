/*
 * deflate.h — permessage-deflate (RFC 7692) on the gateway's outgoing
 * frames, opt-in with CHANX_COMPRESSION.
 *
 * libwebsockets negotiates the extension and inflates what clients send,
 * but the gateway writes its frames itself (outbox.c: many frames, one
 * send), past lws's extension. So messages to clients are compressed here:
 * each message on its own, from an empty window (no context takeover on our
 * side, which RFC 7692 §7.1.1.1 always allows a server, promised or not).
 * That needs no compressor per connection (zlib's is ~256 KiB with context
 * takeover), and a group message compresses once for all members that get
 * the same bytes: the last few results are kept and reused on an exact
 * match (is_mine / is_current make at most a few variants of one message).
 *
 * Offers are accepted when lws's answer is one RFC 7692 allows: an offer
 * with server_max_window_bits (which an acceptance must echo, and lws 4.1
 * echoes no parameter with a value) or an unknown parameter is declined, and
 * the connection goes on uncompressed. Browsers offer neither.
 * Gateway loop thread only.
 */
#ifndef CX_GATEWAY_DEFLATE_H
#define CX_GATEWAY_DEFLATE_H

#include <libwebsockets.h>
#include <stddef.h>

/* Messages shorter than this go uncompressed: the frame would not shrink. */
#define CX_DEFLATE_MIN_BYTES 64

typedef struct cx_deflate cx_deflate;

/* level: zlib's 1-9. NULL when out of memory. */
cx_deflate *cx_deflate_new(int level);
void cx_deflate_destroy(cx_deflate **self_p);
/* The compressed payload of a+b (b may be NULL) for an RSV1 frame: borrowed, valid until the next
 * call. NULL when compressing failed. */
const unsigned char *cx_deflate_message(cx_deflate *self, const char *a, size_t alen, const char *b, size_t blen,
                                        size_t *outlen);
/* Whether the client's Sec-WebSocket-Extensions (the whole header, NULL when absent) has a
 * permessage-deflate offer whose first set of parameters these frames can honour. */
int cx_deflate_offer_ok(const char *extensions);
/* CHANX_COMPRESSION: 0 (off, the default), or the zlib level ("on" is 6). */
int cx_deflate_level_setting(void);
/* lws's extension table with permessage-deflate (lws negotiates, and inflates what clients send). */
const struct lws_extension *cx_deflate_extensions(void);
/* LWS_CALLBACK_CONFIRM_EXTENSION_OKAY: whether to accept this handshake's offer. */
int cx_deflate_confirm(struct lws *wsi);

#endif
