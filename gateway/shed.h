/*
 * shed.h — the gateway-wide bound on buffered bytes (load shedding).
 *
 * CHANX_MAX_BUFFERED_BYTES bounds one client's backlog; without a bound on
 * their sum, many clients that do not read (200 of one token in a flooded
 * room took a gateway from 52 MB to 1.5 GB) run the gateway out of memory.
 * Every byte queued at this gateway for or from a client (the sessions'
 * frame queues, see session.h; not what the kernel holds in the sockets'
 * send queues, which CHANX_MAX_BUFFERED_BYTES counts per client and the
 * kernel bounds per socket) is counted in one total; once the total
 * passes CHANX_GATEWAY_MAX_BUFFERED_TOTAL, the connections holding the most
 * are closed with 1013 (try again later), biggest first, and what they held
 * is dropped, until the total is back under three quarters of the bound:
 * the clients that read are the ones that stay. A shed client gets its
 * close frame as soon as it reads, and is disconnected after
 * CX_SHED_CLOSE_SECS if it never does.
 */
#ifndef CX_GATEWAY_SHED_H
#define CX_GATEWAY_SHED_H

#include <stddef.h>

#define CX_SHED_CLOSE_SECS 30

struct cx_gateway;

/* The default bound: a quarter of the memory this process may use (the machine's RAM, or the
 * cgroup's memory.max when that is lower), at least 64 MiB. */
size_t cx_shed_default_total(void);
/* Called when bytes were queued: sheds when the gateway's total is over its bound. */
void cx_gw_shed_if_over(struct cx_gateway *gw);

#endif
