"""What can be broken in the lab, how a fault is named, and what each one does.

A fault is a record {id, kind, target, ...params}. The district recomputes traffic, status and
reachability from the list of active faults (LabDistrict.apply_faults); the agents read the same
list. `clear` removes records, which undoes them (an agent reboot, being an event, stays done).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inventory import LinkKind, Role

from .model import LabDistrict


@dataclass(frozen=True)
class FaultKind:
    target: str  # device | ring-node | interface | carrier | ac | none
    what: str
    params: tuple[str, ...] = ()


FAULTS: dict[str, FaultKind] = {
    "device-down": FaultKind("device", "no SNMP, no SSH, no ping; its links go down at the far end"),
    "ring-node-down": FaultKind("ring-node", "a ring node dies: both ring directions through it break"),
    "link-down": FaultKind("interface", "oper status down on both ends; traffic takes the other ring direction"),
    "carrier-down": FaultKind("carrier", "a carrier uplink down; the egress load moves to the other carriers"),
    "egress-saturation": FaultKind("none", "internet demand pushes every live carrier uplink to LEVEL (0.98)", ("level",)),
    "ap-group-offline": FaultKind("ac", "APs on a controller go offline (COUNT of them, default all)", ("count",)),
    "cpu-high": FaultKind("device", "CPU at 94-98%"),
    "counter-wrap": FaultKind("device", "only 32-bit counters (no ifHC*): busy ports wrap within minutes"),
    "agent-reboot": FaultKind("device", "sysUpTime and counters restart from zero, engineBoots + 1 (an event)"),
    "slow-agent": FaultKind("device", "SNMP replies come SECONDS (5) late, after a collector's timeout", ("seconds",)),
    "malformed": FaultKind("device", "SNMP replies are garbage"),
    "truncated": FaultKind("device", "SNMP replies are cut in half"),
    "interface-errors": FaultKind("interface", "input errors at RATE (50) per second", ("rate",)),
    "lldp-mismatch": FaultKind("interface", "LLDP shows DEVICE / INTERFACE as the neighbour (cabling error)", ("device", "interface")),
    "config-drift": FaultKind("device", "DRIFT: telnet | loghost-removed | public-community | idle-timeout-0 | unknown-user", ("drift",)),
    "ssh-auth-fail": FaultKind("device", "SSH logins are refused"),
    "stuck-pager": FaultKind("device", "the CLI pager ignores paging-off and never advances"),
}
DRIFTS = ("telnet", "loghost-removed", "public-community", "idle-timeout-0", "unknown-user")


class FaultError(ValueError):
    pass


def validate(district: LabDistrict, kind: str, target: str, params: dict[str, Any]) -> dict[str, Any]:
    """Check a fault request against the lab; return the normalised record (without id)."""
    fk = FAULTS.get(kind)
    if fk is None:
        raise FaultError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
    unknown = set(params) - set(fk.params)
    if unknown:
        raise FaultError(f"{kind}: unknown parameter(s) {', '.join(sorted(unknown))} (takes: {', '.join(fk.params) or 'none'})")
    inv = district.inv
    if fk.target in ("device", "ring-node", "ac"):
        ld = district.devices.get(target)
        if ld is None:
            raise FaultError(f"{kind}: no lab device {target!r} (thin APs are reached through their AC)")
        if fk.target == "ring-node" and ld.dev.role != Role.RING_NODE:
            raise FaultError(f"{kind}: {target} is a {ld.dev.role.value}, not a ring-node")
        if fk.target == "ac" and not ld.aps:
            raise FaultError(f"{kind}: {target} has no APs")
    elif fk.target == "interface":
        dev, sep, ifname = target.partition(":")
        ld = district.devices.get(dev)
        if not sep or ld is None or ifname not in ld.by_name:
            raise FaultError(f"{kind}: target must be DEVICE:INTERFACE of a lab device, got {target!r}")
        if kind == "link-down" and ld.by_name[ifname].link is None:
            raise FaultError(f"{kind}: {target} has no link in the inventory")
    elif fk.target == "carrier":
        carriers = sorted({lk.carrier for lk in inv.links if lk.kind == LinkKind.EGRESS and lk.carrier})
        if target not in carriers:
            raise FaultError(f"{kind}: unknown carrier {target!r}; known: {', '.join(carriers)}")
    elif target not in ("", "district"):
        raise FaultError(f"{kind}: takes no target")
    rec: dict[str, Any] = {"kind": kind, "target": target if fk.target != "none" else "district"}
    for p, v in params.items():
        if p in ("level", "seconds", "rate"):
            try:
                rec[p] = float(v)
            except (TypeError, ValueError):
                raise FaultError(f"{kind}: {p} must be a number, got {v!r}") from None
        elif p == "count":
            rec[p] = int(v)
        else:
            rec[p] = str(v)
    if kind == "config-drift" and rec.get("drift") not in DRIFTS:
        raise FaultError(f"config-drift: drift must be one of {', '.join(DRIFTS)}")
    return rec
