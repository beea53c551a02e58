/*
 * publish.c — chanx-admin publish / disconnect: events and disconnects for
 * operators and scripts, without the HTTP API.
 *
 *   chanx-admin publish (--group G ... | --topic T [--seq N] | --user ID | --connection ID) --action A [--payload JSON]
 *   chanx-admin disconnect (--user ID | --connection ID) [--code N]
 *   chanx-admin presence (--group G | --topic T) [--stats | --limit N --cursor C]
 *
 * The command speaks to the broker directly as an API peer (CX_ROLE_API),
 * so it works where chanx-api is not deployed or its key is not at hand;
 * the checks are the API's own (common/publish.c), so both refuse the same
 * input the same way. Prints what the broker reached, as the API answers.
 */
#include "admin/admin.h"
#include "common/env.h"
#include "common/link.h"
#include "common/publish.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail_usage(const char *fmt, const char *what)
{
    fprintf(stderr, "chanx-admin: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (try --help)\n");
    return ADMIN_USAGE;
}

/* Builds the command's params from "--name value" pairs; -1 after saying why. */
static int build_params(int argc, char **argv, int publish, json_t *params)
{
    json_t *groups = json_array(), *event = json_object();
    int rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *opt = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!value || strncmp(opt, "--", 2) != 0) {
            rc = fail_usage(value ? "unexpected argument '%s'" : "option '%s' needs a value", opt);
            break;
        }
        i++;
        if (publish && !strcmp(opt, "--group")) {
            json_array_append_new(groups, json_string(value));
        } else if (!strcmp(opt, "--user")) {
            char *end;
            long long id = strtoll(value, &end, 10);
            json_object_set_new(params, "user_id", *end ? json_string(value) : json_integer(id));
        } else if (publish && !strcmp(opt, "--topic")) {
            json_object_set_new(params, "topic", json_string(value));
        } else if (publish && !strcmp(opt, "--seq")) {
            char *end;
            long long seq = strtoll(value, &end, 10);
            json_object_set_new(params, "seq", *end ? json_string(value) : json_integer(seq));
        } else if (!strcmp(opt, "--connection")) {
            json_object_set_new(params, "connection", json_string(value));
        } else if (publish && !strcmp(opt, "--action")) {
            json_object_set_new(event, "action", json_string(value));
        } else if (publish && !strcmp(opt, "--payload")) {
            json_error_t err;
            json_t *payload = json_loads(value, JSON_DECODE_ANY, &err);
            if (!payload) {
                fprintf(stderr, "chanx-admin: --payload is not JSON: %s\n", err.text);
                rc = ADMIN_USAGE;
            }
            json_object_set_new(event, "payload", payload);
        } else if (!publish && !strcmp(opt, "--code")) {
            char *end;
            long code = strtol(value, &end, 10);
            json_object_set_new(params, "code", *end ? json_string(value) : json_integer(code));
        } else {
            rc = fail_usage("unknown option '%s'", opt);
        }
    }
    if (publish && json_array_size(groups))
        json_object_set(params, "groups", groups);
    if (publish)
        json_object_set(params, "event", event);
    json_decref(groups);
    json_decref(event);
    return rc;
}

/* The API's own checks against the route table (api/server.c): a topic no consumer declares, an
 * action none takes or a payload none accepts. -1 after saying why (and pydantic's list). */
static int refuse_undeliverable(const cx_publisher *pub, cx_publish_cmd *cmd, const json_t *params)
{
    cx_publish_error err;
    json_t *errors = NULL;
    if (cx_publisher_resolve_topic(pub, cmd, &err) == 0 && cx_publisher_check_event(pub, params, &err, &errors) == 0)
        return 0;
    fprintf(stderr, "chanx-admin: %s (%s)\n", err.message, err.code);
    if (errors) {
        char *list = json_dumps(errors, JSON_COMPACT);
        fprintf(stderr, "chanx-admin: errors: %s\n", list ? list : "");
        free(list);
        json_decref(errors);
    }
    return -1;
}

/* Sends one checked command and waits for the broker's answer: ADMIN_OK, or ADMIN_USAGE / ADMIN_ERROR after
 * saying why. The broker's route table (it follows HELLO) resolves a topic to its group, and an event
 * (event_params: what the API would have been posted) is first checked against it as the API checks it. */
static int run_command(cx_publish_cmd *cmd, const json_t *event_params, cx_publish_result *result)
{
    const char *broker = cx_env_str("CHANX_BROKER", CX_DEFAULT_BROKER);
    char node[64];
    snprintf(node, sizeof node, "admin-%d", (int) getpid());
    cx_publisher *pub = cx_publisher_new(broker, node);
    cx_publish_error err;
    int needs_routes = event_params || cmd->topic;
    int routed = pub && needs_routes && cx_publisher_await_routes(pub, 3000) == 0;
    int refused = 0;
    if (routed && event_params)
        refused = refuse_undeliverable(pub, cmd, event_params) != 0;
    else if (routed && cx_publisher_resolve_topic(pub, cmd, &err) < 0) {   /* no consumer declares the topic */
        fprintf(stderr, "chanx-admin: %s (%s)\n", err.message, err.code);
        refused = 1;
    }
    if (refused) {
        cx_publisher_destroy(&pub);
        return ADMIN_USAGE;
    }
    int rc = pub && (!needs_routes || routed) ? cx_publisher_run(pub, cmd, 1, result, 3000) : -1;
    cx_publisher_destroy(&pub);
    if (rc != 0) {
        /* A CURVE broker drops a handshake without keys silently: the timeout is all a peer sees. */
        int keys = cx_env_str("CHANX_CURVE_DIR", NULL) || cx_env_str("CHANX_CURVE_SECRET_KEY_FILE", NULL);
        fprintf(stderr, "chanx-admin: the broker at %s did not answer within 3 s%s\n", broker,
                keys ? "" : " (is it up? A broker with CURVE keys ignores a peer without them: set CHANX_CURVE_DIR "
                            "to its key folder; make run's is var/keys)");
        return ADMIN_ERROR;
    }
    return ADMIN_OK;
}

/* chanx-admin presence (--group G | --topic T) [--stats | --limit N --cursor C]: the broker's answer as
 * /api/presence gives it, one page (--cursor: the previous page's "next"); a group without members is an
 * error (exit 1). */
static int presence_main(int argc, char **argv)
{
    json_t *params = json_object();
    int stats = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stats")) {
            stats = 1;
        } else if ((!strcmp(argv[i], "--group") || !strcmp(argv[i], "--topic") || !strcmp(argv[i], "--cursor"))
                   && i + 1 < argc) {
            json_object_set_new(params, argv[i] + 2, json_string(argv[i + 1]));
            i++;
        } else if (!strcmp(argv[i], "--limit") && i + 1 < argc) {
            char *end;
            long n = strtol(argv[i + 1], &end, 10);
            json_object_set_new(params, "limit", *end || end == argv[i + 1] ? json_string(argv[i + 1]) : json_integer(n));
            i++;
        } else {
            json_decref(params);
            return fail_usage("unexpected argument '%s'", argv[i]);
        }
    }
    cx_publish_cmd cmd;
    cx_publish_error err;
    int rc = cx_publish_cmd_parse(&cmd, stats ? "presence_stats" : "presence", params, &err);
    json_decref(params);
    if (rc != 0) {
        fprintf(stderr, "chanx-admin: %s (%s)\n", err.message, err.code);
        return ADMIN_USAGE;
    }
    cx_publish_result result = { 0, 0, NULL };
    rc = run_command(&cmd, NULL, &result);
    cx_publish_cmd_free(&cmd);
    if (rc != 0)
        return rc;
    char *text = result.presence ? json_dumps(result.presence, JSON_COMPACT) : NULL;
    int missing = json_object_get(result.presence, "error") != NULL;
    if (text)
        (missing ? fprintf(stderr, "chanx-admin: no connection is in that group: %s\n", text) : printf("%s\n", text));
    free(text);
    cx_publish_result_clear(&result);
    return text && !missing ? ADMIN_OK : ADMIN_ERROR;
}

int admin_publish_main(int argc, char **argv)
{
    if (!strcmp(argv[0], "presence"))
        return presence_main(argc, argv);
    int publish = !strcmp(argv[0], "publish");
    json_t *params = json_object();
    int rc = build_params(argc, argv, publish, params);
    if (rc) {
        json_decref(params);
        return rc;
    }
    int targets_user = json_object_get(params, "user_id") || json_object_get(params, "connection");
    const char *method = !publish ? "disconnect"
                         : json_object_get(params, "groups") || (json_object_get(params, "topic") && !targets_user)
                             ? "broadcast" : "send";
    cx_publish_cmd cmd;
    cx_publish_error err;
    if (cx_publish_cmd_parse(&cmd, method, params, &err) != 0) {
        fprintf(stderr, "chanx-admin: %s (%s)\n", err.message, err.code);
        json_decref(params);
        return ADMIN_USAGE;
    }
    cx_publish_result result = { 0, 0, NULL };
    rc = run_command(&cmd, publish ? params : NULL, &result);
    json_decref(params);
    cx_publish_cmd_free(&cmd);
    if (rc != 0)
        return rc;
    printf("{\"gateways\": %u, \"connections\": %u}\n", result.gateways, result.connections);
    return ADMIN_OK;
}
