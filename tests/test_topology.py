"""Ring state from link status, and LLDP against the inventory (pure, and against the lab)."""

from __future__ import annotations

import asyncio

import pytest
import yaml

from collectors.store import ResultStore
from collectors.topology import compare, observed_lldp, ring_state
from emanwatch.config import load_config
from emanwatch.scheduler import Scheduler


def _down(demo, *ports: str) -> dict[tuple[str, str], bool]:
    return {tuple(p.split(":", 1)): False for p in ports}


def test_ring_all_up(demo) -> None:
    st = ring_state(demo, {})
    assert (st.overall, st.rings, st.isolated_nodes, st.isolated_sites) == ("up", {"ring-a": "up", "ring-b": "up"}, [], [])


def test_one_ring_link_down_is_degraded_not_isolated(demo) -> None:
    st = ring_state(demo, _down(demo, "nc-rn02:XGigabitEthernet1/0/1"))
    assert st.overall == "degraded" and st.rings == {"ring-a": "degraded", "ring-b": "up"}
    assert st.isolated_nodes == [] and st.isolated_sites == []
    assert len(st.down_links) == 1 and "nc-rn02:XGigabitEthernet1/0/1" in st.down_links[0]


def test_two_cuts_isolate_a_node_and_its_sites(demo) -> None:
    # both rings cut on both sides of pop04-rn04
    cut = ["pop04-rn04:Ten-GigabitEthernet1/0/1", "pop04-rn04:Ten-GigabitEthernet1/0/2",
           "pop04-rn04:Ten-GigabitEthernet1/0/3", "pop04-rn04:Ten-GigabitEthernet1/0/4"]
    st = ring_state(demo, _down(demo, *cut))
    behind = sorted(s for s in demo.sites if any(lk.b.device == "pop04-rn04" for lk in demo.uplink_of(s)))
    assert st.overall == "broken" and st.isolated_nodes == ["pop04-rn04"]
    assert st.isolated_sites == behind and len(behind) > 10
    # cutting only ring-a on both sides leaves ring-b: degraded, nobody isolated
    st = ring_state(demo, _down(demo, *cut[:2]))
    assert st.overall == "degraded" and st.isolated_nodes == []


def test_ring_node_down_isolates_its_sites_only(demo) -> None:
    st = ring_state(demo, {}, down_devices=["pop05-rn05"])
    assert st.isolated_nodes == ["pop05-rn05"] and st.overall == "broken"
    assert all(lk.b.device == "pop05-rn05" for s in st.isolated_sites for lk in demo.uplink_of(s))


def test_compare_finds_each_kind(demo) -> None:
    node = "pop04-rn04"
    lldp = {node: {}}
    oper = {node: {}}
    for lk in demo.links_by_device[node]:
        mine, other = (lk.a, lk.b) if lk.a.device == node else (lk.b, lk.a)
        lldp[node][mine.interface] = (other.device, other.interface)
        oper[node][mine.interface] = True
    assert compare(demo, lldp, oper) == []
    lldp[node]["Ten-GigabitEthernet1/0/1"] = ("pop06-rn06", "Ten-GigabitEthernet1/0/2")  # ring cabled out of order
    lldp[node]["Ten-GigabitEthernet1/0/3"] = ("pop05-rn05", "Ten-GigabitEthernet1/0/9")  # right device, wrong port
    del lldp[node]["Ten-GigabitEthernet1/0/2"]  # no neighbour on an up port
    lldp[node]["Ten-GigabitEthernet1/0/20"] = ("rogue-sw", "Gi0/1")  # nothing in the inventory there
    kinds = {(f.kind, f.port) for f in compare(demo, lldp, oper)}
    assert kinds == {("ring-order", "Ten-GigabitEthernet1/0/1"), ("wrong-port", "Ten-GigabitEthernet1/0/3"),
                     ("missing", "Ten-GigabitEthernet1/0/2"), ("unexpected", "Ten-GigabitEthernet1/0/20")}
    oper[node]["Ten-GigabitEthernet1/0/2"] = False  # a port that is down is an outage, not a cabling error
    assert "missing" not in {f.kind for f in compare(demo, lldp, oper)}


@pytest.mark.server
def test_lab_cabling_mismatch_reported_exactly(lab_env, faults, tmp_path, demo) -> None:
    cfg, _, path = lab_env
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["polling"]["intervals"] = {"ring-node": "60s"}
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    pcfg = load_config(p)

    def observe():  # noqa: ANN202
        sch = Scheduler(pcfg, demo, ResultStore())

        async def run():  # noqa: ANN202
            await sch.engine.start()
            sch._sem = asyncio.Semaphore(16)
            try:
                return await sch.poll_all()
            finally:
                sch.engine.close()

        results = asyncio.run(run())
        return compare(demo, *observed_lldp(results))

    assert observe() == []
    faults.fault("lldp-mismatch", "pop04-rn04:Ten-GigabitEthernet1/0/1", device="pop06-rn06", interface="Ten-GigabitEthernet1/0/2")
    (f,) = observe()
    assert (f.kind, f.device, f.port, f.expected, f.observed) == (
        "ring-order", "pop04-rn04", "Ten-GigabitEthernet1/0/1", "pop05-rn05:Ten-GigabitEthernet1/0/2", "pop06-rn06:Ten-GigabitEthernet1/0/2")


@pytest.mark.server
def test_cabling_mismatch_seen_over_ssh_too(lab_env, faults, demo) -> None:
    """The same check from `display lldp neighbor-information verbose`, parsed by ntc-templates."""
    from collectors.ssh_lldp import lldp_over_ssh

    cfg, _, _ = lab_env
    pw = cfg.secret(cfg.auths.ssh["lab-netops"].password, "ssh")
    node = demo.devices["pop04-rn04"]  # an H3C ring node
    oper = {node.name: {i.name: True for i in node.interfaces}}
    r = lldp_over_ssh(node, "netops", pw, port=cfg.lab.ssh_port)
    assert r.ok, r.error
    assert compare(demo, {node.name: r.neighbors}, oper) == []
    faults.fault("lldp-mismatch", "pop04-rn04:Ten-GigabitEthernet1/0/1", device="pop06-rn06", interface="Ten-GigabitEthernet1/0/2")
    r = lldp_over_ssh(node, "netops", pw, port=cfg.lab.ssh_port)
    (f,) = compare(demo, {node.name: r.neighbors}, oper)
    assert (f.kind, f.port, f.observed) == ("ring-order", "Ten-GigabitEthernet1/0/1", "pop06-rn06:Ten-GigabitEthernet1/0/2")
    for dev in ("pop03-rn03", "sch001-cs01", "kg003-rt01"):  # Huawei, Cisco, Ruijie CLIs agree with the inventory
        d = demo.devices[dev]
        r = lldp_over_ssh(d, "netops", pw, port=cfg.lab.ssh_port)
        assert r.ok and compare(demo, {dev: r.neighbors}, {dev: {i.name: True for i in d.interfaces}}) == []
