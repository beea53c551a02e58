/*
 * isolation.h — CHANX_ISOLATE=plugin: the plugin files of the folder, as the
 * supervisor sees them (names only; see isolation.c).
 */
#ifndef CX_WORKERS_ISOLATION_H
#define CX_WORKERS_ISOLATION_H

#include <stddef.h>

/* Plugin files tracked at once (a worker loads at most 128 plugins too). */
#define CX_ISOLATION_MAX 128

typedef struct cx_isolation cx_isolation;

/* Lists dir's *.so files and watches it. NULL when dir cannot be read (logged). dir is copied. */
cx_isolation *cx_isolation_new(const char *dir);
void cx_isolation_destroy(cx_isolation **self_p);
/* The inotify descriptor to poll (-1 when the folder cannot be watched). */
int cx_isolation_fd(const cx_isolation *self);
/* After the descriptor was readable: reads the events and lists the folder again. Returns 1 when the set
 * of files changed (one appeared or went), 0 otherwise. */
int cx_isolation_rescan(cx_isolation *self);
/* The plugin files present, by file name ("chat.so"), in the folder's listing order. */
size_t cx_isolation_count(const cx_isolation *self);
const char *cx_isolation_file(const cx_isolation *self, size_t i);
/* Whether file ("chat.so") is in the folder now. */
int cx_isolation_has(const cx_isolation *self, const char *file);

#endif
