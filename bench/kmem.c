/*
 * kmem.c — snapshots of the kernel's memory (kmem.h): /proc/meminfo,
 * /proc/net/sockstat and /proc/slabinfo, parsed with sscanf.
 *
 * A cache's size is counted in whole slabs (num_slabs × pagesperslab pages), not
 * objects × object size: the pages are what the machine gives up, and their sum
 * over the caches is meminfo's Slab.
 */
#include "kmem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long meminfo_kib(FILE *f, const char *key)
{
    char line[256];
    size_t klen = strlen(key);
    rewind(f);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, klen) && line[klen] == ':')
            return atol(line + klen + 1);
    return 0;
}

static long tcp_buffer_pages(void)
{
    FILE *f = fopen("/proc/net/sockstat", "r");
    if (!f)
        return 0;
    char line[256];
    long pages = 0;
    while (fgets(line, sizeof line, f)) {
        const char *mem = strstr(line, " mem ");
        if (!strncmp(line, "TCP:", 4) && mem)
            pages = atol(mem + 5);
    }
    fclose(f);
    return pages;
}

static void read_slabinfo(kmem_t *k, long page_kib)
{
    k->ncaches = 0;
    FILE *f = fopen("/proc/slabinfo", "r");
    if (!f)
        return;
    char line[512];
    while (k->ncaches < KMEM_MAX_CACHES && fgets(line, sizeof line, f)) {
        kmem_cache *c = &k->caches[k->ncaches];
        long pages_per_slab, slabs;
        /* name active_objs num_objs objsize objperslab pagesperslab : tunables l b s : slabdata active num shared */
        if (line[0] == '#' || sscanf(line, "%31s %*s %*s %*s %*s %ld : tunables %*s %*s %*s : slabdata %*s %ld",
                                     c->name, &pages_per_slab, &slabs) != 3)
            continue;
        c->kib = slabs * pages_per_slab * page_kib;
        k->ncaches++;
    }
    fclose(f);
}

int kmem_read(kmem_t *k)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return -1;
    long page_kib = sysconf(_SC_PAGESIZE) / 1024;
    k->slab_kib = meminfo_kib(f, "Slab");
    k->page_tables_kib = meminfo_kib(f, "PageTables");
    fclose(f);
    k->tcp_buffers_kib = tcp_buffer_pages() * page_kib;
    read_slabinfo(k, page_kib);
    return 0;
}

static long cache_kib(const kmem_t *k, const char *name)
{
    for (int i = 0; i < k->ncaches; i++)
        if (!strcmp(k->caches[i].name, name))
            return k->caches[i].kib;
    return 0;   /* a cache created meanwhile */
}

long kmem_socket_kib(const kmem_t *k)
{
    static const char *const socket_caches[] = { "TCP", "TCPv6", "sock_inode_cache", "filp", "dentry",
                                                 "eventpoll_epi", "eventpoll_pwq" };
    if (!k->ncaches)
        return k->slab_kib;
    long kib = 0;
    for (size_t i = 0; i < sizeof socket_caches / sizeof socket_caches[0]; i++)
        kib += cache_kib(k, socket_caches[i]);
    return kib;
}

static int by_growth(const void *a, const void *b)
{
    long ga = ((const kmem_cache *) a)->kib, gb = ((const kmem_cache *) b)->kib;
    return ga < gb ? 1 : ga > gb ? -1 : 0;
}

int kmem_grown(const kmem_t *before, const kmem_t *after, kmem_cache *out, int n)
{
    static kmem_cache grown[KMEM_MAX_CACHES];
    int count = 0;
    for (int i = 0; i < after->ncaches; i++) {
        long growth = after->caches[i].kib - cache_kib(before, after->caches[i].name);
        if (growth > 0) {
            grown[count] = after->caches[i];
            grown[count++].kib = growth;
        }
    }
    qsort(grown, (size_t) count, sizeof *grown, by_growth);
    if (count > n)
        count = n;
    memcpy(out, grown, (size_t) count * sizeof *out);
    return count;
}
