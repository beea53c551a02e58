/*
 * supervisor.h — chanx-worker as a supervisor of worker processes (see supervisor.c).
 */
#ifndef CX_WORKERS_SUPERVISOR_H
#define CX_WORKERS_SUPERVISOR_H

/* Exit status of a worker process that cannot start for a reason a restart will not fix (a wrong
 * routing file, a bad broker endpoint): the supervisor stops and exits with an error. EX_CONFIG. */
#define CX_WORKER_EXIT_CONFIG 78

typedef struct {
    const char *endpoint;    /* CHANX_BROKER */
    const char *plugins;     /* the plugin folder */
    const char *routing;     /* the routing file, or NULL */
    int processes;           /* CHANX_WORKER_PROCESSES */
    int isolate;             /* CHANX_ISOLATE=plugin: `processes` worker processes per plugin file, each loading
                              * only that file (workers/isolation.h) */
} cx_supervisor_options;

typedef struct cx_supervisor cx_supervisor;

/* NULL when the pipes or the broker link cannot be made (logged). Strings are copied. */
cx_supervisor *cx_supervisor_new(const cx_supervisor_options *options);
void cx_supervisor_destroy(cx_supervisor **self_p);
/* Starts the worker processes and keeps them running until *stop; then asks each to drain (SIGTERM) and
 * waits for them. 0, or 1 when a worker process could not start for a configuration error. */
int cx_supervisor_run(cx_supervisor *self, volatile int *stop);

#endif
