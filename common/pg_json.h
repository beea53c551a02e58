/*
 * pg_json.h — PostgreSQL result values as JSON, one mapping for the whole
 * project: the gateway's object queryset (chanx_obj()) and the worker's
 * chanx_db_query() rows read the same way.
 *
 *   int2, int4, int8, oid       integer
 *   numeric                     integer when integral and within int64; number when it has at
 *                               most 15 significant digits (a double holds it exactly); else the
 *                               exact decimal as a string. NaN and infinities: strings.
 *   float4, float8              number; NaN and infinities as strings ("NaN", "Infinity")
 *   bool                        true / false
 *   json, jsonb                 the JSON value itself
 *   timestamptz                 ISO 8601 in UTC, "2026-11-30T23:58:05.123456Z" (needs TimeZone=UTC)
 *   timestamp                   ISO 8601 without zone, "2026-11-30T23:58:05.123456"
 *   NULL                        null
 *   anything else               PostgreSQL's text form as a string (text, varchar, uuid, date,
 *                               arrays "{1,2}", bytea "\x...")
 * Values must come in PostgreSQL's text format with DateStyle ISO.
 */
#ifndef CX_COMMON_PG_JSON_H
#define CX_COMMON_PG_JSON_H

#include <jansson.h>
#include <libpq-fe.h>

/* One value (new reference). */
json_t *cx_pg_value_json(const PGresult *res, int row, int col);
/* One row as an object, column names as keys (new reference). */
json_t *cx_pg_row_json(const PGresult *res, int row);
/* Every row: an array of objects (new reference). */
json_t *cx_pg_rows_json(const PGresult *res);

#endif
