"""End to end: the lab, `emanwatch serve`, a real Prometheus scraping it and VictoriaMetrics taking
its InfluxDB writes (servers on loopback).

PromQL sees rates for a ring link, a carrier uplink and a school uplink, AP counts of a school and
a router's CPU; a device the lab takes down shows poll_success 0 within one interval while the
others keep answering. Every dashboard panel returns data; the weekly report's figures match
PromQL; the daily report is a zero-report before any fault and names the fault after.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from emanwatch.cli import app
from emanwatch.config import load_config
from emanwatch.services import Service, emanwatch_serve, prometheus, victoria_metrics

from .lab_helpers import prom_query

pytestmark = [pytest.mark.server, pytest.mark.slow]

VM = "127.0.0.1:18430"
def cfg_path(cfg) -> Path:
    return cfg.base_dir / "config.yaml"


INTERVALS = {"ring-node": "5s", "core": "5s", "egress": "5s", "firewall": "5s", "school-router": "5s", "ac": "10s"}


@pytest.fixture(scope="module")
def stack(lab_env, tmp_path_factory):
    cfg, client, path = lab_env
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    tmp = tmp_path_factory.mktemp("stack")
    doc["polling"]["intervals"] = INTERVALS  # switches left out: a lighter load for CI
    doc["ssh"].update(sites=["sch001"], roles=["school-router"], audit_every="1h")  # one router audited at start
    doc["listen"] = {"exporter": "127.0.0.1:19810", "notifier": "127.0.0.1:19811", "prometheus": "127.0.0.1:19090"}
    doc["paths"]["state"] = str(tmp / "var")
    doc["influx"] = {"enabled": True, "url": f"http://{VM}"}  # serve also writes everything to VictoriaMetrics
    p = tmp / "config.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    scfg = load_config(p)
    services: list[Service] = [victoria_metrics(scfg), emanwatch_serve(scfg, p),
                               prometheus(scfg, scrape_interval="5s", with_alertmanager=False)]
    for s in services:
        s.start(timeout=90)
    yield scfg, client
    for s in reversed(services):
        s.stop()


def wait_for(cfg, q: str, cond, timeout: float = 60.0) -> list[dict]:
    deadline = time.time() + timeout
    res: list[dict] = []
    while time.time() < deadline:
        res = prom_query(cfg, q)
        if cond(res):
            return res
        time.sleep(1)
    raise AssertionError(f"{q}: condition not met in {timeout:.0f}s; last: {res[:3]}")


def test_promql_sees_the_district(stack, demo) -> None:
    cfg, _ = stack
    polled = [d for d in demo.devices.values() if d.status.polled and d.role.value in INTERVALS]
    wait_for(cfg, 'count(emanwatch_poll_success{collector="snmp"} == 1)', lambda r: r and int(float(r[0]["value"][1])) == len(polled), 90)
    for q in ('rate(ifHCInOctets{link_kind="ring-a", device="nc-rn01"}[30s]) * 8',
              'rate(ifHCInOctets{link_kind="egress", carrier="中国电信"}[30s]) * 8',
              'rate(ifHCInOctets{link_kind="uplink", device="sch001-rt01"}[30s]) * 8'):
        res = wait_for(cfg, q, lambda r: r and any(float(x["value"][1]) > 0 for x in r), 60)
        assert all(float(x["value"][1]) < 10e9 for x in res), q
    # the poller's own per-poll rates (what the utilisation rules average): on every carrier, within its capacity
    res = wait_for(cfg, 'emanwatch_if_in_bps{link_kind="egress"} / on (device, ifIndex) emanwatch_link_capacity_bps',
                   lambda r: len(r) == 3, 30)
    assert all(0 < float(x["value"][1]) < 1.0 for x in res), res
    aps = [d for d in demo.devices.values() if d.role.value == "ap" and d.site == "sch001" and d.status.polled]
    (res,) = wait_for(cfg, 'emanwatch_ac_aps_online{site="sch001"}', lambda r: len(r) == 1, 30)
    assert int(float(res["value"][1])) == len(aps)
    (cpu,) = prom_query(cfg, 'emanwatch_cpu_percent{device="sch001-rt01"}')
    assert 0 <= float(cpu["value"][1]) <= 100
    assert prom_query(cfg, 'emanwatch_poll_duration_seconds{device="nc-rn01"}')
    # the scheduled audit (one router in scope) is exported: every applicable check passes on a clean lab
    checks = wait_for(cfg, 'emanwatch_compliance_check{device="sch001-rt01"}', lambda r: len(r) >= 15, 90)
    assert all(float(x["value"][1]) == 1.0 for x in checks), [x["metric"]["check"] for x in checks if x["value"][1] != "1"]
    assert {x["metric"]["check"] for x in checks} >= {"AUTH-05", "IPS-03", "AUD-02", "DRIFT-NTP", "BAK-01"}
    assert not prom_query(cfg, 'emanwatch_compliance_check{device!="sch001-rt01"}')  # nothing outside ssh.sites/roles
    # the probes sweep every address (APs too), the ring is whole, the rules are loaded
    n_addr = sum(1 for d in demo.devices.values() if d.status.polled)
    wait_for(cfg, 'count(emanwatch_poll_success{collector="icmp"} == 1)', lambda r: r and int(float(r[0]["value"][1])) == n_addr, 60)
    (ring,) = wait_for(cfg, 'emanwatch_ring_state{ring="all"}', lambda r: len(r) == 1, 30)
    assert ring["value"][1] == "2"
    rules = httpx.get(f"http://{cfg.listen.prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
    assert {r["name"] for g in rules for r in g["rules"]} >= {"DeviceDown", "SnmpAgentProblem", "RingDegraded", "SiteIsolated"}
    # nothing has happened yet: the daily report is a zero-report (零报告), exit 0
    r = CliRunner().invoke(app, ["-c", str(cfg_path(cfg)), "report", "daily", "--hours", "0.05", "--url", cfg.listen.prometheus])
    assert r.exit_code == 0, r.output
    assert "零报告" in r.output and "未发现网络安全事件" in r.output


def test_device_down_seen_within_one_interval(stack) -> None:
    cfg, client = stack
    wait_for(cfg, 'emanwatch_poll_success{collector="snmp", device="sch010-rt01"}', lambda r: r and r[0]["value"][1] == "1", 60)
    client.fault("device-down", "sch010-rt01")
    t0 = time.time()
    try:
        # one 5 s interval + 2 s timeout x 2 tries + a 5 s scrape
        wait_for(cfg, 'emanwatch_poll_success{collector="snmp", device="sch010-rt01"}', lambda r: r and r[0]["value"][1] == "0", 5 + 4 + 5 + 5)
        took = time.time() - t0
        (err,) = prom_query(cfg, 'emanwatch_poll_error{collector="snmp", device="sch010-rt01"}')
        assert err["metric"]["reason"] == "timeout"
        # the others are unaffected
        ok = prom_query(cfg, 'emanwatch_poll_success{collector="snmp", device=~"sch01[1-9]-rt01"}')
        assert ok and all(x["value"][1] == "1" for x in ok)
        assert took < 20
    finally:
        client.clear()
    wait_for(cfg, 'emanwatch_poll_success{collector="snmp", device="sch010-rt01"}', lambda r: r and r[0]["value"][1] == "1", 30)


def test_every_dashboard_panel_returns_data(stack) -> None:
    """Every query of every Grafana dashboard, against this live Prometheus fed by the lab
    ($site = sch001, the one school audited here; $__rate_interval = 1m)."""
    import json

    from dashboards.build import ALL, HERE

    cfg, _ = stack
    # the recording rules need their first evaluations over polled data
    wait_for(cfg, "emanwatch:site_ap_online:ratio", lambda r: bool(r), 90)
    empty = []
    for name in ALL:
        board = json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))
        for p in board["panels"]:
            for t in p["targets"]:
                q = t["expr"].replace("$site", "sch001").replace("$__rate_interval", "1m")
                deadline = time.time() + 30
                res = prom_query(cfg, q)
                while not res and time.time() < deadline:
                    time.sleep(2)
                    res = prom_query(cfg, q)
                if not res:
                    empty.append(f"{board['uid']} / {p['title']}: {q}")
    assert not empty, "panels with no data:\n" + "\n".join(empty)


def test_the_same_series_reach_victoria_metrics_over_the_influx_v2_api(stack) -> None:
    """serve's InfluxDB writer: what Prometheus scraped from /metrics, VictoriaMetrics has too,
    under the same metric names and labels (through influxdb-client's v2 writes)."""
    cfg, _ = stack
    q = 'count(ifHCInOctets{device="nc-rn01"})'
    (prom,) = wait_for(cfg, q, lambda r: bool(r), 60)
    deadline = time.time() + 60
    vm: list = []
    while time.time() < deadline and not vm:
        vm = httpx.get(f"http://{VM}/api/v1/query", params={"query": q}, timeout=10).json()["data"]["result"]
        time.sleep(1)
    assert vm and vm[0]["value"][1] == prom["value"][1]
    r = httpx.get(f"http://{VM}/api/v1/query", params={"query": 'ifHCInOctets{device="nc-rn01", link_kind="ring-a"}'},
                  timeout=10).json()["data"]["result"]
    assert r and {"site", "role", "vendor", "ifName", "link", "peer_device"} <= set(r[0]["metric"])
    spool = prom_query(cfg, "emanwatch_influx_spool_points")
    written = prom_query(cfg, "emanwatch_influx_written_points_total")
    assert spool and written and float(written[0]["value"][1]) > 0


def test_daily_report_lists_the_events(stack) -> None:
    """A router down: the daily report names it (设备不可达) instead of a zero-report, exit 1."""
    cfg, client = stack
    client.fault("device-down", "sch010-rt01")
    try:
        wait_for(cfg, 'emanwatch_poll_success{collector="icmp", device="sch010-rt01"}',
                 lambda r: r and r[0]["value"][1] == "0", 90)
        r = CliRunner().invoke(app, ["-c", str(cfg_path(cfg)), "report", "daily", "--hours", "0.2", "--url", cfg.listen.prometheus])
    finally:
        client.clear()
    assert r.exit_code == 1, r.output
    assert "零报告" not in r.output and "设备不可达" in r.output and "sch010-rt01" in r.output


def _raw(cfg, q: str, end: float) -> list[float]:
    (series,) = httpx.get(f"http://{cfg.listen.prometheus}/api/v1/query", params={"query": q, "time": end},
                          timeout=30).json()["data"]["result"]
    return [float(v) for _, v in series["values"]]


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 0.01 * max(abs(a), abs(b), 1e-9)


def test_weekly_report_figures_match_promql(stack, tmp_path) -> None:
    """The weekly report over the last 3 minutes (the lab's accelerated week would be 10): each
    figure recomputed here from the raw samples, within 1%; the HTML looked at in headless
    Chromium (a screenshot kept in the test's folder) and printed to PDF."""
    import json
    import shutil
    import subprocess

    from emanwatch.reports import quantile

    cfg, _ = stack
    wait_for(cfg, "emanwatch:egress_bps:carrier", lambda r: len(r) == 3, 60)
    end = time.time() - 5
    out = tmp_path / "weekly"
    r = CliRunner().invoke(app, ["-c", str(cfg_path(cfg)), "report", "weekly", "--last", "3m", "--end", f"{end:.3f}",
                                 "--url", cfg.listen.prometheus, "--out", str(out), "--format", "pdf"])
    assert r.exit_code == 0, r.output
    fig = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert len(fig["egress"]["carriers"]) == 3
    for c in fig["egress"]["carriers"]:
        raw = _raw(cfg, f'emanwatch:egress_bps:carrier{{carrier="{c["carrier"]}"}}[180s]', end)
        assert _close(c["peak_bps"], max(raw)) and _close(c["p95_bps"], quantile(raw, 0.95)), c
    (p95,) = httpx.get(f"http://{cfg.listen.prometheus}/api/v1/query", timeout=30, params={
        "query": "quantile_over_time(0.95, emanwatch:egress_utilisation:total[180s])", "time": end}).json()["data"]["result"]
    assert _close(fig["egress"]["total"]["p95_util"], float(p95["value"][1]))
    top = fig["uplinks_top20"]
    assert 10 <= len(top) <= 20 and top == sorted(top, key=lambda u: -u["p95_util"])
    raw = _raw(cfg, f'emanwatch:link_utilisation_in:ratio{{link="{top[0]["link"]}", device="{top[0]["device"]}"}}[180s]', end)
    assert _close(top[0]["p95_util"], quantile(raw, 0.95))
    for a in fig["availability"][:3] + fig["ap_online"][:3]:
        metric = "emanwatch:site_up" if a in fig["availability"] else "emanwatch:site_ap_online:ratio"
        raw = _raw(cfg, f'{metric}{{site="{a["site"]}"}}[180s]', end)
        assert _close(a["ratio"], sum(raw) / len(raw)), a
    html = (out / "weekly.html").read_text(encoding="utf-8")
    assert all(f'id="{t}"' in html for t in ("egress-total", "egress-carriers", "ring", "uplinks", "busy", "availability",
                                              "ap-online", "alerts", "compliance"))
    assert (out / "egress_carriers.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "weekly.pdf").read_bytes()[:5] == b"%PDF-"
    shot = tmp_path / "weekly.png"
    exe = shutil.which("chromium")
    assert exe, "chromium is installed by ./dev"
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}", "--window-size=1200,2400",
                    (out / "weekly.html").as_uri()], check=True, capture_output=True, timeout=120)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    print(f"weekly report screenshot: {shot}")
