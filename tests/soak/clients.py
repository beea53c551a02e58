"""The soak's chat clients and the ledger that checks what they receive.

Every client is a python3-websockets connection to the chat example
(ws/chat/<room>/, group chat_room_<room>, a "chat" goes to the whole room, the
sender included). A client has a home gateway (its index modulo the number of
gateways) and lives in cycles: connect to a random room, chat there for a
random while (one message every SEND_INTERVAL s, jittered), leave (close 1000),
pause, and connect again to another room. A connection closed by the server is
reopened after a short backoff; a refused connection (gateway down: refused,
broker down: 503, PostgreSQL down: 4500) is retried the same way.

Every message is numbered per sending connection ("<conn>:<seq>"), and the
ledger, shared by all clients of this one process, knows who should get it:

  When connection S sends message m to room R, the expected receivers are
  every connection of R that had received its authentication message before m
  was sent (S included: the chat consumer sends to the sender too). The broker
  handles a connection's group join before the authentication message it
  routes to that client, so such a receiver was a member when m reached the
  broker.

Invariants (a breach is raised as Breach, naming the invariant, the
connection and the evidence):

  order: a connection receives the messages of one sender in sending order,
         each at most once.
  loss:  DELIVERY_DEADLINE seconds after m was sent, every expected receiver
         has it, unless the gap is legitimate:
           - the receiver's connection ended before it got m (it left, or was
             closed or dropped: the close-code invariant judges that close);
           - the sender's connection was closed by the server or dropped
             before it got its own copy of m (m died with the sender's worker
             or gateway; the sender was told by its close);
           - the broker was SIGKILLed within INFLIGHT_WINDOW s after m was sent
             and before every receiver had m: README, "what the dying broker
             had read but not yet forwarded is lost"; or at most KILL_REACH s
             before m was sent: the gateway forwards m into its link until it
             notices the peer is gone, and what it wrote into the dead TCP
             connection in those moments is lost with the broker (the kill and
             the send are stamped by different tasks, a few ms apart either
             way). These are counted and reported, not hidden.
         A sender that never gets its own copy and was not closed is a loss.
  close: a connection the server ends gets a close code a client can act on
         (1000, 1001, 1011, 1012, 1013, 4000-4999); a TCP drop without a close
         frame (1006) only when its gateway was SIGKILLed by the soak.
"""
import asyncio
import collections
import json
import random
import time

import websockets

DELIVERY_DEADLINE = 30.0
INFLIGHT_WINDOW = 3.0
KILL_REACH = 0.5
ACTIONABLE = {1000, 1001, 1011, 1012, 1013}


class Breach(Exception):
    def __init__(self, invariant, who, evidence):
        super().__init__("INVARIANT BROKEN: %s\n  who: %s\n  evidence: %s" % (invariant, who, evidence))
        self.invariant = invariant


def actionable(code):
    return code in ACTIONABLE or 4000 <= code <= 4999


class Conn:
    """One WebSocket connection of a client (a client has many over the soak)."""
    __slots__ = ("id", "client", "gateway", "room", "established", "ended", "ended_by_server", "next_seq",
                 "last_seen", "unechoed")

    def __init__(self, cid, client, gateway, room):
        self.id, self.client, self.gateway, self.room = cid, client, gateway, room
        self.established = None      # monotonic time its authentication message arrived
        self.ended = None            # monotonic time it ended (left or closed)
        self.ended_by_server = False
        self.next_seq = 1
        self.last_seen = {}          # sender conn id -> last seq received from it
        self.unechoed = set()        # seqs of its own messages it has not received back

    def name(self):
        return "client %d conn %d (gateway%d, room %s)" % (self.client, self.id, self.gateway, self.room)


class Message:
    __slots__ = ("sender", "seq", "sent", "pending", "expected")

    def __init__(self, sender, seq, sent, pending):
        self.sender, self.seq, self.sent, self.pending = sender, seq, sent, pending
        self.expected = len(pending)


class Ledger:
    def __init__(self, faults):
        self.faults = faults                    # soak.FaultLog: kills by time
        self.conns = {}
        self.rooms = collections.defaultdict(set)   # room -> established, open conn ids
        self.messages = {}                      # (sender id, seq) -> Message
        self.next_conn = 1
        self.sent = self.delivered = 0
        self.excused = collections.Counter()    # why an expected delivery did not happen
        self.closes = collections.Counter()     # close code -> count (server-initiated)
        self.unusual = []                       # (time, code, who) of closes a fault does not explain
        self.max_latency = 0.0
        self.latencies = []                     # a sample for percentiles
        self.breach = None

    def fail(self, invariant, who, evidence):
        if self.breach is None:
            self.breach = Breach(invariant, who, evidence)
        raise self.breach

    # ---- connection life ----------------------------------------------------------------
    def open(self, client, gateway, room):
        c = Conn(self.next_conn, client, gateway, room)
        self.next_conn += 1
        self.conns[c.id] = c
        return c

    def established(self, c):
        c.established = time.monotonic()
        self.rooms[c.room].add(c.id)

    def ended(self, c, by_server, code, reason=""):
        if c.ended is not None:
            return
        c.ended = time.monotonic()
        c.ended_by_server = by_server
        self.rooms[c.room].discard(c.id)
        if not by_server:
            return
        self.closes[code] += 1
        if code not in (1006, 1011, 4500):
            self.unusual.append((c.ended, code, reason, c.name()))
        if code == 1006:
            kill = self.faults.gateway_killed_near(c.gateway, c.ended)
            if kill is None:
                self.fail("close: every closed client gets a code it can act on", c.name(),
                          "TCP dropped without a close frame (1006) but gateway%d was not killed by the soak"
                          % c.gateway)
        elif not actionable(code):
            self.fail("close: every closed client gets a code it can act on", c.name(),
                      "closed with %d %r, not one of 1000/1001/1011/1012/1013/4xxx" % (code, reason))

    # ---- messages -----------------------------------------------------------------------
    def send(self, c):
        seq = c.next_seq
        c.next_seq += 1
        now = time.monotonic()
        pending = set(self.rooms[c.room])
        pending.add(c.id)
        self.messages[(c.id, seq)] = Message(c.id, seq, now, pending)
        c.unechoed.add(seq)
        self.sent += 1
        return "%d:%d" % (c.id, seq)

    def received(self, c, text):
        now = time.monotonic()
        try:
            sid, seq = (int(x) for x in text.split(":")[:2])
        except ValueError:
            self.fail("order: every message received is one a client sent", c.name(), "unknown message %r" % text)
        last = c.last_seen.get(sid, 0)
        if seq <= last:
            self.fail("order: one sender's messages arrive in order, once", c.name(),
                      "got message %d of conn %d after message %d of it (%s)"
                      % (seq, sid, last, "duplicate" if seq == last else "out of order"))
        c.last_seen[sid] = seq
        if sid == c.id:
            c.unechoed.discard(seq)
        m = self.messages.get((sid, seq))
        if m is None:
            return            # already judged (or sent before this receiver was expected)
        m.pending.discard(c.id)
        self.delivered += 1
        lat = now - m.sent
        self.max_latency = max(self.max_latency, lat)
        if len(self.latencies) < 200000:
            self.latencies.append(lat)
        elif random.random() < 0.05:
            self.latencies[random.randrange(len(self.latencies))] = lat
        if not m.pending:
            del self.messages[(sid, seq)]

    def sweep(self, now=None):
        """Judges every message older than the delivery deadline."""
        now = now if now is not None else time.monotonic()
        for key in [k for k, m in self.messages.items() if now - m.sent > DELIVERY_DEADLINE]:
            m = self.messages.pop(key)
            sender = self.conns[m.sender]
            for rid in sorted(m.pending):
                r = self.conns[rid]
                if r.ended is not None:
                    self.excused["receiver ended"] += 1
                    continue
                if sender.ended is not None and sender.ended_by_server and m.seq in sender.unechoed:
                    self.excused["sender closed by the server before its copy"] += 1
                    continue
                if self.faults.broker_killed_between(m.sent - KILL_REACH, m.sent + INFLIGHT_WINDOW):
                    self.excused["in flight at a broker SIGKILL (documented)"] += 1
                    continue
                what = "its own message" if rid == m.sender else "message %d of %s" % (m.seq, sender.name())
                self.fail("loss: no client of a healthy gateway loses a message", r.name(),
                          "%s, sent %.1f s ago, never arrived (last from that sender: %d; connection open since "
                          "%.1f s before the send; faults around it: %s)"
                          % (what, now - m.sent, r.last_seen.get(m.sender, 0), m.sent - r.established,
                             self.faults.around(m.sent)))

    def percentile(self, q):
        if not self.latencies:
            return 0.0
        s = sorted(self.latencies)
        return s[min(len(s) - 1, int(q * len(s)))]


class ChatClient:
    def __init__(self, index, ledger, deploy, tokens, rooms, send_interval, stop):
        self.index, self.ledger, self.deploy = index, ledger, deploy
        self.token = tokens[index % len(tokens)]
        self.gateway = index % len(deploy.gateway_ports)
        self.rooms, self.send_interval, self.stop = rooms, send_interval, stop
        self.conn = None
        self.connected = False
        self.connects = self.refusals = 0

    async def run(self):
        rnd = random.Random(self.index)
        await asyncio.sleep(rnd.uniform(0, 5))
        while not self.stop.is_set():
            room = "room%d" % rnd.randrange(self.rooms)
            try:
                await self.session(room, rnd)
                await asyncio.sleep(rnd.uniform(0.5, 3))     # left: pause before joining another room
            except Breach:
                raise
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake, websockets.ConnectionClosed):
                self.refusals += 1
                await asyncio.sleep(rnd.uniform(0.5, 2))

    async def session(self, room, rnd):
        port = self.deploy.gateway_ports[self.gateway]
        url = "ws://127.0.0.1:%d/ws/chat/%s/?token=%s" % (port, room, self.token)
        ws = await websockets.connect(url, open_timeout=10, close_timeout=5, ping_interval=None,
                                      max_size=2 ** 20)
        c = self.conn = self.ledger.open(self.index, self.gateway, room)
        self.connects += 1
        reader = None
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 15))
            while first.get("action") == "chat":
                # The room's messages may come first: its join takes effect before the authentication
                # message (the ready point, docs/consumers.md). Sent before we counted as a member, they
                # are not expected of us, but their order is checked like any.
                self.ledger.received(c, first["payload"]["message"])
                first = json.loads(await asyncio.wait_for(ws.recv(), 15))
            if first.get("action") != "authentication" or first["payload"].get("status_code") != 200:
                # a refusal (4500 while PostgreSQL is down): the close that follows is what we judge
                extra = await asyncio.wait_for(ws.recv(), 15)
                self.ledger.fail("close: a refused client is closed", c.name(),
                                 "after %r it got %r, not a close" % (first, extra))
            self.ledger.established(c)
            self.connected = True
            stay = rnd.uniform(20, 90)
            reader = asyncio.ensure_future(self.read(ws, c))
            end = time.monotonic() + stay
            while time.monotonic() < end and not self.stop.is_set() and not reader.done():
                await ws.send(json.dumps({"action": "chat", "payload": {"message": self.ledger.send(c)}}))
                await asyncio.wait([reader], timeout=rnd.uniform(0.5, 1.5) * self.send_interval)
            if not reader.done():
                # leave: wait for our own copies first, so that each message we sent is judged
                wait_until = time.monotonic() + DELIVERY_DEADLINE + 5
                while c.unechoed and time.monotonic() < wait_until and not reader.done():
                    await asyncio.wait([reader], timeout=0.2)
            self.connected = False
            if not reader.done():
                self.ledger.ended(c, False, 1000)
                await ws.close(1000)
                reader.cancel()
                return
            await reader      # raises what ended the reader
        except websockets.ConnectionClosed as e:
            self.connected = False
            code = e.rcvd.code if e.rcvd is not None else 1006
            self.ledger.ended(c, True, code, e.rcvd.reason if e.rcvd is not None else "")
            raise
        finally:
            self.connected = False
            if reader is not None:
                if not reader.done():
                    reader.cancel()
                elif not reader.cancelled():
                    reader.exception()      # retrieved: what ended it was handled above
            if c.ended is None:
                self.ledger.ended(c, False, 1000)
            await ws.close()

    async def read(self, ws, c):
        async for raw in ws:
            m = json.loads(raw)
            if m.get("action") == "chat":
                self.ledger.received(c, m["payload"]["message"])
