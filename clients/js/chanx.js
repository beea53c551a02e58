/**
 * chanx.js — a JavaScript client for Chanx in C consumers (an ES module, no dependencies).
 *
 * Speaks Chanx's envelope over one WebSocket: the client sends
 * {"action": <string>, "payload": <JSON>} and gets the same shape back
 * (group messages add "is_mine" and "is_current"). It follows the server's
 * protocol as the gateway and workers implement it (see the deployment's
 * /asyncapi.json and the project README):
 *
 *   1. connect with a DRF token (?token=<key>) or, in a browser, the Django
 *      session cookie the browser sends by itself;
 *   2. wait for {"action":"authentication","payload":{"status_code":200,...}}:
 *      the ready point, the consumer's groups are joined by then, so whatever
 *      is published to them afterwards reaches this client; a refusal closes
 *      with 4000 + status (4401, 4403, 4404);
 *   3. send(action, payload); handlers per action receive what arrives;
 *      request() resolves when the consumer answers {"action":"complete"}
 *      (the deployment's CHANX_SEND_COMPLETION or the consumer's send_completion).
 *
 * Reconnection: when the connection drops the client reconnects by itself,
 * with jittered exponential backoff, and authenticates again. It stops for
 * good on 4401, 4403 and 4404 (NO_RETRY_CODES: a retry cannot fix a refusal)
 * and after close(). It never re-sends anything silently: send() on a closed
 * connection throws, and requests in flight when the connection drops reject
 * (the server may or may not have handled them; only the caller can decide).
 *
 *     import { ChanxClient } from "./chanx.js";
 *     const chat = new ChanxClient("ws://127.0.0.1:8000/ws/chat/lobby/", { token });
 *     chat.on("chat", (payload, message) => console.log(payload.message, message.is_mine));
 *     await chat.connect();
 *     chat.send("chat", { message: "hi" });
 *
 * In node before 22, pass a WebSocket implementation: new ChanxClient(url, { WebSocket }), WebSocket
 * being npm's ws (import WebSocket from "ws") or Debian's node-ws, which an ES module loads with
 * createRequire(import.meta.url)("ws") under NODE_PATH=/usr/share/nodejs.
 * Threading: none; everything runs on the caller's event loop.
 */

/** Close codes after which the client does not reconnect (refused: 401, 403, 404 as 4000 + status). */
export const NO_RETRY_CODES = Object.freeze([4401, 4403, 4404]);

/**
 * An error of the client. Fields:
 *   code     WebSocket close code (number) when the connection closed, else undefined
 *   reason   close reason (string), possibly empty
 *   payload  the server's payload when it answered with an error or a refusal
 *   replies  for request(): the messages received before the error
 */
export class ChanxError extends Error {
  constructor(message, { code, reason, payload, replies } = {}) {
    super(message);
    this.name = "ChanxError";
    this.code = code;
    this.reason = reason;
    this.payload = payload;
    this.replies = replies;
  }
}

const DEFAULTS = {
  token: undefined,
  actionKey: "action",
  reconnect: true,
  minDelayMs: 500,
  maxDelayMs: 30000,
  factor: 2,
  maxRetries: Infinity,
  authTimeoutMs: 10000,
  requestTimeoutMs: 10000,
  waitForAuthentication: true,
  protocols: undefined,
  socketOptions: undefined,
  WebSocket: undefined,
  random: Math.random,
};

/**
 * The delay before reconnect attempt `attempt` (0-based), in milliseconds: the exponential cap
 * min(maxDelayMs, minDelayMs * factor^attempt), of which a random half is waited ("equal jitter":
 * never less than half the cap, so the delay still grows, and clients that lost the same server
 * do not come back in step). random() gives [0, 1).
 */
export function backoffDelay(attempt, { minDelayMs = 500, maxDelayMs = 30000, factor = 2, random = Math.random } = {}) {
  const cap = Math.min(maxDelayMs, minDelayMs * Math.pow(factor, attempt));
  return Math.round(cap / 2 + random() * (cap / 2));
}

/** Adds ?token=<key> (percent-encoded) to a ws:// URL, keeping its other query parameters. */
export function withToken(url, token) {
  if (!token) return url;
  const u = new URL(url);
  u.searchParams.set("token", token);
  return u.toString();
}

export class ChanxClient {
  /**
   * @param {string} url  the route's ws:// or wss:// URL, e.g. "ws://127.0.0.1:8000/ws/chat/lobby/"
   * @param {object} [options]
   * @param {string} [options.token]  DRF token, sent as ?token=; omit to rely on the session cookie
   * @param {string} [options.actionKey="action"]  the consumer's action_key
   * @param {boolean} [options.reconnect=true]  reconnect when the connection drops
   * @param {number} [options.minDelayMs=500]  first backoff cap, milliseconds
   * @param {number} [options.maxDelayMs=30000]  largest backoff cap, milliseconds
   * @param {number} [options.factor=2]  backoff growth per attempt
   * @param {number} [options.maxRetries=Infinity]  attempts in a row before giving up
   * @param {number} [options.authTimeoutMs=10000]  how long connect() waits for the authentication message
   * @param {number} [options.requestTimeoutMs=10000]  default request() timeout, milliseconds
   * @param {boolean} [options.waitForAuthentication=true]  false for consumers that send no
   *        authentication message (send_authentication_message off): open means ready
   * @param {string|string[]} [options.protocols]  WebSocket subprotocols
   * @param {object} [options.socketOptions]  third constructor argument (node's ws: {headers})
   * @param {Function} [options.WebSocket]  the WebSocket class; default globalThis.WebSocket
   */
  constructor(url, options = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.url = withToken(url, this.options.token);
    this.WebSocket = this.options.WebSocket || globalThis.WebSocket;
    if (!this.WebSocket) throw new ChanxError("no WebSocket implementation: pass options.WebSocket");
    this.state = "idle"; // idle | connecting | authenticated | reconnecting | closed
    this.attempt = 0;
    this.handlers = new Map(); // action → Set of handlers
    this.listeners = new Map(); // event → Set of listeners
    this.pending = []; // one entry per message sent on this connection, in order (completion FIFO)
    this.ws = null;
    this.timer = null;
    this.lastAuthentication = null;
  }

  /**
   * Calls handler(payload, message) for every message with this action (also "authentication",
   * "error", "complete"); "*" receives every message. Returns a function that removes it.
   */
  on(action, handler) {
    if (!this.handlers.has(action)) this.handlers.set(action, new Set());
    this.handlers.get(action).add(handler);
    return () => this.handlers.get(action)?.delete(handler);
  }

  /**
   * Lifecycle events: "connecting" (attempt), "authenticated" (authentication payload),
   * "closed" ({code, reason, willReconnect}), "reconnecting" ({attempt, delayMs}),
   * "stopped" ({code, reason}: no more attempts). Returns a function that removes the listener.
   */
  addListener(event, listener) {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event).add(listener);
    return () => this.listeners.get(event)?.delete(listener);
  }

  emit(event, detail) {
    for (const l of this.listeners.get(event) || []) l(detail);
  }

  /**
   * Opens the connection. Resolves with the authentication payload ({status_code: 200, ...})
   * once the server accepted the client and its groups are joined (a publish after this reaches
   * it), or with null when waitForAuthentication is false.
   * Rejects with a ChanxError (code 4401/4403/4404 and the refusal's payload) when refused, or
   * when the connection closes or authTimeoutMs passes first; reconnection then still follows
   * the rules above (a refusal stops it).
   */
  connect() {
    if (this.state === "closed") this.state = "idle";
    this.stopped = false;
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.open();
    });
  }

  open() {
    clearTimeout(this.timer);
    this.state = "connecting";
    this.emit("connecting", this.attempt);
    let ws;
    try {
      ws = new this.WebSocket(this.url, this.options.protocols, this.options.socketOptions);
    } catch (e) {
      this.settle(new ChanxError(`cannot open ${this.url}: ${e.message}`));
      this.stop(undefined, "");
      return;
    }
    this.ws = ws;
    const authTimer = setTimeout(() => {
      if (this.ws === ws && this.state === "connecting") {
        this.settle(new ChanxError(`no authentication message within ${this.options.authTimeoutMs} ms`));
        ws.close(1000);
      }
    }, this.options.authTimeoutMs);
    ws.onopen = () => {
      if (!this.options.waitForAuthentication) {
        clearTimeout(authTimer);
        this.authenticated(null);
      }
    };
    ws.onmessage = (event) => this.receive(event.data, authTimer);
    let failure = "";
    ws.onclose = (event) => {
      clearTimeout(authTimer);
      if (this.ws === ws) this.closed(event.code, event.reason || "", failure);
    };
    // A close event always follows, with the code. Browsers say nothing more; node's ws says why a
    // handshake failed ("Unexpected server response: 404": no route; 503: no worker yet), which
    // 1006 alone hides, so the error of connect() carries it.
    ws.onerror = (event) => { failure = event?.message || event?.error?.message || ""; };
  }

  authenticated(payload) {
    this.state = "authenticated";
    this.attempt = 0;
    this.lastAuthentication = payload;
    this.emit("authenticated", payload);
    this.settle(null, payload);
  }

  settle(error, value) {
    const w = this.waiter;
    this.waiter = null;
    if (!w) return;
    if (error) w.reject(error);
    else w.resolve(value);
  }

  receive(data, authTimer) {
    let message;
    try {
      message = JSON.parse(typeof data === "string" ? data : new TextDecoder().decode(data));
    } catch {
      return; // the server only sends JSON objects; anything else is not ours to interpret
    }
    const action = message?.[this.options.actionKey];
    const payload = message?.payload;
    if (action === "authentication" && this.state === "connecting") {
      clearTimeout(authTimer);
      if (payload?.status_code === 200) this.authenticated(payload);
      else this.refusal = payload; // the close (4000 + status) follows
    }
    if (action === "complete") this.complete();
    else if (this.pending.length && this.pending[0].request && action !== "group_complete" &&
             action !== "authentication") this.pending[0].replies.push(message);
    for (const h of this.handlers.get(action) || []) h(payload, message);
    for (const h of this.handlers.get("*") || []) h(payload, message);
  }

  complete() {
    const head = this.pending.shift();
    if (!head || !head.request) return;
    clearTimeout(head.timer);
    const error = head.replies.find((m) => m[this.options.actionKey] === "error");
    if (error) head.reject(new ChanxError("the consumer answered with an error", { payload: error.payload, replies: head.replies }));
    else head.resolve(head.replies);
  }

  closed(code, reason, failure = "") {
    const wasConnecting = this.state === "connecting";
    this.ws = null;
    const error = new ChanxError(`connection closed (${code}${reason ? " " + reason : ""})${failure ? ": " + failure : ""}`,
                                 { code, reason, payload: this.refusal });
    this.refusal = undefined;
    // Requests in flight fail: whether the server handled them is unknown, and resending is the caller's call.
    for (const p of this.pending.splice(0)) if (p.request) { clearTimeout(p.timer); p.reject(error); }
    if (wasConnecting) this.settle(error);
    const retry = this.options.reconnect && !this.stopped && !NO_RETRY_CODES.includes(code) &&
                  this.attempt < this.options.maxRetries;
    this.emit("closed", { code, reason, willReconnect: retry });
    if (!retry) return this.stop(code, reason);
    const delayMs = backoffDelay(this.attempt, this.options);
    this.attempt += 1;
    this.state = "reconnecting";
    this.emit("reconnecting", { attempt: this.attempt, delayMs });
    this.timer = setTimeout(() => this.open(), delayMs);
  }

  stop(code, reason) {
    clearTimeout(this.timer);
    this.state = "closed";
    this.emit("stopped", { code, reason });
  }

  /** Whether send() can send now (authenticated and open). */
  get ready() {
    return this.state === "authenticated" && this.ws && this.ws.readyState === 1;
  }

  /**
   * Sends {"action": action, "payload": payload} (payload omitted when undefined; null is sent as
   * null). Throws a ChanxError when not connected: nothing is queued for later.
   */
  send(action, payload) {
    const message = { [this.options.actionKey]: action };
    if (payload !== undefined) message.payload = payload;
    this.sendJson(message);
  }

  /** Sends any JSON object as is. Throws a ChanxError when not connected. */
  sendJson(message) {
    this.push(message, null);
  }

  push(message, entry) {
    if (!this.ready) throw new ChanxError(`not connected (state ${this.state}): nothing sent`);
    this.ws.send(JSON.stringify(message));
    this.pending.push(entry || { request: false });
  }

  /**
   * Sends a message and resolves with the messages received until the server's
   * {"action":"complete"} for it (an array, possibly empty; group messages that arrive meanwhile
   * are included). Rejects with a ChanxError carrying the error payload when one of them is
   * {"action":"error"}, when the connection closes first (the message is not re-sent) or after
   * timeoutMs (default options.requestTimeoutMs). Needs completion messages on the server.
   */
  request(action, payload, { timeoutMs = this.options.requestTimeoutMs } = {}) {
    return new Promise((resolve, reject) => {
      const entry = { request: true, replies: [], resolve, reject, timer: null };
      const message = { [this.options.actionKey]: action };
      if (payload !== undefined) message.payload = payload;
      try {
        this.push(message, entry);
      } catch (e) {
        reject(e);
        return;
      }
      entry.timer = setTimeout(() => {
        entry.request = false; // its completion, if it ever comes, is still consumed in order
        reject(new ChanxError(`no "complete" for "${action}" within ${timeoutMs} ms`, { replies: entry.replies }));
      }, timeoutMs);
    });
  }

  /** Closes with code (default 1000) and stops reconnecting. Requests in flight reject. */
  close(code = 1000, reason = "") {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(code, reason);
    else if (this.state !== "closed") this.stop(code, reason);
  }
}
