"""Reports from the time series: the weekly capacity report and the daily zero-report (零报告).

Both ask the Prometheus HTTP API (Prometheus or VictoriaMetrics: the same API) for one window
ending at `end`: instant queries with range functions over `[W]`, so a figure here is a PromQL
figure anyone can recompute. The weekly report is rendered with jinja2 to one HTML file (charts
as PNG, made with matplotlib, embedded and saved beside it) plus report.json with every figure.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from collectors.backup import CST

_env = Environment(loader=PackageLoader("emanwatch", "templates/reports"), autoescape=select_autoescape(["html"]),
                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)


class ReportError(RuntimeError):
    pass


class Prom:
    """The Prometheus HTTP API (also VictoriaMetrics'): instant and range queries, errors named."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url if url.startswith("http") else f"http://{url}"
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            r = httpx.get(f"{self.url}{path}", params=params, timeout=self.timeout)
        except httpx.HTTPError as e:
            raise ReportError(f"{self.url}: {e.__class__.__name__}: {e}") from None
        doc = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        if r.status_code != 200 or doc.get("status") != "success":
            raise ReportError(f"{self.url}{path} {params.get('query', '')!r}: {doc.get('error') or r.text[:200]}")
        return doc["data"]["result"]

    def instant(self, query: str, t: float) -> list[dict[str, Any]]:
        return self._get("/api/v1/query", {"query": query, "time": f"{t:.3f}"})

    def range(self, query: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return self._get("/api/v1/query_range", {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}",
                                                 "step": f"{max(step, 1):.0f}"})

    @classmethod
    def of(cls, cfg: Any, url: str | None = None) -> Prom:
        """The query API a report reads: --url, else reports.prometheus, else listen.prometheus."""
        return cls(url or cfg.reports.prometheus or cfg.listen.prometheus)

    def values(self, query: str, t: float, key: str) -> dict[str, float]:
        return {r["metric"].get(key, ""): float(r["value"][1]) for r in self.instant(query, t)}


@dataclass
class Window:
    start: float
    end: float
    label: str

    @property
    def seconds(self) -> int:
        return int(self.end - self.start)

    @property
    def w(self) -> str:
        return f"[{self.seconds}s]"


def week_window(week: str | None, now: float | None = None) -> Window:
    """ISO week (2026-W47), Monday 00:00 to Monday 00:00 CST; default: the last complete week."""
    now = time.time() if now is None else now
    if week is None:
        today = datetime.fromtimestamp(now, CST).date()
        monday = today - timedelta(days=today.weekday() + 7)
    else:
        m = re.fullmatch(r"(\d{4})-W(\d{2})", week)
        if not m:
            raise ReportError(f"--week {week!r}: expected YYYY-Www, e.g. 2026-W47")
        try:
            monday = date.fromisocalendar(int(m.group(1)), int(m.group(2)), 1)
        except ValueError as e:
            raise ReportError(f"--week {week}: {e}") from None
    start = datetime(monday.year, monday.month, monday.day, tzinfo=CST).timestamp()
    y, w, _ = monday.isocalendar()
    return Window(start, start + 7 * 86400, f"{y}-W{w:02d}")


def last_window(seconds: float, end: float | None = None) -> Window:
    end = time.time() if end is None else end
    return Window(end - seconds, end, f"最近 {_human(seconds)}")


def _human(s: float) -> str:
    for unit, n in (("天", 86400), ("小时", 3600), ("分钟", 60)):
        if s >= n and s % n == 0:
            return f"{int(s // n)} {unit}"
    return f"{int(s)} 秒"


def quantile(values: list[float], q: float) -> float:
    """Prometheus' quantile_over_time: linear interpolation at rank q * (n - 1)."""
    v = sorted(values)
    if not v:
        return math.nan
    rank = q * (len(v) - 1)
    lo, hi = math.floor(rank), math.ceil(rank)
    return v[lo] + (v[hi] - v[lo]) * (rank - lo)


def forecast_days(points: list[tuple[float, float]], level: float, now: float) -> float | None:
    """Days from `now` until a least-squares line through (t, value) reaches `level`; None if it never does."""
    if len(points) < 3:
        return None
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    if var == 0:
        return None
    slope = sum((t - mt) * (v - mv) for t, v in points) / var
    if slope <= 0:
        return None
    at = mt + (level - mv) / slope
    return max(0.0, (at - now) / 86400)


# ------------------------------------------------------------------ the weekly capacity report


def weekly_figures(prom: Prom, win: Window, capacity_bps: float) -> dict[str, Any]:
    t, w = win.end, win.w
    step = max(15, win.seconds // 600)
    car_peak = prom.values(f"max_over_time(emanwatch:egress_bps:carrier{w})", t, "carrier")
    car_p95 = prom.values(f"quantile_over_time(0.95, emanwatch:egress_bps:carrier{w})", t, "carrier")
    car_cap = prom.values('sum by (carrier) (emanwatch_link_capacity_bps{link_kind="egress"})', t, "carrier")
    carriers = [{"carrier": c, "peak_bps": car_peak[c], "p95_bps": car_p95.get(c, math.nan),
                 "capacity_bps": car_cap.get(c, math.nan), "peak_util": car_peak[c] / car_cap[c] if car_cap.get(c) else math.nan,
                 "p95_util": car_p95.get(c, math.nan) / car_cap[c] if car_cap.get(c) else math.nan}
                for c in sorted(car_peak)]
    tot = "emanwatch:egress_utilisation:total"
    raw = prom.instant(f"{tot}{w}", t)
    samples = [(float(ts), float(v)) for ts, v in raw[0]["values"]] if raw else []
    above = prom.instant(f"count_over_time(({tot} > 0.8)[{win.seconds}s:{step}s])", t)
    total = {"peak_util": max((v for _, v in samples), default=math.nan),
             "p95_util": quantile([v for _, v in samples], 0.95),
             "hours_above_80": float(above[0]["value"][1]) * step / 3600 if above else 0.0,
             "forecast_days_to_80": forecast_days(samples, 0.8, t), "capacity_bps": capacity_bps,
             "samples": len(samples)}
    ring = []
    lk = '{link_kind=~"ring-a|ring-b"}'
    peak = prom.instant(f"max_over_time(emanwatch:link_utilisation_in:ratio{lk}{w})", t)
    p95 = {r["metric"].get("link", ""): float(r["value"][1])
           for r in prom.instant(f"quantile_over_time(0.95, emanwatch:link_utilisation_in:ratio{lk}{w})", t)}
    flaps = {r["metric"].get("link", ""): float(r["value"][1])
             for r in prom.instant(f"max by (link) (changes(ifOperStatus{lk}{w}))", t)}
    for r in peak:
        m = r["metric"]
        ring.append({"link": m.get("link", ""), "device": m.get("device", ""), "peer": m.get("peer_device", ""),
                     "kind": m.get("link_kind", ""), "peak_util": float(r["value"][1]), "p95_util": p95.get(m.get("link", ""), math.nan),
                     # a link going down and coming back is two status changes
                     "down_events": math.ceil(flaps.get(m.get("link", ""), 0) / 2)})
    ring.sort(key=lambda x: -x["p95_util"] if not math.isnan(x["p95_util"]) else 0)
    degraded = prom.instant(f'count_over_time((emanwatch_ring_state{{ring="all"}} < 2)[{win.seconds}s:{step}s])', t)
    up20 = prom.instant(f'topk(20, quantile_over_time(0.95, emanwatch:link_utilisation_in:ratio{{link_kind="uplink"}}{w}))', t)
    uplinks = sorted(({"site": r["metric"].get("site", ""), "device": r["metric"].get("device", ""),
                       "link": r["metric"].get("link", ""), "p95_util": float(r["value"][1])} for r in up20),
                     key=lambda x: -x["p95_util"])
    cpu = prom.instant(f"max_over_time(emanwatch_cpu_percent{w}) > 70", t)
    mem = prom.values(f"max_over_time(emanwatch_memory_percent{w})", t, "device")
    busy = {r["metric"]["device"]: {"device": r["metric"]["device"], "site": r["metric"].get("site", ""),
                                    "cpu_peak": float(r["value"][1]), "mem_peak": mem.get(r["metric"]["device"], math.nan)}
            for r in cpu}
    for r in prom.instant(f"max_over_time(emanwatch_memory_percent{w}) > 70", t):
        d = r["metric"]["device"]
        busy.setdefault(d, {"device": d, "site": r["metric"].get("site", ""), "cpu_peak": math.nan, "mem_peak": 0.0})
        busy[d]["mem_peak"] = float(r["value"][1])
    avail = prom.values(f"avg_over_time(emanwatch:site_up{w})", t, "site")
    aps = prom.values(f"avg_over_time(emanwatch:site_ap_online:ratio{w})", t, "site")
    counts = prom.instant(f'count by (alertname, severity, site) (count_over_time(ALERTS{{alertstate="firing"}}{w}))', t)
    per_series = prom.instant(f'sum by (alertname, severity, site) (count_over_time(ALERTS{{alertstate="firing"}}{w}))', t)
    evals = prom.instant(f"count_over_time({tot}{w})", t)
    eval_s = win.seconds / float(evals[0]["value"][1]) if evals and float(evals[0]["value"][1]) else 60.0
    mins = {tuple(r["metric"].get(k, "") for k in ("alertname", "severity", "site")): float(r["value"][1]) * eval_s / 60
            for r in per_series}
    alerts = sorted(({"alertname": r["metric"].get("alertname", ""), "severity": r["metric"].get("severity", ""),
                      "site": r["metric"].get("site", ""), "series": int(float(r["value"][1])),
                      "minutes": mins.get(tuple(r["metric"].get(k, "") for k in ("alertname", "severity", "site")), 0.0)}
                     for r in counts), key=lambda a: (a["severity"] != "critical", -a["minutes"]))
    comp = prom.instant("count by (check, severity) (emanwatch_compliance_check < 1)", t)
    audited = prom.instant("count(count by (device) (emanwatch_compliance_check))", t)
    compliance = {"devices": int(float(audited[0]["value"][1])) if audited else 0,
                  "failed": sorted(({"check": r["metric"].get("check", ""), "severity": r["metric"].get("severity", ""),
                                     "devices": int(float(r["value"][1]))} for r in comp), key=lambda c: c["check"])}
    return {"window": {"start": win.start, "end": win.end, "label": win.label, "seconds": win.seconds},
            "egress": {"carriers": carriers, "total": total}, "ring": ring,
            "ring_degraded_minutes": float(degraded[0]["value"][1]) * step / 60 if degraded else 0.0,
            "uplinks_top20": uplinks, "busy_devices": sorted(busy.values(), key=lambda b: b["device"]),
            "availability": sorted(({"site": s, "ratio": v} for s, v in avail.items()), key=lambda a: (a["ratio"], a["site"])),
            "ap_online": sorted(({"site": s, "ratio": v} for s, v in aps.items()), key=lambda a: (a["ratio"], a["site"])),
            "alerts": alerts, "compliance": compliance}


def _charts(prom: Prom, win: Window, fig: dict[str, Any]) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    cjk = next((n for n in ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC") if n in names), None)
    plt.rcParams["font.family"] = [cjk, "DejaVu Sans"] if cjk else ["DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    step = max(15, win.seconds // 400)
    out: dict[str, bytes] = {}

    def save(name: str, f: Any) -> None:
        buf = io.BytesIO()
        f.tight_layout()
        f.savefig(buf, format="png", dpi=100)
        plt.close(f)
        out[name] = buf.getvalue()

    f, ax = plt.subplots(figsize=(9, 3.2))
    for r in prom.range("emanwatch:egress_bps:carrier", win.start, win.end, step):
        xs = [datetime.fromtimestamp(float(t), CST) for t, _ in r["values"]]
        ax.plot(xs, [float(v) / 1e9 for _, v in r["values"]], label=r["metric"].get("carrier", ""))
    ax.set_ylabel("Gbit/s")
    ax.set_title("出口流量（按运营商） Egress by carrier" if cjk else "Egress by carrier")
    ax.legend(loc="upper left", fontsize=8)
    save("egress_carriers.png", f)
    f, ax = plt.subplots(figsize=(9, 3.2))
    for r in prom.range("emanwatch:egress_utilisation:total", win.start, win.end, step):
        xs = [datetime.fromtimestamp(float(t), CST) for t, _ in r["values"]]
        ax.plot(xs, [float(v) * 100 for _, v in r["values"]], color="tab:blue", label="total")
    ax.axhline(80, color="tab:red", linestyle="--", label="80%")
    ax.set_ylabel("%")
    ax.set_title("出口总利用率 Egress utilisation" if cjk else "Egress utilisation")
    ax.legend(loc="upper left", fontsize=8)
    save("egress_total.png", f)
    if fig["uplinks_top20"]:
        f, ax = plt.subplots(figsize=(9, 3.6))
        ups = fig["uplinks_top20"]
        ax.barh([u["site"] for u in ups][::-1], [u["p95_util"] * 100 for u in ups][::-1], color="tab:orange")
        ax.set_xlabel("p95 %")
        ax.set_title("学校上联 95 分位 Top 20" if cjk else "School uplinks p95, top 20")
        save("uplinks_top20.png", f)
    return out


def weekly(prom: Prom, win: Window, inv: Any, out_dir: Path, pdf: bool = False) -> dict[str, Path]:
    fig = weekly_figures(prom, win, float(inv.district.egress_capacity_bps))
    if not fig["egress"]["carriers"]:
        raise ReportError(f"{prom.url}: no egress data in {win.label} "
                          f"({datetime.fromtimestamp(win.start, CST):%Y-%m-%d %H:%M} - {datetime.fromtimestamp(win.end, CST):%Y-%m-%d %H:%M} CST)")
    charts = _charts(prom, win, fig)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for name, png in charts.items():
        (out_dir / name).write_bytes(png)
        paths[name] = out_dir / name
    html = _env.get_template("weekly.html.j2").render(
        f=fig, district=inv.district.name, charts={k: base64.b64encode(v).decode() for k, v in charts.items()},
        start=datetime.fromtimestamp(win.start, CST), end=datetime.fromtimestamp(win.end, CST),
        generated=datetime.now(CST), nan=math.isnan)
    (out_dir / "weekly.html").write_text(html, encoding="utf-8")
    paths["html"] = out_dir / "weekly.html"
    (out_dir / "report.json").write_text(json.dumps(fig, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    paths["json"] = out_dir / "report.json"
    if pdf:
        paths["pdf"] = html_to_pdf(paths["html"])
    return paths


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def html_to_pdf(html: Path) -> Path:
    exe = chromium()
    if exe is None:
        raise ReportError("--format pdf needs Chromium (Debian package `chromium`; ./dev installs it)")
    pdf = html.with_suffix(".pdf")
    r = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", f"--print-to-pdf={pdf}", "--no-pdf-header-footer",
                        html.resolve().as_uri()], capture_output=True, text=True, timeout=120, check=False)
    if r.returncode != 0 or not pdf.exists():
        raise ReportError(f"chromium could not print {html}: {r.stderr.strip()[-300:]}")
    return pdf


# ------------------------------------------------------------------ the daily zero-report (零报告)


def daily_events(prom: Prom, win: Window, known: set[str] | None = None) -> list[dict[str, str]]:
    """Security-related events in the window: compliance failures, changes outside the windows,
    devices unreachable, neighbours the inventory does not know."""
    t, w = win.end, win.w
    ev: list[dict[str, str]] = []
    for r in prom.instant(f"min_over_time(emanwatch_compliance_check{w}) < 1", t):
        m = r["metric"]
        ev.append({"kind": "等保检查不符合", "device": m.get("device", ""), "site": m.get("site", ""),
                   "detail": f"{m.get('check', '')}（{m.get('clause', '')}，{m.get('severity', '')}）"})
    for r in prom.instant(f"max_over_time(emanwatch_config_changed_outside_window{w}) == 1", t):
        m = r["metric"]
        ev.append({"kind": "变更窗口外配置变更", "device": m.get("device", ""), "site": m.get("site", ""),
                   "detail": f"emanwatch backup --log {m.get('device', '')}"})
    unreachable = {r["metric"].get("device", ""): r["metric"].get("site", "")
                   for r in prom.instant(f'min_over_time(emanwatch_poll_success{{collector="icmp"}}{w}) == 0', t)}
    # what was cut off behind a dead device is reported with it, not one line per AP (collectors/dependency.py)
    parents: dict[str, set[str]] = {}
    for r in prom.instant(f'max_over_time(emanwatch_device_cut_off{{root="no"}}{w})', t):
        d, by = r["metric"].get("device", ""), r["metric"].get("cut_by", "")
        if d in unreachable and by in unreachable and by != d:
            parents.setdefault(d, set()).add(by)

    def root_of(d: str, seen: frozenset = frozenset()) -> str:
        ups = sorted(parents.get(d, set()) - seen)
        return root_of(ups[0], seen | {d}) if ups else d

    behind: dict[str, int] = {}
    for d in unreachable:
        behind[root_of(d)] = behind.get(root_of(d), 0) + (root_of(d) != d)
    for d, n in behind.items():
        ev.append({"kind": "设备不可达", "device": d, "site": unreachable[d],
                   "detail": "ICMP 无响应" + (f"；其后 {n} 台设备随之不可达" if n else "")})
    for r in prom.instant(f'max_over_time(emanwatch_topology_mismatch{{kind="unexpected"}}{w}) == 1', t):
        m = r["metric"]
        seen = m.get("observed", "").split(":")[0]
        if known is None or seen not in known:
            ev.append({"kind": "发现未知设备", "device": m.get("device", ""), "site": m.get("site", ""),
                       "detail": f"{m.get('port', '')} 上的邻居 {m.get('observed', '')} 不在资产清单中"})
    return sorted(ev, key=lambda e: (e["kind"], e["site"], e["device"], e["detail"]))


def daily(prom: Prom, win: Window, inv: Any) -> tuple[str, list]:
    """The report's text and its events; sent in the name of the centre site."""
    events = daily_events(prom, win, set(inv.devices))
    centre = next((s.display_name for s in inv.sites.values() if s.kind.value == "centre"), inv.district.name)
    text = _env.get_template("daily.md.j2").render(
        events=events, district=inv.district.name, centre=centre, start=datetime.fromtimestamp(win.start, CST),
        end=datetime.fromtimestamp(win.end, CST), generated=datetime.now(CST))
    return text, events
