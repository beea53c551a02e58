/*
 * fuzz_handshake — the header checks of the opening handshake that read
 * text (gateway/handshake.h: Sec-WebSocket-Key, the Connection list) and
 * the host a trusted proxy forwards (gateway/forwarded.h: X-Forwarded-Host,
 * X-Forwarded-Proto), which the Origin check compares with. (The request
 * line and the head's limits are fuzz_wire's; subprotocols fuzz_subprotocol's;
 * X-Forwarded-For fuzz_proxies'.)
 *
 * Input: a mode byte, then the mode's text.
 * 0: a Sec-WebSocket-Key. Accepted only when it is 24 characters of the
 *    base64 alphabet ending in "==" (RFC 6455 §4.1: 16 bytes, base64).
 * 1: 16 bytes: their base64 encoding must be accepted.
 * 2: a Connection value. "upgrade" is found only when it is there, in any
 *    case, and the answer does not change with the case of the list or with
 *    separators and spaces around it.
 * 3: a list built from the input (tokens, with or without "Upgrade" in a
 *    random case, comma- or space-separated): found exactly when it was put in.
 * 4: flags (bit 0 Host, 1 X-Forwarded-Host, 2 X-Forwarded-Proto present),
 *    then Host NUL X-Forwarded-Host NUL X-Forwarded-Proto. The result is the
 *    first forwarded host, trimmed, or Host; with a scheme only for a
 *    forwarded proto of http/https/ws/wss; none only without any host.
 */
#include "gateway/forwarded.h"
#include "gateway/handshake.h"
#include "tests/fuzz/fuzz.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static void key(const uint8_t *data, size_t size)
{
    char *k = text(data, size);
    if (cx_handshake_key_valid(k)) {
        size_t n = strlen(k);
        if (n != 24 || strspn(k, b64) != 22 || strcmp(k + 22, "==") != 0)
            abort();   /* accepted a key that is not 16 bytes of base64 */
    }
    free(k);
}

static void key_of(const uint8_t *data, size_t size)
{
    unsigned char raw[16] = { 0 };
    memcpy(raw, data, size < 16 ? size : 16);
    char k[25];
    size_t o = 0;
    for (int i = 0; i < 16; i += 3) {
        unsigned v = (unsigned) raw[i] << 16 | (i + 1 < 16 ? (unsigned) raw[i + 1] << 8 : 0)
                     | (i + 2 < 16 ? raw[i + 2] : 0);
        k[o++] = b64[v >> 18 & 63];
        k[o++] = b64[v >> 12 & 63];
        k[o++] = i + 1 < 16 ? b64[v >> 6 & 63] : '=';
        k[o++] = i + 2 < 16 ? b64[v & 63] : '=';
    }
    k[o] = '\0';
    if (o != 24 || !cx_handshake_key_valid(k))
        abort();   /* refused a browser's key */
}

static int has_ci(const char *s, const char *needle)
{
    size_t n = strlen(needle);
    for (; *s; s++)
        if (strncasecmp(s, needle, n) == 0)
            return 1;
    return 0;
}

static void connection(const uint8_t *data, size_t size)
{
    char *list = text(data, size);
    int found = cx_handshake_has_token(list, "upgrade");
    if (found && !has_ci(list, "upgrade"))
        abort();
    char *upper = strdup(list), *wrapped = malloc(strlen(list) + 8);
    for (char *p = upper; *p; p++)
        *p = (char) toupper((unsigned char) *p);
    strcpy(wrapped, " ,\t");
    strcat(wrapped, list);
    strcat(wrapped, ", ");
    if (cx_handshake_has_token(upper, "upgrade") != found || cx_handshake_has_token(wrapped, "upgrade") != found)
        abort();   /* the answer depends on case or on separators around the list */
    free(upper);
    free(wrapped);
    free(list);
}

static void connection_built(const uint8_t *data, size_t size)
{
    static const char *const words[] = { "keep-alive", "close", "Upgrade", "upgraded", "xupgrade", "te", "HTTP2-Settings" };
    char list[1024] = "";
    int put = 0;
    for (size_t i = 0; i + 1 < size && strlen(list) < 900; i += 2) {
        const char *w = words[data[i] % 7];
        char word[32];
        snprintf(word, sizeof word, "%s", w);
        if (strcasecmp(word, "upgrade") == 0) {
            for (char *p = word; *p; p++)
                if (data[i + 1] & (1u << ((p - word) & 7)))
                    *p = (char) toupper((unsigned char) *p);
            put = 1;
        }
        strcat(list, *list ? (data[i + 1] & 1 ? ", " : data[i + 1] & 2 ? " " : ",\t") : "");
        strcat(list, word);
    }
    if (cx_handshake_has_token(list, "upgrade") != put)
        abort();   /* "upgrade" found where it is not, or missed where it is */
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static void origin(const uint8_t *data, size_t size)
{
    if (size < 1)
        return;
    int flags = data[0];
    fuzz_parts p;
    fuzz_split(data + 1, size - 1, 3, &p);
    const char *host = flags & 1 ? p.part[0] : NULL;
    char *xfh = flags & 2 ? strdup(p.part[1]) : NULL, *xfp = flags & 4 ? strdup(p.part[2]) : NULL;
    char *got = cx_forwarded_origin_host(host, xfh, xfp);
    /* what it should be, read from the untouched values */
    const char *fh = NULL;
    size_t fhn = 0;
    if (flags & 2) {
        const char *v = p.part[1];
        size_t n = strcspn(v, ",");
        while (n && is_ows(*v))
            v++, n--;
        while (n && is_ows(v[n - 1]))
            n--;
        if (n)
            fh = v, fhn = n;
    }
    const char *scheme = NULL;
    if (flags & 4) {
        const char *v = p.part[2];
        size_t n = strcspn(v, ",");
        while (n && is_ows(*v))
            v++, n--;
        while (n && is_ows(v[n - 1]))
            n--;
        if ((n == 5 && !strncasecmp(v, "https", 5)) || (n == 3 && !strncasecmp(v, "wss", 3)))
            scheme = "https";
        else if ((n == 4 && !strncasecmp(v, "http", 4)) || (n == 2 && !strncasecmp(v, "ws", 2)))
            scheme = "http";
    }
    const char *h = fh ? fh : host;
    size_t hn = fh ? fhn : host ? strlen(host) : 0;
    if (!h) {
        if (got)
            abort();   /* a host out of nothing */
    } else {
        size_t sn = scheme ? strlen(scheme) + 3 : 0;
        if (!got || strlen(got) != sn + hn || (scheme && (strncmp(got, scheme, strlen(scheme)) != 0
                                                          || strncmp(got + strlen(scheme), "://", 3) != 0))
            || memcmp(got + sn, h, hn) != 0)
            abort();   /* not the host the client used with the first proxy */
    }
    free(got);
    free(xfh);
    free(xfp);
    fuzz_free(&p, 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    switch (data[0] % 5) {
    case 0: key(data + 1, size - 1); break;
    case 1: key_of(data + 1, size - 1); break;
    case 2: connection(data + 1, size - 1); break;
    case 3: connection_built(data + 1, size - 1); break;
    default: origin(data + 1, size - 1); break;
    }
    return 0;
}
