/*
 * process.c — see process.h.
 */
#include "common/process.h"
#include "common/link.h"
#include "common/log.h"

#include <signal.h>

static volatile int stop_requested;

static void on_stop_signal(int sig)
{
    (void) sig;
    stop_requested = 1;
}

volatile int *cx_process_start(const char *name)
{
    cx_zmq_init();
    cx_log_init(name);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    return &stop_requested;
}
