/*
 * heap_probe.c — what a process of the soak holds on its heap, for the
 * memory invariant of a sanitized build (tests/soak/soak.py, "Memory").
 *
 * Loaded with LD_PRELOAD into every process of an ASan deployment (the soak
 * compiles it; the programs are not changed): a thread writes, once a
 * second, the bytes the process has allocated and not freed, as ASan's
 * allocator counts them (__sanitizer_get_current_allocated_bytes), to
 * $SOAK_HEAP_DIR/<pid>, replaced whole (rename) so the soak never reads
 * half a number.
 *
 * Why not VmRSS under ASan: measured in the soak, a gateway's heap in use
 * stayed at 2.0-2.3 MB over five waves while its VmRSS rose from 25 to
 * 41 MB. ASan's allocator keeps each size class's memory once a wave's
 * peak (a slow client's backlog, a broker rebuild) has touched it, and
 * adds its own bookkeeping; that retention is not a leak and moves with
 * the schedule of faults. The heap in use is what a leak grows.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

size_t __sanitizer_get_current_allocated_bytes(void);

static void write_heap(const char *dir)
{
    char path[512], tmp[520];
    snprintf(path, sizeof path, "%s/%d", dir, (int) getpid());
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    fprintf(f, "%zu\n", __sanitizer_get_current_allocated_bytes());
    if (fclose(f) == 0)
        rename(tmp, path);
}

static void *sample(void *dir)
{
    for (;;) {
        write_heap(dir);
        sleep(1);
    }
    return NULL;
}

/* In every process that starts with it (a fork keeps no thread, an exec starts again). */
__attribute__((constructor)) static void start(void)
{
    const char *dir = getenv("SOAK_HEAP_DIR");
    pthread_t thread;
    if (dir && pthread_create(&thread, NULL, sample, (void *) dir) == 0)
        pthread_detach(thread);
}
