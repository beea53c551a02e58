/*
 * plugin_copy.c — a plugin copy that only this process can touch.
 *
 * The attack this closes: copies used to go to a predictable name in /tmp,
 * opened with O_CREAT|O_TRUNC. A local user who planted a symlink there had
 * a root worker overwrite any file with an ELF, or dlopen code of the
 * attacker's. Every step below takes away one way in:
 *
 *   - mkdtemp makes a directory with a random name, atomically, mode 0700;
 *     its descriptor is checked (a directory, ours, no access for others)
 *     before anything is written into it;
 *   - the file is created with O_EXCL|O_NOFOLLOW through that descriptor;
 *   - dlopen gets /proc/self/fd/<dirfd>/<file>, which names the checked
 *     directory itself, whatever is renamed or planted in the parent;
 *   - after dlopen the file and the directory are removed (the mapping
 *     lives on), so no path to the loaded code exists afterwards.
 *
 * The file name carries the pid and a generation, so the name dlopen
 * records is unique for the process's lifetime even when the directory
 * descriptor's number is reused.
 */
#include "workers/plugin_copy.h"
#include "common/env.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

struct cx_plugin_copy {
    char *dir;          /* the private directory's path, for rmdir */
    int dirfd;          /* the directory itself */
    char file[160];     /* the copy's name inside it */
    char path[256];     /* /proc/self/fd/<dirfd>/<file> */
};

static const char *cache_parent(void)
{
    const char *tmp = getenv("TMPDIR");
    return cx_env_str("CHANX_PLUGIN_CACHE", tmp && *tmp ? tmp : "/tmp");
}

/* The directory behind fd is one only this process's user can enter or change. */
static int is_private_dir(int fd)
{
    struct stat st;
    return fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() && (st.st_mode & 077) == 0;
}

static int make_private_dir(cx_plugin_copy *self, char *err, size_t errlen)
{
    const char *parent = cache_parent();
    if (asprintf(&self->dir, "%s/chanx-plugin-XXXXXX", parent) < 0)
        return snprintf(err, errlen, "out of memory"), -1;
    if (!mkdtemp(self->dir)) {
        snprintf(err, errlen, "cannot make a private folder in %s (CHANX_PLUGIN_CACHE): %s", parent, strerror(errno));
        free(self->dir);
        self->dir = NULL;
        return -1;
    }
    self->dirfd = open(self->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (self->dirfd < 0 || !is_private_dir(self->dirfd))
        return snprintf(err, errlen, "%s is not a private folder of this user: refusing to load plugins from it",
                        self->dir), -1;
    return 0;
}

static int copy_file(int in, int out)
{
    struct stat st;
    if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode))
        return errno = errno ? errno : EINVAL, -1;
    for (off_t off = 0; off < st.st_size;)
        if (sendfile(out, in, &off, (size_t) (st.st_size - off)) <= 0)
            return -1;
    return 0;
}

static int write_copy(cx_plugin_copy *self, const char *path, char *err, size_t errlen)
{
    int in = open(path, O_RDONLY | O_CLOEXEC);
    int out = openat(self->dirfd, self->file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0700);
    errno = 0;
    int ok = in >= 0 && out >= 0 && copy_file(in, out) == 0;
    int saved = errno;
    if (in >= 0)
        close(in);
    if (out >= 0 && close(out) != 0 && ok)
        ok = 0, saved = errno;
    if (!ok)
        snprintf(err, errlen, "cannot copy %s into %s: %s", path, self->dir, strerror(saved ? saved : EIO));
    return ok ? 0 : -1;
}

cx_plugin_copy *cx_plugin_copy_new(const char *path, const char *name, char *err, size_t errlen)
{
    static unsigned generation;
    cx_plugin_copy *self = calloc(1, sizeof *self);
    if (!self)
        return snprintf(err, errlen, "out of memory"), NULL;
    self->dirfd = -1;
    snprintf(self->file, sizeof self->file, "chanx-%d-%.100s-%u.so", (int) getpid(), name, ++generation);
    if (make_private_dir(self, err, errlen) != 0 || write_copy(self, path, err, errlen) != 0) {
        cx_plugin_copy_destroy(&self);
        return NULL;
    }
    snprintf(self->path, sizeof self->path, "/proc/self/fd/%d/%s", self->dirfd, self->file);
    return self;
}

const char *cx_plugin_copy_path(const cx_plugin_copy *self)
{
    return self->path;
}

void cx_plugin_copy_destroy(cx_plugin_copy **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_plugin_copy *self = *self_p;
    if (self->dirfd >= 0) {
        unlinkat(self->dirfd, self->file, 0);
        close(self->dirfd);
    }
    if (self->dir) {
        rmdir(self->dir);
        free(self->dir);
    }
    free(self);
    *self_p = NULL;
}
