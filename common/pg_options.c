/*
 * pg_options.c — the deployment's libpq options, then ours (see pg_options.h).
 */
#include "common/pg_options.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

int cx_pg_options(const char *conninfo, const char *ours, char *out, size_t outlen)
{
    const char *theirs = NULL;
    PQconninfoOption *opts = conninfo ? PQconninfoParse(conninfo, NULL) : NULL;
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val && *o->val)
            theirs = o->val;
    int n = theirs ? snprintf(out, outlen, "%s %s", theirs, ours) : snprintf(out, outlen, "%s", ours);
    int rc = n >= 0 && (size_t) n < outlen ? 0 : -1;
    if (rc)
        snprintf(out, outlen, "%s", ours);
    PQconninfoFree(opts);
    return rc;
}
