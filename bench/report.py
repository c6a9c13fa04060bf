#!/usr/bin/env python3
"""Turns bench/results/results.json into RESULTS.md and the PNG plots.

Run by run.py at the end of a benchmark; can be re-run alone:
    python3 bench/report.py [bench/results]
"""

import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import plan  # noqa: E402
import svg_plot  # noqa: E402

T = plan.TARGETS
# A generator thread this busy sets the pace itself (one thread: 100 % is one core).
GENERATOR_BOUND_PCT = 90


def num(x, digits=0):
    if x is None:
        return "—"
    text = f"{x:,.{digits}f}"
    return text.replace(",", " ")


def ratio(a, b, digits=2):
    return f"{a / b:.{digits}f}×" if a is not None and b else "—"


def median_merge(values):
    """Numbers become their median over `values`; dicts merge key by key;
    anything else (text, lists) is taken from the first."""
    first = values[0]
    if all(v == first for v in values):
        return first  # parameters, and anything the rounds agree on, keep their type
    if isinstance(first, dict):
        return {k: median_merge([v[k] for v in values if isinstance(v, dict) and k in v]) for k in first}
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return statistics.median(v for v in values if isinstance(v, (int, float)))
    return first


def median_result(runs):
    """One result standing for the rounds of a (scenario, workers, server):
    every figure is its median over the rounds, so that one round disturbed by
    the shared machine moves no verdict. The latency CDF is the one of the
    round whose p99 is the median."""
    if len(runs) == 1:
        return runs[0]
    merged = median_merge(runs)
    by_p99 = sorted(runs, key=lambda r: (r.get("latency") or {}).get("p99_us") or 0)
    merged["cdf"] = by_p99[len(by_p99) // 2].get("cdf")
    merged["rounds"] = len(runs)
    return merged


class Results:
    def __init__(self, data):
        self.meta = data["meta"]
        self.raw = data["results"]
        runs = {}
        for r in data["results"]:
            if "error" not in r:
                runs.setdefault((r["name"], r["workers"], r.get("target")), []).append(r)
        self.by_key = {key: median_result(rs) for key, rs in runs.items()}
        self.workers = sorted({r["workers"] for r in data["results"]})
        self.rounds = max((r.get("round", 1) for r in data["results"]), default=1)

    def get(self, name, workers, kind):
        return self.by_key.get((name, workers, kind))


def size_text(n):
    return f"{n // 1024} KiB" if n >= 1024 and n % 1024 == 0 else f"{n} B"


def describe(res, name):
    """A row label from the parameters the scenario actually ran with."""
    r = next((x for x in res.by_key.values() if x.get("name") == name and "params" in x), None)
    if r is None:
        return name
    p = r["params"]
    kind = r["scenario"]
    if kind == "store":
        return f"store {size_text(p['size'])}, {num(p['connections'])} conns, W={p['window']}"
    if kind == "deliver":
        return f"deliver {size_text(p['size'])}, {p['connections']} recipients × {p['blobs']} blobs"
    if kind == "connect":
        return f"connect+upgrade+handshake+close, {p['connections']} loops"
    if kind == "idle":
        return f"idle, {num(p['connections'])} handshaken conns"
    if kind == "push":
        return f"live push {size_text(p['size'])}, {p['connections']} pairs, {num(p['rate'])}/s offered"
    return name


def ops(r):
    return r["window"]["ops_per_s"] if r else None


def cpu(r):
    return r["window"]["server_cpu_us_per_op"] if r else None


def lat(r, key="p99_us", field="latency"):
    return r[field][key] if r and r.get(field) and r[field].get("count") else None


def verdict(ok, floor_ok=None):
    """pass/FAIL for the relay; a FAIL where the floor misses the same absolute
    target says so, since then the machine, not the relay, sets the figure."""
    if ok is None:
        return "—"
    if ok:
        return "**pass**"
    return "**FAIL** (the floor misses it too)" if floor_ok is False else "**FAIL**"


def main_rows(res):
    """Rows of the main table: one per measure and worker count."""
    rows = []

    def throughput_row(name, label, unit, target_text=None, limit=None):
        for w in res.workers:
            rel, flo = res.get(name, w, "relay"), res.get(name, w, "floor")
            if not rel and not flo:
                continue
            cr = cpu(rel) / cpu(flo) if rel and flo and cpu(flo) else None
            rows.append([f"{label}: {unit}", w, num(ops(rel)), num(ops(flo)), ratio(ops(rel), ops(flo)),
                         num(cpu(rel), 1), num(cpu(flo), 1), ratio(cpu(rel), cpu(flo)),
                         target_text or "—", verdict(cr <= limit if cr is not None and limit else None)])

    def latency_row(name, label, key, target_text=None, limit_us=None, field="latency"):
        for w in res.workers:
            rel, flo = res.get(name, w, "relay"), res.get(name, w, "floor")
            if not rel and not flo:
                continue
            a, b = lat(rel, key, field), lat(flo, key, field)
            ok = a <= limit_us if a is not None and limit_us else None
            floor_ok = b <= limit_us if b is not None and limit_us else None
            rows.append([label, w, num(a / 1000 if a else None, 2) + " ms", num(b / 1000 if b else None, 2) + " ms",
                         ratio(a, b), "", "", "", target_text or "—", verdict(ok, floor_ok)])

    throughput_row("store-256", describe(res, "store-256"), "acked updates/s",
                   f"CPU/op ≤ {T['cpu_store_256']}× floor", T["cpu_store_256"])
    latency_row("store-256", describe(res, "store-256") + ": p99 ack latency", "p99_us",
                f"p99 ≤ {T['p99_store_256_ms']:g} ms", T["p99_store_256_ms"] * 1000)
    throughput_row("store-4k", describe(res, "store-4k"), "acked updates/s",
                   f"CPU/op ≤ {T['cpu_store_4k']}× floor", T["cpu_store_4k"])
    throughput_row("store-4k-overload", describe(res, "store-4k-overload"), "acked updates/s")
    # Pipelined, and the same load on a cold store and on the memory backend,
    # each against the one floor run of its size (plan.py, "floor_of").
    for entry in plan.SCENARIOS:
        if not entry.get("pipelined"):
            continue
        floor_name = entry.get("floor_of", entry["name"])
        for w in res.workers:
            rel, flo = res.get(entry["name"], w, "relay"), res.get(floor_name, w, "floor")
            if not rel:
                continue
            rows.append([entry["title"] + ": acked updates/s", w, num(ops(rel)), num(ops(flo)), ratio(ops(rel), ops(flo)),
                         num(cpu(rel), 1), num(cpu(flo), 1), ratio(cpu(rel), cpu(flo)), "—", verdict(None)])
    for w in res.workers:
        rel, flo = res.get("store-4k-overload", w, "relay"), res.get("store-4k-overload", w, "floor")
        if not rel and not flo:
            continue
        tail = [lat(r, "p99_us") / lat(r, "p50_us") if lat(r, "p50_us") else None for r in (rel, flo)]
        rows.append([describe(res, "store-4k-overload") + ": p99/p50 of ack latency", w, num(tail[0], 1), num(tail[1], 1),
                     ratio(tail[0], tail[1]), "", "", "", f"p99/p50 ≤ {T['tail_overload']:g}",
                     verdict(tail[0] <= T["tail_overload"] if tail[0] is not None else None)])
    throughput_row("deliver-256", describe(res, "deliver-256"), "blobs/s",
                   f"CPU/blob ≤ {T['cpu_deliver']}× floor", T["cpu_deliver"])
    throughput_row("connect", describe(res, "connect"), "cycles/s",
                   f"CPU/cycle ≤ {T['cpu_connect']}× floor", T["cpu_connect"])
    for w in res.workers:
        # The PROXY header's cost: the relay against itself, not the floor.
        with_header, without = res.get("connect-proxy", w, "relay"), res.get("connect", w, "relay")
        if not with_header or not without:
            continue
        cr = cpu(with_header) / cpu(without) if cpu(without) else None
        rows.append(["PROXY v2 header, " + describe(res, "connect-proxy") + ": relay with ÷ without it", w, num(ops(with_header)),
                     num(ops(without)), ratio(ops(with_header), ops(without)), num(cpu(with_header), 1),
                     num(cpu(without), 1), ratio(cpu(with_header), cpu(without)),
                     f"CPU/cycle ≤ {T['proxy_header_cost']}× without",
                     verdict(cr <= T["proxy_header_cost"] if cr is not None else None)])
    for w in res.workers:
        rel, flo = res.get("idle", w, "relay"), res.get("idle", w, "floor")
        if not rel and not flo:
            continue
        kib = [r["per_connection"]["pss"] / 1024 if r else None for r in (rel, flo)]
        rows.append([describe(res, "idle") + ": server KiB/conn (Pss)", w, num(kib[0], 2), num(kib[1], 2),
                     ratio(kib[0], kib[1]), num(cpu(rel), 1), num(cpu(flo), 1), ratio(cpu(rel), cpu(flo)),
                     f"≤ {T['idle_kib']:g} KiB/conn", verdict(kib[0] <= T["idle_kib"] if kib[0] is not None else None)])
    throughput_row("push-256", describe(res, "push-256"), "pushes/s")
    latency_row("push-256", "live push: p99 end-to-end latency", "p99_us")
    for w in res.workers:
        rel = res.get("overhead", w, "relay")
        if not rel:
            continue
        held = rel["counters"]["stored_bytes"]
        used = rel["store_metrics"]["used_bytes_delta"]
        over = used / held if held else None
        rows.append(["store overhead: bytes in use ÷ ciphertext held (100 B – 64 KiB mix)", w, num(over, 3) + "×",
                     "", "", "", "", "", f"≤ {T['store_overhead']}×",
                     verdict(over <= T["store_overhead"] if over is not None else None)])
    if len(res.workers) >= 2:
        lo, hi = res.workers[0], res.workers[-1]
        for name, label in [("store-256", "store 256 B"), ("store-4k-overload", "store 4 KiB overload"),
                            ("deliver-256", "deliver"), ("connect", "connect")]:
            g = [ops(res.get(name, hi, k)) / ops(res.get(name, lo, k))
                 if res.get(name, hi, k) and res.get(name, lo, k) else None for k in ("relay", "floor")]
            ok = g[0] >= T["scaling_vs_floor"] * g[1] if g[0] is not None and g[1] is not None else None
            rows.append([f"scaling {label}: throughput w{hi} ÷ w{lo}", f"{lo}→{hi}", num(g[0], 2) + "×",
                         num(g[1], 2) + "×", ratio(g[0], g[1]), "", "", "",
                         f"grows like the floor (≥ {T['scaling_vs_floor']}× its growth)", verdict(ok)])
    return rows


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


MAIN_HEADER = ["Measure", "Workers", "Relay", "Floor", "Relay ÷ floor", "Server CPU µs/op relay", "floor",
               "CPU ratio", "Target", "Result"]


def latency_rows(res):
    rows = []
    for name, label, field in [("store-256", "store 256 B W=1: ack", "latency"),
                               ("store-4k", "store 4 KiB W=1: ack", "latency"),
                               ("store-4k-overload", "store 4 KiB overload: ack", "latency"),
                               ("connect", "connect cycle", "latency"),
                               ("push-256", "push: end to end", "latency"),
                               ("push-256", "push: sender's Stored ack", "stored_latency"),
                               ("deliver-256", "deliver: one recipient's drain", "drain_time")]:
        for w in res.workers:
            rel, flo = res.get(name, w, "relay"), res.get(name, w, "floor")
            if not rel and not flo:
                continue
            cells = []
            for r in (rel, flo):
                cells += [num(lat(r, k, field), 0) for k in ("p50_us", "p99_us", "p999_us")]
            rows.append([label, w] + cells)
    return rows


def run_rows(res, data):
    rows = []
    for r in data["results"]:
        if "error" in r:
            rows.append([r["name"], r.get("round", 1), r["workers"], r.get("target"), "error: " + r["error"], "", "", "",
                         ""])
            continue
        w, c = r.get("window", {}), r.get("counters", {})
        busy = " (generator-bound)" if w.get("generator_cpu_pct", 0) >= GENERATOR_BOUND_PCT else ""
        rows.append([r["name"], r.get("round", 1), r["workers"], r["target"], num(w.get("ops_per_s")),
                     num(w.get("server_cpu_pct")) + "%",
                     num(w.get("server_cpu_us_per_op"), 1), num(w.get("generator_cpu_pct")) + "%" + busy,
                     f"{c.get('connection_errors', 0)} / {c.get('failed_acks', 0)} / {c.get('dropped_offered', 0)}"])
    return rows


def write_markdown(res, data, out_dir):
    m = res.meta
    lines = [
        "# Benchmark results",
        "",
        f"{m['mode']} run of {m['date']} at commit `{m['commit']}` (plus the working tree), {m['cpus']} CPUs, "
        f"{m['generator_threads']} generator thread(s), {m['elapsed_s'] / 60:.0f} min, load average at the end "
        f"{m['loadavg_end'][0]:.1f}. Produced by `bench/run.sh`; `bench/README.md` explains every figure.",
        "",
        (f"Each scenario ran in {res.rounds} rounds (floor, then relay, in every round); the tables show the "
         "**median over the rounds** of every figure, and \"Every run\" lists each round."
         if res.rounds > 1 else "One round: every figure is from a single run of each server."),
        "",
        "The machine is shared (other builds and tests ran at the same time) and the generator shares the cores",
        "with the server, so absolute figures drift between runs: compare the **ratios to the floor measured in the",
        "same run** and the **server CPU per operation**, which stays fair when the generator is the bottleneck.",
        "\"Relay ÷ floor\" is throughput (higher is better) or the figure itself; \"CPU ratio\" is server CPU per",
        "operation (lower is better), which is what the CPU targets compare.",
        "",
        table(MAIN_HEADER, main_rows(res)),
        "",
        "## Latency (µs)",
        "",
        table(["Measure", "Workers", "relay p50", "relay p99", "relay p99.9", "floor p50", "floor p99", "floor p99.9"],
              latency_rows(res)),
        "",
        "## Every run",
        "",
        "Server CPU % is of one core (200 % = both cores); generator CPU near 100 % means the generator, not the",
        "server, set the pace (then read the CPU per operation, not the throughput).",
        "",
        table(["Scenario", "Round", "Workers", "Server", "ops/s", "server CPU", "server µs/op", "generator CPU",
               "errors / failed / dropped"], run_rows(res, data)),
        "",
    ]
    over = [r for r in data["results"] if r.get("name") == "overhead" and "store_metrics" in r]
    for r in over:
        sm = r["store_metrics"]
        held = r["counters"]["stored_bytes"]
        lines += ["## Store overhead", "",
                  f"{r['counters']['sent']} updates of 100 B – 64 KiB (log-uniform, fixed seed), "
                  f"{num(held)} ciphertext bytes acknowledged Stored; the store's `relay_store_used_bytes` grew by "
                  f"{num(sm['used_bytes_delta'])} bytes (× {sm['used_bytes_delta'] / held:.3f}) and "
                  f"`relay_store_data_bytes` by {num(sm['data_bytes_delta'])} "
                  f"(× {sm['data_bytes_delta'] / held:.3f}).", ""]
    idle = [r for r in data["results"] if r.get("name") == "idle" and "per_connection" in r]
    if idle:
        lines += ["## Idle memory per connection (bytes)", "",
                  "Differences between the sample before the first connect and the one after the last handshake,",
                  "divided by the connections, summed over the server's processes. **Pss** (the target's measure)",
                  "counts every page once, including the shared store's pages the connections touched (presence",
                  "entries); **Anonymous** is heap and stacks only, i.e. without the store; Rss counts a shared",
                  "page once per process mapping it.", "",
                  table(["Workers", "Server", "connections", "Pss", "Anonymous", "Rss", "processes"],
                        [[r["workers"], r["target"], num(r["open_connections"]), num(r["per_connection"]["pss"]),
                          num(r["per_connection"].get("anonymous")), num(r["per_connection"]["rss"]),
                          r["memory_after"]["processes"]] for r in idle]), ""]
    lines += ["![throughput vs workers](throughput_vs_workers.svg)", "", "![latency CDF](latency_cdf.svg)", ""]
    with open(os.path.join(out_dir, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))


def write_plots(res, out_dir):
    """throughput_vs_workers.svg and latency_cdf.svg (bench/svg_plot.py: no matplotlib)."""
    colors = {"relay": "#d62728", "floor": "#1f77b4"}
    names = [("store-256", "store 256 B, W=1"), ("store-4k", "store 4 KiB, W=1"),
             ("store-4k-overload", "store 4 KiB, 1000 conns, W=16"), ("deliver-256", "deliver 256 B"),
             ("connect", "connect cycles")]
    panels = []
    for name, title in names:
        panel = svg_plot.Panel(title, "workers (relay processes, floor threads)", "operations / s")
        panel.xticks = res.workers
        bound = []
        for kind in ("floor", "relay"):
            pts = [(w, ops(res.get(name, w, kind))) for w in res.workers if res.get(name, w, kind)]
            if pts:
                panel.line([p[0] for p in pts], [p[1] for p in pts], kind, colors[kind])
            bound += [(w, ops(res.get(name, w, kind))) for w in res.workers if res.get(name, w, kind)
                      and res.get(name, w, kind)["window"]["generator_cpu_pct"] >= GENERATOR_BOUND_PCT]
        if bound:
            # Circled points: the generator, not the server, set this rate.
            panel.circles([p[0] for p in bound], [p[1] for p in bound], "generator-bound")
        panels.append(panel)
    ratio_panel = svg_plot.Panel("server CPU per operation, relay ÷ floor", "workers (relay processes, floor threads)")
    ratio_panel.xticks = res.workers
    for name, title in names:
        pts = [(w, cpu(res.get(name, w, "relay")) / cpu(res.get(name, w, "floor"))) for w in res.workers
               if res.get(name, w, "relay") and res.get(name, w, "floor")]
        if pts:
            ratio_panel.line([p[0] for p in pts], [p[1] for p in pts], title)
    ratio_panel.hlines.append((1.5, "target 1.5"))
    panels.append(ratio_panel)
    svg_plot.write_figure(os.path.join(out_dir, "throughput_vs_workers.svg"), panels, 3,
                          f"Throughput vs workers ({res.meta['mode']} run, {res.meta['date']}; shared 2-core machine)")

    specs = [("store-256", "ack latency: store 256 B, 100 conns, W=1", 3000),
             ("store-4k-overload", "ack latency: store 4 KiB, 1000 conns, W=16", None),
             ("push-256", "end-to-end latency: live push 256 B", None)]
    quantiles = [(0.01, "1 %"), (0.1, "10 %"), (0.5, "50 %"), (0.9, "90 %"), (0.99, "99 %"), (0.999, "99.9 %"),
                 (0.9999, "99.99 %")]
    panels = []
    for name, title, limit in specs:
        panel = svg_plot.Panel(title, "latency (µs, log scale)", "operations at or below", x_scale="log",
                               y_scale="logit")
        panel.ylim = (0.01, 0.9999)
        panel.yticks = quantiles
        for kind in ("floor", "relay"):
            for w in res.workers:
                r = res.get(name, w, kind)
                if not r or not r.get("cdf"):
                    continue
                panel.line([p[1] for p in r["cdf"]], [p[0] for p in r["cdf"]], f"{kind}, {w} worker(s)",
                           colors[kind], dashed=w != 1, markers=False)
        if limit:
            panel.vlines.append((limit, f"target p99 {limit / 1000:g} ms"))
        panels.append(panel)
    svg_plot.write_figure(os.path.join(out_dir, "latency_cdf.svg"), panels, 3,
                          "Latency CDF (the y axis stretches the tail: 0.99 and 0.999 are the p99 and p99.9)",
                          panel_width=460)


def write_all(out_dir):
    with open(os.path.join(out_dir, "results.json")) as f:
        data = json.load(f)
    res = Results(data)
    write_markdown(res, data, out_dir)
    write_plots(res, out_dir)


if __name__ == "__main__":
    write_all(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                    "results"))
