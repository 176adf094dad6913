"""End to end alerting: lab -> emanwatch serve -> real Prometheus (rendered rules) -> real Alertmanager
(config generated from the inventory) -> emanwatch's notifier -> local WeCom / DingTalk / SMTP sinks.

Needs root (ICMP probes, the lab's iptables reachability) and the Debian servers; CI is root.
Thirteen cases in two waves, injected together in each wave (so concurrent faults are the norm):
for each, exactly one message per root cause reaches each expected receiver within the budget
(for-duration + 2 scrape intervals + detection + group_wait; rate-based: + the averaging window and
one poll), nobody else hears anything, and
the resolve notice follows `clear`. The table is printed (pytest -s shows it; CI logs it).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from dataclasses import dataclass, field

import httpx
import pytest
import yaml

from emanwatch.config import load_config
from emanwatch.services import Service, alertmanager, emanwatch_serve, prometheus
from inventory import LinkKind, load_inventory

from .lab_helpers import prom_query

pytestmark = [pytest.mark.server, pytest.mark.slow]

POLL, SCRAPE, FOR, RATE_WINDOW, GROUP_WAIT = 5, 5, 15, 30, 10
DETECT = POLL + 2 * 1  # a poll interval, then one timeout and its retry
AUDIT_EVERY, AUDIT_TIME = 20, 8  # the scheduled SSH audit (one router in scope) and what one run may take
PORTS = {"exporter": "127.0.0.1:19812", "notifier": "127.0.0.1:19813", "prometheus": "127.0.0.1:19091",
         "alertmanager": "127.0.0.1:19094"}
SMTP_PORT = 12525
ROLES = ("ring-node", "core", "egress", "firewall", "school-router", "ac")  # switches left out: a lighter load


@dataclass
class Case:
    name: str
    faults: list[tuple[str, str, dict]]
    expect: set[tuple[str, str, str]]  # (alertname, site in the message, receiver sink name)
    rate_based: bool = False
    audited: bool = False  # seen by the scheduled SSH audit, not by polling
    resolves_on_clear: bool = True
    ids: list[int] = field(default_factory=list)
    injected: float = 0.0


def _level(cfg_for: int) -> dict:
    return {"warning": 0.96, "critical": 0.97, "for": f"{cfg_for}s"}


@pytest.fixture(scope="module")
def stack(lab_env, tmp_path_factory):
    cfg, client, path = lab_env
    tmp = tmp_path_factory.mktemp("alerting")
    # emanwatch reads a copy of the demo inventory whose robot URLs point at this test's notifier
    inv_dir = tmp / "inventory"
    shutil.copytree(cfg.path(cfg.inventory.path), inv_dir)
    for f in inv_dir.rglob("*.yaml"):
        t = f.read_text(encoding="utf-8")
        if "127.0.0.1:9811/sink" in t:
            f.write_text(t.replace("127.0.0.1:9811/sink", f"{PORTS['notifier']}/sink"), encoding="utf-8")
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["inventory"]["path"] = str(inv_dir)
    doc["polling"].update({"intervals": dict.fromkeys(ROLES, f"{POLL}s"), "timeout": "1s", "retries": 1})
    doc["probes"].update({"interval": f"{POLL}s", "count": 2, "timeout": "1s",
                          "services": [{"name": "emanwatch exporter", "kind": "http", "target": f"http://{PORTS['exporter']}/metrics"}]})
    doc["listen"] = dict(PORTS)
    # the scheduled audit covers the config-drift case's router only (a light load)
    doc["ssh"].update(audit_every=f"{AUDIT_EVERY}s", sites=[_schools(load_inventory(inv_dir))[9]], roles=["school-router"])
    doc["paths"]["state"] = str(tmp / "var")
    util = {k.value: _level(FOR) for k in LinkKind if k.value in ("ring-a", "ring-b", "core", "uplink")}
    # the lab caps a carrier at 99.5% (a carrier down at the peak hour fills the others): above that is saturation
    util["egress"] = {"warning": 0.996, "critical": 0.997, "for": f"{FOR}s"}
    doc["alerting"] = {
        "utilisation": util, "egress_total": {"warning": 0.93, "critical": 0.95, "for": f"{FOR}s"},
        "cpu": {"warning": 80, "critical": 90, "for": f"{FOR}s"}, "memory": {"warning": 97, "critical": 99, "for": f"{FOR}s"},
        "ap_offline_ratio": 0.5, "interface_errors_per_second": 5, "rebooted_within": "40s",
        "rate_window": f"{RATE_WINDOW}s", "outage_for": f"{FOR}s", "ap_offline_for": f"{FOR}s", "errors_for": f"{FOR}s",
        "collection_for": f"{FOR}s", "drift_for": f"{FOR}s", "root_hold": f"{3 * POLL}s"}
    doc["notify"] = {"language": "en", "group_wait": f"{GROUP_WAIT}s", "group_interval": "5s", "repeat_interval": "1h",
                     "resolve_timeout": "1m", "retries": 3, "retry_backoff": "1s",
                     "smtp": {"host": "127.0.0.1", "port": SMTP_PORT, "sender": "emanwatch@test.example.cn"}, "local_sinks": True}
    p = tmp / "config.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    scfg = load_config(p)
    inv = load_inventory(inv_dir)
    services: list[Service] = [emanwatch_serve(scfg, p), alertmanager(scfg, inv), prometheus(scfg, scrape_interval=f"{SCRAPE}s")]
    for s in services:
        s.start(timeout=90)
    try:
        _wait_healthy(scfg, inv)
        yield scfg, client, inv
    finally:
        client.clear()
        for s in reversed(services):
            s.stop()


def _wait_healthy(cfg, inv) -> None:
    """Every polled device answers and nothing is firing before the first fault (a clean baseline)."""
    n = sum(1 for d in inv.devices.values() if d.status.polled and d.role.value in ROLES and d.snmp_auth)
    deadline = time.time() + 120
    while time.time() < deadline:
        ok = prom_query(cfg, 'count(emanwatch_poll_success{collector="snmp"} == 1)')
        if ok and int(float(ok[0]["value"][1])) == n and prom_query(cfg, "emanwatch:egress_utilisation:total"):
            break
        time.sleep(2)
    else:
        raise AssertionError(f"not every device polled OK within 120 s (want {n})")
    time.sleep(RATE_WINDOW)  # rates need a window of samples
    firing = prom_query(cfg, 'ALERTS{alertstate="firing"}')
    assert not firing, f"alerts firing before any fault: {[a['metric'] for a in firing]}"


def _sink(cfg, since: int = 0) -> list[dict]:
    return httpx.get(f"http://{cfg.listen.notifier}/sink", params={"since": since}, timeout=10).json()


HEADER = re.compile(r"^### (RESOLVED|CRITICAL|WARNING|ALERT): (\w+)", re.M)
SITE = re.compile(r"^\*\*Site\*\*: (.*)$", re.M)


def parse(rec: dict) -> tuple[str, str, str, str] | None:
    """(status, alertname, site, receiver sink name) from a robot message; None for email (checked apart)."""
    if rec["kind"] == "email":
        return None
    doc = json.loads(rec["body"])
    text = doc["markdown"].get("content") or doc["markdown"].get("text")
    h = HEADER.search(text)
    s = SITE.search(text)
    assert h and s, f"unparseable message: {text[:200]}"
    m = re.search(r"\(([a-z0-9-]+)\)\s*$", s.group(1))
    site = m.group(1) if m else s.group(1).strip()
    return ("resolved" if h.group(1) == "RESOLVED" else "firing"), h.group(2), site, rec["name"]


def _dests(inv, sink_name: str) -> set[tuple[str, str]]:
    """The robot destinations (kind, name) behind a receiver's sink name: a site, or nc for the centre."""
    from emanwatch.alertmanager import CENTRE, rosters, site_receiver

    admins = rosters(inv)[CENTRE if sink_name == "nc" else site_receiver(sink_name)]
    out = set()
    for a in admins:
        for kind, url in (("wecom", a.wecom_webhook), ("dingtalk", a.dingtalk_webhook)):
            if url:
                out.add((kind, url.rstrip("/").rsplit("/", 1)[-1]))
    return out


def _schools(inv) -> list[str]:
    """Schools with a roster and an AC, not behind the ring node wave 2 kills."""
    behind = {s for s in inv.sites if any(lk.b.device == "pop05-rn05" for lk in inv.uplink_of(s))}
    return sorted(s.name for s in inv.sites.values() if s.kind.value == "school" and s.name not in behind and s.admins
                  and f"{s.name}-ac01" in inv.devices)


def _cases(inv) -> tuple[list[Case], list[Case]]:
    sA, sB, sC, sD, sE, sF, sG, sH, sI, sJ = _schools(inv)[:10]
    ring = next(lk for lk in inv.links if lk.kind == LinkKind.RING_A and {lk.a.device, lk.b.device} == {"pop03-rn03", "pop04-rn04"})

    def uplink_port(site: str) -> str:
        lk = inv.uplink_of(site)[0]
        return f"{lk.a.device}:{lk.a.interface}"

    both = lambda alert, site: {(alert, site, site), (alert, site, "nc")}  # noqa: E731 - a site's critical: site + centre
    wave1 = [
        Case("ring link cut", [("link-down", f"{ring.a.device}:{ring.a.interface}", {})], {("RingDegraded", "", "nc")}),
        Case("school router down", [("device-down", f"{sA}-rt01", {})], both("DeviceDown", sA)),
        Case("carrier uplink down", [("carrier-down", "中国联通", {})], {("EgressRedundancyLost", "nc", "nc")}),
        Case("AP mass offline", [("ap-group-offline", f"{sB}-ac01", {})], both("ApMassOffline", sB)),
        Case("CPU high", [("cpu-high", f"{sC}-rt01", {})], both("CpuHigh", sC)),
        Case("interface errors", [("interface-errors", uplink_port(sD), {})], {("InterfaceErrors", sD, sD)}, rate_based=True),
        Case("device reboot", [("agent-reboot", f"{sE}-rt01", {})], {("DeviceRebooted", sE, sE)}, resolves_on_clear=False),
        # garbage replies match no request: SNMP times out while ping answers, the centre's matter
        Case("poll failure", [("malformed", f"{sF}-rt01", {})], {("SnmpAgentProblem", sF, "nc")}),
        # Telnet switched on: AUTH-05 (high: the school and the centre) with IPS-01 / BAK-01 (the school)
        Case("config drift", [("config-drift", f"{sJ}-rt01", {"drift": "telnet"})], both("ConfigDrift", sJ), audited=True),
    ]
    wave2 = [
        Case("ring node down", [("ring-node-down", "pop05-rn05", {})], {("DeviceDown", "pop05", "nc")}),
        Case("egress saturation", [("egress-saturation", "", {"level": 0.999})], {("EgressUtilisation", "", "nc")}, rate_based=True),
        Case("school uplink cut", [("link-down", uplink_port(sG), {})], both("DeviceDown", sG)),
        Case("two at once", [("cpu-high", f"{sH}-rt01", {}), ("device-down", f"{sI}-rt01", {})],
             both("CpuHigh", sH) | both("DeviceDown", sI)),
    ]
    return wave1, wave2


def _budget(c: Case) -> float:
    # a rate-based alert waits until its averaging window holds only per-poll rates measured after
    # the fault: the window, plus the one poll interval whose rate straddles the fault
    if c.audited:  # the next audit run sees it; its result is exported unstamped, at once
        return AUDIT_EVERY + AUDIT_TIME + FOR + 2 * SCRAPE + GROUP_WAIT + 3
    return FOR + 2 * SCRAPE + DETECT + GROUP_WAIT + (RATE_WINDOW + POLL if c.rate_based else 0) + 3


def _run_wave(cfg, client, inv, cases: list[Case], table: list) -> list[str]:
    problems = []
    since = _sink(cfg)[-1]["id"] if _sink(cfg) else 0
    for c in cases:
        c.injected = time.time()
        c.ids = [client.fault(kind, target, **params)["id"] for kind, target, params in c.faults]
    expected = {e: c for c in cases for e in c.expect}
    want = {(alert, site, kind, name) for (alert, site, recv) in expected for kind, name in _dests(inv, recv)}
    assert want, "no receivers with a robot in the roster for these cases"
    got: dict[tuple[str, str, str, str], list[float]] = {}
    deadline = time.time() + max(_budget(c) for c in cases) + 30
    while time.time() < deadline and not want <= set(got):
        time.sleep(1)
        got = {}
        for rec in _sink(cfg, since):
            p = parse(rec)
            if p and p[0] == "firing":
                got.setdefault((p[1], p[2], rec["kind"], rec["name"]), []).append(rec["at"])
    time.sleep(2 * GROUP_WAIT)  # anything extra would come now
    got, resolved, emails = {}, {}, []
    for rec in _sink(cfg, since):
        p = parse(rec)
        if p is None:
            emails.append(rec)
            continue
        (got if p[0] == "firing" else resolved).setdefault((p[1], p[2], rec["kind"], rec["name"]), []).append(rec["at"])
    for key in sorted(set(got) - want):
        problems.append(f"unexpected: {key[0]} ({key[1] or '-'}) reached {key[2]}:{key[3]} x{len(got[key])}")
    for (alert, site, recv), c in sorted(expected.items()):
        for kind, name in sorted(_dests(inv, recv)):
            at = got.get((alert, site, kind, name), [])
            lat = at[0] - c.injected if at else None
            ok = len(at) == 1 and lat is not None and lat <= _budget(c)
            table.append([c.name, f"{alert} -> {recv} ({kind})", f"{len(at)} msg", f"{lat:.0f}s" if lat is not None else "-",
                          f"{_budget(c):.0f}s", "ok" if ok else "FAIL"])
            if not ok:
                problems.append(f"{c.name}: {alert} to {recv} ({kind}:{name}): {len(at)} message(s), latency {lat}, budget {_budget(c):.0f}s")
    # email follows the same routes: every address of an expected receiver got the firing alert
    mailed = {r["name"] for r in emails}
    for (_alert, _site, recv), _c in expected.items():
        from emanwatch.alertmanager import CENTRE, rosters, site_receiver

        for a in rosters(inv)[CENTRE if recv == "nc" else site_receiver(recv)]:
            if a.email and a.email not in mailed:
                problems.append(f"no email to {a.email} ({recv})")
    # clear, and the resolve notices follow
    client.clear()
    cleared = time.time()
    deadline = cleared + 120
    need = set(want)  # a reboot resolves by itself (rebooted_within), the rest on clear
    while time.time() < deadline:
        resolved = {}
        for rec in _sink(cfg, since):
            p = parse(rec)
            if p and p[0] == "resolved":
                resolved.setdefault((p[1], p[2], rec["kind"], rec["name"]), []).append(rec["at"])
        if need <= set(resolved):
            break
        time.sleep(2)
    for k in sorted(need - set(resolved)):
        problems.append(f"no resolve notice: {k[0]} ({k[1] or '-'}) to {k[2]}:{k[3]} within 120 s of clear")
    firing_sent = {k for rec in _sink(cfg, since) if (p := parse(rec)) and p[0] == "firing"
                   for k in [(p[1], p[2], rec["kind"], rec["name"])]}
    # recovery is where suppression races: nothing else may have been announced while things came back
    for k in sorted(firing_sent - want - set(got)):
        problems.append(f"unexpected during recovery: {k[0]} ({k[1] or '-'}) reached {k[2]}:{k[3]}")
    for k in sorted(set(resolved) - firing_sent):
        problems.append(f"resolve notice for something never announced: {k}")
    if problems:
        for rec in _sink(cfg, since):
            print(f"sink {rec['id']} {rec['at']:.1f} {rec['kind']}:{rec['name']} {parse(rec)}")
    for k, ats in resolved.items():
        table.append([f"  resolved {k[0]}", f"-> {k[3]} ({k[2]})", f"{len(ats)} msg", f"{ats[0] - cleared:.0f}s after clear", "", "ok"])
    return problems


def test_thirteen_faults_reach_exactly_the_right_people(stack) -> None:
    cfg, client, inv = stack
    wave1, wave2 = _cases(inv)
    table: list[list[str]] = []
    problems = _run_wave(cfg, client, inv, wave1, table)
    time.sleep(RATE_WINDOW)  # let rates and alerts settle before the next wave
    problems += _run_wave(cfg, client, inv, wave2, table)
    widths = [max(len(r[i]) for r in table + [["fault", "expected receiver", "got", "latency", "budget", ""]]) for i in range(6)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(["fault", "expected receiver", "got", "latency", "budget", ""], widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in table]
    print("\n" + "\n".join(lines))
    status = httpx.get(f"http://{cfg.listen.notifier}/status", timeout=10).json()
    print(f"notifier: {status}")
    assert not problems, "\n".join(problems)
    assert len(wave1) + len(wave2) >= 12
