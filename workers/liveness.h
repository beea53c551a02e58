/*
 * liveness.h — the worker's answer to a healthcheck (see liveness.c).
 */
#ifndef CX_WORKERS_LIVENESS_H
#define CX_WORKERS_LIVENESS_H

/* Called from the worker loop on every turn: marks the worker alive while its broker link is. */
void cx_liveness_beat(int link_alive);
/* `chanx-worker --check`: 0 when a worker marked itself alive recently, 1 otherwise. */
int cx_liveness_check(void);

#endif
