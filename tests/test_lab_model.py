"""The lab's traffic model and district model, without servers."""

from __future__ import annotations

import pytest

from lab.model import LabDistrict
from lab.traffic import DAY, LabClock, integral, level

# 2026-11-23 is a Monday; times in Shanghai (UTC+8)
MONDAY_0000 = 1795363200  # date -d "2026-11-23 00:00 +0800" +%s


def test_school_day_shape() -> None:
    assert level(MONDAY_0000 + 10 * 3600) > 0.9  # Monday 10:00, in class
    assert level(MONDAY_0000 + 3 * 3600) < 0.1  # Monday 03:00
    assert level(MONDAY_0000 + 5 * DAY + 10 * 3600) < 0.15  # Saturday 10:00
    assert level(MONDAY_0000 + 12 * 3600) < level(MONDAY_0000 + 10 * 3600)  # lunch dip


@pytest.mark.parametrize(("a", "b"), [(0, 3600), (7 * 3600, 9 * 3600 + 17), (-3600, 86400 * 9 + 123), (100, 100)])
def test_integral_matches_numeric_sum(a: int, b: int) -> None:
    t0 = MONDAY_0000
    step = 5
    numeric = sum(level(t0 + a + k * step + step / 2) * step for k in range(int((b - a) / step)))
    assert integral(t0 + a, t0 + b) == pytest.approx(numeric, rel=2e-3, abs=1e-6)


def test_acceleration_keeps_rates_within_capacity() -> None:
    """Shape runs faster, bytes still accumulate per real second at no more than the level-1 rate."""
    clock = LabClock(factor=1008, start_real=1000.0, start_lab=MONDAY_0000)
    per_second = [clock.bytes_factor(1000.0 + s, 1001.0 + s) for s in range(0, 600, 10)]
    assert max(per_second) <= 1.0 + 1e-9
    assert max(per_second) > 0.85 and min(per_second) < 0.15  # ten minutes cover a week's peaks and nights


@pytest.fixture(scope="module")
def district(demo):
    return LabDistrict(demo, LabClock(start_real=MONDAY_0000 + 10 * 3600))


def _rate(d: LabDistrict, dev: str, ifname: str) -> tuple[float, float]:
    i = d.devices[dev].by_name[ifname]
    return i.in_scale * 8, i.out_scale * 8


def test_both_ends_of_every_link_agree(district: LabDistrict) -> None:
    for a, b in district.link_ifs.values():
        if a is not None and b is not None:
            assert a.out_scale == pytest.approx(b.in_scale) and a.in_scale == pytest.approx(b.out_scale)


def test_peak_loads_are_plausible(district: LabDistrict, demo) -> None:
    egress = [lk for lk in demo.links if lk.kind == "egress"]
    total = sum(_rate(district, lk.a.device, lk.a.interface)[0] for lk in egress)
    assert 0.6 * 6e9 <= total <= 0.8 * 6e9
    for lk in demo.links:
        a = district.devices.get(lk.a.device)
        if a is None:
            continue
        i = a.by_name[lk.a.interface]
        assert max(i.in_scale, i.out_scale) * 8 <= lk.capacity_bps, lk.name


def test_ring_cut_shifts_traffic_and_isolation(demo) -> None:
    d = LabDistrict(demo, LabClock(start_real=MONDAY_0000 + 10 * 3600))
    ring_a = "nc-rn02:XGigabitEthernet1/0/1"  # ring-a nc-rn02 -> pop03-rn03
    ring_b = "nc-rn02:XGigabitEthernet1/0/3"  # ring-b nc-rn02 -> pop03-rn03
    before_b = _rate(d, "nc-rn02", "XGigabitEthernet1/0/3")[1]
    d.add_fault({"kind": "link-down", "target": ring_a})
    assert not d.devices["nc-rn02"].by_name["XGigabitEthernet1/0/1"].oper_up
    assert not d.devices["pop03-rn03"].by_name["XGigabitEthernet1/0/2"].oper_up
    assert _rate(d, "nc-rn02", "XGigabitEthernet1/0/3")[1] > before_b  # the other ring carries it now
    assert not d.unreachable
    # both rings cut on both sides of pop03-rn03: it and every campus behind it are isolated
    for t in (ring_b, "pop03-rn03:XGigabitEthernet1/0/1", "pop03-rn03:XGigabitEthernet1/0/3"):
        d.add_fault({"kind": "link-down", "target": t})
    behind = {s for s in d.demand if any(lk.b.device == "pop03-rn03" for lk in demo.uplink_of(s))}
    assert "pop03-rn03" in d.unreachable and behind and behind <= d.isolated
    assert all(n in d.unreachable for n in (f"{s}-rt01" for s in behind))
    d.clear_faults()
    assert not d.unreachable and d.devices["nc-rn02"].by_name["XGigabitEthernet1/0/1"].oper_up


def test_router_down_cuts_its_campus_only(demo) -> None:
    d = LabDistrict(demo)
    d.add_fault({"kind": "device-down", "target": "sch001-rt01"})
    campus = {n for n, dev in demo.devices.items() if dev.site == "sch001" and dev.status.polled}
    assert d.unreachable == campus
    d.clear_faults()
    assert not d.unreachable


def test_counters_never_go_back_and_reboot_resets(demo) -> None:
    d = LabDistrict(demo)
    i = d.devices["sch002-rt01"].interfaces[3]
    t = d.clock.start_real
    seen = [i.octets(t + k * 7.3) for k in range(50)]
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False))
    d.add_fault({"kind": "agent-reboot", "target": "sch002-rt01"}, now=t + 400)
    assert i.octets(t + 400) == (0, 0)
    assert d.devices["sch002-rt01"].uptime_ticks(t + 410) == 1000
