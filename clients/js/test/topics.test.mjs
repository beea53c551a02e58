/**
 * Topic handles (Chanx 2.10's wire protocol) and requests by ref, against a live stack running
 * examples/hub (ws/hub/: ping → pong; topic room:{name}, staff-* rooms for staff only, welcome on
 * subscribe, say → said to every subscriber, echo → echoed to the sender with the ref).
 *
 * tests/e2e/test_docs.c starts the stack (with chanx-api) and passes CHANX_TEST_WS, the tokens of
 * alice (CHANX_TEST_TOKEN), bob (CHANX_TEST_TOKEN2), carol (CHANX_TEST_TOKEN3, user id
 * CHANX_TEST_USER3: the one whose connections are closed from the server side) and a staff user
 * (CHANX_TEST_STAFF_TOKEN), and CHANX_API_URL / CHANX_API_KEY to publish and disconnect.
 * The last test needs no stack: a WebSocket server in this process sends frames no gateway would.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { ChanxClient, ChanxError, ChanxTopic } from "../chanx.js";

const require = createRequire(import.meta.url);
// Debian's node-ws lives in /usr/share/nodejs, which node only searches with NODE_PATH set.
const WebSocket = (() => { try { return require("ws"); } catch { return require("/usr/share/nodejs/ws"); } })();
const env = process.env;
const live = { skip: !env.CHANX_TEST_WS && "CHANX_TEST_WS is set by tests/e2e/test_docs.c" };

const hub = (token = env.CHANX_TEST_TOKEN, options = {}) =>
  new ChanxClient(`${env.CHANX_TEST_WS}/ws/hub/`, { WebSocket, token, ...options });
const next = (handle, action) => new Promise((resolve) => { const off = handle.on(action, (p, m) => { off(); resolve(m); }); });
const until = (emitter, event) => new Promise((resolve) => { const off = emitter.addListener(event, (d) => { off(); resolve(d); }); });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** POSTs to chanx-api (/api/broadcast, /api/disconnect) with the stack's key; the JSON reply. */
async function api(method, body) {
  const r = await fetch(`${env.CHANX_API_URL}/api/${method}`, {
    method: "POST", headers: { Authorization: `apikey ${env.CHANX_API_KEY}` }, body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, `${method}: ${await r.clone().text()}`);
  return r.json();
}

test("a handle subscribes, is welcomed, says to every subscriber and gets its echo by ref", live, async () => {
  const alice = hub();
  const bob = hub(env.CHANX_TEST_TOKEN2);
  await Promise.all([alice.connect(), bob.connect()]);
  const lobby = alice.topic("room:js-lobby");
  assert.ok(lobby instanceof ChanxTopic);
  assert.equal(alice.topic("room:js-lobby"), lobby, "one handle per topic name");
  const welcome = next(lobby, "welcome");
  const subscribed = await lobby.subscribe();
  assert.equal(subscribed.action, "subscribed");
  assert.equal(subscribed.topic, "room:js-lobby");
  assert.equal(typeof subscribed.ref, "string");
  assert.equal(lobby.subscribed, true);
  assert.deepEqual((await welcome).payload, { topic: "room:js-lobby", user: "alice" });
  // bob's welcome (his on_subscribe's push) first: it races alice's say, which another connection's
  // consumer sends, and would otherwise land after bobSaw starts listening
  const bobWelcome = next(bob.topic("room:js-lobby"), "welcome");
  await bob.topic("room:js-lobby").subscribe();
  assert.deepEqual((await bobWelcome).payload, { topic: "room:js-lobby", user: "bob" });

  const heardByBob = next(bob.topic("room:js-lobby"), "said");
  const heardByAlice = next(lobby, "said");
  const ref = lobby.send("say", { text: "hi all" });
  assert.match(ref, /^\d+$/, "send returns the frame's ref");
  for (const m of await Promise.all([heardByAlice, heardByBob])) {
    assert.deepEqual(m.payload, { text: "hi all", user: "alice" });
    assert.equal(m.topic, "room:js-lobby");
    assert.equal(m.ref, undefined, "a push carries no ref");
  }

  // say answers nothing of its own (said is a push): the request resolves null on the completion.
  const bobHeard = next(bob.topic("room:js-lobby"), "said");
  assert.equal(await lobby.request("say", { text: "no reply" }), null);
  await bobHeard;

  const bobSaw = [];
  bob.topic("room:js-lobby").on("*", (p, m) => bobSaw.push(m.action));
  const [first, second] = await Promise.all([lobby.request("echo", { text: "one" }), lobby.request("echo", { text: "two" })]);
  assert.deepEqual([first.action, first.topic, first.payload], ["echoed", "room:js-lobby", { text: "one" }]);
  assert.deepEqual(second.payload, { text: "two" }, "each request resolves on the reply carrying its own ref");
  assert.notEqual(first.ref, second.ref);
  await sleep(200);
  assert.deepEqual(bobSaw, [], "an echo goes to the sender alone");

  // A topic frame reaches the topic's handlers, not the client's per-action ones; "*" sees all.
  const plain = [], all = [];
  alice.on("said", (p, m) => plain.push(m));
  alice.on("*", (p, m) => all.push(m.action));
  await bob.topic("room:js-lobby").request("echo", { text: "x" });
  bob.topic("room:js-lobby").send("say", { text: "from bob" });
  assert.equal((await next(lobby, "said")).payload.user, "bob");
  assert.deepEqual(plain, []);
  assert.ok(all.includes("said"));
  alice.close();
  bob.close();
});

test("request() without a topic carries a ref and resolves on its reply (Chanx 2.11.2)", live, async () => {
  const c = hub();
  await c.connect();
  const [a, b] = await Promise.all([c.request("ping"), c.request("ping")]);
  assert.equal(a.action, "pong");
  assert.equal(a.topic, undefined);
  assert.notEqual(a.ref, b.ref, "refs are per request");
  // Plain frames are completed in order by a plain "complete"; a topic frame's completion carries
  // its topic and ref (Chanx's Topic.handle_json) and subscribe has none: the plain FIFO stays aligned.
  const fifo = c.topic("room:js-fifo");
  const seen = [];
  fifo.on("*", (p, m) => seen.push(m));
  await fifo.subscribe();
  const echoRef = fifo.send("echo", { text: "x" });
  const replies = await c.request("ping", undefined, { untilComplete: true });
  assert.deepEqual(replies.map((m) => m.action), ["pong"]);
  assert.deepEqual(seen.map((m) => m.action).sort(), ["complete", "echoed", "subscribed", "welcome"]);
  assert.deepEqual(seen.find((m) => m.action === "complete"),
                   { version: 1, topic: "room:js-fifo", ref: echoRef, action: "complete", payload: null });
  c.close();
});

test("on a topic's own route, frames are completed on the topic: requests and untilComplete resolve", live, async () => {
  const own = new ChanxClient(`${env.CHANX_TEST_WS}/ws/hub/room/js-own/`, { WebSocket, token: env.CHANX_TEST_TOKEN });
  await own.connect();
  assert.deepEqual((await own.request("echo", { text: "me" })).payload, { text: "me" });
  const replies = await own.request("echo", { text: "plain" }, { untilComplete: true });
  assert.deepEqual(replies.map((m) => [m.action, m.topic]), [["echoed", "room:js-own"]]);
  assert.equal(await own.request("say", { text: "hi" }), null, "say answers only with its completion");
  assert.equal(own.pending.length, 0);
  own.close();

  // refused there (staff rooms), the route stays open and refuses each frame: nothing waits forever
  const refused = new ChanxClient(`${env.CHANX_TEST_WS}/ws/hub/room/staff-js-own/`, { WebSocket, token: env.CHANX_TEST_TOKEN });
  await refused.connect();
  assert.equal((await refused.request("echo", { text: "x" }).catch((e) => e)).reason, "not_subscribed");
  const untilComplete = await refused.request("echo", { text: "y" }, { untilComplete: true }).catch((e) => e);
  assert.ok(untilComplete instanceof ChanxError, String(untilComplete));
  assert.equal(untilComplete.payload.reason, "not_subscribed");
  assert.equal(refused.pending.length, 0);
  assert.equal(refused.state, "authenticated");
  refused.close();
});

test("an error rejects only the request it answers, with its reason; the other handles go on", live, async () => {
  const c = hub();
  await c.connect();
  const seenErrors = [];
  c.topic("nope:1").on("error", (p) => seenErrors.push(p.reason));
  const [unknown, staff, fine] = await Promise.allSettled([
    c.topic("nope:1").subscribe(), c.topic("room:staff-js").subscribe(), c.topic("room:js-fine").subscribe(),
  ]);
  assert.ok(unknown.reason instanceof ChanxError);
  assert.equal(unknown.reason.reason, "unknown_topic");
  assert.match(unknown.reason.detail, /nope:1/);
  assert.equal(staff.reason.reason, "unauthorized");
  assert.equal(fine.status, "fulfilled");
  assert.deepEqual(seenErrors, ["unknown_topic"], "the handle's on('error') saw its error frame");
  assert.equal(c.topic("nope:1").subscribed, false);

  const notSubscribed = await c.topic("room:js-never").request("echo", { text: "x" }).catch((e) => e);
  assert.equal(notSubscribed.reason, "not_subscribed");
  const invalid = await c.topic("room:js-fine").request("say", { text: "" }).catch((e) => e);
  assert.ok(Array.isArray(invalid.payload), `a validation error is pydantic's list: ${JSON.stringify(invalid.payload)}`);
  assert.deepEqual(invalid.payload[0].loc, ["payload", "text"]);
  assert.deepEqual((await c.topic("room:js-fine").request("echo", { text: "still here" })).payload, { text: "still here" });
  assert.equal(c.state, "authenticated");

  const root = hub(env.CHANX_TEST_STAFF_TOKEN);
  await root.connect();
  assert.equal((await root.topic("room:staff-js").subscribe()).action, "subscribed", "staff may join staff- rooms");
  root.close();
  c.close();
});

test("unsubscribe stops the topic's pushes and publishes; others still get them", live, async () => {
  const alice = hub();
  const bob = hub(env.CHANX_TEST_TOKEN2);
  await Promise.all([alice.connect(), bob.connect()]);
  const aliceRoom = alice.topic("room:js-leave");
  const bobRoom = bob.topic("room:js-leave");
  await Promise.all([aliceRoom.subscribe(), bobRoom.subscribe()]);
  const left = await aliceRoom.unsubscribe();
  assert.equal(left.action, "unsubscribed");
  assert.equal(aliceRoom.subscribed, false);
  const aliceGot = [];
  aliceRoom.on("*", (p, m) => aliceGot.push(m.action));
  const announced = next(bobRoom, "announce");
  const r = await api("broadcast", { topic: "room:js-leave", event: { action: "announce", payload: { text: "closing" } } });
  assert.equal(r.connections, 1);
  assert.deepEqual((await announced).payload, { text: "closing" });
  const said = next(bobRoom, "said");
  bobRoom.send("say", { text: "anyone?" });
  await said;
  await sleep(200);
  assert.deepEqual(aliceGot, []);
  alice.close();
  bob.close();
});

test("after the server closes the connection, every subscribed handle subscribes again", live, async () => {
  const c = hub(env.CHANX_TEST_TOKEN3, { minDelayMs: 50, maxDelayMs: 200 });
  await c.connect();
  const a = c.topic("room:js-a"), b = c.topic("room:js-b"), gone = c.topic("room:js-gone");
  await Promise.all([a.subscribe(), b.subscribe(), gone.subscribe()]);
  await gone.unsubscribe();
  const goneFrames = [];
  gone.on("*", (p, m) => goneFrames.push(m.action));
  // Caught at once: the close may reject it before the test awaits it, and node's runner fails a
  // test on a rejection left unhandled even for a moment.
  const echo = a.request("echo", { text: "in flight" }, { timeoutMs: 20000 }).catch((err) => err);
  const resubscribed = Promise.all([next(a, "subscribed"), next(b, "subscribed"), next(a, "welcome")]);
  const closed = until(c, "closed");
  await api("disconnect", { user_id: Number(env.CHANX_TEST_USER3), code: 4001 });
  assert.equal((await closed).code, 4001);
  assert.equal(a.subscribed, false, "a closed connection has left its topics");
  const e = await echo;
  // Sent before the close: answered, or rejected with the close, never re-sent.
  assert.ok(e.action === "echoed" || (e instanceof ChanxError && e.code === 4001), String(e));

  const [subA, subB] = await resubscribed;
  assert.equal(subA.topic, "room:js-a");
  assert.equal(subB.topic, "room:js-b");
  assert.equal(a.subscribed && b.subscribed, true);
  assert.equal(gone.subscribed, false);
  const heard = next(b, "announce");
  const r = await api("broadcast", { topic: "room:js-b", event: { action: "announce", payload: { text: "back" } } });
  assert.equal(r.connections, 1, "the new connection is in the topic's group");
  assert.deepEqual((await heard).payload, { text: "back" });
  assert.equal((await a.request("echo", { text: "after" })).payload.text, "after");
  assert.deepEqual(goneFrames, [], "the unsubscribed handle was not subscribed again");
  c.close();
});

test("a handle back from a reconnect gets exactly the pushes it missed (history), recovered: true", live, async () => {
  const c = hub(env.CHANX_TEST_TOKEN3, { minDelayMs: 1500, maxDelayMs: 2000 });
  const bob = hub(env.CHANX_TEST_TOKEN2);
  await Promise.all([c.connect(), bob.connect()]);
  const room = c.topic("room:js-history"), bobRoom = bob.topic("room:js-history");
  await Promise.all([room.subscribe(), bobRoom.subscribe()]);
  assert.equal(typeof room.epoch, "string", "the hub's rooms keep a history: subscribed names the epoch");
  const first = next(room, "said");
  bobRoom.send("say", { text: "h1" });
  assert.equal((await first).payload.text, "h1");
  const seenSeq = room.seq;
  assert.ok(Number.isInteger(seenSeq), "the handle tracks the seq of the pushes it gets");

  const closed = until(c, "closed");
  await api("disconnect", { user_id: Number(env.CHANX_TEST_USER3), code: 4001 });
  await closed;
  const missed = [];
  room.on("said", (p, m) => missed.push([m.seq, p.text]));
  const bobHeard = next(bobRoom, "said");
  bobRoom.send("say", { text: "h2" });
  await bobHeard;
  const bobHeard2 = next(bobRoom, "said");
  bobRoom.send("say", { text: "h3" });
  await bobHeard2;   // both held by the broker before the handle comes back

  const [back] = await Promise.all([next(room, "subscribed"), next(room, "welcome")]);   // welcome: after the replay
  assert.equal(back.payload.recovered, true);
  assert.equal(room.recovered, true);
  assert.equal(back.payload.epoch, room.epoch);
  assert.deepEqual(missed, [[seenSeq + 1, "h2"], [seenSeq + 2, "h3"]], "exactly the missed pushes, in order");
  assert.equal(room.seq, seenSeq + 2);
  c.close();
  bob.close();
});

test("frames no server should send do not break the client: an error rejects only its own handle", async () => {
  const server = new WebSocket.Server({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => server.once("listening", r));
  server.on("connection", (ws) => {
    ws.send(JSON.stringify({ action: "authentication", payload: { status_code: 200 } }));
    ws.on("message", (data) => {
      const f = JSON.parse(data.toString());
      for (const junk of ["not json", "null", "[1,2]", "42", '{"topic": 5, "ref": {"a": 1}, "action": "x"}',
                          '{"topic": "room:a", "ref": "999", "action": "error"}', '{"ref": ["1"], "action": "error"}'])
        ws.send(junk);
      if (f.topic === "room:a") ws.send(JSON.stringify({ version: 1, topic: "room:a", ref: f.ref, action: "error", payload: null }));
      else if (f.topic === "room:b") ws.send(JSON.stringify({ version: 1, topic: "room:b", ref: f.ref, action: "subscribed" }));
      else ws.send(JSON.stringify({ version: 1, ref: f.ref, action: "pong", payload: null }));
    });
  });
  const c = new ChanxClient(`ws://127.0.0.1:${server.address().port}/`, { WebSocket, reconnect: false });
  await c.connect();
  const reported = [];
  const consoleError = console.error;
  console.error = (e) => reported.push(e.message);
  c.on("x", () => { throw new Error("a handler's bug"); });
  const a = await c.topic("room:a").subscribe().catch((e) => e);
  assert.ok(reported.includes("a handler's bug"), "a handler that throws is reported, and the client reads on");
  assert.ok(a instanceof ChanxError, String(a));
  assert.equal(a.reason, undefined, "an error without a payload still rejects, with no reason to give");
  assert.equal((await c.topic("room:b").subscribe()).action, "subscribed");
  assert.equal((await c.request("ping")).action, "pong");
  assert.equal(c.state, "authenticated");
  assert.throws(() => c.topic(""), ChanxError);
  assert.throws(() => c.topic({}), ChanxError);
  console.error = consoleError;
  c.close();
  server.close();
});
