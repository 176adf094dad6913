"""emanwatch vs prometheus-snmp-exporter, same agents, same columns, one run: varbinds per CPU-second.

    sudo .venv/bin/python benchmarks/snmp_vs_exporter.py [--ifaces 400] [--rounds 20]

Real net-snmp snmpd agents run in network namespaces (lab/netns.py) with many interfaces each.
Both pollers run in the poller namespace (ew-nms) and read the same IF-MIB columns (ifName, ifAlias,
ifOperStatus, ifInErrors, ifHCInOctets, ifHCOutOctets, ifHighSpeed, + sysUpTime): snmp_exporter
through its /snmp endpoint (its own process's CPU is measured from /proc), emanwatch through its
poller (this process's CPU). Useful varbinds = rows x columns + 1, the same for both. v2c and v3
authPriv (SHA/AES). Targets (issue 4): emanwatch >= 100k varbinds/CPU-s v2c, >= 50k v3, and
>= 1.5x snmp_exporter on v2c. Timings on a shared machine are noisy: read, do not assert.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from procstat import cpu_seconds  # noqa: E402

COMMUNITY = "bench-ro"
V3 = ("bench", "benchauth123", "benchpriv123")
EXPORTER = "127.0.0.1:19118"


def bench_profile():
    from collectors.snmp.profiles import Column, Profile, Scalar, Table
    from lab.reference import IF_COLUMNS, IFALIAS, IFNAME

    cols = [Column(name="ifName", oid=IFNAME, type="label"), Column(name="ifAlias", oid=IFALIAS, type="label")]
    cols += [Column(name=n, oid=o, type="counter" if t == "counter" else "gauge") for n, o, t in IF_COLUMNS]
    return Profile(name="bench", scalars=[Scalar(name="sysUpTime", oid="1.3.6.1.2.1.1.3.0", scale=0.01)],
                   tables={"interfaces": Table(index="ifIndex", columns=cols)})


def inner(args: argparse.Namespace) -> None:
    """Runs inside ew-nms: both pollers against the namespace agents."""
    import httpx

    from collectors.snmp.client import SnmpEngine, Target
    from collectors.snmp.poller import DeviceLabels, DeviceState, poll_device
    from emanwatch.config import ResolvedSnmpAuth
    from exporters.prometheus import render_result

    agents = json.loads(args.agents)
    profile = bench_profile()
    auths = {
        "v2c": ResolvedSnmpAuth("bench", "2c", community=COMMUNITY),
        "v3": ResolvedSnmpAuth("bench3", "3", username=V3[0], security_level="authPriv", auth_protocol="SHA",
                               auth_password=V3[1], priv_protocol="AES", priv_password=V3[2]),
    }
    results = {}
    for version, module in (("v2c", "if_mib"), ("v3", "if_mib_v3")):
        # ---- emanwatch
        async def rounds(n: int, version: str = version) -> tuple[int, float, float]:
            engine = SnmpEngine()
            await engine.start()
            targets = [Target(a, auths[version], timeout=10, retries=1) for a in agents]
            states = [DeviceState() for _ in agents]
            useful = 0
            for t, st in zip(targets, states, strict=True):  # warm-up: engine discovery for v3
                await poll_device(engine, t, profile, DeviceLabels(base=(("device", t.address),)), st, t.address)
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(n):
                rs = await asyncio.gather(*(poll_device(engine, t, profile, DeviceLabels(base=(("device", t.address),)), st, t.address)
                                            for t, st in zip(targets, states, strict=True)))
                for r in rs:
                    assert r.ok, r.error
                    render_result(r)  # text exposition too, as snmp_exporter's CPU includes its rendering
                    rows = sum(1 for s in r.samples if s.metric == "ifOperStatus")
                    useful += rows * 7 + 1
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            engine.close()
            return useful, cpu, wall

        useful, cpu, wall = asyncio.run(rounds(args.rounds))
        ours = useful / cpu
        # ---- snmp_exporter
        pid = args.exporter_pid
        client = httpx.Client(timeout=60)

        def scrape(a: str, client: httpx.Client = client, module: str = module) -> int:
            r = client.get(f"http://{EXPORTER}/snmp", params={"target": a, "module": module})
            r.raise_for_status()
            return sum(1 for line in r.text.splitlines() if line.startswith("ifOperStatus{"))

        with ThreadPoolExecutor(len(agents)) as pool:
            list(pool.map(scrape, agents))  # warm-up
            c0, w0 = cpu_seconds(pid), time.perf_counter()
            their_useful = 0
            for _ in range(args.rounds):
                their_useful += sum(rows * 7 + 1 for rows in pool.map(scrape, agents))
            their_cpu, their_wall = cpu_seconds(pid) - c0, time.perf_counter() - w0
        theirs = their_useful / their_cpu
        results[version] = (useful, cpu, wall, ours, their_useful, their_cpu, their_wall, theirs)
    print(json.dumps(results))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ifaces", type=int, default=400, help="interfaces per agent")
    ap.add_argument("--agents", type=str, default=None)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--inner", action="store_true")
    ap.add_argument("--exporter-pid", type=int, default=0)
    args = ap.parse_args()
    if args.inner:
        inner(args)
        return

    from lab.netns import NetnsLab
    from lab.reference import snmp_exporter_config

    tmp = Path(tempfile.mkdtemp(prefix="emanwatch-bench-ns-"))
    lab = NetnsLab(nodes=3, schools=2, extra_ifs=args.ifaces, community=COMMUNITY, v3=V3, state=tmp / "netns")
    why = lab.available()
    if why:
        sys.exit(f"this benchmark needs namespace mode: {why}")
    print(f"starting 5 snmpd agents in namespaces with ~{args.ifaces} interfaces each ...", flush=True)
    agents = lab.up()
    conf = tmp / "snmp.yml"
    conf.write_text(snmp_exporter_config(COMMUNITY, {"username": V3[0], "auth_password": V3[1], "priv_password": V3[2]}))
    exporter = subprocess.Popen(["ip", "netns", "exec", "ew-nms", "prometheus-snmp-exporter", f"--config.file={conf}",
                                 f"--web.listen-address={EXPORTER}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        out = subprocess.run(["ip", "netns", "exec", "ew-nms", sys.executable, __file__, "--inner", "--agents",
                              json.dumps([a.address for a in agents]), "--rounds", str(args.rounds),
                              "--exporter-pid", str(exporter.pid)], capture_output=True, text=True, cwd=ROOT)
        if out.returncode != 0:
            sys.exit(out.stderr)
        res = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        exporter.terminate()
        exporter.wait(10)
        lab.down()
    for version, (useful, cpu, wall, ours, tu, tcpu, twall, theirs) in res.items():
        print(f"{version:4} emanwatch     {useful:>9,} varbinds in {cpu:6.2f} CPU-s ({wall:5.1f} s wall): {ours:>9,.0f} varbinds/CPU-s")
        print(f"{'':4} snmp_exporter {tu:>9,} varbinds in {tcpu:6.2f} CPU-s ({twall:5.1f} s wall): {theirs:>9,.0f} varbinds/CPU-s")
        print(f"{'':4} ratio emanwatch / snmp_exporter = {ours / theirs:.2f}")
    print("targets: v2c >= 100k varbinds/CPU-s and >= 1.5x snmp_exporter; v3 authPriv >= 50k")


if __name__ == "__main__":
    main()
