/*
 * Only our own processes on the broker (issue #17): every stack the kit
 * starts runs CURVE on its links with keys from `chanx-admin keygen`, and
 * these tests play the attacker with a raw ZeroMQ DEALER on the broker's
 * port, doing what a 30-line script could do before: say HELLO as a worker,
 * REGISTER a route, and act on other processes' connections.
 *
 * The route they register is a valid one: a peer with the real worker key
 * that registers it gets it published and receives the client's CONNECT
 * (the first test), so a 404 in the others means the broker refused the
 * peer, not that the route was malformed.
 */
#include "test_rogue.h"
#include "proto/batch.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A stack with cons_probe and CURVE keys; env: its extra settings (NULL-terminated). */
static void start_stack(const char **env)
{
    static char plugin[600];
    static const char *files[2];
    snprintf(plugin, sizeof plugin, "%s/test-plugins/cons_probe.so",
             getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build");
    files[0] = plugin;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files, .metrics = 1, .env = env });
    cr_assert_not_null(cx_stack_keys_dir(stack), "the kit's stacks run with keys");
}

static void setup(void)
{
    static const char *env[] = { "CHANX_LINK_MAX_MESSAGE_BYTES=1048576", "CHANX_BROKER_STRANGER_MAX_BYTES=2097152",
                                 NULL };
    start_stack(env);
}
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(link_security, .init = setup, .fini = teardown, .timeout = 60);

static int run_keygen(const char *args);

static void assert_not_served(const char *path, int status)
{
    cx_communicator *c = cx_communicator_new(stack, path, NULL);
    cr_assert_not(cx_communicator_connected(c), "%s was served", path);
    cr_assert_eq(cx_communicator_http_status(c), status, "%s answered %d", path, cx_communicator_http_status(c));
    cx_communicator_disconnect(c);
}

static void assert_no_route(const char *path)
{
    cx_communicator *c = cx_communicator_new(stack, path, NULL);
    cr_assert_not(cx_communicator_connected(c), "%s was served", path);
    cr_assert_eq(cx_communicator_http_status(c), 404, "%s answered %d, not 404", path, cx_communicator_http_status(c));
    cx_communicator_disconnect(c);
}

static void assert_not_joined(const char *name)
{
    char *log = cx_stack_log(stack, "broker", NULL, 0);
    char needle[128];
    snprintf(needle, sizeof needle, "\"peer\":\"%s\",\"role\"", name);
    cr_assert_null(strstr(log, needle), "the broker admitted %s:\n%s", name, log);
    free(log);
}

Test(link_security, the_real_worker_key_gets_a_route_published_and_its_connections)
{
    rogue *r = rogue_new("worker-keyholder", WORKER_KEY);
    rogue_hello(r, CX_ROLE_WORKER, "worker-keyholder");
    rogue_register_route(r, "ws/evil/", "evil.consumer");
    rogue_pump(r, 300);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_when_live(stack, 0, "/ws/evil/", cx_db_token_header(stack, alice), 5000);
    cr_assert_not_null(c, "a peer with the worker key could not publish its route");
    rogue_pump(r, 1000);
    cr_assert_eq(r->seen[CX_ENV_CONNECT], 1, "the route's worker got no CONNECT");
    rogue_destroy(&r);
}

Test(link_security, a_peer_without_a_key_is_refused)
{
    rogue *r = rogue_new("worker-nokey", NO_KEY);
    rogue_hello(r, CX_ROLE_WORKER, "worker-nokey");
    rogue_register_route(r, "ws/evil/", "evil.consumer");
    rogue_pump(r, 1500);
    cr_assert_eq(r->seen[CX_ENV_HELLO] + r->seen[CX_ENV_HEARTBEAT], 0, "the broker answered a peer without a key");
    assert_no_route("/ws/evil/");
    assert_not_joined("worker-nokey");
    rogue_destroy(&r);
}

Test(link_security, a_peer_with_an_unknown_key_is_refused_and_logged)
{
    rogue *r = rogue_new("worker-stranger", UNKNOWN_KEY);
    rogue_hello(r, CX_ROLE_WORKER, "worker-stranger");
    rogue_register_route(r, "ws/evil/", "evil.consumer");
    rogue_pump(r, 1500);
    cr_assert_eq(r->seen[CX_ENV_HELLO] + r->seen[CX_ENV_HEARTBEAT], 0, "the broker answered an unknown key");
    assert_no_route("/ws/evil/");
    assert_not_joined("worker-stranger");
    char *log = cx_stack_log(stack, "broker", "\"why\":\"unknown key\"", 5000);
    cr_assert_not_null(log, "no log record of the refused key");
    free(log);
    rogue_destroy(&r);
}

Test(link_security, a_worker_key_claiming_to_be_a_gateway_is_refused)
{
    rogue *r = rogue_new("gateway-impostor", WORKER_KEY);
    rogue_hello(r, CX_ROLE_GATEWAY, "gateway-impostor");
    rogue_pump(r, 1000);
    cr_assert_eq(r->seen[CX_ENV_ROUTES], 0, "the impostor got the route table as a gateway");
    assert_not_joined("gateway-impostor");
    char *log = cx_stack_log(stack, "broker", "\"claimed_role\":\"gateway\"", 5000);
    cr_assert_not_null(log, "no log record naming the impostor");
    cr_assert(strstr(log, "gateway-impostor"));
    free(log);
    rogue_destroy(&r);
}

Test(link_security, a_gateway_key_may_not_register_routes_nor_send)
{
    rogue *r = rogue_new("gateway-rogue", GATEWAY_KEY);
    rogue_hello(r, CX_ROLE_GATEWAY, "gateway-rogue");
    rogue_pump(r, 300);
    cr_assert_eq(r->seen[CX_ENV_ROUTES], 1, "a real gateway key gets the route table");
    rogue_register_route(r, "ws/evil/", "evil.consumer");
    rogue_pump(r, 1000);
    assert_no_route("/ws/evil/");
    char *log = cx_stack_log(stack, "broker", "\"type\":\"REGISTER\"", 5000);
    cr_assert_not_null(log, "no log record of the refused REGISTER");
    cr_assert(strstr(log, "gateway-rogue") && strstr(log, "not an envelope its role may send"));
    free(log);
    rogue_destroy(&r);
}

/* The client's connection id, as the probe consumer sees it. */
static uint64_t conn_of(cx_communicator *c)
{
    json_t *ctx = cx_request(c, "context", NULL, "context", 5000);
    uint64_t conn = (uint64_t) json_integer_value(json_object_get(ctx, "conn"));
    json_decref(ctx);
    cr_assert(conn != 0);
    return conn;
}

/* Alice on the real worker (the victim, *victim_conn her connection) and a rogue holding a worker key
 * (an extra one: a ban takes the key, and the real worker's must stay in) that registered /ws/evil/ and serves Bob's connection there (*own). */
static rogue *rogue_serving_bob(const char *name, cx_communicator **victim, uint64_t *victim_conn,
                                cx_communicator **own)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    *victim = cx_communicator_new(stack, "/ws/cons_probe/strict/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(*victim);
    *victim_conn = conn_of(*victim);
    json_decref(cx_receive_until_action(*victim, "complete", 3000));   /* the context reply's completion */

    cr_assert_eq(run_keygen("--role worker --name extra"), 0);   /* a ban takes the key: not the real worker's */
    rogue *r = rogue_new(name, EXTRA_WORKER_KEY);
    rogue_hello(r, CX_ROLE_WORKER, name);
    rogue_register_route(r, "ws/evil/", "evil.consumer");
    rogue_pump(r, 300);
    *own = cx_communicator_when_live(stack, 0, "/ws/evil/", cx_db_token_header(stack, bob), 5000);
    cr_assert_not_null(*own);
    rogue_pump(r, 500);
    cr_assert_eq(r->seen[CX_ENV_CONNECT], 1);
    return r;
}

Test(link_security, a_worker_cannot_act_on_another_workers_connection_and_is_dropped_when_it_insists)
{
    cx_communicator *victim, *own;
    uint64_t conn;
    rogue *r = rogue_serving_bob("worker-rogue", &victim, &conn, &own);

    cx_env forged = { .type = CX_ENV_SEND, .conn = conn, .text = cx_slice_of("{\"action\":\"forged\"}") };
    cx_env join = { .type = CX_ENV_GROUP_ADD, .conn = conn, .group = cx_slice_of("evil") };
    cx_env close = { .type = CX_ENV_CLOSE, .conn = conn, .code = 4001 };
    rogue_send(r, &forged);
    rogue_send(r, &join);
    rogue_send(r, &close);
    rogue_pump(r, 500);
    cx_receive_nothing(victim, 500);
    json_decref(cx_request(victim, "ping", NULL, "pong", 3000));   /* still open, still served */
    json_decref(cx_receive_until_action(victim, "complete", 3000));
    char *log = cx_stack_log(stack, "broker", "a connection pinned to another worker", 5000);
    cr_assert_not_null(log, "no log record of the refused SEND");
    cr_assert(strstr(log, "worker-rogue"));
    free(log);

    for (int i = 0; i < 10; i++)
        rogue_send(r, &forged);
    rogue_pump(r, 500);
    log = cx_stack_log(stack, "broker", "repeated offences", 5000);
    cr_assert_not_null(log, "the insisting peer was not dropped");
    free(log);
    cx_assert_closed(own, 1011, 5000);   /* its own connections are closed as a dead worker's */
    assert_not_served("/ws/evil/", 503);   /* as a dead worker's route: known, but nobody serves it */
    json_decref(cx_request(victim, "ping", NULL, "pong", 3000));
    rogue_destroy(&r);
}

/* Batches (proto/batch.h), both ways: a peer's batch is dispatched envelope by envelope, and what the
 * broker sends a gateway in one loop turn leaves as one batch. The envelopes the broker refuses in a
 * batch or a burst (another worker's connection, garbage, broken framing) must not take the good ones
 * with them, and the good ones arrive in the order they were sent. */
static void rogue_send_raw(rogue *r, const void *data, size_t len)
{
    zmq_send(zsock_resolve(r->sock), data, len, ZMQ_DONTWAIT);
}

/* Sends envs as one batch, the last cut bytes short when cut > 0 (broken framing). */
static void rogue_send_batch(rogue *r, const cx_env *envs, int n, const char *garbage_after_first, size_t cut)
{
    cx_batch *b = cx_batch_new();
    for (int i = 0; i < n; i++) {
        const char *data;
        size_t len;
        cr_assert_eq(cx_encoder_encode(r->enc, &envs[i], &data, &len), 0);
        cr_assert_eq(cx_batch_add(b, data, len), 0);
        if (i == 0 && garbage_after_first)
            cr_assert_eq(cx_batch_add(b, garbage_after_first, strlen(garbage_after_first)), 0);
    }
    const void *msg;
    size_t len;
    cx_batch_message(b, &msg, &len);
    rogue_send_raw(r, msg, len - cut);
    cx_batch_destroy(&b);
}

static void assert_action(cx_communicator *c, const char *action)
{
    json_t *m = cx_receive_json(c, 3000);
    cr_assert_not_null(m, "no %s", action);
    cr_assert_str_eq(json_string_value(json_object_get(m, "action")), action);
    json_decref(m);
}

Test(link_security, refused_envelopes_in_a_batch_never_drop_the_good_ones_beside_them)
{
    cx_communicator *victim, *own;
    uint64_t other;
    rogue *r = rogue_serving_bob("worker-burst", &victim, &other, &own);
    uint64_t mine = r->connect_conn;

    static const char *const actions[] = { "one", "two", "three", "four", "five", "lost" };
    char text[6][64];
    cx_env good[6];
    for (int i = 0; i < 6; i++) {
        snprintf(text[i], sizeof text[i], "{\"action\":\"%s\"}", actions[i]);
        good[i] = (cx_env) { .type = CX_ENV_SEND, .conn = mine, .text = cx_slice_of(text[i]) };
    }
    cx_env forged = { .type = CX_ENV_SEND, .conn = other, .text = cx_slice_of("{\"action\":\"forged\"}") };
    /* one batch: one, garbage, forged (another worker's connection), two */
    cx_env first[3] = { good[0], forged, good[1] };
    rogue_send_batch(r, first, 3, "\x93\x01\x07\xc1", 0);
    rogue_send(r, &good[2]);   /* alone, between batches */
    rogue_send_raw(r, "\x93\x01\x07\xc1", 4);   /* garbage alone */
    cx_env second[3] = { good[3], good[4], good[5] };
    rogue_send_batch(r, second, 3, NULL, 3);   /* "lost" cut short: the batch's framing is broken there */
    for (int i = 0; i < 5; i++)
        assert_action(own, actions[i]);
    cx_receive_nothing(own, 300);
    cx_receive_nothing(victim, 300);
    char *log = cx_stack_log(stack, "broker", "dropped the rest of a batch from worker-burst", 5000);
    cr_assert_not_null(log, "the broken batch was not logged");
    cr_assert(strstr(log, "dropped a malformed envelope from worker-burst"), "the garbage was not logged");
    cr_assert(strstr(log, "a connection pinned to another worker"), "the forged SEND was not refused");
    free(log);
    rogue_destroy(&r);
}

/* A batch is never a message bigger than the links take (CHANX_LINK_MAX_MESSAGE_BYTES, here 64 KiB, under
 * the 256 KiB a batch may otherwise reach): ten 20 KB SENDs in one burst reach the gateway as several
 * batches, all ten, where one batch of 200 KB would make libzmq drop the gateway's link. */
static void setup_small_links(void)
{
    static const char *env[] = { "CHANX_LINK_MAX_MESSAGE_BYTES=65536", NULL };
    start_stack(env);
}

TestSuite(link_batch_limit, .init = setup_small_links, .fini = teardown, .timeout = 60);

Test(link_batch_limit, batches_stay_under_the_links_message_limit)
{
    cx_communicator *victim, *own;
    uint64_t other;
    rogue *r = rogue_serving_bob("worker-big", &victim, &other, &own);
    cx_env big[10];
    char *texts[10];   /* {"action":"big<i>","payload":"xxx..."}, 20 KB each */
    for (int i = 0; i < 10; i++) {
        texts[i] = malloc(20100);
        int n = snprintf(texts[i], 20100, "{\"action\":\"big%d\",\"payload\":\"", i);
        memset(texts[i] + n, 'x', 20000);
        strcpy(texts[i] + n + 20000, "\"}");
        big[i] = (cx_env) { .type = CX_ENV_SEND, .conn = r->connect_conn, .text = cx_slice_of(texts[i]) };
    }
    for (int i = 0; i < 10; i++)
        rogue_send(r, &big[i]);
    for (int i = 0; i < 10; i++) {
        char action[16];
        snprintf(action, sizeof action, "big%d", i);
        assert_action(own, action);
    }
    for (int i = 0; i < 10; i++)
        free(texts[i]);
    rogue_destroy(&r);
}

/* RESUME is how a gateway gets its connections back after a broker restart: a gateway must not get
 * another gateway's connection (and its client's traffic) by re-announcing its id. */
Test(link_security, a_gateway_cannot_take_over_another_gateways_connection_by_re_announcing_it)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *victim = cx_communicator_new(stack, "/ws/cons_probe/strict/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(victim);
    uint64_t conn = conn_of(victim);
    json_decref(cx_receive_until_action(victim, "complete", 3000));

    rogue *r = rogue_new("gateway-rogue", GATEWAY_KEY);
    rogue_hello(r, CX_ROLE_GATEWAY, "gateway-rogue");
    rogue_pump(r, 300);
    cx_env resume = { .type = CX_ENV_RESUME, .conn = conn }, done = { .type = CX_ENV_RESUME, .conn = 0 };
    rogue_send(r, &resume);
    rogue_send(r, &done);
    rogue_pump(r, 300);
    char *log = cx_stack_log(stack, "broker", "re-announced a connection another peer holds", 5000);
    cr_assert_not_null(log, "no log record of the refused RESUME");
    cr_assert(strstr(log, "gateway-rogue") && strstr(log, "\"type\":\"RESUME\""));
    free(log);
    json_decref(cx_request(victim, "ping", NULL, "pong", 10000));   /* still served, through its own gateway */
    json_decref(cx_receive_until_action(victim, "complete", 3000));
    rogue_pump(r, 300);
    cr_assert_eq(r->seen[CX_ENV_SEND] + r->seen[CX_ENV_CLOSE], 0, "the rogue got the victim's traffic");
    rogue_destroy(&r);
}

/* WORKER_EXIT closes every connection of the worker process it names: a peer may only say it about its
 * own children (their names start with its own). One holding the worker key, introducing itself as a
 * supervisor, cannot close the real worker's clients by naming it. */
Test(link_security, a_supervisor_cannot_declare_another_supervisors_worker_dead)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *victim = cx_communicator_new(stack, "/ws/cons_probe/strict/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(victim);
    uint64_t conn = conn_of(victim);
    json_decref(cx_receive_until_action(victim, "complete", 3000));
    int child = cx_stack_pid(stack, "worker0"), supervisor = 0;
    char path[64], line[256], host[64] = "host", node[200];
    snprintf(path, sizeof path, "/proc/%d/status", child);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f) && sscanf(line, "PPid: %d", &supervisor) != 1) {}
    if (f)
        fclose(f);
    gethostname(host, sizeof host - 1);
    snprintf(node, sizeof node, "worker-%s-%d-%d", host, supervisor, child);   /* proto/README.md's naming */

    rogue *r = rogue_new("worker-rogue", WORKER_KEY);
    cx_env hello = { .type = CX_ENV_HELLO, .role = CX_ROLE_WORKER, .pid = 4242, .node = cx_slice_of("worker-rogue"),
                     .flags = CX_HELLO_SUPERVISOR };
    rogue_send(r, &hello);
    rogue_pump(r, 300);
    cx_env exit = { .type = CX_ENV_WORKER_EXIT, .node = cx_slice_of(node), .pid = (uint64_t) child, .code = 11,
                    .conn = conn, .consumer = cx_slice_of("cons_probe.strict"), .text = cx_slice_of("receive_message") };
    rogue_send(r, &exit);
    rogue_pump(r, 500);
    json_decref(cx_request(victim, "ping", NULL, "pong", 3000));   /* still open, still served */
    char *log = cx_stack_log(stack, "broker", "a worker that is not its child", 5000);
    cr_assert_not_null(log, "no log record of the refused WORKER_EXIT");
    cr_assert(strstr(log, "worker-rogue"));
    free(log);
    rogue_destroy(&r);
}

/* Runs the broker on an address other machines reach, without keys, for at most a second; returns its
 * exit status and its stderr in out. */
static int plain_broker_on_the_network(const char *extra_env, char *out, size_t size)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "env -u CHANX_CURVE_DIR -u CHANX_CURVE_SECRET_KEY_FILE CHANX_LOG_LEVEL=info %s timeout -s INT 1 %s/chanx-broker "
             "--bind tcp://0.0.0.0:%d 2>&1",
             extra_env, getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build", 20000 + (getpid() % 10000));
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    int status = pclose(p);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Test(link_security, without_keys_the_broker_refuses_to_listen_on_the_network_and_says_how_to_make_keys)
{
    char out[4096];
    int rc = plain_broker_on_the_network("", out, sizeof out);
    cr_assert_eq(rc, 1, "exit status %d, output: %s", rc, out);
    cr_assert(strstr(out, "refusing to bind") && strstr(out, "chanx-admin keygen") && strstr(out, "CHANX_CURVE_DIR"),
              "the refusal does not say how to make keys: %s", out);
    cr_assert_null(strstr(out, "broker listening"));
}

/* An endpoint without its transport, as a newcomer writes CHANX_BROKER=127.0.0.1:5555: ZeroMQ says only
 * "Invalid argument"; the broker says what an endpoint looks like. */
Test(link_security, an_endpoint_without_its_transport_is_refused_saying_what_one_looks_like)
{
    char cmd[600];
    int status;
    snprintf(cmd, sizeof cmd, "env -u CHANX_CURVE_DIR timeout -s INT 5 %s/chanx-broker --bind 127.0.0.1:%d 2>&1",
             cx_test_bin(), 20000 + (getpid() % 10000));
    char *out = cx_shell_output(cmd, &status);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 1, "exit status %d, output: %s", status, out);
    cr_assert(strstr(out, "cannot bind 127.0.0.1:") && strstr(out, "tcp://HOST:PORT or ipc://PATH"),
              "the refusal does not say what an endpoint looks like: %s", out);
    free(out);
}

Test(link_security, insecure_links_must_be_asked_for_and_are_logged)
{
    char out[4096];
    plain_broker_on_the_network("CHANX_INSECURE_LINKS=1", out, sizeof out);
    cr_assert(strstr(out, "CHANX_INSECURE_LINKS=1") && strstr(out, "without authentication"),
              "no warning: %s", out);
    cr_assert(strstr(out, "broker listening"), "the broker did not start: %s", out);
}

static int run_keygen(const char *args)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "%s/chanx-admin keygen %s %s >/dev/null",
             getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build", cx_stack_keys_dir(stack), args);
    int status = system(cmd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static char *read_text(const char *name)
{
    char path[700], *text = NULL;
    size_t size = 0;
    snprintf(path, sizeof path, "%s/%s", cx_stack_keys_dir(stack), name);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no %s", path);
    cr_assert(getdelim(&text, &size, '\0', f) > 0);
    fclose(f);
    return text;
}

Test(link_security, keygen_keeps_a_key_set_and_a_key_added_later_is_admitted_by_the_running_broker)
{
    char *before = read_text("broker.key_secret");
    cr_assert_eq(run_keygen(""), 0);   /* as the compose job does on every start */
    char *after = read_text("broker.key_secret");
    cr_assert_str_eq(before, after, "keygen replaced an existing key set");
    free(before);
    free(after);

    cr_assert_eq(run_keygen("--role worker --name extra"), 0);
    cr_assert_neq(run_keygen("--role worker --name extra"), 0, "keygen replaced an existing key");
    rogue *r = rogue_new("worker-extra", EXTRA_WORKER_KEY);
    rogue_hello(r, CX_ROLE_WORKER, "worker-extra");
    rogue_register_route(r, "ws/evil/", "evil.consumer");
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    int served = 0;   /* the broker rescans its folders at most once a second: keep heartbeating meanwhile */
    for (int tries = 0; tries < 25 && !served; tries++) {
        rogue_pump(r, 200);
        cx_communicator *c = cx_communicator_new(stack, "/ws/evil/", cx_db_token_header(stack, alice));
        served = cx_communicator_connected(c);
        cx_communicator_disconnect(c);
    }
    cr_assert(served, "a key added to allowed/worker/ was not admitted");
    rogue_destroy(&r);
}

/* Issue 28 (7): a banned peer that took a new routing id started a fresh count and was served again. */
Test(link_security, a_banned_key_stays_banned_under_a_new_routing_id_and_other_keys_are_served)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0), bob = cx_db_create_user(stack, "bob", 0);
    cx_communicator *victim = cx_communicator_new(stack, "/ws/cons_probe/strict/", cx_db_token_header(stack, alice));
    cx_assert_authenticated_status_ok(victim);
    uint64_t conn = conn_of(victim);
    json_decref(cx_receive_until_action(victim, "complete", 3000));
    cr_assert_eq(run_keygen("--role worker --name extra"), 0);
    rogue *r = rogue_new("worker-rogue", EXTRA_WORKER_KEY);
    rogue_hello(r, CX_ROLE_WORKER, "worker-rogue");
    cx_env forged = { .type = CX_ENV_SEND, .conn = conn, .text = cx_slice_of("{\"action\":\"forged\"}") };
    for (int i = 0; i < 10; i++)
        rogue_send(r, &forged);
    rogue_pump(r, 500);
    char *log = cx_stack_log(stack, "broker", "repeated offences", 5000);
    cr_assert_not_null(log, "the insisting peer was not dropped");
    free(log);
    rogue_destroy(&r);

    rogue *again = rogue_new("worker-rogue-2", EXTRA_WORKER_KEY);   /* the same key, a new routing id */
    rogue_hello(again, CX_ROLE_WORKER, "worker-rogue-2");
    rogue_register_route(again, "ws/evil/", "evil.consumer");
    rogue_pump(again, 1500);
    assert_no_route("/ws/evil/");
    cr_assert_eq(again->seen[CX_ENV_ROUTES] + again->seen[CX_ENV_HELLO], 0, "the banned key was answered");
    rogue_destroy(&again);
    /* the deployment's own worker key is not touched: its connections and new ones are served */
    json_decref(cx_request(victim, "ping", NULL, "pong", 3000));
    cx_communicator *other = cx_communicator_new(stack, "/ws/cons_probe/strict/", cx_db_token_header(stack, bob));
    cx_assert_authenticated_status_ok(other);
}

static double broker_metric(const char *series)
{
    char *text = cx_stack_metrics(stack, "broker");
    cr_assert_not_null(text);
    double v = cx_metric_value(text, series);
    free(text);
    return v;
}

/* An EVENT envelope of about size bytes. */
static void rogue_send_event(rogue *r, size_t size)
{
    char *text = malloc(size + 1);
    memset(text, 'x', size);
    text[size] = '\0';
    cx_env event = { .type = CX_ENV_EVENT, .request = 1, .target = CX_TARGET_GROUPS, .ngroups = 1,
                     .groups = { cx_slice_of("room") }, .action = cx_slice_of("big"), .text = cx_slice_of(text) };
    rogue_send(r, &event);
    free(text);
}

/* Issue 28 (7): an api key (the least-privileged role) made the broker hold 30 envelopes of 8 MB
 * before HELLO: 12 to 241 MB. Now a message over CHANX_LINK_MAX_MESSAGE_BYTES (1 MiB here) never
 * reaches the broker, and what it holds for a peer that has not said HELLO stops at
 * CHANX_BROKER_STRANGER_MAX_BYTES (2 MiB here). */
Test(link_security, a_peer_that_has_not_said_hello_cannot_make_the_broker_hold_more_than_its_bound)
{
    const char *events = "chanx_broker_envelopes_received_total{type=\"EVENT\"}";
    double before = broker_metric(events);
    rogue *r = rogue_new("api-stranger", API_KEY);
    for (int i = 0; i < 5; i++)
        rogue_send_event(r, 2 << 20);   /* over the link's bound: libzmq drops them, and the connection */
    rogue_pump(r, 1500);
    for (int i = 0; i < 30; i++)
        rogue_send_event(r, 512 << 10);
    char *log = cx_stack_log(stack, "broker", "envelopes of a peer that has not said HELLO dropped", 10000);
    cr_assert_not_null(log, "the broker held all a stranger sent");
    free(log);
    double held = broker_metric("chanx_broker_stranger_held_bytes");
    cr_assert(held > 0 && held <= 2 << 20, "held %.0f bytes for a stranger, the bound is 2 MiB", held);
    double received = broker_metric(events) - before;
    cr_assert_leq(received, 30, "%.0f EVENTs decoded: the ones over CHANX_LINK_MAX_MESSAGE_BYTES were read", received);
    rogue_destroy(&r);
}
