"""The scenarios of a benchmark run and the targets we hold the relay to (bench/README.md).

Each entry runs once per worker count against the floor and the relay (the
overhead entry only against the relay). `args` are load-generator flags;
`quick` overrides them for `run.sh --quick`.
"""

FULL = {"duration": 10, "warmup": 1}
QUICK = {"duration": 2, "warmup": 0.5}


def pipelined_store_scenarios():
    """Pipelined stores, as clients with many contacts run: 16 updates in
    flight per connection, one worker. For each size, the floor and the
    prefaulted file store (the benchmark's default), then the same load on a
    cold file store and on the memory backend: relay-only runs compared with
    that floor ("floor_of")."""
    variants = [("", "100 conns, W=16", None),
                ("-cold", "W=16, file store cold", {"RELAY_STORE_PREFAULT": "false"}),
                ("-memory", "W=16, memory backend", {"RELAY_STORAGE_BACKEND": "memory"})]
    entries = []
    for size, size_name, size_text in [(256, "256", "256 B"), (4096, "4k", "4 KiB")]:
        base = f"store-{size_name}-w16"
        for suffix, what, relay_env in variants:
            entry = {
                "name": base + suffix,
                "title": f"store {size_text}, {what}",
                "scenario": "store",
                "args": {"connections": 100, "size": size, "window": 16},
                "unit": "acks/s",
                "workers": [1],
                "pipelined": True,
            }
            if relay_env:
                entry.update({"relay_only": True, "floor_of": base, "relay_env": relay_env})
            entries.append(entry)
    return entries

SCENARIOS = [
    {
        "name": "store-256",
        "title": "store 256 B, 100 conns, W=1",
        "scenario": "store",
        "args": {"connections": 100, "size": 256, "window": 1},
        "unit": "acks/s",
        "cdf": True,
    },
    {
        "name": "store-4k",
        "title": "store 4 KiB, 100 conns, W=1",
        "scenario": "store",
        "args": {"connections": 100, "size": 4096, "window": 1},
        "unit": "acks/s",
        "cdf": True,
    },
    *pipelined_store_scenarios(),
    {
        "name": "store-4k-overload",
        "title": "store 4 KiB, 1000 conns, W=16 (overload)",
        "scenario": "store",
        "args": {"connections": 1000, "size": 4096, "window": 16},
        "quick": {"connections": 200},
        "unit": "acks/s",
        "cdf": True,
    },
    {
        "name": "deliver-256",
        "title": "deliver 256 B, 100 recipients x 100 blobs",
        "scenario": "deliver",
        "args": {"connections": 100, "blobs": 100, "size": 256},
        "quick": {"connections": 50, "blobs": 50},
        "unit": "blobs/s",
    },
    {
        "name": "connect",
        "title": "connect + upgrade + handshake + close, 32 loops",
        "scenario": "connect",
        "args": {"connections": 32},
        "quick": {"connections": 16},
        "unit": "cycles/s",
        "cdf": True,
    },
    {
        # The same cycle through the PROXY protocol: the generator writes the
        # header HAProxy's send-proxy-v2 would, in the upgrade request's
        # segment; the relay reads and checks it. Compared with the relay's
        # own "connect" (the floor has no PROXY mode).
        "name": "connect-proxy",
        "title": "connect with a PROXY v2 header, 32 loops",
        "scenario": "connect",
        "args": {"connections": 32, "proxy-header": 1},
        "quick": {"connections": 16},
        "relay_only": True,
        "relay_env": {"RELAY_PROXY_PROTOCOL": "on", "RELAY_TRUSTED_PROXIES": "127.0.0.1/32"},
        "unit": "cycles/s",
    },
    {
        "name": "idle",
        "title": "idle handshaken connections",
        "scenario": "idle",
        "args": {"connections": 10000, "settle": 2},
        "quick": {"connections": 1000, "settle": 1},
        "unit": "conns",
        "timeout": 900,
    },
    {
        "name": "push-256",
        "title": "live push 256 B, 50 pairs, 2000/s offered",
        "scenario": "push",
        "args": {"connections": 50, "size": 256, "rate": 2000},
        "quick": {"connections": 20, "rate": 1000},
        "unit": "pushes/s",
        "cdf": True,
    },
    {
        "name": "overhead",
        "title": "store overhead, 2000 blobs of 100 B - 64 KiB",
        "scenario": "overhead",
        "args": {"count": 2000},
        "quick": {"count": 300},
        "relay_only": True,
        "workers": [1],
        "unit": "blobs",
    },
]

# The targets: what the relay must reach in this benchmark (bench/README.md).
TARGETS = {
    "cpu_store_256": 1.5,       # server CPU per acked update vs the floor, 256 B
    "cpu_store_4k": 2.0,        # same at 4 KiB
    "cpu_connect": 1.5,         # connect cycle vs the floor
    "proxy_header_cost": 1.05,  # connect cycle with a PROXY header vs without, relay CPU
    "cpu_deliver": 1.5,         # deliver, per blob, vs the floor
    "p99_store_256_ms": 3.0,    # p99 ack latency at 100 conns, 256 B, W=1
    "tail_overload": 10.0,      # p99/p50 at 1000 conns, 4 KiB, W=16
    "idle_kib": 8.0,            # KiB of server memory per idle handshaken connection
    "store_overhead": 1.25,     # store bytes in use / ciphertext bytes held
    "scaling_vs_floor": 0.9,    # relay's w2/w1 throughput growth vs the floor's
}


def scenario_args(entry, quick):
    """Load-generator flags of one scenario for a full or quick run."""
    args = dict(QUICK if quick else FULL)
    args.update(entry["args"])
    if quick:
        args.update(entry.get("quick", {}))
    return args
