/*
 * main.c — chanx-worker: command line, then run (common/process.c sets up signals).
 *
 *   chanx-worker [--broker tcp://127.0.0.1:5555] [--plugins DIR] [--routing FILE]
 *   chanx-worker --check     liveness probe: this host's worker is looping with a live broker link
 *
 * Environment: CHANX_BROKER, CHANX_PLUGINS, CHANX_ROUTING, CHANX_HEALTH_FILE
 * (see liveness.c), and the CHANX_* consumer defaults listed in docs/configuration.md.
 */
#include "common/env.h"
#include "common/link.h"
#include "common/process.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "workers/metrics.h"
#include "workers/liveness.h"
#include "workers/worker.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: chanx-worker [--broker ENDPOINT] [--plugins DIR] [--routing FILE]\n"
                 "  --broker ENDPOINT  broker to connect to (env CHANX_BROKER, default " CX_DEFAULT_BROKER ")\n"
                 "  --plugins DIR      folder of consumer plugins, *.so (env CHANX_PLUGINS, default ./plugins)\n"
                 "  --routing FILE     deployment routing file (env CHANX_ROUTING; default: ws/<plugin>/)\n"
                 "  --check            exit 0 if the worker using CHANX_HEALTH_FILE (default /tmp/chanx-worker.alive)\n"
                 "                     is alive with a broker link, 1 otherwise (for healthchecks)\n");
}

int main(int argc, char **argv)
{
    const char *endpoint = cx_env_str("CHANX_BROKER", CX_DEFAULT_BROKER);
    const char *dir = cx_env_str("CHANX_PLUGINS", "plugins");
    const char *routing = cx_env_str("CHANX_ROUTING", NULL);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--broker") == 0 && i + 1 < argc)
            endpoint = argv[++i];
        else if (strcmp(argv[i], "--plugins") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (strcmp(argv[i], "--routing") == 0 && i + 1 < argc)
            routing = argv[++i];
        else if (strcmp(argv[i], "--check") == 0)
            return cx_liveness_check();
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout), 0;
        else
            return usage(stderr), 2;
    }
    volatile int *stop = cx_process_start("worker");
    cx_worker_metrics_init();   /* before the plugins load: their loads and series are counted */
    char err[512];
    cx_plugin_set *plugins = cx_plugin_set_new(dir, routing, err, sizeof err);
    if (!plugins) {
        cx_error("%s", err);
        return 1;
    }
    cx_worker *worker = cx_worker_new(endpoint, plugins);
    if (!worker) {
        cx_plugin_set_destroy(&plugins);
        return 1;
    }
    cx_metrics_http *metrics = NULL;
    if (cx_metrics_http_from_env(&metrics) != 0) {
        cx_worker_destroy(&worker);
        cx_plugin_set_destroy(&plugins);
        return 1;
    }
    cx_info("worker serving %zu plugins from %s, broker %s", cx_plugin_set_count(plugins), dir, endpoint);
    int rc = cx_worker_run(worker, stop);
    cx_metrics_http_destroy(&metrics);
    cx_worker_destroy(&worker);
    cx_plugin_set_destroy(&plugins);
    if (rc == 0)
        cx_info("worker stopped");    /* as the broker and the API say: a supervisor's log shows the end */
    return rc == 0 ? 0 : 1;
}
