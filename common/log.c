/*
 * log.c — JSON-lines or colored-terminal log records (see log.h).
 *
 * Each record is formatted into one buffer and written with a single
 * write(2), so lines from processes sharing a stream never interleave.
 */
#include "common/log.h"
#include "common/json_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static const char *process_name = "chanx";
static cx_log_level threshold = CX_LOG_INFO;
static int terminal = 0;

static const char *const LEVEL_NAMES[] = { "debug", "info", "warning", "error" };
static const char *const LEVEL_COLORS[] = { "\033[2m", "\033[32m", "\033[33m", "\033[31m" };

void cx_log_init(const char *process)
{
    process_name = process;
    terminal = isatty(STDERR_FILENO);
    const char *env = getenv("CHANX_LOG_LEVEL");
    for (int i = 0; env && i < 4; i++)
        if (strcasecmp(env, LEVEL_NAMES[i]) == 0)
            threshold = (cx_log_level) i;
    if (env && strcasecmp(env, "warn") == 0)
        threshold = CX_LOG_WARNING;
}

int cx_log_enabled(cx_log_level level)
{
    return level >= threshold;
}

static void timestamp(char *out, size_t len)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

static void write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t) n;
    }
}

static void emit_terminal(cx_log_level level, const char *ts, const char *event, json_t *fields)
{
    char *line = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&line, &len);
    if (!f)
        return;
    fprintf(f, "%s %s%-7s\033[0m %-7s %s", ts + 11, LEVEL_COLORS[level], LEVEL_NAMES[level],
            process_name, event);
    const char *key;
    json_t *value;
    json_object_foreach(fields, key, value) {
        char *v = json_is_string(value) ? strdup(json_string_value(value))
                                        : json_dumps(value, JSON_ENCODE_ANY | JSON_COMPACT);
        fprintf(f, " \033[2m%s=\033[0m%s", key, v ? v : "?");
        free(v);
    }
    fputc('\n', f);
    fclose(f);
    write_all(line, len);
    free(line);
}

static void emit_json(cx_log_level level, const char *ts, const char *event, json_t *fields)
{
    json_t *record = json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "level", LEVEL_NAMES[level],
                               "process", process_name, "event", event);
    if (!record)
        return;
    json_object_update_missing(record, fields);
    char *line = cx_json_text(record, NULL);
    json_decref(record);
    if (!line)
        return;
    size_t n = strlen(line);
    line[n] = '\n';   /* json_dumps's NUL becomes the newline; not printed past it */
    write_all(line, n + 1);
    free(line);
}

void cx_log_fields(cx_log_level level, const char *event, json_t *fields)
{
    if (level < threshold) {
        json_decref(fields);
        return;
    }
    char ts[40];
    timestamp(ts, sizeof ts);
    json_t *f = fields ? fields : json_object();
    if (terminal)
        emit_terminal(level, ts, event, f);
    else
        emit_json(level, ts, event, f);
    json_decref(f);
}

void cx_logv(cx_log_level level, json_t *fields, const char *fmt, va_list ap)
{
    if (level < threshold) {
        json_decref(fields);
        return;
    }
    char event[1024];
    vsnprintf(event, sizeof event, fmt, ap);
    cx_log_fields(level, event, fields);
}

void cx_log(cx_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cx_logv(level, NULL, fmt, ap);
    va_end(ap);
}
