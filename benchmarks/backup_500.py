"""Config backup + 等保 audit of 500 devices over SSH, timed (target from issue 6: <= 5 min).

    .venv/bin/python benchmarks/backup_500.py [--devices 500] [--concurrency 32]

Starts a private lab (spare ports, its own state folder), then runs what `emanwatch backup --all`
runs: netmiko sessions (running + saved config + version per device), masking, the git history
and every check. The reference, in the same run: the same sessions one at a time on a sample,
extrapolated to the whole set (what a simple sequential script would take). Prints wall time,
CPU seconds of this process and of the lab, and the ratios. Timings on a shared machine are
noisy: read, do not assert.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import cpu_seconds  # noqa: E402

from collectors.backup import ConfigHistory  # noqa: E402
from emanwatch import audit as au  # noqa: E402
from emanwatch.config import load_config  # noqa: E402
from inventory import load_inventory  # noqa: E402
from lab.client import LabClient, private_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--sample", type=int, default=10, help="devices for the sequential reference")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = private_config(ROOT / "config.yaml", Path(tmp), snmp_port=12161, ssh_port=12022, control="127.0.0.1:19840")
        cfg = load_config(path)
        lab = LabClient(cfg)
        st = lab.up(path, timeout=120)
        try:
            inv = load_inventory(cfg.path(cfg.inventory.path))
            devices = au.auditable(inv)[0][: args.devices]
            cfg = cfg.model_copy(update={"ssh": cfg.ssh.model_copy(update={"concurrency": args.concurrency})})
            lab_cpu0, me0 = cpu_seconds(st["pid"]), time.process_time()
            t0 = time.perf_counter()
            caps = au.gather(cfg, devices)
            t_gather = time.perf_counter() - t0
            audits = au.evaluate_captures(cfg, inv, caps, ConfigHistory(Path(tmp) / "configs"))
            wall = time.perf_counter() - t0
            lab_cpu, me = cpu_seconds(st["pid"]) - lab_cpu0, time.process_time() - me0
            ok = sum(1 for a in audits if a.ok)
            seq_cfg = cfg.model_copy(update={"ssh": cfg.ssh.model_copy(update={"concurrency": 1})})
            t1 = time.perf_counter()
            au.gather(seq_cfg, devices[: args.sample])
            seq = (time.perf_counter() - t1) / args.sample * len(devices)
        finally:
            lab.down()
    print(f"devices {len(devices)}, backed up and audited {ok}, concurrency {args.concurrency}, cores {os.cpu_count()}")
    print(f"emanwatch backup+audit: {wall:6.1f} s wall (SSH {t_gather:.1f} s), {me:.1f} CPU-s here, {lab_cpu:.1f} CPU-s in the lab")
    print(f"sequential reference:   {seq:6.1f} s wall (extrapolated from {args.sample} devices one at a time)")
    print(f"ratio sequential / emanwatch: {seq / wall:.1f}x; target 300 s / emanwatch: {300 / wall:.1f}x")


if __name__ == "__main__":
    main()
