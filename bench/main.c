/*
 * chanx-bench — a WebSocket load generator for Chanx and the servers it is
 * compared with (the bare libwebsockets echo, the Django Channels peer).
 *
 *   chanx-bench SCENARIO --url ws://HOST:PORT/PATH [--token KEY | --tokens-file F]
 *               [-n CONNECTIONS] [--duration S] [options]
 *
 * Design: main.c only turns the command line into a bench_opts (resolving
 * the URL once, reading tokens, raising RLIMIT_NOFILE) and runs one
 * scenario; output is one JSON line per result for scripts plus one line
 * starting with "# " for people, both on stdout (report_* below). Every
 * scenario speaks only the wire protocol, so any server that serves these
 * routes can be measured with the same client.
 */
#include "bench.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static volatile sig_atomic_t s_interrupted;

int bench_interrupted(void) { return s_interrupted; }

static void on_signal(int sig)
{
    (void) sig;
    s_interrupted = 1;
}

static void usage(FILE *out)
{
    fputs("usage: chanx-bench echo|work|broadcast|topics|connect|idle|idle_scale|publish|recover|reconnect_storm\n"
          "                   --url ws://HOST:PORT/PATH [options]\n"
          "       chanx-bench broker [options]   the broker alone (chanx-bench-broker --help)\n"
          "\n"
          "  --token KEY          sent as 'Authorization: Token KEY'\n"
          "  --tokens-file FILE   one token per line; connection i uses line i mod count\n"
          "  -n N                 connections (default 10)\n"
          "  --duration S         seconds of measurement; connect: the time cap (default 5)\n"
          "  --senders K          broadcast: connections that send (default 1)\n"
          "  --missed M           reconnect_storm: pushes each of the -n clients misses, then recovers (default 100)\n"
          "  --idle M             echo: also hold M silent connections (reported as echo_busy)\n"
          "  --concurrency C      handshakes in flight at once (default 200)\n"
          "  --no-auth-message    the server sends no authentication message: open = 101\n"
          "  --pids [NAME=]PID,.. idle: resident memory of these; echo, broadcast: their CPU per op\n"
          "  --settle S           idle: seconds to wait before reading memory (default 2);\n"
          "                       recover: seconds between crashes\n"
          "  --window CMD         echo, broadcast, connect: runs 'CMD start' as the measured window opens and\n"
          "                       'CMD stop' as it closes (scripts/perf-ops counts instructions there)\n"
          "  --source-ips K       spread connections over 127.0.0.1..K (beyond ~28k)\n"
          "  --load-processes L   idle_scale: client processes sharing the N connections (default 1)\n"
          "  --gateway-ports P,.. idle_scale: gateways on the URL's host, load process j to the (j mod G)th\n"
          "  --label NAME         server name in the output (default: the URL)\n"
          "  --api URL, --api-key K  publish: chanx-api's http://HOST:PORT and key\n"
          "  --publisher CMD      publish: instead, a command that publishes each JSON line it reads\n"
          "  --group G, --action A   publish: the group the members are in, the event's action\n"
          "  --scenario-name NAME publish, broadcast: the name in the output (e.g. publish_receive_event,\n"
          "                       broadcast_history)\n"
          "\n"
          "Scenarios:\n"
          "  echo       closed-loop {\"action\":\"ping\"} -> pong; round trips/s, p50/p99/p999\n"
          "  work       the same with {\"action\":\"work\",\"payload\":{\"ms\":5}} -> done: a consumer\n"
          "             blocked 5 ms per message (path /ws/work/)\n"
          "  broadcast  N members of one chat room, K senders closed-loop; deliveries/s,\n"
          "             p50/p99 until every member has a message\n"
          "  topics     N connections to ws/hub/, each subscribed to 10 topics of 100, K senders\n"
          "             closed-loop on their topics; deliveries/s, latency, memory of 10\n"
          "             subscriptions per connection in --pids\n"
          "  connect    authenticated connections opened per second until N are open\n"
          "  idle       N idle connections; resident memory per connection of --pids\n"
          "  idle_scale the same over several gateways from several processes (past the descriptor\n"
          "             limit): VmRSS and PSS per connection of --pids and of the load, and the kernel's\n"
          "             socket memory (/proc/slabinfo, /proc/meminfo)\n"
          "  repin      N + 1 connections to /ws/work/; the first crashes the worker process, the\n"
          "             others ping at once: time until each is answered by its restarted consumer\n"
          "  publish    N members of a group, events published from outside, --senders in\n"
          "             flight; deliveries/s, p50/p99 from the publish call to the last member\n"
          "  recover    -n crashes of a consumer that crashes on demand (path /ws/crash/, the\n"
          "             worker with CHANX_CRASH_QUARANTINE=0), --settle S apart (use 11: a process\n"
          "             dying within 10 s of its start is restarted with backoff); p50/p99 from\n"
          "             the crash until a new connection is answered again\n"
          "  reconnect_storm  a sender pushes --missed M to a room keeping a history (/ws/chat_kept/<room>/),\n"
          "             then N clients come back at once with ?since=: time until each has them all\n"
          "  broker     fake gateways and workers load the broker with envelopes directly:\n"
          "             routed envelopes/s, fan-out, memory per connection and membership\n"
          "\n"
          "Each result is one JSON line and one '# ' line for people.\n", out);
}

static int parse_url(bench_opts *o)
{
    const char *u = o->url;
    if (strncmp(u, "ws://", 5))
        return fprintf(stderr, "chanx-bench: only ws:// URLs: %s\n", u), -1;
    u += 5;
    const char *slash = strchr(u, '/');
    const char *hostport_end = slash ? slash : u + strlen(u);
    const char *colon = memchr(u, ':', (size_t) (hostport_end - u));
    size_t hlen = (size_t) ((colon ? colon : hostport_end) - u);
    if (!hlen || hlen >= sizeof o->host)
        return fprintf(stderr, "chanx-bench: bad host in %s\n", o->url), -1;
    memcpy(o->host, u, hlen);
    o->host[hlen] = 0;
    size_t plen = colon ? (size_t) (hostport_end - colon - 1) : 2;
    if (plen == 0 || plen >= sizeof o->port)
        return fprintf(stderr, "chanx-bench: bad port in %s\n", o->url), -1;
    if (colon)
        memcpy(o->port, colon + 1, plen);
    else
        memcpy(o->port, "80", 2);
    o->port[plen] = 0;
    snprintf(o->path, sizeof o->path, "%s", slash ? slash : "/");

    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
    int rc = getaddrinfo(o->host, o->port, &hints, &res);
    if (rc || !res)
        return fprintf(stderr, "chanx-bench: %s: %s\n", o->host, gai_strerror(rc)), -1;
    memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
    o->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int add_token(bench_opts *o, const char *token)
{
    char **t = realloc(o->tokens, (o->ntokens + 1) * sizeof *t);
    if (!t)
        return -1;
    o->tokens = t;
    if (!(o->tokens[o->ntokens] = strdup(token)))
        return -1;
    o->ntokens++;
    return 0;
}

static int read_tokens(bench_opts *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fprintf(stderr, "chanx-bench: %s: %s\n", path, strerror(errno)), -1;
    char line[512];
    int rc = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        line[strcspn(line, " \t\r\n")] = 0;
        if (line[0])
            rc = add_token(o, line);
    }
    fclose(f);
    if (!rc && !o->ntokens)
        return fprintf(stderr, "chanx-bench: no tokens in %s\n", path), -1;
    return rc;
}

/* "P1,P2" or "NAME=P1,NAME=P2": the names label the output's fields. */
static int parse_pids(bench_opts *o, const char *list)
{
    for (const char *p = list; *p && o->npids < BENCH_MAX_PIDS;) {
        const char *eq = strchr(p, '='), *comma = strchr(p, ',');
        const char *num = eq && (!comma || eq < comma) ? eq + 1 : p;
        char *end;
        long pid = strtol(num, &end, 10);
        if (end == num || pid <= 0 || (*end && *end != ','))
            return fprintf(stderr, "chanx-bench: bad --pids %s\n", list), -1;
        char *name = o->pid_names[o->npids];
        if (num != p)
            snprintf(name, sizeof o->pid_names[0], "%.*s", (int) (eq - p), p);
        else
            snprintf(name, sizeof o->pid_names[0], "%ld", pid);
        o->pids[o->npids++] = (pid_t) pid;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* Enough descriptors for every connection plus slack, up to the hard limit. */
static void raise_nofile(int connections)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl))
        return;
    rlim_t want = (rlim_t) connections + 64;
    if (rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
        fprintf(stderr, "chanx-bench: only %lu file descriptors allowed (hard limit)\n",
                (unsigned long) rl.rlim_cur);
}

static int parse_args(bench_opts *o, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "url", required_argument, 0, 'u' },       { "token", required_argument, 0, 't' },
        { "tokens-file", required_argument, 0, 'T' }, { "duration", required_argument, 0, 'd' },
        { "senders", required_argument, 0, 'k' },   { "idle", required_argument, 0, 'I' },   { "concurrency", required_argument, 0, 'c' },
        { "no-auth-message", no_argument, 0, 'A' }, { "pids", required_argument, 0, 'p' },
        { "settle", required_argument, 0, 's' },    { "source-ips", required_argument, 0, 'S' },
        { "label", required_argument, 0, 'l' },     { "help", no_argument, 0, 'h' },
        { "api", required_argument, 0, 'a' },       { "api-key", required_argument, 0, 'K' },
        { "publisher", required_argument, 0, 'P' }, { "group", required_argument, 0, 'g' },
        { "action", required_argument, 0, 'x' },    { "scenario-name", required_argument, 0, 'N' },
        { "window", required_argument, 0, 'W' },    { "missed", required_argument, 0, 'M' },
        { "load-processes", required_argument, 0, 'L' }, { "gateway-ports", required_argument, 0, 'G' },
        { 0, 0, 0, 0 }
    };
    int ch;
    const char *scenario_name = NULL;
    while ((ch = getopt_long(argc, argv, "n:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'u': o->url = optarg; break;
        case 't': if (add_token(o, optarg)) return -1; break;
        case 'T': if (read_tokens(o, optarg)) return -1; break;
        case 'n': o->connections = atoi(optarg); break;
        case 'd': o->duration = atof(optarg); break;
        case 'k': o->senders = atoi(optarg); break;
        case 'I': o->idle = atoi(optarg); break;
        case 'c': o->concurrency = atoi(optarg); break;
        case 'A': o->no_auth_message = 1; break;
        case 'p': if (parse_pids(o, optarg)) return -1; break;
        case 's': o->settle = atof(optarg); break;
        case 'S': o->source_ips = atoi(optarg); break;
        case 'l': o->label = optarg; break;
        case 'a': o->api = optarg; break;
        case 'K': o->api_key = optarg; break;
        case 'P': o->publisher = optarg; break;
        case 'g': o->group = optarg; break;
        case 'x': o->action = optarg; break;
        case 'N': scenario_name = optarg; break;
        case 'W': o->window = optarg; break;
        case 'M': o->missed = atoi(optarg); break;
        case 'L': o->load_processes = atoi(optarg); break;
        case 'G': o->gateway_ports = optarg; break;
        case 'h': usage(stdout); exit(0);
        default: return -1;
        }
    }
    if (optind != argc - 1 || !o->url)
        return -1;
    o->scenario = argv[optind];
    if (scenario_name && (!strcmp(o->scenario, "publish") || !strcmp(o->scenario, "broadcast")))
        o->scenario = scenario_name;
    if (o->connections < 1 || o->duration <= 0 || o->senders < 1 || o->concurrency < 1 || o->load_processes < 1)
        return fprintf(stderr, "chanx-bench: -n, --duration, --senders, --concurrency, --load-processes must be "
                               "positive\n"), -1;
    if (o->senders > o->connections)
        o->senders = o->connections;
    if (!o->label)
        o->label = o->url;
    return parse_url(o);
}

static void free_opts(bench_opts *o)
{
    for (size_t i = 0; i < o->ntokens; i++)
        free(o->tokens[i]);
    free(o->tokens);
}

/* `chanx-bench broker ...` is chanx-bench-broker, next to this program: the broker's own load speaks
 * ZeroMQ and proto/, which this libc-only client does not link (bench/broker/main.c). */
static int exec_broker_load(char **argv)
{
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 32);
    if (n <= 0)
        return fprintf(stderr, "chanx-bench: cannot find my own folder\n"), 2;
    self[n] = 0;
    char *slash = strrchr(self, '/');
    strcpy(slash ? slash + 1 : self, "chanx-bench-broker");
    argv[0] = self;
    execv(self, argv);
    fprintf(stderr, "chanx-bench: cannot run %s: %s\n", self, strerror(errno));
    return 2;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "broker"))
        return exec_broker_load(argv + 1);
    bench_opts o = { .connections = 10, .duration = 5, .senders = 1, .concurrency = 200, .settle = 2,
                     .load_processes = 1, .missed = 100 };
    if (parse_args(&o, argc, argv)) {
        usage(stderr);
        free_opts(&o);
        return 2;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    raise_nofile((o.connections + o.load_processes - 1) / o.load_processes);   /* idle_scale: a share each */

    int rc;
    if (!strcmp(o.scenario, "echo") || !strcmp(o.scenario, "work"))
        rc = run_echo(&o);
    else if (!strncmp(o.scenario, "broadcast", 9))
        rc = run_broadcast(&o);
    else if (!strcmp(o.scenario, "reconnect_storm"))
        rc = run_reconnect_storm(&o);
    else if (!strcmp(o.scenario, "topics"))
        rc = run_topics(&o);
    else if (!strcmp(o.scenario, "connect"))
        rc = run_connect(&o);
    else if (!strcmp(o.scenario, "idle"))
        rc = run_idle(&o);
    else if (!strcmp(o.scenario, "idle_scale"))
        rc = run_idle_scale(&o);
    else if (!strcmp(o.scenario, "repin"))
        rc = run_repin(&o);
    else if (!strncmp(o.scenario, "publish", 7))
        rc = run_publish(&o);
    else if (!strcmp(o.scenario, "recover"))
        rc = run_recover(&o);
    else {
        fprintf(stderr, "chanx-bench: unknown scenario '%s'\n", o.scenario);
        rc = 2;
    }
    free_opts(&o);
    return rc;
}

/* ---------------------------------------------------------------- output */

static void put(report_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(report_t *r, const char *fmt, ...)
{
    if (r->len >= sizeof r->buf)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(r->buf + r->len, sizeof r->buf - r->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        r->len += (size_t) n;
}

/* Strings in the output are ours or URLs: escape only what JSON requires. */
static void put_string(report_t *r, const char *s)
{
    put(r, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            put(r, "\\%c", *s);
        else if ((unsigned char) *s < 0x20)
            put(r, "\\u%04x", *s);
        else
            put(r, "%c", *s);
    }
    put(r, "\"");
}

void report_begin(report_t *r, const bench_opts *o, const loop_stats *st)
{
    r->len = 0;
    put(r, "{\"scenario\":");
    put_string(r, o->scenario);
    put(r, ",\"server\":");
    put_string(r, o->label);
    put(r, ",\"url\":");
    put_string(r, o->url);
    put(r, ",\"connections\":%d,\"opened\":%llu,\"failed\":%llu,\"refused\":%llu,\"auth_failed\":%llu,"
           "\"dropped\":%llu",
        o->connections, (unsigned long long) st->opened, (unsigned long long) st->failed,
        (unsigned long long) st->refused, (unsigned long long) st->auth_failed,
        (unsigned long long) st->closed_after_open);
}

void report_num(report_t *r, const char *key, double value)
{
    put(r, ",\"%s\":%.3f", key, value);
}

void report_int(report_t *r, const char *key, long long value)
{
    put(r, ",\"%s\":%lld", key, value);
}

void report_latency(report_t *r, const char *prefix, const hist_t *h)
{
    put(r, ",\"%s_p50_ms\":%.3f,\"%s_p99_ms\":%.3f,\"%s_p999_ms\":%.3f,\"%s_max_ms\":%.3f,\"%s_mean_ms\":%.3f",
        prefix, hist_quantile(h, 0.50) / 1e6, prefix, hist_quantile(h, 0.99) / 1e6,
        prefix, hist_quantile(h, 0.999) / 1e6, prefix, (h->total ? h->max : 0) / 1e6,
        prefix, hist_mean(h) / 1e6);
}

void report_end(report_t *r, const char *human_fmt, ...)
{
    put(r, "}");
    printf("%s\n# ", r->buf);
    va_list ap;
    va_start(ap, human_fmt);
    vprintf(human_fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}
