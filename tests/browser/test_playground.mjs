/**
 * The playground in a real browser (headless Chromium), against a live stack.
 *
 * Run by tests/e2e/test_docs.c, which starts the stack with the kit (CHANX_PLAYGROUND=on, the
 * chat and echo examples) and passes CHANX_TEST_HTTP (the gateway's http://host:port) and
 * CHANX_TEST_TOKEN (a user's DRF token). What a developer does: open /playground/, see the
 * routes, pick chat, fill the room and the token, connect, send a chat message, see the echo
 * with timestamps, disconnect and see the close code. The page must fetch nothing from
 * another host.
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
