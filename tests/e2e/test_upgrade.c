/*
 * test_upgrade.c — a rolling upgrade runs processes of two builds side by
 * side (proto/README.md says in which order to upgrade them); what each side
 * does with a peer of the other build is a promise, tested here with the
 * older peer played by hand (test_rogue.h) against this build's broker.
 *
 * A worker built before ACK (no HELLO flag 8) never says what it handled:
 * the broker must keep no copy of what it forwards there, or it would hold
 * them for the connection's lifetime and, when that worker process dies,
 * hand its messages to the next consumer a second time.
 *
 * A gateway or chanx-api built before quarantine decodes a route's
 * available as 0 or 1 and refuses a whole ROUTES holding a 2: the broker
 * sends such a peer 0 there ("no worker serves it", answered 503 as ever),
 * so the broker can go first, as every other change needs.
 */
#include "test_rogue.h"

#include <string.h>

static void setup(void)
{
    static char plugin[600];
    static const char *files[2];
    snprintf(plugin, sizeof plugin, "%s/test-plugins/cons_probe.so", cx_test_bin());
    files[0] = plugin;
    stack = cx_stack_start(&(cx_stack_options) { .plugin_files = files });
}
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(upgrade, .init = setup, .fini = teardown, .timeout = 60);

#define SENT 10   /* messages the old worker gets, and never acknowledges */

/* A worker supervisor of an older build, named node (its children's names start with it). */
static rogue *old_supervisor(const char *node)
{
    rogue *r = rogue_new(node, WORKER_KEY);
    cx_env hello = { .type = CX_ENV_HELLO, .role = CX_ROLE_WORKER, .pid = 1, .node = cx_slice_of(node),
                     .flags = CX_HELLO_SUPERVISOR };
    rogue_send(r, &hello);
    return r;
}

/* A worker process of an older build, child of supervisor (its node name's prefix), serving ws/old/. */
static rogue *old_worker(const char *node)
{
    rogue *r = rogue_new(node, WORKER_KEY);
    rogue_hello(r, CX_ROLE_WORKER, node);   /* flags 0: no ACK */
    rogue_register_route(r, "ws/old/", "old.consumer");
    return r;
}

static void pump_both(rogue *a, rogue *b, int ms)
{
    for (int t = 0; t < ms; t += 100) {
        rogue_pump(a, 50);
        rogue_pump(b, 50);
    }
}

Test(upgrade, a_worker_that_never_acknowledges_has_nothing_kept_and_nothing_replayed_after_its_death)
{
    rogue *supervisor = old_supervisor("worker-old-1");
    rogue *first = old_worker("worker-old-1-2");
    pump_both(supervisor, first, 300);
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    cx_communicator *c = cx_communicator_when_live(stack, 0, "/ws/old/", cx_db_token_header(stack, alice), 5000);
    cr_assert_not_null(c);
    for (int n = 0; n < SENT; n++)
        cx_send_message(c, "hello", NULL);
    for (int t = 0; t < 5000 && first->seen[CX_ENV_RECEIVE] < SENT; t += 100)
        pump_both(supervisor, first, 100);
    cr_assert_eq(first->seen[CX_ENV_CONNECT], 1);
    cr_assert_eq(first->seen[CX_ENV_RECEIVE], SENT);

    /* its supervisor says it died: the connection is re-pinned, and waits for a worker of its route */
    cx_env exit = { .type = CX_ENV_WORKER_EXIT, .node = cx_slice_of("worker-old-1-2"), .pid = 4242, .code = 9 };
    rogue_send(supervisor, &exit);
    rogue_pump(supervisor, 300);
    rogue *second = old_worker("worker-old-1-3");
    for (int t = 0; t < 5000 && !second->seen[CX_ENV_CONNECT]; t += 100)
        pump_both(supervisor, second, 100);
    cr_assert_eq(second->seen[CX_ENV_CONNECT], 1, "the connection was not re-pinned to the new worker");
    pump_both(supervisor, second, 500);
    cr_assert_eq(second->seen[CX_ENV_RECEIVE], 0, "the broker replayed %d messages the old worker had had",
                 second->seen[CX_ENV_RECEIVE]);
    cx_send_message(c, "hello", NULL);   /* the client kept its socket, and is served there */
    for (int t = 0; t < 5000 && !second->seen[CX_ENV_RECEIVE]; t += 100)
        pump_both(supervisor, second, 100);
    cr_assert_eq(second->seen[CX_ENV_RECEIVE], 1);
    cr_assert(cx_communicator_connected(c));
    rogue_destroy(&first);
    rogue_destroy(&second);
    rogue_destroy(&supervisor);
}

/* A gateway of an older build (no HELLO flag 16) or of this one, watching ws/old/'s row. */
static rogue *gateway_watching(const char *name, uint32_t flags)
{
    rogue *r = rogue_new(name, GATEWAY_KEY);
    r->watch = "old.consumer";
    cx_env hello = { .type = CX_ENV_HELLO, .role = CX_ROLE_GATEWAY, .pid = 4343, .node = cx_slice_of(name),
                     .flags = flags };
    rogue_send(r, &hello);
    return r;
}

/* Pumps every peer (each heartbeats, or the broker drops it) until both gateways' row differs from
 * was, 5 s at most. */
static void pump_until_changed(rogue **peers, int n, int was)
{
    for (int t = 0; t < 5000 && (peers[2]->watch_available == was || peers[3]->watch_available == was); t += 100)
        for (int i = 0; i < n; i++)
            rogue_pump(peers[i], 25);
}

Test(upgrade, a_gateway_built_before_quarantine_reads_a_quarantined_route_as_unavailable)
{
    rogue *supervisor = old_supervisor("worker-old-2");
    rogue *worker = old_worker("worker-old-2-1");
    pump_both(supervisor, worker, 300);
    rogue *peers[] = { supervisor, worker, gateway_watching("gateway-older", 0),
                       gateway_watching("gateway-newer", CX_HELLO_READS_QUARANTINE) };
    rogue *older = peers[2], *newer = peers[3];
    pump_until_changed(peers, 4, -1);
    cr_assert_eq(older->watch_available, 1, "the older gateway's row: %d", older->watch_available);
    cr_assert_eq(newer->watch_available, 1, "this build's gateway's row: %d", newer->watch_available);

    /* its plugin crashed its worker processes too often: quarantined */
    cx_env exit = { .type = CX_ENV_WORKER_EXIT, .node = cx_slice_of("worker-old-2-1"), .pid = 4242, .code = 11,
                    .consumer = cx_slice_of("old.consumer"), .text = cx_slice_of("receive_message"),
                    .flags = CX_WORKER_EXIT_QUARANTINED };
    rogue_send(supervisor, &exit);
    pump_until_changed(peers, 4, 1);
    cr_assert_eq(newer->watch_available, CX_ROUTE_QUARANTINED, "this build's gateway: %d", newer->watch_available);
    cr_assert_eq(older->watch_available, 0, "the older gateway was sent %d (it refuses 2)", older->watch_available);
    for (int i = 0; i < 4; i++)
        rogue_destroy(&peers[i]);
}
