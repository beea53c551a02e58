/*
 * plugin_copy.h — the private copy of a plugin file that a worker dlopens.
 *
 * A worker loads each version of a plugin from a copy of its own (see
 * plugins.c for why). The copy must be a file no one else can create,
 * replace or point elsewhere: a worker often runs as root, and whatever it
 * dlopens runs with its privileges. So every copy lives in a directory of
 * its own, made by mkdtemp (mode 0700, refused unless it is ours), and is
 * reached through that directory's descriptor (/proc/self/fd/N/...), so a
 * rename or a symlink in the parent cannot redirect it. Once dlopen has
 * mapped the copy it is removed, directory and all: nothing stays on disk
 * to tamper with, even after a crash.
 */
#ifndef CX_WORKERS_PLUGIN_COPY_H
#define CX_WORKERS_PLUGIN_COPY_H

#include <stddef.h>

typedef struct cx_plugin_copy cx_plugin_copy;

/* Copies the plugin file at path, named name (its plugin name), into a fresh private directory
 * under $CHANX_PLUGIN_CACHE (default $TMPDIR, else /tmp). NULL with the reason in err. Owned:
 * cx_plugin_copy_destroy removes the file and its directory. */
cx_plugin_copy *cx_plugin_copy_new(const char *path, const char *name, char *err, size_t errlen);
/* The path to dlopen: unique per copy for the process's lifetime (dlopen matches objects by
 * name), valid until the copy is destroyed. Borrowed. */
const char *cx_plugin_copy_path(const cx_plugin_copy *self);
void cx_plugin_copy_destroy(cx_plugin_copy **self_p);

#endif
