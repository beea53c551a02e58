"""The soak's checker checked: each invariant of clients.Ledger fails on the breach it names and
excuses exactly the legitimate gaps (clients.py). No stack needed; scripts/soak runs it first, so a
soak never runs with a checker that cannot fail.

    /usr/bin/python3 -m unittest tests/soak/test_ledger.py
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from clients import DELIVERY_DEADLINE, Breach, Ledger   # noqa: E402
from faults import FaultLog                            # noqa: E402


class LedgerTest(unittest.TestCase):
    def setUp(self):
        self.faults = FaultLog()
        self.ledger = Ledger(self.faults)
        self.a = self.join(0, 0)
        self.b = self.join(1, 1)

    def join(self, client, gateway, room="r"):
        c = self.ledger.open(client, gateway, room)
        self.ledger.established(c)
        return c

    def later(self):
        return time.monotonic() + DELIVERY_DEADLINE + 1

    def test_a_message_every_member_got_passes(self):
        m = self.ledger.send(self.a)
        self.ledger.received(self.a, m)
        self.ledger.received(self.b, m)
        self.ledger.sweep(self.later())
        self.assertEqual(self.ledger.delivered, 2)

    def test_a_receiver_that_missed_one_fails_loss(self):
        m = self.ledger.send(self.a)
        self.ledger.received(self.a, m)
        with self.assertRaises(Breach) as e:
            self.ledger.sweep(self.later())
        self.assertIn("loss", e.exception.invariant)
        self.assertIn("conn %d" % self.b.id, str(e.exception))

    def test_a_sender_without_its_own_copy_fails_loss(self):
        m = self.ledger.send(self.a)
        self.ledger.received(self.b, m)
        with self.assertRaisesRegex(Breach, "its own message"):
            self.ledger.sweep(self.later())

    def test_out_of_order_and_duplicates_fail_order(self):
        m1, m2 = self.ledger.send(self.a), self.ledger.send(self.a)
        self.ledger.received(self.b, m2)
        with self.assertRaisesRegex(Breach, "out of order"):
            self.ledger.received(self.b, m1)
        ledger = Ledger(self.faults)
        a, b = ledger.open(0, 0, "r"), ledger.open(1, 1, "r")
        ledger.established(a)
        ledger.established(b)
        m = ledger.send(a)
        ledger.received(b, m)
        with self.assertRaisesRegex(Breach, "duplicate"):
            ledger.received(b, m)

    def test_a_receiver_that_left_or_was_closed_is_excused(self):
        m = self.ledger.send(self.a)
        self.ledger.received(self.a, m)
        self.ledger.ended(self.b, True, 1011)
        self.ledger.sweep(self.later())
        self.assertEqual(self.ledger.excused["receiver ended"], 1)

    def test_a_sender_closed_before_its_copy_is_excused(self):
        m = self.ledger.send(self.a)
        self.ledger.ended(self.a, True, 1011)
        self.ledger.sweep(self.later())
        self.assertEqual(self.ledger.excused["sender closed by the server before its copy"], 1)
        self.assertEqual(self.ledger.messages, {}, "judged: %s" % m)

    def test_a_sender_that_left_by_itself_is_not_an_excuse(self):
        self.ledger.send(self.a)
        self.ledger.ended(self.a, False, 1000)
        with self.assertRaises(Breach):
            self.ledger.sweep(self.later())

    def test_in_flight_at_a_broker_kill_is_excused_only_then(self):
        self.ledger.send(self.a)
        self.faults.record("broker SIGKILL", "broker")
        self.ledger.sweep(self.later())
        self.assertEqual(self.ledger.excused["in flight at a broker SIGKILL (documented)"], 2)

    def test_a_send_just_after_a_broker_kill_is_in_flight_but_not_one_a_second_later(self):
        self.faults.record("broker SIGKILL", "broker")   # the kill, then a send stamped a moment later
        self.ledger.send(self.a)
        self.ledger.sweep(self.later())
        self.assertEqual(self.ledger.excused["in flight at a broker SIGKILL (documented)"], 2)
        ledger = Ledger(self.faults)
        a, b = ledger.open(0, 0, "r"), ledger.open(1, 1, "r")
        ledger.established(a)
        ledger.established(b)
        at, kind, name = self.faults.events[0]
        self.faults.events[0] = (at - 1.0, kind, name)    # the broker died a second before this send
        ledger.send(a)
        with self.assertRaises(Breach):
            ledger.sweep(self.later())

    def test_close_codes(self):
        self.ledger.ended(self.a, True, 4500)
        with self.assertRaisesRegex(Breach, "1008"):
            self.ledger.ended(self.b, True, 1008)
        self.ledger = Ledger(self.faults)       # the first breach is sticky: a fresh ledger for the next
        c = self.join(2, 1)
        with self.assertRaisesRegex(Breach, "1006"):
            self.ledger.ended(c, True, 1006)
        self.faults.record("gateway SIGKILL", "gateway1")
        self.ledger = Ledger(self.faults)
        self.ledger.ended(self.join(3, 1), True, 1006)      # its gateway was killed: a drop is fair
        self.assertEqual(self.ledger.closes[1006], 1)


if __name__ == "__main__":
    unittest.main()
