/*
 * main.c — chanx-api: the publish API as its own process.
 *
 *   chanx-api [--listen 127.0.0.1:8001]     (or CHANX_API_LISTEN)
 *
 * A separate process, not a part of the gateway or the broker: HTTP parsing
 * and JSON checking stay out of the broker's single thread, the API scales
 * and restarts on its own, and it listens where no public load balancer
 * points (see docs/events.md).
 */
#include "api/server.h"
#include "common/env.h"
#include "common/link.h"
#include "common/log.h"
#include "common/process.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: chanx-api [--listen HOST:PORT]\n"
                 "  --listen HOST:PORT  HTTP address (env CHANX_API_LISTEN, default 127.0.0.1:8001)\n"
                 "environment: CHANX_API_KEY (required to turn the API on), CHANX_API_MAX_BODY_BYTES (1 MiB),\n"
                 "  CHANX_API_TIMEOUT_MS (2000), CHANX_BROKER (default " CX_DEFAULT_BROKER ")\n");
}

int main(int argc, char **argv)
{
    cx_api_config config = {
        .listen = cx_env_str("CHANX_API_LISTEN", "127.0.0.1:8001"),
        .api_key = cx_env_str("CHANX_API_KEY", NULL),
        .max_body = (size_t) cx_env_long("CHANX_API_MAX_BODY_BYTES", 1L << 20, 64, 64L << 20),
        .timeout_ms = (int) cx_env_long("CHANX_API_TIMEOUT_MS", 2000, 10, 600000),
        .broker = cx_env_str("CHANX_BROKER", CX_DEFAULT_BROKER),
        .max_per_address = (int) cx_env_long("CHANX_API_MAX_CONNECTIONS_PER_ADDRESS", 64, 0, 1000),
        .head_timeout_secs = (int) cx_env_long("CHANX_API_HEAD_TIMEOUT_SECS", 10, 1, 3600),
    };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            config.listen = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    volatile int *stop = cx_process_start("api");
    cx_api_server *server = cx_api_server_new(&config);
    if (!server)
        return 1;
    int rc = cx_api_server_run(server, stop);
    cx_api_server_destroy(&server);
    cx_info("api stopped");
    return rc == 0 ? 0 : 1;
}
