/*
 * proc.c — what /proc says about the server's processes: resident memory
 * (idle) and CPU time consumed (echo, broadcast: CPU per operation, split
 * by process, tells which of gateway, broker and worker limits a figure).
 * PSS (idle_scale) splits each shared page among the processes that map it:
 * unlike VmRSS, the PSS of several processes adds up to what they hold.
 *
 * The machine's steal time (/proc/stat: what the hypervisor gave other
 * guests while ours wanted the CPU) is read over the same window: on a VM
 * shared with others it moves every figure, and by up to 2x within an hour
 * here, so each result says how much of its window was stolen.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The KiB figure of the line starting with key in a /proc file of pid, -1 if gone. */
static long proc_kib(pid_t pid, const char *file, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/%s", (int) pid, file);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen)) {
            kib = atol(line + klen);
            break;
        }
    fclose(f);
    return kib;
}

long proc_rss_kib(pid_t pid) { return proc_kib(pid, "status", "VmRSS:"); }
long proc_pss_kib(pid_t pid) { return proc_kib(pid, "smaps_rollup", "Pss:"); }

double proc_cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    /* utime and stime are fields 14 and 15; the name (field 2) may hold spaces */
    char *p = strrchr(buf, ')');
    unsigned long long utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    return (double) (utime + stime) / (double) sysconf(_SC_CLK_TCK);
}

/* The measured window's edges, for a profiler outside: counting instructions from
 * the start of the run would bill connection set-up and warm-up to the operations. */
void proc_window(const bench_opts *o, const char *edge)
{
    if (!o->window)
        return;
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s", o->window, edge);
    if (system(cmd) != 0)
        fprintf(stderr, "chanx-bench: --window command failed: %s\n", cmd);
}

/* All CPUs' steal and total time in ticks, from /proc/stat's first line; 0 when unreadable. */
static int machine_ticks(unsigned long long *steal, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    unsigned long long t[8] = { 0 };
    int n = f ? fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &t[0], &t[1], &t[2], &t[3], &t[4], &t[5],
                       &t[6], &t[7]) : 0;
    if (f)
        fclose(f);
    if (n != 8)
        return 0;
    *steal = t[7];
    *total = t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
    return 1;
}

static unsigned long long steal_before, total_before;   /* at the last snapshot */

void proc_cpu_snapshot(const bench_opts *o, double *out)
{
    for (int i = 0; i < o->npids; i++)
        out[i] = proc_cpu_seconds(o->pids[i]);
    if (!machine_ticks(&steal_before, &total_before))
        total_before = 0;
}

/* The share of the window's CPU time the hypervisor stole, in percent; -1 unknown. */
static double steal_percent(void)
{
    unsigned long long steal, total;
    if (!total_before || !machine_ticks(&steal, &total) || total <= total_before)
        return -1;
    return (double) (steal - steal_before) * 100.0 / (double) (total - total_before);
}

void report_cpu(report_t *r, const bench_opts *o, const double *before, uint64_t ops)
{
    double total = 0;
    for (int i = 0; i < o->npids; i++) {
        double now = proc_cpu_seconds(o->pids[i]), used = now - before[i];
        char key[64];
        snprintf(key, sizeof key, "cpu_us_per_op_%s", o->pid_names[i]);
        report_num(r, key, ops ? used * 1e6 / (double) ops : 0);
        total += used;
    }
    if (o->npids)
        report_num(r, "cpu_us_per_op", ops ? total * 1e6 / (double) ops : 0);
    double stolen = steal_percent();
    if (stolen < 0)
        return;
    report_num(r, "steal_percent", stolen);
    if (stolen >= 5)
        fprintf(stderr, "chanx-bench: the hypervisor took %.1f%% of the machine's CPU time during this window "
                        "(steal): this figure is not comparable with a quiet run's\n", stolen);
}
