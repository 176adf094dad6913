"""What every collector returns: failure is data (nornir), one currency for exporters and writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class Sample(NamedTuple):
    metric: str
    labels: tuple[tuple[str, str], ...]  # sorted (name, value) pairs: hashable, cheap
    value: float
    kind: str = "gauge"  # gauge | counter (for the exporter's TYPE line)


@dataclass
class PollResult:
    device: str
    collector: str  # snmp | ssh | icmp
    ok: bool
    started: float
    duration: float
    samples: list[Sample] = field(default_factory=list)
    reason: str = ""  # short, machine-readable: timeout, auth, decode, profile, ...
    error: str = ""  # for a person: names the device and the cause
    varbinds: int = 0
    platform: str = ""
    # samples carry the poll's time; an audit's values hold for hours until the next one: not stamped
    stamped: bool = True

    def __post_init__(self) -> None:
        if not self.ok and not self.reason:
            self.reason = "error"
