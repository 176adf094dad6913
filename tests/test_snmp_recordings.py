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
    # snmpsim indexes a recording on its first request (the biggest takes a while and stalls the
    # others meanwhile): touch every one before the tests start timing anything
    for rec in RECORDINGS:
        deadline = time.time() + 120
        while time.time() < deadline:
            r = subprocess.run(["snmpget", "-v2c", "-c", rec, "-t", "10", "-r", "0", f"127.0.0.1:{PORT}", "1.3.6.1.2.1.1.2.0"],
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


@pytest.mark.parametrize("recording", RECORDINGS)
def test_decoder_agrees_with_pysnmp_on_real_replies(snmpsim, recording: str) -> None:
    """Walk the whole recording with GETBULK; decode every datagram with ours and with pysnmp."""
    import socket

    from pyasn1.codec.ber import decoder
    from pysnmp.proto import api

    from collectors.snmp import ber

    p = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(5)
    path = REC / (recording + ".snmprec")
    text = path.read_text(errors="replace") if path.exists() else bz2.decompress((REC / (recording + ".snmprec.bz2")).read_bytes()).decode(errors="replace")
    recorded = sorted(tuple(int(x) for x in line.split("|", 1)[0].split(".")) for line in text.splitlines() if "|" in line)
    oid = ber.oid_body("1.0")
    datagrams = varbinds = stuck = 0
    try:
        for rid in range(1, 401):  # 400 datagrams x 20: whole small recordings, 8k rows of the big ones
            msg = ber.enc_message_v2c(recording.encode(), ber.enc_pdu(ber.GETBULK, rid, 0, 20, ber.enc_varbind(oid, ber.NULL_TLV)))
            s.sendto(msg, ("127.0.0.1", PORT))
            try:
                data, _ = s.recvfrom(65535)
            except TimeoutError:
                # snmpsim itself stays silent on a few recorded rows (net-snmp's walk stops there too):
                # step past the row from the recording's own OID list
                stuck += 1
                here = ber.oid_arcs(oid)
                nxt = next((o for o in recorded if o > here), None)
                if nxt is None or stuck > 10:
                    break
                oid = ber.oid_body(nxt)
                continue
            datagrams += 1
            _, _, ours = ber.decode_v2c(data)
            ref, _ = decoder.decode(data, asn1Spec=p.Message())
            theirs = p.apiPDU.get_varbinds(p.apiMessage.get_pdu(ref))
            assert len(ours.varbinds) == len(theirs)
            for (o, tag, value), (ro, rv) in zip(ours.varbinds, theirs, strict=True):
                assert ber.oid_str(o) == str(ro)
                if tag in ber.EXCEPTIONS:
                    assert rv.tagSet[0][2] == tag & 0x1F
                    continue
                want = bytes(rv) if tag in (ber.OCTET_STRING, ber.OPAQUE) else (str(rv) if tag == ber.OID else
                                                                                  rv.prettyPrint() if tag == ber.IPADDRESS else int(rv))
                assert value == want, (ber.oid_str(o), value, want)
            varbinds += len(ours.varbinds)
            last = ours.varbinds[-1]
            if last[1] == ber.END_OF_MIB_VIEW:
                break
            oid = last[0]
    finally:
        s.close()
    assert datagrams > 1 and stuck <= 10
    assert varbinds >= 0.9 * min(len(recorded), 400 * 20), (varbinds, len(recorded))  # the walk covered it
