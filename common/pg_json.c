/*
 * pg_json.c — PostgreSQL text values to JSON by type OID (see pg_json.h).
 *
 * Type OIDs of the built-in types are fixed (pg_type.dat), so a switch on
 * PQftype needs no catalog lookup. numeric is the delicate one: a JSON
 * number is read as a double by most clients, so a value that a double
 * cannot hold exactly (money with 20 digits) is handed over as a string
 * rather than silently rounded.
 */
#include "common/pg_json.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
    OID_BOOL = 16, OID_INT8 = 20, OID_INT2 = 21, OID_INT4 = 23, OID_OID = 26, OID_JSON = 114,
    OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184,
    OID_NUMERIC = 1700, OID_JSONB = 3802,
};

static json_t *integer_or_string(const char *v)
{
    errno = 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    return errno == 0 && *end == '\0' && end != v ? json_integer(n) : json_string(v);
}

static json_t *number(const char *v)
{
    char *end;
    double d = strtod(v, &end);
    json_t *j = *end == '\0' && end != v ? json_real(d) : NULL;   /* NULL for NaN and infinities */
    return j ? j : json_string(v);
}

static json_t *numeric(const char *v)
{
    const char *p = v + (*v == '-' || *v == '+');
    int digits = 0, significant = 0, leading = 1, dot = 0;
    for (; *p; p++) {
        if (*p == '.' && !dot) {
            dot = 1;
            continue;
        }
        if (!isdigit((unsigned char) *p))
            return json_string(v);   /* NaN, Infinity, exponent forms */
        digits++;
        if (*p != '0')
            leading = 0;
        if (!leading)
            significant++;
    }
    if (!digits)
        return json_string(v);
    if (!dot) {
        json_t *i = integer_or_string(v);
        if (json_is_integer(i))
            return i;
        json_decref(i);
        return json_string(v);
    }
    /* Trailing zeros after the point are not significant ("1.50" is 1.5). */
    for (const char *q = v + strlen(v) - 1; *q == '0' && significant > 0; q--)
        significant--;
    return significant <= 15 ? number(v) : json_string(v);
}

/* "2026-11-30 23:58:05.1+00" → "2026-11-30T23:58:05.1Z"; "+05:30" offsets kept, "+05" → "+05:00". */
static json_t *timestamp(const char *v, int with_zone)
{
    size_t n = strlen(v);
    if (n < 19 || v[10] != ' ')
        return json_string(v);   /* infinity, BC dates: PostgreSQL's text */
    char out[64];
    if (n + 4 >= sizeof out)
        return json_string(v);
    memcpy(out, v, n + 1);
    out[10] = 'T';
    if (with_zone) {
        char *sign = strpbrk(out + 19, "+-");
        if (sign && strcmp(sign, "+00") == 0)
            strcpy(sign, "Z");
        else if (sign && strlen(sign) == 3)
            strcat(sign, ":00");
    }
    return json_string(out);
}

json_t *cx_pg_value_json(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    json_t *j;
    switch (PQftype(res, col)) {
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
        return integer_or_string(v);
    case OID_FLOAT4: case OID_FLOAT8:
        return number(v);
    case OID_NUMERIC:
        return numeric(v);
    case OID_BOOL:
        return json_boolean(v[0] == 't');
    case OID_JSON: case OID_JSONB:
        j = json_loadb(v, (size_t) PQgetlength(res, row, col), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        return j ? j : json_string(v);
    case OID_TIMESTAMP:
        return timestamp(v, 0);
    case OID_TIMESTAMPTZ:
        return timestamp(v, 1);
    default:
        j = json_stringn(v, (size_t) PQgetlength(res, row, col));
        return j ? j : json_null();   /* not UTF-8: a SQL_ASCII database */
    }
}

json_t *cx_pg_row_json(const PGresult *res, int row)
{
    json_t *obj = json_object();
    for (int c = 0; obj && c < PQnfields(res); c++)
        json_object_set_new(obj, PQfname(res, c), cx_pg_value_json(res, row, c));
    return obj;
}

json_t *cx_pg_rows_json(const PGresult *res)
{
    json_t *rows = json_array();
    for (int r = 0; rows && r < PQntuples(res); r++)
        json_array_append_new(rows, cx_pg_row_json(res, r));
    return rows;
}
