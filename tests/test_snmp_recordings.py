"""Every profile against real devices: the recordings in ../shared/realdata/snmp served by snmpsim,
polled by emanwatch, compared with what LibreNMS discovered from the same recording (the JSON
beside it): ports, processors, memory pools, temperatures, AP and client counts."""

from __future__ import annotations

import asyncio
import bz2
import json
import os
import shutil
import subprocess
import time

import pytest

from collectors.snmp.client import SnmpEngine, Target
from collectors.snmp.poller import DeviceLabels, DeviceState, poll_device
from collectors.snmp.profiles import all_profiles, profile_by_sys_object_id
from emanwatch.config import ResolvedSnmpAuth

from .conftest import SHARED

pytestmark = [pytest.mark.server]
REC = SHARED / "realdata" / "snmp"
PORT = 11161
RECORDINGS = sorted({p.name.split(".snmprec")[0] for p in REC.glob("*.snmprec*")})
WITH_JSON = [r for r in RECORDINGS if (REC / f"{r}.json").exists()]


@pytest.fixture(scope="module")
def snmpsim(tmp_path_factory):
    data = tmp_path_factory.mktemp("simdata")
    for p in REC.glob("*.snmprec*"):
        target = data / p.name.removesuffix(".bz2")
        target.write_bytes(bz2.decompress(p.read_bytes()) if p.suffix == ".bz2" else p.read_bytes())
    exe = shutil.which("snmpsim-command-responder", path=os.path.dirname(os.sys.executable))
    assert exe, "snmpsim missing: pip install -e .[dev]"
    cache = tmp_path_factory.mktemp("simcache")
    # snmpsim drops root privileges by default; this interpreter lives where `nobody` cannot read
    env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
    proc = subprocess.Popen([exe, f"--data-dir={data}", f"--cache-dir={cache}", f"--agent-udpv4-endpoint=127.0.0.1:{PORT}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        r = subprocess.run(["snmpget", "-v2c", "-c", "linux", "-t", "1", "-r", "0", f"127.0.0.1:{PORT}", "1.3.6.1.2.1.1.2.0"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            break
        time.sleep(0.5)
    yield
    proc.terminate()
    proc.wait(10)


def poll(recording: str):
    async def run():
        engine = SnmpEngine()
        await engine.start()
        try:
            t = Target("127.0.0.1", ResolvedSnmpAuth("sim", "2c", community=recording), port=PORT, timeout=10, retries=1)
            sysoid = str((await engine.get(t, ["1.3.6.1.2.1.1.2.0"]))["1.3.6.1.2.1.1.2.0"][1])
            prof = profile_by_sys_object_id(sysoid)
            assert prof is not None, f"{recording}: no profile for sysObjectID {sysoid}"
            return prof, await poll_device(engine, t, prof, DeviceLabels(base=(("device", recording),)), DeviceState(), recording)
        finally:
            engine.close()

    return asyncio.run(run())


def metric(r, name: str) -> list:
    return [s for s in r.samples if s.metric == name]


def test_every_profile_has_a_recording() -> None:
    """A profile nobody tested against a real device is a guess: each needs a recording here."""
    from collectors.snmp import ber  # noqa: F401

    covered = set()
    for rec in RECORDINGS:
        path = REC / (rec + ".snmprec")
        text = path.read_text(errors="replace") if path.exists() else bz2.decompress((REC / (rec + ".snmprec.bz2")).read_bytes()).decode(errors="replace")
        sysoid = next(line.split("|")[2] for line in text.splitlines() if line.startswith("1.3.6.1.2.1.1.2.0|"))
        p = profile_by_sys_object_id(sysoid)
        if p:
            covered.add(p.name)
    # if_mib is every profile's base; the rest must each meet a real device
    assert set(all_profiles()) - {"if_mib"} <= covered, set(all_profiles()) - covered


@pytest.mark.parametrize("recording", RECORDINGS)
def test_recording_polls_cleanly(snmpsim, recording: str) -> None:
    prof, r = poll(recording)
    assert r.ok, r.error
    assert r.samples, recording


@pytest.mark.parametrize("recording", WITH_JSON)
def test_matches_librenms(snmpsim, recording: str) -> None:
    want = json.loads((REC / f"{recording}.json").read_text())
    prof, r = poll(recording)
    assert r.ok, r.error
    ports = want.get("ports", {}).get("discovery", {}).get("ports", [])
    if ports:
        got = {dict(s.labels)["ifName"]: s.value for s in metric(r, "ifOperStatus")}
        types = {dict(s.labels)["ifName"]: s.value for s in metric(r, "ifType")}
        theirs = {p["ifName"] for p in ports}
        assert theirs <= set(got)
        # LibreNMS hides some virtual interfaces per OS; we report them, but never an Ethernet port it lacks
        assert all(types[x] != 6 for x in set(got) - theirs), set(got) - theirs
        status = {"up": 1.0, "down": 2.0, "notPresent": 6.0, "lowerLayerDown": 7.0, "testing": 3.0, "dormant": 5.0}
        polled = want["ports"].get("poller")
        if isinstance(polled, dict):
            for p in polled["ports"]:
                assert got[p["ifName"]] == status[p["ifOperStatus"]], p["ifName"]
    procs = want.get("processors", {}).get("discovery", {}).get("processors", [])
    if procs:
        usage = [p["processor_usage"] for p in procs]
        (cpu,) = metric(r, "emanwatch_cpu_percent")
        expect = sum(usage) / len(usage) if prof.device.cpu and prof.device.cpu.reduce == "mean" else max(usage)
        assert cpu.value == pytest.approx(expect, abs=0.5), (recording, usage)
    pools = want.get("mempools", {}).get("discovery", {}).get("mempools", [])
    if pools:
        (mem,) = metric(r, "emanwatch_memory_percent")
        percs = {p["mempool_descr"]: p["mempool_perc"] for p in pools}
        # a pool profile reads the main pool; a reduced one takes the fullest board
        expect = percs.get("Processor", percs.get("Memory")) if "Processor" in percs or "Memory" in percs else max(percs.values())
        assert mem.value == pytest.approx(expect, abs=1.0), (recording, percs)
    wireless = want.get("wireless", {}).get("discovery", {}).get("wireless_sensors", [])
    counts = {s["sensor_class"]: s["sensor_current"] for s in wireless if s["sensor_index"] in ("ap-count", "total-all-ssids")
              or s["sensor_descr"] in ("Connected APs", "Clients: Total")}
    if "ap-count" in counts:
        (online,) = metric(r, "emanwatch_ac_aps_online")
        assert online.value == counts["ap-count"]
    if "clients" in counts:
        assert sum(s.value for s in metric(r, "emanwatch_ap_clients")) == counts["clients"]
