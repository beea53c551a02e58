"""WebSocket client of a Chanx in C consumer (asyncio, Debian's python3-websockets), the shape of
clients/js/chanx.js, so Django tests and scripts can talk to a consumer as a browser does.

It speaks Chanx's envelope: frames are ``{"action": ..., "payload": ...}``; the client connects
with a DRF token (``Authorization: Token <key>``) or any headers, waits for
``{"action": "authentication", "payload": {"status_code": 200, ...}}`` (a refusal closes with
4000 + status: 4401, 4403, 4404), then sends and receives. Topics follow Chanx 2.10's wire
protocol (``chanx/core/topic.py``, ``chanx/messages/topic.py``): ``client.topic("room:lobby")``
is a handle whose frames carry ``{"version": 1, "topic", "ref"}``; ``subscribe`` is answered
``subscribed`` or an ``error`` whose payload has a ``reason`` (``unknown_topic``, ``unauthorized``,
``not_subscribed``, ``too_many_subscriptions``) and a ``detail``; pushes carry the topic and no
ref, replies the request's ref (Chanx 2.11.2 puts refs on plain frames too: ``request``). Refs
are "1", "2", ... per client, so an error rejects only the request it answers. With completion
on, a topic frame's ``complete`` carries its topic and ref (as Chanx stamps it) and frames sent
without a topic are completed in order.

    from chanx_client.websocket import WebSocketClient

    async with WebSocketClient("ws://127.0.0.1:8000/ws/hub/", token=key) as hub:
        lobby = hub.topic("room:lobby")
        lobby.on("said", lambda payload, message: print(payload["user"], payload["text"]))
        await lobby.subscribe()                      # raises ChanxSocketError(reason="unauthorized"), ...
        await lobby.send("say", {"text": "hi"})
        reply = await lobby.request("echo", {"text": "me"})   # {"action": "echoed", "ref": ..., ...}
        pong = await hub.request("ping")
        said = await lobby.next("said", timeout=5)  # the next such frame (tests)

Reconnection: once connected, a dropped connection reconnects by itself with jittered
exponential backoff (half to all of ``min(max_delay, min_delay * factor**attempt)`` seconds) and
authenticates again; every handle subscribed and not unsubscribed subscribes again (a disconnect
leaves every topic). It stops on 4401, 4403 and 4404 and after ``close()``. Nothing is re-sent:
requests in flight when the connection drops raise. A failed ``connect()`` retries nothing.

Threading: one event loop; handlers run on it (a handler may be a coroutine function: it runs as
a task). A handler's exception is logged, and the client goes on.
"""

import asyncio
import inspect
import json
import logging
import random

import websockets

NO_RETRY_CODES = (4401, 4403, 4404)
log = logging.getLogger("chanx_client.websocket")


class ChanxSocketError(Exception):
    """A failure of the WebSocket client. ``code``: the close code when the connection closed (else
    None); ``reason``: the close reason, or an error frame's ``payload["reason"]`` ("unknown_topic",
    "unauthorized", "not_subscribed", "too_many_subscriptions"; None for validation errors, whose
    payload is pydantic's list); ``detail``: the error frame's ``payload["detail"]``; ``payload``: the
    error frame's or the refusal's payload; ``message``: the error frame itself."""

    def __init__(self, text, code=None, reason=None, detail=None, payload=None, message=None):
        super().__init__(text)
        self.code = code
        self.reason = reason
        self.detail = detail
        self.payload = payload
        self.message = message


def backoff_delay(attempt, min_delay=0.5, max_delay=30.0, factor=2.0, rand=random.random):
    """Seconds before reconnect attempt ``attempt`` (0-based): a random point of the upper half of
    ``min(max_delay, min_delay * factor**attempt)`` ("equal jitter", as clients/js/chanx.js)."""
    cap = min(max_delay, min_delay * factor**attempt)
    return cap / 2 + rand() * cap / 2


def _frame_error(message):
    payload = message.get("payload")
    reason = payload.get("reason") if isinstance(payload, dict) and isinstance(payload.get("reason"), str) else None
    detail = payload.get("detail") if isinstance(payload, dict) and isinstance(payload.get("detail"), str) else None
    where = f"topic {message['topic']}: " if isinstance(message.get("topic"), str) else ""
    text = f"{where}{reason or 'the consumer answered with an error'}{f' ({detail})' if detail else ''}"
    return ChanxSocketError(text, reason=reason, detail=detail, payload=payload, message=message)


class _Handlers:
    """Handlers per action ("*": every frame), each ``handler(payload, message)``."""

    def __init__(self):
        self._by_action = {}

    def on(self, action, handler):
        handlers = self._by_action.setdefault(action, [])
        handlers.append(handler)

        def remove():
            if handler in handlers:
                handlers.remove(handler)

        return remove

    def next(self, action, timeout):
        """The next frame with this action ("*": any), within timeout seconds (None: no limit)."""
        future = asyncio.get_running_loop().create_future()
        remove = self.on(action, lambda payload, message: future.done() or future.set_result(message))

        async def wait():
            try:
                return await asyncio.wait_for(future, timeout)
            finally:
                remove()

        return wait()

    def dispatch(self, action, payload, message, star_only=False):
        chosen = [] if star_only else list(self._by_action.get(action, []))
        for handler in chosen + list(self._by_action.get("*", [])):
            try:
                result = handler(payload, message)
                if inspect.isawaitable(result):
                    asyncio.ensure_future(result)
            except Exception:  # a handler's bug must not stop the reader
                log.exception("handler for %r failed", action)


class TopicHandle:
    """One topic of a multiplexed socket: get it with ``client.topic(name)`` (one handle per name).

    - ``await subscribe(timeout=None)``: the ``subscribed`` message; waits for the connection if
      need be; raises ChanxSocketError (``reason`` unknown_topic, unauthorized,
      too_many_subscriptions; ``detail``) or asyncio.TimeoutError (default: the client's
      request_timeout). Resubscribed after every reconnect until ``unsubscribe()``.
    - ``await unsubscribe(timeout=None)``: the ``unsubscribed`` message (None when not connected: a
      disconnect already left the topic).
    - ``await send(action, payload=None)``: sends on the topic, returns the frame's ref.
    - ``await request(action, payload=None, timeout=None)``: the reply carrying the frame's ref
      (the whole message), None when only the consumer's completion answers; raises like
      ``client.request``.
    - ``on(action, handler)``: ``handler(payload, message)`` for frames on this topic ("*": all);
      returns a function that removes it. ``await next(action="*", timeout=None)``: the next one.
    - ``subscribed``: whether the server has the connection subscribed now.
    - ``epoch``, ``seq``: on a topic with a history (docs/consumers.md, "History and recovery"), its
      epoch and the seq of the last push this handle got (None before a ``subscribed`` carried them);
      a resubscription after a reconnect sends them as ``{"since": {"epoch", "seq"}}``.
    - ``recovered``: after such a resubscription, True when the pushes missed meanwhile were replayed
      (right after ``subscribed``, before the live ones), False when history could not cover the gap
      (refetch); None before.
    """

    def __init__(self, client, name):
        self.client = client
        self.name = name
        self.wanted = False
        self.subscribed = False
        self._handlers = _Handlers()
        self._joined = None  # a future settled by the next subscribed/error on this connection
        self._last = None  # the last "subscribed" message
        self.epoch = None  # a history topic's epoch and the last seq seen: the next subscribe's since
        self.seq = None
        self.recovered = None

    def on(self, action, handler):
        return self._handlers.on(action, handler)

    def next(self, action="*", timeout=None):
        return self._handlers.next(action, timeout)

    async def subscribe(self, timeout=None):
        self.wanted = True
        if self.subscribed:
            return self._last
        if self._joined is None or self._joined.done():
            self._joined = asyncio.get_running_loop().create_future()
            if self.client.ready:
                await self._join()
        timeout = self.client.request_timeout if timeout is None else timeout
        return await asyncio.wait_for(asyncio.shield(self._joined), timeout)

    async def _join(self):
        """Sends subscribe on this connection (subscribe(), or the client once authenticated again)."""
        if self._joined is None or self._joined.done():
            self._joined = asyncio.get_running_loop().create_future()
        future = self._joined

        def settle(message, error):
            self.subscribed = error is None and self.wanted  # an unsubscribe sent meanwhile follows
            self._last = message
            self._track_subscribed(message)
            if error is not None:
                self.wanted = False
            if not future.done():
                _settle(future, message, error)

        since = {"since": {"epoch": self.epoch, "seq": self.seq}} if self.epoch is not None and self.seq is not None else None
        await self.client._send_ref(self.name, "subscribe", since, _Wait(settle, expect="subscribed", join=True))

    def _track_subscribed(self, message):
        payload = (message or {}).get("payload")
        if not isinstance(payload, dict) or not isinstance(payload.get("epoch"), str) or not isinstance(payload.get("seq"), int):
            return
        if isinstance(payload.get("recovered"), bool):
            self.recovered = payload["recovered"]
        if payload.get("recovered") is not True or payload["epoch"] != self.epoch:
            self.seq = payload["seq"]  # recovered: the replayed pushes follow and advance seq
        self.epoch = payload["epoch"]

    def _track_push(self, message):
        if self.epoch is not None and isinstance(message.get("seq"), int) and not isinstance(message.get("seq"), bool):
            self.seq = message["seq"]

    def _dropped(self):
        self.subscribed = False

    async def unsubscribe(self, timeout=None):
        self.wanted = False
        if self._joined is not None and not self._joined.done():
            _settle(self._joined, None, ChanxSocketError(f"unsubscribed from {self.name} before it was subscribed"))
        if not self.client.ready:
            self.subscribed = False
            return None
        message = await self.client._request_ref(self.name, "unsubscribe", None, timeout, expect="unsubscribed", leave=True)
        self.subscribed = False
        return message

    async def send(self, action, payload=None):
        return await self.client._send_ref(self.name, action, payload, None)

    async def request(self, action, payload=None, timeout=None):
        return await self.client._request_ref(self.name, action, payload, timeout)


def _settle(future, value, error):
    if error is None:
        future.set_result(value)
    else:
        future.set_exception(error)
        future.exception()  # retrieved: asyncio need not warn when nobody waits (a refused resubscription)


class _Wait:
    """What waits for a ref's answer: settle(message, error); expect: the one action it wants."""

    def __init__(self, settle, expect=None, join=False, leave=False):
        self.settle, self.expect, self.join, self.leave = settle, expect, join, leave


class WebSocketClient:
    """A client of one consumer route.

    ``url``: ``ws://host:port/ws/hub/``; ``token``: a DRF token, sent as ``Authorization: Token``;
    ``headers``: more headers (a dict: a session cookie, an Origin); ``reconnect``: reconnect when
    a connection drops; ``min_delay``, ``max_delay`` (seconds), ``factor``, ``max_retries`` (None:
    no limit): the backoff; ``auth_timeout``, ``request_timeout``: seconds; ``wait_for_authentication``
    False for consumers that send no authentication message; ``action_key``: the consumer's.

    - ``await connect()``: the authentication payload; raises ChanxSocketError (``code`` 4401/4403/
      4404 and the refusal's ``payload``, or 1006 and the HTTP refusal) when refused or closed.
    - ``on(action, handler)`` for frames not on a topic ("*": every frame, topic frames included);
      ``add_listener(event, fn)``: "authenticated", "closed" ({code, reason, will_reconnect}),
      "reconnecting" ({attempt, delay}), "stopped". ``await next(action="*", timeout=None)``.
    - ``await send(action, payload=None)``, ``await send_json(message)``: raise ChanxSocketError when
      not connected (nothing is queued).
    - ``await request(action, payload=None, timeout=None)``: sends with a new ref and returns the
      first message carrying it (None when only the completion answers); raises ChanxSocketError on
      an error reply (``payload``), on a close (``code``), asyncio.TimeoutError after ``timeout``.
    - ``topic(name)``: the TopicHandle; ``await close(code=1000)``; ``async with`` connects/closes.
    """

    def __init__(self, url, token=None, *, headers=None, reconnect=True, min_delay=0.5, max_delay=30.0,
                 factor=2.0, max_retries=None, auth_timeout=10.0, request_timeout=10.0,
                 wait_for_authentication=True, action_key="action"):
        self.url = url
        self.headers = dict(headers or {})
        if token:
            self.headers["Authorization"] = f"Token {token}"
        self.reconnect, self.max_retries = reconnect, max_retries
        self.min_delay, self.max_delay, self.factor = min_delay, max_delay, factor
        self.auth_timeout, self.request_timeout = auth_timeout, request_timeout
        self.wait_for_authentication, self.action_key = wait_for_authentication, action_key
        self.state = "idle"  # idle | connecting | authenticated | reconnecting | closed
        self.topics = {}
        self._handlers = _Handlers()
        self._listeners = {}
        self._refs = {}
        self._completions = []  # one entry per frame sent without a topic (its ref or None), completed in order
        self._last_ref = 0
        self._attempt = 0
        self._ws = None
        self._runner = None
        self._stopped = False
        self._refusal = None

    async def __aenter__(self):
        await self.connect()
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def on(self, action, handler):
        return self._handlers.on(action, handler)

    def next(self, action="*", timeout=None):
        return self._handlers.next(action, timeout)

    def add_listener(self, event, listener):
        self._listeners.setdefault(event, []).append(listener)
        return lambda: self._listeners[event].remove(listener)

    def _emit(self, event, detail=None):
        for listener in list(self._listeners.get(event, [])):
            listener(detail)

    @property
    def ready(self):
        return self.state == "authenticated" and self._ws is not None and self._ws.open

    def topic(self, name):
        if not isinstance(name, str) or not name:
            raise ChanxSocketError(f"a topic name is a non-empty string, not {name!r}")
        return self.topics.setdefault(name, TopicHandle(self, name))

    async def connect(self):
        self._stopped = False
        ready = asyncio.get_running_loop().create_future()
        ended = await self._open(ready)
        if ended is not None:
            code, reason, failure = ended
            self.state = "closed"
            raise ChanxSocketError(f"connection closed ({code} {reason}){': ' + failure if failure else ''}",
                                   code=code, reason=reason, payload=self._refusal)
        self._runner = asyncio.ensure_future(self._run())
        return ready.result()

    async def _open(self, ready):
        """Opens and reads until authenticated (ready gets the payload): (code, reason, failure) when
        the connection ended before that."""
        self.state = "connecting"
        self._refusal = None
        try:
            self._ws = await websockets.connect(self.url, extra_headers=self.headers, open_timeout=self.auth_timeout,
                                                max_size=None)
        except Exception as e:  # refused upgrade (InvalidStatusCode: 404, 503), unreachable, timeout
            return 1006, "", str(e)
        if not self.wait_for_authentication:
            self._authenticated(None, ready)
            return None
        try:
            while not ready.done():
                self._receive(await asyncio.wait_for(self._ws.recv(), self.auth_timeout), ready)
        except asyncio.TimeoutError:
            await self._ws.close()
            return 1006, "", f"no authentication message within {self.auth_timeout} s"
        except websockets.ConnectionClosed:
            return self._ws.close_code or 1006, self._ws.close_reason or "", ""
        return None

    def _authenticated(self, payload, ready):
        self.state = "authenticated"
        self._attempt = 0
        for handle in self.topics.values():
            if handle.wanted:
                asyncio.ensure_future(self._rejoin(handle))
        self._emit("authenticated", payload)
        if not ready.done():
            ready.set_result(payload)

    async def _rejoin(self, handle):
        try:
            await handle._join()
        except (ChanxSocketError, websockets.ConnectionClosed):
            pass  # closed again at once: the next connection joins it

    async def _run(self):
        """Reads the connection; on a drop, reconnects with backoff while the rules allow."""
        while True:
            try:
                async for text in self._ws:
                    self._receive(text, None)
            except websockets.ConnectionClosed:
                pass
            code, reason = self._ws.close_code or 1006, self._ws.close_reason or ""
            while True:
                retry = (self.reconnect and not self._stopped and code not in NO_RETRY_CODES
                         and (self.max_retries is None or self._attempt < self.max_retries))
                self._closed(code, reason, retry)
                if not retry:
                    self.state = "closed"
                    self._emit("stopped", {"code": code, "reason": reason})
                    return
                delay = backoff_delay(self._attempt, self.min_delay, self.max_delay, self.factor)
                self._attempt += 1
                self.state = "reconnecting"
                self._emit("reconnecting", {"attempt": self._attempt, "delay": delay})
                await asyncio.sleep(delay)  # close() cancels this task while it waits
                ready = asyncio.get_running_loop().create_future()
                ended = await self._open(ready)
                if ended is None:
                    break
                code, reason, _ = ended

    def _closed(self, code, reason, will_reconnect):
        error = ChanxSocketError(f"connection closed ({code}{' ' + reason if reason else ''})", code=code, reason=reason)
        waits, self._refs, self._completions = list(self._refs.values()), {}, []
        for wait in waits:  # a disconnect left every topic; subscribes are sent again once back
            if wait.leave:
                wait.settle(None, None)
            elif not wait.join:
                wait.settle(None, error)
        for handle in self.topics.values():
            handle._dropped()
        self._emit("closed", {"code": code, "reason": reason, "will_reconnect": will_reconnect})

    def _receive(self, text, ready):
        try:
            message = json.loads(text)
        except ValueError:
            return  # the server only sends JSON objects; anything else is not ours to interpret
        if not isinstance(message, dict):
            return
        action = message.get(self.action_key, message.get("action"))
        payload = message.get("payload")
        topic = message.get("topic") if isinstance(message.get("topic"), str) else None
        ref = message.get("ref") if isinstance(message.get("ref"), str) else None
        if action == "authentication" and ready is not None and not ready.done():
            if isinstance(payload, dict) and payload.get("status_code") == 200:
                self._authenticated(payload, ready)
            else:
                self._refusal = payload  # the close (4000 + status) follows
        if ref is not None and ref in self._refs:
            self._answer(ref, action, message)
        # A topic frame sent on a handle is completed on its topic with its ref (Chanx's
        # Topic.handle_json), or not at all (subscribe, unsubscribe, topic errors): the ref above
        # settles it. Frames sent without a topic are completed in order: plain ones by a plain
        # "complete", those on a topic's own route by one carrying that topic (no handle has it), or
        # there refused not_subscribed with no completion.
        in_order = topic is None or topic not in self.topics
        refused = action == "error" and isinstance(payload, dict) and payload.get("reason") == "not_subscribed"
        if in_order and (action == "complete" or refused):
            self._complete(ref, None if refused else message)
        if topic is not None and topic in self.topics:
            self.topics[topic]._track_push(message)
            self.topics[topic]._handlers.dispatch(action, payload, message)
        # the client's own handlers: frames without a topic; its "*" handlers: every frame
        self._handlers.dispatch(action, payload, message, star_only=topic is not None)

    def _complete(self, ref, completion):
        """Ends the oldest frame sent without a topic, or the one with this ref when the completion
        carries one; a request still waiting then gets None (completion) unless refused."""
        if ref is None:
            at = 0 if self._completions else None
        else:
            at = self._completions.index(ref) if ref in self._completions else None
        if at is None:
            return
        completed = self._completions.pop(at)
        if completed is not None and completion is not None:
            self._answer(completed, "complete", completion)

    def _answer(self, ref, action, message):
        wait = self._refs.get(ref)
        if wait is None or (action != "error" and wait.expect and action != wait.expect):
            return
        del self._refs[ref]
        if action == "error":
            wait.settle(None, _frame_error(message))
        else:
            wait.settle(None if action == "complete" and not wait.expect else message, None)

    async def _send_ref(self, topic, action, payload, wait):
        if not self.ready:
            raise ChanxSocketError(f"not connected (state {self.state}): nothing sent")
        self._last_ref += 1
        ref = str(self._last_ref)
        frame = {"version": 1}
        if topic is not None:
            frame["topic"] = topic
        frame["ref"] = ref
        frame["action" if topic is not None else self.action_key] = action
        if payload is not None:
            frame["payload"] = payload
        if wait is not None:
            self._refs[ref] = wait
        if topic is None:  # a topic frame's completion carries its ref
            self._completions.append(ref)
        await self._write(frame)
        return ref

    async def _write(self, message):
        try:
            await self._ws.send(json.dumps(message))
        except websockets.ConnectionClosed as e:
            raise ChanxSocketError(f"connection closed ({e.code}): nothing sent", code=e.code, reason=e.reason) from e

    async def _request_ref(self, topic, action, payload, timeout, expect=None, leave=False):
        future = asyncio.get_running_loop().create_future()

        def settle(message, error):
            if not future.done():
                _settle(future, message, error)

        ref = await self._send_ref(topic, action, payload, _Wait(settle, expect=expect, leave=leave))
        try:
            return await asyncio.wait_for(future, self.request_timeout if timeout is None else timeout)
        finally:
            self._refs.pop(ref, None)

    async def send(self, action, payload=None):
        message = {self.action_key: action}
        if payload is not None:
            message["payload"] = payload
        await self.send_json(message)

    async def send_json(self, message):
        if not self.ready:
            raise ChanxSocketError(f"not connected (state {self.state}): nothing sent")
        if not isinstance(message.get("topic"), str):
            self._completions.append(message.get("ref") if isinstance(message.get("ref"), str) else None)
        await self._write(message)

    async def request(self, action, payload=None, timeout=None):
        return await self._request_ref(None, action, payload, timeout)

    async def close(self, code=1000, reason=""):
        self._stopped = True
        if self._runner is not None and self.state == "reconnecting":
            self._runner.cancel()
        if self._ws is not None:
            await self._ws.close(code, reason)
        if self._runner is not None:
            await asyncio.wait([self._runner])  # a caller's cancellation stays the caller's
            if self._runner.cancelled():
                self._emit("stopped", {"code": code, "reason": reason})
        self.state = "closed"
