/**
 * The playground in a real browser (headless Chromium), against a live stack.
 *
 * Run by tests/e2e/test_docs.c, which starts the stack with the kit (CHANX_PLAYGROUND=on, the
 * chat and echo examples) and passes CHANX_TEST_HTTP (the gateway's http://host:port) and
 * CHANX_TEST_TOKEN (a user's DRF token). What a developer does: open /playground/, see the
 * routes, pick chat, fill the room and the token, connect, send a chat message, see the echo
 * with timestamps, disconnect and see the close code. The page must fetch nothing from
 * another host. Then the hub (examples/hub): subscribing to a topic, sending on it and seeing its
 * frames in the page, and chanx.js's topic handles run in the page itself (CHANX_TEST_TOKEN3 and
 * CHANX_TEST_USER3: carol, whose connection chanx-api closes from the server side). With
 * CHANX_PLAYGROUND_SCREENSHOT=file.png the topics page is saved as a screenshot.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch } from "./chromium.mjs";

const base = process.env.CHANX_TEST_HTTP;
const token = process.env.CHANX_TEST_TOKEN;
let browser, page;

before(async () => {
  assert.ok(base && token, "CHANX_TEST_HTTP and CHANX_TEST_TOKEN are set by tests/e2e/test_docs.c");
  browser = await launch();
  page = await browser.newPage();
});
after(async () => browser && (await browser.close()));

test("the playground lists the routes, chats through the gateway and shows close codes", async () => {
  await page.goto(`${base}/playground/`);
  await page.waitFor("document.body.dataset.ready === '1'");
  const routes = await page.evaluate("[...document.querySelectorAll('#routes li code')].map((e) => e.textContent)");
  assert.ok(routes.includes("/ws/chat/{room_id}/"), `chat listed: ${routes}`);
  assert.ok(routes.includes("/ws/echo/"), `echo listed: ${routes}`);

  await page.click("#routes li[data-channel='ws_chat_room_id']");
  assert.equal(await page.evaluate("document.getElementById('param-room_id').value"), "example");
  await page.fill("#param-room_id", "lobby");
  assert.equal(await page.evaluate("document.getElementById('path').value"), "/ws/chat/lobby/");
  const actions = await page.evaluate("[...document.querySelectorAll('#action option')].map((o) => o.value)");
  assert.deepEqual(actions, ["ping", "chat"]);
  await page.fill("#action", "chat");
  const example = JSON.parse(await page.evaluate("document.getElementById('message').value"));
  assert.deepEqual(example, { action: "chat", payload: { message: "string" } }, "the example is pre-filled from the schema");

  await page.fill("#token", token);
  await page.click("#connect");
  await page.waitFor("document.getElementById('status').textContent === 'connected'");
  await page.fill("#message", JSON.stringify({ action: "chat", payload: { message: "hello from chromium" } }));
  await page.click("#send");
  const echo = await page.waitFor(`[...document.querySelectorAll('#log .in')].map((e) => e.textContent)
    .find((t) => t.includes('"action":"chat"') && t.includes('hello from chromium'))`);
  assert.match(echo, /^\d\d:\d\d:\d\d\.\d{3}← /, "incoming messages are timestamped");
  assert.match(echo, /"is_mine":true/);

  // An invalid message is shown with the server's validation error.
  await page.fill("#message", JSON.stringify({ action: "chat", payload: {} }));
  await page.click("#send");
  await page.waitFor(`[...document.querySelectorAll('#log .in')].some((e) => e.textContent.includes('"type":"missing"'))`);

  await page.click("#disconnect");
  await page.waitFor(`[...document.querySelectorAll('#log .event')].some((e) => /closed 1000/.test(e.textContent))`);

  // A refused token shows the refusal's close code, and the page does not retry.
  await page.fill("#token", "not-a-token");
  await page.click("#connect");
  await page.waitFor(`[...document.querySelectorAll('#log .event')].some((e) => /closed 4401/.test(e.textContent))`);

  const origin = new URL(base);
  const foreign = page.requests.filter((u) => new URL(u).host !== origin.host);
  assert.deepEqual(foreign, [], "nothing is fetched from another host");
  const sockets = [...page.webSockets.values()];
  assert.ok(sockets[0].frames.some((f) => f.sent && f.text.includes("hello from chromium")), "the frame went over a real WebSocket");
});

/** PNG of the page into $CHANX_PLAYGROUND_SCREENSHOT, when set (to look at the page by eye). */
async function screenshot(page) {
  const path = process.env.CHANX_PLAYGROUND_SCREENSHOT;
  if (!path) return;
  await page.send("Emulation.setDeviceMetricsOverride", { width: 1280, height: 800, deviceScaleFactor: 1, mobile: false });
  const { data } = await page.send("Page.captureScreenshot", { format: "png" });
  (await import("node:fs")).writeFileSync(path, Buffer.from(data, "base64"));
}

const logged = (kind, ...parts) => `[...document.querySelectorAll('#log .${kind}')].map((e) => e.textContent)
  .find((t) => ${parts.map((p) => `t.includes(${JSON.stringify(p)})`).join(" && ")})`;

test("the playground subscribes to a hub topic, sends on it and shows its frames", async () => {
  const topicsPage = await browser.newPage();
  await topicsPage.goto(`${base}/playground/`);
  await topicsPage.waitFor("document.body.dataset.ready === '1'");
  const hubItem = await topicsPage.evaluate(`[...document.querySelectorAll('#routes li')]
    .find((li) => li.querySelector('code').textContent === '/ws/hub/' && !li.textContent.includes('topic'))?.dataset.channel`);
  assert.ok(hubItem, "the hub is listed");
  const topicItems = await topicsPage.evaluate("[...document.querySelectorAll('#routes li small')].map((e) => e.textContent).filter((t) => t.includes('topic room:{name}'))");
  assert.equal(topicItems.length, 2, "the topic is listed at the hub's address and at its own route");
  await topicsPage.click(`#routes li[data-channel='${hubItem}']`);
  assert.equal(await topicsPage.evaluate("document.getElementById('topics').hidden"), false, "a route hosting topics shows the Topics box");
  assert.equal(await topicsPage.evaluate("document.getElementById('topic').value"), "room:lobby", "pre-filled from the pattern");

  await topicsPage.fill("#token", token);
  await topicsPage.click("#connect");
  await topicsPage.waitFor("document.getElementById('status').textContent === 'connected'");
  await topicsPage.click("#subscribe");
  await topicsPage.waitFor(logged("topic", '"action":"welcome"', '"user":"alice"'));
  await topicsPage.waitFor(logged("event", "subscribed to room:lobby"));
  assert.match(await topicsPage.evaluate("document.getElementById('subscriptions').textContent"), /room:lobby ✓/);

  await topicsPage.fill("#on-topic", "room:lobby");
  const actions = await topicsPage.evaluate("[...document.querySelectorAll('#action option')].map((o) => o.value)");
  assert.ok(actions.includes("say") && actions.includes("echo") && !actions.includes("subscribe"), `the topic's actions: ${actions}`);
  await topicsPage.fill("#message", JSON.stringify({ action: "say", payload: { text: "hello topic" } }));
  await topicsPage.click("#send");
  const said = await topicsPage.waitFor(logged("topic", '"action":"said"', "hello topic"));
  assert.match(said, /"topic":"room:lobby"/);

  // A refused subscription is shown, and the subscribed topic goes on.
  await topicsPage.fill("#topic", "room:staff-secrets");
  await topicsPage.click("#subscribe");
  await topicsPage.waitFor(logged("fail", "subscribe refused: topic room:staff-secrets: unauthorized"));
  await topicsPage.fill("#message", JSON.stringify({ action: "echo", payload: { text: "still here" } }));
  await topicsPage.click("#send");
  await topicsPage.waitFor(logged("topic", '"action":"echoed"', "still here"));
  await screenshot(topicsPage);

  const frames = [...topicsPage.webSockets.values()].flatMap((w) => w.frames).filter((f) => f.sent).map((f) => JSON.parse(f.text));
  const say = frames.find((f) => f.action === "say");
  assert.equal(say.version, 1);
  assert.equal(say.topic, "room:lobby");
  assert.equal(typeof say.ref, "string", "the frame went out with Chanx's envelope");

  await topicsPage.fill("#topic", "room:lobby");
  await topicsPage.click("#unsubscribe");
  await topicsPage.waitFor(logged("event", "unsubscribed from room:lobby"));
  assert.equal(await topicsPage.evaluate("document.getElementById('on-topic').value"), "");
});

test("topic handles of chanx.js in the browser: request by ref, errors per handle, resubscription", async () => {
  const p = await browser.newPage();
  await p.goto(`${base}/playground/`);
  await p.waitFor("document.body.dataset.ready === '1'");
  const ws = base.replace(/^http/, "ws");
  const out = await p.evaluate(`(async () => {
    const { ChanxClient } = await import("/playground/chanx.js");
    const c = window.hubClient = new ChanxClient(${JSON.stringify(ws + "/ws/hub/")}, { token: ${JSON.stringify(process.env.CHANX_TEST_TOKEN3)}, minDelayMs: 50 });
    await c.connect();
    const room = c.topic("room:browser");
    await room.subscribe();
    const echoed = await room.request("echo", { text: "from chromium" });
    const unknown = await c.topic("nope:1").subscribe().catch((e) => e.reason);
    const pong = await c.request("ping");
    window.resubscribed = new Promise((r) => room.on("subscribed", (p, m) => r(m.topic)));
    return { echoed: echoed.payload.text, ref: typeof echoed.ref, unknown, pong: pong.action };
  })()`);
  assert.deepEqual(out, { echoed: "from chromium", ref: "string", unknown: "unknown_topic", pong: "pong" });
  // The server closes the browser's connection: the client reconnects and subscribes again.
  const r = await fetch(`${process.env.CHANX_API_URL}/api/disconnect`, {
    method: "POST", headers: { Authorization: `apikey ${process.env.CHANX_API_KEY}` },
    body: JSON.stringify({ user_id: Number(process.env.CHANX_TEST_USER3), code: 4001 }),
  });
  assert.equal(r.status, 200);
  assert.equal(await p.evaluate("window.resubscribed"), "room:browser");
  assert.deepEqual(await p.evaluate(`window.hubClient.topic("room:browser").request("echo", { text: "again" }).then((m) => m.payload.text)`), "again");
  await p.evaluate("window.hubClient.close()");
});
