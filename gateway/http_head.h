/*
 * http_head.h — the HTTP/1.1 message rules (RFC 9112, RFC 9110) a request
 * head must follow before libwebsockets sees it, fed byte by byte from the
 * gateway's recv() (wire.c), which writes the answer.
 *
 * libwebsockets 4.1 is lenient where the RFCs say a server must refuse,
 * and it resolves what Django never would:
 *   - two Host headers (RFC 9112 §3.2: 400), a folded header line (obs-fold,
 *     §5.2: 400), whitespace before a field name's colon (§5.1: 400);
 *   - Content-Length is not honoured on the gateway's paths, so a body is
 *     read as the next request: every request that carries one is answered
 *     here (405 for a method no resource of the gateway takes, 400 for a GET
 *     or HEAD with a body; malformed or conflicting lengths are 400, a
 *     Transfer-Encoding is 501), and its body is drained, never parsed;
 *   - CONNECT got no answer (405 here) and OPTIONS an HTML 403 over HTTP/1.0
 *     (here: 200 with Allow);
 *   - dot segments, even percent-encoded (/ws/chat/%2e%2e/echo/), are
 *     resolved by lws (to /ws/echo/) where Django matches the path as sent:
 *     they answer 404 here, as no route of the gateway has one.
 * The gateway's resources (WebSocket routes, /healthz, /metrics, the docs)
 * take GET and HEAD only, which is what the Allow header says.
 */
#ifndef CX_GATEWAY_HTTP_HEAD_H
#define CX_GATEWAY_HTTP_HEAD_H

#include <stddef.h>

typedef struct {
    char name[24];           /* the current header line's field name, lowercased (cut at 23) */
    size_t name_len;
    int in_value;            /* past the colon */
    int name_space;          /* whitespace inside the name or before the colon */
    int line_bytes;          /* bytes of the current header line */
    char value[24];          /* the start of a Content-Length value, blanks removed */
    size_t value_len;
    int hosts, folded, bad_name, bad_length, transfer_encoding;
    long long content_length;
    int length_seen;
    int segment_dots, segment_other, dot_segment;   /* the request target's current path segment */
    int pct;                 /* 1 after '%', 2 after "%2" in the target */
    int in_query;
} cx_http_head;

/* What to answer instead of passing the head on (wire.c writes it and closes). */
typedef struct {
    int status;
    const char *text;        /* reason phrase */
    const char *detail;      /* the JSON body's detail, NULL for no body */
    const char *headers;     /* extra header lines ("allow: ...\r\n"), or "" */
} cx_http_answer;

/* A zeroed cx_http_head is a fresh head. */
/* One byte of the request-target. */
void cx_http_head_target_byte(cx_http_head *self, unsigned char c);
/* One byte of a header line (no CR or LF); first is set for its first byte. */
void cx_http_head_field_byte(cx_http_head *self, unsigned char c, int first);
/* A header line ended. */
void cx_http_head_line_end(cx_http_head *self);
/* The head is complete: 1 with *out when the gateway answers it itself, 0 to pass it to lws. */
int cx_http_head_verdict(cx_http_head *self, const char *method, cx_http_answer *out);

#endif
