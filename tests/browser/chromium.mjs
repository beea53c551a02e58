/**
 * chromium.mjs — drives Debian's headless Chromium over the DevTools protocol, for tests.
 *
 * No npm packages: it speaks the Chrome DevTools Protocol (CDP) over a WebSocket with node-ws
 * (Debian's node-ws; `require("ws")` with NODE_PATH=/usr/share/nodejs, as tests/browser/run sets).
 * Each launch gets a fresh profile (a temporary --user-data-dir, removed on close) and the flags
 * a root-run CI needs (--no-sandbox) plus those that keep Chromium from calling home.
 *
 *     import { launch } from "./chromium.mjs";
 *     const browser = await launch();
 *     const page = await browser.newPage();
 *     await page.goto("http://127.0.0.1:8000/playground/");
 *     await page.waitFor("document.body.dataset.ready === '1'");
 *     const title = await page.evaluate("document.title");
 *     await browser.close();
 *
 * Page API (every method returns a promise; timeouts in milliseconds, default 15000):
 *   goto(url)                       navigates and waits for the load event
 *   evaluate(expression)            the expression's value (JSON-serializable; promises awaited);
 *                                   a thrown exception rejects with its description
 *   waitFor(expression, timeoutMs)  polls until the expression is truthy; rejects with the
 *                                   expression and the last value on timeout
 *   click(selector)                 element.click(); rejects when nothing matches
 *   fill(selector, value)           sets an input/textarea/select value and fires input and change
 *   requests                        URLs of every request the page made (Network domain)
 *   webSockets                      {url, frames: [{sent, text}], closed} per WebSocket the page opened
 *   console                         console messages ("log: text")
 *   send(method, params)            any other CDP command on the page's session
 * Errors carry the CDP error message. The runner is shared by the repository's browser tests
 * (the playground's, the gateway's WebSocket edge tests): keep it generic.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(import.meta.url);
// Debian's node-ws lives in /usr/share/nodejs, which node only searches with NODE_PATH set.
const WebSocket = (() => { try { return require("ws"); } catch { return require("/usr/share/nodejs/ws"); } })();

export const CHROMIUM = process.env.CHANX_CHROMIUM || "/usr/bin/chromium";
export const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  "--disable-default-apps", "--disable-extensions", "--mute-audio", "--remote-debugging-port=0",
];

/** Starts Chromium; resolves with a browser handle once its DevTools endpoint answers. */
export async function launch({ args = [], timeoutMs = 30000 } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "chanx-chromium-"));
  const proc = spawn(CHROMIUM, [...FLAGS, `--user-data-dir=${profile}`, ...args, "about:blank"],
                     { stdio: ["ignore", "ignore", "pipe"], detached: true });   // its own group: close() ends every child
  let stderr = "";
  const endpoint = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`chromium gave no DevTools endpoint in ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
    proc.stderr.on("data", (chunk) => {
      stderr += chunk;
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on("exit", (code) => { clearTimeout(timer); reject(new Error(`chromium exited (${code}):\n${stderr}`)); });
  });
  const cdp = await Connection.open(endpoint);
  return {
    process: proc,
    cdp,
    newPage: () => Page.create(cdp),
    async close() {
      cdp.close();
      const exited = new Promise((r) => (proc.exitCode !== null ? r() : proc.once("exit", r)));
      try { process.kill(-proc.pid, "SIGTERM"); } catch { /* already gone */ }
      await exited;
      // Chromium's helpers may still be writing the profile for a moment.
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
}

/** One CDP WebSocket: commands with ids, events routed by session. */
class Connection {
  static open(url) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024 });
      ws.once("open", () => resolve(new Connection(ws)));
      ws.once("error", reject);
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.next = 1;
    this.calls = new Map();
    this.listeners = new Set();
    ws.on("message", (data) => {
      const msg = JSON.parse(data.toString());
      if (msg.id && this.calls.has(msg.id)) {
        const { resolve, reject, method } = this.calls.get(msg.id);
        this.calls.delete(msg.id);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result);
      } else if (msg.method) {
        for (const l of this.listeners) l(msg);
      }
    });
  }

  send(method, params = {}, sessionId) {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject, method });
      this.ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }

  close() { this.ws.close(); }
}

class Page {
  static async create(cdp) {
    const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
    const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
    const page = new Page(cdp, sessionId);
    await Promise.all(["Page.enable", "Runtime.enable", "Network.enable"].map((m) => page.send(m)));
    return page;
  }

  constructor(cdp, sessionId) {
    this.cdp = cdp;
    this.sessionId = sessionId;
    this.requests = [];
    this.webSockets = new Map();
    this.console = [];
    this.waiters = new Set();
    cdp.listeners.add((msg) => {
      if (msg.sessionId !== sessionId) return;
      const p = msg.params;
      if (msg.method === "Network.requestWillBeSent") this.requests.push(p.request.url);
      else if (msg.method === "Network.webSocketCreated") {
        this.requests.push(p.url);
        this.webSockets.set(p.requestId, { url: p.url, frames: [], closed: false });
      } else if (msg.method === "Network.webSocketFrameSent" || msg.method === "Network.webSocketFrameReceived") {
        this.webSockets.get(p.requestId)?.frames.push({ sent: msg.method.endsWith("Sent"), text: p.response.payloadData });
      } else if (msg.method === "Network.webSocketClosed") {
        const ws = this.webSockets.get(p.requestId);
        if (ws) ws.closed = true;
      } else if (msg.method === "Runtime.consoleAPICalled") {
        this.console.push(`${p.type}: ${p.args.map((a) => a.value ?? a.description).join(" ")}`);
      }
      for (const w of this.waiters) w(msg);
    });
  }

  send(method, params) { return this.cdp.send(method, params, this.sessionId); }

  async goto(url, timeoutMs = 15000) {
    const loaded = this.event("Page.loadEventFired", timeoutMs);
    const { errorText } = await this.send("Page.navigate", { url });
    if (errorText) throw new Error(`navigating to ${url}: ${errorText}`);
    await loaded;
  }

  event(method, timeoutMs) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiters.delete(w); reject(new Error(`no ${method} within ${timeoutMs} ms`)); }, timeoutMs);
      const w = (msg) => { if (msg.method === method) { clearTimeout(timer); this.waiters.delete(w); resolve(msg.params); } };
      this.waiters.add(w);
    });
  }

  async evaluate(expression) {
    const r = await this.send("Runtime.evaluate", { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails)
      throw new Error(`${expression}: ${r.exceptionDetails.exception?.description || r.exceptionDetails.text}`);
    return r.result.value;
  }

  async waitFor(expression, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    let last;
    for (;;) {
      last = await this.evaluate(expression).catch((e) => e.message);
      if (last && !(typeof last === "string" && last.startsWith(expression + ":"))) return last;
      if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${expression}; last value: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async click(selector) {
    const ok = await this.evaluate(`(() => { const e = document.querySelector(${JSON.stringify(selector)});
      if (!e) return false; e.click(); return true; })()`);
    if (!ok) throw new Error(`click: nothing matches ${selector}`);
  }

  async fill(selector, value) {
    const ok = await this.evaluate(`(() => { const e = document.querySelector(${JSON.stringify(selector)});
      if (!e) return false; e.value = ${JSON.stringify(value)};
      e.dispatchEvent(new Event("input", { bubbles: true })); e.dispatchEvent(new Event("change", { bubbles: true }));
      return true; })()`);
    if (!ok) throw new Error(`fill: nothing matches ${selector}`);
  }
}
