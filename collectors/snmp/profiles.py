"""SNMP profiles: vendor differences as data (collectors/snmp/profiles/*.yaml).

A profile says what to walk and how to turn it into metrics: scalars, tables (columns that are
labels, gauges or counters, 32-bit fallbacks), the device's CPU / memory / temperature (with a
reducer over entity rows), and a controller's AP table. `extends` pulls in another profile.
The platform comes from the inventory and is confirmed by sysObjectID prefixes.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

PROFILE_DIR = Path(__file__).with_name("profiles")


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Scalar(_M):
    name: str
    oid: str
    type: Literal["gauge", "counter"] = "gauge"
    scale: float = 1.0
    metric: str | None = None


class Column(_M):
    name: str
    oid: str
    type: Literal["label", "gauge", "counter"]
    fallback32: str | None = None  # Counter32 column to read when the 64-bit one is missing
    # a counter's per-second rate between this poll and the last, exported as this gauge (x rate_scale):
    # the poller knows both readings' times; Prometheus' rate() under-reads when samples lag the evaluation
    rate: str | None = None
    rate_scale: float = 1.0


class Table(_M):
    index: str
    columns: list[Column]


class Reduced(_M):
    oid: str
    reduce: Literal["max", "sum", "mean", "first"] = "max"
    ignore: list[int] = []  # vendor sentinels for "no sensor here" (Comware: 65535)


class Pool(_M):
    """Memory as used/free or total/available columns, read at one index."""

    used: str | None = None
    free: str | None = None
    total: str | None = None
    available: str | None = None
    index: str


class ApState(_M):
    oid: str
    up: list[int]


class Aps(_M):
    index: Literal["mac", "number"]
    name: str
    state: ApState
    clients: str | None = None
    radio_clients: str | None = None  # per-radio rows (index + slot), summed per AP


class Lldp(_M):
    """LLDP-MIB: local port names and the remote system / port seen on each."""

    local_port: str = "1.0.8802.1.1.2.1.3.7.1.3"  # lldpLocPortId, by lldpLocPortNum
    remote_name: str = "1.0.8802.1.1.2.1.4.1.1.9"  # lldpRemSysName, by timeMark.localPortNum.index
    remote_port: str = "1.0.8802.1.1.2.1.4.1.1.7"  # lldpRemPortId


class DeviceMetrics(_M):
    cpu: Reduced | None = None
    cpu_idle: Reduced | None = None
    memory: Reduced | Pool | None = None
    temperature: Reduced | None = None


class Profile(_M):
    name: str
    extends: list[str] = []
    platforms: list[str] = []
    sys_object_id: list[str] = []
    scalars: list[Scalar] = []
    tables: dict[str, Table] = {}
    device: DeviceMetrics = DeviceMetrics()
    aps: Aps | None = None
    lldp: Lldp | None = None
    ignore_interfaces: list[str] = []  # regexes on ifName / ifDescr: pseudo-ports a vendor types as Ethernet

    def columns(self, aps: bool = True) -> list[str]:
        """Every column this profile walks (64-bit counters first; fallbacks walked only if needed)."""
        out = [c.oid for t in self.tables.values() for c in t.columns]
        d = self.device
        for spec in (d.cpu, d.cpu_idle, d.temperature):
            if spec:
                out.append(spec.oid)
        if isinstance(d.memory, Reduced):
            out.append(d.memory.oid)
        elif isinstance(d.memory, Pool):
            out.extend(x for x in (d.memory.used, d.memory.free, d.memory.total, d.memory.available) if x)
        if self.lldp:
            out.extend((self.lldp.local_port, self.lldp.remote_name, self.lldp.remote_port))
        if self.aps and aps:
            a = self.aps
            out.extend(x for x in (a.name, a.state.oid, a.clients, a.radio_clients) if x)
        return list(dict.fromkeys(out))

    def matches_sys_object_id(self, oid: str) -> bool:
        return not self.sys_object_id or any(oid.startswith(p) for p in self.sys_object_id)


class ProfileError(Exception):
    pass


def _load(name: str, seen: tuple[str, ...] = ()) -> Profile:
    path = PROFILE_DIR / f"{name}.yaml"
    if name in seen:
        raise ProfileError(f"{path}: extends itself through {' -> '.join(seen)}")
    if not path.is_file():
        raise ProfileError(f"no SNMP profile {name!r} (known: {', '.join(sorted(p.stem for p in PROFILE_DIR.glob('*.yaml')))})")
    try:
        p = Profile.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except ValidationError as e:
        raise ProfileError(f"{path}: {e}") from None
    if not p.extends:
        return p
    scalars, tables = [], {}
    device = DeviceMetrics()
    for parent in p.extends:
        base = _load(parent, (*seen, name))
        scalars += base.scalars
        tables.update(base.tables)
        device = base.device if base.device != DeviceMetrics() else device
    merged_device = DeviceMetrics(**{**device.model_dump(exclude_none=True), **p.device.model_dump(exclude_none=True)})
    lldp = p.lldp or next((load_profile(x).lldp for x in p.extends if load_profile(x).lldp), None)
    return p.model_copy(update={"scalars": scalars + p.scalars, "tables": {**tables, **p.tables}, "device": merged_device,
                                "lldp": lldp,
                                "ignore_interfaces": [*base_ignores(p.extends), *p.ignore_interfaces]})


def base_ignores(parents: list[str]) -> list[str]:
    return [x for parent in parents for x in load_profile(parent).ignore_interfaces]


@cache
def load_profile(name: str) -> Profile:
    return _load(name)


@cache
def all_profiles() -> dict[str, Profile]:
    return {p.stem: load_profile(p.stem) for p in sorted(PROFILE_DIR.glob("*.yaml"))}


def profile_for(platform: str | None) -> Profile:
    for p in all_profiles().values():
        if platform in p.platforms:
            return p
    return load_profile("if_mib")


def profile_by_sys_object_id(oid: str) -> Profile | None:
    """The profile with the longest sysObjectID prefix that matches (a WLC before IOS)."""
    best, best_len = None, -1
    for p in all_profiles().values():
        for prefix in p.sys_object_id:
            if oid.startswith(prefix) and len(prefix) > best_len:
                best, best_len = p, len(prefix)
    return best
