/*
 * main.c — chanx-broker: command line, then run (common/process.c sets up signals).
 *
 *   chanx-broker [--bind tcp://127.0.0.1:5555]     (or CHANX_BROKER)
 *   chanx-broker --check [endpoint]                 liveness probe for healthchecks
 */
#include "broker/broker.h"
#include "common/env.h"
#include "common/process.h"
#include "common/link.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "broker/metrics.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: chanx-broker [--bind ENDPOINT] [--check]\n"
                 "  --bind ENDPOINT  ZeroMQ endpoint to bind (env CHANX_BROKER, default " CX_DEFAULT_BROKER ")\n"
                 "  --check          exit 0 if a broker answers at ENDPOINT within 2 s, 1 otherwise\n");
}

/* A HELLO-less HEARTBEAT makes a live broker answer with HELLO ("who are you?"). */
static int check(const char *endpoint)
{
    char node[64];
    snprintf(node, sizeof node, "probe-%d", (int) getpid());
    cx_link *link = cx_link_new(endpoint, (cx_role) 0, node);   /* 0: the probe, with the broker's own key */
    if (!link)
        return 1;
    cx_env beat = { .type = CX_ENV_HEARTBEAT }, env;
    cx_link_send(link, &beat);
    int alive = 0;
    for (int64_t deadline = cx_now_ms() + 2000; !alive && cx_now_ms() < deadline;) {
        alive = cx_link_recv(link, &env) != CX_LINK_NONE;
        if (!alive)
            zclock_sleep(20);
    }
    cx_link_destroy(&link);
    if (!alive) {   /* a healthcheck's log shows this line: say what was asked, and the usual cause */
        const char *keys = getenv("CHANX_CURVE_DIR");
        fprintf(stderr, "chanx-broker --check: no broker answered at %s within 2 s%s\n", endpoint,
                keys && *keys ? "" : " (without CHANX_CURVE_DIR the probe speaks plain ZeroMQ, which a broker "
                                     "with CURVE keys does not answer)");
    }
    return alive ? 0 : 1;
}

int main(int argc, char **argv)
{
    const char *endpoint = cx_env_str("CHANX_BROKER", CX_DEFAULT_BROKER), *listed = endpoint;
    int probe = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bind") == 0 && i + 1 < argc) {
            endpoint = argv[++i];
        } else if (strcmp(argv[i], "--check") == 0) {
            probe = 1;
            if (i + 1 < argc && argv[i + 1][0] != '-')
                endpoint = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    volatile int *stop = cx_process_start("broker");
    if (probe)
        return check(endpoint);
    char first[512];   /* CHANX_BROKER may list a standby too: this broker binds the first (a standby: --bind) */
    snprintf(first, sizeof first, "%.*s", (int) strcspn(endpoint, ", "), endpoint);
    endpoint = first;
    cx_broker *broker = cx_broker_new(endpoint);
    if (!broker)
        return 1;
    /* A standby: bound to an endpoint CHANX_BROKER lists after the first, it copies the primary's group
     * histories so that a failover keeps them (standby.c). */
    char primary[512];
    snprintf(primary, sizeof primary, "%.*s", (int) strcspn(listed, ", "), listed);
    if (strcmp(primary, endpoint) != 0 && strstr(listed, endpoint) && cx_broker_follow(broker, primary) != 0) {
        cx_broker_destroy(&broker);
        return 1;
    }
    cx_metrics_http *metrics = NULL;
    cx_broker_metrics_init();
    if (cx_metrics_http_from_env(&metrics) != 0) {
        cx_broker_destroy(&broker);
        return 1;
    }
    cx_info("broker listening on %s", endpoint);
    int rc = cx_broker_run(broker, stop);
    cx_metrics_http_destroy(&metrics);
    cx_broker_destroy(&broker);
    cx_info("broker stopped");
    return rc == 0 ? 0 : 1;
}
