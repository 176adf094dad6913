"""The Grafana dashboards, generated: `python -m dashboards.build` writes dashboards/*.json.

Every panel is a PromQL query over what emanwatch exports and what its rules record, so the
tests can run each one against a live Prometheus (tests/test_collect_e2e.py). Provisioning files
for Grafana are in dashboards/provisioning/ (a datasource with uid `emanwatch-prometheus` and a
file provider for this folder). Edit here, not in the JSON: a test fails when they differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DS = {"type": "prometheus", "uid": "emanwatch-prometheus"}
RATE = "$__rate_interval"


def panel(title: str, exprs: list[tuple[str, str]], kind: str = "timeseries", unit: str = "short", w: int = 12,
          h: int = 8, description: str = "", thresholds: list[tuple[float, str]] | None = None) -> dict[str, Any]:
    p: dict[str, Any] = {
        "type": kind, "title": title, "description": description, "datasource": DS,
        "targets": [{"refId": chr(65 + i), "expr": e, "legendFormat": legend, "datasource": DS}
                    for i, (e, legend) in enumerate(exprs)],
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "gridPos": {"w": w, "h": h},
        "options": {},
    }
    if thresholds:
        p["fieldConfig"]["defaults"]["thresholds"] = {
            "mode": "absolute", "steps": [{"color": c, "value": v} for v, c in thresholds]}
    if kind == "table":
        for t in p["targets"]:
            t.update(instant=True, format="table")
    return p


def site_variable() -> dict[str, Any]:
    return {"name": "site", "label": "学校 / site", "type": "query", "datasource": DS,
            "query": {"query": "label_values(emanwatch_poll_success{collector=\"snmp\"}, site)", "refId": "site"},
            "definition": "label_values(emanwatch_poll_success{collector=\"snmp\"}, site)", "refresh": 2,
            "current": {"text": "sch001", "value": "sch001"}, "sort": 1}


def dashboard(uid: str, title: str, panels: list[dict[str, Any]], variables: list[dict[str, Any]] | None = None,
              tags: tuple[str, ...] = ("emanwatch",)) -> dict[str, Any]:
    x = y = row_h = 0
    for i, p in enumerate(panels, 1):  # left to right, then down
        w, h = p["gridPos"]["w"], p["gridPos"]["h"]
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        p["id"] = i
        p["gridPos"].update(x=x, y=y)
        x += w
        row_h = max(row_h, h)
    return {"uid": uid, "title": title, "tags": list(tags), "timezone": "browser", "schemaVersion": 39, "version": 1,
            "editable": True, "refresh": "1m", "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": variables or []}, "annotations": {"list": []}, "panels": panels,
            "links": [{"title": t, "url": f"/d/{u}", "type": "link"} for u, t in LINKS if u != uid]}


LINKS = [("emanwatch-district", "网络中心总览"), ("emanwatch-ring", "环网"), ("emanwatch-egress", "互联网出口"),
         ("emanwatch-school", "学校"), ("emanwatch-wifi", "无线")]


def district() -> dict[str, Any]:
    return dashboard("emanwatch-district", "网络中心总览 / District overview", [
        panel("出口利用率 / Egress utilisation", [("emanwatch:egress_utilisation:total", "total")], "stat", "percentunit", 6, 5,
              thresholds=[(0, "green"), (0.7, "orange"), (0.9, "red")]),
        panel("环网状态 / Ring (2 = whole)", [('emanwatch_ring_state{ring="all"}', "ring")], "stat", "short", 6, 5,
              thresholds=[(0, "red"), (1, "orange"), (2, "green")]),
        panel("不可达设备 / Devices not answering", [('count(emanwatch_poll_success{collector="icmp"} == 0) or vector(0)', "down")],
              "stat", "short", 6, 5, thresholds=[(0, "green"), (1, "red")]),
        panel("告警 / Alerts firing", [('count(ALERTS{alertstate="firing"}) or vector(0)', "firing")], "stat", "short", 6, 5,
              thresholds=[(0, "green"), (1, "orange")]),
        panel("出口流量（按运营商）/ Egress by carrier", [("emanwatch:egress_bps:carrier", "{{carrier}}")], unit="bps", w=12),
        panel("环网链路利用率 / Ring links", [('emanwatch:link_utilisation_in:ratio{link_kind=~"ring-a|ring-b"}',
                                              "{{device}} {{ifName}} <- {{peer_device}}")], unit="percentunit", w=12),
        panel("失联站点 / Sites cut off", [("count(emanwatch_site_cut_off) or vector(0)", "sites")], "stat", "short", 6, 5),
        panel("采集成功率 / Polls answering", [('sum(emanwatch_poll_success{collector="snmp"}) / count(emanwatch_poll_success{collector="snmp"})',
                                                "snmp")], "stat", "percentunit", 6, 5),
        panel("等保不符合项 / Compliance gaps", [("count(emanwatch_compliance_check < 1) or vector(0)", "gaps")], "stat", "short", 6, 5,
              thresholds=[(0, "green"), (1, "red")]),
        panel("学校上联 Top 10 / Busiest school uplinks",
              [('topk(10, emanwatch:link_utilisation_in:ratio{link_kind="uplink"})', "{{site}}")], "table", "percentunit", 6, 5),
    ])


def ring() -> dict[str, Any]:
    return dashboard("emanwatch-ring", "环网 / Ring", [
        panel("环网链路入方向 / Ring links in", [(f'avg_over_time(emanwatch_if_in_bps{{link_kind=~"ring-a|ring-b"}}[{RATE}])',
                                                    "{{device}} {{ifName}} <- {{peer_device}}")], unit="bps", w=24),
        panel("链路状态 / Link status (1 up)", [('ifOperStatus{link_kind=~"ring-a|ring-b"}', "{{device}} {{ifName}}")],
              "table", "short", 12),
        panel("环网状态 / Ring state", [("emanwatch_ring_state", "{{ring}}")], "stat", "short", 12),
        panel("环网 95 分位（1 小时）/ Ring p95 1h", [('emanwatch:link_utilisation_in:p95_1h{link_kind=~"ring-a|ring-b"}',
                                                      "{{device}} <- {{peer_device}}")], unit="percentunit", w=24),
    ])


def egress() -> dict[str, Any]:
    return dashboard("emanwatch-egress", "互联网出口 / Egress", [
        panel("出口流量（按运营商）/ By carrier", [("emanwatch:egress_bps:carrier", "{{carrier}}")], unit="bps", w=12),
        panel("运营商利用率 / Carrier utilisation", [("emanwatch:egress_utilisation:carrier", "{{carrier}}")],
              unit="percentunit", w=12),
        panel("总利用率与 95 分位 / Total and p95 1h", [("emanwatch:egress_utilisation:total", "total"),
                                                        ("emanwatch:egress_utilisation:total:p95_1h", "p95 1h")],
              unit="percentunit", w=12),
        panel("出口链路状态 / Carrier uplinks (1 up)", [('ifOperStatus{link_kind="egress"}', "{{carrier}} {{ifName}}")],
              "table", "short", 12),
    ])


def school() -> dict[str, Any]:
    s = '{site="$site"}'
    return dashboard("emanwatch-school", "学校 / School", [
        panel("上联流量 / Uplink", [(f'avg_over_time(emanwatch_if_in_bps{{site="$site", link_kind="uplink"}}[{RATE}])', "in"),
                                   (f'avg_over_time(emanwatch_if_out_bps{{site="$site", link_kind="uplink"}}[{RATE}])', "out")],
              unit="bps", w=12),
        panel("设备在线 / Devices answering", [('emanwatch_poll_success{site="$site", collector="icmp"}', "{{device}}")],
              "table", "short", 12),
        panel("CPU %", [(f"emanwatch_cpu_percent{s}", "{{device}}")], unit="percent", w=8),
        panel("内存 / Memory %", [(f"emanwatch_memory_percent{s}", "{{device}}")], unit="percent", w=8),
        panel("AP 在线 / APs online", [(f"emanwatch_ac_aps_online{s}", "online"), (f"emanwatch_ac_aps{s}", "expected")],
              "stat", "short", 8),
        panel("等保检查 / Compliance (1 pass, 0 fail)", [(f"emanwatch_compliance_check{s}", "{{device}} {{check}}")],
              "table", "short", 12),
        panel("本校告警 / Alerts", [('count(ALERTS{site="$site", alertstate="firing"}) or vector(0)', "firing")],
              "stat", "short", 12),
    ], variables=[site_variable()])


def wifi() -> dict[str, Any]:
    return dashboard("emanwatch-wifi", "无线 / Wi-Fi", [
        panel("AP 在线率（按学校）/ AP online ratio", [("emanwatch:site_ap_online:ratio", "{{site}}")], unit="percentunit", w=12),
        panel("在线 AP 数 / APs online", [("sum(emanwatch_ac_aps_online)", "online"), ("sum(emanwatch_ac_aps)", "expected")],
              "stat", "short", 12),
        panel("终端数（按学校）/ Clients by site", [("sum by (site) (emanwatch_ap_clients)", "{{site}}")], w=12),
        panel("离线 AP 最多的学校 / Most APs offline",
              [("topk(10, sum by (site) (emanwatch_ac_aps) - sum by (site) (emanwatch_ac_aps_online))", "{{site}}")],
              "table", "short", 12),
    ])


ALL = {"district": district, "ring": ring, "egress": egress, "school": school, "wifi": wifi}


def render() -> dict[str, str]:
    return {f"{name}.json": json.dumps(fn(), ensure_ascii=False, indent=1) + "\n" for name, fn in ALL.items()}


def main() -> None:
    for name, text in render().items():
        (HERE / name).write_text(text, encoding="utf-8")
        print(f"wrote dashboards/{name}")


if __name__ == "__main__":
    main()
