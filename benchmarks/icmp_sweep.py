"""ICMP sweep of the whole demo district: time and packets per second (target: >= 5,000 addresses in <= 5 s).

    sudo .venv/bin/python benchmarks/icmp_sweep.py [--count 3]

Needs the lab (`emanwatch lab up`) so the addresses answer, and root for the raw socket.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collectors.probes import sweep  # noqa: E402
from inventory import DEMO_PATH, load_inventory  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    inv = load_inventory(DEMO_PATH)
    addrs = [str(d.mgmt_address) for d in inv.devices.values() if d.status.polled]
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        st = sweep(addrs, count=args.count, timeout=1.0)
        times.append(time.perf_counter() - t0)
    up = sum(1 for s in st.values() if s.received)
    rtts = [x for s in st.values() for x in s.rtts]
    med = statistics.median(times)
    print(f"{len(addrs)} addresses x {args.count} probes: median {med:.2f} s over {args.runs} runs "
          f"(min {min(times):.2f}, max {max(times):.2f}); {len(addrs) * args.count / med:,.0f} probes/s; "
          f"{up} answered; RTT median {statistics.median(rtts) * 1e6:.0f} us (target: <= 5 s)")


if __name__ == "__main__":
    main()
