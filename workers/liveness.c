/*
 * liveness.c — a healthcheck for a process that listens on no port.
 *
 * The gateway answers GET /healthz and the broker answers a probe on its
 * socket, but a worker only dials out. So its loop touches a file
 * (CHANX_HEALTH_FILE) at most once per
 * heartbeat interval while its broker link is alive, and
 * `chanx-worker --check` succeeds when that file is younger than the
 * heartbeat timeout plus one interval. A stuck loop (a plugin that never
 * returns) or a lost broker stops the touching, and the check fails: the
 * two things an orchestrator should know about a worker.
 *
 * The default lives where no other user can write: $XDG_RUNTIME_DIR (the
 * user's own 0700 runtime folder), else /run/chanx for root (/run is
 * root's), else the user's $HOME. A fixed name in a shared /tmp, the old
 * default, let another user plant it first and so fail every --check: a
 * denial of the liveness check. The compose image names /tmp explicitly,
 * which is private to its container.
 *
 * One file per worker: several workers on one host need one
 * CHANX_HEALTH_FILE each. Wherever it is, the file is opened without
 * following a symlink and touched, or trusted by --check, only when it is
 * ours.
 */
#include "workers/liveness.h"
#include "common/env.h"
#include "common/link.h"
#include "common/log.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Whether path is a real folder (not a symlink) of ours that no one else may write to. */
static int private_folder(const char *path)
{
    struct stat st;
    return path && *path == '/' && lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid()
           && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

/* The default's folder (see the head comment); NULL when there is none we can trust. */
static const char *default_folder(void)
{
    const char *runtime = getenv("XDG_RUNTIME_DIR");
    if (private_folder(runtime))
        return runtime;
    if (geteuid() == 0) {
        (void) mkdir("/run/chanx", 0700); /* an existing one is checked below */
        return private_folder("/run/chanx") ? "/run/chanx" : NULL;
    }
    const char *home = getenv("HOME");
    return private_folder(home) ? home : NULL;
}

/* CHANX_HEALTH_FILE, or the private default (NULL when neither exists: no beat, --check fails). */
static const char *health_file(void)
{
    static char path[4096];
    const char *set = cx_env_str("CHANX_HEALTH_FILE", NULL);
    if (set && *set)
        return set;
    const char *folder = default_folder();
    if (!folder || (size_t) snprintf(path, sizeof path, "%s/chanx-worker.alive", folder) >= sizeof path)
        return NULL;
    return path;
}

void cx_liveness_beat(int link_alive)
{
    static int64_t last;
    int64_t now = cx_now_ms();
    if (!link_alive || now - last < cx_heartbeat_interval_ms())
        return;
    last = now;
    const char *path = health_file();
    if (!path) {
        static int warned;
        if (!warned++)
            cx_warn("no private folder for the liveness file ($XDG_RUNTIME_DIR, /run/chanx, $HOME):"
                    " set CHANX_HEALTH_FILE, or chanx-worker --check fails");
        return;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    struct stat st;
    if (fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid())
        futimens(fd, NULL);
    if (fd >= 0)
        close(fd);
}

int cx_liveness_check(void)
{
    struct stat st;
    struct timespec now;
    const char *path = health_file();
    if (!path || lstat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()
        || clock_gettime(CLOCK_REALTIME, &now) != 0)
        return 1;
    int64_t age_ms = (int64_t) (now.tv_sec - st.st_mtim.tv_sec) * 1000 + (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
    return age_ms <= cx_heartbeat_timeout_ms() + cx_heartbeat_interval_ms() ? 0 : 1;
}
