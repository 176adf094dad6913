"""Cross-record checks: references, uniqueness, address ranges, ring closure, egress capacity.

Each check appends Problems naming the file and line of the record at fault; warnings are things
a district can live with for a while (a site without a 网管员 gets no alerts) but should see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from ipaddress import IPv4Network
from typing import TYPE_CHECKING

from .model import PLATFORM_VENDOR, RING_KINDS, Link, LinkKind, Role, SiteKind
from .source import Located, Problem

if TYPE_CHECKING:
    from .loader import Inventory


def _fmt_bps(bps: int) -> str:
    for unit, div in (("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if bps >= div:
            return f"{bps / div:g}{unit}"
    return str(bps)


def validate(
    inv: Inventory,
    link_raw: list[tuple[Located, str]],
    *,
    allowed_ranges: Iterable[IPv4Network] | None,
    auth_names: dict[str, set[str]] | None,
) -> tuple[list[Problem], list[Problem]]:
    problems: list[Problem] = []
    warnings: list[Problem] = []

    def at(kind: str, name: str) -> tuple[str, int]:
        return inv.where.get((kind, name), ("", 0))

    def dev_problem(name: str, msg: str, fld: str = "") -> None:
        f, line = at("device", name)
        problems.append(Problem(f, line, f"device {name!r}", msg, fld))

    ranges = list(allowed_ranges) if allowed_ranges is not None else None
    seen_addr: dict[str, str] = {}
    for d in inv.devices.values():
        site = inv.sites.get(d.site)
        if site is None:
            dev_problem(d.name, f"unknown site {d.site!r}", "site")
        if d.model not in inv.models:
            dev_problem(d.name, f"unknown model {d.model!r} (add it to 'models:')", "model")
        if d.platform is None or d.vendor is None:
            dev_problem(d.name, "vendor and platform are needed (or a model from the catalogue)", "platform")
        else:
            pv = PLATFORM_VENDOR.get(d.platform)
            if pv is not None and pv != d.vendor:
                dev_problem(d.name, f"platform {d.platform!r} is {pv.value}'s, not {d.vendor.value}'s", "platform")
        addr = str(d.mgmt_address)
        if addr in seen_addr:
            f0, l0 = at("device", seen_addr[addr])
            dev_problem(d.name, f"address {addr} already used by {seen_addr[addr]!r} ({f0}:{l0})", "mgmt_address")
        else:
            seen_addr[addr] = d.name
        if ranges is not None and not any(d.mgmt_address in r for r in ranges):
            allowed = ", ".join(str(r) for r in ranges)
            dev_problem(d.name, f"address {addr} is outside the allowed ranges ({allowed}) of config.yaml inventory.allowed_ranges", "mgmt_address")
        if auth_names is not None:
            for fld, kind in (("snmp_auth", "snmp"), ("ssh_auth", "ssh")):
                ref = getattr(d, fld)
                if ref is not None and ref not in auth_names.get(kind, set()):
                    known = ", ".join(sorted(auth_names.get(kind, set()))) or "none"
                    dev_problem(d.name, f"no auths.{kind}.{ref} in config.yaml (known: {known})", fld)
        if d.role == Role.AP and d.parent is None:
            dev_problem(d.name, "a thin AP needs its controller as 'parent'", "parent")
        if d.parent is not None:
            p = inv.devices.get(d.parent)
            if p is None:
                dev_problem(d.name, f"unknown parent device {d.parent!r}", "parent")
            elif p.role != Role.AC:
                dev_problem(d.name, f"parent {d.parent!r} is a {p.role.value}, not an ac", "parent")
            elif p.site != d.site:
                dev_problem(d.name, f"parent {d.parent!r} is at site {p.site!r}, not {d.site!r}", "parent")

    for s in inv.sites.values():
        if s.kind != SiteKind.CENTRE and not s.admins:
            f, line = at("site", s.name)
            warnings.append(Problem(f, line, f"site {s.name!r}", "no 网管员 in the roster: its alerts reach only the network centre", "admins"))

    _check_links(inv, link_raw, problems)
    if not problems:  # ring and capacity checks assume the ends resolved
        _check_rings(inv, problems)
        _check_egress_and_uplinks(inv, link_raw, problems)
    return problems, warnings


def _check_links(inv: Inventory, link_raw: list[tuple[Located, str]], problems: list[Problem]) -> None:
    used: dict[tuple[str, str], tuple[str, int]] = {}
    iface_sets: dict[str, set[str]] = {}
    for link, (raw, fname) in zip(inv.links, link_raw, strict=True):
        label = f"link {link.name}"
        for end_name, end in (("a", link.a), ("b", link.b)):
            if end.external:
                continue
            dev = inv.devices.get(end.device)
            if dev is None:
                problems.append(Problem(fname, raw.line_of(end_name), label, f"end {end_name}: unknown device {end.device!r}", end_name))
                continue
            names = iface_sets.get(dev.name)
            if names is None:
                names = iface_sets[dev.name] = {i.name for i in dev.interfaces}
            if end.interface not in names:
                problems.append(Problem(fname, raw.line_of(end_name), label, f"end {end_name}: device {dev.name!r} ({dev.model}) has no interface {end.interface!r}", end_name))
                continue
            key = (end.device, end.interface)
            if key in used:
                f0, l0 = used[key]
                problems.append(Problem(fname, raw.line_of(end_name), label, f"end {end_name}: interface {end} is already used by a link at {f0}:{l0}", end_name))
            else:
                used[key] = (fname, raw.line)
        if not link.b.external and link.a.device == link.b.device:
            problems.append(Problem(fname, raw.line, label, "both ends on the same device"))


def _check_rings(inv: Inventory, problems: list[Problem]) -> None:
    nodes = {d.name for d in inv.ring_nodes()}
    if not nodes:
        f, line = inv.where.get(("district", ""), ("", 0))
        problems.append(Problem(f, line, "backbone", "no ring-node devices: the dual ring is missing"))
        return
    for kind in RING_KINDS:
        adj: dict[str, list[Link]] = defaultdict(list)
        for link in inv.links:
            if link.kind != kind:
                continue
            for end in (link.a, link.b):
                role = inv.devices[end.device].role
                if role != Role.RING_NODE:
                    f, line = inv.where[("device", end.device)]
                    problems.append(Problem(f, line, f"link {link.name}", f"{kind.value} link ends on {end.device!r}, a {role.value}, not a ring-node", "kind"))
            adj[link.a.device].append(link)
            adj[link.b.device].append(link)
        for n in sorted(nodes):
            count = len(adj.get(n, []))
            if count == 0:
                f, line = inv.where[("device", n)]
                problems.append(Problem(f, line, f"device {n!r}", f"ring node is not on {kind.value} (each ring node must be on both rings)"))
            elif count != 2:
                f, line = inv.where[("device", n)]
                problems.append(Problem(f, line, f"device {n!r}", f"{kind.value} is not closed: this node has {count} {kind.value} link(s), a ring needs exactly 2"))
        if not adj:
            continue
        # one cycle through every node: walk from any node and count what we reach
        start = min(adj)
        seen, stack = {start}, [start]
        while stack:
            cur = stack.pop()
            for link in adj[cur]:
                nxt = link.b.device if link.a.device == cur else link.a.device
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        if seen != set(adj) and all(len(v) == 2 for v in adj.values()):
            f, line = inv.where[("device", start)]
            problems.append(Problem(f, line, "backbone", f"{kind.value} is split into more than one loop: {', '.join(sorted(set(adj) - seen))} not reachable from {start}"))


def _check_egress_and_uplinks(inv: Inventory, link_raw: list[tuple[Located, str]], problems: list[Problem]) -> None:
    total = 0
    first: tuple[str, int] | None = None
    for link, (raw, fname) in zip(inv.links, link_raw, strict=True):
        if link.kind == LinkKind.EGRESS:
            total += link.capacity_bps
            first = first or (fname, raw.line)
            role = inv.devices[link.a.device].role
            if role not in (Role.EGRESS, Role.FIREWALL):
                problems.append(Problem(fname, raw.line, f"link {link.name}", f"egress link on {link.a.device!r}, a {role.value}; egress links leave from an egress router or firewall", "a"))
        elif link.kind == LinkKind.UPLINK:
            roles = {inv.devices[link.a.device].role, inv.devices[link.b.device].role}
            if Role.RING_NODE not in roles:
                problems.append(Problem(fname, raw.line, f"link {link.name}", "an uplink connects a site to a ring node; neither end is a ring-node", "kind"))
    want = inv.district.egress_capacity_bps
    if total != want:
        f, line = first or inv.where.get(("district", ""), ("", 0))
        problems.append(Problem(f, line, "egress", f"carrier uplinks add up to {_fmt_bps(total)}bit/s, but district.egress_capacity_bps is {_fmt_bps(want)}bit/s", "capacity_bps"))

    uplinked = set()
    for link in inv.links:
        if link.kind == LinkKind.UPLINK:
            for end in (link.a, link.b):
                uplinked.add(inv.devices[end.device].site)
    for s in inv.sites.values():
        if s.kind != SiteKind.CENTRE and s.name not in uplinked:
            f, line = inv.where[("site", s.name)]
            problems.append(Problem(f, line, f"site {s.name!r}", "no uplink to a ring node: the site is not connected to the backbone"))
