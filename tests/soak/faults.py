"""The soak's hostile clients, on raw sockets, and the log of faults.

Raw sockets, not a WebSocket library: these clients must be able to do what a
library never does (stop reading, send unmasked or reserved frames, invalid
UTF-8, a message past the limit) and see exactly what comes back.

  slow client     connects to a room of its own, then sends chat messages of
                  ~4 KB that the room echoes back to it, and never reads. The
                  gateway must close it with 1013 once CHANX_MAX_BUFFERED_BYTES
                  wait for it (README, "slow readers"), and stay healthy.
  garbage client  one connection per kind of bad input, each checked against
                  the answer the README and docs/conformance.md promise:
                  invalid JSON, an unknown action and an invalid payload get
                  an "error" message and the connection stays open; an
                  unmasked frame and a reserved opcode close with 1002,
                  invalid UTF-8 with 1007, a binary frame with 1003, a message
                  one byte over CHANX_MAX_MESSAGE_BYTES with 1009; a request
                  that is not HTTP gets 400.
A different answer raises Breach("garbage: ...") or Breach("slow client: ...").

FaultLog remembers what the soak did and when (monotonic time), so the ledger
can tell a legitimate gap or a TCP drop from a loss.
"""
import asyncio
import base64
import collections
import json
import os
import socket
import struct
import time

from clients import Breach


class FaultLog:
    def __init__(self):
        self.events = []                         # (t, kind, name)
        self.counts = collections.Counter()

    def record(self, kind, name):
        self.events.append((time.monotonic(), kind, name))
        self.counts[kind] += 1

    def gateway_killed_near(self, gateway, t, window=15.0):
        for at, kind, name in self.events:
            if kind == "gateway SIGKILL" and name == "gateway%d" % gateway and at - 1.0 <= t <= at + window:
                return at
        return None

    def broker_killed_between(self, a, b):
        return any(kind == "broker SIGKILL" and a <= at <= b for at, kind, _ in self.events)

    def around(self, t, window=15.0):
        near = ["%s %s at %+.1f s" % (kind, name, at - t) for at, kind, name in self.events if abs(at - t) <= window]
        return ", ".join(near) or "none"


class RawWS:
    """A minimal RFC 6455 client over asyncio streams."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port, path, rcvbuf=None, handshake=True):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.setblocking(False)
        await asyncio.get_running_loop().sock_connect(s, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=s, limit=4096 if rcvbuf else 2 ** 22)
        ws = cls(reader, writer)
        if handshake:
            key = base64.b64encode(os.urandom(16)).decode()
            writer.write(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, port, key)).encode())
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 15)
            if b" 101 " not in head.split(b"\r\n")[0]:
                writer.close()
                raise ConnectionError("upgrade refused: %r" % head.split(b"\r\n")[0])
        return ws

    def frame(self, opcode, payload, mask=True, fin=True):
        head = bytes([(0x80 if fin else 0) | opcode])
        n = len(payload)
        m = 0x80 if mask else 0
        if n < 126:
            head += bytes([m | n])
        elif n < 65536:
            head += bytes([m | 126]) + struct.pack("!H", n)
        else:
            head += bytes([m | 127]) + struct.pack("!Q", n)
        if mask:
            # an all-zero mask key: masked as the RFC requires, and the payload goes as is
            head += b"\0\0\0\0"
        self.writer.write(head + payload)

    def send_json(self, obj):
        self.frame(0x1, json.dumps(obj).encode())

    async def recv_frame(self, timeout):
        head = await asyncio.wait_for(self.reader.readexactly(2), timeout)
        n = head[1] & 0x7f
        if n == 126:
            n = struct.unpack("!H", await self.reader.readexactly(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self.reader.readexactly(8))[0]
        return head[0] & 0x0f, await asyncio.wait_for(self.reader.readexactly(n), timeout)

    async def recv_json(self, timeout=15):
        while True:
            op, data = await self.recv_frame(timeout)
            if op == 0x1:
                return json.loads(data)
            if op == 0x8:
                raise ConnectionError("closed with %s" % close_code(data))

    async def expect_close(self, timeout=20):
        """The close code the server sends (skipping data frames), 1006 if the stream ends without one."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                op, data = await self.recv_frame(max(0.1, deadline - time.monotonic()))
                if op == 0x8:
                    return close_code(data)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return 1006
        except asyncio.TimeoutError:
            return None

    def close(self):
        self.writer.close()


def close_code(data):
    return struct.unpack("!H", data[:2])[0] if len(data) >= 2 else 1005


async def authenticated(port, room, token, rcvbuf=None):
    ws = await RawWS.open(port, "/ws/chat/%s/?token=%s" % (room, token), rcvbuf)
    auth = await ws.recv_json()
    if auth.get("action") != "authentication" or auth["payload"].get("status_code") != 200:
        ws.close()
        raise ConnectionError("not authenticated: %r" % auth)
    return ws


async def slow_client(port, token, room, gateway_log, log_from, max_bytes):
    """Returns the bytes sent before the gateway gave up; raises Breach on a wrong answer."""
    ws = await authenticated(port, room, token, rcvbuf=4096)
    text = "x" * 4000
    sent = 0
    try:
        for i in range(100000):
            ws.frame(0x1, json.dumps({"action": "chat", "payload": {"message": "%d:%s" % (i, text)}}).encode())
            sent += 4050
            await ws.writer.drain()
            if i % 50 == 49:
                await asyncio.sleep(0.05)
                if gave_up(gateway_log, log_from):
                    break
            if sent > 4 * max_bytes + (16 << 20):
                raise Breach("slow client: a client that stops reading is closed with 1013", "slow client, " + room,
                             "sent %d bytes of messages echoed to it without reading; the gateway never gave up"
                             % sent)
    except (ConnectionError, OSError):
        pass          # the gateway closed it while we were still sending: read what it said
    code = await ws.expect_close(30)
    ws.close()
    if code != 1013:
        raise Breach("slow client: a client that stops reading is closed with 1013", "slow client, " + room,
                     "got close code %s after sending %d bytes without reading" % (code, sent))
    return sent


def gave_up(log_path, offset):
    try:
        with open(log_path, "rb") as f:
            f.seek(offset)
            return b"client is not reading" in f.read()
    except OSError:
        return False


async def garbage_client(port, token, max_message, room="garbage"):
    """Every kind of bad input, each on its own connection; returns how many were answered right."""
    def breach(what, evidence):
        return Breach("garbage: bad input gets the documented answer and costs nothing else",
                      "garbage client (%s)" % what, evidence)

    ok = 0

    # Bad messages on a healthy connection: an error message each, and the connection stays usable.
    ws = await authenticated(port, room, token)
    for raw, want in ((b"{not json", "json_invalid"), (b'{"action": "nope"}', "union_tag_invalid"),
                      (b'{"action": "chat", "payload": {}}', "missing"), (b"[1, 2]", "model_type")):
        ws.frame(0x1, raw)
        reply = await ws.recv_json()
        types = [e.get("type") for e in reply.get("payload", [])] if isinstance(reply.get("payload"), list) else []
        if reply.get("action") != "error" or want not in types:
            raise breach("invalid message %r" % raw, "expected an error of type %s, got %r" % (want, reply))
        ok += 1
    ws.send_json({"action": "chat", "payload": {"message": "0:after garbage"}})
    reply = await ws.recv_json()
    if reply.get("action") != "chat":
        raise breach("valid message after bad ones", "expected its chat echo, got %r" % reply)
    ws.frame(0x8, struct.pack("!H", 1000))
    code = await ws.expect_close()
    ws.close()
    if code != 1000:
        raise breach("normal close after bad messages", "expected the close echoed with 1000, got %s" % code)
    ok += 1

    # Bad frames: each closes its connection with the code RFC 6455 names.
    async def frame_case(what, want, send):
        ws = await authenticated(port, room, token)
        send(ws)
        try:
            await ws.writer.drain()
        except (ConnectionError, OSError):
            pass
        code = await ws.expect_close()
        ws.close()
        if code != want:
            raise breach(what, "expected close %d, got %s" % (want, code))

    await frame_case("unmasked frame", 1002, lambda ws: ws.frame(0x1, b'{"action":"ping"}', mask=False))
    await frame_case("reserved opcode 0x3", 1002, lambda ws: ws.frame(0x3, b"x"))
    await frame_case("invalid UTF-8", 1007, lambda ws: ws.frame(0x1, b'{"action":"\xc0\xaf"}'))
    await frame_case("binary frame", 1003, lambda ws: ws.frame(0x2, b"\x00\x01"))
    await frame_case("message one byte over CHANX_MAX_MESSAGE_BYTES", 1009,
                     lambda ws: ws.frame(0x1, b"a" * (max_message + 1)))
    ok += 5

    # Not HTTP at all.
    ws = await RawWS.open(port, "", handshake=False)
    ws.writer.write(b"\x16\x03\x01 garbage that is not a request\r\n\r\n")
    try:
        line = await asyncio.wait_for(ws.reader.readline(), 15)
    except (asyncio.IncompleteReadError, ConnectionError, OSError):
        line = b""
    ws.close()
    if not line.startswith(b"HTTP/1.1 400"):
        raise breach("a request that is not HTTP", "expected HTTP/1.1 400, got %r" % line)
    ok += 1
    return ok
