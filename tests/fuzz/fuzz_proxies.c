/*
 * fuzz_proxies — CHANX_TRUSTED_PROXIES and the X-Forwarded-For walk
 * (gateway/proxies.h). Input: list NUL peer NUL X-Forwarded-For NUL
 * X-Real-IP. Whatever the headers say, an untrusted peer keeps its own
 * address, and the result is always an address (or the peer's text).
 */
#include "gateway/proxies.h"
#include "tests/fuzz/fuzz.h"

#include <arpa/inet.h>
#include <stdlib.h>

static int is_address(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parts p;
    fuzz_split(data, size, 4, &p);
    char why[160] = "", out[64], peer[64];
    cx_proxies *proxies = cx_proxies_new(p.part[0], why, sizeof why);
    if (!proxies && !why[0])
        abort();
    /* a list that fails to parse still leaves a gateway that trusts nobody: the walk must hold then too */
    int from_header = cx_proxies_client(proxies, p.part[1], p.part[2], p.part[3], out, sizeof out);
    int trusted = cx_proxies_trusts(proxies, p.part[1]);
    if (!trusted && from_header)
        abort();   /* an untrusted peer chose its own address */
    if (from_header && !is_address(out))
        abort();
    if (cx_proxies_address(p.part[1], p.len[1], peer, sizeof peer)) {
        if (!is_address(peer))
            abort();
        if (!trusted && strcmp(out, peer) != 0)
            abort();
    }
    cx_proxies_destroy(&proxies);
    fuzz_free(&p, 4);
    return 0;
}
