/**
 * The JavaScript client against a live stack (node's test runner, Debian's node-ws as the
 * WebSocket). tests/e2e/test_docs.c starts the stack with the kit (chat and echo examples, the
 * auth_probe test plugin, CHANX_SEND_COMPLETION=on) and passes CHANX_TEST_WS (ws://host:port),
 * CHANX_TEST_TOKEN and CHANX_TEST_TOKEN2 (two users' DRF tokens).
 *
 * Connection drops are made real with a TCP proxy in this process between the client and the
 * gateway: it can hold the client's bytes back and cut every connection, as a network does.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import net from "node:net";
import { ChanxClient, ChanxError, NO_RETRY_CODES, backoffDelay, withToken } from "../chanx.js";

const require = createRequire(import.meta.url);
// Debian's node-ws lives in /usr/share/nodejs, which node only searches with NODE_PATH set.
const WebSocket = (() => { try { return require("ws"); } catch { return require("/usr/share/nodejs/ws"); } })();
const base = process.env.CHANX_TEST_WS;
const token = process.env.CHANX_TEST_TOKEN;
const token2 = process.env.CHANX_TEST_TOKEN2;
const live = { skip: !base && "CHANX_TEST_WS is set by tests/e2e/test_docs.c" };

const client = (path, options = {}) => new ChanxClient(`${base}${path}`, { WebSocket, token, ...options });
const until = (emitter, event) => new Promise((resolve) => { const off = emitter.addListener(event, (d) => { off(); resolve(d); }); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP proxy to the gateway: hold() stops forwarding the client's bytes, cut() drops everything. */
async function proxy() {
  const target = new URL(base);
  const sockets = new Set();
  let held = false;
  const server = net.createServer((down) => {
    const up = net.connect(Number(target.port), target.hostname);
    sockets.add(down).add(up);
    down.on("data", (d) => { if (!held) up.write(d); });
    up.on("data", (d) => down.write(d));
    for (const s of [down, up]) { s.on("error", () => {}); s.on("close", () => { down.destroy(); up.destroy(); }); }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `ws://127.0.0.1:${server.address().port}`,
    hold() { held = true; },
    cut() { held = false; for (const s of sockets) s.destroy(); sockets.clear(); },
    close() { this.cut(); server.close(); },
  };
}

test("backoffDelay grows exponentially, stays within [cap/2, cap] and stops growing at maxDelayMs", () => {
  const opts = { minDelayMs: 100, maxDelayMs: 1000, factor: 2 };
  assert.equal(backoffDelay(0, { ...opts, random: () => 0 }), 50);
  assert.equal(backoffDelay(0, { ...opts, random: () => 0.999999 }), 100);
  assert.equal(backoffDelay(3, { ...opts, random: () => 0 }), 400);
  assert.equal(backoffDelay(10, { ...opts, random: () => 0.999999 }), 1000);
  assert.equal(backoffDelay(10, { ...opts, random: () => 0 }), 500);
  assert.deepEqual(NO_RETRY_CODES, [4401, 4403, 4404]);
});

test("withToken adds the token as a query parameter, encoded, keeping the others", () => {
  assert.equal(withToken("ws://h/ws/chat/a/?x=1", "k y"), "ws://h/ws/chat/a/?x=1&token=k+y");
  assert.equal(withToken("ws://h/ws/echo/", undefined), "ws://h/ws/echo/");
});

test("connect waits for the authentication message; send, handlers and request() work", live, async () => {
  const c = client("/ws/echo/");
  const pongs = [];
  c.on("pong", (payload, message) => pongs.push(message));
  const auth = await c.connect();
  assert.equal(auth.status_code, 200);
  assert.equal(c.state, "authenticated");
  c.send("ping");
  const replies = await c.request("ping", undefined, { untilComplete: true });
  assert.deepEqual(replies, [{ action: "pong", payload: null }], "request(untilComplete) resolves with the replies up to complete");
  assert.equal(pongs.length, 2, "the handler saw both pongs, the plain send's and the request's");
  c.close();
  await until(c, "stopped");
  assert.throws(() => c.send("ping"), ChanxError, "send() on a closed client throws instead of queueing");
});

test("request() rejects with the validation errors the consumer answered", live, async () => {
  const c = client("/ws/chat/js-errors/");
  await c.connect();
  const e = await c.request("chat", {}).catch((err) => err);
  assert.ok(e instanceof ChanxError, String(e));
  assert.equal(e.payload[0].type, "missing");
  assert.deepEqual(e.payload[0].loc, ["payload", "message"]);
  // the connection is still usable
  assert.deepEqual(await c.request("ping"), { action: "pong", payload: null, ref: "2" }, "request() resolves on the reply with its ref");
  c.close();
});

test("group messages reach per-action handlers with is_mine / is_current", live, async () => {
  const alice = client("/ws/chat/js-room/");
  const bob = client("/ws/chat/js-room/", { token: token2 });
  await Promise.all([alice.connect(), bob.connect()]);
  const got = new Promise((resolve) => bob.on("chat", (payload, message) => resolve(message)));
  const replies = await alice.request("chat", { message: "hi bob" }, { untilComplete: true });
  assert.deepEqual(replies, [{ action: "chat", payload: { message: "hi bob" }, is_mine: true, is_current: true }]);
  assert.deepEqual(await got, { action: "chat", payload: { message: "hi bob" }, is_mine: false, is_current: false });
  alice.close();
  bob.close();
});

test("a refused token rejects connect with 4401 and does not reconnect", live, async () => {
  const c = client("/ws/echo/", { token: "not-a-token", minDelayMs: 10 });
  let reconnects = 0;
  c.addListener("reconnecting", () => reconnects++);
  const stopped = until(c, "stopped");
  const e = await c.connect().catch((err) => err);
  assert.ok(e instanceof ChanxError);
  assert.equal(e.code, 4401);
  assert.equal(e.payload.status_code, 401, "the refusal's authentication payload is kept");
  assert.equal((await stopped).code, 4401);
  await sleep(300);
  assert.equal(reconnects, 0);
  assert.equal(c.state, "closed");
});

test("a path with no route says so in node: 1006 and the gateway's HTTP 404 in the error", live, async () => {
  const c = client("/ws/no-such-route/", { reconnect: false });
  await assert.rejects(c.connect(), (e) => e instanceof ChanxError && e.code === 1006 && /404/.test(e.message));
  c.close();
});

test("a permission refusal (4403) stops reconnecting too", live, async () => {
  const c = client("/ws/auth_probe/admin/", { minDelayMs: 10 });
  let reconnects = 0;
  c.addListener("reconnecting", () => reconnects++);
  const e = await c.connect().catch((err) => err);
  assert.equal(e.code, 4403);
  await sleep(300);
  assert.equal(reconnects, 0);
});

test("a dropped connection reconnects with backoff and authenticates again; nothing is re-sent", live, async () => {
  const p = await proxy();
  const c = new ChanxClient(`${p.url}/ws/chat/js-drop/`, { WebSocket, token, minDelayMs: 50, maxDelayMs: 400 });
  const watcher = client("/ws/chat/js-drop/", { token: token2 });
  const seen = [];
  watcher.on("chat", (payload) => seen.push(payload.message));
  await Promise.all([c.connect(), watcher.connect()]);

  // The client's bytes stop reaching the gateway: this request is lost with the connection.
  p.hold();
  const lost = c.request("chat", { message: "lost in transit" }, { timeoutMs: 20000 });
  const closed = until(c, "closed");
  const reconnecting = until(c, "reconnecting");
  const reauthenticated = until(c, "authenticated");
  await sleep(100);
  p.cut();
  const e = await lost.catch((err) => err);
  assert.ok(e instanceof ChanxError && e.code === 1006, `the request in flight rejects: ${e}`);
  assert.equal((await closed).willReconnect, true);
  const r = await reconnecting;
  assert.equal(r.attempt, 1);
  assert.ok(r.delayMs >= 25 && r.delayMs <= 50, `first delay within [min/2, min]: ${r.delayMs}`);

  await reauthenticated;
  assert.equal(c.state, "authenticated");
  assert.deepEqual(await c.request("chat", { message: "after reconnect" }, { untilComplete: true }),
                   [{ action: "chat", payload: { message: "after reconnect" }, is_mine: true, is_current: true }]);
  await sleep(200);
  assert.deepEqual(seen, ["after reconnect"], "the lost message was never re-sent behind the caller's back");

  // Backoff grows while the gateway stays unreachable, and close() ends the attempts.
  c.close();
  p.close();
  watcher.close();
});

test("attempts back off exponentially while the server is unreachable, and close() ends them", live, async () => {
  const p = await proxy();
  const c = new ChanxClient(`${p.url}/ws/echo/`, { WebSocket, token, minDelayMs: 20, maxDelayMs: 160, random: () => 0.999999 });
  await c.connect();
  p.close(); // cut, and no longer accepting
  const delays = [];
  await new Promise((resolve) => c.addListener("reconnecting", ({ delayMs }) => { delays.push(delayMs); if (delays.length === 5) resolve(); }));
  assert.deepEqual(delays, [20, 40, 80, 160, 160]);
  c.close();
  const n = delays.length;
  await sleep(400);
  assert.equal(delays.length, n, "no attempt after close()");
  assert.equal(c.state, "closed");
});
