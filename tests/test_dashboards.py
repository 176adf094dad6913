"""The Grafana dashboards' structure (no server; every panel's query runs against a live
Prometheus in tests/test_collect_e2e.py::test_every_dashboard_panel_returns_data)."""

from __future__ import annotations

import json
import re

import yaml

from dashboards.build import ALL, HERE, render

BUILTIN = {"__rate_interval", "__interval", "__range"}


def test_committed_json_is_the_generators_output() -> None:
    for name, text in render().items():
        assert (HERE / name).read_text(encoding="utf-8") == text, f"dashboards/{name}: run python -m dashboards.build"


def test_structure_uids_variables_and_layout() -> None:
    boards = [json.loads((HERE / f"{n}.json").read_text(encoding="utf-8")) for n in ALL]
    uids = [b["uid"] for b in boards]
    assert len(set(uids)) == len(uids) == 5
    for b in boards:
        defined = {v["name"] for v in b["templating"]["list"]}
        cells: set[tuple[int, int]] = set()
        assert b["panels"]
        for p in b["panels"]:
            assert p["targets"] and all(t["expr"].strip() for t in p["targets"]), p["title"]
            assert p["datasource"]["uid"] == "emanwatch-prometheus"
            g = p["gridPos"]
            assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
            mine = {(x, y) for x in range(g["x"], g["x"] + g["w"]) for y in range(g["y"], g["y"] + g["h"])}
            assert not mine & cells, f"{b['uid']}: {p['title']} overlaps another panel"
            cells |= mine
            for t in p["targets"]:
                used = set(re.findall(r"\$(\w+)", t["expr"])) - BUILTIN
                assert used <= defined, (b["uid"], p["title"], used - defined)
                assert t["expr"].count("(") == t["expr"].count(")"), t["expr"]
        for link in b["links"]:
            assert link["url"].removeprefix("/d/") in uids


def test_provisioning_points_at_the_panels_datasource() -> None:
    ds = yaml.safe_load((HERE / "provisioning" / "datasources" / "emanwatch.yaml").read_text(encoding="utf-8"))
    assert ds["datasources"][0]["uid"] == "emanwatch-prometheus" and ds["datasources"][0]["type"] == "prometheus"
    prov = yaml.safe_load((HERE / "provisioning" / "dashboards" / "emanwatch.yaml").read_text(encoding="utf-8"))
    assert prov["providers"][0]["type"] == "file"
