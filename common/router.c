/*
 * router.c — an ordered table of routes, first match wins, as Django's
 * urlpatterns. The gateway matches every upgrade request against one; the
 * worker builds one from its plugins and routing file to find routes that
 * hide one another at start.
 *
 * A raw request path is decoded here, exactly once, before any route sees
 * it: "%2541" reaches a consumer as "%41", never as "A". Decoding refuses
 * what no route should ever be asked to match (NUL, invalid UTF-8, bad
 * escapes) and paths past a length cap, so hostile input costs nothing.
 */
#include "common/route.h"

#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    cx_route *route;
    char *target;
} entry;

struct cx_router {
    entry *entries;
    size_t size, cap;
    size_t max_path;
};


/* ---- percent-decoding ---- */

static int hexval(char c)
{
    static const char digits[] = "0123456789abcdef";
    const char *p = c ? strchr(digits, tolower((unsigned char) c)) : NULL;
    return p ? (int) (p - digits) : -1;
}

/* Strict RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF. */
static int valid_utf8(const unsigned char *s, size_t n)
{
    static const uint32_t min[] = {0, 0x80, 0x800, 0x10000};
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i++];
        if (c < 0x80)
            continue;
        size_t need = c >= 0xF0 && c <= 0xF4 ? 3 : c >= 0xE0 && c <= 0xEF ? 2 : c >= 0xC2 && c <= 0xDF ? 1 : 0;
        if (need == 0 || n - i < need)
            return 0;
        uint32_t cp = c & (0x3Fu >> need);
        for (size_t k = 0; k < need; k++, i++) {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i] & 0x3Fu);
        }
        if (cp < min[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
    }
    return 1;
}

int cx_path_decode(const char *in, size_t len, char *out, size_t outlen)
{
    if (!in || !out || outlen == 0 || len > INT_MAX)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) in[i];
        if (c == '%') {
            int hi = i + 2 < len ? hexval(in[i + 1]) : -1;
            int lo = i + 2 < len ? hexval(in[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return -1;
            c = (unsigned char) (hi * 16 + lo);
            i += 2;
        }
        if (c == '\0' || o + 1 >= outlen)
            return -1;
        out[o++] = (char) c;
    }
    out[o] = '\0';
    return valid_utf8((const unsigned char *) out, o) ? (int) o : -1;
}

/* ---- the router ---- */

cx_router *cx_router_new(void)
{
    cx_router *self = calloc(1, sizeof *self);
    if (self)
        self->max_path = CX_ROUTE_DEFAULT_MAX_PATH;
    return self;
}

void cx_router_destroy(cx_router **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_router *self = *self_p;
    for (size_t i = 0; i < self->size; i++) {
        cx_route_destroy(&self->entries[i].route);
        free(self->entries[i].target);
    }
    free(self->entries);
    free(self);
    *self_p = NULL;
}

int cx_router_add(cx_router *self, cx_route *route, const char *target)
{
    if (!self || !route || !target)
        goto fail;
    size_t cap = self->size < self->cap ? self->cap : self->cap ? self->cap * 2 : 16;
    entry *e = cap == self->cap ? self->entries : realloc(self->entries, cap * sizeof *e);
    char *t = e ? strdup(target) : NULL;
    if (e)
        self->entries = e, self->cap = cap;
    if (!t)
        goto fail;
    self->entries[self->size++] = (entry) {route, t};
    return 0;
fail:
    cx_route_destroy(&route);
    return -1;
}

int cx_router_add_pattern(cx_router *self, cx_route_kind kind, const char *pattern,
                          const char *target, char *err, size_t errlen)
{
    cx_route *route = cx_route_new(kind, pattern, err, errlen);
    if (!route)
        return -1;
    if (cx_router_add(self, route, target) == 0)
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "out of memory");
    return -1;
}

void cx_router_set_max_path(cx_router *self, size_t max)
{
    if (self)
        self->max_path = max;
}

const char *cx_router_match(const cx_router *self, const char *raw_path, size_t len, json_t **kwargs)
{
    if (kwargs)
        *kwargs = NULL;
    if (!self || !raw_path)
        return NULL;
    const char *q = memchr(raw_path, '?', len);
    if (q)
        len = (size_t) (q - raw_path);
    if (len > self->max_path)
        return NULL;
    if (len && raw_path[0] == '/')
        raw_path++, len--;
    char *path = malloc(len + 1);
    int n = path ? cx_path_decode(raw_path, len, path, len + 1) : -1;
    const char *target = NULL;
    for (size_t i = 0; n >= 0 && i < self->size && !target; i++)
        if (cx_route_match(self->entries[i].route, path, (size_t) n, kwargs))
            target = self->entries[i].target;
    free(path);
    return target;
}

size_t cx_router_size(const cx_router *self)
{
    return self ? self->size : 0;
}

const cx_route *cx_router_route(const cx_router *self, size_t i)
{
    return self && i < self->size ? self->entries[i].route : NULL;
}

const char *cx_router_target(const cx_router *self, size_t i)
{
    return self && i < self->size ? self->entries[i].target : NULL;
}

long cx_router_hidden_by(const cx_router *self, size_t i)
{
    if (!self || i >= self->size)
        return -1;
    const cx_route *later = self->entries[i].route;
    for (size_t j = 0; j < i; j++) {
        if (cx_route_hides(self->entries[j].route, later))
            return (long) j;
    }
    return -1;
}

long cx_router_find_hidden(const cx_router *self, char *err, size_t errlen)
{
    for (size_t i = 1; i < cx_router_size(self); i++) {
        long by = cx_router_hidden_by(self, i);
        if (by >= 0) {
            if (err && errlen)
                snprintf(err, errlen, "route %zu '%s' (%s) is hidden by route %ld '%s' (%s)", i,
                         cx_route_pattern(self->entries[i].route), self->entries[i].target, by,
                         cx_route_pattern(self->entries[by].route), self->entries[by].target);
            return (long) i;
        }
    }
    return -1;
}
