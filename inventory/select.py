"""Filters over the inventory: by site, role, vendor, site kind, status (each repeatable, OR within
a filter, AND across filters). Site names accept shell-style globs: --site 'sch0*'."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase

from .loader import Inventory
from .model import Device


@dataclass(frozen=True)
class Selector:
    sites: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    vendors: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()  # site kinds
    statuses: tuple[str, ...] = ()

    def matches(self, inv: Inventory, d: Device) -> bool:
        if self.sites and not any(fnmatchcase(d.site, p) for p in self.sites):
            return False
        if self.roles and d.role.value not in self.roles:
            return False
        if self.vendors and (d.vendor is None or d.vendor.value not in self.vendors):
            return False
        if self.kinds and inv.sites[d.site].kind.value not in self.kinds:
            return False
        return not (self.statuses and d.status.value not in self.statuses)


def select(inv: Inventory, selector: Selector | None = None) -> list[Device]:
    sel = selector or Selector()
    return [d for d in inv.devices.values() if sel.matches(inv, d)]


def unknown_values(inv: Inventory, selector: Selector) -> list[str]:
    """Filter values that match nothing at all: usually a typo the user wants to hear about."""
    from .model import Role, SiteKind, Status, Vendor

    out: list[str] = []

    def check(values: Iterable[str], allowed: Iterable[str], what: str) -> None:
        allowed = set(allowed)
        out.extend(f"unknown {what} {v!r} (known: {', '.join(sorted(allowed))})" for v in values if v not in allowed)

    check(selector.roles, (r.value for r in Role), "role")
    check(selector.vendors, (v.value for v in Vendor), "vendor")
    check(selector.kinds, (k.value for k in SiteKind), "site kind")
    check(selector.statuses, (s.value for s in Status), "status")
    for p in selector.sites:
        if not any(fnmatchcase(s, p) for s in inv.sites):
            out.append(f"no site matches {p!r}")
    return out
