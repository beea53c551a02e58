/*
 * handshake.c — the opening handshake, checked to the letter (RFC 6455 §4.2).
 *
 * libwebsockets parses the request and, left alone, drops a connection
 * without a word when something is missing (no Host, no Sec-WebSocket-Key,
 * a Connection header without "upgrade"), upgrades a client of another
 * protocol version, and refuses any client whose Sec-WebSocket-Protocol
 * names none of its protocol table's entries. Its LWS_CALLBACK_HTTP_CONFIRM_UPGRADE
 * runs once the request is parsed and before any of those checks, so
 * everything is checked here first and refused with a status line that says
 * why (400, 426); what reaches lws afterwards always passes its own checks.
 *
 * Subprotocols: lws answers Sec-WebSocket-Protocol with the name of the
 * protocol-table entry it bound the connection to, found by walking the
 * client's offers. Chanx's names come from each consumer's .subprotocols,
 * known only at run time, so the table has one entry whose name is a buffer
 * of ours (cx_handshake_slot). The loop is single-threaded and lws goes from
 * CONFIRM_UPGRADE to the 101 in one call, so: CONFIRM_UPGRADE sets the slot's
 * name to the client's first offer (lws binds the slot to it), then
 * FILTER_PROTOCOL_CONNECTION, which lws raises after binding and before it
 * writes the 101, renames the slot to the offer chosen for the consumer, or
 * to "" when none matched, which lws answers with no header. The other
 * table entries have names with a space, which no offer (an RFC 7230
 * token) can equal.
 *
 * A credential offered as a subprotocol ("token.<key>", CHANX_TOKEN_SUBPROTOCOL)
 * is never chosen, so never echoed; it is taken out of the offers forwarded
 * to the worker, and the slot is wiped after use.
 */
#include "gateway/handshake.h"
#include "common/env.h"
#include "common/http_status.h"
#include "common/log.h"
#include "common/subprotocol.h"
#include "gateway/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lws copies the offers into a 128-byte buffer and each name into 64 bytes; longer ones it drops. */
#define MAX_OFFERS_LEN 126
#define MAX_OFFER_LEN 63

char cx_handshake_slot[MAX_OFFER_LEN + 1];

int cx_handshake_refuse(struct lws *wsi, unsigned status, const char *extra, const char *detail)
{
    unsigned char buf[LWS_PRE + 1024];
    char body[300];
    snprintf(body, sizeof body, "{\"detail\":\"%s\"}", detail);
    int n = snprintf((char *) buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %u %s\r\ncontent-type: application/json\r\ncontent-length: %zu\r\n"
                     "%sconnection: close\r\n\r\n%s", status, cx_http_status_text((int) status), strlen(body),
                     extra ? extra : "", body);
    if (n < 0 || (size_t) n >= sizeof buf - LWS_PRE)
        return -1;
    if (lws_write(wsi, buf + LWS_PRE, (size_t) n, LWS_WRITE_HTTP_HEADERS) != n)
        return -1;
    return 1;
}

static const char *token_prefix(size_t *len)
{
    static char prefix[64];
    const char *name = cx_env_str("CHANX_TOKEN_SUBPROTOCOL", NULL);
    if (!name || !*name || strlen(name) + 2 > sizeof prefix)
        return NULL;
    *len = (size_t) snprintf(prefix, sizeof prefix, "%s.", name);
    return prefix;
}

int cx_handshake_each_offer(const char *list, size_t len, void (*visit)(const char *, size_t, void *), void *arg)
{
    struct lws_tokenize ts;
    lws_tokenize_init(&ts, list, LWS_TOKENIZE_F_COMMA_SEP_LIST | LWS_TOKENIZE_F_MINUS_NONTERM
                                     | LWS_TOKENIZE_F_DOT_NONTERM | LWS_TOKENIZE_F_RFC7230_DELIMS);
    ts.len = len;
    for (;;) {
        lws_tokenize_elem e = lws_tokenize(&ts);
        if (e == LWS_TOKZE_ENDED)
            return 0;
        if (e == LWS_TOKZE_DELIMITER)
            continue;
        if (e != LWS_TOKZE_TOKEN || ts.token_len > MAX_OFFER_LEN || !cx_subprotocol_is_token(ts.token, ts.token_len))
            return -1;
        visit(ts.token, ts.token_len, arg);
    }
}

typedef struct {
    const char *prefix;
    size_t prefix_len;
    const char *const *supported;
    char first[MAX_OFFER_LEN + 1];   /* the first offer: the name lws will look for */
    const char *chosen;              /* borrowed from supported */
    FILE *forwarded;                 /* the offers but credentials, "a, b" */
    int nforwarded;
    char *token;                     /* the key of a "token.<key>" offer */
} offers;

static void visit(const char *name, size_t len, void *arg)
{
    offers *o = arg;
    if (!o->first[0])
        snprintf(o->first, sizeof o->first, "%.*s", (int) len, name);
    if (o->prefix && len > o->prefix_len && memcmp(name, o->prefix, o->prefix_len) == 0) {
        if (!o->token)
            o->token = strndup(name + o->prefix_len, len - o->prefix_len);
        return;   /* a credential: never chosen, never forwarded */
    }
    for (const char *const *s = o->supported; s && *s && !o->chosen; s++)
        if (strlen(*s) == len && memcmp(*s, name, len) == 0)
            o->chosen = *s;
    if (o->forwarded)
        fprintf(o->forwarded, "%s%.*s", o->nforwarded++ ? ", " : "", (int) len, name);
}

/* Reads the offers; -1 when the header is malformed or longer than lws takes. */
static int read_offers(struct lws *wsi, offers *o, const char *const *supported, char **forwarded)
{
    memset(o, 0, sizeof *o);
    o->prefix = token_prefix(&o->prefix_len);
    o->supported = supported;
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);
    if (total <= 0)
        return 0;
    if (total > MAX_OFFERS_LEN)
        return -1;
    char list[MAX_OFFERS_LEN + 2];
    int n = lws_hdr_copy(wsi, list, sizeof list, WSI_TOKEN_PROTOCOL);
    size_t flen = 0;
    if (forwarded)
        o->forwarded = open_memstream(forwarded, &flen);
    int rc = n < 0 ? -1 : cx_handshake_each_offer(list, (size_t) n, visit, o);
    if (o->forwarded)
        fclose(o->forwarded);
    explicit_bzero(list, sizeof list);
    return rc;
}

int cx_handshake_has_token(const char *list, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = list; p && *p;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, " \t,");
        if (len == n && strncasecmp(p, token, n) == 0)
            return 1;
        p += len;
    }
    return 0;
}

int cx_handshake_key_valid(const char *key)
{
    /* lws's decoder skips what is not base64 and still counts 16 bytes: the alphabet is checked
     * first (22 characters and the padding, as 16 bytes encode). */
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char raw[32];
    return key && strlen(key) == 24 && strspn(key, alphabet) == 22 && strcmp(key + 22, "==") == 0
           && lws_b64_decode_string(key, raw, sizeof raw) == 16;
}

static int bad_request(struct lws *wsi, const char *detail)
{
    if (cx_log_enabled(CX_LOG_INFO))
        cx_log_fields(CX_LOG_INFO, "upgrade refused", json_pack("{s:i, s:s}", "status", 400, "why", detail));
    return cx_handshake_refuse(wsi, 400, NULL, detail);
}

int cx_handshake_check(struct lws *wsi)
{
    char *path = cx_request_header(wsi, WSI_TOKEN_GET_URI);
    char *host = cx_request_header(wsi, WSI_TOKEN_HOST), *key = cx_request_header(wsi, WSI_TOKEN_KEY);
    char *version = cx_request_header(wsi, WSI_TOKEN_VERSION), *connection = cx_request_header(wsi, WSI_TOKEN_CONNECTION);
    int path_len = lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI);
    int rc = 0;
    offers o;
    if (!path)
        rc = bad_request(wsi, "A WebSocket upgrade is a GET request.");
    else if ((int) strlen(path) != path_len)
        rc = bad_request(wsi, "The request path contains a NUL byte.");
    else if (!host || !*host)
        rc = bad_request(wsi, "Missing Host header.");
    else if (!connection || lws_hdr_total_length(wsi, WSI_TOKEN_CONNECTION) > 126
             || !cx_handshake_has_token(connection, "upgrade"))
        rc = bad_request(wsi, "The Connection header must contain \\\"upgrade\\\".");
    else if (!version || strcmp(version, "13") != 0) {
        if (cx_log_enabled(CX_LOG_INFO))
            cx_log_fields(CX_LOG_INFO, "upgrade refused", json_pack("{s:i, s:s}", "status", 426, "why", "version"));
        rc = cx_handshake_refuse(wsi, 426, "sec-websocket-version: 13\r\n",
                                 "Unsupported WebSocket version: this server speaks version 13 (RFC 6455).");
    } else if (!cx_handshake_key_valid(key))
        rc = bad_request(wsi, "Sec-WebSocket-Key must be 16 bytes, base64-encoded.");
    else if (read_offers(wsi, &o, NULL, NULL) != 0)
        rc = bad_request(wsi, "Malformed Sec-WebSocket-Protocol: a comma-separated list of tokens, "
                              "at most 126 bytes, names of at most 63.");
    else {
        /* lws binds the connection to the slot under the first offer's name (see the top). */
        memcpy(cx_handshake_slot, o.first, sizeof cx_handshake_slot);
        if (o.token)
            explicit_bzero(o.token, strlen(o.token));
        free(o.token);
    }
    free(path);
    free(host);
    free(key);
    free(version);
    free(connection);
    return rc;
}

int cx_handshake_choose(struct lws *wsi, const char *const *supported)
{
    offers o;
    int rc = read_offers(wsi, &o, supported, NULL);
    /* What lws echoes: the chosen name, or nothing (an empty name). */
    snprintf(cx_handshake_slot, sizeof cx_handshake_slot, "%s", rc == 0 && o.chosen ? o.chosen : "");
    if (o.token)
        explicit_bzero(o.token, strlen(o.token));
    free(o.token);
    return rc;
}

void cx_handshake_done(void)
{
    explicit_bzero(cx_handshake_slot, sizeof cx_handshake_slot);
}

char *cx_handshake_offers(struct lws *wsi, char **token)
{
    offers o;
    char *forwarded = NULL;
    if (read_offers(wsi, &o, NULL, &forwarded) != 0 || !forwarded || !*forwarded) {
        free(forwarded);
        forwarded = NULL;
    }
    if (token)
        *token = o.token;
    else
        free(o.token);
    return forwarded;
}
