"""Prometheus service discovery JSON from the inventory.

file_sd: one target group per device, labels ready to use (site="sch001").
http_sd: the same groups with the labels as __meta_emanwatch_* so relabel_configs choose what to
keep, the convention of Prometheus' built-in discovery mechanisms. Targets are management
addresses (with :port when given), e.g. for snmp_exporter or blackbox_exporter relabelling.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .loader import Inventory
from .model import Device


def device_labels(inv: Inventory, d: Device) -> dict[str, str]:
    site = inv.sites[d.site]
    labels = {
        "device": d.name,
        "site": d.site,
        "site_kind": site.kind.value,
        "role": d.role.value,
        "vendor": d.vendor.value if d.vendor else "",
        "platform": d.platform or "",
        "model": d.model,
        "status": d.status.value,
    }
    if site.street:
        labels["street"] = site.street
    return labels


def target_groups(inv: Inventory, devices: Iterable[Device], fmt: str = "file_sd", port: int | None = None) -> list[dict[str, Any]]:
    if fmt not in ("file_sd", "http_sd"):
        raise ValueError(f"unknown service-discovery format {fmt!r}; use file_sd or http_sd")
    groups = []
    for d in devices:
        labels = device_labels(inv, d)
        if fmt == "http_sd":
            labels = {f"__meta_emanwatch_{k}": v for k, v in labels.items()}
        target = f"{d.mgmt_address}:{port}" if port else str(d.mgmt_address)
        groups.append({"targets": [target], "labels": labels})
    return groups
