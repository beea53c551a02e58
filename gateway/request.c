/*
 * request.c — reading the upgrade request.
 *
 * The consumer sees the request as Django Channels' scope shows it: path,
 * query string, headers. libwebsockets 4.1 parses the headers it knows into
 * token slots and keeps the others only for lookup by name, so the standard
 * headers are walked by token and custom ones (X-Request-Id, ...) are
 * forwarded when the deployment names them in CHANX_FORWARD_HEADERS.
 * Credentials never leave the gateway: Authorization, the token and JWT
 * query parameters and the session and JWT cookies are consumed by
 * authentication and removed from what CONNECT carries, so that no worker,
 * plugin log line or crash dump holds a client's secret (docs/security.md).
 * They are removed by name whatever the route's authentication classes, so
 * what a consumer sees does not depend on how it was reached.
 */
#include "gateway/request.h"
#include "common/json_text.h"
#include "common/env.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

char *cx_request_header(struct lws *wsi, enum lws_token_indexes token)
{
    int len = lws_hdr_total_length(wsi, token);
    if (len <= 0)
        return NULL;
    char *out = malloc((size_t) len + 1);
    if (out && lws_hdr_copy(wsi, out, len + 1, token) < 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* Writes s percent-encoded at out (room for 3 bytes per byte of s); returns the end. */
static char *percent_encode(char *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char) *s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c)) {
            *out++ = (char) c;
        } else {
            *out++ = '%';
            *out++ = hex[c >> 4];
            *out++ = hex[c & 15];
        }
    }
    return out;
}

/* lws hands out query arguments already decoded, one fragment each; this
 * rebuilds an encoded query string so that it is decoded exactly once.
 * The string is written into one allocation sized for the worst case (every
 * byte encoded, a separator per argument): this runs on every upgrade, and a
 * growing stream (open_memstream) cost more than the rest of the request. */
char *cx_request_query(struct lws *wsi, char **token, char **jwt)
{
    int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
    char *query = malloc(total > 0 ? (size_t) total * 5 + 3 : 1), frag[4096];
    if (!query)
        return NULL;
    char *end = query;
    const char *jwt_param = cx_env_str("CHANX_JWT_QUERY_PARAM", NULL);
    for (int i = 0; total > 0 && lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i) > 0; i++) {
        char *eq = strchr(frag, '=');
        const char *value = eq ? eq + 1 : "";
        if (eq)
            *eq = '\0';
        if (strcmp(frag, "token") == 0 && !*token)
            *token = strdup(value);
        if (jwt_param && strcmp(frag, jwt_param) == 0 && !*jwt)
            *jwt = strdup(value);
        if (strcmp(frag, "token") == 0 || (jwt_param && strcmp(frag, jwt_param) == 0))
            continue;   /* a credential: the gateway's alone */
        if (end > query)
            *end++ = '&';
        end = percent_encode(end, frag);
        *end++ = '=';
        end = percent_encode(end, value);
    }
    *end = '\0';
    return query;
}

/* lws names tokens "host:", "accept-language:"; the request line's pseudo
 * tokens ("get ", "post ") and HTTP/2's ":path" are not headers. */
static int header_name(enum lws_token_indexes token, char *name, size_t size)
{
    const char *text = (const char *) lws_token_to_string(token);
    size_t len = text ? strlen(text) : 0;
    if (len < 2 || len > size || text[0] == ':' || text[len - 1] != ':')
        return 0;
    memcpy(name, text, len - 1);
    name[len - 1] = '\0';
    /* Sec-WebSocket-Protocol may carry a credential: handshake.c forwards the offers without it. */
    return strcmp(name, "authorization") != 0 && strcmp(name, "sec-websocket-protocol") != 0;
}

static void add_custom_headers(struct lws *wsi, json_t *headers)
{
    const char *list = cx_env_str("CHANX_FORWARD_HEADERS", NULL);
    char name[128];
    while (list && *list) {
        size_t n = strcspn(list, ", ");
        if (n > 0 && n + 1 < sizeof name) {
            for (size_t i = 0; i < n; i++)
                name[i] = (char) tolower((unsigned char) list[i]);
            memcpy(name + n, ":", 2);   /* lws looks custom headers up with their colon */
            int len = lws_hdr_custom_length(wsi, name, (int) n + 1);
            char *value = len >= 0 ? malloc((size_t) len + 1) : NULL;
            if (value && lws_hdr_custom_copy(wsi, value, len + 1, name, (int) n + 1) >= 0) {
                name[n] = '\0';
                json_object_set_new(headers, name, json_string(value));
            }
            free(value);
        }
        list += n;
        list += strspn(list, ", ");
    }
}

/* Every Cookie header joined with "; ", as one: a client may send several (RFC 6265 5.4 says one,
 * HTTP/2 splits it), and lws 4.1 glues their fragments with spaces into what reads as one cookie
 * ("a=1 sessionid=..." would hide the session from authentication and from the stripping below).
 * NULL without a Cookie header. */
char *cx_request_cookies(struct lws *wsi)
{
    size_t size = 1;
    int n;
    for (int i = 0; (n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_COOKIE, i)) > 0; i++)
        size += (size_t) n + 2;
    char *out = size > 1 ? malloc(size) : NULL, *end = out;
    for (int i = 0; out && (n = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_COOKIE, i)) > 0; i++) {
        if (end > out) {
            memcpy(end, "; ", 2);
            end += 2;
        }
        if (lws_hdr_copy_fragment(wsi, end, n + 1, WSI_TOKEN_HTTP_COOKIE, i) < 0)
            break;
        end += n;
    }
    if (out)
        *end = '\0';
    return out;
}

static int named(const char *p, size_t len, const char *name)
{
    return name && strlen(name) == len && strncmp(p, name, len) == 0;
}

/* The Cookie header without the credential cookies (Django's session cookie, the JWT cookie, those
 * of mapped classes); NULL when nothing else is left. Cookie pairs are "name=value" separated by ";"
 * (RFC 6265 5.4). */
static char *strip_credential_cookies(const char *header, const char *const *others)
{
    const char *session = cx_env_str("CHANX_SESSION_COOKIE_NAME", "sessionid");
    const char *jwt = cx_env_str("CHANX_JWT_COOKIE", NULL);
    char *out = malloc(2 * strlen(header) + 1), *end = out;   /* "a;b" may become "a; b" */
    for (const char *p = header; out && *p;) {
        p += strspn(p, "; \t");
        size_t n = strcspn(p, ";");
        size_t name_len = strcspn(p, "=;");
        while (name_len > 0 && (p[name_len - 1] == ' ' || p[name_len - 1] == '\t'))
            name_len--;
        int secret = named(p, name_len, session) || named(p, name_len, jwt);
        for (const char *const *o = others; o && *o && !secret; o++)
            secret = named(p, name_len, *o);
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0 && !secret) {
            if (end > out) {
                memcpy(end, "; ", 2);
                end += 2;
            }
            memcpy(end, p, n);
            end += n;
        }
        p += strcspn(p, ";");
    }
    if (out && end == out) {   /* nothing left */
        free(out);
        return NULL;
    }
    if (out)
        *end = '\0';
    return out;
}

char *cx_request_headers(struct lws *wsi, const char *subprotocols, const char *const *cookies)
{
    json_t *headers = json_object();
    if (subprotocols)
        json_object_set_new(headers, "sec-websocket-protocol", json_string(subprotocols));
    char name[64];
    for (int token = 0; token < WSI_TOKEN_COUNT; token++) {
        /* most of lws's ~95 known headers are absent: ask that first, it is a table lookup */
        if (lws_hdr_total_length(wsi, (enum lws_token_indexes) token) <= 0
            || !header_name((enum lws_token_indexes) token, name, sizeof name))
            continue;
        char *value = token == WSI_TOKEN_HTTP_COOKIE ? cx_request_cookies(wsi)
                                                     : cx_request_header(wsi, (enum lws_token_indexes) token);
        if (value && token == WSI_TOKEN_HTTP_COOKIE) {
            char *kept = strip_credential_cookies(value, cookies);
            free(value);
            value = kept;
        }
        if (value)
            json_object_set_new(headers, name, json_string(value));
        free(value);
    }
    add_custom_headers(wsi, headers);
    char *text = cx_json_text(headers, NULL);
    json_decref(headers);
    return text;
}
