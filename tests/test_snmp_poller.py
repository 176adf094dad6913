"""The SNMP poller against the lab: counters, failures and slowness handled per device."""

from __future__ import annotations

import asyncio
import time

import pytest

from collectors.snmp.client import SnmpEngine, Target
from collectors.snmp.poller import DeviceState, _extend32, _rate, device_labels, poll_device
from collectors.snmp.profiles import load_profile, profile_for
from emanwatch.config import resolve_snmp_auth

from .lab_helpers import SNMP_PORT

pytestmark = [pytest.mark.server]


def run(coro):
    return asyncio.run(coro)


async def _poll(cfg, demo, names, timeout=2.0, states=None, profile=None):
    engine = SnmpEngine()
    await engine.start()
    try:
        tasks = []
        for n in names:
            d = demo.devices[n]
            t = Target(str(d.mgmt_address), resolve_snmp_auth(cfg, d.snmp_auth), port=SNMP_PORT, timeout=timeout, retries=0)
            st = (states if states is not None else {}).setdefault(n, DeviceState())
            tasks.append(poll_device(engine, t, profile or profile_for(d.platform), device_labels(demo, n), st, n))
        return await asyncio.gather(*tasks)
    finally:
        engine.close()


def test_extend32_wrap_and_restart() -> None:
    st = DeviceState()
    assert _extend32(st, "x", b"\x01", 4_294_967_000, False) == 4_294_967_000
    assert _extend32(st, "x", b"\x01", 704, False) == 4_294_967_000 + 1000  # wrapped: +2**32
    assert _extend32(st, "x", b"\x01", 5000, False) == 4_294_967_000 + 1000 + 4296
    assert _extend32(st, "x", b"\x01", 10, True) == 10  # restart (sysUpTime went back): start over, no huge rate


def test_per_poll_rate_is_left_out_when_it_cannot_be_known() -> None:
    st = DeviceState()
    assert _rate(st, "x", b"\x01", 1000.0, 10.0, False) is None  # first reading
    assert _rate(st, "x", b"\x01", 3000.0, 12.0, False) == 1000.0
    assert _rate(st, "x", b"\x02", 5.0, 12.0, False) is None  # another interface has its own history
    assert _rate(st, "x", b"\x01", 500.0, 13.0, False) is None  # went back: a counter reset, not a negative rate
    assert _rate(st, "x", b"\x01", 1500.0, 14.0, False) == 1000.0  # and from there on again
    assert _rate(st, "x", b"\x01", 9e9, 15.0, True) is None  # the device restarted: no spike
    assert _rate(st, "x", b"\x01", 9e9 + 10, 15.0, False) is None  # same read time: no division by zero


def test_every_vendor_and_auth(lab, demo) -> None:
    cfg, _ = lab
    names = ["nc-rn01", "pop04-rn04", "nc-eg01"] + [f"sch00{i}-ac01" for i in range(1, 10)] + [f"kg00{i}-rt01" for i in range(1, 7)]
    results = run(_poll(cfg, demo, names))
    vendors = set()
    for r in results:
        assert r.ok, r.error
        d = demo.devices[r.device]
        vendors.add(d.vendor.value)
        octets = [s for s in r.samples if s.metric == "ifHCInOctets"]
        assert len(octets) >= len(d.interfaces)
        metrics = {s.metric for s in r.samples}
        assert {"emanwatch_cpu_percent", "emanwatch_memory_percent", "emanwatch_uptime_seconds", "ifOperStatus"} <= metrics
        if d.role.value == "ac":
            online = next(s.value for s in r.samples if s.metric == "emanwatch_ac_aps_online")
            want = sum(1 for a in demo.devices.values() if a.parent == d.name and a.status.polled)
            assert online == want
        linked = [dict(s.labels) for s in octets if dict(s.labels).get("link_kind")]
        assert len(linked) == len(demo.links_by_device[d.name])
    assert vendors == {"huawei", "h3c", "ruijie", "cisco"}


def test_counter_wrap_fault_falls_back_to_32_bit(lab, faults, demo) -> None:
    cfg, _ = lab
    name = "sch007-rt01"
    states: dict = {}
    (r1,) = run(_poll(cfg, demo, [name], states=states))
    assert states[name].hc is True
    faults.fault("counter-wrap", name)
    (r2,) = run(_poll(cfg, demo, [name], states=states))
    time.sleep(1.0)
    (r3,) = run(_poll(cfg, demo, [name], states=states))
    assert r2.ok and r3.ok and states[name].hc is False
    a = {dict(s.labels)["ifIndex"]: s.value for s in r2.samples if s.metric == "ifHCInOctets"}
    b = {dict(s.labels)["ifIndex"]: s.value for s in r3.samples if s.metric == "ifHCInOctets"}
    assert a and all(b[k] >= a[k] for k in a)  # monotonic, even across a 32-bit wrap
    assert all(b[k] - a[k] < 2e9 for k in a)  # and never a huge jump
    # the per-poll rates go on through the switch to 32-bit columns, within each link's capacity
    rates = [(dict(s.labels), s.value) for s in r3.samples if s.metric == "emanwatch_if_in_bps"]
    assert rates and all(v >= 0 for _, v in rates)
    assert all(v <= 1.05 * float(lab_["link_capacity_bps"]) for lab_, v in rates if "link_capacity_bps" in lab_)


def test_agent_reboot_v3_and_restart(lab, faults, demo) -> None:
    cfg, _ = lab
    name = "nc-rn02"  # a v3 device: its engineBoots change on reboot
    states: dict = {}
    (r1,) = run(_poll(cfg, demo, [name], states=states))
    faults.fault("agent-reboot", name)
    (r2,) = run(_poll(cfg, demo, [name], states=states))
    assert r1.ok and r2.ok, r2.error
    up1 = next(s.value for s in r1.samples if s.metric == "emanwatch_uptime_seconds")
    up2 = next(s.value for s in r2.samples if s.metric == "emanwatch_uptime_seconds")
    assert up2 < 10 < up1
    # no rate on the first poll (one reading) nor across the restart (counters started again)
    assert not any(s.metric == "emanwatch_if_in_bps" for s in r1.samples + r2.samples)


def test_wrong_platform_is_named(lab, demo) -> None:
    cfg, _ = lab
    (r,) = run(_poll(cfg, demo, ["nc-eg01"], profile=load_profile("cisco_ios")))
    assert not r.ok and r.reason == "profile"
    assert "nc-eg01" in r.error and "hp_comware" in r.error


def test_slow_and_dead_devices_do_not_delay_others(lab, faults, demo) -> None:
    cfg, _ = lab
    faults.fault("slow-agent", "sch008-rt01", seconds=5)
    faults.fault("device-down", "sch009-rt01")
    faults.fault("malformed", "kg007-rt01")
    names = ["sch008-rt01", "sch009-rt01", "kg007-rt01"] + [f"sch0{i}-rt01" for i in range(11, 41)]
    t0 = time.perf_counter()
    results = {r.device: r for r in run(_poll(cfg, demo, names, timeout=1.0))}
    assert time.perf_counter() - t0 < 4
    assert (results["sch008-rt01"].ok, results["sch008-rt01"].reason) == (False, "timeout")
    assert (results["sch009-rt01"].ok, results["sch009-rt01"].reason) == (False, "timeout")
    assert not results["kg007-rt01"].ok
    fast = [r for n, r in results.items() if n.startswith("sch0") and n not in ("sch008-rt01", "sch009-rt01")]
    assert all(r.ok for r in fast) and max(r.duration for r in fast) < 1.0


def test_poll_command_json_and_table(lab_env, demo) -> None:
    import json

    from typer.testing import CliRunner

    from emanwatch.cli import app

    _, _, path = lab_env
    runner = CliRunner()
    r = runner.invoke(app, ["-c", str(path), "poll", "sch001-ac01", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert all(set(x) == {"metric", "labels", "value"} for x in rows)
    metrics = {x["metric"] for x in rows}
    assert {"ifHCInOctets", "ifOperStatus", "emanwatch_cpu_percent", "emanwatch_ap_up", "emanwatch_poll_success"} <= metrics
    aps = [x for x in rows if x["metric"] == "emanwatch_ap_up"]
    assert len(aps) == sum(1 for d in demo.devices.values() if d.parent == "sch001-ac01" and d.status.polled)
    r = runner.invoke(app, ["-c", str(path), "poll", "nc-rn01"])
    assert r.exit_code == 0 and "poll ok" in r.output and "ring-a" in r.output
    r = runner.invoke(app, ["-c", str(path), "poll", "no-such-device"])
    assert r.exit_code == 2 and "neither a device in the inventory nor an IP address" in r.output
    r = runner.invoke(app, ["-c", str(path), "poll", "127.100.1.1:10161", "--community", "wrong", "--timeout", "0.3"])
    assert r.exit_code == 1 and "no reply" in r.output
