/*
 * main.c — chanx-gateway: command line, then run (common/process.c sets up signals).
 *
 *   chanx-gateway [--listen 127.0.0.1:8000] [--broker tcp://127.0.0.1:5555] [--database CONNINFO]
 *   chanx-gateway --check [host:port]     liveness probe: GET /healthz answers 200
 */
#include "common/env.h"
#include "common/link.h"
#include "common/process.h"
#include "common/log.h"
#include "common/metrics_http.h"
#include "gateway/metrics.h"
#include "gateway/gateway.h"
#include "gateway/shed.h"
#include "gateway/user_model.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int split_listen(const char *listen, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t) (colon - listen) >= hostlen)
        return -1;
    memcpy(host, listen, (size_t) (colon - listen));
    host[colon - listen] = '\0';
    *port = atoi(colon + 1);
    return *port > 0 && *port < 65536 ? 0 : -1;
}

/* A plain HTTP GET /healthz, for container healthchecks without curl. */
static int check(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
    struct timeval tv = { 2, 0 };
    char buf[256] = "";
    inet_pton(AF_INET, host, &addr.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *) &addr, sizeof addr) != 0)
        return 1;
    const char req[] = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    ssize_t n = write(fd, req, sizeof req - 1) > 0 ? read(fd, buf, sizeof buf - 1) : -1;
    close(fd);
    return n > 12 && strncmp(buf + 9, "200", 3) == 0 ? 0 : 1;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: chanx-gateway [--listen HOST:PORT] [--broker ENDPOINT] [--database CONNINFO] [--check]\n"
                 "  --listen HOST:PORT   (env CHANX_LISTEN, default 127.0.0.1:8000)\n"
                 "  --broker ENDPOINT    (env CHANX_BROKER, default " CX_DEFAULT_BROKER ")\n"
                 "  --database CONNINFO  libpq connection string or URI (env CHANX_DATABASE_URL)\n"
                 "  --check              exit 0 if the gateway at --listen answers /healthz with 200\n");
}

int main(int argc, char **argv)
{
    const char *listen = cx_env_str("CHANX_LISTEN", "127.0.0.1:8000");
    cx_gateway_config config = {
        .broker = cx_env_str("CHANX_BROKER", CX_DEFAULT_BROKER),
        .database = cx_env_str("CHANX_DATABASE_URL", "dbname=chanx"),
        .db_threads = (int) cx_env_long("CHANX_DB_POOL", 4, 1, 256),
        .max_message = (size_t) cx_env_long("CHANX_MAX_MESSAGE_BYTES", 1048576, 64, 1L << 30),
        .max_buffered = (size_t) cx_env_long("CHANX_MAX_BUFFERED_BYTES", 8388608, 1024, 1L << 34),
        .max_buffered_total = (size_t) cx_env_long("CHANX_GATEWAY_MAX_BUFFERED_TOTAL", (long) cx_shed_default_total(),
                                                    1L << 16, 1L << 40),
        .max_conns_per_user = (size_t) cx_env_long("CHANX_MAX_CONNECTIONS_PER_USER", 1000, 0, 1L << 24),
        .max_conns_per_address = (size_t) cx_env_long("CHANX_MAX_CONNECTIONS_PER_ADDRESS", 1000, 0, 1L << 24),
        .drain_ms = (int) cx_env_long("CHANX_DRAIN_MS", 5000, 0, 3600000),
        .playground = cx_env_flag("CHANX_PLAYGROUND", 0),
    };
    int probe = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strcmp(argv[i], "--broker") == 0 && i + 1 < argc)
            config.broker = argv[++i];
        else if (strcmp(argv[i], "--database") == 0 && i + 1 < argc)
            config.database = argv[++i];
        else if (strcmp(argv[i], "--check") == 0)
            probe = 1;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(stdout), 0;
        else
            return usage(stderr), 2;
    }
    char host[128];
    if (split_listen(listen, host, sizeof host, &config.port) != 0) {
        fprintf(stderr, "chanx-gateway: --listen wants HOST:PORT, got '%s'\n", listen);
        return 2;
    }
    if (probe)
        return check(host, config.port);
    if (cx_user_model_check() != 0)
        return 2;
    config.listen_host = host;
    volatile int *stop = cx_process_start("gateway");
    /* The one setting a Django deployment must not forget, and whose absence nothing else shows:
     * sessions still authenticate (trusted as stored), so say what is off. */
    if (!cx_env_str("CHANX_DJANGO_SECRET_KEY", NULL))
        cx_warn("CHANX_DJANGO_SECRET_KEY is not set: session cookies are not signature-checked (django_session "
                "rows are trusted as stored, a changed password does not log sessions out)%s",
                cx_env_str("CHANX_JWT_SECRET", NULL) ? "" : " and JWTs are refused");
    cx_metrics_http *metrics = NULL;
    cx_gw_metrics_init();
    if (cx_metrics_http_from_env(&metrics) != 0)
        return 1;
    int rc = cx_gateway_run(&config, stop);
    cx_metrics_http_destroy(&metrics);
    if (rc == 0)
        cx_info("gateway stopped");   /* as the broker and the API say: a supervisor's log shows the end */
    return rc == 0 ? 0 : 1;
}
