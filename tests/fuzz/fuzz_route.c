/*
 * fuzz_route — compiling path() / re_path() patterns and matching request
 * paths (common/route.h). Input: the first byte picks the kind, then
 * pattern NUL path NUL raw-path. The pattern comes from plugins and routing
 * files, the paths from any client. A pattern that compiles must match its
 * own sample path.
 */
#include "common/route.h"
#include "tests/fuzz/fuzz.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    cx_route_kind kind = data[0] & 1 ? CX_ROUTE_REGEX : CX_ROUTE_PATH;
    fuzz_parts p;
    fuzz_split(data + 1, size - 1, 3, &p);
    char err[256] = "";
    cx_route *route = cx_route_new(kind, p.part[0], err, sizeof err);
    if (!route && !err[0])
        abort();
    if (route) {
        json_t *kwargs = NULL;
        cx_route_match(route, p.part[1], p.len[1], &kwargs);
        json_decref(kwargs);
        char *sample = cx_route_sample(route);
        if (sample) {
            kwargs = NULL;
            if (!cx_route_match(route, sample, strlen(sample), &kwargs))
                abort();   /* a route must match its own sample */
            json_decref(kwargs);
            free(sample);
        }
        (void) cx_route_hides(route, route);
        /* as a mount prefix of itself, and in a router that decodes raw paths */
        cx_route *joined = cx_route_join(route, route, err, sizeof err);
        cx_route_destroy(&joined);
        cx_router *router = cx_router_new();
        int added = cx_router_add(router, route, "fuzz.target") == 0;
        route = NULL;   /* the router owns it now, even on failure */
        if (added) {
            kwargs = NULL;
            cx_router_match(router, p.part[2], p.len[2], &kwargs);
            json_decref(kwargs);
            cx_router_find_hidden(router, err, sizeof err);
        }
        cx_router_destroy(&router);
    }
    char decoded[512];
    cx_path_decode(p.part[2], p.len[2], decoded, sizeof decoded);
    fuzz_free(&p, 3);
    return 0;
}
