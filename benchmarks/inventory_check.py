"""Time `emanwatch inventory check` on the demo district (target: summary in < 3 s).

    .venv/bin/python benchmarks/inventory_check.py [--runs 5]

Runs the real command as a subprocess (interpreter start, imports, load, validation, printing),
prints each wall time and the median. Timings on a shared machine are noisy: this is a
benchmark to read, never a test that fails on time.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    exe = Path(sys.executable).parent / "emanwatch"
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        r = subprocess.run([str(exe), "inventory", "check", "--json"], cwd=ROOT, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            sys.exit(r.stderr)
    import json

    s = json.loads(r.stdout)
    print(f"demo district: {s['devices']} devices, {s['interfaces']} interfaces, {s['links']} links")
    print("inventory check wall time: " + ", ".join(f"{t:.2f}s" for t in times))
    print(f"median {statistics.median(times):.2f}s (target < 3 s); load+validate inside: {s['load_seconds']:.2f}s")


if __name__ == "__main__":
    main()
