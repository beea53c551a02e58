/*
 * quarantine.h — plugin files that crash worker processes too often (see quarantine.c).
 */
#ifndef CX_WORKERS_QUARANTINE_H
#define CX_WORKERS_QUARANTINE_H

/* Plugin files tracked at once; a crash of a further file is not counted. */
#define CX_QUARANTINE_MAX 16

typedef struct cx_quarantine cx_quarantine;

/* The threshold comes from CHANX_CRASH_QUARANTINE (default 3 crashes within 60 s; 0: never). */
cx_quarantine *cx_quarantine_new(void);
void cx_quarantine_destroy(cx_quarantine **self_p);
/* A worker process crashed in a callback of the plugin loaded from file (the deployed path; "" when
 * no plugin's callback was running: not counted). Crashes count per version (the digest of the file's
 * bytes now): a new version starts from zero. Logs when the version becomes quarantined. Returns 1
 * when the file's version is quarantined (now or before), 0 otherwise. */
int cx_quarantine_count_crash(cx_quarantine *self, const char *file);
/* An inotify descriptor that is readable when a folder holding a quarantined file changes; poll it and
 * call cx_quarantine_rescan. -1 when inotify is unavailable (lifts are then seen at the next start). */
int cx_quarantine_fd(const cx_quarantine *self);
/* Reads what the folders said and checks every quarantined file again: one holding other bytes now is
 * lifted (logged, its count starts from zero); the same bytes deployed again stay quarantined (logged).
 * Returns how many quarantines were lifted. */
int cx_quarantine_rescan(cx_quarantine *self);
/* Writes "--quarantine" DIGEST pairs for the versions quarantined now into argv (room for
 * 2 * CX_QUARANTINE_MAX) and returns how many strings it wrote; they stay valid until the next call.
 * Checks for new versions first, as cx_quarantine_rescan does. */
int cx_quarantine_args(cx_quarantine *self, char **argv);
/* Whether file (the deployed path) is quarantined now; checks for a new version first. */
int cx_quarantine_holds(cx_quarantine *self, const char *file);

#endif
