"""The lab under district load: CPU seconds per 1k varbinds served.

    .venv/bin/python benchmarks/lab_load.py [--seconds 20] [--window 64]

Starts a private lab (spare ports, its own state folder) and drives it with what a 60 s district
poll asks of every agent: GETBULK walks of the IF-MIB counter and status columns plus the AP
tables of the controllers, as fast as a window of requests in flight allows. Reads the lab
process's CPU time from /proc and its served-varbind count from its control API, and prints
CPU-s per 1k varbinds, the sustained rate, and what the district's ~6k varbinds/s would cost.
References measured on this kind of machine (issue text): snmpsim 0.2-0.4 CPU-s per 1k varbinds,
net-snmp snmpd 0.004-0.016. Timings on a shared machine are noisy: read, do not assert.
"""

from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import cpu_seconds  # noqa: E402

from collectors.snmp import ber  # noqa: E402
from emanwatch.config import load_config, resolve_snmp_auth  # noqa: E402
from lab.client import LabClient, private_config  # noqa: E402

COLUMNS = ["1.3.6.1.2.1.2.2.1.8", "1.3.6.1.2.1.2.2.1.14", "1.3.6.1.2.1.2.2.1.20", "1.3.6.1.2.1.31.1.1.1.6",
           "1.3.6.1.2.1.31.1.1.1.7", "1.3.6.1.2.1.31.1.1.1.10", "1.3.6.1.2.1.31.1.1.1.11", "1.3.6.1.2.1.31.1.1.1.15"]
AP_COLUMNS = {"huawei": ["1.3.6.1.4.1.2011.6.139.13.3.3.1.6", "1.3.6.1.4.1.2011.6.139.13.3.3.1.44"],
              "h3c": ["1.3.6.1.4.1.25506.2.75.2.1.1.1.4", "1.3.6.1.4.1.25506.2.75.2.1.2.1.7"],
              "ruijie": ["1.3.6.1.4.1.4881.1.1.10.2.56.2.1.1.1.34", "1.3.6.1.4.1.4881.1.1.10.2.56.2.1.1.1.48"],
              "cisco": ["1.3.6.1.4.1.14179.2.2.1.1.6", "1.3.6.1.4.1.14179.2.2.13.1.4"]}



class Walk:
    """One device's walk of several columns at once with GETBULK, restarted when done."""

    def __init__(self, addr: tuple[str, int], columns: list[str]) -> None:
        self.addr = addr
        self.roots = [ber.oid_body(c) for c in columns]
        self.reset()

    def reset(self) -> None:
        self.cur = list(self.roots)
        self.live = list(range(len(self.roots)))

    def request(self, community: bytes, rid: int) -> bytes:
        vbs = b"".join(ber.enc_varbind(self.cur[i], ber.NULL_TLV) for i in self.live)
        return ber.enc_message_v2c(community, ber.enc_pdu(ber.GETBULK, rid, 0, 25, vbs))

    def feed(self, varbinds: list) -> int:
        """Advance on a response; returns varbinds received. Resets at the end of every column."""
        n = len(self.live)
        still = []
        for j, i in enumerate(self.live):
            last = None
            for oid, tag, _ in varbinds[j::n]:
                if tag == ber.END_OF_MIB_VIEW or not oid.startswith(self.roots[i]):
                    last = None
                    break
                last = oid
            if last is not None:
                self.cur[i] = last
                still.append(i)
        self.live = still
        if not self.live:
            self.reset()
        return len(varbinds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--window", type=int, default=64, help="requests in flight")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="emanwatch-bench-"))
    cfg_path = private_config(ROOT / "config.yaml", tmp, snmp_port=10261, ssh_port=10122, control="127.0.0.1:19821")
    cfg = load_config(cfg_path)
    client = LabClient(cfg)
    t0 = time.time()
    st = client.up(cfg_path)
    print(f"lab up in {time.time() - t0:.1f} s: {st['snmp_agents']} agents")
    community = resolve_snmp_auth(cfg, "lab-v2c").community.encode()
    from inventory import load_inventory

    inv = load_inventory(cfg.path(cfg.inventory.path))
    walks = []
    for d in inv.devices.values():
        if d.role.value == "ap" or not d.status.polled:
            continue
        cols = COLUMNS + (AP_COLUMNS[d.vendor.value] if d.role.value == "ac" else [])
        walks.append(Walk((str(d.mgmt_address), 10261), cols))
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.settimeout(2.0)
    try:
        pid = st["pid"]
        # warm up: every device's MIB tree is built on its first request
        inflight: dict[int, tuple[Walk, float]] = {}
        rid = 0
        nxt = 0

        def run(seconds: float) -> tuple[int, int]:
            nonlocal rid, nxt
            got = timeouts = 0
            end = time.time() + seconds
            while time.time() < end:
                while len(inflight) < args.window:
                    w = walks[nxt % len(walks)]
                    nxt += 1
                    rid += 1
                    inflight[rid] = (w, time.time())
                    sock.sendto(w.request(community, rid), w.addr)
                try:
                    data, _ = sock.recvfrom(65535)
                except TimeoutError:
                    timeouts += len(inflight)
                    inflight.clear()
                    continue
                _, _, pdu = ber.decode_v2c(data)
                entry = inflight.pop(pdu.request_id, None)
                if entry:
                    got += entry[0].feed(pdu.varbinds)
            return got, timeouts

        run(5)
        s0 = client.status()["snmp"]["varbinds"]
        c0 = cpu_seconds(pid)
        t0 = time.time()
        got, timeouts = run(args.seconds)
        dt = time.time() - t0
        c1 = cpu_seconds(pid)
        s1 = client.status()["snmp"]["varbinds"]
        served = s1 - s0
        cpu = c1 - c0
        per_1k = cpu / (served / 1000)
        print(f"served {served} varbinds in {dt:.1f} s = {served / dt:,.0f} varbinds/s (client got {got}, timeouts {timeouts})")
        print(f"lab CPU {cpu:.2f} s = {cpu / dt:.2f} core; {per_1k:.4f} CPU-s per 1k varbinds")
        print(f"district poll (~6,000 varbinds/s sustained) would cost {6 * per_1k:.2f} core of the lab")
        print("reference (issue 3, measured here): snmpsim 0.2-0.4 CPU-s per 1k, net-snmp snmpd 0.004-0.016")
    finally:
        client.down()


if __name__ == "__main__":
    main()
