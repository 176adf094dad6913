"""Polling the whole demo district every 60 s: CPU share, overruns, /metrics render time, RSS.

    .venv/bin/python benchmarks/district_poll.py [--seconds 150]

Starts a private lab (spare ports), then runs emanwatch's real scheduler in this process with every
role at a 60 s interval (jittered, as `serve` does) for --seconds, and prints the collector's CPU
share (process CPU / wall), polls, failures and overruns, then times rendering /metrics and reads
this process's RSS. Targets (issue 4): <= 0.5 core, zero overruns. Noisy machine: read, not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import cpu_seconds  # noqa: E402

from collectors.store import ResultStore  # noqa: E402
from emanwatch.config import load_config  # noqa: E402
from emanwatch.scheduler import Scheduler  # noqa: E402
from exporters.prometheus import make_registry, metrics_text  # noqa: E402
from inventory import load_inventory  # noqa: E402
from lab.client import LabClient, private_config  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=150)
    ap.add_argument("--interval", type=float, default=60)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="emanwatch-district-"))
    path = private_config(ROOT / "config.yaml", tmp, snmp_port=10361, ssh_port=10322, control="127.0.0.1:19822")
    doc = yaml.safe_load(path.read_text())
    doc["polling"]["intervals"] = {r: args.interval for r in doc["polling"]["intervals"]}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    cfg = load_config(path)
    client = LabClient(cfg)
    st = client.up(path)
    lab_pid = st["pid"]
    try:
        inv = load_inventory(cfg.path(cfg.inventory.path))
        store = ResultStore()
        sch = Scheduler(cfg, inv, store)
        registry = make_registry(store, sch.labels_of, sch.metrics)

        async def run() -> tuple[float, float, float]:
            await sch.start()
            lab0 = cpu_seconds(lab_pid)
            c0, w0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(args.seconds)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            lab_cpu = cpu_seconds(lab_pid) - lab0
            sch.stop()
            return cpu, wall, lab_cpu

        print(f"polling {len(sch.jobs)} devices every {args.interval:g} s for {args.seconds:g} s ...", flush=True)
        cpu, wall, lab_cpu = asyncio.run(run())
        results = store.results()
        failed = [r for r in results if not r.ok]
        polls = sum(sch.polls.values())
        varbinds = sum(j.target.stats["varbinds"] for j in sch.jobs.values())
        print(f"collector CPU {cpu:.1f} s over {wall:.0f} s wall = {cpu / wall:.3f} core (target <= 0.5); "
              f"{polls} polls, {varbinds:,} varbinds ({varbinds / wall:,.0f}/s), {len(failed)} failing now, "
              f"overruns {sum(sch.overruns.values())} (target 0)")
        print(f"the lab answering it: {lab_cpu / wall:.3f} core")
        times = []
        size = 0
        for _ in range(5):
            t0 = time.perf_counter()
            size = len(metrics_text(store, registry))
            times.append(time.perf_counter() - t0)
        samples = sum(len(r.samples) for r in results)
        print(f"/metrics: {samples:,} samples, {size / 1e6:.1f} MB, render median {statistics.median(times) * 1000:.0f} ms "
              f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); RSS {rss_mb():.0f} MB")
    finally:
        client.down()


if __name__ == "__main__":
    main()
