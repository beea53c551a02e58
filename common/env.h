/*
 * env.h — configuration from the environment, the one way every process
 * is configured (see the table of CHANX_* variables in docs/configuration.md).
 *
 * An empty variable counts as unset. A malformed number or flag is a
 * deployment mistake, so it stops the process at start with a message
 * naming the variable, rather than silently becoming 0 or on.
 */
#ifndef CX_COMMON_ENV_H
#define CX_COMMON_ENV_H

const char *cx_env_str(const char *name, const char *fallback);
/* An integer in [min, max]; exits with status 2 and a message otherwise (_exit: no atexit handlers). */
long cx_env_long(const char *name, long fallback, long min, long max);
/* on/off: "1", "true", "on", "yes" are on, "0", "false", "off", "no" off (any case); anything
 * else exits with status 2 and a message. */
int cx_env_flag(const char *name, int fallback);

#endif
