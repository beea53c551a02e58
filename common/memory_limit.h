/*
 * memory_limit.h — how much memory this process may count on: the machine's
 * RAM, or the cgroup v2 memory.max when that is lower (a container's limit).
 *
 * Bounds that default to a share of memory (the gateway's buffered bytes,
 * the broker's history) take it from here, so that a process in a small
 * container does not plan for the host's RAM.
 */
#ifndef CX_COMMON_MEMORY_LIMIT_H
#define CX_COMMON_MEMORY_LIMIT_H

#include <stddef.h>

/* Bytes: min(RAM, cgroup memory.max); 0 when neither can be read. */
size_t cx_memory_limit(void);

/* A quarter of cx_memory_limit(), at least floor bytes: the default of such a bound. */
size_t cx_memory_quarter(size_t floor);

#endif
