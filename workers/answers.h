/*
 * answers.h — the broker's answers to requests a pool thread is waiting for.
 *
 * A few plugin API calls ask the broker something and wait for the answer
 * (chanx_group_presence: PRESENCE → PRESENCE_RESULT). The request leaves
 * through the outbox like any envelope; the answer arrives on the link
 * thread, which puts it here; the pool thread that asked waits on a
 * condition variable for its request id, up to a timeout. An answer nobody
 * waits for any more (timed out) is dropped on arrival.
 */
#ifndef CX_WORKERS_ANSWERS_H
#define CX_WORKERS_ANSWERS_H

#include <stdint.h>
#include <jansson.h>

typedef struct cx_answers cx_answers;

cx_answers *cx_answers_new(void);
void cx_answers_destroy(cx_answers **self_p);
/* A new request id, registered as awaited. Any thread. 0 when out of memory. */
uint64_t cx_answers_expect(cx_answers *self);
/* Waits up to timeout_ms for the answer to id and forgets id: the answer (new reference), or NULL on
 * timeout. The thread that called expect. */
json_t *cx_answers_wait(cx_answers *self, uint64_t id, int timeout_ms);
/* The broker's answer to id (JSON text; not JSON: an error object), from the link thread. */
void cx_answers_put(cx_answers *self, uint64_t id, const char *text, size_t len);

#endif
