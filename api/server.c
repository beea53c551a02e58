/*
 * server.c — HTTP requests in, publish commands out (see server.h).
 *
 * libmicrohttpd runs in "external select" mode on its epoll fd, polled with
 * the broker link's socket in one zmq_poll loop, so requests and broker
 * traffic share one thread and the link needs no locking. Nothing in that
 * thread waits: a request sent to the broker is suspended until its RESULTs
 * come or its deadline passes (pending.h), and a client cannot hold a slot
 * by sending its request head slowly (heads.h) or many connections from one
 * address (CHANX_API_MAX_CONNECTIONS_PER_ADDRESS). A request is
 * decided in stages, each able to answer at once without reading further:
 * the API key (constant-time comparison of SHA-256 digests, so neither the
 * key's bytes nor its length leak through timing), the path and method, the
 * declared Content-Length; then the body is collected up to the limit
 * (beyond it, discarded and answered 413), parsed, and every command checked
 * before the first is sent: bad input never half-sends a batch. An event no
 * consumer of the route table could take (its action undeclared, or its
 * payload refused by every declaring consumer's .events) is bad input too
 * (common/event_catalog.h), so it is not dropped and logged by each recipient.
 *
 * Errors are {"error": {"code": "...", "message": "..."}} with 400, 401,
 * 404, 405, 413 or 503 (an undeliverable payload adds "errors", pydantic's
 * list); success is 200 with what the broker reached.
 */
#include "api/server.h"
#include "api/heads.h"
#include "api/pending.h"
#include "common/log.h"
#include "common/publish.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cx_api_server {
    cx_api_config config;
    unsigned char key_digest[SHA256_DIGEST_LENGTH];
    int enabled;
    struct MHD_Daemon *daemon;
    cx_publisher *publisher;
    cx_pending *pending;      /* requests waiting for the broker (pending.h) */
    cx_heads *heads;          /* request head deadlines (heads.h) */
};

typedef struct {
    char *body;
    size_t len;
    int too_large;
    cx_pending_job *job;      /* sent to the broker, the connection suspended until it is finished */
} request;

/* ------------------------------------------------------------ responses */

static enum MHD_Result respond_text(struct MHD_Connection *conn, unsigned status, char *text)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "application/json");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, "WWW-Authenticate", "apikey");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, "Allow", "POST");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result respond_json(struct MHD_Connection *conn, unsigned status, json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    json_decref(value);
    return text ? respond_text(conn, status, text) : MHD_NO;
}

static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned status, const char *code, const char *message)
{
    return respond_json(conn, status, json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", message));
}

/* ------------------------------------------------------------- checking */

static int key_ok(const cx_api_server *self, struct MHD_Connection *conn)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "apikey ", 7) != 0)
        return 0;
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *) auth + 7, strlen(auth + 7), digest);
    return CRYPTO_memcmp(digest, self->key_digest, sizeof digest) == 0;
}

static const char *method_of(const char *url)
{
    static const char *const METHODS[] = { "broadcast", "send", "disconnect", "batch", "presence_stats", "presence",
                                           NULL };
    if (strncmp(url, "/api/", 5) != 0)
        return NULL;
    for (const char *const *m = METHODS; *m; m++)
        if (strcmp(url + 5, *m) == 0 || (strncmp(url + 5, *m, strlen(*m)) == 0 && strcmp(url + 5 + strlen(*m), "/") == 0))
            return *m;
    return NULL;
}

/* One command, checked: its fields, then whether a consumer can take its event. */
static int parse_command(const cx_publisher *pub, cx_publish_cmd *cmd, const char *method, const json_t *params,
                         cx_publish_error *err, json_t **errors)
{
    if (cx_publish_cmd_parse(cmd, method, params, err) != 0)
        return -1;
    int topic = cx_publisher_resolve_topic(pub, cmd, err);   /* a topic's groups (common/topic_table.h) */
    if (topic == 1)
        snprintf(err->code, sizeof err->code, "broker_unavailable"),
            snprintf(err->message, sizeof err->message, "the broker's route table, which names the topics, has not "
                                                        "arrived yet; try again");
    if (topic == 0 && (cmd->env.type != CX_ENV_EVENT || cx_publisher_check_event(pub, params, err, errors) == 0))
        return 0;
    cx_publish_cmd_free(cmd);
    return -1;
}

/* Every command of the request, checked; -1 with err (and its index in *at, -1 for a single command)
 * and, for an undeliverable payload, *errors. */
static int parse_commands(const cx_publisher *pub, const char *method, json_t *body, cx_publish_cmd **out, size_t *n,
                          long *at, cx_publish_error *err, json_t **errors)
{
    *at = -1;
    if (strcmp(method, "batch") != 0) {
        *out = calloc(1, sizeof **out);
        *n = 1;
        return *out ? parse_command(pub, *out, method, body, err, errors) : -1;
    }
    json_t *commands = json_object_get(body, "commands");
    if (json_object_size(body) != (commands ? 1u : 0u) || !commands)
        return snprintf(err->code, sizeof err->code, commands ? "unknown_field" : "missing_field"),
               snprintf(err->message, sizeof err->message, "a batch is {\"commands\": [...]}, nothing else"), -1;
    if (!json_is_array(commands) || json_array_size(commands) == 0 || json_array_size(commands) > CX_PUBLISH_MAX_BATCH)
        return snprintf(err->code, sizeof err->code, "invalid_field"),
               snprintf(err->message, sizeof err->message, "commands: must be a list of 1 to %d commands",
                        CX_PUBLISH_MAX_BATCH), -1;
    *n = json_array_size(commands);
    *out = calloc(*n, sizeof **out);
    if (!*out)
        return -1;
    for (size_t i = 0; i < *n; i++) {
        json_t *c = json_array_get(commands, i);
        const char *m = json_string_value(json_object_get(c, "method"));
        json_t *params = json_object_get(c, "params");
        *at = (long) i;
        if (!json_is_object(c) || !m || !params || json_object_size(c) != 2) {
            snprintf(err->code, sizeof err->code, "invalid_field");
            snprintf(err->message, sizeof err->message, "a command is {\"method\": \"broadcast\"|\"send\"|\"disconnect\", "
                                                        "\"params\": {...}}, nothing else");
        } else if (parse_command(pub, &(*out)[i], m, params, err, errors) == 0) {
            continue;
        }
        for (size_t j = 0; j < i; j++)
            cx_publish_cmd_free(&(*out)[j]);
        return -1;
    }
    return 0;
}

static json_t *result_json(const cx_publish_result *r)
{
    if (r->presence)   /* presence, presence_stats: the broker's answer as it is */
        return json_incref(r->presence);
    return json_pack("{s:I, s:I}", "gateways", (json_int_t) r->gateways, "connections", (json_int_t) r->connections);
}

static enum MHD_Result broker_unavailable(struct MHD_Connection *conn)
{
    return respond_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "broker_unavailable",
                         "the broker did not answer in time; nothing or part of it may have been delivered");
}

static enum MHD_Result execute(cx_api_server *self, struct MHD_Connection *conn, const char *method, request *req)
{
    json_error_t jerr;
    json_t *body = json_loadb(req->body ? req->body : "", req->len, JSON_REJECT_DUPLICATES, &jerr);
    if (!body) {
        char message[256];
        snprintf(message, sizeof message, "body is not JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
        return respond_error(conn, MHD_HTTP_BAD_REQUEST, "invalid_json", message);
    }
    if (!json_is_object(body)) {
        json_decref(body);
        return respond_error(conn, MHD_HTTP_BAD_REQUEST, "invalid_json", "body must be a JSON object");
    }
    cx_publish_cmd *cmds = NULL;
    size_t n = 0;
    long at;
    cx_publish_error err = { "invalid_field", "out of memory" };
    json_t *errors = NULL;
    cx_pending_pump(self->pending);   /* a route table the broker sent is read before events are checked */
    int rc = parse_commands(self->publisher, method, body, &cmds, &n, &at, &err, &errors);
    if (rc != 0 && strcmp(err.code, "broker_unavailable") == 0) {
        free(cmds);
        json_decref(body);
        return respond_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, err.code, err.message);
    }
    if (rc != 0) {
        free(cmds);
        char message[300];
        if (at >= 0)
            snprintf(message, sizeof message, "commands[%ld]: %s", at, err.message);
        else
            snprintf(message, sizeof message, "%s", err.message);
        json_t *answer = json_pack("{s:{s:s, s:s}}", "error", "code", err.code, "message", message);
        if (errors)
            json_object_set(json_object_get(answer, "error"), "errors", errors);
        json_decref(errors);
        json_decref(body);   /* the errors hold references to the values they name */
        return respond_json(conn, MHD_HTTP_BAD_REQUEST, answer);
    }
    json_decref(body);
    cx_pending_job *job = cx_publisher_alive(self->publisher)
                              ? cx_pending_start(self->pending, conn, cmds, n, self->config.timeout_ms) : NULL;
    if (!job) {
        for (size_t i = 0; i < n; i++)
            cx_publish_cmd_free(&cmds[i]);
        free(cmds);
        return broker_unavailable(conn);
    }
    req->job = job;   /* answered by answer_job once the broker has (or the deadline passed) */
    MHD_suspend_connection(conn);
    return MHD_YES;
}

static enum MHD_Result answer_job(struct MHD_Connection *conn, const char *method, request *req)
{
    cx_pending_job *job = req->job;
    req->job = NULL;
    if (job->done < job->n) {
        cx_pending_job_free(&job);
        return broker_unavailable(conn);
    }
    json_t *answer;
    if (strcmp(method, "batch") == 0) {
        json_t *list = json_array();
        for (size_t i = 0; i < job->n; i++)
            json_array_append_new(list, result_json(&job->results[i]));
        answer = json_pack("{s:o}", "results", list);
    } else {
        answer = result_json(&job->results[0]);
    }
    /* presence of a group without members: 404 with the usual error shape */
    const char *missing = json_string_value(json_object_get(answer, "error"));
    int not_found = missing && strcmp(method, "batch") != 0;
    if (not_found) {
        char message[200];
        snprintf(message, sizeof message, "no connection is in group '%s' (a group exists while it has members)",
                 json_string_value(json_object_get(answer, "group")));
        json_t *error = json_pack("{s:{s:s, s:s}}", "error", "code", missing, "message", message);
        json_decref(answer);
        answer = error;
    }
    cx_pending_job_free(&job);
    return respond_json(conn, not_found ? MHD_HTTP_NOT_FOUND : MHD_HTTP_OK, answer);
}

/* ------------------------------------------------------------- requests */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *http_method,
                                  const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    cx_api_server *self = cls;
    (void) version;
    request *req = *con_cls;
    if (!req) {   /* headers only: decide whatever can be decided before the body */
        cx_heads_arrived(conn);
        if (strcmp(url, "/healthz") == 0 && strcmp(http_method, "GET") == 0) {
            /* Ready when a publish can be checked and routed: the broker heard and its route table here. */
            int alive = cx_publisher_alive(self->publisher), routes = cx_publisher_routes_known(self->publisher);
            return respond_json(conn, alive && routes ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
                                json_pack("{s:b, s:b, s:b}", "broker", alive, "routes", routes, "enabled", self->enabled));
        }
        if (!self->enabled)
            return respond_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "api_disabled",
                                 "the publish API is off: set CHANX_API_KEY to turn it on");
        if (!key_ok(self, conn))
            return respond_error(conn, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                                 "missing or wrong API key: send \"Authorization: apikey <key>\"");
        const char *method = method_of(url);
        if (!method)
            return respond_error(conn, MHD_HTTP_NOT_FOUND, "not_found",
                                 "unknown method: POST /api/broadcast, /api/send, /api/disconnect, /api/batch, /api/presence or "
                                 "/api/presence_stats");
        if (strcmp(http_method, "POST") != 0)
            return respond_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", "use POST");
        const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (length && strtoull(length, NULL, 10) > self->config.max_body)
            return respond_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large", "the body is over CHANX_API_MAX_BODY_BYTES");
        if (!(req = calloc(1, sizeof *req)))
            return MHD_NO;
        *con_cls = req;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {   /* a piece of the body */
        size_t piece = *upload_data_size;
        *upload_data_size = 0;
        if (req->too_large || req->len + piece > self->config.max_body) {
            req->too_large = 1;   /* chunked bodies have no Content-Length: counted here */
            return MHD_YES;
        }
        char *grown = realloc(req->body, req->len + piece + 1);
        if (!grown)
            return MHD_NO;
        memcpy(grown + req->len, upload_data, piece);
        req->body = grown;
        req->len += piece;
        return MHD_YES;
    }
    if (req->job)   /* resumed: the broker answered, or the deadline passed */
        return answer_job(conn, method_of(url), req);
    if (req->too_large)
        return respond_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "body_too_large", "the body is over CHANX_API_MAX_BODY_BYTES");
    return execute(self, conn, method_of(url), req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode why)
{
    (void) cls;
    (void) why;
    cx_heads_restart(conn);   /* a kept-alive connection's next head gets the whole deadline */
    request *req = *con_cls;
    if (req) {
        if (req->job && req->job->finished)   /* resumed, then gone before its answer */
            cx_pending_job_free(&req->job);
        else if (req->job)   /* still waiting in pending.c: freed there once finished, nobody to answer */
            req->job->conn = NULL;
        free(req->body);
        free(req);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's own messages (a client that hung up mid-request, ...) as our JSON records: it wrote
 * them to stderr as raw lines, in the middle of the process's JSON log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void) cls;
    char text[512];
    vsnprintf(text, sizeof text, fmt, ap);
    size_t n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    cx_log_fields(CX_LOG_INFO, "http", json_pack("{s:s}", "detail", text));
}

/* ------------------------------------------------------------ lifecycle */

static int parse_listen(const char *listen, struct sockaddr_in *addr)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t) (colon - listen) >= sizeof host)
        return -1;
    memcpy(host, listen, (size_t) (colon - listen));
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    memset(addr, 0, sizeof *addr);
    addr->sin_family = AF_INET;
    addr->sin_port = htons((uint16_t) port);
    if (*end || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &addr->sin_addr) != 1)
        return -1;
    return 0;
}

cx_api_server *cx_api_server_new(const cx_api_config *config)
{
    cx_api_server *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->enabled = config->api_key && *config->api_key;
    if (self->enabled)
        SHA256((const unsigned char *) config->api_key, strlen(config->api_key), self->key_digest);
    else
        cx_warn("CHANX_API_KEY is not set: the publish API is off (every request answers 503 api_disabled)");
    struct sockaddr_in addr;
    if (parse_listen(config->listen, &addr) != 0) {
        cx_error("CHANX_API_LISTEN '%s': expected an IPv4 HOST:PORT", config->listen);
        free(self);
        return NULL;
    }
    char node[128], host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "api-%s-%d", host, (int) getpid());
    self->publisher = cx_publisher_new(config->broker, node);
    self->pending = self->publisher ? cx_pending_new(self->publisher) : NULL;
    self->heads = cx_heads_new(config->head_timeout_secs);
    self->daemon = self->pending && self->heads
                       ? MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME,
                                          ntohs(addr.sin_port), NULL, NULL, on_request, self,
                                          /* first, or libmicrohttpd logs a warning about it at every start */
                                          MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
                                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, self,
                                          MHD_OPTION_NOTIFY_CONNECTION, cx_heads_notify, self->heads,
                                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 30,
                                          MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 1000,
                                          MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) config->max_per_address,
                                          MHD_OPTION_END)
                       : NULL;
    if (!self->daemon) {   /* a broker endpoint it cannot dial is not a taken port: say which it was */
        if (!self->publisher)
            cx_error("cannot serve the publish API: no link to the broker at %s (the line above says why)",
                     config->broker);
        else
            cx_error("cannot serve the publish API on %s (address in use?)", config->listen);
        cx_api_server_destroy(&self);
        return NULL;
    }
    cx_info("publish API on http://%s/api/, broker %s", config->listen, config->broker);
    return self;
}

/* Finished jobs: their connections are resumed, to be answered by the access handler (answer_job). */
static void resume_finished(cx_api_server *self)
{
    for (cx_pending_job *job; (job = cx_pending_take_finished(self->pending));) {
        if (job->conn)
            MHD_resume_connection(job->conn);
        else
            cx_pending_job_free(&job);   /* its client left: nobody to answer */
    }
}

/* The smaller of a and b, where -1 is "none". */
static long sooner(long a, long b)
{
    return a < 0 ? b : b < 0 || a < b ? a : b;
}

void cx_api_server_destroy(cx_api_server **self_p)
{
    if (!self_p || !*self_p)
        return;
    cx_api_server *self = *self_p;
    if (self->daemon && self->pending) {   /* suspended connections are resumed (503) before MHD stops */
        cx_pending_finish_all(self->pending);
        resume_finished(self);
        MHD_run(self->daemon);
    }
    if (self->daemon)
        MHD_stop_daemon(self->daemon);
    cx_pending_destroy(&self->pending);
    cx_heads_destroy(&self->heads);
    cx_publisher_destroy(&(*self_p)->publisher);
    free(*self_p);
    *self_p = NULL;
}

int cx_api_server_run(cx_api_server *self, volatile int *stop)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    zmq_pollitem_t items[2] = {
        { .socket = cx_publisher_socket(self->publisher), .events = ZMQ_POLLIN },
        { .fd = info ? info->epoll_fd : -1, .events = ZMQ_POLLIN },
    };
    while (!*stop) {
        long timeout = cx_publisher_next_tick_ms(self->publisher) + 1;
        MHD_UNSIGNED_LONG_LONG mhd_timeout;
        if (MHD_get_timeout(self->daemon, &mhd_timeout) == MHD_YES && (long) mhd_timeout < timeout)
            timeout = (long) mhd_timeout;
        timeout = sooner(timeout, cx_pending_next_ms(self->pending));
        timeout = sooner(timeout, cx_heads_next_ms(self->heads));
        if (zmq_poll(items, 2, timeout) < 0 && zmq_errno() != EINTR)
            return -1;
        MHD_run(self->daemon);
        cx_heads_enforce(self->heads);
        cx_pending_pump(self->pending);
        resume_finished(self);
        MHD_run(self->daemon);   /* resumed connections answer now, not at the next wake-up */
    }
    return 0;
}
