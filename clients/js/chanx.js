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
 *      request() sends the frame with a "ref" and resolves on the reply
 *      carrying that ref (Chanx 2.11.2), or with {untilComplete: true} on the
 *      consumer's {"action":"complete"} (CHANX_SEND_COMPLETION or send_completion).
 *      A topic frame's completion carries its topic and ref, as Chanx stamps it;
 *      frames sent without a topic are completed in order.
 *
 * Topics (Chanx 2.10's wire protocol, chanx/core/topic.py and
 * chanx/messages/topic.py): client.topic("room:lobby") is a handle on one
 * stream of the socket. Its frames carry {"version": 1, "topic", "ref"};
 * subscribe() is answered "subscribed" or an "error" whose payload has a
 * reason (unknown_topic, unauthorized, not_subscribed, too_many_subscriptions),
 * pushes carry the topic and no ref, replies the request's ref. Refs are
 * "1", "2", ... per client, so a reply finds its request whatever topic it is
 * on, and an error rejects only the request it answers: other handles go on.
 * After a reconnect every handle that was subscribed (and not unsubscribed)
 * subscribes again by itself, since a disconnect leaves every topic.
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
 *     const hub = new ChanxClient("ws://127.0.0.1:8000/ws/hub/", { token });
 *     await hub.connect();
 *     const lobby = hub.topic("room:lobby");
 *     lobby.on("said", (payload) => console.log(payload.user, payload.text));
 *     await lobby.subscribe();                      // rejects with error.reason "unauthorized", ...
 *     lobby.send("say", { text: "hi" });
 *     const reply = await lobby.request("echo", { text: "back to me" });   // {action: "echoed", ...}
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
 *   reason   close reason (string), possibly empty; for an error frame (a topic's, or a reply's),
 *            its payload's reason: "unknown_topic", "unauthorized", "not_subscribed",
 *            "too_many_subscriptions" (undefined for validation errors, whose payload is a list)
 *   detail   an error frame's payload.detail (string), else undefined
 *   payload  the server's payload when it answered with an error or a refusal
 *   replies  for request(): the messages received before the error (the error frame included)
 */
export class ChanxError extends Error {
  constructor(message, { code, reason, detail, payload, replies } = {}) {
    super(message);
    this.name = "ChanxError";
    this.code = code;
    this.reason = reason;
    this.detail = detail;
    this.payload = payload;
    this.replies = replies;
  }
}

/** Calls every handler; one that throws is reported (reportError in browsers, else console.error) and
 * the others still run, so a handler's bug on an odd frame cannot stop the client reading. */
function callEach(handlers, payload, message) {
  for (const h of handlers) {
    try {
      h(payload, message);
    } catch (e) {
      (globalThis.reportError || console.error)(e);
    }
  }
}

/** The ChanxError for an error frame {"action": "error", "topic"?, "ref"?, "payload": ...}. */
function frameError(message) {
  const p = message.payload;
  const reason = typeof p?.reason === "string" ? p.reason : undefined;
  const detail = typeof p?.detail === "string" ? p.detail : undefined;
  const where = typeof message.topic === "string" ? `topic ${message.topic}: ` : "";
  return new ChanxError(`${where}${reason || "the consumer answered with an error"}${detail ? ` (${detail})` : ""}`,
                        { reason, detail, payload: p, replies: [message] });
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
    this.pending = []; // one entry per frame sent without a topic, in order (completion FIFO: see receive())
    this.refs = new Map(); // ref → what waits for its answer: {resolve, reject, timer, expect?, join?, leave?}
    this.lastRef = 0; // refs are "1", "2", ... for the client's whole life, across reconnects
    this.topics = new Map(); // topic name → ChanxTopic
    this.ws = null;
    this.timer = null;
    this.lastAuthentication = null;
  }

  /**
   * Calls handler(payload, message) for every message with this action that is not on a topic
   * (also "authentication", "error", "complete"); "*" receives every message, topic frames
   * included. Topic frames go to their handle's on(). Returns a function that removes it.
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
    // A disconnect left every topic (the server's rule): the handles still wanted join again.
    for (const t of this.topics.values()) if (t.wanted) t.join();
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
    if (!message || typeof message !== "object" || Array.isArray(message)) return;
    // Topic frames and the gateway's own use "action" whatever the consumer's action_key.
    const action = message[this.options.actionKey] ?? message.action;
    const payload = message.payload;
    // An envelope field of the wrong type is not an envelope: such a frame is handled as a plain one.
    const topic = typeof message.topic === "string" ? message.topic : undefined;
    const ref = typeof message.ref === "string" ? message.ref : undefined;
    if (action === "authentication" && this.state === "connecting") {
      clearTimeout(authTimer);
      if (payload?.status_code === 200) this.authenticated(payload);
      else this.refusal = payload; // the close (4000 + status) follows
    }
    if (ref !== undefined && this.refs.has(ref)) this.answer(ref, action, message);
    // A topic frame sent on a handle is completed on its topic with its ref (Chanx's Topic.handle_json
    // sends "complete" through the topic), or not at all (subscribe, unsubscribe, topic errors): the
    // ref above settles it. Frames sent without a topic are completed in order: plain frames with a
    // plain "complete", frames on a topic's own route with one carrying that topic (no handle has
    // it), or, there, refused not_subscribed without a completion. Those feed the FIFO.
    const inOrder = topic === undefined || !this.topics.has(topic);
    const refused = action === "error" && payload?.reason === "not_subscribed";
    if (inOrder && (action === "complete" || refused)) this.complete(ref, refused ? message : null);
    else if (inOrder && ref === undefined && this.pending.length && this.pending[0].request &&
             action !== "group_complete" && action !== "authentication") this.pending[0].replies.push(message);
    if (topic !== undefined) this.topics.get(topic)?.dispatch(action, payload, message);
    else callEach(this.handlers.get(action) || [], payload, message);
    callEach(this.handlers.get("*") || [], payload, message);
  }

  /**
   * A frame carrying the ref of something that waits: an error rejects it (and only it); an entry
   * that expects an action ("subscribed", "unsubscribed") waits past others; a request resolves
   * with the first reply, or null when the consumer's completion comes first (it answered nothing).
   */
  answer(ref, action, message) {
    const entry = this.refs.get(ref);
    if (action !== "error" && entry.expect && action !== entry.expect) return;
    this.refs.delete(ref);
    clearTimeout(entry.timer);
    if (action === "error") entry.reject(frameError(message));
    else entry.resolve(action === "complete" && !entry.expect ? null : message);
  }

  /**
   * Completes the oldest frame sent without a topic, or the one with this ref when the completion
   * carries one (a server may stamp it). refusal: the not_subscribed error that ends it instead.
   */
  complete(ref, refusal) {
    const at = ref === undefined ? 0 : this.pending.findIndex((p) => p.ref === ref);
    if (at < 0 || !this.pending.length) return;
    const [head] = this.pending.splice(at, 1);
    if (!refusal && head.ref !== undefined && this.refs.has(head.ref)) this.answer(head.ref, "complete", { action: "complete" });
    if (!head.request) return;
    clearTimeout(head.timer);
    const error = refusal || head.replies.find((m) => m[this.options.actionKey] === "error");
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
    // A disconnect leaves every topic: an unsubscribe in flight is done, a subscribe is sent again
    // once authenticated again (its callers keep waiting), anything else rejects.
    const refs = [...this.refs.values()];
    this.refs.clear();
    for (const entry of refs) {
      clearTimeout(entry.timer);
      if (entry.leave) entry.resolve(null);
      else if (!entry.join) entry.reject(error);
    }
    for (const t of this.topics.values()) t.dropped();
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
    if (typeof message.topic === "string") return; // a topic frame: completed by its ref, if ever
    const queued = entry || { request: false };
    queued.ref = typeof message.ref === "string" ? message.ref : undefined;
    this.pending.push(queued);
  }

  /**
   * Sends {"version": 1, "ref": <new ref>, "action": action, "payload": payload} and resolves with
   * the first message carrying that ref (Chanx 2.11.2's ref on plain frames: the whole message,
   * e.g. {"version": 1, "ref": "9", "action": "pong", "payload": null}), or with null when the
   * consumer's completion comes first (it answered nothing of its own). Rejects with a ChanxError
   * when the reply is {"action": "error"} (payload: the validation errors or {reason, detail}),
   * when the connection closes first (the message is not re-sent) or after timeoutMs (default
   * options.requestTimeoutMs).
   *
   * With {untilComplete: true} it sends the plain frame (no ref) and resolves with every message
   * received until the server's {"action":"complete"} for it (an array, possibly empty; group
   * messages arriving meanwhile included), rejecting when one of them is an error. That form
   * needs completion messages on the server (CHANX_SEND_COMPLETION or send_completion).
   */
  request(action, payload, { timeoutMs = this.options.requestTimeoutMs, untilComplete = false } = {}) {
    if (!untilComplete) return this.requestRef(undefined, action, payload, timeoutMs);
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

  /**
   * Sends {"version": 1, "topic"?: topic, "ref": <new ref>, action, "payload"?} and returns the ref
   * (a string). entry, when given, waits for the answer (see answer()); entry.timeoutMs rejects it
   * after that long. Throws a ChanxError when not connected: nothing is queued. Topic frames use
   * the key "action" (Chanx's topic messages); plain frames the consumer's actionKey.
   */
  sendRef(topic, action, payload, entry) {
    if (!this.ready) throw new ChanxError(`not connected (state ${this.state}): nothing sent`);
    this.lastRef += 1;
    const ref = String(this.lastRef);
    const frame = { version: 1 };
    if (topic !== undefined) frame.topic = topic;
    frame.ref = ref;
    frame[topic === undefined ? this.options.actionKey : "action"] = action;
    if (payload !== undefined) frame.payload = payload;
    this.ws.send(JSON.stringify(frame));
    // A plain frame is completed in order by a plain {"action":"complete"} (see receive()); a request
    // whose completion comes before any reply resolves null. A topic frame's completion carries its ref.
    if (topic === undefined) this.pending.push({ request: false, ref });
    if (entry) {
      this.refs.set(ref, entry);
      if (entry.timeoutMs !== undefined)
        entry.timer = setTimeout(() => {
          if (this.refs.get(ref) !== entry) return;
          this.refs.delete(ref);
          entry.reject(new ChanxError(`no reply to "${action}"${topic ? ` on ${topic}` : ""} (ref ${ref}) within ${entry.timeoutMs} ms`));
        }, entry.timeoutMs);
    }
    return ref;
  }

  /** A request by ref (request() and ChanxTopic.request()): a promise of the reply message. */
  requestRef(topic, action, payload, timeoutMs) {
    return new Promise((resolve, reject) => {
      try {
        this.sendRef(topic, action, payload, { resolve, reject, timeoutMs });
      } catch (e) {
        reject(e);
      }
    });
  }

  /**
   * The handle of one topic ("room:lobby"), created on first use and the same object after:
   * see ChanxTopic. Throws a ChanxError unless name is a non-empty string.
   */
  topic(name) {
    if (typeof name !== "string" || !name) throw new ChanxError(`a topic name is a non-empty string, not ${JSON.stringify(name)}`);
    if (!this.topics.has(name)) this.topics.set(name, new ChanxTopic(this, name));
    return this.topics.get(name);
  }

  /** Closes with code (default 1000) and stops reconnecting. Requests in flight reject. */
  close(code = 1000, reason = "") {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close(code, reason);
    else if (this.state !== "closed") this.stop(code, reason);
  }
}

/**
 * One topic of a multiplexed socket (Chanx 2.10's Topic, seen from the client): get it with
 * client.topic(name). Frames it sends carry {"version": 1, "topic": name, "ref"}.
 *
 *   subscribe({timeoutMs})   resolves with the "subscribed" message once the server subscribed the
 *                            connection (waiting for connect() or a reconnect if need be); rejects
 *                            with a ChanxError whose reason is the error frame's ("unknown_topic",
 *                            "unauthorized", "too_many_subscriptions") and detail its detail, or
 *                            after timeoutMs (default options.requestTimeoutMs). From then on the
 *                            handle is resubscribed after every reconnect until unsubscribe();
 *                            a refused resubscription ends that (the error reaches on("error")).
 *   unsubscribe({timeoutMs}) resolves with the "unsubscribed" message (null when not connected:
 *                            a disconnect already left the topic); pending subscribe() calls reject.
 *   send(action, payload)    sends on the topic and returns its ref; an error answering it reaches
 *                            on("error"). Throws a ChanxError when not connected.
 *   request(action, payload, {timeoutMs})
 *                            resolves with the reply carrying the frame's ref (the whole message,
 *                            e.g. {"version": 1, "topic", "ref", "action": "echoed", "payload"}),
 *                            or null when only the consumer's completion answers; rejects like
 *                            client.request() (not_subscribed: error.reason "not_subscribed").
 *   on(action, fn)           fn(payload, message) for every frame on this topic with that action
 *                            (pushes, replies, "subscribed", "error"); "*" for all of them.
 *                            Returns a function that removes it.
 *   subscribed               whether the server has this connection subscribed now (boolean).
 *   epoch, seq               on a topic with a history (docs/consumers.md, "History and recovery"):
 *                            the topic's epoch and the seq of the last push this handle received
 *                            (null before the first "subscribed" that carried them). A resubscription
 *                            after a reconnect sends them as {"since": {"epoch", "seq"}}.
 *   recovered                after such a resubscription: true when the pushes missed meanwhile were
 *                            replayed (they arrive right after "subscribed", then the live ones),
 *                            false when history could not cover the gap: refetch what the page shows.
 *                            null before any resubscription with a since.
 */
export class ChanxTopic {
  constructor(client, name) {
    this.client = client;
    this.name = name;
    this.handlers = new Map(); // action → Set of handlers
    this.waiters = new Set(); // subscribe() calls not settled yet
    this.wanted = false; // subscribe() was called and unsubscribe() not since: join on every connection
    this.joining = false; // a subscribe frame is in flight on this connection
    this.subscribed = false;
    this.epoch = null; // a history topic's epoch and last seq seen: the since of the next subscribe
    this.seq = null;
    this.recovered = null;
  }

  on(action, handler) {
    if (!this.handlers.has(action)) this.handlers.set(action, new Set());
    this.handlers.get(action).add(handler);
    return () => this.handlers.get(action)?.delete(handler);
  }

  dispatch(action, payload, message) {
    if (this.epoch !== null && Number.isInteger(message?.seq)) this.seq = message.seq; // a push of a history topic
    callEach([...(this.handlers.get(action) || []), ...(this.handlers.get("*") || [])], payload, message);
  }

  subscribe({ timeoutMs = this.client.options.requestTimeoutMs } = {}) {
    this.wanted = true;
    if (this.subscribed) return Promise.resolve(this.lastSubscribed);
    return new Promise((resolve, reject) => {
      const waiter = { resolve, reject };
      waiter.timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new ChanxError(`no "subscribed" for ${this.name} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(waiter);
      if (this.client.ready && !this.joining) this.join();
    });
  }

  /** Sends subscribe on this connection (by subscribe(), or the client after a reconnect). */
  join() {
    this.joining = true;
    const since = this.epoch !== null && this.seq !== null ? { since: { epoch: this.epoch, seq: this.seq } } : undefined;
    this.client.sendRef(this.name, "subscribe", since, {
      expect: "subscribed", join: true,
      resolve: (message) => this.joined(message),
      reject: (error) => this.refused(error),
    });
  }

  joined(message) {
    this.joining = false;
    this.subscribed = this.wanted; // an unsubscribe() sent meanwhile follows on the wire
    this.lastSubscribed = message;
    const p = message?.payload;
    if (p && typeof p.epoch === "string" && Number.isInteger(p.seq)) {
      if (typeof p.recovered === "boolean") this.recovered = p.recovered;
      // recovered: the replayed pushes follow and advance seq; otherwise track from here
      if (p.recovered !== true || p.epoch !== this.epoch) this.seq = p.seq;
      this.epoch = p.epoch;
    }
    this.settle(null, message);
  }

  refused(error) {
    this.joining = false;
    this.wanted = false;
    this.settle(error);
  }

  /** The connection dropped: the server left the topic; a wanted handle joins again later. */
  dropped() {
    this.joining = false;
    this.subscribed = false;
  }

  settle(error, value) {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) {
      clearTimeout(w.timer);
      if (error) w.reject(error);
      else w.resolve(value);
    }
  }

  unsubscribe({ timeoutMs = this.client.options.requestTimeoutMs } = {}) {
    this.wanted = false;
    this.settle(new ChanxError(`unsubscribed from ${this.name} before it was subscribed`));
    if (!this.client.ready) {
      this.subscribed = false;
      return Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      this.client.sendRef(this.name, "unsubscribe", undefined, {
        expect: "unsubscribed", leave: true, timeoutMs, reject,
        resolve: (message) => { this.subscribed = false; resolve(message); },
      });
    });
  }

  send(action, payload) {
    return this.client.sendRef(this.name, action, payload);
  }

  request(action, payload, { timeoutMs = this.client.options.requestTimeoutMs } = {}) {
    return this.client.requestRef(this.name, action, payload, timeoutMs);
  }
}
