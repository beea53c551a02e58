/*
 * quarantine.c — the supervisor's count of crashes per plugin version.
 *
 * A plugin that crashes on every connection, or while it loads, would have
 * its worker processes restarted for ever, each restart costing every other
 * plugin's clients their connections too. So the supervisor counts the
 * crashes its children report (their notes name the plugin file whose
 * callback was running, workers/crash_report.h), and once one version of a
 * file has crashed CHANX_CRASH_QUARANTINE times within QUARANTINE_WINDOW_MS,
 * worker processes started afterwards are told not to load it
 * (--quarantine DIGEST; the worker's plugins.c refuses those bytes, and
 * says why).
 *
 * A version is the digest of the file's bytes (common/file_digest.h), not
 * its inode: every deploy (written elsewhere and renamed into place, as for
 * any hot reload) makes a new inode, the same crashing bytes shipped again
 * included. Only other bytes lift a quarantine; the same bytes keep it, and
 * a log record says so. Crashes are counted per version: a new version
 * starts from zero, so CHANX_CRASH_QUARANTINE crashes of it quarantine it
 * again, no more and no fewer.
 *
 * The lift happens when the file is deployed, not when a process is next
 * started: the folders of quarantined files are watched (inotify; the
 * supervisor polls cx_quarantine_fd), so the lift is logged at once, and
 * a file whose processes wait for it (CHANX_ISOLATE=plugin) gets them then.
 * An unchanged file (same inode, size and mtime) is not read again. The
 * supervisor only reads the file's bytes: it never loads plugin code.
 */
#include "workers/quarantine.h"
#include "common/env.h"
#include "common/file_digest.h"
#include "common/link.h"
#include "common/log.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define QUARANTINE_WINDOW_MS 60000
#define MAX_THRESHOLD 32

typedef struct {
    char file[256];
    int64_t crashes[MAX_THRESHOLD];   /* a ring of the last crash times of this version (0: none) */
    int next;
    char version[CX_FILE_DIGEST_HEX]; /* the digest whose crashes are counted (and quarantined) */
    int quarantined;
    struct stat seen;                 /* the file when last read, so an unchanged file is not read again */
} record;

struct cx_quarantine {
    int threshold;
    int watch_fd;                     /* inotify on the folders of quarantined files; -1 without */
    record records[CX_QUARANTINE_MAX];
};

cx_quarantine *cx_quarantine_new(void)
{
    cx_quarantine *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->threshold = (int) cx_env_long("CHANX_CRASH_QUARANTINE", 3, 0, MAX_THRESHOLD);
    self->watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    return self;
}

void cx_quarantine_destroy(cx_quarantine **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->watch_fd >= 0)
        close((*self_p)->watch_fd);
    free(*self_p);
    *self_p = NULL;
}

int cx_quarantine_fd(const cx_quarantine *self)
{
    return self->watch_fd;
}

static record *find(cx_quarantine *self, const char *file)
{
    for (int i = 0; i < CX_QUARANTINE_MAX; i++)
        if (strcmp(self->records[i].file, file) == 0)
            return &self->records[i];
    return NULL;
}

static record *record_of(cx_quarantine *self, const char *file)
{
    record *r = find(self, file);
    for (int i = 0; !r && i < CX_QUARANTINE_MAX; i++)
        if (!self->records[i].file[0]) {
            r = &self->records[i];
            snprintf(r->file, sizeof r->file, "%s", file);
        }
    return r;
}

static int recent_crashes(const record *r, int64_t now)
{
    int n = 0;
    for (int i = 0; i < MAX_THRESHOLD; i++)
        n += r->crashes[i] && now - r->crashes[i] <= QUARANTINE_WINDOW_MS;
    return n;
}

/* Counting starts again for version (a new one, or the one a lift brought). */
static void count_version(record *r, const char *version)
{
    memset(r->crashes, 0, sizeof r->crashes);
    r->next = 0;
    snprintf(r->version, sizeof r->version, "%s", version);
}

static int same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
           && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void lift(record *r, const char *version)
{
    cx_log_fields(CX_LOG_WARNING, "plugin quarantine lifted: a new version was deployed",
                  json_pack("{s:s, s:s, s:s}", "plugin_file", r->file, "quarantined_digest", r->version,
                            "digest", version));
    r->quarantined = 0;
    count_version(r, version);
}

/* A quarantined file deployed again since we last read it: other bytes lift the quarantine, the same
 * bytes keep it (said once per deploy). A file that is gone keeps it too: there is nothing to load. */
static void recheck(record *r)
{
    struct stat st;
    if (!r->quarantined || stat(r->file, &st) != 0 || same_file(&st, &r->seen))
        return;
    char digest[CX_FILE_DIGEST_HEX];
    if (cx_file_digest(r->file, digest) != 0)
        return;
    r->seen = st;
    if (strcmp(digest, r->version) != 0) {
        lift(r, digest);
        return;
    }
    cx_log_fields(CX_LOG_WARNING, "plugin redeployed unchanged: it stays quarantined",
                  json_pack("{s:s, s:s, s:s}", "plugin_file", r->file, "digest", digest, "lift",
                            "deploy a new version of the file (other bytes)"));
}

static void quarantine(cx_quarantine *self, record *r, int crashes)
{
    r->quarantined = 1;
    if (stat(r->file, &r->seen) != 0)
        memset(&r->seen, 0, sizeof r->seen);
    char dir[sizeof r->file];
    snprintf(dir, sizeof dir, "%s", r->file);
    if (self->watch_fd >= 0
        && inotify_add_watch(self->watch_fd, dirname(dir), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0)
        cx_warn("cannot watch %s for a new version of %s: the lift is seen at the next process start", dir, r->file);
    cx_log_fields(CX_LOG_ERROR, "plugin quarantined: worker processes will not load it",
                  json_pack("{s:s, s:s, s:i, s:i, s:s}", "plugin_file", r->file, "digest", r->version, "crashes",
                            crashes, "within_s", QUARANTINE_WINDOW_MS / 1000, "lift",
                            "deploy a new version of the file (other bytes)"));
}

int cx_quarantine_count_crash(cx_quarantine *self, const char *file)
{
    record *r = file[0] && self->threshold > 0 ? record_of(self, file) : NULL;
    if (!r)
        return 0;
    recheck(r);   /* a lift not seen yet: this crash is then the new version's first */
    if (r->quarantined)
        return 1;
    char digest[CX_FILE_DIGEST_HEX];
    if (cx_file_digest(file, digest) != 0)
        return 0;   /* gone or unreadable: no version to quarantine */
    if (strcmp(digest, r->version) != 0)
        count_version(r, digest);
    int64_t now = cx_now_ms();
    r->crashes[r->next++ % MAX_THRESHOLD] = now;
    int recent = recent_crashes(r, now);
    if (recent < self->threshold)
        return 0;
    quarantine(self, r, recent);
    return 1;
}

int cx_quarantine_rescan(cx_quarantine *self)
{
    char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
    while (self->watch_fd >= 0 && read(self->watch_fd, buf, sizeof buf) > 0) {}
    int lifted = 0;
    for (int i = 0; i < CX_QUARANTINE_MAX; i++) {
        record *r = &self->records[i];
        int was = r->quarantined;
        recheck(r);
        lifted += was && !r->quarantined;
    }
    return lifted;
}

int cx_quarantine_args(cx_quarantine *self, char **argv)
{
    int n = 0;
    for (int i = 0; i < CX_QUARANTINE_MAX; i++) {
        record *r = &self->records[i];
        recheck(r);
        if (!r->quarantined)
            continue;
        argv[n++] = "--quarantine";
        argv[n++] = r->version;
    }
    return n;
}

int cx_quarantine_holds(cx_quarantine *self, const char *file)
{
    char real[PATH_MAX];
    record *r = find(self, realpath(file, real) ? real : file);   /* crash notes name the real path */
    if (!r)
        return 0;
    recheck(r);
    return r->quarantined;
}
