/*
 * isolation.c — which plugin files the folder holds, for a supervisor that
 * runs each plugin in its own worker processes (CHANX_ISOLATE=plugin).
 *
 * Why: with the plugins sharing a process, a crash in one plugin's callback
 * takes the other plugins' connections with it. With CHANX_ISOLATE=plugin
 * the supervisor starts CHANX_WORKER_PROCESSES worker processes per plugin
 * file, each told to load only that file (--only), so a crash costs only
 * the crashing plugin's connections. The supervisor still loads no plugin
 * code: it knows the plugins by their file names only ("<name>.so", as the
 * worker's plugins.c requires), which is all it needs to start a process for
 * each.
 *
 * The folder is watched with inotify, as each worker process watches it
 * for hot reloads (workers/plugin_set.c): a file that appears gets its own
 * processes; a file that goes (deleted or moved away) has its processes
 * stopped. A new version renamed over an existing file changes nothing
 * here: that file's own processes reload it, as always. On every event the
 * folder is listed again rather than the events interpreted, so a burst of
 * renames can never leave this list out of step with the folder.
 */
#include "workers/isolation.h"
#include "common/log.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

struct cx_isolation {
    char *dir;
    int watch_fd;
    char *files[CX_ISOLATION_MAX];
    size_t nfiles;
};

static int is_plugin_file(const char *name)
{
    size_t n = strlen(name);
    return n > 3 && strcmp(name + n - 3, ".so") == 0 && name[0] != '.';
}

static void forget_files(cx_isolation *self)
{
    while (self->nfiles)
        free(self->files[--self->nfiles]);
}

/* The folder's plugin files now; -1 when it cannot be read (the list is then unchanged). */
static int list_folder(cx_isolation *self, char **out, size_t *nout)
{
    DIR *d = opendir(self->dir);
    if (!d)
        return -1;
    *nout = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (is_plugin_file(e->d_name) && *nout < CX_ISOLATION_MAX)
            out[(*nout)++] = strdup(e->d_name);
    closedir(d);
    return 0;
}

static int same_set(cx_isolation *self, char **files, size_t n)
{
    if (n != self->nfiles)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!files[i] || !cx_isolation_has(self, files[i]))
            return 0;
    return 1;
}

cx_isolation *cx_isolation_new(const char *dir)
{
    cx_isolation *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->dir = strdup(dir);
    self->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (self->watch_fd >= 0
        && inotify_add_watch(self->watch_fd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE) < 0) {
        close(self->watch_fd);
        self->watch_fd = -1;
    }
    if (!self->dir || list_folder(self, self->files, &self->nfiles) != 0) {
        cx_error("cannot open plugin folder %s: %m", dir);
        cx_isolation_destroy(&self);
    }
    return self;
}

void cx_isolation_destroy(cx_isolation **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_isolation *self = *self_p;
    forget_files(self);
    if (self->watch_fd >= 0)
        close(self->watch_fd);
    free(self->dir);
    free(self);
    *self_p = NULL;
}

int cx_isolation_fd(const cx_isolation *self)
{
    return self->watch_fd;
}

int cx_isolation_rescan(cx_isolation *self)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (self->watch_fd >= 0 && read(self->watch_fd, buf, sizeof buf) > 0) {}
    char *files[CX_ISOLATION_MAX];
    size_t n = 0;
    if (list_folder(self, files, &n) != 0)
        return 0;
    int changed = !same_set(self, files, n);
    forget_files(self);
    memcpy(self->files, files, n * sizeof *files);
    self->nfiles = n;
    return changed;
}

size_t cx_isolation_count(const cx_isolation *self)
{
    return self->nfiles;
}

const char *cx_isolation_file(const cx_isolation *self, size_t i)
{
    return i < self->nfiles ? self->files[i] : NULL;
}

int cx_isolation_has(const cx_isolation *self, const char *file)
{
    for (size_t i = 0; i < self->nfiles; i++)
        if (self->files[i] && strcmp(self->files[i], file) == 0)
            return 1;
    return 0;
}
