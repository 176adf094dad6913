"""Topology verified against the inventory, and the dual ring's state from live link status.

LLDP (what each device says it sees on each port) against the inventory's links gives findings:
  missing      an inventory link whose port sees no neighbour although the port is up
  unexpected   a neighbour on a port where the inventory has no link, or a different device
  wrong-port   the right neighbour, but on another of its ports
  ring-order   a ring port seeing a ring node other than its inventory neighbour: cabled out of order
Only devices that were actually polled are judged (a dead device is an outage, not a cabling error).

Ring state from the ring links' ifOperStatus: a ring with no cut is `up`; cut somewhere it is
`degraded` while every node still reaches a core entry point over the live links of either ring;
`broken` when some node (and every campus behind it) cannot: those are listed as isolated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from inventory import Inventory, LinkKind, Role
from inventory.model import RING_KINDS

from .dependency import cut_off_samples
from .result import PollResult, Sample


@dataclass(frozen=True)
class Finding:
    kind: str  # missing | unexpected | wrong-port | ring-order
    device: str
    port: str
    expected: str  # "device:port" the inventory says, or ""
    observed: str  # "device:port" LLDP says, or ""

    def __str__(self) -> str:
        return f"{self.kind:11} {self.device}:{self.port}  expected {self.expected or '-'}  observed {self.observed or '-'}"


def observed_lldp(results: Iterable[PollResult]) -> tuple[dict[str, dict[str, tuple[str, str]]], dict[str, dict[str, bool]]]:
    """From SNMP poll results: {device: {local port: (neighbour, its port)}} and {device: {ifDescr: oper up}}."""
    lldp: dict[str, dict[str, tuple[str, str]]] = {}
    oper: dict[str, dict[str, bool]] = {}
    for r in results:
        if r.collector != "snmp" or not r.ok:
            continue
        lldp[r.device] = {}
        oper[r.device] = {}
        for s in r.samples:
            if s.metric == "emanwatch_lldp_neighbor":
                lab = dict(s.labels)
                lldp[r.device][lab["local_port"]] = (lab["neighbor"], lab["neighbor_port"])
            elif s.metric == "ifOperStatus":
                lab = dict(s.labels)
                if "ifDescr" in lab:
                    oper[r.device][lab["ifDescr"]] = s.value == 1.0
    return lldp, oper


def compare(inv: Inventory, lldp: dict[str, dict[str, tuple[str, str]]], oper: dict[str, dict[str, bool]]) -> list[Finding]:
    out: list[Finding] = []
    expected: dict[tuple[str, str], tuple[str, str, LinkKind]] = {}
    for lk in inv.links:
        if lk.b.external:
            continue
        expected[(lk.a.device, lk.a.interface)] = (lk.b.device, lk.b.interface, lk.kind)
        expected[(lk.b.device, lk.b.interface)] = (lk.a.device, lk.a.interface, lk.kind)
    ring_nodes = {d.name for d in inv.devices.values() if d.role == Role.RING_NODE}
    for dev, ports in lldp.items():
        d = inv.devices.get(dev)
        if d is None:
            continue
        for iface in d.interfaces:
            want = expected.get((dev, iface.name))
            seen = ports.get(iface.name)
            if want is None:
                if seen is not None:
                    out.append(Finding("unexpected", dev, iface.name, "", f"{seen[0]}:{seen[1]}"))
                continue
            wdev, wport, kind = want
            peer = inv.devices.get(wdev)
            if peer is not None and not peer.status.polled and seen is None:
                continue  # planned / offline equipment: nothing is expected on that port yet
            if seen is None:
                if oper.get(dev, {}).get(iface.name, False):
                    out.append(Finding("missing", dev, iface.name, f"{wdev}:{wport}", ""))
                continue
            sdev, sport = seen
            if sdev == wdev and sport == wport:
                continue
            if sdev == wdev:
                kind_name = "wrong-port"
            elif kind in RING_KINDS and sdev in ring_nodes:
                kind_name = "ring-order"
            else:
                kind_name = "unexpected"
            out.append(Finding(kind_name, dev, iface.name, f"{wdev}:{wport}", f"{sdev}:{sport}"))
    return sorted(out, key=lambda f: (f.device, f.port))


# ---------------------------------------------------------------- the ring


@dataclass
class RingState:
    rings: dict[str, str]  # ring kind -> up | degraded | broken
    overall: str  # up | degraded | broken
    down_links: list[str]  # "a:port--b:port (kind)"
    isolated_nodes: list[str]
    isolated_sites: list[str]


def ring_state(inv: Inventory, link_up: dict[tuple[str, str], bool], down_devices: Iterable[str] = ()) -> RingState:
    """link_up: (device, interface) -> oper up, for the ends we know; a link is down if an end
    says so or a device on it is down. Entry points: ring nodes with a live core link."""
    down_devs = set(down_devices)

    def up(lk) -> bool:  # noqa: ANN001
        if lk.a.device in down_devs or (not lk.b.external and lk.b.device in down_devs):
            return False
        ends = [link_up.get((lk.a.device, lk.a.interface))]
        if not lk.b.external:
            ends.append(link_up.get((lk.b.device, lk.b.interface)))
        return all(e is not False for e in ends)

    nodes = {d.name for d in inv.devices.values() if d.role == Role.RING_NODE}
    adj: dict[str, set[str]] = defaultdict(set)
    rings: dict[str, str] = {}
    down_links = []
    for kind in RING_KINDS:
        cut = 0
        for lk in inv.links:
            if lk.kind != kind:
                continue
            if up(lk):
                adj[lk.a.device].add(lk.b.device)
                adj[lk.b.device].add(lk.a.device)
            else:
                cut += 1
                down_links.append(f"{lk.name} ({kind.value})")
        rings[kind.value] = "up" if cut == 0 else "degraded"
    entries = set()
    for lk in inv.links:
        if lk.kind == LinkKind.CORE and up(lk):
            for a, b in ((lk.a.device, lk.b.device), (lk.b.device, lk.a.device)):
                if a in nodes and inv.devices[b].role == Role.CORE and a not in down_devs:
                    entries.add(a)
    seen = set(entries)
    stack = list(entries)
    while stack:
        n = stack.pop()
        for m in adj[n]:
            if m not in seen and m not in down_devs:
                seen.add(m)
                stack.append(m)
    isolated = sorted(nodes - seen)
    sites = []
    for s in inv.sites.values():
        ups = inv.uplink_of(s.name)
        if ups and not any(up(lk) and (lk.b.device in seen or lk.a.device in seen) for lk in ups):
            sites.append(s.name)
    if isolated:
        for k in rings:
            if rings[k] == "degraded":
                rings[k] = "broken"
    overall = "broken" if isolated else ("degraded" if down_links else "up")
    return RingState(rings, overall, down_links, isolated, sorted(sites))


def ring_state_from_results(inv: Inventory, results: list[PollResult],
                            oper: dict[str, dict[str, bool]] | None = None) -> RingState:
    """Ring state from SNMP polls; `oper` (from observed_lldp) saves scanning the samples again."""
    if oper is None:
        _, oper = observed_lldp(results)
    link_up = {(dev, ifname): up for dev, ports in oper.items() for ifname, up in ports.items()}
    ring_nodes = {d.name for d in inv.devices.values() if d.role == Role.RING_NODE}
    down = {r.device for r in results if r.collector == "snmp" and not r.ok}
    return ring_state(inv, link_up, down & ring_nodes)


STATE_VALUE = {"up": 2.0, "degraded": 1.0, "broken": 0.0}


def topology_samples(inv: Inventory, results: list[PollResult]) -> list[Sample]:
    """For the exporter: ring state, isolated nodes/sites, LLDP findings."""
    lldp, oper = observed_lldp(results)
    st = ring_state_from_results(inv, results, oper)
    out = [Sample("emanwatch_ring_state", (("ring", k),), STATE_VALUE[v]) for k, v in st.rings.items()]
    out.append(Sample("emanwatch_ring_state", (("ring", "all"),), STATE_VALUE[st.overall]))
    for n in inv.ring_nodes():
        out.append(Sample("emanwatch_ring_node_isolated", (("device", n.name), ("site", n.site)), 1.0 if n.name in st.isolated_nodes else 0.0))
    for s in inv.sites.values():
        if inv.uplink_of(s.name):
            out.append(Sample("emanwatch_site_isolated", (("site", s.name), ("site_kind", s.kind.value)),
                              1.0 if s.name in st.isolated_sites else 0.0))
    link_up = {(dev, ifname): up for dev, ports in oper.items() for ifname, up in ports.items()}
    out += cut_off_samples(inv, results, link_up)
    for f in compare(inv, lldp, oper):
        d = inv.devices[f.device]
        out.append(Sample("emanwatch_topology_mismatch", tuple(sorted({"device": f.device, "site": d.site, "port": f.port,
                                                                       "kind": f.kind, "expected": f.expected,
                                                                       "observed": f.observed}.items())), 1.0))
    return out
