/*
 * proxies.c — the trusted-proxy list and the X-Forwarded-For walk of
 * proxies.h.
 *
 * Addresses are kept as 16 bytes: IPv4 as its IPv4-mapped IPv6 form
 * (::ffff:a.b.c.d) with the prefix length moved up by 96 bits, so one
 * comparison serves both families and a mapped peer matches an IPv4 CIDR.
 * Header values are untrusted input: every entry is bounded, parsed with
 * inet_pton only, and anything that is not an address stops the walk.
 */
#include "gateway/proxies.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    unsigned char addr[16];
    int bits;   /* prefix length over the 128-bit form */
} cidr;

struct cx_proxies {
    size_t n;
    cidr entries[];
};

static const unsigned char V4_MAPPED[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

/* One bare address (no brackets, no port) into its 16-byte form; 4 or 6 as its family, 0 when invalid. */
static int parse_bare(const char *s, size_t len, unsigned char out[16])
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    unsigned char v4[4];
    if (inet_pton(AF_INET, buf, v4) == 1) {
        memcpy(out, V4_MAPPED, 12);
        memcpy(out + 12, v4, 4);
        return 4;
    }
    if (inet_pton(AF_INET6, buf, out) == 1)
        return memcmp(out, V4_MAPPED, 12) == 0 ? 4 : 6;
    return 0;
}

/* An address as a header carries it: quotes, [v6]:port, v4:port. */
static int parse_header_addr(const char *s, size_t len, unsigned char out[16])
{
    while (len && (*s == ' ' || *s == '\t' || *s == '"'))
        s++, len--;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '"'))
        len--;
    if (len && *s == '[') {
        const char *close = memchr(s, ']', len);
        if (!close)
            return 0;
        size_t rest = len - (size_t) (close - s) - 1;
        if (rest && close[1] != ':')
            return 0;
        return parse_bare(s + 1, (size_t) (close - s) - 1, out);
    }
    const char *colon = memchr(s, ':', len);
    if (colon && !memchr(colon + 1, ':', len - (size_t) (colon - s) - 1))
        len = (size_t) (colon - s);   /* one colon: IPv4 with a port */
    return parse_bare(s, len, out);
}

static void canonical(const unsigned char a[16], char *out, size_t size)
{
    char text[INET6_ADDRSTRLEN] = "";
    if (memcmp(a, V4_MAPPED, 12) == 0)
        inet_ntop(AF_INET, a + 12, text, sizeof text);
    else
        inet_ntop(AF_INET6, a, text, sizeof text);
    snprintf(out, size, "%s", text);
}

int cx_proxies_address(const char *text, size_t len, char *out, size_t out_size)
{
    unsigned char a[16];
    if (!parse_header_addr(text, len, a))
        return 0;
    canonical(a, out, out_size);
    return 1;
}

static int parse_entry(const char *s, size_t len, cidr *c, char *why, size_t why_size)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t) (slash - s) : len;
    int family = parse_bare(s, alen, c->addr);
    if (!family) {
        snprintf(why, why_size, "'%.*s': not an IPv4 or IPv6 address", (int) (len > 64 ? 64 : len), s);
        return -1;
    }
    int max = family == 4 ? 32 : 128, bits = max;
    if (slash) {
        const char *p = slash + 1, *end = s + len;
        if (p == end || end - p > 3) {
            snprintf(why, why_size, "'%.*s': bad prefix length", (int) (len > 64 ? 64 : len), s);
            return -1;
        }
        bits = 0;
        for (; p < end; p++) {
            if (*p < '0' || *p > '9') {
                snprintf(why, why_size, "'%.*s': bad prefix length", (int) (len > 64 ? 64 : len), s);
                return -1;
            }
            bits = bits * 10 + (*p - '0');
        }
        if (bits > max) {
            snprintf(why, why_size, "'%.*s': prefix longer than %d bits", (int) (len > 64 ? 64 : len), s, max);
            return -1;
        }
    }
    c->bits = family == 4 ? bits + 96 : bits;
    /* Host bits are ignored (10.1.2.3/8 is 10.0.0.0/8), as Python's ip_network(strict=False). */
    for (int i = c->bits; i < 128; i++)
        c->addr[i / 8] &= (unsigned char) ~(0x80u >> (i % 8));
    return 0;
}

cx_proxies *cx_proxies_new(const char *list, char *why, size_t why_size)
{
    size_t cap = 0;
    for (const char *p = list ? list : ""; *p; p++)
        cap += *p == ',' || *p == ' ' || *p == '\t';   /* every separator the loop below splits on */
    cx_proxies *self = calloc(1, sizeof *self + (cap + 1) * sizeof(cidr));
    if (!self) {
        snprintf(why, why_size, "out of memory");
        return NULL;
    }
    const char *p = list ? list : "";
    while (*p) {
        p += strspn(p, ", \t");
        size_t len = strcspn(p, ", \t");
        if (len == 0)
            break;
        if (parse_entry(p, len, &self->entries[self->n], why, why_size) != 0) {
            free(self);
            return NULL;
        }
        self->n++;
        p += len;
    }
    return self;
}

void cx_proxies_destroy(cx_proxies **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

size_t cx_proxies_count(const cx_proxies *self)
{
    return self ? self->n : 0;
}

static int trusted(const cx_proxies *self, const unsigned char a[16])
{
    for (size_t i = 0; self && i < self->n; i++) {
        const cidr *c = &self->entries[i];
        int whole = c->bits / 8, rest = c->bits % 8;
        if (memcmp(a, c->addr, (size_t) whole) != 0)
            continue;
        if (rest == 0 || ((a[whole] ^ c->addr[whole]) & (unsigned char) (0xff00u >> rest)) == 0)
            return 1;
    }
    return 0;
}

int cx_proxies_trusts(const cx_proxies *self, const char *addr)
{
    unsigned char a[16];
    return addr && parse_header_addr(addr, strlen(addr), a) && trusted(self, a);
}

int cx_proxies_client(const cx_proxies *self, const char *peer, const char *xff, const char *real_ip,
                      char *out, size_t out_size)
{
    unsigned char a[16], last[16];
    int have_peer = peer && parse_header_addr(peer, strlen(peer), a);
    if (!have_peer || !trusted(self, a)) {
        if (have_peer)
            canonical(a, out, out_size);
        else
            snprintf(out, out_size, "%s", peer ? peer : "");
        return 0;
    }
    memcpy(last, a, 16);
    int from_header = 0;
    if (xff && *xff) {
        /* Right to left: entries our proxies appended, up to the first one we do not trust. */
        size_t end = strlen(xff);
        while (end > 0) {
            size_t start = end;
            while (start > 0 && xff[start - 1] != ',')
                start--;
            if (!parse_header_addr(xff + start, end - start, a))
                break;   /* garbage: keep the last address a trusted proxy vouched for */
            memcpy(last, a, 16);
            from_header = 1;
            if (!trusted(self, a))
                break;
            end = start ? start - 1 : 0;
        }
    } else if (real_ip && parse_header_addr(real_ip, strlen(real_ip), a)) {
        memcpy(last, a, 16);
        from_header = 1;
    }
    canonical(last, out, out_size);
    return from_header;
}
