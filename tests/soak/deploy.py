"""The soak's deployment: a real Chanx stack on this machine, supervised.

One private PostgreSQL cluster (scripts/pg-cluster), one broker, N workers and
M gateways from the sanitized build (build-san/), CURVE keys made by
`chanx-admin keygen` as a deployment makes them. Every process is a child of
the controller (PR_SET_PDEATHSIG: they die with it) and writes its stderr to
var/soak/logs/<name>.log; a restarted process appends to the same file after a
marker line, so one file tells a process's whole story.

What this module checks, for soak.py to act on:
  - exits: a child that exited without the soak having killed it (poll());
  - sanitizer reports: every log is read incrementally for AddressSanitizer,
    LeakSanitizer and UBSan's "runtime error:" lines;
  - memory: VmRSS from /proc/<pid>/status on the plain build; on a sanitized
    build the heap in use, which tests/soak/heap_probe.c (preloaded) writes
    to var/soak/heap/<pid> (why: its head comment). A worker is its
    supervisor and the worker processes it started, summed.
It never decides what is a failure: it reports facts with the evidence.
"""
import asyncio
import ctypes
import json
import os
import shutil
import signal
import subprocess
import time

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "WARNING: AddressSanitizer", "SUMMARY: UndefinedBehaviorSanitizer")

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def _heap_kib(heapdir, pid):
    try:
        with open(os.path.join(heapdir, str(pid))) as f:
            return int(f.read()) // 1024
    except (OSError, ValueError):
        return None


def _children(pid):
    """The pids whose parent is pid (this kernel has no /proc/<pid>/task/<pid>/children)."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                out.append(int(entry))
    return out


def sum_known(values):
    """The sum of the values that are known; None when none is."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


class Proc:
    """One long-lived process of the deployment, restartable under the same name."""

    def __init__(self, deploy, name, program, argv, env):
        self.deploy, self.name, self.program, self.argv, self.env = deploy, name, program, argv, env
        self.popen = None
        self.starts = 0
        self.expect_exit = False       # set just before the soak kills it
        self.log_path = os.path.join(deploy.logdir, name + ".log")
        self.log_offset = 0            # how far the sanitizer scan has read
        self.started_at = 0.0

    def start(self):
        self.starts += 1
        with open(self.log_path, "a") as log:
            log.write("==== soak: start #%d of %s at %.3f\n" % (self.starts, self.name, time.time()))
            log.flush()
            self.popen = subprocess.Popen([os.path.join(self.deploy.bin, self.program)] + self.argv,
                                          env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                          preexec_fn=_die_with_parent, cwd=self.deploy.root)
        self.expect_exit = False
        self.started_at = time.monotonic()

    @property
    def pid(self):
        return self.popen.pid if self.popen else None

    def alive(self):
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig=signal.SIGKILL):
        """Kills it on purpose and reaps it: its exit is then not a crash."""
        self.expect_exit = True
        if self.alive():
            self.popen.send_signal(sig)
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait()

    def rss_kib(self):
        return sum_known(_rss_kib(pid) for pid in self.pids())

    def heap_kib(self):
        """The heap in use (kB) as heap_probe.c last wrote it, None until it has."""
        return sum_known(_heap_kib(self.deploy.heapdir, pid) for pid in self.pids())

    def pids(self):
        """This process and its children (a worker's supervisor starts the worker processes)."""
        if self.popen is None:
            return []
        return [self.popen.pid] + _children(self.popen.pid)

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return ""


class Deployment:
    def __init__(self, root, bin_dir, var, pg_port, port_base, workers, gateways, extra_env):
        self.root, self.bin = root, os.path.join(root, bin_dir)
        self.var = var
        self.logdir = os.path.join(var, "logs")
        self.pgdir = os.path.join(var, "pg")
        self.keys = os.path.join(var, "keys")
        self.pg_port = pg_port
        self.broker_endpoint = "tcp://127.0.0.1:%d" % (port_base + 10)
        self.gateway_ports = [port_base + 1 + i for i in range(gateways)]
        self.worker_metrics_ports = [port_base + 20 + i for i in range(workers)]
        self.nworkers = workers
        self.extra_env = extra_env
        self.procs = {}
        self.database_url = None
        self.heapdir = os.path.join(var, "heap")
        self.heap_probe = None         # the preloaded probe's path, on a sanitized build (start)

    # ---- PostgreSQL -------------------------------------------------------------------
    def _pg(self, verb):
        out = subprocess.run([os.path.join(self.root, "scripts/pg-cluster"), verb, self.pgdir, str(self.pg_port)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("scripts/pg-cluster %s failed: %s" % (verb, out.stderr.strip()))
        return out.stdout.strip()

    def pg_start(self):
        self.database_url = self._pg("start")

    def pg_stop(self):
        self._pg("stop")

    def admin(self, *args):
        env = dict(os.environ, CHANX_DATABASE_URL=self.database_url)
        out = subprocess.run([os.path.join(self.bin, "chanx-admin")] + list(args), env=env,
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("chanx-admin %s failed: %s" % (" ".join(args), out.stderr.strip()))
        return out.stdout.strip()

    # ---- the stack ----------------------------------------------------------------------
    def _env(self, extra):
        env = dict(os.environ)
        env.update({
            "CHANX_BROKER": self.broker_endpoint,
            "CHANX_DATABASE_URL": self.database_url,
            "CHANX_CURVE_DIR": self.keys,
            "CHANX_PLUGINS": os.path.join(self.bin, "plugins"),
            "CHANX_LOG_LEVEL": "warning",
        })
        env.update(self.extra_env)
        env.update(extra)
        if self.heap_probe:
            # The probe ahead of the programs' own libasan: allowed by verify_asan_link_order=0 (it
            # only reads the allocator's counter, it intercepts nothing).
            env["LD_PRELOAD"] = self.heap_probe
            env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"
            env["SOAK_HEAP_DIR"] = self.heapdir
        return env

    def _build_heap_probe(self):
        """Compiles tests/soak/heap_probe.c for a sanitized build (cc is a build dependency)."""
        shutil.rmtree(self.heapdir, ignore_errors=True)   # no number of an earlier soak's pid
        os.makedirs(self.heapdir)
        so = os.path.join(self.var, "heap_probe.so")
        out = subprocess.run(["cc", "-O1", "-fPIC", "-shared", "-o", so,
                              os.path.join(self.root, "tests/soak/heap_probe.c"), "-lpthread"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError("building tests/soak/heap_probe.c failed: %s" % out.stderr.strip())
        self.heap_probe = so

    def _add(self, name, program, argv, extra_env=None):
        self.procs[name] = Proc(self, name, program, argv, self._env(extra_env or {}))
        return self.procs[name]

    def start(self):
        os.makedirs(self.logdir, exist_ok=True)
        if self.sanitized():
            self._build_heap_probe()
        self.pg_start()
        self.admin("migrate")
        self.admin("keygen", self.keys)
        self._add("broker", "chanx-broker", []).start()
        for i in range(self.nworkers):
            cache = os.path.join(self.var, "plugin-cache-worker%d" % i)
            os.makedirs(cache, exist_ok=True)
            self._add("worker%d" % i, "chanx-worker", [],
                      {"CHANX_HEALTH_FILE": os.path.join(self.var, "worker%d.alive" % i),
                       "CHANX_PLUGIN_CACHE": cache,
                       "CHANX_METRICS_LISTEN": "127.0.0.1:%d" % self.worker_metrics_ports[i]}).start()
        for i, port in enumerate(self.gateway_ports):
            self._add("gateway%d" % i, "chanx-gateway", ["--listen", "127.0.0.1:%d" % port]).start()

    def gateway_of(self, index):
        return self.procs["gateway%d" % index]

    async def _healthz(self, port, timeout):
        """GET /healthz on a gateway: (status line, body), or None when it does not answer."""
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        except (OSError, asyncio.TimeoutError):
            return None
        try:
            w.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = await asyncio.wait_for(r.read(), timeout)
            head, _, body = data.partition(b"\r\n\r\n")
            return head.split(b"\r\n", 1)[0], body
        except (OSError, asyncio.TimeoutError):
            return None
        finally:
            w.close()

    async def healthy(self, port, timeout=1.0):
        """200 on /healthz: a broker link and routes."""
        answer = await self._healthz(port, timeout)
        return answer is not None and b" 200 " in answer[0] + b" "

    async def sessions(self, port, timeout=2.0):
        """The gateway's own count of its sessions (GET /healthz "connections"), None if it does not answer."""
        answer = await self._healthz(port, timeout)
        try:
            return json.loads(answer[1])["connections"] if answer else None
        except (KeyError, ValueError):
            return None
        try:
            w.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = await asyncio.wait_for(r.read(), timeout)
            body = data.split(b"\r\n\r\n", 1)[1]
            return json.loads(body)["connections"]
        except (OSError, asyncio.TimeoutError, IndexError, KeyError, ValueError):
            return None
        finally:
            w.close()

    async def worker_load(self, timeout=2.0):
        """Each live worker's connections (its chanx_worker_consumer_instances), {name: n}."""
        load = {}
        for i, port in enumerate(self.worker_metrics_ports):
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
            except (OSError, asyncio.TimeoutError):
                continue
            try:
                w.write(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                text = (await asyncio.wait_for(r.read(), timeout)).decode(errors="replace")
                load["worker%d" % i] = sum(int(float(line.rsplit(" ", 1)[1])) for line in text.splitlines()
                                           if line.startswith("chanx_worker_consumer_instances"))
            except (OSError, asyncio.TimeoutError, ValueError, IndexError):
                pass
            finally:
                w.close()
        return load

    async def wait_healthy(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            oks = [await self.healthy(p) for p in self.gateway_ports]
            if all(oks):
                return True
            await asyncio.sleep(0.3)
        return False

    def stop(self, sig=signal.SIGTERM):
        """Stops every process (gateways first, as a deployment drains), returning {name: returncode}."""
        codes = {}
        order = sorted(self.procs.values(), key=lambda p: (not p.name.startswith("gateway"),
                                                           p.name.startswith("broker")))
        for p in order:
            if p.alive():
                p.expect_exit = True
                p.popen.send_signal(sig)
                try:
                    p.popen.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.popen.kill()
                    p.popen.wait()
                    codes[p.name] = "hung on SIGTERM (killed)"
                    continue
                codes[p.name] = p.popen.returncode
        return codes

    # ---- facts for the invariants -------------------------------------------------------
    def unexpected_exits(self):
        """[(proc, returncode)] of children that exited while nobody meant them to."""
        return [(p, p.popen.returncode) for p in self.procs.values()
                if p.popen is not None and not p.expect_exit and p.popen.poll() is not None]

    def sanitizer_reports(self):
        """[(proc, excerpt)] of new sanitizer lines in the logs since the last call."""
        found = []
        for p in self.procs.values():
            try:
                with open(p.log_path, "rb") as f:
                    f.seek(p.log_offset)
                    data = f.read()
            except OSError:
                continue
            # Only whole lines: a report being written is read again next time.
            end = data.rfind(b"\n") + 1
            text = data[:end].decode(errors="replace")
            p.log_offset += end
            for mark in SANITIZER_MARKS:
                at = text.find(mark)
                if at >= 0:
                    found.append((p, text[max(0, at - 200):at + 3000]))
                    break
        return found

    def sanitized(self):
        """Whether the programs were built with AddressSanitizer (SOAK_BIN=build is the plain build)."""
        with open(os.path.join(self.bin, "chanx-gateway"), "rb") as f:
            return b"__asan_init" in f.read()

    def rss(self):
        return {name: p.rss_kib() for name, p in self.procs.items() if p.alive()}

    def measure(self):
        """The name of what memory() returns."""
        return "heap in use" if self.heap_probe else "VmRSS"

    def memory(self):
        """What the memory invariant judges, per process (kB): the heap in use on a sanitized build
        (None until the probe has written), else VmRSS."""
        if self.heap_probe:
            heaps = {name: p.heap_kib() for name, p in self.procs.items() if p.alive()}
            return {name: kb for name, kb in heaps.items() if kb is not None}
        return self.rss()
