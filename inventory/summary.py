"""What `emanwatch inventory check` reports: counts, ring order, egress, address plan."""

from __future__ import annotations

from collections import Counter
from typing import Any

from .loader import Inventory
from .model import RING_KINDS, LinkKind
from .validate import _fmt_bps as fmt_bps


def summarize(inv: Inventory) -> dict[str, Any]:
    devs = inv.devices.values()
    rings = {}
    for kind in RING_KINDS:
        order = inv.ring_order(kind)
        caps = {lk.capacity_bps for lk in inv.links if lk.kind == kind}
        rings[kind.value] = {"order": order, "closed": bool(order), "capacity": "/".join(fmt_bps(c) for c in sorted(caps))}
    egress = [{"carrier": lk.carrier, "capacity_bps": lk.capacity_bps, "interface": str(lk.a)}
              for lk in inv.links if lk.kind == LinkKind.EGRESS]
    return {
        "district": inv.district.name,
        "sites": len(inv.sites),
        "sites_by_kind": dict(Counter(s.kind.value for s in inv.sites.values())),
        "devices": len(inv.devices),
        "devices_by_role": dict(Counter(d.role.value for d in devs)),
        "devices_by_vendor": dict(Counter(d.vendor.value for d in devs if d.vendor)),
        "devices_by_status": dict(Counter(d.status.value for d in devs)),
        "interfaces": sum(len(d.interfaces) for d in devs),
        "links": len(inv.links),
        "links_by_kind": dict(Counter(lk.kind.value for lk in inv.links)),
        "rings": rings,
        "egress": egress,
        "egress_total_bps": sum(e["capacity_bps"] for e in egress),
        "egress_capacity_bps": inv.district.egress_capacity_bps,
        "admins": sum(len(s.admins) for s in inv.sites.values()),
        "warnings": [str(w) for w in inv.warnings],
    }
