/*
 * deflate.c — per-message compression of outgoing frames (see deflate.h).
 *
 * One raw-deflate stream (windowBits -15), reset before every message and
 * ended with Z_SYNC_FLUSH, whose trailing 00 00 ff ff is cut off as RFC 7692
 * §7.2.1 says. The cache is a few (plaintext, compressed) pairs, replaced
 * round-robin; a hit costs a memcmp of the message, far less than deflate.
 */
#include "gateway/deflate.h"
#include "common/env.h"
#include "gateway/request.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define CACHE 4

typedef struct {
    char *plain;
    size_t plain_len, plain_cap;
    unsigned char *comp;
    size_t comp_len, comp_cap;
} entry;

struct cx_deflate {
    z_stream z;
    entry cache[CACHE];
    size_t next;
};

cx_deflate *cx_deflate_new(int level)
{
    cx_deflate *self = calloc(1, sizeof *self);
    if (self && deflateInit2(&self->z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(self);
        return NULL;
    }
    return self;
}

void cx_deflate_destroy(cx_deflate **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_deflate *self = *self_p;
    deflateEnd(&self->z);
    for (int i = 0; i < CACHE; i++) {
        free(self->cache[i].plain);
        free(self->cache[i].comp);
    }
    free(self);
    *self_p = NULL;
}

static int grow(void **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    void *p = realloc(*buf, need);
    if (!p)
        return -1;
    *buf = p;
    *cap = need;
    return 0;
}

const unsigned char *cx_deflate_message(cx_deflate *self, const char *a, size_t alen, const char *b, size_t blen,
                                        size_t *outlen)
{
    size_t len = alen + blen;
    for (int i = 0; i < CACHE; i++) {
        entry *e = &self->cache[i];
        if (e->comp_len && e->plain_len == len && memcmp(e->plain, a, alen) == 0
            && (!blen || memcmp(e->plain + alen, b, blen) == 0)) {
            *outlen = e->comp_len;
            return e->comp;
        }
    }
    entry *e = &self->cache[self->next];
    self->next = (self->next + 1) % CACHE;
    size_t bound = deflateBound(&self->z, len) + 16;
    e->comp_len = 0;
    if (grow((void **) &e->plain, &e->plain_cap, len + 1) != 0 || grow((void **) &e->comp, &e->comp_cap, bound) != 0)
        return NULL;
    memcpy(e->plain, a, alen);
    if (blen)
        memcpy(e->plain + alen, b, blen);
    e->plain_len = len;
    deflateReset(&self->z);
    self->z.next_in = (unsigned char *) e->plain;
    self->z.avail_in = (uInt) len;
    self->z.next_out = e->comp;
    self->z.avail_out = (uInt) bound;
    if (deflate(&self->z, Z_SYNC_FLUSH) != Z_OK || self->z.avail_in != 0)
        return NULL;
    size_t n = bound - self->z.avail_out;
    if (n < 4 || memcmp(e->comp + n - 4, "\x00\x00\xff\xff", 4) != 0)
        return NULL;
    e->comp_len = n - 4;
    *outlen = e->comp_len;
    return e->comp;
}

/* One parameter of the first offer: whether these frames can honour it. */
static int param_ok(const char *p, size_t n)
{
    while (n && (*p == ' ' || *p == '\t'))
        p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
        n--;
    size_t name = 0;
    while (name < n && p[name] != '=')
        name++;
    if ((name == 26 && strncasecmp(p, "server_no_context_takeover", 26) == 0)
        || (name == 26 && strncasecmp(p, "client_no_context_takeover", 26) == 0)
        || (name == 22 && strncasecmp(p, "client_max_window_bits", 22) == 0))
        return 1;
    /* Accepting server_max_window_bits means echoing it (RFC 7692 §7.1.2.1), which lws 4.1 does
     * not do for parameters with a value: such offers are declined, as unknown parameters are. */
    return n == 0;
}

int cx_deflate_offer_ok(const char *extensions)
{
    /* lws takes the first permessage-deflate offer and its parameters, up to the next comma. */
    for (const char *p = extensions; p && *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        const char *semi = memchr(p, ';', n);
        size_t name = semi ? (size_t) (semi - p) : n;
        while (name && (p[name - 1] == ' ' || p[name - 1] == '\t'))
            name--;
        if (name == 18 && strncmp(p, "permessage-deflate", 18) == 0) {
            for (const char *q = semi; q && q < p + n;) {
                q++;
                size_t k = strcspn(q, ";,");
                if (q + k > p + n)
                    k = (size_t) (p + n - q);
                if (!param_ok(q, k))
                    return 0;
                q += k;
                if (*q != ';')
                    break;
            }
            return 1;
        }
        p += n;
    }
    return 0;
}

int cx_deflate_level_setting(void)
{
    const char *v = cx_env_str("CHANX_COMPRESSION", NULL);
    if (!v || !strcasecmp(v, "0") || !strcasecmp(v, "off") || !strcasecmp(v, "false") || !strcasecmp(v, "no"))
        return 0;
    if (!strcasecmp(v, "on") || !strcasecmp(v, "true") || !strcasecmp(v, "yes"))
        return 6;
    int level = atoi(v);
    return level >= 1 && level <= 9 ? level : 6;
}

const struct lws_extension *cx_deflate_extensions(void)
{
    static const struct lws_extension extensions[] = {
        { "permessage-deflate", lws_extension_callback_pm_deflate, "permessage-deflate" },
        { NULL, NULL, NULL }
    };
    return extensions;
}

int cx_deflate_confirm(struct lws *wsi)
{
    char *offer = cx_request_header(wsi, WSI_TOKEN_EXTENSIONS);
    int ok = cx_deflate_offer_ok(offer);
    free(offer);
    return ok;
}
