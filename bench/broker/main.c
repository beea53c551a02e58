/*
 * chanx-bench-broker (also `chanx-bench broker`) — the ceiling of one
 * broker, loaded by fake gateways and workers that speak the envelopes
 * directly, so no WebSocket, JSON or consumer cost hides the broker's own.
 *
 *   chanx-bench-broker [--broker ENDPOINT] [--pid BROKER_PID] [-n CONNECTIONS]
 *                      [--groups-per-connection M] [--room-size R] [--gateways K]
 *                      [--workers W] [--window N] [--duration S] [--steps N]
 *                      [--fanout 1,10,100,...] [--label NAME] [--history N] [--held G,M,B]
 *
 * Design: main.c runs the phases of phases.c in order and turns what the
 * broker's /proc says around each into figures: its CPU per envelope (the
 * sum of its threads' schedstat run time, so its ZeroMQ I/O thread counts
 * too) and its resident memory per connection and per membership. Together
 * they say what one core buys whatever the load generator managed: the
 * broker's utilisation is in every result, and the ceiling is 1 s divided
 * by the CPU per envelope. Output, like chanx-bench: one JSON line per
 * result and a "# " line for people, on stdout.
 *
 * The connections and memberships are announced in --steps stages; after
 * each, a short round-trip run shows whether what the broker holds slows
 * what it routes (broker_held). Then the full runs: broker_route (client
 * message to its worker and the reply back), broker_fanout per group size,
 * broker_connect, broker_join, broker_gateway_lost (one gateway's link cut: the broker's CPU to end
 * that gateway's connections, in slices between other work) and broker_disconnect. With --held, only
 * broker_history_memory (phases.c, bl_held): what holding G groups' histories costs.
 */
#include "bench/broker/load.h"
#include "common/env.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ------------------------------------------------------------- the broker, from /proc */

typedef struct {
    uint64_t wall_ns, broker_cpu_ns, self_cpu_ns;
    long rss_kib;
} snap;

/* The broker's threads' CPU time (ns): schedstat's first field, per task. */
static uint64_t broker_cpu_ns(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int) pid);
    DIR *d = opendir(path);
    uint64_t total = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char file[300];
        snprintf(file, sizeof file, "/proc/%d/task/%s/schedstat", (int) pid, e->d_name);
        FILE *f = fopen(file, "r");
        unsigned long long ns;
        if (f && fscanf(f, "%llu", &ns) == 1)
            total += ns;
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return total;
}

static long rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kib = atol(line + 6);
    if (f)
        fclose(f);
    return kib;
}

static snap take(const bl_load *b)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    snap s = { .wall_ns = bl_now_ns(),
               .self_cpu_ns = (uint64_t) (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000u
                              + (uint64_t) (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000u };
    if (b->broker_pid) {
        s.broker_cpu_ns = broker_cpu_ns(b->broker_pid);
        s.rss_kib = rss_kib(b->broker_pid);
    }
    return s;
}

/* ------------------------------------------------------------- output */

static char line[4096];
static size_t used;
static const char *label, *links;

static void put(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void put(const char *fmt, ...)
{
    if (used >= sizeof line)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + used, sizeof line - used, fmt, ap);
    va_end(ap);
    if (n > 0)
        used += (size_t) n;
}

static void begin(const char *scenario, const bl_load *b)
{
    used = 0;
    put("{\"scenario\":\"%s\",\"server\":\"%s\",\"links\":\"%s\",\"gateways\":%d,\"workers\":%d,"
        "\"connections\":%llu,\"memberships\":%llu", scenario, label, links, b->ngateways, b->nworkers,
        (unsigned long long) (b->connects_seen - b->disconnects_seen - b->gone_seen),
        (unsigned long long) (b->disconnects_seen ? 0 : b->joins_seen - b->memberships_gone));
}
static void num(const char *key, double v) { put(",\"%s\":%.3f", key, v); }
static void integer(const char *key, long long v) { put(",\"%s\":%lld", key, v); }

/* The broker's side of a phase: CPU per item and per envelope it received, its share of a core. */
static void cpu(const bl_load *b, const snap *s0, const snap *s1, uint64_t items, uint64_t envelopes_in,
                uint64_t envelopes_out)
{
    double wall = (double) (s1->wall_ns - s0->wall_ns) / 1e9;
    integer("envelopes_in", (long long) envelopes_in);
    integer("envelopes_out", (long long) envelopes_out);
    num("seconds", wall);
    num("envelopes_in_per_s", wall > 0 ? (double) envelopes_in / wall : 0);
    num("load_cpu_util", wall > 0 ? (double) (s1->self_cpu_ns - s0->self_cpu_ns) / 1e9 / wall : 0);
    if (!b->broker_pid)
        return;
    double used_s = (double) (s1->broker_cpu_ns - s0->broker_cpu_ns) / 1e9;
    num("broker_cpu_util", wall > 0 ? used_s / wall : 0);
    num("broker_cpu_us_per_item", items ? used_s * 1e6 / (double) items : 0);
    num("broker_cpu_us_per_envelope", envelopes_in ? used_s * 1e6 / (double) envelopes_in : 0);
    num("ceiling_items_per_s", used_s > 0 ? (double) items / used_s : 0);
    num("ceiling_envelopes_in_per_s", used_s > 0 ? (double) envelopes_in / used_s : 0);
    integer("broker_rss_kib", s1->rss_kib);
}

static void latency(const hist_t *h)
{
    num("latency_p50_ms", (double) hist_quantile(h, 0.50) / 1e6);
    num("latency_p99_ms", (double) hist_quantile(h, 0.99) / 1e6);
    num("latency_max_ms", h->total ? (double) h->max / 1e6 : 0);
}

static void end(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void end(const char *fmt, ...)
{
    put("}");
    printf("%s\n# ", line);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static double util(const snap *s0, const snap *s1)
{
    return s1->wall_ns > s0->wall_ns
               ? (double) (s1->broker_cpu_ns - s0->broker_cpu_ns) / (double) (s1->wall_ns - s0->wall_ns) : 0;
}
static double per_s(uint64_t n, const snap *s0, const snap *s1)
{
    return (double) n * 1e9 / (double) (s1->wall_ns - s0->wall_ns);
}
static double ceiling(uint64_t n, const snap *s0, const snap *s1)
{
    return s1->broker_cpu_ns > s0->broker_cpu_ns ? (double) n * 1e9 / (double) (s1->broker_cpu_ns - s0->broker_cpu_ns)
                                                 : 0;
}

/* ------------------------------------------------------------- the run */

typedef struct {
    snap t0, t1;
    uint64_t items;
    long rss_delta_kib;
    uint64_t cpu_ns, wall_ns, self_ns;
} total;

static void add(total *t, const snap *s0, const snap *s1, uint64_t items)
{
    t->items += items;
    t->rss_delta_kib += s1->rss_kib - s0->rss_kib;
    t->cpu_ns += s1->broker_cpu_ns - s0->broker_cpu_ns;
    t->wall_ns += s1->wall_ns - s0->wall_ns;
    t->self_ns += s1->self_cpu_ns - s0->self_cpu_ns;
}

/* A counted phase's result from its summed steps (the snaps' differences are what cpu() reads). */
static void counted(const char *scenario, const bl_load *b, const total *t, uint64_t in, uint64_t out,
                    const char *per, const char *human)
{
    snap s0 = { 0 }, s1 = { .wall_ns = t->wall_ns, .broker_cpu_ns = t->cpu_ns, .self_cpu_ns = t->self_ns,
                            .rss_kib = rss_kib(b->broker_pid) };
    begin(scenario, b);
    cpu(b, &s0, &s1, t->items, in, out);
    num("items_per_s", t->wall_ns ? (double) t->items * 1e9 / (double) t->wall_ns : 0);
    if (per && b->broker_pid)
        num(per, t->items ? (double) t->rss_delta_kib * 1024.0 / (double) t->items : 0);
    end("%s: %llu in %.2f s, %.0f/s; broker %.0f%% of a core, %.2f us each: %.0f/s on a whole core",
        human, (unsigned long long) t->items, (double) t->wall_ns / 1e9,
        t->wall_ns ? (double) t->items * 1e9 / (double) t->wall_ns : 0,
        t->wall_ns ? 100.0 * (double) t->cpu_ns / (double) t->wall_ns : 0,
        t->items ? (double) t->cpu_ns / 1e3 / (double) t->items : 0,
        t->cpu_ns ? (double) t->items * 1e9 / (double) t->cpu_ns : 0);
    if (per && b->broker_pid)
        printf("# %s: broker resident memory grew %ld KiB, %.0f bytes each\n", human, t->rss_delta_kib,
               t->items ? (double) t->rss_delta_kib * 1024.0 / (double) t->items : 0);
}

static int route(bl_load *b, double duration, const char *scenario, int step)
{
    double secs;
    uint64_t rt0 = b->sends_seen;
    snap s0 = take(b);
    if (bl_route(b, duration, &secs) != 0)
        return -1;
    snap s1 = take(b);
    uint64_t rt = b->sends_seen - rt0;
    begin(scenario, b);
    if (step)
        integer("step", step);
    integer("round_trips", (long long) rt);
    num("round_trips_per_s", per_s(rt, &s0, &s1));
    latency(&b->latency);
    /* a round trip is RECEIVE in and out, then SEND in and out */
    cpu(b, &s0, &s1, rt, 2 * rt, 2 * rt);
    end("%s%s: %llu connections, %llu memberships held: %.0f round trips/s (%.0f envelopes/s through the broker), "
        "p99 %.2f ms; broker %.0f%% of a core, %.2f us per envelope: %.0f envelopes/s on a whole core",
        scenario, step ? " (step)" : "", (unsigned long long) b->announced, (unsigned long long) b->joins_seen,
        per_s(rt, &s0, &s1), per_s(2 * rt, &s0, &s1), (double) hist_quantile(&b->latency, 0.99) / 1e6,
        100 * util(&s0, &s1), rt ? (double) (s1.broker_cpu_ns - s0.broker_cpu_ns) / 1e3 / (double) (2 * rt) : 0,
        ceiling(2 * rt, &s0, &s1));
    return 0;
}

static int fanout(bl_load *b, int f, double duration)
{
    double secs;
    uint64_t sent0 = b->gsends_sent, env0 = b->gsend_envelopes, del0 = b->deliveries, done0 = b->gsends_complete;
    snap s0 = take(b);
    if (bl_fanout(b, f, duration, &secs) != 0)
        return -1;
    snap s1 = take(b);
    uint64_t sends = b->gsends_sent - sent0, envs = b->gsend_envelopes - env0, dels = b->deliveries - del0;
    int holding = 0;
    uint64_t members = 0;
    for (int g = 0; g < b->ngateways; g++) {
        holding += b->fan_members[f][g] > 0;
        members += b->fan_members[f][g];
    }
    begin("broker_fanout", b);
    integer("group_size", (long long) members);
    integer("gateways_holding", holding);
    integer("group_sends", (long long) sends);
    integer("complete", (long long) (b->gsends_complete - done0));
    integer("gateway_envelopes", (long long) envs);
    integer("deliveries", (long long) dels);
    num("group_sends_per_s", per_s(sends, &s0, &s1));
    num("deliveries_per_s", per_s(dels, &s0, &s1));
    latency(&b->latency);
    cpu(b, &s0, &s1, sends, sends, envs);
    end("fan-out to a group of %llu on %d gateways: %.0f group sends/s in, %.0f envelopes/s out, %.0f deliveries/s; "
        "p99 %.2f ms; broker %.0f%% of a core, %.2f us per group send: %.0f group sends/s (%.0f deliveries/s) on a "
        "whole core", (unsigned long long) members, holding, per_s(sends, &s0, &s1), per_s(envs, &s0, &s1),
        per_s(dels, &s0, &s1), (double) hist_quantile(&b->latency, 0.99) / 1e6, 100 * util(&s0, &s1),
        sends ? (double) (s1.broker_cpu_ns - s0.broker_cpu_ns) / 1e3 / (double) sends : 0, ceiling(sends, &s0, &s1),
        ceiling(dels, &s0, &s1));
    return 0;
}

/* A gateway dies holding a quarter of the connections (K = 4): what its removal costs the broker. It
 * ends them in slices between other work (broker/endings.c): the CPU here is their sum, not a pause. */
static int lose_gateway(bl_load *b)
{
    int g = b->ngateways - 1;
    uint64_t gone = 0;
    for (uint64_t i = (uint64_t) g; i < b->announced; i += (uint64_t) b->ngateways)
        gone++;
    uint64_t memberships = gone * (uint64_t) b->groups_per_conn;
    for (int f = 0; f < b->nfan; f++)
        memberships += b->fan_members[f][g];
    double secs;
    snap s0 = take(b);
    if (bl_lose_gateway(b, &secs) != 0)
        return -1;
    snap s1 = take(b);
    b->memberships_gone = memberships;
    double cpu_ms = (double) (s1.broker_cpu_ns - s0.broker_cpu_ns) / 1e6;
    double stall_ms = (double) (b->gone_last_ns - b->gone_first_ns) / 1e6;
    begin("broker_gateway_lost", b);
    integer("connections_lost", (long long) gone);
    integer("memberships_lost", (long long) memberships);
    num("detected_after_ms", (double) (b->gone_first_ns - s0.wall_ns) / 1e6);
    num("burst_ms", stall_ms);
    if (b->broker_pid) {
        num("broker_cpu_ms", cpu_ms);
        num("broker_cpu_us_per_connection", gone ? cpu_ms * 1e3 / (double) gone : 0);
    }
    end("gateway lost with %llu connections (%llu memberships): noticed after %.0f ms (heartbeat timeout), its "
        "connections' DISCONNECT 1006 reached the workers over %.1f ms; broker CPU %.1f ms in all (%.2f us "
        "per connection), in slices of about 2 ms between other work (the broker's log line \"lost peer's "
        "connections ended\" gives the longest)", (unsigned long long) gone,
        (unsigned long long) memberships, (double) (b->gone_first_ns - s0.wall_ns) / 1e6, stall_ms, cpu_ms,
        gone ? cpu_ms * 1e3 / (double) gone : 0);
    return 0;
}

/* --held G,M,B alone: the broker's memory per held message, and per G groups of M messages of B bytes
 * (issue 25: 1,000 topics of 100 messages of 200 bytes), with its CPU per held group send. */
static int held(bl_load *b)
{
    double secs;
    if (bl_connect(b, b->connections, &secs) != 0)
        return -1;
    usleep(200000);
    uint64_t sends = 0;
    snap s0 = take(b);
    if (bl_held(b, &sends) != 0)
        return -1;
    usleep(200000);   /* the broker's last allocations are in before its memory is read */
    snap s1 = take(b);
    s1.rss_kib = rss_kib(b->broker_pid);
    double bytes = (double) (s1.rss_kib - s0.rss_kib) * 1024.0, per = sends ? bytes / (double) sends : 0;
    begin("broker_history_memory", b);
    integer("groups", (long long) b->held_groups);
    integer("messages_per_group", b->held_messages);
    integer("message_bytes", b->held_bytes);
    integer("held_messages", (long long) sends);
    cpu(b, &s0, &s1, sends, sends, sends);
    if (b->broker_pid) {
        num("broker_bytes_per_held_message", per);
        num("broker_mb", bytes / 1e6);
    }
    end("history: %llu groups x %u messages of %u bytes held: broker resident memory grew %.1f MB, %.0f bytes per "
        "held message; %.2f us of broker CPU per held group send", (unsigned long long) b->held_groups,
        b->held_messages, b->held_bytes, bytes / 1e6, per,
        sends ? (double) (s1.broker_cpu_ns - s0.broker_cpu_ns) / 1e3 / (double) sends : 0);
    return 0;
}

static int run(bl_load *b)
{
    total conn = { 0 }, join = { 0 };
    double secs;
    usleep(300000);   /* the introductions settle */
    if (b->held_groups)
        return held(b);
    snap start = take(b);
    for (int step = 1; step <= b->steps; step++) {
        uint64_t from = b->announced, upto = b->connections * (uint64_t) step / (uint64_t) b->steps;
        uint64_t j0 = b->joins_seen;
        snap s0 = take(b);
        if (bl_connect(b, upto, &secs) != 0)
            return -1;
        snap s1 = take(b);
        add(&conn, &s0, &s1, upto - from);
        if (bl_join(b, from, upto, &secs) != 0)
            return -1;
        snap s2 = take(b);
        add(&join, &s1, &s2, b->joins_seen - j0);
        if (step < b->steps && route(b, b->duration / 3, "broker_held", step) != 0)
            return -1;
    }
    if (bl_join_fanout(b, &secs) != 0)
        return -1;
    snap held = take(b);
    counted("broker_connect", b, &conn, conn.items, conn.items, "bytes_per_connection", "connect");
    counted("broker_join", b, &join, join.items, join.items, "bytes_per_membership", "join");
    if (b->broker_pid)
        printf("# held: %llu connections, %llu memberships; broker resident memory %ld KiB (%ld KiB before)\n",
               (unsigned long long) b->announced, (unsigned long long) b->joins_seen, held.rss_kib, start.rss_kib);
    if (route(b, b->duration, "broker_route", 0) != 0)
        return -1;
    for (int f = 0; f < b->nfan; f++)
        if (b->fan_sizes[f] <= b->announced && fanout(b, f, b->duration) != 0)
            return -1;
    if (lose_gateway(b) != 0)
        return -1;
    total gone = { 0 };
    snap s0 = take(b);
    if (bl_disconnect(b, &secs) != 0)
        return -1;
    snap s1 = take(b);
    add(&gone, &s0, &s1, b->disconnects_seen);
    usleep(200000);   /* what the broker frees, it frees at once: the memory left is what it keeps */
    s1.rss_kib = rss_kib(b->broker_pid);
    counted("broker_disconnect", b, &gone, gone.items, gone.items, NULL, "disconnect");
    if (b->broker_pid)
        printf("# after every disconnect: broker resident memory %ld KiB (%ld KiB held, %ld KiB before the load)\n",
               s1.rss_kib, held.rss_kib, start.rss_kib);
    return 0;
}

/* ------------------------------------------------------------- command line */

static void usage(FILE *out)
{
    fputs("usage: chanx-bench-broker [options]   (or: chanx-bench broker [options])\n"
          "  --broker ENDPOINT        the broker (default: the first of CHANX_BROKER, or " CX_DEFAULT_BROKER ")\n"
          "  --pid PID                the broker's process: its CPU and memory figures (none without)\n"
          "  -n N                     client connections announced (default 10000)\n"
          "  --groups-per-connection M  rooms each connection joins (default 10)\n"
          "  --room-size R            members per room (default 10)\n"
          "  --gateways K, --workers W  fake peers (default 4 and 2, at most 64 each)\n"
          "  --window N               envelopes (group sends) in flight (default 256)\n"
          "  --duration S             seconds of each timed run (default 3)\n"
          "  --steps N                stages of the announcement, a short run after each (default 4)\n"
          "  --fanout LIST            group sizes of the fan-out runs (default 1,10,100,1000,10000)\n"
          "  --label NAME             server name in the output (default chanx)\n"
          "  --history N              every group keeps a history of N messages (default 0: none)\n"
          "  --held G,M,B             only: G groups keeping M messages each, filled with messages of B bytes\n"
          "                           (40..4096): the broker's memory per held message (broker_history_memory)\n"
          "CURVE: with CHANX_CURVE_DIR set, the peers use its gateway and worker keys (chanx-admin keygen).\n"
          "Results: broker_held (per step), broker_connect, broker_join, broker_route, broker_fanout (per\n"
          "size), broker_gateway_lost, broker_disconnect; one JSON line each and a '# ' line for people.\n", out);
}

static int parse_fanout(bl_load *b, const char *list)
{
    b->nfan = 0;
    for (const char *p = list; *p && b->nfan < BL_MAX_FANOUT;) {
        char *e;
        unsigned long long v = strtoull(p, &e, 10);
        if (e == p || v == 0)
            return -1;
        b->fan_sizes[b->nfan++] = v;
        p = *e == ',' ? e + 1 : e;
        if (*e && *e != ',')
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static bl_load b;
    static char endpoint[512];
    b = (bl_load) { .ngateways = 4, .nworkers = 2, .connections = 10000, .groups_per_conn = 10, .room_size = 10,
                    .window = 256, .duration = 3, .steps = 4, .dead_gateway = -1 };
    parse_fanout(&b, "1,10,100,1000,10000");
    label = "chanx";
    const char *env = cx_env_str("CHANX_BROKER", CX_DEFAULT_BROKER);
    snprintf(endpoint, sizeof endpoint, "%.*s", (int) strcspn(env, ", "), env);
    static const struct option opts[] = {
        { "broker", required_argument, 0, 'b' }, { "pid", required_argument, 0, 'p' },
        { "groups-per-connection", required_argument, 0, 'm' }, { "room-size", required_argument, 0, 'r' },
        { "gateways", required_argument, 0, 'g' }, { "workers", required_argument, 0, 'w' },
        { "window", required_argument, 0, 'W' }, { "duration", required_argument, 0, 'd' },
        { "steps", required_argument, 0, 's' }, { "fanout", required_argument, 0, 'f' },
        { "label", required_argument, 0, 'l' }, { "history", required_argument, 0, 'H' },
        { "held", required_argument, 0, 'M' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'b': snprintf(endpoint, sizeof endpoint, "%s", optarg); break;
        case 'p': b.broker_pid = (pid_t) atoi(optarg); break;
        case 'n': b.connections = strtoull(optarg, NULL, 10); break;
        case 'm': b.groups_per_conn = atoi(optarg); break;
        case 'r': b.room_size = atoi(optarg); break;
        case 'g': b.ngateways = atoi(optarg); break;
        case 'w': b.nworkers = atoi(optarg); break;
        case 'W': b.window = atoi(optarg); break;
        case 'd': b.duration = atof(optarg); break;
        case 's': b.steps = atoi(optarg); break;
        case 'f':
            if (parse_fanout(&b, optarg) != 0) {
                fprintf(stderr, "chanx-bench-broker: --fanout is a list of positive sizes: %s\n", optarg);
                return 2;
            }
            break;
        case 'l': label = optarg; break;
        case 'H': b.history = (uint32_t) strtoul(optarg, NULL, 10); break;
        case 'M': {
            unsigned long long g;
            unsigned m, bytes;
            if (sscanf(optarg, "%llu,%u,%u", &g, &m, &bytes) != 3 || !g || !m || bytes < 40 || bytes > 4096) {
                fprintf(stderr, "chanx-bench-broker: --held G,M,B: groups, messages each, bytes (40..4096): %s\n",
                        optarg);
                return 2;
            }
            b.held_groups = g, b.held_messages = m, b.held_bytes = bytes;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || b.ngateways < 1 || b.ngateways > BL_MAX_PEERS || b.nworkers < 1
        || b.nworkers > BL_MAX_PEERS || b.connections < (uint64_t) b.ngateways || b.groups_per_conn < 0
        || b.room_size < 1 || b.window < 1 || b.duration <= 0 || b.steps < 1) {
        fprintf(stderr, "chanx-bench-broker: -n at least --gateways; --gateways and --workers 1..%d; --room-size, "
                "--window, --duration, --steps positive\n", BL_MAX_PEERS);
        usage(stderr);
        return 2;
    }
    if (b.broker_pid && rss_kib(b.broker_pid) < 0) {
        fprintf(stderr, "chanx-bench-broker: no process %d to read (--pid)\n", (int) b.broker_pid);
        return 2;
    }
    b.endpoint = endpoint;
    const char *curve = cx_env_str("CHANX_CURVE_DIR", NULL);
    links = curve && *curve ? "curve" : "plain";
    cx_zmq_init();
    int rc = bl_peers_start(&b, 10000) == 0 && run(&b) == 0 ? 0 : 1;
    if (b.unexpected || b.closes) {
        fprintf(stderr, "chanx-bench-broker: %llu unexpected envelopes, %llu connections closed by the broker\n",
                (unsigned long long) b.unexpected, (unsigned long long) b.closes);
        rc = 1;
    }
    bl_peers_stop(&b);
    free(b.pending);
    return rc;
}
