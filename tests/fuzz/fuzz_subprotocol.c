/*
 * fuzz_subprotocol — a client's Sec-WebSocket-Protocol list (RFC 6455
 * §4.1: 1#token), read by the gateway with lws's tokenizer
 * (cx_handshake_each_offer, gateway/handshake.h) and by the worker with
 * cx_subprotocol_choose on the list the gateway forwards (common/subprotocol.h).
 *
 * Input: the consumer's .subprotocols (names separated by spaces) NUL the
 * header's value. A list the gateway accepts is a list of tokens of at most
 * 63 bytes, exactly the comma-separated items of the header (an offer the
 * gateway saw that the client did not send, or split where the client did
 * not, would be chosen and echoed wrongly); and the worker, choosing on the
 * forwarded "a, b" list, picks what the gateway picked, so
 * chanx_subprotocol() names the subprotocol the client was answered with.
 */
#include "common/subprotocol.h"
#include "gateway/handshake.h"
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAMES 8

typedef struct {
    const char *name[64];
    size_t len[64];
    int n;
    int overflow;
} offers;

static void visit(const char *name, size_t len, void *arg)
{
    offers *o = arg;
    if (o->n == 64) {
        o->overflow = 1;
        return;
    }
    o->name[o->n] = name;
    o->len[o->n++] = len;
}

/* What lws's tokenizer skips between items: SP and HTAB (RFC 7230's OWS), and CR, LF and FF, which
 * a header value may not hold (lenient, and harmless: the names read are the same). */
static int is_ows(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parts p;
    fuzz_split(data, size, 2, &p);
    /* the consumer's names */
    const char *supported[MAX_NAMES + 1] = { 0 };
    int ns = 0;
    for (char *save = NULL, *t = strtok_r(p.part[0], " ", &save); t && ns < MAX_NAMES; t = strtok_r(NULL, " ", &save))
        supported[ns++] = t;
    const char *list = p.part[1];
    size_t len = p.len[1];

    const char *worker_raw = cx_subprotocol_choose(list, supported);
    if (worker_raw) {
        int known = 0;
        for (int i = 0; i < ns; i++)
            known |= worker_raw == supported[i];
        if (!known)
            abort();   /* chose a name the consumer does not declare */
    }

    offers o = { .n = 0 };
    if (cx_handshake_each_offer(list, len, visit, &o) == 0 && !o.overflow) {
        /* the offers are the comma-separated items, trimmed, each a token */
        const char *at = list, *end = list + len;
        for (int i = 0; i < o.n; i++) {
            if (!cx_subprotocol_is_token(o.name[i], o.len[i]) || o.len[i] > 63)
                abort();
            const char *comma = memchr(at, ',', (size_t) (end - at));
            const char *item = at, *item_end = comma ? comma : end;
            while (item < item_end && is_ows(*item))
                item++;
            while (item_end > item && is_ows(item_end[-1]))
                item_end--;
            if ((size_t) (item_end - item) != o.len[i] || memcmp(item, o.name[i], o.len[i]) != 0)
                abort();   /* the gateway read an offer the client did not make */
            at = comma ? comma + 1 : end;
        }
        for (; at < end; at++)
            if (!is_ows(*at))
                abort();   /* an item the gateway did not read */
        /* the gateway's choice: the first offer the consumer declares */
        const char *gateway = NULL;
        for (int i = 0; i < o.n && !gateway; i++)
            for (int k = 0; k < ns && !gateway; k++)
                if (strlen(supported[k]) == o.len[i] && memcmp(supported[k], o.name[i], o.len[i]) == 0)
                    gateway = supported[k];
        /* the worker's, on the list the gateway forwards */
        char forwarded[64 * 66 + 1] = "";
        size_t fl = 0;
        for (int i = 0; i < o.n; i++)
            fl += (size_t) snprintf(forwarded + fl, sizeof forwarded - fl, "%s%.*s", i ? ", " : "", (int) o.len[i],
                                    o.name[i]);
        if (cx_subprotocol_choose(forwarded, supported) != gateway)
            abort();   /* chanx_subprotocol() would name another subprotocol than the handshake's */
        if (!strpbrk(list, "\r\n\f") && worker_raw != gateway)
            abort();   /* the worker's own reading of the list (SP and HTAB trimmed) differs */
    }
    fuzz_free(&p, 2);
    return 0;
}
