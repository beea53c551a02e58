"""The table of `make bench`: reads chanx-bench's JSON lines, prints one
Markdown table with the ratios to the bare server and to Django Channels and
whether each target of issue 7 is met, and writes every raw result with the
machine's description to results.json.

Usage: table.py RESULTS.jsonl RESULTS.json  (env: BENCH_PIN_DESC, BENCH_QUICK)

Reporting only: nothing here runs while a scenario measures.
"""
import json
import os
import platform
import subprocess
import sys

PACKAGES = ["libwebsockets17", "libzmq5", "libczmq4", "libmsgpackc2", "libjansson4", "postgresql",
            "python3-django", "python3-django-channels", "python3-channels-redis", "daphne",
            "python3-djangorestframework", "redis-server", "python3"]

# (label, scenario, field, higher is better, target as (kind, value))
FIGURES = [
    ("echo round trips/s", "echo", "round_trips_per_s", True, ("bare_ratio", 0.5), ("django_ratio", 20)),
    ("echo p99 latency (ms)", "echo", "latency_p99_ms", False, ("max", 5.0), None),
    ("echo p50 latency (ms)", "echo", "latency_p50_ms", False, None, None),
    ("echo round trips/s, idle connections held", "echo_busy", "round_trips_per_s", True, None, None),
    ("echo p99 (ms), idle connections held", "echo_busy", "latency_p99_ms", False, None, None),
    # chanx column: the gateway pinging every idle connection every 5 s (scripts/bench, label chanx_pings)
    ("echo round trips/s, idle held, pinged every 5 s", "echo_busy", "round_trips_per_s", True, None, None,
     "chanx_pings"),
    ("echo p99 (ms), idle held, pinged every 5 s", "echo_busy", "latency_p99_ms", False, None, None, "chanx_pings"),
    ("broadcast deliveries/s", "broadcast", "deliveries_per_s", True, ("django_ratio", 100), None),
    ("broadcast p99 every member (ms)", "broadcast", "all_members_p99_ms", False, ("max", 50.0), None),
    ("broadcast p50 every member (ms)", "broadcast", "all_members_p50_ms", False, None, None),
    ("broadcast deliveries/s, room keeping a history of 100", "broadcast_history", "deliveries_per_s", True,
     ("broadcast_ratio", 0.9), None),
    ("broadcast p99 every member (ms), history kept", "broadcast_history", "all_members_p99_ms", False, None, None),
    ("reconnect storm: ms until every client has its missed pushes", "reconnect_storm", "all_recovered_ms", False,
     None, None),
    ("reconnect storm: clients short of a push or wrong (0 expected)", "reconnect_storm", "lost_clients", False,
     None, None),
    ("reconnect storm: broker CPU us per replayed push", "reconnect_storm", "cpu_us_per_op_broker", False, None,
     None),
    ("publish deliveries/s, passthrough (django: group_send)", "publish", "deliveries_per_s", True,
     ("broadcast_ratio", 0.8), ("django_ratio", 20)),
    ("publish p99 API call to every member (ms)", "publish", "all_members_p99_ms", False, None, None),
    ("publish deliveries/s, receive_event", "publish_receive_event", "deliveries_per_s", True, None, None),
    ("publish receive_event p99 every member (ms)", "publish_receive_event", "all_members_p99_ms", False, None, None),
    ("topics deliveries/s (10 topics of 100 per connection)", "topics", "deliveries_per_s", True,
     ("broadcast_ratio", 0.8), None),
    ("topics delivery p99 (ms)", "topics", "delivery_p99_ms", False, None, None),
    ("topics: bytes per connection for 10 subscriptions", "topics", "subscriptions_bytes_per_connection", False,
     None, None),
    ("repin: innocent connections answered again after a crash, all (ms)", "repin", "all_repinned_ms",
     False, None, None),
    ("repin: p99 per connection (ms)", "repin", "repin_p99_ms", False, None, None),
    ("connect: opened/s", "connect", "connections_per_s", True, ("min", 2000), None),
    ("idle: KiB per connection", "idle", "kib_per_connection", False, ("max", 16.0), None),
    ("recover: a crash until its route is served again, p50 (ms)", "recover", "served_again_p50_ms", False,
     None, None),
    ("recover: a crash until its route is served again, p99 (ms)", "recover", "served_again_p99_ms", False,
     None, None),
]
SERVERS = ["chanx", "bare", "django"]


def machine():
    def run(*cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    model = None
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
    except OSError:
        pass
    versions = {}
    for p in PACKAGES:
        v = run("dpkg-query", "-W", "-f=${Version}", p)
        if v:
            versions[p] = v
    return {"nproc": os.cpu_count(), "cpu": model, "kernel": platform.release(),
            "os": run("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"), "packages": versions}


def fmt(v):
    if v is None:
        return "n/a"
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}"


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


CHANX_BROADCAST = None   # chanx's broadcast deliveries/s, the yardstick of the publish scenario


def verdict(target, chanx, bare, django):
    if not target or chanx is None:
        return None
    kind, value = target
    if kind == "broadcast_ratio":
        r = ratio(chanx, CHANX_BROADCAST)
        return None if r is None else (f"≥{value:g}× chanx broadcast", r >= value)
    if kind == "bare_ratio":
        r = ratio(chanx, bare)
        return None if r is None else (f"≥{value}× bare", r >= value)
    if kind == "django_ratio":
        r = ratio(chanx, django)
        return None if r is None else (f"≥{value}× django", r >= value)
    if kind == "max":
        return (f"< {value:g}", chanx < value)
    return (f"≥ {value:g}", chanx >= value)


WORK_SERVERS = ["chanx-t1", "chanx-t4", "chanx-t16", "django"]


def work_table(by, rows):
    """The work scenario: a consumer blocked 5 ms per message (pg_sleep), chanx at 1, 4 and 16
    worker threads, Django Channels through database_sync_to_async. A server that runs the calls
    one at a time tops out at 200 round trips/s; N threads at N x 200."""
    if not any((s, "work") in by for s in WORK_SERVERS):
        return
    print()
    print("| work: 5 ms blocking call per message | " + " | ".join(WORK_SERVERS) + " |")
    print("|---|" + "---:|" * len(WORK_SERVERS))
    for label, field in (("round trips/s", "round_trips_per_s"), ("p50 (ms)", "latency_p50_ms"),
                         ("p99 (ms)", "latency_p99_ms")):
        vals = {s: by.get((s, "work"), {}).get(field) for s in WORK_SERVERS}
        print(f"| {label} | " + " | ".join(fmt(vals[s]) for s in WORK_SERVERS) + " |")
        rows.append({"figure": "work " + label, "scenario": "work", "field": field, "values": vals})


def curve_table(by):
    """chanx with plain broker links beside chanx with CURVE on them: what encryption costs."""
    if not any(server == "chanx-curve" and not str(scenario).startswith("broker_") for server, scenario in by):
        return []
    rows = []
    print()
    print("| figure | chanx, plain links | chanx, CURVE links | CURVE/plain |")
    print("|---|---:|---:|---:|")
    for label, scenario, field, _higher, _t1, _t2, *variant in FIGURES:
        if variant:   # a variant of chanx's configuration (pings) runs with plain links only
            continue
        plain = by.get(("chanx", scenario), {}).get(field)
        curve = by.get(("chanx-curve", scenario), {}).get(field)
        if plain is None and curve is None:   # a scenario only the plain run has (publish)
            continue
        print(f"| {label} [{scenario}] | {fmt(plain)} | {fmt(curve)} | {fmt(ratio(curve, plain))} |")
        rows.append({"figure": label, "scenario": scenario, "field": field, "plain": plain, "curve": curve})
    return rows


def broker_table(results):
    """chanx-bench broker: the broker alone on one core (docs/scaling.md). "ceiling" is what the
    broker would do with a whole core at the CPU it used per item, whatever the load generator
    managed; "util" is the share of a core it did use."""
    rows = [r for r in results if str(r.get("scenario", "")).startswith("broker_") and "error" not in r]
    if not rows:
        return []
    out = []
    print()
    print("| broker alone (chanx-bench broker) | links | measured /s | broker util | broker us each | "
          "ceiling /s, one core | held: connections, memberships |")
    print("|---|---|---:|---:|---:|---:|---|")

    def line(label, r, rate_field, per_field="broker_cpu_us_per_item", ceiling_field="ceiling_items_per_s"):
        vals = (r.get(rate_field), r.get("broker_cpu_util"), r.get(per_field), r.get(ceiling_field))
        util = f"{vals[1] * 100:.0f}%" if vals[1] is not None else "n/a"
        print(f"| {label} | {r.get('links')} | {fmt(vals[0])} | {util} | {fmt(vals[2])} | {fmt(vals[3])} | "
              f"{r.get('connections'):,}, {r.get('memberships'):,} |")
        out.append({"figure": label, "server": r.get("server"), "links": r.get("links"), "rate": vals[0],
                    "broker_cpu_util": vals[1], "broker_cpu_us_each": vals[2], "ceiling_per_s": vals[3],
                    "connections": r.get("connections"), "memberships": r.get("memberships")})

    for r in rows:
        sc = r["scenario"]
        if sc == "broker_route":
            line("routed envelopes (RECEIVE + SEND)", r, "envelopes_in_per_s", "broker_cpu_us_per_envelope",
                 "ceiling_envelopes_in_per_s")
        elif sc == "broker_held":
            line(f"routed envelopes, step {r.get('step')}", r, "envelopes_in_per_s", "broker_cpu_us_per_envelope",
                 "ceiling_envelopes_in_per_s")
        elif sc == "broker_fanout":
            line(f"group sends, group of {r.get('group_size'):,} on {r.get('gateways_holding')} gateways", r,
                 "group_sends_per_s")
        elif sc in ("broker_connect", "broker_join", "broker_disconnect"):
            line(sc[7:] + "s", r, "items_per_s")
    for r in rows:
        if r["scenario"] == "broker_gateway_lost":
            print(f"\n{r.get('server')} ({r.get('links')}): a gateway lost with {r.get('connections_lost'):,} "
                  f"connections ({r.get('memberships_lost'):,} memberships) cost the broker "
                  f"{fmt(r.get('broker_cpu_ms'))} ms of CPU in one go")
            out.append({"figure": "gateway lost", "server": r.get("server"), "links": r.get("links"),
                        "connections_lost": r.get("connections_lost"), "broker_cpu_ms": r.get("broker_cpu_ms")})
    for r in rows:
        if r["scenario"] == "broker_history_memory":
            print(f"\n{r.get('server')}: history of {r.get('groups'):,} groups x {r.get('messages_per_group')} "
                  f"messages of {r.get('message_bytes')} bytes: broker memory {fmt(r.get('broker_mb'))} MB, "
                  f"{fmt(r.get('broker_bytes_per_held_message'))} bytes per held message")
            out.append({"figure": "history memory", "server": r.get("server"), "groups": r.get("groups"),
                        "broker_mb": r.get("broker_mb"),
                        "bytes_per_held_message": r.get("broker_bytes_per_held_message")})
    mem = [r for r in rows if r["scenario"] in ("broker_connect", "broker_join")]
    for r in mem:
        key = "bytes_per_connection" if r["scenario"] == "broker_connect" else "bytes_per_membership"
        if r.get(key) is not None:
            print(f"\n{r.get('server')} ({r.get('links')}): broker memory {fmt(r[key])} {key.replace('_', ' ')}")
            out.append({"figure": key, "server": r.get("server"), "links": r.get("links"), "value": r[key]})
    return out


def idle_scale_table(results):
    """chanx-bench idle_scale: KiB per idle connection of each process (its VmRSS growth over every
    connection held, so the processes' figures add up), the kernel's share and the load's."""
    rows = [r for r in results if r.get("scenario") == "idle_scale" and "error" not in r]
    out = []
    for r in rows:
        procs = {k[len("kib_per_connection_"):]: v for k, v in r.items() if k.startswith("kib_per_connection_")}
        print(f"\nidle_scale: {r.get('opened'):,} connections over {r.get('gateways')} gateways from "
              f"{r.get('load_processes')} load processes (dropped {r.get('dropped')})")
        print("| KiB per connection | " + " | ".join(procs) + " | servers | kernel (half of both ends) | total | "
              "load processes |")
        print("|---|" + "---:|" * (len(procs) + 4))
        print(f"| VmRSS growth | " + " | ".join(fmt(v) for v in procs.values()) +
              f" | {fmt(r.get('kib_per_connection'))} | {fmt(r.get('kernel_kib_per_connection'))} | "
              f"{fmt(r.get('total_kib_per_connection'))} | {fmt(r.get('load_kib_per_connection'))} |")
        out.append({"connections": r.get("opened"), "per_process": procs,
                    **{k: r.get(k) for k in ("kib_per_connection", "pss_kib_per_connection", "kernel_kib_per_connection",
                                             "total_kib_per_connection", "load_kib_per_connection")}})
    return out


def main():
    raw, out = sys.argv[1], sys.argv[2]
    results = []
    with open(raw) as f:
        for line in f:
            line = line.strip()
            if line:
                results.append(json.loads(line))
    by = {(r.get("server"), r.get("scenario")): r for r in results}
    global CHANX_BROADCAST
    CHANX_BROADCAST = by.get(("chanx", "broadcast"), {}).get("deliveries_per_s")

    rows = []
    print()
    print("| figure | chanx | bare | django | chanx/bare | chanx/django | target | met |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for label, scenario, field, _higher, t1, t2, *chanx_label in FIGURES:
        label_of = {s: s for s in SERVERS}
        if chanx_label:   # a variant of chanx's configuration in the chanx column; no peers beside it
            label_of = {"chanx": chanx_label[0], "bare": None, "django": None}
        vals = {s: by.get((label_of[s], scenario), {}).get(field) for s in SERVERS}
        n = {s: by.get((label_of[s], scenario), {}).get("opened") for s in SERVERS}
        c, b, d = vals["chanx"], vals["bare"], vals["django"]
        if c is None and b is None and d is None:   # a scenario this run left out (BENCH_SCENARIOS)
            continue
        checks = [v for v in (verdict(t1, c, b, d), verdict(t2, c, b, d)) if v]
        met = ", ".join(("yes" if ok else "NO") for _, ok in checks) or ""
        tgt = ", ".join(t for t, _ in checks) or ""
        conns = "/".join(str(n[s]) for s in SERVERS if n[s] is not None)
        print(f"| {label} [{scenario} n={conns}] | {fmt(c)} | {fmt(b)} | {fmt(d)} | "
              f"{fmt(ratio(c, b)) if field.endswith('_per_s') else ''} | "
              f"{fmt(ratio(c, d)) if field.endswith('_per_s') else ''} | {tgt} | {met} |")
        rows.append({"figure": label, "scenario": scenario, "field": field, "values": vals, "connections": n,
                     "targets": [{"target": t, "met": ok} for t, ok in checks]})
    work_table(by, rows)
    curve = curve_table(by)
    broker = broker_table(results)
    idle_scale = idle_scale_table(results)
    errors = [r for r in results if "error" in r]
    for r in errors:
        print(f"\n{r['scenario']} on {r['server']}: {r['error']}")
    with open(out, "w") as f:
        json.dump({"machine": machine(), "quick": os.environ.get("BENCH_QUICK") == "1",
                   "pinning": os.environ.get("BENCH_PIN_DESC"), "table": rows, "curve": curve, "broker": broker,
                   "idle_scale": idle_scale,
                   "results": results}, f, indent=2)
    print(f"\nraw results: {out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
