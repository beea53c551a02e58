/*
 * env.c — see env.h.
 */
#include "common/env.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A setting's mistake ends the process at once: nothing it has started is worth tearing down, and
 * exit()'s handlers would add noise to the one line that matters (czmq reports the broker link's
 * socket, opened before some settings are read, as "dangling"). */
static _Noreturn void stop_on_setting(void)
{
    fflush(NULL);
    _exit(2);
}

const char *cx_env_str(const char *name, const char *fallback)
{
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

long cx_env_long(const char *name, long fallback, long min, long max)
{
    const char *v = cx_env_str(name, NULL);
    if (!v)
        return fallback;
    char *end = NULL;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        fprintf(stderr, "chanx: %s=%s is not a whole number from %ld to %ld\n", name, v, min, max);
        stop_on_setting();
    }
    return n;
}

int cx_env_flag(const char *name, int fallback)
{
    const char *v = cx_env_str(name, NULL);
    if (!v)
        return fallback;
    static const char *const on[] = { "1", "true", "on", "yes" }, *const off[] = { "0", "false", "off", "no" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, on[i]) == 0)
            return 1;
        if (strcasecmp(v, off[i]) == 0)
            return 0;
    }
    /* A typo is a deployment mistake: CHANX_INSECURE_LINKS=flase must not mean on. */
    fprintf(stderr, "chanx: %s=%s is neither on (1, true, on, yes) nor off (0, false, off, no)\n", name, v);
    stop_on_setting();
}
