"""Starting and stopping the two servers of a run: the relay and the floor.

Both bind 127.0.0.1 with port 0 and print the port they got; both are stopped
with SIGTERM, then SIGKILL if they do not exit within a deadline. Every wait is
bounded.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

READY_TIMEOUT_S = 90
STOP_TIMEOUT_S = 20

# The relay's limits are raised so that nothing but its work limits it: the
# rate limit to (nearly) its maximum, quotas off, a store big enough for the
# longest store scenario. The store is prefaulted at start (bench/README.md,
# "Fresh store pages"): the store scenarios only ever write, so without it every
# update would land on a page never touched before and the figure would be the
# kernel's (and the hypervisor's) first-touch cost, which a relay in service
# pays once per page of its store, not per message.
RELAY_ENV = {
    "RELAY_METRICS_ADDR": "127.0.0.1:0",
    "RELAY_RATE_LIMIT": "1000000",
    # Twice what the idle scenario opens. It also sizes the store's presence
    # tables (bench/README.md): 1 000 000 would make them 840 MB.
    "RELAY_MAX_CONNECTIONS": "20000",
    "RELAY_MAX_CONNECTIONS_PER_IP": "0",
    "RELAY_MAX_BLOBS_PER_USER": "0",
    "RELAY_MAX_STORAGE_PER_USER": "0",
    # The 4 KiB store scenarios hold up to ~1.9 GB at the end of a run; with
    # 2 GiB the fullest shards filled and answered Failed (up to 9% of the
    # acks with two workers), whose CPU counted against the stored updates.
    "RELAY_MAX_STORAGE_BYTES": str(3 << 30),
    "RELAY_STORE_PREFAULT": "true",
}


class Server:
    """One running server: `kind` is "relay" or "floor"."""

    def __init__(self, kind, build_dir, workers, work_dir, extra_env=None):
        self.kind = kind
        self.workers = workers
        self.dir = tempfile.mkdtemp(prefix=f"{kind}-w{workers}-", dir=work_dir)
        self.log_path = os.path.join(self.dir, "server.log")
        self.port = None
        self.metrics_port = None
        if kind == "relay":
            self.argv = [os.path.join(build_dir, "supervisor", "vauchi-relay"), "--listen", "127.0.0.1:0",
                         "--data-dir", os.path.join(self.dir, "data"), "--workers", str(workers)]
            env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
            env.update(RELAY_ENV)
            env.update(extra_env or {})
            self.marker = re.compile(r"relay ready: listening on 127\.0\.0\.1:(\d+) .*metrics on [\d.]+:(\d+)")
        else:
            self.argv = [os.path.join(build_dir, "bench", "echo_floor"), "--listen", "127.0.0.1:0",
                         "--workers", str(workers), "--max-seconds", "3600"]
            env = dict(os.environ)
            self.marker = re.compile(r"floor ready: listening on 127\.0\.0\.1:(\d+)")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        self._wait_ready()

    @property
    def pid(self):
        return self.proc.pid

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            with open(self.log_path, errors="replace") as f:
                m = self.marker.search(f.read())
            if m:
                self.port = int(m.group(1))
                if m.lastindex and m.lastindex >= 2:
                    self.metrics_port = int(m.group(2))
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited during start-up; log: {self.log_path}")
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} not ready within {READY_TIMEOUT_S} s; log: {self.log_path}")

    def metrics(self):
        """The relay's /metrics as {name: value} for unlabelled samples."""
        if self.metrics_port is None:
            return {}
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=10) as r:
            text = r.read().decode()
        values = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, _, value = line.rpartition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                pass
        return values

    def stop(self, keep_dir=False):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                # The whole session: the relay's children die with it anyway (PDEATHSIG).
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        if not keep_dir:
            shutil.rmtree(os.path.join(self.dir, "data"), ignore_errors=True)
