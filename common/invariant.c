/*
 * invariant.c — the record and the abort of a broken CX_ASSERT (see
 * invariant.h). The record goes through common/log.h like any other, at
 * error level (never filtered out), so a deployment's log search finds it
 * beside the records that led to it.
 */
#include "common/invariant.h"
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void cx_invariant_broken(const char *cond, const char *file, int line, const char *func, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char event[600];
    snprintf(event, sizeof event, "Invariant broken: %s", what);
    cx_log_fields(CX_LOG_ERROR, event,
                  json_pack("{s:s, s:s, s:s, s:i, s:s}", "bug", "chanx", "assertion", cond, "file", file, "line",
                            line, "function", func));
    abort();
}
