/*
 * broker.h — the central router of Chanx in C.
 *
 * The broker owns one ROUTER socket that every gateway and worker connects
 * to. It knows which gateway holds each connection and which worker it is
 * pinned to, keeps group membership, publishes the route table, and watches
 * heartbeats. It never parses a client's frame: RECEIVE, SEND and group
 * traffic are forwarded as the bytes that arrived.
 */
#ifndef CX_BROKER_BROKER_H
#define CX_BROKER_BROKER_H

typedef struct cx_broker cx_broker;

/* Binds endpoint ("tcp://127.0.0.1:5555"); NULL on failure (logged). */
cx_broker *cx_broker_new(const char *endpoint);
void cx_broker_destroy(cx_broker **self_p);
/* Makes this broker a standby of the one at primary: it copies the primary's group histories until
 * peers fail over to it (standby.c). 0, or -1 when the link cannot be made. */
int cx_broker_follow(cx_broker *self, const char *primary);
/* Runs until *stop becomes non-zero (set from a signal handler). */
int cx_broker_run(cx_broker *self, volatile int *stop);

#endif
