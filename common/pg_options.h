/*
 * pg_options.h — libpq "options" that add to the deployment's own.
 *
 * The gateway and the worker connect with PQconnectdbParams(dbname =
 * CHANX_DATABASE_URL, ..., options = "-c statement_timeout=N"), and a later
 * "options" replaces the one inside the connection string: a Django site's
 * "options='-c search_path=site'" (its tables in another schema) was
 * silently dropped. cx_pg_options joins the two, the deployment's first.
 *
 * Threading: pure function; any thread.
 */
#ifndef CX_COMMON_PG_OPTIONS_H
#define CX_COMMON_PG_OPTIONS_H

#include <stddef.h>

/* out = conninfo's own options (keyword string or URI; none when it has none or does not parse),
 * a space, then ours. Returns 0, or -1 when out is too small (out then holds ours alone). */
int cx_pg_options(const char *conninfo, const char *ours, char *out, size_t outlen);

#endif
