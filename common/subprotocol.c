/*
 * subprotocol.c — choosing a WebSocket subprotocol (see subprotocol.h).
 *
 * The list is walked in place: no copy, no allocation, as it runs once per
 * connection on the gateway's loop and once per CONNECT in the worker.
 */
#include "common/subprotocol.h"

#include <string.h>

int cx_subprotocol_is_token(const char *name, size_t len)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || (c && strchr("!#$%&'*+-.^_`|~", c))))
            return 0;
    }
    return 1;
}

const char *cx_subprotocol_choose(const char *list, const char *const *supported)
{
    for (const char *p = list; p && *p && supported;) {
        p += strspn(p, " \t,");
        size_t len = strcspn(p, ",");
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        for (const char *const *s = supported; len && *s; s++)
            if (strlen(*s) == len && memcmp(*s, p, len) == 0)
                return *s;
        p += strcspn(p, ",");
    }
    return NULL;
}
