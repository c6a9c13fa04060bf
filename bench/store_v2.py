#!/usr/bin/env python3
"""Store v2 figures, before and after, in one run (bench/README.md, "Store v2").

Runs the relay of two builds under the same load, alternating them round by
round: `--before` is a release build of the commit before Store v2, `--build`
the current one. Variants of the current build add RELAY_SYNC_COMMIT=on and
the default 1 GiB store. Reports medians of server CPU per acknowledged
update, throughput, ack latency, failed acks and, with sync on, flushes per
second and records per flush (from /metrics). Writes bench/results/STORE_V2.md
and store_v2.json.

    bench/store_v2.sh                 # builds both, 3 rounds (about 15 minutes)
    bench/store_v2.py --build build-release --before build-before --rounds 1
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import servers  # noqa: E402

SCENARIOS = [
    # name, loadgen flags
    ("store-256", {"scenario": "store", "connections": 100, "size": 256, "window": 1}),
    ("store-4k", {"scenario": "store", "connections": 100, "size": 4096, "window": 1}),
    ("store-256-w16", {"scenario": "store", "connections": 100, "size": 256, "window": 16}),
]

# label, which build, extra environment, scenarios
VARIANTS = [
    ("before (layout 2)", "before", {}, ["store-256", "store-4k", "store-256-w16"]),
    ("after, sync off", "build", {}, ["store-256", "store-4k", "store-256-w16"]),
    ("after, sync on", "build", {"RELAY_SYNC_COMMIT": "on"}, ["store-256-w16"]),
    # The default capacity: no oversized store needed any more. store-256
    # stays below it (about 0.4 GB in a run); store-4k writes about 1.9 GB in
    # 11 s, more than 1 GiB, so its Failed acks there would be correct.
    ("after, default 1 GiB store", "build", {"RELAY_MAX_STORAGE_BYTES": None}, ["store-256"]),
]


def say(text):
    print(f"[store_v2 {time.strftime('%H:%M:%S')}] {text}", flush=True)


def run(build, loadgen, env_extra, flags, duration, warmup, work_dir, workers):
    saved = dict(servers.RELAY_ENV)
    try:
        for k, v in env_extra.items():
            if v is None:
                servers.RELAY_ENV.pop(k, None)
            else:
                servers.RELAY_ENV[k] = v
        server = servers.Server("relay", build, workers, work_dir)
    finally:
        servers.RELAY_ENV.clear()
        servers.RELAY_ENV.update(saved)
    try:
        before = server.metrics()
        argv = [loadgen, "--target", "relay", "--port", str(server.port),
                "--server-pid", str(server.pid), "--threads", "1", "--duration", str(duration),
                "--warmup", str(warmup)]
        for key, value in flags.items():
            argv += [f"--{key}", str(value)]
        done = subprocess.run(argv, stdout=subprocess.PIPE, timeout=300 + 3 * duration, text=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
        after = server.metrics()
    finally:
        server.stop()
    w = result.get("window", {})
    lat = result.get("latency", {})
    flushes = after.get("relay_store_sync_flushes_total", 0) - before.get("relay_store_sync_flushes_total", 0)
    records = after.get("relay_store_sync_records_total", 0) - before.get("relay_store_sync_records_total", 0)
    wall = w.get("wall_s", 0) + warmup  # flush counters span the warm-up too
    return {
        "ops_per_s": w.get("ops_per_s", 0),
        "cpu_us": w.get("server_cpu_us_per_op", 0),
        "p50_us": lat.get("p50_us", 0),
        "p99_us": lat.get("p99_us", 0),
        "failed": result.get("counters", {}).get("failed_acks", 0),
        "flushes_per_s": flushes / wall if wall > 0 else 0,
        "records_per_flush": records / flushes if flushes > 0 else 0,
    }


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build-release", help="release build of the current tree")
    p.add_argument("--before", default="build-before", help="release build of the commit before Store v2")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--warmup", type=float, default=1)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    args = p.parse_args()
    flags_of = dict(SCENARIOS)
    work_dir = tempfile.mkdtemp(prefix="vauchi-store-v2-")
    results = {}  # (variant, scenario) -> [run]
    runs = [(v, s) for v in VARIANTS for s in v[3]]
    started = time.monotonic()
    for r in range(1, args.rounds + 1):
        for i, (variant, scenario) in enumerate(runs, 1):
            label, which, env, _ = variant
            build = args.build if which == "build" else args.before
            say(f"round {r}/{args.rounds}, run {i}/{len(runs)}: {label}, {scenario} "
                f"({time.monotonic() - started:.0f} s elapsed)")
            res = run(build, os.path.join(args.build, "bench", "loadgen"), env, flags_of[scenario], args.duration, args.warmup, work_dir, args.workers)
            say(f"  {res['ops_per_s']:.0f} acks/s, {res['cpu_us']:.2f} µs/ack, p99 {res['p99_us']:.0f} µs, "
                f"failed {res['failed']}" + (f", {res['flushes_per_s']:.0f} flushes/s, "
                                             f"{res['records_per_flush']:.1f} records/flush" if res['flushes_per_s'] else ""))
            results.setdefault((label, scenario), []).append(res)

    def med(label, scenario, key):
        runs_ = results.get((label, scenario), [])
        return statistics.median(x[key] for x in runs_) if runs_ else None

    lines = ["# Store v2: before and after, same run", "",
             f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, --workers {args.workers}, medians of "
             f"{args.rounds} round(s) of {args.duration:.0f} s; before = `{args.before}`, after = `{args.build}`. "
             "Regenerate with `bench/store_v2.sh` (bench/README.md, \"Store v2\").", "",
             "| Variant | Scenario | acks/s | server µs/ack | p50 µs | p99 µs | failed acks | flushes/s | records/flush |",
             "|---|---|---|---|---|---|---|---|---|"]
    for label, _, _, scen in VARIANTS:
        for s in scen:
            fl = med(label, s, "flushes_per_s")
            lines.append(f"| {label} | {s} | {med(label, s, 'ops_per_s'):.0f} | {med(label, s, 'cpu_us'):.2f} | "
                         f"{med(label, s, 'p50_us'):.0f} | {med(label, s, 'p99_us'):.0f} | "
                         f"{max(x['failed'] for x in results[(label, s)])} | "
                         + (f"{fl:.0f} | {med(label, s, 'records_per_flush'):.1f} |" if fl else "– | – |"))
    lines += ["", "Ratios (after ÷ before, server CPU per ack):", ""]
    for s in ("store-256", "store-4k", "store-256-w16"):
        b, a = med(VARIANTS[0][0], s, "cpu_us"), med(VARIANTS[1][0], s, "cpu_us")
        if b and a:
            lines.append(f"- {s}: {a / b:.3f}")
    off, on = med(VARIANTS[1][0], "store-256-w16", "ops_per_s"), med(VARIANTS[2][0], "store-256-w16", "ops_per_s")
    if off and on:
        lines.append(f"- sync on ÷ sync off throughput, store-256-w16: {on / off:.2f}")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "STORE_V2.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(args.out, "store_v2.json"), "w") as f:
        json.dump({f"{k[0]} | {k[1]}": v for k, v in results.items()}, f, indent=1)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
