/*
 * main.c — chanx-worker: command line, then a supervisor (workers/supervisor.c)
 * that runs the worker processes, or one of those worker processes.
 *
 *   chanx-worker [--broker tcp://127.0.0.1:5555] [--plugins DIR] [--routing FILE]
 *   chanx-worker --check     liveness probe: this host's worker is looping with a live broker link
 *
 * The supervisor loads no plugin code: it starts CHANX_WORKER_PROCESSES
 * worker processes (this program again, with --worker-process NODE --slot N
 * --crash-fd FD [--only FILE] [--quarantine DIGEST]..., not for people
 * to type) and restarts one that dies. With CHANX_ISOLATE=plugin it runs
 * CHANX_WORKER_PROCESSES of them per plugin file, each loading only that
 * file (--only; workers/isolation.c). With
 * CHANX_WORKER_PROCESSES=0 the program is itself the only worker process,
 * unsupervised (for gdb or valgrind on a plugin).
 *
 * Environment: CHANX_BROKER, CHANX_PLUGINS, CHANX_ROUTING, CHANX_HEALTH_FILE
 * (see liveness.c), CHANX_WORKER_PROCESSES, CHANX_ISOLATE, CHANX_CRASH_QUARANTINE and the
 * CHANX_* consumer defaults listed in docs/configuration.md.
 */
#include "common/env.h"
#include "common/link.h"
#include "common/process.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "workers/crash_report.h"
#include "workers/plugins.h"
#include "workers/metrics.h"
#include "workers/liveness.h"
#include "workers/supervisor.h"
#include "workers/worker.h"

#include <czmq.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: chanx-worker [--broker ENDPOINT] [--plugins DIR] [--routing FILE]\n"
                 "  --broker ENDPOINT  broker to connect to (env CHANX_BROKER, default " CX_DEFAULT_BROKER ")\n"
                 "  --plugins DIR      folder of consumer plugins, *.so (env CHANX_PLUGINS, default ./plugins)\n"
                 "  --routing FILE     deployment routing file (env CHANX_ROUTING; default: ws/<plugin>/)\n"
                 "  --check            exit 0 if the worker using CHANX_HEALTH_FILE (default $XDG_RUNTIME_DIR/chanx-worker.alive)\n"
                 "                     is alive with a broker link, 1 otherwise (for healthchecks)\n"
                 "CHANX_WORKER_PROCESSES (default 1) worker processes run the plugins; this process supervises them\n"
                 "and restarts one that crashes. 0: no supervisor, this process runs the plugins itself.\n"
                 "CHANX_ISOLATE=plugin: that many worker processes per plugin file, each running only that plugin\n"
                 "(default off: the worker processes share the plugins).\n");
}

typedef struct {
    const char *endpoint, *dir, *routing;
    const char *supervisor;   /* --worker-process: the supervisor's node name; NULL in the supervisor */
    const char *only;         /* --only: the one plugin file this worker process loads (CHANX_ISOLATE=plugin) */
    int slot, crash_fd;
} options;

/* Worker process n > 0 serves its metrics on CHANX_METRICS_LISTEN's port + n: one port cannot be bound twice. */
static void offset_metrics_port(int slot)
{
    const char *listen = getenv("CHANX_METRICS_LISTEN");
    const char *colon = listen ? strrchr(listen, ':') : NULL;
    if (slot <= 0 || !colon)
        return;
    char moved[300];
    snprintf(moved, sizeof moved, "%.*s:%ld", (int) (colon - listen), listen, atol(colon + 1) + slot);
    setenv("CHANX_METRICS_LISTEN", moved, 1);
}

/* One worker process: the plugins, the consumers and a broker link (workers/worker.c). */
static int run_worker(const options *o)
{
    volatile int *stop = cx_process_start("worker");
    if (o->crash_fd >= 0)
        fcntl(o->crash_fd, F_SETFD, FD_CLOEXEC);   /* ours only, not programs a plugin runs */
    cx_crash_report_install(o->crash_fd);
    offset_metrics_port(o->slot);
    char node[240];
    if (o->supervisor)
        snprintf(node, sizeof node, "%s-%d", o->supervisor, (int) getpid());
    cx_worker_metrics_init();   /* before the plugins load: their loads and series are counted */
    char err[512];
    cx_plugin_set *plugins = cx_plugin_set_new(o->dir, o->routing, o->only, err, sizeof err);
    if (!plugins) {
        cx_error("%s", err);
        return CX_WORKER_EXIT_CONFIG;
    }
    cx_worker *worker = cx_worker_new(o->endpoint, o->supervisor ? node : NULL, plugins);
    if (!worker) {
        cx_plugin_set_destroy(&plugins);
        return CX_WORKER_EXIT_CONFIG;
    }
    cx_metrics_http *metrics = NULL;
    if (cx_metrics_http_from_env(&metrics) != 0) {
        cx_worker_destroy(&worker);
        cx_plugin_set_destroy(&plugins);
        return CX_WORKER_EXIT_CONFIG;
    }
    cx_info("worker serving %zu plugins from %s, broker %s", cx_plugin_set_count(plugins), o->dir, o->endpoint);
    int rc = cx_worker_run(worker, stop);
    cx_metrics_http_destroy(&metrics);
    cx_worker_destroy(&worker);
    cx_plugin_set_destroy(&plugins);
    if (rc == 0)
        cx_info("worker stopped");    /* as the broker and the API say: a supervisor's log shows the end */
    return rc == 0 ? 0 : 1;
}

static int run_supervisor(const options *o, int processes, int isolate)
{
    volatile int *stop = cx_process_start("worker-supervisor");
    cx_supervisor *supervisor = cx_supervisor_new(&(cx_supervisor_options) {
        .endpoint = o->endpoint, .plugins = o->dir, .routing = o->routing, .processes = processes,
        .isolate = isolate });
    if (!supervisor)
        return 1;
    int rc = cx_supervisor_run(supervisor, stop);
    cx_supervisor_destroy(&supervisor);
    if (rc == 0)
        cx_info("worker supervisor stopped");
    return rc;
}

/* CHANX_ISOLATE: 0 "off" (the default), 1 "plugin"; -1 (said on stderr) for anything else. */
static int isolation(void)
{
    const char *isolate = cx_env_str("CHANX_ISOLATE", "off");
    if (strcmp(isolate, "off") == 0 || !*isolate)
        return 0;
    if (strcmp(isolate, "plugin") == 0)
        return 1;
    fprintf(stderr, "chanx-worker: CHANX_ISOLATE=%s: expected off or plugin\n", isolate);
    return -1;
}

int main(int argc, char **argv)
{
    options o = { .endpoint = cx_env_str("CHANX_BROKER", CX_DEFAULT_BROKER), .dir = cx_env_str("CHANX_PLUGINS", "plugins"),
                  .routing = cx_env_str("CHANX_ROUTING", NULL), .crash_fd = -1 };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--broker") == 0 && i + 1 < argc)
            o.endpoint = argv[++i];
        else if (strcmp(argv[i], "--plugins") == 0 && i + 1 < argc)
            o.dir = argv[++i];
        else if (strcmp(argv[i], "--routing") == 0 && i + 1 < argc)
            o.routing = argv[++i];
        else if (strcmp(argv[i], "--worker-process") == 0 && i + 1 < argc)
            o.supervisor = argv[++i];
        else if (strcmp(argv[i], "--slot") == 0 && i + 1 < argc)
            o.slot = atoi(argv[++i]);
        else if (strcmp(argv[i], "--crash-fd") == 0 && i + 1 < argc)
            o.crash_fd = atoi(argv[++i]);
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            o.only = argv[++i];
        else if (strcmp(argv[i], "--quarantine") == 0 && i + 1 < argc)
            cx_plugin_quarantine(argv[++i]);   /* a version the supervisor quarantined */
        else if (strcmp(argv[i], "--check") == 0)
            return cx_liveness_check();
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout), 0;
        else
            return usage(stderr), 2;
    }
    int processes = (int) cx_env_long("CHANX_WORKER_PROCESSES", 1, 0, 64), isolate = isolation();
    if (isolate < 0)
        return 2;
    if (isolate && processes == 0 && !o.supervisor)
        cx_warn("CHANX_ISOLATE=plugin needs a supervisor: with CHANX_WORKER_PROCESSES=0 this one process runs "
                "every plugin");
    if (o.supervisor || processes == 0) {
        int rc = run_worker(&o);
        return rc == CX_WORKER_EXIT_CONFIG && !o.supervisor ? 1 : rc;
    }
    return run_supervisor(&o, processes, isolate);
}
