"""Poll one device with its profile: one GET for the scalars, one multi-column GETBULK walk for
everything else, samples labelled from the inventory. Never raises for the device's fault.

Counters: 64-bit (ifHC*) when the agent has them; otherwise its 32-bit columns are read and turned
into a monotonic 64-bit counter here: a decrease with sysUpTime still growing is a wrap (add
2**32), a decrease with sysUpTime gone back is a restart (start again from the new value, which
Prometheus' rate() reads as a reset). Neither ever makes a negative or a huge rate.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from collectors.result import PollResult, Sample

from . import ber
from .client import SnmpEngine, SnmpError, Target
from .profiles import Pool, Profile, Reduced, profile_by_sys_object_id

SYS_OBJECT_ID = "1.3.6.1.2.1.1.2.0"
WRAP32 = 1 << 32


@dataclass
class DeviceState:
    """What a poll remembers about a device between polls."""

    hc: bool | None = None  # None: not known yet
    uptime: float | None = None
    counters32: dict[tuple[str, bytes], tuple[int, int]] = field(default_factory=dict)  # (metric, index) -> (raw, synthetic)
    last_read: dict[tuple[str, bytes], tuple[float, float]] = field(default_factory=dict)  # (metric, index) -> (value, time)
    polls: int = 0
    # a row's labels rarely change between polls: the same tuple object is reused (and its text)
    row_labels: dict[tuple, tuple] = field(default_factory=dict)


@dataclass
class DeviceLabels:
    """Inventory labels for a device and its interfaces (by ifDescr = the inventory's port name)."""

    base: tuple[tuple[str, str], ...]
    role: str = ""
    ports: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    aps: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)  # expected APs -> labels


def device_labels(inv: Any, name: str) -> DeviceLabels:
    """Labels from the inventory: the device's, each linked port's, and the APs an AC should have."""
    d = inv.devices[name]
    site = inv.sites[d.site]
    base = tuple(sorted({"device": d.name, "site": d.site, "site_kind": site.kind.value, "role": d.role.value,
                         "vendor": d.vendor.value if d.vendor else ""}.items()))
    ports = {}
    for lk in inv.links_by_device.get(name, []):
        mine, other = (lk.a, lk.b) if lk.a.device == name else (lk.b, lk.a)
        lab = {"link": lk.name, "link_kind": lk.kind.value, "peer_device": other.device, "peer_interface": other.interface,
               "link_capacity_bps": str(lk.capacity_bps)}
        if lk.carrier:
            lab["carrier"] = lk.carrier
        ports[mine.interface] = tuple(sorted(lab.items()))
    aps = {}
    for ap in inv.devices.values():
        if ap.parent == name and ap.status.polled:
            aps[ap.name] = (("ap", ap.name),)
    return DeviceLabels(base, d.role.value, ports, aps)


async def poll_device(engine: SnmpEngine, target: Target, profile: Profile, labels: DeviceLabels,
                      state: DeviceState, device: str) -> PollResult:
    started = time.time()
    t0 = time.perf_counter()
    before = target.stats["varbinds"]
    try:
        samples = await _poll(engine, target, profile, labels, state)
        ok, reason, error = True, "", ""
    except SnmpError as e:
        samples, ok, reason, error = [], False, e.reason, f"{device}: {e}"
    except ber.BERError as e:
        samples, ok, reason, error = [], False, "decode", f"{device}: malformed reply: {e}"
    state.polls += 1
    return PollResult(device=device, collector="snmp", ok=ok, started=started, duration=time.perf_counter() - t0,
                      samples=samples, reason=reason, error=error, varbinds=target.stats["varbinds"] - before,
                      platform=profile.name)


async def _poll(engine: SnmpEngine, target: Target, profile: Profile, labels: DeviceLabels, state: DeviceState) -> list[Sample]:
    scalars = await engine.get(target, [SYS_OBJECT_ID] + [s.oid for s in profile.scalars])
    tag, sysoid = scalars[SYS_OBJECT_ID]
    if tag != ber.OID:
        raise SnmpError("profile", f"{target.address}: no sysObjectID")
    if not profile.matches_sys_object_id(str(sysoid)):
        other = profile_by_sys_object_id(str(sysoid))
        raise SnmpError("profile", f"{target.address}: sysObjectID {sysoid} is not {profile.name}'s"
                                   + (f" (looks like {other.name}: fix the inventory's platform)" if other else ""))
    base = labels.base
    out: list[Sample] = []
    uptime = None
    for s in profile.scalars:
        t, v = scalars.get(s.oid, (ber.NO_SUCH_OBJECT, None))
        if t in ber.EXCEPTIONS or v is None:
            continue
        value = float(v) * s.scale
        if s.name == "sysUpTime":
            uptime = value
        out.append(Sample(s.metric or s.name, base, value, s.type))
    restarted = uptime is not None and state.uptime is not None and uptime < state.uptime
    if uptime is not None:
        state.uptime = uptime

    # an AC, or a device the inventory does not know (an ad-hoc `emanwatch poll ADDRESS`)
    is_ac = bool(labels.aps) or labels.role in ("ac", "")
    columns = profile.columns(aps=is_ac)
    walked = await engine.walk(target, columns)
    fallback = {c.oid: c.fallback32 for t in profile.tables.values() for c in t.columns if c.fallback32}
    have_hc = any(walked.get(oid) for oid in fallback)
    if fallback and not have_hc:
        extra = await engine.walk(target, list(fallback.values()))
        for hc, low in fallback.items():
            walked[hc] = [(_reroot(oid, low, hc), tag, v) for oid, tag, v in extra.get(low, [])]
    state.hc = have_hc if fallback else None
    read_at = time.time()  # when the counters were read: the time base of the per-poll rates

    skip = [re.compile(x) for x in profile.ignore_interfaces]
    for table in profile.tables.values():
        out.extend(_table(table, walked, base, labels, state, have_hc or not fallback, restarted, skip, read_at))
    out.extend(_device_metrics(profile, walked, base))
    if profile.aps and is_ac:
        out.extend(_aps(profile, walked, base, labels))
    if profile.lldp:
        out.extend(_lldp(profile, walked, base))
    return out


def _lldp(profile: Profile, walked: dict, base: tuple) -> list[Sample]:
    """emanwatch_lldp_neighbor{local_port, neighbor, neighbor_port} 1 per neighbour seen."""
    ld = profile.lldp
    assert ld is not None

    def strings(oid: str) -> dict[tuple[int, ...], str]:
        root = ber.oid_body(oid)
        return {ber.index_arcs(o, root): v.decode("utf-8", "replace") for o, t, v in walked.get(oid, ()) if isinstance(v, bytes)}

    local = strings(ld.local_port)
    names, ports = strings(ld.remote_name), strings(ld.remote_port)
    out = []
    for idx, name in names.items():
        if len(idx) < 3:
            continue
        port_num = idx[-2]  # index: timeMark . localPortNum . remIndex
        lab = tuple(sorted((*base, ("local_port", local.get((port_num,), str(port_num))), ("neighbor", name),
                            ("neighbor_port", ports.get(idx, "")))))
        out.append(Sample("emanwatch_lldp_neighbor", lab, 1.0))
    return out


def _reroot(oid: bytes, old: str, new: str) -> bytes:
    ob, nb = ber.oid_body(old), ber.oid_body(new)
    return nb + oid[len(ob):]


def _table(table: Any, walked: dict, base: tuple, labels: DeviceLabels, state: DeviceState, hc: bool, restarted: bool,
           skip: list[re.Pattern] | None = None, read_at: float | None = None) -> list[Sample]:
    rows: dict[bytes, dict[str, Any]] = {}
    for col in table.columns:
        root_len = len(ber.oid_body(col.oid))
        for oid, tag, value in walked.get(col.oid, ()):
            if tag in ber.EXCEPTIONS:
                continue
            rows.setdefault(oid[root_len:], {})[col.name] = value
    out = []
    index_name = table.index
    gauges = [c for c in table.columns if c.type != "label"]
    label_cols = [c.name for c in table.columns if c.type == "label"]
    cache = state.row_labels
    port_caps: dict[tuple, float] = {}
    for idx, row in rows.items():
        key = (idx, *(row.get(n) for n in label_cols))
        lab = cache.get(key)
        if lab is None:
            extra = [(index_name, ".".join(map(str, ber.index_arcs(idx, b""))))]
            for name in label_cols:
                v = row.get(name)
                if v is not None:
                    extra.append((name, v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)))
            if skip and any(p.search(v) for p in skip for k, v in extra if k in ("ifName", "ifDescr")):
                lab = ()
            else:
                descr = row.get("ifDescr")
                port_labels = labels.ports.get(descr.decode("utf-8", "replace") if isinstance(descr, bytes) else "", ())
                lab = tuple(sorted((*base, *extra, *port_labels)))
            cache[key] = lab
        if not lab:
            continue  # an ignored pseudo-interface
        for k, v in lab:
            if k == "link_capacity_bps":
                port_caps[lab] = float(v)
        cap = port_caps.get(lab)
        if cap is not None:
            out.append(Sample("emanwatch_link_capacity_bps", lab, cap))  # PromQL divides by values, not labels
        for c in gauges:
            v = row.get(c.name)
            if v is None or isinstance(v, bytes):
                continue
            if c.fallback32 and not hc:
                v = _extend32(state, c.name, idx, int(v), restarted)
            out.append(Sample(c.name, lab, float(v), c.type))
            if c.rate and read_at is not None:
                r = _rate(state, c.name, idx, float(v), read_at, restarted)
                if r is not None:
                    out.append(Sample(c.rate, lab, r * c.rate_scale))
    return out


def _rate(state: DeviceState, metric: str, idx: bytes, value: float, at: float, restarted: bool) -> float | None:
    """Per-second increase since the last poll; None on the first poll, after a restart or a reset
    (a rate that cannot be known is left out rather than shown as zero or as a spike)."""
    key = (metric, idx)
    prev = state.last_read.get(key)
    state.last_read[key] = (value, at)
    if prev is None or restarted or value < prev[0] or at <= prev[1]:
        return None
    return (value - prev[0]) / (at - prev[1])


def _extend32(state: DeviceState, metric: str, idx: bytes, raw: int, restarted: bool) -> int:
    key = (metric, idx)
    prev = state.counters32.get(key)
    if prev is None or restarted:
        synth = raw
    else:
        last_raw, last_synth = prev
        delta = raw - last_raw if raw >= last_raw else raw + WRAP32 - last_raw  # a 32-bit wrap
        synth = last_synth + delta
    state.counters32[key] = (raw, synth)
    return synth


def _values(walked: dict, oid: str) -> list[tuple[bytes, Any]]:
    root_len = len(ber.oid_body(oid))
    return [(o[root_len:], v) for o, t, v in walked.get(oid, ()) if t not in ber.EXCEPTIONS and not isinstance(v, bytes)]


def _reduce(spec: Reduced, walked: dict) -> float | None:
    vals = [float(v) for _, v in _values(walked, spec.oid) if v not in spec.ignore]
    if not vals:
        return None
    if spec.reduce == "sum":
        return sum(vals)
    if spec.reduce == "mean":
        return sum(vals) / len(vals)
    if spec.reduce == "first":
        return vals[0]
    return max(vals)


def _device_metrics(profile: Profile, walked: dict, base: tuple) -> list[Sample]:
    d = profile.device
    out = []
    cpu = _reduce(d.cpu, walked) if d.cpu else None
    if cpu is None and d.cpu_idle:
        idle = _reduce(d.cpu_idle, walked)
        cpu = None if idle is None else 100.0 - idle
    if cpu is not None:
        out.append(Sample("emanwatch_cpu_percent", base, cpu))
    mem = None
    if isinstance(d.memory, Reduced):
        mem = _reduce(d.memory, walked)
    elif isinstance(d.memory, Pool):
        idx = ber.index_body(tuple(int(x) for x in d.memory.index.split(".")))

        def at(oid: str | None) -> float | None:
            return next((float(v) for i, v in _values(walked, oid) if i == idx), None) if oid else None

        used, free, total, avail = at(d.memory.used), at(d.memory.free), at(d.memory.total), at(d.memory.available)
        if used is not None and free is not None and used + free > 0:
            mem = 100.0 * used / (used + free)
        elif total and avail is not None:
            mem = 100.0 * (total - avail) / total
    if mem is not None:
        out.append(Sample("emanwatch_memory_percent", base, mem))
    temp = _reduce(d.temperature, walked) if d.temperature else None
    if temp is not None:
        out.append(Sample("emanwatch_temperature_celsius", base, temp))
    return out


def _aps(profile: Profile, walked: dict, base: tuple, labels: DeviceLabels) -> list[Sample]:
    a = profile.aps
    assert a is not None
    names = {i: v.decode("utf-8", "replace") for i, v in
             ((o[len(ber.oid_body(a.name)):], v) for o, t, v in walked.get(a.name, ()) if isinstance(v, bytes))}
    states = dict(_values(walked, a.state.oid))
    clients: dict[bytes, float] = {}
    if a.clients:
        clients = {i: float(v) for i, v in _values(walked, a.clients)}
    elif a.radio_clients:
        for i, v in _values(walked, a.radio_clients):
            ap_idx = _drop_last_arc(i)
            clients[ap_idx] = clients.get(ap_idx, 0.0) + float(v)
    out = []
    seen = set()
    online = 0
    for idx, name in names.items():
        # an agent without the state column lists joined APs only (seen in recordings): present = up
        up = 1.0 if (states.get(idx) in a.state.up if states else True) else 0.0
        online += int(up)
        lab = tuple(sorted((*base, *labels.aps.get(name, (("ap", name),)))))
        out.append(Sample("emanwatch_ap_up", lab, up))
        out.append(Sample("emanwatch_ap_clients", lab, clients.get(idx, 0.0) if up else 0.0))
        seen.add(name)
    # the inventory knows the APs that ought to be here: one missing from the table is down
    for name, ap_labels in labels.aps.items():
        if name not in seen:
            lab = tuple(sorted((*base, *ap_labels)))
            out.append(Sample("emanwatch_ap_up", lab, 0.0))
            out.append(Sample("emanwatch_ap_clients", lab, 0.0))
    expected = max(len(labels.aps), len(names))
    if expected:
        out.append(Sample("emanwatch_ac_aps", base, float(expected)))
        out.append(Sample("emanwatch_ac_aps_online", base, float(online)))
    return out


def _drop_last_arc(idx: bytes) -> bytes:
    i = len(idx) - 1
    while i > 0 and idx[i - 1] & 0x80:
        i -= 1
    return idx[:i]
