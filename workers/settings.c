/*
 * settings.c — the CHANX_* consumer settings from the environment (see
 * settings.h). Flags are off for 0, false, off or no (common/env.h); the ignored actions
 * are a comma- or space-separated list.
 */
#include "workers/settings.h"
#include "common/env.h"

#include <stdlib.h>
#include <string.h>

void cx_settings_load(cx_settings *s)
{
    s->send_completion = cx_env_flag("CHANX_SEND_COMPLETION", 0);
    s->send_authentication_message = cx_env_flag("CHANX_SEND_AUTHENTICATION_MESSAGE", 1);
    s->log_received_message = cx_env_flag("CHANX_LOG_RECEIVED_MESSAGE", 1);
    s->log_sent_message = cx_env_flag("CHANX_LOG_SENT_MESSAGE", 1);
    s->camelize = cx_env_flag("CHANX_CAMELIZE", 0);
    s->max_groups_per_connection = (size_t) cx_env_long("CHANX_MAX_GROUPS_PER_CONNECTION", 1000, 1, 1L << 20);
    s->topic_subscriptions_max = cx_env_long("CHANX_TOPIC_SUBSCRIPTIONS_MAX", 100, 1, 100000);
    s->log_ignored_actions = json_array();
    const char *ignored = cx_env_str("CHANX_LOG_IGNORED_ACTIONS", NULL);
    char *copy = ignored ? strdup(ignored) : NULL, *save = NULL;
    for (char *a = copy ? strtok_r(copy, ", ", &save) : NULL; a; a = strtok_r(NULL, ", ", &save))
        json_array_append_new(s->log_ignored_actions, json_string(a));
    free(copy);
}

void cx_settings_free(cx_settings *s)
{
    json_decref(s->log_ignored_actions);
    s->log_ignored_actions = NULL;
}
