/*
 * frame_audit.c — the RFC 6455 framing rules on raw client bytes (see
 * frame_audit.h).
 *
 * One byte at a time through the header (at most 14 bytes: the rules that
 * can be decided on the first byte are decided there, before the rest of a
 * bad frame arrives), then the payload in runs. Payload is only looked at
 * where a rule needs it: text messages (UTF-8, §8.1) and close frames
 * (code and reason, §7.4); binary payloads are skipped over unread.
 */
#include "gateway/frame_audit.h"

#include <string.h>

int cx_close_code_valid(int code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

static size_t header_size(const unsigned char *hdr)
{
    size_t len7 = hdr[1] & 0x7f;
    return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + ((hdr[1] & 0x80) ? 4 : 0);
}

/* Rules decided by the first byte; NULL when it passes. */
static const char *check_first(cx_frame_audit *a, unsigned char b0)
{
    int opcode = b0 & 0xf, rsv = (b0 >> 4) & 7, fin = b0 >> 7;
    if ((opcode >= 3 && opcode <= 7) || opcode >= 0xb)
        return "reserved opcode";
    if (opcode >= 8 && !fin)
        return "fragmented control frame";
    if (rsv && !(rsv == 4 && a->rsv1_allowed && (opcode == 1 || opcode == 2)))
        return "reserved bits set without an extension that defines them";
    if (opcode == 0 && !a->fragmented)
        return "continuation frame without a message to continue";
    if ((opcode == 1 || opcode == 2) && a->fragmented)
        return "new message inside a fragmented one";
    return NULL;
}

static const char *check_second(unsigned char b0, unsigned char b1)
{
    if (!(b1 & 0x80))
        return "unmasked client frame";
    if ((b0 & 0x8) && (b1 & 0x7f) > 125)
        return "control frame longer than 125 bytes";
    return NULL;
}

static void start_payload(cx_frame_audit *a)
{
    const unsigned char *h = a->hdr;
    size_t len7 = h[1] & 0x7f, k = 2;
    uint64_t len = len7;
    if (len7 == 126) {
        len = (uint64_t) h[2] << 8 | h[3];
        k = 4;
    } else if (len7 == 127) {
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | h[2 + i];
        k = 10;
    }
    memcpy(a->key, h + k, 4);
    a->opcode = h[0] & 0xf;
    a->fin = h[0] >> 7;
    a->rsv = (h[0] >> 4) & 7;
    a->left = len;
    a->offset = 0;
    a->ctl_len = 0;
    if (a->opcode == 1 || a->opcode == 2) {
        a->text = a->opcode == 1;
        a->compressed = a->rsv != 0;
        a->utf8 = 0;
        a->fragmented = !a->fin;
    }
}

/* The frame is complete: its verdict. */
static cx_audit_verdict end_frame(cx_frame_audit *a, int *code, const char **reason)
{
    if (a->opcode == 0x8) {
        *code = 0;
        if (a->ctl_len == 1)
            return *reason = "close frame with a 1-byte payload", *code = 1002, CX_AUDIT_FAIL;
        if (a->ctl_len >= 2) {
            int c = a->ctl[0] << 8 | a->ctl[1];
            uint32_t state = 0;
            if (!cx_close_code_valid(c))
                return *reason = "invalid close code", *code = 1002, CX_AUDIT_FAIL;
            if (cx_utf8_feed(&state, a->ctl + 2, a->ctl_len - 2) != 0 || state)
                return *reason = "close reason is not UTF-8", *code = 1007, CX_AUDIT_FAIL;
            *code = c;
        }
        return *reason = "", CX_AUDIT_CLOSE;
    }
    if (a->opcode < 8 && a->fin) {
        a->fragmented = 0;
        if (a->text && !a->compressed && a->utf8)
            return *reason = "text message is not UTF-8", *code = 1007, CX_AUDIT_FAIL;
    }
    return CX_AUDIT_OK;
}

/* Payload bytes: unmasked only where a rule reads them. */
static const char *payload(cx_frame_audit *a, const unsigned char *p, size_t n)
{
    if (a->opcode == 0x8) {
        for (size_t i = 0; i < n && a->ctl_len < sizeof a->ctl; i++)
            a->ctl[a->ctl_len++] = p[i] ^ a->key[(a->offset + i) & 3];
    } else if (a->opcode < 8 && a->text && !a->compressed) {
        unsigned char buf[256];
        for (size_t done = 0; done < n;) {
            size_t k = n - done < sizeof buf ? n - done : sizeof buf;
            for (size_t i = 0; i < k; i++)
                buf[i] = p[done + i] ^ a->key[(a->offset + done + i) & 3];
            if (cx_utf8_feed(&a->utf8, buf, k) != 0)
                return "text message is not UTF-8";
            done += k;
        }
    }
    a->offset += n;
    a->left -= n;
    return NULL;
}

size_t cx_frame_audit_feed(cx_frame_audit *a, const unsigned char *data, size_t len, cx_audit_verdict *verdict,
                           int *code, const char **reason)
{
    *verdict = CX_AUDIT_OK;
    *code = 0;
    *reason = "";
    if (a->done)
        return 0;
    size_t i = 0, start = 0;   /* start: the current frame's first byte in this buffer (0: an earlier one) */
    int in_payload = a->hdr_len == 0 && a->left > 0;
    const char *why = NULL;
    while (i < len) {
        if (!in_payload) {
            if (a->hdr_len == 0)
                start = i;
            a->hdr[a->hdr_len++] = data[i++];
            if (a->hdr_len == 1 && (why = check_first(a, a->hdr[0])))
                break;
            if (a->hdr_len == 2 && (why = check_second(a->hdr[0], a->hdr[1])))
                break;
            if (a->hdr_len < 2 || a->hdr_len < header_size(a->hdr))
                continue;
            if ((a->hdr[1] & 0x7f) == 127 && (a->hdr[2] & 0x80)) {
                why = "payload length with its most significant bit set";
                break;
            }
            start_payload(a);
            a->hdr_len = 0;
            in_payload = a->left > 0;
        } else {
            size_t n = len - i < a->left ? len - i : (size_t) a->left;
            if ((why = payload(a, data + i, n)))
                break;
            i += n;
            in_payload = a->left > 0;
        }
        if (!in_payload && a->hdr_len == 0) {
            *verdict = end_frame(a, code, reason);
            if (*verdict != CX_AUDIT_OK) {
                a->done = 1;
                return start;
            }
        }
    }
    if (why) {
        a->done = 1;
        *verdict = CX_AUDIT_FAIL;
        *code = strstr(why, "UTF-8") ? 1007 : 1002;
        *reason = why;
        return start;
    }
    return len;
}
