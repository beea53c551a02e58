/*
 * liveness.c — a healthcheck for a process that listens on no port.
 *
 * The gateway answers GET /healthz and the broker answers a probe on its
 * socket, but a worker only dials out. So its loop touches a file
 * (CHANX_HEALTH_FILE, default /tmp/chanx-worker.alive) at most once per
 * heartbeat interval while its broker link is alive, and
 * `chanx-worker --check` succeeds when that file is younger than the
 * heartbeat timeout plus one interval. A stuck loop (a plugin that never
 * returns) or a lost broker stops the touching, and the check fails: the
 * two things an orchestrator should know about a worker.
 *
 * One file per worker: containers have their own /tmp; several workers on
 * one host need one CHANX_HEALTH_FILE each. In a shared /tmp another user
 * may have planted the name first: the file is opened without following a
 * symlink and touched, or trusted by --check, only when it is ours.
 */
#include "workers/liveness.h"
#include "common/env.h"
#include "common/link.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *health_file(void)
{
    return cx_env_str("CHANX_HEALTH_FILE", "/tmp/chanx-worker.alive");
}

void cx_liveness_beat(int link_alive)
{
    static int64_t last;
    int64_t now = cx_now_ms();
    if (!link_alive || now - last < cx_heartbeat_interval_ms())
        return;
    last = now;
    int fd = open(health_file(), O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
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
    if (lstat(health_file(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()
        || clock_gettime(CLOCK_REALTIME, &now) != 0)
        return 1;
    int64_t age_ms = (int64_t) (now.tv_sec - st.st_mtim.tv_sec) * 1000 + (now.tv_nsec - st.st_mtim.tv_nsec) / 1000000;
    return age_ms <= cx_heartbeat_timeout_ms() + cx_heartbeat_interval_ms() ? 0 : 1;
}
