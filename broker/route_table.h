/*
 * route_table.h — the route table the broker publishes to gateways.
 *
 * Workers register (pattern, consumer, spec) rows; gateways get the union in
 * registration order (first match wins, as in Django). A row stays known
 * after its last worker leaves, marked unavailable, so gateways answer 503
 * rather than 404 for a consumer that is only temporarily gone.
 */
#ifndef CX_BROKER_ROUTE_TABLE_H
#define CX_BROKER_ROUTE_TABLE_H

#include <stddef.h>
#include "proto/envelope.h"

typedef struct cx_route_table cx_route_table;

cx_route_table *cx_route_table_new(void);
void cx_route_table_destroy(cx_route_table **self_p);
/* Replaces what worker serves with these rows. Returns 1 if the published table changed. */
int cx_route_table_set_worker(cx_route_table *self, void *worker, const cx_env_route *rows, size_t nrows);
/* Forgets a worker. Returns 1 if the published table changed. */
int cx_route_table_remove_worker(cx_route_table *self, void *worker);
/* Marks the rows of every consumer of plugin ("plugin" of "plugin.consumer") quarantined: published with
 * available CX_ROUTE_QUARANTINED while no worker serves them; a worker registering a row clears it.
 * Returns how many rows it marked. */
size_t cx_route_table_quarantine(cx_route_table *self, const char *plugin);
/* Whether the table has a row of plugin (served or not). */
int cx_route_table_has_plugin(const cx_route_table *self, const char *plugin);
/* Whether target's plugin is quarantined (no worker will serve it until a new version registers). */
int cx_route_table_quarantined(const cx_route_table *self, cx_slice target);
/* The workers serving target (consumer name); returns how many were written to out. */
size_t cx_route_table_workers(const cx_route_table *self, cx_slice target, void **out, size_t max);
/* Fills a ROUTES envelope; its rows point into the table and stay valid until the table changes. */
void cx_route_table_envelope(cx_route_table *self, cx_env *env);
/* Calls fn once per plugin ("plugin" of "plugin.consumer") with rows in the table: quarantined 1 when
 * its rows are marked quarantined (cx_route_table_quarantine, until a worker registers them again). */
void cx_route_table_each_plugin(const cx_route_table *self, void (*fn)(const char *plugin, int quarantined));
/* Rows of the table (routes, with or without a live worker). */
size_t cx_route_table_size(const cx_route_table *self);

#endif
