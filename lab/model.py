"""The lab's view of the district: every device with an agent, its interfaces and counters, the
flows that load each link, the APs behind each AC, and what faults do to all of it.

Traffic: each campus has a peak demand; it flows from the core along the ring (the shorter
direction on ring-a / ring-b, the other way round when a link or node is down), down the site's
uplink, through the campus switches to the APs. The internet share of it crosses the egress
router, split over the live carriers. Counters integrate these rates exactly (see traffic.py).
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from inventory import Device, Inventory, Link, LinkKind, Role, SiteKind
from inventory.model import short_name

from .traffic import LabClock

VENDORS_FILE = Path(__file__).with_name("vendors.yaml")
UPLOAD_RATIO = 0.3  # campus upload vs download
PKT_SIZE = 820  # average bytes per packet, for the packet counters
EGRESS_PEAK = 0.70  # egress near 70% of its capacity at the weekday peak
CARRIER_WEIGHTS = (0.36, 0.33, 0.31)


@cache
def vendor_data() -> dict[str, Any]:
    return yaml.safe_load(VENDORS_FILE.read_text(encoding="utf-8"))


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest(), "big")


def mac_for(*parts: object) -> bytes:
    # locally administered unicast: no real vendor's OUI is implied
    return bytes([0x02]) + _h(*parts).to_bytes(8, "big")[:5]


class LabIf:
    __slots__ = ("device", "name", "ifname", "ifindex", "speed", "iftype", "alias", "mac", "link", "peer",
                 "physical", "in_scale", "out_scale", "in_flat", "out_flat", "base_in", "base_out", "epoch", "shift",
                 "err_rate", "err_base", "err_epoch", "last_change", "oper_up")

    def __init__(self, device: LabDevice, name: str, ifindex: int, speed: int, iftype: int, physical: bool) -> None:
        self.device = device
        self.name = name
        self.ifname = short_name(name) if device.vendor["ifname"] == "short" else name
        self.ifindex = ifindex
        self.speed = speed
        self.iftype = iftype
        self.alias = ""
        self.mac = mac_for(device.name, name)
        self.link: Link | None = None
        self.peer: tuple[str, str] | None = None  # (device, interface) at the far end
        self.physical = physical
        self.in_scale = self.out_scale = 0.0  # byte/s at level 1
        self.in_flat = self.out_flat = 0.0  # byte/s whatever the hour (a surge)
        seed = _h(device.name, name)
        self.base_in = seed % (1 << 40)  # counters start somewhere, as on a device up for months
        self.base_out = (seed >> 20) % (1 << 40)
        self.epoch = device.district.clock.start_real
        self.shift = 0.0
        self.err_rate = 0.0
        self.err_base = 0
        self.err_epoch = self.epoch
        self.last_change = 0.0
        self.oper_up = not physical

    def octets(self, now: float) -> tuple[int, int]:
        if now <= self.epoch:
            return self.base_in, self.base_out
        f = self.device.district.clock.bytes_factor(self.epoch, now, self.shift)
        dt = now - self.epoch
        return (self.base_in + int(self.in_scale * f + self.in_flat * dt),
                self.base_out + int(self.out_scale * f + self.out_flat * dt))

    def errors(self, now: float) -> int:
        return self.err_base + int(self.err_rate * max(0.0, now - self.err_epoch))

    def bank(self, now: float) -> None:
        """Fold the counters up to `now` into the base before the rates change."""
        self.base_in, self.base_out = self.octets(now)
        self.err_base = self.errors(now)
        self.epoch = self.err_epoch = now


@dataclass
class LabAP:
    name: str
    number: int
    mac: bytes
    ip: str
    serial: str
    model: str
    max_clients: int
    shift: float
    port: LabIf | None = None  # the switch port it hangs on
    online: bool = True


@dataclass
class LabDevice:
    district: LabDistrict
    dev: Device
    vendor: dict[str, Any]
    interfaces: list[LabIf] = field(default_factory=list)
    by_name: dict[str, LabIf] = field(default_factory=dict)
    aps: list[LabAP] = field(default_factory=list)
    boot_time: float = 0.0
    boots: int = 1
    cpu_base: float = 15.0
    mem_base: float = 40.0
    temp_base: float = 40.0
    hc_counters: bool = True
    tree: Any = None  # built lazily by snmp_tree

    @property
    def name(self) -> str:
        return self.dev.name

    @property
    def address(self) -> str:
        return str(self.dev.mgmt_address)

    @property
    def engine_id(self) -> bytes:
        from collectors.snmp.usm import engine_id_for

        return engine_id_for(self.vendor["enterprise"], self.name)

    @property
    def chassis_mac(self) -> bytes:
        return mac_for(self.name, "chassis")

    def uptime_ticks(self, now: float) -> int:
        return int((now - self.boot_time) * 100) % (1 << 32)

    def cpu(self, now: float) -> int:
        d = self.district
        if d.fault_on("cpu-high", self.name):
            return 94 + int(now) % 5
        return int(self.cpu_base + 25 * d.clock.level(now))

    def mem(self, now: float) -> int:
        return int(self.mem_base + 6 * self.district.clock.level(now))

    def temp(self, now: float) -> int:
        return int(self.temp_base + 5 * self.district.clock.level(now))

    def mem_bytes(self, now: float) -> tuple[int, int]:
        total = 512 * 1024 * 1024
        used = total * self.mem(now) // 100
        return used, total - used

    def ap_clients(self, ap: LabAP, now: float) -> int:
        if not ap.online:
            return 0
        return int(round(ap.max_clients * self.district.clock.level(now, ap.shift)))


class LabDistrict:
    """Everything the lab's agents answer from. Faults change it through apply_faults()."""

    def __init__(self, inv: Inventory, clock: LabClock | None = None, seed: int = 7) -> None:
        self.inv = inv
        self.clock = clock or LabClock()
        self.rng = random.Random(seed)
        self.faults: list[dict[str, Any]] = []
        self.lab_community = ""  # what the agents accept, shown in the CLIs' configs
        self.lock = threading.RLock()  # agents read while the control API changes faults
        self._next_fault = 1
        self.devices: dict[str, LabDevice] = {}
        self.by_address: dict[str, LabDevice] = {}
        vendors = vendor_data()
        for d in inv.devices.values():
            if d.role == Role.AP or not d.status.polled or d.vendor is None or d.vendor.value not in vendors:
                continue
            ld = LabDevice(self, d, vendors[d.vendor.value], boot_time=self.clock.start_real - self.rng.uniform(5, 200) * 86400)
            ld.cpu_base = self.rng.uniform(6, 28)
            ld.mem_base = self.rng.uniform(25, 55)
            ld.temp_base = self.rng.uniform(36, 46)
            self._interfaces(ld)
            self.devices[d.name] = ld
            self.by_address[ld.address] = ld
        self._wire()
        self._demand()
        self.apply_faults()

    # ------------------------------------------------------------ construction

    def _interfaces(self, ld: LabDevice) -> None:
        v = ld.vendor
        idx = 1
        for p in v.get("pseudo_interfaces", []):
            ld.interfaces.append(LabIf(ld, p["name"], idx, 0, p["type"], physical=False))
            idx += 1
        idx = v.get("first_port_index", idx)
        for i in ld.dev.interfaces:
            ld.interfaces.append(LabIf(ld, i.name, idx, i.speed_bps, 6, physical=True))
            idx += 1
        m = v["mgmt_interface"]
        ld.interfaces.append(LabIf(ld, m["name"], idx, 1_000_000_000, m["type"], physical=False))
        ld.by_name = {i.name: i for i in ld.interfaces}

    def _wire(self) -> None:
        inv = self.inv
        self._link_index = {id(lk): n for n, lk in enumerate(inv.links)}  # inventory link -> its number
        self.link_ifs: dict[int, tuple[LabIf | None, LabIf | None]] = {}
        for n, link in enumerate(inv.links):
            ends = []
            for end, other in ((link.a, link.b), (link.b, link.a)):
                ld = None if end.external else self.devices.get(end.device)
                lif = ld.by_name.get(end.interface) if ld else None
                if lif is not None:
                    lif.link = link
                    lif.peer = (other.device, other.interface)
                    lif.alias = _alias(inv, link, other)
                ends.append(lif)
            self.link_ifs[n] = (ends[0], ends[1])
        # thin APs: on their AC's table and on the switch port they hang from
        counters: dict[str, int] = defaultdict(int)
        for d in inv.devices.values():
            if d.role != Role.AP or not d.status.polled or d.parent not in self.devices:
                continue
            ac = self.devices[d.parent]
            counters[ac.name] += 1
            kind = inv.sites[d.site].kind
            top = 45 if kind in (SiteKind.SCHOOL, SiteKind.VOCATIONAL) else 15
            ap = LabAP(d.name, counters[ac.name], mac_for(d.name), str(d.mgmt_address), d.serial or d.name, d.model,
                       self.rng.randint(top // 3, top), self.rng.uniform(-900, 900))
            for link in inv.links_by_device.get(d.name, []):
                other = link.other(d.name)
                sw = self.devices.get(other.device)
                if sw is not None:
                    ap.port = sw.by_name.get(other.interface)
            ac.aps.append(ap)
        self.ap_by_port = {id(ap.port): ap for ld in self.devices.values() for ap in ld.aps if ap.port is not None}
        self.ap_by_name = {ap.name: ap for ld in self.devices.values() for ap in ld.aps}

    def _demand(self) -> None:
        """Peak download demand per campus (bit/s at level 1) and a per-site time shift."""
        self.demand: dict[str, float] = {}
        self.site_shift: dict[str, float] = {}
        for s in self.inv.sites.values():
            if s.kind == SiteKind.CENTRE:
                continue
            lo, hi = {SiteKind.SCHOOL: (60e6, 250e6), SiteKind.VOCATIONAL: (380e6, 420e6),
                      SiteKind.KINDERGARTEN: (20e6, 60e6)}[s.kind]
            self.demand[s.name] = self.rng.uniform(lo, hi)
            self.site_shift[s.name] = self.rng.uniform(-1200, 1200)
        self.internet_share = EGRESS_PEAK * self.inv.district.egress_capacity_bps / sum(self.demand.values())

    # ------------------------------------------------------------ faults

    def add_fault(self, rec: dict[str, Any], now: float | None = None) -> dict[str, Any]:
        """Record a validated fault (see faults.validate) and make it take effect."""
        now = time.time() if now is None else now
        with self.lock:
            rec = {"id": self._next_fault, **rec, "since": now}
            self._next_fault += 1
            if rec["kind"] == "agent-reboot":
                ld = self.devices[rec["target"]]
                for i in ld.interfaces:  # a reboot starts every counter from zero
                    i.bank(now)
                    i.base_in = i.base_out = i.err_base = 0
                ld.boot_time = now
                ld.boots += 1
            self.faults.append(rec)
            self.apply_faults(now)
            return rec

    def clear_faults(self, fault_id: int | None = None, now: float | None = None) -> list[dict[str, Any]]:
        with self.lock:
            gone = [f for f in self.faults if fault_id is None or f["id"] == fault_id]
            self.faults = [f for f in self.faults if f not in gone]
            self.apply_faults(now)
            return gone

    def fault_on(self, kind: str, target: str) -> bool:
        return any(f["kind"] == kind and f["target"] == target for f in self.faults)

    def faults_of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.faults if f["kind"] == kind]

    def down_devices(self) -> set[str]:
        return {f["target"] for f in self.faults if f["kind"] in ("device-down", "ring-node-down")}

    def down_links(self) -> set[int]:
        out = set()
        down_devs = self.down_devices()
        cut = {f["target"] for f in self.faults if f["kind"] == "link-down"}
        carriers = {f["target"] for f in self.faults if f["kind"] == "carrier-down"}
        for n, link in enumerate(self.inv.links):
            ends = {str(link.a), str(link.b)}
            if ends & cut or link.a.device in down_devs or link.b.device in down_devs or (link.carrier in carriers):
                out.add(n)
        return out

    # ------------------------------------------------------------ rates

    def apply_faults(self, now: float | None = None) -> None:
        """Recompute every interface's rate and status from the demand and the current faults."""
        now = time.time() if now is None else now
        with self.lock:
            self._apply(now)

    def _apply(self, now: float) -> None:
        for ld in self.devices.values():
            ld.tree = None  # LLDP rows, AP rows and HC columns follow the faults: rebuild lazily
            ld.hc_counters = not self.fault_on("counter-wrap", ld.name)
            for i in ld.interfaces:
                i.bank(now)
                i.in_scale = i.out_scale = i.in_flat = i.out_flat = 0.0
                i.err_rate = 0.0
        offline_acs = {f["target"]: f.get("count") for f in self.faults if f["kind"] == "ap-group-offline"}
        for ld in self.devices.values():
            n_off = offline_acs.get(ld.name, 0) if ld.name in offline_acs else 0
            for k, ap in enumerate(ld.aps):
                ap.online = not (ld.name in offline_acs and (n_off is None or k < n_off))
        down = self.down_links()
        self.isolated: set[str] = set()
        # oper status: a physical port is up when it has a live link whose far end is up
        for n, (a, b) in self.link_ifs.items():
            lk = self.inv.links[n]
            # a port facing equipment not installed yet (planned, offline) has nothing plugged in
            installed = all(e.external or self.inv.devices[e.device].status.polled for e in (lk.a, lk.b))
            up = n not in down and installed
            for lif in (a, b):
                if lif is not None:
                    ap = self.ap_by_port.get(id(lif))
                    self._set_oper(lif, up and (ap is None or ap.online), now)
        for ld in self.devices.values():
            for i in ld.interfaces:
                if i.physical and i.link is None:
                    self._set_oper(i, False, now)

        self.unreachable = self._unreachable(down)
        flows: dict[int, float] = defaultdict(float)  # id(LabIf) -> out rate (bit/s); peer gets it as in
        self._flat: dict[int, float] = defaultdict(float)  # the same, flat over the day (egress surge)
        self._flat_in: dict[int, float] = defaultdict(float)
        self._flow_backbone(down, flows)
        for f in self.faults_of("interface-errors"):
            dev, _, ifname = f["target"].partition(":")
            lif = self.devices[dev].by_name.get(ifname) if dev in self.devices else None
            if lif is not None:
                lif.err_rate = float(f.get("rate", 50))
        by_id = {id(i): i for ld in self.devices.values() for i in ld.interfaces}
        for key, bps in flows.items():
            lif = by_id[key]
            lif.out_scale += bps / 8
            if lif.peer is not None:
                peer_dev = self.devices.get(lif.peer[0])
                peer = peer_dev.by_name.get(lif.peer[1]) if peer_dev else None
                if peer is not None:
                    peer.in_scale += bps / 8
        for key, bps in self._external_in.items():
            by_id[key].in_scale += bps / 8
        for key, bps in self._flat.items():
            lif = by_id[key]
            lif.out_flat += bps / 8
            peer_dev = self.devices.get(lif.peer[0]) if lif.peer else None
            if peer_dev is not None and lif.peer[1] in peer_dev.by_name:  # type: ignore[index]
                peer_dev.by_name[lif.peer[1]].in_flat += bps / 8  # type: ignore[index]
        for key, bps in self._flat_in.items():
            by_id[key].in_flat += bps / 8

    def _unreachable(self, down: set[int]) -> set[str]:
        """Devices (APs included) the network centre cannot reach: walk live links from the cores."""
        inv = self.inv
        down_devs = self.down_devices()
        start = [d.name for d in inv.devices.values() if d.role == Role.CORE and d.name not in down_devs]
        seen = set(start)
        stack = list(start)
        while stack:
            dev = stack.pop()
            for lk in inv.links_by_device.get(dev, []):
                if lk.b.external or self._link_no(lk) in down:
                    continue
                other = lk.other(dev).device
                if other in seen or other in down_devs:
                    continue
                if inv.devices[other].role == Role.AP and not self._ap_online(other):
                    continue
                seen.add(other)
                if inv.devices[other].role != Role.AP:
                    stack.append(other)
        return {d.name for d in inv.devices.values() if d.status.polled} - seen

    def reachable(self, device: str) -> bool:
        return device not in self.unreachable

    def _set_oper(self, lif: LabIf, up: bool, now: float) -> None:
        if lif.oper_up != up:
            lif.oper_up = up
            lif.last_change = now

    def _flow(self, flows: dict[int, float], frm: LabIf | None, to: LabIf | None, down_bps: float, flat: bool = False) -> None:
        """down_bps from `frm`'s side to `to`'s side, and the upload back (flat: not shaped by the hour)."""
        out, ext = (self._flat, self._flat_in) if flat else (flows, self._external_in)
        if frm is not None:
            out[id(frm)] += down_bps
        elif to is not None:  # external sender: only the receiving end exists in the lab
            ext[id(to)] += down_bps
        if to is not None:
            out[id(to)] += down_bps * UPLOAD_RATIO
        elif frm is not None:
            ext[id(frm)] += down_bps * UPLOAD_RATIO

    def _ends_from(self, n: int, device: str) -> tuple[LabIf | None, LabIf | None]:
        a, b = self.link_ifs[n]
        link = self.inv.links[n]
        return (a, b) if link.a.device == device else (b, a)

    def _flow_backbone(self, down: set[int], flows: dict[int, float]) -> None:
        inv = self.inv
        self._external_in: dict[int, float] = defaultdict(float)
        down_devs = self.down_devices()
        links = list(enumerate(inv.links))
        cores = sorted(d.name for d in inv.devices.values() if d.role == Role.CORE and d.name not in down_devs)
        ring_nodes = {d.name for d in inv.devices.values() if d.role == Role.RING_NODE}
        # where traffic enters the ring: each live core's ring node (dual-homed cores share the load)
        entries: list[tuple[str, int, str]] = []  # (ring node, core link, core)
        for core in cores:
            for n, lk in links:
                if lk.kind == LinkKind.CORE and n not in down and core in (lk.a.device, lk.b.device):
                    other = lk.other(core).device
                    if other in ring_nodes and other not in down_devs:
                        entries.append((other, n, core))
        pair_link: dict[tuple[str, str, LinkKind], int] = {}
        for n, lk in links:
            if lk.kind in (LinkKind.RING_A, LinkKind.RING_B):
                pair_link[(lk.a.device, lk.b.device, lk.kind)] = n
                pair_link[(lk.b.device, lk.a.device, lk.kind)] = n
        orders = {kind: inv.ring_order(kind) for kind in (LinkKind.RING_A, LinkKind.RING_B)}

        def ring_path(entry: str, node: str) -> list[tuple[int, str]] | None:
            """Shortest live path on either ring in either direction; ties prefer ring-a forward."""
            best = None
            for kind, fwd in ((LinkKind.RING_A, True), (LinkKind.RING_B, False), (LinkKind.RING_B, True), (LinkKind.RING_A, False)):
                order = orders[kind]
                if entry not in order or node not in order:
                    continue
                k = order.index(entry)
                order = order[k:] + order[:k]
                seq = order[: order.index(node) + 1] if fwd else [order[0]] + order[order.index(node):][::-1]
                hops = []
                for u, v in zip(seq, seq[1:], strict=False):
                    n = pair_link.get((u, v, kind))
                    if n is None or n in down or v in down_devs:
                        break
                    hops.append((n, u))
                else:
                    if best is None or len(hops) < len(best):
                        best = hops
            return best

        # per ring node: the paths from each entry that reaches it
        paths: dict[str, list[tuple[tuple[str, int, str], list[tuple[int, str]]]]] = {}
        for node in sorted(ring_nodes - down_devs):
            for e in entries:
                p = [] if node == e[0] else ring_path(e[0], node)
                if p is not None:
                    paths.setdefault(node, []).append((e, p))
        self.ring_paths = paths
        self.isolated = ring_nodes - set(paths)
        core_load: dict[int, tuple[str, float]] = {}

        total_down = 0.0
        for site, demand in self.demand.items():
            router = next((d for d in inv.devices.values() if d.site == site and d.role == Role.SCHOOL_ROUTER), None)
            if router is None or router.name in down_devs:
                continue
            up = [(n, lk) for n, lk in links if lk.kind == LinkKind.UPLINK and router.name in (lk.a.device, lk.b.device)]
            live = [(n, lk) for n, lk in up if n not in down and lk.other(router.name).device in paths]
            if not live:
                self.isolated.add(site)
                continue
            n, lk = live[0]
            node = lk.other(router.name).device
            share = demand / len(paths[node])
            for (_, cn, core), hops in paths[node]:
                for hop, frm in hops:
                    self._flow(flows, *self._ends_from(hop, frm), share)
                prev = core_load.get(cn, (core, 0.0))[1]
                core_load[cn] = (core, prev + share)
            self._flow(flows, *self._ends_from(n, node), demand)
            self._flow_campus(router.name, demand, down, flows)
            total_down += demand
        for n, (core, load) in core_load.items():
            self._flow(flows, *self._ends_from(n, core), load)
        # the internet share crosses egress -> firewall -> core; a saturation fault is a surge that
        # holds the carriers at LEVEL of their capacity whatever the hour (the ring keeps its shape)
        internet = self.internet_share * total_down
        sat = self.faults_of("egress-saturation")
        egress = [(n, lk) for n, lk in links if lk.kind == LinkKind.EGRESS and n not in down]
        weights = {lk.carrier: CARRIER_WEIGHTS[i % len(CARRIER_WEIGHTS)] for i, (_, lk) in
                   enumerate((n, lk) for n, lk in links if lk.kind == LinkKind.EGRESS)}
        wsum = sum(weights[lk.carrier] for _, lk in egress) or 1.0
        carried = 0.0
        for n, lk in egress:
            if sat:
                share = float(sat[0].get("level", 0.98)) * lk.capacity_bps
            else:
                share = min(internet * weights[lk.carrier] / wsum, 0.995 * lk.capacity_bps)
            carried += share
            a, _ = self._ends_from(n, lk.a.device)
            self._flow(flows, None, a, share, flat=bool(sat))
        for n, lk in links:
            if lk.kind != LinkKind.CORE or n in down:
                continue
            roles = {inv.devices[lk.a.device].role, inv.devices[lk.b.device].role}
            if roles == {Role.EGRESS, Role.FIREWALL}:
                frm = lk.a.device if inv.devices[lk.a.device].role == Role.EGRESS else lk.b.device
                self._flow(flows, *self._ends_from(n, frm), carried, flat=bool(sat))
            elif roles == {Role.FIREWALL, Role.CORE}:
                # the firewall feeds both cores in proportion to what each carries into the ring
                core = lk.a.device if inv.devices[lk.a.device].role == Role.CORE else lk.b.device
                frac = sum(v for c, v in core_load.values() if c == core) / (total_down or 1.0)
                self._flow(flows, *self._ends_from(n, lk.other(core).device), carried * frac, flat=bool(sat))

    def _flow_campus(self, router: str, demand: float, down: set[int], flows: dict[int, float]) -> None:
        """Spread the site's demand over its campus tree: each AP port an equal share."""
        inv = self.inv
        site = inv.devices[router].site
        parent: dict[str, tuple[int, str]] = {}
        order = [router]
        seen = {router}
        for dev in order:
            for lk in inv.links_by_device.get(dev, []):
                if lk.kind != LinkKind.ACCESS:
                    continue
                other = lk.other(dev).device
                if other in seen or inv.devices[other].site != site:
                    continue
                seen.add(other)
                parent[other] = (self._link_no(lk), dev)
                order.append(other)
        aps = [d for d in order if inv.devices[d].role == Role.AP]
        live = [d for d in aps if self._ap_online(d)]
        leaf: dict[str, float] = {d: demand / len(live) for d in live} if live else {}
        for d in order:
            if inv.devices[d].role == Role.AC:
                leaf[d] = 2e6
        # push leaf demand up the tree
        load: dict[str, float] = defaultdict(float)
        for d in reversed(order[1:]):
            load[d] += leaf.get(d, 0.0)
            n, up = parent[d]
            if n not in down:
                self._flow(flows, *self._ends_from(n, up), load[d])
            load[up] += load[d]

    def _link_no(self, link: Link) -> int:
        return self._link_index[id(link)]

    def _ap_online(self, name: str) -> bool:
        ap = self.ap_by_name.get(name)
        return ap is not None and ap.online


def _alias(inv: Inventory, link: Link, other) -> str:  # noqa: ANN001
    """Interface descriptions as a district writes them: 'to <peer> <port>' / carrier circuits."""
    if link.kind == LinkKind.EGRESS:
        return link.description or f"{link.carrier} internet"
    kind = {LinkKind.RING_A: "ring-a", LinkKind.RING_B: "ring-b", LinkKind.UPLINK: "uplink"}.get(link.kind, "")
    return f"{kind + ' ' if kind else ''}to {other.device} {other.interface}"
