"""The demo district: what later issues poll. It must load, validate and match district.md."""

from __future__ import annotations

from collections import Counter
from ipaddress import ip_network

from inventory import DEMO_PATH, LinkKind, Role, SiteKind
from inventory.demo_gen import dump, generate


def test_demo_matches_the_district(demo) -> None:
    kinds = Counter(s.kind for s in demo.sites.values())
    assert kinds[SiteKind.SCHOOL] == 75
    assert kinds[SiteKind.VOCATIONAL] == 1
    assert kinds[SiteKind.KINDERGARTEN] == 58
    assert len(demo.devices) >= 5000
    roles = Counter(d.role for d in demo.devices.values())
    assert roles[Role.RING_NODE] == 6 and roles[Role.CORE] == 2
    assert roles[Role.SCHOOL_ROUTER] == 134 and roles[Role.AC] == 134
    assert {d.vendor.value for d in demo.devices.values()} >= {"huawei", "h3c", "ruijie", "cisco"}
    # every management address on loopback (network-safety rule)
    lo = ip_network("127.0.0.0/8")
    assert all(d.mgmt_address in lo for d in demo.devices.values())
    # APs per site: schools 20-80, kindergartens 5-15
    aps = Counter(d.site for d in demo.devices.values() if d.role == Role.AP)
    for s in demo.sites.values():
        if s.kind == SiteKind.SCHOOL:
            assert 20 <= aps[s.name] <= 80, s.name
        elif s.kind == SiteKind.KINDERGARTEN:
            assert 5 <= aps[s.name] <= 15, s.name


def test_demo_backbone(demo) -> None:
    for kind in (LinkKind.RING_A, LinkKind.RING_B):
        order = demo.ring_order(kind)
        assert len(order) == 6
        assert all(lk.capacity_bps == 10**10 for lk in demo.links if lk.kind == kind)
    egress = [lk for lk in demo.links if lk.kind == LinkKind.EGRESS]
    assert len(egress) == 3 and sum(lk.capacity_bps for lk in egress) == 6 * 10**9
    assert len({lk.carrier for lk in egress}) == 3
    # every campus uplinked at 1 Gbit/s to a ring node
    for s in demo.sites.values():
        if s.kind != SiteKind.CENTRE:
            (up,) = demo.uplink_of(s.name)
            assert up.capacity_bps == 10**9
            assert demo.devices[up.b.device].role == Role.RING_NODE


def test_every_campus_has_a_roster(demo) -> None:
    for s in demo.sites.values():
        if s.kind != SiteKind.CENTRE:
            assert s.admins and all(a.email and a.wecom_webhook for a in s.admins), s.name
            assert all(a.wecom_webhook.startswith("http://127.0.0.1:") for a in s.admins)


def test_committed_demo_is_what_the_generator_makes() -> None:
    """The generated inventory is what the program reads; it must not drift from its generator."""
    for name, doc in generate().items():
        assert (DEMO_PATH / name).read_text(encoding="utf-8") == dump(doc), f"{name}: run python -m inventory.demo_gen"
    on_disk = {str(p.relative_to(DEMO_PATH)) for p in DEMO_PATH.rglob("*.yaml")}
    assert on_disk == set(generate())
