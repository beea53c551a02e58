/*
 * http_reply.c — see http_reply.h.
 *
 * The body is copied behind LWS_PRE bytes of headroom, which lws_write
 * wants in front of whatever it sends.
 */
#include "gateway/http_reply.h"

#include <stdlib.h>
#include <string.h>

static int is_head(struct lws *wsi)
{
    return lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) > 0;
}

int cx_http_reply(struct lws *wsi, unsigned status, const char *type, const char *cache_control, const char *body,
                  size_t len)
{
    unsigned char head[LWS_PRE + 512], *start = head + LWS_PRE, *p = start, *end = head + sizeof head - 1;
    if (lws_add_http_common_headers(wsi, status, type, len, &p, end)
        || (cache_control && lws_add_http_header_by_name(wsi, (const unsigned char *) "cache-control:",
                                                         (const unsigned char *) cache_control,
                                                         (int) strlen(cache_control), &p, end))
        || lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (!is_head(wsi)) {
        unsigned char *buf = malloc(LWS_PRE + len + 1);
        if (!buf)
            return -1;
        memcpy(buf + LWS_PRE, body, len);
        int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
        free(buf);
        if (n != (int) len)
            return -1;
    }
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}
