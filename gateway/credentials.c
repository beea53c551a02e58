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

/* [p, p+n) without the blanks around it (Python's str.strip, as Django's parse_cookie applies it). */
static const char *trim(const char *p, size_t *n)
{
    while (*n > 0 && isspace((unsigned char) *p)) {
        p++;
        (*n)--;
    }
    while (*n > 0 && isspace((unsigned char) p[*n - 1]))
        (*n)--;
    return p;
}

/* Django's parse_cookie: "; "-separated chunks, key and value stripped, and a later chunk of the same
 * name replaces an earlier one (the last wins), so "sessionid=a; sessionid=b" is b here as there. */
const char *cx_cookie_value(const char *cookies, const char *name, char *buf, size_t len)
{
    size_t want = strlen(name);
    const char *found = NULL;
    for (const char *p = cookies; p && *p;) {
        size_t part = strcspn(p, ";"), eq = strcspn(p, "=;");
        if (eq < part) {
            size_t kn = eq, vn = part - eq - 1;
            const char *key = trim(p, &kn), *value = trim(p + eq + 1, &vn);
            if (kn == want && memcmp(key, name, want) == 0) {
                found = NULL;
                if (vn < len) {
                    memcpy(buf, value, vn);
                    buf[vn] = '\0';
                    found = buf;
                }
            }
        }
        p += part;
        p += *p == ';';
    }
    return found;
}
