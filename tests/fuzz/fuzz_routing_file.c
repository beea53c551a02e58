/*
 * fuzz_routing_file — the deployment routing file (workers/routing_file.h),
 * written by hand by whoever deploys. Input: the file's text. It is written
 * to a private folder next to a second file, so "include file:" lines can
 * nest (file:b.routes, file:a.routes makes a cycle) against the plugins
 * "chat" and "echo".
 */
#include "workers/routing_file.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], path_a[96], path_b[96];

static const cx_plugin_route CHAT[] = { { "room", CX_ROUTE_PATH, "<str:room>/" }, { "lobby", CX_ROUTE_PATH, "" },
                                        { "ver", CX_ROUTE_REGEX, "^v(?P<v>[0-9]+)/$" } };
static const cx_plugin_route ECHO[] = { { "echo", CX_ROUTE_PATH, "" } };
static const cx_plugin_routes PLUGINS[] = { { "chat", CHAT, 3, 0 }, { "echo", ECHO, 1, 0 } };

static void write_file(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
}

static void remove_dir(void)
{
    unlink(path_a);
    unlink(path_b);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        atexit(remove_dir);
        snprintf(dir, sizeof dir, "/tmp/chanx-fuzz-routing-%d", (int) getpid());
        if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0)
            abort();
        snprintf(path_a, sizeof path_a, "%s/a.routes", dir);
        snprintf(path_b, sizeof path_b, "%s/b.routes", dir);
        static const char B[] = "ws/b/ include chat\nre:^ws/x/ include file:a.routes\n";
        write_file(path_b, B, sizeof B - 1);
    }
    write_file(path_a, data, size);
    char err[512] = "";
    cx_router *router = cx_routing_file_load(path_a, PLUGINS, 2, err, sizeof err);
    if (!router && !err[0])
        abort();   /* a refusal always says where and why */
    if (router) {
        json_t *kwargs = NULL;
        cx_router_match(router, "/ws/chat/lobby/", 15, &kwargs);
        json_decref(kwargs);
        cx_router_destroy(&router);
    }
    return 0;
}
