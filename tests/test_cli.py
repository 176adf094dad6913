"""The command line, run as a user runs it."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from emanwatch.cli import app
from inventory import DEMO_PATH

from .conftest import REPO, MiniDistrict

runner = CliRunner()


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """The repository's config with state in a temporary folder (secrets not created yet)."""
    doc = yaml.safe_load((REPO / "config.yaml").read_text(encoding="utf-8"))
    doc["inventory"]["path"] = str(DEMO_PATH)
    doc["paths"]["state"] = str(tmp_path / "var")
    for table in doc["auths"].values():
        for auth in table.values():
            for k, v in auth.items():
                if isinstance(v, str) and v.startswith("file:var/"):
                    auth[k] = "file:" + str(tmp_path / v[5:])
    p = tmp_path / "config.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return p


def run(*args: str, config: Path | None = None):
    full = (["-c", str(config)] if config else []) + list(args)
    return runner.invoke(app, full)


def test_inventory_check_prints_summary(demo_config: Path) -> None:
    r = run("inventory", "check", config=demo_config)
    assert r.exit_code == 0, r.output
    assert "valid" in r.output and "ring-a" in r.output and "ring-b" in r.output
    assert "中国电信 2G, 中国联通 2G, 中国移动 2G = 6Gbit/s" in r.output
    r = run("inventory", "check", "--json", config=demo_config)
    s = json.loads(r.stdout)
    assert s["devices"] >= 5000 and s["sites_by_kind"]["school"] == 75
    assert s["rings"]["ring-a"]["order"][0] == "nc-rn01"


def test_inventory_check_reports_bad_inventory(mini: MiniDistrict) -> None:
    mini.device("sch001-rt01")["role"] = "router"
    mini.config["auths"]["ssh"]["ops"]["password"] = "env:X"
    mini.write()
    r = run("inventory", "check", config=mini.root / "config.yaml")
    assert r.exit_code == 2
    assert "sch001.yaml:" in r.output and "device 'sch001-rt01': field 'role'" in r.output


def test_show_json_records_and_filters(demo_config: Path) -> None:
    r = run("inventory", "show", "--site", "sch001", "--role", "ap", "--format", "json", config=demo_config)
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert rows and all(x["site"] == "sch001" and x["role"] == "ap" for x in rows)
    for key in ("name", "site", "role", "vendor", "platform", "mgmt_address"):
        assert key in rows[0]
    r = run("inventory", "show", "--kind", "kindergarten", "--role", "school-router", "-f", "json", config=demo_config)
    assert len(json.loads(r.stdout)) == 58
    r = run("inventory", "show", "--site", "kg0*", "--vendor", "cisco", "--vendor", "ruijie", "-f", "json", config=demo_config)
    rows = json.loads(r.stdout)
    assert rows and {x["vendor"] for x in rows} <= {"cisco", "ruijie"} and all(x["site"].startswith("kg0") for x in rows)
    r = run("inventory", "show", "--role", "ring-node", config=demo_config)
    assert "6 devices" in r.output and "nc-rn01" in r.output


def test_show_refuses_unknown_filter_values(demo_config: Path) -> None:
    r = run("inventory", "show", "--role", "router", config=demo_config)
    assert r.exit_code == 2 and "unknown role 'router'" in r.output
    r = run("inventory", "show", "--site", "sch999", config=demo_config)
    assert r.exit_code == 2 and "no site matches 'sch999'" in r.output


def test_export_formats(demo_config: Path) -> None:
    r = run("inventory", "export", "--format", "file_sd", "--role", "egress", config=demo_config)
    assert json.loads(r.stdout) == [{"targets": ["127.10.0.4"], "labels": {
        "device": "nc-eg01", "site": "nc", "site_kind": "centre", "role": "egress", "vendor": "h3c",
        "platform": "hp_comware", "model": "SR6608-X", "status": "active", "street": "龙华街道"}}]
    r = run("inventory", "export", "--format", "http_sd", "--role", "core", "--port", "161", config=demo_config)
    groups = json.loads(r.stdout)
    assert [g["targets"] for g in groups] == [["127.10.0.1:161"], ["127.10.0.2:161"]]
    r = run("inventory", "export", "--format", "ledger", "--site", "voc001", config=demo_config)
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert rows[0]["设备名称"] == "voc001-rt01" and all(x["所属单位"] == "voc001" for x in rows)


def test_config_check_and_lab_secrets(demo_config: Path) -> None:
    r = run("config", "check", config=demo_config)
    assert r.exit_code == 2 and "auths.snmp.lab-v3.auth_password: secret file" in r.output
    r = run("lab", "secrets", config=demo_config)
    assert r.exit_code == 0 and r.output.count("created") == 4
    r = run("config", "check", config=demo_config)
    assert r.exit_code == 0 and "4 credentials resolved" in r.output


def test_console_script_entry_point(demo_config: Path) -> None:
    exe = Path(sys.executable).parent / "emanwatch"
    r = subprocess.run([str(exe), "-c", str(demo_config), "inventory", "check"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout
