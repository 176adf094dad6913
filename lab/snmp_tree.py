"""A lab device's MIB tree: sorted encoded OIDs and their values (static TLVs or functions of time).

Built lazily on the first request to a device (the district has ~500 agents; most tests touch a
few), rebuilt when a fault changes its shape (HC counters hidden, APs leaving the AC's table).
Standard MIBs are code here (SNMPv2-MIB system, IF-MIB, ifXTable, ENTITY-MIB, LLDP-MIB); what
differs per vendor (sysDescr, CPU / memory / temperature, AP tables) is data in vendors.yaml.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from typing import Any

from jinja2 import Environment

from collectors.snmp.ber import (
    COUNTER32,
    COUNTER64,
    GAUGE32,
    INTEGER,
    IPADDRESS,
    OCTET_STRING,
    OID,
    TIMETICKS,
    enc_int,
    enc_ip,
    enc_oid,
    enc_str,
    enc_uint,
    index_body,
    oid_body,
    oid_key,
)

from .model import LabDevice, LabIf

Value = bytes | Callable[[float], bytes]
TYPES = {"INTEGER": INTEGER, "Gauge32": GAUGE32, "Counter32": COUNTER32, "Counter64": COUNTER64,
         "TimeTicks": TIMETICKS, "OCTET STRING": OCTET_STRING, "IpAddress": IPADDRESS, "OID": OID}
M32 = (1 << 32) - 1
_jinja = Environment(autoescape=False)


def encode(tag: int, v: Any) -> bytes:
    if tag == INTEGER:
        return enc_int(int(v))
    if tag in (GAUGE32, COUNTER32, TIMETICKS, COUNTER64):
        return enc_uint(tag, int(v))
    if tag == OCTET_STRING:
        return enc_str(v if isinstance(v, bytes) else str(v))
    if tag == IPADDRESS:
        return enc_ip(v)
    if tag == OID:
        return enc_oid(v)
    raise ValueError(tag)


class Tree:
    __slots__ = ("keys", "vals", "index", "order")

    def __init__(self, entries: dict[bytes, Value]) -> None:
        # sorted in true OID order (BER bytes do not sort like OIDs across sub-identifier lengths)
        self.keys = sorted(entries, key=oid_key)
        self.order = [oid_key(k) for k in self.keys]
        self.vals = [entries[k] for k in self.keys]
        self.index = {k: i for i, k in enumerate(self.keys)}

    def get(self, oid: bytes) -> Value | None:
        i = self.index.get(oid)
        return None if i is None else self.vals[i]

    def next_index(self, oid: bytes) -> int:
        """Position of the first OID strictly after `oid` (== len(keys) at the end of the MIB)."""
        i = self.index.get(oid)
        if i is not None:
            return i + 1
        return bisect.bisect_right(self.order, oid_key(oid))


def build(ld: LabDevice) -> Tree:
    e: dict[bytes, Value] = {}
    v = ld.vendor
    dev = ld.dev

    def put(oid: str | bytes, value: Value) -> None:
        e[oid if isinstance(oid, bytes) else oid_body(oid)] = value

    def col(base: str, index: tuple[int, ...] | int, value: Value) -> None:
        idx = (index,) if isinstance(index, int) else index
        put(oid_body(base) + index_body(idx), value)

    # -------------------------------------------------- SNMPv2-MIB system
    descr = _jinja.from_string(v["sys_descr"]).render(model=dev.model, firmware=dev.firmware or "", role=dev.role.value)
    model = ld.district.inv.models[dev.model]
    site = ld.district.inv.sites[dev.site]
    put("1.3.6.1.2.1.1.1.0", enc_str(descr))
    put("1.3.6.1.2.1.1.2.0", enc_oid(model.sys_object_id or f"1.3.6.1.4.1.{v['enterprise']}"))
    put("1.3.6.1.2.1.1.3.0", lambda now: enc_uint(TIMETICKS, ld.uptime_ticks(now)))
    put("1.3.6.1.2.1.1.4.0", enc_str("network centre 7x24 duty"))
    put("1.3.6.1.2.1.1.5.0", enc_str(dev.name))
    put("1.3.6.1.2.1.1.6.0", enc_str(f"{site.display_name} {site.street or ''}".strip()))
    put("1.3.6.1.2.1.1.7.0", enc_int(6 if dev.role.value.endswith("switch") else 78))
    # SNMP-FRAMEWORK-MIB snmpEngine: the v3 engine collectors discover
    put("1.3.6.1.6.3.10.2.1.1.0", enc_str(ld.engine_id))
    put("1.3.6.1.6.3.10.2.1.2.0", lambda now: enc_int(ld.boots))
    put("1.3.6.1.6.3.10.2.1.3.0", lambda now: enc_int(int(now - ld.boot_time)))
    put("1.3.6.1.6.3.10.2.1.4.0", enc_int(1500))

    # -------------------------------------------------- IF-MIB
    put("1.3.6.1.2.1.2.1.0", enc_int(len(ld.interfaces)))
    for i in ld.interfaces:
        _if_columns(ld, i, col)

    # -------------------------------------------------- ENTITY-MIB: chassis and main board
    ent = v["entity"]
    for idx, cls, name, contained in ((ent["chassis"], 3, dev.model, 0), (ent["board"], 9, ent["board_name"], ent["chassis"])):
        col("1.3.6.1.2.1.47.1.1.1.1.2", idx, enc_str(f"{dev.model} {name}" if cls == 9 else dev.model))
        col("1.3.6.1.2.1.47.1.1.1.1.4", idx, enc_int(contained))
        col("1.3.6.1.2.1.47.1.1.1.1.5", idx, enc_int(cls))
        col("1.3.6.1.2.1.47.1.1.1.1.7", idx, enc_str(name))
        col("1.3.6.1.2.1.47.1.1.1.1.10", idx, enc_str(dev.firmware or ""))
        col("1.3.6.1.2.1.47.1.1.1.1.11", idx, enc_str(dev.serial or ""))
        col("1.3.6.1.2.1.47.1.1.1.1.12", idx, enc_str(v["mfg"]))
        col("1.3.6.1.2.1.47.1.1.1.1.13", idx, enc_str(dev.model))

    # -------------------------------------------------- vendor health
    getters: dict[str, Callable[[float], int]] = {
        "cpu": ld.cpu, "mem": ld.mem, "temp": ld.temp,
        "mem_used": lambda now: ld.mem_bytes(now)[0], "mem_free": lambda now: ld.mem_bytes(now)[1],
    }
    for h in v.get("health", []):
        tag = TYPES[h["type"]]
        fn = getters[h["name"]]
        if h["index"] == "none":
            oid = h["oid"]
        else:
            idx = ent["board"] if h["index"] == "board" else int(h["index"])
            oid = f"{h['oid']}.{idx}"
        put(oid, _dyn(tag, fn))
    for s in v.get("static", []):
        put(s["oid"], encode(TYPES[s["type"]], s["value"]))

    # -------------------------------------------------- LLDP-MIB
    _lldp(ld, put, col)

    # -------------------------------------------------- wireless controller: its APs
    if ld.aps and "ap_table" in v:
        _ap_tables(ld, v, col, put)
    return Tree(e)


def _dyn(tag: int, fn: Callable[[float], Any]) -> Callable[[float], bytes]:
    return lambda now: encode(tag, fn(now))


def _clients(ld: LabDevice, ap: Any, frac: float) -> Callable[[float], int]:
    return lambda now: int(ld.ap_clients(ap, now) * frac)


def _if_columns(ld: LabDevice, i: LabIf, col: Callable[..., None]) -> None:
    x = i.ifindex
    hc = ld.hc_counters
    col("1.3.6.1.2.1.2.2.1.1", x, enc_int(x))
    col("1.3.6.1.2.1.2.2.1.2", x, enc_str(i.name))
    col("1.3.6.1.2.1.2.2.1.3", x, enc_int(i.iftype))
    col("1.3.6.1.2.1.2.2.1.4", x, enc_int(1500 if i.iftype != 24 else 1500))
    col("1.3.6.1.2.1.2.2.1.5", x, enc_uint(GAUGE32, min(i.speed, M32)))
    col("1.3.6.1.2.1.2.2.1.6", x, enc_str(i.mac if i.iftype not in (1, 24) else b""))
    col("1.3.6.1.2.1.2.2.1.7", x, enc_int(1))
    col("1.3.6.1.2.1.2.2.1.8", x, lambda now: enc_int(1 if i.oper_up else 2))
    col("1.3.6.1.2.1.2.2.1.9", x, lambda now: enc_uint(TIMETICKS, max(0, int((i.last_change - ld.boot_time) * 100)) % (1 << 32)))
    col("1.3.6.1.2.1.2.2.1.10", x, lambda now: enc_uint(COUNTER32, i.octets(now)[0] & M32))
    col("1.3.6.1.2.1.2.2.1.11", x, lambda now: enc_uint(COUNTER32, (i.octets(now)[0] // 820) & M32))
    col("1.3.6.1.2.1.2.2.1.13", x, lambda now: enc_uint(COUNTER32, 0))
    col("1.3.6.1.2.1.2.2.1.14", x, lambda now: enc_uint(COUNTER32, i.errors(now) & M32))
    col("1.3.6.1.2.1.2.2.1.15", x, enc_uint(COUNTER32, 0))
    col("1.3.6.1.2.1.2.2.1.16", x, lambda now: enc_uint(COUNTER32, i.octets(now)[1] & M32))
    col("1.3.6.1.2.1.2.2.1.17", x, lambda now: enc_uint(COUNTER32, (i.octets(now)[1] // 820) & M32))
    col("1.3.6.1.2.1.2.2.1.19", x, lambda now: enc_uint(COUNTER32, 0))
    col("1.3.6.1.2.1.2.2.1.20", x, lambda now: enc_uint(COUNTER32, 0))
    # ifXTable
    col("1.3.6.1.2.1.31.1.1.1.1", x, enc_str(i.ifname))
    for c in (2, 3, 4, 5):
        col(f"1.3.6.1.2.1.31.1.1.1.{c}", x, lambda now: enc_uint(COUNTER32, 0))
    if hc:
        col("1.3.6.1.2.1.31.1.1.1.6", x, lambda now: enc_uint(COUNTER64, i.octets(now)[0]))
        col("1.3.6.1.2.1.31.1.1.1.7", x, lambda now: enc_uint(COUNTER64, i.octets(now)[0] // 820))
        col("1.3.6.1.2.1.31.1.1.1.8", x, lambda now: enc_uint(COUNTER64, 0))
        col("1.3.6.1.2.1.31.1.1.1.9", x, lambda now: enc_uint(COUNTER64, 0))
        col("1.3.6.1.2.1.31.1.1.1.10", x, lambda now: enc_uint(COUNTER64, i.octets(now)[1]))
        col("1.3.6.1.2.1.31.1.1.1.11", x, lambda now: enc_uint(COUNTER64, i.octets(now)[1] // 820))
        col("1.3.6.1.2.1.31.1.1.1.12", x, lambda now: enc_uint(COUNTER64, 0))
        col("1.3.6.1.2.1.31.1.1.1.13", x, lambda now: enc_uint(COUNTER64, 0))
    col("1.3.6.1.2.1.31.1.1.1.14", x, enc_int(1))
    col("1.3.6.1.2.1.31.1.1.1.15", x, enc_uint(GAUGE32, i.speed // 1_000_000))
    col("1.3.6.1.2.1.31.1.1.1.16", x, enc_int(2))
    col("1.3.6.1.2.1.31.1.1.1.17", x, enc_int(1 if i.physical else 2))
    col("1.3.6.1.2.1.31.1.1.1.18", x, enc_str(i.alias))
    col("1.3.6.1.2.1.31.1.1.1.19", x, enc_uint(TIMETICKS, 0))


def _lldp(ld: LabDevice, put: Callable[..., None], col: Callable[..., None]) -> None:
    district = ld.district
    put("1.0.8802.1.1.2.1.3.1.0", enc_int(4))  # lldpLocChassisIdSubtype: macAddress
    put("1.0.8802.1.1.2.1.3.2.0", enc_str(ld.chassis_mac))
    put("1.0.8802.1.1.2.1.3.3.0", enc_str(ld.name))
    mismatch = {f["target"]: f for f in district.faults_of("lldp-mismatch")}
    for i in ld.interfaces:
        if not i.physical:
            continue
        col("1.0.8802.1.1.2.1.3.7.1.2", i.ifindex, enc_int(5))  # lldpLocPortIdSubtype: interfaceName
        col("1.0.8802.1.1.2.1.3.7.1.3", i.ifindex, enc_str(i.name))
        col("1.0.8802.1.1.2.1.3.7.1.4", i.ifindex, enc_str(i.alias))
        if i.peer is None or not i.oper_up:
            continue
        peer_dev, peer_if = i.peer
        f = mismatch.get(f"{ld.name}:{i.name}")
        if f is not None:  # injected cabling mismatch: the neighbour the inventory does not expect
            peer_dev, peer_if = f.get("device", peer_dev), f.get("interface", peer_if)
        peer = district.devices.get(peer_dev)
        idx = (0, i.ifindex, 1)
        chassis = peer.chassis_mac if peer else (district.ap_by_name[peer_dev].mac if peer_dev in district.ap_by_name else None)
        if chassis is None:
            continue  # carriers do not speak LLDP to us
        col("1.0.8802.1.1.2.1.4.1.1.4", idx, enc_int(4))
        col("1.0.8802.1.1.2.1.4.1.1.5", idx, enc_str(chassis))
        col("1.0.8802.1.1.2.1.4.1.1.6", idx, enc_int(5))
        col("1.0.8802.1.1.2.1.4.1.1.7", idx, enc_str(peer_if))
        peer_alias = peer.by_name[peer_if].alias if peer and peer_if in peer.by_name else ""
        col("1.0.8802.1.1.2.1.4.1.1.8", idx, enc_str(peer_alias))
        col("1.0.8802.1.1.2.1.4.1.1.9", idx, enc_str(peer_dev))
        col("1.0.8802.1.1.2.1.4.1.1.10", idx, enc_str(peer.dev.model if peer else district.inv.devices[peer_dev].model))


def _ap_tables(ld: LabDevice, v: dict[str, Any], col: Callable[..., None], put: Callable[..., None]) -> None:
    spec = v["ap_table"]
    states = spec["states"]
    for ap in ld.aps:
        if not ap.online and spec["offline"] == "absent":
            continue
        idx = tuple(ap.mac) if spec["index"] == "mac" else (ap.number,)
        values: dict[str, Value] = {
            "ap_name": enc_str(ap.name), "ap_serial": enc_str(ap.serial), "ap_model": enc_str(ap.model),
            "ap_ip": enc_ip(ap.ip), "ap_state": enc_int(states["online" if ap.online else "offline"]),
            "ap_clients": _dyn(INTEGER, _clients(ld, ap, 1.0)),
        }
        for c in spec["columns"]:
            col(c["oid"], idx, values[c["value"]])
        for c in v.get("ap_radio_table", {}).get("columns", []):
            for slot, frac in ((0, 0.4), (1, 0.6)):
                col(c["oid"], (*idx, slot), _dyn(TYPES[c.get("type", "INTEGER")], _clients(ld, ap, frac)))
    for s in v.get("ap_scalars", []):
        if s["value"] == "ap_online_count":
            put(s["oid"], lambda now: enc_uint(GAUGE32, sum(1 for ap in ld.aps if ap.online)))
