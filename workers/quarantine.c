/*
 * quarantine.c — the supervisor's count of crashes per plugin file.
 *
 * A plugin that crashes on every connection, or while it loads, would have
 * its worker processes restarted for ever, each restart costing every other
 * plugin's clients their connections too. So the supervisor counts the
 * crashes its children report (their notes name the plugin file whose
 * callback was running, workers/crash_report.h), and once one file has
 * crashed CHANX_CRASH_QUARANTINE times within QUARANTINE_WINDOW_MS, worker
 * processes started afterwards are told not to load it (--quarantine; the
 * worker's plugins.c refuses it by device and inode, and says why).
 *
 * The file is identified by device and inode, not its name: deploying a new
 * version (written elsewhere and renamed into place, as for any hot reload)
 * makes a new inode, which loads, so a fix lifts the quarantine without any
 * command; the supervisor forgets the old entry when it next starts a
 * process. The supervisor only stats the file: it never loads plugin code.
 */
#include "workers/quarantine.h"
#include "common/env.h"
#include "common/link.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define QUARANTINE_WINDOW_MS 60000
#define MAX_THRESHOLD 32

typedef struct {
    char file[256];
    int64_t crashes[MAX_THRESHOLD];   /* a ring of the last crash times (0: none) */
    int next;
    int quarantined;
    unsigned long long device, inode; /* the file as quarantined */
    char arg[48];                     /* "DEVICE:INODE" for cx_quarantine_args */
} record;

struct cx_quarantine {
    int threshold;
    record records[CX_QUARANTINE_MAX];
};

cx_quarantine *cx_quarantine_new(void)
{
    cx_quarantine *self = calloc(1, sizeof *self);
    if (self)
        self->threshold = (int) cx_env_long("CHANX_CRASH_QUARANTINE", 3, 0, MAX_THRESHOLD);
    return self;
}

void cx_quarantine_destroy(cx_quarantine **self_p)
{
    if (!self_p || !*self_p)
        return;
    free(*self_p);
    *self_p = NULL;
}

static record *record_of(cx_quarantine *self, const char *file)
{
    record *unused = NULL;
    for (int i = 0; i < CX_QUARANTINE_MAX; i++) {
        if (strcmp(self->records[i].file, file) == 0)
            return &self->records[i];
        if (!unused && !self->records[i].file[0])
            unused = &self->records[i];
    }
    if (unused)
        snprintf(unused->file, sizeof unused->file, "%s", file);
    return unused;
}

static int recent_crashes(const record *r, int64_t now)
{
    int n = 0;
    for (int i = 0; i < MAX_THRESHOLD; i++)
        n += r->crashes[i] && now - r->crashes[i] <= QUARANTINE_WINDOW_MS;
    return n;
}

int cx_quarantine_count_crash(cx_quarantine *self, const char *file)
{
    record *r = file[0] && self->threshold > 0 ? record_of(self, file) : NULL;
    if (!r || r->quarantined)
        return r != NULL;
    int64_t now = cx_now_ms();
    r->crashes[r->next++ % MAX_THRESHOLD] = now;
    int recent = recent_crashes(r, now);
    struct stat st;
    if (recent < self->threshold || stat(file, &st) != 0)
        return 0;
    r->quarantined = 1;
    r->device = (unsigned long long) st.st_dev;
    r->inode = (unsigned long long) st.st_ino;
    snprintf(r->arg, sizeof r->arg, "%llu:%llu", r->device, r->inode);
    cx_log_fields(CX_LOG_ERROR, "plugin quarantined: worker processes will not load it",
                  json_pack("{s:s, s:i, s:i, s:s}", "plugin_file", file, "crashes", recent, "within_s",
                            QUARANTINE_WINDOW_MS / 1000, "lift", "deploy a new version of the file"));
    return 1;
}

/* Whether the quarantined file is still the one that crashed. */
static int still_there(const record *r)
{
    struct stat st;
    return stat(r->file, &st) == 0 && (unsigned long long) st.st_dev == r->device
           && (unsigned long long) st.st_ino == r->inode;
}

/* Whether r holds a quarantine now; a file replaced since (a new version deployed) is forgotten. */
static int holds(record *r)
{
    if (!r->quarantined)
        return 0;
    if (still_there(r))
        return 1;
    cx_log_fields(CX_LOG_WARNING, "plugin quarantine lifted: a new version was deployed",
                  json_pack("{s:s}", "plugin_file", r->file));
    memset(r, 0, sizeof *r);
    return 0;
}

int cx_quarantine_args(cx_quarantine *self, char **argv)
{
    int n = 0;
    for (int i = 0; i < CX_QUARANTINE_MAX; i++) {
        record *r = &self->records[i];
        if (!holds(r))
            continue;
        argv[n++] = "--quarantine";
        argv[n++] = r->arg;
    }
    return n;
}

int cx_quarantine_holds(cx_quarantine *self, const char *file)
{
    for (int i = 0; i < CX_QUARANTINE_MAX; i++)
        if (self->records[i].quarantined && strcmp(self->records[i].file, file) == 0)
            return holds(&self->records[i]);
    return 0;
}
