/*
 * A real browser against the gateway: headless Chromium (tests/kit/browser.h)
 * opens connections with and without subprotocols, with its DRF token
 * offered as a subprotocol, and with permessage-deflate (Chromium always
 * offers it; the stack runs with CHANX_COMPRESSION=on), and reports what it
 * saw: the chosen subprotocol, the negotiated extension, what the consumer
 * saw, a 3000-byte echo that came back compressed, and the close codes.
 */
#include <chanx/testing.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/kit/browser.h"

static cx_stack *stack;

static void setup(void)
{
    static char plugin[600];
    const char *bin = getenv("CHANX_TEST_BIN") ? getenv("CHANX_TEST_BIN") : "build";
    snprintf(plugin, sizeof plugin, "%s/test-plugins/edge_proto.so", bin);
    stack = cx_stack_start(&(cx_stack_options) {
        .plugin_files = (const char *[]) { plugin, NULL },
        .env = (const char *[]) { "CHANX_COMPRESSION=on", "CHANX_TOKEN_SUBPROTOCOL=token", NULL },
    });
}
static void teardown(void) { cx_stack_stop(&stack); }

TestSuite(browser, .init = setup, .fini = teardown, .timeout = 120);

static const char PAGE[] =
    "<!doctype html><meta charset=utf-8><title>chanx edge</title><script>\n"
    "const base = 'ws://127.0.0.1:%d/ws/edge_proto/', key = '%s';\n"
    "function open(label, path, protocols) {\n"
    "  return new Promise(resolve => {\n"
    "    const r = { label, open: false, protocol: null, extensions: null, which: null, echo: 0, code: null };\n"
    "    let ws;\n"
    "    try { ws = protocols ? new WebSocket(base + path, protocols) : new WebSocket(base + path); }\n"
    "    catch (e) { r.error = String(e); resolve(r); return; }\n"
    "    const timer = setTimeout(() => { r.timeout = true; ws.close(); resolve(r); }, 15000);\n"
    "    ws.onopen = () => { r.open = true; r.protocol = ws.protocol; r.extensions = ws.extensions;\n"
    "                        ws.send(JSON.stringify({ action: 'which' })); };\n"
    "    ws.onmessage = e => { const m = JSON.parse(e.data);\n"
    "      if (m.action === 'which') { r.which = m.payload; ws.send(JSON.stringify({ action: 'echo', payload: 'chanx '.repeat(500) })); }\n"
    "      else if (m.action === 'echo') { r.echo = m.payload.length; ws.close(1000, 'done'); } };\n"
    "    ws.onclose = e => { r.code = e.code; clearTimeout(timer); resolve(r); };\n"
    "  });\n"
    "}\n"
    "(async () => {\n"
    "  const results = {};\n"
    "  for (const [label, path, protocols] of [\n"
    "      ['plain', 'plain/', null],\n"
    "      ['subprotocol', 'versioned/', ['chanx.v1']],\n"
    "      ['token', 'versioned/', ['chanx.v1', 'token.' + key]],\n"
    "      ['undeclared', 'plain/', ['chanx.v1']]])\n"
    "    results[label] = await open(label, path, protocols);\n"
    "  await fetch('/report', { method: 'POST', body: JSON.stringify(results) });\n"
    "})();\n"
    "</script>\n";

static json_t *result(json_t *report, const char *label)
{
    json_t *r = json_object_get(report, label);
    cr_assert_not_null(r, "no result for %s", label);
    return r;
}

static const char *str(json_t *o, const char *key) { return json_string_value(json_object_get(o, key)); }

Test(browser, chromium_connects_with_and_without_subprotocols_and_compression)
{
    int64_t alice = cx_db_create_user(stack, "alice", 0);
    char page[sizeof PAGE + 128], err[200];
    snprintf(page, sizeof page, PAGE, cx_stack_gateway_port(stack, 0), cx_db_token(stack, alice));
    char *text = cx_browser_run(page, 90000, err, sizeof err);
    cr_assert_not_null(text, "%s", err);
    json_t *report = json_loads(text, 0, NULL);
    cr_assert_not_null(report, "not JSON: %s", text);

    json_t *plain = result(report, "plain");
    cr_assert(json_is_true(json_object_get(plain, "open")), "plain: %s", text);
    cr_assert_str_eq(str(plain, "protocol"), "");
    cr_assert(strstr(str(plain, "extensions"), "permessage-deflate"), "Chromium's offer is accepted: %s", text);
    cr_assert_eq(json_integer_value(json_object_get(plain, "echo")), 3000, "the compressed echo inflated whole");
    cr_assert_eq(json_integer_value(json_object_get(plain, "code")), 1000, "our close echoed: %s", text);

    json_t *sub = result(report, "subprotocol");
    cr_assert(json_is_true(json_object_get(sub, "open")), "a browser offering a declared subprotocol connects: %s", text);
    cr_assert_str_eq(str(sub, "protocol"), "chanx.v1");
    cr_assert_str_eq(str(json_object_get(sub, "which"), "subprotocol"), "chanx.v1");
    cr_assert_eq(json_integer_value(json_object_get(sub, "code")), 1000);

    json_t *token = result(report, "token");
    cr_assert_str_eq(str(token, "protocol"), "chanx.v1", "the token offer is never the answer");
    cr_assert_str_eq(str(json_object_get(token, "which"), "user"), "alice", "a browser authenticates by subprotocol");
    cr_assert_str_eq(str(json_object_get(token, "which"), "offers"), "chanx.v1");

    /* The consumer declares none: the gateway answers none, and Chromium, which offered one, fails the
     * connection (RFC 6455 §4.1): why a browser client must offer only what its route declares. */
    json_t *undeclared = result(report, "undeclared");
    cr_assert(json_is_false(json_object_get(undeclared, "open")), "%s", text);
    cr_assert_eq(json_integer_value(json_object_get(undeclared, "code")), 1006);

    json_decref(report);
    free(text);
}
