/*
 * log.h — structured logging shared by every process.
 *
 * One JSON object per line on stderr, so that logs of many processes can be
 * merged and searched by field (conn, user, path...); when stderr is a
 * terminal the same record is printed as one readable, colored line instead.
 * The level threshold comes from CHANX_LOG_LEVEL (debug, info, warning, error).
 * Callers must never pass credentials (tokens, cookies) as fields.
 */
#ifndef CX_COMMON_LOG_H
#define CX_COMMON_LOG_H

#include <jansson.h>
#include <stdarg.h>

typedef enum { CX_LOG_DEBUG, CX_LOG_INFO, CX_LOG_WARNING, CX_LOG_ERROR } cx_log_level;

/* Names the process in every record ("gateway", "broker", "worker"). */
void cx_log_init(const char *process);
int cx_log_enabled(cx_log_level level);
/* A record with a printf-style event text. */
void cx_log(cx_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A record with fields; fields is stolen (may be NULL). */
void cx_log_fields(cx_log_level level, const char *event, json_t *fields);
/* cx_log with fields (taken, as cx_log_fields takes them) and a va_list, for wrappers. */
void cx_logv(cx_log_level level, json_t *fields, const char *fmt, va_list ap);

#define cx_debug(...) do { if (cx_log_enabled(CX_LOG_DEBUG)) cx_log(CX_LOG_DEBUG, __VA_ARGS__); } while (0)
#define cx_info(...) cx_log(CX_LOG_INFO, __VA_ARGS__)
#define cx_warn(...) cx_log(CX_LOG_WARNING, __VA_ARGS__)
#define cx_error(...) cx_log(CX_LOG_ERROR, __VA_ARGS__)

#endif
