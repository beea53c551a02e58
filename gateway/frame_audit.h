/*
 * frame_audit.h — RFC 6455 §5 and §7 checked on a client's raw bytes,
 * before libwebsockets parses them.
 *
 * lws 4.1 serves unmasked client frames, drops the TCP connection without a
 * close frame on a control frame over 125 bytes, echoes close codes it
 * should refuse (5000) and refuses ones it should echo (1012-1014), answers
 * a 1-byte close payload as 1005 and a reason that is not UTF-8 by hanging
 * up. None of that is configurable, so the gateway reads every frame header
 * (and every text payload and close payload) first, with this auditor: it
 * says how many of the bytes just received may go on to lws, and, when a
 * frame breaks a rule, the close code the connection must fail with. Close
 * frames never reach lws: the gateway answers them itself (wire.h).
 *
 * Pure state machine, no I/O: fed any split of the byte stream, it reaches
 * the same verdict at the same byte (tests/unit/test_rfc6455.c).
 */
#ifndef CX_GATEWAY_FRAME_AUDIT_H
#define CX_GATEWAY_FRAME_AUDIT_H

#include "common/utf8.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    CX_AUDIT_OK,        /* every byte may pass */
    CX_AUDIT_FAIL,      /* a frame broke a rule: fail the connection with code */
    CX_AUDIT_CLOSE,     /* the client's close frame, valid: echo code (0: it had none) */
} cx_audit_verdict;

typedef struct {
    /* frame header being read */
    unsigned char hdr[14];
    size_t hdr_len;
    /* frame payload being read */
    uint64_t left;            /* payload bytes still to come */
    int opcode, fin, rsv;
    unsigned char key[4];
    uint64_t offset;          /* payload bytes seen, for the mask */
    /* message state */
    int fragmented;           /* a text/binary message is open (continuations expected) */
    int text;                 /* the open message is text: its payload is UTF-8-checked */
    int compressed;           /* the open message has RSV1 (permessage-deflate): lws checks it inflated */
    uint32_t utf8;            /* UTF-8 decoder state across frames (see frame_audit.c) */
    unsigned char ctl[125];   /* a close frame's payload */
    size_t ctl_len;
    int rsv1_allowed;         /* permessage-deflate was negotiated */
    int done;                 /* a verdict other than OK was given: nothing more passes */
} cx_frame_audit;

/* Feeds len bytes. Returns how many of them may be passed on: all, or, with a verdict other
 * than OK, those before the offending frame's first byte in this buffer (the frame may have
 * begun in an earlier one: lws then holds an incomplete frame it will never finish). *code and
 * *reason (static text) say why. Once a verdict was given, every later call passes nothing. */
size_t cx_frame_audit_feed(cx_frame_audit *a, const unsigned char *data, size_t len, cx_audit_verdict *verdict,
                           int *code, const char **reason);

/* Whether a close code may be sent by a peer (RFC 6455 §7.4, IANA registry): 1000-1003, 1007-1014,
 * 3000-4999. */
int cx_close_code_valid(int code);

#endif
