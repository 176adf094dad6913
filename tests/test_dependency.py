"""Root causes from the inventory's links and the polls: who is cut off by what (pure, on the demo district)."""

from __future__ import annotations

from collectors.dependency import cut_off, cut_off_samples, down_devices
from collectors.result import PollResult


def _site_devices(demo, site: str) -> set[str]:
    return {d.name for d in demo.devices.values() if d.site == site}


def _behind(demo, node: str) -> list[str]:
    return sorted(s for s in demo.sites if any(lk.b.device == node for lk in demo.uplink_of(s)))


def test_nothing_down_nothing_cut(demo) -> None:
    co = cut_off(demo, set(), {})
    assert (co.devices, co.links, co.sites) == ({}, {}, {})


def test_school_router_down_is_the_root_of_its_site(demo) -> None:
    site = _site_devices(demo, "sch010")
    # the router and everything behind it answer nothing; the ring node sees its port down
    co = cut_off(demo, site, {("pop04-rn04", "GigabitEthernet3/0/2"): False})
    assert co.devices["sch010-rt01"] == ("sch010-rt01", True)
    assert {d: v for d, v in co.devices.items() if d != "sch010-rt01"} == {d: ("sch010-rt01", False) for d in site - {"sch010-rt01"}}
    uplink = demo.uplink_of("sch010")[0].name
    assert co.links[uplink] == ("sch010-rt01", False)
    assert co.sites == {"sch010": "sch010-rt01"}


def test_switch_down_inside_a_school_is_the_root_of_its_aps_only(demo) -> None:
    aps = {d.name for d in demo.devices.values() if d.site == "sch001" and d.role.value == "ap"}
    co = cut_off(demo, {"sch001-as01"} | aps, {})
    assert co.devices.pop("sch001-as01") == ("sch001-as01", True)
    assert set(co.devices) == aps and {v for v in co.devices.values()} == {("sch001-as01", False)}
    assert co.sites == {}  # the router answers: the site is not cut off


def test_ring_node_down_is_the_root_of_every_site_behind_it(demo) -> None:
    behind = _behind(demo, "pop05-rn05")
    down = {"pop05-rn05"} | {d for s in behind for d in _site_devices(demo, s)}
    co = cut_off(demo, down, {})
    assert co.devices["pop05-rn05"] == ("pop05-rn05", True)
    assert all(co.devices[d] == ("pop05-rn05", False) for d in down - {"pop05-rn05"})
    assert co.sites == dict.fromkeys(behind, "pop05-rn05")
    ring = [n for n, (by, root) in co.links.items() if "pop05-rn05" in n and not root]
    assert len(ring) >= 4  # both rings, both sides, and the uplinks


def test_ring_link_cut_is_its_own_root_and_cuts_nobody(demo) -> None:
    co = cut_off(demo, set(), {("nc-rn02", "XGigabitEthernet1/0/1"): False})
    assert co.devices == {} and co.sites == {}
    [(name, v)] = co.links.items()
    assert v == (name, True) and "nc-rn02:XGigabitEthernet1/0/1" in name


def test_down_needs_every_signal_to_fail() -> None:
    def r(dev, col, ok):
        return PollResult(device=dev, collector=col, ok=ok, started=0, duration=0)

    res = [r("a", "snmp", False), r("a", "icmp", False), r("b", "snmp", False), r("b", "icmp", True),
           r("c", "icmp", False), r("d", "snmp", True)]
    assert down_devices(res) == {"a", "c"}


def test_samples_carry_cut_by_and_root(demo) -> None:
    res = [PollResult(device=d, collector="icmp", ok=False, started=0, duration=0) for d in _site_devices(demo, "kg001")]
    samples = cut_off_samples(demo, res, {})
    rt = [s for s in samples if s.metric == "emanwatch_device_cut_off" and dict(s.labels)["device"] == "kg001-rt01"]
    assert dict(rt[0].labels) == {"cut_by": "kg001-rt01", "device": "kg001-rt01", "root": "yes", "site": "kg001"}
    site = [s for s in samples if s.metric == "emanwatch_site_cut_off"]
    assert [dict(s.labels) for s in site] == [{"cut_by": "kg001-rt01", "root": "no", "site": "kg001"}]
