"""chanx_client.websocket against a live stack running examples/hub (ws/hub/: ping → pong; topic
room:{name}, staff-* rooms for staff only, welcome on subscribe, say → said to every subscriber,
echo → echoed to the sender with the ref), and against a server in this process that sends
frames no gateway would.

tests/e2e/test_docs.c starts the stack (with chanx-api) and runs this file with /usr/bin/python3
(Debian's python3-websockets), passing CHANX_TEST_WS, the tokens of alice (CHANX_TEST_TOKEN), bob
(CHANX_TEST_TOKEN2), carol (CHANX_TEST_TOKEN3, user id CHANX_TEST_USER3: the one whose connections
chanx-api closes from the server side) and a staff user (CHANX_TEST_STAFF_TOKEN), and
CHANX_API_URL / CHANX_API_KEY for chanx_client's publish functions.
"""

import asyncio
import contextlib
import io
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import websockets  # noqa: E402

from chanx_client import broadcast_topic, disconnect_user  # noqa: E402
from chanx_client.websocket import ChanxSocketError, WebSocketClient, backoff_delay  # noqa: E402

ENV = os.environ
LIVE = unittest.skipUnless(ENV.get("CHANX_TEST_WS"), "CHANX_TEST_WS is set by tests/e2e/test_docs.c")
WAIT = 10


def hub(token=None, **options):
    return WebSocketClient(f"{ENV['CHANX_TEST_WS']}/ws/hub/", token or ENV["CHANX_TEST_TOKEN"], **options)


class Backoff(unittest.TestCase):
    def test_grows_exponentially_within_the_upper_half_of_the_cap(self):
        self.assertEqual(backoff_delay(0, 0.1, 1.0, 2, rand=lambda: 0), 0.05)
        self.assertAlmostEqual(backoff_delay(3, 0.1, 1.0, 2, rand=lambda: 0.999999), 0.8, places=4)
        self.assertEqual(backoff_delay(10, 0.1, 1.0, 2, rand=lambda: 0), 0.5)


@LIVE
class DocsExample(unittest.IsolatedAsyncioTestCase):
    async def test_the_example_of_docs_python_md_runs_as_written(self):
        """docs/python.md's example, its address and token the stack's: what a reader pastes must run."""
        with open(os.path.join(os.path.dirname(__file__), "..", "..", "..", "docs", "python.md")) as page:
            code = page.read().split("```python\n", 1)[1].split("```", 1)[0]
        code = code.replace("ws://127.0.0.1:8000", ENV["CHANX_TEST_WS"]).replace("asyncio.run(main())", "")
        scope = {"key": ENV["CHANX_TEST_TOKEN"]}
        exec(compile(code, "docs/python.md", "exec"), scope)
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            await asyncio.wait_for(scope["main"](), 2 * WAIT)
        self.assertIn("unauthorized", printed.getvalue())


@LIVE
class Topics(unittest.IsolatedAsyncioTestCase):
    async def test_a_handle_subscribes_says_to_every_subscriber_and_gets_its_echo_by_ref(self):
        async with hub() as alice, hub(ENV["CHANX_TEST_TOKEN2"]) as bob:
            lobby = alice.topic("room:py-lobby")
            self.assertIs(alice.topic("room:py-lobby"), lobby)
            welcome = lobby.next("welcome", timeout=WAIT)
            subscribed = await lobby.subscribe()
            self.assertEqual((subscribed["action"], subscribed["topic"]), ("subscribed", "room:py-lobby"))
            self.assertIsInstance(subscribed["ref"], str)
            self.assertTrue(lobby.subscribed)
            self.assertEqual((await welcome)["payload"], {"topic": "room:py-lobby", "user": "alice"})
            # bob's welcome (his on_subscribe's push) first: it races alice's say, which another
            # connection's consumer sends, and would otherwise land after bob_saw starts listening
            bob_welcome = bob.topic("room:py-lobby").next("welcome", timeout=WAIT)
            await bob.topic("room:py-lobby").subscribe()
            self.assertEqual((await bob_welcome)["payload"], {"topic": "room:py-lobby", "user": "bob"})

            heard = [bob.topic("room:py-lobby").next("said", WAIT), lobby.next("said", WAIT)]
            ref = await lobby.send("say", {"text": "hi all"})
            self.assertTrue(ref.isdigit())
            for message in await asyncio.gather(*heard):
                self.assertEqual(message["payload"], {"text": "hi all", "user": "alice"})
                self.assertEqual(message["topic"], "room:py-lobby")
                self.assertNotIn("ref", message, "a push carries no ref")

            bob_saw = []
            bob.topic("room:py-lobby").on("*", lambda payload, message: bob_saw.append(message["action"]))
            one, two = await asyncio.gather(lobby.request("echo", {"text": "one"}), lobby.request("echo", {"text": "two"}))
            self.assertEqual((one["action"], one["payload"]), ("echoed", {"text": "one"}))
            self.assertEqual(two["payload"], {"text": "two"}, "each request resolves on the reply with its own ref")
            self.assertNotEqual(one["ref"], two["ref"])
            pong = await alice.request("ping")
            self.assertEqual(pong["action"], "pong")
            self.assertNotIn("topic", pong)
            await asyncio.sleep(0.2)
            self.assertEqual(bob_saw, [], "an echo goes to the sender alone")

    async def test_a_topic_frames_completion_carries_its_topic_and_ref(self):
        async with hub() as c:
            room = c.topic("room:py-complete")
            seen = []
            room.on("*", lambda payload, message: seen.append(message))
            await room.subscribe()
            ref = await room.send("echo", {"text": "x"})
            self.assertEqual((await c.request("ping"))["action"], "pong")
            self.assertEqual(sorted(m["action"] for m in seen), ["complete", "echoed", "subscribed", "welcome"],
                             "subscribe is not completed")
            complete = next(m for m in seen if m["action"] == "complete")
            self.assertEqual(complete, {"version": 1, "topic": "room:py-complete", "ref": ref, "action": "complete",
                                        "payload": None})
            self.assertIsNone(await room.request("say", {"text": "no reply"}), "say answers only with its completion")
            self.assertEqual(c._completions, [], "topic frames hold no place among the plain completions")

    async def test_on_a_topics_own_route_requests_resolve_and_a_refused_route_refuses_each(self):
        async with WebSocketClient(f"{ENV['CHANX_TEST_WS']}/ws/hub/room/py-own/", ENV["CHANX_TEST_TOKEN"]) as own:
            self.assertEqual((await own.request("echo", {"text": "me"}))["payload"], {"text": "me"})
            # say resolves on its completion, which follows echo's: both are in by then (echo itself
            # resolves on its reply, before its completion arrives)
            self.assertIsNone(await own.request("say", {"text": "hi"}), "say answers only with its completion")
            self.assertEqual(own._completions, [])
        async with WebSocketClient(f"{ENV['CHANX_TEST_WS']}/ws/hub/room/staff-py-own/", ENV["CHANX_TEST_TOKEN"]) as no:
            for _ in range(2):
                with self.assertRaises(ChanxSocketError) as e:
                    await no.request("echo", {"text": "x"})
                self.assertEqual(e.exception.reason, "not_subscribed")
            self.assertEqual(no._completions, [], "a refusal ends the frame: no completion follows it")
            self.assertEqual(no.state, "authenticated")

    async def test_an_error_fails_only_the_request_it_answers_and_the_other_handles_go_on(self):
        async with hub() as c:
            unknown, staff, fine = await asyncio.gather(
                c.topic("nope:1").subscribe(), c.topic("room:staff-py").subscribe(), c.topic("room:py-fine").subscribe(),
                return_exceptions=True)
            self.assertIsInstance(unknown, ChanxSocketError)
            self.assertEqual(unknown.reason, "unknown_topic")
            self.assertIn("nope:1", unknown.detail)
            self.assertEqual(staff.reason, "unauthorized")
            self.assertEqual(fine["action"], "subscribed")
            with self.assertRaises(ChanxSocketError) as e:
                await c.topic("room:py-never").request("echo", {"text": "x"})
            self.assertEqual(e.exception.reason, "not_subscribed")
            with self.assertRaises(ChanxSocketError) as e:
                await c.topic("room:py-fine").request("say", {"text": ""})
            self.assertEqual(e.exception.payload[0]["loc"], ["payload", "text"], "pydantic's list")
            self.assertEqual((await c.topic("room:py-fine").request("echo", {"text": "on"}))["payload"], {"text": "on"})
            self.assertIsNone(await c.topic("room:py-fine").request("say", {"text": "no reply"}),
                              "say answers only with its completion")
        async with hub(ENV["CHANX_TEST_STAFF_TOKEN"]) as root:
            self.assertEqual((await root.topic("room:staff-py").subscribe())["action"], "subscribed")

    async def test_unsubscribe_stops_the_topics_publishes_and_others_still_get_them(self):
        async with hub() as alice, hub(ENV["CHANX_TEST_TOKEN2"]) as bob:
            room, bob_room = alice.topic("room:py-leave"), bob.topic("room:py-leave")
            await asyncio.gather(room.subscribe(), bob_room.subscribe())
            self.assertEqual((await room.unsubscribe())["action"], "unsubscribed")
            self.assertFalse(room.subscribed)
            got = []
            room.on("*", lambda payload, message: got.append(message))
            announced = bob_room.next("announce", WAIT)
            r = await broadcast_topic("room:py-leave", {"action": "announce", "payload": {"text": "closing"}})
            self.assertEqual(r["connections"], 1)
            self.assertEqual((await announced)["payload"], {"text": "closing"})
            await asyncio.sleep(0.2)
            self.assertEqual(got, [])

    async def test_after_the_server_closes_the_connection_every_subscribed_handle_subscribes_again(self):
        c = hub(ENV["CHANX_TEST_TOKEN3"], min_delay=0.05, max_delay=0.2)
        await c.connect()
        a, b, gone = c.topic("room:py-a"), c.topic("room:py-b"), c.topic("room:py-gone")
        await asyncio.gather(a.subscribe(), b.subscribe(), gone.subscribe())
        await gone.unsubscribe()
        gone_frames = []
        gone.on("*", lambda payload, message: gone_frames.append(message))
        closed = asyncio.get_running_loop().create_future()
        c.add_listener("closed", lambda d: closed.done() or closed.set_result(d))
        again = asyncio.gather(a.next("subscribed", WAIT), b.next("subscribed", WAIT), a.next("welcome", WAIT))
        await disconnect_user(int(ENV["CHANX_TEST_USER3"]), code=4001)
        self.assertEqual((await asyncio.wait_for(closed, WAIT))["code"], 4001)
        sub_a, sub_b, _ = await again
        self.assertEqual((sub_a["topic"], sub_b["topic"]), ("room:py-a", "room:py-b"))
        self.assertTrue(a.subscribed and b.subscribed)
        self.assertFalse(gone.subscribed)
        heard = b.next("announce", WAIT)
        r = await broadcast_topic("room:py-b", {"action": "announce", "payload": {"text": "back"}})
        self.assertEqual(r["connections"], 1, "the new connection is in the topic's group")
        self.assertEqual((await heard)["payload"], {"text": "back"})
        self.assertEqual((await a.request("echo", {"text": "after"}))["payload"], {"text": "after"})
        self.assertEqual(gone_frames, [], "the unsubscribed handle was not subscribed again")
        await c.close()
        self.assertEqual(c.state, "closed")

    async def test_a_handle_back_from_a_reconnect_gets_exactly_the_pushes_it_missed(self):
        c = hub(ENV["CHANX_TEST_TOKEN3"], min_delay=1.5, max_delay=2.0)
        bob = hub(ENV["CHANX_TEST_TOKEN2"])
        await asyncio.gather(c.connect(), bob.connect())
        room, bob_room = c.topic("room:py-history"), bob.topic("room:py-history")
        await asyncio.gather(room.subscribe(), bob_room.subscribe())
        self.assertIsInstance(room.epoch, str, "the hub's rooms keep a history")
        first = room.next("said", WAIT)
        await bob_room.send("say", {"text": "h1"})
        self.assertEqual((await first)["payload"]["text"], "h1")
        seen = room.seq
        closed = asyncio.get_running_loop().create_future()
        c.add_listener("closed", lambda d: closed.done() or closed.set_result(d))
        missed = []
        room.on("said", lambda payload, message: missed.append((message["seq"], payload["text"])))
        back = asyncio.gather(room.next("subscribed", 3 * WAIT), room.next("welcome", 3 * WAIT))
        await disconnect_user(int(ENV["CHANX_TEST_USER3"]), code=4001)
        await asyncio.wait_for(closed, WAIT)
        for text in ("h2", "h3"):   # while it is away; each held before the next
            heard = bob_room.next("said", WAIT)
            await bob_room.send("say", {"text": text})
            await heard
        subscribed, _ = await back   # welcome comes after the replay
        self.assertIs(subscribed["payload"]["recovered"], True)
        self.assertIs(room.recovered, True)
        self.assertEqual(missed, [(seen + 1, "h2"), (seen + 2, "h3")], "exactly the missed pushes, in order")
        self.assertEqual(room.seq, seen + 2)
        await asyncio.gather(c.close(), bob.close())

    async def test_refusals_raise_with_their_close_code_and_nothing_retries(self):
        with self.assertRaises(ChanxSocketError) as e:
            await hub("not-a-token", min_delay=0.01).connect()
        self.assertEqual(e.exception.code, 4401)
        self.assertEqual(e.exception.payload["status_code"], 401)
        with self.assertRaises(ChanxSocketError) as e:
            await WebSocketClient(f"{ENV['CHANX_TEST_WS']}/ws/no-such-route/").connect()
        self.assertEqual(e.exception.code, 1006)
        self.assertIn("404", str(e.exception))
        c = hub()
        with self.assertRaises(ChanxSocketError):
            await c.send("ping")  # not connected: nothing is queued


class LocalServer(unittest.IsolatedAsyncioTestCase):
    """A websockets server in this process: frames no gateway would send, drops on demand."""

    async def test_frames_no_server_should_send_do_not_break_the_client(self):
        junk = ["not json", "null", "[1, 2]", "42", '{"topic": 5, "ref": {"a": 1}, "action": "x"}',
                '{"topic": "room:a", "ref": "999", "action": "error"}', '{"ref": ["1"], "action": "error"}']

        async def serve(ws, path=None):
            await ws.send(json.dumps({"action": "authentication", "payload": {"status_code": 200}}))
            async for text in ws:
                frame = json.loads(text)
                for j in junk:
                    await ws.send(j)
                if frame.get("topic") == "room:a":
                    await ws.send(json.dumps({"version": 1, "topic": "room:a", "ref": frame["ref"], "action": "error"}))
                elif frame.get("topic") == "room:b":
                    await ws.send(json.dumps({"version": 1, "topic": "room:b", "ref": frame["ref"], "action": "subscribed"}))
                else:
                    await ws.send(json.dumps({"version": 1, "ref": frame["ref"], "action": "pong", "payload": None}))

        async with websockets.serve(serve, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with WebSocketClient(f"ws://127.0.0.1:{port}/", reconnect=False) as c:
                seen = []
                c.on("*", lambda payload, message: seen.append(message))
                c.on("x", lambda payload, message: 1 / 0)  # a handler's bug is logged, not fatal
                with self.assertLogs("chanx_client.websocket", "ERROR") as logs:
                    with self.assertRaises(ChanxSocketError) as e:
                        await c.topic("room:a").subscribe()
                    self.assertIsNone(e.exception.reason, "an error without a payload still fails, with no reason to give")
                    self.assertEqual((await c.topic("room:b").subscribe())["action"], "subscribed")
                    self.assertEqual((await c.request("ping"))["action"], "pong")
                    self.assertEqual(c.state, "authenticated")
                    await c.close()
                self.assertIn("ZeroDivisionError", logs.output[0])
                self.assertTrue(any(m.get("topic") == 5 for m in seen), "a bad envelope is handed on as a plain frame")
                with self.assertRaises(ChanxSocketError):
                    c.topic("")


    async def test_a_drop_reconnects_with_backoff_and_close_ends_the_wait(self):
        connections = []

        async def serve(ws, path=None):
            connections.append(ws)
            await ws.send(json.dumps({"action": "authentication", "payload": {"status_code": 200}}))
            await ws.close(1011)  # the server went away: the client should come back

        async with websockets.serve(serve, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            c = WebSocketClient(f"ws://127.0.0.1:{port}/", min_delay=0.02, max_delay=0.02)
            events = []
            c.add_listener("closed", lambda d: events.append(("closed", d["code"], d["will_reconnect"])))
            c.add_listener("reconnecting", lambda d: events.append(("reconnecting", d["attempt"])))
            await c.connect()
            while len(connections) < 3:
                await asyncio.sleep(0.01)
            self.assertEqual(events[:2], [("closed", 1011, True), ("reconnecting", 1)])
            c.min_delay = c.max_delay = 60.0  # the next wait is long: close() must not sit it out
            long_wait = asyncio.get_running_loop().create_future()
            c.add_listener("reconnecting", lambda d: d["delay"] >= 30 and not long_wait.done() and long_wait.set_result(d))
            await asyncio.wait_for(long_wait, 5)
            self.assertEqual(c.state, "reconnecting")
            await asyncio.wait_for(c.close(), 5)
            self.assertEqual(c.state, "closed")
            n = len(connections)
            await asyncio.sleep(0.1)
            self.assertEqual(len(connections), n, "no attempt after close()")


if __name__ == "__main__":
    unittest.main()
