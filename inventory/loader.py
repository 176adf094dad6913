"""Load the inventory from a directory of YAML files (plus CSV asset ledgers) and validate it.

Any file may hold any of the top-level keys below; the demo keeps one file per site (its record,
devices and links) plus backbone.yaml, models.yaml, defaults.yaml and intent.yaml.

Defaults are merged explicitly, in this order (later wins):
    defaults.device  <  defaults.site_kind[<site kind>]  <  defaults.role[<role>]  <  the record
and vendor / platform / ports come from the model catalogue (`models:`) unless the record says.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from .model import (
    Device,
    DeviceDefaults,
    District,
    HardwareModel,
    Intent,
    Interface,
    Link,
    LinkKind,
    Record,
    Role,
    Site,
    SiteKind,
)
from .source import InputError, Located, Problem, load_yaml, problems_from_validation

TOP_KEYS = ("district", "defaults", "models", "intent", "sites", "devices", "links")


class Defaults(Record):
    device: DeviceDefaults = DeviceDefaults()
    site_kind: dict[SiteKind, DeviceDefaults] = {}
    role: dict[Role, DeviceDefaults] = {}


@dataclass
class Inventory:
    district: District
    sites: dict[str, Site]
    devices: dict[str, Device]
    links: list[Link]
    models: dict[str, HardwareModel]
    intent: Intent
    defaults: Defaults
    where: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)  # (kind, name) -> file, line
    warnings: list[Problem] = field(default_factory=list)
    links_by_device: dict[str, list[Link]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        by_dev: dict[str, list[Link]] = defaultdict(list)
        for link in self.links:
            by_dev[link.a.device].append(link)
            if not link.b.external:
                by_dev[link.b.device].append(link)
        self.links_by_device = dict(by_dev)

    def site_of(self, device: Device) -> Site:
        return self.sites[device.site]

    def devices_at(self, site: str) -> list[Device]:
        return [d for d in self.devices.values() if d.site == site]

    def ring_nodes(self) -> list[Device]:
        return [d for d in self.devices.values() if d.role == Role.RING_NODE]

    def ring_order(self, kind: LinkKind) -> list[str]:
        """Ring nodes in cabling order along one ring, starting at the first ring node by name."""
        adj: dict[str, list[str]] = defaultdict(list)
        for link in self.links:
            if link.kind == kind:
                adj[link.a.device].append(link.b.device)
                adj[link.b.device].append(link.a.device)
        if not adj:
            return []
        start = min(adj)
        order, prev, cur = [start], None, start
        while True:
            nxt = [n for n in adj[cur] if n != prev]
            if not nxt or nxt[0] == start or len(order) > len(adj):
                break
            prev, cur = cur, nxt[0]
            order.append(cur)
        return order

    def uplink_of(self, site: str) -> list[Link]:
        return [lk for lk in self.links if lk.kind == LinkKind.UPLINK and self.devices[lk.a.device].site == site]


def _end_label(end: Any) -> str:
    if isinstance(end, dict):
        return f"{end.get('device')}:{end.get('interface')}"
    return str(end)


def load_inventory(
    path: Path | str,
    *,
    allowed_ranges: Iterable[IPv4Network] | None = None,
    auth_names: dict[str, set[str]] | None = None,
    ledgers: Iterable[Path | str] = (),
) -> Inventory:
    """Read and validate; raises InputError listing every problem found (not just the first)."""
    from .ledger import read_ledger
    from .validate import validate

    path = Path(path)
    problems: list[Problem] = []
    raw: dict[str, list[tuple[Located, str]]] = {k: [] for k in TOP_KEYS}

    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
        if not files:
            raise InputError([Problem(str(path), 0, "", "no .yaml files in the inventory directory")], str(path))
    elif path.is_file():
        files = [path]
    else:
        raise InputError([Problem(str(path), 0, "", "inventory path does not exist")], str(path))

    for f in files:
        try:
            data = load_yaml(f)
        except InputError as e:
            problems.extend(e.problems)
            continue
        if data is None:
            continue
        name = str(f)
        if not isinstance(data, Located):
            problems.append(Problem(name, 1, "", f"top level must be a mapping with keys: {', '.join(TOP_KEYS)}"))
            continue
        for key, value in data.items():
            if key not in TOP_KEYS:
                problems.append(Problem(name, data.line_of(key), "", f"unknown top-level key {key!r} (expected one of: {', '.join(TOP_KEYS)})"))
                continue
            if key in ("sites", "devices", "links"):
                if not isinstance(value, list):
                    problems.append(Problem(name, data.line_of(key), "", f"'{key}' must be a list of records"))
                    continue
                for i, item in enumerate(value):
                    if not isinstance(item, Located):
                        problems.append(Problem(name, data.line_of(key), f"{key}[{i}]", "each record must be a mapping"))
                        continue
                    raw[key].append((item, name))
            elif key == "models":
                if not isinstance(value, Located):
                    problems.append(Problem(name, data.line_of(key), "", "'models' must map model name -> spec"))
                    continue
                for mname, spec in value.items():
                    raw["models"].append((Located({"name": str(mname), "spec": spec}, file=name, line=value.line_of(mname)), name))
            else:
                if not isinstance(value, Located):
                    problems.append(Problem(name, data.line_of(key), "", f"'{key}' must be a mapping"))
                    continue
                raw[key].append((value, name))

    for ledger in ledgers:
        try:
            raw["devices"].extend((row, row.file) for row in read_ledger(Path(ledger)))
        except InputError as e:
            problems.extend(e.problems)

    where: dict[tuple[str, str], tuple[str, int]] = {}

    def single(key: str, model: type[Record], required: bool) -> Any:
        items = raw[key]
        if not items:
            if required:
                problems.append(Problem(str(path), 0, "", f"no '{key}:' record in any inventory file"))
            return None
        if len(items) > 1:
            (first, f1), (second, f2) = items[0], items[1]
            problems.append(Problem(f2, second.line, key, f"defined twice (also at {f1}:{first.line})"))
        item, fname = items[0]
        where[(key, "")] = (fname, item.line)
        try:
            return model.model_validate(item)
        except ValidationError as e:
            problems.extend(problems_from_validation(e, item, fname, key))
            return None

    district = single("district", District, required=True)
    defaults = single("defaults", Defaults, required=False) or Defaults()
    intent = single("intent", Intent, required=False) or Intent()

    models: dict[str, HardwareModel] = {}
    for item, fname in raw["models"]:
        mname = item["name"]
        if mname in models:
            f0, l0 = where[("model", mname)]
            problems.append(Problem(fname, item.line, f"model {mname!r}", f"defined twice (also at {f0}:{l0})"))
            continue
        spec = item["spec"]
        try:
            models[mname] = HardwareModel.model_validate(spec)
            where[("model", mname)] = (fname, item.line)
        except ValidationError as e:
            problems.extend(problems_from_validation(e, spec, fname, f"model {mname!r}"))

    sites: dict[str, Site] = {}
    for item, fname in raw["sites"]:
        label = f"site {item.get('name')!r}"
        try:
            site = Site.model_validate(item)
        except ValidationError as e:
            problems.extend(problems_from_validation(e, item, fname, label))
            continue
        if site.name in sites:
            f0, l0 = where[("site", site.name)]
            problems.append(Problem(fname, item.line, label, f"duplicate site name (first at {f0}:{l0})", "name"))
            continue
        sites[site.name] = site
        where[("site", site.name)] = (fname, item.line)

    devices: dict[str, Device] = {}
    port_cache: dict[str, tuple[Interface, ...]] = {}
    base = defaults.device.model_dump(exclude_unset=True)
    kind_defaults = {k: v.model_dump(exclude_unset=True) for k, v in defaults.site_kind.items()}
    role_defaults = {k: v.model_dump(exclude_unset=True) for k, v in defaults.role.items()}
    for item, fname in raw["devices"]:
        label = f"device {item.get('name')!r}"
        if "interfaces" in item:
            problems.append(Problem(fname, item.line_of("interfaces"), label, "ports come from the model catalogue; list additional ones under 'extra_interfaces'", "interfaces"))
            continue
        merged: dict[str, Any] = dict(base)
        site = sites.get(item.get("site"))  # type: ignore[arg-type]
        if site is not None:
            merged.update(kind_defaults.get(site.kind, {}))
        merged.update(role_defaults.get(item.get("role"), {}))  # type: ignore[arg-type]
        merged.update(item)
        spec = models.get(item.get("model"))  # type: ignore[arg-type]
        if spec is not None:
            for fld in ("vendor", "platform"):
                given = merged.get(fld)
                model_value = getattr(spec, fld)
                if given is None:
                    merged[fld] = model_value
                elif str(given) != str(model_value):
                    problems.append(Problem(fname, item.line_of(fld), label, f"{given!r} contradicts model {item.get('model')!r} ({fld} {str(model_value)!r})", fld))
            if merged.get("firmware") is None and spec.firmware:
                merged["firmware"] = spec.firmware
        try:
            dev = Device.model_validate(merged)
        except ValidationError as e:
            problems.extend(problems_from_validation(e, item, fname, label))
            continue
        if dev.name in devices:
            f0, l0 = where[("device", dev.name)]
            problems.append(Problem(fname, item.line, label, f"duplicate device name (first at {f0}:{l0})", "name"))
            continue
        if spec is not None:
            ports = port_cache.get(dev.model)
            if ports is None:
                ports = tuple(Interface(name=n, speed_bps=g.speed) for g in spec.ports for n in g.expand())
                port_cache[dev.model] = ports
            dev = dev.model_copy(update={"interfaces": ports + tuple(dev.extra_interfaces)})
        devices[dev.name] = dev
        where[("device", dev.name)] = (fname, item.line)

    links: list[Link] = []
    link_raw: list[tuple[Located, str]] = []
    for item, fname in raw["links"]:
        label = f"link {_end_label(item.get('a'))}--{_end_label(item.get('b'))}"
        try:
            links.append(Link.model_validate(item))
            link_raw.append((item, fname))
        except ValidationError as e:
            problems.extend(problems_from_validation(e, item, fname, label))

    if problems or district is None:
        # cross-reference checks on a half-loaded inventory would only add noise
        raise InputError(problems, f"inventory {path}")

    inv = Inventory(district=district, sites=sites, devices=devices, links=links, models=models,
                    intent=intent, defaults=defaults, where=where)
    problems, warnings = validate(inv, link_raw, allowed_ranges=allowed_ranges, auth_names=auth_names)
    if problems:
        raise InputError(problems, f"inventory {path}")
    inv.warnings = warnings
    return inv
