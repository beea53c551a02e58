/*
 * process.h — what each chanx process (gateway, broker, worker) does before
 * its own work: its name in the logs, the ZeroMQ settings (cx_zmq_init),
 * SIGINT and SIGTERM turned into a stop request its loop polls, SIGPIPE
 * ignored (a peer that went away is an error return, not a death).
 */
#ifndef CX_COMMON_PROCESS_H
#define CX_COMMON_PROCESS_H

/* Returns the flag the signals set; the process's loop stops when it is non-zero. */
volatile int *cx_process_start(const char *name);

#endif
