/*
 * bench.h — what chanx-bench's parts share: the options, the client loop
 * and its connections, message scanning and result output.
 *
 * Design: one thread drives every connection from one epoll loop
 * (loop.c) with its own small WebSocket client (ws.c): no interpreter and no
 * allocation on the hot path, so the load generator costs the machine as
 * little as possible and the figures describe the server. A scenario
 * (echo.c, broadcast.c, storm.c, reconnect_storm.c) is a set of callbacks the loop calls when a
 * connection becomes usable, receives a text message or closes; scenarios
 * keep per-connection state in the fields the connection reserves for them.
 *
 * A connection is "open" when the server has authenticated it: the first
 * message is {"action":"authentication","payload":{"status_code":200,...}}
 * (Chanx and the Django peer both send it). Servers that send none (the bare
 * libwebsockets echo) are driven with --no-auth-message: open means 101.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "hist.h"

#define BENCH_MAX_PIDS 16

typedef struct {
    const char *scenario;
    const char *label;            /* server name in the output */
    const char *url;
    char host[256], port[8], path[1024];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char **tokens;                /* one "Authorization: Token" key per user */
    size_t ntokens;
    int connections;
    double duration;              /* seconds of measurement (connect: the cap) */
    int senders;                  /* broadcast */
    int missed;                   /* reconnect_storm: pushes each client misses */
    int idle;                     /* echo: extra connections held open and silent meanwhile */
    int concurrency;              /* handshakes in flight at once */
    int no_auth_message;
    int source_ips;               /* bind to 127.0.0.1 .. 127.0.0.N */
    double settle;                /* idle: seconds to wait before reading memory */
    int load_processes;           /* idle_scale: client processes sharing the connections */
    const char *gateway_ports;    /* idle_scale: "P1,P2,...", gateways on the URL's host */
    pid_t pids[BENCH_MAX_PIDS];   /* idle: memory; echo, broadcast: CPU per op */
    char pid_names[BENCH_MAX_PIDS][32];   /* "gateway" from --pids gateway=123, else the pid */
    int npids;
    int quiet;
    const char *window;           /* echo, broadcast: run as 'CMD start' / 'CMD stop' around the measurement */
    /* publish */
    const char *api, *api_key;    /* chanx-api's http://HOST:PORT and key */
    const char *publisher;        /* or a command reading one JSON command per line */
    const char *group, *action;
} bench_opts;

/* ------------------------------------------------------------- connections */

enum { CONN_IDLE, CONN_CONNECTING, CONN_UPGRADING, CONN_AUTHENTICATING, CONN_OPEN, CONN_CLOSED };

typedef struct {
    int fd;
    int state;
    uint32_t index;
    int http_status;
    int close_code;                 /* 0 while open; 1006 when dropped */
    unsigned char *rx;              /* bytes received but not yet parsed */
    size_t rx_len, rx_cap;
    unsigned char *msg;             /* fragments of a message being assembled */
    size_t msg_len, msg_cap;
    int msg_opcode;
    unsigned char *tx;              /* bytes not yet accepted by the socket */
    size_t tx_len, tx_cap;
    int want_write;
    uint32_t mask_seed;
    /* for the scenario */
    uint64_t t_start;               /* when connecting began */
    uint64_t t_sent;
    uint64_t seq;
} conn_t;

typedef struct loop loop_t;

typedef struct {
    void (*on_open)(loop_t *loop, conn_t *c, void *arg);
    void (*on_message)(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg);
    void (*on_close)(loop_t *loop, conn_t *c, void *arg);
    /* A message before the authentication one (a join's recovery frame and replay); NULL: dropped. */
    void (*on_early_message)(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg);
} loop_handlers;

typedef struct {
    uint64_t opened, failed, refused, auth_failed, closed_after_open;
} loop_stats;

/* n connections to the options' URL, none opened yet. */
loop_t *loop_new(const bench_opts *opts, int n, const loop_handlers *handlers, void *arg);
void loop_destroy(loop_t **self_p);
conn_t *loop_conn(loop_t *self, int i);
const loop_stats *loop_stats_of(const loop_t *self);
/* Starts opening connections [0, n), at most opts->concurrency in flight. */
void loop_open_all(loop_t *self);
/* Connections that opened or failed so far (of those asked for). */
int loop_settled(const loop_t *self);
/* Services the loop until deadline (ns), loop_stop, or until every
 * requested connection has settled when until_settled is set. */
void loop_run(loop_t *self, uint64_t deadline, int until_settled);
void loop_stop(loop_t *self);
/* Closed-loop senders 0..senders-1 until deadline, in 200 ms slices: after each, resend(loop, c, now,
 * arg) for every open sender whose last send (t_sent) is older than stall_ns (its own copy was lost),
 * counted in *stalls. */
void loop_run_senders(loop_t *self, uint64_t deadline, uint32_t senders, uint64_t stall_ns, uint64_t *stalls,
                      void (*resend)(loop_t *loop, conn_t *c, uint64_t now, void *arg), void *arg);
int conn_send_text(loop_t *self, conn_t *c, const char *text, size_t len);

/* ws.c: the WebSocket protocol on a connection, no I/O. */
size_t ws_request(const bench_opts *opts, const char *token, char *buf, size_t cap);
/* Parses the upgrade answer at the start of buf: >0 bytes of head consumed
 * (status in *status), 0 when incomplete, -1 when it is not HTTP. */
long ws_response(const unsigned char *buf, size_t len, int *status);
typedef struct {
    int fin, opcode;
    const unsigned char *payload;
    size_t len;                     /* payload length */
    size_t frame_len;               /* header + payload */
} ws_frame;
/* 1 with a complete frame at buf, 0 when incomplete, -1 on a protocol error. */
int ws_parse_frame(unsigned char *buf, size_t len, ws_frame *f);
/* Appends a masked client frame to out (which must have len + 14 bytes). */
size_t ws_write_frame(unsigned char *out, int opcode, const void *payload, size_t len, uint32_t mask);

/* ------------------------------------------------------------------ misc */

uint64_t now_ns(void);
/* 1 once SIGINT or SIGTERM arrived (main.c): loops end early. */
int bench_interrupted(void);
/* The string value of "key" in a JSON object text (no unescaping: the
 * values scanned here are plain), or NULL; *vlen gets its length. */
const char *json_str(const char *text, size_t len, const char *key, size_t *vlen);
/* The integer value of "key", or def. */
long json_int(const char *text, size_t len, const char *key, long def);
int json_action_is(const char *text, size_t len, const char *action);

/* proc.c: VmRSS and PSS in KiB and CPU seconds (user + system) of a process, -1 if gone. */
long proc_rss_kib(pid_t pid);
long proc_pss_kib(pid_t pid);
double proc_cpu_seconds(pid_t pid);

/* Scenarios: 0 when a result was printed, 1 on failure. */
int run_echo(const bench_opts *opts);
int run_broadcast(const bench_opts *opts);
int run_topics(const bench_opts *opts);
int run_repin(const bench_opts *opts);   /* repin.c */
int run_connect(const bench_opts *opts);
int run_idle(const bench_opts *opts);
int run_idle_scale(const bench_opts *opts);
int run_publish(const bench_opts *opts);
int run_recover(const bench_opts *opts);
int run_reconnect_storm(const bench_opts *opts);

/* Output: one JSON line (machine) and one "# ..." line (human) per result.
 * report_begin starts the JSON object with the fields common to all. */
typedef struct {
    char buf[4096];
    size_t len;
} report_t;
void report_begin(report_t *r, const bench_opts *opts, const loop_stats *stats);
void report_num(report_t *r, const char *key, double value);
void report_int(report_t *r, const char *key, long long value);
void report_latency(report_t *r, const char *prefix, const hist_t *h);
/* CPU of each --pids process since before[] (proc_cpu_snapshot), per op, and the machine's steal time
 * over the same window (steal_percent; a warning on stderr from 5%). */
void proc_cpu_snapshot(const bench_opts *opts, double *before);
void report_cpu(report_t *r, const bench_opts *opts, const double *before, uint64_t ops);
/* Runs --window's command with "start" or "stop" (nothing without --window); waits for it. */
void proc_window(const bench_opts *opts, const char *edge);
void report_end(report_t *r, const char *human_fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
