"""Namespace mode: real snmpd over veth links, real traffic, and the route check (root)."""

from __future__ import annotations

import subprocess
import time

import pytest

from lab.netns import NetnsError, NetnsLab

pytestmark = [pytest.mark.root, pytest.mark.server]


@pytest.fixture(scope="module")
def netns(tmp_path_factory):
    lab = NetnsLab(nodes=3, schools=2, extra_ifs=20, community="ns-test", state=tmp_path_factory.mktemp("netns"))
    assert not lab.available(), f"namespace mode unavailable here: {lab.available()} (CI runs as root)"
    lab.up()
    yield lab
    lab.down()
    assert not [n for n in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split() if n.startswith("ew-")]


def walk(lab: NetnsLab, addr: str, oid: str) -> list[str]:
    r = subprocess.run(["ip", "netns", "exec", "ew-nms", "snmpbulkwalk", "-v2c", "-On", "-c", lab.community, "-Cr25", addr, oid],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def test_every_agent_answers_through_the_ring(netns: NetnsLab) -> None:
    for a in netns.agents:
        assert netns.route_check(a.address).startswith("ew-")
        names = walk(netns, a.address, "1.3.6.1.2.1.1.5")
        assert names and a.ns.removeprefix("ew-") in names[0]
        ifnames = [x.split('"')[1] for x in walk(netns, a.address, "1.3.6.1.2.1.31.1.1.1.1")]
        assert set(a.veths) <= set(ifnames) and len(ifnames) >= 20


def test_real_traffic_moves_real_counters(netns: NetnsLab) -> None:
    school = next(a for a in netns.agents if "sch" in a.ns)

    def out_octets() -> dict[str, int]:
        names = {x.split(" = ")[0].rsplit(".", 1)[1]: x.split('"')[1] for x in walk(netns, school.address, "1.3.6.1.2.1.31.1.1.1.1")}
        vals = {x.split(" = ")[0].rsplit(".", 1)[1]: int(x.rsplit(": ", 1)[1]) for x in walk(netns, school.address, "1.3.6.1.2.1.31.1.1.1.10")}
        return {names[k]: v for k, v in vals.items()}

    before = out_octets()
    netns.traffic(seconds=2, mbit=8)
    time.sleep(5)  # snmpd caches the interface table for a few seconds
    after = out_octets()
    uplink = school.veths[0]
    sent = after[uplink] - before[uplink]
    assert 1e6 < sent < 4e6, sent  # ~8 Mbit/s for 2 s = ~2 MB, as the kernel counted it


def test_route_check_refuses_what_would_leave_the_lab(netns: NetnsLab) -> None:
    for addr in ("127.0.0.1", "8.8.8.8"):
        with pytest.raises(NetnsError):
            netns.route_check(addr)
    with pytest.raises(NetnsError, match="refusing"):
        netns.route_check("169.254.99.1")  # link-local but not one of our links
