"""The latest result per (device, collector): what the exporters render and the reports read."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from .result import PollResult


class ResultStore:
    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], PollResult] = {}
        self._last_ok: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[PollResult], None]] = []

    def subscribe(self, fn: Callable[[PollResult], None]) -> None:
        """fn(result) for every result put from now on (the InfluxDB writer's spool)."""
        self._listeners.append(fn)

    def put(self, r: PollResult) -> None:
        for fn in self._listeners:
            fn(r)
        key = (r.device, r.collector)
        with self._lock:
            if r.ok:
                self._last_ok[key] = r.started + r.duration
                self._latest[key] = r
            else:
                # a failed poll keeps the last good samples out of /metrics (stale data would hide
                # the outage) but remembers when the device last answered
                self._latest[key] = r

    def results(self) -> list[PollResult]:
        with self._lock:
            return list(self._latest.values())

    def last_success(self, device: str, collector: str) -> float | None:
        return self._last_ok.get((device, collector))

    def prune(self, devices: Iterable[str]) -> int:
        """Forget devices no longer in the inventory: their series disappear from /metrics."""
        keep = set(devices)
        with self._lock:
            gone = [k for k in self._latest if k[0] not in keep]
            for k in gone:
                self._latest.pop(k, None)
                self._last_ok.pop(k, None)
        return len(gone)
