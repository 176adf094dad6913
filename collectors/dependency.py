"""What is cut off by what: the root cause of an outage, from the inventory's links and the latest polls.

A device is down when every signal we have for it fails (SNMP if polled, ICMP if probed). From the
core outwards over live links and answering devices is what the centre reaches. A down device next
to that part over a live link is a root (it died); a down link whose near end answers is a root
(it was cut). Every down device behind a root inherits the root's name as `cut_by`. Alert rules
join these labels on, and one Alertmanager inhibit rule (`root="yes"` mutes `root="no"` with an
equal `cut_by`) keeps one notification per root cause. Nothing is entered by hand: a new school
hangs behind its ring node as soon as its uplink is in the inventory.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from inventory import Inventory, LinkKind, Role
from inventory.model import Link

from .result import PollResult, Sample


@dataclass
class CutOff:
    devices: dict[str, tuple[str, bool]] = field(default_factory=dict)  # down device -> (cut_by, is root)
    links: dict[str, tuple[str, bool]] = field(default_factory=dict)  # down link name -> (cut_by, is root)
    sites: dict[str, str] = field(default_factory=dict)  # site whose uplink device is down -> cut_by


def down_devices(results: Iterable[PollResult]) -> set[str]:
    """Devices every collector failed for (SNMP and ICMP both, when both ran)."""
    seen: dict[str, bool] = {}
    for r in results:
        if r.collector in ("snmp", "icmp"):
            seen[r.device] = seen.get(r.device, False) or r.ok
    return {d for d, ok in seen.items() if not ok}


def cut_off(inv: Inventory, down: set[str], link_up: dict[tuple[str, str], bool]) -> CutOff:
    """link_up: (device, interface) -> oper up, for the ends we polled; unknown ends count as up."""
    def link_down(lk: Link) -> bool:
        if link_up.get((lk.a.device, lk.a.interface)) is False:
            return True
        return not lk.b.external and link_up.get((lk.b.device, lk.b.interface)) is False

    adj: dict[str, list[tuple[Link, str]]] = defaultdict(list)
    for lk in inv.links:
        if lk.b.external:
            continue
        adj[lk.a.device].append((lk, lk.b.device))
        adj[lk.b.device].append((lk, lk.a.device))
    starts = [d.name for d in inv.devices.values() if d.role == Role.CORE]
    if not starts:  # a district without core switches: its ring nodes at the centre are the core
        starts = [d.name for d in inv.ring_nodes() if inv.sites[d.site].kind.value == "centre"]
    reached = {s for s in starts if s not in down}
    queue = deque(sorted(reached))
    while queue:
        x = queue.popleft()
        for lk, y in adj[x]:
            if y not in reached and y not in down and not link_down(lk):
                reached.add(y)
                queue.append(y)

    out = CutOff()
    frontier: deque[str] = deque()
    for x in sorted(reached):
        for _lk, y in adj[x]:
            if y in reached or y in out.devices or y not in down:
                continue
            # it answers nothing next to the part we reach. From the centre a dead router and a cut
            # single uplink look the same (the far end sees the port down either way): the device
            # is named, its people are the ones to call either way.
            out.devices[y] = (y, True)
            frontier.append(y)
    while frontier:
        x = frontier.popleft()
        cause = out.devices[x][0]
        for _lk, y in adj[x]:
            if y in down and y not in reached and y not in out.devices:
                out.devices[y] = (cause, False)
                frontier.append(y)
    # down devices nobody reached (no inventory path at all) are their own roots
    for d in sorted(down - reached - set(out.devices)):
        out.devices[d] = (d, True)

    for lk in inv.links:
        ends = [lk.a.device] + ([] if lk.b.external else [lk.b.device])
        dead = [e for e in ends if e in out.devices]
        if dead:
            # a link to a dead device is down because of the device
            roots = sorted(dead, key=lambda e: (not out.devices[e][1], e))
            out.links[lk.name] = (out.devices[roots[0]][0], False)
        elif link_down(lk):
            out.links[lk.name] = (lk.name, True)
    for lk in inv.links:  # a campus uplink's a-end is the school's router (inv.uplink_of)
        if lk.kind != LinkKind.UPLINK:
            continue
        site = inv.devices[lk.a.device].site
        if lk.a.device in out.devices:
            out.sites[site] = out.devices[lk.a.device][0]
        elif lk.name in out.links and site not in out.sites:
            out.sites[site] = out.links[lk.name][0]
    return out


def link_site(inv: Inventory, lk: Link) -> str:
    """Whose link it is: a campus uplink belongs to its school, everything else to the a-end's site."""
    return inv.devices[lk.a.device].site


def cut_off_samples(inv: Inventory, results: list[PollResult], link_up: dict[tuple[str, str], bool]) -> list[Sample]:
    co = cut_off(inv, down_devices(results), link_up)
    out = []
    for name, (by, root) in sorted(co.devices.items()):
        d = inv.devices[name]
        out.append(Sample("emanwatch_device_cut_off", (("cut_by", by), ("device", name), ("root", "yes" if root else "no"),
                                                      ("site", d.site)), 1.0))
    links = {lk.name: lk for lk in inv.links}
    for name, (by, root) in sorted(co.links.items()):
        lk = links[name]
        out.append(Sample("emanwatch_link_down", (("cut_by", by), ("link", name), ("link_kind", lk.kind.value),
                                                  ("root", "yes" if root else "no"), ("site", link_site(inv, lk))), 1.0))
    for site, by in sorted(co.sites.items()):
        out.append(Sample("emanwatch_site_cut_off", (("cut_by", by), ("root", "no"), ("site", site)), 1.0))
    return out


__all__ = ["CutOff", "cut_off", "cut_off_samples", "down_devices", "link_site"]
