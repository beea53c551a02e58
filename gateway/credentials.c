/*
 * credentials.c — reading a credential out of the Authorization and Cookie
 * headers (credentials.h), the way DRF and Django do. Client input: bounded
 * copies only, and fuzzed (tests/fuzz/fuzz_request_fields.c).
 */
#include "gateway/credentials.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

/* "Token abc" → "abc" when the keyword matches, split on whitespace as DRF does; *malformed is 1
 * when the header has the keyword but no credential, 2 when the credential contains spaces. */
const char *cx_header_credential(const char *header, const char *keyword, char *buf, size_t len, int *malformed)
{
    size_t k = strlen(keyword);
    if (!header || strncasecmp(header, keyword, k) != 0 || (header[k] && !isspace((unsigned char) header[k])))
        return NULL;
    const char *cred = header + k;
    while (isspace((unsigned char) *cred))
        cred++;
    size_t n = strlen(cred);
    while (n && isspace((unsigned char) cred[n - 1]))
        n--;
    size_t word = 0;
    while (word < n && !isspace((unsigned char) cred[word]))
        word++;
    if (!n || word < n) {
        *malformed = n ? 2 : 1;
        return NULL;
    }
    if (n >= len) {
        *malformed = 3;
        return NULL;
    }
    memcpy(buf, cred, n);
    buf[n] = '\0';
    return buf;
}

/* The last cookie of that name wins, as in Django (SimpleCookie keeps the last): a page that can
 * plant a second sessionid before the real one changes nothing Django would not. */
const char *cx_cookie_value(const char *cookies, const char *name, char *buf, size_t len)
{
    size_t n = strlen(name), found_len = 0;
    const char *found = NULL;
    for (const char *p = cookies; p && *p;) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t part = end ? (size_t) (end - p) : strlen(p);
        if (part > n && strncmp(p, name, n) == 0 && p[n] == '=')
            found = p + n + 1, found_len = part - n - 1;
        p += part;
    }
    if (!found || found_len >= len)
        return NULL;
    memcpy(buf, found, found_len);
    buf[found_len] = '\0';
    return buf;
}
