/*
 * event_catalog.h — which server-side events the consumers of the route
 * table can take, for the publish API.
 *
 * An event whose action no consumer declares (in .events or
 * .passthrough_events), or whose payload fails the .events schema of every
 * consumer that declares it, reaches its recipients only to be dropped and
 * logged by each. Chanx's typed events cannot be sent wrong, so the API
 * refuses such an event with the reason instead (400, pydantic's error list
 * for a payload). The recipients of a group, a user or a connection are
 * known to the broker only, so the question is asked of every consumer in
 * the table: "could anyone take this?".
 *
 * Built from the ROUTES envelope (the broker sends it to API peers as to
 * gateways), whose rows carry each consumer's spec: its "events" schema and
 * "passthrough_events". A schema is compiled when its consumer's spec first
 * appears or changes, never per request. One thread (the publisher's).
 */
#ifndef CX_COMMON_EVENT_CATALOG_H
#define CX_COMMON_EVENT_CATALOG_H

#include <jansson.h>
#include <stddef.h>
#include "proto/envelope.h"

typedef struct cx_event_catalog cx_event_catalog;

cx_event_catalog *cx_event_catalog_new(void);
void cx_event_catalog_destroy(cx_event_catalog **self_p);
/* Replaces the catalog with the consumers of a ROUTES envelope (read, not kept). */
void cx_event_catalog_update(cx_event_catalog *self, const cx_env *routes);
/* Whether some consumer can take the event: action and payload (borrowed; NULL payload is null).
 * 0 when one can, or when no route table with a consumer has arrived yet (nothing to judge by). -1 with message
 * (why, naming the action) and *errors: pydantic's list from the first consumer that declares the
 * action (new reference), or NULL when none declares it. */
int cx_event_catalog_check(const cx_event_catalog *self, const char *action, const json_t *payload, char *message,
                           size_t len, json_t **errors);

#endif
