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
 * no plugin's callback was running: not counted). Logs when the plugin becomes quarantined. Returns 1
 * when the file is quarantined (now or before), 0 otherwise. */
int cx_quarantine_count_crash(cx_quarantine *self, const char *file);
/* Writes "--quarantine" "DEVICE:INODE" pairs for the files quarantined now into argv (room for
 * 2 * CX_QUARANTINE_MAX) and returns how many strings it wrote; they stay valid until the next call.
 * A file replaced since it was quarantined (a new version deployed) is forgotten: that lifts it. */
int cx_quarantine_args(cx_quarantine *self, char **argv);
/* Whether file (the deployed path) is quarantined now; a file replaced since is forgotten, as above. */
int cx_quarantine_holds(cx_quarantine *self, const char *file);

#endif
