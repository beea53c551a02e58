"""make soak: a real deployment under chat load and a schedule of faults.

Design. One asyncio process drives everything, so that the clients, the fault
schedule and the checks share one clock and one ledger:

  deploy.py   the stack (private PostgreSQL, broker, workers, gateways from
              the sanitized build, CURVE keys), each process supervised, its
              log in var/soak/logs/, its VmRSS sampled;
  clients.py  SOAK_CLIENTS chat clients (python3-websockets) on both
              gateways, joining and leaving rooms, numbering their messages,
              and the ledger that checks order, loss and close codes;
  faults.py   the slow and the garbage client (raw sockets) and the fault log;
  soak.py     (this file) warm-up, the waves of faults, the watchdog, the
              progress lines and the summary.

After a warm-up (SOAK_WARMUP s of chat load), waves of faults run until
SOAK_SECONDS have passed (at least one wave). Every wave, SOAK_SPACING s apart:
  process kills, in a cycle of four waves (SIGKILL, restarted 1-2 s later):
    wave 4n:   worker0, gateway0 and the broker;
    wave 4n+2: worker1 and gateway1 (more workers and gateways take turns);
    waves 4n+1 and 4n+3: none, so that every process lives through whole
    waves and its memory can be judged;
  PostgreSQL stopped for 5 s (pg_ctl stop -m fast, then start);
  a slow client and a garbage client (faults.py) on every gateway at once;
then the wave settles: every gateway healthy, 90% of clients connected,
SOAK_SETTLE s more.

Memory. The memory of every process must come back within SOAK_RSS_TOLERANCE
(10%) of its baseline after each wave (sampled for up to another settle period). A
process's baseline is its VmRSS at the end of the first whole wave it lived
through: for the processes started at the beginning, wave 0 (or the first
wave they were not killed in); for a restarted process, the first wave after
its restart (its own post-restart baseline). Why not right after start: under
ASan a process's RSS also holds the sanitizer's bookkeeping (the stack depot
of every distinct allocation site, size-class regions), which grows the first
few times a code path runs (a PostgreSQL outage, a broker rebuild, a slow
client) and then levels off; measured, 1,600 refused connections while
PostgreSQL is down grow an ASan gateway by 8, 1.5, 0.9, 0.5 MB per 400 and a
plain one by 0.6, 0, 0, 0. A leak keeps growing wave after wave and fails.

What is measured: VmRSS on the plain build (SOAK_BIN=build), where glibc gives
freed memory back and RSS follows what a process holds. On a sanitized build,
the heap in use as ASan's allocator counts it (tests/soak/heap_probe.c,
preloaded), because there RSS does not come back: in a 240 s soak (7 December
2026) a gateway's heap in use stayed at 2.0-2.3 MB over five waves while its
VmRSS rose from 25 to 41 MB, and a broker's VmRSS rose 8.7% in two waves with
its heap flat. ASan's allocator keeps each size class's memory once a peak
(a slow client's backlog, a broker rebuild) has touched it, beside a 2 MB
quarantine and its own bookkeeping: retention, not a leak, and it moves with
the schedule of faults (an earlier run failed at +12.3%). A leak grows the
heap in use, and LeakSanitizer reports it at exit besides. RSS is still
logged. A worker counts with the worker processes its supervisor started, and
its connections move between waves (a killed worker's clients come back on the
other), its heap with them: a worker holding more connections than at its
baseline (chanx_worker_consumer_instances) may hold proportionally more.

The watchdog runs every half second during the whole soak: unexpected exits
of children, sanitizer reports in the logs, the ledger's sweep (loss). The
first broken invariant stops the soak: its message names the invariant, the
client or process and the evidence; the stack is stopped, logs are kept, and
the exit status is 1. At the end the stack is stopped with SIGTERM: every
process must exit 0 and LeakSanitizer, which runs at exit, must stay silent.
"""
import asyncio
import os
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import clients                      # noqa: E402
from clients import Breach, ChatClient, Ledger   # noqa: E402
from deploy import Deployment       # noqa: E402
import faults as faultmod           # noqa: E402


def env_num(name, default, kind=int):
    v = os.environ.get(name, "")
    try:
        return kind(v) if v else default
    except ValueError:
        sys.exit("soak: %s=%r is not a number" % (name, v))


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECONDS = env_num("SOAK_SECONDS", 600)
CLIENTS = env_num("SOAK_CLIENTS", 300)
ROOMS = env_num("SOAK_ROOMS", 30)
USERS = env_num("SOAK_USERS", 30)
WORKERS = max(2, env_num("SOAK_WORKERS", 2))
GATEWAYS = max(2, env_num("SOAK_GATEWAYS", 2))
SEND_INTERVAL = env_num("SOAK_SEND_INTERVAL", 3.0, float)
WARMUP = env_num("SOAK_WARMUP", min(30.0, max(10.0, SECONDS / 4)), float)
SPACING = env_num("SOAK_SPACING", 6.0, float)
SETTLE = env_num("SOAK_SETTLE", 15.0, float)
TOLERANCE = env_num("SOAK_RSS_TOLERANCE", 0.10, float)
# Which faults a wave injects (all by default; a subset to study one while developing).
FAULTS = set(os.environ.get("SOAK_FAULTS", "worker,gateway,broker,postgresql,slow,garbage").split(","))
PG_PORT = env_num("SOAK_PG_PORT", 55441)
PORT_BASE = env_num("SOAK_PORT_BASE", 19100)
MAX_MESSAGE = 1 << 20
MAX_BUFFERED = 1 << 20
BIN = os.environ.get("SOAK_BIN", "build-san")
VAR = os.path.join(ROOT, os.environ.get("SOAK_VAR", "var/soak"))


def log(fmt, *args):
    print(time.strftime("%H:%M:%S ") + (fmt % args if args else fmt), flush=True)


class Soak:
    def __init__(self):
        self.faults = faultmod.FaultLog()
        self.ledger = Ledger(self.faults)
        self.stop = asyncio.Event()
        self.failure = None
        self.baseline = {}          # name -> kB
        self.baseline_load = {}     # worker name -> its connections when its baseline was taken
        self.met_rebuild = set()    # names whose baseline was taken after a broker restart they lived through
        self.scale = {}             # worker name -> its connections now / then, at least 1 (check_rss)
        self.rss_history = []       # (wave, {name: (baseline, after)})
        self.slow_bytes = []
        self.garbage_ok = 0
        self.deploy = Deployment(ROOT, BIN, VAR, PG_PORT, PORT_BASE, WORKERS, GATEWAYS, {
            "CHANX_MAX_MESSAGE_BYTES": str(MAX_MESSAGE),
            "CHANX_MAX_BUFFERED_BYTES": str(MAX_BUFFERED),
            "CHANX_DRAIN_MS": "2000",
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:quarantine_size_mb=2:thread_local_quarantine_size_kb=256",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
            "LSAN_OPTIONS": "suppressions=%s/tests/lsan.supp:print_suppressions=0" % ROOT,
        })

    # ---- the watchdog -------------------------------------------------------------------
    def check(self):
        if self.failure:
            raise self.failure
        for p, excerpt in self.deploy.sanitizer_reports():
            self.fail(Breach("no sanitizer report in any log", "%s (pid %s)" % (p.name, p.pid),
                             "in %s:\n%s" % (p.log_path, excerpt)))
        for p, code in self.deploy.unexpected_exits():
            how = "killed by signal %d" % -code if code < 0 else "exit status %d" % code
            self.fail(Breach("no process exits but those the soak killed", "%s (pid %s)" % (p.name, p.pid),
                             "%s; last lines of %s:\n%s" % (how, p.log_path, p.log_tail())))
        if self.ledger.breach:
            self.fail(self.ledger.breach)
        try:
            self.ledger.sweep()
        except Breach as b:
            self.fail(b)

    def fail(self, breach):
        if self.failure is None:
            self.failure = breach
        raise self.failure

    async def watchdog(self):
        while not self.stop.is_set():
            try:
                self.check()
            except Breach:
                self.stop.set()
                return
            await asyncio.sleep(0.5)

    async def sleep(self, seconds):
        """Sleeps, but wakes up to the first broken invariant."""
        try:
            await asyncio.wait_for(self.stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass
        if self.failure:
            raise self.failure

    # ---- faults -------------------------------------------------------------------------
    async def kill_restart(self, name, down_for):
        p = self.deploy.procs[name]
        kind = name.rstrip("0123456789") + " SIGKILL"
        self.faults.record(kind, name)
        await asyncio.to_thread(p.kill, signal.SIGKILL)
        await self.sleep(down_for)
        p.start()
        self.restarted.add(name)

    async def pg_restart(self, down_for):
        self.faults.record("PostgreSQL stop/start", "postgresql")
        await asyncio.to_thread(self.deploy.pg_stop)
        await self.sleep(down_for)
        await asyncio.to_thread(self.deploy.pg_start)

    async def slow(self, k, gw):
        p = self.deploy.gateway_of(gw)
        offset = os.path.getsize(p.log_path)
        self.faults.record("slow client", "gateway%d" % gw)
        sent = await faultmod.slow_client(self.deploy.gateway_ports[gw], self.tokens[0], "slow%d_%d" % (k, gw),
                                          p.log_path, offset, MAX_BUFFERED)
        self.slow_bytes.append(sent)

    async def garbage(self, k, gw):
        self.faults.record("garbage client", "gateway%d" % gw)
        self.garbage_ok += await faultmod.garbage_client(self.deploy.gateway_ports[gw], self.tokens[1], MAX_MESSAGE,
                                                         "garbage%d_%d" % (k, gw))

    async def wave(self, k):
        self.restarted = set()
        self.wave_started = time.monotonic()
        if k % 2 == 0:
            turn = k // 2
            if "worker" in FAULTS:
                await self.kill_restart("worker%d" % (turn % WORKERS), 2)
                await self.sleep(SPACING)
            if "gateway" in FAULTS:
                await self.kill_restart("gateway%d" % (turn % GATEWAYS), 2)
                await self.sleep(SPACING)
            if "broker" in FAULTS and k % 4 == 0:
                await self.kill_restart("broker", 1)
                await self.sleep(SPACING)
        if "postgresql" in FAULTS:
            await self.pg_restart(5)
            await self.sleep(SPACING)
        # On every gateway, so that each one's baseline wave held a slow client's burst too.
        await self.guard(asyncio.gather(*[self.slow(k, g) for g in range(GATEWAYS) if "slow" in FAULTS],
                                        *[self.garbage(k, g) for g in range(GATEWAYS) if "garbage" in FAULTS]))
        await self.settle()
        self.check_rss(k, await self.deploy.worker_load())

    async def guard(self, aw):
        """Awaits a fault client, still stopping at a broken invariant elsewhere."""
        task = asyncio.ensure_future(aw)
        stopper = asyncio.ensure_future(self.stop.wait())
        await asyncio.wait([task, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not task.done():
            task.cancel()
            raise self.failure
        try:
            task.result()
        except Breach as b:
            self.fail(b)

    # ---- settling and memory ------------------------------------------------------------
    def connected(self):
        return sum(1 for c in self.clients if c.connected)

    async def settle(self):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            healthy = [await self.deploy.healthy(p) for p in self.deploy.gateway_ports]
            if all(healthy) and self.connected() >= 0.9 * CLIENTS:
                break
            await self.sleep(0.5)
        else:
            self.fail(Breach("the deployment recovers after a fault wave", "gateways %s" % self.deploy.gateway_ports,
                             "90 s after the wave: %d of %d clients connected, healthz %s"
                             % (self.connected(), CLIENTS, healthy)))
        await self.sleep(SETTLE)

    def check_rss(self, k, load):
        """load: each worker's connections now. A worker's connections move between waves (a killed
        worker's clients come back on the other), and its heap with them, so a worker holding more
        than at its baseline may hold proportionally more (self.scale); gateways and the broker serve
        the same clients every wave."""
        now = self.deploy.memory()
        row = {}
        for name in sorted(now):
            p = self.deploy.procs[name]
            rebuild = "broker" in self.restarted and name not in self.met_rebuild
            if name in self.restarted or p.started_at > self.wave_started:
                self.baseline.pop(name, None)            # restarted in this wave: judged after the next
                self.met_rebuild.discard(name)
                row[name] = ("restarted", now[name])
            elif name not in self.baseline or rebuild:
                # the first whole wave it lived through, or the first broker restart it lived through: a
                # rebuild grows the buffers a process reuses (its link's batch, proto/batch.c, doubling up
                # to 256 KiB; the encoders) to their high-water mark once. Measured: a worker's heap
                # +126 kB (+10.7%) in that wave alone.
                self.baseline[name] = now[name]
                self.baseline_load[name] = load.get(name)
                if "broker" in self.restarted:
                    self.met_rebuild.add(name)
                row[name] = (None, now[name])
            else:
                row[name] = (self.baseline[name], now[name])
        self.update_scale(load)
        self.rss_history.append((k, row))
        return row

    def update_scale(self, load):
        for name, n in load.items():
            then = self.baseline_load.get(name)
            self.scale[name] = max(1.0, n / then) if n and then else 1.0

    async def rss_back(self, k):
        """Samples until every process is within tolerance of its baseline, for up to SETTLE s more."""
        deadline = time.monotonic() + SETTLE
        while True:
            row = self.rss_history[-1][1]
            over = {n: (b, a) for n, (b, a) in row.items()
                    if isinstance(b, int) and a is not None and a > b * (1 + TOLERANCE) * self.scale.get(n, 1)}
            if not over:
                return row
            if time.monotonic() > deadline:
                name, (b, a) = sorted(over.items())[0]
                self.fail(Breach("memory returns within %d%% of its baseline after each wave"
                                 % round(TOLERANCE * 100), "%s (pid %s)" % (name, self.deploy.procs[name].pid),
                                 "%s %d kB after wave %d and %.0f s of settling, baseline %d kB (+%.1f%%; allowed "
                                 "x%.2f for its connections, %s then); others: %s; VmRSS %s"
                                 % (self.deploy.measure(), a, k, 2 * SETTLE, b, 100.0 * (a - b) / b,
                                    self.scale.get(name, 1), self.baseline_load.get(name, "-"), self.fmt_rss(row),
                                    self.fmt_kb(self.deploy.rss()))))
            await self.sleep(2)
            self.update_scale(await self.deploy.worker_load())
            now = self.deploy.memory()
            for n in over:
                if n in now:
                    row[n] = (row[n][0], now[n])

    @staticmethod
    def fmt_kb(kbs):
        return ", ".join("%s %.1f MB" % (n, kb / 1024) for n, kb in sorted(kbs.items()) if kb is not None)

    @staticmethod
    def fmt_rss(row):
        out = []
        for n, (b, a) in sorted(row.items()):
            if b == "restarted":
                out.append("%s %.1f MB (restarted)" % (n, a / 1024))
            elif b is None:
                out.append("%s %.1f MB (baseline)" % (n, a / 1024))
            else:
                out.append("%s %.1f->%.1f MB (%+.1f%%)" % (n, b / 1024, a / 1024, 100.0 * (a - b) / b))
        return ", ".join(out)

    # ---- the run ------------------------------------------------------------------------
    async def run(self):
        t_start = time.monotonic()
        if os.path.isdir(os.path.join(VAR, "logs")):
            shutil.rmtree(os.path.join(VAR, "logs"))
        log("soak: %d clients in %d rooms, %d workers, %d gateways (%s, CURVE links), %d s of waves, logs in %s",
            CLIENTS, ROOMS, WORKERS, GATEWAYS, BIN, SECONDS, os.path.relpath(self.deploy.logdir, ROOT))
        await asyncio.to_thread(self.deploy.start)
        self.tokens = []
        for u in range(USERS):
            name = "soak%d" % u
            try:
                self.deploy.admin("createuser", name, "--password", "soak")
            except RuntimeError:
                pass           # kept from an earlier soak in the same cluster
            self.tokens.append(self.deploy.admin("token", name))
        if not await self.deploy.wait_healthy(60):
            raise Breach("the deployment starts", "gateways", "not healthy after 60 s; logs in %s" % self.deploy.logdir)
        self.clients = [ChatClient(i, self.ledger, self.deploy, self.tokens, ROOMS, SEND_INTERVAL, self.stop)
                        for i in range(CLIENTS)]
        self.tasks = [asyncio.ensure_future(c.run()) for c in self.clients]
        for t in self.tasks:
            t.add_done_callback(self.client_done)
        watchdog = asyncio.ensure_future(self.watchdog())
        try:
            await self.sleep(WARMUP)
            log("warm-up done: %d/%d clients connected, %d messages sent, VmRSS %s", self.connected(), CLIENTS,
                self.ledger.sent, self.fmt_kb(self.deploy.rss()))
            t_waves = time.monotonic()
            k = 0
            while k == 0 or time.monotonic() - t_waves < SECONDS:
                await self.wave(k)
                row = await self.rss_back(k)
                sessions = [await self.deploy.sessions(p) for p in self.deploy.gateway_ports]
                log("gateway sessions %s, worker connections %s, for %d clients connected", sessions,
                    await self.deploy.worker_load(), self.connected())
                log("wave %d done (t=%.0f s): %d/%d clients connected, %d connections opened, messages %d sent / "
                    "%d delivered, faults %s, closes %s, max latency %.2f s\n         %s %s%s",
                    k, time.monotonic() - t_waves, self.connected(), CLIENTS, self.ledger.next_conn - 1,
                    self.ledger.sent, self.ledger.delivered, dict(self.faults.counts), dict(self.ledger.closes),
                    self.ledger.max_latency, self.deploy.measure(), self.fmt_rss(row),
                    "" if self.deploy.measure() == "VmRSS" else "\n         VmRSS " + self.fmt_kb(self.deploy.rss()))
                k += 1
            self.waves = k
            # Let the clients leave (each waits for its own copies), then judge every message left.
            self.stop.set()
            await asyncio.wait(self.tasks, timeout=clients.DELIVERY_DEADLINE + 15)
            watchdog.cancel()
            self.ledger.sweep(time.monotonic() + 2 * clients.DELIVERY_DEADLINE)
            self.check()
        finally:
            self.stop.set()
            watchdog.cancel()
            for t in self.tasks if hasattr(self, "tasks") else []:
                t.cancel()
            codes = await asyncio.to_thread(self.deploy.stop)
            await asyncio.to_thread(self.deploy.pg_stop)
        # At exit: every process stopped cleanly, and LeakSanitizer said nothing.
        for p, excerpt in self.deploy.sanitizer_reports():
            raise Breach("no sanitizer report in any log", p.name, "at exit, in %s:\n%s" % (p.log_path, excerpt))
        for name, code in codes.items():
            if code != 0:
                raise Breach("every process stops cleanly on SIGTERM", name,
                             "exit %s; last lines:\n%s" % (code, self.deploy.procs[name].log_tail()))
        self.summary(time.monotonic() - t_start)

    def client_done(self, task):
        if not task.cancelled() and task.exception() is not None and self.failure is None:
            e = task.exception()
            self.failure = e if isinstance(e, Breach) else Breach("the soak's own clients run", "a chat client",
                                                                  repr(e))
            self.stop.set()

    def summary(self, elapsed):
        L = self.ledger
        print("\n==== soak summary (%s, %.0f s in all, %d waves after %.0f s of warm-up)"
              % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), elapsed, self.waves, WARMUP))
        print("deployment: PostgreSQL, 1 broker, %d workers, %d gateways, CURVE links, %s (%s)"
              % (WORKERS, GATEWAYS, BIN, "ASan+UBSan" if self.deploy.sanitized() else "no sanitizer"))
        print("clients: %d chat clients in %d rooms, %d connections opened, a message every ~%.0f s each"
              % (CLIENTS, ROOMS, L.next_conn - 1, SEND_INTERVAL))
        print("messages: %d sent, %d deliveries checked" % (L.sent, L.delivered))
        print("deliveries not made, each legitimate: %s" % (dict(L.excused) or "none"))
        print("delivery latency: p50 %.3f s, p99 %.3f s, max %.3f s"
              % (L.percentile(0.5), L.percentile(0.99), L.max_latency))
        print("faults: %s" % ", ".join("%s %d" % kv for kv in sorted(self.faults.counts.items())))
        print("slow clients closed with 1013 after %s bytes sent; garbage inputs answered as documented: %d"
              % ("/".join(str(b) for b in self.slow_bytes), self.garbage_ok))
        print("closes by code (server side): %s" % ", ".join("%s: %d" % kv for kv in sorted(L.closes.items())))
        for t, code, reason, who in L.unusual:
            print("  %d %r to %s; faults around: %s" % (code, reason, who, self.faults.around(t)))
        print("%s per wave (baseline -> after settling; a baseline is taken after a whole wave, see soak.py):"
              % self.deploy.measure())
        for k, row in self.rss_history:
            print("  wave %d: %s" % (k, self.fmt_rss(row)))
        print("invariants held: no unexpected exit, no sanitizer report, %s within %d%%, no loss, order kept, "
              "every close actionable; SIGTERM at the end: every process exited 0"
              % (self.deploy.measure(), round(TOLERANCE * 100)))


def main():
    soak = Soak()
    try:
        asyncio.run(soak.run())
    except Breach as b:
        print("\n" + str(b), file=sys.stderr)
        print("soak FAILED; logs kept in %s" % os.path.relpath(soak.deploy.logdir, ROOT), file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
