"""End to end: the lab, `emanwatch serve` and a real Prometheus scraping it (servers on loopback).

PromQL sees rates for a ring link, a carrier uplink and a school uplink, AP counts of a school and
a router's CPU; a device the lab takes down shows poll_success 0 within one interval while the
others keep answering.
"""

from __future__ import annotations

import time

import httpx
import pytest
import yaml

from emanwatch.config import load_config
from emanwatch.services import Service, emanwatch_serve, prometheus

from .lab_helpers import prom_query

pytestmark = [pytest.mark.server, pytest.mark.slow]

INTERVALS = {"ring-node": "5s", "core": "5s", "egress": "5s", "firewall": "5s", "school-router": "5s", "ac": "10s"}


@pytest.fixture(scope="module")
def stack(lab_env, tmp_path_factory):
    cfg, client, path = lab_env
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    tmp = tmp_path_factory.mktemp("stack")
    doc["polling"]["intervals"] = INTERVALS  # switches left out: a lighter load for CI
    doc["ssh"].update(sites=["sch001"], roles=["school-router"], audit_every="1h")  # one router audited at start
    doc["listen"] = {"exporter": "127.0.0.1:19810", "notifier": "127.0.0.1:19811", "prometheus": "127.0.0.1:19090"}
    doc["paths"]["state"] = str(tmp / "var")
    p = tmp / "config.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    scfg = load_config(p)
    services: list[Service] = [emanwatch_serve(scfg, p), prometheus(scfg, scrape_interval="5s", with_alertmanager=False)]
    for s in services:
        s.start(timeout=90)
    yield scfg, client
    for s in reversed(services):
        s.stop()


def wait_for(cfg, q: str, cond, timeout: float = 60.0) -> list[dict]:
    deadline = time.time() + timeout
    res: list[dict] = []
    while time.time() < deadline:
        res = prom_query(cfg, q)
        if cond(res):
            return res
        time.sleep(1)
    raise AssertionError(f"{q}: condition not met in {timeout:.0f}s; last: {res[:3]}")


def test_promql_sees_the_district(stack, demo) -> None:
    cfg, _ = stack
    polled = [d for d in demo.devices.values() if d.status.polled and d.role.value in INTERVALS]
    wait_for(cfg, 'count(emanwatch_poll_success{collector="snmp"} == 1)', lambda r: r and int(float(r[0]["value"][1])) == len(polled), 90)
    for q in ('rate(ifHCInOctets{link_kind="ring-a", device="nc-rn01"}[30s]) * 8',
              'rate(ifHCInOctets{link_kind="egress", carrier="中国电信"}[30s]) * 8',
              'rate(ifHCInOctets{link_kind="uplink", device="sch001-rt01"}[30s]) * 8'):
        res = wait_for(cfg, q, lambda r: r and any(float(x["value"][1]) > 0 for x in r), 60)
        assert all(float(x["value"][1]) < 10e9 for x in res), q
    # the poller's own per-poll rates (what the utilisation rules average): on every carrier, within its capacity
    res = wait_for(cfg, 'emanwatch_if_in_bps{link_kind="egress"} / on (device, ifIndex) emanwatch_link_capacity_bps',
                   lambda r: len(r) == 3, 30)
    assert all(0 < float(x["value"][1]) < 1.0 for x in res), res
    aps = [d for d in demo.devices.values() if d.role.value == "ap" and d.site == "sch001" and d.status.polled]
    (res,) = wait_for(cfg, 'emanwatch_ac_aps_online{site="sch001"}', lambda r: len(r) == 1, 30)
    assert int(float(res["value"][1])) == len(aps)
    (cpu,) = prom_query(cfg, 'emanwatch_cpu_percent{device="sch001-rt01"}')
    assert 0 <= float(cpu["value"][1]) <= 100
    assert prom_query(cfg, 'emanwatch_poll_duration_seconds{device="nc-rn01"}')
    # the scheduled audit (one router in scope) is exported: every applicable check passes on a clean lab
    checks = wait_for(cfg, 'emanwatch_compliance_check{device="sch001-rt01"}', lambda r: len(r) >= 15, 90)
    assert all(float(x["value"][1]) == 1.0 for x in checks), [x["metric"]["check"] for x in checks if x["value"][1] != "1"]
    assert {x["metric"]["check"] for x in checks} >= {"AUTH-05", "IPS-03", "AUD-02", "DRIFT-NTP", "BAK-01"}
    assert not prom_query(cfg, 'emanwatch_compliance_check{device!="sch001-rt01"}')  # nothing outside ssh.sites/roles
    # the probes sweep every address (APs too), the ring is whole, the rules are loaded
    n_addr = sum(1 for d in demo.devices.values() if d.status.polled)
    wait_for(cfg, 'count(emanwatch_poll_success{collector="icmp"} == 1)', lambda r: r and int(float(r[0]["value"][1])) == n_addr, 60)
    (ring,) = wait_for(cfg, 'emanwatch_ring_state{ring="all"}', lambda r: len(r) == 1, 30)
    assert ring["value"][1] == "2"
    rules = httpx.get(f"http://{cfg.listen.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {r["name"] for g in rules for r in g["rules"]} >= {"DeviceDown", "SnmpAgentProblem", "RingDegraded", "SiteIsolated"}


def test_device_down_seen_within_one_interval(stack) -> None:
    cfg, client = stack
    wait_for(cfg, 'emanwatch_poll_success{collector="snmp", device="sch010-rt01"}', lambda r: r and r[0]["value"][1] == "1", 60)
    client.fault("device-down", "sch010-rt01")
    t0 = time.time()
    try:
        # one 5 s interval + 2 s timeout x 2 tries + a 5 s scrape
        wait_for(cfg, 'emanwatch_poll_success{collector="snmp", device="sch010-rt01"}', lambda r: r and r[0]["value"][1] == "0", 5 + 4 + 5 + 5)
        took = time.time() - t0
        (err,) = prom_query(cfg, 'emanwatch_poll_error{collector="snmp", device="sch010-rt01"}')
        assert err["metric"]["reason"] == "timeout"
        # the others are unaffected
        ok = prom_query(cfg, 'emanwatch_poll_success{collector="snmp", device=~"sch01[1-9]-rt01"}')
        assert ok and all(x["value"][1] == "1" for x in ok)
        assert took < 20
    finally:
        client.clear()
    wait_for(cfg, 'emanwatch_poll_success{collector="snmp", device="sch010-rt01"}', lambda r: r and r[0]["value"][1] == "1", 30)
