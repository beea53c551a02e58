/*
 * kmem.h — the kernel's memory as /proc shows it, for what idle
 * connections cost below user space: /proc/meminfo's Slab (every socket,
 * inode, file, dentry and epoll item lives in a slab cache), /proc/net/sockstat's
 * TCP buffer pages, and /proc/slabinfo's caches one by one (readable by root
 * only: without it the caches are simply not named).
 *
 * A snapshot is taken before and after; the difference is what the
 * connections cost, plus whatever else the machine did meanwhile.
 */
#ifndef BENCH_KMEM_H
#define BENCH_KMEM_H

#define KMEM_MAX_CACHES 512

typedef struct {
    char name[32];
    long kib;                     /* slabs × pages per slab: what the cache holds, free objects included */
} kmem_cache;

typedef struct {
    long slab_kib;                /* /proc/meminfo Slab */
    long page_tables_kib;         /* /proc/meminfo PageTables */
    long tcp_buffers_kib;         /* /proc/net/sockstat TCP mem (pages) */
    int ncaches;                  /* 0 when /proc/slabinfo could not be read */
    kmem_cache caches[KMEM_MAX_CACHES];
} kmem_t;

/* Fills *k; -1 when /proc/meminfo cannot be read. */
int kmem_read(kmem_t *k);
/* The caches an established socket end holds an object in: its TCP sock, its socket inode, its file
 * and pseudo dentry, its epoll registration. Growth elsewhere (a /proc reader's inodes, a compiler's
 * dentries) is the rest of the machine. The sum of their KiB, or meminfo's Slab without slabinfo. */
long kmem_socket_kib(const kmem_t *k);
/* The at most n caches that grew most from before to after, largest growth first, into out
 * (kib = the growth); returns how many. */
int kmem_grown(const kmem_t *before, const kmem_t *after, kmem_cache *out, int n);

#endif
