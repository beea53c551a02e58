/*
 * memory_limit.c — the machine's memory or the cgroup's limit (see
 * memory_limit.h). Read from sysconf and /sys/fs/cgroup/memory.max once per
 * call: callers ask at start, never on a message path.
 */
#include "common/memory_limit.h"

#include <stdio.h>
#include <unistd.h>

/* The cgroup v2 memory limit of this process, or 0 when there is none ("max") or it cannot be read. */
static size_t cgroup_memory_max(void)
{
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
    unsigned long long max = 0;
    if (f) {
        if (fscanf(f, "%llu", &max) != 1)
            max = 0;
        fclose(f);
    }
    return (size_t) max;
}

size_t cx_memory_limit(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    size_t ram = pages > 0 && page > 0 ? (size_t) pages * (size_t) page : 0, cg = cgroup_memory_max();
    return cg && (!ram || cg < ram) ? cg : ram;
}

size_t cx_memory_quarter(size_t floor)
{
    size_t quarter = cx_memory_limit() / 4;
    return quarter > floor ? quarter : floor;
}
