"""The Prometheus exporter over the latest poll results.

Device and interface metrics keep snmp_exporter's names (ifHCInOctets, ifOperStatus, ... with
ifName / ifAlias / ifIndex) so community dashboards work, and carry the inventory's labels (site,
site_kind, role, vendor, link_kind, peer_device, carrier), stamped with the time of the poll that
read them: polls run on their own schedule, so Prometheus must not take the scrape time for the
time a counter was read. A district is ~200k such samples: they are rendered to text once per
poll (render_result), not once per scrape, and a scrape only joins the blocks.

Poll health (success, duration, last success, error reason) and the scheduler's own metrics come
from a prometheus-client custom collector: fresh families at every scrape, in the exporter's own
registry (nothing global). Every device reports its health, success or not: that is how an
outage is seen at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import CollectorRegistry, Metric
from prometheus_client.registry import Collector

from collectors.result import PollResult
from collectors.store import ResultStore

HELP = {
    "ifHCInOctets": "Octets received (IF-MIB ifHCInOctets; 32-bit agents extended to 64 bits by emanwatch).",
    "ifHCOutOctets": "Octets sent (IF-MIB ifHCOutOctets; 32-bit agents extended to 64 bits by emanwatch).",
    "emanwatch_if_in_bps": "Received bit/s between the last two polls (from ifHCInOctets and the read times).",
    "emanwatch_if_out_bps": "Sent bit/s between the last two polls (from ifHCOutOctets and the read times).",
    "emanwatch_if_in_errors_per_second": "Input errors per second between the last two polls.",
    "emanwatch_if_out_errors_per_second": "Output errors per second between the last two polls.",
    "ifOperStatus": "IF-MIB ifOperStatus: 1 up, 2 down.",
    "ifAdminStatus": "IF-MIB ifAdminStatus: 1 up, 2 down.",
    "ifHighSpeed": "IF-MIB ifHighSpeed, Mbit/s.",
    "emanwatch_cpu_percent": "Device CPU utilisation, percent (vendor OIDs per profile).",
    "emanwatch_memory_percent": "Device memory utilisation, percent.",
    "emanwatch_temperature_celsius": "Device temperature, degrees Celsius (hottest sensor).",
    "emanwatch_uptime_seconds": "sysUpTime in seconds.",
    "emanwatch_ap_up": "1 if the AP is joined to its controller and serving, else 0.",
    "emanwatch_ap_clients": "Wireless clients on the AP.",
    "emanwatch_ac_aps": "APs a controller should have (inventory) or has.",
    "emanwatch_ac_aps_online": "APs joined and serving on a controller.",
    "emanwatch_link_capacity_bps": "Capacity of the inventory link on this port, bit/s (for utilisation).",
}


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


_LABEL_TEXT: dict[tuple, str] = {}  # label set -> its exposition text (label sets repeat every poll)


def render_result(r: PollResult) -> dict[str, tuple[str, str]]:
    """{metric: (type, exposition lines)} for one poll, stamped with the poll's time (ms)."""
    cached = getattr(r, "_rendered", None)
    if cached is not None:
        return cached
    ts = f" {int((r.started + r.duration) * 1000)}\n" if r.stamped else "\n"
    lines: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    label_text = _LABEL_TEXT
    if len(label_text) > 500_000:  # bounded: label sets of removed devices age out
        label_text.clear()
    for s in r.samples:
        lt = label_text.get(s.labels)
        if lt is None:
            lt = label_text[s.labels] = "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in s.labels) + "}"
        buf = lines.get(s.metric)
        if buf is None:
            buf = lines[s.metric] = []
            kinds[s.metric] = s.kind
        buf.append(f"{s.metric}{lt} {s.value!r}{ts}")
    out = {m: (kinds[m], "".join(v)) for m, v in lines.items()}
    r._rendered = out  # type: ignore[attr-defined]
    return out


def render_samples(results: list[PollResult]) -> str:
    """Every successful poll's samples, grouped by metric family with one HELP/TYPE each."""
    blocks: dict[str, list[str]] = {}
    kinds: dict[str, str] = {}
    for r in results:
        if not r.ok:
            continue
        for metric, (kind, text) in render_result(r).items():
            blocks.setdefault(metric, []).append(text)
            kinds[metric] = kind
    parts = []
    for metric, texts in blocks.items():
        parts.append(f"# HELP {metric} {HELP.get(metric, metric + ' (SNMP)')}\n# TYPE {metric} {kinds[metric]}\n")
        parts.extend(texts)
    return "".join(parts)


class PollCollector(Collector):
    """Poll health and the scheduler's metrics: a prometheus-client custom collector."""

    def __init__(self, store: ResultStore, device_labels: Callable[[str], dict[str, str]],
                 extra: Callable[[], Iterator[Metric]] | None = None) -> None:
        self.store = store
        self.device_labels = device_labels
        self.extra = extra

    def collect(self) -> Iterator[Metric]:
        yield from self._health(self.store.results())
        if self.extra:
            yield from self.extra()

    def _health(self, results: list[PollResult]) -> Iterator[Metric]:
        ok = Metric("emanwatch_poll_success", "1 if the last poll of the device succeeded.", "gauge")
        dur = Metric("emanwatch_poll_duration_seconds", "How long the last poll took.", "gauge")
        last = Metric("emanwatch_poll_last_success_timestamp_seconds", "When the device last answered a poll.", "gauge")
        err = Metric("emanwatch_poll_error", "1 for the reason the last poll failed (timeout, auth, decode, profile, ...).", "gauge")
        vbs = Metric("emanwatch_poll_varbinds", "Varbinds the last poll read.", "gauge")
        for r in results:
            labels = {**self.device_labels(r.device), "collector": r.collector}
            ok.samples.append(_sample("emanwatch_poll_success", labels, 1.0 if r.ok else 0.0))
            dur.samples.append(_sample("emanwatch_poll_duration_seconds", labels, r.duration))
            vbs.samples.append(_sample("emanwatch_poll_varbinds", labels, float(r.varbinds)))
            t = self.store.last_success(r.device, r.collector)
            if t is not None:
                last.samples.append(_sample("emanwatch_poll_last_success_timestamp_seconds", labels, t))
            if not r.ok:
                err.samples.append(_sample("emanwatch_poll_error", {**labels, "reason": r.reason}, 1.0))
        yield from (ok, dur, last, err, vbs)


def _sample(name: str, labels: dict[str, str], value: float) -> Any:
    from prometheus_client.samples import Sample

    return Sample(name, labels, value, None, None)


def make_registry(store: ResultStore, device_labels: Callable[[str], dict[str, str]],
                  extra: Callable[[], Iterator[Metric]] | None = None) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(PollCollector(store, device_labels, extra))
    return registry


def metrics_text(store: ResultStore, registry: CollectorRegistry) -> bytes:
    return render_samples(store.results()).encode() + generate_latest(registry)


def serve_metrics(store: ResultStore, registry: CollectorRegistry, host: str, port: int) -> Any:
    """/metrics on a threaded WSGI server (prometheus-client's); returns the server."""
    import threading
    from wsgiref.simple_server import make_server

    from prometheus_client.exposition import ThreadingWSGIServer, _SilentHandler

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        if environ.get("PATH_INFO") not in ("/metrics", "/"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"try /metrics\n"]
        body = metrics_text(store, registry)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]

    httpd = make_server(host, port, app, ThreadingWSGIServer, handler_class=_SilentHandler)
    threading.Thread(target=httpd.serve_forever, name="metrics-http", daemon=True).start()
    return httpd
