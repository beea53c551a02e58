/*
 * settings.h — the worker's deployment-wide consumer settings: Chanx's
 * CHANX settings (send_completion, log_ignored_actions, ...), read from the
 * environment once when the worker starts.
 *
 * A consumer's own flag (chanx_consumer.send_completion = CHANX_ON, ...)
 * wins over the deployment's; CHANX_DEFAULT takes the value here. The worker
 * owns one cx_settings and hands it to every connection through its services
 * (workers/services.h); it never changes after load, so any thread may read it.
 * To add a setting: a field here, its variable in cx_settings_load, its row in
 * docs/configuration.md's environment table, and its use in context.c or send.c.
 */
#ifndef CX_WORKERS_SETTINGS_H
#define CX_WORKERS_SETTINGS_H

#include <jansson.h>

typedef struct {
    int send_completion;              /* CHANX_SEND_COMPLETION, 0 */
    int send_authentication_message;  /* CHANX_SEND_AUTHENTICATION_MESSAGE, 1 */
    int log_received_message;         /* CHANX_LOG_RECEIVED_MESSAGE, 1 */
    int log_sent_message;             /* CHANX_LOG_SENT_MESSAGE, 1 */
    int camelize;                     /* CHANX_CAMELIZE, 0 */
    json_t *log_ignored_actions;      /* CHANX_LOG_IGNORED_ACTIONS: array of strings */
    size_t max_groups_per_connection; /* CHANX_MAX_GROUPS_PER_CONNECTION, 1000 */
    long topic_subscriptions_max;     /* CHANX_TOPIC_SUBSCRIPTIONS_MAX, 100: topics per connection (topics.c) */
} cx_settings;

/* Reads the environment into settings. */
void cx_settings_load(cx_settings *settings);
void cx_settings_free(cx_settings *settings);

#endif
