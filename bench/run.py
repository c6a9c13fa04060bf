#!/usr/bin/env python3
"""Runs the benchmark (bench/README.md; called by bench/run.sh after the build).

For each worker count and each scenario of plan.py it starts the floor, runs
the load generator against it, stops it, then does the same with the relay,
so the two figures of a row are measured minutes apart under the same
background load. Raw reports go to bench/results/results.json; report.py turns
them into RESULTS.md and the plots.
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import plan  # noqa: E402
import report  # noqa: E402
from servers import Server  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def say(text):
    print(f"bench: {text}", file=sys.stderr, flush=True)


def load_cdf(path, points=200):
    """A downsampled CDF (quantile, µs) kept in results.json for the plots."""
    if not os.path.exists(path):
        return None
    with open(path) as f:
        rows = [(float(q), float(v)) for q, v in list(csv.reader(f))[1:]]
    step = max(1, len(rows) // points)
    kept = rows[::step]
    tail = [r for r in rows if r[0] > 0.99]
    return sorted(set(kept + tail))


def run_loadgen(args, entry, server, workers, work_dir):
    flags = plan.scenario_args(entry, args.quick)
    cdf_path = os.path.join(work_dir, f"{entry['name']}-{server.kind}-w{workers}.csv")
    argv = [os.path.join(args.build, "bench", "loadgen"), "--scenario", entry["scenario"],
            "--target", server.kind, "--port", str(server.port), "--server-pid", str(server.pid),
            "--threads", str(args.threads), "--cdf", cdf_path]
    for key, value in flags.items():
        argv += [f"--{key}", str(value)]
    # Bounded: the generator has its own deadlines; this is the backstop.
    timeout = entry.get("timeout", 300) + 3 * float(flags.get("duration", 10))
    done = subprocess.run(argv, stdout=subprocess.PIPE, timeout=timeout, text=True)
    if not done.stdout.strip():
        raise RuntimeError(f"loadgen printed no report (exit {done.returncode})")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["cdf"] = load_cdf(cdf_path) if entry.get("cdf") else None
    return result


def run_one(args, entry, kind, workers, work_dir):
    say(f"{entry['name']} workers={workers} {kind}: starting the server")
    server = Server(kind, args.build, workers, work_dir, entry.get("relay_env", {}) if kind == "relay" else {})
    try:
        before = server.metrics() if entry["scenario"] == "overhead" else {}
        say(f"{entry['name']} workers={workers} {kind}: port {server.port}, pid {server.pid}; running the load")
        result = run_loadgen(args, entry, server, workers, work_dir)
        if entry["scenario"] == "overhead":
            after = server.metrics()
            result["store_metrics"] = {
                "used_bytes_delta": after.get("relay_store_used_bytes", 0) - before.get("relay_store_used_bytes", 0),
                "data_bytes_delta": after.get("relay_store_data_bytes", 0) - before.get("relay_store_data_bytes", 0),
                "used_bytes": after.get("relay_store_used_bytes", 0),
                "data_bytes": after.get("relay_store_data_bytes", 0),
            }
    finally:
        server.stop()
    result["workers"] = workers
    result["name"] = entry["name"]
    w = result.get("window", {})
    say(f"{entry['name']} workers={workers} {kind}: {w.get('ops_per_s', 0):.0f} ops/s, "
        f"server {w.get('server_cpu_us_per_op', 0):.1f} µs/op, generator cpu {w.get('generator_cpu_pct', 0):.0f}%"
        + (f"  ERROR: {result['error']}" if "error" in result else ""))
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build", default="build-release", help="meson build directory with the release binaries")
    p.add_argument("--quick", action="store_true", help="a few seconds per scenario (smoke run)")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    p.add_argument("--only", default="", help="comma-separated scenario names of plan.py")
    p.add_argument("--threads", type=int, default=1, help="load-generator threads (1 or 2)")
    p.add_argument("--rounds", type=int, default=None,
                   help="run every scenario this many times and report medians (default 3; --quick: 1)")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="where RESULTS.md and the plots go")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory (server logs, CDF files)")
    args = p.parse_args()
    workers = [int(w) for w in args.workers.split(",") if w]
    only = {n for n in args.only.split(",") if n}
    entries = [e for e in plan.SCENARIOS if not only or e["name"] in only]
    rounds = args.rounds if args.rounds else (1 if args.quick else 3)
    # Whole rounds one after the other: a slow spell of the shared machine then
    # lands in one round of many scenarios, and the medians set it aside.
    runs = [(e, w, k, r) for r in range(1, rounds + 1) for w in workers for e in entries
            if w in e.get("workers", workers) for k in (["relay"] if e.get("relay_only") else ["floor", "relay"])]
    os.makedirs(args.out, exist_ok=True)
    work_dir = tempfile.mkdtemp(prefix="vauchi-bench-")
    say(f"{len(runs)} runs in {rounds} round(s) ({'quick' if args.quick else 'full'}); scratch in {work_dir}")
    started = time.monotonic()
    results = []
    for i, (entry, w, kind, round_no) in enumerate(runs, 1):
        say(f"[{i}/{len(runs)}] round {round_no}: {entry['title']}, --workers {w}, {kind} "
            f"({time.monotonic() - started:.0f} s elapsed)")
        try:
            result = run_one(args, entry, kind, w, work_dir)
        except Exception as e:  # one failed run must not lose the others
            say(f"{entry['name']} workers={w} {kind} FAILED: {e}")
            result = {"name": entry["name"], "workers": w, "target": kind, "error": str(e)}
        result["round"] = round_no
        results.append(result)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "mode": "quick" if args.quick else "full",
        "cpus": os.cpu_count(),
        "loadavg_end": os.getloadavg(),
        "generator_threads": args.threads,
        "rounds": rounds,
        "elapsed_s": time.monotonic() - started,
        "commit": subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip(),
    }
    # One run per line: a new run of the benchmark changes lines, not the whole file's layout.
    with open(os.path.join(args.out, "results.json"), "w") as f:
        f.write('{"meta": ' + json.dumps(meta) + ',\n "results": [\n')
        f.write(",\n".join(json.dumps(r, separators=(",", ":")) for r in results))
        f.write("\n]}\n")
    report.write_all(args.out)
    failed = any("error" in r for r in results)
    if args.keep or failed:
        say(f"server logs and CDF files kept in {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    say(f"done in {meta['elapsed_s']:.0f} s: {os.path.join(args.out, 'RESULTS.md')}")
    if failed:
        # The figures are never judged here, but a run that could not be made
        # means the benchmark itself is broken: fail, so that CI sees it.
        names = sorted({f"{r['name']} w{r['workers']} {r['target']}" for r in results if "error" in r})
        say(f"{len(names)} run(s) failed: {', '.join(names)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
