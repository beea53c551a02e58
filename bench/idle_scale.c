/*
 * idle_scale.c — the idle scenario past one process's descriptor limit: N
 * idle authenticated connections over G gateways (--gateway-ports) from L
 * load processes (--load-processes), and what they cost in memory: each
 * --pids process's VmRSS and PSS, the load processes' own, and the kernel's.
 *
 * Design: one process holds at most RLIMIT_NOFILE sockets (20,000 on the
 * project's VM, a hard limit), so 100,000 connections need at least six load
 * processes and six gateways. This process only measures; it forks L loads,
 * load j opening its share (N / L) to gateway j mod G with the idle
 * scenario's loop (loop.c, tokens i mod count as everywhere). Each load
 * writes a load_report on a pipe when its share has settled (with its own
 * memory before it opened any), then keeps answering the gateways' pings
 * until this process's SIGTERM, and writes a last report with what was
 * dropped meanwhile. Memory is read before the fork and --settle seconds
 * after the last load settled, while every connection is held.
 *
 * --concurrency stays the handshakes in flight in all, shared among the loads.
 *
 * The kernel's share: both ends of every connection are on this machine, so
 * the growth of the socket slab caches (kmem_socket_kib, plus TCP buffer
 * pages, next to nothing for idle sockets) is both ends'. Each end holds the
 * same objects (a TCP sock, a socket inode, a file, a dentry, an epoll item:
 * the load generator uses epoll as the gateway does), so half of it is the
 * server's. The report gives both, meminfo's whole Slab growth, and the
 * caches that grew most, so growth elsewhere on the machine shows.
 */
#include "bench.h"
#include "kmem.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SCALE_MAX_LOADS 64
#define SCALE_MAX_GATEWAYS 64
#define SCALE_OPEN_TIMEOUT_NS (600ull * 1000000000ull)
#define SCALE_GROWN_CACHES 6

int bench_interrupted(void);

/* What a load process tells the measuring one, once settled (phase 1) and once stopped (phase 2). */
typedef struct {
    int phase;
    int index;
    loop_stats stats;
    long rss_kib, pss_kib;        /* its own, before its first connection */
} load_report;

typedef struct {
    int ports[SCALE_MAX_GATEWAYS];
    int gateways;
    pid_t loads[SCALE_MAX_LOADS];
    load_report settled[SCALE_MAX_LOADS], stopped[SCALE_MAX_LOADS];
    long rss_before[BENCH_MAX_PIDS], pss_before[BENCH_MAX_PIDS];
    long rss_after[BENCH_MAX_PIDS], pss_after[BENCH_MAX_PIDS];
    long load_rss_after[SCALE_MAX_LOADS], load_pss_after[SCALE_MAX_LOADS];
    kmem_t kmem_before, kmem_after;
} scale_run;

/* ------------------------------------------------------------ a load process */

static void ignore_message(loop_t *loop, conn_t *c, const char *text, size_t len, void *arg)
{
    (void) loop, (void) c, (void) text, (void) len, (void) arg;
}

static void set_port(bench_opts *o, int port)
{
    snprintf(o->port, sizeof o->port, "%d", port);
    if (o->addr.ss_family == AF_INET)
        ((struct sockaddr_in *) &o->addr)->sin_port = htons((uint16_t) port);
    else if (o->addr.ss_family == AF_INET6)
        ((struct sockaddr_in6 *) &o->addr)->sin6_port = htons((uint16_t) port);
}

static void send_report(int fd, load_report *rep, const loop_t *loop)
{
    rep->stats = *loop_stats_of(loop);
    if (write(fd, rep, sizeof *rep) != (ssize_t) sizeof *rep)   /* < PIPE_BUF: one atomic write */
        perror("chanx-bench: idle_scale: report");
}

static void load_main(const bench_opts *base, int index, int count, int port, int up)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);   /* never outlive the measuring process */
    bench_opts o = *base;
    o.connections = count;
    o.concurrency = base->concurrency / base->load_processes;   /* --concurrency in flight in all */
    if (o.concurrency < 1)
        o.concurrency = 1;
    set_port(&o, port);
    load_report rep = { .phase = 1, .index = index, .rss_kib = proc_rss_kib(getpid()),
                        .pss_kib = proc_pss_kib(getpid()) };
    loop_handlers h = { .on_message = ignore_message };
    loop_t *loop = loop_new(&o, count, &h, NULL);
    if (!loop) {
        perror("chanx-bench: idle_scale: load");
        _exit(1);   /* the measuring process sees it end without a report */
    }
    loop_open_all(loop);
    loop_run(loop, now_ns() + SCALE_OPEN_TIMEOUT_NS, 1);
    send_report(up, &rep, loop);
    while (!bench_interrupted())
        loop_run(loop, now_ns() + 3600ull * 1000000000ull, 0);
    rep.phase = 2;
    send_report(up, &rep, loop);
    loop_destroy(&loop);
    _exit(0);
}

/* ------------------------------------------------------- the measuring side */

static int parse_ports(scale_run *r, const bench_opts *o)
{
    const char *p = o->gateway_ports ? o->gateway_ports : o->port;
    while (*p) {
        char *end;
        long port = strtol(p, &end, 10);
        if (end == p || port < 1 || port > 65535 || (*end && *end != ',') || r->gateways == SCALE_MAX_GATEWAYS)
            return fprintf(stderr, "chanx-bench: idle_scale: bad --gateway-ports %s (at most %d ports)\n",
                           o->gateway_ports, SCALE_MAX_GATEWAYS), -1;
        r->ports[r->gateways++] = (int) port;
        p = *end ? end + 1 : end;
    }
    return r->gateways ? 0 : (fprintf(stderr, "chanx-bench: idle_scale: no gateway port\n"), -1);
}

/* Each load's share must fit its descriptors (main raised the soft limit as far as it goes). */
static int check_shares(const bench_opts *o)
{
    struct rlimit rl;
    int share = (o->connections + o->load_processes - 1) / o->load_processes;
    if (o->load_processes > SCALE_MAX_LOADS)
        return fprintf(stderr, "chanx-bench: idle_scale: at most %d load processes\n", SCALE_MAX_LOADS), -1;
    if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && (rlim_t) share + 32 > rl.rlim_cur)
        return fprintf(stderr, "chanx-bench: idle_scale: %d connections per load process exceed the descriptor "
                               "limit of %lu: use more --load-processes\n", share, (unsigned long) rl.rlim_cur), -1;
    return 0;
}

static void read_memory(const bench_opts *o, long *rss, long *pss)
{
    for (int i = 0; i < o->npids; i++) {
        rss[i] = proc_rss_kib(o->pids[i]);
        pss[i] = proc_pss_kib(o->pids[i]);
    }
}

static void stop_loads(scale_run *r, int n)
{
    for (int j = 0; j < n; j++)
        if (r->loads[j] > 0)
            kill(r->loads[j], SIGTERM);
}

static int start_loads(scale_run *r, const bench_opts *o, int up[2])
{
    for (int j = 0; j < o->load_processes; j++) {
        int count = o->connections / o->load_processes + (j < o->connections % o->load_processes);
        fflush(stdout);
        if ((r->loads[j] = fork()) < 0) {
            perror("chanx-bench: idle_scale: fork");
            stop_loads(r, j);
            return -1;
        }
        if (r->loads[j] == 0) {
            close(up[0]);
            load_main(o, j, count, r->ports[j % r->gateways], up[1]);
        }
    }
    close(up[1]);
    return 0;
}

/* Whether a load that has not reported yet has ended (reaped here, so it is not waited for again). */
static int a_load_ended(scale_run *r, const bench_opts *o, const int *reported)
{
    for (int j = 0; j < o->load_processes; j++)
        if (!reported[j] && r->loads[j] > 0 && waitpid(r->loads[j], NULL, WNOHANG) == r->loads[j]) {
            r->loads[j] = 0;
            return 1;
        }
    return 0;
}

/* Reads one report of the given phase from every load; -1 when one ended without it (the others hold
 * the pipe open, so its end shows only in waitpid) or we were interrupted. */
static int collect(scale_run *r, const bench_opts *o, int up, int phase)
{
    int reported[SCALE_MAX_LOADS] = { 0 };
    for (int got = 0; got < o->load_processes;) {
        struct pollfd pfd = { .fd = up, .events = POLLIN };
        int ready = poll(&pfd, 1, 1000);
        if (bench_interrupted())
            return fprintf(stderr, "chanx-bench: idle_scale: interrupted\n"), -1;
        if (ready <= 0) {
            if (a_load_ended(r, o, reported))
                return fprintf(stderr, "chanx-bench: idle_scale: a load process ended early\n"), -1;
            continue;
        }
        load_report rep;
        if (read(up, &rep, sizeof rep) != (ssize_t) sizeof rep || rep.phase != phase || rep.index < 0
            || rep.index >= o->load_processes)
            return fprintf(stderr, "chanx-bench: idle_scale: a load process ended early\n"), -1;
        (phase == 1 ? r->settled : r->stopped)[rep.index] = rep;
        reported[rep.index] = 1;
        got++;
    }
    return 0;
}

/* Sleeps s seconds while the loads hold their connections (and answer pings). */
static void hold(double s)
{
    struct timespec ts = { (time_t) s, (long) ((s - (double) (time_t) s) * 1e9) };
    while (nanosleep(&ts, &ts) && errno == EINTR && !bench_interrupted()) {
    }
}

static void reap(const scale_run *r, const bench_opts *o)
{
    for (int j = 0; j < o->load_processes; j++)
        if (r->loads[j] > 0)
            waitpid(r->loads[j], NULL, 0);
}

/* -------------------------------------------------------------------- report */

static void report_processes(report_t *rep, const bench_opts *o, const scale_run *r, uint64_t held,
                             double *rss_total, double *pss_total, char *human, size_t cap)
{
    size_t used = strlen(human);
    for (int i = 0; i < o->npids; i++) {
        char key[80];
        long drss = r->rss_after[i] - r->rss_before[i], dpss = r->pss_after[i] - r->pss_before[i];
        *rss_total += (double) drss;
        *pss_total += (double) dpss;
        snprintf(key, sizeof key, "rss_delta_kib_%s", o->pid_names[i]);
        report_int(rep, key, drss);
        snprintf(key, sizeof key, "pss_delta_kib_%s", o->pid_names[i]);
        report_int(rep, key, dpss);
        snprintf(key, sizeof key, "kib_per_connection_%s", o->pid_names[i]);
        report_num(rep, key, (double) drss / (double) held);
        int n = snprintf(human + used, cap - used, " %s %+ld", o->pid_names[i], drss);
        if (n > 0 && (size_t) n < cap - used)
            used += (size_t) n;
    }
}

static double report_loads(report_t *rep, const bench_opts *o, const scale_run *r, uint64_t held)
{
    long rss = 0, pss = 0;
    for (int j = 0; j < o->load_processes; j++) {
        rss += r->load_rss_after[j] - r->settled[j].rss_kib;
        pss += r->load_pss_after[j] - r->settled[j].pss_kib;
    }
    report_int(rep, "load_rss_delta_kib", rss);
    report_num(rep, "load_kib_per_connection", (double) rss / (double) held);
    report_num(rep, "load_pss_kib_per_connection", (double) pss / (double) held);
    return (double) rss / (double) held;
}

/* Both ends' kernel memory and the caches that grew most; returns the server's half per connection. */
static double report_kernel(report_t *rep, const scale_run *r, uint64_t held, char *human, size_t cap)
{
    const kmem_t *b = &r->kmem_before, *a = &r->kmem_after;
    long sockets = kmem_socket_kib(a) - kmem_socket_kib(b), tcp = a->tcp_buffers_kib - b->tcp_buffers_kib;
    double both = (double) (sockets + tcp) / (double) held;
    report_int(rep, "kernel_socket_caches_delta_kib", sockets);
    report_int(rep, "kernel_slab_delta_kib", a->slab_kib - b->slab_kib);
    report_int(rep, "kernel_tcp_buffers_delta_kib", tcp);
    report_int(rep, "kernel_page_tables_delta_kib", a->page_tables_kib - b->page_tables_kib);
    report_num(rep, "kernel_kib_per_connection_both_ends", both);
    report_num(rep, "kernel_kib_per_connection", both / 2);
    kmem_cache grown[SCALE_GROWN_CACHES];
    int n = kmem_grown(b, a, grown, SCALE_GROWN_CACHES);
    size_t used = strlen(human);
    for (int i = 0; i < n; i++) {
        char key[80];
        snprintf(key, sizeof key, "slab_delta_kib_%.31s", grown[i].name);
        report_int(rep, key, grown[i].kib);
        int w = snprintf(human + used, cap - used, " %s %+ld", grown[i].name, grown[i].kib);
        if (w > 0 && (size_t) w < cap - used)
            used += (size_t) w;
    }
    return both / 2;
}

/* The loads' counts added up: opened as they settled, dropped until they were stopped. */
static loop_stats total_stats(const bench_opts *o, const scale_run *r)
{
    loop_stats st = { 0 };
    for (int j = 0; j < o->load_processes; j++) {
        st.opened += r->settled[j].stats.opened;
        st.failed += r->settled[j].stats.failed;
        st.refused += r->settled[j].stats.refused;
        st.auth_failed += r->settled[j].stats.auth_failed;
        st.closed_after_open += r->stopped[j].stats.closed_after_open;
    }
    return st;
}

static void report_scale(const bench_opts *o, const scale_run *r, const loop_stats *total)
{
    loop_stats st = *total;
    uint64_t held = st.opened;
    report_t rep;
    report_begin(&rep, o, &st);
    report_int(&rep, "gateways", r->gateways);
    report_int(&rep, "load_processes", o->load_processes);
    char by_process[512] = "", caches[256] = "";
    double rss = 0, pss = 0;
    report_processes(&rep, o, r, held, &rss, &pss, by_process, sizeof by_process);
    report_int(&rep, "rss_delta_kib", (long long) rss);
    report_num(&rep, "kib_per_connection", rss / (double) held);
    report_num(&rep, "pss_kib_per_connection", pss / (double) held);
    double load = report_loads(&rep, o, r, held);
    double kernel = report_kernel(&rep, r, held, caches, sizeof caches);
    report_num(&rep, "total_kib_per_connection", rss / (double) held + kernel);
    report_end(&rep, "idle_scale %s: %llu connections over %d gateways from %d load processes: %.2f KiB/connection "
               "in the servers' user space (PSS %.2f) + %.2f in the kernel (half of both ends' %.2f) = %.2f; "
               "the load processes %.2f (KiB by process:%s; slab caches grown, KiB:%s)",
               o->label, (unsigned long long) st.opened, r->gateways, o->load_processes, rss / (double) held,
               pss / (double) held, kernel, kernel * 2, rss / (double) held + kernel, load, by_process, caches);
}

int run_idle_scale(const bench_opts *o)
{
    static scale_run r;
    int up[2];
    if (parse_ports(&r, o) || check_shares(o))
        return 1;
    for (int i = 0; i < o->npids; i++)
        if (proc_rss_kib(o->pids[i]) < 0)
            return fprintf(stderr, "chanx-bench: idle_scale: no process %d\n", (int) o->pids[i]), 1;
    read_memory(o, r.rss_before, r.pss_before);
    if (kmem_read(&r.kmem_before) || pipe(up))
        return perror("chanx-bench: idle_scale"), 1;
    if (start_loads(&r, o, up))
        return 1;
    int rc = collect(&r, o, up[0], 1);
    if (!rc) {
        hold(o->settle);
        read_memory(o, r.rss_after, r.pss_after);
        for (int j = 0; j < o->load_processes; j++) {
            r.load_rss_after[j] = proc_rss_kib(r.loads[j]);
            r.load_pss_after[j] = proc_pss_kib(r.loads[j]);
        }
        kmem_read(&r.kmem_after);
    }
    stop_loads(&r, o->load_processes);
    if (!rc)
        rc = collect(&r, o, up[0], 2);
    close(up[0]);
    reap(&r, o);
    if (rc)
        return 1;
    loop_stats st = total_stats(o, &r);
    if (!st.opened)   /* no figure from connections that never opened */
        return fprintf(stderr, "chanx-bench: idle_scale: no connection opened (%llu failed, %llu refused, "
                               "%llu auth failed)\n", (unsigned long long) st.failed,
                       (unsigned long long) st.refused, (unsigned long long) st.auth_failed), 1;
    report_scale(o, &r, &st);
    return 0;
}
